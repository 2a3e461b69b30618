#include "runtime-agent/network/portproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/log.h"

#define MAX_PORTS 64
#define RELAY_BUF (64 * 1024)

struct listener {
    int fd;
    int ctr_port;
};

struct port_proxy {
    struct listener l[MAX_PORTS];
    size_t n;
    int ns_fd;   /* the container's network namespace */
    int stop[2]; /* a pipe: writing to it ends the acceptor */
    pthread_t acceptor;
    bool running;
};

/* "80/tcp" -> 80; 0 for anything else (udp is not proxied yet). */
static int tcp_port(const char *key)
{
    char *end;
    long p = strtol(key, &end, 10);
    if (p <= 0 || p > 65535 || (*end != '\0' && strcmp(end, "/tcp") != 0))
        return 0;
    return (int)p;
}

static int listen_on(const char *ip, int port, berr_t *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    if (ip == NULL || *ip == '\0')
        ip = "0.0.0.0";
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return http_err(err, EINVAL, "invalid host IP \"%s\" for a published port", ip);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return berr_set(err, errno, "publish port %d: socket", port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return http_err(err, EBUSY,
                            "driver failed programming external connectivity: Bind for %s:%d "
                            "failed: port is already allocated",
                            ip, port);
        return berr_set(err, e, "publish port %s:%d", ip, port);
    }
    return fd;
}

/* A free port of FIRST..LAST, starting after the last one handed out. */
static int listen_any(const char *ip, int first, int last, int *port, berr_t *err)
{
    static int cursor;
    int span = last - first + 1;

    for (int i = 0; i < span; i++) {
        int p = first + (__atomic_fetch_add(&cursor, 1, __ATOMIC_RELAXED) % span);
        berr_t e = NULL;
        int fd = listen_on(ip, p, &e);
        berr_free(&e);
        if (fd >= 0) {
            *port = p;
            return fd;
        }
    }
    return http_err(err, EBUSY, "no free port in %d-%d to publish on", first, last);
}

static void add_binding(json_t *ports, const char *key, const char *ip, int port)
{
    json_t *arr = json_object_get(ports, key);
    char text[16];

    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(ports, key, arr);
    }
    snprintf(text, sizeof(text), "%d", port);
    json_array_append_new(
        arr, json_pack("{s:s,s:s}", "HostIp", ip && *ip ? ip : "0.0.0.0", "HostPort", text));
}

static int bind_one(struct port_proxy *p, const char *key, const json_t *spec, int first, int last,
                    json_t *ports, berr_t *err)
{
    const char *ip = json_string_value(json_object_get(spec, "HostIp"));
    const char *hp = json_string_value(json_object_get(spec, "HostPort"));
    int ctr = tcp_port(key), port = hp && *hp ? atoi(hp) : 0, fd;

    if (ctr == 0)
        return 0; /* udp and sctp are not proxied yet; inspect still lists the port */
    if (p->n == MAX_PORTS)
        return http_err(err, EINVAL, "too many published ports (at most %d)", MAX_PORTS);
    if (hp && *hp && (port <= 0 || port > 65535))
        return http_err(err, EINVAL, "invalid host port \"%s\"", hp);
    fd = port ? listen_on(ip, port, err) : listen_any(ip, first, last, &port, err);
    if (fd < 0)
        return -1;
    p->l[p->n++] = (struct listener){fd, ctr};
    add_binding(ports, key, ip, port);
    return 0;
}

int portproxy_bind(const json_t *bindings, const json_t *exposed, int publish_all, int first,
                   int last, struct port_proxy **out, json_t **ports, berr_t *err)
{
    struct port_proxy *p = xcalloc(1, sizeof(*p));
    json_t *res = json_object();
    const char *key;
    json_t *v, *spec;
    size_t i;

    p->ns_fd = p->stop[0] = p->stop[1] = -1;
    json_object_foreach((json_t *)exposed, key, v)
    {
        json_object_set_new(res, key, json_null());
    }
    json_object_foreach((json_t *)bindings, key, v)
    {
        json_object_set_new(res, key, json_null());
        json_array_foreach(v, i, spec)
        {
            if (bind_one(p, key, spec, first, last, res, err) < 0)
                goto fail;
        }
    }
    if (publish_all) {
        json_object_foreach((json_t *)exposed, key, v)
        {
            json_t *none = json_object();
            int r =
                json_object_get(bindings, key) ? 0 : bind_one(p, key, none, first, last, res, err);
            json_decref(none);
            if (r < 0)
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

/* Copy both ways between A and B until either side ends. */
static void *relay(void *arg)
{
    int *fds = arg;
    char *buf = malloc(RELAY_BUF);
    struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    bool open_in[2] = {true, true};

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
    free(fds);
    return NULL;
}

/* A socket connected to 127.0.0.1:PORT inside the container's network namespace. */
static int connect_inside(struct port_proxy *p, int own_ns, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (setns(p->ns_fd, CLONE_NEWNET) < 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (setns(own_ns, CLONE_NEWNET) < 0)
        abort(); /* this thread would accept in the wrong namespace from now on */
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void accept_one(struct port_proxy *p, int own_ns, const struct listener *l)
{
    int client = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return;
    int upstream = connect_inside(p, own_ns, l->ctr_port);
    if (upstream < 0) {
        close(client);
        return;
    }
    int *fds = xcalloc(2, sizeof(int));
    fds[0] = client;
    fds[1] = upstream;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, relay, fds) != 0) {
        close(client);
        close(upstream);
        free(fds);
    }
    pthread_attr_destroy(&attr);
}

static void *acceptor(void *arg)
{
    struct port_proxy *p = arg;
    struct pollfd pf[MAX_PORTS + 1];
    int own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

    if (own_ns < 0) {
        log_error("port proxy: open own network namespace: %s", strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++)
        pf[i] = (struct pollfd){p->l[i].fd, POLLIN, 0};
    pf[p->n] = (struct pollfd){p->stop[0], POLLIN, 0};
    for (;;) {
        if (poll(pf, p->n + 1, -1) < 0 && errno != EINTR)
            break;
        if (pf[p->n].revents)
            break;
        for (size_t i = 0; i < p->n; i++) {
            if (pf[i].revents & POLLIN)
                accept_one(p, own_ns, &p->l[i]);
        }
    }
    close(own_ns);
    return NULL;
}

int portproxy_start(struct port_proxy *p, pid_t pid, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", (int)pid);

    if (p->n == 0)
        return 0;
    p->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->ns_fd < 0)
        return berr_set(err, errno, "publish ports: open %s", path);
    if (pipe2(p->stop, O_CLOEXEC) < 0)
        return berr_set(err, errno, "publish ports: pipe");
    if (pthread_create(&p->acceptor, NULL, acceptor, p) != 0)
        return berr_set(err, EAGAIN, "publish ports: start the proxy thread");
    p->running = true;
    return 0;
}

void portproxy_stop(struct port_proxy *p)
{
    if (p == NULL)
        return;
    if (p->running) {
        ssize_t w = write(p->stop[1], "x", 1);
        (void)w;
        pthread_join(p->acceptor, NULL);
    }
    for (size_t i = 0; i < p->n; i++)
        close(p->l[i].fd);
    if (p->ns_fd >= 0)
        close(p->ns_fd);
    if (p->stop[0] >= 0)
        close(p->stop[0]);
    if (p->stop[1] >= 0)
        close(p->stop[1]);
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
            json_array_append_new(
                out, json_pack("{s:s,s:I,s:I,s:s}", "IP",
                               json_string_value(json_object_get(b, "HostIp")), "PrivatePort",
                               (json_int_t)priv, "PublicPort",
                               (json_int_t)atoi(json_string_value(json_object_get(b, "HostPort"))),
                               "Type", type));
        }
    }
    return out;
}
