/* A machine's cgroup: REL (berth-local/NAME-ID) below the root of every cgroup hierarchy the
 * host mounts under /sys/fs/cgroup, so cgroup v1, hybrid (v1 controllers plus a cgroup2 at
 * /sys/fs/cgroup/unified) and v2 hosts are handled alike. Limits sit on REL; the machine's
 * processes live in REL/init, so that on v2 REL itself has no processes and can delegate its
 * controllers to the engine inside (cgroup v2's no-internal-process rule). The machine sees
 * REL as its /sys/fs/cgroup through a cgroup namespace rooted there. */
#ifndef BERTH_LOCAL_CGROUP_H
#define BERTH_LOCAL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

struct mcg_hier {
    char *mnt;  /* host mount point, e.g. /sys/fs/cgroup/memory */
    char *name; /* its name below /sys/fs/cgroup ("" when it is /sys/fs/cgroup itself) */
    bool v2;
    bool memory, cpu, cpuset, devices; /* v1 controllers this hierarchy carries */
};

struct mcgroup {
    struct mcg_hier *h;
    size_t n;
    char *rel;
};

/* Find the host's hierarchies (from /proc/self/mountinfo) for the cgroup REL. */
int mcg_open(struct mcgroup *cg, const char *rel, berr_t *err);

void mcg_close(struct mcgroup *cg);

/* Create REL and REL/init everywhere; limit REL to CPUS CPUs and MEMORY_MB (0: no limit) and,
 * on v1, to the devices a machine and the containers in it use (no disks of the host). */
int mcg_create(struct mcgroup *cg, int cpus, int memory_mb, berr_t *err);

/* Move PID (0: the caller) into REL, or REL/SUB when SUB is set, in every hierarchy. */
int mcg_enter(struct mcgroup *cg, pid_t pid, const char *sub, berr_t *err);

/* Enable every available v2 controller in REL's subtree, for the engine inside. */
int mcg_delegate(struct mcgroup *cg, berr_t *err);

/* Whether REL exists in any hierarchy. */
bool mcg_exists(struct mcgroup *cg);

/* Kill whatever still runs in REL's subtree and remove REL and everything below it, then
 * the shared parent when it is empty. A missing REL is not an error. */
int mcg_destroy(struct mcgroup *cg, berr_t *err);

#endif
