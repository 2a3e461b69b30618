/* What the image store's modules (store.c, tag.c, delete.c, create.c,
 * query.c, save.c, load.c) share: the in-memory state and the steps that
 * add or remove layers and images. Functions named *_locked expect s->lock. */
#ifndef BERTHD_IMAGE_STORE_INT_H
#define BERTHD_IMAGE_STORE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime-agent/image/digest.h"
#include "runtime-agent/image/layer.h"
#include "runtime-agent/image/ref.h"
#include "runtime-agent/image/store.h"

/* Config files, manifests and indexes larger than this are refused. */
#define IMAGE_JSON_MAX (8 << 20)

struct img {
    char id[DIGEST_SIZE];
    json_t *config;
    size_t n_layers;
    char (*chains)[DIGEST_SIZE]; /* ChainIDs, bottom first */
    char parent[DIGEST_SIZE];    /* local parent image ID, "" when none */
    char *last_tag_time;         /* NULL when never tagged */
    int64_t size;                /* sum of the layers' sizes */
};

struct image_store {
    char *root;
    int lock_fd; /* ROOT/lock, flocked: one process per store */
    pthread_mutex_t lock;
    struct img **imgs;
    size_t n_imgs, cap_imgs;
    json_t *layers; /* ChainID -> {"diff_id", "parent", "size"} */
    json_t *pins;   /* ChainID -> count of operations that still need the layer */
    json_t *repos;  /* normalized reference -> image ID */
};

/* A layer extracted into tmp/, not yet part of the store. */
struct new_layer {
    char *dir; /* tmp/layer-XXXXXX holding diff/ and layer.tar */
    struct layer_info info;
};

/* Where store_lookup found a name. */
struct lookup {
    struct img *img;
    bool by_ref;          /* the name was a reference, not an ID */
    char *key;            /* its repositories.json key when by_ref */
    struct image_ref ref; /* the parsed reference when by_ref */
};

/* Directories removed from the store, deleted once the lock is released. */
struct trash {
    char **paths;
    size_t n, cap;
};

/* ROOT/REL. */
char *store_path(struct image_store *s, const char *rel);

/* ROOT/layers/<hex of CHAIN>/SUB. */
char *store_layer_path(struct image_store *s, const char *chain, const char *sub);

/* A fresh directory under ROOT/tmp whose name starts with PREFIX. */
char *store_tmpdir(struct image_store *s, const char *prefix, berr_t *err);

/* The image with ID, or NULL. */
struct img *store_find_locked(struct image_store *s, const char *id);

/* Resolve NAME as image_resolve does; release *L with lookup_clear. */
int store_lookup_locked(struct image_store *s, const char *name, struct lookup *l, berr_t *err);
void lookup_clear(struct lookup *l);

/* The repositories.json key of REF: "name:tag", or "name@digest" when it has a digest. */
char *ref_key(const struct image_ref *ref);

/* Extract the tar from IN into a new tmp layer (no lock needed). */
int store_prepare_layer(struct image_store *s, struct io_reader *in, struct new_layer *nl,
                        berr_t *err);

/* Drop a prepared layer that was not committed. */
void new_layer_discard(struct new_layer *nl);

/* Make NL the layer with DiffID NL->info.diff_id on top of PARENT_CHAIN ("" for none), or
 * discard it when the store has that layer already; the layer is pinned, CHAIN gets its ID. */
int store_commit_layer_locked(struct image_store *s, struct new_layer *nl, const char *parent_chain,
                              char chain[DIGEST_SIZE], berr_t *err);

/* Keep layer CHAIN alive while an operation builds on it (counted), or release it. */
void store_pin_locked(struct image_store *s, const char *chain);
void store_unpin_locked(struct image_store *s, const char *chain);

/* Add the image whose config is the LEN bytes of CFG (layers must exist), with local parent
 * PARENT (NULL or ""); ID gets its ID. An image already present is left as it is. */
int store_register_locked(struct image_store *s, const char *cfg, size_t len, const char *parent,
                          char id[DIGEST_SIZE], berr_t *err);

/* Point KEY at image ID and save; REPLACED gets the ID KEY pointed at before, or "". */
int store_set_ref_locked(struct image_store *s, const char *key, const char *id,
                         char replaced[DIGEST_SIZE], berr_t *err);

/* Remove KEY from the references and save. */
int store_drop_ref_locked(struct image_store *s, const char *key, berr_t *err);

/* The repositories.json keys pointing at ID, as a new JSON array of strings. */
json_t *store_refs_of_locked(struct image_store *s, const char *id);

/* Images whose local parent is ID. */
size_t store_children_locked(struct image_store *s, const char *id);

/* Remove image IMG (its config and metadata, not its references) and then every layer no
 * image uses; DELETED (may be NULL) gets {"Deleted": ChainID} for each removed layer. */
int store_remove_image_locked(struct image_store *s, struct img *img, struct trash *t,
                              json_t *deleted, berr_t *err);

/* Remove layers no image uses and nothing pins, appending {"Deleted": ChainID} to DELETED. */
void store_gc_locked(struct image_store *s, struct trash *t, json_t *deleted);

/* Delete the directories in T (call without the lock). */
void trash_empty(struct trash *t);

/* The rootfs.diff_ids of CONFIG, checked; NULL with *err set when missing or malformed. */
json_t *config_diff_ids(json_t *config, berr_t *err);

/* The container config Docker writes when there is none: every field present, all empty. */
json_t *empty_container_config(void);



#endif
