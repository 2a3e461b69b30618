/* Published ports (-p, -P) through a userland proxy, as dockerd's docker-proxy does: berthd
 * listens on the host side and, for each connection, opens a socket inside the container's
 * network namespace (setns in the proxy thread only) and connects to the container port on
 * its loopback. Works for every network mode that gives the container its own namespace.
 * TCP only for now. */
#ifndef BERTHD_NETWORK_PORTPROXY_H
#define BERTHD_NETWORK_PORTPROXY_H

#include <jansson.h>
#include <sys/types.h>

#include "berth/error.h"

struct port_proxy;

/* Resolve a container's published ports: PortBindings ({"80/tcp": [{"HostIp", "HostPort"}]})
 * plus, with PublishAll, every exposed port (EXPOSED: {"80/tcp": {}}) on a free port of
 * FIRST..LAST. Binds the listening sockets now, so a taken port fails the start; *PORTS gets
 * inspect's NetworkSettings.Ports. */
int portproxy_bind(const json_t *bindings, const json_t *exposed, int publish_all, int first,
                   int last, struct port_proxy **out, json_t **ports, berr_t *err);

/* Start forwarding into the network namespace of process PID. */
int portproxy_start(struct port_proxy *p, pid_t pid, berr_t *err);

/* Stop listening and release P (connections already relayed finish on their own). */
void portproxy_stop(struct port_proxy *p);

/* The Ports list of GET /containers/json from inspect's NetworkSettings.Ports. */
json_t *portproxy_summary(const json_t *ports);

#endif
