/* Docker image references (distribution/reference grammar and Docker Hub
 * normalization) and the forms in which an image ID may be written. */
#ifndef BERTHD_IMAGE_REF_H
#define BERTHD_IMAGE_REF_H

#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/image/digest.h"

/* A normalized reference: docker.io/library/alpine:latest is
 * {domain "docker.io", path "library/alpine", tag "latest"}. */
struct image_ref {
    char *domain;   /* "docker.io", "localhost:5000" */
    char *path;     /* "library/alpine", "x/y" */
    char *tag;      /* NULL when only a digest was given */
    char *digest;   /* "sha256:<hex>" or NULL */
    bool name_only; /* the text named neither tag nor digest ("latest" was implied) */
};

/* Parse and normalize S ("alpine" -> docker.io/library/alpine:latest); errnum EINVAL when invalid.
 */
int image_ref_parse(const char *s, struct image_ref *ref, berr_t *err);

/* Release the strings of REF and zero it. */
void image_ref_clear(struct image_ref *ref);

/* The repository name, "docker.io/library/alpine". */
char *image_ref_name(const struct image_ref *ref);

/* The full normalized form, "docker.io/library/alpine:latest" (name[:tag][@digest]). */
char *image_ref_string(const struct image_ref *ref);

/* The familiar repository name, "alpine" or "localhost:5000/x". */
char *image_ref_familiar_name(const struct image_ref *ref);

/* The familiar form for display, "alpine:latest" or "localhost:5000/x:1". */
char *image_ref_familiar(const struct image_ref *ref);

/* Familiar form of an already normalized reference string (returned unchanged when invalid). */
char *image_ref_familiarize(const char *full);

/* True when S is a full image ID, "sha256:<64 hex>" or bare 64 hex; ID gets "sha256:<hex>". */
bool image_id_full(const char *s, char id[DIGEST_SIZE]);

/* True when S may abbreviate an image ID: 1 to 64 lowercase hex digits, optionally after
 * "sha256:"; *HEX points at the digits. */
bool image_id_prefix(const char *s, const char **hex);

#endif
