/* HTTP/1.1 requests to the daemon, one connection each. Responses are parsed by http-parser
 * (status, Content-Type, Content-Length or chunked bodies, the 101 upgrade); a request is
 * sent, its headers read, then its body either collected, handed to a sink as it arrives
 * (logs -f, save) or, after an upgrade, left as a raw stream on the connection (attach, exec).
 * Request bodies come from memory or from a file descriptor (import, load): Content-Length
 * for regular files, chunked otherwise. */
#ifndef BERTHD_CLIENT_HTTP_H
#define BERTHD_CLIENT_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime-agent/client/transport.h"

/* The API version every path is prefixed with (berthd's highest). */
#define CLI_API_VERSION "1.43"

struct cli_req {
    const char *method;
    const char *path; /* "/containers/json?all=1": unversioned, query escaped */
    const char *content_type;
    const void *body;
    size_t body_len;
    int body_fd;  /* >= 0: the body is read from here instead */
    bool upgrade; /* ask for the 101 hijack (attach, exec start) */
};

/* Receives body bytes as they are parsed; returns -1 with *err set to stop. */
typedef int (*cli_sink_fn)(void *arg, const char *data, size_t len, berr_t *err);

struct cli_http {
    struct cli_conn conn;
    http_parser parser;
    int status;
    char *content_type;
    bool headers_done, done, upgraded;
    /* header assembly (field and value may arrive in pieces) */
    char *field, *value;
    bool in_value;
    /* body: to the sink, else collected */
    cli_sink_fn sink;
    void *sink_arg;
    berr_t sink_err;
    char *body;
    size_t body_len, body_cap;
    /* bytes read from the connection and not yet parsed (after an upgrade: the stream's) */
    char buf[16384];
    size_t off, len;
};

/* Connect to EP and send REQ. */
int cli_http_send(struct cli_endpoint *ep, struct cli_http *h, const struct cli_req *req,
                  berr_t *err);
/* Read until the response headers are complete (status, content_type, upgraded). */
int cli_http_headers(struct cli_http *h, berr_t *err);
/* Read the rest of the body into the sink (when set) or h->body (NUL-terminated). */
int cli_http_body(struct cli_http *h, berr_t *err);
void cli_http_close(struct cli_http *h);

/* VALUE percent-encoded for a query string. */
char *cli_query_escape(const char *value);

#endif
