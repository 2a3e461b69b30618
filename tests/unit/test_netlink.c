/* Unit tests for runtime-agent/network/netlink.c against the real kernel: the test moves into a
 * network and mount namespace of its own first (before any thread), keeps its namespace files
 * in a temporary directory, and removes everything it made. Links inside a container namespace
 * are checked through sockets opened there (ioctls, a libnl socket on a netns_socket), and the
 * endpoint's address, route and link state by a UDP datagram from inside to the host. Every
 * test checks that the calling thread's network namespace is the same afterwards. */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>

#include "berth/util.h"
#include "runtime-agent/network/netlink.h"

static char base[64];

static ino_t netns_ino(void)
{
    struct stat st;
    assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
    return st.st_ino;
}

static char *ns_path(const char *name)
{
    return path_join(base, name);
}

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

/* The names of the links SK sees, sorted, joined with spaces. */
static char *link_names(struct nl_sock *sk)
{
    struct nl_cache *cache = NULL;
    char *out = xstrdup("");

    assert_int_equal(rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache), 0);
    size_t n = (size_t)nl_cache_nitems(cache), i = 0;
    const char **names = xcalloc(n, sizeof(char *));
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
        names[i++] = rtnl_link_get_name((struct rtnl_link *)o);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(names[a], names[b]) > 0) {
                const char *t = names[a];
                names[a] = names[b];
                names[b] = t;
            }
    for (i = 0; i < n; i++) {
        char *next = xasprintf("%s%s%s", out, i ? " " : "", names[i]);
        free(out);
        out = next;
    }
    free(names);
    nl_cache_free(cache);
    return out;
}

/* A libnl socket on a netlink socket created inside the namespace at PATH. */
static struct nl_sock *nl_sock_in(const char *path)
{
    berr_t err = NULL;
    int fd = netns_socket(path, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, &err);
    assert_ok(fd, err);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct nl_sock *sk = nl_socket_alloc();
    assert_non_null(sk);
    assert_int_equal(nl_socket_set_fd(sk, NETLINK_ROUTE, fd), 0);
    return sk;
}

/* Links of the test's own namespace, as link_names. */
static char *host_links(void)
{
    struct nl_sock *sk = nl_socket_alloc();
    assert_non_null(sk);
    assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
    char *s = link_names(sk);
    nl_socket_free(sk);
    return s;
}

static int ifreq_ioctl(int fd, const char *ifname, unsigned long req, struct ifreq *ifr)
{
    memset(ifr, 0, sizeof(*ifr));
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
    return ioctl(fd, req, ifr);
}

static bool can_bind(struct in_addr a)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = a};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Wait up to 10 s for link NAME of the test's namespace to go away. */
static bool link_gone(const char *name)
{
    for (int i = 0; i < 1000; i++) {
        if (!nl_link_exists(name))
            return true;
        usleep(10 * 1000);
    }
    return false;
}

static void test_bridge(void **state)
{
    (void)state;
    ino_t ns = netns_ino();
    berr_t err = NULL;
    struct ifreq ifr;

    assert_false(nl_link_exists("tbr0"));
    assert_ok(nl_bridge_ensure("tbr0", ip("10.77.0.1"), 24, 0, &err), err);
    assert_true(nl_link_exists("tbr0"));
    /* Again: nothing to do. Then another address, which is added next to the first. */
    assert_ok(nl_bridge_ensure("tbr0", ip("10.77.0.1"), 24, 0, &err), err);
    assert_ok(nl_bridge_ensure("tbr0", ip("10.78.0.1"), 16, 1400, &err), err);
    assert_true(can_bind(ip("10.77.0.1")));
    assert_true(can_bind(ip("10.78.0.1")));
    assert_false(can_bind(ip("10.77.0.2")));

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(ifreq_ioctl(fd, "tbr0", SIOCGIFFLAGS, &ifr), 0);
    assert_true(ifr.ifr_flags & IFF_UP);
    assert_int_equal(ifreq_ioctl(fd, "tbr0", SIOCGIFMTU, &ifr), 0);
    assert_int_equal(ifr.ifr_mtu, 1400);
    close(fd);

    /* A link of another type under the name is not taken for a bridge. */
    assert_int_equal(nl_bridge_ensure("lo", ip("10.79.0.1"), 24, 0, &err), -1);
    assert_msg_has(err, "bridge lo");
    assert_int_equal(err->errnum, EEXIST);
    berr_free(&err);
    assert_int_equal(nl_bridge_ensure("waytoolongbridgename", ip("10.79.0.1"), 24, 0, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    berr_free(&err);

    assert_ok(nl_link_delete("tbr0", &err), err);
    assert_false(nl_link_exists("tbr0"));
    assert_int_equal(netns_ino(), ns);
}

static void *ensure_thread(void *arg)
{
    berr_t err = NULL;
    ino_t ns = netns_ino();
    int r = nl_bridge_ensure("tbrrace", ip("10.76.0.1"), 24, 0, &err);

    if (r < 0)
        fprintf(stderr, "%s\n", berr_msg(err));
    berr_free(&err);
    *(int *)arg = r == 0 && netns_ino() == ns ? 0 : -1;
    return NULL;
}

static void test_bridge_race(void **state)
{
    (void)state;
    pthread_t t[8];
    int res[8];
    berr_t err = NULL;

    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, ensure_thread, &res[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(res[i], 0);
    }
    assert_true(can_bind(ip("10.76.0.1")));
    assert_ok(nl_link_delete("tbrrace", &err), err);
}

static void test_netns(void **state)
{
    (void)state;
    ino_t ns = netns_ino();
    berr_t err = NULL;
    struct ifreq ifr;
    struct statfs sfs;
    struct stat st;
    _cleanup_free_ char *path = ns_path("ns1");

    assert_ok(netns_create(path, &err), err);
    assert_int_equal(statfs(path, &sfs), 0);
    assert_true(sfs.f_type == NSFS_MAGIC);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_ino != ns);
    assert_int_equal(netns_create(path, &err), -1);
    assert_int_equal(err->errnum, EEXIST);
    assert_msg_has(err, path);
    berr_free(&err);

    /* lo is up inside, and nothing else is there. */
    int fd = netns_socket(path, AF_INET, SOCK_DGRAM, 0, &err);
    assert_ok(fd, err);
    assert_int_equal(ifreq_ioctl(fd, "lo", SIOCGIFFLAGS, &ifr), 0);
    assert_true(ifr.ifr_flags & IFF_UP);
    close(fd);
    struct nl_sock *sk = nl_sock_in(path);
    _cleanup_free_ char *inside = link_names(sk);
    nl_socket_free(sk);
    assert_string_equal(inside, "lo");

    assert_ok(netns_delete(path, &err), err);
    assert_int_equal(access(path, F_OK), -1);
    assert_ok(netns_delete(path, &err), err); /* missing: fine */
    assert_int_equal(netns_socket(path, AF_INET, SOCK_DGRAM, 0, &err), -1);
    assert_msg_has(err, path);
    berr_free(&err);

    /* A leftover empty file (a crash before the mount) is reused. */
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
    assert_true(fd >= 0);
    close(fd);
    assert_ok(netns_create(path, &err), err);
    assert_ok(netns_delete(path, &err), err);
    assert_int_equal(netns_ino(), ns);
}

static struct nl_endpoint endpoint(const char *host_if, const char *bridge, const char *path,
                                   const char *addr)
{
    struct nl_endpoint ep = {
        .host_if = host_if,
        .bridge = bridge,
        .netns_path = path,
        .ifname = "eth0",
        .addr = ip(addr),
        .prefix = 24,
        .gw = ip("10.75.0.1"),
        .default_route = true,
    };
    nl_mac_from_ip(ep.addr, ep.mac);
    return ep;
}

static void test_endpoint(void **state)
{
    (void)state;
    ino_t ns = netns_ino();
    berr_t err = NULL;
    struct ifreq ifr;
    _cleanup_free_ char *path = ns_path("c1");

    assert_ok(nl_bridge_ensure("tbr1", ip("10.75.0.1"), 24, 0, &err), err);
    /* An address outside the container's subnet: reached through its default route only. */
    assert_ok(nl_bridge_ensure("tbr1", ip("10.74.0.1"), 24, 0, &err), err);
    assert_ok(netns_create(path, &err), err);
    /* The bridge has a locally administered MAC of its own, kept when ports join. */
    int hfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(ifreq_ioctl(hfd, "tbr1", SIOCGIFHWADDR, &ifr), 0);
    unsigned char brmac[6];
    memcpy(brmac, ifr.ifr_hwaddr.sa_data, 6);
    assert_int_equal(brmac[0] & 0x03, 0x02);
    struct nl_endpoint ep = endpoint("vbtest1", "tbr1", path, "10.75.0.2");
    assert_ok(nl_endpoint_add(&ep, &err), err);
    assert_int_equal(netns_ino(), ns);
    assert_int_equal(ifreq_ioctl(hfd, "tbr1", SIOCGIFHWADDR, &ifr), 0);
    assert_memory_equal(ifr.ifr_hwaddr.sa_data, brmac, 6);
    close(hfd);

    /* Host side: the host end only, enslaved to the bridge and up. */
    _cleanup_free_ char *host = host_links();
    assert_string_equal(host, "lo tbr1 vbtest1");
    struct nl_sock *sk = nl_socket_alloc();
    struct rtnl_link *l = NULL;
    assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
    assert_int_equal(rtnl_link_get_kernel(sk, 0, "vbtest1", &l), 0);
    assert_int_equal(rtnl_link_get_master(l), (int)if_nametoindex("tbr1"));
    assert_true(rtnl_link_get_flags(l) & IFF_UP);
    rtnl_link_put(l);
    nl_socket_free(sk);

    /* Inside: lo and eth0, with the MAC, address, MTU asked for, up. */
    sk = nl_sock_in(path);
    _cleanup_free_ char *inside = link_names(sk);
    nl_socket_free(sk);
    assert_string_equal(inside, "eth0 lo");
    int fd = netns_socket(path, AF_INET, SOCK_DGRAM, 0, &err);
    assert_ok(fd, err);
    assert_int_equal(ifreq_ioctl(fd, "eth0", SIOCGIFHWADDR, &ifr), 0);
    assert_memory_equal(ifr.ifr_hwaddr.sa_data, "\x02\x42\x0a\x4b\x00\x02", 6);
    assert_int_equal(ifreq_ioctl(fd, "eth0", SIOCGIFFLAGS, &ifr), 0);
    assert_true(ifr.ifr_flags & IFF_UP);
    assert_int_equal(ifreq_ioctl(fd, "eth0", SIOCGIFMTU, &ifr), 0);
    assert_int_equal(ifr.ifr_mtu, 1500);
    assert_int_equal(ifreq_ioctl(fd, "eth0", SIOCGIFADDR, &ifr), 0);
    assert_int_equal(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr,
                     ip("10.75.0.2").s_addr);

    /* A datagram from inside to 10.74.0.1 arrives from 10.75.0.2. */
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = ip("10.74.0.1")};
    socklen_t len = sizeof(to);
    assert_int_equal(bind(rx, (struct sockaddr *)&to, sizeof(to)), 0);
    assert_int_equal(getsockname(rx, (struct sockaddr *)&to, &len), 0);
    assert_int_equal(sendto(fd, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    struct pollfd p = {.fd = rx, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    struct sockaddr_in from;
    char buf[16];
    len = sizeof(from);
    assert_int_equal(recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(from.sin_addr.s_addr, ip("10.75.0.2").s_addr);
    close(rx);
    close(fd);

    /* The host end's name is taken now. */
    struct nl_endpoint again = endpoint("vbtest1", "tbr1", path, "10.75.0.3");
    again.ifname = "eth1";
    assert_int_equal(nl_endpoint_add(&again, &err), -1);
    assert_int_equal(err->errnum, EEXIST);
    assert_msg_has(err, "veth vbtest1");
    berr_free(&err);
    assert_true(nl_link_exists("vbtest1"));

    /* Removing the namespace removes the pair. */
    assert_ok(netns_delete(path, &err), err);
    assert_true(link_gone("vbtest1"));
    assert_ok(nl_link_delete("tbr1", &err), err);
    assert_int_equal(netns_ino(), ns);
}

/* The names in the test namespace starting with PREFIX, as a count. */
static size_t count_prefix(const char *prefix)
{
    berr_t err = NULL;
    char **names = NULL;
    size_t n = 99;

    assert_ok(nl_links_with_prefix(prefix, &names, &n, &err), err);
    assert_non_null(names);
    assert_null(names[n]);
    nl_names_free(names);
    return n;
}

static void test_endpoint_failures(void **state)
{
    (void)state;
    ino_t ns = netns_ino();
    berr_t err = NULL;
    _cleanup_free_ char *path = ns_path("c2");
    _cleanup_free_ char *missing = ns_path("nosuchns");

    assert_ok(nl_bridge_ensure("tbr2", ip("10.75.0.1"), 24, 0, &err), err);
    assert_ok(netns_create(path, &err), err);
    assert_int_equal(count_prefix("vbfail"), 0);

    struct nl_endpoint ep = endpoint("vbfail1", "nosuchbr", path, "10.75.0.2");
    assert_int_equal(nl_endpoint_add(&ep, &err), -1);
    assert_msg_has(err, "nosuchbr");
    berr_free(&err);

    ep = endpoint("vbfail2", "tbr2", missing, "10.75.0.2");
    assert_int_equal(nl_endpoint_add(&ep, &err), -1);
    assert_msg_has(err, missing);
    berr_free(&err);

    /* Fails inside the namespace after the pair exists: "lo" is taken there. */
    ep = endpoint("vbfail3", "tbr2", path, "10.75.0.2");
    ep.ifname = "lo";
    assert_int_equal(nl_endpoint_add(&ep, &err), -1);
    assert_msg_has(err, path);
    assert_msg_has(err, "lo");
    berr_free(&err);

    /* A host end name that is someone else's link: refused, and that link is kept. */
    ep = endpoint("tbr2", "tbr2", path, "10.75.0.2");
    assert_int_equal(nl_endpoint_add(&ep, &err), -1);
    assert_int_equal(err->errnum, EEXIST);
    berr_free(&err);
    assert_true(nl_link_exists("tbr2"));

    ep = endpoint("vbfail4waytoolong", "tbr2", path, "10.75.0.2");
    assert_int_equal(nl_endpoint_add(&ep, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    berr_free(&err);

    /* Nothing is left on either side. */
    assert_int_equal(count_prefix("vbfail"), 0);
    _cleanup_free_ char *host = host_links();
    assert_string_equal(host, "lo tbr2");
    struct nl_sock *sk = nl_sock_in(path);
    _cleanup_free_ char *inside = link_names(sk);
    nl_socket_free(sk);
    assert_string_equal(inside, "lo");

    assert_ok(netns_delete(path, &err), err);
    assert_ok(nl_link_delete("tbr2", &err), err);
    assert_int_equal(netns_ino(), ns);
}

static void test_links(void **state)
{
    (void)state;
    berr_t err = NULL;
    char **names = NULL;
    size_t n = 0;

    assert_ok(nl_link_delete("nosuchlink0", &err), err);
    assert_ok(nl_endpoint_delete("nosuchveth0", &err), err);
    assert_false(nl_link_exists("nosuchlink0"));
    assert_true(nl_link_exists("lo"));

    assert_ok(nl_bridge_ensure("tbrx1", ip("10.73.0.1"), 24, 0, &err), err);
    assert_ok(nl_bridge_ensure("tbrx2", ip("10.72.0.1"), 24, 0, &err), err);
    assert_ok(nl_links_with_prefix("tbrx", &names, &n, &err), err);
    assert_int_equal(n, 2);
    assert_true((strcmp(names[0], "tbrx1") == 0 && strcmp(names[1], "tbrx2") == 0) ||
                (strcmp(names[0], "tbrx2") == 0 && strcmp(names[1], "tbrx1") == 0));
    assert_null(names[2]);
    nl_names_free(names);
    assert_ok(nl_link_delete("tbrx1", &err), err);
    assert_ok(nl_link_delete("tbrx2", &err), err);
    assert_int_equal(count_prefix("tbrx"), 0);
}

static void test_mac(void **state)
{
    (void)state;
    unsigned char mac[6];

    nl_mac_from_ip(ip("172.17.0.2"), mac);
    assert_memory_equal(mac, "\x02\x42\xac\x11\x00\x02", 6);
    nl_mac_from_ip(ip("10.0.255.254"), mac);
    assert_memory_equal(mac, "\x02\x42\x0a\x00\xff\xfe", 6);
}

static void test_sysctl(void **state)
{
    (void)state;
    berr_t err = NULL;
    char *text = NULL;

    assert_ok(nl_sysctl_set("net/ipv4/ip_forward", "1", &err), err);
    assert_ok(read_file("/proc/sys/net/ipv4/ip_forward", &text, NULL, &err), err);
    assert_string_equal(text, "1\n");
    free(text);
    assert_ok(nl_sysctl_set("net/ipv4/ip_forward", "0", &err), err);

    assert_int_equal(nl_sysctl_set("net/ipv4/no_such_key", "1", &err), -1);
    assert_int_equal(err->errnum, ENOENT);
    assert_msg_has(err, "net/ipv4/no_such_key");
    berr_free(&err);
    assert_int_equal(nl_sysctl_set("../../etc/passwd", "x", &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    berr_free(&err);
}

int main(void)
{
    /* Own network and mount namespaces before any thread exists: nothing here touches the
     * host's links, and a crash leaves no namespace mounts behind. */
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("test_netlink: unshare");
        return 1;
    }
    strcpy(base, "/tmp/berth-test-netlink-XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("test_netlink: mkdtemp");
        return 1;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridge),
        cmocka_unit_test(test_bridge_race),
        cmocka_unit_test(test_netns),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_endpoint_failures),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_sysctl),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);

    berr_t err = NULL;
    const char *left[] = {"ns1", "c1", "c2"};
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        _cleanup_free_ char *p = ns_path(left[i]);
        netns_delete(p, &err);
        berr_free(&err);
    }
    if (rm_rf(base, &err) < 0) {
        fprintf(stderr, "%s\n", berr_msg(err));
        berr_free(&err);
        r = 1;
    }
    return r;
}
