/* The machine store: where berth keeps its CA, machines and cache.
 *
 *   ROOT/certs/            ca.pem ca-key.pem cert.pem key.pem
 *   ROOT/machines/NAME/    config.json (0600), ca.pem cert.pem key.pem copies,
 *                          server.pem server-key.pem, SSH key, driver files
 *   ROOT/locks/NAME.lock   one flock per machine, never removed
 *   ROOT/cache/            boot images and other downloads */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stddef.h>

#include "berth/error.h"

struct berth_store {
    char *root;
    char *certs_dir;
    char *machines_dir;
    char *locks_dir;
    char *cache_dir;
};

/* Resolve the root (ROOT, else $BERTH_STORAGE_PATH, else ~/.berth) and create its dirs 0700. */
int store_open(struct berth_store *s, const char *root, berr_t *err);

void store_close(struct berth_store *s);

/* Check NAME against ^[a-zA-Z0-9][a-zA-Z0-9.-]*$. */
int store_check_name(const char *name, berr_t *err);

/* ROOT/machines/NAME (malloc()ed). */
char *store_machine_dir(const struct berth_store *s, const char *name);

/* Whether machine NAME has a config.json. */
int store_exists(const struct berth_store *s, const char *name);

/* Sorted names of all machines that have a config.json. */
int store_list(const struct berth_store *s, char ***names, size_t *n, berr_t *err);

void store_free_list(char **names, size_t n);

/* Take machine NAME's exclusive lock; returns the fd that holds it (close to release). */
int store_lock(const struct berth_store *s, const char *name, berr_t *err);

#endif
