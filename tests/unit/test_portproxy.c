/* Unit tests for runtime-agent/network/portproxy.c: binding specs ("53/udp", host ports and
 * ranges, host IPs) and their errors, the Ports summary, and the proxy itself in a network
 * namespace of the test's own (root only): the "container" is this process, so its
 * namespace is the one the proxy joins; the test plays client and container server. */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/network/portproxy.h"

/* ---- specs ---------------------------------------------------------------------------- */

/* The parse of KEY, IP, PORT as "proto ctr ip first-last", or "error: MESSAGE". */
static char *parse(const char *key, const char *ip, const char *port)
{
    struct port_spec s;
    berr_t err = NULL;
    char addr[INET_ADDRSTRLEN];

    if (portproxy_parse(key, ip, port, &s, &err) < 0) {
        char *out = xasprintf("error: %s", berr_msg(err));
        assert_int_equal(err->errnum, EINVAL);
        berr_free(&err);
        return out;
    }
    inet_ntop(AF_INET, &s.ip, addr, sizeof(addr));
    return xasprintf("%s %d %s %d-%d", s.proto == IPPROTO_UDP ? "udp" : "tcp", s.ctr_port, addr,
                     s.first, s.last);
}

static void want_parse(const char *key, const char *ip, const char *port, const char *want)
{
    char *got = parse(key, ip, port);
    if (strncmp(want, "error: ", 7) == 0 ? strstr(got, want + 7) == NULL : strcmp(got, want) != 0)
        fail_msg("parse(%s, %s, %s) = [%s], want [%s]", key, ip ? ip : "NULL", port ? port : "NULL",
                 got, want);
    free(got);
}

static void test_parse(void **state)
{
    (void)state;
    want_parse("80", NULL, NULL, "tcp 80 0.0.0.0 0-0");
    want_parse("80/tcp", "", "8080", "tcp 80 0.0.0.0 8080-8080");
    want_parse("53/udp", "0.0.0.0", "5353", "udp 53 0.0.0.0 5353-5353");
    want_parse("53/udp", "127.0.0.1", "", "udp 53 127.0.0.1 0-0");
    want_parse("80/tcp", NULL, "0", "tcp 80 0.0.0.0 0-0");
    want_parse("80/tcp", NULL, "8000-8010", "tcp 80 0.0.0.0 8000-8010");
    want_parse("80/tcp", NULL, "8000-8000", "tcp 80 0.0.0.0 8000-8000");
    want_parse("65535/udp", NULL, "1-65535", "udp 65535 0.0.0.0 1-65535");

    want_parse("", NULL, NULL, "error: invalid port specification: \"\"");
    want_parse("http", NULL, NULL, "error: invalid port specification: \"http\"");
    want_parse("0/tcp", NULL, NULL, "error: invalid port specification: \"0/tcp\"");
    want_parse("70000/tcp", NULL, NULL, "error: invalid port specification: \"70000/tcp\"");
    want_parse("80-81/tcp", NULL, NULL, "error: invalid port specification: \"80-81/tcp\"");
    want_parse("80/icmp", NULL, NULL, "error: invalid protocol \"icmp\"");
    want_parse("132/sctp", NULL, "132", "error: cannot publish 132/sctp");
    want_parse("80/tcp", "::", "8080",
               "error: cannot publish 80/tcp on \"::\": ports are published on IPv4");
    want_parse("53/udp", "localhost", "", "error: invalid host IP \"localhost\" for 53/udp");
    want_parse("53/udp", "1.2.3", "", "error: invalid host IP \"1.2.3\" for 53/udp");
    want_parse("80/tcp", NULL, "abc", "error: invalid host port \"abc\" for 80/tcp");
    want_parse("80/tcp", NULL, "70000", "error: invalid host port \"70000\" for 80/tcp");
    want_parse("80/tcp", NULL, "8010-8000", "error: invalid host port \"8010-8000\"");
    want_parse("80/tcp", NULL, "8000-", "error: invalid host port \"8000-\"");
    want_parse("80/tcp", NULL, "-8000", "error: invalid host port \"-8000\"");
    want_parse("80/tcp", NULL, "0-10", "error: invalid host port \"0-10\"");
    want_parse("80/tcp", NULL, " 80", "error: invalid host port \" 80\"");
    want_parse("80/tcp", NULL, "80x", "error: invalid host port \"80x\"");
}

/* portproxy_check on the JSON text BINDINGS: "" when fine, else the message. */
static char *check(const char *bindings)
{
    json_t *j = json_loads(bindings, JSON_DECODE_ANY, NULL);
    berr_t err = NULL;
    char *out;

    assert_non_null(j);
    out = xstrdup(portproxy_check(j, &err) < 0 ? berr_msg(err) : "");
    berr_free(&err);
    json_decref(j);
    return out;
}

static void want_check(const char *bindings, const char *want)
{
    char *got = check(bindings);
    if (*want ? strstr(got, want) == NULL : *got != '\0')
        fail_msg("check(%s) = [%s], want [%s]", bindings, got, want);
    free(got);
}

static void test_check(void **state)
{
    (void)state;
    want_check("null", "");
    want_check("{}", "");
    want_check("{\"80/tcp\": null, \"53/udp\": []}", "");
    want_check("{\"80/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"8000-8010\"}, null, {}]}", "");
    want_check("[]", "invalid PortBindings");
    want_check("{\"x/tcp\": []}", "invalid port specification: \"x/tcp\"");
    want_check("{\"80/tcp\": {}}", "invalid port bindings for 80/tcp: a list is expected");
    want_check("{\"80/tcp\": [8080]}", "invalid port binding for 80/tcp: an object");
    want_check("{\"80/tcp\": [{\"HostPort\": 8080}]}", "HostPort must be a string");
    want_check("{\"53/udp\": [{\"HostPort\": \"99999\"}]}",
               "invalid host port \"99999\" for 53/udp");
    want_check("{\"53/udp\": [{\"HostIp\": \"::1\"}]}", "IPv4 addresses only");
}

static void test_summary(void **state)
{
    (void)state;
    json_t *ports = json_loads("{\"80/tcp\": [{\"HostIp\": \"0.0.0.0\", \"HostPort\": \"8080\"}],"
                               " \"53/udp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"5353\"}],"
                               " \"7000/udp\": null}",
                               0, NULL);
    json_t *sum = portproxy_summary(ports);
    char *text = json_dumps(sum, JSON_COMPACT | JSON_SORT_KEYS);

    assert_string_equal(
        text, "[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"},"
              "{\"IP\":\"127.0.0.1\",\"PrivatePort\":53,\"PublicPort\":5353,\"Type\":\"udp\"},"
              "{\"PrivatePort\":7000,\"Type\":\"udp\"}]");
    free(text);
    json_decref(sum);
    json_decref(ports);
}

/* ---- the proxy, live ------------------------------------------------------------------ */

static bool have_netns;

/* A network namespace of the test's own with loopback up; skipped without root. */
static int live_setup(void **state)
{
    (void)state;
    struct ifreq ifr = {0};
    int fd;

    if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
        return 0;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    strcpy(ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        have_netns = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

#define NEED_NETNS()                                                                               \
    do {                                                                                           \
        if (!have_netns)                                                                           \
            skip();                                                                                \
    } while (0)

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* A socket of TYPE bound to 127.0.0.1:PORT (0: any); listening when it is TCP. */
static int bound(int type, int port)
{
    struct sockaddr_in a = loopback(port);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    if (type == SOCK_STREAM) /* a relayed connection may still hold the port: no listener may */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static bool readable(int fd, int ms)
{
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, ms) == 1;
}

/* Publish BINDINGS (and EXPOSED with -P) for "this container"; the ports JSON in *PORTS. */
static struct port_proxy *publish(const char *bindings, const char *exposed, int all,
                                  json_t **ports)
{
    json_t *b = json_loads(bindings, 0, NULL), *e = json_loads(exposed, 0, NULL);
    struct port_proxy *p = NULL;
    berr_t err = NULL;

    assert_ok(portproxy_bind(b, e, all, 47000, 47009, &p, ports, &err), err);
    assert_ok(portproxy_start(p, getpid(), &err), err);
    json_decref(b);
    json_decref(e);
    return p;
}

static int host_port(json_t *ports, const char *key, size_t i)
{
    const char *hp = json_string_value(
        json_object_get(json_array_get(json_object_get(ports, key), i), "HostPort"));
    assert_non_null(hp);
    return atoi(hp);
}

/* CLIENT sends MSG to 127.0.0.1:TO; SERVER gets it and answers "MSG back"; the client must
 * get that answer. Returns the source port the server saw (the flow's). */
static int udp_round(int client, int to, int server, const char *msg)
{
    struct sockaddr_in dst = loopback(to), src;
    socklen_t len = sizeof(src);
    char buf[256];
    ssize_t n;

    for (int tries = 0;; tries++) {
        assert_true(sendto(client, msg, strlen(msg), 0, (struct sockaddr *)&dst, sizeof(dst)) > 0);
        if (readable(server, 2000))
            break;
        assert_true(tries < 3);
    }
    n = recvfrom(server, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&src, &len);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, msg);
    assert_int_equal(src.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    snprintf(buf, sizeof(buf), "%s back", msg);
    assert_true(sendto(server, buf, strlen(buf), 0, (struct sockaddr *)&src, len) > 0);
    assert_true(readable(client, 2000));
    n = recv(client, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    char *want = xasprintf("%s back", msg);
    assert_string_equal(buf, want);
    free(want);
    return ntohs(src.sin_port);
}

static void test_udp_flows(void **state)
{
    (void)state;
    NEED_NETNS();
    int server = bound(SOCK_DGRAM, 0);
    char *b = xasprintf("{\"%d/udp\": [{\"HostIp\": \"\", \"HostPort\": \"\"}]}", port_of(server));
    json_t *ports;
    struct port_proxy *p = publish(b, "{}", 0, &ports);
    char *key = xasprintf("%d/udp", port_of(server));
    int hp = host_port(ports, key, 0);
    int c1 = bound(SOCK_DGRAM, 0), c2 = bound(SOCK_DGRAM, 0);

    assert_in_range(hp, 47000, 47009);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ports, key), 0), "HostIp")),
                        "0.0.0.0");
    /* One flow per client address, kept between datagrams. */
    int f1 = udp_round(c1, hp, server, "one");
    assert_int_equal(udp_round(c1, hp, server, "one again"), f1);
    int f2 = udp_round(c2, hp, server, "two");
    assert_int_not_equal(f1, f2);
    assert_int_equal(udp_round(c1, hp, server, "one more"), f1);

    /* More clients than flows: the least recently used flow gives way. */
    int many[PORTPROXY_UDP_MAX_FLOWS];
    for (int i = 0; i < PORTPROXY_UDP_MAX_FLOWS - 1; i++) {
        many[i] = bound(SOCK_DGRAM, 0);
        udp_round(many[i], hp, server, "many");
    }
    /* c2 was the least recently used: c1 and the others keep their flows. */
    assert_int_equal(udp_round(c1, hp, server, "still"), f1);
    assert_int_not_equal(udp_round(c2, hp, server, "new flow"), f2);
    for (int i = 0; i < PORTPROXY_UDP_MAX_FLOWS - 1; i++)
        close(many[i]);

    /* A datagram before the server listens is lost, not the flow. */
    close(server);
    struct sockaddr_in dst = loopback(hp);
    sendto(c1, "lost", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
    usleep(100 * 1000);
    server = bound(SOCK_DGRAM, atoi(key));
    udp_round(c1, hp, server, "after");

    portproxy_stop(p);
    /* The host port is free again. */
    close(bound(SOCK_DGRAM, hp));
    close(c1);
    close(c2);
    close(server);
    json_decref(ports);
    free(key);
    free(b);
}

static void test_tcp(void **state)
{
    (void)state;
    NEED_NETNS();
    int server = bound(SOCK_STREAM, 0);
    char *b = xasprintf("{\"%d/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"47100\"}]}",
                        port_of(server));
    json_t *ports;
    struct port_proxy *p = publish(b, "{}", 0, &ports);
    struct sockaddr_in dst = loopback(47100);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char buf[64];

    assert_int_equal(connect(c, (struct sockaddr *)&dst, sizeof(dst)), 0);
    assert_true(readable(server, 2000));
    int s = accept(server, NULL, NULL);
    assert_true(s >= 0);
    assert_int_equal(write(c, "ping", 4), 4);
    assert_true(readable(s, 2000));
    assert_int_equal(read(s, buf, sizeof(buf)), 4);
    assert_int_equal(write(s, "pong", 4), 4);
    assert_true(readable(c, 2000));
    assert_int_equal(read(c, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    close(s);
    close(c);
    portproxy_stop(p);
    close(bound(SOCK_STREAM, 47100));
    close(server);
    json_decref(ports);
    free(b);
}

/* Ranges take their first free port; a taken port or range fails with Docker's words. */
static void test_ranges_and_taken(void **state)
{
    (void)state;
    NEED_NETNS();
    int taken = bound(SOCK_STREAM, 47200), taken_udp = bound(SOCK_DGRAM, 47300);
    json_t *b, *ports = NULL, *p1, *p2;
    struct port_proxy *p = NULL, *q;
    berr_t err = NULL;

    /* tcp 47200 is taken: the range starts at 47201; udp 47200 is free. */
    q = publish("{\"80/tcp\": [{\"HostPort\": \"47200-47203\"}],"
                " \"81/udp\": [{\"HostPort\": \"47200-47203\"}]}",
                "{}", 0, &p1);
    assert_int_equal(host_port(p1, "80/tcp", 0), 47201);
    assert_int_equal(host_port(p1, "81/udp", 0), 47200);
    /* A second container gets the next one. */
    p = publish("{\"80/tcp\": [{\"HostPort\": \"47200-47203\"}]}", "{}", 0, &p2);
    assert_int_equal(host_port(p2, "80/tcp", 0), 47202);
    portproxy_stop(p);
    json_decref(p2);

    b = json_loads("{\"80/tcp\": [{\"HostPort\": \"47200\"}]}", 0, NULL);
    assert_int_equal(portproxy_bind(b, NULL, 0, 47000, 47009, &p, &ports, &err), -1);
    assert_msg_has(err, "Bind for 0.0.0.0:47200 failed: port is already allocated");
    assert_int_equal(err->errnum, EBUSY);
    berr_free(&err);
    json_decref(b);

    b = json_loads("{\"53/udp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"47300\"}]}", 0, NULL);
    assert_int_equal(portproxy_bind(b, NULL, 0, 47000, 47009, &p, &ports, &err), -1);
    assert_msg_has(err, "Bind for 127.0.0.1:47300/udp failed: port is already allocated");
    berr_free(&err);
    json_decref(b);

    b = json_loads("{\"80/tcp\": [{\"HostPort\": \"47200-47201\"}]}", 0, NULL);
    assert_int_equal(portproxy_bind(b, NULL, 0, 47000, 47009, &p, &ports, &err), -1);
    assert_msg_has(err, "Bind for 0.0.0.0:47200-47201 failed: every port of the range");
    berr_free(&err);
    json_decref(b);

    /* A failed bind releases what it had bound already. */
    b = json_loads("{\"81/tcp\": [{\"HostPort\": \"47210\"}], \"80/tcp\": [{\"HostPort\": "
                   "\"47200\"}]}",
                   0, NULL);
    assert_int_equal(portproxy_bind(b, NULL, 0, 47000, 47009, &p, &ports, &err), -1);
    berr_free(&err);
    json_decref(b);
    close(bound(SOCK_STREAM, 47210));

    portproxy_stop(q);
    json_decref(p1);
    close(taken);
    close(taken_udp);
}

/* -P: exposed tcp and udp ports on free ports of the daemon's range; -p wins over -P. */
static void test_publish_all(void **state)
{
    (void)state;
    NEED_NETNS();
    json_t *ports;
    struct port_proxy *p = publish(
        "{\"80\": [{\"HostPort\": \"47400\"}]}",
        "{\"7000/udp\": {}, \"7001/tcp\": {}, \"80/tcp\": {}, \"132/sctp\": {}}", 1, &ports);

    assert_in_range(host_port(ports, "7000/udp", 0), 47000, 47009);
    assert_in_range(host_port(ports, "7001/tcp", 0), 47000, 47009);
    assert_int_equal(host_port(ports, "80/tcp", 0), 47400);
    assert_int_equal(json_array_size(json_object_get(ports, "80/tcp")), 1);
    assert_true(json_is_null(json_object_get(ports, "132/sctp")));
    assert_null(json_object_get(ports, "80"));
    portproxy_stop(p);
    json_decref(ports);
}

int main(void)
{
    const struct CMUnitTest specs[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_summary),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_udp_flows),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_ranges_and_taken),
        cmocka_unit_test(test_publish_all),
    };
    int failed = cmocka_run_group_tests_name("portproxy specs", specs, NULL, NULL);
    return failed + cmocka_run_group_tests_name("portproxy live", live, live_setup, NULL);
}
