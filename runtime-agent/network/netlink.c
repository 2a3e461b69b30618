/* Network namespaces, links, addresses and routes through rtnetlink, with libnl-route-3's
 * object model (rtnl_link, rtnl_addr, rtnl_route): no rtnetlink message is built by hand.
 *
 * Namespaces. berthd is multi-threaded and a thread's network namespace decides where every
 * socket it creates lives, so nothing here leaves a thread in another namespace. Work inside a
 * namespace goes through a socket created there: open_socket_in() enters the namespace with
 * setns(CLONE_NEWNET) for the socket(2) call only and always goes back (a thread that cannot go
 * back aborts the daemon, since it would silently work in the wrong namespace from then on).
 * Netlink sockets are made the same way (bound by the kernel) and handed to libnl with
 * nl_socket_set_fd, so no libnl code ever runs while the thread is away.
 *
 * netns_create makes the namespace on a short-lived thread that unshare(CLONE_NEWNET)s and
 * exits: unshare of a net namespace only changes the calling thread, so the caller and every
 * other thread are untouched. Forking a child instead would be worse in the daemon: a child of
 * a multi-threaded process may only make async-signal-safe calls, copies a large address space
 * (notably under ASan), and its exit status could be taken by the daemon's own child reaping.
 * The thread hands back an fd of the new namespace, which the caller bind-mounts on PATH.
 *
 * Endpoints. The container end of a veth pair is created directly inside the container's
 * namespace (IFLA_NET_NS_FD on the peer) under a temporary name, then renamed there, so it is
 * never visible in berthd's namespace and a name like "eth0" never collides with one there.
 * The host end is enslaved to the bridge in the same RTM_NEWLINK; any later failure deletes the
 * host end, which takes the peer with it. */
#include "runtime-agent/network/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include "berth/util.h"
#include "runtime-agent/log.h"

#define OWN_NETNS "/proc/thread-self/ns/net"

/* ---- errors ---- */

/* The errno closest to a libnl error code, so callers can test err->errnum. */
static int nl_errno(int nlerr)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_EXIST:
        return EEXIST;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND:
        return ENODEV;
    case NLE_PERM:
        return EPERM;
    case NLE_NOACCESS:
        return EACCES;
    case NLE_NOMEM:
        return ENOMEM;
    case NLE_INVAL:
        return EINVAL;
    case NLE_BUSY:
        return EBUSY;
    case NLE_RANGE:
        return ERANGE;
    case NLE_OPNOTSUPP:
        return EOPNOTSUPP;
    case NLE_NOADDR:
        return EADDRNOTAVAIL;
    case NLE_AGAIN:
        return EAGAIN;
    case NLE_INTR:
        return EINTR;
    default:
        return EIO;
    }
}

/* The errno of the kernel's last error answer on this thread's netlink sockets (0: none).
 * libnl folds errnos into its own coarser codes (ENETUNREACH becomes "Unspecific failure"), so
 * an error callback keeps the original; a socket is only ever used by the thread that opened
 * it, within one call. */
static __thread int kernel_errno;

static int record_kernel_errno(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    (void)nla;
    (void)arg;
    kernel_errno = -e->error;
    return NL_STOP; /* libnl returns its code for e->error, as without the callback */
}

/* berr_set for a libnl error NLERR: "CONTEXT: cause", the cause being the kernel's errno when
 * NLERR came from it, libnl's text otherwise. */
__attribute__((format(printf, 3, 4))) static int nl_fail(berr_t *err, int nlerr, const char *fmt,
                                                         ...)
{
    va_list ap;
    _cleanup_free_ char *ctx = NULL;

    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    int kerr = kernel_errno;
    kernel_errno = 0;
    if (kerr > 0 && nl_syserr2nlerr(kerr) == (nlerr < 0 ? -nlerr : nlerr))
        return berr_set(err, kerr, "%s", ctx ? ctx : "netlink");
    berr_set(err, 0, "%s: %s", ctx ? ctx : "netlink", nl_geterror(nlerr));
    if (err != NULL && *err != NULL)
        (*err)->errnum = nl_errno(nlerr);
    return -1;
}

static bool nl_missing(int nlerr)
{
    return nlerr == -NLE_NODEV || nlerr == -NLE_OBJ_NOTFOUND;
}

/* ---- sockets inside namespaces ---- */

/* socket(2) inside the namespace NSFD (-1: the thread's own). -errno on failure. */
static int open_socket_in(int nsfd, int domain, int type, int protocol)
{
    if (nsfd < 0) {
        int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        return fd < 0 ? -errno : fd;
    }
    int own = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
    if (own < 0)
        return -errno;
    if (setns(nsfd, CLONE_NEWNET) < 0) {
        int e = errno;
        close(own);
        return -e;
    }
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    int e = errno;
    if (setns(own, CLONE_NEWNET) < 0) {
        log_error("netns: cannot return to the thread's own network namespace: %s",
                  strerror(errno));
        abort(); /* this thread would go on working in the wrong namespace */
    }
    close(own);
    return fd < 0 ? -e : fd;
}

/* PATH opened as a network namespace fd. */
static int open_netns(const char *path, berr_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "netns %s: open", path);
    return fd;
}

/* A libnl route socket in the namespace NSFD (-1: the caller's); NULL with *err ("netlink
 * socket: cause", for the caller to prefix with its object) on failure. */
static struct nl_sock *route_socket(int nsfd, berr_t *err)
{
    int fd = open_socket_in(nsfd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) {
        berr_set(err, -fd, "netlink socket");
        return NULL;
    }
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK}; /* nl_pid 0: the kernel picks one */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        berr_set(err, errno, "bind netlink socket");
        close(fd);
        return NULL;
    }
    struct nl_sock *sk = nl_socket_alloc();
    if (sk == NULL) {
        close(fd);
        berr_set(err, ENOMEM, "netlink socket");
        return NULL;
    }
    int r = nl_socket_set_fd(sk, NETLINK_ROUTE, fd);
    if (r < 0) {
        close(fd);
        nl_socket_free(sk);
        nl_fail(err, r, "netlink socket");
        return NULL;
    }
    nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, record_kernel_errno, NULL);
    kernel_errno = 0;
    return sk; /* nl_socket_free closes fd */
}

static void nl_sock_freep(struct nl_sock **sk)
{
    if (*sk)
        nl_socket_free(*sk);
}
static void rtnl_link_putp(struct rtnl_link **l)
{
    if (*l)
        rtnl_link_put(*l);
}
#define _cleanup_nlsock_ __attribute__((cleanup(nl_sock_freep)))
#define _cleanup_link_ __attribute__((cleanup(rtnl_link_putp)))

int netns_socket(const char *path, int domain, int type, int protocol, berr_t *err)
{
    _cleanup_close_ int nsfd = open_netns(path, err);
    if (nsfd < 0)
        return -1;
    int fd = open_socket_in(nsfd, domain, type, protocol);
    if (fd < 0)
        return berr_set(err, -fd, "netns %s: socket", path);
    return fd;
}

/* ---- links ---- */

static int check_ifname(const char *kind, const char *name, berr_t *err)
{
    if (name == NULL || *name == '\0' || strlen(name) >= IFNAMSIZ || strchr(name, '/') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return berr_set(err, EINVAL, "%s \"%s\": invalid interface name", kind, name ? name : "");
    return 0;
}

/* Link NAME through SK: 0 and *LINK, 1 when missing, -1 with *err. */
static int get_link(struct nl_sock *sk, const char *kind, const char *name, struct rtnl_link **link,
                    berr_t *err)
{
    *link = NULL;
    int r = rtnl_link_get_kernel(sk, 0, name, link);
    if (nl_missing(r) || (r == 0 && *link == NULL))
        return 1;
    if (r < 0)
        return nl_fail(err, r, "%s %s: get", kind, name);
    return 0;
}

/* Apply CHANGES to LINK, then drop CHANGES. */
static int change_link(struct nl_sock *sk, struct rtnl_link *link, struct rtnl_link *changes,
                       const char *kind, const char *name, const char *op, berr_t *err)
{
    int r = rtnl_link_change(sk, link, changes, 0);
    rtnl_link_put(changes);
    if (r < 0)
        return nl_fail(err, r, "%s %s: %s", kind, name, op);
    return 0;
}

static int link_up(struct nl_sock *sk, struct rtnl_link *link, const char *kind, const char *name,
                   berr_t *err)
{
    if (rtnl_link_get_flags(link) & IFF_UP)
        return 0;
    struct rtnl_link *ch = rtnl_link_alloc();
    if (ch == NULL)
        return berr_set(err, ENOMEM, "%s %s: set up", kind, name);
    rtnl_link_set_flags(ch, IFF_UP);
    return change_link(sk, link, ch, kind, name, "set up", err);
}

bool nl_link_exists(const char *name)
{
    berr_t err = NULL;
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(-1, &err);
    _cleanup_link_ struct rtnl_link *link = NULL;

    if (sk == NULL || check_ifname("link", name, &err) < 0) {
        berr_free(&err);
        return false;
    }
    int r = get_link(sk, "link", name, &link, &err);
    berr_free(&err);
    return r == 0;
}

static int delete_link(const char *kind, const char *name, berr_t *err)
{
    if (check_ifname(kind, name, err) < 0)
        return -1;
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(-1, err);
    if (sk == NULL)
        return berr_prefix(err, "%s %s: delete", kind, name);
    _cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
    if (link == NULL)
        return berr_set(err, ENOMEM, "%s %s: delete", kind, name);
    rtnl_link_set_name(link, name); /* deleted by IFLA_IFNAME */
    int r = rtnl_link_delete(sk, link);
    if (r < 0 && !nl_missing(r))
        return nl_fail(err, r, "%s %s: delete", kind, name);
    return 0;
}

int nl_link_delete(const char *name, berr_t *err)
{
    return delete_link("link", name, err);
}

int nl_endpoint_delete(const char *host_if, berr_t *err)
{
    return delete_link("veth", host_if, err);
}

void nl_names_free(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

int nl_links_with_prefix(const char *prefix, char ***names, size_t *n, berr_t *err)
{
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(-1, err);
    struct nl_cache *cache = NULL;
    size_t len = strlen(prefix), count = 0;

    *names = NULL;
    *n = 0;
    if (sk == NULL)
        return berr_prefix(err, "links with prefix \"%s\"", prefix);
    int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
    if (r < 0)
        return nl_fail(err, r, "links: list");
    char **out = xcalloc((size_t)nl_cache_nitems(cache) + 1, sizeof(char *));
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        const char *name = rtnl_link_get_name((struct rtnl_link *)o);
        if (name && strncmp(name, prefix, len) == 0)
            out[count++] = xstrdup(name);
    }
    nl_cache_free(cache);
    *names = out;
    *n = count;
    return 0;
}

/* ---- addresses and routes ---- */

static struct nl_addr *ipv4_addr(struct in_addr a, int prefix)
{
    struct nl_addr *na = nl_addr_build(AF_INET, &a, sizeof(a));
    if (na)
        nl_addr_set_prefixlen(na, prefix);
    return na;
}

/* Add ADDR/PREFIX (with its broadcast address) to link IFINDEX. Returns the libnl code. */
static int add_ipv4(struct nl_sock *sk, int ifindex, struct in_addr addr, int prefix)
{
    struct rtnl_addr *ra = rtnl_addr_alloc();
    struct nl_addr *local = ipv4_addr(addr, prefix);
    struct nl_addr *brd = NULL;
    int r = -NLE_NOMEM;

    if (ra == NULL || local == NULL)
        goto out;
    rtnl_addr_set_ifindex(ra, ifindex);
    rtnl_addr_set_family(ra, AF_INET);
    if ((r = rtnl_addr_set_local(ra, local)) < 0)
        goto out;
    rtnl_addr_set_prefixlen(ra, prefix);
    if (prefix < 31) {
        uint32_t mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
        struct in_addr b = {.s_addr = addr.s_addr | ~mask};
        brd = ipv4_addr(b, 32);
        if (brd == NULL || (r = rtnl_addr_set_broadcast(ra, brd)) < 0) {
            r = brd == NULL ? -NLE_NOMEM : r;
            goto out;
        }
    }
    r = rtnl_addr_add(sk, ra, NLM_F_EXCL);
out:
    if (brd)
        nl_addr_put(brd);
    if (local)
        nl_addr_put(local);
    if (ra)
        rtnl_addr_put(ra);
    return r;
}

/* The default route via GW on link IFINDEX. Returns the libnl code. */
static int add_default_route(struct nl_sock *sk, int ifindex, struct in_addr gw)
{
    struct in_addr any = {.s_addr = INADDR_ANY};
    struct rtnl_route *route = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *dst = ipv4_addr(any, 0);
    struct nl_addr *via = ipv4_addr(gw, 32);
    int r = -NLE_NOMEM;

    if (route == NULL || nh == NULL || dst == NULL || via == NULL)
        goto out;
    rtnl_route_set_family(route, AF_INET);
    rtnl_route_set_table(route, RT_TABLE_MAIN);
    rtnl_route_set_protocol(route, RTPROT_BOOT);
    rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
    rtnl_route_set_type(route, RTN_UNICAST);
    if ((r = rtnl_route_set_dst(route, dst)) < 0)
        goto out;
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_nh_set_gateway(nh, via);
    rtnl_route_add_nexthop(route, nh); /* the route owns it now */
    nh = NULL;
    r = rtnl_route_add(sk, route, NLM_F_EXCL);
out:
    if (nh)
        rtnl_route_nh_free(nh);
    if (via)
        nl_addr_put(via);
    if (dst)
        nl_addr_put(dst);
    if (route)
        rtnl_route_put(route);
    return r;
}

/* ---- bridge ---- */

int nl_bridge_ensure(const char *name, struct in_addr gw, int prefix, int mtu, berr_t *err)
{
    _cleanup_link_ struct rtnl_link *link = NULL;
    int r;

    if (check_ifname("bridge", name, err) < 0)
        return -1;
    if (prefix < 0 || prefix > 32 || mtu < 0)
        return berr_set(err, EINVAL, "bridge %s: invalid prefix /%d or MTU %d", name, prefix, mtu);
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(-1, err);
    if (sk == NULL)
        return berr_prefix(err, "bridge %s", name);

    if ((r = get_link(sk, "bridge", name, &link, err)) < 0)
        return -1;
    if (r == 1) {
        /* Create it; another thread (or process) doing the same at once gets EEXIST, which is
         * fine: both go on with the one bridge. */
        _cleanup_link_ struct rtnl_link *br = rtnl_link_bridge_alloc();
        if (br == NULL)
            return berr_set(err, ENOMEM, "bridge %s: create", name);
        rtnl_link_set_name(br, name);
        if (mtu > 0)
            rtnl_link_set_mtu(br, (unsigned)mtu);
        /* A MAC of its own: otherwise the bridge takes the lowest of its ports' and changes it
         * as containers come and go, leaving stale gateway entries in their ARP caches. */
        unsigned char mac[6];
        if (getrandom(mac, sizeof(mac), 0) == (ssize_t)sizeof(mac)) {
            mac[0] = (mac[0] & 0xfe) | 0x02; /* unicast, locally administered */
            struct nl_addr *a = nl_addr_build(AF_LLC, mac, sizeof(mac));
            if (a) {
                rtnl_link_set_addr(br, a);
                nl_addr_put(a);
            }
        }
        r = rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0 && r != -NLE_EXIST)
            return nl_fail(err, r, "bridge %s: create", name);
        if ((r = get_link(sk, "bridge", name, &link, err)) < 0)
            return -1;
        if (r == 1)
            return berr_set(err, ENODEV, "bridge %s: gone right after its creation", name);
    }
    const char *type = rtnl_link_get_type(link);
    if (type == NULL || strcmp(type, "bridge") != 0)
        return berr_set(err, EEXIST, "bridge %s: a link that is not a bridge (%s) has this name",
                        name, type ? type : "no kind");

    if (mtu > 0 && rtnl_link_get_mtu(link) != (unsigned)mtu) {
        struct rtnl_link *ch = rtnl_link_alloc();
        if (ch == NULL)
            return berr_set(err, ENOMEM, "bridge %s: set MTU", name);
        rtnl_link_set_mtu(ch, (unsigned)mtu);
        if (change_link(sk, link, ch, "bridge", name, "set MTU", err) < 0)
            return -1;
    }
    r = add_ipv4(sk, rtnl_link_get_ifindex(link), gw, prefix);
    if (r < 0 && r != -NLE_EXIST) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &gw, a, sizeof(a));
        return nl_fail(err, r, "bridge %s: add address %s/%d", name, a, prefix);
    }
    return link_up(sk, link, "bridge", name, err);
}

/* ---- endpoints ---- */

/* A name for the container end until it is renamed inside the namespace: unique among
 * berthd's endpoints being set up at the same time (host ends are unique, plus a counter). */
static void temp_peer_name(const char *host_if, char name[IFNAMSIZ])
{
    static unsigned counter;
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const char *p = host_if; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) & 0xffff;
    snprintf(name, IFNAMSIZ, "bt%08x%04x", (unsigned)h, c);
}

/* Inside the namespace: rename the new peer TMP to IFNAME, address it, bring it up, route. */
static int setup_peer(const struct nl_endpoint *ep, int nsfd, const char *tmp, berr_t *err)
{
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(nsfd, err);
    _cleanup_link_ struct rtnl_link *peer = NULL;
    char a[INET_ADDRSTRLEN];
    int r;

    if (sk == NULL)
        return berr_prefix(err, "netns %s", ep->netns_path);
    if ((r = get_link(sk, "veth", tmp, &peer, err)) < 0)
        return -1;
    if (r == 1)
        return berr_set(err, ENODEV, "veth %s: not found in netns %s", tmp, ep->netns_path);

    struct rtnl_link *ch = rtnl_link_alloc();
    if (ch == NULL)
        return berr_set(err, ENOMEM, "netns %s: rename %s", ep->netns_path, tmp);
    rtnl_link_set_name(ch, ep->ifname);
    r = rtnl_link_change(sk, peer, ch, 0);
    rtnl_link_put(ch);
    if (r < 0)
        return nl_fail(err, r, "netns %s: rename %s to %s", ep->netns_path, tmp, ep->ifname);

    int idx = rtnl_link_get_ifindex(peer);
    r = add_ipv4(sk, idx, ep->addr, ep->prefix);
    if (r < 0) {
        inet_ntop(AF_INET, &ep->addr, a, sizeof(a));
        return nl_fail(err, r, "netns %s: %s: add address %s/%d", ep->netns_path, ep->ifname, a,
                       ep->prefix);
    }
    if (link_up(sk, peer, "veth", ep->ifname, err) < 0)
        return berr_prefix(err, "netns %s", ep->netns_path);
    if (ep->default_route) {
        r = add_default_route(sk, idx, ep->gw);
        if (r < 0) {
            inet_ntop(AF_INET, &ep->gw, a, sizeof(a));
            return nl_fail(err, r, "netns %s: %s: add default route via %s", ep->netns_path,
                           ep->ifname, a);
        }
    }
    return 0;
}

int nl_endpoint_add(const struct nl_endpoint *ep, berr_t *err)
{
    _cleanup_link_ struct rtnl_link *bridge = NULL;
    _cleanup_link_ struct rtnl_link *host = NULL;
    char tmp[IFNAMSIZ];
    int r;

    if (check_ifname("veth", ep->host_if, err) < 0 || check_ifname("veth", ep->ifname, err) < 0)
        return -1;
    if (ep->prefix < 0 || ep->prefix > 32 || ep->mtu < 0)
        return berr_set(err, EINVAL, "veth %s: invalid prefix /%d or MTU %d", ep->host_if,
                        ep->prefix, ep->mtu);
    _cleanup_nlsock_ struct nl_sock *sk = route_socket(-1, err);
    if (sk == NULL)
        return berr_prefix(err, "veth %s", ep->host_if);
    if ((r = get_link(sk, "bridge", ep->bridge, &bridge, err)) < 0)
        return berr_prefix(err, "veth %s", ep->host_if);
    if (r == 1)
        return berr_set(err, ENODEV, "veth %s: bridge %s: not found", ep->host_if, ep->bridge);
    _cleanup_close_ int nsfd = open_netns(ep->netns_path, err);
    if (nsfd < 0)
        return berr_prefix(err, "veth %s", ep->host_if);
    unsigned mtu = ep->mtu > 0 ? (unsigned)ep->mtu : rtnl_link_get_mtu(bridge);

    /* The pair: host end enslaved to the bridge, peer created inside the namespace. */
    temp_peer_name(ep->host_if, tmp);
    _cleanup_link_ struct rtnl_link *veth = rtnl_link_veth_alloc();
    if (veth == NULL)
        return berr_set(err, ENOMEM, "veth %s: create", ep->host_if);
    rtnl_link_set_name(veth, ep->host_if);
    rtnl_link_set_mtu(veth, mtu);
    rtnl_link_set_master(veth, rtnl_link_get_ifindex(bridge));
    struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
    struct nl_addr *mac = nl_addr_build(AF_LLC, ep->mac, sizeof(ep->mac));
    if (peer == NULL || mac == NULL) {
        if (peer)
            rtnl_link_put(peer);
        return berr_set(err, ENOMEM, "veth %s: create", ep->host_if);
    }
    rtnl_link_set_name(peer, tmp);
    rtnl_link_set_ns_fd(peer, nsfd);
    rtnl_link_set_mtu(peer, mtu);
    rtnl_link_set_addr(peer, mac);
    nl_addr_put(mac);
    rtnl_link_put(peer);
    r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
    if (r < 0) /* nothing was created: an existing HOST_IF is someone else's */
        return nl_fail(err, r, "veth %s: create (peer in netns %s, bridge %s)", ep->host_if,
                       ep->netns_path, ep->bridge);

    if (setup_peer(ep, nsfd, tmp, err) < 0) {
        berr_prefix(err, "veth %s", ep->host_if);
        goto fail;
    }
    if ((r = get_link(sk, "veth", ep->host_if, &host, err)) < 0)
        goto fail;
    if (r == 1) {
        berr_set(err, ENODEV, "veth %s: gone right after its creation", ep->host_if);
        goto fail;
    }
    if (link_up(sk, host, "veth", ep->host_if, err) < 0)
        goto fail;
    return 0;

fail:;
    berr_t derr = NULL;
    if (delete_link("veth", ep->host_if, &derr) < 0)
        log_warn("%s (after: %s)", berr_msg(derr), berr_msg(err ? *err : NULL));
    berr_free(&derr);
    return -1;
}

void nl_mac_from_ip(struct in_addr addr, unsigned char mac[6])
{
    mac[0] = 0x02;
    mac[1] = 0x42;
    memcpy(mac + 2, &addr.s_addr, 4); /* network order: the address's bytes as written */
}

/* ---- namespaces ---- */

struct new_netns {
    int fd;  /* the new namespace, or -1 */
    int err; /* errno on failure */
};

static void *new_netns_thread(void *arg)
{
    struct new_netns *n = arg;

    /* Only this thread moves; it exits right after, and the fd keeps the namespace. */
    if (unshare(CLONE_NEWNET) < 0) {
        n->err = errno;
        return NULL;
    }
    n->fd = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
    if (n->fd < 0)
        n->err = errno;
    return NULL;
}

static bool is_netns_mount(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

int netns_create(const char *path, berr_t *err)
{
    struct new_netns n = {.fd = -1};
    _cleanup_nlsock_ struct nl_sock *sk = NULL;
    _cleanup_link_ struct rtnl_link *lo = NULL;
    pthread_t t;
    char src[64];
    int r;

    if (is_netns_mount(path))
        return berr_set(err, EEXIST, "netns %s: create", path);
    /* A leftover empty file (a crash between create and mount) is reused. */
    _cleanup_close_ int file = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (file < 0)
        return berr_set(err, errno, "netns %s: create file", path);

    if ((r = pthread_create(&t, NULL, new_netns_thread, &n)) != 0) {
        berr_set(err, r, "netns %s: start thread", path);
        goto fail;
    }
    pthread_join(t, NULL);
    if (n.fd < 0) {
        berr_set(err, n.err, "netns %s: unshare", path);
        goto fail;
    }
    snprintf(src, sizeof(src), "/proc/self/fd/%d", n.fd);
    if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
        berr_set(err, errno, "netns %s: bind mount", path);
        goto fail;
    }

    /* lo up inside. */
    if ((sk = route_socket(n.fd, err)) == NULL) {
        berr_prefix(err, "netns %s", path);
        goto fail_mounted;
    }
    if ((r = get_link(sk, "link", "lo", &lo, err)) != 0) {
        if (r == 1)
            berr_set(err, ENODEV, "link lo: not found");
        berr_prefix(err, "netns %s", path);
        goto fail_mounted;
    }
    if (link_up(sk, lo, "link", "lo", err) < 0) {
        berr_prefix(err, "netns %s", path);
        goto fail_mounted;
    }
    close(n.fd);
    return 0;

fail_mounted:
    umount2(path, MNT_DETACH);
fail:
    if (n.fd >= 0)
        close(n.fd);
    unlink(path);
    return -1;
}

int netns_delete(const char *path, berr_t *err)
{
    /* Several mounts may be stacked on PATH; EINVAL means no mount is left. */
    for (int i = 0; i < 16; i++) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EINVAL)
            break;
        if (errno == ENOENT)
            return 0;
        return berr_set(err, errno, "netns %s: unmount", path);
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return berr_set(err, errno, "netns %s: remove", path);
    return 0;
}

/* ---- sysctl ---- */

int nl_sysctl_set(const char *key, const char *value, berr_t *err)
{
    if (*key == '\0' || *key == '/' || strstr(key, "..") != NULL)
        return berr_set(err, EINVAL, "sysctl %s: invalid key", key);
    _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "sysctl %s: open", key);
    size_t len = strlen(value);
    ssize_t w = write(fd, value, len);
    if (w < 0)
        return berr_set(err, errno, "sysctl %s: write \"%s\"", key, value);
    if ((size_t)w != len)
        return berr_set(err, EIO, "sysctl %s: short write of \"%s\"", key, value);
    return 0;
}
