#include "runtime-agent/runtime/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "berth/util.h"

#define MAX_FRAME (1u << 20)

int attach_listen(const char *path, berr_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path))
        return berr_set(err, ENAMETOOLONG, "attach socket %s", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return berr_set(err, errno, "attach socket: create");
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        return berr_set(err, e, "attach socket %s: listen", path);
    }
    return fd;
}

struct attach_client *attach_client_new(int fd)
{
    struct attach_client *c = xcalloc(1, sizeof(*c));

    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    c->reading = true;
    return c;
}

static bool queue(struct attach_client *c, const void *data, size_t len)
{
    if (c->out_len + len > ATTACH_MAX_PENDING)
        return false;
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 65536;
        while (cap < c->out_len + len)
            cap *= 2;
        char *n = realloc(c->out, cap);
        if (n == NULL)
            return false;
        c->out = n;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return true;
}

static void header(unsigned char h[ATTACH_FRAME_HEADER], int stream, size_t len)
{
    memset(h, 0, ATTACH_FRAME_HEADER);
    h[0] = (unsigned char)stream;
    h[4] = (unsigned char)(len >> 24);
    h[5] = (unsigned char)(len >> 16);
    h[6] = (unsigned char)(len >> 8);
    h[7] = (unsigned char)len;
}

bool attach_send(struct attach_client *c, int stream, const void *data, size_t len)
{
    unsigned char h[ATTACH_FRAME_HEADER];
    size_t sent = 0;

    header(h, stream, len);
    if (c->out_len == 0) {
        struct iovec iov[2] = {{h, sizeof(h)}, {(void *)data, len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        sent = n > 0 ? (size_t)n : 0;
    }
    if (sent < sizeof(h) && !queue(c, h + sent, sizeof(h) - sent))
        return false;
    size_t skip = sent > sizeof(h) ? sent - sizeof(h) : 0;
    return skip == len || queue(c, (const char *)data + skip, len - skip);
}

bool attach_flush(struct attach_client *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    return true;
}

/* Feed BUF into the frame parser; false on a frame too large to accept. */
static bool parse(struct attach_client *c, const char *buf, size_t len, attach_frame_fn fn,
                  void *ctx)
{
    while (len > 0) {
        if (c->hdr_len < ATTACH_FRAME_HEADER) {
            size_t take =
                ATTACH_FRAME_HEADER - c->hdr_len < len ? ATTACH_FRAME_HEADER - c->hdr_len : len;
            memcpy(c->hdr + c->hdr_len, buf, take);
            c->hdr_len += take;
            buf += take;
            len -= take;
            if (c->hdr_len < ATTACH_FRAME_HEADER)
                return true;
            c->payload_need = (size_t)c->hdr[4] << 24 | (size_t)c->hdr[5] << 16 |
                              (size_t)c->hdr[6] << 8 | c->hdr[7];
            if (c->payload_need > MAX_FRAME)
                return false;
            c->payload = realloc(c->payload, c->payload_need + 1);
            c->payload_len = 0;
            if (c->payload == NULL)
                return false;
        }
        size_t take =
            c->payload_need - c->payload_len < len ? c->payload_need - c->payload_len : len;
        memcpy(c->payload + c->payload_len, buf, take);
        c->payload_len += take;
        buf += take;
        len -= take;
        if (c->payload_len == c->payload_need) {
            c->hdr_len = 0;
            fn(ctx, c, c->hdr[0], c->payload, c->payload_len);
        }
    }
    return true;
}

bool attach_read(struct attach_client *c, attach_frame_fn fn, void *ctx)
{
    char buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
        c->reading = false;
        return true;
    }
    return parse(c, buf, (size_t)n, fn, ctx);
}

void attach_client_free(struct attach_client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    free(c->payload);
    free(c->out);
    free(c);
}
