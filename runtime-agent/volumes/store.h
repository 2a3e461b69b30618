/* berthd's volumes (Docker's "local" driver): directories that outlive the containers that
 * use them.
 *
 *   DATA_ROOT/volumes/NAME/volume.json   {"Name", "CreatedAt", "Labels", "Options"}
 *   DATA_ROOT/volumes/NAME/_data/        the content, bind-mounted into containers
 *   DATA_ROOT/volumes/.new-RANDOM/       a volume being created: volume.json and _data are
 *                                        made and synced here, then the directory is renamed
 *                                        to NAME in one step
 *   DATA_ROOT/volumes/.trash-RANDOM/     a volume being removed: renamed away from NAME in one
 *                                        step, then deleted
 * Volume names never start with '.', and the store sweeps .new- and .trash- directories when
 * it opens, so a berthd killed at any point leaves only complete volumes behind: a volume is
 * listed whole or not at all.
 *
 * A volume is in use while a container record names it (the daemon answers through
 * vol_users_fn) or while a container being created holds it (vol_acquire). Every function is
 * thread-safe; the store's lock is taken before the container store's, never after.
 *
 * Errors follow berth's convention with Docker's texts; errnum gives the status: ENOENT 404,
 * EBUSY 409 (in use), EINVAL 400. */
#ifndef BERTHD_VOLUMES_STORE_H
#define BERTHD_VOLUMES_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "berth/error.h"

/* The label Docker puts on volumes made without a name; `volume prune` removes only those
 * unless asked for all. */
#define VOL_ANON_LABEL "com.docker.volume.anonymous"

struct vol_store;

/* The IDs (a JSON array of strings, maybe empty) of the containers whose records use volume
 * NAME. Called with the volume store's lock held. */
typedef json_t *(*vol_users_fn)(void *ctx, const char *name);

/* Open (creating) DATA_ROOT/volumes, sweeping what killed operations left. */
int vol_store_open(const char *data_root, vol_users_fn users, void *ctx, struct vol_store **out,
                   berr_t *err);

void vol_store_close(struct vol_store *vs);

/* What a new volume gets. NAME NULL or "" makes an anonymous volume (a random 64-hex name and
 * VOL_ANON_LABEL); LABELS and OPTIONS are objects of strings or NULL; DRIVER NULL, "" or
 * "local". OPTIONS are the local driver's: type, device, o (mount(8) -t, device, -o). */
struct vol_spec {
    const char *name;
    const char *driver;
    const json_t *labels;
    const json_t *options;
};

/* POST /volumes/create: make the volume, or find it when NAME exists; *INFO (may be NULL) gets
 * its description as GET /volumes/{name} answers. */
int vol_create(struct vol_store *vs, const struct vol_spec *spec, json_t **info, berr_t *err);

/* vol_create for a container being created: also holds the volume against removal until
 * vol_release. *NAME gets the volume's name, *CREATED whether this call made it. */
int vol_acquire(struct vol_store *vs, const struct vol_spec *spec, char **name, bool *created,
                berr_t *err);

void vol_release(struct vol_store *vs, const char *name);

/* GET /volumes/{name}. */
int vol_inspect(struct vol_store *vs, const char *name, json_t **info, berr_t *err);

/* Every volume, as GET /volumes lists them (sorted by name). */
json_t *vol_list(struct vol_store *vs);

/* The container IDs using NAME (an array, empty when dangling). */
json_t *vol_users(struct vol_store *vs, const char *name);

/* DELETE /volumes/{name}: EBUSY "remove NAME: volume is in use - [IDS]" while used; with FORCE
 * a missing volume is no error. *FREED (may be NULL) gets the bytes its files held. */
int vol_remove(struct vol_store *vs, const char *name, bool force, int64_t *freed, berr_t *err);

/* DATA_ROOT/volumes/NAME/_data (whether or not it exists). Caller frees. */
char *vol_data_path(struct vol_store *vs, const char *name);

/* A copy of the volume's driver options (an object, maybe empty), or NULL when it is gone. */
json_t *vol_options(struct vol_store *vs, const char *name);

#endif
