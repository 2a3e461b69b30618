#include "runtime-agent/http/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"

struct conn {
    int fd;
    SSL *ssl;
    pthread_mutex_t ssl_lock;
    bool aborted; /* read and written with __atomic builtins */
    char peer[64];
    size_t rpos, rlen;
    char rbuf[CONN_BUF_SIZE];
};

long long conn_deadline(long long timeout_ms)
{
    return now_ms() + timeout_ms;
}

/* Wait until FD is ready for EVENTS or the deadline passes. */
static int wait_fd(struct conn *c, short events, long long deadline, berr_t *err)
{
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = events};
        int timeout = -1;
        if (deadline != CONN_NO_DEADLINE) {
            long long left = deadline - now_ms();
            if (left <= 0)
                return berr_set(err, ETIMEDOUT, "connection %s", c->peer);
            timeout = left > 1000000 ? 1000000 : (int)left;
        }
        int r = poll(&p, 1, timeout);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return berr_set(err, errno, "connection %s: poll", c->peer);
    }
}

/* The reason for the last OpenSSL failure on this thread, for messages. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        return "protocol error";
    ERR_error_string_n(e, buf, len);
    return buf;
}

/* One OpenSSL call under the connection lock; returns its result and SSL_get_error. */
#define SSL_CALL(c, call, errout)                                                                  \
    ({                                                                                             \
        pthread_mutex_lock(&(c)->ssl_lock);                                                        \
        ERR_clear_error();                                                                         \
        int _r = (call);                                                                           \
        *(errout) = _r > 0 ? SSL_ERROR_NONE : SSL_get_error((c)->ssl, _r);                         \
        pthread_mutex_unlock(&(c)->ssl_lock);                                                      \
        _r;                                                                                        \
    })

/* Decide what a failed non-blocking SSL call means: 1 retry, 0 end of stream, -1 error. */
static int ssl_retry(struct conn *c, int sslerr, long long deadline, const char *op, berr_t *err)
{
    char reason[256];

    switch (sslerr) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(c, POLLIN, deadline, err) < 0 ? -1 : 1;
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(c, POLLOUT, deadline, err) < 0 ? -1 : 1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0)
            return 0;
        return berr_set(err, errno, "connection %s: TLS %s", c->peer, op);
    default:
        return berr_set(err, 0, "connection %s: TLS %s: %s", c->peer, op,
                        ssl_reason(reason, sizeof(reason)));
    }
}

struct conn *conn_new(int fd, SSL_CTX *tls, const char *peer, berr_t *err)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        berr_set(err, errno, "connection %s: set non-blocking", peer);
        return NULL;
    }
    struct conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    pthread_mutex_init(&c->ssl_lock, NULL);
    if (tls != NULL) {
        c->ssl = SSL_new(tls);
        if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
            berr_set(err, ENOMEM, "connection %s: create TLS session", peer);
            c->fd = -1;
            conn_free(c);
            return NULL;
        }
    }
    return c;
}

int conn_handshake(struct conn *c, long long deadline, berr_t *err)
{
    int sslerr;

    if (c->ssl == NULL)
        return 0;
    while (SSL_CALL(c, SSL_accept(c->ssl), &sslerr) != 1) {
        int r = ssl_retry(c, sslerr, deadline, "handshake", err);
        if (r == 0)
            return berr_set(err, ECONNRESET, "connection %s: TLS handshake", c->peer);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* Read from the socket or TLS session, bypassing the buffer. */
static ssize_t raw_read(struct conn *c, void *buf, size_t len, long long deadline, berr_t *err)
{
    for (;;) {
        if (c->ssl != NULL) {
            int sslerr;
            int n =
                SSL_CALL(c, SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), &sslerr);
            if (n > 0)
                return n;
            int r = ssl_retry(c, sslerr, deadline, "read", err);
            if (r <= 0)
                return r;
            continue;
        }
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLIN, deadline, err) < 0)
                return -1;
        } else if (errno != EINTR) {
            return berr_set(err, errno, "connection %s: read", c->peer);
        }
    }
}

ssize_t conn_fill(struct conn *c, long long deadline, berr_t *err)
{
    if (c->rpos < c->rlen)
        return (ssize_t)(c->rlen - c->rpos);
    c->rpos = c->rlen = 0;
    ssize_t n = raw_read(c, c->rbuf, sizeof(c->rbuf), deadline, err);
    if (n > 0)
        c->rlen = (size_t)n;
    return n;
}

size_t conn_buffered(const struct conn *c, const char **data)
{
    *data = c->rbuf + c->rpos;
    return c->rlen - c->rpos;
}

void conn_consume(struct conn *c, size_t n)
{
    c->rpos += n < c->rlen - c->rpos ? n : c->rlen - c->rpos;
}

ssize_t conn_read(struct conn *c, void *buf, size_t len, long long deadline, berr_t *err)
{
    size_t have = c->rlen - c->rpos;

    if (have == 0)
        return raw_read(c, buf, len, deadline, err);
    if (have > len)
        have = len;
    memcpy(buf, c->rbuf + c->rpos, have);
    c->rpos += have;
    return (ssize_t)have;
}

bool conn_has_pending(struct conn *c)
{
    bool pending;

    if (c->rpos < c->rlen)
        return true;
    if (c->ssl == NULL)
        return false;
    pthread_mutex_lock(&c->ssl_lock);
    pending = SSL_pending(c->ssl) > 0;
    pthread_mutex_unlock(&c->ssl_lock);
    return pending;
}

/* Write some of BUF; returns bytes written (>0) or -1. */
static ssize_t raw_write(struct conn *c, const char *buf, size_t len, long long deadline,
                         berr_t *err)
{
    for (;;) {
        if (c->ssl != NULL) {
            int sslerr;
            int n = SSL_CALL(c, SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len),
                             &sslerr);
            if (n > 0)
                return n;
            int r = ssl_retry(c, sslerr, deadline, "write", err);
            if (r == 0)
                return berr_set(err, EPIPE, "connection %s: write", c->peer);
            if (r < 0)
                return -1;
            continue;
        }
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0)
            return n;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT, deadline, err) < 0)
                return -1;
        } else if (n < 0 && errno != EINTR) {
            return berr_set(err, errno, "connection %s: write", c->peer);
        }
    }
}

int conn_write_all(struct conn *c, const void *buf, size_t len, long long deadline, berr_t *err)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = raw_write(c, p, len, deadline, err);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int conn_shutdown_write(struct conn *c, long long deadline, berr_t *err)
{
    int sslerr;

    if (c->ssl == NULL) {
        if (shutdown(c->fd, SHUT_WR) < 0)
            return berr_set(err, errno, "connection %s: shutdown", c->peer);
        return 0;
    }
    /* 0 means our close_notify went out and the peer's has not arrived: that is the goal. */
    while (SSL_CALL(c, SSL_shutdown(c->ssl), &sslerr) < 0) {
        int r = ssl_retry(c, sslerr, deadline, "shutdown", err);
        if (r <= 0)
            return r;
    }
    return 0;
}

void conn_abort(struct conn *c)
{
    __atomic_store_n(&c->aborted, true, __ATOMIC_SEQ_CST);
    shutdown(c->fd, SHUT_RDWR);
}

bool conn_aborted(const struct conn *c)
{
    return __atomic_load_n(&c->aborted, __ATOMIC_SEQ_CST);
}

void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL) {
        int sslerr;
        /* Best effort close_notify; the socket is non-blocking so this never waits. */
        if (SSL_is_init_finished(c->ssl))
            SSL_CALL(c, SSL_shutdown(c->ssl), &sslerr);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    pthread_mutex_destroy(&c->ssl_lock);
    free(c);
}

int conn_fd(const struct conn *c)
{
    return c->fd;
}

SSL *conn_ssl(const struct conn *c)
{
    return c->ssl;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}
