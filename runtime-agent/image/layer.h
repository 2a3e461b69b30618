/* Applying a layer tar to a directory: each layer is extracted into its own
 * directory that later serves as an overlayfs lower dir, so whiteouts become
 * overlayfs whiteouts and nothing may land outside that directory. */
#ifndef BERTHD_IMAGE_LAYER_H
#define BERTHD_IMAGE_LAYER_H

#include <stdint.h>

#include "berth/error.h"
#include "runtime-agent/image/digest.h"
#include "runtime-agent/image/io.h"

enum layer_flags {
    /* Extract a plain archive to read it back (docker save output): ".wh." names are kept as
     * they are, device nodes and FIFOs skipped, no owners, xattrs or setuid bits applied. */
    LAYER_PLAIN = 1 << 0,
};

/* What layer_apply measured. */
struct layer_info {
    char diff_id[DIGEST_SIZE]; /* sha256 of the uncompressed tar stream */
    int64_t size;              /* bytes of file content (Docker's layer size) */
    int64_t tar_size;          /* bytes of the uncompressed tar stream */
};

/* Extract the tar read from IN (plain, gzip, bzip2, xz or zstd) into the existing directory DIR
 * without following any symlink or leaving DIR, turning ".wh.NAME" into a 0:0 character device
 * and ".wh..wh..opq" into trusted.overlay.opaque=y; TAR_COPY (may be NULL) receives the
 * uncompressed tar bytes. */
int layer_apply(const char *dir, struct io_reader *in, struct io_writer *tar_copy, unsigned flags,
                struct layer_info *info, berr_t *err);

#endif
