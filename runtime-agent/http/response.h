/* Writing the answer to one request: whole responses, chunked streams and
 * the hijack handshake (the functions handlers call are in http.h). */
#ifndef BERTHD_HTTP_RESPONSE_H
#define BERTHD_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime-agent/http/conn.h"
#include "runtime-agent/http/request.h"

enum resp_state { RESP_NONE, RESP_STREAM, RESP_DONE, RESP_HIJACKED };

struct http_response {
    struct http_request *req;
    struct conn *conn;
    const char *common_headers; /* "Name: value\r\n" lines sent with every response */
    char *headers;              /* lines added by the handler */
    size_t headers_len;
    int status;
    enum resp_state state;
    bool head_only;  /* HEAD request: no body bytes */
    bool http11;     /* chunked encoding allowed */
    bool upgrade;    /* the client asked for Connection: Upgrade */
    bool keep_alive; /* another request may follow on the connection */
    bool broken;     /* a write failed: the connection must close */
    uint64_t bytes;  /* body bytes sent, for the request log */
};

/* Prepare RESP to answer REQ; COMMON_HEADERS (may be NULL) go into every response. */
void http_response_init(struct http_response *resp, struct http_request *req,
                        const char *common_headers);

/* Finish whatever the handler left open after it returned RC with ERR. */
void http_response_finish(struct http_response *resp, int rc, berr_t err);

void http_response_free(struct http_response *resp);

#endif
