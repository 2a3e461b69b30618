#include "drivers/local/supervisor/hostonly.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>

#include "berth/util.h"
#include "drivers/local/supervisor/slog.h"
#include "runtime-agent/network/netlink.h"

static int parse_addr(const char *text, const char *what, struct in_addr *a, berr_t *err)
{
    if (inet_pton(AF_INET, text, a) != 1)
        return berr_set(err, EINVAL, "host-only network: %s %s: not an IPv4 address", what, text);
    return 0;
}

int hostonly_attach(const struct local_run *r, pid_t init, berr_t *err)
{
    char netns[64];
    struct nl_endpoint ep = {
        .host_if = r->host_if,
        .bridge = r->bridge,
        .netns_path = netns,
        .ifname = "eth0",
        .prefix = r->prefix,
        .default_route = false,
    };

    snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)init);
    if (parse_addr(r->address, "machine address", &ep.addr, err) < 0 ||
        parse_addr(r->gateway, "host address", &ep.gw, err) < 0)
        return -1;
    nl_mac_from_ip(ep.addr, ep.mac);
    if (nl_bridge_ensure(r->bridge, ep.gw, r->prefix, 0, err) < 0)
        return berr_prefix(err, "host-only network");
    /* A reboot inside: the last boot's namespace (and the pair with it) may still be on its
     * way out. The name holds the machine's ID, so such a link can only be this machine's. */
    if (nl_link_exists(r->host_if) && nl_endpoint_delete(r->host_if, err) < 0)
        return berr_prefix(err, "host-only network: remove the last boot's pair");
    if (nl_endpoint_add(&ep, err) < 0)
        return berr_prefix(err, "host-only network");
    return 0;
}

void hostonly_detach(const struct local_run *r)
{
    berr_t err = NULL;

    if (nl_endpoint_delete(r->host_if, &err) < 0) {
        slog("host-only network: %s", berr_msg(err));
        berr_free(&err);
    }
}

/* Whether BRIDGE is a bridge and whether some link is its port, asked over rtnetlink (not
 * /sys/class/net, which shows the links of the namespace sysfs was mounted in). */
static int inspect_bridge(const char *bridge, bool *is_bridge, bool *has_ports, berr_t *err)
{
    struct nl_sock *sk = nl_socket_alloc();
    struct nl_cache *cache = NULL;
    int r;

    *is_bridge = *has_ports = false;
    if (sk == NULL)
        return berr_set(err, ENOMEM, "bridge %s: netlink socket", bridge);
    if ((r = nl_connect(sk, NETLINK_ROUTE)) < 0 ||
        (r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
        nl_socket_free(sk);
        return berr_set(err, 0, "bridge %s: list links: %s", bridge, nl_geterror(r));
    }
    struct rtnl_link *br = rtnl_link_get_by_name(cache, bridge);
    if (br != NULL) {
        const char *type = rtnl_link_get_type(br);
        int idx = rtnl_link_get_ifindex(br);
        *is_bridge = type != NULL && strcmp(type, "bridge") == 0;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
            if (rtnl_link_get_master((struct rtnl_link *)o) == idx)
                *has_ports = true;
        rtnl_link_put(br);
    }
    nl_cache_free(cache);
    nl_socket_free(sk);
    return 0;
}

int hostonly_bridge_down(const char *bridge, bool *deleted, berr_t *err)
{
    bool is_bridge, has_ports;

    *deleted = false;
    if (!nl_link_exists(bridge))
        return 0;
    if (inspect_bridge(bridge, &is_bridge, &has_ports, err) < 0)
        return berr_prefix(err, "host-only network");
    if (!is_bridge)
        return berr_set(err, EEXIST, "host-only network: %s is not a bridge; left alone", bridge);
    if (has_ports)
        return 0;
    if (nl_link_delete(bridge, err) < 0)
        return berr_prefix(err, "host-only network");
    *deleted = true;
    return 0;
}
