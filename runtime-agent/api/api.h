/* berthd's Docker Engine API: the route tables of every API module and what
 * they share. A new module (containers, images, ...) defines its table and is
 * added in api_register(). */
#ifndef BERTHD_API_H
#define BERTHD_API_H

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

/* System routes: /_ping, /version, /info. */
extern const struct http_route api_system_routes[];
extern const size_t api_system_routes_len;

#endif
