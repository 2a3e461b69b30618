#include "runtime-agent/http/listen.h"

#include <errno.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "berth/util.h"

static int parse_tcp(const char *hostport, bool tls, struct listen_addr *a, berr_t *err)
{
    const char *colon;

    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return berr_set(err, 0, "listen address tcp://%s: bad IPv6 address", hostport);
        a->host = xasprintf("%.*s", (int)(close - hostport - 1), hostport + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(hostport, ':');
        a->host =
            xasprintf("%.*s", colon ? (int)(colon - hostport) : (int)strlen(hostport), hostport);
    }
    if (colon == NULL || colon[1] == '\0') {
        a->port = xstrdup(tls ? "2376" : "2375");
        return 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return berr_set(err, 0, "listen address tcp://%s: invalid port", hostport);
    a->port = xstrdup(colon + 1);
    return 0;
}

int listen_parse(const char *spec, bool tls, struct listen_addr *a, berr_t *err)
{
    memset(a, 0, sizeof(*a));
    if (strncmp(spec, "unix://", 7) == 0) {
        a->kind = LISTEN_UNIX;
        a->path = xstrdup(spec[7] ? spec + 7 : LISTEN_DEFAULT_UNIX);
        if (a->path[0] != '/') {
            listen_addr_free(a);
            return berr_set(err, 0, "listen address %s: socket path must be absolute", spec);
        }
        return 0;
    }
    if (strncmp(spec, "tcp://", 6) == 0) {
        a->kind = LISTEN_TCP;
        if (parse_tcp(spec + 6, tls, a, err) < 0) {
            listen_addr_free(a);
            return -1;
        }
        return 0;
    }
    return berr_set(
        err, 0, "listen address %s: unsupported scheme (use unix://PATH or tcp://HOST:PORT)", spec);
}

void listen_addr_free(struct listen_addr *a)
{
    free(a->path);
    free(a->host);
    free(a->port);
    memset(a, 0, sizeof(*a));
}

/* Remove PATH when it is a socket nobody answers on; refuse to touch anything else. */
static int clear_stale_socket(const char *path, const struct sockaddr_un *sun, berr_t *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : berr_set(err, errno, "socket %s: stat", path);
    if (!S_ISSOCK(st.st_mode))
        return berr_set(err, 0, "socket %s: exists and is not a socket", path);
    _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return berr_set(err, errno, "socket %s: probe", path);
    if (connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
        return berr_set(err, 0, "socket %s: another daemon is listening on it; stop it first",
                        path);
    if (unlink(path) < 0 && errno != ENOENT)
        return berr_set(err, errno, "socket %s: remove stale socket", path);
    return 0;
}

static int open_unix(const char *path, berr_t *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    _cleanup_free_ char *dir = xstrdup(path);

    if (strlen(path) >= sizeof(sun.sun_path))
        return berr_set(err, ENAMETOOLONG, "socket %s", path);
    strcpy(sun.sun_path, path);
    if (mkdir_p(dirname(dir), 0755, err) < 0 || clear_stale_socket(path, &sun, err) < 0)
        return -1;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berr_set(err, errno, "socket %s: create", path);
    /* The umask keeps the socket from being world-usable between bind and chmod;
     * listeners are opened before any thread starts, so changing it is safe. */
    mode_t old = umask(0117);
    int r = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (r < 0)
        return berr_set(err, errno, "socket %s: bind", path);
    if (chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
        berr_set(err, errno, "socket %s: listen", path);
        unlink(path);
        return -1;
    }
    int ret = fd;
    fd = -1; /* ownership moves to the caller */
    return ret;
}

static int open_tcp(const struct listen_addr *a, berr_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int one = 1, rc, saved = 0;

    rc = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, &res);
    if (rc != 0)
        return berr_set(err, 0, "listen on tcp://%s:%s: %s", a->host, a->port, gai_strerror(rc));
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return berr_set(err, saved, "listen on tcp://%s:%s", a->host, a->port);
}

int listen_open(const struct listen_addr *a, berr_t *err)
{
    return a->kind == LISTEN_UNIX ? open_unix(a->path, err) : open_tcp(a, err);
}
