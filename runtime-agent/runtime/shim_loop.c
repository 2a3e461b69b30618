/* The shim's single poll() loop: container output to the log and the attach clients, client
 * input to the container's stdin, resizes to the pty, and the container's exit. */
#include "runtime-agent/runtime/shim.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "berth/util.h"

#define MAX_POLL 64

void shim_add_client(struct shim *sh, int fd)
{
    struct attach_client **n = realloc(sh->clients, (sh->n_clients + 1) * sizeof(*n));

    if (n == NULL) {
        close(fd);
        return;
    }
    sh->clients = n;
    sh->clients[sh->n_clients++] = attach_client_new(fd);
}

static void queue_stdin(struct shim *sh, const char *data, size_t len)
{
    char *n = realloc(sh->in_buf, sh->in_len + len);

    if (n == NULL)
        return;
    sh->in_buf = n;
    memcpy(sh->in_buf + sh->in_len, data, len);
    sh->in_len += len;
}

static void close_stdin(struct shim *sh)
{
    if (sh->in_fd < 0)
        return;
    if (sh->pty >= 0) {
        /* A terminal has no end of file of its own: send the EOF character. */
        queue_stdin(sh, "\x04", 1);
        return;
    }
    sh->in_closing = true;
    if (sh->in_len == 0) {
        close(sh->in_fd);
        sh->in_fd = -1;
    }
}

/* stdin_once: the container's stdin ends with its first writer's session. As with Docker,
 * not on a terminal: there a session ends by detaching (or a lost client) and the shell must
 * survive it for the next `docker attach`. */
static bool stdin_once_applies(const struct shim *sh)
{
    return sh->spec.stdin_once && sh->pty < 0;
}

static void drop_client(struct shim *sh, size_t i)
{
    struct attach_client *c = sh->clients[i];

    if (stdin_once_applies(sh) && c->sent_stdin)
        close_stdin(sh);
    attach_client_free(c);
    sh->clients[i] = sh->clients[--sh->n_clients];
}

static void resize(struct shim *sh, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;

    if (sh->pty < 0 || len < 4)
        return;
    struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
                         .ws_col = (unsigned short)(p[2] << 8 | p[3])};
    if (ioctl(sh->pty, TIOCSWINSZ, &ws) < 0)
        shim_log("resize the terminal: %s", strerror(errno));
}

static void on_frame(void *ctx, struct attach_client *c, int stream, const char *data, size_t len)
{
    struct shim *sh = ctx;

    if (stream == ATTACH_STREAM_RESIZE) {
        resize(sh, data, len);
        return;
    }
    if (stream != ATTACH_STREAM_STDIN || sh->in_fd < 0 || sh->in_closing)
        return;
    if (len == 0) {
        close_stdin(sh);
        return;
    }
    c->sent_stdin = true;
    queue_stdin(sh, data, len);
}

static void write_stdin(struct shim *sh)
{
    ssize_t n = write(sh->in_fd, sh->in_buf, sh->in_len);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        /* The container closed its stdin: what is pending can never be delivered. */
        sh->in_len = 0;
        sh->in_closing = sh->pty < 0;
    } else {
        memmove(sh->in_buf, sh->in_buf + n, sh->in_len - (size_t)n);
        sh->in_len -= (size_t)n;
    }
    if (sh->in_len == 0 && sh->in_closing) {
        close(sh->in_fd);
        sh->in_fd = -1;
    }
}

static void deliver(struct shim *sh, int stream, const char *buf, size_t len)
{
    berr_t err = NULL;

    if (sh->log && jsonlog_write(sh->log, stream, buf, len, &err) < 0) {
        shim_log("%s; logging stops", berr_msg(err));
        berr_free(&err);
        jsonlog_close(sh->log, NULL);
        sh->log = NULL;
    }
    for (size_t i = 0; i < sh->n_clients;) {
        if (attach_send(sh->clients[i], stream, buf, len))
            i++;
        else
            drop_client(sh, i);
    }
}

static void read_output(struct shim *sh, int stream)
{
    char buf[65536];
    ssize_t n = read(sh->out_fd[stream], buf, sizeof(buf));

    if (n > 0) {
        deliver(sh, stream, buf, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* End of file; a pty master reports EIO once every slave is closed. */
    if (sh->out_fd[stream] == sh->pty) {
        sh->in_fd = -1;
        sh->pty = -1;
    }
    close(sh->out_fd[stream]);
    sh->out_fd[stream] = -1;
}

static void reap(struct shim *sh)
{
    struct signalfd_siginfo si;
    int status;
    pid_t p;

    while (read(sh->sig_fd, &si, sizeof(si)) > 0)
        ;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p != sh->st.pid)
            continue;
        sh->exited = true;
        sh->status = status;
        sh->drain_until = now_ms() + SHIM_DRAIN_MS;
    }
}

static void accept_clients(struct shim *sh)
{
    int fd;

    while ((fd = accept4(sh->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
        shim_add_client(sh, fd);
}

static void serve_client(struct shim *sh, size_t i, short revents)
{
    struct attach_client *c = sh->clients[i];
    bool keep = true;

    if (revents & POLLOUT)
        keep = attach_flush(c);
    if (keep && (revents & (POLLIN | POLLHUP)) && c->reading)
        keep = attach_read(c, on_frame, sh);
    if (keep && ((revents & POLLERR) || ((revents & POLLHUP) && !c->reading)))
        keep = false;
    if (keep && !c->reading && stdin_once_applies(sh) && c->sent_stdin) {
        c->sent_stdin = false;
        close_stdin(sh);
    }
    if (!keep)
        drop_client(sh, i);
}

struct poll_set {
    struct pollfd p[MAX_POLL];
    int n, out[3], in, listen, clients;
};

static void add(struct poll_set *ps, int *slot, int fd, short events)
{
    *slot = -1;
    if (fd < 0 || events == 0 || ps->n >= MAX_POLL)
        return;
    *slot = ps->n;
    ps->p[ps->n++] = (struct pollfd){.fd = fd, .events = events};
}

static void build(struct shim *sh, struct poll_set *ps)
{
    int slot;

    ps->n = 0;
    add(ps, &slot, sh->sig_fd, POLLIN);
    for (int s = 1; s <= 2; s++)
        add(ps, &ps->out[s], sh->out_fd[s], POLLIN);
    add(ps, &ps->in, sh->in_len > 0 && sh->in_fd != sh->pty ? sh->in_fd : -1, POLLOUT);
    if (sh->in_len > 0 && sh->in_fd >= 0 && sh->in_fd == sh->pty && ps->out[1] >= 0)
        ps->p[ps->out[1]].events |= POLLOUT;
    add(ps, &ps->listen, sh->exited ? -1 : sh->listen_fd, POLLIN);
    ps->clients = ps->n;
    for (size_t i = 0; i < sh->n_clients; i++) {
        struct attach_client *c = sh->clients[i];
        short ev = (c->reading && sh->in_len < SHIM_MAX_STDIN ? POLLIN : 0) |
                   (c->out_len > 0 ? POLLOUT : 0);
        add(ps, &slot, c->fd, ev ? ev : POLLERR);
    }
}

static bool done(struct shim *sh)
{
    if (!sh->exited)
        return false;
    return (sh->out_fd[1] < 0 && sh->out_fd[2] < 0) || now_ms() >= sh->drain_until;
}

static void dispatch(struct shim *sh, struct poll_set *ps)
{
    if (ps->p[0].revents)
        reap(sh);
    if (ps->in >= 0 && ps->p[ps->in].revents)
        write_stdin(sh);
    if (ps->out[1] >= 0 && (ps->p[ps->out[1]].revents & POLLOUT) && sh->in_fd >= 0)
        write_stdin(sh);
    for (int s = 1; s <= 2; s++)
        if (ps->out[s] >= 0 && (ps->p[ps->out[s]].revents & (POLLIN | POLLHUP | POLLERR)))
            read_output(sh, s);
    /* Walk clients from the end: dropping one moves the last into its place. */
    for (int k = ps->n - 1; k >= ps->clients; k--) {
        size_t i = (size_t)(k - ps->clients);
        if (i < sh->n_clients && ps->p[k].revents && sh->clients[i]->fd == ps->p[k].fd)
            serve_client(sh, i, ps->p[k].revents);
    }
    if (ps->listen >= 0 && ps->p[ps->listen].revents)
        accept_clients(sh);
}

void shim_loop(struct shim *sh)
{
    struct poll_set ps;

    while (!done(sh)) {
        build(sh, &ps);
        long long wait = sh->exited ? sh->drain_until - now_ms() : -1;
        int n = poll(ps.p, (nfds_t)ps.n, wait < 0 && sh->exited ? 0 : (int)wait);
        if (n < 0 && errno != EINTR) {
            shim_log("poll: %s", strerror(errno));
            return;
        }
        if (n > 0)
            dispatch(sh, &ps);
    }
}
