/* The berth driver ABI.
 *
 * A driver is a shared object (NAME.so) that exports one symbol,
 * `berth_driver`, a `const struct berth_driver`. berth dlopen()s the file,
 * reads `abi_version` first and refuses the driver unless it equals
 * BERTH_DRIVER_ABI_VERSION; only then is the rest of the struct read.
 * Any change to this header's structs bumps the version.
 *
 * All operations follow berth's error convention (berth/error.h): return 0
 * on success, a negative value on failure with *err set. Optional
 * operations may be NULL; berth then reports "not supported by driver X".
 * See docs/driver-abi.md for a walk through and a minimal driver. */
#ifndef BERTH_DRIVER_H
#define BERTH_DRIVER_H

#include <jansson.h>
#include <stdint.h>

#include "berth/error.h"

#define BERTH_DRIVER_ABI_VERSION 1
#define BERTH_DRIVER_SYMBOL "berth_driver"

enum berth_flag_type {
    BERTH_FLAG_STRING,
    BERTH_FLAG_STRING_LIST,
    BERTH_FLAG_INT,
    BERTH_FLAG_BOOL,
};

/* One command-line flag of `berth create -d NAME`. The table ends with name == NULL. */
struct berth_flag {
    const char *name;  /* without dashes: "generic-ip-address" */
    const char *usage; /* one line for --help */
    const char *env;   /* environment variable consulted when the flag is absent, or NULL */
    const char *def;   /* default as text, or NULL */
    enum berth_flag_type type;
};

/* docker-machine's states, in its order. */
enum berth_state {
    BERTH_STATE_NONE,
    BERTH_STATE_RUNNING,
    BERTH_STATE_PAUSED,
    BERTH_STATE_SAVED,
    BERTH_STATE_STOPPED,
    BERTH_STATE_STOPPING,
    BERTH_STATE_STARTING,
    BERTH_STATE_ERROR,
    BERTH_STATE_TIMEOUT,
};

/* What berth keeps for every machine (docker-machine's BaseDriver). berth
 * owns the strings; a driver that changes one frees the old value with
 * free() and stores a malloc()ed one. `priv` belongs to the driver. */
struct berth_machine {
    char *name;         /* machine name */
    char *machine_dir;  /* the machine directory: the driver keeps its files here */
    char *ip_address;   /* last known address, may be NULL */
    char *ssh_user;     /* may be NULL when the machine has no SSH */
    int ssh_port;       /* 0 when unknown */
    char *ssh_key_path; /* may be NULL */
    int engine_port;    /* berthd's TLS port, 2376 by default */
    void *priv;         /* driver-owned state, created by config_new */
};

struct berth_driver {
    uint32_t abi_version; /* must be BERTH_DRIVER_ABI_VERSION; read before anything else */
    const char *name;     /* equals the file name without .so */
    const char *summary;  /* one line for `berth create --help` */
    const struct berth_flag *flags;

    /* Allocate m->priv with defaults. Required. */
    int (*config_new)(struct berth_machine *m, berr_t *err);
    /* Release m->priv. Required. */
    void (*config_free)(struct berth_machine *m);
    /* Apply flag values: a JSON object name -> string | integer | boolean | array of strings,
     * holding every flag of the table (defaults and env already applied). Required. */
    int (*config_from_flags)(struct berth_machine *m, const json_t *flags, berr_t *err);
    /* Read the driver's own fields from config.json's "Driver" object. Required. */
    int (*config_load)(struct berth_machine *m, const json_t *driver, berr_t *err);
    /* Add the driver's own fields to config.json's "Driver" object. Required. */
    int (*config_save)(const struct berth_machine *m, json_t *driver, berr_t *err);

    int (*pre_create_check)(struct berth_machine *m, berr_t *err);
    int (*create)(struct berth_machine *m, berr_t *err);
    int (*remove)(struct berth_machine *m, berr_t *err);
    int (*start)(struct berth_machine *m, berr_t *err);
    int (*stop)(struct berth_machine *m, berr_t *err);
    int (*restart)(struct berth_machine *m, berr_t *err);
    int (*kill)(struct berth_machine *m, berr_t *err);
    /* Required. */
    int (*get_state)(struct berth_machine *m, enum berth_state *state, berr_t *err);
    /* Current address; may refresh m->ip_address. Required. *ip is malloc()ed. */
    int (*get_ip)(struct berth_machine *m, char **ip, berr_t *err);
    /* Engine URL such as tcp://IP:2376. Required. *url is malloc()ed. */
    int (*get_url)(struct berth_machine *m, char **url, berr_t *err);
    /* Whether berth should provision the machine over SSH after create (0 for `none`). */
    int provisions;
};

#endif
