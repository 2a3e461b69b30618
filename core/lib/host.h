/* A machine as berth keeps it: the driver's view (struct berth_machine),
 * the loaded driver, engine options and TLS settings, and its config.json
 * in docker-machine's shape so that users' scripts keep working. */
#ifndef BERTH_HOST_H
#define BERTH_HOST_H

#include <jansson.h>

#include "berth/driver.h"
#include "core/lib/driverload.h"
#include "core/lib/store.h"

#define BERTH_CONFIG_VERSION 3
#define BERTH_ENGINE_PORT 2376

struct berth_host {
    char *name;
    char *driver_name;
    struct berth_machine m;
    struct driver_handle *dh;
    json_t *engine; /* HostOptions.EngineOptions */
    json_t *sans;   /* extra server-cert SANs from --tls-san: array of strings */
    char *created;  /* RFC 3339 */
    const struct berth_store *store;
};

/* Paths inside the machine dir and the CA dir (malloc()ed). */
char *host_path(const struct berth_host *h, const char *file);

/* A new in-memory host for DRIVER with default engine options; nothing is written. */
int host_new(const struct berth_store *s, const char *name, const char *driver,
             struct berth_host **out, berr_t *err);

/* Load machine NAME from its config.json, loading its driver. */
int host_load(const struct berth_store *s, const char *name, struct berth_host **out,
              berr_t *err);

/* config.json's content for H. */
json_t *host_to_json(const struct berth_host *h, berr_t *err);

/* Write config.json atomically (0600). The caller holds the machine's lock. */
int host_save(const struct berth_host *h, berr_t *err);

void host_free(struct berth_host *h);

/* Text name of a driver state ("Running", "Stopped", ...). */
const char *host_state_name(enum berth_state st);

#endif
