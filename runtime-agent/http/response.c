#include "runtime-agent/http/response.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/log.h"

/* Request body a hijack discards before the raw stream starts. */
#define HTTP_MAX_HIJACK_DRAIN (1024 * 1024)

void http_response_init(struct http_response *resp, struct http_request *req,
                        const char *common_headers)
{
    memset(resp, 0, sizeof(*resp));
    resp->req = req;
    resp->conn = req->conn;
    resp->common_headers = common_headers ? common_headers : "";
    resp->head_only = req->method != NULL && strcmp(req->method, "HEAD") == 0;
    resp->http11 = req->parser.http_major == 1 && req->parser.http_minor >= 1;
    resp->upgrade = req->upgrade;
    /* After an upgrade request http-parser treats the rest as another protocol. */
    resp->keep_alive = req->keep_alive && !req->upgrade;
}

void http_response_free(struct http_response *resp)
{
    free(resp->headers);
    resp->headers = NULL;
}

int http_status_for_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
        return 404;
    case EEXIST:
    case EBUSY:
        return 409;
    case EINVAL:
        return 400;
    case EPERM:
    case EACCES:
        return 403;
    case EMSGSIZE:
        return 413;
    case ETIMEDOUT:
        return 408;
    case ENOTSUP:
    case ENOSYS:
        return 501;
    default:
        return 500;
    }
}

int http_err(berr_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    berr_vset(err, 0, fmt, ap);
    va_end(ap);
    if (err != NULL && *err != NULL)
        (*err)->errnum = errnum;
    return -1;
}

static const char *reason(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "Status" : s;
}

/* Build the status line and headers. FRAMING is the Content-Length or
 * Transfer-Encoding line (or "" for none), CONTENT_TYPE may be NULL. */
static char *build_head(struct http_response *resp, int status, const char *content_type,
                        const char *framing, size_t *len)
{
    char *buf = NULL;
    char date[64];
    struct tm tm;
    time_t now = time(NULL);
    FILE *f = open_memstream(&buf, len);

    if (f == NULL)
        abort();
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    fprintf(f, "HTTP/1.1 %d %s\r\nDate: %s\r\n%s", status, reason(status), date,
            resp->common_headers);
    if (content_type != NULL)
        fprintf(f, "Content-Type: %s\r\n", content_type);
    if (resp->headers_len > 0)
        fwrite(resp->headers, 1, resp->headers_len, f);
    fputs(framing, f);
    if (!resp->keep_alive)
        fputs("Connection: close\r\n", f);
    fputs("\r\n", f);
    if (fclose(f) != 0)
        abort();
    return buf;
}

static int write_out(struct http_response *resp, const void *buf, size_t len, berr_t *err)
{
    if (conn_write_all(resp->conn, buf, len, conn_deadline(HTTP_WRITE_TIMEOUT_MS), err) < 0) {
        resp->broken = true;
        return -1;
    }
    return 0;
}

/* Refuse a second answer: a handler bug, logged rather than corrupting the stream. */
static bool may_start(struct http_response *resp, const char *what)
{
    if (resp->state == RESP_NONE)
        return true;
    log_error("http: %s after the response started (handler bug)", what);
    return false;
}

void http_resp_header(struct http_response *resp, const char *name, const char *fmt, ...)
{
    _cleanup_free_ char *value = NULL;
    va_list ap;

    if (resp->state != RESP_NONE)
        return;
    va_start(ap, fmt);
    if (vasprintf(&value, fmt, ap) < 0)
        abort();
    va_end(ap);
    _cleanup_free_ char *line = xasprintf("%s: %s\r\n", name, value);
    size_t n = strlen(line);
    char *nh = realloc(resp->headers, resp->headers_len + n + 1);
    if (nh == NULL)
        abort();
    memcpy(nh + resp->headers_len, line, n + 1);
    resp->headers = nh;
    resp->headers_len += n;
}

void http_resp_send(struct http_response *resp, int status, const char *content_type,
                    const void *body, size_t len)
{
    if (!may_start(resp, "send"))
        return;
    _cleanup_free_ char *framing = xasprintf("Content-Length: %zu\r\n", len);
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    size_t head_len;
    _cleanup_free_ char *head =
        build_head(resp, status, content_type, no_body ? "" : framing, &head_len);
    size_t body_len = resp->head_only || no_body ? 0 : len;
    _cleanup_free_ char *msg = xcalloc(1, head_len + body_len);
    berr_t err = NULL;

    /* One write: one TCP segment or TLS record for small answers. */
    memcpy(msg, head, head_len);
    if (body_len > 0)
        memcpy(msg + head_len, body, body_len);
    resp->status = status;
    resp->state = RESP_DONE;
    resp->bytes = body_len;
    if (write_out(resp, msg, head_len + body_len, &err) < 0)
        log_debug("http: %s", berr_msg(err));
    berr_free(&err);
}

void http_resp_empty(struct http_response *resp, int status)
{
    http_resp_send(resp, status, NULL, NULL, 0);
}

void http_resp_json(struct http_response *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    if (text == NULL) {
        http_resp_error(resp, 500, "encode JSON response: out of memory");
        return;
    }
    _cleanup_free_ char *line = xasprintf("%s\n", text);
    free(text);
    http_resp_send(resp, status, "application/json", line, strlen(line));
}

void http_resp_error(struct http_response *resp, int status, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    http_resp_json(resp, status, json_pack("{s:s}", "message", msg));
}

int http_chunk_begin(struct http_response *resp, int status, const char *content_type, berr_t *err)
{
    size_t len;

    if (!may_start(resp, "http_chunk_begin"))
        return http_err(err, EALREADY, "start response stream: response already started");
    /* HTTP/1.0 has no chunked encoding: stream raw and mark the end by closing. */
    if (!resp->http11)
        resp->keep_alive = false;
    _cleanup_free_ char *head = build_head(
        resp, status, content_type, resp->http11 ? "Transfer-Encoding: chunked\r\n" : "", &len);
    resp->status = status;
    resp->state = RESP_STREAM;
    return write_out(resp, head, len, err);
}

int http_chunk_write(struct http_response *resp, const void *buf, size_t len, berr_t *err)
{
    char size[32];

    if (resp->state != RESP_STREAM)
        return http_err(err, EINVAL, "write response stream: stream not started");
    /* A zero-length chunk would end the stream. */
    if (len == 0 || resp->head_only)
        return 0;
    resp->bytes += len;
    if (!resp->http11)
        return write_out(resp, buf, len, err);
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    if (len <= 64 * 1024) {
        _cleanup_free_ char *msg = xcalloc(1, (size_t)n + len + 2);
        memcpy(msg, size, (size_t)n);
        memcpy(msg + n, buf, len);
        memcpy(msg + n + len, "\r\n", 2);
        return write_out(resp, msg, (size_t)n + len + 2, err);
    }
    if (write_out(resp, size, (size_t)n, err) < 0 || write_out(resp, buf, len, err) < 0)
        return -1;
    return write_out(resp, "\r\n", 2, err);
}

int http_chunk_json(struct http_response *resp, json_t *doc, berr_t *err)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (text == NULL)
        return http_err(err, ENOMEM, "encode JSON stream item: out of memory");
    _cleanup_free_ char *line = xasprintf("%s\n", text);
    free(text);
    return http_chunk_write(resp, line, strlen(line), err);
}

int http_chunk_end(struct http_response *resp, berr_t *err)
{
    if (resp->state != RESP_STREAM)
        return http_err(err, EINVAL, "end response stream: stream not started");
    resp->state = RESP_DONE;
    if (!resp->http11 || resp->head_only)
        return 0;
    return write_out(resp, "0\r\n\r\n", 5, err);
}

bool http_resp_started(const struct http_response *resp)
{
    return resp->state != RESP_NONE;
}

struct conn *http_hijack(struct http_response *resp, const char *content_type, berr_t *err)
{
    _cleanup_free_ char *head = NULL;

    if (!may_start(resp, "http_hijack")) {
        http_err(err, EALREADY, "hijack connection: response already started");
        return NULL;
    }
    /* Unread body bytes would otherwise show up as the start of the raw stream. */
    if (http_body_discard(resp->req, HTTP_MAX_HIJACK_DRAIN) < 0) {
        http_err(err, EINVAL, "hijack connection: cannot skip the request body");
        return NULL;
    }
    /* Without an upgrade request dockerd answers 200 and streams until close. */
    head = xasprintf("HTTP/1.1 %s\r\nContent-Type: %s\r\n%s%s\r\n",
                     resp->upgrade ? "101 UPGRADED" : "200 OK", content_type,
                     resp->upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "",
                     resp->common_headers);
    resp->status = resp->upgrade ? 101 : 200;
    resp->state = RESP_HIJACKED;
    resp->keep_alive = false;
    if (write_out(resp, head, strlen(head), err) < 0)
        return NULL;
    return resp->conn;
}

void http_response_finish(struct http_response *resp, int rc, berr_t err)
{
    berr_t werr = NULL;

    switch (resp->state) {
    case RESP_NONE:
        if (rc < 0)
            http_resp_error(resp, http_status_for_errno(err ? err->errnum : 0), "%s",
                            berr_msg(err));
        else
            http_resp_error(resp, 500, "internal error: the handler sent no response");
        break;
    case RESP_STREAM:
        /* The status already went out: closing is the only way left to signal failure. */
        if (rc < 0) {
            log_warn("http: stream aborted: %s", berr_msg(err));
            resp->broken = true;
        } else if (http_chunk_end(resp, &werr) < 0) {
            log_debug("http: %s", berr_msg(werr));
        }
        break;
    case RESP_DONE:
        if (rc < 0)
            log_warn("http: handler failed after answering: %s", berr_msg(err));
        break;
    case RESP_HIJACKED:
        if (rc < 0)
            log_debug("http: hijacked stream ended: %s", berr_msg(err));
        break;
    }
    berr_free(&werr);
}
