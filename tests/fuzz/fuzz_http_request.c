/* libFuzzer target for berthd's request reading: arbitrary bytes are what a client sends on a
 * connection, served by http_serve_conn() exactly as a daemon connection thread would (request
 * heads, Content-Length and chunked bodies, pipelining, version prefixes, routing, queries,
 * percent-decoding, Expect: 100-continue, hijacking). The routes are test handlers that read
 * bodies in odd-sized pieces, stream, fail and hijack, plus berthd's image routes over an empty
 * image store in a temporary directory. Each input gets its own socketpair and client thread,
 * both closed and joined before the next.
 *
 * http_parser itself is not instrumented, so the fuzzer gets no feedback until a request line
 * parses. An input whose first byte is a small number therefore picks a template that wraps
 * the rest (a request line around a fuzzed query, a chunked body after a valid head, ...);
 * any other input is sent as it is. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/daemon.h"
#include "runtime-agent/http/conn.h"
#include "runtime-agent/http/router.h"
#include "runtime-agent/http/server.h"
#include "runtime-agent/log.h"

static char base[64];
static struct daemon daemon_ctx;
static struct router *router;
static struct http_service svc;

/* Read the body in 7-byte pieces and report what was parsed. */
static int h_body(struct http_request *req, struct http_response *resp, berr_t *err)
{
    char buf[7];
    ssize_t n;
    size_t total = 0;

    while ((n = http_body_read(req, buf, sizeof(buf), err)) > 0)
        total += (size_t)n;
    if (n < 0)
        return -1;
    const char *q = http_req_query(req, "q");
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(http_req_param(req, "id")));
    json_object_set_new(o, "q", q ? json_string(q) : json_null());
    json_object_set_new(o, "q2", json_string(http_req_query_nth(req, "q", 1)));
    json_object_set_new(o, "flag", json_boolean(http_req_query_bool(req, "flag", false)));
    json_object_set_new(o, "host", json_string(http_req_header(req, "Host")));
    json_object_set_new(o, "version", json_integer(http_req_api_version(req)));
    json_object_set_new(o, "bytes", json_integer((json_int_t)total));
    http_resp_json(resp, 200, o);
    return 0;
}

/* A small JSON body, parsed. */
static int h_json(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *body = NULL;

    if (http_body_json(req, &body, err) < 0)
        return -1;
    http_resp_json(resp, 201, json_pack("{s:o?}", "body", body));
    return 0;
}

/* A streamed answer that leaves the body unread (the server must skip it). */
static int h_stream(struct http_request *req, struct http_response *resp, berr_t *err)
{
    if (http_chunk_begin(resp, 200, "application/json", err) < 0 ||
        http_chunk_json(resp, json_pack("{s:s}", "path", http_req_path(req)), err) < 0 ||
        http_chunk_write(resp, "x", 1, err) < 0)
        return -1;
    return 0;
}

static int h_fail(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)resp;
    return http_err(err, EBUSY, "conflict: %s", http_req_param(req, "name"));
}

/* Echo the raw stream after the hijack until the client half-closes. */
static int h_hijack(struct http_request *req, struct http_response *resp, berr_t *err)
{
    char buf[256];
    ssize_t n;

    (void)req;
    struct conn *c = http_hijack(resp, "application/vnd.docker.raw-stream", err);
    if (c == NULL)
        return -1;
    while ((n = conn_read(c, buf, sizeof(buf), conn_deadline(2000), err)) > 0)
        if (conn_write_all(c, buf, (size_t)n, conn_deadline(2000), err) < 0)
            return -1;
    return n < 0 ? -1 : 0;
}

static const struct http_route fuzz_routes[] = {
    {"POST", "/body/{id}", h_body, 4096},
    {"PUT", "/body/{id}/{name*}", h_body, HTTP_BODY_UNLIMITED},
    {"POST", "/json", h_json, 0},
    {"GET", "/stream/{name*}/x", h_stream, 0},
    {"DELETE", "/fail/{name*}", h_fail, 0},
    {"POST", "/attach/{id}", h_hijack, 0},
};

static void cleanup(void)
{
    berr_t err = NULL;

    router_free(router);
    image_store_close(daemon_ctx.images);
    rm_rf(base, &err);
    berr_free(&err);
}

static void setup(void)
{
    berr_t err = NULL;

    log_set_level(LOG_LEVEL_FATAL);
    strcpy(base, "/tmp/berth-fuzz-http-XXXXXX");
    if (mkdtemp(base) == NULL)
        abort();
    _cleanup_free_ char *root = path_join(base, "image");
    if (image_store_open(root, &daemon_ctx.images, &err) < 0) {
        fprintf(stderr, "fuzz_http_request: %s\n", berr_msg(err));
        abort();
    }
    router = router_new(API_VERSION_MIN, API_VERSION_MAX);
    router_add(router, fuzz_routes, sizeof(fuzz_routes) / sizeof(fuzz_routes[0]));
    router_add(router, api_image_routes, api_image_routes_len);
    svc = (struct http_service){router, api_common_headers(), &daemon_ctx};
    atexit(cleanup);
}

/* The rest of the input goes between prefix and suffix. */
static const struct {
    const char *prefix, *suffix;
} templates[] = {
    {"GET /", " HTTP/1.1\r\nHost: d\r\n\r\n"},
    {"GET /_ping HTTP/1.1\r\n", ""},
    {"POST /body/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", ""},
    {"PUT /body/1/a/b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: ", ""},
    {"POST /json HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
     ""},
    {"POST /attach/1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", ""},
    {"GET /v1.43/images/json?all=1&filters=", " HTTP/1.1\r\n\r\n"},
    {"POST /images/create?fromSrc=-&repo=a&changes=", " HTTP/1.1\r\nContent-Length: 0\r\n\r\n"},
    {"POST /images/load?quiet=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", ""},
    {"POST /images/prune?filters=", " HTTP/1.1\r\n\r\n"},
    {"DELETE /v1.41/images/", "?force=1 HTTP/1.1\r\n\r\n"},
    {"POST /images/x/tag?repo=", "&tag=1 HTTP/1.1\r\n\r\n"},
    {"GET /images/get?names=", " HTTP/1.1\r\n\r\n"},
};
#define N_TEMPLATES (sizeof(templates) / sizeof(templates[0]))

/* The client: sends the input, half-closes, and reads answers until the server closes. */
struct client {
    int fd;
    const uint8_t *data;
    size_t len;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    size_t off = 0;
    char buf[16384];

    if (c->len == 0)
        shutdown(c->fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN | (off < c->len ? POLLOUT : 0)};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (off < c->len && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = send(c->fd, c->data + off, c->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                off = c->len; /* the server closed: nothing more to send */
            if (off == c->len)
                shutdown(c->fd, SHUT_WR);
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    int sv[2];
    berr_t err = NULL;
    pthread_t thread;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    struct conn *conn = conn_new(sv[1], NULL, "fuzz", &err);
    if (conn == NULL)
        abort();
    char *wrapped = NULL;
    struct client c = {sv[0], data, size};
    if (size > 0 && data[0] < N_TEMPLATES) {
        size_t pl = strlen(templates[data[0]].prefix), sl = strlen(templates[data[0]].suffix);
        wrapped = xcalloc(1, pl + size - 1 + sl);
        memcpy(wrapped, templates[data[0]].prefix, pl);
        memcpy(wrapped + pl, data + 1, size - 1);
        memcpy(wrapped + pl + size - 1, templates[data[0]].suffix, sl);
        c = (struct client){sv[0], (const uint8_t *)wrapped, pl + size - 1 + sl};
    }
    if (pthread_create(&thread, NULL, client_main, &c) != 0)
        abort();
    http_serve_conn(&svc, conn);
    conn_free(conn);
    pthread_join(thread, NULL);
    close(sv[0]);
    free(wrapped);
    return 0;
}
