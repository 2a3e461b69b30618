/* GET /containers/{id}/stats?stream&one-shot: Docker's StatsJSON, built from the runtime's
 * cgroup statistics (runtime_stats), the network counters of the container's namespace and
 * the host's CPU time. Every object carries the previous sample as precpu_stats/preread,
 * from which clients compute the CPU percentage.
 *
 * stream (the default) sends one object a second as a chunked stream until the client goes
 * away, the container is removed or berthd shuts down (waits are on the container store's
 * condition, which both of those broadcast). Like dockerd, a container that is not running
 * yields zeroed objects (name and id only), the stream going on while the container exists.
 * stream=false answers one object, with precpu_stats from a sample a second earlier unless
 * one-shot=true asks for no wait. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/lifecycle.h"
#include "runtime-agent/log.h"
#include "runtime-agent/runtime/runtime.h"
#include "runtime-agent/timefmt.h"

#define STATS_INTERVAL_MS 1000
#define ZERO_TIME "0001-01-01T00:00:00Z"

struct sample {
    bool valid; /* taken from a running container */
    char *read;
    struct runtime_stats st;
    uint64_t system_ns;
    struct runtime_netdev *net;
    size_t n_net;
};

static void sample_free(struct sample *s)
{
    free(s->read);
    runtime_stats_free(&s->st);
    free(s->net);
    memset(s, 0, sizeof(*s));
}

/* Sample C now; a container that is not running (or stops meanwhile) gives an invalid one. */
static void sample_take(struct containers *cs, struct container *c, struct sample *s)
{
    berr_t err = NULL;

    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&cs->store.lock);
    bool running = !c->removed && (c->status == CTR_RUNNING || c->status == CTR_PAUSED);
    pid_t pid = c->pid;
    pthread_mutex_unlock(&cs->store.lock);
    if (!running)
        return;
    s->read = time_rfc3339_now();
    if (runtime_stats(c->bundle, &s->st, &err) < 0 ||
        runtime_system_cpu_ns(&s->system_ns, &err) < 0 ||
        runtime_net_stats(pid, &s->net, &s->n_net, &err) < 0) {
        log_debug("stats of %.12s: %s", c->id, berr_msg(err));
        berr_free(&err);
        sample_free(s);
    }
    s->valid = s->read != NULL;
}

static uint64_t host_memory(void)
{
    struct sysinfo si;

    return sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
}

static json_t *cpu_json(const struct sample *s)
{
    json_t *usage = json_pack("{s:I, s:I, s:I}", "total_usage", (json_int_t)s->st.cpu_usage_ns,
                              "usage_in_kernelmode", (json_int_t)s->st.cpu_kernel_ns,
                              "usage_in_usermode", (json_int_t)s->st.cpu_user_ns);
    if (s->st.n_percpu > 0) {
        json_t *per = json_array();
        for (size_t i = 0; i < s->st.n_percpu; i++)
            json_array_append_new(per, json_integer((json_int_t)s->st.percpu_ns[i]));
        json_object_set_new(usage, "percpu_usage", per);
    }
    json_t *cpu = json_pack("{s:o, s:{s:I, s:I, s:I}}", "cpu_usage", usage, "throttling_data",
                            "periods", (json_int_t)s->st.throttle_periods, "throttled_periods",
                            (json_int_t)s->st.throttled_periods, "throttled_time",
                            (json_int_t)s->st.throttled_ns);
    if (s->valid) {
        json_object_set_new(cpu, "system_cpu_usage", json_integer((json_int_t)s->system_ns));
        json_object_set_new(cpu, "online_cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    }
    return cpu;
}

static json_t *memory_json(const struct sample *s)
{
    json_t *mem = json_object();

    if (!s->valid)
        return mem;
    json_t *stats = json_object();
    for (size_t i = 0; i < s->st.n_memory_stat; i++)
        json_object_set_new(stats, s->st.memory_stat[i].key,
                            json_integer((json_int_t)s->st.memory_stat[i].value));
    json_object_set_new(mem, "usage", json_integer((json_int_t)s->st.memory_usage));
    if (s->st.memory_max_usage > 0)
        json_object_set_new(mem, "max_usage", json_integer((json_int_t)s->st.memory_max_usage));
    json_object_set_new(mem, "stats", stats);
    if (s->st.memory_failcnt > 0)
        json_object_set_new(mem, "failcnt", json_integer((json_int_t)s->st.memory_failcnt));
    uint64_t limit = s->st.memory_limit > 0 ? s->st.memory_limit : host_memory();
    json_object_set_new(mem, "limit", json_integer((json_int_t)limit));
    return mem;
}

static json_t *blkio_json(const struct sample *s)
{
    static const char *const keys[] = {"io_serviced_recursive",     "io_queue_recursive",
                                       "io_service_time_recursive", "io_wait_time_recursive",
                                       "io_merged_recursive",       "io_time_recursive",
                                       "sectors_recursive"};
    json_t *bytes = json_array();
    json_t *blkio = json_pack("{s:o}", "io_service_bytes_recursive", bytes);

    for (size_t i = 0; i < s->st.n_blkio; i++) {
        const struct runtime_blkio *b = &s->st.blkio[i];
        json_array_append_new(bytes,
                              json_pack("{s:i, s:i, s:s, s:I}", "major", (int)b->major, "minor",
                                        (int)b->minor, "op", b->op, "value", (json_int_t)b->value));
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set_new(blkio, keys[i], json_array());
    return blkio;
}

static json_t *networks_json(const struct sample *s)
{
    json_t *nets = json_object();

    for (size_t i = 0; i < s->n_net; i++) {
        const struct runtime_netdev *d = &s->net[i];
        json_object_set_new(
            nets, d->name,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes",
                      (json_int_t)d->rx_bytes, "rx_packets", (json_int_t)d->rx_packets, "rx_errors",
                      (json_int_t)d->rx_errors, "rx_dropped", (json_int_t)d->rx_dropped, "tx_bytes",
                      (json_int_t)d->tx_bytes, "tx_packets", (json_int_t)d->tx_packets, "tx_errors",
                      (json_int_t)d->tx_errors, "tx_dropped", (json_int_t)d->tx_dropped));
    }
    return nets;
}

/* Docker's StatsJSON for CUR with PREV as the previous sample. */
static json_t *stats_json(const char *name, const char *id, const struct sample *cur,
                          const struct sample *prev)
{
    json_t *pids = json_object();

    if (cur->valid) {
        json_object_set_new(pids, "current", json_integer((json_int_t)cur->st.pids_current));
        if (cur->st.pids_limit > 0)
            json_object_set_new(pids, "limit", json_integer((json_int_t)cur->st.pids_limit));
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:i, s:{}, s:o, s:o, s:o, s:s, s:s}", "read",
                            cur->valid ? cur->read : ZERO_TIME, "preread",
                            prev->valid ? prev->read : ZERO_TIME, "pids_stats", pids, "blkio_stats",
                            blkio_json(cur), "num_procs", 0, "storage_stats", "cpu_stats",
                            cpu_json(cur), "precpu_stats", cpu_json(prev), "memory_stats",
                            memory_json(cur), "name", name, "id", id);
    if (cur->n_net > 0)
        json_object_set_new(doc, "networks", networks_json(cur));
    return doc;
}

/* Wait MS or until C is removed or berthd shuts down; false when the stream must end. */
static bool stats_pause(struct containers *cs, struct container *c, int ms)
{
    struct timespec dl;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= NS_PER_SEC) {
        dl.tv_sec++;
        dl.tv_nsec -= NS_PER_SEC;
    }
    pthread_mutex_lock(&cs->store.lock);
    while (!c->removed && !cs->shutting_down)
        if (pthread_cond_timedwait(&cs->store.changed, &cs->store.lock, &dl) == ETIMEDOUT)
            break;
    bool go_on = !c->removed && !cs->shutting_down;
    pthread_mutex_unlock(&cs->store.lock);
    return go_on;
}

static int stream_stats(struct http_request *req, struct http_response *resp, struct containers *cs,
                        struct container *c, const char *name, berr_t *err)
{
    struct sample prev = {0}, cur;
    int rc = http_chunk_begin(resp, 200, "application/json", err);

    while (rc == 0) {
        sample_take(cs, c, &cur);
        rc = http_chunk_json(resp, stats_json(name, c->id, &cur, &prev), err);
        sample_free(&prev);
        prev = cur;
        if (rc < 0 || !stats_pause(cs, c, STATS_INTERVAL_MS) || http_req_client_gone(req))
            break;
    }
    sample_free(&prev);
    return rc;
}

static int h_stats(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct containers *cs = daemon_containers(api_daemon(req));
    bool stream = http_req_query_bool(req, "stream", true);
    bool one_shot = http_req_query_bool(req, "one-shot", false);
    struct container *c;

    if (one_shot && stream)
        return http_err(err, EINVAL, "cannot have stream=true and one-shot=true");
    if (ctr_get(&cs->store, http_req_param(req, "id"), &c, err) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    _cleanup_free_ char *name = xasprintf("/%s", c->name);
    pthread_mutex_unlock(&cs->store.lock);

    int rc = 0;
    if (stream) {
        rc = stream_stats(req, resp, cs, c, name, err);
    } else {
        struct sample prev = {0}, cur;
        sample_take(cs, c, &cur);
        if (cur.valid && !one_shot && stats_pause(cs, c, STATS_INTERVAL_MS)) {
            prev = cur;
            sample_take(cs, c, &cur);
        }
        http_resp_json(resp, 200, stats_json(name, c->id, &cur, &prev));
        sample_free(&cur);
        sample_free(&prev);
    }
    ctr_put(&cs->store, c);
    return rc;
}

const struct http_route api_stats_routes[] = {
    {"GET", "/containers/{id}/stats", h_stats, 0},
};
const size_t api_stats_routes_len = sizeof(api_stats_routes) / sizeof(api_stats_routes[0]);
