/* berthd's event bus: what `docker events` (GET /events) streams.
 *
 * Design. Every event is published once into a bus: a bounded ring of the most recent
 * EVENTS_RING events (Docker keeps 256), each an immutable, reference-counted record holding
 * its type, action, actor and the JSON line clients get, rendered at publish time. Publishing
 * takes the bus lock only to store the pointer and broadcast a condition variable, so an
 * emitter (a container's monitor, an image delete, ...) never waits for a subscriber.
 *
 * A subscriber is only a cursor: the sequence number of the next event it wants. It takes
 * references to events under the lock and writes them to its client without it. A subscriber
 * whose cursor fell out of the ring (its client read so slowly that more than EVENTS_RING
 * events passed meanwhile) is told so (ENOBUFS) and its stream ends: silently skipping would
 * lose a `die` a client such as docker-compose waits for. `since`/`until` replay the ring's
 * events in that window, as dockerd does. events_shutdown wakes every subscriber for the
 * daemon's shutdown; from then on they return ESHUTDOWN.
 *
 * The emit helpers at the bottom publish on the process-wide bus (one daemon per process)
 * with Docker's actor attributes; their call sites are one line each, where the action
 * happens. The bus lock is a leaf: callers may hold any other lock (the container store's
 * included) while emitting, except for events_exec, which looks the container up. */
#ifndef BERTHD_EVENTS_H
#define BERTHD_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

#define EVENTS_RING 256

struct container;
struct ctr_store;
struct event;
struct event_bus;
struct event_sub;

/* A bus keeping the last CAP events. */
struct event_bus *events_bus_new(size_t cap);
void events_bus_free(struct event_bus *b);

/* The process-wide bus the emit helpers publish on. */
struct event_bus *events_bus(void);

/* Publish an event of TYPE ("container", "image", "network", "volume") and ACTION for the
 * actor ID with ATTRS (an object of strings, taken; NULL for none), stamped now. */
void events_publish(struct event_bus *b, const char *type, const char *action, const char *id,
                    json_t *attrs);
/* The same with a given time (Unix nanoseconds; tests). */
void events_publish_at(struct event_bus *b, int64_t time_ns, const char *type, const char *action,
                       const char *id, json_t *attrs);

/* The daemon stops: wake every subscriber, which returns ESHUTDOWN from now on. */
void events_shutdown(struct event_bus *b);

/* Follow B from now on; with SINCE_NS or UNTIL_NS (Unix nanoseconds, 0 for none) first replay
 * the ring's events from SINCE_NS to UNTIL_NS. */
struct event_sub *events_subscribe(struct event_bus *b, int64_t since_ns, int64_t until_ns);
void events_unsubscribe(struct event_sub *s);

/* The next event: 1 with *OUT (release it with event_put), 0 when none came within
 * TIMEOUT_MS, -1 with ESHUTDOWN (daemon stopping) or ENOBUFS (fell behind the ring). */
int events_next(struct event_sub *s, int timeout_ms, struct event **out, berr_t *err);

void event_put(struct event *e);
/* The event's line as clients get it: a JSON object and "\n". */
const char *event_line(const struct event *e);
int64_t event_time_ns(const struct event *e);
const char *event_type(const struct event *e);
const char *event_action(const struct event *e);
const char *event_actor(const struct event *e);
const json_t *event_attrs(const struct event *e);

/* EINVAL (400) for a filter key GET /events does not know. */
int events_filters_check(const json_t *filters, berr_t *err);
/* Whether E passes FILTERS (api_filters_parse's form: {"key": ["value", ...]}), with
 * dockerd's rules: type, event (also the part before ": " of "exec_start: sh"), container
 * (id or name prefix), image, network, volume, label ("k" or "k=v", all must match). */
bool events_filter_match(const json_t *filters, const struct event *e);

/* Unix seconds with an optional fraction ("1700000000.5"), or RFC 3339, into Unix
 * nanoseconds; "" or NULL gives 0. -1 when malformed. */
int events_parse_time(const char *s, int64_t *ns);

/* ---- emitting on the process-wide bus ---- */

/* The container store events_exec looks containers up in (NULL: none). */
void events_set_store(struct ctr_store *s);

/* Container event ACTION for C: name, image and its labels, then the NULL-terminated
 * key/value pairs that follow (exitCode, signal, ...). C's name and config must not change
 * meanwhile: hold the store lock (or own C alone, as at create). */
void events_container(const struct container *c, const char *action, ...) __attribute__((sentinel));
/* The same with one numeric attribute KEY: "exitCode" of die, "signal" of kill. */
void events_container_num(const struct container *c, const char *action, const char *key,
                          long value);
/* Exec event VERB of EXEC_ID in container CTR_ID: with CMD (an array of strings) the action
 * is Docker's "VERB: CMD ARGS..." (exec_create, exec_start), with EXIT_CODE >= 0 the
 * exitCode attribute (exec_die). Looks the container up: not with the container store's
 * lock held. */
void events_exec(const char *ctr_id, const char *verb, const char *exec_id, const json_t *cmd,
                 int exit_code);
/* Image event ACTION for image ID (NULL: NAME) named NAME (reference or id). */
void events_image(const char *action, const char *id, const char *name);
/* Network event ACTION for network ID named NAME (driver TYPE, NULL: "bridge"); CTR_ID for
 * connect and disconnect, else NULL. */
void events_network(const char *action, const char *id, const char *name, const char *type,
                    const char *ctr_id);
/* Volume event ACTION for volume NAME (driver "local"); CTR_ID for mount and unmount, and
 * for mount the DESTINATION and whether it is READ_WRITE. */
void events_volume(const char *action, const char *name, const char *ctr_id,
                   const char *destination, bool read_write);
/* mount (or unmount) events for each volume C uses; the store lock held. */
void events_volume_mounts(const struct container *c, const char *action);

#endif
