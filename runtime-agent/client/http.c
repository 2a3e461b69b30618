#include "runtime-agent/client/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"

static struct cli_http *of(http_parser *p)
{
    return p->data;
}

static void append(char **s, const char *at, size_t n)
{
    size_t old = *s ? strlen(*s) : 0;
    char *r = realloc(*s, old + n + 1);
    if (r == NULL)
        abort();
    memcpy(r + old, at, n);
    r[old + n] = '\0';
    *s = r;
}

/* A complete header line: only Content-Type matters to the client. */
static void header_done(struct cli_http *h)
{
    if (h->field && h->value && strcasecmp(h->field, "Content-Type") == 0) {
        free(h->content_type);
        h->content_type = xstrdup(h->value);
    }
    free(h->field);
    free(h->value);
    h->field = h->value = NULL;
    h->in_value = false;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    struct cli_http *h = of(p);
    if (h->in_value)
        header_done(h);
    append(&h->field, at, n);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    struct cli_http *h = of(p);
    h->in_value = true;
    append(&h->value, at, n);
    return 0;
}

/* Stop here (unless upgraded), so the caller sees the status before any of the body is consumed. */
static int on_headers_complete(http_parser *p)
{
    struct cli_http *h = of(p);
    header_done(h);
    h->status = (int)p->status_code;
    h->headers_done = true;
    /* An upgrade ends the message right here: let the parser run on to it. */
    if (!p->upgrade)
        http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct cli_http *h = of(p);
    if (h->sink != NULL)
        return h->sink(h->sink_arg, at, n, &h->sink_err) < 0 ? -1 : 0;
    if (h->body_len + n + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap : 4096;
        while (cap < h->body_len + n + 1)
            cap *= 2;
        char *b = realloc(h->body, cap);
        if (b == NULL)
            abort();
        h->body = b;
        h->body_cap = cap;
    }
    memcpy(h->body + h->body_len, at, n);
    h->body_len += n;
    h->body[h->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    of(p)->done = true;
    return 0;
}

static const http_parser_settings settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static int send_body_fd(struct cli_http *h, int fd, bool chunked, berr_t *err)
{
    static char chunk[65536];
    char head[32];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "read the request body");
        if (n == 0)
            break;
        if (chunked) {
            int hl = snprintf(head, sizeof(head), "%zx\r\n", (size_t)n);
            if (cli_conn_write_all(&h->conn, head, (size_t)hl, err) < 0)
                return -1;
        }
        if (cli_conn_write_all(&h->conn, chunk, (size_t)n, err) < 0 ||
            (chunked && cli_conn_write_all(&h->conn, "\r\n", 2, err) < 0))
            return -1;
    }
    return chunked ? cli_conn_write_all(&h->conn, "0\r\n\r\n", 5, err) : 0;
}

int cli_http_send(struct cli_endpoint *ep, struct cli_http *h, const struct cli_req *req,
                  berr_t *err)
{
    _cleanup_free_ char *head = NULL, *length = NULL;
    bool chunked = false;

    *h = (struct cli_http){.conn = {.fd = -1}};
    http_parser_init(&h->parser, HTTP_RESPONSE);
    h->parser.data = h;
    if (req->body_fd >= 0) {
        struct stat st;
        if (fstat(req->body_fd, &st) == 0 && S_ISREG(st.st_mode)) {
            off_t pos = lseek(req->body_fd, 0, SEEK_CUR);
            length = xasprintf("Content-Length: %lld\r\n",
                               (long long)(st.st_size - (pos > 0 ? pos : 0)));
        } else {
            chunked = true;
            length = xstrdup("Transfer-Encoding: chunked\r\n");
        }
    } else if (req->body != NULL || strcmp(req->method, "POST") == 0 ||
               strcmp(req->method, "PUT") == 0) {
        length = xasprintf("Content-Length: %zu\r\n", req->body ? req->body_len : 0);
    }
    head = xasprintf("%s /v" CLI_API_VERSION "%s HTTP/1.1\r\n"
                     "Host: api.moby.localhost\r\n"
                     "User-Agent: berthd-client/" BERTH_VERSION "\r\n"
                     "%s%s%s%s%s\r\n",
                     req->method, req->path, req->content_type ? "Content-Type: " : "",
                     req->content_type ? req->content_type : "", req->content_type ? "\r\n" : "",
                     length ? length : "",
                     req->upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                                  : "Connection: close\r\n");
    if (cli_conn_open(ep, &h->conn, err) < 0)
        return -1;
    if (cli_conn_write_all(&h->conn, head, strlen(head), err) < 0)
        return -1;
    if (req->body_fd >= 0) {
        berr_t werr = NULL;
        if (send_body_fd(h, req->body_fd, chunked, &werr) < 0) {
            /* The daemon may have answered (an error) and stopped reading: report that. */
            if (cli_http_headers(h, err) == 0 && h->status >= 400) {
                berr_free(&werr);
                return 0;
            }
            berr_free(err);
            *err = werr;
            return -1;
        }
    } else if (req->body != NULL && req->body_len > 0) {
        if (cli_conn_write_all(&h->conn, req->body, req->body_len, err) < 0)
            return -1;
    }
    return 0;
}

/* Parse what is buffered, reading more when it is used up, until the headers (or the whole
 * response, or the upgrade) are through. */
static int pump(struct cli_http *h, bool headers_only, berr_t *err)
{
    for (;;) {
        if (headers_only ? h->headers_done : (h->done || h->upgraded))
            return 0;
        if (h->off == h->len) {
            ssize_t n = cli_conn_read(&h->conn, h->buf, sizeof(h->buf), err);
            if (n < 0)
                return berr_prefix(err, "read the daemon's response");
            h->off = 0;
            h->len = (size_t)n;
            if (n == 0) {
                /* End of stream: ends a body without length, else the response is cut. */
                http_parser_execute(&h->parser, &settings, NULL, 0);
                if (h->sink_err != NULL) {
                    *err = h->sink_err;
                    h->sink_err = NULL;
                    return -1;
                }
                if (h->done && !headers_only)
                    return 0;
                return berr_set(err, 0, "the daemon closed the connection mid-response");
            }
        }
        size_t n = http_parser_execute(&h->parser, &settings, h->buf + h->off, h->len - h->off);
        h->off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&h->parser, 0);
            continue;
        }
        if (e != HPE_OK) {
            if (h->sink_err != NULL) {
                *err = h->sink_err;
                h->sink_err = NULL;
                return -1;
            }
            return berr_set(err, 0, "bad response from the daemon: %s", http_errno_description(e));
        }
        if (h->parser.upgrade && h->done) {
            /* What follows the headers is the raw stream; it stays in buf[off..len). */
            h->upgraded = true;
            return 0;
        }
    }
}

int cli_http_headers(struct cli_http *h, berr_t *err)
{
    return pump(h, true, err);
}

int cli_http_body(struct cli_http *h, berr_t *err)
{
    if (!h->headers_done && pump(h, true, err) < 0)
        return -1;
    if (pump(h, false, err) < 0)
        return -1;
    if (h->body == NULL && h->sink == NULL)
        h->body = xstrdup("");
    return 0;
}

void cli_http_close(struct cli_http *h)
{
    cli_conn_close(&h->conn);
    free(h->content_type);
    free(h->field);
    free(h->value);
    free(h->body);
    berr_free(&h->sink_err);
    h->content_type = h->field = h->value = h->body = NULL;
}

char *cli_query_escape(const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xcalloc(strlen(value) * 3 + 1, 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    return out;
}
