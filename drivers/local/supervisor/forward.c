#include "drivers/local/supervisor/forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "drivers/local/run.h"
#include "drivers/local/supervisor/boot.h"
#include "drivers/local/supervisor/slog.h"

#define MAX_CONNS 256
#define PIPE_CAP 65536
#define MAX_FLOWS 256      /* UDP flows of all forwards together */
#define FLOW_IDLE_MS 90000 /* as Docker's userland proxy */
#define UDP_BUF 65536      /* more than the largest datagram */
#define UDP_BURST 64       /* datagrams read per socket per poll round */

struct listener {
    int fd;
    int proto; /* IPPROTO_TCP or IPPROTO_UDP */
    int host_port, machine_port;
    bool fixed;
    bool seen; /* published: still listening in the machine at the last scan */
    struct sockaddr_storage target;
    socklen_t target_len;
};

/* One direction of a connection: src -> pipe -> dst. */
struct half {
    int pipe[2];
    size_t pending; /* bytes in the pipe */
    bool eof;       /* src has no more to give */
    bool shut;      /* dst was shut down for writing */
};

struct conn {
    int fd[2];          /* [0] the client on the host, [1] the socket in the machine */
    struct half dir[2]; /* dir[0]: fd[0] -> fd[1]; dir[1]: fd[1] -> fd[0] */
    bool connecting;
    bool dead;
    short rev[2];
};

/* A UDP client of a forward: its own socket in the machine, connected to the forward's target,
 * so that what comes back on it belongs to that client. */
struct flow {
    int fd;      /* in the machine's namespace; -1 once ended */
    int host_fd; /* the forward's socket on the host, which answers the client */
    struct sockaddr_in client;
    long long last; /* now_ms() of its last datagram either way */
};

enum slot_kind { SLOT_LISTENER, SLOT_CONN, SLOT_FLOW };

struct slot {
    enum slot_kind kind;
    size_t idx;
    int side;
};

struct fwd {
    char *machine_dir;
    int host_netns, machine_netns;
    struct nl_sock *diag; /* NETLINK_SOCK_DIAG in the machine's namespace, or NULL */
    pid_t init;
    int eph_first, eph_last; /* the machine's ephemeral ports, read at each scan */
    struct listener *l;
    size_t nl;
    struct conn **c;
    size_t nc;
    struct flow *flows; /* ended ones (fd -1) go at the next compaction */
    size_t nflows, live_flows;
    unsigned char *buf; /* UDP_BUF bytes for datagrams */
    struct slot *slots;
    size_t nslots;
};

struct fwd *fwd_new(const char *machine_dir, berr_t *err)
{
    int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

    if (ns < 0) {
        berr_set(err, errno, "open the host's network namespace");
        return NULL;
    }
    struct fwd *f = xcalloc(1, sizeof(*f));
    f->machine_dir = xstrdup(machine_dir);
    f->host_netns = ns;
    f->machine_netns = -1;
    f->l = xcalloc(1, sizeof(*f->l));
    f->c = xcalloc(MAX_CONNS, sizeof(*f->c));
    f->flows = xcalloc(MAX_FLOWS, sizeof(*f->flows));
    f->buf = xcalloc(1, UDP_BUF);
    return f;
}

static void close_half(struct half *h)
{
    if (h->pipe[0] >= 0)
        close(h->pipe[0]);
    if (h->pipe[1] >= 0)
        close(h->pipe[1]);
}

static void conn_free(struct conn *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] >= 0)
            close(c->fd[i]);
        close_half(&c->dir[i]);
    }
    free(c);
}

/* Drop dead connections (and, with ALL, every connection). */
static void reap_conns(struct fwd *f, bool all)
{
    size_t k = 0;

    for (size_t i = 0; i < f->nc; i++) {
        if (all || f->c[i]->dead)
            conn_free(f->c[i]);
        else
            f->c[k++] = f->c[i];
    }
    f->nc = k;
}

static void flow_end(struct fwd *f, struct flow *fl)
{
    if (fl->fd < 0)
        return;
    close(fl->fd);
    fl->fd = -1;
    f->live_flows--;
}

/* End the flows of the host socket HOST_FD (every flow with -1). */
static void end_flows(struct fwd *f, int host_fd)
{
    for (size_t i = 0; i < f->nflows; i++)
        if (host_fd < 0 || f->flows[i].host_fd == host_fd)
            flow_end(f, &f->flows[i]);
}

static void compact_flows(struct fwd *f)
{
    size_t k = 0;

    for (size_t i = 0; i < f->nflows; i++)
        if (f->flows[i].fd >= 0)
            f->flows[k++] = f->flows[i];
    f->nflows = k;
}

static const char *proto_name(int proto)
{
    return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void write_forwards(struct fwd *f)
{
    _cleanup_free_ char *path = local_path(f->machine_dir, "forwards.json");
    json_t *list = json_array();
    berr_t err = NULL;

    for (size_t i = 0; i < f->nl; i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:i,s:i,s:b}", "Proto",
                                              proto_name(f->l[i].proto), "HostIP", "127.0.0.1",
                                              "HostPort", f->l[i].host_port, "MachinePort",
                                              f->l[i].machine_port, "Fixed", f->l[i].fixed));
    char *text = json_dumps(list, JSON_INDENT(2));
    json_decref(list);
    if (text && write_file_atomic(path, text, strlen(text), 0644, &err) < 0) {
        slog("cannot record the forwards: %s", berr_msg(err));
        berr_free(&err);
    }
    free(text);
}

/* Drop listeners marked with fd -1. */
static void compact_listeners(struct fwd *f)
{
    size_t k = 0;

    for (size_t i = 0; i < f->nl; i++)
        if (f->l[i].fd >= 0)
            f->l[k++] = f->l[i];
    f->nl = k;
}

void fwd_free(struct fwd *f)
{
    if (f == NULL)
        return;
    nl_socket_free(f->diag);
    reap_conns(f, true);
    end_flows(f, -1);
    for (size_t i = 0; i < f->nl; i++)
        close(f->l[i].fd);
    if (f->machine_netns >= 0)
        close(f->machine_netns);
    close(f->host_netns);
    free(f->l);
    free(f->c);
    free(f->flows);
    free(f->buf);
    free(f->slots);
    free(f->machine_dir);
    free(f);
}

/* A non-blocking TCP listener or UDP socket (PROTO) on 127.0.0.1:PORT (0: any free port);
 * *bound is the port. */
static int listen_loopback(int proto, int port, int *bound, berr_t *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof(a);
    int one = 1;
    bool udp = proto == IPPROTO_UDP;
    int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return berr_set(err, errno, "socket");
    /* Not for UDP: there it would let two sockets share the port. */
    if (!udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (!udp && listen(fd, 128) < 0) ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        berr_set(err, errno, "listen on 127.0.0.1:%d/%s", port, proto_name(proto));
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static struct listener *add_listener(struct fwd *f)
{
    struct listener *l = realloc(f->l, (f->nl + 1) * sizeof(*f->l));

    if (l == NULL)
        abort();
    f->l = l;
    memset(&f->l[f->nl], 0, sizeof(*f->l));
    return &f->l[f->nl++];
}

static void set_loopback_target(struct listener *l)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&l->target;

    memset(&l->target, 0, sizeof(l->target));
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)l->machine_port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l->target_len = sizeof(*in);
}

int fwd_add_fixed(struct fwd *f, int host_port, int machine_port, berr_t *err)
{
    int bound;
    int fd = listen_loopback(IPPROTO_TCP, host_port, &bound, err);

    if (fd < 0)
        return berr_prefix(err, "forward for the machine's port %d", machine_port);
    struct listener *l = add_listener(f);
    l->fd = fd;
    l->proto = IPPROTO_TCP;
    l->host_port = bound;
    l->machine_port = machine_port;
    l->fixed = true;
    set_loopback_target(l);
    write_forwards(f);
    return 0;
}

static struct nl_sock *diag_open(struct fwd *f);

void fwd_attach(struct fwd *f, int netns, pid_t init)
{
    if (f->machine_netns >= 0)
        close(f->machine_netns);
    nl_socket_free(f->diag);
    f->diag = NULL;
    f->machine_netns = netns;
    f->init = init;
    if (netns >= 0) {
        f->diag = diag_open(f);
        return;
    }
    reap_conns(f, true);
    end_flows(f, -1);
    compact_flows(f);
    for (size_t i = 0; i < f->nl; i++) {
        if (f->l[i].fixed)
            continue;
        close(f->l[i].fd);
        f->l[i].fd = -1;
    }
    compact_listeners(f);
    write_forwards(f);
}

static void back_to_host(struct fwd *f)
{
    if (setns(f->host_netns, CLONE_NEWNET) < 0) {
        /* Staying in the machine's namespace would put every later listener there. */
        slog("fatal: cannot return to the host's network namespace: %s", strerror(errno));
        abort();
    }
}

/* A socket of TYPE made inside the machine's network namespace. */
static int machine_socket(struct fwd *f, int family, int type)
{
    if (setns(f->machine_netns, CLONE_NEWNET) < 0)
        return -1;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    back_to_host(f);
    errno = saved;
    return fd;
}

/* A sock_diag netlink socket inside the machine's namespace (it answers for the namespace it
 * was made in), or NULL: the scan then reads /proc/INIT/net/tcp{,6} instead. */
static struct nl_sock *diag_open(struct fwd *f)
{
    struct nl_sock *sk = nl_socket_alloc();
    int r = -1;

    if (sk == NULL || setns(f->machine_netns, CLONE_NEWNET) < 0) {
        nl_socket_free(sk);
        return NULL;
    }
    nl_socket_disable_auto_ack(sk);
    r = nl_connect(sk, NETLINK_SOCK_DIAG);
    back_to_host(f);
    if (r < 0) {
        slog("no sock_diag netlink in the machine (%s): following its ports through /proc",
             nl_geterror(r));
        nl_socket_free(sk);
        return NULL;
    }
    return sk;
}

/* A relay must not add latency of its own: with Nagle on, the small write that follows an
 * unacknowledged one (a TLS client's request right after its Finished message) waits for the
 * peer's delayed ACK, 40 ms on Linux. The endpoints chose their own setting; the relay passes
 * on whatever it has at once. */
static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void open_conn(struct fwd *f, struct listener *l, int client)
{
    struct conn *c;
    int fd;

    if (f->machine_netns < 0 || f->nc >= MAX_CONNS) {
        close(client);
        return;
    }
    fd = machine_socket(f, l->target.ss_family, SOCK_STREAM);
    if (fd < 0 ||
        (connect(fd, (struct sockaddr *)&l->target, l->target_len) < 0 && errno != EINPROGRESS)) {
        if (fd >= 0)
            close(fd);
        close(client);
        return;
    }
    no_delay(client);
    no_delay(fd);
    c = xcalloc(1, sizeof(*c));
    c->fd[0] = client;
    c->fd[1] = fd;
    c->connecting = true;
    for (int i = 0; i < 2; i++) {
        c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
        if (pipe2(c->dir[i].pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
            conn_free(c);
            return;
        }
    }
    f->c[f->nc++] = c;
}

static void accept_all(struct fwd *f, struct listener *l)
{
    for (;;) {
        int client = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0)
            return;
        open_conn(f, l, client);
    }
}

/* Move what SRC has into the pipe, and what the pipe has into DST. */
static void pump(struct conn *c, int d)
{
    struct half *h = &c->dir[d];
    int src = c->fd[d], dst = c->fd[1 - d];
    ssize_t n;

    if (!h->eof && h->pending < PIPE_CAP && (c->rev[d] & (POLLIN | POLLHUP | POLLERR))) {
        n = splice(src, NULL, h->pipe[1], NULL, PIPE_CAP - h->pending,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0)
            h->pending += (size_t)n;
        else if (n == 0)
            h->eof = true;
        else if (errno != EAGAIN && errno != EINTR)
            c->dead = true;
    }
    if (h->pending > 0 && !c->dead) {
        n = splice(h->pipe[0], NULL, dst, NULL, h->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0)
            h->pending -= (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            c->dead = true;
    }
    if (h->eof && h->pending == 0 && !h->shut) {
        shutdown(dst, SHUT_WR);
        h->shut = true;
    }
}

static void step_conn(struct conn *c)
{
    if (c->connecting) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (!(c->rev[1] & (POLLOUT | POLLERR | POLLHUP)))
            return;
        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            c->dead = true;
            return;
        }
        c->connecting = false;
    }
    pump(c, 0);
    pump(c, 1);
    if (c->dir[0].shut && c->dir[1].shut)
        c->dead = true;
}

static short conn_events(const struct conn *c, int side)
{
    short ev = 0;

    if (c->connecting)
        return side == 1 ? POLLOUT : 0;
    if (!c->dir[side].eof && c->dir[side].pending < PIPE_CAP)
        ev |= POLLIN;
    if (c->dir[1 - side].pending > 0)
        ev |= POLLOUT;
    return ev;
}

/* ---- UDP: a flow per client ------------------------------------------------------------- */

static struct flow *flow_find(struct fwd *f, int host_fd, const struct sockaddr_in *from)
{
    for (size_t i = 0; i < f->nflows; i++) {
        struct flow *fl = &f->flows[i];
        if (fl->fd >= 0 && fl->host_fd == host_fd && fl->client.sin_port == from->sin_port &&
            fl->client.sin_addr.s_addr == from->sin_addr.s_addr)
            return fl;
    }
    return NULL;
}

/* A new flow for the client FROM of L; at the cap the least recently used flow gives way. */
static struct flow *flow_new(struct fwd *f, struct listener *l, const struct sockaddr_in *from)
{
    if (f->machine_netns < 0)
        return NULL;
    if (f->live_flows >= MAX_FLOWS) {
        struct flow *old = NULL;
        for (size_t i = 0; i < f->nflows; i++)
            if (f->flows[i].fd >= 0 && (old == NULL || f->flows[i].last < old->last))
                old = &f->flows[i];
        if (old)
            flow_end(f, old);
    }
    /* Safe here: fwd_handle is done with the poll slots of flows when listeners are served. */
    if (f->nflows >= MAX_FLOWS)
        compact_flows(f);
    int fd = machine_socket(f, l->target.ss_family, SOCK_DGRAM);
    if (fd < 0 || connect(fd, (struct sockaddr *)&l->target, l->target_len) < 0) {
        slog("cannot open a UDP flow to the machine's port %d: %s", l->machine_port,
             strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct flow *fl = &f->flows[f->nflows++];
    *fl = (struct flow){.fd = fd, .host_fd = l->fd, .client = *from};
    f->live_flows++;
    return fl;
}

/* Datagrams from host clients to the UDP forward L go out on their flows. */
static void udp_from_client(struct fwd *f, struct listener *l)
{
    for (int n = 0; n < UDP_BURST; n++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t len = recvfrom(l->fd, f->buf, UDP_BUF, 0, (struct sockaddr *)&from, &flen);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: all read */
        }
        if (flen != sizeof(from) || from.sin_family != AF_INET)
            continue;
        struct flow *fl = flow_find(f, l->fd, &from);
        if (fl == NULL && (fl = flow_new(f, l, &from)) == NULL)
            continue;
        fl->last = now_ms();
        /* A refusal of an earlier datagram (nothing listened then) is reported on this send. */
        if (send(fl->fd, f->buf, (size_t)len, 0) < 0 && errno == ECONNREFUSED)
            send(fl->fd, f->buf, (size_t)len, 0);
    }
}

/* Replies on the flow FL go back to its client from the forward's host socket. */
static void udp_from_flow(struct fwd *f, struct flow *fl)
{
    for (int n = 0; n < UDP_BURST && fl->fd >= 0; n++) {
        ssize_t len = recv(fl->fd, f->buf, UDP_BUF, 0);
        if (len < 0) {
            if (errno == EINTR || errno == ECONNREFUSED)
                continue; /* ICMP: nothing listens there (yet) */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                flow_end(f, fl);
            return;
        }
        fl->last = now_ms();
        /* UDP: a full buffer drops the datagram. */
        sendto(fl->host_fd, f->buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&fl->client,
               sizeof(fl->client));
    }
}

/* End the flows idle for FLOW_IDLE_MS. */
static void expire_flows(struct fwd *f)
{
    long long now = now_ms();

    for (size_t i = 0; i < f->nflows; i++)
        if (f->flows[i].fd >= 0 && now - f->flows[i].last >= FLOW_IDLE_MS)
            flow_end(f, &f->flows[i]);
    compact_flows(f);
}

size_t fwd_pollfds(struct fwd *f, struct pollfd *fds, size_t max)
{
    size_t n = 0;

    free(f->slots);
    compact_flows(f);
    f->slots = xcalloc(f->nl + 2 * f->nc + f->nflows + 1, sizeof(*f->slots));
    for (size_t i = 0; i < f->nl && n < max; i++, n++) {
        fds[n] = (struct pollfd){.fd = f->l[i].fd, .events = POLLIN};
        f->slots[n] = (struct slot){SLOT_LISTENER, i, 0};
    }
    for (size_t i = 0; i < f->nc; i++) {
        for (int side = 0; side < 2 && n < max; side++, n++) {
            short ev = conn_events(f->c[i], side);
            /* Nothing to wait for on this side: leave it out, or its HUP would spin poll. */
            fds[n] = (struct pollfd){.fd = ev ? f->c[i]->fd[side] : -1, .events = ev};
            f->slots[n] = (struct slot){SLOT_CONN, i, side};
        }
    }
    for (size_t i = 0; i < f->nflows && n < max; i++, n++) {
        fds[n] = (struct pollfd){.fd = f->flows[i].fd, .events = POLLIN};
        f->slots[n] = (struct slot){SLOT_FLOW, i, 0};
    }
    f->nslots = n;
    return n;
}

void fwd_handle(struct fwd *f, const struct pollfd *fds, size_t n)
{
    size_t nc = f->nc;

    for (size_t i = 0; i < nc; i++)
        f->c[i]->rev[0] = f->c[i]->rev[1] = 0;
    for (size_t i = 0; i < n && i < f->nslots; i++) {
        const struct slot *s = &f->slots[i];
        if (s->kind == SLOT_CONN)
            f->c[s->idx]->rev[s->side] = fds[i].revents;
    }
    /* Flows first: a new flow (from a listener below) may end one at the cap. */
    for (size_t i = 0; i < n && i < f->nslots; i++) {
        const struct slot *s = &f->slots[i];
        if (s->kind == SLOT_FLOW && (fds[i].revents & (POLLIN | POLLERR)))
            udp_from_flow(f, &f->flows[s->idx]);
    }
    for (size_t i = 0; i < n && i < f->nslots; i++) {
        const struct slot *s = &f->slots[i];
        if (s->kind != SLOT_LISTENER || !(fds[i].revents & POLLIN))
            continue;
        if (f->l[s->idx].proto == IPPROTO_UDP)
            udp_from_client(f, &f->l[s->idx]);
        else
            accept_all(f, &f->l[s->idx]);
    }
    for (size_t i = 0; i < nc; i++)
        if (f->c[i]->rev[0] || f->c[i]->rev[1] || f->c[i]->connecting)
            step_conn(f->c[i]);
    reap_conns(f, false);
}

/* A listening TCP socket or a bound, unconnected UDP socket of the machine, with the address
 * that reaches it from inside the machine. */
struct listen_entry {
    int proto;
    int port;
    struct sockaddr_storage target;
    socklen_t target_len;
};

/* E's target for a listener on the IPv4 address A (network order); any address: loopback. */
static void target_v4(struct listen_entry *e, uint32_t a)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&e->target;

    memset(&e->target, 0, sizeof(e->target));
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)e->port);
    in->sin_addr.s_addr = a == 0 ? htonl(INADDR_LOOPBACK) : a;
    e->target_len = sizeof(*in);
}

/* The same for an IPv6 address; a v4-mapped one is reached over IPv4. */
static void target_v6(struct listen_entry *e, const struct in6_addr *a)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&e->target;

    if (IN6_IS_ADDR_V4MAPPED(a)) {
        target_v4(e, a->s6_addr32[3]);
        return;
    }
    memset(&e->target, 0, sizeof(e->target));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)e->port);
    in6->sin6_addr = IN6_IS_ADDR_UNSPECIFIED(a) ? in6addr_loopback : *a;
    e->target_len = sizeof(*in6);
}

static bool parse_v4(const char *hex, struct listen_entry *e)
{
    if (strlen(hex) != 8)
        return false;
    /* The kernel prints the address as the host-order value of its network-order bytes. */
    target_v4(e, (uint32_t)strtoul(hex, NULL, 16));
    return true;
}

static bool parse_v6(const char *hex, struct listen_entry *e)
{
    struct in6_addr a;
    char word[9];

    if (strlen(hex) != 32)
        return false;
    for (int i = 0; i < 4; i++) {
        memcpy(word, hex + 8 * i, 8);
        word[8] = '\0';
        a.s6_addr32[i] = (uint32_t)strtoul(word, NULL, 16);
    }
    target_v6(e, &a);
    return true;
}

typedef void listener_fn(void *ud, const struct listen_entry *e);

struct diag_walk {
    int proto;
    listener_fn *fn;
    void *ud;
};

static int on_diag_msg(struct nl_msg *msg, void *arg)
{
    struct diag_walk *w = arg;
    struct nlmsghdr *h = nlmsg_hdr(msg);
    struct inet_diag_msg *m = nlmsg_data(h);
    struct listen_entry e;

    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m))
        return NL_SKIP;
    /* UDP: only sockets with a local port and no peer (a connected one is a client's). */
    if (w->proto == IPPROTO_TCP
            ? m->idiag_state != TCP_LISTEN
            : m->idiag_state != TCP_CLOSE || m->id.idiag_dport != 0 || m->id.idiag_sport == 0)
        return NL_SKIP;
    e.proto = w->proto;
    e.port = ntohs(m->id.idiag_sport);
    if (m->idiag_family == AF_INET)
        target_v4(&e, m->id.idiag_src[0]);
    else if (m->idiag_family == AF_INET6)
        target_v6(&e, (const struct in6_addr *)m->id.idiag_src);
    else
        return NL_SKIP;
    w->fn(w->ud, &e);
    return NL_OK;
}

/* The listening TCP sockets (PROTO IPPROTO_TCP) or the unconnected UDP sockets (IPPROTO_UDP,
 * which the kernel keeps in state TCP_CLOSE) of the machine through sock_diag: for TCP the
 * kernel walks only its listening hash, where /proc/PID/net/tcp walks every bucket of the
 * established hash too (milliseconds of system time per read on a host with a large table,
 * every second, for every machine). -1 when the socket fails; the caller then falls back to
 * /proc. */
static int diag_listeners(struct nl_sock *sk, int proto, listener_fn *fn, void *ud)
{
    static const int families[] = {AF_INET, AF_INET6};
    struct diag_walk w = {proto, fn, ud};

    for (int v = 0; v < 2; v++) {
        struct inet_diag_req_v2 req = {
            .sdiag_family = (uint8_t)families[v],
            .sdiag_protocol = (uint8_t)proto,
            .idiag_states = proto == IPPROTO_TCP ? 1U << TCP_LISTEN : 1U << TCP_CLOSE,
        };
        if (nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_diag_msg, &w) < 0 ||
            nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req)) < 0 ||
            nl_recvmsgs_default(sk) < 0)
            return -1;
    }
    return 0;
}

/* Call FN for each listening TCP socket (PROTO IPPROTO_TCP) or unconnected bound UDP socket
 * (IPPROTO_UDP) of the machine (IPv4 first). */
static void each_listener(struct fwd *f, int proto, listener_fn *fn, void *ud)
{
    static const char *const tcp_files[] = {"tcp", "tcp6"}, *const udp_files[] = {"udp", "udp6"};
    const char *const *files = proto == IPPROTO_TCP ? tcp_files : udp_files;
    pid_t init = f->init;

    if (f->diag) {
        if (diag_listeners(f->diag, proto, fn, ud) == 0)
            return;
        /* Entries already reported come again from /proc: both callers are idempotent. */
        slog("sock_diag query failed: following the machine's ports through /proc");
        nl_socket_free(f->diag);
        f->diag = NULL;
    }
    for (int v = 0; v < 2; v++) {
        char path[64], *line = NULL;
        size_t cap = 0;
        snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)init, files[v]);
        FILE *in = fopen(path, "re");
        if (in == NULL)
            continue;
        while (getline(&line, &cap, in) > 0) {
            char local[64];
            unsigned state, port, rport;
            struct listen_entry e;
            if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x", local, &port, &rport,
                       &state) != 4)
                continue;
            if (proto == IPPROTO_TCP ? state != TCP_LISTEN
                                     : state != TCP_CLOSE || rport != 0 || port == 0)
                continue;
            e.proto = proto;
            e.port = (int)port;
            if (v == 0 ? parse_v4(local, &e) : parse_v6(local, &e))
                fn(ud, &e);
        }
        free(line);
        fclose(in);
    }
}

struct probe {
    int port;
    bool found;
};

static void probe_one(void *ud, const struct listen_entry *e)
{
    struct probe *p = ud;
    p->found = p->found || e->port == p->port;
}

bool fwd_machine_listens(struct fwd *f, int port)
{
    struct probe p = {port, false};

    if (f->init > 0)
        each_listener(f, IPPROTO_TCP, probe_one, &p);
    return p.found;
}

/* The machine's net.ipv4.ip_local_port_range (boot.c sets it; root inside may change it):
 * sysctls under /proc/sys/net answer for the network namespace of the reader. */
static void read_ephemeral(struct fwd *f)
{
    char text[64] = "";
    int first, last;

    if (setns(f->machine_netns, CLONE_NEWNET) == 0) {
        int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, text, sizeof(text) - 1);
            text[n > 0 ? n : 0] = '\0';
            close(fd);
        }
        back_to_host(f);
    }
    if (sscanf(text, "%d %d", &first, &last) != 2 &&
        sscanf(MACHINE_EPHEMERAL_PORTS, "%d %d", &first, &last) != 2)
        first = last = 0;
    f->eph_first = first;
    f->eph_last = last;
}

/* Whether E reaches the socket through the machine's loopback (it is bound to a loopback or
 * to every address). */
static bool on_loopback(const struct listen_entry *e)
{
    if (e->target.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&e->target)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&e->target)->sin6_addr);
}

/* Which UDP sockets are published ports: a UDP socket has no listening state, so every bound
 * socket of the machine's namespace shows up, clients too. Connected ones are already left
 * out (berthd's flows live in the containers' namespaces anyway, ours are connected). Of the
 * rest, those on an ephemeral port were bound implicitly, by a first sendto (berthd's DNS
 * forwarder's upstream socket): a published port is bound on purpose, outside that range
 * (boot.c keeps the range below the engine's -P ports). Those bound to another address than a
 * loopback or any (a bridge gateway's) are not reached through the machine's loopback. */
static bool udp_published(const struct fwd *f, const struct listen_entry *e)
{
    return on_loopback(e) && (e->port < f->eph_first || e->port > f->eph_last);
}

static void publish_one(void *ud, const struct listen_entry *e)
{
    struct fwd *f = ud;
    berr_t err = NULL;
    int fd, bound;

    if (e->proto == IPPROTO_UDP && !udp_published(f, e))
        return;
    for (size_t i = 0; i < f->nl; i++) {
        if (f->l[i].proto != e->proto || f->l[i].machine_port != e->port)
            continue;
        f->l[i].seen = true;
        return;
    }
    fd = listen_loopback(e->proto, e->port, &bound, &err);
    if (fd < 0) {
        berr_free(&err);
        fd = listen_loopback(e->proto, 0, &bound, &err);
    }
    if (fd < 0) {
        slog("cannot forward the machine's port %d/%s: %s", e->port, proto_name(e->proto),
             berr_msg(err));
        berr_free(&err);
        return;
    }
    struct listener *l = add_listener(f);
    l->fd = fd;
    l->proto = e->proto;
    l->host_port = bound;
    l->machine_port = e->port;
    l->seen = true;
    l->target = e->target;
    l->target_len = e->target_len;
    slog("forwarding 127.0.0.1:%d/%s to the machine's port %d", bound, proto_name(e->proto),
         e->port);
}

void fwd_scan(struct fwd *f)
{
    size_t before = f->nl;
    bool gone = false;

    if (f->init <= 0 || f->machine_netns < 0)
        return;
    expire_flows(f);
    read_ephemeral(f);
    for (size_t i = 0; i < f->nl; i++)
        f->l[i].seen = f->l[i].fixed;
    each_listener(f, IPPROTO_TCP, publish_one, f);
    each_listener(f, IPPROTO_UDP, publish_one, f);
    for (size_t i = 0; i < f->nl; i++) {
        if (f->l[i].seen)
            continue;
        slog("the machine's port %d/%s closed: no more forward from 127.0.0.1:%d",
             f->l[i].machine_port, proto_name(f->l[i].proto), f->l[i].host_port);
        end_flows(f, f->l[i].fd);
        close(f->l[i].fd);
        f->l[i].fd = -1;
        gone = true;
    }
    compact_listeners(f);
    if (gone || f->nl != before)
        write_forwards(f);
}
