/* Unit tests for runtime-agent/network/nft.c: the tables nft_reset creates, the rules of a
 * network (listed back and compared), re-adding without duplicates, counting and deleting by
 * owner, a foreign table left alone, teardown, nft's diagnostics in errors; then behaviour:
 * two network namespaces on a bridge cannot talk with icc=false except through the one port
 * nft_link_allow opens, and two berth bridges are isolated from each other.
 *
 * main() first moves the test into a network namespace of its own, so nothing of the host's
 * nftables or interfaces is touched; the namespaces of the "containers" are unnamed (held by
 * file descriptors), so everything disappears with the process. Needs root and ip(8).
 * test_nft_exec.c includes this file with the nft(8) backend of berthd-static. */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/network/nft.h"

static struct in_addr ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

/* What nft prints for COMMANDS (through the backend under test). */
static char *nft_out(const char *commands)
{
    char *out = NULL;
    berr_t err = NULL;
    assert_ok(nft_backend_run(commands, 0, &out, &err), err);
    return out;
}

static void run_ok(const char *script)
{
    berr_t err = NULL;
    assert_ok(nft_run(script, &err), err);
}

static void assert_has(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("\"%s\" not in:\n%s", want, text);
}

static void assert_lacks(const char *text, const char *unwanted)
{
    if (strstr(text, unwanted) != NULL)
        fail_msg("\"%s\" unexpectedly in:\n%s", unwanted, text);
}

/* FIRST occurs in TEXT, and before SECOND. */
static void assert_before(const char *text, const char *first, const char *second)
{
    const char *a = strstr(text, first), *b = strstr(text, second);
    if (a == NULL || b == NULL || a > b)
        fail_msg("\"%s\" not before \"%s\" in:\n%s", first, second, text);
}

static int count(const char *owner)
{
    berr_t err = NULL;
    int n = nft_count_owner(owner, &err);
    assert_ok(n, err);
    return n;
}

static char *listing(void)
{
    char *out = NULL;
    berr_t err = NULL;
    assert_ok(nft_list(&out, &err), err);
    return out;
}

static const struct nft_network net1 = {
    .id = "net1", .bridge = "br-nft1", .prefix = 24, .internal = false, .icc = false};
static const struct nft_network net2 = {
    .id = "net2", .bridge = "br-nft2", .prefix = 24, .internal = false, .icc = true};

static struct nft_network with_subnet(struct nft_network n, const char *subnet)
{
    n.subnet = ip4(subnet);
    return n;
}

static void add_network(struct nft_network n, const char *subnet)
{
    berr_t err = NULL;
    n = with_subnet(n, subnet);
    assert_ok(nft_network_add(&n, &err), err);
}

/* Every test starts with no berth tables and no foreign table. */
static int clean(void **state)
{
    (void)state;
    berr_t err = NULL;
    if (nft_teardown(&err) < 0 ||
        nft_run("add table ip other\ndelete table ip other\n", &err) < 0) {
        fprintf(stderr, "clean: %s\n", berr_msg(err));
        berr_free(&err);
        return -1;
    }
    return 0;
}

static void test_reset_creates_tables(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_ok(nft_reset(&err), err);
    _cleanup_free_ char *tables = nft_out("list tables\n");
    assert_string_equal(tables, "table ip berth\ntable bridge berth\n");
    _cleanup_free_ char *text = listing();
    assert_has(text, "chain postrouting {\n\t\ttype nat hook postrouting priority srcnat; "
                     "policy accept;");
    assert_has(text, "chain forward {\n\t\ttype filter hook forward priority filter; "
                     "policy accept;");
    assert_has(text, "chain isolate {");
    assert_lacks(text, "comment"); /* no rules yet */

    /* A second reset empties the tables again. */
    add_network(net1, "10.88.1.0");
    assert_int_equal(count("net1"), 4);
    assert_ok(nft_reset(&err), err);
    assert_int_equal(count("net1"), 0);
}

static void test_network_rules(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_ok(nft_reset(&err), err);
    /* Host bits in the subnet are cleared. */
    add_network(net1, "10.88.1.7");
    _cleanup_free_ char *text = listing();
    assert_has(text, "ip saddr 10.88.1.0/24 oifname != \"br-nft1\" masquerade comment "
                     "\"berth:net1\"");
    assert_has(text, "iifname \"br-nft1\" oifname != \"br-nft1\" jump isolate comment "
                     "\"berth:net1\"");
    assert_has(text, "oifname \"br-nft1\" drop comment \"berth:net1\"");
    /* The icc drop, by bridge where the kernel can match it, by subnet otherwise. */
    if (strstr(text, "meta ibrname \"br-nft1\" ether type ip drop comment \"berth:net1\"") == NULL)
        assert_has(text, "ip saddr 10.88.1.0/24 ip daddr 10.88.1.0/24 drop comment \"berth:net1\"");
    assert_int_equal(count("net1"), 4);

    /* Re-adding replaces: no duplicates, and icc=true has no bridge rule. */
    add_network(net1, "10.88.1.0");
    assert_int_equal(count("net1"), 4);
    struct nft_network open1 = net1;
    open1.icc = true;
    add_network(open1, "10.88.1.0");
    assert_int_equal(count("net1"), 3);

    /* An internal network: no NAT, nothing in or out of its bridge. */
    struct nft_network internal = {
        .id = "int1", .bridge = "br-int1", .prefix = 16, .icc = true, .internal = true};
    add_network(internal, "10.89.0.0");
    _cleanup_free_ char *text3 = listing();
    assert_has(text3, "iifname \"br-int1\" oifname != \"br-int1\" drop comment \"berth:int1\"");
    assert_has(text3, "oifname \"br-int1\" iifname != \"br-int1\" drop comment \"berth:int1\"");
    assert_lacks(text3, "10.89.0.0/16 oifname");
    assert_int_equal(count("int1"), 2);
    assert_int_equal(count("net1"), 3);

    /* Adding works without a reset too (the tables are declared by every change). */
    assert_ok(nft_teardown(&err), err);
    add_network(net1, "10.88.1.0");
    assert_int_equal(count("net1"), 4);
}

static void test_owner_delete(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_ok(nft_reset(&err), err);
    add_network(net1, "10.88.1.0");
    add_network(net2, "10.88.2.0");
    assert_ok(
        nft_link_allow("c1", "br-nft1", ip4("10.88.1.2"), ip4("10.88.1.3"), 8080, "tcp", &err),
        err);
    assert_ok(nft_link_allow("c2", "br-nft1", ip4("10.88.1.4"), ip4("10.88.1.3"), 53, "udp", &err),
              err);
    assert_int_equal(count("c1"), 2);
    assert_int_equal(count("c2"), 2);
    _cleanup_free_ char *text = listing();
    assert_has(text, "ip saddr 10.88.1.2 ip daddr 10.88.1.3 tcp dport 8080 accept comment "
                     "\"berth:c1\"");
    assert_has(text, "ip saddr 10.88.1.3 ip daddr 10.88.1.2 tcp sport 8080 accept comment "
                     "\"berth:c1\"");
    /* The accepts come before the network's drop. */
    _cleanup_free_ char *bridge_text = nft_out("list table bridge berth\n");
    assert_before(bridge_text, "\"berth:c1\"", "drop comment \"berth:net1\"");

    assert_ok(nft_owner_delete("c1", &err), err);
    assert_int_equal(count("c1"), 0);
    assert_int_equal(count("c2"), 2);
    assert_int_equal(count("net1"), 4);
    assert_int_equal(count("net2"), 3);

    /* A network's re-add keeps link rules ahead of its drop. */
    add_network(net1, "10.88.1.0");
    _cleanup_free_ char *text2 = nft_out("list table bridge berth\n");
    assert_before(text2, "\"berth:c2\"", "drop comment \"berth:net1\"");

    assert_ok(nft_network_delete("net1", &err), err);
    assert_int_equal(count("net1"), 0);
    assert_int_equal(count("net2"), 3);
    assert_int_equal(count("c2"), 2);
    /* Nothing tagged: nothing to do. */
    assert_ok(nft_owner_delete("nobody", &err), err);
    assert_ok(nft_network_delete("net1", &err), err);

    /* An owner that is a prefix of another is not the other. */
    assert_int_equal(count("c"), 0);
    assert_int_equal(count("net"), 0);
}

static void test_foreign_table(void **state)
{
    (void)state;
    berr_t err = NULL;
    /* Tagged like berth's own rules: still not berth's, since it is not in berth's tables. */
    run_ok("add table ip other\n"
           "add chain ip other fw { type filter hook forward priority 0; policy accept; }\n"
           "add rule ip other fw ip saddr 10.88.1.0/24 drop comment \"berth:net1\"\n");
    _cleanup_free_ char *before = nft_out("list table ip other\n");
    assert_has(before, "comment \"berth:net1\"");

    assert_ok(nft_reset(&err), err);
    add_network(net1, "10.88.1.0");
    assert_int_equal(count("net1"), 4);
    assert_ok(nft_network_delete("net1", &err), err);
    add_network(net1, "10.88.1.0");
    assert_ok(nft_owner_delete("net1", &err), err);
    _cleanup_free_ char *text = listing();
    assert_lacks(text, "table ip other");
    assert_ok(nft_teardown(&err), err);

    _cleanup_free_ char *after = nft_out("list table ip other\n");
    assert_string_equal(before, after);
    _cleanup_free_ char *tables = nft_out("list tables\n");
    assert_string_equal(tables, "table ip other\n");
}

static void test_teardown(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_ok(nft_reset(&err), err);
    add_network(net1, "10.88.1.0");
    assert_ok(nft_link_allow("c1", "br-nft1", ip4("10.88.1.2"), ip4("10.88.1.3"), 80, "tcp", &err),
              err);
    assert_ok(nft_teardown(&err), err);
    _cleanup_free_ char *tables = nft_out("list tables\n");
    assert_string_equal(tables, "");
    /* Idempotent, and reading does not bring the tables back. */
    assert_ok(nft_teardown(&err), err);
    assert_int_equal(count("net1"), 0);
    assert_ok(nft_owner_delete("c1", &err), err);
    _cleanup_free_ char *text = listing();
    assert_string_equal(text, "");
    _cleanup_free_ char *tables2 = nft_out("list tables\n");
    assert_string_equal(tables2, "");
}

static void test_errors(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_int_equal(nft_run("add table ip berth\nflurb the rules\n", &err), -1);
    assert_msg_has(err, "nftables: ");
    assert_msg_has(err, "Error: syntax error");
    assert_msg_has(err, "flurb the rules");
    berr_free(&err);
    /* The whole script is one transaction: the valid first line was not applied either. */
    _cleanup_free_ char *tables = nft_out("list tables\n");
    assert_string_equal(tables, "");

    /* The kernel's refusal, with the command it is about. */
    assert_int_equal(nft_run("add rule ip nosuch fw accept\n", &err), -1);
    assert_msg_has(err, "Error: Could not process rule: No such file or directory");
    assert_msg_has(err, "add rule ip nosuch fw accept");
    berr_free(&err);

    /* Names that could break out of a quoted string never reach nft. */
    struct nft_network bad = net1;
    bad.bridge = "br\"; flush ruleset; \"";
    assert_int_equal(nft_network_add(&bad, &err), -1);
    assert_msg_has(err, "nftables: add rules of network net1: bridge");
    assert_int_equal(err->errnum, EINVAL);
    berr_free(&err);
    assert_int_equal(nft_owner_delete("a b", &err), -1);
    assert_msg_has(err, "invalid character ' '");
    berr_free(&err);
    assert_int_equal(
        nft_link_allow("c1", "br-nft1", ip4("10.0.0.1"), ip4("10.0.0.2"), 80, "sctp", &err), -1);
    assert_msg_has(err, "protocol \"sctp\" is not tcp or udp");
    berr_free(&err);
    assert_int_equal(
        nft_link_allow("c1", "br-nft1", ip4("10.0.0.1"), ip4("10.0.0.2"), 0, "tcp", &err), -1);
    assert_msg_has(err, "invalid port 0");
    berr_free(&err);
}

static void test_diagnostic(void **state)
{
    (void)state;
    _cleanup_free_ char *a = nft_diagnostic("/dev/stdin:2:1-5: Error: syntax error, unexpected x\n"
                                            "flurb\n"
                                            "^^^^^\n"
                                            "/dev/stdin:3:1-1: Error: more\n"
                                            "zz\n"
                                            "^\n");
    assert_string_equal(a, "Error: syntax error, unexpected x (in \"flurb\"); Error: more (in "
                           "\"zz\")");
    _cleanup_free_ char *b = nft_diagnostic("netlink: something odd\n\n");
    assert_string_equal(b, "netlink: something odd");
    _cleanup_free_ char *c = nft_diagnostic(NULL);
    assert_string_equal(c, "");
}

/* ---- behaviour: namespaces as containers ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    assert_true(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("\"%s\" failed (status %d)", cmd, rc);
    free(cmd);
}

static int home_ns = -1; /* the test's own namespace */

/* A new unnamed network namespace, as a descriptor; the caller stays where it was. */
static int ns_new(void)
{
    assert_int_equal(unshare(CLONE_NEWNET), 0);
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(setns(home_ns, CLONE_NEWNET), 0);
    return fd;
}

/* A "container" on BRIDGE: namespace NS gets eth0 with ADDR/24, default route via GW. */
static void attach(int ns, const char *host_if, const char *bridge, const char *addr,
                   const char *gw)
{
    sh("ip link add %s type veth peer name eth0 netns /proc/%d/fd/%d", host_if, (int)getpid(), ns);
    sh("ip link set %s master %s up", host_if, bridge);
    assert_int_equal(setns(ns, CLONE_NEWNET), 0);
    sh("ip link set lo up && ip addr add %s/24 dev eth0 && ip link set eth0 up && "
       "ip route add default via %s",
       addr, gw);
    assert_int_equal(setns(home_ns, CLONE_NEWNET), 0);
}

static void bridge(const char *name, const char *gw)
{
    sh("ip link add %s type bridge && ip addr add %s/24 dev %s && ip link set %s up", name, gw,
       name, name);
}

/* A socket of TYPE in namespace NS. */
static int ns_socket(int ns, int type)
{
    assert_int_equal(setns(ns, CLONE_NEWNET), 0);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_int_equal(setns(home_ns, CLONE_NEWNET), 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return fd;
}

static struct sockaddr_in sa(const char *addr, int port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    s.sin_addr = ip4(addr);
    return s;
}

static bool wait_fd(int fd, short events, int ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, ms) == 1 && (p.revents & events);
}

/* Does a UDP datagram from namespace FROM reach TO:PORT in namespace TO_NS? */
static bool udp_reaches(int from, int to_ns, const char *to, int port)
{
    int rx = ns_socket(to_ns, SOCK_DGRAM);
    struct sockaddr_in a = sa(to, port);
    assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
    int tx = ns_socket(from, SOCK_DGRAM);
    bool got = false;
    /* A few tries: the first may wait for ARP. */
    for (int i = 0; i < 3 && !got; i++) {
        sendto(tx, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
        got = wait_fd(rx, POLLIN, 150);
    }
    close(tx);
    close(rx);
    return got;
}

/* Does a TCP connection from namespace FROM to TO:PORT in namespace TO_NS succeed? */
static bool tcp_connects(int from, int to_ns, const char *to, int port)
{
    int l = ns_socket(to_ns, SOCK_STREAM);
    struct sockaddr_in a = sa(to, port);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 4), 0);
    int c = ns_socket(from, SOCK_STREAM);
    int r = connect(c, (struct sockaddr *)&a, sizeof(a));
    bool ok = r == 0;
    if (r < 0 && errno == EINPROGRESS && wait_fd(c, POLLOUT, 500)) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &len);
        ok = soerr == 0;
    }
    close(c);
    close(l);
    return ok;
}

static void test_icc_and_links(void **state)
{
    (void)state;
    berr_t err = NULL;
    bridge("br-nft1", "10.88.1.1");
    int a = ns_new(), b = ns_new();
    attach(a, "vnft-a", "br-nft1", "10.88.1.2", "10.88.1.1");
    attach(b, "vnft-b", "br-nft1", "10.88.1.3", "10.88.1.1");
    assert_ok(nft_reset(&err), err);

    /* icc=true (the default): everything passes. */
    struct nft_network open1 = net1;
    open1.icc = true;
    add_network(open1, "10.88.1.0");
    assert_true(udp_reaches(a, b, "10.88.1.3", 5000));
    assert_true(tcp_connects(a, b, "10.88.1.3", 8080));

    /* icc=false: neither UDP nor TCP, either way. */
    add_network(net1, "10.88.1.0");
    assert_false(udp_reaches(a, b, "10.88.1.3", 5000));
    assert_false(tcp_connects(a, b, "10.88.1.3", 8080));
    assert_false(tcp_connects(b, a, "10.88.1.2", 8080));
    /* ARP and the host (the gateway) are not affected: that is not bridged between ports. */
    assert_true(udp_reaches(a, home_ns, "10.88.1.1", 5000));

    /* A link opens exactly a -> b:8080/tcp and its replies. */
    assert_ok(
        nft_link_allow("c1", "br-nft1", ip4("10.88.1.2"), ip4("10.88.1.3"), 8080, "tcp", &err),
        err);
    assert_true(tcp_connects(a, b, "10.88.1.3", 8080));
    assert_false(tcp_connects(a, b, "10.88.1.3", 8081));
    assert_false(tcp_connects(b, a, "10.88.1.2", 8080));
    assert_false(udp_reaches(a, b, "10.88.1.3", 8080));

    /* Re-adding the network keeps the link working; deleting the owner closes it. */
    add_network(net1, "10.88.1.0");
    assert_true(tcp_connects(a, b, "10.88.1.3", 8080));
    assert_ok(nft_owner_delete("c1", &err), err);
    assert_false(tcp_connects(a, b, "10.88.1.3", 8080));

    /* Without the network's rules, everything passes again. */
    assert_ok(nft_network_delete("net1", &err), err);
    assert_true(udp_reaches(a, b, "10.88.1.3", 5000));

    close(a);
    close(b);
    sh("ip link del br-nft1");
}

static void test_isolation(void **state)
{
    (void)state;
    berr_t err = NULL;
    sh("echo 1 > /proc/sys/net/ipv4/ip_forward");
    bridge("br-nft1", "10.88.1.1");
    bridge("br-nft2", "10.88.2.1");
    int a = ns_new(), c = ns_new();
    attach(a, "vnft-a", "br-nft1", "10.88.1.2", "10.88.1.1");
    attach(c, "vnft-c", "br-nft2", "10.88.2.2", "10.88.2.1");
    assert_ok(nft_reset(&err), err);
    /* Routed between the bridges while berth has no rules for them. */
    assert_true(udp_reaches(a, c, "10.88.2.2", 5000));

    struct nft_network open1 = net1;
    open1.icc = true;
    add_network(open1, "10.88.1.0");
    add_network(net2, "10.88.2.0");
    assert_false(udp_reaches(a, c, "10.88.2.2", 5000));
    assert_false(udp_reaches(c, a, "10.88.1.2", 5000));
    assert_false(tcp_connects(a, c, "10.88.2.2", 80));

    /* Once one of the networks is gone, they talk again. */
    assert_ok(nft_network_delete("net2", &err), err);
    assert_true(udp_reaches(a, c, "10.88.2.2", 5000));

    /* An internal network forwards nothing to or from its bridge. */
    struct nft_network internal = net2;
    internal.internal = true;
    add_network(internal, "10.88.2.0");
    assert_false(udp_reaches(a, c, "10.88.2.2", 5000));
    assert_false(udp_reaches(c, a, "10.88.1.2", 5000));
    assert_ok(nft_teardown(&err), err);
    assert_true(udp_reaches(c, a, "10.88.1.2", 5000));

    close(a);
    close(c);
    sh("ip link del br-nft1 && ip link del br-nft2");
}

#ifdef NFT_TEST_EXEC
static const char *default_dirs;

/* Point the search at nothing for one test. */
static int hide_nft(void **state)
{
    (void)state;
    default_dirs = nft_dirs;
    nft_dirs = "/nonexistent-berth-test";
    return 0;
}

static int show_nft(void **state)
{
    (void)state;
    nft_dirs = default_dirs;
    return 0;
}

static void test_nft_missing(void **state)
{
    (void)state;
    berr_t err = NULL;
    assert_string_equal(default_dirs, "/usr/sbin:/sbin:/usr/bin:/bin");
    assert_int_equal(nft_run("list tables\n", &err), -1);
    assert_string_equal(berr_msg(err),
                        "nftables: nft(8) not found in /nonexistent-berth-test: install nftables");
    berr_free(&err);
    struct nft_network n = with_subnet(net1, "10.88.1.0");
    assert_int_equal(nft_network_add(&n, &err), -1);
    assert_msg_has(err, "nftables: add rules of network net1: ");
    assert_msg_has(err, "nft(8) not found");
    berr_free(&err);
}
#endif

int main(void)
{
    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare(CLONE_NEWNET) (the test needs root)");
        return 1;
    }
    home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ns < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_creates_tables, clean),
        cmocka_unit_test_setup(test_network_rules, clean),
        cmocka_unit_test_setup(test_owner_delete, clean),
        cmocka_unit_test_setup(test_foreign_table, clean),
        cmocka_unit_test_setup(test_teardown, clean),
        cmocka_unit_test_setup(test_errors, clean),
        cmocka_unit_test(test_diagnostic),
        cmocka_unit_test_setup(test_icc_and_links, clean),
        cmocka_unit_test_setup(test_isolation, clean),
#ifdef NFT_TEST_EXEC
        cmocka_unit_test_setup_teardown(test_nft_missing, hide_nft, show_nft),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
