/* Unit tests for certs/certs.c: CA, client and server certificates, checked
 * both through the API and with the openssl command line tool. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include "tests/unit/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "berth/util.h"
#include "certs/certs.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/berth-test-certs-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;
    int r = rm_rf(f->dir, &err);

    berr_free(&err);
    free(f);
    return r;
}

static char *in(const struct fixture *f, const char *name)
{
    return path_join(f->dir, name);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    berr_t err = NULL;

    assert_ok(read_file(path, &data, NULL, &err), err);
    return data;
}

/* Run a shell command, returning its exit status (-1 when it did not exit). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    _cleanup_free_ char *cmd = NULL;
    va_list ap;
    int st;

    va_start(ap, fmt);
    assert_true(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The standard output of a shell command. */
static char *capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    char *buf = xcalloc(1, 8192);
    size_t n;

    assert_non_null(p);
    n = fread(buf, 1, 8191, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    return buf;
}

static X509 *read_x509(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *x;

    assert_non_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

static mode_t file_mode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* CA + client in F->dir and a server certificate server.pem/server-key.pem. */
static const char *const test_sans[] = {"127.0.0.1", "localhost", "10.1.2.3", "example.test",
                                        "LOCALHOST", "127.0.0.1", "::1"};
#define N_TEST_SANS (sizeof(test_sans) / sizeof(test_sans[0]))

static void make_all(const struct fixture *f)
{
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    _cleanup_free_ char *srvkey = in(f, "server-key.pem");
    berr_t err = NULL;

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    assert_ok(certs_issue_server(ca, cakey, "testorg", test_sans, N_TEST_SANS, srv, srvkey, &err),
              err);
}

static void test_generate_and_openssl_verify(void **state)
{
    struct fixture *f = *state;
    static const char *const files[] = {"ca.pem",  "ca-key.pem", "cert.pem",
                                        "key.pem", "server.pem", "server-key.pem"};

    make_all(f);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        _cleanup_free_ char *p = in(f, files[i]);
        _cleanup_free_ char *data = slurp(p);
        bool is_key = strstr(files[i], "key") != NULL;

        assert_int_equal(file_mode(p), is_key ? 0600 : 0644);
        if (is_key) /* PKCS#8, unencrypted */
            assert_non_null(strstr(data, "-----BEGIN PRIVATE KEY-----"));
        else
            assert_non_null(strstr(data, "-----BEGIN CERTIFICATE-----"));
    }
    assert_int_equal(run("cd %s && openssl verify -CAfile ca.pem cert.pem >/dev/null", f->dir), 0);
    assert_int_equal(run("cd %s && openssl verify -CAfile ca.pem server.pem >/dev/null", f->dir),
                     0);
    assert_int_equal(run("cd %s && openssl verify -CAfile ca.pem -purpose sslclient cert.pem "
                         ">/dev/null",
                         f->dir),
                     0);
    assert_int_equal(run("cd %s && openssl verify -CAfile ca.pem -purpose sslserver server.pem "
                         ">/dev/null",
                         f->dir),
                     0);
    /* The keys are P-256. */
    assert_int_equal(run("cd %s && openssl pkey -in key.pem -noout -text 2>/dev/null | "
                         "grep -q 'NIST CURVE: P-256'",
                         f->dir),
                     0);
    /* Server and client certificates must not verify as each other's purpose. */
    assert_int_not_equal(run("cd %s && openssl verify -CAfile ca.pem -purpose sslserver cert.pem "
                             ">/dev/null 2>&1",
                             f->dir),
                         0);
}

static void test_ca_extensions(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    berr_t err = NULL;
    X509 *x;
    time_t now = time(NULL);
    int day, sec;

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    x = read_x509(ca);
    assert_int_equal(X509_check_ca(x), 1);
    assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
    assert_true(X509_get_key_usage(x) & KU_CRL_SIGN);
    assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    /* basicConstraints and keyUsage are critical. */
    assert_int_equal(X509_EXTENSION_get_critical(
                         X509_get_ext(x, X509_get_ext_by_NID(x, NID_basic_constraints, -1))),
                     1);
    assert_int_equal(
        X509_EXTENSION_get_critical(X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1))), 1);

    /* Subject O=testorg. */
    char buf[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, buf,
                                          sizeof(buf)) > 0);
    assert_string_equal(buf, "testorg");

    /* Positive serial of at most 128 bits. */
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_false(BN_is_zero(bn));
    assert_true(BN_num_bits(bn) <= 128);
    BN_free(bn);

    /* notBefore = now - 5 min, notAfter = now + BERTH_CERT_DAYS. */
    time_t t = now - 300;
    ASN1_TIME *tmp = ASN1_TIME_set(NULL, t);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, tmp, X509_get0_notBefore(x)), 1);
    assert_int_equal(day, 0);
    assert_true(sec >= -5 && sec <= 5);
    ASN1_TIME_free(tmp);
    tmp = ASN1_TIME_set(NULL, now);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, tmp, X509_get0_notAfter(x)), 1);
    ASN1_TIME_free(tmp);
    assert_int_equal(day, BERTH_CERT_DAYS);
    assert_true(sec >= -5 && sec <= 5);
    X509_free(x);
}

static void test_server_sans(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    static const char *const good[] = {"127.0.0.1",    "localhost", "10.1.2.3", "example.test",
                                       "Example.Test", "::1",       "[::1]",    "0:0::1"};
    static const char *const bad[] = {"10.1.2.4", "other.test", "example.test.evil", "::2",
                                      "sub.example.test"};
    berr_t err = NULL;
    bool ok;

    make_all(f);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok = false;
        assert_ok(certs_check(srv, ca, good[i], 30, &ok, &err), err);
        if (!ok)
            fail_msg("host %s should match", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok = true;
        assert_ok(certs_check(srv, ca, bad[i], 30, &ok, &err), err);
        if (ok)
            fail_msg("host %s should not match", bad[i]);
    }
    ok = false;
    assert_ok(certs_check(srv, ca, NULL, 30, &ok, &err), err);
    assert_true(ok);

    /* Duplicates dropped: 127.0.0.1, localhost, 10.1.2.3, example.test, ::1. */
    X509 *x = read_x509(srv);
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    assert_int_equal(sk_GENERAL_NAME_num(gens), 5);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_IPADD);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_DNS);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_IPADD);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 3)->type, GEN_DNS);
    assert_int_equal(sk_GENERAL_NAME_value(gens, 4)->type, GEN_IPADD);
    GENERAL_NAMES_free(gens);

    char cn[128];
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "127.0.0.1");
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    assert_non_null(X509_get0_authority_key_id(x));
    X509_free(x);

    /* The openssl tool sees the same SANs. */
    _cleanup_free_ char *cmd =
        xasprintf("openssl x509 -in %s -noout -ext subjectAltName 2>/dev/null", srv);
    _cleanup_free_ char *out = capture(cmd);
    assert_non_null(strstr(out, "IP Address:127.0.0.1"));
    assert_non_null(strstr(out, "DNS:localhost"));
    assert_non_null(strstr(out, "IP Address:10.1.2.3"));
    assert_non_null(strstr(out, "DNS:example.test"));
    assert_null(strstr(out, "LOCALHOST"));
}

static void test_server_bad_sans(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    _cleanup_free_ char *srvkey = in(f, "server-key.pem");
    static const char *const injected[] = {"a.test,IP:1.2.3.4"};
    static const char *const empty[] = {""};
    berr_t err = NULL;

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    assert_int_equal(certs_issue_server(ca, cakey, "o", test_sans, 0, srv, srvkey, &err), -1);
    assert_non_null(err);
    berr_free(&err);
    assert_int_equal(certs_issue_server(ca, cakey, "o", injected, 1, srv, srvkey, &err), -1);
    assert_non_null(strstr(berr_msg(err), "a.test,IP:1.2.3.4"));
    berr_free(&err);
    assert_int_equal(certs_issue_server(ca, cakey, "o", empty, 1, srv, srvkey, &err), -1);
    berr_free(&err);
    assert_false(file_exists(srv));
    assert_false(file_exists(srvkey));

    /* A CA key that does not match its certificate is refused. */
    _cleanup_free_ char *other = in(f, "other");
    _cleanup_free_ char *other_key = in(f, "other/ca-key.pem");
    assert_ok(mkdir_p(other, 0700, &err), err);
    assert_ok(certs_ensure_ca(other, "x", &err), err);
    assert_int_equal(certs_issue_server(ca, other_key, "o", test_sans, 1, srv, srvkey, &err), -1);
    assert_non_null(strstr(berr_msg(err), "does not belong"));
    berr_free(&err);
    assert_false(file_exists(srv));
}

static void test_ca_idempotent(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    berr_t err = NULL;

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    _cleanup_free_ char *cert1 = slurp(ca);
    _cleanup_free_ char *key1 = slurp(cakey);
    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    assert_ok(certs_ensure_ca(f->dir, "other-org", &err), err);
    _cleanup_free_ char *cert2 = slurp(ca);
    _cleanup_free_ char *key2 = slurp(cakey);
    assert_string_equal(cert1, cert2);
    assert_string_equal(key1, key2);
    assert_int_equal(file_mode(cakey), 0600);
}

static void test_ca_creates_dir(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *sub = in(f, "a/b/certs");
    _cleanup_free_ char *ca = in(f, "a/b/certs/ca.pem");
    berr_t err = NULL;

    assert_ok(certs_ensure_ca(sub, NULL, &err), err);
    assert_true(file_exists(ca));
    assert_int_equal(file_mode(sub), 0700);
}

static void test_ca_incomplete_or_broken(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    _cleanup_free_ char *saved_key = in(f, "saved-key.pem");
    _cleanup_free_ char *clientkey = in(f, "key.pem");
    berr_t err = NULL;

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    _cleanup_free_ char *cert1 = slurp(ca);
    _cleanup_free_ char *key1 = slurp(cakey);

    /* Missing key, existing ca.pem: error, nothing replaced. */
    assert_int_equal(rename(cakey, saved_key), 0);
    assert_int_equal(certs_ensure_ca(f->dir, "testorg", &err), -1);
    assert_non_null(strstr(berr_msg(err), "ca-key.pem"));
    assert_non_null(strstr(berr_msg(err), "missing"));
    berr_free(&err);
    assert_false(file_exists(cakey));
    _cleanup_free_ char *cert2 = slurp(ca);
    assert_string_equal(cert1, cert2);

    /* Missing certificate, existing key: error, key kept. */
    assert_int_equal(rename(saved_key, cakey), 0);
    assert_int_equal(unlink(ca), 0);
    assert_int_equal(certs_ensure_ca(f->dir, "testorg", &err), -1);
    assert_non_null(strstr(berr_msg(err), "ca.pem"));
    berr_free(&err);
    assert_false(file_exists(ca));
    _cleanup_free_ char *key2 = slurp(cakey);
    assert_string_equal(key1, key2);
    assert_ok(write_file_atomic(ca, cert1, strlen(cert1), 0644, &err), err);

    /* Key of another pair: mismatch error. */
    _cleanup_free_ char *client_key_data = slurp(clientkey);
    assert_ok(write_file_atomic(cakey, client_key_data, strlen(client_key_data), 0600, &err), err);
    assert_int_equal(certs_ensure_ca(f->dir, "testorg", &err), -1);
    assert_non_null(strstr(berr_msg(err), "does not belong"));
    berr_free(&err);

    /* Corrupt certificate: parse error naming the file. */
    assert_ok(write_file_atomic(cakey, key1, strlen(key1), 0600, &err), err);
    assert_ok(write_file_atomic(ca, "garbage\n", 8, 0644, &err), err);
    assert_int_equal(certs_ensure_ca(f->dir, "testorg", &err), -1);
    assert_non_null(strstr(berr_msg(err), ca));
    berr_free(&err);
    _cleanup_free_ char *key3 = slurp(cakey);
    assert_string_equal(key1, key3);
}

/* Replace DIR/ca.pem by an expired certificate with the same subject and key. */
static void write_expired_ca(const struct fixture *f)
{
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    X509 *old = read_x509(ca);
    FILE *fp = fopen(cakey, "r");
    EVP_PKEY *key;
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    assert_non_null(fp);
    key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(key);
    assert_non_null(x);
    assert_true(X509_set_version(x, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 42));
    assert_true(X509_set_subject_name(x, X509_get_subject_name(old)));
    assert_true(X509_set_issuer_name(x, X509_get_subject_name(old)));
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -7200));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), -3600));
    assert_true(X509_set_pubkey(x, key));
    memset(&ctx, 0, sizeof(ctx));
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    assert_non_null(ext);
    assert_true(X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    fp = fopen(ca, "w");
    assert_non_null(fp);
    assert_true(PEM_write_X509(fp, x));
    fclose(fp);
    X509_free(x);
    X509_free(old);
    EVP_PKEY_free(key);
}

static void test_ca_expired_is_renewed_with_same_key(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    berr_t err = NULL;
    bool ok;

    make_all(f);
    _cleanup_free_ char *key1 = slurp(cakey);
    write_expired_ca(f);
    _cleanup_free_ char *expired = slurp(ca);

    ok = true;
    assert_ok(certs_check(srv, ca, NULL, 0, &ok, &err), err);
    assert_false(ok);

    assert_ok(certs_ensure_ca(f->dir, "testorg", &err), err);
    _cleanup_free_ char *key2 = slurp(cakey);
    _cleanup_free_ char *renewed = slurp(ca);
    assert_string_equal(key1, key2);
    assert_string_not_equal(expired, renewed);
    assert_ok(certs_pair_matches(ca, cakey, &ok, &err), err);
    assert_true(ok);
    /* Certificates issued by the old CA certificate still verify. */
    ok = false;
    assert_ok(certs_check(srv, ca, "localhost", 30, &ok, &err), err);
    assert_true(ok);
    ok = false;
    assert_ok(certs_check(ca, ca, NULL, 30, &ok, &err), err);
    assert_true(ok);
}

static void test_pair_matches(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cakey = in(f, "ca-key.pem");
    _cleanup_free_ char *cert = in(f, "cert.pem");
    _cleanup_free_ char *key = in(f, "key.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    _cleanup_free_ char *srvkey = in(f, "server-key.pem");
    _cleanup_free_ char *missing = in(f, "nope.pem");
    berr_t err = NULL;
    bool ok;

    make_all(f);
    ok = false;
    assert_ok(certs_pair_matches(ca, cakey, &ok, &err), err);
    assert_true(ok);
    ok = false;
    assert_ok(certs_pair_matches(cert, key, &ok, &err), err);
    assert_true(ok);
    ok = false;
    assert_ok(certs_pair_matches(srv, srvkey, &ok, &err), err);
    assert_true(ok);
    ok = true;
    assert_ok(certs_pair_matches(cert, cakey, &ok, &err), err);
    assert_false(ok);
    ok = true;
    assert_ok(certs_pair_matches(srv, key, &ok, &err), err);
    assert_false(ok);

    /* An RSA key against an EC certificate: no match, no error. */
    assert_int_equal(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "
                         "%s/rsa.pem 2>/dev/null",
                         f->dir),
                     0);
    _cleanup_free_ char *rsa = in(f, "rsa.pem");
    ok = true;
    assert_ok(certs_pair_matches(cert, rsa, &ok, &err), err);
    assert_false(ok);

    /* I/O and parse errors are errors. */
    assert_int_equal(certs_pair_matches(missing, key, &ok, &err), -1);
    assert_non_null(strstr(berr_msg(err), "nope.pem"));
    berr_free(&err);
    assert_int_equal(certs_pair_matches(cert, cert, &ok, &err), -1);
    assert_non_null(strstr(berr_msg(err), "parse private key"));
    berr_free(&err);
    assert_int_equal(certs_pair_matches(key, key, &ok, &err), -1);
    assert_non_null(strstr(berr_msg(err), "parse certificate"));
    berr_free(&err);
}

static void test_client_eku(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *cert = in(f, "cert.pem");
    _cleanup_free_ char *cmd =
        xasprintf("openssl x509 -in %s -noout -ext extendedKeyUsage 2>/dev/null", cert);
    char cn[128];

    make_all(f);
    _cleanup_free_ char *out = capture(cmd);
    assert_non_null(strstr(out, "TLS Web Client Authentication"));
    assert_null(strstr(out, "TLS Web Server Authentication"));

    X509 *x = read_x509(cert);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_check_ca(x), 0);
    assert_non_null(X509_get0_authority_key_id(x));
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "berth-client");
    X509_free(x);
}

static void test_client_ensure(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cert = in(f, "cert.pem");
    _cleanup_free_ char *key = in(f, "key.pem");
    berr_t err = NULL;
    bool ok;

    /* No CA yet: error. */
    assert_int_equal(certs_ensure_client(f->dir, "testorg", false, &err), -1);
    assert_non_null(strstr(berr_msg(err), "ca.pem"));
    berr_free(&err);

    make_all(f);
    _cleanup_free_ char *c1 = slurp(cert);
    _cleanup_free_ char *k1 = slurp(key);

    /* Idempotent. */
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    _cleanup_free_ char *c2 = slurp(cert);
    _cleanup_free_ char *k2 = slurp(key);
    assert_string_equal(c1, c2);
    assert_string_equal(k1, k2);

    /* FORCE re-issues with a new key. */
    assert_ok(certs_ensure_client(f->dir, "testorg", true, &err), err);
    _cleanup_free_ char *c3 = slurp(cert);
    _cleanup_free_ char *k3 = slurp(key);
    assert_string_not_equal(c1, c3);
    assert_string_not_equal(k1, k3);
    assert_int_equal(file_mode(key), 0600);

    /* A missing key, a corrupt certificate or a certificate from another
     * CA are all re-issued. */
    assert_int_equal(unlink(key), 0);
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    assert_ok(certs_pair_matches(cert, key, &ok, &err), err);
    assert_true(ok);

    assert_ok(write_file_atomic(cert, "junk", 4, 0644, &err), err);
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    assert_ok(certs_check(cert, ca, NULL, 30, &ok, &err), err);
    assert_true(ok);

    _cleanup_free_ char *other = in(f, "other");
    _cleanup_free_ char *other_cert = in(f, "other/cert.pem");
    _cleanup_free_ char *other_key = in(f, "other/key.pem");
    assert_ok(certs_ensure_ca(other, "x", &err), err);
    assert_ok(certs_ensure_client(other, "x", false, &err), err);
    assert_ok(copy_file_atomic(other_cert, cert, 0644, &err), err);
    assert_ok(copy_file_atomic(other_key, key, 0600, &err), err);
    ok = true;
    assert_ok(certs_check(cert, ca, NULL, 0, &ok, &err), err);
    assert_false(ok);
    assert_ok(certs_ensure_client(f->dir, "testorg", false, &err), err);
    ok = false;
    assert_ok(certs_check(cert, ca, NULL, 30, &ok, &err), err);
    assert_true(ok);
    assert_ok(certs_pair_matches(cert, key, &ok, &err), err);
    assert_true(ok);
}

static void test_check(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *ca = in(f, "ca.pem");
    _cleanup_free_ char *cert = in(f, "cert.pem");
    _cleanup_free_ char *srv = in(f, "server.pem");
    _cleanup_free_ char *missing = in(f, "missing.pem");
    _cleanup_free_ char *junk = in(f, "junk.pem");
    _cleanup_free_ char *other = in(f, "other");
    _cleanup_free_ char *other_ca = in(f, "other/ca.pem");
    berr_t err = NULL;
    bool ok;

    make_all(f);
    ok = false;
    assert_ok(certs_check(cert, ca, NULL, 0, &ok, &err), err);
    assert_true(ok);
    ok = false;
    assert_ok(certs_check(srv, ca, NULL, BERTH_CERT_DAYS - 2, &ok, &err), err);
    assert_true(ok);
    /* Expiring within MIN_DAYS. */
    ok = true;
    assert_ok(certs_check(srv, ca, NULL, BERTH_CERT_DAYS + 1, &ok, &err), err);
    assert_false(ok);
    /* Signed by another CA. */
    assert_ok(certs_ensure_ca(other, "testorg", &err), err);
    ok = true;
    assert_ok(certs_check(srv, other_ca, "localhost", 0, &ok, &err), err);
    assert_false(ok);
    /* The client certificate has no SANs: no host matches. */
    ok = true;
    assert_ok(certs_check(cert, ca, "localhost", 0, &ok, &err), err);
    assert_false(ok);
    /* Only SANs count, never the subject CN. */
    ok = true;
    assert_ok(certs_check(cert, ca, "berth-client", 0, &ok, &err), err);
    assert_false(ok);
    /* A CA file holding several certificates. */
    _cleanup_free_ char *ca_data = slurp(ca);
    _cleanup_free_ char *other_data = slurp(other_ca);
    _cleanup_free_ char *bundle_data = xasprintf("%s%s", other_data, ca_data);
    _cleanup_free_ char *bundle = in(f, "bundle.pem");
    assert_ok(write_file_atomic(bundle, bundle_data, strlen(bundle_data), 0644, &err), err);
    ok = false;
    assert_ok(certs_check(srv, bundle, "10.1.2.3", 0, &ok, &err), err);
    assert_true(ok);

    /* I/O and parse errors. */
    assert_int_equal(certs_check(missing, ca, NULL, 0, &ok, &err), -1);
    assert_non_null(strstr(berr_msg(err), "missing.pem"));
    assert_int_equal(err->errnum, ENOENT);
    berr_free(&err);
    assert_int_equal(certs_check(cert, missing, NULL, 0, &ok, &err), -1);
    berr_free(&err);
    assert_ok(write_file_atomic(junk, "not a certificate\n", 18, 0644, &err), err);
    assert_int_equal(certs_check(junk, ca, NULL, 0, &ok, &err), -1);
    assert_non_null(strstr(berr_msg(err), "parse certificate"));
    assert_non_null(strstr(berr_msg(err), "junk.pem"));
    berr_free(&err);
}

struct worker {
    char dir[128];
    int result;
    char msg[256];
};

static void *issue_worker(void *arg)
{
    struct worker *w = arg;
    _cleanup_free_ char *ca = path_join(w->dir, "ca.pem");
    _cleanup_free_ char *cakey = path_join(w->dir, "ca-key.pem");
    _cleanup_free_ char *srv = path_join(w->dir, "server.pem");
    _cleanup_free_ char *srvkey = path_join(w->dir, "server-key.pem");
    static const char *const sans[] = {"192.0.2.1", "worker.test"};
    berr_t err = NULL;
    bool ok = false;

    w->result = -1;
    for (int i = 0; i < 3; i++) {
        if (certs_ensure_ca(w->dir, "w", &err) < 0 ||
            certs_ensure_client(w->dir, "w", true, &err) < 0 ||
            certs_issue_server(ca, cakey, "w", sans, 2, srv, srvkey, &err) < 0 ||
            certs_check(srv, ca, "worker.test", 30, &ok, &err) < 0) {
            snprintf(w->msg, sizeof(w->msg), "%s", berr_msg(err));
            berr_free(&err);
            return NULL;
        }
        if (!ok) {
            snprintf(w->msg, sizeof(w->msg), "check failed");
            return NULL;
        }
    }
    w->result = 0;
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *f = *state;
    struct worker w[4];
    pthread_t th[4];

    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        snprintf(w[i].dir, sizeof(w[i].dir), "%s/w%d", f->dir, i);
        assert_int_equal(pthread_create(&th[i], NULL, issue_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].result != 0)
            fail_msg("worker %d: %s", i, w[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate_and_openssl_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_extensions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_sans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_bad_sans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_creates_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_incomplete_or_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ca_expired_is_renewed_with_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pair_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_eku, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ensure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
