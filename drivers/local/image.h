/* The machine image of the local driver and a machine's root file system made from it. */
#ifndef BERTH_LOCAL_IMAGE_H
#define BERTH_LOCAL_IMAGE_H

#include "berth/error.h"

#define LOCAL_IMAGE_NAME "machine-rootfs.tar.gz"
#define LOCAL_IMAGE_ENV "BERTH_LOCAL_IMAGE"

/* The installed machine image: DIR/../machine-rootfs.tar.gz next to the drivers directory
 * holding this driver, else <dir of berth>/../lib/berth/machine-rootfs.tar.gz. *path is
 * malloc()ed. */
int image_find(char **path, berr_t *err);

/* Copy SRC into CACHE_DIR as machine-rootfs-HASH.tar.gz, HASH naming SRC's path, unless a
 * copy of the same size and time is there, and give the cached path. */
int image_cache(const char *src, const char *cache_dir, char **cached, berr_t *err);

/* Extract IMAGE into a new directory ROOTFS (built next to it, then renamed into place), in
 * a `berth-local extract` process: HELPER is its path. */
int image_extract(const char *helper, const char *image, const char *rootfs, berr_t *err);

/* Run berth-local (ARGV[0]) with ARGV, stdin and stdout on /dev/null; when it fails, its
 * first line on stderr is the error. */
int helper_run(char *const argv[], berr_t *err);

/* Add the public keys MACHINE_DIR/id_*.pub that are missing from ROOTFS's
 * /root/.ssh/authorized_keys; the file is written without following links out of ROOTFS. */
int image_authorize_keys(const char *machine_dir, const char *rootfs, berr_t *err);

/* Remove ROOTFS, refusing when something is mounted below it and never crossing into
 * another file system. */
int image_remove_rootfs(const char *rootfs, berr_t *err);

#endif
