/* SSH connections: a TCP connect bounded by poll, the libssh2 handshake, the host key
 * checked against the one recorded for the machine, and public-key authentication. */
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/ssh_internal.h"

/* Bound for blocking libssh2 calls once connected: no progress for this long is an error. */
#define SSH_IO_TIMEOUT_MS 60000

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
}

const char *ssh_label(const struct ssh_conn *c)
{
    return c->label;
}

const char *ssh_used_key(const struct ssh_conn *c)
{
    return c->key;
}

int ssh_lib_error(struct ssh_conn *c, const char *what, berr_t *err)
{
    char *msg = NULL;
    int code = libssh2_session_last_error(c->s, &msg, NULL, 0);
    if (code == LIBSSH2_ERROR_TIMEOUT)
        return berr_set(err, 0, "%s: %s: no answer within %lds", c->label, what,
                        (long)libssh2_session_get_timeout(c->s) / 1000);
    return berr_set(err, 0, "%s: %s: %s", c->label, what, msg && *msg ? msg : "libssh2 error");
}

/* Wait until the non-blocking connect on FD completes or TIMEOUT_MS passes. */
static int finish_connect(int fd, const char *label, long timeout_ms, berr_t *err)
{
    struct pollfd p = {fd, POLLOUT, 0};
    long long deadline = now_ms() + timeout_ms;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    for (;;) {
        long left = (long)(deadline - now_ms());
        int n = poll(&p, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "%s: connect: poll", label);
        if (n == 0) {
            berr_set(err, 0, "%s: connect: timed out after %lds", label, (timeout_ms + 999) / 1000);
            if (err && *err)
                (*err)->errnum = ETIMEDOUT; /* ssh_wait: no "retried" note after a timeout */
            return -1;
        }
        break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr != 0)
        return berr_set(err, soerr, "%s: connect", label);
    return 0;
}

static int tcp_connect(const char *host, int port, const char *label, long timeout_ms, berr_t *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char service[16];
    int fd = -1;

    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return berr_set(err, 0, "%s: resolve %s: %s", label, host, gai_strerror(rc));
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        berr_free(err);
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            berr_set(err, errno, "%s: socket", label);
            continue;
        }
        if ((connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) &&
            finish_connect(fd, label, timeout_ms, err) == 0)
            break;
        if (err && !*err)
            berr_set(err, errno, "%s: connect", label);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) /* libssh2 in blocking mode expects a blocking socket */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* Put the recorded key type first in the host key preference, so a host with
 * several keys presents the one we know. */
static void prefer_hostkey_type(LIBSSH2_SESSION *s, const char *type)
{
    const char **algs = NULL;
    int n = libssh2_session_supported_algs(s, LIBSSH2_METHOD_HOSTKEY, &algs);
    if (n <= 0)
        return;
    _cleanup_free_ char *pref = xstrdup(type);
    for (int i = 0; i < n; i++) {
        if (strcmp(algs[i], type) == 0)
            continue;
        char *next = xasprintf("%s,%s", pref, algs[i]);
        free(pref);
        pref = next;
    }
    libssh2_free(s, algs);
    libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, pref);
}

/* The recorded key: *type and *b64 from "TYPE BASE64"; both NULL when nothing is recorded. */
static int read_known_host(const char *path, char **type, char **b64, berr_t *err)
{
    _cleanup_free_ char *text = NULL;

    *type = *b64 = NULL;
    if (!file_exists(path))
        return 0;
    if (read_file(path, &text, NULL, err) < 0)
        return -1;
    char *sp = strchr(text, ' ');
    if (sp == NULL)
        return berr_set(err, 0, "%s: expected \"TYPE BASE64\"", path);
    *sp = '\0';
    sp[1 + strcspn(sp + 1, " \r\n")] = '\0';
    *type = xstrdup(text);
    *b64 = xstrdup(sp + 1);
    return 0;
}

static char *fingerprint_b64(const char *b64)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    if (ssh_unbase64(b64, &blob, &len) < 0)
        return xstrdup("(unreadable)");
    char *fp = ssh_fingerprint(blob, len);
    free(blob);
    return fp;
}

static int record_host_key(const char *path, const char *type, const char *b64, berr_t *err)
{
    _cleanup_free_ char *line = xasprintf("%s %s\n", type, b64);
    return write_file_atomic(path, line, strlen(line), 0600, err);
}

static int host_key_changed(struct ssh_conn *c, const struct ssh_target *t, const char *old_type,
                            const char *old_b64, const char *new_type, const char *new_b64,
                            berr_t *err)
{
    _cleanup_free_ char *old_fp = fingerprint_b64(old_b64);
    _cleanup_free_ char *new_fp = fingerprint_b64(new_b64);
    const char *m = t->machine ? t->machine : "NAME";

    berr_set(err, 0,
             "%s: host key changed: recorded %s %s (in %s), the host now presents %s %s. "
             "Someone may be intercepting the connection, or the host was reinstalled or "
             "got new keys. If you know why it changed, accept the new key with 'berth "
             "provision --accept-host-key %s' (also re-installs berthd) or 'berth ssh "
             "--accept-host-key %s true'",
             c->label, old_type, old_fp, t->known_host, new_type, new_fp, m, m);
    return SSH_EFATAL;
}

static int check_host_key(struct ssh_conn *c, const struct ssh_target *t, const char *old_type,
                          const char *old_b64, berr_t *err)
{
    size_t len = 0;
    int kind = 0;
    const char *key = libssh2_session_hostkey(c->s, &len, &kind);

    if (key == NULL)
        return berr_set(err, 0, "%s: the host presented no host key", c->label), SSH_EFATAL;
    _cleanup_free_ char *type = ssh_blob_type((const unsigned char *)key, len);
    _cleanup_free_ char *b64 = ssh_base64((const unsigned char *)key, len);
    if (type == NULL)
        return berr_set(err, 0, "%s: malformed host key", c->label), SSH_EFATAL;
    if (old_b64 != NULL && t->policy == SSH_HOSTKEY_VERIFY) {
        if (strcmp(old_type, type) == 0 && strcmp(old_b64, b64) == 0)
            return 0;
        return host_key_changed(c, t, old_type, old_b64, type, b64, err);
    }
    if (old_b64 != NULL && strcmp(old_b64, b64) == 0)
        return 0;
    if (record_host_key(t->known_host, type, b64, err) < 0)
        return berr_prefix(err, "%s: record host key", c->label), SSH_EFATAL;
    if (old_b64 != NULL) {
        _cleanup_free_ char *fp = ssh_fingerprint((const unsigned char *)key, len);
        fprintf(stderr, "Accepted the new host key of %s: %s %s\n", t->host, type, fp);
    }
    return 0;
}

static int authenticate(struct ssh_conn *c, const struct ssh_target *t, const char *user,
                        berr_t *err)
{
    _cleanup_free_ char *tried = xstrdup("");
    char *msg = NULL;

    for (int i = 0; i < 4 && t->keys[i] != NULL; i++) {
        if (!file_exists(t->keys[i]))
            continue;
        if (libssh2_userauth_publickey_fromfile_ex(c->s, user, (unsigned)strlen(user), NULL,
                                                   t->keys[i], NULL) == 0) {
            c->key = xstrdup(t->keys[i]);
            return 0;
        }
        libssh2_session_last_error(c->s, &msg, NULL, 0);
        char *next = xasprintf("%s%s%s (%s)", tried, *tried ? ", " : "", t->keys[i],
                               msg && *msg ? msg : "refused");
        free(tried);
        tried = next;
    }
    if (*tried == '\0')
        return berr_set(err, 0, "%s: authenticate as %s: no private key to offer", c->label, user),
               SSH_EFATAL;
    return berr_set(err, 0, "%s: authenticate as %s: the host refused every key: %s", c->label,
                    user, tried),
           SSH_EFATAL;
}

static int session_start(struct ssh_conn *c, const struct ssh_target *t, long timeout_ms,
                         berr_t *err)
{
    _cleanup_free_ char *old_type = NULL;
    _cleanup_free_ char *old_b64 = NULL;
    const char *user = t->user && *t->user ? t->user : "root";
    int rc;

    if (read_known_host(t->known_host, &old_type, &old_b64, err) < 0)
        return SSH_EFATAL;
    c->s = libssh2_session_init();
    if (c->s == NULL)
        return berr_set(err, ENOMEM, "%s: start session", c->label);
    libssh2_session_set_blocking(c->s, 1);
    libssh2_session_set_timeout(c->s, timeout_ms);
    if (old_type != NULL)
        prefer_hostkey_type(c->s, old_type);
    if (libssh2_session_handshake(c->s, c->fd) != 0)
        return ssh_lib_error(c, "handshake", err);
    rc = check_host_key(c, t, old_type, old_b64, err);
    if (rc < 0)
        return rc;
    rc = authenticate(c, t, user, err);
    if (rc < 0)
        return rc;
    libssh2_session_set_timeout(c->s, SSH_IO_TIMEOUT_MS);
    libssh2_keepalive_config(c->s, 0, 30);
    return 0;
}

int ssh_connect(const struct ssh_target *t, long timeout_ms, struct ssh_conn **out, berr_t *err)
{
    struct ssh_conn *c;
    int port = t->port > 0 ? t->port : 22;
    long long start = now_ms();
    int rc;

    pthread_once(&init_once, init_libssh2);
    if (init_rc != 0)
        return berr_set(err, 0, "ssh: cannot initialise libssh2"), SSH_EFATAL;
    c = xcalloc(1, sizeof(*c));
    c->label = strchr(t->host, ':') ? xasprintf("ssh [%s]:%d", t->host, port)
                                    : xasprintf("ssh %s:%d", t->host, port);
    c->fd = tcp_connect(t->host, port, c->label, timeout_ms, err);
    if (c->fd < 0) {
        ssh_close(c);
        return -1;
    }
    long left = timeout_ms - (long)(now_ms() - start);
    rc = session_start(c, t, left > 1000 ? left : 1000, err);
    if (rc < 0) {
        ssh_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ssh_close(struct ssh_conn *c)
{
    if (c == NULL)
        return;
    if (c->sftp != NULL)
        libssh2_sftp_shutdown(c->sftp);
    if (c->s != NULL) {
        libssh2_session_set_blocking(c->s, 1);
        libssh2_session_set_timeout(c->s, 2000);
        libssh2_session_disconnect(c->s, "berth: done");
        libssh2_session_free(c->s);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->label);
    free(c->key);
    free(c);
}

int ssh_wait(const struct ssh_target *t, long timeout_ms, struct ssh_conn **out, berr_t *err)
{
    long long start = now_ms(), deadline = start + timeout_ms, next_note = start + 5000;
    int rc;

    for (int attempt = 1;; attempt++) {
        long left = (long)(deadline - now_ms());
        berr_free(err);
        rc = ssh_connect(t, left > 1000 ? left : 1000, out, err);
        if (rc == 0 || rc == SSH_EFATAL)
            return rc;
        if (now_ms() + 1000 >= deadline) {
            if (err && *err && (*err)->errnum != ETIMEDOUT)
                berr_append(err, " (retried for %lds)", (long)(now_ms() - start + 500) / 1000);
            return -1;
        }
        if (now_ms() >= next_note) {
            fprintf(stderr, "Still waiting for SSH on %s:%d (%llds, attempt %d: %s)\n", t->host,
                    t->port > 0 ? t->port : 22, (now_ms() - start) / 1000, attempt,
                    berr_msg(err ? *err : NULL));
            next_note = now_ms() + 10000;
        }
        usleep(500 * 1000); /* between attempts: the host is still booting */
    }
}
