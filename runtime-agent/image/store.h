/* berthd's content-addressed image store.
 *
 * Layout under ROOT (DATA_ROOT/image):
 *   layers/<chain hex>/diff/       the extracted layer, an overlayfs lower dir
 *   layers/<chain hex>/layer.tar   the uncompressed tar, so that save gives the same DiffID
 *   layers/<chain hex>/meta.json   {"diff_id", "parent" (ChainID or ""), "size"}
 *   configs/<id hex>.json          the exact config bytes; the image ID is their sha256
 *   imagemeta/<id hex>.json        local facts: {"parent" (image ID), "last_tag_time"}
 *   repositories.json              {"docker.io/library/alpine:latest": "sha256:..."}
 *   tmp/                           work in progress, emptied on open
 *   lock                           flocked while a process has the store open
 * A layer lives as long as one image uses it. Every function is thread-safe.
 *
 * Errors follow berth's convention; err->errnum tells the API layer the status:
 * ENOENT "No such image: REF" (404), EBUSY for conflicts (409), EINVAL for bad input (400),
 * anything else is a server error. */
#ifndef BERTHD_IMAGE_STORE_H
#define BERTHD_IMAGE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"
#include "runtime-agent/image/io.h"

struct image_store;

/* Open the store under ROOT, creating it when missing and dropping unfinished work; fails when
 * another process has it open. */
int image_store_open(const char *root, struct image_store **store, berr_t *err);

/* Release the store (no call may be in progress). */
void image_store_close(struct image_store *s);

/* Number of images in the store. */
size_t image_count(struct image_store *s);

/* Resolve a reference ("alpine", "localhost:5000/x:1", "x@sha256:...") or an image ID (full,
 * bare 64 hex, or unique hex prefix) to "sha256:<hex>" in *ID. */
int image_resolve(struct image_store *s, const char *ref_or_id, char **id, berr_t *err);

/* A copy of the image config (the parsed config file) of REF_OR_ID. */
int image_get_config(struct image_store *s, const char *ref_or_id, json_t **config, berr_t *err);

/* The layer diff directories of REF_OR_ID, top first (overlay lowerdir order); free with
 * image_free_dirs. An image without layers gives *N == 0. */
int image_layer_dirs(struct image_store *s, const char *ref_or_id, char ***dirs, size_t *n,
                     berr_t *err);

/* Release what image_layer_dirs returned. */
void image_free_dirs(char **dirs, size_t n);

/* What docker import may add; every field may be NULL. */
struct image_import_opts {
    const char *ref;     /* tag the new image with this reference */
    json_t *changes;     /* container config keys to set, e.g. {"Cmd": [...], "Env": [...]} */
    const char *message; /* comment; "Imported from SOURCE" when NULL */
    const char *source;  /* where the tar came from, "-" (stdin) when NULL */
};

/* Make a one-layer image from the rootfs tar read from IN (plain, gzip, bzip2, xz or zstd)
 * with a config like Docker's import; OPTS may be NULL. */
int image_import(struct image_store *s, struct io_reader *in, const struct image_import_opts *opts,
                 char **id, berr_t *err);

/* Make an image on top of PARENT (an ID or reference; NULL for none) from CHANGES: a directory
 * (an overlay upper dir, packed with layer_pack), a layer tar file, or NULL for no new layer.
 * CONFIG's keys (e.g. "config", "container_config", "author", "comment") replace the parent's;
 * HISTORY ({"created_by", "comment", "author"}, may be NULL) is appended to the history. */
int image_create_from_layer(struct image_store *s, const char *parent, const char *changes,
                            json_t *config, json_t *history, char **id, berr_t *err);

/* Point reference REF at the image SOURCE names (a tag moves from any other image). A
 * reference with a digest is kept as a repo digest. */
int image_tag(struct image_store *s, const char *source, const char *ref, berr_t *err);

/* Remove reference REF; the image stays, maybe untagged. */
int image_untag(struct image_store *s, const char *ref, berr_t *err);

/* How containers use an image, as image_use_fn reports it. */
enum image_use { IMAGE_UNUSED, IMAGE_USED_STOPPED, IMAGE_USED_RUNNING };

/* Tell how containers use image ID (running wins over stopped) and, when used, set *CONTAINER
 * to one such container's ID (malloc'd). Called without the store lock held. */
typedef enum image_use (*image_use_fn)(void *ctx, const char *id, char **container);

struct image_delete_opts {
    bool force;          /* docker rmi -f */
    bool noprune;        /* keep untagged parents */
    image_use_fn in_use; /* NULL when no container can use images */
    void *ctx;
};

/* docker rmi: untag and delete REF_OR_ID as Docker does, setting *REPORT to its
 * [{"Untagged": "alpine:latest"}, {"Deleted": "sha256:..."}] list; EBUSY for its conflicts
 * (image in use, referenced in multiple repositories, dependent children). */
int image_delete(struct image_store *s, const char *ref_or_id, const struct image_delete_opts *opts,
                 json_t **report, berr_t *err);

/* GET /images/json: the images, newest first; untagged parents of other images only when ALL. */
int image_list(struct image_store *s, bool all, json_t **images, berr_t *err);

/* GET /images/{name}/json for REF_OR_ID. */
int image_inspect(struct image_store *s, const char *ref_or_id, json_t **out, berr_t *err);

/* GET /images/{name}/history for REF_OR_ID, newest first. */
int image_history(struct image_store *s, const char *ref_or_id, json_t **out, berr_t *err);

/* docker save: write the N images REFS name as a docker-archive tar to OUT, with the OCI
 * layout files (oci-layout, index.json, blobs/sha256/) that Docker 25 adds. */
int image_save(struct image_store *s, const char *const *refs, size_t n, struct io_writer *out,
               berr_t *err);

/* Receives each line of load output ("Loaded image: alpine:latest"), without newline. */
typedef void (*image_progress_fn)(void *ctx, const char *line);

/* docker load: read a docker-archive or OCI layout tar (plain or compressed) from IN,
 * verifying every digest, and add its images and tags. PROGRESS may be NULL. */
int image_load(struct image_store *s, struct io_reader *in, image_progress_fn progress, void *ctx,
               berr_t *err);

#endif
