/* Published ports (-p, -P) through a userland proxy, as dockerd's docker-proxy does. berthd
 * binds the host side itself (so a taken port fails the start) and one proxy thread per
 * container serves every binding of it from one epoll set:
 *  - TCP: each accepted connection gets a socket opened inside the container's network
 *    namespace (setns in the proxy thread only, then back) and connected to the container
 *    port on its loopback; a detached thread copies both ways until either side ends.
 *  - UDP: one host-side socket per binding. Each client address is a flow with its own
 *    socket, made inside the container's namespace and connected to 127.0.0.1:PORT there;
 *    datagrams from the client go out on it, and what comes back is sent to that client
 *    from the host-side socket (from the address the client wrote to). Flows live in the
 *    proxy thread (no thread per flow), end after PORTPROXY_UDP_IDLE_SECONDS without
 *    traffic, and at most PORTPROXY_UDP_MAX_FLOWS exist per container (the least recently
 *    used one gives way).
 * Host addresses are IPv4 ("" and "0.0.0.0" mean every address). A host port is a number,
 * a range "8000-8010" (its first free port is taken) or "" / "0" (a free port of the
 * daemon's range). Works for every network mode that gives the container its own namespace. */
#ifndef BERTHD_NETWORK_PORTPROXY_H
#define BERTHD_NETWORK_PORTPROXY_H

#include <jansson.h>
#include <netinet/in.h>
#include <sys/types.h>

#include "berth/error.h"

#ifndef PORTPROXY_UDP_IDLE_SECONDS
#define PORTPROXY_UDP_IDLE_SECONDS 90 /* as docker-proxy */
#endif
#define PORTPROXY_UDP_MAX_FLOWS 256

struct port_proxy;

/* One parsed binding. */
struct port_spec {
    int proto;         /* IPPROTO_TCP or IPPROTO_UDP */
    int ctr_port;      /* the container port */
    struct in_addr ip; /* the host address (INADDR_ANY for every address) */
    int first, last;   /* the host ports to try in order; both 0: any of the daemon's range */
};

/* Parse the binding KEY ("80", "80/tcp", "53/udp") -> HOST_IP, HOST_PORT (either may be NULL).
 * Errors are 400s that name the port. */
int portproxy_parse(const char *key, const char *host_ip, const char *host_port,
                    struct port_spec *out, berr_t *err);

/* Check a PortBindings object ({"80/tcp": [{"HostIp", "HostPort"}]} or null) at create. */
int portproxy_check(const json_t *bindings, berr_t *err);

/* Resolve a container's published ports: PortBindings plus, with PublishAll, every exposed
 * port (EXPOSED: {"80/tcp": {}, "53/udp": {}}) on a port of FIRST..LAST free for its protocol.
 * Binds the host sockets now, so a taken port fails the start; *PORTS gets inspect's
 * NetworkSettings.Ports. */
int portproxy_bind(const json_t *bindings, const json_t *exposed, int publish_all, int first,
                   int last, struct port_proxy **out, json_t **ports, berr_t *err);

/* Start forwarding into the network namespace of process PID. */
int portproxy_start(struct port_proxy *p, pid_t pid, berr_t *err);

/* Close every host socket and UDP flow and release P (TCP connections already relayed
 * finish on their own). */
void portproxy_stop(struct port_proxy *p);

/* The Ports list of GET /containers/json from inspect's NetworkSettings.Ports. */
json_t *portproxy_summary(const json_t *ports);

#endif
