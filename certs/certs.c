/* berth's TLS identities, built with the OpenSSL 3 API: ECDSA P-256 keys,
 * a self-signed CA, a client certificate and per-machine server
 * certificates. Nothing here keeps global state: every call works on its
 * own objects and OpenSSL's per-thread error queue. */
#include "certs/certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "berth/util.h"

#define CA_CERT_FILE "ca.pem"
#define CA_KEY_FILE "ca-key.pem"
#define CLIENT_CERT_FILE "cert.pem"
#define CLIENT_KEY_FILE "key.pem"
#define CLIENT_CN "berth-client"
#define DEFAULT_ORG "berth"
#define KEY_MODE 0600
#define CERT_MODE 0644
#define BACKDATE_SECONDS (5 * 60)
#define SERIAL_BYTES 16
/* Client certificates are cheap to re-issue (only the CA is trusted
 * remotely), so they are renewed this long before they expire. */
#define CLIENT_RENEW_DAYS 30
/* ub-common-name / ub-organization-name from RFC 5280. */
#define NAME_MAX_LEN 64
#define DNS_NAME_MAX_LEN 253

/* Return codes of the loaders below: a parse failure is told apart from an
 * I/O failure so that replaceable files (the client pair) can be re-issued. */
#define LOAD_IO_ERROR (-1)
#define LOAD_PARSE_ERROR (-2)

#define DEFINE_OSSL_CLEANUP(type, fn)                                                              \
    static inline void fn##p(type **p)                                                             \
    {                                                                                              \
        fn(*p);                                                                                    \
    }

DEFINE_OSSL_CLEANUP(X509, X509_free)
DEFINE_OSSL_CLEANUP(EVP_PKEY, EVP_PKEY_free)
DEFINE_OSSL_CLEANUP(BIO, BIO_free)
DEFINE_OSSL_CLEANUP(BIGNUM, BN_free)
DEFINE_OSSL_CLEANUP(X509_NAME, X509_NAME_free)
DEFINE_OSSL_CLEANUP(X509_STORE, X509_STORE_free)
DEFINE_OSSL_CLEANUP(X509_STORE_CTX, X509_STORE_CTX_free)

static inline void x509_stack_freep(STACK_OF(X509) * *p)
{
    sk_X509_pop_free(*p, X509_free);
}

static inline void general_names_freep(GENERAL_NAMES **p)
{
    GENERAL_NAMES_free(*p);
}

#define _cleanup_x509_ __attribute__((cleanup(X509_freep)))
#define _cleanup_pkey_ __attribute__((cleanup(EVP_PKEY_freep)))
#define _cleanup_bio_ __attribute__((cleanup(BIO_freep)))
#define _cleanup_bn_ __attribute__((cleanup(BN_freep)))
#define _cleanup_name_ __attribute__((cleanup(X509_NAME_freep)))
#define _cleanup_store_ __attribute__((cleanup(X509_STORE_freep)))
#define _cleanup_store_ctx_ __attribute__((cleanup(X509_STORE_CTX_freep)))
#define _cleanup_x509_stack_ __attribute__((cleanup(x509_stack_freep)))
#define _cleanup_gens_ __attribute__((cleanup(general_names_freep)))

/* Set *err to "MESSAGE: <OpenSSL error>" from the oldest queued OpenSSL
 * error (the root cause), then empty the queue. Returns -1. */
static int ossl_fail(berr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ossl_fail(berr_t *err, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    char cause[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (e != 0)
        ERR_error_string_n(e, cause, sizeof(cause));
    ERR_clear_error();
    return berr_set(err, 0, "%s: %s", msg ? msg : "OpenSSL", cause);
}

/* Never prompt for a pass phrase: berth's keys are not encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int path_exists(const char *path, bool *exists, berr_t *err)
{
    struct stat st;

    if (stat(path, &st) == 0) {
        *exists = true;
        return 0;
    }
    if (errno == ENOENT) {
        *exists = false;
        return 0;
    }
    return berr_set(err, errno, "stat %s", path);
}

/* Read every certificate in the PEM file PATH (at least one). */
static int load_certs(const char *path, STACK_OF(X509) * *out, berr_t *err)
{
    _cleanup_free_ char *data = NULL;
    _cleanup_bio_ BIO *bio = NULL;
    _cleanup_x509_stack_ STACK_OF(X509) *certs = NULL;
    size_t len;

    if (read_file(path, &data, &len, err) < 0)
        return LOAD_IO_ERROR;
    if (len > INT32_MAX) {
        berr_set(err, EFBIG, "read certificate %s", path);
        return LOAD_IO_ERROR;
    }
    bio = BIO_new_mem_buf(data, (int)len);
    certs = sk_X509_new_null();
    if (bio == NULL || certs == NULL) {
        ossl_fail(err, "read certificate %s", path);
        return LOAD_IO_ERROR;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (x == NULL)
            break;
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            ossl_fail(err, "read certificate %s", path);
            return LOAD_IO_ERROR;
        }
    }
    if (sk_X509_num(certs) == 0) {
        ossl_fail(err, "parse certificate %s", path);
        return LOAD_PARSE_ERROR;
    }
    /* The loop ends on "no start line" once the file is exhausted. */
    ERR_clear_error();
    *out = steal_pointer(&certs);
    return 0;
}

/* Read the first certificate of the PEM file PATH. */
static int load_cert(const char *path, X509 **out, berr_t *err)
{
    _cleanup_x509_stack_ STACK_OF(X509) *certs = NULL;
    int r = load_certs(path, &certs, err);

    if (r < 0)
        return r;
    *out = sk_X509_shift(certs);
    return 0;
}

/* Read the private key in the PEM file PATH; the file contents are wiped
 * from memory afterwards. */
static int load_key(const char *path, EVP_PKEY **out, berr_t *err)
{
    char *data = NULL;
    size_t len;
    BIO *bio;
    EVP_PKEY *key = NULL;
    int ret = 0;

    if (read_file(path, &data, &len, err) < 0)
        return LOAD_IO_ERROR;
    if (len > INT32_MAX) {
        ret = berr_set(err, EFBIG, "read private key %s", path);
        goto out;
    }
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        ret = ossl_fail(err, "read private key %s", path);
        goto out;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL) {
        ossl_fail(err, "parse private key %s", path);
        ret = LOAD_PARSE_ERROR;
        goto out;
    }
    ERR_clear_error();
    *out = key;
out:
    OPENSSL_cleanse(data, len);
    free(data);
    return ret;
}

static int write_cert(const char *path, X509 *cert, berr_t *err)
{
    _cleanup_bio_ BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;

    if (bio == NULL || !PEM_write_bio_X509(bio, cert))
        return ossl_fail(err, "encode certificate %s", path);
    len = BIO_get_mem_data(bio, &data);
    if (len <= 0)
        return ossl_fail(err, "encode certificate %s", path);
    return write_file_atomic(path, data, (size_t)len, CERT_MODE, err);
}

/* Write KEY as unencrypted PKCS#8 ("BEGIN PRIVATE KEY"). The secure-memory
 * BIO wipes its buffers when they are grown or freed. */
static int write_key(const char *path, EVP_PKEY *key, berr_t *err)
{
    _cleanup_bio_ BIO *bio = BIO_new(BIO_s_secmem());
    char *data;
    long len;

    if (bio == NULL || !PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
        return ossl_fail(err, "encode private key %s", path);
    len = BIO_get_mem_data(bio, &data);
    if (len <= 0)
        return ossl_fail(err, "encode private key %s", path);
    return write_file_atomic(path, data, (size_t)len, KEY_MODE, err);
}

static int generate_key(EVP_PKEY **out, berr_t *err)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (key == NULL)
        return ossl_fail(err, "generate ECDSA P-256 key");
    *out = key;
    return 0;
}

/* A random positive serial of up to 128 bits (RFC 5280 allows 20 octets). */
static int set_random_serial(X509 *cert, berr_t *err)
{
    unsigned char buf[SERIAL_BYTES];
    _cleanup_bn_ BIGNUM *bn = NULL;

    if (RAND_bytes(buf, sizeof(buf)) != 1)
        return ossl_fail(err, "generate certificate serial number");
    buf[0] &= 0x7f;
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    if (bn == NULL)
        return ossl_fail(err, "generate certificate serial number");
    if (BN_is_zero(bn) && !BN_one(bn))
        return ossl_fail(err, "generate certificate serial number");
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
        return ossl_fail(err, "set certificate serial number");
    return 0;
}

static bool keys_match(X509 *cert, EVP_PKEY *key)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    bool eq = pub != NULL && EVP_PKEY_eq(pub, key) == 1;

    /* EVP_PKEY_eq queues an error when the key types differ. */
    ERR_clear_error();
    return eq;
}

static int name_add(X509_NAME *name, const char *field, const char *value, berr_t *err)
{
    if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
                                    -1, 0))
        return ossl_fail(err, "set subject %s=%s", field, value);
    return 0;
}

/* Subject "O=ORG, CN=CN" (CN left out when NULL). */
static int make_subject(const char *org, const char *cn, X509_NAME **out, berr_t *err)
{
    _cleanup_name_ X509_NAME *name = X509_NAME_new();

    if (name == NULL)
        return ossl_fail(err, "create subject name");
    if (name_add(name, "O", org, err) < 0)
        return -1;
    if (cn != NULL && name_add(name, "CN", cn, err) < 0)
        return -1;
    *out = steal_pointer(&name);
    return 0;
}

struct ext_spec {
    int nid;
    const char *value; /* OpenSSL config syntax, e.g. "critical,CA:TRUE" */
};

static const struct ext_spec ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
    {NID_subject_key_identifier, "hash"},
};

static const struct ext_spec client_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "clientAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid"},
};

static const struct ext_spec server_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid"},
};

static const EVP_MD *signing_digest(EVP_PKEY *key)
{
    /* EdDSA signs the message itself and takes no separate digest. */
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
        return NULL;
    return EVP_sha256();
}

/* Build and sign a certificate for SUBJECT/PUBKEY. ISSUER is the issuing CA
 * certificate, or NULL for a self-signed certificate (then SIGN_KEY must be
 * the key of PUBKEY). SANS, when not NULL, becomes the subjectAltName. */
static int build_cert(const X509_NAME *subject, EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *sign_key,
                      const struct ext_spec *exts, size_t n_exts, GENERAL_NAMES *sans, X509 **out,
                      berr_t *err)
{
    _cleanup_x509_ X509 *cert = X509_new();
    X509V3_CTX ctx;

    if (cert == NULL)
        return ossl_fail(err, "create certificate");
    if (!X509_set_version(cert, X509_VERSION_3))
        return ossl_fail(err, "set certificate version");
    if (set_random_serial(cert, err) < 0)
        return -1;
    if (!X509_set_subject_name(cert, subject) ||
        !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject))
        return ossl_fail(err, "set certificate names");
    if (X509_gmtime_adj(X509_getm_notBefore(cert), -BACKDATE_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(cert), BERTH_CERT_DAYS, 0, NULL) == NULL)
        return ossl_fail(err, "set certificate validity");
    if (!X509_set_pubkey(cert, pubkey))
        return ossl_fail(err, "set certificate public key");

    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    for (size_t i = 0; i < n_exts; i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
        if (ext == NULL)
            return ossl_fail(err, "create extension %s", OBJ_nid2sn(exts[i].nid));
        int ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        if (!ok)
            return ossl_fail(err, "add extension %s", OBJ_nid2sn(exts[i].nid));
    }
    if (sans != NULL &&
        X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT) != 1)
        return ossl_fail(err, "add extension subjectAltName");

    if (X509_sign(cert, sign_key, signing_digest(sign_key)) <= 0)
        return ossl_fail(err, "sign certificate");
    *out = steal_pointer(&cert);
    return 0;
}

static const char *org_or_default(const char *org)
{
    return org != NULL && *org != '\0' ? org : DEFAULT_ORG;
}

static int build_ca_cert(const X509_NAME *subject, EVP_PKEY *key, X509 **out, berr_t *err)
{
    return build_cert(subject, key, NULL, key, ca_exts, sizeof(ca_exts) / sizeof(ca_exts[0]), NULL,
                      out, err);
}

static int create_ca(const char *cert_path, const char *key_path, const char *org, berr_t *err)
{
    _cleanup_pkey_ EVP_PKEY *key = NULL;
    _cleanup_name_ X509_NAME *subject = NULL;
    _cleanup_x509_ X509 *cert = NULL;
    _cleanup_free_ char *cn = NULL;

    /* "<org> CA", or just the organization when that would not fit. */
    cn = strlen(org) + 3 <= NAME_MAX_LEN ? xasprintf("%s CA", org) : xstrdup(org);
    if (generate_key(&key, err) < 0 || make_subject(org, cn, &subject, err) < 0 ||
        build_ca_cert(subject, key, &cert, err) < 0)
        return -1;
    if (write_key(key_path, key, err) < 0)
        return -1;
    return write_cert(cert_path, cert, err);
}

int certs_ensure_ca(const char *dir, const char *org, berr_t *err)
{
    _cleanup_free_ char *cert_path = path_join(dir, CA_CERT_FILE);
    _cleanup_free_ char *key_path = path_join(dir, CA_KEY_FILE);
    _cleanup_x509_ X509 *cert = NULL;
    _cleanup_x509_ X509 *renewed = NULL;
    _cleanup_pkey_ EVP_PKEY *key = NULL;
    bool have_cert = false, have_key = false;

    ERR_clear_error();
    if (path_exists(cert_path, &have_cert, err) < 0 || path_exists(key_path, &have_key, err) < 0)
        return berr_prefix(err, "CA in %s", dir);
    if (!have_cert && !have_key) {
        if (mkdir_p(dir, 0700, err) < 0 ||
            create_ca(cert_path, key_path, org_or_default(org), err) < 0)
            return berr_prefix(err, "create CA in %s", dir);
        return 0;
    }
    /* Never replace an existing CA key: every machine trusts it. */
    if (!have_key)
        return berr_set(err, 0,
                        "CA in %s: %s exists but its private key %s is missing; restore the key "
                        "(or remove %s to create a new CA and re-provision every machine)",
                        dir, cert_path, key_path, cert_path);
    if (!have_cert)
        return berr_set(err, 0,
                        "CA in %s: private key %s exists but its certificate %s is missing; "
                        "restore the certificate (or remove %s to create a new CA and "
                        "re-provision every machine)",
                        dir, key_path, cert_path, key_path);
    if (load_cert(cert_path, &cert, err) < 0 || load_key(key_path, &key, err) < 0)
        return berr_prefix(err, "CA in %s", dir);
    if (!keys_match(cert, key))
        return berr_set(err, 0, "CA in %s: private key %s does not belong to certificate %s", dir,
                        key_path, cert_path);
    if (X509_check_ca(cert) == 0)
        return berr_set(err, 0, "CA in %s: %s is not a CA certificate", dir, cert_path);
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) > 0)
        return 0;
    /* Expired: re-sign the same subject with the same key. Certificates
     * issued earlier keep chaining to it (same name, same key identifier). */
    if (build_ca_cert(X509_get_subject_name(cert), key, &renewed, err) < 0 ||
        write_cert(cert_path, renewed, err) < 0)
        return berr_prefix(err, "renew expired CA certificate %s", cert_path);
    return 0;
}

/* Whether CERT is valid for MIN_DAYS more days, chains to one of the
 * self-signed certificates in CAS (checked for PURPOSE unless it is 0) and
 * matches HOST when that is not NULL. */
static int check_loaded(X509 *cert, STACK_OF(X509) * cas, const char *host, int min_days,
                        int purpose, bool *ok, berr_t *err)
{
    _cleanup_store_ X509_STORE *store = NULL;
    _cleanup_store_ctx_ X509_STORE_CTX *ctx = NULL;
    time_t until = time(NULL) + (time_t)(min_days > 0 ? min_days : 0) * 86400;
    int r;

    *ok = false;
    r = X509_cmp_time(X509_get0_notAfter(cert), &until);
    if (r == 0)
        return ossl_fail(err, "read certificate expiry time");
    if (r < 0)
        return 0;

    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    if (store == NULL || ctx == NULL)
        return ossl_fail(err, "create certificate store");
    for (int i = 0; i < sk_X509_num(cas); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(cas, i)))
            return ossl_fail(err, "add CA certificate to store");
    if (!X509_STORE_CTX_init(ctx, store, cert, NULL))
        return ossl_fail(err, "initialise certificate verification");
    if (purpose != 0 && !X509_STORE_CTX_set_purpose(ctx, purpose))
        return ossl_fail(err, "set certificate verification purpose");
    r = X509_verify_cert(ctx);
    if (r < 0)
        return ossl_fail(err, "verify certificate");
    ERR_clear_error();
    if (r == 0)
        return 0;

    if (host != NULL) {
        _cleanup_free_ char *h = xstrdup(host);
        size_t len = strlen(h);
        unsigned char addr[16];

        /* Accept "[::1]" as written in URLs. */
        if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
            h[len - 1] = '\0';
            memmove(h, h + 1, len - 1);
        }
        if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1)
            r = X509_check_ip_asc(cert, h, 0);
        else
            r = X509_check_host(cert, h, strlen(h), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
        if (r < 0)
            return ossl_fail(err, "match certificate against host %s", host);
        if (r == 0)
            return 0;
    }
    *ok = true;
    return 0;
}

int certs_check(const char *cert, const char *ca, const char *host, int min_days, bool *ok,
                berr_t *err)
{
    _cleanup_x509_ X509 *x = NULL;
    _cleanup_x509_stack_ STACK_OF(X509) *cas = NULL;

    ERR_clear_error();
    *ok = false;
    if (load_cert(cert, &x, err) < 0 || load_certs(ca, &cas, err) < 0)
        return -1;
    if (check_loaded(x, cas, host, min_days, 0, ok, err) < 0)
        return berr_prefix(err, "check certificate %s", cert);
    return 0;
}

int certs_pair_matches(const char *cert, const char *key, bool *ok, berr_t *err)
{
    _cleanup_x509_ X509 *x = NULL;
    _cleanup_pkey_ EVP_PKEY *k = NULL;

    ERR_clear_error();
    *ok = false;
    if (load_cert(cert, &x, err) < 0 || load_key(key, &k, err) < 0)
        return -1;
    *ok = keys_match(x, k);
    return 0;
}

/* Load the CA pair and make sure it can issue certificates. */
static int load_ca(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key,
                   berr_t *err)
{
    _cleanup_x509_ X509 *c = NULL;
    _cleanup_pkey_ EVP_PKEY *k = NULL;

    if (load_cert(cert_path, &c, err) < 0 || load_key(key_path, &k, err) < 0)
        return berr_prefix(err, "load CA");
    if (!keys_match(c, k))
        return berr_set(err, 0, "load CA: private key %s does not belong to certificate %s",
                        key_path, cert_path);
    if (X509_check_ca(c) == 0)
        return berr_set(err, 0, "load CA: %s is not a CA certificate", cert_path);
    *cert = steal_pointer(&c);
    *key = steal_pointer(&k);
    return 0;
}

/* Generate a key, issue a certificate for it and write KEY_PATH then
 * CERT_PATH. */
static int issue(X509 *ca, EVP_PKEY *ca_key, const X509_NAME *subject, const struct ext_spec *exts,
                 size_t n_exts, GENERAL_NAMES *sans, const char *cert_path, const char *key_path,
                 berr_t *err)
{
    _cleanup_pkey_ EVP_PKEY *key = NULL;
    _cleanup_x509_ X509 *cert = NULL;

    if (generate_key(&key, err) < 0 ||
        build_cert(subject, key, ca, ca_key, exts, n_exts, sans, &cert, err) < 0)
        return -1;
    if (write_key(key_path, key, err) < 0)
        return -1;
    return write_cert(cert_path, cert, err);
}

/* Whether the existing client pair can be kept. Unreadable or corrupt files
 * just mean "re-issue"; only errors reading the directory are fatal. */
static int client_pair_usable(const char *cert_path, const char *key_path, X509 *ca, bool *usable,
                              berr_t *err)
{
    _cleanup_x509_ X509 *cert = NULL;
    _cleanup_pkey_ EVP_PKEY *key = NULL;
    _cleanup_x509_stack_ STACK_OF(X509) *cas = NULL;
    berr_t ignored = NULL;
    bool have_cert = false, have_key = false;

    *usable = false;
    if (path_exists(cert_path, &have_cert, err) < 0 || path_exists(key_path, &have_key, err) < 0)
        return -1;
    if (!have_cert || !have_key)
        return 0;
    if (load_cert(cert_path, &cert, &ignored) < 0 || load_key(key_path, &key, &ignored) < 0) {
        berr_free(&ignored);
        return 0;
    }
    if (!keys_match(cert, key))
        return 0;
    cas = sk_X509_new_null();
    if (cas == NULL || !sk_X509_push(cas, ca))
        return ossl_fail(err, "create certificate list");
    X509_up_ref(ca);
    return check_loaded(cert, cas, NULL, CLIENT_RENEW_DAYS, X509_PURPOSE_SSL_CLIENT, usable, err);
}

int certs_ensure_client(const char *dir, const char *org, bool force, berr_t *err)
{
    _cleanup_free_ char *ca_path = path_join(dir, CA_CERT_FILE);
    _cleanup_free_ char *ca_key_path = path_join(dir, CA_KEY_FILE);
    _cleanup_free_ char *cert_path = path_join(dir, CLIENT_CERT_FILE);
    _cleanup_free_ char *key_path = path_join(dir, CLIENT_KEY_FILE);
    _cleanup_x509_ X509 *ca = NULL;
    _cleanup_pkey_ EVP_PKEY *ca_key = NULL;
    _cleanup_name_ X509_NAME *subject = NULL;
    bool usable = false;

    ERR_clear_error();
    if (load_ca(ca_path, ca_key_path, &ca, &ca_key, err) < 0)
        return berr_prefix(err, "client certificate in %s", dir);
    if (!force && client_pair_usable(cert_path, key_path, ca, &usable, err) < 0)
        return berr_prefix(err, "client certificate in %s", dir);
    if (usable)
        return 0;
    if (make_subject(org_or_default(org), CLIENT_CN, &subject, err) < 0 ||
        issue(ca, ca_key, subject, client_exts, sizeof(client_exts) / sizeof(client_exts[0]), NULL,
              cert_path, key_path, err) < 0)
        return berr_prefix(err, "issue client certificate %s", cert_path);
    return 0;
}

static bool valid_dns_name(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > DNS_NAME_MAX_LEN || s[0] == '.' || s[0] == '-')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '*'))
            return false;
    }
    return true;
}

/* Turn SANS into subjectAltName entries, dropping duplicates (IP addresses
 * compared in binary form, DNS names case-insensitively). */
static int build_sans(const char *const *sans, size_t n_sans, GENERAL_NAMES **out, berr_t *err)
{
    _cleanup_gens_ GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

    if (gens == NULL)
        return ossl_fail(err, "create subjectAltName");
    if (n_sans == 0)
        return berr_set(err, 0, "no name or address given");
    for (size_t i = 0; i < n_sans; i++) {
        const char *s = sans[i];
        unsigned char addr[16];
        int alen = 0;

        if (s == NULL || *s == '\0')
            return berr_set(err, 0, "empty name or address");
        if (inet_pton(AF_INET, s, addr) == 1)
            alen = 4;
        else if (inet_pton(AF_INET6, s, addr) == 1)
            alen = 16;
        else if (!valid_dns_name(s))
            return berr_set(err, 0, "\"%s\" is neither an IP address nor a DNS name", s);

        bool dup = false;
        for (int j = 0; j < sk_GENERAL_NAME_num(gens) && !dup; j++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
            if (alen > 0 && g->type == GEN_IPADD)
                dup = ASN1_STRING_length(g->d.iPAddress) == alen &&
                      memcmp(ASN1_STRING_get0_data(g->d.iPAddress), addr, (size_t)alen) == 0;
            else if (alen == 0 && g->type == GEN_DNS)
                dup = strcasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), s) == 0;
        }
        if (dup)
            continue;

        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *value = alen > 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        bool set = value != NULL && (alen > 0 ? ASN1_STRING_set(value, addr, alen)
                                              : ASN1_STRING_set(value, s, (int)strlen(s)));
        if (g == NULL || !set) {
            GENERAL_NAME_free(g);
            ASN1_STRING_free(value);
            return ossl_fail(err, "create subjectAltName entry %s", s);
        }
        GENERAL_NAME_set0_value(g, alen > 0 ? GEN_IPADD : GEN_DNS, value);
        if (!sk_GENERAL_NAME_push(gens, g)) {
            GENERAL_NAME_free(g);
            return ossl_fail(err, "create subjectAltName entry %s", s);
        }
    }
    *out = steal_pointer(&gens);
    return 0;
}

int certs_issue_server(const char *ca_cert, const char *ca_key, const char *org,
                       const char *const *sans, size_t n_sans, const char *out_cert,
                       const char *out_key, berr_t *err)
{
    _cleanup_x509_ X509 *ca = NULL;
    _cleanup_pkey_ EVP_PKEY *cakey = NULL;
    _cleanup_gens_ GENERAL_NAMES *gens = NULL;
    _cleanup_name_ X509_NAME *subject = NULL;
    const char *cn;

    ERR_clear_error();
    if (build_sans(sans, n_sans, &gens, err) < 0 || load_ca(ca_cert, ca_key, &ca, &cakey, err) < 0)
        return berr_prefix(err, "issue server certificate %s", out_cert);
    /* CN is the first SAN; a name too long for CN is only in the SANs. */
    cn = strlen(sans[0]) <= NAME_MAX_LEN ? sans[0] : NULL;
    if (make_subject(org_or_default(org), cn, &subject, err) < 0 ||
        issue(ca, cakey, subject, server_exts, sizeof(server_exts) / sizeof(server_exts[0]), gens,
              out_cert, out_key, err) < 0)
        return berr_prefix(err, "issue server certificate %s", out_cert);
    return 0;
}
