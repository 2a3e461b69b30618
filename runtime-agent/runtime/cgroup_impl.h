/* Shared by the cgroup backends: the operations table and file helpers. */
#ifndef BERTHD_RUNTIME_CGROUP_IMPL_H
#define BERTHD_RUNTIME_CGROUP_IMPL_H

#include <stdint.h>

#include "runtime-agent/runtime/cgroup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

struct cgroup_ops {
    const char *name;
    int (*create)(struct cgroup *cg, const struct rt_resources *res, bool privileged, berr_t *err);
    int (*add_pid)(struct cgroup *cg, pid_t pid, berr_t *err);
    bool (*oom_killed)(struct cgroup *cg);
    int (*freeze)(struct cgroup *cg, bool freeze, berr_t *err);
    bool (*frozen)(struct cgroup *cg);
    int (*stats)(struct cgroup *cg, struct runtime_stats *st, berr_t *err);
    int (*destroy)(struct cgroup *cg, berr_t *err);
    int (*join)(pid_t target, berr_t *err);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* Write VALUE to DIR/FILE. */
int cg_write(const char *dir, const char *file, const char *value, berr_t *err);

/* Write the integer V to DIR/FILE. */
int cg_write_int(const char *dir, const char *file, int64_t v, berr_t *err);

/* Read DIR/FILE into BUF (NUL-terminated, trailing newline cut); -1 on any failure. */
int cg_read(const char *dir, const char *file, char *buf, size_t len);

/* DIR/FILE as an unsigned integer ("max" reads as 0); 0 when unreadable. */
uint64_t cg_read_u64(const char *dir, const char *file);

/* The value of "KEY N" in a flat-keyed file such as memory.events; 0 when missing. */
uint64_t cg_read_key(const char *dir, const char *file, const char *key);

/* The value of "KEY N" in TEXT, a flat-keyed file's contents (NULL: none); 0 when missing.
 * Lets a reader take several keys from one read of the file. */
uint64_t cg_key(const char *text, const char *key);

/* USER_HZ ticks (cpuacct.stat, /proc/stat) in nanoseconds. */
uint64_t cg_ticks_to_ns(uint64_t ticks);

/* The whole of DIR/FILE (allocated), or NULL when unreadable. */
char *cg_read_text(const char *dir, const char *file);

/* Every "KEY N" line of DIR/FILE (memory.stat) into ST's memory_stat; nothing when unreadable. */
void cg_read_memory_stat(const char *dir, const char *file, struct runtime_stats *st);

/* The per-CPU values of DIR/FILE (cpuacct.usage_percpu) into ST's percpu_ns. */
void cg_read_percpu(const char *dir, const char *file, struct runtime_stats *st);

/* Add a block I/O entry to ST. */
void cg_add_blkio(struct runtime_stats *st, unsigned major, unsigned minor, const char *op,
                  uint64_t value);

/* Remove the directory DIR, retrying for a short while on EBUSY; a missing DIR is fine. */
int cg_rmdir(const char *dir, berr_t *err);

/* Wait up to about 2 s until DIR/FILE contains WANT (as a word or KEY value line). */
int cg_wait_for(const char *dir, const char *file, const char *want, berr_t *err);

#endif
