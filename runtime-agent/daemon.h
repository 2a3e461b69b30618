/* The daemon-wide context: what every API handler can reach through
 * api_daemon(req). Later subsystems (image store, containers, networks,
 * volumes) hang their state here. */
#ifndef BERTHD_DAEMON_H
#define BERTHD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/network/netstore.h"
#include "runtime-agent/volumes/store.h"

struct daemon {
    char *data_root; /* persistent state (images, containers, volumes) */
    char *exec_root; /* runtime state, gone at reboot */
    char *id;        /* engine ID, stable per data-root */
    bool debug;      /* log level debug, reported by /info */
    char **warnings; /* shown by `docker info` */
    size_t n_warnings;
    struct image_store *images;   /* DATA_ROOT/image */
    struct containers containers; /* DATA_ROOT/containers, EXEC_ROOT/containers */
    struct vol_store *volumes;    /* DATA_ROOT/volumes */
    struct net_store nets;        /* DATA_ROOT/network */
    struct dns_server *dns;       /* the embedded DNS server of user-defined networks */
    image_use_fn images_in_use;   /* how containers use an image; its ctx is the daemon */
};

/* Object counts for /info. One place, so the container and image stores fill them in here. */
struct engine_counts {
    long containers, running, paused, stopped;
    long images;
};

/* Create DATA_ROOT and EXEC_ROOT, load (or create) the engine ID, open the image store and
 * the networks (NET: the default bridge's options; NULL: the defaults) and the containers
 * (resuming the monitoring of those still running), whose cgroups go below CGROUP_PARENT
 * (NULL: "berth"), remapped by USERNS_REMAP (NULL: off; see daemon_set_userns_remap) from
 * the first container started, restart policies at start-up included. */
int daemon_init(struct daemon *d, const char *data_root, const char *exec_root,
                const char *cgroup_parent, const struct net_options *net, const char *userns_remap,
                berr_t *err);

/* --userns-remap VALUE (remap.h): resolve it and remap the containers started from now on
 * (those with HostConfig.UsernsMode "host" excepted). */
int daemon_set_userns_remap(struct daemon *d, const char *value, berr_t *err);

/* Add a line to the warnings `docker info` prints (at startup, before serving). */
void daemon_add_warning(struct daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Current object counts. */
void daemon_counts(struct daemon *d, struct engine_counts *out);

/* The daemon is stopping: wake the API handlers that wait for a container's state (they
 * return at once from then on). Before the HTTP server ends its connections. */
void daemon_shutdown(struct daemon *d);

/* Stop the daemon's threads and free it; no API handler may run any more. */
void daemon_free(struct daemon *d);

/* The volume store. */
struct vol_store *daemon_volumes(struct daemon *d);

/* A test hook: when $BERTHD_FAILPOINTS (a comma-separated list) names NAME, log that NAME was
 * reached and stop this thread there for good, so a test can SIGKILL berthd at exactly that
 * point of an operation. Does nothing otherwise. */
void failpoint(const char *name);

#endif
