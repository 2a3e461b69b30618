/* berthd's HTTP server: a listener thread per -H address, a detached thread
 * per connection running http_serve_conn(), and an orderly stop.
 *
 *   struct http_service svc = {router, common_headers, app};
 *   struct http_server *s = http_server_new(&svc);
 *   http_server_listen(s, "unix:///run/berth/berthd.sock", NULL, err);
 *   http_server_listen(s, "tcp://0.0.0.0:2376", tls_ctx, err);
 *   http_server_start(s, err);
 *   ... wait for a signal ...
 *   wake what handlers block on (their app's own shutdown)
 *   if (http_server_stop(s, err) == 0) {   every connection thread has ended
 *       http_server_free(s);
 *       free what handlers use
 *   } */
#ifndef BERTHD_HTTP_SERVER_H
#define BERTHD_HTTP_SERVER_H

#include <openssl/ssl.h>

#include "berth/error.h"
#include "runtime-agent/http/conn.h"
#include "runtime-agent/http/router.h"

/* Connections beyond this are closed at once, so a flood cannot exhaust threads. */
#define HTTP_MAX_CONNECTIONS 1024
/* How long http_server_stop() waits for connection threads to finish. */
#define HTTP_STOP_TIMEOUT_MS 5000
/* Unread request body a keep-alive connection discards before the next request. */
#define HTTP_DRAIN_LIMIT (1024 * 1024)
/* Most of an unread body read before closing, so the client sees the answer (lingering close). */
#define HTTP_LINGER_LIMIT (256 * 1024 * 1024)

/* What a connection is served with. */
struct http_service {
    const struct router *router;
    const char *common_headers; /* "Name: value\r\n" lines added to every response */
    void *app;                  /* handed to handlers by http_req_app() */
};

/* Serve requests on C until the client closes, errs, or a handler hijacks it;
 * runs the TLS handshake first. The caller frees C afterwards. */
void http_serve_conn(const struct http_service *svc, struct conn *c);

struct http_server;

/* A server with no listeners; SVC is copied, what it points to must outlive the server. */
struct http_server *http_server_new(const struct http_service *svc);

/* Bind the -H address SPEC now (so errors surface before the daemon starts);
 * with TLS non-NULL tcp connections speak TLS. TLS must outlive the server. */
int http_server_listen(struct http_server *s, const char *spec, SSL_CTX *tls, berr_t *err);

/* Start accepting on every bound address. */
int http_server_start(struct http_server *s, berr_t *err);

/* Stop accepting, remove unix sockets, abort open connections (conn_abort: blocked reads
 * and writes fail, poll() reports POLLHUP) and wait until every connection thread has
 * ended and been joined. Handlers blocked on something else must be woken by the app
 * before. -1 when threads are still busy after HTTP_STOP_TIMEOUT_MS: then they may still
 * use the server and the app, so neither may be freed. */
int http_server_stop(struct http_server *s, berr_t *err);

/* Free a server that was never started, or whose http_server_stop returned 0. */
void http_server_free(struct http_server *s);

#endif
