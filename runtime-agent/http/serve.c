/* The request loop of one connection: read a head, route, run the handler,
 * finish the response, and go again while keep-alive allows. */
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/http/request.h"
#include "runtime-agent/http/response.h"
#include "runtime-agent/http/server.h"
#include "runtime-agent/log.h"

static void log_request(const struct http_request *req, const struct http_response *resp,
                        long long start)
{
    if (!log_enabled(LOG_LEVEL_DEBUG))
        return;
    log_debug("%s %.*s %d %llub %lldms peer=%s", req->method ? req->method : "-",
              (int)(req->url_len > 512 ? 512 : req->url_len), req->url ? req->url : "",
              resp->status, (unsigned long long)resp->bytes, now_ms() - start,
              conn_peer(req->conn));
}

/* Answer a request that could not be read (bad syntax, too large, too slow) and give up. */
static void reject(const struct http_service *svc, struct http_request *req, berr_t err)
{
    struct http_response resp;

    log_debug("http: peer=%s: %s", conn_peer(req->conn), berr_msg(err));
    if (req->error_status == 0)
        return;
    http_response_init(&resp, req, svc->common_headers);
    resp.head_only = false;
    resp.keep_alive = false;
    http_resp_error(&resp, req->error_status, "%s", berr_msg(err));
    http_response_free(&resp);
}

/* Route REQ and run its handler. */
static void dispatch(const struct http_service *svc, struct http_request *req,
                     struct http_response *resp)
{
    berr_t err = NULL;

    if (http_request_route(req, svc->router, &err) < 0) {
        /* An oversized body is not worth reading just to throw it away. */
        if (req->match.status == 413)
            resp->keep_alive = false;
        http_resp_error(resp, req->match.status, "%s", berr_msg(err));
    } else {
        int rc = req->match.route->handler(req, resp, &err);
        /* A broken body leaves the connection at an unknown point of the stream. */
        if (req->body_failed)
            resp->keep_alive = false;
        http_response_finish(resp, rc, err);
    }
    berr_free(&err);
}

/* Serve one request; true when the connection can carry another. */
static bool serve_one(const struct http_service *svc, struct conn *c)
{
    struct http_request req;
    struct http_response resp;
    berr_t err = NULL;
    bool again = false;

    http_request_init(&req, c, svc->app);
    int rc = http_read_head(&req, conn_deadline(HTTP_HEADER_TIMEOUT_MS), &err);
    if (rc < 0)
        reject(svc, &req, err);
    if (rc > 0) {
        long long start = now_ms();
        http_response_init(&resp, &req, svc->common_headers);
        dispatch(svc, &req, &resp);
        again = resp.state != RESP_HIJACKED && resp.keep_alive && !resp.broken &&
                http_body_discard(&req, HTTP_DRAIN_LIMIT) == 0;
        /* Closing while the client still uploads (an import refused before its tar was read)
         * would reset the connection before the client reads our answer: read the rest. */
        if (!again && resp.state != RESP_HIJACKED && !resp.broken && !req.body_failed)
            http_body_discard(&req, HTTP_LINGER_LIMIT);
        log_request(&req, &resp, start);
        http_response_free(&resp);
    }
    berr_free(&err);
    http_request_free(&req);
    return again;
}

void http_serve_conn(const struct http_service *svc, struct conn *c)
{
    berr_t err = NULL;

    if (conn_handshake(c, conn_deadline(HTTP_HEADER_TIMEOUT_MS), &err) < 0) {
        log_debug("http: %s", berr_msg(err));
        berr_free(&err);
        return;
    }
    while (serve_one(svc, c))
        ;
}
