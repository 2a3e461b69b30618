/* berthd's container records: what `docker create` made, its state, and
 * where its files live. One mutex guards every record; a condition variable
 * wakes waiters (`docker wait`, `run`) on every state change.
 *
 *   DATA_ROOT/containers/ID/config.v2.json   the record, written atomically
 *   DATA_ROOT/containers/ID/{upper,work}     the overlay's writable layer
 *   DATA_ROOT/containers/ID/ID-json.log      the json-file log
 *   DATA_ROOT/containers/ID/{hosts,hostname,resolv.conf}
 *   EXEC_ROOT/containers/ID/                 the runtime bundle (spec, state, attach socket) */
#ifndef BERTHD_CONTAINERS_STORE_H
#define BERTHD_CONTAINERS_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "berth/error.h"

enum ctr_status {
    CTR_CREATED,
    CTR_RUNNING,
    CTR_PAUSED,
    CTR_RESTARTING,
    CTR_REMOVING,
    CTR_EXITED,
    CTR_DEAD,
};

struct container {
    char id[65];
    char *name;               /* without the leading '/' */
    char *image;              /* as the user gave it ("busybox") */
    char *image_id;           /* "sha256:..." */
    char *created;            /* RFC 3339 with nanoseconds */
    json_t *config;           /* Docker's Config */
    json_t *host;             /* HostConfig */
    json_t *netcfg;           /* NetworkingConfig */
    json_t *endpoints;        /* NetworkSettings.Networks (containers/netattach.h) */
    json_t *mounts;           /* MountPoints (containers/mounts.h), fixed at create */
    json_t *ports;            /* NetworkSettings.Ports while it runs, NULL otherwise */
    struct port_proxy *proxy; /* forwards the published ports while it runs */
    char *path;               /* resolved command */
    json_t *args;             /* its arguments */
    char *dir;                /* DATA_ROOT/containers/ID */
    char *bundle;             /* EXEC_ROOT/containers/ID */

    enum ctr_status status;
    pid_t pid; /* the container's init, host pid namespace */
    pid_t shim_pid;
    int exit_code;
    bool oom_killed;
    char *error;
    char *started_at;
    char *finished_at;
    int restart_count;
    bool stop_requested; /* `docker stop`: no restart, unless-stopped stays down */
    bool removed;
    bool remove_done;     /* files and anonymous volumes are gone too (wait?condition=removed) */
    bool monitored;       /* a monitor thread watches the shim */
    unsigned long exits;  /* counts exits, for wait?condition=next-exit */
    unsigned long starts; /* counts starts, for attachers that arrive before start */
    int attach_waiters;   /* attach requests waiting for the start */
    int attach_fd;        /* an early attach connection handed from start to a waiter */
    pthread_mutex_t op;   /* serialises start/stop/kill/remove of this container */
    int refs;
};

struct ctr_store {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char *root;      /* DATA_ROOT/containers */
    char *exec_root; /* EXEC_ROOT/containers */
    struct container **items;
    size_t n, cap;
};

/* A zeroed record with its lock initialised. */
struct container *ctr_alloc(void);

/* Open the store and load every record under DATA_ROOT/containers. */
int ctr_store_open(struct ctr_store *s, const char *data_root, const char *exec_root, berr_t *err);

/* Drop the store's references to its records (those still referenced elsewhere, e.g. by
 * monitor threads, live on); the store's lock stays usable. */
void ctr_store_release(struct ctr_store *s);

/* Find by full id, unique id prefix or name (with or without '/'), taking a
 * reference; ENOENT "No such container: REF" when none. Lock not held. */
int ctr_get(struct ctr_store *s, const char *ref, struct container **out, berr_t *err);

/* Drop a reference taken by ctr_get / ctr_add. */
void ctr_put(struct ctr_store *s, struct container *c);

/* Register a new record (name must be free: EEXIST otherwise); takes a reference for the caller. */
int ctr_add(struct ctr_store *s, struct container *c, berr_t *err);

/* Forget a record (its files are the caller's business). */
void ctr_unlink(struct ctr_store *s, struct container *c);

/* Rename (EEXIST when taken). */
int ctr_rename(struct ctr_store *s, struct container *c, const char *name, berr_t *err);

/* Write C's record atomically. Caller holds s->lock. */
int ctr_save(struct ctr_store *s, struct container *c, berr_t *err);

/* A new random 64-hex id and a free generated name ("adjective_noun"). */
void ctr_new_id(char out[65]);
char *ctr_gen_name(struct ctr_store *s);

/* Snapshot of all records (each referenced); release with ctr_list_free. */
void ctr_list(struct ctr_store *s, struct container ***out, size_t *n);
void ctr_list_free(struct ctr_store *s, struct container **v, size_t n);

const char *ctr_status_name(enum ctr_status st);

#endif
