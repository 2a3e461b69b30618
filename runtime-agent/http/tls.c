#include "runtime-agent/http/tls.h"

#include <openssl/err.h>

/* Set *err from the OpenSSL error queue, naming the file and step. */
static SSL_CTX *fail(SSL_CTX *ctx, berr_t *err, const char *what, const char *path)
{
    char reason[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    berr_set(err, 0, "TLS: %s %s: %s", what, path, reason);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key, const char *cacert, bool verify,
                        berr_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        return fail(ctx, err, "create", "context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Clients (Go, curl) close without close_notify; treat that as a plain EOF.
     * Renegotiation would let a read need the write side, so it is off. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL") != 1)
        return fail(ctx, err, "set", "cipher list");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return fail(ctx, err, "load certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return fail(ctx, err, "load key", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(ctx, err, "match key to certificate", cert);
    if (verify) {
        if (SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1)
            return fail(ctx, err, "load CA", cacert);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cacert);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* Without a session id context OpenSSL refuses every resumption when client
         * certificates are verified, with an internal error alert instead of a full
         * handshake: clients that offer a saved session (tickets too) would fail. */
        static const unsigned char sid_ctx[] = "berthd";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    }
    return ctx;
}
