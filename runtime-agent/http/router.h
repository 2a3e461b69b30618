/* The route table: (method, path pattern, handler) entries grouped in tables
 * that each API module contributes, matched bare or behind a /vX.YY prefix.
 *
 * Patterns are literal text with parameters: "{id}" matches one path segment,
 * "{name*}" one or more segments including '/' (image names such as
 * "docker.io/library/alpine"), e.g. "/images/{name*}/json". */
#ifndef BERTHD_HTTP_ROUTER_H
#define BERTHD_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "runtime-agent/http/http.h"

struct http_route {
    const char *method;
    const char *pattern;
    http_handler_fn handler;
    uint64_t max_body; /* 0: HTTP_DEFAULT_MAX_BODY; HTTP_BODY_UNLIMITED for streams */
};

#define ROUTE_MAX_PARAMS 8

struct route_params {
    size_t n;
    struct {
        char *name;
        char *value; /* percent-decoded */
    } p[ROUTE_MAX_PARAMS];
};

struct route_match {
    const struct http_route *route;
    int version; /* API_VERSION() of the prefix, 0 without one */
    int status;  /* on failure: 400 bad version, 404 no route, 405 wrong method */
    struct route_params params;
};

struct router;

/* An empty router accepting API versions MIN..MAX in path prefixes. */
struct router *router_new(int min_version, int max_version);

/* Add N routes; the table must outlive the router (modules pass static arrays). */
void router_add(struct router *r, const struct http_route *routes, size_t n);

void router_free(struct router *r);

/* Match METHOD and raw PATH (no query). HEAD falls back to GET routes. On
 * failure sets m->status and *err with the message for the client. */
int router_resolve(const struct router *r, const char *method, const char *path,
                   struct route_match *m, berr_t *err);

/* Split a "/vX.YY" prefix off PATH: returns 1 with *version and *rest set,
 * 0 when PATH has no prefix, -1 when the prefix is not a valid version. */
int router_split_version(const char *path, int *version, const char **rest);

/* The value of parameter NAME, or NULL. */
const char *route_param(const struct route_params *ps, const char *name);

void route_params_clear(struct route_params *ps);

#endif
