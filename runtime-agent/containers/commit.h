/* docker commit, docker diff and docker export: a container's file system changes as an image
 * layer, as a list, and its whole file system as a tar.
 *
 * The changes are the overlay's upper dir (DATA_ROOT/containers/ID/upper), read with the
 * layer writer of image/pack.h and the change list of image/diff.h. berthd makes mount points
 * for its /etc/hosts, /etc/hostname, /etc/resolv.conf and for /proc, /sys, /dev in the upper
 * dir when the image lacks them; Docker keeps those in a separate init layer, so they are
 * left out here too (as long as they are still the empty files and directories berthd made).
 * Volume contents never reach the upper dir: volumes are mounted over it.
 *
 * Export reads a merged view made for the occasion: a detached, read-only overlay mount
 * (fsopen/fsmount, never attached anywhere) whose lower dirs are the upper dir and then the
 * image's layers. It has no volumes, binds, /proc or /sys contents, as Docker's export of the
 * container's layer has none, and works for running and stopped containers alike. */
#ifndef BERTHD_CONTAINERS_COMMIT_H
#define BERTHD_CONTAINERS_COMMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/image/io.h"

struct ctr_commit_opts {
    const char *ref;     /* tag the image with this reference ("repo:tag"), may be NULL */
    const char *comment; /* may be NULL */
    const char *author;  /* may be NULL */
    bool pause;          /* freeze a running container meanwhile */
    json_t *config;      /* the new image's Config (api/commit.c merges it as dockerd) */
};

/* POST /commit: a new image from C's changes on top of its image; *ID gets "sha256:...". */
int ctr_commit(struct containers *cs, struct container *c, const struct ctr_commit_opts *o,
               char **id, berr_t *err);

/* A copy of C's Config, taken under the store lock. */
json_t *ctr_config_copy(struct containers *cs, struct container *c);

/* GET /containers/{id}/changes: [{"Path", "Kind"}] (image/diff.h). */
int ctr_changes(struct containers *cs, struct container *c, json_t **changes, berr_t *err);

/* GET /containers/{id}/export: C's file system as a tar written to OUT. BEGIN (may be NULL)
 * runs once the view is ready, before the first byte, so errors before it can still be an
 * HTTP status. */
int ctr_export(struct containers *cs, struct container *c, struct io_writer *out,
               int (*begin)(void *ctx, berr_t *err), void *ctx, berr_t *err);

#endif
