/* Container lifecycle on top of the record store and the runtime: create,
 * start, stop, kill, wait, remove, pause, restart policies, and picking
 * running containers back up after berthd restarts. Each running container
 * has a monitor thread that waits for its shim to exit. */
#ifndef BERTHD_CONTAINERS_LIFECYCLE_H
#define BERTHD_CONTAINERS_LIFECYCLE_H

#include <jansson.h>
#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/containers/store.h"

struct daemon;
struct dns_server;
struct image_store;
struct net_store;
struct remap;
struct vol_store;

/* The container subsystem of one daemon. */
struct containers {
    struct ctr_store store;
    struct image_store *images;
    struct vol_store *volumes;
    struct net_store *nets; /* networks (network/netstore.h) */
    struct dns_server *dns; /* the embedded DNS server, NULL when it could not start */
    char *netns_dir;        /* EXEC_ROOT/netns: containers' network namespaces */
    char *cgroup_parent;
    struct remap *remap; /* --userns-remap, NULL when off */
    bool shutting_down;  /* containers_shutdown was called: waits return at once */
    int stop_fd;         /* an eventfd, readable once containers_close tells monitors to end */
    int monitors;        /* monitor threads running */
};

/* The remapping C runs with: cs->remap, or NULL (off, or HostConfig.UsernsMode "host"). */
const struct remap *ctr_remap(const struct containers *cs, const struct container *c);

/* Open the store and resume monitoring (or record the exit of) every container that was
 * running when berthd last stopped; applies restart policies. */
int containers_open(struct containers *cs, const char *data_root, const char *exec_root,
                    struct image_store *images, berr_t *err);

/* The daemon is stopping: wake whoever waits for a container's state (ctr_wait,
 * ctr_attach_wait_start, ctr_stop's grace period); they return at once from now on. */
void containers_shutdown(struct containers *cs);

/* Shut down, end the monitor threads and free (containers keep running: they outlive
 * berthd). No other thread may use CS any more. */
void containers_close(struct containers *cs);

/* The daemon's container subsystem. */
struct containers *daemon_containers(struct daemon *d);

/* POST /containers/create: BODY is Docker's create body; *id gets the new id. */
int ctr_create(struct containers *cs, const char *name, json_t *body, char **id, json_t **warnings,
               berr_t *err);

/* Start C. When ATTACH_FD is not NULL it receives an attach connection to the shim made
 * before the command runs. EALREADY when it already runs (304). */
int ctr_start(struct containers *cs, struct container *c, int *attach_fd, berr_t *err);

/* Stop C: its stop signal, then SIGKILL after TIMEOUT seconds (-1: the container's
 * StopTimeout or 10). EALREADY when it is not running (304). */
int ctr_stop(struct containers *cs, struct container *c, int timeout, berr_t *err);

/* Send SIG; EBUSY (409) "Container X is not running" when it is not. */
int ctr_kill(struct containers *cs, struct container *c, int sig, berr_t *err);

/* Restart: stop (with TIMEOUT) then start. */
int ctr_restart(struct containers *cs, struct container *c, int timeout, berr_t *err);

/* Remove C (FORCE kills a running one; VOLUMES removes its anonymous volumes). */
int ctr_remove(struct containers *cs, struct container *c, bool force, bool volumes, berr_t *err);

/* Freeze or thaw. */
int ctr_pause(struct containers *cs, struct container *c, bool pause, berr_t *err);

enum ctr_wait_cond { WAIT_NOT_RUNNING, WAIT_NEXT_EXIT, WAIT_REMOVED };

/* Block until COND holds; *code gets the exit code. Call ctr_wait_prepare first (before
 * answering the client) so an exit between the two is not missed. ESHUTDOWN when the daemon
 * shuts down first. */
unsigned long ctr_wait_prepare(struct containers *cs, struct container *c);
int ctr_wait(struct containers *cs, struct container *c, enum ctr_wait_cond cond,
             unsigned long ticket, int *code, berr_t *err);

/* Attachers that arrive before the start (`docker run`, `docker start -a`): register before
 * answering the client, so that the start it sends next hands its early connection over.
 * True (and *TICKET set) when C is not running and the caller must call
 * ctr_attach_wait_start. */
bool ctr_attach_register(struct containers *cs, struct container *c, unsigned long *ticket);

/* Unregister; with WAIT, first wait until C started or has gone away. Returns an attach fd
 * handed over by ctr_start, or -1 when C was started without us (attach then). */
int ctr_attach_wait_start(struct containers *cs, struct container *c, unsigned long ticket,
                          bool wait);

/* A signal by name ("KILL", "SIGTERM") or number; -1 when unknown. */
int ctr_signal_parse(const char *s);

/* Docker's "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". Caller frees. */
char *ctr_status_text(const struct container *c);

/* GET /containers/{id}/json. Caller holds no lock. */
json_t *ctr_inspect(struct containers *cs, struct container *c);

/* One entry of GET /containers/json. */
json_t *ctr_summary(struct containers *cs, struct container *c);

#endif
