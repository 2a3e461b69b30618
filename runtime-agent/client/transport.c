#include "runtime-agent/client/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "berth/util.h"

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Split "tcp://HOST[:PORT]" (HOST may be [v6]) into addr and port. */
static int parse_tcp(struct cli_endpoint *ep, const char *rest, berr_t *err)
{
    const char *port = NULL;
    size_t hlen;

    if (rest[0] == '[') {
        const char *end = strchr(rest, ']');
        if (end == NULL)
            return berr_set(err, EINVAL, "host %s: unterminated [", ep->url);
        ep->addr = strndup(rest + 1, (size_t)(end - rest - 1));
        if (end[1] == ':')
            port = end + 2;
    } else {
        const char *colon = strrchr(rest, ':');
        hlen = colon ? (size_t)(colon - rest) : strlen(rest);
        ep->addr = strndup(rest, hlen);
        if (colon)
            port = colon + 1;
    }
    if (ep->addr == NULL)
        abort();
    size_t plen = port ? strcspn(port, "/") : 0;
    if (ep->addr[0] == '\0') {
        free(ep->addr);
        ep->addr = xstrdup("127.0.0.1");
    }
    ep->port = plen ? strndup(port, plen) : xstrdup(ep->tls ? "2376" : "2375");
    if (ep->port == NULL)
        abort();
    return 0;
}

int cli_endpoint_init(struct cli_endpoint *ep, const struct cli_tls_flags *f, berr_t *err)
{
    const char *host = f->host ? f->host : env_nonempty("DOCKER_HOST");
    const char *certdir = env_nonempty("DOCKER_CERT_PATH");
    _cleanup_free_ char *home_certs = NULL;

    *ep = (struct cli_endpoint){0};
    ep->url = xstrdup(host ? host : CLI_DEFAULT_HOST);
    ep->verify = f->tlsverify || env_nonempty("DOCKER_TLS_VERIFY") != NULL;
    ep->tls = ep->verify || f->tls || env_nonempty("DOCKER_TLS") != NULL;
    if (certdir == NULL) {
        const char *home = getenv("HOME");
        home_certs = path_join(home ? home : "/root", ".docker");
        certdir = home_certs;
    }
    ep->ca = f->cacert ? xstrdup(f->cacert) : path_join(certdir, "ca.pem");
    ep->cert = f->cert ? xstrdup(f->cert) : path_join(certdir, "cert.pem");
    ep->key = f->key ? xstrdup(f->key) : path_join(certdir, "key.pem");

    if (strncmp(ep->url, "unix://", 7) == 0) {
        ep->path = xstrdup(ep->url + 7);
        if (ep->path[0] == '\0')
            return berr_set(err, EINVAL, "host %s: no socket path", ep->url);
        return 0;
    }
    if (strncmp(ep->url, "tcp://", 6) == 0)
        return parse_tcp(ep, ep->url + 6, err);
    if (strncmp(ep->url, "http://", 7) == 0)
        return parse_tcp(ep, ep->url + 7, err);
    if (strncmp(ep->url, "https://", 8) == 0) {
        ep->tls = true;
        return parse_tcp(ep, ep->url + 8, err);
    }
    return berr_set(err, EINVAL, "unsupported protocol scheme in host %s (unix:// or tcp://)",
                    ep->url);
}

void cli_endpoint_free(struct cli_endpoint *ep)
{
    free(ep->url);
    free(ep->path);
    free(ep->addr);
    free(ep->port);
    free(ep->ca);
    free(ep->cert);
    free(ep->key);
    SSL_CTX_free(ep->ctx);
    *ep = (struct cli_endpoint){0};
}

static int cannot_connect(struct cli_endpoint *ep, int errnum, berr_t *err)
{
    berr_set(err, 0, "Cannot connect to the Docker daemon at %s. Is the docker daemon running?",
             ep->url);
    (*err)->errnum = errnum;
    return -1;
}

static int ssl_fail(berr_t *err, const char *what, const char *obj)
{
    char reason[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    return berr_set(err, 0, "TLS: %s %s: %s", what, obj, reason);
}

/* The client context: TLS 1.2+, our certificate when there is one (required when
 * verifying, as the daemon asks for it), the CA to verify the server against. */
static int make_ctx(struct cli_endpoint *ep, berr_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return ssl_fail(err, "create", "context");
    ep->ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    if (ep->verify || (file_exists(ep->cert) && file_exists(ep->key))) {
        if (SSL_CTX_use_certificate_chain_file(ctx, ep->cert) != 1)
            return ssl_fail(err, "load certificate", ep->cert);
        if (SSL_CTX_use_PrivateKey_file(ctx, ep->key, SSL_FILETYPE_PEM) != 1)
            return ssl_fail(err, "load key", ep->key);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return ssl_fail(err, "match key to certificate", ep->cert);
    }
    if (ep->verify) {
        if (SSL_CTX_load_verify_locations(ctx, ep->ca, NULL) != 1)
            return ssl_fail(err, "load CA", ep->ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return 0;
}

static int connect_unix(struct cli_endpoint *ep, berr_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(ep->path) >= sizeof(sa.sun_path))
        return berr_set(err, ENAMETOOLONG, "socket %s", ep->path);
    strcpy(sa.sun_path, ep->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berr_set(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return cannot_connect(ep, e, err);
    }
    return fd;
}

static int connect_tcp(struct cli_endpoint *ep, berr_t *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int rc = getaddrinfo(ep->addr, ep->port, &hints, &res), fd = -1, e = 0;

    if (rc != 0)
        return berr_set(err, 0, "%s: resolve %s: %s", ep->url, ep->addr, gai_strerror(rc));
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return cannot_connect(ep, e, err);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static bool is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int handshake(struct cli_endpoint *ep, struct cli_conn *c, berr_t *err)
{
    if (ep->ctx == NULL && make_ctx(ep, err) < 0)
        return -1;
    c->ssl = SSL_new(ep->ctx);
    if (c->ssl == NULL)
        return ssl_fail(err, "create", "session");
    if (ep->verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_ip(ep->addr) ? X509_VERIFY_PARAM_set1_ip_asc(param, ep->addr) != 1
                            : X509_VERIFY_PARAM_set1_host(param, ep->addr, 0) != 1)
            return ssl_fail(err, "set expected host", ep->addr);
    }
    if (!is_ip(ep->addr))
        SSL_set_tlsext_host_name(c->ssl, ep->addr);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        if (ep->verify && v != X509_V_OK) {
            ERR_clear_error();
            return berr_set(err, 0,
                            "error during connect: %s: tls: failed to verify certificate: %s",
                            ep->url, X509_verify_cert_error_string(v));
        }
        ssl_fail(err, "handshake with", ep->url);
        return berr_prefix(err, "error during connect");
    }
    return 0;
}

int cli_conn_open(struct cli_endpoint *ep, struct cli_conn *c, berr_t *err)
{
    *c = (struct cli_conn){.fd = -1};
    c->fd = ep->path ? connect_unix(ep, err) : connect_tcp(ep, err);
    if (c->fd < 0)
        return -1;
    if (ep->path == NULL && ep->tls && handshake(ep, c, err) < 0) {
        cli_conn_close(c);
        return -1;
    }
    return 0;
}

ssize_t cli_conn_read(struct cli_conn *c, void *buf, size_t n, berr_t *err)
{
    if (c->ssl == NULL) {
        for (;;) {
            ssize_t r = read(c->fd, buf, n);
            if (r >= 0)
                return r;
            if (errno != EINTR)
                return berr_set(err, errno, "read from the daemon");
        }
    }
    for (;;) {
        int r = SSL_read(c->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (e == SSL_ERROR_SYSCALL && errno == EINTR)
            continue;
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            return errno ? berr_set(err, errno, "read from the daemon") : 0;
        return ssl_fail(err, "read from", "the daemon");
    }
}

int cli_conn_write_all(struct cli_conn *c, const void *buf, size_t n, berr_t *err)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w;
        if (c->ssl == NULL) {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return berr_set(err, errno, "write to the daemon");
            }
        } else {
            w = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
            if (w <= 0) {
                if (SSL_get_error(c->ssl, (int)w) == SSL_ERROR_SYSCALL && errno == EINTR)
                    continue;
                return ssl_fail(err, "write to", "the daemon");
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

bool cli_conn_pending(struct cli_conn *c)
{
    return c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

int cli_conn_close_write(struct cli_conn *c, berr_t *err)
{
    if (c->ssl != NULL) {
        /* close_notify; reading goes on until the daemon ends its side. */
        if (SSL_shutdown(c->ssl) < 0)
            return ssl_fail(err, "close", "write side");
        return 0;
    }
    if (shutdown(c->fd, SHUT_WR) < 0)
        return berr_set(err, errno, "close the write side of the connection");
    return 0;
}

void cli_conn_close(struct cli_conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    *c = (struct cli_conn){.fd = -1};
}
