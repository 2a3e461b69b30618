/* A container's mount points: volumes, bind mounts and tmpfs mounts, with Docker's semantics
 * for -v/--volume (HostConfig.Binds), --mount (HostConfig.Mounts), -v /path and the image's
 * VOLUME entries (Config.Volumes: anonymous volumes), --volumes-from (HostConfig.VolumesFrom)
 * and copy-up.
 *
 * They are decided once, at create, and kept in the record as its MountPoints: an array
 * sorted so that a parent is mounted before what is below it, each
 *   {"Type": "volume"|"bind"|"tmpfs", "Name", "Source", "Destination", "Driver", "Mode",
 *    "RW", "Propagation"}            (what inspect and ps show)
 *  + "Anonymous": true               a volume made for this mount, which rm -v removes
 *  + "CopyData": true                copy the image's content into the new volume (copy-up)
 *  + "CreateSource": true            a bind from -v: its missing host directory is made at start
 *  + "Relabel": "z"|"Z"              SELinux relabeling (only where SELinux is enabled)
 *  + "NonRecursive": true            bind without its submounts
 *  + "TmpfsOptions": "size=..,mode=.."
 * A --volumes-from container gets copies of the other container's mount points, so chains
 * (test3 from test2 from data) and stopped or removed sources work alike. */
#ifndef BERTHD_CONTAINERS_MOUNTS_H
#define BERTHD_CONTAINERS_MOUNTS_H

#include <jansson.h>
#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/containers/lifecycle.h"

/* Parse and check C's mount requests (c->config, c->host) and the image's Volumes (from
 * IMAGE_CONFIG) into c->mounts; no volume is made yet. EINVAL (400) with Docker's texts. */
int mounts_plan(struct containers *cs, struct container *c, const json_t *image_config,
                berr_t *err);

/* Make or find C's volumes (filling in their names and sources) and hold them against removal
 * until mounts_release: a container being created is not in the store yet. *HELD gets what
 * to release. */
int mounts_acquire(struct containers *cs, struct container *c, json_t **held, berr_t *err);

/* Drop the holds of mounts_acquire (and HELD); with FAILED, remove the volumes it made. */
void mounts_release(struct containers *cs, json_t *held, bool failed);

/* Copy-up: fill each new, empty volume of C from the image content at its destination. C's
 * overlay dirs exist, C is not running and not registered yet. */
int mounts_copy_up(struct containers *cs, struct container *c, berr_t *err);

/* The runtime's "mounts" (spec.json) for C's mount points, making missing -v bind sources. */
int mounts_spec(struct containers *cs, struct container *c, json_t **mounts, berr_t *err);

/* The mounts a view of a stopped container binds (containers/fsview.h): [{"source",
 * "destination", "ro"}], volumes and binds whose sources exist. */
json_t *mounts_view_binds(struct containers *cs, const json_t *points);

/* MountPoints as inspect and ps show them. */
json_t *mounts_public(const json_t *points);

/* Whether POINTS use volume NAME. */
bool mounts_use_volume(const json_t *points, const char *name);

/* The mount point whose destination holds container path PATH (the deepest one), or NULL. */
const json_t *mounts_find(const json_t *points, const char *path);

/* rm -v: remove C's anonymous volumes that no other container uses. */
void mounts_remove_anonymous(struct containers *cs, struct container *c);

#endif
