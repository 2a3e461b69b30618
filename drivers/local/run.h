/* What the local driver and its supervisor (berth-local) share: the files of a machine below
 * its machine directory, the boot parameters the driver hands the supervisor, the record of
 * who runs the machine, and process identities that survive pid reuse and host reboots.
 *
 *   MACHINE_DIR/rootfs/                 the machine's root file system (persistent)
 *   MACHINE_DIR/local/run.json          boot parameters, written by the driver at start
 *   MACHINE_DIR/local/state.json        who runs it, written by the supervisor, gone when stopped
 *   MACHINE_DIR/local/forwards.json     ports the machine listens on, forwarded to the host
 *   MACHINE_DIR/local/console.log       output of the machine's init and services (this boot)
 *   MACHINE_DIR/local/supervisor.log    the supervisor's own log (this start) */
#ifndef BERTH_LOCAL_RUN_H
#define BERTH_LOCAL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

#define LOCAL_SUBDIR "local"
#define LOCAL_CGROUP_PARENT "berth-local"
#define LOCAL_HELPER_NAME "berth-local"
#define LOCAL_SSH_PORT 22
#define LOCAL_STOP_TIMEOUT 20      /* seconds from the poweroff request to SIGKILL */
#define LOCAL_READY_FD 3           /* where the supervisor reports "ok" or "error: ..." */
#define LOCAL_BRIDGE "berth-host0" /* the host-only network's bridge */

/* Boot parameters (local/run.json). */
struct local_run {
    char *name;        /* machine name, also its hostname */
    char *machine_dir; /* absolute */
    char *rootfs;      /* absolute */
    char *cgroup;      /* the machine's cgroup below every hierarchy's root */
    int cpus;          /* CPU quota in CPUs, 0 for none */
    int memory_mb;     /* memory limit, 0 for none */
    int ssh_host_port; /* 127.0.0.1:ssh_host_port on the host ... */
    int ssh_port;      /* ... reaches this port inside the machine */
    int engine_host_port;
    int engine_port;
    int stop_timeout; /* seconds */
    /* --local-network hostonly: no forwards; the machine's eth0 has ADDRESS/PREFIX, the other
     * end of its veth pair (HOST_IF) is a port of BRIDGE, which has GATEWAY/PREFIX. All NULL
     * for the default network (forwards on the host's 127.0.0.1). */
    char *address;
    char *gateway;
    int prefix;
    char *bridge;
    char *host_if;
};

/* A process as identified across pid reuse: its pid and its start time (clock ticks after
 * boot, field 22 of /proc/PID/stat). */
struct proc_id {
    pid_t pid;
    unsigned long long start;
};

enum local_phase { LOCAL_STARTING, LOCAL_RUNNING, LOCAL_STOPPING };

/* Who runs the machine (local/state.json). Valid only during the boot it names. */
struct local_state {
    char boot_id[64];
    struct proc_id supervisor;
    struct proc_id init; /* pid 1 of the machine, as the host sees it; pid 0 between boots */
    enum local_phase phase;
};

/* MACHINE_DIR/local/FILE, malloc()ed. */
char *local_path(const char *machine_dir, const char *file);

/* Write run.json for R atomically. */
int local_run_save(const struct local_run *r, berr_t *err);

/* Read MACHINE_DIR/local/run.json into R (release with local_run_free). */
int local_run_load(const char *machine_dir, struct local_run *r, berr_t *err);

void local_run_free(struct local_run *r);

/* Write state.json atomically. */
int local_state_save(const char *machine_dir, const struct local_state *s, berr_t *err);

/* Read state.json; *found is false (and 0 returned) when there is none or it is unreadable. */
int local_state_load(const char *machine_dir, struct local_state *s, bool *found, berr_t *err);

/* Remove state.json and forwards.json of a run that is over. */
void local_state_clear(const char *machine_dir);

/* The identity of the live process PID; -1 when there is none. */
int proc_id_get(pid_t pid, struct proc_id *id);

/* Whether ID is still the same live process. */
bool proc_id_alive(const struct proc_id *id);

/* A pidfd for ID, or -1 (errno ESRCH) when that process is gone. */
int proc_id_open(const struct proc_id *id);

/* Wait until the process of PIDFD exits or TIMEOUT_MS pass; true when it exited. */
bool proc_wait_exit(int pidfd, long long timeout_ms);

/* Open PATH below ROOTFD as if ROOTFD were "/": no link can lead out of it (openat2's
 * RESOLVE_IN_ROOT). */
int root_open(int rootfd, const char *path, int flags);

/* This boot of the host (/proc/sys/kernel/random/boot_id) into BUF. */
int host_boot_id(char *buf, size_t len, berr_t *err);

#endif
