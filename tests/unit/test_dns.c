/* Unit tests for runtime-agent/network/dns.c: dns_answer on queries built with ldns, then the
 * server live, in a network namespace of the test's own (unshare at the start of main):
 * a fake upstream on 127.0.0.1, a container's sockets on 127.0.0.11:53, queries over UDP
 * and TCP. */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/network/dns.h"

#define CTR "c1"

static int lookups;

/* c1 knows web (one address), db (two) and many* (as many as asked for). */
static size_t lookup(void *opaque, const char *ctr_id, const char *name, struct in_addr *out,
                     size_t max)
{
    (void)opaque;
    __atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST);
    if (strcmp(ctr_id, CTR) != 0)
        return 0;
    if (strcmp(name, "web") == 0 && max >= 1) {
        inet_pton(AF_INET, "10.0.0.2", &out[0]);
        return 1;
    }
    if (strcmp(name, "db") == 0 && max >= 2) {
        inet_pton(AF_INET, "10.0.0.3", &out[0]);
        inet_pton(AF_INET, "10.0.0.4", &out[1]);
        return 2;
    }
    if (strncmp(name, "many", 4) == 0) {
        for (size_t i = 0; i < max; i++)
            out[i].s_addr = htonl(0x0a010000 + (uint32_t)i);
        return max;
    }
    return 0;
}

static uint8_t *query_wire(const char *name, ldns_rr_type type, uint16_t id, size_t *len)
{
    ldns_pkt *q = NULL;
    uint8_t *wire = NULL;

    assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
                     LDNS_STATUS_OK);
    ldns_pkt_set_id(q, id);
    assert_int_equal(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    return wire;
}

static ldns_pkt *parse(const uint8_t *wire, size_t len)
{
    ldns_pkt *p = NULL;

    assert_non_null(wire);
    assert_int_equal(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
    return p;
}

/* The IPv4 address of answer record I of P as text. */
static const char *answer_addr(const ldns_pkt *p, size_t i, char *buf)
{
    ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);

    assert_non_null(rr);
    assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_A);
    assert_int_equal(ldns_rr_ttl(rr), 600);
    return inet_ntop(AF_INET, ldns_rdf_data(ldns_rr_rdf(rr, 0)), buf, INET_ADDRSTRLEN);
}

/* dns_answer on NAME/TYPE: its return value, the parsed answer in *OUT (NULL if none). */
static int ask(const char *name, ldns_rr_type type, ldns_pkt **out)
{
    size_t len, out_len;
    uint8_t *wire = query_wire(name, type, 0x1234, &len), *ans = NULL;
    int r = dns_answer(wire, len, lookup, NULL, CTR, &ans, &out_len);

    *out = ans ? parse(ans, out_len) : NULL;
    free(wire);
    free(ans);
    return r;
}

static void test_answer_known(void **state)
{
    (void)state;
    ldns_pkt *p;
    char a[INET_ADDRSTRLEN];

    assert_int_equal(ask("Web.", LDNS_RR_TYPE_A, &p), 1);
    assert_int_equal(ldns_pkt_id(p), 0x1234);
    assert_true(ldns_pkt_qr(p));
    assert_true(ldns_pkt_rd(p));
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_qdcount(p), 1);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_string_equal(answer_addr(p, 0, a), "10.0.0.2");
    ldns_pkt_free(p);

    assert_int_equal(ask("DB", LDNS_RR_TYPE_A, &p), 1);
    assert_int_equal(ldns_pkt_ancount(p), 2);
    assert_string_equal(answer_addr(p, 0, a), "10.0.0.3");
    assert_string_equal(answer_addr(p, 1, a), "10.0.0.4");
    ldns_pkt_free(p);
}

static void test_answer_forward(void **state)
{
    (void)state;
    ldns_pkt *p;

    assert_int_equal(ask("example.com.", LDNS_RR_TYPE_A, &p), 0);
    assert_null(p);
    assert_int_equal(ask("web.example.com", LDNS_RR_TYPE_A, &p), 0);
    assert_null(p);
}

static void test_answer_aaaa(void **state)
{
    (void)state;
    ldns_pkt *p;

    assert_int_equal(ask("web", LDNS_RR_TYPE_AAAA, &p), 1);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_int_equal(ldns_pkt_id(p), 0x1234);
    ldns_pkt_free(p);
    assert_int_equal(ask("db", LDNS_RR_TYPE_MX, &p), 1);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
}

/* Many addresses for a long name: the answer still fits 512 bytes, with TC set. */
static void test_answer_fits_udp(void **state)
{
    (void)state;
    char name[256];
    ldns_pkt *p;
    size_t len, out_len;

    memset(name, 'a', 250);
    memcpy(name, "many", 4);
    name[63] = name[127] = name[191] = '.';
    name[250] = '\0';
    uint8_t *wire = query_wire(name, LDNS_RR_TYPE_A, 7, &len), *ans = NULL;
    assert_int_equal(dns_answer(wire, len, lookup, NULL, CTR, &ans, &out_len), 1);
    assert_true(out_len <= 512);
    p = parse(ans, out_len);
    assert_true(ldns_pkt_ancount(p) >= 1);
    if (ldns_pkt_ancount(p) < 16)
        assert_true(ldns_pkt_tc(p));
    ldns_pkt_free(p);
    free(wire);
    free(ans);
}

static void test_answer_garbage(void **state)
{
    (void)state;
    uint8_t junk[3] = {1, 2, 3}, *ans = (uint8_t *)"x";
    size_t len, out_len;
    ldns_pkt *p;

    assert_int_equal(dns_answer(junk, sizeof(junk), lookup, NULL, CTR, &ans, &out_len), -1);
    assert_null(ans);
    assert_int_equal(dns_answer(NULL, 0, lookup, NULL, CTR, &ans, &out_len), -1);
    assert_null(ans);

    /* A header announcing a question that is cut off: FORMERR with the id. */
    uint8_t *wire = query_wire("web", LDNS_RR_TYPE_A, 0xbeef, &len);
    assert_int_equal(dns_answer(wire, 15, lookup, NULL, CTR, &ans, &out_len), -1);
    p = parse(ans, out_len);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
    assert_int_equal(ldns_pkt_id(p), 0xbeef);
    assert_true(ldns_pkt_qr(p));
    ldns_pkt_free(p);
    free(ans);

    /* A response is never answered. */
    LDNS_QR_SET(wire);
    assert_int_equal(dns_answer(wire, len, lookup, NULL, CTR, &ans, &out_len), -1);
    assert_null(ans);
    free(wire);

    /* Two questions: FORMERR. */
    ldns_pkt *q = NULL;
    assert_int_equal(ldns_pkt_query_new_frm_str(&q, "web", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0),
                     LDNS_STATUS_OK);
    ldns_pkt_push_rr(q, LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
    assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
    ldns_pkt_free(q);
    assert_int_equal(dns_answer(wire, len, lookup, NULL, CTR, &ans, &out_len), -1);
    p = parse(ans, out_len);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
    ldns_pkt_free(p);
    free(ans);
    free(wire);
}

/* ---- live ---- */

struct upstream {
    int fd;
    struct sockaddr_in addr;
    pthread_t thread;
    int stop;
    int queries;
    int last_id; /* the id it saw last */
};

/* Answers every A query with 192.0.2.1 except for silent.example., which it ignores. */
static void *upstream_run(void *arg)
{
    struct upstream *u = arg;
    uint8_t buf[4096];

    while (!__atomic_load_n(&u->stop, __ATOMIC_SEQ_CST)) {
        struct pollfd pf = {u->fd, POLLIN, 0};
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ldns_pkt *q = NULL;

        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
            continue;
        __atomic_add_fetch(&u->queries, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&u->last_id, ldns_pkt_id(q), __ATOMIC_SEQ_CST);
        ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        char *name = ldns_rdf2str(ldns_rr_owner(qr));
        if (strcmp(name, "silent.example.") != 0) {
            ldns_pkt *r = ldns_pkt_new();
            ldns_rr *rr = NULL;
            uint8_t *wire;
            size_t len;
            char *text = xasprintf("%s 300 IN A 192.0.2.1", name);

            ldns_pkt_set_id(r, ldns_pkt_id(q));
            ldns_pkt_set_qr(r, true);
            ldns_pkt_set_ra(r, true);
            ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
            ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
            ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
            ldns_pkt2wire(&wire, r, &len);
            sendto(u->fd, wire, len, 0, (struct sockaddr *)&from, fl);
            free(wire);
            free(text);
            ldns_pkt_free(r);
        }
        free(name);
        ldns_pkt_free(q);
    }
    return NULL;
}

static struct upstream *upstream_start(void)
{
    struct upstream *u = xcalloc(1, sizeof(*u));
    socklen_t len = sizeof(u->addr);

    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    u->addr.sin_family = AF_INET;
    u->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(u->fd, (struct sockaddr *)&u->addr, sizeof(u->addr)), 0);
    assert_int_equal(getsockname(u->fd, (struct sockaddr *)&u->addr, &len), 0);
    assert_int_equal(pthread_create(&u->thread, NULL, upstream_run, u), 0);
    return u;
}

static void upstream_stop(struct upstream *u)
{
    __atomic_store_n(&u->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(u->thread, NULL);
    close(u->fd);
    free(u);
}

struct live {
    struct dns_server *s;
    struct upstream *up;
};

static void attach(struct live *l, size_t n_up)
{
    berr_t err = NULL;
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_ok(dns_bind(u, t, &err), err);
    assert_ok(dns_server_attach(l->s, CTR, u, t, &l->up->addr.sin_addr, n_up, &err), err);
}

static int live_setup(void **state)
{
    struct live *l = xcalloc(1, sizeof(*l));
    berr_t err = NULL;

    l->up = upstream_start();
    if (dns_server_start(lookup, NULL, &l->s, &err) < 0) {
        fprintf(stderr, "%s\n", berr_msg(err));
        return -1;
    }
    dns_server_set_upstream_port(l->s, ntohs(l->up->addr.sin_port));
    attach(l, 1);
    *state = l;
    return 0;
}

static int live_teardown(void **state)
{
    struct live *l = *state;

    dns_server_stop(l->s);
    upstream_stop(l->up);
    free(l);
    return 0;
}

static const struct sockaddr_in dns_addr = {.sin_family = AF_INET,
                                            .sin_port = __builtin_bswap16(53),
                                            .sin_addr.s_addr = __builtin_bswap32(0x7f00000b)};

static int client(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 5};

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (const struct sockaddr *)&dns_addr, sizeof(dns_addr)), 0);
    return fd;
}

static ldns_pkt *udp_ask(const char *name, ldns_rr_type type, uint16_t id)
{
    int fd = client(SOCK_DGRAM);
    size_t len;
    uint8_t *wire = query_wire(name, type, id, &len), buf[4096];

    assert_int_equal(send(fd, wire, len, 0), (ssize_t)len);
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0)
        fail_msg("no udp answer for %s: %s", name, strerror(errno));
    free(wire);
    close(fd);
    return parse(buf, (size_t)n);
}

static void read_all(int fd, uint8_t *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = recv(fd, buf + off, len - off, 0);
        if (n <= 0)
            fail_msg("tcp answer cut short: %s", n < 0 ? strerror(errno) : "eof");
        off += (size_t)n;
    }
}

static void tcp_send(int fd, const char *name, uint16_t id)
{
    size_t len;
    uint8_t *wire = query_wire(name, LDNS_RR_TYPE_A, id, &len);
    uint8_t *framed = malloc(len + 2);

    ldns_write_uint16(framed, (uint16_t)len);
    memcpy(framed + 2, wire, len);
    assert_int_equal(send(fd, framed, len + 2, 0), (ssize_t)(len + 2));
    free(framed);
    free(wire);
}

static ldns_pkt *tcp_recv(int fd)
{
    uint8_t hdr[2], buf[65535];

    read_all(fd, hdr, 2);
    read_all(fd, buf, ldns_read_uint16(hdr));
    return parse(buf, ldns_read_uint16(hdr));
}

static void test_live_udp(void **state)
{
    struct live *l = *state;
    char a[INET_ADDRSTRLEN];
    ldns_pkt *p;

    p = udp_ask("WEB.", LDNS_RR_TYPE_A, 0x4242);
    assert_int_equal(ldns_pkt_id(p), 0x4242);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_string_equal(answer_addr(p, 0, a), "10.0.0.2");
    ldns_pkt_free(p);
    assert_int_equal(__atomic_load_n(&l->up->queries, __ATOMIC_SEQ_CST), 0);

    p = udp_ask("www.example.org", LDNS_RR_TYPE_A, 0x1111);
    assert_int_equal(ldns_pkt_id(p), 0x1111);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_string_equal(
        inet_ntop(AF_INET, ldns_rdf_data(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0)), a,
                  sizeof(a)),
        "192.0.2.1");
    ldns_pkt_free(p);
    assert_int_equal(__atomic_load_n(&l->up->queries, __ATOMIC_SEQ_CST), 1);
}

static void test_live_timeout(void **state)
{
    struct live *l = *state;
    long long t0 = now_ms();
    int fd = client(SOCK_DGRAM);
    size_t len;
    uint8_t *wire = query_wire("silent.example", LDNS_RR_TYPE_A, 0x5151, &len);
    uint8_t buf[4096];
    char a[INET_ADDRSTRLEN];
    ldns_pkt *p;

    /* The silent query is pending while another is answered at once. */
    assert_int_equal(send(fd, wire, len, 0), (ssize_t)len);
    p = udp_ask("web", LDNS_RR_TYPE_A, 1);
    assert_string_equal(answer_addr(p, 0, a), "10.0.0.2");
    ldns_pkt_free(p);
    p = udp_ask("fast.example", LDNS_RR_TYPE_A, 2);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);
    assert_true(now_ms() - t0 < 1000);

    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    assert_true(n > 0);
    long long took = now_ms() - t0;
    assert_true(took >= 1900 && took < 3500);
    p = parse(buf, (size_t)n);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    assert_int_equal(ldns_pkt_id(p), 0x5151);
    ldns_pkt_free(p);
    free(wire);
    close(fd);
    (void)l;
}

static void test_live_tcp(void **state)
{
    struct live *l = *state;
    int fd = client(SOCK_STREAM);
    char a[INET_ADDRSTRLEN];
    ldns_pkt *p;

    tcp_send(fd, "db", 10);
    p = tcp_recv(fd);
    assert_int_equal(ldns_pkt_id(p), 10);
    assert_int_equal(ldns_pkt_ancount(p), 2);
    assert_string_equal(answer_addr(p, 1, a), "10.0.0.4");
    ldns_pkt_free(p);

    tcp_send(fd, "tcp.example.net", 11);
    p = tcp_recv(fd);
    assert_int_equal(ldns_pkt_id(p), 11);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);

    /* Pipelined: a forwarded one first, a local one second; answers in either order. */
    tcp_send(fd, "pipe.example.net", 12);
    tcp_send(fd, "web", 13);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        p = tcp_recv(fd);
        assert_int_equal(ldns_pkt_ancount(p), 1);
        seen |= ldns_pkt_id(p) == 12 ? 1 : ldns_pkt_id(p) == 13 ? 2 : 4;
        ldns_pkt_free(p);
    }
    assert_int_equal(seen, 3);
    close(fd);
    (void)l;
}

static void test_live_tcp_timeout(void **state)
{
    int fd = client(SOCK_STREAM);
    ldns_pkt *p;

    (void)state;
    tcp_send(fd, "silent.example", 20);
    p = tcp_recv(fd);
    assert_int_equal(ldns_pkt_id(p), 20);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    ldns_pkt_free(p);
    close(fd);
}

/* The upstream's id is not the client's: ids are remapped. */
static void test_live_id_remap(void **state)
{
    struct live *l = *state;
    int differ = 0;

    for (uint16_t id = 100; id < 104; id++) {
        ldns_pkt *p = udp_ask("remap.example", LDNS_RR_TYPE_A, id);
        assert_int_equal(ldns_pkt_id(p), id);
        differ += __atomic_load_n(&l->up->last_id, __ATOMIC_SEQ_CST) != id;
        ldns_pkt_free(p);
    }
    assert_true(differ >= 3);
}

static void test_live_detach(void **state)
{
    struct live *l = *state;
    int u = client(SOCK_DGRAM), t = client(SOCK_STREAM);
    size_t len;
    uint8_t *wire = query_wire("silent.example", LDNS_RR_TYPE_A, 3, &len), buf[512];
    berr_t err = NULL;

    /* A TCP connection open and a query being forwarded while the container goes. */
    assert_int_equal(send(u, wire, len, 0), (ssize_t)len);
    tcp_send(t, "silent.example", 4);
    usleep(100 * 1000);
    dns_server_detach(l->s, CTR);
    dns_server_detach(l->s, CTR); /* nothing attached: nothing happens */

    assert_int_equal(recv(t, buf, sizeof(buf), 0), 0); /* the server closed it */
    close(t);
    t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(t, (const struct sockaddr *)&dns_addr, sizeof(dns_addr)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(t);
    /* Nothing answers the pending query, and the port is free to bind again. */
    struct timeval tv = {.tv_sec = 3};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(recv(u, buf, sizeof(buf), 0), -1);
    close(u);
    int u2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_ok(dns_bind(u2, t2, &err), err);
    close(u2);
    close(t2);
    free(wire);

    /* Attached again with no upstream: what lookup does not know fails at once. */
    attach(l, 0);
    long long t0 = now_ms();
    ldns_pkt *p = udp_ask("www.example.org", LDNS_RR_TYPE_A, 9);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    assert_true(now_ms() - t0 < 1000);
    ldns_pkt_free(p);
    /* Replacing an attachment: detach first, so that the address is free. */
    dns_server_detach(l->s, CTR);
    attach(l, 1);
    p = udp_ask("www.example.org", LDNS_RR_TYPE_A, 10);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);
}

/* Stop while a query is pending and a connection is open: everything is freed (ASan). */
static void test_live_stop_busy(void **state)
{
    struct live *l = *state;
    int u = client(SOCK_DGRAM), t = client(SOCK_STREAM);
    size_t len;
    uint8_t *wire = query_wire("silent.example", LDNS_RR_TYPE_A, 3, &len);

    assert_int_equal(send(u, wire, len, 0), (ssize_t)len);
    tcp_send(t, "silent.example", 4);
    usleep(100 * 1000);
    free(wire);
    close(u);
    close(t);
    (void)l; /* live_teardown stops the server now */
}

static void test_attach_bad_fd(void **state)
{
    struct dns_server *s;
    berr_t err = NULL;

    (void)state;
    assert_ok(dns_server_start(lookup, NULL, &s, &err), err);
    assert_int_equal(dns_server_attach(s, "x", -1, -1, NULL, 0, &err), -1);
    assert_msg_has(err, "container x");
    berr_free(&err);
    dns_server_stop(s);
}

/* The lo of the fresh namespace starts down. */
static int lo_up(void)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int r;

    strcpy(ifr.ifr_name, "lo");
    r = fd < 0 ? -1 : ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (fd >= 0)
        close(fd);
    return r;
}

int main(void)
{
    if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
        fprintf(stderr, "test_dns needs root (a network namespace of its own): %s\n",
                strerror(errno));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_known),
        cmocka_unit_test(test_answer_forward),
        cmocka_unit_test(test_answer_aaaa),
        cmocka_unit_test(test_answer_fits_udp),
        cmocka_unit_test(test_answer_garbage),
        cmocka_unit_test(test_attach_bad_fd),
        cmocka_unit_test_setup_teardown(test_live_udp, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_timeout, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_tcp, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_tcp_timeout, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_id_remap, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_detach, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_stop_busy, live_setup, live_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
