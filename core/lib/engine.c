/* A mutual-TLS GET through libcurl. The TLS material is parsed by us, not by libcurl: OpenSSL 3
 * decodes every PEM key and certificate through its provider decoders, about a millisecond
 * each under a handful of global locks, and `berth ls` asks many machines at once whose
 * directories hold copies of the same CA, client certificate and key. So each transfer reads
 * its three files (a change on disk is seen at once), and only bytes identical to ones
 * already parsed by this process reuse those objects; libcurl's SSL_CTX callback puts them
 * into the connection's context (the CA into the context's own store, so libcurl's store
 * set-up stays per connection). Nothing of an answer is kept. */
#include "core/lib/engine.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

/* The parsed contents of one directory's ca.pem, cert.pem and key.pem. */
struct tls_ident {
    struct tls_ident *next;
    char *pem[3]; /* the files' bytes, for comparison */
    size_t len[3];
    STACK_OF(X509) * cas;   /* ca.pem: the trusted certificates */
    STACK_OF(X509) * chain; /* cert.pem: the client certificate, then any chain */
    EVP_PKEY *key;          /* key.pem */
};

enum { PEM_CA, PEM_CERT, PEM_KEY };
static const char *const pem_names[] = {"ca.pem", "cert.pem", "key.pem"};

static pthread_mutex_t idents_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_ident *idents; /* live until the process exits */

static void ident_free(struct tls_ident *id)
{
    for (int i = 0; i < 3; i++)
        free(id->pem[i]);
    sk_X509_pop_free(id->cas, X509_free);
    sk_X509_pop_free(id->chain, X509_free);
    EVP_PKEY_free(id->key);
    free(id);
}

/* The OpenSSL error queue's last reason, for messages. */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    snprintf(buf, len, "%s", e ? ERR_reason_error_string(e) : "no PEM data");
    if (buf[0] == '\0' || strcmp(buf, "(null)") == 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* Every certificate of a PEM text, in order; NULL (and *why set) when it has none. */
static STACK_OF(X509) * read_certs(const char *pem, size_t len, char *why, size_t whylen)
{
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;

    while (in && sk && (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
        /* Work out the extension flags now, while the object is ours alone. */
        X509_check_purpose(x, -1, 0);
        sk_X509_push(sk, x);
    }
    BIO_free(in);
    if (sk && sk_X509_num(sk) > 0) {
        ERR_clear_error(); /* the "no start line" that ends the loop */
        return sk;
    }
    ossl_reason(why, whylen);
    sk_X509_free(sk);
    return NULL;
}

/* Parse the three files' bytes into ID; -1 with *err naming the file. */
static int ident_parse(struct tls_ident *id, const char *cert_dir, berr_t *err)
{
    char why[256];
    const char *bad = NULL;

    if ((id->cas = read_certs(id->pem[PEM_CA], id->len[PEM_CA], why, sizeof(why))) == NULL)
        bad = pem_names[PEM_CA];
    else if ((id->chain = read_certs(id->pem[PEM_CERT], id->len[PEM_CERT], why, sizeof(why))) ==
             NULL)
        bad = pem_names[PEM_CERT];
    else {
        BIO *in = BIO_new_mem_buf(id->pem[PEM_KEY], (int)id->len[PEM_KEY]);
        id->key = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
        BIO_free(in);
        if (id->key == NULL) {
            ossl_reason(why, sizeof(why));
            bad = pem_names[PEM_KEY];
        } else if (X509_check_private_key(sk_X509_value(id->chain, 0), id->key) != 1) {
            ERR_clear_error();
            snprintf(why, sizeof(why), "the key does not match the certificate in cert.pem");
            bad = pem_names[PEM_KEY];
        }
    }
    if (bad == NULL)
        return 0;
    _cleanup_free_ char *path = path_join(cert_dir, bad);
    return berr_set(err, 0, "TLS: %s: %s", path, why);
}

/* CERT_DIR's identity: the parsed objects of an identical earlier one, else parsed now. */
static struct tls_ident *ident_get(const char *cert_dir, berr_t *err)
{
    struct tls_ident *id = xcalloc(1, sizeof(*id)), *known;

    for (int i = 0; i < 3; i++) {
        _cleanup_free_ char *path = path_join(cert_dir, pem_names[i]);
        if (read_file(path, &id->pem[i], &id->len[i], err) < 0) {
            ident_free(id);
            return NULL;
        }
    }
    pthread_mutex_lock(&idents_lock);
    for (known = idents; known; known = known->next) {
        bool same = true;
        for (int i = 0; i < 3 && same; i++)
            same =
                known->len[i] == id->len[i] && memcmp(known->pem[i], id->pem[i], id->len[i]) == 0;
        if (same)
            break;
    }
    if (known) {
        pthread_mutex_unlock(&idents_lock);
        ident_free(id);
        return known;
    }
    /* Parsed under the lock: threads asking with the same files wait for one parse. */
    if (ident_parse(id, cert_dir, err) < 0) {
        pthread_mutex_unlock(&idents_lock);
        ident_free(id);
        return NULL;
    }
    id->next = idents;
    idents = id;
    pthread_mutex_unlock(&idents_lock);
    return id;
}

/* libcurl's SSL_CTX callback: the identity's trust anchors, certificate and key. The objects
 * are only read from here on, so connections in other threads share them. */
static CURLcode put_ident(CURL *c, void *sslctx, void *ud)
{
    SSL_CTX *ctx = sslctx;
    const struct tls_ident *id = ud;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    bool ok = store != NULL;

    (void)c;
    for (int i = 0; ok && i < sk_X509_num(id->cas); i++)
        ok = X509_STORE_add_cert(store, sk_X509_value(id->cas, i)) == 1;
    ok = ok && SSL_CTX_use_certificate(ctx, sk_X509_value(id->chain, 0)) == 1;
    for (int i = 1; ok && i < sk_X509_num(id->chain); i++)
        ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(id->chain, i)) == 1;
    ok = ok && SSL_CTX_use_PrivateKey(ctx, id->key) == 1;
    return ok ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

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
    struct body b = {0};
    char ebuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    struct tls_ident *id = ident_get(cert_dir, err);
    CURL *c;
    int ret = -1;

    if (id == NULL)
        return berr_prefix(err, "engine %s", url);
    if ((c = curl_easy_init()) == NULL)
        return berr_set(err, 0, "engine %s: cannot initialise libcurl", url);
    curl_easy_setopt(c, CURLOPT_URL, full);
    /* Only the identity's CA is trusted: none of libcurl's default bundle or directory. */
    curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, put_ident) != CURLE_OK) {
        curl_easy_cleanup(c);
        return berr_set(err, 0, "engine %s: libcurl is not built with OpenSSL", url);
    }
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, id);
    /* One request per handle: keeping the server's session tickets would be wasted work. */
    curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
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
