/* docker exec: POST /containers/{id}/exec, POST /exec/{id}/start (hijacked, or detached),
 * POST /exec/{id}/resize, GET /exec/{id}/json. The registry and spawning live in
 * containers/exec.c; here is the HTTP side and the relay between the client's connection and
 * the command's stdio. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/detachkeys.h"
#include "runtime-agent/containers/exec.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/containers/logs.h"
#include "runtime-agent/log.h"

#define RELAY_BUF (32 * 1024)
/* After the command exited, output still arriving (a pty's last bytes, a background child)
 * is relayed until this much silence. */
#define RELAY_LINGER_MS 100
/* ... but no longer than this after the exit (a background process may hold the output). */
#define RELAY_DRAIN_MAX_MS 2000
/* Longest a read of client input may take once poll() said it is there (a TLS record). */
#define RELAY_READ_MS 5000

static const char *const RAW = "application/vnd.docker.raw-stream";
static const char *const MUX = "application/vnd.docker.multiplexed-stream";

/* 409 unless C runs; takes the store lock. *PID and *BUNDLE (caller frees) when they are
 * wanted. */
static int check_running(struct ctr_store *s, struct container *c, pid_t *pid, char **bundle,
                         berr_t *err)
{
    pthread_mutex_lock(&s->lock);
    enum ctr_status st = c->status;
    if (pid)
        *pid = c->pid;
    if (bundle)
        *bundle = xstrdup(c->bundle ? c->bundle : "");
    pthread_mutex_unlock(&s->lock);
    if (st == CTR_RUNNING && (pid == NULL || *pid > 0))
        return 0;
    if (bundle) {
        free(*bundle);
        *bundle = NULL;
    }
    if (st == CTR_PAUSED)
        return http_err(err, EBUSY, "Container %s is paused, unpause the container before exec",
                        c->id);
    if (st == CTR_RESTARTING)
        return http_err(err, EBUSY,
                        "Container %s is restarting, wait until the container is running", c->id);
    return http_err(err, EBUSY, "Container %s is not running", c->id);
}

/* ---- POST /containers/{id}/exec ---- */

static int h_exec_create(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = daemon_containers(api_daemon(req));
    struct container *c;
    json_t *body = NULL;
    char id[65];

    if (http_body_json(req, &body, err) < 0)
        return -1;
    if (!json_is_object(body)) {
        json_decref(body);
        return http_err(err, EINVAL, "exec config: a JSON object is required");
    }
    json_t *cmd = json_object_get(body, "Cmd");
    if (json_array_size(cmd) == 0 || json_string_length(json_array_get(cmd, 0)) == 0) {
        json_decref(body);
        return http_err(err, EINVAL, "No exec command specified");
    }
    if (ctr_get(&cs->store, http_req_param(req, "id"), &c, err) < 0) {
        json_decref(body);
        return -1;
    }
    int rc = check_running(&cs->store, c, NULL, NULL, err);
    if (rc == 0)
        rc = exec_create(c->id, body, id, err);
    ctr_put(&cs->store, c);
    json_decref(body);
    if (rc < 0)
        return -1;
    http_resp_json(resp, 201, json_pack("{s:s}", "Id", id));
    return 0;
}

/* ---- POST /exec/{id}/start ---- */

struct relay {
    struct conn *conn;
    struct exec_inst *e;
    bool tty;
    int in, out, err; /* our ends of the command's stdio, -1 when closed */
    int pidfd;
    bool exited;
    long long exit_at; /* now_ms() when the exit was seen */
    bool client_eof;   /* no more input from the client */
    bool client_gone;  /* writing to it failed: stop relaying */
    bool detached;     /* TTY: the detach keys, or the end of the client's input */
    struct detach_keys keys;
    char *inbuf; /* client input not yet written to the command */
    size_t in_len, in_off;
    char *raw; /* TTY: client input before the detach keys are taken out */
    char *buf;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void nonblock(int fd)
{
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Command output on FD (stream 1 or 2) to the client. */
static void relay_output(struct relay *r, int *fd, int stream)
{
    ssize_t n = read(*fd, r->buf + STDCOPY_HEADER, RELAY_BUF);
    berr_t err = NULL;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* EOF, or EIO from a pty nobody holds any more */
        close_fd(fd);
        return;
    }
    if (r->client_gone)
        return;
    const char *p = r->buf + STDCOPY_HEADER;
    size_t len = (size_t)n;
    if (!r->tty) {
        stdcopy_header((unsigned char *)r->buf, stream, (uint32_t)n);
        p = r->buf;
        len += STDCOPY_HEADER;
    }
    if (conn_write_all(r->conn, p, len, conn_deadline(HTTP_WRITE_TIMEOUT_MS), &err) < 0) {
        r->client_gone = true;
        berr_free(&err);
    }
}

/* Client input into the buffer (only when it is empty). With a TTY, as with Docker, the
 * detach keys are taken out and end the session, and so does the end of the input: the
 * command keeps running with its stdin open. */
static void relay_input_read(struct relay *r)
{
    berr_t err = NULL;
    char *dst = r->tty ? r->raw : r->inbuf;
    ssize_t n = conn_read(r->conn, dst, RELAY_BUF, conn_deadline(RELAY_READ_MS), &err);

    r->in_off = 0;
    if (n > 0) {
        r->in_len = r->tty
                        ? detach_keys_feed(&r->keys, dst, (size_t)n, r->inbuf, NULL, &r->detached)
                        : (size_t)n;
    } else if (n == 0 || err == NULL || err->errnum != ETIMEDOUT) {
        r->client_eof = true; /* half-close: the command's stdin ends (below) */
        if (r->tty) {
            r->in_len = detach_keys_flush(&r->keys, r->inbuf);
            r->detached = true;
        }
    }
    berr_free(&err);
}

static void relay_input_write(struct relay *r)
{
    ssize_t n = write(r->in, r->inbuf + r->in_off, r->in_len - r->in_off);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) { /* EPIPE: the command closed its stdin; drop what it will never read */
        r->in_len = r->in_off = 0;
        close_fd(&r->in);
        return;
    }
    r->in_off += (size_t)n;
    if (r->in_off == r->in_len)
        r->in_len = r->in_off = 0;
}

static bool relay_check_exit(struct relay *r, const struct pollfd *pf)
{
    if (r->exited)
        return true;
    if (pf != NULL ? (pf->revents & POLLIN) != 0 : r->pidfd < 0)
        r->exited = exec_poll_exit(r->e, NULL);
    if (r->exited)
        r->exit_at = now_ms();
    return r->exited;
}

/* Copy both ways until the command exited and its output is drained, or the client left. */
static void relay_run(struct relay *r)
{
    for (;;) {
        struct pollfd p[5];
        int np = 0, i_out = -1, i_err = -1, i_in = -1, i_conn = -1, i_pid = -1;
        bool pending = false;

        if (r->client_eof && r->in_len == 0 && r->in >= 0 && !r->tty)
            close_fd(&r->in); /* the client's half-close ends the command's stdin */
        if (r->detached) {
            /* What came before the keys goes in, as far as the command takes it now. */
            if (r->in >= 0 && r->in_len > 0)
                relay_input_write(r);
            log_debug("exec %s: the client detached", exec_id(r->e));
            r->client_gone = true;
        }
        if (r->exited && r->out < 0 && r->err < 0)
            break;
        if (r->client_gone || (r->exited && now_ms() - r->exit_at > RELAY_DRAIN_MAX_MS))
            break;
        if (r->out >= 0)
            p[i_out = np++] = (struct pollfd){.fd = r->out, .events = POLLIN};
        if (r->err >= 0)
            p[i_err = np++] = (struct pollfd){.fd = r->err, .events = POLLIN};
        if (r->in >= 0 && r->in_len > 0)
            p[i_in = np++] = (struct pollfd){.fd = r->in, .events = POLLOUT};
        /* Always watched: POLLHUP/POLLERR say the client is gone (or the daemon stops). */
        short cev = r->in >= 0 && r->in_len == 0 && !r->client_eof ? POLLIN : 0;
        p[i_conn = np++] = (struct pollfd){.fd = conn_fd(r->conn), .events = cev};
        if (cev && conn_has_pending(r->conn))
            pending = true;
        if (!r->exited && r->pidfd >= 0)
            p[i_pid = np++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
        int timeout = pending ? 0 : (r->exited || r->pidfd < 0) ? RELAY_LINGER_MS : -1;

        int n = poll(p, (nfds_t)np, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0 && !pending && r->exited)
            break; /* nothing more came after the exit */
        if (n < 0)
            continue;
        if (i_out >= 0 && p[i_out].revents)
            relay_output(r, &r->out, STDCOPY_STDOUT);
        if (i_err >= 0 && p[i_err].revents)
            relay_output(r, &r->err, STDCOPY_STDERR);
        if (i_in >= 0 && p[i_in].revents)
            relay_input_write(r);
        if (pending || (cev && (p[i_conn].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))))
            relay_input_read(r);
        else if (p[i_conn].revents & (POLLHUP | POLLERR | POLLNVAL))
            r->client_gone = true;
        relay_check_exit(r, i_pid >= 0 ? &p[i_pid] : NULL);
    }
}

/* Run an attached exec over the hijacked connection; the exit code is recorded before the
 * handler returns (and the server closes the stream). */
static void relay(struct conn *conn, struct exec_inst *e, struct exec_io *io)
{
    struct relay r = {
        .conn = conn, .e = e, .tty = exec_tty(e), .in = io->in, .out = io->out, .err = io->err};

    r.pidfd = exec_pidfd(e);
    if (detach_keys_parse(&r.keys, exec_detach_keys(e), NULL) < 0) /* checked at create */
        detach_keys_parse(&r.keys, NULL, NULL);
    r.raw = xcalloc(1, RELAY_BUF);
    r.inbuf = xcalloc(1, RELAY_BUF + DETACH_KEYS_MAX);
    r.buf = xcalloc(1, RELAY_BUF + STDCOPY_HEADER);
    nonblock(r.in);
    nonblock(r.out);
    nonblock(r.err);
    relay_run(&r);
    close_fd(&r.in);
    close_fd(&r.out);
    close_fd(&r.err);
    if (r.pidfd >= 0)
        close(r.pidfd);
    if (r.exited || !r.client_gone) {
        exec_wait(e);
        exec_release_tty(e);
    } else {
        exec_detach(e); /* nobody listens any more: the command runs on, as with Docker */
    }
    free(r.inbuf);
    free(r.raw);
    free(r.buf);
}

static int h_exec_start(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = daemon_containers(api_daemon(req));
    struct exec_io io = {-1, -1, -1};
    struct container *c;
    _cleanup_free_ char *bundle = NULL;
    json_t *body = NULL;
    pid_t pid = 0;
    int rc = -1;

    struct exec_inst *e = exec_get(http_req_param(req, "id"), err);
    if (e == NULL)
        return -1;
    if (http_body_json(req, &body, err) < 0)
        goto out;
    bool detach = json_is_true(json_object_get(body, "Detach"));
    json_t *size = json_object_get(body, "ConsoleSize");
    json_int_t h = json_integer_value(json_array_get(size, 0));
    json_int_t w = json_integer_value(json_array_get(size, 1));
    if (h > 0 && h < 65536 && w > 0 && w < 65536)
        exec_resize(e, (unsigned short)h, (unsigned short)w, NULL);
    if (ctr_get(&cs->store, exec_container_id(e), &c, err) < 0)
        goto out;
    rc = check_running(&cs->store, c, &pid, &bundle, err);
    ctr_put(&cs->store, c); /* the relay may last long: it needs only the pid and bundle */
    if (rc < 0 || exec_spawn(e, pid, bundle, detach, &io, err) < 0) {
        rc = -1;
        goto out;
    }
    if (detach) {
        http_resp_empty(resp, 200);
        goto out;
    }
    struct conn *conn = http_hijack(resp, exec_tty(e) ? RAW : MUX, err);
    if (conn == NULL) {
        int fds[3] = {io.in, io.out, io.err};
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        exec_detach(e);
        rc = -1;
        goto out;
    }
    relay(conn, e, &io);
out:
    json_decref(body);
    exec_put(e);
    return rc;
}

/* ---- POST /exec/{id}/resize, GET /exec/{id}/json ---- */

static int parse_dim(const char *s, unsigned short *out)
{
    char *end;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -1;
    *out = (unsigned short)v;
    return 0;
}

static int h_exec_resize(struct http_request *req, struct http_response *resp, berr_t *err)
{
    unsigned short rows, cols;

    if (parse_dim(http_req_query(req, "h"), &rows) < 0 ||
        parse_dim(http_req_query(req, "w"), &cols) < 0)
        return http_err(err, EINVAL, "resize: h and w must be numbers from 0 to 65535");
    struct exec_inst *e = exec_get(http_req_param(req, "id"), err);
    if (e == NULL)
        return -1;
    int rc = exec_resize(e, rows, cols, err);
    exec_put(e);
    if (rc < 0)
        return -1;
    http_resp_empty(resp, 200);
    return 0;
}

static int h_exec_inspect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct exec_inst *e = exec_get(http_req_param(req, "id"), err);

    if (e == NULL)
        return -1;
    http_resp_json(resp, 200, exec_inspect(e));
    exec_put(e);
    return 0;
}

const struct http_route api_exec_routes[] = {
    {"POST", "/containers/{id}/exec", h_exec_create, 0},
    {"POST", "/exec/{id}/start", h_exec_start, 0},
    {"POST", "/exec/{id}/resize", h_exec_resize, 0},
    {"GET", "/exec/{id}/json", h_exec_inspect, 0},
};
const size_t api_exec_routes_len = sizeof(api_exec_routes) / sizeof(api_exec_routes[0]);
