/* The client's connection to a daemon: unix:// or tcp://, the latter optionally over TLS.
 *
 * An endpoint is decided once from -H/--host, DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_TLS and
 * DOCKER_CERT_PATH (docker's rules: TLS only when asked for, and then never plaintext;
 * verification of the server against ca.pem and the host name or IP when verifying). Every
 * request opens a fresh connection from it. Sockets stay blocking; stream pumps poll the fd
 * and ask cli_conn_pending() for bytes OpenSSL already holds. */
#ifndef BERTHD_CLIENT_TRANSPORT_H
#define BERTHD_CLIENT_TRANSPORT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

#define CLI_DEFAULT_HOST "unix:///run/berth/berthd.sock"

struct cli_endpoint {
    char *url;  /* as given, for messages */
    char *path; /* unix socket path, or NULL for tcp */
    char *addr; /* tcp host (no brackets) */
    char *port;
    bool tls, verify;
    char *ca, *cert, *key; /* PEM files (TLS only) */
    SSL_CTX *ctx;          /* made on first connect */
};

/* Options given on the command line; NULL/false when absent. */
struct cli_tls_flags {
    const char *host;
    bool tls, tlsverify;
    const char *cacert, *cert, *key;
};

/* Fill EP from FLAGS and the environment. */
int cli_endpoint_init(struct cli_endpoint *ep, const struct cli_tls_flags *flags, berr_t *err);
void cli_endpoint_free(struct cli_endpoint *ep);

struct cli_conn {
    int fd;
    SSL *ssl;
};

/* Connect (and handshake). Failure to reach the daemon names it like docker does. */
int cli_conn_open(struct cli_endpoint *ep, struct cli_conn *c, berr_t *err);
/* Read up to N bytes: >0 bytes, 0 at end of stream, -1 on error. */
ssize_t cli_conn_read(struct cli_conn *c, void *buf, size_t n, berr_t *err);
int cli_conn_write_all(struct cli_conn *c, const void *buf, size_t n, berr_t *err);
/* Bytes already decrypted and waiting in OpenSSL (poll cannot see them). */
bool cli_conn_pending(struct cli_conn *c);
/* End our direction (stdin closed): shutdown(SHUT_WR), or close_notify over TLS. */
int cli_conn_close_write(struct cli_conn *c, berr_t *err);
void cli_conn_close(struct cli_conn *c);

#endif
