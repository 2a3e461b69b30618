/* Remote commands and shells: one channel, pumped in non-blocking mode so the
 * local stdin, the remote stdout and stderr and (with a PTY) window-size changes
 * all move at once; stdout and stderr stay apart; the exit status comes back. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/ssh_internal.h"

#define CAPTURE_MAX (16u << 20)
#define CLOSE_WAIT_MS 10000

struct exec_state {
    struct ssh_conn *c;
    LIBSSH2_CHANNEL *ch;
    struct ssh_cmd *x;
    size_t out_cap, err_cap;
    char in[32768];
    size_t in_len, in_off;
    bool in_eof, eof_sent;
    int sig[2]; /* self-pipe: SIGWINCH ('W'), SIGTERM/SIGHUP ('T') */
    struct termios saved;
    bool raw;
    struct sigaction old_winch, old_term, old_hup;
};

static int sig_fd = -1;

static void on_signal(int sig)
{
    char b = sig == SIGWINCH ? 'W' : 'T';
    if (sig_fd >= 0)
        (void)!write(sig_fd, &b, 1);
}

static void capture(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n > CAPTURE_MAX)
        return;
    if (*len + n + 1 > *cap) {
        size_t want = (*len + n + 1) * 2;
        char *nb = realloc(*buf, want);
        if (nb == NULL)
            abort();
        *buf = nb;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) { /* an inherited non-blocking descriptor */
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, -1);
            continue;
        }
        if (w <= 0)
            return; /* the local reader went away: drop the rest, as ssh does */
        p += w;
        n -= (size_t)w;
    }
}

static void deliver(struct exec_state *st, int stream, const char *data, size_t n)
{
    struct ssh_cmd *x = st->x;
    int fd = stream == 0 ? x->out_fd : x->err_fd;

    if (fd >= 0)
        write_all(fd, data, n);
    else if (stream == 0)
        capture(&x->out, &x->out_len, &st->out_cap, data, n);
    else
        capture(&x->err, &x->err_len, &st->err_cap, data, n);
}

/* Read what stream ID (0 stdout, 1 stderr) has; 1 when data moved, 0 when none, -1 error. */
static int pump_stream(struct exec_state *st, int id, berr_t *err)
{
    char buf[32768];
    ssize_t n = libssh2_channel_read_ex(st->ch, id, buf, sizeof(buf));

    if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
        return 0;
    if (n < 0)
        return ssh_lib_error(st->c, "read command output", err);
    deliver(st, id, buf, (size_t)n);
    return 1;
}

/* Drain both streams until libssh2 holds nothing more for either. */
static int drain(struct exec_state *st, berr_t *err)
{
    for (;;) {
        int a = pump_stream(st, 0, err);
        int b = a < 0 ? -1 : pump_stream(st, 1, err);
        if (a < 0 || b < 0)
            return -1;
        if (a == 0 && b == 0 && !libssh2_poll_channel_read(st->ch, 0) &&
            !libssh2_poll_channel_read(st->ch, 1))
            return 0;
    }
}

/* Move pending stdin bytes (or the EOF) into the channel. */
static int pump_stdin(struct exec_state *st, berr_t *err)
{
    if (st->in_off < st->in_len) {
        ssize_t w = libssh2_channel_write(st->ch, st->in + st->in_off, st->in_len - st->in_off);
        if (w == LIBSSH2_ERROR_EAGAIN)
            return 0;
        if (w < 0)
            return ssh_lib_error(st->c, "send input", err);
        st->in_off += (size_t)w;
        return 0;
    }
    if (st->in_eof && !st->eof_sent) {
        int rc = libssh2_channel_send_eof(st->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return 0;
        if (rc < 0)
            return ssh_lib_error(st->c, "send end of input", err);
        st->eof_sent = true;
    }
    return 0;
}

static void read_stdin(struct exec_state *st)
{
    ssize_t n = read(st->x->in_fd, st->in, sizeof(st->in));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        st->in_eof = true;
        return;
    }
    st->in_len = (size_t)n;
    st->in_off = 0;
}

static void window_size(int fd, int *cols, int *rows)
{
    struct winsize ws = {0};
    *cols = 80;
    *rows = 24;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

/* 'W': tell the remote PTY the new size; 'T': the user wants out. Returns -1 on 'T'. */
static int handle_signals(struct exec_state *st, berr_t *err)
{
    char b[16];
    ssize_t n = read(st->sig[0], b, sizeof(b));
    for (ssize_t i = 0; i < n; i++) {
        if (b[i] == 'T')
            return berr_set(err, 0, "%s: session interrupted by a signal", st->c->label);
        int cols, rows;
        window_size(st->x->in_fd, &cols, &rows);
        libssh2_channel_request_pty_size_ex(st->ch, cols, rows, 0, 0);
    }
    return 0;
}

static int wait_io(struct exec_state *st, long long deadline, berr_t *err)
{
    struct pollfd p[3];
    int n = 0, next_keepalive = 30;
    int dirs = libssh2_session_block_directions(st->c->s);
    long timeout = -1;

    libssh2_keepalive_send(st->c->s, &next_keepalive);
    timeout = next_keepalive > 0 ? next_keepalive * 1000L : 30000L;
    if (deadline > 0 && deadline - now_ms() < timeout)
        timeout = (long)(deadline - now_ms());
    p[n++] = (struct pollfd){
        st->c->fd, (short)(POLLIN | (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND ? POLLOUT : 0)), 0};
    if (st->x->in_fd >= 0 && !st->in_eof && st->in_off >= st->in_len)
        p[n++] = (struct pollfd){st->x->in_fd, POLLIN, 0};
    if (st->sig[0] >= 0)
        p[n++] = (struct pollfd){st->sig[0], POLLIN, 0};
    if (poll(p, (nfds_t)n, timeout > 0 ? (int)timeout : 0) < 0 && errno != EINTR)
        return berr_set(err, errno, "%s: poll", st->c->label);
    for (int i = 1; i < n; i++) {
        if (p[i].fd == st->x->in_fd && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_stdin(st);
        else if (p[i].fd == st->sig[0] && (p[i].revents & POLLIN) && handle_signals(st, err) < 0)
            return -1;
    }
    return 0;
}

static int timed_out(struct exec_state *st, long long deadline, berr_t *err)
{
    if (deadline <= 0 || now_ms() < deadline)
        return 0;
    return berr_set(err, ETIMEDOUT, "%s: command did not finish within %lds: %s", st->c->label,
                    st->x->timeout_ms / 1000, st->x->command ? st->x->command : "(shell)");
}

/* Move data both ways until the remote side sends EOF. */
static int pump(struct exec_state *st, long long deadline, berr_t *err)
{
    for (;;) {
        if (drain(st, err) < 0)
            return -1;
        if (libssh2_channel_eof(st->ch))
            return 0;
        if (pump_stdin(st, err) < 0 || timed_out(st, deadline, err) < 0 ||
            wait_io(st, deadline, err) < 0)
            return -1;
    }
}

/* Wait for the remote close (after the exit status), then read the status. */
static int finish(struct exec_state *st, long long deadline, berr_t *err)
{
    long long bound = deadline > 0 ? deadline : now_ms() + CLOSE_WAIT_MS;
    int rc;

    while ((rc = libssh2_channel_wait_closed(st->ch)) == LIBSSH2_ERROR_EAGAIN) {
        drain(st, NULL);
        if (now_ms() >= bound && deadline > 0)
            return timed_out(st, deadline, err);
        if (now_ms() >= bound)
            return berr_set(err, ETIMEDOUT,
                            "%s: the host did not close the session within %ds "
                            "after the output ended",
                            st->c->label, CLOSE_WAIT_MS / 1000);
        struct pollfd p = {st->c->fd, POLLIN, 0};
        poll(&p, 1, 200);
    }
    char *sig = NULL;
    size_t siglen = 0;
    libssh2_channel_get_exit_signal(st->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
    if (sig != NULL && siglen > 0) {
        snprintf(st->x->signal, sizeof(st->x->signal), "%.*s", (int)siglen, sig);
        st->x->status = 255;
    } else {
        st->x->status = libssh2_channel_get_exit_status(st->ch);
    }
    libssh2_free(st->c->s, sig);
    return 0;
}

static int open_channel(struct exec_state *st, berr_t *err)
{
    struct ssh_cmd *x = st->x;

    st->ch = libssh2_channel_open_session(st->c->s);
    if (st->ch == NULL)
        return ssh_lib_error(st->c, "open channel", err);
    if (x->pty) {
        const char *term = getenv("TERM");
        int cols, rows;
        if (term == NULL || *term == '\0')
            term = "xterm";
        window_size(x->in_fd >= 0 ? x->in_fd : 0, &cols, &rows);
        if (libssh2_channel_request_pty_ex(st->ch, term, (unsigned)strlen(term), NULL, 0, cols,
                                           rows, 0, 0) != 0)
            return ssh_lib_error(st->c, "request a terminal", err);
    }
    int rc = x->command ? libssh2_channel_exec(st->ch, x->command) : libssh2_channel_shell(st->ch);
    if (rc != 0)
        return ssh_lib_error(st->c, x->command ? "start command" : "start shell", err);
    if (x->in_fd < 0 && libssh2_channel_send_eof(st->ch) != 0)
        return ssh_lib_error(st->c, "send end of input", err);
    st->in_eof = st->eof_sent = x->in_fd < 0;
    return 0;
}

static void terminal_setup(struct exec_state *st)
{
    struct sigaction sa = {.sa_handler = on_signal};

    if (pipe2(st->sig, O_CLOEXEC | O_NONBLOCK) < 0) {
        st->sig[0] = st->sig[1] = -1;
        return;
    }
    sig_fd = st->sig[1];
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, &st->old_winch);
    sigaction(SIGTERM, &sa, &st->old_term);
    sigaction(SIGHUP, &sa, &st->old_hup);
    if (isatty(st->x->in_fd) && tcgetattr(st->x->in_fd, &st->saved) == 0) {
        struct termios raw = st->saved;
        cfmakeraw(&raw);
        st->raw = tcsetattr(st->x->in_fd, TCSADRAIN, &raw) == 0;
    }
}

static void terminal_restore(struct exec_state *st)
{
    if (st->raw)
        tcsetattr(st->x->in_fd, TCSADRAIN, &st->saved);
    if (st->sig[0] < 0)
        return;
    sigaction(SIGWINCH, &st->old_winch, NULL);
    sigaction(SIGTERM, &st->old_term, NULL);
    sigaction(SIGHUP, &st->old_hup, NULL);
    sig_fd = -1;
    close(st->sig[0]);
    close(st->sig[1]);
}

int ssh_exec(struct ssh_conn *c, struct ssh_cmd *x, berr_t *err)
{
    struct exec_state st = {.c = c, .x = x, .sig = {-1, -1}};
    long long deadline = x->timeout_ms > 0 ? now_ms() + x->timeout_ms : 0;
    int ret = -1;

    x->status = -1;
    x->signal[0] = '\0';
    if (open_channel(&st, err) < 0)
        goto out;
    if (x->pty)
        terminal_setup(&st);
    libssh2_session_set_blocking(c->s, 0);
    if (pump(&st, deadline, err) == 0 && finish(&st, deadline, err) == 0)
        ret = 0;
    libssh2_session_set_blocking(c->s, 1);
    if (x->pty)
        terminal_restore(&st);
out:
    if (st.ch != NULL)
        libssh2_channel_free(st.ch);
    return ret;
}

void ssh_cmd_free(struct ssh_cmd *x)
{
    free(x->out);
    free(x->err);
    x->out = x->err = NULL;
    x->out_len = x->err_len = 0;
}

/* The last LINES lines of TEXT, each indented, for error messages. */
static char *tail_lines(const char *text, int lines)
{
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    size_t start = n;
    for (int seen = 0; start > 0; start--) {
        if (text[start - 1] == '\n' && ++seen == lines)
            break;
    }
    return xasprintf("%.*s", (int)(n - start), text + start);
}

int ssh_run(struct ssh_conn *c, const char *command, long timeout_ms, char **out, berr_t *err)
{
    struct ssh_cmd x = {
        .command = command, .in_fd = -1, .out_fd = -1, .err_fd = -1, .timeout_ms = timeout_ms};

    if (ssh_exec(c, &x, err) < 0) {
        ssh_cmd_free(&x);
        return -1;
    }
    if (x.status != 0) {
        _cleanup_free_ char *tail = tail_lines(x.err ? x.err : "", 8);
        if (x.signal[0])
            berr_set(err, 0, "%s: remote command killed by signal %s%s%s", c->label, x.signal,
                     *tail ? ": " : "", tail);
        else
            berr_set(err, 0, "%s: remote command exited with status %d%s%s", c->label, x.status,
                     *tail ? ": " : "", tail);
        ssh_cmd_free(&x);
        return -1;
    }
    if (out != NULL)
        *out = x.out ? steal_pointer(&x.out) : xstrdup("");
    ssh_cmd_free(&x);
    return 0;
}
