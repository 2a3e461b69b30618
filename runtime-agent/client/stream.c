#include "runtime-agent/client/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n, berr_t *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return berr_set(err, errno, "write to %s", fd == 2 ? "stderr" : "stdout");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int demux_feed(void *arg, const char *data, size_t n, berr_t *err)
{
    struct demux *d = arg;

    while (n > 0) {
        if (d->left == 0) {
            size_t take = sizeof(d->head) - d->have;
            if (take > n)
                take = n;
            memcpy(d->head + d->have, data, take);
            d->have += take;
            data += take;
            n -= take;
            if (d->have < sizeof(d->head))
                return 0;
            d->have = 0;
            d->fd = d->head[0] == 2 ? 2 : 1; /* 0 (stdin echo) and 1 are stdout */
            if (d->head[0] > 2)
                return berr_set(err, 0, "bad stream from the daemon: stream id %u", d->head[0]);
            d->left = (uint32_t)d->head[4] << 24 | (uint32_t)d->head[5] << 16 |
                      (uint32_t)d->head[6] << 8 | d->head[7];
            continue;
        }
        size_t take = n < d->left ? n : d->left;
        if (write_all(d->fd, data, take, err) < 0)
            return -1;
        d->left -= (uint32_t)take;
        data += take;
        n -= take;
    }
    return 0;
}

int raw_feed(void *arg, const char *data, size_t n, berr_t *err)
{
    (void)arg;
    return write_all(1, data, n, err);
}

static int winch_pipe[2] = {-1, -1};

static void on_winch(int sig)
{
    int saved = errno;
    (void)sig;
    if (write(winch_pipe[1], "w", 1) < 0) {
        /* full: a resize is pending anyway */
    }
    errno = saved;
}

static int output(const struct pump_opts *o, struct demux *d, const char *p, size_t n, berr_t *err)
{
    return o->tty ? raw_feed(NULL, p, n, err) : demux_feed(d, p, n, err);
}

int stream_pump(struct cli_http *h, const struct pump_opts *o, berr_t *err)
{
    struct demux d = {0};
    char buf[16384];
    bool in_open = o->stdin_fd >= 0;
    struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART}, old;
    int rc = -1;

    if (h->off < h->len && output(o, &d, h->buf + h->off, h->len - h->off, err) < 0)
        return -1;
    h->off = h->len = 0;
    if (o->resize != NULL) {
        if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
            return berr_set(err, errno, "pipe");
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, &old);
        o->resize(o->resize_arg);
    }
    for (;;) {
        if (!cli_conn_pending(&h->conn)) {
            struct pollfd fds[3] = {{.fd = h->conn.fd, .events = POLLIN},
                                    {.fd = in_open ? o->stdin_fd : -1, .events = POLLIN},
                                    {.fd = winch_pipe[0], .events = POLLIN}};
            if (poll(fds, 3, -1) < 0) {
                if (errno == EINTR)
                    continue;
                berr_set(err, errno, "poll");
                goto out;
            }
            if (fds[2].revents & POLLIN) {
                while (read(winch_pipe[0], buf, sizeof(buf)) > 0) {
                }
                o->resize(o->resize_arg);
            }
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read(o->stdin_fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n > 0) {
                    /* The process may have ended and the daemon stopped reading: keep
                     * reading its output to the end, as docker does, and drop stdin. */
                    berr_t werr = NULL;
                    if (cli_conn_write_all(&h->conn, buf, (size_t)n, &werr) < 0) {
                        berr_free(&werr);
                        in_open = false;
                    }
                } else {
                    berr_t werr = NULL;
                    in_open = false;
                    if (cli_conn_close_write(&h->conn, &werr) < 0)
                        berr_free(&werr);
                }
            }
            if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
        }
        ssize_t n = cli_conn_read(&h->conn, buf, sizeof(buf), err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (output(o, &d, buf, (size_t)n, err) < 0)
            goto out;
    }
    rc = 0;
out:
    if (o->resize != NULL) {
        sigaction(SIGWINCH, &old, NULL);
        close(winch_pipe[0]);
        close(winch_pipe[1]);
        winch_pipe[0] = winch_pipe[1] = -1;
    }
    return rc;
}

int term_raw(int fd, struct termios *saved)
{
    struct termios t;

    if (tcgetattr(fd, saved) < 0)
        return -1;
    t = *saved;
    cfmakeraw(&t);
    return tcsetattr(fd, TCSANOW, &t);
}

void term_restore(int fd, const struct termios *saved)
{
    tcsetattr(fd, TCSANOW, saved);
}

bool term_size(int fd, unsigned *rows, unsigned *cols)
{
    struct winsize ws;

    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}
