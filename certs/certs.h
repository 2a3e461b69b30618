/* berth's TLS identities (OpenSSL): a CA, a client certificate for the
 * docker CLI, and one server certificate per machine whose SANs cover every
 * address the machine is reached at. Keys are ECDSA P-256 (accepted by Go's
 * crypto/tls), written 0600 and atomically; certificates are back-dated 5
 * minutes and valid for BERTH_CERT_DAYS days. */
#ifndef BERTH_CERTS_H
#define BERTH_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

#define BERTH_CERT_DAYS 1080

/* Create DIR/ca.pem and DIR/ca-key.pem unless both exist and are valid. */
int certs_ensure_ca(const char *dir, const char *org, berr_t *err);

/* Create DIR/cert.pem and DIR/key.pem (client auth) signed by the CA in DIR,
 * unless both exist, match and are signed by that CA. FORCE re-issues. */
int certs_ensure_client(const char *dir, const char *org, bool force, berr_t *err);

/* Issue a server certificate signed by CA_CERT/CA_KEY for SANS (IP
 * addresses become IP SANs, anything else DNS SANs), writing OUT_KEY then
 * OUT_CERT atomically. */
int certs_issue_server(const char *ca_cert, const char *ca_key, const char *org,
                       const char *const *sans, size_t n_sans, const char *out_cert,
                       const char *out_key, berr_t *err);

/* Whether CERT is valid now and for at least MIN_DAYS more, chains to CA,
 * and (when HOST is not NULL) has a SAN matching HOST. */
int certs_check(const char *cert, const char *ca, const char *host, int min_days, bool *ok,
                berr_t *err);

/* Whether the private key in KEY belongs to the certificate in CERT. */
int certs_pair_matches(const char *cert, const char *key, bool *ok, berr_t *err);

#endif
