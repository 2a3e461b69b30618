/* berthd's HTTP layer: query parsing, routing and version prefixes, the
 * request reader (over a socketpair), and whole request/response exchanges
 * through http_serve_conn(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/conn.h"
#include "runtime-agent/http/query.h"
#include "runtime-agent/http/request.h"
#include "runtime-agent/http/response.h"
#include "runtime-agent/http/router.h"
#include "runtime-agent/http/server.h"

/* ---- query strings ---- */

static void test_query_parse(void **state)
{
    struct http_query q = {0};
    const char qs[] = "all=1&name=a%20b&path=%2Ftmp%2Fx&flag&plus=a+b&t=one&t=two&empty=";
    berr_t err = NULL;

    (void)state;
    assert_int_equal(http_query_parse(&q, qs, strlen(qs), &err), 0);
    assert_string_equal(http_query_get(&q, "name"), "a b");
    assert_string_equal(http_query_get(&q, "path"), "/tmp/x");
    assert_string_equal(http_query_get(&q, "plus"), "a b");
    assert_string_equal(http_query_get(&q, "flag"), "");
    assert_string_equal(http_query_nth(&q, "t", 0), "one");
    assert_string_equal(http_query_nth(&q, "t", 1), "two");
    assert_null(http_query_nth(&q, "t", 2));
    assert_null(http_query_get(&q, "missing"));
    http_query_free(&q);
}

static void test_query_bool(void **state)
{
    struct http_query q = {0};
    const char qs[] = "a=1&b=true&c=0&d=false&e=&f=no&g=TRUE&h=none&i=yes";
    berr_t err = NULL;

    (void)state;
    assert_int_equal(http_query_parse(&q, qs, strlen(qs), &err), 0);
    assert_true(http_query_bool(&q, "a", false));
    assert_true(http_query_bool(&q, "b", false));
    assert_false(http_query_bool(&q, "c", true));
    assert_false(http_query_bool(&q, "d", true));
    assert_false(http_query_bool(&q, "e", true));
    assert_false(http_query_bool(&q, "f", true));
    assert_true(http_query_bool(&q, "g", false));
    assert_false(http_query_bool(&q, "h", true));
    assert_true(http_query_bool(&q, "i", false));
    assert_true(http_query_bool(&q, "absent", true));
    assert_false(http_query_bool(&q, "absent", false));
    http_query_free(&q);
}

static void test_percent_decode(void **state)
{
    char *out = NULL;
    berr_t err = NULL;

    (void)state;
    assert_int_equal(http_percent_decode("a%2Fb+c%3d", 10, false, &out, &err), 0);
    assert_string_equal(out, "a/b+c=");
    free(out);
    assert_int_equal(http_percent_decode("%zz", 3, true, &out, &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    berr_free(&err);
    assert_int_equal(http_percent_decode("ab%4", 4, true, &out, &err), -1);
    berr_free(&err);
    assert_int_equal(http_percent_decode("%00", 3, true, &out, &err), -1);
    berr_free(&err);

    struct http_query q = {0};
    assert_int_equal(http_query_parse(&q, "a=%G1", 5, &err), -1);
    assert_non_null(strstr(berr_msg(err), "query string"));
    berr_free(&err);
}

/* ---- routing ---- */

static int h_dummy(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    (void)resp;
    (void)err;
    return 0;
}

static const struct http_route test_routes[] = {
    {"GET", "/_ping", h_dummy, 0},
    {"GET", "/containers/{id}/json", h_dummy, 0},
    {"POST", "/containers/{id}/start", h_dummy, 0},
    {"GET", "/images/{name*}/json", h_dummy, 0},
    {"DELETE", "/images/{name*}", h_dummy, 0},
    {"GET", "/volumes", h_dummy, 0},
};

static struct router *test_router(void)
{
    struct router *r = router_new(API_VERSION(1, 24), API_VERSION(1, 43));
    router_add(r, test_routes, sizeof(test_routes) / sizeof(test_routes[0]));
    return r;
}

/* Resolve and return the status (200 on a match), keeping params in *m. */
static int resolve(struct router *r, const char *method, const char *path, struct route_match *m)
{
    berr_t err = NULL;
    int rc = router_resolve(r, method, path, m, &err);
    if (rc < 0) {
        assert_int_not_equal(m->status, 200);
        berr_free(&err);
        return m->status;
    }
    return 200;
}

static void test_router_params(void **state)
{
    struct router *r = test_router();
    struct route_match m;

    (void)state;
    assert_int_equal(resolve(r, "GET", "/containers/abc123/json", &m), 200);
    assert_ptr_equal(m.route, &test_routes[1]);
    assert_string_equal(route_param(&m.params, "id"), "abc123");
    assert_int_equal(m.version, 0);
    route_params_clear(&m.params);

    assert_int_equal(resolve(r, "GET", "/images/docker.io/library/alpine/json", &m), 200);
    assert_string_equal(route_param(&m.params, "name"), "docker.io/library/alpine");
    route_params_clear(&m.params);

    assert_int_equal(resolve(r, "DELETE", "/v1.41/images/my%20img:1.0", &m), 200);
    assert_string_equal(route_param(&m.params, "name"), "my img:1.0");
    assert_int_equal(m.version, API_VERSION(1, 41));
    route_params_clear(&m.params);

    /* An empty segment is not a parameter value. */
    assert_int_equal(resolve(r, "GET", "/containers//json", &m), 404);
    assert_int_equal(resolve(r, "GET", "/containers/a/b/json", &m), 404);
    router_free(r);
}

static void test_router_methods(void **state)
{
    struct router *r = test_router();
    struct route_match m;

    (void)state;
    assert_int_equal(resolve(r, "GET", "/nothing", &m), 404);
    assert_int_equal(resolve(r, "POST", "/_ping", &m), 405);
    assert_int_equal(resolve(r, "HEAD", "/_ping", &m), 200);
    assert_ptr_equal(m.route, &test_routes[0]);
    assert_int_equal(resolve(r, "POST", "/v1.43/containers/x/start", &m), 200);
    route_params_clear(&m.params);
    /* "/volumes" starts with "/v" but carries no version. */
    assert_int_equal(resolve(r, "GET", "/volumes", &m), 200);
    router_free(r);
}

static void test_router_versions(void **state)
{
    struct router *r = test_router();
    struct route_match m;
    berr_t err = NULL;

    (void)state;
    assert_int_equal(resolve(r, "GET", "/v1.43/_ping", &m), 200);
    assert_int_equal(m.version, API_VERSION(1, 43));
    assert_int_equal(resolve(r, "GET", "/v1.24/_ping", &m), 200);
    assert_int_equal(resolve(r, "GET", "/v1.44/_ping", &m), 400);
    assert_int_equal(resolve(r, "GET", "/v9.99/_ping", &m), 400);
    assert_int_equal(resolve(r, "GET", "/v1.23/_ping", &m), 400);
    assert_int_equal(resolve(r, "GET", "/v1.4.3/_ping", &m), 400);

    assert_int_equal(router_resolve(r, "GET", "/v9.99/version", &m, &err), -1);
    assert_non_null(strstr(berr_msg(err), "too new"));
    berr_free(&err);
    assert_int_equal(router_resolve(r, "GET", "/v1.12/version", &m, &err), -1);
    assert_non_null(strstr(berr_msg(err), "too old"));
    berr_free(&err);
    router_free(r);
}

static void test_split_version(void **state)
{
    int v = 0;
    const char *rest = NULL;

    (void)state;
    assert_int_equal(router_split_version("/v1.43/info", &v, &rest), 1);
    assert_int_equal(v, API_VERSION(1, 43));
    assert_string_equal(rest, "/info");
    assert_int_equal(router_split_version("/v1/info", &v, &rest), 1);
    assert_int_equal(v, API_VERSION(1, 0));
    assert_int_equal(router_split_version("/volumes/x", &v, &rest), 0);
    assert_int_equal(router_split_version("/v1x/info", &v, &rest), 0);
    assert_int_equal(router_split_version("/info", &v, &rest), 0);
    assert_int_equal(router_split_version("/v1./info", &v, &rest), -1);
}

/* ---- the request reader over a socketpair ---- */

struct pair {
    int client; /* the test's end */
    struct conn *conn;
};

static void pair_open(struct pair *p)
{
    int sv[2];
    berr_t err = NULL;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->client = sv[0];
    p->conn = conn_new(sv[1], NULL, "test", &err);
    assert_non_null(p->conn);
}

static void pair_close(struct pair *p)
{
    if (p->client >= 0)
        close(p->client);
    conn_free(p->conn);
}

/* Write from a thread, so writes larger than the socket buffer do not block the test. */
struct writer {
    int fd;
    const char *data;
    size_t len;
    pthread_t thread;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    size_t off = 0;

    while (off < w->len) {
        ssize_t n = send(w->fd, w->data + off, w->len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    return NULL;
}

static void writer_start(struct writer *w, int fd, const char *data, size_t len)
{
    *w = (struct writer){.fd = fd, .data = data, .len = len};
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void send_all(int fd, const char *s)
{
    struct writer w;
    writer_start(&w, fd, s, strlen(s));
    pthread_join(w.thread, NULL);
}

static int read_head(struct pair *p, struct http_request *req, long long timeout_ms)
{
    berr_t err = NULL;
    http_request_init(req, p->conn, NULL);
    int rc = http_read_head(req, conn_deadline(timeout_ms), &err);
    berr_free(&err);
    return rc;
}

static void test_read_valid(void **state)
{
    struct pair p;
    struct http_request req;

    (void)state;
    pair_open(&p);
    send_all(p.client, "GET /v1.43/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\n"
                       "User-Agent: Docker-Client/28\r\nX-Multi: a\r\n\r\n");
    assert_int_equal(read_head(&p, &req, 2000), 1);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.url, "/v1.43/containers/json?all=1");
    assert_string_equal(http_req_header(&req, "host"), "docker");
    assert_string_equal(http_req_header(&req, "USER-AGENT"), "Docker-Client/28");
    assert_null(http_req_header(&req, "Missing"));
    assert_true(req.keep_alive);
    assert_true(req.msg_done);
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_content_length_body(void **state)
{
    struct pair p;
    struct http_request req;
    char *body = NULL;
    size_t len = 0;
    berr_t err = NULL;

    (void)state;
    pair_open(&p);
    send_all(p.client, "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"
                       "GET /next HTTP/1.1\r\n\r\n");
    assert_int_equal(read_head(&p, &req, 2000), 1);
    assert_int_equal(http_body_read_all(&req, &body, &len, &err), 0);
    assert_int_equal(len, 11);
    assert_string_equal(body, "hello world");
    free(body);
    http_request_free(&req);
    /* The pipelined request behind it is intact. */
    assert_int_equal(read_head(&p, &req, 2000), 1);
    assert_string_equal(req.url, "/next");
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_chunked_body(void **state)
{
    struct pair p;
    struct http_request req;
    char buf[4];
    char all[64] = "";
    ssize_t n;
    berr_t err = NULL;

    (void)state;
    pair_open(&p);
    send_all(p.client, "POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
    assert_int_equal(read_head(&p, &req, 2000), 1);
    /* Small reads: the body comes out progressively. */
    while ((n = http_body_read(&req, buf, sizeof(buf), &err)) > 0)
        strncat(all, buf, (size_t)n);
    assert_int_equal(n, 0);
    assert_string_equal(all, "hello world");
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_oversized_head(void **state)
{
    struct pair p;
    struct http_request req;
    struct writer w;
    size_t big = 100 * 1024;
    char *msg = xcalloc(1, big + 64);

    (void)state;
    pair_open(&p);
    strcpy(msg, "GET / HTTP/1.1\r\nX-Big: ");
    memset(msg + strlen(msg), 'a', big);
    strcat(msg, "\r\n\r\n");
    writer_start(&w, p.client, msg, strlen(msg));
    assert_int_equal(read_head(&p, &req, 5000), -1);
    assert_int_equal(req.error_status, 431);
    http_request_free(&req);
    shutdown(p.client, SHUT_RDWR);
    pair_close(&p);
    pthread_join(w.thread, NULL);
    free(msg);
}

static void test_read_bad_chunk(void **state)
{
    struct pair p;
    struct http_request req;
    char buf[64];
    berr_t err = NULL;

    (void)state;
    pair_open(&p);
    send_all(p.client, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n");
    assert_int_equal(read_head(&p, &req, 2000), 1);
    assert_int_equal(http_body_read(&req, buf, sizeof(buf), &err), -1);
    assert_int_equal(err->errnum, EINVAL);
    assert_int_equal(req.error_status, 400);
    assert_true(req.body_failed);
    berr_free(&err);
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_body_limit(void **state)
{
    struct pair p;
    struct http_request req;
    char *body = NULL;
    berr_t err = NULL;

    (void)state;
    pair_open(&p);
    send_all(p.client, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    assert_int_equal(read_head(&p, &req, 2000), 1);
    req.body_limit = 10;
    assert_int_equal(http_body_read_all(&req, &body, NULL, &err), -1);
    assert_int_equal(err->errnum, EMSGSIZE);
    assert_int_equal(http_status_for_errno(err->errnum), 413);
    berr_free(&err);
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_malformed(void **state)
{
    struct pair p;
    struct http_request req;

    (void)state;
    pair_open(&p);
    send_all(p.client, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_int_equal(read_head(&p, &req, 2000), -1);
    assert_int_equal(req.error_status, 400);
    http_request_free(&req);
    pair_close(&p);
}

static void test_read_timeouts(void **state)
{
    struct pair p;
    struct http_request req;

    (void)state;
    /* Idle: nothing sent, the connection just ends. */
    pair_open(&p);
    assert_int_equal(read_head(&p, &req, 100), 0);
    http_request_free(&req);
    /* Slowloris: half a request line, then silence: 408. */
    send_all(p.client, "GET /_pi");
    assert_int_equal(read_head(&p, &req, 100), -1);
    assert_int_equal(req.error_status, 408);
    http_request_free(&req);
    pair_close(&p);

    /* Closed before a byte: a clean end, not an error. */
    pair_open(&p);
    close(p.client);
    p.client = -1;
    assert_int_equal(read_head(&p, &req, 2000), 0);
    http_request_free(&req);
    pair_close(&p);
}

/* ---- whole exchanges through http_serve_conn ---- */

static int h_echo(struct http_request *req, struct http_response *resp, berr_t *err)
{
    char *body = NULL;

    if (http_body_read_all(req, &body, NULL, err) < 0)
        return -1;
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:s, s:s?, s:b, s:i}", "name", http_req_param(req, "name"),
                             "body", body, "q", http_req_query(req, "q"), "flag",
                             http_req_query_bool(req, "flag", false), "version",
                             http_req_api_version(req)));
    free(body);
    return 0;
}

static int h_stream(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    if (http_chunk_begin(resp, 200, "application/json", err) < 0 ||
        http_chunk_write(resp, "a", 1, err) < 0 || http_chunk_write(resp, "bc", 2, err) < 0)
        return -1;
    return http_chunk_end(resp, err);
}

static int h_fail(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    (void)resp;
    return berr_set(err, EEXIST, "container name \"/web\" is already in use");
}

/* Echo "<" + what the client sends + ">" on the raw stream, then half-close. */
static int h_hijack(struct http_request *req, struct http_response *resp, berr_t *err)
{
    char buf[64];
    ssize_t n;

    (void)req;
    struct conn *c = http_hijack(resp, "application/vnd.docker.raw-stream", err);
    if (c == NULL)
        return -1;
    if (conn_write_all(c, "<", 1, conn_deadline(2000), err) < 0)
        return -1;
    while ((n = conn_read(c, buf, sizeof(buf), conn_deadline(2000), err)) > 0)
        if (conn_write_all(c, buf, (size_t)n, conn_deadline(2000), err) < 0)
            return -1;
    if (n < 0 || conn_write_all(c, ">", 1, conn_deadline(2000), err) < 0)
        return -1;
    return conn_shutdown_write(c, conn_deadline(2000), err);
}

static const struct http_route serve_routes[] = {
    {"POST", "/echo/{name*}", h_echo, 64},
    {"GET", "/stream", h_stream, 0},
    {"GET", "/fail", h_fail, 0},
    {"POST", "/attach", h_hijack, 0},
};

struct served {
    struct router *router;
    struct http_service svc;
    struct pair p;
    pthread_t thread;
};

static void *serve_main(void *arg)
{
    struct served *s = arg;
    http_serve_conn(&s->svc, s->p.conn);
    return NULL;
}

static void serve_start(struct served *s)
{
    s->router = router_new(API_VERSION(1, 24), API_VERSION(1, 43));
    router_add(s->router, serve_routes, sizeof(serve_routes) / sizeof(serve_routes[0]));
    s->svc = (struct http_service){s->router, "Api-Version: 1.43\r\n", NULL};
    pair_open(&s->p);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_main, s), 0);
}

static void serve_stop(struct served *s)
{
    shutdown(s->p.client, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    pair_close(&s->p);
    router_free(s->router);
}

/* Read until the server closes (or 5 s pass). */
static char *read_until_close(int fd)
{
    char *buf = xcalloc(1, 1);
    size_t len = 0;
    char chunk[4096];

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0)
            break;
        buf = realloc(buf, len + (size_t)n + 1);
        memcpy(buf + len, chunk, (size_t)n);
        len += (size_t)n;
        buf[len] = '\0';
    }
    return buf;
}

static char *exchange(const char *request)
{
    struct served s;
    serve_start(&s);
    send_all(s.p.client, request);
    char *out = read_until_close(s.p.client);
    serve_stop(&s);
    return out;
}

static void test_serve_echo(void **state)
{
    (void)state;
    char *out = exchange("POST /v1.41/echo/docker.io/library/x?q=a%26b&flag=1 HTTP/1.1\r\n"
                         "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Api-Version: 1.43\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    assert_non_null(strstr(out, "\"name\":\"docker.io/library/x\""));
    assert_non_null(strstr(out, "\"body\":\"hello\""));
    assert_non_null(strstr(out, "\"q\":\"a&b\""));
    assert_non_null(strstr(out, "\"flag\":true"));
    assert_non_null(strstr(out, "\"version\":1041"));
    free(out);
}

static void test_serve_errors(void **state)
{
    (void)state;
    char *out = exchange("GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(out, "{\"message\":\"page not found\"}"));
    free(out);

    out = exchange("GET /v9.99/stream HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(out, "too new"));
    free(out);

    out = exchange("GET /fail HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 409 Conflict\r\n"));
    assert_non_null(strstr(out, "already in use"));
    free(out);

    /* Declared body over the route's 64-byte cap: refused without reading it. */
    out = exchange("POST /echo/x HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 413 Payload Too Large\r\n"));
    free(out);

    /* Chunked, so no declared length: the cap applies while the handler reads. */
    out = exchange("POST /echo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "50\r\n"
                   "01234567890123456789012345678901234567890123456789"
                   "012345678901234567890123456789\r\n0\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 413 Payload Too Large\r\n"));
    free(out);

    out = exchange("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
    free(out);

    out = exchange("POST /echo/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n");
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(out, "chunk"));
    free(out);
}

static void test_serve_stream_and_keepalive(void **state)
{
    (void)state;
    /* Two pipelined requests on one connection, the second closing it. */
    char *out = exchange("GET /stream HTTP/1.1\r\n\r\n"
                         "HEAD /stream HTTP/1.1\r\nConnection: close\r\n\r\n");
    char *second = strstr(out + 1, "HTTP/1.1 200 OK");
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\nHTTP/1.1 200 OK"));
    assert_non_null(second);
    /* HEAD: headers only. */
    assert_non_null(strstr(second, "\r\n\r\n"));
    assert_string_equal(strstr(second, "\r\n\r\n"), "\r\n\r\n");
    free(out);
}

static void test_serve_expect_continue(void **state)
{
    struct served s;
    char buf[256] = "";

    (void)state;
    serve_start(&s);
    /* The client holds the body back until the server asks for it. */
    send_all(s.p.client, "POST /echo/x HTTP/1.1\r\nContent-Length: 4\r\n"
                         "Expect: 100-continue\r\nConnection: close\r\n\r\n");
    struct pollfd pfd = {.fd = s.p.client, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_true(read(s.p.client, buf, sizeof(buf) - 1) > 0);
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(s.p.client, "data");
    char *out = read_until_close(s.p.client);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "\"body\":\"data\""));
    free(out);
    serve_stop(&s);
}

static void test_serve_hijack(void **state)
{
    struct served s;

    (void)state;
    serve_start(&s);
    /* "early" travels right behind the request: the handler must still see it. */
    send_all(s.p.client, "POST /attach?stream=1 HTTP/1.1\r\nConnection: Upgrade\r\n"
                         "Upgrade: tcp\r\n\r\nearly");
    shutdown(s.p.client, SHUT_WR);
    char *out = read_until_close(s.p.client);
    assert_non_null(strstr(out, "HTTP/1.1 101 UPGRADED\r\n"));
    assert_non_null(strstr(out, "Content-Type: application/vnd.docker.raw-stream\r\n"));
    assert_non_null(strstr(out, "Upgrade: tcp\r\n"));
    assert_string_equal(strstr(out, "\r\n\r\n") + 4, "<early>");
    free(out);
    serve_stop(&s);

    /* A body the handler did not read is skipped, not passed into the raw stream. */
    serve_start(&s);
    send_all(s.p.client, "POST /attach HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                         "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}raw");
    shutdown(s.p.client, SHUT_WR);
    out = read_until_close(s.p.client);
    assert_string_equal(strstr(out, "\r\n\r\n") + 4, "<raw>");
    free(out);
    serve_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_query_bool),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_router_params),
        cmocka_unit_test(test_router_methods),
        cmocka_unit_test(test_router_versions),
        cmocka_unit_test(test_split_version),
        cmocka_unit_test(test_read_valid),
        cmocka_unit_test(test_read_content_length_body),
        cmocka_unit_test(test_read_chunked_body),
        cmocka_unit_test(test_read_oversized_head),
        cmocka_unit_test(test_read_bad_chunk),
        cmocka_unit_test(test_read_body_limit),
        cmocka_unit_test(test_read_malformed),
        cmocka_unit_test(test_read_timeouts),
        cmocka_unit_test(test_serve_echo),
        cmocka_unit_test(test_serve_errors),
        cmocka_unit_test(test_serve_stream_and_keepalive),
        cmocka_unit_test(test_serve_expect_continue),
        cmocka_unit_test(test_serve_hijack),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
