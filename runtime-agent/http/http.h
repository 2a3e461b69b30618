/* The HTTP API that berthd's route handlers are written against.
 *
 * Handlers
 *   int handler(struct http_request *req, struct http_response *resp, berr_t *err);
 * A handler answers through RESP and returns 0. When it fails before answering
 * it returns -1 with *err set, and the server answers {"message": <err>} with
 * the status http_status_for_errno() picks from err's errnum (ENOENT 404,
 * EEXIST/EBUSY 409, EINVAL 400, ...). http_err() sets an exact message for
 * that (docker clients match on texts like "No such image: NAME"); a handler
 * may also answer with http_resp_error() and return 0.
 * A failure after a stream started cannot change the status any more: the
 * server logs it and closes the connection.
 *
 * Each connection has its own thread, so a handler may block (wait for a
 * container, follow logs) without holding anyone else up.
 *
 * Answering: exactly one of
 *   - a whole response: http_resp_send(), http_resp_json(), http_resp_error();
 *   - a stream: http_chunk_begin(), then http_chunk_write()/http_chunk_json()
 *     as data arrives (each goes out at once), then http_chunk_end() (called
 *     for the handler if it returns without);
 *   - a hijack: http_hijack() (below).
 * http_resp_header() adds headers before any of them. HEAD requests get the
 * headers only; handlers need not care.
 *
 * Request bodies are not read before the handler runs. http_body_read() pulls
 * the body progressively (Content-Length or chunked, decoded), so a tar upload
 * is never held in memory; http_body_read_all()/http_body_json() are the
 * shortcuts for small JSON bodies. A route's max_body caps what may be read
 * (HTTP_DEFAULT_MAX_BODY unless the route says otherwise); past it reads fail
 * with EMSGSIZE (413). What a handler leaves unread is discarded afterwards.
 *
 * Hijack (attach, exec start): http_hijack() answers "101 UPGRADED" with
 * Connection/Upgrade: tcp when the client asked for an upgrade, or "200 OK"
 * without a length when it did not, and hands back the raw connection. From
 * then on the handler owns the byte stream: conn_read()/conn_write_all() from
 * http/conn.h work the same over unix, TCP and TLS (conn_fd() gives the socket
 * for poll(), conn_ssl() the TLS session). conn_read() first returns bytes the
 * client sent right behind the request, so always read through it, and check
 * conn_has_pending() before waiting in poll(). One thread may read while
 * another writes. conn_shutdown_write() half-closes. The server closes the connection when the
 * handler returns, so the handler keeps running while the stream is in use;
 * at daemon shutdown the connection is aborted, which wakes blocked reads. */
#ifndef BERTHD_HTTP_H
#define BERTHD_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/error.h"
#include "runtime-agent/http/conn.h"

/* Time a client gets to send a complete request head (also the keep-alive idle
 * limit); a slow or stuck client is dropped after it. */
#define HTTP_HEADER_TIMEOUT_MS (60 * 1000)
/* Longest silence allowed while a handler reads the request body. */
#define HTTP_BODY_TIMEOUT_MS (60 * 1000)
/* Longest a write may wait for a client that does not read. */
#define HTTP_WRITE_TIMEOUT_MS (120 * 1000)
/* Request line plus all header names and values: larger heads get 431. */
#define HTTP_MAX_HEAD_BYTES (64 * 1024)
#define HTTP_MAX_HEADERS 256
/* Body cap for routes that do not set max_body. */
#define HTTP_DEFAULT_MAX_BODY ((uint64_t)16 * 1024 * 1024)
/* max_body for routes that stream their body (tar uploads). */
#define HTTP_BODY_UNLIMITED UINT64_MAX

/* An API version as one comparable number: API_VERSION(1, 43). */
#define API_VERSION(major, minor) ((major)*1000 + (minor))

struct http_request;
struct http_response;

typedef int (*http_handler_fn)(struct http_request *req, struct http_response *resp, berr_t *err);

/* The request method ("GET", "POST", ...). */
const char *http_req_method(const struct http_request *req);

/* The path as sent, without the query and without a /vX.YY prefix. */
const char *http_req_path(const struct http_request *req);

/* The percent-decoded value of path parameter {NAME}, or NULL. */
const char *http_req_param(const struct http_request *req, const char *name);

/* The value of header NAME (case-insensitive), or NULL. */
const char *http_req_header(const struct http_request *req, const char *name);

/* The first decoded value of query parameter NAME, or NULL when absent. */
const char *http_req_query(const struct http_request *req, const char *name);

/* The IDX-th value of a repeated query parameter, or NULL past the last. */
const char *http_req_query_nth(const struct http_request *req, const char *name, size_t idx);

/* Docker's boolean query value: DEF when absent, false for ""/0/no/false/none. */
bool http_req_query_bool(const struct http_request *req, const char *name, bool def);

/* The API version from the /vX.YY prefix as API_VERSION(), or 0 when unversioned. */
int http_req_api_version(const struct http_request *req);

/* True when the client asked to upgrade the connection (Connection: Upgrade). */
bool http_req_wants_upgrade(const struct http_request *req);

/* True when the client closed or reset its connection (for handlers that wait long, such
 * as container wait, to give up on a client that left). Never blocks. */
bool http_req_client_gone(struct http_request *req);

/* The application context given to the server (berthd's struct daemon). */
void *http_req_app(const struct http_request *req);

/* Read up to LEN body bytes: the count, 0 at the end of the body, -1 on error. */
ssize_t http_body_read(struct http_request *req, void *buf, size_t len, berr_t *err);

/* Read the whole body into a NUL-terminated buffer (*len may be NULL). */
int http_body_read_all(struct http_request *req, char **out, size_t *len, berr_t *err);

/* Read and parse a JSON body; an empty body gives *out = NULL. */
int http_body_json(struct http_request *req, json_t **out, berr_t *err);

/* Add a response header; ignored once the response has started. */
void http_resp_header(struct http_response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Send a whole response. Write failures close the connection; there is
 * nothing a handler could do about them, so these return nothing. */
void http_resp_send(struct http_response *resp, int status, const char *content_type,
                    const void *body, size_t len);

/* Send BODY as application/json (plus a newline, as dockerd does); takes the reference. */
void http_resp_json(struct http_response *resp, int status, json_t *body);

/* Send the Docker error body {"message": "..."} with STATUS. */
void http_resp_error(struct http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Send a status without a body (204 No Content, 304 Not Modified). */
void http_resp_empty(struct http_response *resp, int status);

/* Start a streamed response: the status line and headers go out now. */
int http_chunk_begin(struct http_response *resp, int status, const char *content_type, berr_t *err);

/* Send LEN bytes of the stream at once; fails when the client went away. */
int http_chunk_write(struct http_response *resp, const void *buf, size_t len, berr_t *err);

/* Send one JSON document and a newline (progress and event streams); takes the reference. */
int http_chunk_json(struct http_response *resp, json_t *doc, berr_t *err);

/* End the stream. */
int http_chunk_end(struct http_response *resp, berr_t *err);

/* True once the status line went out (a handler error can no longer change it). */
bool http_resp_started(const struct http_response *resp);

/* Take over the connection: answer 101 UPGRADED (or 200 without an upgrade
 * request) with CONTENT_TYPE and return the raw connection, valid until the
 * handler returns. */
struct conn *http_hijack(struct http_response *resp, const char *content_type, berr_t *err);

/* The status a handler error with errno ERRNUM maps to. */
int http_status_for_errno(int errnum);

/* Set *err to exactly the message FMT, without strerror text, keeping ERRNUM
 * to pick the status: return http_err(err, ENOENT, "No such image: %s", n)
 * answers 404 with that text. Returns -1. */
int http_err(berr_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
