/* Unit tests for core/lib/engine.c: the mutual-TLS GET against a small TLS server in a thread
 * (OpenSSL, client certificates required, as berthd does), with the TLS material that engine.c
 * parses itself: trust only in the directory's CA, files read again on every call, parsed
 * objects shared between threads and directories holding the same bytes, and errors that name
 * the file at fault. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "certs/certs.h"
#include "core/lib/engine.h"

#define ANSWER "{\"Version\":\"1.2.3\",\"ApiVersion\":\"1.43\"}"

struct fixture {
    char dir[64];
    char *ca_dir;    /* CA, client certificate and key: what a store's certs/ holds */
    char *other_dir; /* the same made by another CA */
    SSL_CTX *ctx;
    int lfd;
    char url[64];
    atomic_bool stop;
    atomic_int served; /* requests answered */
    pthread_t thread;
};

static char *in(const struct fixture *f, const char *name)
{
    return path_join(f->dir, name);
}

static void copy_into(const char *from_dir, const char *to_dir, const char *name)
{
    _cleanup_free_ char *from = path_join(from_dir, name);
    _cleanup_free_ char *to = path_join(to_dir, name);
    berr_t err = NULL;

    assert_ok(copy_file_atomic(from, to, 0600, &err), err);
}

/* A machine directory with copies of DIR's ca.pem, cert.pem and key.pem. */
static char *machine_dir(const struct fixture *f, const char *name, const char *src)
{
    char *dir = in(f, name);
    berr_t err = NULL;

    assert_ok(mkdir_p(dir, 0700, &err), err);
    copy_into(src, dir, "ca.pem");
    copy_into(src, dir, "cert.pem");
    copy_into(src, dir, "key.pem");
    return dir;
}

/* Answer one connection: handshake (client certificate required), read the request head,
 * send ANSWER. A failed handshake just closes. */
static void serve(struct fixture *f, int fd)
{
    SSL *ssl = SSL_new(f->ctx);
    char buf[4096];
    size_t have = 0;

    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        while (have < sizeof(buf) - 1) {
            int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));
            if (n <= 0)
                break;
            have += (size_t)n;
            buf[have] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        if (strncmp(buf, "GET /version ", 13) == 0) {
            char resp[256];
            int len = snprintf(resp, sizeof(resp),
                               "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                               strlen(ANSWER), ANSWER);
            SSL_write(ssl, resp, len);
            atomic_fetch_add(&f->served, 1);
        }
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
    close(fd);
}

static void *server_main(void *arg)
{
    struct fixture *f = arg;

    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd >= 0)
            serve(f, fd);
    }
    OPENSSL_thread_stop();
    return NULL;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    berr_t err = NULL;
    const char *sans[] = {"127.0.0.1"};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    strcpy(f->dir, "/tmp/berth-test-engine-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->ca_dir = in(f, "certs");
    f->other_dir = in(f, "other");
    _cleanup_free_ char *server = in(f, "server.pem");
    _cleanup_free_ char *server_key = in(f, "server-key.pem");
    _cleanup_free_ char *ca = path_join(f->ca_dir, "ca.pem");
    _cleanup_free_ char *ca_key = path_join(f->ca_dir, "ca-key.pem");
    if (mkdir_p(f->ca_dir, 0700, &err) < 0 || mkdir_p(f->other_dir, 0700, &err) < 0 ||
        certs_ensure_ca(f->ca_dir, "test", &err) < 0 ||
        certs_ensure_client(f->ca_dir, "test", false, &err) < 0 ||
        certs_ensure_ca(f->other_dir, "other", &err) < 0 ||
        certs_ensure_client(f->other_dir, "other", false, &err) < 0 ||
        certs_issue_server(ca, ca_key, "test", sans, 1, server, server_key, &err) < 0) {
        fprintf(stderr, "setup: %s\n", berr_msg(err));
        berr_free(&err);
        return -1;
    }
    /* The server as berthd makes it: TLS 1.2 at least, a client certificate of the CA. */
    f->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(f->ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(f->ctx, server) != 1 ||
        SSL_CTX_use_PrivateKey_file(f->ctx, server_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(f->ctx, ca, NULL) != 1)
        return -1;
    SSL_CTX_set_verify(f->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(f->lfd, 64) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &alen) < 0)
        return -1;
    snprintf(f->url, sizeof(f->url), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    if (pthread_create(&f->thread, NULL, server_main, f) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berr_t err = NULL;

    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    SSL_CTX_free(f->ctx);
    int r = rm_rf(f->dir, &err);
    berr_free(&err);
    free(f->ca_dir);
    free(f->other_dir);
    free(f);
    return r;
}

static void test_version(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *m = machine_dir(f, "m1", f->ca_dir);
    char *version = NULL;
    json_t *root = NULL;
    berr_t err = NULL;

    assert_ok(engine_version(f->url, m, 5000, &version, &err), err);
    assert_string_equal(version, "v1.2.3");
    free(version);
    assert_ok(engine_get(f->url, "/version", m, 5000, &root, &err), err);
    assert_string_equal(json_string_value(json_object_get(root, "ApiVersion")), "1.43");
    json_decref(root);
    /* No cached answer: every call is a request the server saw. */
    int before = atomic_load(&f->served);
    for (int i = 0; i < 3; i++) {
        assert_ok(engine_version(f->url, m, 5000, &version, &err), err);
        free(version);
    }
    assert_int_equal(atomic_load(&f->served), before + 3);
}

struct worker {
    const char *url;
    char *dir;
    int ok;
    char *msg;
};

static void *ask(void *arg)
{
    struct worker *w = arg;
    char *version = NULL;
    berr_t err = NULL;

    w->ok = engine_version(w->url, w->dir, 10000, &version, &err) == 0 && version &&
            strcmp(version, "v1.2.3") == 0;
    if (err)
        w->msg = xstrdup(berr_msg(err));
    berr_free(&err);
    free(version);
    OPENSSL_thread_stop();
    return NULL;
}

/* As `berth ls` asks: many threads at once, each with its own copy of the same files. */
static void test_parallel_copies(void **state)
{
    struct fixture *f = *state;
    enum { N = 12 };
    struct worker w[N];
    pthread_t t[N];

    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        w[i] = (struct worker){f->url, machine_dir(f, name, f->ca_dir), 0, NULL};
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, ask, &w[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (!w[i].ok)
            fail_msg("worker %d: %s", i, w[i].msg ? w[i].msg : "wrong version");
        free(w[i].dir);
    }
}

/* A server whose certificate another CA signed is not trusted, whatever else the system
 * trusts; and a server refuses a client certificate of another CA. */
static void test_trust_only_the_ca(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *m = machine_dir(f, "o1", f->other_dir);
    _cleanup_free_ char *mixed = machine_dir(f, "o2", f->ca_dir);
    char *version = NULL;
    berr_t err = NULL;

    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_null(version);
    assert_msg_has(err, f->url);
    assert_msg_has(err, "certificate");
    berr_free(&err);

    /* Our CA, the other CA's client certificate: the server says no. */
    copy_into(f->other_dir, mixed, "cert.pem");
    copy_into(f->other_dir, mixed, "key.pem");
    assert_true(engine_version(f->url, mixed, 5000, &version, &err) < 0);
    assert_null(version);
    assert_msg_has(err, f->url);
    berr_free(&err);
}

/* The files are read on every call: a directory whose certificates change is seen at once. */
static void test_files_read_each_time(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *m = machine_dir(f, "c1", f->ca_dir);
    char *version = NULL;
    berr_t err = NULL;

    assert_ok(engine_version(f->url, m, 5000, &version, &err), err);
    free(version);
    version = NULL;
    copy_into(f->other_dir, m, "ca.pem");
    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_msg_has(err, "certificate");
    berr_free(&err);
    copy_into(f->ca_dir, m, "ca.pem");
    assert_ok(engine_version(f->url, m, 5000, &version, &err), err);
    free(version);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = path_join(dir, name);
    berr_t err = NULL;

    assert_ok(write_file_atomic(path, text, strlen(text), 0600, &err), err);
}

static void test_bad_files(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *m = machine_dir(f, "b1", f->ca_dir);
    _cleanup_free_ char *key = path_join(m, "key.pem");
    _cleanup_free_ char *ca = path_join(m, "ca.pem");
    _cleanup_free_ char *cert = path_join(m, "cert.pem");
    char *version = NULL;
    berr_t err = NULL;

    unlink(key);
    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_msg_has(err, f->url);
    assert_msg_has(err, key);
    berr_free(&err);

    /* A key of another certificate. */
    copy_into(f->other_dir, m, "key.pem");
    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_msg_has(err, key);
    assert_msg_has(err, "does not match");
    berr_free(&err);

    copy_into(f->ca_dir, m, "key.pem");
    write_text(m, "ca.pem", "not a certificate\n");
    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_msg_has(err, ca);
    berr_free(&err);

    copy_into(f->ca_dir, m, "ca.pem");
    write_text(m, "cert.pem", "");
    assert_true(engine_version(f->url, m, 5000, &version, &err) < 0);
    assert_msg_has(err, cert);
    berr_free(&err);
    assert_null(version);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),           cmocka_unit_test(test_parallel_copies),
        cmocka_unit_test(test_trust_only_the_ca), cmocka_unit_test(test_files_read_each_time),
        cmocka_unit_test(test_bad_files),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int r = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return r;
}
