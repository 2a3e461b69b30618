#include "runtime-agent/api/api.h"

#define HEADER_LINES                                                                               \
    "Api-Version: " API_VERSION_MAX_STR "\r\n"                                                     \
    "Ostype: linux\r\n"                                                                            \
    "Server: berthd/" BERTH_VERSION " (linux)\r\n"                                                 \
    "Docker-Experimental: false\r\n"

const char *api_common_headers(void)
{
    return HEADER_LINES;
}

void api_register(struct router *r)
{
    router_add(r, api_system_routes, api_system_routes_len);
    router_add(r, api_image_routes, api_image_routes_len);
    router_add(r, api_container_routes, api_container_routes_len);
    router_add(r, api_exec_routes, api_exec_routes_len);
    router_add(r, api_logs_routes, api_logs_routes_len);
    router_add(r, api_volume_routes, api_volume_routes_len);
    router_add(r, api_network_routes, api_network_routes_len);
    router_add(r, api_archive_routes, api_archive_routes_len);
    router_add(r, api_commit_routes, api_commit_routes_len);
    router_add(r, api_events_routes, api_events_routes_len);
    router_add(r, api_stats_routes, api_stats_routes_len);
}

struct router *api_router_new(void)
{
    struct router *r = router_new(API_VERSION_MIN, API_VERSION_MAX);
    api_register(r);
    return r;
}
