/* Container creation: one clone() into new namespaces, synchronised with the child over a
 * SOCK_SEQPACKET socketpair. The parent puts the child into its cgroup before letting it go
 * on; the child builds the root file system, becomes the container's process and reports any
 * failure (and, with a TTY, the pty master) back before its execve. */
#ifndef BERTHD_RUNTIME_CONTAINER_H
#define BERTHD_RUNTIME_CONTAINER_H

#include <sys/types.h>

#include "berth/error.h"
#include "runtime-agent/runtime/cgroup.h"
#include "runtime-agent/runtime/spec.h"

/* The child's stdin, stdout and stderr (unused with a TTY). */
struct container_io {
    int in, out, err;
};

struct container {
    pid_t pid;     /* host pid of the container's init */
    int pty;       /* pty master with a TTY, else -1 */
    int exit_code; /* when creation failed: Docker's code (126, 127, 128) */
};

/* Create the container of SPEC in BUNDLE and wait until its command runs (returns 0) or
 * failed (returns -1 with C->exit_code and *ERR set; the child is reaped). */
int container_create(const struct rt_spec *spec, const char *bundle, struct cgroup *cg,
                     const struct container_io *io, struct container *c, berr_t *err);

#endif
