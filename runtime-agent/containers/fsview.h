/* A view of a container's file system for `docker cp` and volume copy-up: a directory fd of
 * the container's "/", below which its volumes and bind mounts are mounted where the
 * container sees them.
 *
 * A running container is seen through /proc/PID/root (its own mount namespace, volumes and
 * all). Any other container gets a mount of its own: a thread unshares its mount namespace,
 * mounts the container's overlay (image layers, upper and work dirs) and binds its volumes
 * there, and keeps that namespace alive until the view is closed. None of it is visible in
 * berthd's mount namespace, and the kernel drops it all if berthd dies. Such a view holds the
 * container's operation lock, so the container cannot start (and mount the same upper dir)
 * meanwhile.
 *
 * Paths below the root must be resolved with openat2(RESOLVE_IN_ROOT) (containers/cp.h):
 * symlinks in the container are the container's to choose. */
#ifndef BERTHD_CONTAINERS_FSVIEW_H
#define BERTHD_CONTAINERS_FSVIEW_H

#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/containers/lifecycle.h"

enum {
    VIEW_VOLUMES = 1 << 0, /* mount the container's volumes and binds too */
    VIEW_NO_LOCK = 1 << 1, /* the caller holds c->op (or C is not registered yet) */
};

struct ctr_view {
    int root;     /* O_PATH directory fd of the container's "/" */
    bool running; /* seen through the running container's /proc/PID/root */
    struct view_mount *mnt;
    struct containers *cs;
    struct container *c;
    bool locked;
};

/* Open a view of C. */
int ctr_view_open(struct containers *cs, struct container *c, unsigned flags, struct ctr_view **out,
                  berr_t *err);

/* Close it (every fd opened below its root must be closed first). */
void ctr_view_close(struct ctr_view *v);

#endif
