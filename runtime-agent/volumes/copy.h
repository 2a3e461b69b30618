/* Docker's volume copy-up: a new, empty volume mounted over image content starts with that
 * content (files, directories, symlinks, hard links, devices, owners, modes, times, xattrs),
 * and its root takes the owner and mode of the directory it covers. */
#ifndef BERTHD_VOLUMES_COPY_H
#define BERTHD_VOLUMES_COPY_H

#include <stdbool.h>

#include "berth/error.h"

/* Whether directory PATH holds nothing (false when it cannot be read). */
bool vol_dir_empty(const char *path);

/* Remove everything directory DIR holds (best effort). */
void vol_empty(int dir);

/* Copy what directory SRC holds into the empty directory DST, and SRC's owner, mode and times
 * onto DST. Nothing below SRC or DST is followed when it is a symlink. */
int vol_copy_up(int src, int dst, berr_t *err);

#endif
