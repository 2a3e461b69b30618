/* The userland proxy behind published ports; the design is described in portproxy.h. */
#include "runtime-agent/network/portproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/log.h"

#define MAX_BINDINGS 1024
#define RELAY_BUF (64 * 1024)
#define UDP_BUF 65536 /* more than the largest IPv4 datagram */
#define BURST 64      /* reads per readiness, so one busy socket cannot starve the others */
#define UDP_IDLE_MS (PORTPROXY_UDP_IDLE_SECONDS * 1000LL)

/* What an epoll event points at: each of these structures starts with its kind. */
enum kind { K_STOP, K_TCP, K_UDP, K_FLOW };

struct binding {
    enum kind kind; /* K_TCP or K_UDP */
    int fd;         /* the listening (TCP) or receiving (UDP) host socket */
    int ctr_port;
    bool any_addr; /* bound to 0.0.0.0: replies leave from the address the client wrote to */
};

/* A UDP client of a binding, with its own socket in the container's namespace. */
struct flow {
    enum kind kind; /* K_FLOW */
    int fd;
    bool dead; /* ended during this round of events; freed after it */
    struct binding *b;
    struct sockaddr_in client;
    struct in_addr local; /* the host address the client's datagrams went to */
    long long last_ms;
    struct flow *prev, *next; /* the flow list, least recently active first */
};

struct port_proxy {
    struct binding **b;
    size_t n;
    int ns_fd;   /* the container's network namespace */
    int own_ns;  /* berthd's, to return to after a setns */
    int stop[2]; /* a pipe: writing to it ends the proxy thread */
    int ep;
    enum kind stop_kind; /* what the stop pipe's events point at */
    pthread_t thread;
    bool running;
    /* Owned by the proxy thread while it runs. */
    struct flow *head, *tail, *dead;
    size_t n_flows;
    char *buf;
};

/* ---- parsing --------------------------------------------------------------------------- */

/* A decimal number 1..65535 at *S (advanced past it); 0 when there is none. */
static int parse_num(const char **s)
{
    const char *p = *s;
    long v = 0;

    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > 65535)
            return 0;
    }
    *s = p;
    return (int)v;
}

static const char *proto_name(int proto)
{
    return proto == IPPROTO_UDP ? "udp" : "tcp";
}

int portproxy_parse(const char *key, const char *host_ip, const char *host_port,
                    struct port_spec *out, berr_t *err)
{
    const char *s = key ? key : "";
    int ctr = parse_num(&s);
    const char *proto;

    memset(out, 0, sizeof(*out));
    if (ctr == 0 || (*s != '\0' && *s != '/'))
        return http_err(err, EINVAL, "invalid port specification: \"%s\"", key ? key : "");
    proto = *s == '/' ? s + 1 : "tcp";
    if (strcmp(proto, "tcp") == 0)
        out->proto = IPPROTO_TCP;
    else if (strcmp(proto, "udp") == 0)
        out->proto = IPPROTO_UDP;
    else if (strcmp(proto, "sctp") == 0)
        return http_err(err, EINVAL, "cannot publish %d/sctp: only tcp and udp ports are published",
                        ctr);
    else
        return http_err(err, EINVAL, "invalid protocol \"%s\" in port specification \"%s\"", proto,
                        key);
    out->ctr_port = ctr;

    out->ip.s_addr = htonl(INADDR_ANY);
    if (host_ip && *host_ip && inet_pton(AF_INET, host_ip, &out->ip) != 1) {
        if (strchr(host_ip, ':'))
            return http_err(err, EINVAL,
                            "cannot publish %d/%s on \"%s\": ports are published on IPv4 "
                            "addresses only",
                            ctr, proto, host_ip);
        return http_err(err, EINVAL, "invalid host IP \"%s\" for %d/%s", host_ip, ctr, proto);
    }

    if (host_port == NULL || *host_port == '\0' || strcmp(host_port, "0") == 0)
        return 0; /* any free port */
    s = host_port;
    out->first = out->last = parse_num(&s);
    if (out->first && *s == '-') {
        s++;
        out->last = parse_num(&s);
    }
    if (out->first == 0 || out->last == 0 || *s != '\0' || out->last < out->first) {
        out->first = out->last = 0;
        return http_err(err, EINVAL,
                        "invalid host port \"%s\" for %d/%s: a port or a range FIRST-LAST of "
                        "ports 1-65535 is expected",
                        host_port, ctr, proto);
    }
    return 0;
}

/* The string member NAME of SPEC into *OUT (NULL when absent or null). */
static int spec_str(const json_t *spec, const char *name, const char *key, const char **out,
                    berr_t *err)
{
    const json_t *v = json_object_get(spec, name);

    *out = json_string_value(v);
    if (v && !json_is_null(v) && *out == NULL)
        return http_err(err, EINVAL, "invalid port binding for %s: %s must be a string", key, name);
    return 0;
}

/* The bindings of KEY (a list of objects, or null) after a check of their shape. */
static int binding_list(const char *key, const json_t *v, berr_t *err)
{
    const json_t *spec;
    size_t i;

    if (json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return http_err(err, EINVAL, "invalid port bindings for %s: a list is expected", key);
    json_array_foreach(v, i, spec)
    {
        if (!json_is_object(spec) && !json_is_null(spec))
            return http_err(err, EINVAL, "invalid port binding for %s: an object is expected", key);
    }
    return 0;
}

int portproxy_check(const json_t *bindings, berr_t *err)
{
    struct port_spec s;
    const char *key, *ip, *port;
    json_t *v, *spec;
    size_t i;

    if (bindings == NULL || json_is_null(bindings))
        return 0;
    if (!json_is_object(bindings))
        return http_err(err, EINVAL, "invalid PortBindings: an object is expected");
    json_object_foreach((json_t *)bindings, key, v)
    {
        if (portproxy_parse(key, NULL, NULL, &s, err) < 0 || binding_list(key, v, err) < 0)
            return -1;
        json_array_foreach(v, i, spec)
        {
            if (spec_str(spec, "HostIp", key, &ip, err) < 0 ||
                spec_str(spec, "HostPort", key, &port, err) < 0 ||
                portproxy_parse(key, ip, port, &s, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- binding the host side ------------------------------------------------------------- */

/* A host socket for S on PORT; -1 with errno set. */
static int open_host(const struct port_spec *s, int port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = s->ip};
    bool udp = s->proto == IPPROTO_UDP;
    int one = 1, e;
    int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -1;
    /* Not for UDP: there it would let two sockets share the port. */
    if (!udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (udp && s->ip.s_addr == htonl(INADDR_ANY))
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && (udp || listen(fd, 128) == 0))
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

static void add_port(json_t *ports, const char *key, const char *ip, int port)
{
    json_t *arr = json_object_get(ports, key);
    char text[16];

    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(ports, key, arr);
    }
    snprintf(text, sizeof(text), "%d", port);
    json_array_append_new(arr, json_pack("{s:s,s:s}", "HostIp", ip, "HostPort", text));
}

/* Bind S on its host port (the first free one of its range, or any of FIRST..LAST). */
static int bind_one(struct port_proxy *p, const struct port_spec *s, int first, int last,
                    json_t *ports, berr_t *err)
{
    static unsigned cursor; /* where the next search of the daemon's range starts */
    const char *proto = proto_name(s->proto);
    const char *suffix = s->proto == IPPROTO_UDP ? "/udp" : "";
    char ip[INET_ADDRSTRLEN], key[32];
    int fd = -1, port = 0, e = 0;

    inet_ntop(AF_INET, &s->ip, ip, sizeof(ip));
    snprintf(key, sizeof(key), "%d/%s", s->ctr_port, proto);
    if (p->n == MAX_BINDINGS)
        return http_err(err, EINVAL, "too many published ports (at most %d)", MAX_BINDINGS);
    if (s->first == 0) {
        unsigned span = (unsigned)(last - first + 1);
        for (unsigned i = 0; i < span && fd < 0; i++) {
            port = first + (int)(__atomic_fetch_add(&cursor, 1, __ATOMIC_RELAXED) % span);
            fd = open_host(s, port);
            e = fd < 0 ? errno : 0;
            if (fd < 0 && e != EADDRINUSE)
                break;
        }
        if (fd < 0 && e == EADDRINUSE)
            return http_err(err, EBUSY,
                            "driver failed programming external connectivity: no free %s port "
                            "in %d-%d on %s to publish %s",
                            proto, first, last, ip, key);
    } else {
        for (port = s->first;; port++) {
            fd = open_host(s, port);
            e = fd < 0 ? errno : 0;
            if (fd >= 0 || e != EADDRINUSE || port == s->last)
                break;
        }
        if (fd < 0 && e == EADDRINUSE && s->first == s->last)
            return http_err(err, EBUSY,
                            "driver failed programming external connectivity: Bind for %s:%d%s "
                            "failed: port is already allocated",
                            ip, port, suffix);
        if (fd < 0 && e == EADDRINUSE)
            return http_err(err, EBUSY,
                            "driver failed programming external connectivity: Bind for %s:%d-%d%s "
                            "failed: every port of the range is already allocated",
                            ip, s->first, s->last, suffix);
    }
    if (fd < 0)
        return berr_set(err, e, "publish %s on %s:%d", key, ip, port);

    struct binding *b = xcalloc(1, sizeof(*b));
    *b = (struct binding){s->proto == IPPROTO_UDP ? K_UDP : K_TCP, fd, s->ctr_port,
                          s->ip.s_addr == htonl(INADDR_ANY)};
    struct binding **grown = realloc(p->b, (p->n + 1) * sizeof(*grown));
    if (grown == NULL)
        abort();
    p->b = grown;
    p->b[p->n++] = b;
    add_port(ports, key, ip, port);
    return 0;
}

/* KEY as inspect names it ("80" -> "80/tcp"); KEY itself when it does not parse. */
static const char *norm_key(const char *key, char *buf, size_t size)
{
    struct port_spec s;
    berr_t e = NULL;

    if (portproxy_parse(key, NULL, NULL, &s, &e) < 0) {
        berr_free(&e);
        return key;
    }
    snprintf(buf, size, "%d/%s", s.ctr_port, proto_name(s.proto));
    return buf;
}

int portproxy_bind(const json_t *bindings, const json_t *exposed, int publish_all, int first,
                   int last, struct port_proxy **out, json_t **ports, berr_t *err)
{
    struct port_proxy *p = xcalloc(1, sizeof(*p));
    json_t *res = json_object();
    const char *key, *ip, *hp;
    struct port_spec s;
    char norm[32];
    json_t *v, *spec;
    size_t i;

    p->ns_fd = p->own_ns = p->ep = p->stop[0] = p->stop[1] = -1;
    if (portproxy_check(bindings, err) < 0)
        goto fail;
    json_object_foreach((json_t *)exposed, key, v)
    {
        json_object_set_new(res, norm_key(key, norm, sizeof(norm)), json_null());
    }
    json_object_foreach((json_t *)bindings, key, v)
    {
        const char *k = norm_key(key, norm, sizeof(norm));
        if (!json_is_array(json_object_get(res, k)))
            json_object_set_new(res, k, json_null());
        json_array_foreach(v, i, spec)
        {
            spec_str(spec, "HostIp", key, &ip, NULL);
            spec_str(spec, "HostPort", key, &hp, NULL);
            if (portproxy_parse(key, ip, hp, &s, err) < 0 ||
                bind_one(p, &s, first, last, res, err) < 0)
                goto fail;
        }
    }
    if (publish_all) {
        json_object_foreach((json_t *)exposed, key, v)
        {
            berr_t e = NULL;
            if (portproxy_parse(key, NULL, NULL, &s, &e) < 0) {
                berr_free(&e); /* sctp or nonsense in an image: listed, not published */
                continue;
            }
            if (json_is_array(json_object_get(res, norm_key(key, norm, sizeof(norm)))))
                continue; /* -p decided already */
            if (bind_one(p, &s, first, last, res, err) < 0)
                goto fail;
        }
    }
    *out = p;
    *ports = res;
    return 0;
fail:
    portproxy_stop(p);
    json_decref(res);
    return -1;
}

/* ---- the proxy thread ------------------------------------------------------------------ */

/* A socket of TYPE made inside the container's network namespace; -1 with errno set. */
static int socket_inside(struct port_proxy *p, int type)
{
    if (setns(p->ns_fd, CLONE_NEWNET) < 0)
        return -1;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    int e = errno;
    if (setns(p->own_ns, CLONE_NEWNET) < 0)
        abort(); /* this thread would bind and accept in the wrong namespace from now on */
    errno = e;
    return fd;
}

static int connect_loopback(int fd, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return connect(fd, (struct sockaddr *)&a, sizeof(a));
}

struct tcp_pair {
    int fds[2]; /* the client, the socket in the container */
    int port;
};

/* Connect to the container port, then copy both ways until either side ends. */
static void *relay(void *arg)
{
    struct tcp_pair *t = arg;
    int *fds = t->fds;
    char *buf = malloc(RELAY_BUF);
    struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    bool open_in[2] = {true, true};

    if (connect_loopback(fds[1], t->port) < 0)
        goto out;
    while (buf && (open_in[0] || open_in[1])) {
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (!open_in[i] || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fds[i], buf, RELAY_BUF);
            if (r <= 0) {
                open_in[i] = false;
                pf[i].fd = -1;
                shutdown(fds[1 - i], SHUT_WR); /* pass the half-close on */
                continue;
            }
            for (ssize_t off = 0; off < r;) {
                ssize_t w = write(fds[1 - i], buf + off, (size_t)(r - off));
                if (w <= 0 && errno != EINTR)
                    goto out;
                off += w > 0 ? w : 0;
            }
        }
    }
out:
    free(buf);
    close(fds[0]);
    close(fds[1]);
    free(t);
    return NULL;
}

static void tcp_accept(struct port_proxy *p, struct binding *b)
{
    for (int n = 0; n < BURST; n++) {
        int client = accept4(b->fd, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return;
        }
        int upstream = socket_inside(p, SOCK_STREAM);
        if (upstream < 0) {
            log_warn("port proxy: socket for %d/tcp: %s", b->ctr_port, strerror(errno));
            close(client);
            continue;
        }
        struct tcp_pair *t = xcalloc(1, sizeof(*t));
        *t = (struct tcp_pair){{client, upstream}, b->ctr_port};
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, relay, t) != 0) {
            close(client);
            close(upstream);
            free(t);
        }
        pthread_attr_destroy(&attr);
    }
}

static void flow_unlink(struct port_proxy *p, struct flow *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        p->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        p->tail = f->prev;
    f->prev = f->next = NULL;
}

static void flow_append(struct port_proxy *p, struct flow *f)
{
    f->prev = p->tail;
    f->next = NULL;
    if (p->tail)
        p->tail->next = f;
    else
        p->head = f;
    p->tail = f;
}

/* F had traffic at NOW: it becomes the most recently active flow. */
static void flow_touch(struct port_proxy *p, struct flow *f, long long now)
{
    f->last_ms = now;
    if (p->tail != f) {
        flow_unlink(p, f);
        flow_append(p, f);
    }
}

/* End F: its socket closes now, the memory goes after this round of events. */
static void flow_end(struct port_proxy *p, struct flow *f)
{
    flow_unlink(p, f);
    epoll_ctl(p->ep, EPOLL_CTL_DEL, f->fd, NULL);
    close(f->fd);
    f->fd = -1;
    f->dead = true;
    f->next = p->dead;
    p->dead = f;
    p->n_flows--;
}

static void reap(struct port_proxy *p)
{
    while (p->dead) {
        struct flow *f = p->dead;
        p->dead = f->next;
        free(f);
    }
}

static struct flow *flow_find(struct port_proxy *p, struct binding *b,
                              const struct sockaddr_in *from)
{
    for (struct flow *f = p->tail; f; f = f->prev) {
        if (f->b == b && f->client.sin_port == from->sin_port &&
            f->client.sin_addr.s_addr == from->sin_addr.s_addr)
            return f;
    }
    return NULL;
}

static struct flow *flow_new(struct port_proxy *p, struct binding *b,
                             const struct sockaddr_in *from)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int fd;

    if (p->n_flows >= PORTPROXY_UDP_MAX_FLOWS)
        flow_end(p, p->head);
    fd = socket_inside(p, SOCK_DGRAM | SOCK_NONBLOCK);
    if (fd < 0 || connect_loopback(fd, b->ctr_port) < 0) {
        log_warn("port proxy: flow to %d/udp: %s", b->ctr_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct flow *f = xcalloc(1, sizeof(*f));
    f->kind = K_FLOW;
    f->fd = fd;
    f->b = b;
    f->client = *from;
    ev.data.ptr = f;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(f);
        return NULL;
    }
    flow_append(p, f);
    p->n_flows++;
    return f;
}

union cmsg_buf {
    char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct cmsghdr align;
};

/* Datagrams from clients to B go out on their flows. */
static void udp_from_client(struct port_proxy *p, struct binding *b, long long now)
{
    for (int n = 0; n < BURST; n++) {
        struct sockaddr_in from;
        union cmsg_buf cb;
        struct iovec iov = {p->buf, UDP_BUF};
        struct msghdr m = {.msg_name = &from,
                           .msg_namelen = sizeof(from),
                           .msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = cb.buf,
                           .msg_controllen = sizeof(cb.buf)};
        ssize_t len = recvmsg(b->fd, &m, 0);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: all read */
        }
        if (m.msg_namelen != sizeof(from) || from.sin_family != AF_INET)
            continue;
        struct flow *f = flow_find(p, b, &from);
        if (f == NULL && (f = flow_new(p, b, &from)) == NULL)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                f->local = pi.ipi_addr;
            }
        }
        flow_touch(p, f, now);
        /* A refusal of an earlier datagram (nothing listened yet) is reported on this send. */
        if (send(f->fd, p->buf, (size_t)len, 0) < 0 && errno == ECONNREFUSED)
            send(f->fd, p->buf, (size_t)len, 0);
    }
}

/* Replies on flow F go back to its client, from the address it wrote to. */
static void udp_from_flow(struct port_proxy *p, struct flow *f, long long now)
{
    for (int n = 0; n < BURST; n++) {
        ssize_t len = recv(f->fd, p->buf, UDP_BUF, 0);
        if (len < 0) {
            if (errno == EINTR || errno == ECONNREFUSED)
                continue; /* ICMP: nothing listens in the container (yet) */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                flow_end(p, f);
            return;
        }
        flow_touch(p, f, now);
        union cmsg_buf cb;
        struct iovec iov = {p->buf, (size_t)len};
        struct msghdr m = {.msg_name = &f->client,
                           .msg_namelen = sizeof(f->client),
                           .msg_iov = &iov,
                           .msg_iovlen = 1};
        if (f->b->any_addr && f->local.s_addr != htonl(INADDR_ANY)) {
            struct in_pktinfo pi = {.ipi_spec_dst = f->local};
            memset(&cb, 0, sizeof(cb));
            m.msg_control = cb.buf;
            m.msg_controllen = sizeof(cb.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        }
        sendmsg(f->b->fd, &m, MSG_DONTWAIT); /* UDP: a full buffer drops the datagram */
    }
}

/* End the flows idle for too long; the epoll timeout until the next one expires. */
static int expire(struct port_proxy *p, long long now)
{
    while (p->head && now - p->head->last_ms >= UDP_IDLE_MS)
        flow_end(p, p->head);
    if (p->head == NULL)
        return -1;
    return (int)(p->head->last_ms + UDP_IDLE_MS - now);
}

static void *proxy_thread(void *arg)
{
    struct port_proxy *p = arg;
    struct epoll_event ev[64];
    int timeout = -1;

    for (;;) {
        int n = epoll_wait(p->ep, ev, 64, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("port proxy: epoll_wait: %s", strerror(errno));
            break;
        }
        long long now = now_ms();
        for (int i = 0; i < n; i++) {
            enum kind *k = ev[i].data.ptr;
            if (*k == K_STOP)
                return NULL;
            if (*k == K_TCP)
                tcp_accept(p, (struct binding *)k);
            else if (*k == K_UDP)
                udp_from_client(p, (struct binding *)k, now);
            else if (!((struct flow *)k)->dead)
                udp_from_flow(p, (struct flow *)k, now);
        }
        timeout = expire(p, now);
        reap(p);
    }
    return NULL;
}

static int ep_add(int ep, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int portproxy_start(struct port_proxy *p, pid_t pid, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", (int)pid);

    if (p->n == 0)
        return 0;
    p->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->ns_fd < 0)
        return berr_set(err, errno, "publish ports: open %s", path);
    p->own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (p->own_ns < 0)
        return berr_set(err, errno, "publish ports: open berthd's network namespace");
    if (pipe2(p->stop, O_CLOEXEC) < 0)
        return berr_set(err, errno, "publish ports: pipe");
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0)
        return berr_set(err, errno, "publish ports: epoll_create1");
    p->stop_kind = K_STOP;
    if (ep_add(p->ep, p->stop[0], &p->stop_kind) < 0)
        return berr_set(err, errno, "publish ports: epoll_ctl");
    for (size_t i = 0; i < p->n; i++) {
        if (ep_add(p->ep, p->b[i]->fd, p->b[i]) < 0)
            return berr_set(err, errno, "publish ports: epoll_ctl");
    }
    p->buf = malloc(UDP_BUF);
    if (p->buf == NULL)
        return berr_set(err, ENOMEM, "publish ports: allocate a buffer");
    if (pthread_create(&p->thread, NULL, proxy_thread, p) != 0)
        return berr_set(err, EAGAIN, "publish ports: start the proxy thread");
    p->running = true;
    return 0;
}

static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

void portproxy_stop(struct port_proxy *p)
{
    if (p == NULL)
        return;
    if (p->running) {
        ssize_t w = write(p->stop[1], "x", 1);
        (void)w;
        pthread_join(p->thread, NULL);
    }
    while (p->head)
        flow_end(p, p->head);
    reap(p);
    for (size_t i = 0; i < p->n; i++) {
        close(p->b[i]->fd);
        free(p->b[i]);
    }
    free(p->b);
    close_fd(p->ns_fd);
    close_fd(p->own_ns);
    close_fd(p->ep);
    close_fd(p->stop[0]);
    close_fd(p->stop[1]);
    free(p->buf);
    free(p);
}

json_t *portproxy_summary(const json_t *ports)
{
    json_t *out = json_array();
    const char *key;
    json_t *v, *b;
    size_t i;

    json_object_foreach((json_t *)ports, key, v)
    {
        char *end;
        long priv = strtol(key, &end, 10);
        const char *type = *end == '/' ? end + 1 : "tcp";
        if (!json_is_array(v) || json_array_size(v) == 0) {
            json_array_append_new(
                out, json_pack("{s:I,s:s}", "PrivatePort", (json_int_t)priv, "Type", type));
            continue;
        }
        json_array_foreach(v, i, b)
        {
            const char *ip = json_string_value(json_object_get(b, "HostIp"));
            const char *hp = json_string_value(json_object_get(b, "HostPort"));
            json_array_append_new(out, json_pack("{s:s,s:I,s:I,s:s}", "IP", ip ? ip : "0.0.0.0",
                                                 "PrivatePort", (json_int_t)priv, "PublicPort",
                                                 (json_int_t)(hp ? atoi(hp) : 0), "Type", type));
        }
    }
    return out;
}
