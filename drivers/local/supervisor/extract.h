/* The local driver's image extraction, run in berth-local (see extract.c). */
#ifndef BERTH_LOCAL_EXTRACT_H
#define BERTH_LOCAL_EXTRACT_H

#include "berth/error.h"

/* Extract IMAGE into a new directory ROOTFS (built next to it, then renamed into place). */
int rootfs_extract(const char *image, const char *rootfs, berr_t *err);

#endif
