#include "core/lib/engine.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

struct body {
    char *buf;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    if (b->len + add > 1 << 20)
        return 0; /* a /version answer is small: refuse anything huge */
    char *nb = realloc(b->buf, b->len + add + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + b->len, p, add);
    b->buf = nb;
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

static char *https_url(const char *url, const char *path)
{
    if (strncmp(url, "tcp://", 6) == 0)
        return xasprintf("https://%s%s", url + 6, path);
    return xasprintf("%s%s", url, path);
}

int engine_version(const char *url, const char *cert_dir, long timeout_ms, char **version,
                   berr_t *err)
{
    _cleanup_free_ char *full = https_url(url, "/version");
    _cleanup_free_ char *ca = path_join(cert_dir, "ca.pem");
    _cleanup_free_ char *cert = path_join(cert_dir, "cert.pem");
    _cleanup_free_ char *key = path_join(cert_dir, "key.pem");
    struct body b = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURL *c = curl_easy_init();
    int ret = -1;

    if (c == NULL)
        return berr_set(err, 0, "engine %s: cannot initialise libcurl", url);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        berr_set(err, 0, "engine %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    json_t *root = code == 200 && b.buf ? json_loads(b.buf, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(root, "Version"));
    if (v == NULL)
        berr_set(err, 0, "engine %s: GET /version answered HTTP %ld without a version", url,
                 code);
    else
        *version = xasprintf("v%s", v), ret = 0;
    json_decref(root);
out:
    free(b.buf);
    curl_easy_cleanup(c);
    return ret;
}
