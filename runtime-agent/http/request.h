/* Reading one HTTP/1.1 request off a connection with http-parser: the head
 * first, then the body on demand (see http_body_read in http.h). Used by the
 * server for each request on a connection; exposed for the unit tests. */
#ifndef BERTHD_HTTP_REQUEST_H
#define BERTHD_HTTP_REQUEST_H

#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime-agent/http/conn.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/http/query.h"
#include "runtime-agent/http/router.h"

struct http_header {
    char *name;
    char *value;
};

struct http_request {
    struct conn *conn;
    void *app;
    http_parser parser;

    /* The head, filled in by the parser callbacks. */
    const char *method;
    char *url;
    size_t url_len;
    struct http_header *headers;
    size_t n_headers;
    size_t head_bytes;
    bool in_value;   /* the last header callback was for a value */
    bool started;    /* a byte of this request arrived */
    bool head_done;  /* headers complete */
    bool msg_done;   /* the whole message, body included, was parsed */
    bool keep_alive; /* the client allows another request on this connection */
    bool upgrade;
    int error_status; /* when reading failed: the status to answer, 0 to just close */

    /* Routing, filled in by http_request_route(). */
    char *path;
    const char *route_path; /* inside path, after the version prefix */
    struct http_query query;
    struct route_match match;

    /* Body bytes decoded by the parser and not yet handed to the handler. */
    char *pending;
    size_t pend_pos, pend_len;
    uint64_t body_total, body_limit;
    bool body_failed;
    bool continue_sent;
};

/* Prepare REQ for the next request on C. */
void http_request_init(struct http_request *req, struct conn *c, void *app);

/* Read the request head. Returns 1 when it is complete, 0 when the client
 * closed (or went idle past DEADLINE) before sending anything, -1 on a bad or
 * slow request, with req->error_status saying what to answer (0: nothing). */
int http_read_head(struct http_request *req, long long deadline, berr_t *err);

/* Split the URL, match a route (req->match.status and *err on failure) and parse the query. */
int http_request_route(struct http_request *req, const struct router *r, berr_t *err);

/* Read and drop what is left of the body, up to LIMIT bytes; -1 when the
 * connection cannot carry another request. */
int http_body_discard(struct http_request *req, uint64_t limit);

void http_request_free(struct http_request *req);

#endif
