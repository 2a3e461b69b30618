/* spec.json (README.contract.md) parsed into a struct and validated. The same parser reads
 * nsexec's process spec, which carries only the process keys. */
#ifndef BERTHD_RUNTIME_SPEC_H
#define BERTHD_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

enum rt_ns { RT_NS_PID, RT_NS_NET, RT_NS_IPC, RT_NS_UTS, RT_NS_MNT, RT_NS_COUNT };

struct rt_mount {
    char *source, *destination, *type;
    char **options; /* NULL-terminated */
};

/* One line of a user namespace's uid_map or gid_map. */
struct rt_idmap {
    uint32_t container_id, host_id, size;
};

struct rt_resources {
    int64_t memory, memory_swap, pids_limit, cpu_quota, cpu_period, cpu_shares;
};

/* The process to run: what a container's init and an exec have in common. */
struct rt_process {
    char **args; /* NULL-terminated, never empty */
    char **env;  /* NULL-terminated */
    char *cwd, *user;
    bool tty, privileged, no_new_privileges, seccomp;
    uint64_t caps; /* effective capability set, bit N = capability N */
};

struct rt_spec {
    struct rt_process proc;
    char *id;
    char **layers; /* NULL-terminated, top first */
    char *upper, *work;
    bool readonly_rootfs, open_stdin, stdin_once;
    char *hostname, *domainname;
    char *ns[RT_NS_COUNT]; /* "new", "host" or a path */
    bool userns;           /* namespaces.user "new": a user namespace with these maps */
    struct rt_idmap *uid_map, *gid_map;
    size_t n_uid_map, n_gid_map;
    struct rt_mount *mounts;
    size_t n_mounts;
    struct rt_resources res;
    char *cgroup_parent;
    char *log_path, *log_driver;
    int64_t log_max_size, log_max_files;
};

/* Parse and validate the container spec at PATH. */
int spec_load(const char *path, struct rt_spec *spec, berr_t *err);

/* Parse and validate an exec process spec at PATH (keys args, env, cwd, user, tty,
 * privileged, cap_add, cap_drop, no_new_privileges, seccomp). */
int spec_load_process(const char *path, struct rt_process *proc, berr_t *err);

/* The value of NAME in a NULL-terminated KEY=VALUE list, or NULL. */
const char *spec_getenv(char *const *env, const char *name);

void spec_free(struct rt_spec *spec);
void spec_process_free(struct rt_process *proc);

#endif
