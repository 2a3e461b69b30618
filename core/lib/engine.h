/* Talking to a machine's engine from the berth side: one mutual-TLS GET
 * through libcurl with the machine's client certificate. */
#ifndef BERTH_ENGINE_H
#define BERTH_ENGINE_H

#include <jansson.h>

#include "berth/error.h"

/* GET URL's PATH (URL is tcp://HOST:PORT) over mutual TLS with CERT_DIR's ca.pem, cert.pem,
 * key.pem, bounded by TIMEOUT_MS; *out gets the JSON answer of a 200 response. */
int engine_get(const char *url, const char *path, const char *cert_dir, long timeout_ms,
               json_t **out, berr_t *err);

/* GET URL's /version (URL is tcp://HOST:PORT) with CERT_DIR's ca.pem, cert.pem,
 * key.pem, bounded by TIMEOUT_MS; *version gets "vX.Y.Z" (malloc()ed). */
int engine_version(const char *url, const char *cert_dir, long timeout_ms, char **version,
                   berr_t *err);

#endif
