/* Producing a layer tar from a directory of changes (an overlayfs upper dir),
 * for docker commit and builds. */
#ifndef BERTHD_IMAGE_PACK_H
#define BERTHD_IMAGE_PACK_H

#include "berth/error.h"
#include "runtime-agent/image/io.h"

/* Write DIR as a layer tar to OUT in sorted order, turning overlayfs whiteouts (0:0 character
 * devices) into ".wh.NAME" files and opaque directories (trusted.overlay.opaque=y) into
 * ".wh..wh..opq" entries; hard links within DIR stay hard links. */
int layer_pack(const char *dir, struct io_writer *out, berr_t *err);

struct diff_skip;

/* layer_pack leaving out the relative paths SKIP lists (image/diff.h; NULL for none), with
 * everything below them. */
int layer_pack_skip(const char *dir, const struct diff_skip *skip, struct io_writer *out,
                    berr_t *err);

#endif
