/* berthd's container runtime: the API layer's entry points. A container is a bundle
 * directory (README.contract.md) supervised by a `berthd shim` process; these calls
 * start it, read its state, signal, pause, attach to and exec into it. */
#ifndef BERTHD_RUNTIME_H
#define BERTHD_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/error.h"

/* Environment variable naming the berthd binary to re-execute (default /proc/self/exe). */
#define RUNTIME_SELF_ENV "BERTHD_SELF"

struct runtime_state {
    bool running;         /* the container's init process is alive */
    bool paused;          /* its cgroup is frozen (only meaningful while running) */
    pid_t pid;            /* container init, host pid namespace; 0 if it never started */
    pid_t shim_pid;       /* the supervising shim */
    int exit_code;        /* Docker's exit code once exited (126/127 for exec failures) */
    bool oom_killed;      /* the memory cgroup OOM-killed a process of the container */
    char error[1024];     /* why it failed to start, or why its state is lost; "" if none */
    char started_at[40];  /* RFC 3339 with nanoseconds, "" if never started */
    char finished_at[40]; /* same, "" while running */
    char cgroup[256];     /* the container's cgroup below each hierarchy root (PARENT/ID) */
};

/* One "KEY VALUE" line of memory.stat. */
struct runtime_stat_kv {
    char key[64];
    uint64_t value;
};

/* Bytes one block device moved: OP is "read" or "write". */
struct runtime_blkio {
    unsigned major, minor;
    const char *op;
    uint64_t value;
};

/* Cgroup statistics of a running container (0 where a controller is missing). The arrays
 * are allocated: release them with runtime_stats_free(). */
struct runtime_stats {
    uint64_t memory_usage, memory_limit;       /* bytes; limit 0 = unlimited */
    uint64_t memory_max_usage, memory_failcnt; /* v1 only */
    uint64_t pids_current, pids_limit;         /* limit 0 = unlimited */
    uint64_t cpu_usage_ns;                     /* total CPU time consumed */
    uint64_t cpu_user_ns, cpu_kernel_ns;
    uint64_t *percpu_ns; /* v1 only: per-CPU usage, n_percpu entries */
    size_t n_percpu;
    uint64_t throttle_periods, throttled_periods, throttled_ns;
    struct runtime_stat_kv *memory_stat; /* memory.stat, n_memory_stat entries */
    size_t n_memory_stat;
    struct runtime_blkio *blkio; /* bytes read and written per device, n_blkio entries */
    size_t n_blkio;
};

/* Counters of one network interface, from /proc/PID/net/dev. */
struct runtime_netdev {
    char name[32];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

/* Start the container of BUNDLE_DIR: spawn the shim and wait (at most 10 s) until the
 * container's command runs or fails; on failure the error holds the reason and state.json
 * the exit code. When ATTACH_FD is not NULL it receives an attach connection (framing as for
 * attach.sock) registered before the command starts, so no output is missed. */
int runtime_start(const char *bundle_dir, int *attach_fd, berr_t *err);

/* Read the state of the container of BUNDLE_DIR; a "running" container whose shim is gone
 * (crash, host reboot) is reported as exited with code 255 and an error. */
int runtime_state(const char *bundle_dir, struct runtime_state *st, berr_t *err);

/* Send SIG to the container's init process (race-free, through a pidfd). */
int runtime_kill(const char *bundle_dir, int sig, berr_t *err);

/* Freeze (PAUSE true) or thaw every process of the container, waiting until done. */
int runtime_pause(const char *bundle_dir, bool pause, berr_t *err);

/* Cgroup statistics of the container of BUNDLE_DIR. */
int runtime_stats(const char *bundle_dir, struct runtime_stats *st, berr_t *err);

/* Free the arrays of ST (and zero it). */
void runtime_stats_free(struct runtime_stats *st);

/* The interfaces of process PID's network namespace but "lo": *OUT (allocated) gets *N. */
int runtime_net_stats(pid_t pid, struct runtime_netdev **out, size_t *n, berr_t *err);

/* The host's CPU time of every kind since boot (the "cpu" line of /proc/stat), in ns. */
int runtime_system_cpu_ns(uint64_t *ns, berr_t *err);

/* Connect to the container's attach.sock; returns the connected fd. */
int runtime_attach(const char *bundle_dir, berr_t *err);

/* Run `berthd nsexec PID SPEC_FILE` with FDS as its stdin, stdout and stderr; *CHILD receives
 * its pid, whose exit status is the command's (126/127 when it cannot be run). */
int runtime_exec_spawn(pid_t pid, const char *spec_file, const int fds[3], pid_t *child,
                       berr_t *err);

/* `berthd shim [--sync-fd N] BUNDLE_DIR` (argv[0] is "shim"). */
int shim_main(int argc, char **argv);

/* `berthd nsexec PID SPEC_FILE` (argv[0] is "nsexec"). */
int nsexec_main(int argc, char **argv);

#endif
