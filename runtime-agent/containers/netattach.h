/* How a container joins networks: what `docker create` asked for (NetworkMode, NetworkingConfig,
 * links), what a start makes of it, and what an exit undoes.
 *
 * A container on `bridge` or a user-defined network gets its own network namespace at
 * EXEC_ROOT/netns/ID, made by berthd before the shim starts (the runtime joins it), with one
 * veth endpoint per network: eth0 on the first (the default route), eth1... on those
 * connected later. Each endpoint gets an address from its network and a MAC derived from it.
 * On user-defined networks the container's resolver is the embedded DNS server at
 * 127.0.0.11, which answers the names and aliases of the containers on its networks. On the
 * default bridge, `--link name:alias` gives Docker's environment variables and /etc/hosts
 * line, and with --icc=false the only traffic allowed between two containers.
 *
 * c->endpoints (saved with the record) is NetworkSettings.Networks: one entry per network
 * the container is connected to, with the address fields filled while it runs. A berthd
 * restart rebuilds the address allocations and DNS attachments from it.
 *
 * Locking: netattach_up/connect/disconnect run under c->op without the store lock;
 * netattach_down runs with the store lock held (from the exit path) and takes no lock but
 * the network store's. */
#ifndef BERTHD_CONTAINERS_NETATTACH_H
#define BERTHD_CONTAINERS_NETATTACH_H

#include <jansson.h>
#include <stdbool.h>

#include "berth/error.h"
#include "runtime-agent/containers/lifecycle.h"

/* At create: resolve NetworkMode and EndpointsConfig against the networks, check --ip,
 * --network-alias and --link, and record the endpoints (c->endpoints) the container will
 * have. */
int netattach_plan(struct containers *cs, struct container *c, berr_t *err);

/* At start: the network namespace the runtime joins (*NET_NS: "host", "new" or a path),
 * with its endpoints up, and the container's /etc/hosts and /etc/resolv.conf written
 * (HOSTNAME is the container's). *LINK_ENV gets the link variables ("ALIAS_PORT=...").
 * On failure nothing is left up. */
int netattach_up(struct containers *cs, struct container *c, const char *hostname, char **net_ns,
                 json_t **link_env, berr_t *err);

/* After the container's exit (or a failed start): endpoints, addresses, DNS, rules and the
 * namespace go. Store lock held by the caller. */
void netattach_down(struct containers *cs, struct container *c);

/* After a berthd restart, for each container: a running one gets its addresses, names and
 * DNS server back; anything left of one that is not running is removed. */
void netattach_restore(struct containers *cs, struct container *c, bool running);

/* After the restore of every container: veths ("vb...") and namespaces under
 * EXEC_ROOT/netns that belong to no running container (a berthd killed halfway through a
 * start) are removed. */
void netattach_sweep(struct containers *cs);

/* Once C runs (again): containers linking to it get its new address in their /etc/hosts
 * (and their --icc=false rules). Takes the store lock. */
void netattach_links_refresh(struct containers *cs, struct container *c);

/* docker network connect / disconnect, on a created, running or stopped container. */
int netattach_connect(struct containers *cs, struct container *c, const char *net_ref,
                      const json_t *endpoint_config, berr_t *err);
int netattach_disconnect(struct containers *cs, struct container *c, const char *net_ref,
                         bool force, berr_t *err);

/* Inspect's NetworkSettings (Store lock held). */
json_t *netattach_settings(const struct container *c);

/* The Containers object of a network's inspect: the running containers attached to NET_ID. */
json_t *netattach_network_containers(struct containers *cs, const char *net_id);

/* Does any running container have an endpoint on NET_ID? */
bool netattach_network_in_use(struct containers *cs, const char *net_id);

#endif
