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

int engine_get(const char *url, const char *path, const char *cert_dir, long timeout_ms,
               json_t **out, berr_t *err)
{
    _cleanup_free_ char *full = https_url(url, path);
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
    *out = code == 200 && b.buf ? json_loads(b.buf, 0, NULL) : NULL;
    if (*out == NULL)
        berr_set(err, 0, "engine %s: GET %s answered HTTP %ld without JSON", url, path, code);
    else
        ret = 0;
out:
    free(b.buf);
    curl_easy_cleanup(c);
    return ret;
}

int engine_version(const char *url, const char *cert_dir, long timeout_ms, char **version,
                   berr_t *err)
{
    json_t *root = NULL;

    if (engine_get(url, "/version", cert_dir, timeout_ms, &root, err) < 0)
        return -1;
    const char *v = json_string_value(json_object_get(root, "Version"));
    int ret = 0;
    if (v == NULL)
        ret = berr_set(err, 0, "engine %s: GET /version answered without a version", url);
    else
        *version = xasprintf("v%s", v);
    json_decref(root);
    return ret;
}
