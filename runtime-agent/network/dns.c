/* berthd's embedded DNS server (see dns.h).
 *
 * dns_answer() is the pure part, shared by the server, the unit tests and the fuzz target:
 * ldns_wire2pkt, the lookup callback, a reply built with ldns_pkt_* / ldns_rr_* and
 * ldns_pkt2wire. A response (QR set) is never answered, so two resolvers cannot ping-pong.
 *
 * The server is one thread with an epoll loop over an eventfd (stop), the upstream socket
 * (UDP, in the namespace berthd started in, on an ephemeral port) and, for each attached
 * container, its UDP socket, its TCP listener and its TCP connections. Epoll entries carry a
 * serial number, never a pointer: an event of a socket that detach closed meanwhile finds
 * nothing and is dropped.
 *
 * One mutex guards containers, connections and pending queries. The thread holds it except
 * in epoll_wait and while the lookup callback runs (the callback may take berthd's locks,
 * which a caller of attach or detach may hold); after the callback it finds the container
 * again by serial. attach and detach take the mutex and do their work at once: when detach
 * returns, the container's sockets are closed and its pending queries dropped.
 *
 * Forwarding: the query goes upstream rebuilt with a random id no pending query uses (a
 * 65536-slot table), to the first server; each further server is tried after its share of
 * the 2 s; at 2 s the client gets SERVFAIL. A reply counts only from a server tried for
 * that id and with the same question; it is relayed with the client's id, rebuilt by ldns.
 * Timeouts are handled by the loop itself (epoll_wait's timeout is the next due time).
 *
 * TCP: each connection has an input buffer for the length-prefixed messages (pipelined
 * queries are all answered, possibly out of order as RFC 7766 allows) and an output buffer
 * written as the socket takes it. TCP queries are forwarded over UDP like the others, which
 * keeps one upstream path; an answer too big for UDP reaches the client truncated (TC).
 * A container has at most 16 connections, each closed after 10 s without traffic or when
 * the client closes its side. */
#include "runtime-agent/network/dns.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/log.h"

#define DNS_TTL 600
#define DNS_MAX_ADDRS 16
#define UDP_PLAIN 512 /* the largest answer over UDP for a query without EDNS */
#define FORWARD_MS 2000
#define MAX_PENDING 4096
#define MAX_CONNS 16
#define CONN_IDLE_MS 10000
#define CONN_IN (2 + 65535)
#define CONN_OUT_MAX (256 * 1024)
#define BATCH 64
#define NEVER LLONG_MAX

enum ev_kind { EV_WAKE, EV_UPSTREAM, EV_UDP, EV_LISTEN, EV_CONN };
#define TOKEN(serial, kind) (((uint64_t)(serial) << 3) | (uint64_t)(kind))

/* ---- answering one message ---- */

/* A reply to Q: its id, opcode, RD, CD and question, with QR and RA set. */
static ldns_pkt *reply_to(const ldns_pkt *q, uint8_t rcode)
{
    ldns_pkt *r = ldns_pkt_new();
    ldns_rr_list *qs = ldns_pkt_question(q);

    if (r == NULL)
        return NULL;
    ldns_pkt_set_id(r, ldns_pkt_id(q));
    ldns_pkt_set_qr(r, true);
    ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
    ldns_pkt_set_rd(r, ldns_pkt_rd(q));
    ldns_pkt_set_cd(r, ldns_pkt_cd(q));
    ldns_pkt_set_ra(r, true);
    ldns_pkt_set_rcode(r, rcode);
    for (size_t i = 0; i < ldns_rr_list_rr_count(qs); i++) {
        ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(qs, i));
        if (rr == NULL || !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, rr)) {
            ldns_rr_free(rr);
            ldns_pkt_free(r);
            return NULL;
        }
    }
    return r;
}

/* A reply with RCODE to a message of which only the header could be read. */
static ldns_pkt *reply_to_header(const uint8_t *msg, uint8_t rcode)
{
    ldns_pkt *r = ldns_pkt_new();

    if (r == NULL)
        return NULL;
    ldns_pkt_set_id(r, LDNS_ID_WIRE(msg));
    ldns_pkt_set_qr(r, true);
    ldns_pkt_set_opcode(r, (ldns_pkt_opcode)LDNS_OPCODE_WIRE(msg));
    ldns_pkt_set_rd(r, LDNS_RD_WIRE(msg) != 0);
    ldns_pkt_set_rcode(r, rcode);
    return r;
}

/* P in wire format (malloc'ed), or -1. */
static int encode(const ldns_pkt *p, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (p == NULL || ldns_pkt2wire(out, p, len) != LDNS_STATUS_OK) {
        free(*out);
        *out = NULL;
        *len = 0;
        return -1;
    }
    return 0;
}

/* The question's name as the lookup callback gets it: lowercase, no trailing dot, special
 * characters escaped as in zone files. NULL for the root. */
static char *lookup_name(const ldns_rr *question)
{
    ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(question));
    char *s;
    size_t n;

    if (owner == NULL)
        return NULL;
    ldns_dname2canonical(owner);
    s = ldns_rdf2str(owner);
    ldns_rdf_deep_free(owner);
    if (s == NULL)
        return NULL;
    n = strlen(s);
    if (n > 0 && s[n - 1] == '.')
        s[--n] = '\0';
    if (n == 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The local answer to Q (one question, class IN, a name lookup knows): N of ADDRS as A
 * records for an A query, none for other types. TC set when TRUNCATED. */
static ldns_pkt *local_reply(const ldns_pkt *q, const struct in_addr *addrs, size_t n,
                             bool truncated)
{
    const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    ldns_pkt *r = reply_to(q, LDNS_RCODE_NOERROR);

    if (r == NULL)
        return NULL;
    ldns_pkt_set_aa(r, true);
    ldns_pkt_set_tc(r, truncated);
    if (ldns_rr_get_type(question) != LDNS_RR_TYPE_A)
        return r;
    for (size_t i = 0; i < n; i++) {
        ldns_rr *rr = ldns_rr_new();
        ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(question));
        ldns_rdf *a = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(addrs[i]), &addrs[i]);

        if (rr == NULL || owner == NULL || a == NULL) {
            ldns_rr_free(rr);
            ldns_rdf_deep_free(owner);
            ldns_rdf_deep_free(a);
            ldns_pkt_free(r);
            return NULL;
        }
        ldns_rr_set_owner(rr, owner);
        ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
        ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
        ldns_rr_set_ttl(rr, DNS_TTL);
        if (!ldns_rr_push_rdf(rr, a)) {
            ldns_rdf_deep_free(a);
            ldns_rr_free(rr);
            ldns_pkt_free(r);
            return NULL;
        }
        if (!ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr)) {
            ldns_rr_free(rr);
            ldns_pkt_free(r);
            return NULL;
        }
    }
    return r;
}

/* Answer Q (a parsed query with one question) from LOOKUP: 1 with *OUT, or 0 to forward. */
static int answer_local(const ldns_pkt *q, dns_lookup_fn lookup, void *opaque, const char *ctr_id,
                        uint8_t **out, size_t *out_len)
{
    const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    struct in_addr addrs[DNS_MAX_ADDRS];
    size_t n, limit = UDP_PLAIN;
    char *name;

    if (question == NULL || ldns_rr_get_class(question) != LDNS_RR_CLASS_IN)
        return 0;
    name = lookup_name(question);
    if (name == NULL)
        return 0;
    n = lookup(opaque, ctr_id, name, addrs, DNS_MAX_ADDRS);
    free(name);
    if (n == 0)
        return 0;
    if (n > DNS_MAX_ADDRS)
        n = DNS_MAX_ADDRS;
    if (ldns_pkt_edns(q) && ldns_pkt_edns_udp_size(q) > limit)
        limit = ldns_pkt_edns_udp_size(q);
    /* dns_answer does not know the transport: keep every answer within what the client
     * takes over UDP, dropping records (and setting TC) until it fits. */
    for (size_t k = n;; k--) {
        ldns_pkt *r = local_reply(q, addrs, k, k < n);
        int rc = encode(r, out, out_len);

        ldns_pkt_free(r);
        if (rc == 0 && (*out_len <= limit || k == 0))
            return 1;
        free(*out);
        *out = NULL;
        *out_len = 0;
        if (rc < 0 || k == 0)
            return 1; /* nothing sent: the client retries */
    }
}

/* dns_answer's work. When the query must be forwarded (0), *KEEP (if not NULL) gets it. */
static int answer(const uint8_t *msg, size_t len, dns_lookup_fn lookup, void *opaque,
                  const char *ctr_id, ldns_pkt **keep, uint8_t **out, size_t *out_len)
{
    ldns_pkt *q = NULL, *r = NULL;
    int ret;

    *out = NULL;
    *out_len = 0;
    if (keep)
        *keep = NULL;
    if (msg == NULL || len < LDNS_HEADER_SIZE || LDNS_QR_WIRE(msg))
        return -1; /* no header, or a response: never answered */
    if (ldns_wire2pkt(&q, msg, len) != LDNS_STATUS_OK) {
        r = reply_to_header(msg, LDNS_RCODE_FORMERR);
        ret = -1;
    } else if (ldns_pkt_get_opcode(q) != LDNS_PACKET_QUERY) {
        r = reply_to(q, LDNS_RCODE_NOTIMPL);
        ret = 1;
    } else if (ldns_pkt_qdcount(q) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1) {
        r = reply_to(q, LDNS_RCODE_FORMERR);
        ret = -1;
    } else {
        ret = answer_local(q, lookup, opaque, ctr_id, out, out_len);
        if (ret == 0 && keep) {
            *keep = q;
            q = NULL;
        }
    }
    if (r)
        encode(r, out, out_len);
    ldns_pkt_free(r);
    ldns_pkt_free(q);
    return ret;
}

int dns_answer(const unsigned char *msg, size_t len, dns_lookup_fn lookup, void *opaque,
               const char *ctr_id, unsigned char **out, size_t *out_len)
{
    return answer(msg, len, lookup, opaque, ctr_id, NULL, out, out_len);
}

/* ---- the server ---- */

struct conn {
    struct conn *next;
    uint64_t serial;
    int fd;
    bool want_out; /* EPOLLOUT requested */
    uint8_t *in;   /* CONN_IN bytes */
    size_t in_len;
    uint8_t *out;
    size_t out_len, out_off;
    long long idle_at;
};

struct ctr {
    struct ctr *next;
    char *id;
    uint64_t serial;
    int udp_fd, tcp_fd;
    struct sockaddr_in *up;
    size_t n_up;
    struct conn *conns;
    size_t n_conns;
};

struct pending {
    struct pending *prev, *next;
    uint16_t id;          /* ours, upstream */
    uint64_t ctr_serial;  /* who asked */
    uint64_t conn_serial; /* 0: over UDP from CLIENT */
    struct sockaddr_storage client;
    socklen_t client_len;
    ldns_pkt *query; /* as the client sent it (its id) */
    uint8_t *wire;   /* as it goes upstream (our id) */
    size_t wire_len;
    struct sockaddr_in *up; /* the container's servers when it asked */
    size_t n_up, tried;
    long long start, next_at;
};

struct dns_server {
    dns_lookup_fn lookup;
    void *opaque;
    pthread_mutex_t lock;
    pthread_t thread;
    bool stop;
    int ep, wake, up_fd;
    uint64_t next_serial;
    struct ctr *ctrs;
    struct pending *pend_head, *pend_tail;
    size_t n_pending;
    struct pending **by_id; /* 65536 slots */
    long long next_sweep;
    uint16_t up_port;   /* network order */
    uint8_t buf[65536]; /* the thread's receive buffer */
};

static struct ctr *find_ctr(struct dns_server *s, uint64_t serial)
{
    for (struct ctr *c = s->ctrs; c; c = c->next)
        if (c->serial == serial)
            return c;
    return NULL;
}

static struct conn *find_conn(struct ctr *c, uint64_t serial)
{
    for (struct conn *k = c ? c->conns : NULL; k; k = k->next)
        if (k->serial == serial)
            return k;
    return NULL;
}

static void due_at(struct dns_server *s, long long t)
{
    if (t < s->next_sweep)
        s->next_sweep = t;
}

static void unwatch_close(struct dns_server *s, int fd)
{
    if (fd < 0)
        return;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

static void conn_close(struct dns_server *s, struct ctr *c, struct conn *k)
{
    for (struct conn **pp = &c->conns; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            c->n_conns--;
            break;
        }
    }
    unwatch_close(s, k->fd);
    free(k->in);
    free(k->out);
    free(k);
}

static void pending_free(struct dns_server *s, struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pend_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        s->pend_tail = p->prev;
    s->by_id[p->id] = NULL;
    s->n_pending--;
    ldns_pkt_free(p->query);
    free(p->wire);
    free(p->up);
    free(p);
}

static void ctr_free(struct dns_server *s, struct ctr *c)
{
    while (c->conns)
        conn_close(s, c, c->conns);
    unwatch_close(s, c->udp_fd);
    unwatch_close(s, c->tcp_fd);
    free(c->up);
    free(c->id);
    free(c);
}

/* Write what K has buffered; -1 when the connection was closed. */
static int conn_flush(struct dns_server *s, struct ctr *c, struct conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w =
            send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            conn_close(s, c, k);
            return -1;
        }
        k->out_off += (size_t)w;
        k->idle_at = now_ms() + CONN_IDLE_MS;
        due_at(s, k->idle_at);
    }
    if (k->out_off == k->out_len)
        k->out_off = k->out_len = 0;
    bool want = k->out_len > 0;
    if (want != k->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.u64 = TOKEN(k->serial, EV_CONN)};
        if (epoll_ctl(s->ep, EPOLL_CTL_MOD, k->fd, &ev) < 0) {
            conn_close(s, c, k);
            return -1;
        }
        k->want_out = want;
    }
    return 0;
}

/* Queue MSG on K with its 2-byte length prefix and write what the socket takes. */
static void conn_send(struct dns_server *s, struct ctr *c, struct conn *k, const uint8_t *msg,
                      size_t len)
{
    size_t need = k->out_len + 2 + len;

    if (len > 65535 || need > CONN_OUT_MAX) {
        conn_close(s, c, k); /* a client that does not read its answers */
        return;
    }
    uint8_t *grown = realloc(k->out, need);
    if (grown == NULL) {
        conn_close(s, c, k);
        return;
    }
    k->out = grown;
    ldns_write_uint16(k->out + k->out_len, (uint16_t)len);
    memcpy(k->out + k->out_len + 2, msg, len);
    k->out_len = need;
    conn_flush(s, c, k);
}

/* Send MSG to the client: over UDP to FROM, or on connection CONN_SERIAL of C. */
static void deliver(struct dns_server *s, struct ctr *c, uint64_t conn_serial,
                    const struct sockaddr_storage *from, socklen_t from_len, const uint8_t *msg,
                    size_t len)
{
    if (msg == NULL)
        return;
    if (conn_serial == 0) {
        if (sendto(c->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)from,
                   from_len) < 0)
            log_debug("dns: container %s: answer over udp: %s", c->id, strerror(errno));
        return;
    }
    struct conn *k = find_conn(c, conn_serial);
    if (k)
        conn_send(s, c, k, msg, len);
}

static void deliver_pkt(struct dns_server *s, struct ctr *c, uint64_t conn_serial,
                        const struct sockaddr_storage *from, socklen_t from_len, const ldns_pkt *p)
{
    uint8_t *wire;
    size_t len;

    if (encode(p, &wire, &len) < 0)
        return;
    deliver(s, c, conn_serial, from, from_len, wire, len);
    free(wire);
}

static void servfail(struct dns_server *s, struct ctr *c, uint64_t conn_serial,
                     const struct sockaddr_storage *from, socklen_t from_len, const ldns_pkt *q)
{
    ldns_pkt *r = reply_to(q, LDNS_RCODE_SERVFAIL);

    deliver_pkt(s, c, conn_serial, from, from_len, r);
    ldns_pkt_free(r);
}

static void send_up(struct dns_server *s, struct pending *p)
{
    const struct sockaddr_in *to = &p->up[p->tried++];

    if (sendto(s->up_fd, p->wire, p->wire_len, MSG_DONTWAIT, (const struct sockaddr *)to,
               sizeof(*to)) < 0)
        log_debug("dns: forward to upstream: %s", strerror(errno));
    /* Each server has its share of the 2 s; the last one has what is left. */
    p->next_at = p->tried < p->n_up ? p->start + (long long)(p->tried * FORWARD_MS / p->n_up)
                                    : p->start + FORWARD_MS;
}

/* Forward Q (taken) for container C; SERVFAIL at once when there is no server or room. */
static void forward(struct dns_server *s, struct ctr *c, uint64_t conn_serial,
                    const struct sockaddr_storage *from, socklen_t from_len, ldns_pkt *q)
{
    uint16_t orig = ldns_pkt_id(q), id;
    struct pending *p;

    if (c->n_up == 0 || s->n_pending >= MAX_PENDING) {
        servfail(s, c, conn_serial, from, from_len, q);
        ldns_pkt_free(q);
        return;
    }
    do
        id = (uint16_t)arc4random();
    while (s->by_id[id]);
    p = xcalloc(1, sizeof(*p));
    ldns_pkt_set_id(q, id);
    int rc = encode(q, &p->wire, &p->wire_len);
    ldns_pkt_set_id(q, orig);
    if (rc < 0) {
        free(p);
        servfail(s, c, conn_serial, from, from_len, q);
        ldns_pkt_free(q);
        return;
    }
    p->id = id;
    p->ctr_serial = c->serial;
    p->conn_serial = conn_serial;
    if (from) {
        memcpy(&p->client, from, from_len);
        p->client_len = from_len;
    }
    p->query = q;
    p->up = xcalloc(c->n_up, sizeof(*p->up));
    memcpy(p->up, c->up, c->n_up * sizeof(*p->up));
    p->n_up = c->n_up;
    p->start = now_ms();
    p->prev = s->pend_tail;
    if (s->pend_tail)
        s->pend_tail->next = p;
    else
        s->pend_head = p;
    s->pend_tail = p;
    s->by_id[id] = p;
    s->n_pending++;
    send_up(s, p);
    due_at(s, p->next_at);
}

/* The callback without the lock, so that it may take berthd's locks. */
static size_t unlocked_lookup(void *opaque, const char *ctr_id, const char *name,
                              struct in_addr *out, size_t max)
{
    struct dns_server *s = opaque;

    pthread_mutex_unlock(&s->lock);
    size_t n = s->lookup(s->opaque, ctr_id, name, out, max);
    pthread_mutex_lock(&s->lock);
    return n;
}

/* One query from container C (on connection CONN_SERIAL, or over UDP from FROM). */
static void handle_query(struct dns_server *s, struct ctr *c, uint64_t conn_serial,
                         const uint8_t *msg, size_t len, const struct sockaddr_storage *from,
                         socklen_t from_len)
{
    uint64_t serial = c->serial;
    char *id = xstrdup(c->id);
    ldns_pkt *q = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int r = answer(msg, len, unlocked_lookup, s, id, &q, &out, &out_len);

    free(id);
    c = find_ctr(s, serial); /* detached while the callback ran? */
    if (c && r == 0 && q)
        forward(s, c, conn_serial, from, from_len, steal_pointer(&q));
    else if (c && out)
        deliver(s, c, conn_serial, from, from_len, out, out_len);
    ldns_pkt_free(q);
    free(out);
}

static void udp_read(struct dns_server *s, uint64_t serial)
{
    for (int i = 0; i < BATCH; i++) {
        struct ctr *c = find_ctr(s, serial);
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);

        if (c == NULL)
            return;
        ssize_t r = recvfrom(c->udp_fd, s->buf, sizeof(s->buf), MSG_DONTWAIT,
                             (struct sockaddr *)&from, &from_len);
        if (r < 0)
            return;
        handle_query(s, c, 0, s->buf, (size_t)r, &from, from_len);
    }
}

static void tcp_accept(struct dns_server *s, struct ctr *c)
{
    for (int i = 0; i < BATCH; i++) {
        int fd = accept4(c->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (c->n_conns >= MAX_CONNS) {
            close(fd);
            continue;
        }
        struct conn *k = xcalloc(1, sizeof(*k));
        k->fd = fd;
        k->serial = ++s->next_serial;
        k->in = malloc(CONN_IN);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN(k->serial, EV_CONN)};
        if (k->in == NULL || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(k->in);
            free(k);
            continue;
        }
        k->idle_at = now_ms() + CONN_IDLE_MS;
        due_at(s, k->idle_at);
        k->next = c->conns;
        c->conns = k;
        c->n_conns++;
    }
}

static void conn_read(struct dns_server *s, struct ctr *c, struct conn *k)
{
    uint64_t cs = c->serial, ks = k->serial;
    ssize_t r = recv(k->fd, k->in + k->in_len, CONN_IN - k->in_len, MSG_DONTWAIT);

    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r <= 0) {
        conn_close(s, c, k);
        return;
    }
    k->in_len += (size_t)r;
    k->idle_at = now_ms() + CONN_IDLE_MS;
    due_at(s, k->idle_at);
    while (k->in_len >= 2) {
        size_t m = ldns_read_uint16(k->in);
        if (k->in_len < 2 + m)
            break;
        /* Out of the connection's buffer: the callback may run while it is closed. */
        memcpy(s->buf, k->in + 2, m);
        k->in_len -= 2 + m;
        memmove(k->in, k->in + 2 + m, k->in_len);
        handle_query(s, c, ks, s->buf, m, NULL, 0);
        c = find_ctr(s, cs);
        if ((k = find_conn(c, ks)) == NULL)
            return;
    }
}

static bool same_question(const ldns_pkt *a, const ldns_pkt *b)
{
    const ldns_rr *qa = ldns_rr_list_rr(ldns_pkt_question(a), 0);
    const ldns_rr *qb = ldns_rr_list_rr(ldns_pkt_question(b), 0);

    return qa && qb && ldns_pkt_qdcount(b) == 1 && ldns_rr_get_type(qa) == ldns_rr_get_type(qb) &&
           ldns_rr_get_class(qa) == ldns_rr_get_class(qb) &&
           ldns_dname_compare(ldns_rr_owner(qa), ldns_rr_owner(qb)) == 0;
}

static bool tried(const struct pending *p, const struct sockaddr_in *from)
{
    for (size_t i = 0; i < p->tried; i++)
        if (p->up[i].sin_addr.s_addr == from->sin_addr.s_addr &&
            p->up[i].sin_port == from->sin_port)
            return true;
    return false;
}

static void upstream_read(struct dns_server *s)
{
    for (int i = 0; i < BATCH; i++) {
        struct sockaddr_in from;
        socklen_t from_len = sizeof(from);
        ldns_pkt *rep = NULL;
        ssize_t r = recvfrom(s->up_fd, s->buf, sizeof(s->buf), MSG_DONTWAIT,
                             (struct sockaddr *)&from, &from_len);

        if (r < 0)
            return;
        if (from_len != sizeof(from) || from.sin_family != AF_INET ||
            ldns_wire2pkt(&rep, s->buf, (size_t)r) != LDNS_STATUS_OK)
            continue;
        struct pending *p = s->by_id[ldns_pkt_id(rep)];
        if (p && ldns_pkt_qr(rep) && tried(p, &from) && same_question(p->query, rep)) {
            struct ctr *c = find_ctr(s, p->ctr_serial);
            ldns_pkt_set_id(rep, ldns_pkt_id(p->query));
            if (c)
                deliver_pkt(s, c, p->conn_serial, &p->client, p->client_len, rep);
            pending_free(s, p);
        }
        ldns_pkt_free(rep);
    }
}

/* Retries, timeouts and idle connections; sets when it is due again. */
static void sweep(struct dns_server *s)
{
    long long now = now_ms(), next = NEVER;

    for (struct pending *p = s->pend_head, *n; p; p = n) {
        n = p->next;
        if (now >= p->start + FORWARD_MS) {
            struct ctr *c = find_ctr(s, p->ctr_serial);
            if (c)
                servfail(s, c, p->conn_serial, &p->client, p->client_len, p->query);
            pending_free(s, p);
            continue;
        }
        if (now >= p->next_at && p->tried < p->n_up)
            send_up(s, p);
        if (p->next_at < next)
            next = p->next_at;
    }
    for (struct ctr *c = s->ctrs; c; c = c->next) {
        for (struct conn *k = c->conns, *n; k; k = n) {
            n = k->next;
            if (now >= k->idle_at)
                conn_close(s, c, k);
            else if (k->idle_at < next)
                next = k->idle_at;
        }
    }
    s->next_sweep = next;
}

static void dispatch(struct dns_server *s, uint64_t token, uint32_t events)
{
    uint64_t serial = token >> 3;
    struct ctr *c;
    uint64_t v;

    switch ((enum ev_kind)(token & 7)) {
    case EV_WAKE:
        if (read(s->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
            log_debug("dns: wake: %s", strerror(errno));
        break;
    case EV_UPSTREAM:
        upstream_read(s);
        break;
    case EV_UDP:
        udp_read(s, serial);
        break;
    case EV_LISTEN:
        if ((c = find_ctr(s, serial)) != NULL)
            tcp_accept(s, c);
        break;
    case EV_CONN:
        for (c = s->ctrs; c; c = c->next) {
            struct conn *k = find_conn(c, serial);
            if (k == NULL)
                continue;
            if ((events & EPOLLOUT) && conn_flush(s, c, k) < 0)
                break;
            if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_read(s, c, k);
            break;
        }
        break;
    }
}

static void *run(void *arg)
{
    struct dns_server *s = arg;
    struct epoll_event evs[32];

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        long long wait = s->next_sweep == NEVER ? -1 : s->next_sweep - now_ms();
        if (wait < 0 && s->next_sweep != NEVER)
            wait = 0;
        if (wait > INT_MAX)
            wait = INT_MAX;
        pthread_mutex_unlock(&s->lock);
        int n = epoll_wait(s->ep, evs, 32, (int)wait);
        int e = errno;
        pthread_mutex_lock(&s->lock);
        if (n < 0 && e != EINTR) {
            log_error("dns: epoll_wait: %s", strerror(e));
            break;
        }
        for (int i = 0; i < n && !s->stop; i++)
            dispatch(s, evs[i].data.u64, evs[i].events);
        if (now_ms() >= s->next_sweep)
            sweep(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int watch(struct dns_server *s, int fd, uint64_t token)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = token};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void server_free(struct dns_server *s)
{
    while (s->ctrs) {
        struct ctr *c = s->ctrs;
        s->ctrs = c->next;
        ctr_free(s, c);
    }
    while (s->pend_head)
        pending_free(s, s->pend_head);
    if (s->up_fd >= 0)
        close(s->up_fd);
    if (s->wake >= 0)
        close(s->wake);
    if (s->ep >= 0)
        close(s->ep);
    free(s->by_id);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int dns_server_start(dns_lookup_fn lookup, void *opaque, struct dns_server **out, berr_t *err)
{
    struct dns_server *s = xcalloc(1, sizeof(*s));
    int e;

    s->lookup = lookup;
    s->opaque = opaque;
    s->next_sweep = NEVER;
    s->up_port = htons(53);
    s->by_id = xcalloc(65536, sizeof(*s->by_id));
    pthread_mutex_init(&s->lock, NULL);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->ep < 0 || s->wake < 0 || s->up_fd < 0 || watch(s, s->wake, TOKEN(0, EV_WAKE)) < 0 ||
        watch(s, s->up_fd, TOKEN(0, EV_UPSTREAM)) < 0) {
        e = errno;
        server_free(s);
        return berr_set(err, e, "dns server: set up its sockets");
    }
    if ((e = pthread_create(&s->thread, NULL, run, s)) != 0) {
        server_free(s);
        return berr_set(err, e, "dns server: start its thread");
    }
    *out = s;
    return 0;
}

int dns_bind(int udp_fd, int tcp_fd, berr_t *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(53),
                            .sin_addr.s_addr = htonl(0x7f00000b)}; /* 127.0.0.11 */
    int one = 1;

    if (bind(udp_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return berr_set(err, errno, "dns: bind udp 127.0.0.11:53");
    if (setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(tcp_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(tcp_fd, 64) < 0)
        return berr_set(err, errno, "dns: listen on tcp 127.0.0.11:53");
    return 0;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Unlink and free CTR_ID's attachment; the lock is held. */
static void detach_locked(struct dns_server *s, const char *ctr_id)
{
    for (struct ctr **pp = &s->ctrs; *pp; pp = &(*pp)->next) {
        struct ctr *c = *pp;
        if (strcmp(c->id, ctr_id) != 0)
            continue;
        *pp = c->next;
        for (struct pending *p = s->pend_head, *n; p; p = n) {
            n = p->next;
            if (p->ctr_serial == c->serial)
                pending_free(s, p);
        }
        ctr_free(s, c);
        return;
    }
}

int dns_server_attach(struct dns_server *s, const char *ctr_id, int udp_fd, int tcp_fd,
                      const struct in_addr *upstream, size_t n, berr_t *err)
{
    struct ctr *c = xcalloc(1, sizeof(*c));
    int e;

    c->udp_fd = udp_fd;
    c->tcp_fd = tcp_fd;
    c->id = xstrdup(ctr_id);
    if (n > 0) {
        c->up = xcalloc(n, sizeof(*c->up));
        c->n_up = n;
    }
    if (udp_fd < 0 || tcp_fd < 0 || set_nonblock(udp_fd) < 0 || set_nonblock(tcp_fd) < 0) {
        e = udp_fd < 0 || tcp_fd < 0 ? EBADF : errno;
        if (udp_fd >= 0)
            close(udp_fd);
        if (tcp_fd >= 0)
            close(tcp_fd);
        c->udp_fd = c->tcp_fd = -1;
        ctr_free(s, c);
        return berr_set(err, e, "dns: container %s: attach its sockets", ctr_id);
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        c->up[i] = (struct sockaddr_in){
            .sin_family = AF_INET, .sin_port = s->up_port, .sin_addr = upstream[i]};
    detach_locked(s, ctr_id);
    c->serial = ++s->next_serial;
    if (watch(s, udp_fd, TOKEN(c->serial, EV_UDP)) < 0 ||
        watch(s, tcp_fd, TOKEN(c->serial, EV_LISTEN)) < 0) {
        e = errno;
        ctr_free(s, c);
        pthread_mutex_unlock(&s->lock);
        return berr_set(err, e, "dns: container %s: watch its sockets", ctr_id);
    }
    c->next = s->ctrs;
    s->ctrs = c;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void dns_server_set_upstream_port(struct dns_server *s, uint16_t port)
{
    pthread_mutex_lock(&s->lock);
    s->up_port = htons(port);
    pthread_mutex_unlock(&s->lock);
}

void dns_server_detach(struct dns_server *s, const char *ctr_id)
{
    if (s == NULL || ctr_id == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    detach_locked(s, ctr_id);
    pthread_mutex_unlock(&s->lock);
}

void dns_server_stop(struct dns_server *s)
{
    uint64_t one = 1;

    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_mutex_unlock(&s->lock);
    if (write(s->wake, &one, sizeof(one)) < 0)
        log_warn("dns server: wake its thread: %s", strerror(errno));
    pthread_join(s->thread, NULL);
    server_free(s);
}
