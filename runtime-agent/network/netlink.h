/* Network namespaces, interfaces, addresses and routes for berthd's networks, through
 * rtnetlink (libnl-route-3), never by running ip(8).
 *
 * Every function is safe to call from any thread of the multi-threaded daemon: work inside a
 * namespace is done on a netlink socket opened inside it (the calling thread enters the
 * namespace with setns(CLONE_NEWNET) only to open the socket, and always returns), so the
 * thread's own namespace is unchanged when a function returns, on success or failure.
 *
 * Errors follow berth's convention: -1 and *err naming the object ("bridge berth0",
 * "veth vb1234abcd", "netns /run/berth/netns/ID"), the operation and the cause. */
#ifndef BERTHD_NETWORK_NETLINK_H
#define BERTHD_NETWORK_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

/* A new network namespace, kept alive by a bind mount of its nsfs file on PATH (an empty
 * file is created there; PATH's directory must exist). Its lo is brought up. EEXIST when
 * PATH is already a namespace; an empty file left there (a crash before the mount) is reused. */
int netns_create(const char *path, berr_t *err);

/* Unmount and unlink PATH (MNT_DETACH). The namespace, and every interface in it (so the
 * peers of its veth pairs too), goes away once no process and no mount holds it. Missing
 * PATH is not an error. */
int netns_delete(const char *path, berr_t *err);

/* A socket (socket(2) arguments, SOCK_CLOEXEC added) created inside the namespace at PATH;
 * it stays in that namespace for its whole life. -1 on error. */
int netns_socket(const char *path, int domain, int type, int protocol, berr_t *err);

/* A Linux bridge NAME in the caller's namespace, created when missing, with address
 * GW/PREFIX (added when missing; other addresses are left alone), MTU (0 = default), up.
 * A new bridge gets a random MAC of its own (so it keeps one as ports come and go). Idempotent,
 * and safe against another thread or process ensuring the same bridge at once. */
int nl_bridge_ensure(const char *name, struct in_addr gw, int prefix, int mtu, berr_t *err);

/* Does link NAME exist in the caller's namespace? */
bool nl_link_exists(const char *name);

/* Delete link NAME from the caller's namespace; a missing link is not an error. */
int nl_link_delete(const char *name, berr_t *err);

/* The names of the caller's namespace's links starting with PREFIX (for finding what a
 * crashed berthd left). *NAMES is a NULL-terminated array; free with nl_names_free. */
int nl_links_with_prefix(const char *prefix, char ***names, size_t *n, berr_t *err);
void nl_names_free(char **names);

/* One endpoint: a veth pair whose host end HOST_IF is in the caller's namespace, enslaved to
 * BRIDGE and up, and whose other end is created directly inside the namespace NETNS_PATH
 * (never visible in the caller's namespace), renamed IFNAME there ("eth0", "eth1", ...),
 * with MAC, address ADDR/PREFIX, MTU (0 = the bridge's), up, and, when DEFAULT_ROUTE, the
 * default route via GW. On failure nothing of the pair is left. */
struct nl_endpoint {
    const char *host_if; /* at most 15 characters */
    const char *bridge;
    const char *netns_path;
    const char *ifname;
    unsigned char mac[6];
    struct in_addr addr;
    int prefix;
    struct in_addr gw;
    bool default_route;
    int mtu;
};
int nl_endpoint_add(const struct nl_endpoint *ep, berr_t *err);

/* Remove an endpoint by its host end (deleting one end of a veth pair deletes both); a
 * missing link is not an error. */
int nl_endpoint_delete(const char *host_if, berr_t *err);

/* Docker's MAC for an address: 02:42 followed by the four address bytes. */
void nl_mac_from_ip(struct in_addr addr, unsigned char mac[6]);

/* Write VALUE to /proc/sys/KEY ("net/ipv4/ip_forward") in the caller's namespace. */
int nl_sysctl_set(const char *key, const char *value, berr_t *err);

#endif
