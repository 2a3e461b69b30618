/* What a container changed, read from its overlay upper dir: docker diff's list of changes,
 * and the entries berthd itself put there as mount points (its /etc/hosts, /etc/hostname,
 * /etc/resolv.conf, /proc, /sys, /dev), which Docker keeps in a separate init layer and so
 * never shows in docker diff or docker commit.
 *
 * Every path is opened below the upper or layer directory without following symlinks: what
 * the container made there is data, never a way out. Paths handed around are relative to the
 * directory ("etc/hosts"), sorted the way layer_pack writes them. */
#ifndef BERTHD_IMAGE_DIFF_H
#define BERTHD_IMAGE_DIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

/* Docker's change kinds (GET /containers/{id}/changes). */
enum diff_kind { DIFF_MODIFIED = 0, DIFF_ADDED = 1, DIFF_DELETED = 2 };

/* A list of relative paths to leave out. */
struct diff_skip {
    char **paths;
    size_t n, cap;
};

/* Add to SKIP each of the N relative paths in STUBS that is, in UPPER, an empty regular file or
 * a non-opaque directory holding nothing but skipped entries (a mount point made for the
 * container), then every ancestor directory of those that holds nothing but skipped entries
 * and is not opaque. */
int diff_find_stubs(const char *upper, const char *const *stubs, size_t n, struct diff_skip *skip,
                    berr_t *err);

/* Whether SKIP (may be NULL) lists the relative path PATH. */
bool diff_skipped(const struct diff_skip *skip, const char *path);

/* Release the paths of SKIP and zero it. */
void diff_skip_clear(struct diff_skip *skip);

/* docker diff: the changes in UPPER over the N_LOWERS layer directories LOWERS (top first), as
 * Docker's [{"Path": "/etc", "Kind": 0}, ...] in its order: a pre-order walk with names
 * sorted, a directory's "modified" entry added before the first entry added or deleted in it
 * unless it is listed already. Whiteouts are deletions; an entry that exists in a layer is
 * modified (a directory only when its size, mode or modification time differ), else added; an
 * opaque directory that hides a layer's directory is reported deleted, its entries added.
 * SKIP (may be NULL) lists paths to leave out. */
int diff_changes(const char *upper, char *const *lowers, size_t n_lowers,
                 const struct diff_skip *skip, json_t **changes, berr_t *err);

#endif
