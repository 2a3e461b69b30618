/* The container's file system, built inside its new mount namespace: overlay rootfs, /proc,
 * /dev, /sys, the spec's mounts (destinations resolved inside the rootfs, never escaping it),
 * pivot_root, then masked and read-only paths. */
#ifndef BERTHD_RUNTIME_ROOTFS_H
#define BERTHD_RUNTIME_ROOTFS_H

#include "berth/error.h"
#include "runtime-agent/runtime/spec.h"

/* Mount everything below BUNDLE/rootfs and pivot into it; cwd is the new "/" afterwards. */
int rootfs_setup(const struct rt_spec *spec, const char *bundle, berr_t *err);

/* After the pivot: mask and protect /proc and /sys paths, make "/" read-only when asked. */
int rootfs_finish(const struct rt_spec *spec, berr_t *err);

#endif
