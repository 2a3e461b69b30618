/* The server side of TLS for tcp:// listeners (OpenSSL 3). */
#ifndef BERTHD_HTTP_TLS_H
#define BERTHD_HTTP_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "berth/error.h"

/* A server context with TLS 1.2 as the floor, serving CERT/KEY. With VERIFY,
 * clients must present a certificate signed by a CA in CACERT. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, const char *cacert, bool verify,
                        berr_t *err);

#endif
