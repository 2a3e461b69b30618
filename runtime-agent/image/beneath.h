/* Path operations confined to a directory given as an open fd: nothing here
 * follows a symlink out of that directory or walks above it. */
#ifndef BERTHD_IMAGE_BENEATH_H
#define BERTHD_IMAGE_BENEATH_H

#include <stdbool.h>

#include "berth/error.h"

/* PATH made relative and clean: no leading '/', no "." or empty components, ".." folded.
 * Returns "" for the root itself and NULL when ".." would climb above the root. */
char *beneath_clean(const char *path);

/* Open directory REL (a cleaned path) below ROOTFD read-only without following any symlink,
 * creating missing components with mode 0755 when CREATE. Returns the fd or -1. */
int beneath_open_dir(int rootfd, const char *rel, bool create, berr_t *err);

/* Open the regular file PATH below ROOTFD read-only, resolving symlinks as if ROOTFD were "/"
 * (openat2 RESOLVE_IN_ROOT, or a walk doing the same where openat2 is missing, which assumes
 * nothing else changes the tree meanwhile). Returns the fd or -1. */
int beneath_open_file(int rootfd, const char *path, berr_t *err);

/* Remove NAME in directory DFD, recursively when it is a directory, never following
 * symlinks. A missing NAME is fine. Returns 0 or -1 with errno set. */
int beneath_remove(int dfd, const char *name);

#endif
