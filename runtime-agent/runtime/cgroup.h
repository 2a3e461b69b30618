/* Container cgroups behind one interface, with cgroup v1 (also on hybrid hosts, where the
 * cgroup2 mount at /sys/fs/cgroup/unified is ignored for limits) and cgroup v2 backends.
 * A container's cgroup is PARENT/ID in every relevant hierarchy; only that leaf is ever
 * removed, and only cgroups this module created are written to. */
#ifndef BERTHD_RUNTIME_CGROUP_H
#define BERTHD_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "berth/error.h"
#include "runtime-agent/runtime/runtime.h"
#include "runtime-agent/runtime/spec.h"

struct cgroup_ops;

struct cgroup {
    const struct cgroup_ops *ops;
    char *rel; /* PARENT/ID below each hierarchy's root */
};

/* Name the cgroup PARENT/ID (nothing is created yet). */
int cgroup_open(struct cgroup *cg, const char *parent, const char *id, berr_t *err);

/* Name the cgroup by its path REL below each hierarchy root, as recorded in state.json. */
void cgroup_open_rel(struct cgroup *cg, const char *rel);

/* Create the cgroup and apply RES (and the device allow-list unless PRIVILEGED). */
int cgroup_create(struct cgroup *cg, const struct rt_resources *res, bool privileged, berr_t *err);

/* Move process PID into the cgroup. */
int cgroup_add_pid(struct cgroup *cg, pid_t pid, berr_t *err);

/* True when the kernel OOM-killed a process of the cgroup. */
bool cgroup_oom_killed(struct cgroup *cg);

/* Freeze (FREEZE true) or thaw the cgroup and wait until the state is reached. */
int cgroup_freeze(struct cgroup *cg, bool freeze, berr_t *err);

/* True when the cgroup is frozen. */
bool cgroup_frozen(struct cgroup *cg);

/* Memory, pids and CPU usage of the cgroup. */
int cgroup_stats(struct cgroup *cg, struct runtime_stats *st, berr_t *err);

/* Remove the (empty) cgroup, retrying briefly while the kernel still counts exiting tasks. */
int cgroup_destroy(struct cgroup *cg, berr_t *err);

/* Release the memory of CG (the cgroup itself stays). */
void cgroup_close(struct cgroup *cg);

/* Move the calling process into the cgroups of process TARGET. */
int cgroup_join(pid_t target, berr_t *err);

#endif
