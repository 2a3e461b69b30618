/* berthd's Docker Engine API: the route tables of every API module and what
 * they share. A new module (containers, images, ...) defines its table and is
 * added in api_register(). */
#ifndef BERTHD_API_H
#define BERTHD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime-agent/daemon.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/http/router.h"

#define API_VERSION_MAX_STR "1.43"
#define API_VERSION_MIN_STR "1.24"
#define API_VERSION_MAX API_VERSION(1, 43)
#define API_VERSION_MIN API_VERSION(1, 24)

/* A router holding every API route. */
struct router *api_router_new(void);

/* Add every API module's routes to R. */
void api_register(struct router *r);

/* The headers every response carries: Api-Version, Ostype, Server, Docker-Experimental. */
const char *api_common_headers(void);

/* The daemon a handler works for. */
static inline struct daemon *api_daemon(const struct http_request *req)
{
    return http_req_app(req);
}

/* Container routes: /containers/... */
extern const struct http_route api_container_routes[];
extern const size_t api_container_routes_len;

/* Exec routes: /containers/{id}/exec, /exec/... */
extern const struct http_route api_exec_routes[];
extern const size_t api_exec_routes_len;

/* Log routes: /containers/{id}/logs */
extern const struct http_route api_logs_routes[];
extern const size_t api_logs_routes_len;

/* Event routes: GET /events (api/events.c). */
extern const struct http_route api_events_routes[];
extern const size_t api_events_routes_len;

/* Stats routes: GET /containers/{id}/stats (api/stats.c). */
extern const struct http_route api_stats_routes[];
extern const size_t api_stats_routes_len;

/* System routes: /_ping, /version, /info. */
extern const struct http_route api_system_routes[];
extern const size_t api_system_routes_len;

/* Image routes: /images/... (list, import, save, load, prune, inspect, history, tag, rmi). */
extern const struct http_route api_image_routes[];
extern const size_t api_image_routes_len;

/* Network routes: /networks/... */
extern const struct http_route api_network_routes[];
extern const size_t api_network_routes_len;

/* Filters (api/filters.c). Does LABELS have WANT ("key" or "key=value")? */
bool api_label_match(const json_t *labels, const char *want);
/* Whether every value of filter KEY (labels "k" or "k=v") matches
 * LABELS (ALL) or any does (!ALL); true without KEY. */
bool api_filter_labels(const json_t *filters, const char *key, const json_t *labels, bool all);
/* Whether S contains any value of filter KEY; true without KEY. */
bool api_filter_substr(const json_t *filters, const char *key, const char *s);
/* EINVAL "invalid filter 'K'" for a key not in the NULL-terminated ALLOWED. */
int api_filter_keys(const json_t *filters, const char *const *allowed, berr_t *err);
/* A true/false filter value: *OUT 1 true, 0 false, -1 absent; EINVAL when malformed. */
int api_filter_bool(const json_t *filters, const char *key, int *out, berr_t *err);

/* Volume routes: /volumes/... */
extern const struct http_route api_volume_routes[];
extern const size_t api_volume_routes_len;

/* docker cp: HEAD/GET/PUT /containers/{id}/archive */
extern const struct http_route api_archive_routes[];
extern const size_t api_archive_routes_len;

/* docker commit, diff, export: POST /commit, /containers/{id}/changes, /containers/{id}/export */
extern const struct http_route api_commit_routes[];
extern const size_t api_commit_routes_len;

/* Docker's filters query value as {"key": ["value", ...]}: accepts the CLI's
 * {"key": {"value": true}} and docker-py's {"key": ["value"]}; NULL or "" gives an empty
 * object. EINVAL (400) when malformed. */
int api_filters_parse(const char *text, json_t **out, berr_t *err);

/* docker import --change: the N Dockerfile-style LINES ("CMD [\"sh\"]", "ENV A=b", WORKDIR,
 * EXPOSE, ENTRYPOINT, USER, LABEL, VOLUME, STOPSIGNAL, ONBUILD) as the container config keys
 * they set, e.g. {"Cmd": ["sh"], "Env": ["A=b"]}. EINVAL (400) for bad lines. */
int api_image_changes(const char *const *lines, size_t n, json_t **config, berr_t *err);

#endif
