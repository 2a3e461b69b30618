/* One client connection, whatever carries it: a unix socket, plain TCP or TLS.
 *
 * The fd is non-blocking; every read and write waits with poll() up to an
 * absolute deadline (milliseconds of now_ms(), or CONN_NO_DEADLINE), so a
 * silent peer can never hold a thread forever. Reads are buffered: bytes the
 * HTTP parser has not consumed stay in the connection and are returned first
 * by conn_read(), which is what a hijacking handler must use.
 *
 * Thread safety: one thread may read while another writes (attach copies both
 * ways). For TLS each OpenSSL call runs under a per-connection lock; since the
 * socket is non-blocking no call holds the lock while waiting. */
#ifndef BERTHD_HTTP_CONN_H
#define BERTHD_HTTP_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

#define CONN_NO_DEADLINE (-1LL)
#define CONN_BUF_SIZE (64 * 1024)

struct conn;

/* Wrap an accepted FD (made non-blocking here); with TLS non-NULL the connection
 * speaks TLS once conn_handshake() succeeds. PEER names the client in logs.
 * The connection owns FD on success; on failure the caller still does. */
struct conn *conn_new(int fd, SSL_CTX *tls, const char *peer, berr_t *err);

/* Run the TLS server handshake (no-op for plain connections). */
int conn_handshake(struct conn *c, long long deadline, berr_t *err);

/* Read up to LEN bytes, buffered bytes first. Returns the count, 0 at end of
 * stream, -1 on error (errnum ETIMEDOUT when the deadline passed). */
ssize_t conn_read(struct conn *c, void *buf, size_t len, long long deadline, berr_t *err);

/* Read more into the internal buffer when it is empty. Returns as conn_read. */
ssize_t conn_fill(struct conn *c, long long deadline, berr_t *err);

/* The buffered, unconsumed input (for the HTTP parser), and how much of it was used. */
size_t conn_buffered(const struct conn *c, const char **data);
void conn_consume(struct conn *c, size_t n);

/* True when a read would return data at once (buffered here or inside TLS):
 * check it before poll()ing conn_fd(), which cannot see those bytes. */
bool conn_has_pending(struct conn *c);

/* Write all of BUF. */
int conn_write_all(struct conn *c, const void *buf, size_t len, long long deadline, berr_t *err);

/* End our sending direction (TCP half-close, or TLS close_notify) while reading on. */
int conn_shutdown_write(struct conn *c, long long deadline, berr_t *err);

/* Wake any thread blocked on this connection and make further I/O fail (for shutdown):
 * reads see the end of the stream, writes fail, poll() reports POLLHUP. */
void conn_abort(struct conn *c);

/* Whether conn_abort ended C: an end of stream then is berthd's doing, not the client's. */
bool conn_aborted(const struct conn *c);

/* Close the socket and free everything. */
void conn_free(struct conn *c);

/* The raw socket, for poll(); with TLS never read or write it directly. */
int conn_fd(const struct conn *c);

/* The OpenSSL session, or NULL for a plain connection. */
SSL *conn_ssl(const struct conn *c);

/* The peer description given to conn_new(). */
const char *conn_peer(const struct conn *c);

/* A deadline TIMEOUT_MS from now. */
long long conn_deadline(long long timeout_ms);

#endif
