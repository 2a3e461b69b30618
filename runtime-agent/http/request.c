#include "runtime-agent/http/request.h"

#include <errno.h>
#include <poll.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "berth/util.h"

/* Grow *s by N bytes of AT, keeping it NUL-terminated. */
static void append(char **s, size_t *len, const char *at, size_t n)
{
    char *ns = realloc(*s, *len + n + 1);
    if (ns == NULL)
        abort();
    memcpy(ns + *len, at, n);
    *len += n;
    ns[*len] = '\0';
    *s = ns;
}

static void append_str(char **s, const char *at, size_t n)
{
    size_t len = strlen(*s);
    append(s, &len, at, n);
}

static struct http_request *req_of(http_parser *p)
{
    return p->data;
}

/* Count head bytes against the limit; a too large head is answered with 431. */
static int head_grow(struct http_request *req, size_t n)
{
    req->head_bytes += n;
    if (req->head_bytes <= HTTP_MAX_HEAD_BYTES)
        return 0;
    req->error_status = 431;
    return -1;
}

static int on_message_begin(http_parser *p)
{
    req_of(p)->started = true;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_request *req = req_of(p);
    if (head_grow(req, n) < 0)
        return -1;
    append(&req->url, &req->url_len, at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_request *req = req_of(p);

    if (head_grow(req, n) < 0)
        return -1;
    if (req->n_headers == 0 || req->in_value) {
        if (req->n_headers == HTTP_MAX_HEADERS) {
            req->error_status = 431;
            return -1;
        }
        struct http_header *h = realloc(req->headers, (req->n_headers + 1) * sizeof(*h));
        if (h == NULL)
            abort();
        req->headers = h;
        h[req->n_headers++] = (struct http_header){xstrdup(""), xstrdup("")};
        req->in_value = false;
    }
    append_str(&req->headers[req->n_headers - 1].name, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_request *req = req_of(p);

    if (head_grow(req, n) < 0 || req->n_headers == 0)
        return -1;
    append_str(&req->headers[req->n_headers - 1].value, at, n);
    req->in_value = true;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_request *req = req_of(p);

    req->head_done = true;
    req->method = http_method_str((enum http_method)p->method);
    req->keep_alive = http_should_keep_alive(p);
    req->upgrade = (p->flags & F_UPGRADE) && (p->flags & F_CONNECTION_UPGRADE);
    /* Stop before the body: it is parsed only when the handler reads it, under
     * the route's size limit. Without a body the parser runs on to the end of
     * the message (and stops there). */
    bool has_body =
        (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
    if (has_body)
        http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_request *req = req_of(p);

    req->body_total += n;
    if (req->body_total > req->body_limit) {
        req->error_status = 413;
        return -1;
    }
    if (req->pend_pos == req->pend_len)
        req->pend_pos = req->pend_len = 0;
    append(&req->pending, &req->pend_len, at, n);
    return 0;
}

/* Stop the parser at the end of the message, so bytes of a pipelined next
 * request (or of a hijacked stream) stay in the connection buffer. */
static int on_message_complete(http_parser *p)
{
    req_of(p)->msg_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_request_init(struct http_request *req, struct conn *c, void *app)
{
    memset(req, 0, sizeof(*req));
    req->conn = c;
    req->app = app;
    req->body_limit = HTTP_DEFAULT_MAX_BODY;
    http_parser_init(&req->parser, HTTP_REQUEST);
    req->parser.data = req;
}

/* Run the parser over the buffered input. The buffer never holds more than
 * CONN_BUF_SIZE bytes, which bounds what on_body can queue in one go, and the
 * body is only fed once the queue is empty. */
static int feed(struct http_request *req, berr_t *err)
{
    const char *data;
    size_t n = conn_buffered(req->conn, &data);

    /* Paused at the end of the head; resume for the body. */
    if (HTTP_PARSER_ERRNO(&req->parser) == HPE_PAUSED)
        http_parser_pause(&req->parser, 0);
    size_t used = http_parser_execute(&req->parser, &settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&req->parser);

    conn_consume(req->conn, used);
    if (e == HPE_OK || e == HPE_PAUSED)
        return 0;
    if (e == HPE_HEADER_OVERFLOW)
        req->error_status = 431;
    if (req->error_status == 431)
        return http_err(err, EMSGSIZE, "request header fields too large (limit %d bytes)",
                        HTTP_MAX_HEAD_BYTES);
    if (req->error_status == 413)
        return http_err(err, EMSGSIZE, "request body too large (limit %llu bytes)",
                        (unsigned long long)req->body_limit);
    req->error_status = 400;
    return http_err(err, EINVAL, "malformed HTTP request: %s", http_errno_description(e));
}

int http_read_head(struct http_request *req, long long deadline, berr_t *err)
{
    while (!req->head_done) {
        const char *data;
        if (conn_buffered(req->conn, &data) == 0) {
            berr_t ferr = NULL;
            ssize_t n = conn_fill(req->conn, deadline, &ferr);
            if (n <= 0 && !req->started) {
                berr_free(&ferr); /* idle keep-alive connection going away */
                return 0;
            }
            if (n == 0) {
                req->error_status = 0;
                return berr_set(err, ECONNRESET, "client closed the connection mid-request");
            }
            if (n < 0) {
                req->error_status = ferr->errnum == ETIMEDOUT ? 408 : 0;
                http_err(err, ferr->errnum, "read request head: %s", berr_msg(ferr));
                berr_free(&ferr);
                return -1;
            }
        }
        if (feed(req, err) < 0)
            return -1;
    }
    return 1;
}

int http_request_route(struct http_request *req, const struct router *r, berr_t *err)
{
    struct http_parser_url u;
    int version;

    http_parser_url_init(&u);
    if (http_parser_parse_url(req->url, req->url_len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH))) {
        req->match.status = 400;
        return http_err(err, EINVAL, "invalid request URL");
    }
    req->path =
        xasprintf("%.*s", (int)u.field_data[UF_PATH].len, req->url + u.field_data[UF_PATH].off);
    if (router_split_version(req->path, &version, &req->route_path) != 1)
        req->route_path = req->path;
    if (router_resolve(r, req->method, req->path, &req->match, err) < 0)
        return -1;
    if ((u.field_set & (1 << UF_QUERY)) &&
        http_query_parse(&req->query, req->url + u.field_data[UF_QUERY].off,
                         u.field_data[UF_QUERY].len, err) < 0) {
        req->match.status = 400;
        return -1;
    }
    req->body_limit =
        req->match.route->max_body ? req->match.route->max_body : HTTP_DEFAULT_MAX_BODY;
    /* A declared length over the cap is refused before any of it is read. */
    if (!req->msg_done && (req->parser.flags & F_CONTENTLENGTH) &&
        req->body_total + req->parser.content_length > req->body_limit) {
        req->match.status = 413;
        return http_err(err, EMSGSIZE, "request body too large (limit %llu bytes)",
                        (unsigned long long)req->body_limit);
    }
    return 0;
}

/* Answer "Expect: 100-continue" before the first body read, as curl waits for it. */
static int send_continue(struct http_request *req, berr_t *err)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const char *expect = http_req_header(req, "Expect");

    if (req->continue_sent || expect == NULL || strcasecmp(expect, "100-continue") != 0)
        return 0;
    req->continue_sent = true;
    return conn_write_all(req->conn, line, sizeof(line) - 1, conn_deadline(HTTP_WRITE_TIMEOUT_MS),
                          err);
}

/* Parse more body bytes into req->pending. */
static int body_more(struct http_request *req, berr_t *err)
{
    const char *data;

    if (send_continue(req, err) < 0)
        return -1;
    if (conn_buffered(req->conn, &data) == 0) {
        ssize_t n = conn_fill(req->conn, conn_deadline(HTTP_BODY_TIMEOUT_MS), err);
        if (n == 0)
            return berr_set(err, ECONNRESET, "request body: client closed the connection");
        if (n < 0)
            return berr_prefix(err, "request body");
    }
    return feed(req, err);
}

ssize_t http_body_read(struct http_request *req, void *buf, size_t len, berr_t *err)
{
    if (req->body_failed)
        return berr_set(err, EIO, "request body: unreadable after an earlier error");
    while (req->pend_pos == req->pend_len) {
        if (req->msg_done)
            return 0;
        if (body_more(req, err) < 0) {
            req->body_failed = true;
            return -1;
        }
    }
    size_t n = req->pend_len - req->pend_pos;
    if (n > len)
        n = len;
    memcpy(buf, req->pending + req->pend_pos, n);
    req->pend_pos += n;
    return (ssize_t)n;
}

int http_body_read_all(struct http_request *req, char **out, size_t *len, berr_t *err)
{
    _cleanup_free_ char *buf = xstrdup("");
    size_t total = 0;
    char chunk[16384];
    ssize_t n;

    while ((n = http_body_read(req, chunk, sizeof(chunk), err)) > 0)
        append(&buf, &total, chunk, (size_t)n);
    if (n < 0)
        return -1;
    if (len != NULL)
        *len = total;
    *out = steal_pointer(&buf);
    return 0;
}

int http_body_json(struct http_request *req, json_t **out, berr_t *err)
{
    _cleanup_free_ char *body = NULL;
    json_error_t jerr;
    size_t len;

    *out = NULL;
    if (http_body_read_all(req, &body, &len, err) < 0)
        return -1;
    if (strspn(body, " \t\r\n") == len)
        return 0;
    *out = json_loadb(body, len, 0, &jerr);
    if (*out == NULL)
        return http_err(err, EINVAL, "invalid JSON in request body: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
    return 0;
}

int http_body_discard(struct http_request *req, uint64_t limit)
{
    char chunk[16384];
    uint64_t total = 0;
    ssize_t n;
    berr_t err = NULL;

    req->pend_pos = req->pend_len = 0;
    if (req->msg_done)
        return 0;
    /* A client still waiting for 100 Continue would only send the body now: close instead. */
    if (http_req_header(req, "Expect") != NULL && !req->continue_sent)
        return -1;
    while ((n = http_body_read(req, chunk, sizeof(chunk), &err)) > 0) {
        total += (uint64_t)n;
        if (total > limit)
            return -1;
    }
    berr_free(&err);
    return n == 0 ? 0 : -1;
}

void http_request_free(struct http_request *req)
{
    free(req->url);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    free(req->path);
    http_query_free(&req->query);
    route_params_clear(&req->match.params);
    free(req->pending);
    memset(req, 0, sizeof(*req));
}

const char *http_req_method(const struct http_request *req)
{
    return req->method;
}

const char *http_req_path(const struct http_request *req)
{
    return req->route_path ? req->route_path : "";
}

const char *http_req_param(const struct http_request *req, const char *name)
{
    return route_param(&req->match.params, name);
}

const char *http_req_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *http_req_query(const struct http_request *req, const char *name)
{
    return http_query_get(&req->query, name);
}

const char *http_req_query_nth(const struct http_request *req, const char *name, size_t idx)
{
    return http_query_nth(&req->query, name, idx);
}

bool http_req_query_bool(const struct http_request *req, const char *name, bool def)
{
    return http_query_bool(&req->query, name, def);
}

int http_req_api_version(const struct http_request *req)
{
    return req->match.version;
}

bool http_req_wants_upgrade(const struct http_request *req)
{
    return req->upgrade;
}

bool http_req_client_gone(struct http_request *req)
{
    struct pollfd p = {.fd = conn_fd(req->conn), .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void *http_req_app(const struct http_request *req)
{
    return req->app;
}
