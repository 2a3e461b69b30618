/* The container's file system, built inside its new mount namespace: overlay rootfs, /proc,
 * /dev, /sys, the spec's mounts (destinations resolved inside the rootfs, never escaping it),
 * pivot_root, then masked and read-only paths. */
#ifndef BERTHD_RUNTIME_ROOTFS_H
#define BERTHD_RUNTIME_ROOTFS_H

#include "berth/error.h"
#include "runtime-agent/runtime/spec.h"

/* Mount everything below BUNDLE/rootfs and pivot into it; cwd is the new "/" afterwards.
 * OVERLAY_FD, when >= 0, is the root file system already made (rootfs_idmapped_overlay), which
 * is attached instead of mounting the overlay here. */
int rootfs_setup(const struct rt_spec *spec, const char *bundle, int overlay_fd, berr_t *err);

/* With a user namespace (spec->userns), run by the shim in the initial user namespace once
 * USERNS_FD's maps are written: the spec's overlay as a detached mount (fsmount) whose lower
 * layers are idmapped mounts through USERNS_FD, so that the image's files, owned by root on
 * disk, belong to the container's root. The overlay itself stays owned by the initial user
 * namespace (its trusted.* xattrs keep working); the upper dir stores the mapped ids. Returns
 * the mount's fd, or -1 with a message naming what the kernel or file system refused. */
int rootfs_idmapped_overlay(const struct rt_spec *spec, int userns_fd, berr_t *err);

/* After the pivot: mask and protect /proc and /sys paths, make "/" read-only when asked. */
int rootfs_finish(const struct rt_spec *spec, berr_t *err);

#endif
