/* Listener threads, connection threads and shutdown.
 *
 * Connection threads are joinable, so that stop can prove that none still runs (in a
 * handler, or in its thread's teardown) when the caller frees what handlers use. A thread
 * that ends joins the one that ended before it and leaves itself to be joined in turn (by
 * the next one, or by stop), so at most one finished thread waits to be joined. */
#include "runtime-agent/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/listen.h"
#include "runtime-agent/log.h"

struct listener {
    struct http_server *srv;
    int fd;
    char *spec;
    char *unix_path; /* removed at stop */
    SSL_CTX *tls;
    pthread_t thread;
    bool running;
};

/* A live connection, listed so that stop can abort it. */
struct session {
    struct http_server *srv;
    struct conn *conn;
    struct session *prev, *next;
};

struct http_server {
    struct http_service svc;
    struct listener *ls;
    size_t n_ls;
    int wake[2]; /* becomes readable when the server stops */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct session *sessions;
    size_t n_sessions; /* connection threads not yet ended (listed or finishing) */
    pthread_t last;    /* the connection thread that ended last, not joined yet */
    bool have_last;
    bool stopping;
};

struct http_server *http_server_new(const struct http_service *svc)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    pthread_condattr_t ca;

    s->svc = *svc;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

int http_server_listen(struct http_server *s, const char *spec, SSL_CTX *tls, berr_t *err)
{
    struct listen_addr a;

    if (listen_parse(spec, tls != NULL, &a, err) < 0)
        return -1;
    int fd = listen_open(&a, err);
    if (fd < 0) {
        listen_addr_free(&a);
        return -1;
    }
    struct listener *ls = realloc(s->ls, (s->n_ls + 1) * sizeof(*ls));
    if (ls == NULL)
        abort();
    s->ls = ls;
    s->ls[s->n_ls++] = (struct listener){
        .srv = s,
        .fd = fd,
        .spec = xstrdup(spec),
        .unix_path = a.kind == LISTEN_UNIX ? xstrdup(a.path) : NULL,
        .tls = a.kind == LISTEN_TCP ? tls : NULL,
    };
    listen_addr_free(&a);
    return 0;
}

/* Describe the client for logs: "unix" or "ADDR:PORT". */
static void describe_peer(const struct sockaddr_storage *sa, char *out, size_t len)
{
    char addr[INET6_ADDRSTRLEN] = "?";

    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        snprintf(out, len, "%s:%u", addr, ntohs(in->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        snprintf(out, len, "[%s]:%u", addr, ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "unix");
    }
}

/* Unlist SS (stop no longer aborts it); it still counts until session_end. */
static void session_unlist(struct session *ss)
{
    struct http_server *s = ss->srv;

    pthread_mutex_lock(&s->lock);
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        s->sessions = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    pthread_mutex_unlock(&s->lock);
}

/* Stop counting a connection; SELF (when not NULL) is its thread, which is about to return
 * and leaves itself to be joined. Returns (in *prev) the thread that ended before, which the
 * caller joins. */
static bool session_end(struct http_server *s, const pthread_t *self, pthread_t *prev)
{
    bool have_prev = false;

    pthread_mutex_lock(&s->lock);
    if (self != NULL) {
        have_prev = s->have_last;
        *prev = s->last;
        s->last = *self;
        s->have_last = true;
    }
    if (--s->n_sessions == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    return have_prev;
}

/* Add a session unless the server is stopping or full. */
static bool session_add(struct session *ss)
{
    struct http_server *s = ss->srv;
    bool ok;

    pthread_mutex_lock(&s->lock);
    ok = !s->stopping && s->n_sessions < HTTP_MAX_CONNECTIONS;
    if (ok) {
        ss->next = s->sessions;
        if (s->sessions)
            s->sessions->prev = ss;
        s->sessions = ss;
        s->n_sessions++;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void *session_main(void *arg)
{
    struct session *ss = arg;
    struct http_server *s = ss->srv;
    pthread_t self = pthread_self(), prev;

    http_serve_conn(&s->svc, ss->conn);
    /* Unlist before closing, so stop never aborts a reused fd. */
    session_unlist(ss);
    conn_free(ss->conn);
    free(ss);
    /* After this the server may be stopped and freed: touch nothing of it. */
    if (session_end(s, &self, &prev))
        pthread_join(prev, NULL);
    return NULL;
}

/* Hand an accepted socket to a new detached thread. */
static void start_session(struct listener *l, int fd, const struct sockaddr_storage *sa)
{
    char peer[64];
    berr_t err = NULL;
    pthread_attr_t attr;
    pthread_t t;
    int one = 1;

    describe_peer(sa, peer, sizeof(peer));
    if (sa->ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct session *ss = xcalloc(1, sizeof(*ss));
    ss->srv = l->srv;
    ss->conn = conn_new(fd, l->tls, peer, &err);
    if (ss->conn == NULL) {
        log_warn("http: %s", berr_msg(err));
        berr_free(&err);
        close(fd);
        free(ss);
        return;
    }
    if (!session_add(ss)) {
        log_warn("http: refusing connection from %s: too many connections or stopping", peer);
        conn_free(ss->conn);
        free(ss);
        return;
    }
    pthread_attr_init(&attr);
    int rc = pthread_create(&t, &attr, session_main, ss);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_warn("http: connection from %s: start thread: %s", peer, strerror(rc));
        session_unlist(ss);
        conn_free(ss->conn);
        free(ss);
        pthread_t none;
        session_end(l->srv, NULL, &none);
    }
}

/* Wait on the listening socket and the stop pipe; true when stopping. */
static bool wait_accept(struct listener *l, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
                          {.fd = l->srv->wake[0], .events = POLLIN}};

    if (poll(p, 2, timeout_ms) < 0 && errno != EINTR)
        log_warn("http: %s: poll: %s", l->spec, strerror(errno));
    return p[1].revents != 0;
}

static void *listener_main(void *arg)
{
    struct listener *l = arg;

    while (!wait_accept(l, -1)) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        int fd = accept4(l->fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
        if (fd >= 0) {
            start_session(l, fd, &sa);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: back off instead of spinning on the same error. */
            log_warn("http: %s: accept: %s", l->spec, strerror(errno));
            if (wait_accept(l, 100))
                break;
        }
    }
    return NULL;
}

int http_server_start(struct http_server *s, berr_t *err)
{
    if (pipe2(s->wake, O_CLOEXEC) < 0)
        return berr_set(err, errno, "http server: create stop pipe");
    for (size_t i = 0; i < s->n_ls; i++) {
        int rc = pthread_create(&s->ls[i].thread, NULL, listener_main, &s->ls[i]);
        if (rc != 0)
            return berr_set(err, rc, "http server: %s: start listener", s->ls[i].spec);
        s->ls[i].running = true;
        log_info("API listen on %s", s->ls[i].spec);
    }
    return 0;
}

/* Abort every connection and wait for their threads, up to the stop timeout; then join
 * the last one. -1 when some are still busy. */
static int end_sessions(struct http_server *s, berr_t *err)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += HTTP_STOP_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&s->lock);
    for (struct session *ss = s->sessions; ss != NULL; ss = ss->next)
        conn_abort(ss->conn);
    while (s->n_sessions > 0)
        if (pthread_cond_timedwait(&s->idle, &s->lock, &until) == ETIMEDOUT)
            break;
    size_t busy = s->n_sessions;
    bool join = busy == 0 && s->have_last;
    s->have_last = false;
    pthread_mutex_unlock(&s->lock);
    if (busy > 0)
        return berr_set(err, 0, "http server: %zu connection(s) still busy %d s after the stop",
                        busy, HTTP_STOP_TIMEOUT_MS / 1000);
    /* Each thread joined the one before it: this one ends the chain. */
    if (join)
        pthread_join(s->last, NULL);
    return 0;
}

int http_server_stop(struct http_server *s, berr_t *err)
{
    pthread_mutex_lock(&s->lock);
    bool already = s->stopping;
    s->stopping = true;
    size_t busy = s->n_sessions;
    pthread_mutex_unlock(&s->lock);
    if (already)
        return busy == 0 ? 0 : end_sessions(s, err);
    if (s->wake[1] >= 0 && write(s->wake[1], "x", 1) < 0)
        log_warn("http: wake listeners: %s", strerror(errno));
    for (size_t i = 0; i < s->n_ls; i++) {
        struct listener *l = &s->ls[i];
        if (l->running)
            pthread_join(l->thread, NULL);
        l->running = false;
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        if (l->unix_path != NULL)
            unlink(l->unix_path);
    }
    return end_sessions(s, err);
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_ls; i++) {
        if (s->ls[i].fd >= 0)
            close(s->ls[i].fd);
        free(s->ls[i].spec);
        free(s->ls[i].unix_path);
    }
    free(s->ls);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    free(s);
}
