/* Container endpoints: create, list, inspect, start, stop, kill, restart, wait, remove,
 * attach, resize, top, rename, pause, unpause. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/detachkeys.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/log.h"
#include "runtime-agent/runtime/runtime.h"

#define RAW_STREAM "application/vnd.docker.raw-stream"
#define MUX_STREAM "application/vnd.docker.multiplexed-stream"

static struct containers *cs_of(struct http_request *req)
{
    return daemon_containers(api_daemon(req));
}

/* Look up {id}; the caller releases with put(). */
static int get(struct http_request *req, struct container **c, berr_t *err)
{
    return ctr_get(&cs_of(req)->store, http_req_param(req, "id"), c, err);
}

static void put(struct http_request *req, struct container *c)
{
    ctr_put(&cs_of(req)->store, c);
}

static int h_create(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *body = NULL, *warnings = NULL;
    _cleanup_free_ char *id = NULL;

    if (http_body_json(req, &body, err) < 0)
        return -1;
    int ret = ctr_create(cs_of(req), http_req_query(req, "name"), body, &id, &warnings, err);
    json_decref(body);
    if (ret < 0)
        return -1;
    http_resp_json(resp, 201, json_pack("{s:s,s:o}", "Id", id, "Warnings", warnings));
    return 0;
}

static const char *const filter_keys[] = {"label", "status", "name", "id", "ancestor", "volume"};

/* A mount of summary S with volume name or destination V. */
static bool mounts_match(const json_t *s, const char *v)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(s, "Mounts"), i, m)
    {
        const char *name = json_string_value(json_object_get(m, "Name"));
        const char *dest = json_string_value(json_object_get(m, "Destination"));
        if ((name && strcmp(name, v) == 0) || (dest && strcmp(dest, v) == 0))
            return true;
    }
    return false;
}

/* Whether summary S matches filter KEY (an index into filter_keys) with value V. */
static bool filter_match(size_t key, const char *v, const json_t *s)
{
    switch (key) {
    case 0:
        return api_label_match(json_object_get(s, "Labels"), v);
    case 1:
        return strcmp(v, json_string_value(json_object_get(s, "State"))) == 0;
    case 2:
        return strstr(json_string_value(json_array_get(json_object_get(s, "Names"), 0)), v) != NULL;
    case 3:
        return strncmp(json_string_value(json_object_get(s, "Id")), v, strlen(v)) == 0;
    case 5:
        return mounts_match(s, v);
    default:
        return strcmp(json_string_value(json_object_get(s, "Image")), v) == 0 ||
               strstr(json_string_value(json_object_get(s, "ImageID")), v) != NULL;
    }
}

/* Whether summary S passes every filter (values of one key OR'd, keys AND'd). */
static bool passes(const json_t *filters, const json_t *s)
{
    for (size_t k = 0; k < sizeof(filter_keys) / sizeof(filter_keys[0]); k++) {
        const json_t *vals = json_object_get(filters, filter_keys[k]);
        size_t i;
        json_t *v;
        /* dockerd: every label filter must match; any value of the other keys may */
        bool all = strcmp(filter_keys[k], "label") == 0;
        bool any = vals == NULL;
        json_array_foreach(vals, i, v)
        {
            bool m = filter_match(k, json_string_value(v), s);
            if (all && !m)
                return false;
            any = any || m;
        }
        if (!any)
            return false;
    }
    return true;
}

/* EINVAL for a filter key ps does not know, as dockerd answers. */
static int check_filter_keys(const json_t *filters, berr_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)filters, key, v)
    {
        bool known = false;
        for (size_t k = 0; k < sizeof(filter_keys) / sizeof(filter_keys[0]); k++)
            known = known || strcmp(key, filter_keys[k]) == 0;
        if (!known)
            return http_err(err, EINVAL, "invalid filter '%s'", key);
    }
    return 0;
}

static int cmp_created_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "Created"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "Created"));
    return x < y ? 1 : x > y ? -1 : 0;
}

static int h_list(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = cs_of(req);
    bool all = http_req_query_bool(req, "all", false);
    const char *limit = http_req_query(req, "limit");
    json_t *filters = NULL;
    struct container **v;
    size_t n, kept = 0;

    if (api_filters_parse(http_req_query(req, "filters"), &filters, err) < 0)
        return -1;
    if (check_filter_keys(filters, err) < 0) {
        json_decref(filters);
        return -1;
    }
    ctr_list(&cs->store, &v, &n);
    json_t **rows = xcalloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        json_t *s = ctr_summary(cs, v[i]);
        bool running = strcmp(json_string_value(json_object_get(s, "State")), "running") == 0 ||
                       strcmp(json_string_value(json_object_get(s, "State")), "paused") == 0;
        if ((all || running || json_object_get(filters, "status")) && passes(filters, s))
            rows[kept++] = s;
        else
            json_decref(s);
    }
    ctr_list_free(&cs->store, v, n);
    qsort(rows, kept, sizeof(*rows), cmp_created_desc);
    long max = limit ? atol(limit) : -1;
    json_t *out = json_array();
    for (size_t i = 0; i < kept; i++) {
        if (max <= 0 || (long)i < max)
            json_array_append(out, rows[i]);
        json_decref(rows[i]);
    }
    free(rows);
    json_decref(filters);
    http_resp_json(resp, 200, out);
    return 0;
}

static int h_inspect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    http_resp_json(resp, 200, ctr_inspect(cs_of(req), c));
    put(req, c);
    return 0;
}

/* 204 on success, 304 when the operation was already done (EALREADY). */
static int answer(struct http_response *resp, int ret, berr_t *err)
{
    if (ret == 0) {
        http_resp_empty(resp, 204);
        return 0;
    }
    if (*err && (*err)->errnum == EALREADY) {
        berr_free(err);
        http_resp_empty(resp, 304);
        return 0;
    }
    return -1;
}

static int h_start(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_start(cs_of(req), c, NULL, err);
    put(req, c);
    return answer(resp, ret, err);
}

static int timeout_param(struct http_request *req)
{
    const char *t = http_req_query(req, "t");
    if (t == NULL)
        t = http_req_query(req, "timeout");
    return t && *t ? atoi(t) : -1;
}

static int h_stop(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_stop(cs_of(req), c, timeout_param(req), err);
    put(req, c);
    return answer(resp, ret, err);
}

static int h_restart(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_restart(cs_of(req), c, timeout_param(req), err);
    put(req, c);
    return answer(resp, ret, err);
}

static int h_kill(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *name = http_req_query(req, "signal");
    int sig = name && *name ? ctr_signal_parse(name) : SIGKILL;
    struct container *c;

    if (sig < 0)
        return http_err(err, EINVAL, "Invalid signal: %s", name);
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_kill(cs_of(req), c, sig, err);
    put(req, c);
    return answer(resp, ret, err);
}

static int h_pause(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    bool pause = strstr(http_req_path(req), "/unpause") == NULL;
    int ret = ctr_pause(cs_of(req), c, pause, err);
    put(req, c);
    return answer(resp, ret, err);
}

static int h_rename(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *name = http_req_query(req, "name");
    struct container *c;

    if (name == NULL || *name == '\0')
        return http_err(err, EINVAL, "Neither old nor new names may be empty");
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_rename(&cs_of(req)->store, c, name, err);
    put(req, c);
    return answer(resp, ret, err);
}

static int h_remove(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    if (get(req, &c, err) < 0)
        return -1;
    int ret = ctr_remove(cs_of(req), c, http_req_query_bool(req, "force", false),
                         http_req_query_bool(req, "v", false), err);
    put(req, c);
    return answer(resp, ret, err);
}

/* The client that waits: headers now, the body at the condition (engine-api.md, run step 3). */
static int h_wait(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = cs_of(req);
    const char *cond = http_req_query(req, "condition");
    enum ctr_wait_cond wc = WAIT_NOT_RUNNING;
    struct container *c;
    int code = 0;

    if (cond && strcmp(cond, "next-exit") == 0)
        wc = WAIT_NEXT_EXIT;
    else if (cond && strcmp(cond, "removed") == 0)
        wc = WAIT_REMOVED;
    else if (cond && *cond && strcmp(cond, "not-running") != 0)
        return http_err(err, EINVAL, "invalid condition: \"%s\"", cond);
    if (get(req, &c, err) < 0)
        return -1;
    unsigned long ticket = ctr_wait_prepare(cs, c);
    if (http_chunk_begin(resp, 200, "application/json", err) < 0) {
        put(req, c);
        return -1;
    }
    int rc = ctr_wait(cs, c, wc, ticket, &code, err);
    put(req, c);
    if (rc < 0)
        return -1; /* berthd stops: the stream ends unfinished, the client sees no code */
    return http_chunk_json(resp, json_pack("{s:i,s:n}", "StatusCode", code, "Error"), err);
}

/* ---- attach -------------------------------------------------------------------------- */

struct relay {
    struct conn *conn;
    int shim;
    bool tty;                /* Docker watches for the detach keys on a terminal only */
    bool stdin_once;         /* without a TTY, the client's EOF closes the container's stdin */
    struct detach_keys keys; /* the session's detach sequence */
    const char *id;
};

static int write_all_fd(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, int stream, const void *data, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};
    if (write_all_fd(fd, h, 8) < 0)
        return -1;
    return len ? write_all_fd(fd, data, len) : 0;
}

/* Client -> container stdin, as stream-0 frames. Without a TTY the client's EOF closes the
 * container's stdin when it is StdinOnce (else it stays open for the next attach). On a
 * terminal, as with Docker, the detach keys or the end of the client's input end the
 * session instead, and the container keeps its stdin. */
static void *stdin_pump(void *arg)
{
    struct relay *r = arg;
    char buf[16384], out[sizeof(buf) + DETACH_KEYS_MAX];
    for (;;) {
        berr_t e = NULL;
        ssize_t n = conn_read(r->conn, buf, sizeof(buf), CONN_NO_DEADLINE, &e);
        berr_free(&e);
        if (n > 0) {
            bool detached = false;
            size_t len = (size_t)n;
            const char *p = buf;
            if (r->tty) {
                len = detach_keys_feed(&r->keys, buf, len, out, NULL, &detached);
                p = out;
            }
            if ((len == 0 || send_frame(r->shim, 0, p, len) == 0) && !detached)
                continue;
            if (detached)
                log_debug("container %s: attach: the client detached", r->id);
        } else if (n == 0 && r->tty) {
            size_t len = conn_aborted(r->conn) ? 0 : detach_keys_flush(&r->keys, out);
            if (len > 0)
                send_frame(r->shim, 0, out, len);
        } else if (n == 0) {
            /* An end that berthd's shutdown caused is not the client's: the container keeps
             * its stdin (pump_output sees the connection hang up by itself). */
            if (r->stdin_once && !conn_aborted(r->conn))
                send_frame(r->shim, 0, NULL, 0);
            return NULL;
        }
        /* Detached, or the client is gone: stop the output side too. */
        shutdown(r->shim, SHUT_RD);
        return NULL;
    }
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Wait for the shim's next frame; false when the client's connection hung up meanwhile (it
 * closed it, or berthd's shutdown aborted it): a quiet container must not keep us here. */
static bool output_ready(struct conn *conn, int shim)
{
    /* No events asked of the connection: input and a half-close (stdin's end) do not count. */
    struct pollfd p[2] = {{.fd = shim, .events = POLLIN}, {.fd = conn_fd(conn), .events = 0}};

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (p[0].revents != 0)
            return true;
        if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
            return false;
    }
}

/* Container output -> client until the shim closes the socket or the client hangs up. */
static void pump_output(struct conn *conn, int shim, bool tty, bool want_out, bool want_err)
{
    unsigned char h[8];
    char *buf = NULL;
    size_t cap = 0;

    while (output_ready(conn, shim) && read_full(shim, h, 8) == 0) {
        size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (len > cap) {
            char *nb = realloc(buf, len);
            if (nb == NULL)
                break;
            buf = nb;
            cap = len;
        }
        if (read_full(shim, buf, len) < 0)
            break;
        if ((h[0] == 1 && !want_out) || (h[0] == 2 && !want_err))
            continue;
        berr_t e = NULL;
        int ret = tty ? conn_write_all(conn, buf, len, CONN_NO_DEADLINE, &e)
                      : (conn_write_all(conn, h, 8, CONN_NO_DEADLINE, &e) == 0
                             ? conn_write_all(conn, buf, len, CONN_NO_DEADLINE, &e)
                             : -1);
        berr_free(&e);
        if (ret < 0)
            break;
    }
    free(buf);
}

static int h_attach(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = cs_of(req);
    struct container *c;
    bool want_in = http_req_query_bool(req, "stdin", false);
    bool stream = http_req_query_bool(req, "stream", false);
    const char *keys = http_req_query(req, "detachKeys");
    struct relay r = {0};
    pthread_t t;

    if (detach_keys_parse(&r.keys, keys, err) < 0)
        return http_err(err, EINVAL, "Invalid detach keys (%s) provided", keys);
    if (get(req, &c, err) < 0)
        return -1;
    bool tty = json_is_true(json_object_get(c->config, "Tty"));
    r.stdin_once = json_is_true(json_object_get(c->config, "StdinOnce"));
    char id[sizeof(c->id)];
    snprintf(id, sizeof(id), "%s", c->id);
    /* docker run attaches before it starts the container, and sends the start as soon as it
     * has our answer: register for the start's early fd first. */
    unsigned long ticket = 0;
    bool waiting = stream && ctr_attach_register(cs, c, &ticket);
    struct conn *conn = http_hijack(resp, tty ? RAW_STREAM : MUX_STREAM, err);
    if (conn == NULL || !stream) {
        if (waiting)
            ctr_attach_wait_start(cs, c, ticket, false);
        put(req, c);
        return conn ? 0 : -1;
    }
    int shim = waiting ? ctr_attach_wait_start(cs, c, ticket, true) : -1;
    if (shim < 0)
        shim = runtime_attach(c->bundle, err);
    put(req, c);
    if (shim < 0) {
        berr_free(err);
        return 0; /* nothing runs: end the stream */
    }
    r.conn = conn;
    r.shim = shim;
    r.tty = tty;
    r.id = id;
    bool pumping = want_in && pthread_create(&t, NULL, stdin_pump, &r) == 0;
    pump_output(conn, shim, tty, http_req_query_bool(req, "stdout", false),
                http_req_query_bool(req, "stderr", false));
    if (pumping) {
        shutdown(conn_fd(conn), SHUT_RD); /* wake the stdin reader */
        pthread_join(t, NULL);
    }
    close(shim);
    return 0;
}

static int h_resize(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    int h = atoi(http_req_query(req, "h") ? http_req_query(req, "h") : "0");
    int w = atoi(http_req_query(req, "w") ? http_req_query(req, "w") : "0");

    if (get(req, &c, err) < 0)
        return -1;
    int fd = runtime_attach(c->bundle, err);
    put(req, c);
    if (fd < 0)
        return http_err(err, EBUSY, "cannot resize: the container is not running");
    unsigned char size[4] = {(unsigned char)(h >> 8), (unsigned char)h, (unsigned char)(w >> 8),
                             (unsigned char)w};
    send_frame(fd, 5, size, 4);
    close(fd);
    http_resp_send(resp, 200, "text/plain", "", 0);
    return 0;
}

/* ---- top ----------------------------------------------------------------------------- */

/* The cgroup.procs file listing the processes of PID's cgroup (v2, else the pids controller). */
static char *procs_file(pid_t pid)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/cgroup", (int)pid);
    _cleanup_free_ char *text = NULL;
    char *v1 = NULL, *v2 = NULL, *save = NULL;

    if (read_file(path, &text, NULL, NULL) < 0)
        return NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "0::", 3) == 0 && v2 == NULL)
            v2 = xasprintf("/sys/fs/cgroup%s/cgroup.procs", l + 3);
        char *c = strstr(l, ":pids:");
        if (c && v1 == NULL)
            v1 = xasprintf("/sys/fs/cgroup/pids%s/cgroup.procs", c + 6);
    }
    if (v1 && file_exists(v1)) {
        free(v2);
        return v1;
    }
    free(v1);
    if (v2 && access(v2, R_OK) == 0 && strcmp(v2, "/sys/fs/cgroup/cgroup.procs") != 0)
        return v2;
    free(v2);
    return NULL;
}

static json_t *process_row(const char *pid)
{
    _cleanup_free_ char *stat_path = xasprintf("/proc/%s/stat", pid);
    _cleanup_free_ char *cmd_path = xasprintf("/proc/%s/cmdline", pid);
    _cleanup_free_ char *text = NULL, *cmd = NULL;
    size_t cmd_len = 0;
    struct stat st;
    char ppid[16] = "0";
    unsigned long ut = 0, stt = 0;

    if (read_file(stat_path, &text, NULL, NULL) < 0)
        return NULL;
    char *rp = strrchr(text, ')');
    if (rp)
        sscanf(rp + 2, "%*c %15s %*s %*s %*s %*s %*u %*u %*u %*u %*u %lu %lu", ppid, &ut, &stt);
    if (read_file(cmd_path, &cmd, &cmd_len, NULL) < 0 || cmd_len == 0) {
        free(cmd);
        const char *lp = strchr(text, '(');
        cmd = rp && lp ? xasprintf("[%.*s]", (int)(rp - lp - 1), lp + 1) : xstrdup("?");
    } else {
        for (size_t i = 0; i + 1 < cmd_len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
    }
    _cleanup_free_ char *dir = xasprintf("/proc/%s", pid);
    struct passwd *pw = stat(dir, &st) == 0 ? getpwuid(st.st_uid) : NULL;
    _cleanup_free_ char *uid = pw ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)st.st_uid);
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long secs = (ut + stt) / (unsigned long)(hz > 0 ? hz : 100);
    char tm[32];
    snprintf(tm, sizeof(tm), "%02lu:%02lu:%02lu", secs / 3600, secs / 60 % 60, secs % 60);
    return json_pack("[s,s,s,s,s,s,s,s]", uid, pid, ppid, "0", "-", "?", tm, cmd);
}

static int h_top(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = cs_of(req);
    struct container *c;

    if (get(req, &c, err) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    pid_t pid = c->status == CTR_RUNNING || c->status == CTR_PAUSED ? c->pid : 0;
    pthread_mutex_unlock(&cs->store.lock);
    _cleanup_free_ char *id = xstrdup(c->id);
    put(req, c);
    if (pid <= 0)
        return http_err(err, EBUSY, "Container %s is not running", id);
    _cleanup_free_ char *procs = procs_file(pid);
    _cleanup_free_ char *text = NULL;
    if (procs == NULL || read_file(procs, &text, NULL, err) < 0)
        return berr_prefix(err, "container %.12s: list processes", id);
    json_t *rows = json_array();
    char *save = NULL;
    for (char *p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        json_t *row = process_row(p);
        if (row)
            json_array_append_new(rows, row);
    }
    http_resp_json(resp, 200,
                   json_pack("{s:[s,s,s,s,s,s,s,s],s:o}", "Titles", "UID", "PID", "PPID", "C",
                             "STIME", "TTY", "TIME", "CMD", "Processes", rows));
    return 0;
}

/* POST /containers/prune: remove every container that is not running. */
static int h_prune(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = cs_of(req);
    json_t *filters = NULL, *deleted = json_array();
    struct container **v;
    size_t n;

    if (api_filters_parse(http_req_query(req, "filters"), &filters, err) < 0) {
        json_decref(deleted);
        return -1;
    }
    ctr_list(&cs->store, &v, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = ctr_summary(cs, v[i]);
        const char *state = json_string_value(json_object_get(s, "State"));
        bool stopped = strcmp(state, "exited") == 0 || strcmp(state, "created") == 0 ||
                       strcmp(state, "dead") == 0;
        bool match = true;
        size_t k;
        json_t *lv;
        json_array_foreach(json_object_get(filters, "label"), k, lv)
        {
            match = match && api_label_match(json_object_get(s, "Labels"), json_string_value(lv));
        }
        berr_t e = NULL;
        if (stopped && match && ctr_remove(cs, v[i], false, false, &e) == 0)
            json_array_append_new(deleted, json_string(v[i]->id));
        berr_free(&e);
        json_decref(s);
    }
    ctr_list_free(&cs->store, v, n);
    json_decref(filters);
    http_resp_json(resp, 200,
                   json_pack("{s:o,s:i}", "ContainersDeleted", deleted, "SpaceReclaimed", 0));
    return 0;
}

const struct http_route api_container_routes[] = {
    {"POST", "/containers/prune", h_prune, 0},
    {"POST", "/containers/create", h_create, 0},
    {"GET", "/containers/json", h_list, 0},
    {"GET", "/containers/{id}/json", h_inspect, 0},
    {"POST", "/containers/{id}/start", h_start, 0},
    {"POST", "/containers/{id}/stop", h_stop, 0},
    {"POST", "/containers/{id}/restart", h_restart, 0},
    {"POST", "/containers/{id}/kill", h_kill, 0},
    {"POST", "/containers/{id}/pause", h_pause, 0},
    {"POST", "/containers/{id}/unpause", h_pause, 0},
    {"POST", "/containers/{id}/rename", h_rename, 0},
    {"POST", "/containers/{id}/wait", h_wait, 0},
    {"POST", "/containers/{id}/attach", h_attach, 0},
    {"POST", "/containers/{id}/resize", h_resize, 0},
    {"GET", "/containers/{id}/top", h_top, 0},
    {"DELETE", "/containers/{id}", h_remove, 0},
};
const size_t api_container_routes_len =
    sizeof(api_container_routes) / sizeof(api_container_routes[0]);
