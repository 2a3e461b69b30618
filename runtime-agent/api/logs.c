/* GET /containers/{id}/logs?stdout&stderr&follow&tail&timestamps&since&until&details:
 * the container's json-file log through containers/logs.c, as a chunked raw (TTY) or
 * multiplexed stream. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/containers/logs.h"

struct logs_ctx {
    struct http_request *req;
    struct http_response *resp;
    struct ctr_store *store;
    struct container *c;
};

static int sink_write(void *ctx, const void *buf, size_t len, berr_t *err)
{
    struct logs_ctx *x = ctx;

    return http_chunk_write(x->resp, buf, len, err);
}

/* More output may come while the container runs (paused and restarting ones included). */
static bool sink_alive(void *ctx)
{
    struct logs_ctx *x = ctx;

    pthread_mutex_lock(&x->store->lock);
    enum ctr_status st = x->c->status;
    bool removed = x->c->removed;
    pthread_mutex_unlock(&x->store->lock);
    return !removed && (st == CTR_RUNNING || st == CTR_PAUSED || st == CTR_RESTARTING);
}

/* Wait, then notice a client that hung up (docker logs -f interrupted) while no output
 * flowed: writing is not the only way to find out. */
static int sink_idle(void *ctx, int ms, berr_t *err)
{
    struct logs_ctx *x = ctx;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    if (http_req_client_gone(x->req))
        return berr_set(err, 0, "logs: the client went away");
    return 0;
}

static int parse_opts(struct http_request *req, struct log_opts *o, berr_t *err)
{
    const char *since = http_req_query(req, "since");
    const char *until = http_req_query(req, "until");

    o->show_stdout = http_req_query_bool(req, "stdout", false);
    o->show_stderr = http_req_query_bool(req, "stderr", false);
    o->follow = http_req_query_bool(req, "follow", false);
    o->timestamps = http_req_query_bool(req, "timestamps", false);
    o->details = http_req_query_bool(req, "details", false);
    o->tail = logs_parse_tail(http_req_query(req, "tail"));
    if (!o->show_stdout && !o->show_stderr)
        return http_err(err, EINVAL, "Bad parameters: you must choose at least one stream");
    if (logs_parse_unix(since, &o->since_ns) < 0)
        return http_err(err, EINVAL, "invalid value for since: %s", since);
    if (logs_parse_unix(until, &o->until_ns) < 0)
        return http_err(err, EINVAL, "invalid value for until: %s", until);
    return 0;
}

static int h_logs(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = daemon_containers(api_daemon(req));
    struct log_opts o = {0};
    struct container *c;
    const char *type;

    if (parse_opts(req, &o, err) < 0 || ctr_get(&cs->store, http_req_param(req, "id"), &c, err) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    type = json_string_value(json_object_get(json_object_get(c->host, "LogConfig"), "Type"));
    bool none = type != NULL && strcmp(type, "none") == 0;
    o.tty = json_is_true(json_object_get(c->config, "Tty"));
    pthread_mutex_unlock(&cs->store.lock);

    int rc;
    if (none) {
        rc = http_err(err, ENOTSUP, "configured logging driver does not support reading");
    } else {
        _cleanup_free_ char *name = xasprintf("%s-json.log", c->id);
        _cleanup_free_ char *path = path_join(c->dir, name);
        struct logs_ctx x = {.req = req, .resp = resp, .store = &cs->store, .c = c};
        struct log_sink sink = {sink_write, sink_alive, sink_idle, &x};
        rc = http_chunk_begin(resp, 200,
                              o.tty ? "application/vnd.docker.raw-stream"
                                    : "application/vnd.docker.multiplexed-stream",
                              err);
        if (rc == 0)
            rc = logs_stream(path, &o, &sink, err);
    }
    ctr_put(&cs->store, c);
    return rc;
}

const struct http_route api_logs_routes[] = {
    {"GET", "/containers/{id}/logs", h_logs, 0},
};
const size_t api_logs_routes_len = sizeof(api_logs_routes) / sizeof(api_logs_routes[0]);
