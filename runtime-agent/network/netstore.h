/* berthd's networks: the predefined `bridge`, `host` and `none`, and user-defined bridge
 * networks (`docker network create`), with their address management and the table of live
 * endpoints the embedded DNS server answers from.
 *
 *   DATA_ROOT/network/ID.json   one network, written atomically
 *
 * Addresses: each bridge network hands out the host addresses of its subnet (or of its
 * --ip-range / --fixed-cidr), never the network, gateway or broadcast address. Allocations
 * live in memory only: berthd rebuilds them when it starts from the endpoints its running
 * containers recorded (containers/netattach.c), so a container keeps its address across a
 * berthd restart and nobody gets it twice.
 *
 * Locking: one mutex guards the whole store; no function calls out with it held. */
#ifndef BERTHD_NETWORK_NETSTORE_H
#define BERTHD_NETWORK_NETSTORE_H

#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

/* Daemon options for the default bridge (dockerd's flag names). */
struct net_options {
    const char *bridge;     /* --bridge: interface name, "none" for no default bridge */
    const char *bip;        /* --bip: gateway address with prefix, "172.17.0.1/16" */
    const char *fixed_cidr; /* --fixed-cidr: where containers' addresses come from */
    bool icc;               /* --icc: containers on the default bridge may talk */
    bool ip_masq;           /* --ip-masq: outbound NAT */
    int mtu;                /* --mtu: 0 = 1500 */
};

#define NET_DEFAULT_BRIDGE "berth0"
#define NET_DEFAULT_BIP "172.17.0.1/16"

struct network {
    char id[65];
    char *name;
    char *driver;  /* "bridge", "host" or "null" */
    char *bridge;  /* interface, for the bridge driver */
    char *created; /* RFC 3339 */
    struct in_addr subnet, gateway, range;
    int prefix, range_prefix; /* range_prefix 0: the whole subnet */
    bool internal, attachable, icc, predefined, user_subnet, ip_masq;
    int mtu;
    json_t *labels, *options;
    /* address management: one bit per host number of the subnet */
    uint8_t *used;
    uint32_t size;
    uint32_t next; /* where the next search starts (round robin, as Docker) */
};

/* One live endpoint, for name resolution. */
struct net_endpoint {
    char net_id[65];
    char ctr_id[65];
    char *ctr_name;
    json_t *aliases; /* names this endpoint also answers to on its network */
    json_t *links;   /* {"alias": "container name"}: names only this container resolves */
    struct in_addr addr;
};

struct net_store {
    pthread_mutex_t lock;
    char *root; /* DATA_ROOT/network */
    struct network **items;
    size_t n;
    struct net_endpoint **eps;
    size_t n_eps;
    char *default_id; /* the `bridge` network, NULL with --bridge none */
};

/* Open the store, create the predefined networks when missing (and update the default
 * bridge's address from OPTS), and make the bridges of every bridge network with their
 * packet-filter rules (after dropping berthd's old rules). */
int net_store_open(struct net_store *s, const char *data_root, const struct net_options *opts,
                   berr_t *err);

/* Free the store. With TEARDOWN (no container runs any more) berthd's nftables tables go
 * too; otherwise they stay for the containers that outlive berthd. Bridges stay, as
 * Docker's do. */
void net_store_close(struct net_store *s, bool teardown);

/* Look a network up by full id, unique id prefix or name, for reading its fields: the
 * network stays valid until net_store_close or its removal, which only the API does, never
 * concurrently with a user holding the pointer (the daemon's API threads hold s->lock...) --
 * so callers copy what they need under net_lock/net_unlock. ENOENT (404) "network REF not
 * found" when none. */
struct network *net_find_locked(struct net_store *s, const char *ref, berr_t *err);
void net_lock(struct net_store *s);
void net_unlock(struct net_store *s);

/* docker network create. BODY is the API's body; *ID gets the new id. */
int net_create(struct net_store *s, const json_t *body, char **id, json_t **warning, berr_t *err);

/* Remove a user-defined network that has no endpoints (403 for predefined ones, 409 when
 * containers are attached: the caller passes IN_USE). */
int net_remove(struct net_store *s, const char *ref, bool in_use, berr_t *err);

/* Inspect's shape without Containers (the caller adds them). Lock held. */
json_t *net_json(const struct network *n);

/* Snapshot of all networks' inspect forms (without Containers). */
json_t *net_list_json(struct net_store *s);

/* Allocate an address on network NET_ID: WANT (s_addr 0 = any free one). EEXIST (409)
 * "Address already in use" / EINVAL when WANT is outside the subnet. */
int net_ip_alloc(struct net_store *s, const char *net_id, struct in_addr want, struct in_addr *out,
                 berr_t *err);
void net_ip_release(struct net_store *s, const char *net_id, struct in_addr addr);

/* Register / forget a live endpoint for the DNS server (ALIASES and LINKS are copied). */
void net_endpoint_add(struct net_store *s, const char *net_id, const char *ctr_id,
                      const char *ctr_name, const json_t *aliases, const json_t *links,
                      struct in_addr addr);
void net_endpoint_remove(struct net_store *s, const char *net_id, const char *ctr_id);

/* The DNS lookup: NAME as container CTR_ID sees it on its networks. */
size_t net_dns_lookup(void *store, const char *ctr_id, const char *name, struct in_addr *out,
                      size_t max);

/* "a.b.c.d/N" -> address and prefix; -1 on bad input. */
int net_parse_cidr(const char *s, struct in_addr *addr, int *prefix);

/* The subnet's first address of ADDR/PREFIX. */
struct in_addr net_mask(struct in_addr addr, int prefix);

#endif
