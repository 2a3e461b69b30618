#include "runtime-agent/containers/lifecycle.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/timefmt.h"
#include "runtime-agent/containers/exec.h"
#include "runtime-agent/containers/mounts.h"
#include "runtime-agent/containers/netattach.h"
#include "runtime-agent/containers/spec.h"
#include "runtime-agent/daemon.h"
#include "runtime-agent/events.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/remap.h"
#include "runtime-agent/network/portproxy.h"
#include "runtime-agent/runtime/runtime.h"

#define DEFAULT_STOP_TIMEOUT 10
/* Where -P and -p without a host port take their ports from (the range Docker tutorials cite). */
#define PUBLISH_FIRST 49000
#define PUBLISH_LAST 49900

static int start_locked(struct containers *cs, struct container *c, int *attach_fd, berr_t *err);

/* ---- monitoring ---------------------------------------------------------------------- */

struct monitor {
    struct containers *cs;
    struct container *c;
    pid_t shim;
};

static bool policy_restarts(const struct container *c)
{
    const json_t *rp = json_object_get(c->host, "RestartPolicy");
    const char *name = json_string_value(json_object_get(rp, "Name"));
    long max = (long)json_integer_value(json_object_get(rp, "MaximumRetryCount"));

    if (name == NULL || c->stop_requested || c->removed)
        return false;
    if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0)
        return true;
    if (strcmp(name, "on-failure") == 0)
        return c->exit_code != 0 && (max <= 0 || c->restart_count < max);
    return false;
}

/* Record what the runtime says about C's end. Caller holds the store lock. */
static void record_exit(struct containers *cs, struct container *c)
{
    struct runtime_state st;
    berr_t err = NULL;

    if (runtime_state(c->bundle, &st, &err) == 0) {
        c->exit_code = st.exit_code;
        c->oom_killed = st.oom_killed;
        free(c->error);
        c->error = xstrdup(st.error);
        free(c->finished_at);
        c->finished_at = st.finished_at[0] ? xstrdup(st.finished_at) : time_rfc3339_now();
    } else {
        c->exit_code = 255;
        free(c->error);
        c->error = xstrdup(berr_msg(err));
        free(c->finished_at);
        c->finished_at = time_rfc3339_now();
    }
    berr_free(&err);
    portproxy_stop(c->proxy);
    c->proxy = NULL;
    json_decref(c->ports);
    c->ports = NULL;
    netattach_down(cs, c);
    c->status = CTR_EXITED;
    c->pid = 0;
    c->exits++;
    events_container_num(c, "die", "exitCode", c->exit_code);
    events_volume_mounts(c, "unmount");
    ctr_save(&cs->store, c, NULL);
    pthread_cond_broadcast(&cs->store.changed);
}

/* Whether `docker stop`, `rm` or the daemon's shutdown came during a restart's back-off: then
 * C stays exited. */
static bool restart_cancelled(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    bool cancel = c->stop_requested || c->removed || cs->shutting_down;
    if (cancel) {
        c->status = CTR_EXITED;
        ctr_save(&cs->store, c, NULL);
        pthread_cond_broadcast(&cs->store.changed);
    }
    pthread_mutex_unlock(&cs->store.lock);
    return cancel;
}

/* Sleep DELAY_MS before a restart, or less when the daemon shuts down. */
static void backoff(struct containers *cs, long delay_ms)
{
    struct timespec ts;

    deadline_in(&ts, delay_ms);
    pthread_mutex_lock(&cs->store.lock);
    while (!cs->shutting_down)
        if (pthread_cond_timedwait(&cs->store.changed, &cs->store.lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&cs->store.lock);
}

/* After an exit: restart per policy (with Docker's doubling back-off) or auto-remove. */
static void after_exit(struct containers *cs, struct container *c)
{
    bool auto_remove = json_is_true(json_object_get(c->host, "AutoRemove"));
    long delay_ms = 100;

    pthread_mutex_lock(&c->op);
    for (;;) {
        pthread_mutex_lock(&cs->store.lock);
        /* Not when someone started C again before we got the op lock (`docker restart`). */
        bool restart = c->status == CTR_EXITED && policy_restarts(c) && !cs->shutting_down;
        if (restart) {
            c->status = CTR_RESTARTING;
            c->restart_count++;
            pthread_cond_broadcast(&cs->store.changed);
        }
        pthread_mutex_unlock(&cs->store.lock);
        if (!restart)
            break;
        backoff(cs, delay_ms);
        if (restart_cancelled(cs, c))
            break;
        if (start_locked(cs, c, NULL, NULL) == 0)
            break;
        pthread_mutex_lock(&cs->store.lock);
        c->status = CTR_EXITED;
        pthread_mutex_unlock(&cs->store.lock);
        delay_ms = delay_ms < 60000 ? delay_ms * 2 : delay_ms;
    }
    pthread_mutex_unlock(&c->op);
    if (auto_remove && c->status == CTR_EXITED && !c->removed)
        ctr_remove(cs, c, true, true, NULL);
}

/* Wait for the shim's exit, or for containers_close (then the container runs on and the next
 * berthd picks it up). Counted in cs->monitors, so that containers_close can wait for the
 * end of every monitor before it frees what they use. */
static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    struct containers *cs = m->cs;
    struct container *c = m->c;
    int pfd = (int)syscall(SYS_pidfd_open, m->shim, 0);
    bool exited = true;

    if (pfd >= 0) {
        struct pollfd p[2] = {{.fd = pfd, .events = POLLIN}, {.fd = cs->stop_fd, .events = POLLIN}};
        while (poll(p, 2, -1) < 0 && errno == EINTR)
            ;
        exited = p[0].revents != 0;
        close(pfd);
    }
    if (exited) {
        pthread_mutex_lock(&cs->store.lock);
        c->monitored = false;
        if (c->status == CTR_RUNNING || c->status == CTR_PAUSED)
            record_exit(cs, c);
        pthread_mutex_unlock(&cs->store.lock);
        after_exit(cs, c);
    }
    ctr_put(&cs->store, c);
    free(m);
    pthread_mutex_lock(&cs->store.lock);
    if (--cs->monitors == 0)
        pthread_cond_broadcast(&cs->store.changed);
    pthread_mutex_unlock(&cs->store.lock);
    return NULL;
}

/* Watch C's shim until it exits. Caller holds the store lock. */
static void monitor_start(struct containers *cs, struct container *c)
{
    struct monitor *m = xcalloc(1, sizeof(*m));
    pthread_t t;
    pthread_attr_t attr;

    m->cs = cs;
    m->c = c;
    m->shim = c->shim_pid;
    c->refs++;
    c->monitored = true;
    cs->monitors++;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, monitor_main, m) != 0) {
        c->refs--;
        c->monitored = false;
        cs->monitors--;
        free(m);
    }
    pthread_attr_destroy(&attr);
}

/* ---- start --------------------------------------------------------------------------- */

/* "host", "new" or a /proc/PID/ns/KIND path from a mode like "container:NAME". */
static int ns_for(struct containers *cs, const char *mode, const char *kind, char **out,
                  berr_t *err)
{
    struct container *other = NULL;

    if (mode != NULL && strcmp(mode, "host") == 0) {
        *out = xstrdup("host");
        return 0;
    }
    if (mode == NULL || strncmp(mode, "container:", 10) != 0) {
        *out = xstrdup("new");
        return 0;
    }
    if (ctr_get(&cs->store, mode + 10, &other, err) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    pid_t pid = other->status == CTR_RUNNING || other->status == CTR_PAUSED ? other->pid : 0;
    pthread_mutex_unlock(&cs->store.lock);
    ctr_put(&cs->store, other);
    if (pid <= 0)
        return http_err(err, EBUSY,
                        "cannot join the %s namespace of container %s: it is not "
                        "running",
                        kind, mode + 10);
    *out = xasprintf("/proc/%d/ns/%s", (int)pid, kind);
    return 0;
}

static char *hostname_for(struct container *c, bool host_net)
{
    const char *h = json_string_value(json_object_get(c->config, "Hostname"));
    char buf[256];

    if (h && *h)
        return xstrdup(h);
    if (host_net && gethostname(buf, sizeof(buf)) == 0) {
        buf[sizeof(buf) - 1] = '\0';
        return xstrdup(buf);
    }
    return xasprintf("%.12s", c->id);
}

const struct remap *ctr_remap(const struct containers *cs, const struct container *c)
{
    const char *mode = json_string_value(json_object_get(c->host, "UsernsMode"));
    return mode && strcmp(mode, "host") == 0 ? NULL : cs->remap;
}

/* With a remapped root: what the container's root must own on disk, its /etc files (bind
 * mounted) and the overlay's upper dir (the root directory it sees). */
static int chown_for_remap(struct container *c, const struct remap *r, berr_t *err)
{
    static const char *const names[] = {"hosts", "hostname", "resolv.conf", "upper"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        _cleanup_free_ char *path = path_join(c->dir, names[i]);
        if (lchown(path, r->uid, r->gid) < 0 && errno != ENOENT)
            return berr_set(err, errno, "container %.12s: chown %s to the remapped root", c->id,
                            path);
    }
    return 0;
}

/* Write the bundle (spec.json and /etc files) for C's next run, its network up. *IMG gets
 * the image's configuration (the caller's to release), which bind_ports reuses. */
static int prepare_bundle(struct containers *cs, struct container *c, json_t **img, berr_t *err)
{
    const json_t *hc = c->host;
    const char *net = json_string_value(json_object_get(hc, "NetworkMode"));
    _cleanup_free_ char *net_ns = NULL, *ipc_ns = NULL, *pid_ns = NULL, *uts_ns = NULL;
    _cleanup_free_ char *hostname = NULL, *spec_path = NULL, *text = NULL;
    struct spec_inputs in = {0};
    json_t *spec = NULL, *link_env = NULL;
    bool host_net = net && strcmp(net, "host") == 0;
    bool net_up = false;
    int ret = -1;

    if (ns_for(cs, json_string_value(json_object_get(hc, "IpcMode")), "ipc", &ipc_ns, err) < 0 ||
        ns_for(cs, json_string_value(json_object_get(hc, "PidMode")), "pid", &pid_ns, err) < 0 ||
        ns_for(cs, net && strncmp(net, "container:", 10) == 0 ? net : NULL, "uts", &uts_ns, err) <
            0)
        return -1;
    if (net && strncmp(net, "container:", 10) == 0 && ns_for(cs, net, "net", &net_ns, err) < 0)
        return -1;
    if (image_layer_dirs(cs->images, c->image_id, &in.layers, &in.n_layers, err) < 0 ||
        image_get_config(cs->images, c->image_id, img, err) < 0 ||
        mounts_spec(cs, c, &in.mounts, err) < 0)
        goto out;
    hostname = hostname_for(c, host_net);
    if (json_object_get(c->config, "Hostname") == NULL ||
        !json_string_length(json_object_get(c->config, "Hostname")))
        json_object_set_new(c->config, "Hostname", json_string(hostname));
    if (net_ns == NULL) {
        if (netattach_up(cs, c, hostname, &net_ns, &link_env, err) < 0)
            goto out;
        net_up = true;
    } else if (spec_write_etc(c, hostname, false, err) < 0) {
        goto out;
    }
    in.image_config = json_object_get(*img, "config");
    in.net_ns = net_ns;
    in.ipc_ns = ipc_ns;
    in.pid_ns = pid_ns;
    in.uts_ns = uts_ns;
    in.cgroup_parent = cs->cgroup_parent;
    in.link_env = link_env;
    in.remap = ctr_remap(cs, c);
    if (spec_write_hostname(c, hostname, err) < 0 ||
        (in.remap && chown_for_remap(c, in.remap, err) < 0) || spec_build(c, &in, &spec, err) < 0)
        goto out;
    if (rm_rf(c->bundle, err) < 0 || mkdir_p(c->bundle, 0700, err) < 0)
        goto out;
    spec_path = path_join(c->bundle, "spec.json");
    text = json_dumps(spec, JSON_COMPACT);
    ret = write_file_atomic(spec_path, text, strlen(text), 0600, err);
out:
    if (ret < 0 && net_up) {
        pthread_mutex_lock(&cs->store.lock);
        netattach_down(cs, c);
        pthread_mutex_unlock(&cs->store.lock);
    }
    image_free_dirs(in.layers, in.n_layers);
    json_decref(in.mounts);
    json_decref(spec);
    json_decref(link_env);
    return ret;
}

/* Docker's wording for a command that cannot run, which the CLI maps to 126/127. */
static int start_failed(struct containers *cs, struct container *c, berr_t *err)
{
    pthread_mutex_lock(&cs->store.lock);
    record_exit(cs, c);
    const char *why = c->error && *c->error ? c->error : berr_msg(err ? *err : NULL);
    _cleanup_free_ char *msg = xstrdup(why);
    pthread_mutex_unlock(&cs->store.lock);
    return http_err(err, EINVAL,
                    "failed to create task for container: failed to create shim task: OCI "
                    "runtime create failed: %s: unknown",
                    msg);
}

/* The ports C publishes: PortBindings and, with -P, its exposed ports and its image's (IMG,
 * its configuration). With SAVED (a restart of berthd) the host ports are the ones it had. */
static int bind_ports(struct container *c, const json_t *img, const json_t *saved,
                      struct port_proxy **proxy, json_t **ports, berr_t *err)
{
    json_t *exposed = json_object();
    const json_t *hc = c->host;

    if (saved == NULL)
        json_object_update(exposed,
                           json_object_get(json_object_get(img, "config"), "ExposedPorts"));
    json_object_update(exposed, json_object_get(c->config, "ExposedPorts"));
    int ret = portproxy_bind(saved ? saved : json_object_get(hc, "PortBindings"), exposed,
                             !saved && json_is_true(json_object_get(hc, "PublishAllPorts")),
                             PUBLISH_FIRST, PUBLISH_LAST, proxy, ports, err);
    json_decref(exposed);
    return ret;
}

static int start_locked(struct containers *cs, struct container *c, int *attach_fd, berr_t *err)
{
    struct runtime_state st;
    berr_t local = NULL;
    berr_t *e = err ? err : &local;
    int early = -1;

    pthread_mutex_lock(&cs->store.lock);
    enum ctr_status status = c->status;
    bool removed = c->removed;
    /* Attachers waiting for this start get a connection made before the command runs. */
    bool handoff = attach_fd == NULL && c->attach_waiters > 0;
    pthread_mutex_unlock(&cs->store.lock);
    if (handoff)
        attach_fd = &early;
    if (removed)
        return http_err(e, ENOENT, "No such container: %s", c->id);
    if (status == CTR_RUNNING || status == CTR_PAUSED)
        return berr_set(e, EALREADY, "container %.12s is already running", c->id);
    struct port_proxy *proxy = NULL;
    json_t *ports = NULL, *img = NULL;
    if (prepare_bundle(cs, c, &img, e) < 0) {
        json_decref(img);
        goto fail;
    }
    int bound = bind_ports(c, img, NULL, &proxy, &ports, e);
    json_decref(img);
    if (bound < 0) {
        pthread_mutex_lock(&cs->store.lock);
        netattach_down(cs, c);
        pthread_mutex_unlock(&cs->store.lock);
        goto fail;
    }
    if (runtime_start(c->bundle, attach_fd, e) < 0) {
        portproxy_stop(proxy);
        json_decref(ports);
        int ret = start_failed(cs, c, e);
        berr_free(&local);
        return ret;
    }
    if (runtime_state(c->bundle, &st, e) < 0 || portproxy_start(proxy, st.pid, e) < 0) {
        portproxy_stop(proxy);
        json_decref(ports);
        if (early >= 0)
            close(early);
        runtime_kill(c->bundle, SIGKILL, NULL);
        berr_free(&local);
        return -1;
    }
    pthread_mutex_lock(&cs->store.lock);
    c->status = CTR_RUNNING;
    c->pid = st.pid;
    c->shim_pid = st.shim_pid;
    c->exit_code = 0;
    c->oom_killed = false;
    free(c->error);
    c->error = NULL;
    free(c->started_at);
    c->started_at = st.started_at[0] ? xstrdup(st.started_at) : time_rfc3339_now();
    free(c->finished_at);
    c->finished_at = NULL;
    c->stop_requested = false;
    c->proxy = proxy;
    json_decref(c->ports);
    c->ports = ports;
    if (handoff) {
        /* In the same critical section as starts++, so a woken waiter finds it. */
        if (c->attach_fd >= 0)
            close(c->attach_fd);
        c->attach_fd = early;
    }
    c->starts++;
    events_volume_mounts(c, "mount");
    events_container(c, "start", NULL);
    ctr_save(&cs->store, c, NULL);
    monitor_start(cs, c);
    pthread_cond_broadcast(&cs->store.changed);
    pthread_mutex_unlock(&cs->store.lock);
    netattach_links_refresh(cs, c);
    return 0;
fail:
    berr_free(&local);
    return -1;
}

int ctr_start(struct containers *cs, struct container *c, int *attach_fd, berr_t *err)
{
    pthread_mutex_lock(&c->op);
    int ret = start_locked(cs, c, attach_fd, err);
    pthread_mutex_lock(&cs->store.lock);
    if (ret < 0)
        c->starts++; /* wake attach waiters: nothing will come */
    pthread_cond_broadcast(&cs->store.changed);
    pthread_mutex_unlock(&cs->store.lock);
    pthread_mutex_unlock(&c->op);
    /* Docker removes an --rm container whose start failed; `run --rm` waits for that. */
    if (ret < 0 && json_is_true(json_object_get(c->host, "AutoRemove")))
        ctr_remove(cs, c, true, true, NULL);
    return ret;
}

bool ctr_attach_register(struct containers *cs, struct container *c, unsigned long *ticket)
{
    pthread_mutex_lock(&cs->store.lock);
    events_container(c, "attach", NULL);
    bool waiting = c->status == CTR_CREATED || c->status == CTR_EXITED;
    if (waiting) {
        *ticket = c->starts;
        c->attach_waiters++;
    }
    pthread_mutex_unlock(&cs->store.lock);
    return waiting;
}

int ctr_attach_wait_start(struct containers *cs, struct container *c, unsigned long ticket,
                          bool wait)
{
    int fd = -1;

    pthread_mutex_lock(&cs->store.lock);
    while (wait && c->starts == ticket && !c->removed && !cs->shutting_down)
        pthread_cond_wait(&cs->store.changed, &cs->store.lock);
    c->attach_waiters--;
    if (wait) {
        fd = c->attach_fd;
        c->attach_fd = -1;
    }
    pthread_mutex_unlock(&cs->store.lock);
    return fd;
}

/* ---- stop, kill, wait ---------------------------------------------------------------- */

static bool is_running(const struct container *c)
{
    return c->status == CTR_RUNNING || c->status == CTR_PAUSED;
}

/* Wait until C is not running or TIMEOUT_MS passed (with UNTIL_SHUTDOWN: or the daemon
 * shuts down); true when it stopped. Lock held. */
static bool wait_stopped(struct containers *cs, struct container *c, long timeout_ms,
                         bool until_shutdown)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    while (is_running(c) && !(until_shutdown && cs->shutting_down)) {
        if (pthread_cond_timedwait(&cs->store.changed, &cs->store.lock, &ts) == ETIMEDOUT)
            break;
    }
    return !is_running(c);
}

static int stop_signal(const struct container *c)
{
    int sig = ctr_signal_parse(json_string_value(json_object_get(c->config, "StopSignal")));
    return sig > 0 ? sig : SIGTERM;
}

static void request_stop(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    if (!c->removed) {
        c->stop_requested = true;
        ctr_save(&cs->store, c, NULL);
    }
    pthread_mutex_unlock(&cs->store.lock);
}

int ctr_stop(struct containers *cs, struct container *c, int timeout, berr_t *err)
{
    int ret = 0;

    /* A stop cancels a restart the restart policy has pending (Docker does the same): mark it
     * before waiting for the op lock, which a restart's back-off holds, and again after, in
     * case a restart that completed meanwhile cleared the mark. */
    request_stop(cs, c);
    pthread_mutex_lock(&c->op);
    request_stop(cs, c);
    pthread_mutex_lock(&cs->store.lock);
    if (!is_running(c)) {
        pthread_mutex_unlock(&cs->store.lock);
        pthread_mutex_unlock(&c->op);
        return berr_set(err, EALREADY, "container %.12s is not running", c->id);
    }
    if (timeout < 0) {
        json_t *t = json_object_get(c->config, "StopTimeout");
        timeout = json_is_integer(t) ? (int)json_integer_value(t) : DEFAULT_STOP_TIMEOUT;
    }
    if (c->status == CTR_PAUSED)
        runtime_pause(c->bundle, false, NULL); /* a frozen process cannot handle its signal */
    events_container_num(c, "kill", "signal", stop_signal(c));
    pthread_mutex_unlock(&cs->store.lock);
    if (runtime_kill(c->bundle, stop_signal(c), err) < 0)
        berr_free(err); /* it may have exited meanwhile; SIGKILL below settles it */
    pthread_mutex_lock(&cs->store.lock);
    /* At the daemon's shutdown the grace period ends early, without the SIGKILL: the
     * container had its stop signal, and the next berthd records its exit. */
    bool stopped = wait_stopped(cs, c, (long)timeout * 1000, true);
    if (!stopped && cs->shutting_down) {
        ret = berr_set(err, ESHUTDOWN, "container %.12s: stop: berthd is shutting down", c->id);
    } else if (!stopped) {
        events_container_num(c, "kill", "signal", SIGKILL);
        pthread_mutex_unlock(&cs->store.lock);
        runtime_kill(c->bundle, SIGKILL, NULL);
        pthread_mutex_lock(&cs->store.lock);
        if (!wait_stopped(cs, c, 30000, false))
            ret = berr_set(err, ETIMEDOUT, "container %.12s did not exit after SIGKILL", c->id);
    }
    if (ret == 0)
        events_container(c, "stop", NULL);
    pthread_mutex_unlock(&cs->store.lock);
    pthread_mutex_unlock(&c->op);
    return ret;
}

int ctr_kill(struct containers *cs, struct container *c, int sig, berr_t *err)
{
    pthread_mutex_lock(&cs->store.lock);
    bool running = is_running(c);
    const char *ss = json_string_value(json_object_get(c->config, "StopSignal"));
    /* Docker: SIGKILL, the stop signal, or any signal when none is configured means the
     * container was stopped by hand: its restart policy does not bring it back. */
    if (running && (sig == SIGKILL || ss == NULL || *ss == '\0' || ctr_signal_parse(ss) == sig)) {
        c->stop_requested = true;
        ctr_save(&cs->store, c, NULL);
    }
    if (running)
        events_container_num(c, "kill", "signal", sig);
    pthread_mutex_unlock(&cs->store.lock);
    if (!running)
        return http_err(err, EBUSY, "Cannot kill container: %s: Container %s is not running", c->id,
                        c->id);
    return runtime_kill(c->bundle, sig, err);
}

int ctr_restart(struct containers *cs, struct container *c, int timeout, berr_t *err)
{
    if (ctr_stop(cs, c, timeout, err) < 0) {
        if (*err == NULL || (*err)->errnum != EALREADY)
            return -1;
        berr_free(err);
    }
    if (ctr_start(cs, c, NULL, err) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    events_container(c, "restart", NULL);
    pthread_mutex_unlock(&cs->store.lock);
    return 0;
}

int ctr_pause(struct containers *cs, struct container *c, bool pause, berr_t *err)
{
    int ret;

    pthread_mutex_lock(&c->op);
    pthread_mutex_lock(&cs->store.lock);
    enum ctr_status st = c->status;
    pthread_mutex_unlock(&cs->store.lock);
    if (pause && st != CTR_RUNNING)
        ret = http_err(err, EBUSY,
                       st == CTR_PAUSED ? "Container %s is already paused"
                                        : "Container %s is not running",
                       c->id);
    else if (!pause && st != CTR_PAUSED)
        ret = http_err(err, EBUSY, "Container %s is not paused", c->id);
    else
        ret = runtime_pause(c->bundle, pause, err);
    if (ret == 0) {
        pthread_mutex_lock(&cs->store.lock);
        c->status = pause ? CTR_PAUSED : CTR_RUNNING;
        events_container(c, pause ? "pause" : "unpause", NULL);
        ctr_save(&cs->store, c, NULL);
        pthread_cond_broadcast(&cs->store.changed);
        pthread_mutex_unlock(&cs->store.lock);
    }
    pthread_mutex_unlock(&c->op);
    return ret;
}

unsigned long ctr_wait_prepare(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    unsigned long t = c->exits;
    pthread_mutex_unlock(&cs->store.lock);
    return t;
}

static bool wait_done(const struct container *c, enum ctr_wait_cond cond, unsigned long ticket)
{
    switch (cond) {
    case WAIT_NOT_RUNNING:
        return c->removed || (!is_running(c) && c->status != CTR_RESTARTING);
    case WAIT_NEXT_EXIT:
        return c->removed || c->exits != ticket;
    case WAIT_REMOVED:
        return c->remove_done;
    }
    return true;
}

int ctr_wait(struct containers *cs, struct container *c, enum ctr_wait_cond cond,
             unsigned long ticket, int *code, berr_t *err)
{
    pthread_mutex_lock(&cs->store.lock);
    while (!wait_done(c, cond, ticket) && !cs->shutting_down)
        pthread_cond_wait(&cs->store.changed, &cs->store.lock);
    bool done = wait_done(c, cond, ticket);
    *code = c->exit_code;
    pthread_mutex_unlock(&cs->store.lock);
    if (!done)
        return berr_set(err, ESHUTDOWN, "container %.12s: wait: berthd is shutting down", c->id);
    return 0;
}

/* ---- create and remove --------------------------------------------------------------- */

static bool name_ok(const char *n)
{
    if (*n == '/')
        n++;
    if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9')))
        return false;
    if (strlen(n) < 2)
        return false;
    for (const char *p = n + 1; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    }
    return true;
}

/* dockerd records the log driver it chose: an absent or empty LogConfig.Type is json-file
 * (docker-py's containers.run reads HostConfig.LogConfig.Type back). */
static void default_log_config(json_t *host)
{
    json_t *lc = json_object_get(host, "LogConfig");
    const char *type = json_string_value(json_object_get(lc, "Type"));

    if (!json_is_object(lc)) {
        lc = json_object();
        json_object_set_new(host, "LogConfig", lc);
    }
    if (type == NULL || *type == '\0')
        json_object_set_new(lc, "Type", json_string("json-file"));
    if (!json_is_object(json_object_get(lc, "Config")))
        json_object_set_new(lc, "Config", json_object());
}

/* Docker's create body is Config's fields plus HostConfig and NetworkingConfig. */
static void split_body(json_t *body, json_t **config, json_t **host, json_t **net)
{
    *config = json_deep_copy(body);
    *host = json_object_get(body, "HostConfig")
                ? json_deep_copy(json_object_get(body, "HostConfig"))
                : json_object();
    *net = json_object_get(body, "NetworkingConfig")
               ? json_deep_copy(json_object_get(body, "NetworkingConfig"))
               : json_object();
    json_object_del(*config, "HostConfig");
    json_object_del(*config, "NetworkingConfig");
    if (!json_is_object(*host)) {
        json_decref(*host);
        *host = json_object();
    }
    if (json_object_get(*host, "NetworkMode") == NULL)
        json_object_set_new(*host, "NetworkMode", json_string("default"));
    default_log_config(*host);
}

/* HostConfig.UsernsMode: "" or "host"; with remapping, what cannot share the host's
 * namespaces from inside a user namespace (dockerd's checks and texts). */
static int check_userns(const struct containers *cs, const json_t *hc, berr_t *err)
{
    const char *mode = json_string_value(json_object_get(hc, "UsernsMode"));
    const char *net = json_string_value(json_object_get(hc, "NetworkMode"));
    const char *pid = json_string_value(json_object_get(hc, "PidMode"));

    if (mode && *mode && strcmp(mode, "host") != 0)
        return http_err(err, EINVAL, "invalid USER mode: %s", mode);
    if (cs->remap == NULL || (mode && strcmp(mode, "host") == 0))
        return 0;
    if (json_is_true(json_object_get(hc, "Privileged")))
        return http_err(err, EINVAL,
                        "privileged mode is incompatible with user namespaces.  You must run "
                        "the container in the host namespace when running privileged mode");
    if (net && strcmp(net, "host") == 0)
        return http_err(err, EINVAL,
                        "Cannot share the host's network namespace when user namespaces are "
                        "enabled");
    if (pid && strcmp(pid, "host") == 0)
        return http_err(err, EINVAL,
                        "Cannot share the host PID namespace when user namespaces are enabled");
    return 0;
}

static int check_host_config(const json_t *hc, berr_t *err)
{
    const char *lt = json_string_value(json_object_get(json_object_get(hc, "LogConfig"), "Type"));
    const char *rp =
        json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name"));
    json_int_t mem = json_integer_value(json_object_get(hc, "Memory"));

    if (lt && *lt && strcmp(lt, "json-file") != 0 && strcmp(lt, "none") != 0)
        return http_err(err, EINVAL, "logging driver \"%s\" is not supported (json-file, none)",
                        lt);
    if (rp && *rp && strcmp(rp, "no") != 0 && strcmp(rp, "always") != 0 &&
        strcmp(rp, "on-failure") != 0 && strcmp(rp, "unless-stopped") != 0)
        return http_err(err, EINVAL, "invalid restart policy '%s'", rp);
    if (mem > 0 && mem < 6 * 1024 * 1024)
        return http_err(err, EINVAL, "Minimum memory limit allowed is 6MB");
    if (json_is_true(json_object_get(hc, "AutoRemove")) && rp && *rp && strcmp(rp, "no") != 0)
        return http_err(err, EINVAL, "can't create 'AutoRemove' container with restart policy");
    return portproxy_check(json_object_get(hc, "PortBindings"), err);
}

/* The record's directory with the overlay's upper and work dirs, its volumes (made, and
 * filled from the image by copy-up), and the saved record. On failure nothing is left: no
 * directory and no volume this create made. */
static int make_dirs(struct containers *cs, struct container *c, berr_t *err)
{
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    _cleanup_free_ char *work = path_join(c->dir, "work");
    json_t *held = NULL;

    if (mkdir_p(c->dir, 0700, err) < 0)
        return -1;
    if (mkdir_p(upper, 0755, err) < 0 || mkdir_p(work, 0700, err) < 0 ||
        mounts_acquire(cs, c, &held, err) < 0 || mounts_copy_up(cs, c, err) < 0 ||
        ctr_save(&cs->store, c, err) < 0 || ctr_add(&cs->store, c, err) < 0) {
        mounts_release(cs, held, true);
        rm_rf(c->dir, NULL);
        rm_rf(c->bundle, NULL);
        return -1;
    }
    mounts_release(cs, held, false);
    return 0;
}

int ctr_create(struct containers *cs, const char *name, json_t *body, char **id, json_t **warnings,
               berr_t *err)
{
    const char *image = json_string_value(json_object_get(body, "Image"));
    _cleanup_free_ char *image_id = NULL;
    json_t *img = NULL, *args = NULL;
    struct container *c;

    if (!json_is_object(body))
        return http_err(err, EINVAL, "invalid JSON: the body must be an object");
    if (image == NULL || *image == '\0')
        return http_err(err, EINVAL, "No image was specified");
    if (name && *name && !name_ok(name))
        return http_err(err, EINVAL,
                        "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                        name);
    if (image_resolve(cs->images, image, &image_id, err) < 0)
        return -1;
    c = ctr_alloc();
    split_body(body, &c->config, &c->host, &c->netcfg);
    if (check_host_config(c->host, err) < 0 || check_userns(cs, c->host, err) < 0 ||
        image_get_config(cs->images, image_id, &img, err) < 0 ||
        spec_command(c->config, json_object_get(img, "config"), &args, err) < 0 ||
        mounts_plan(cs, c, json_object_get(img, "config"), err) < 0)
        goto fail;
    ctr_new_id(c->id);
    c->name = name && *name ? xstrdup(*name == '/' ? name + 1 : name) : ctr_gen_name(&cs->store);
    if (netattach_plan(cs, c, err) < 0)
        goto fail;
    c->image = xstrdup(image);
    c->image_id = xstrdup(image_id);
    c->created = time_rfc3339_now();
    c->path = xstrdup(json_string_value(json_array_get(args, 0)));
    c->args = json_array();
    for (size_t i = 1; i < json_array_size(args); i++)
        json_array_append(c->args, json_array_get(args, i));
    c->dir = path_join(cs->store.root, c->id);
    c->bundle = path_join(cs->store.exec_root, c->id);
    c->status = CTR_CREATED;
    if (make_dirs(cs, c, err) < 0)
        goto fail;
    events_container(c, "create", NULL);
    *id = xstrdup(c->id);
    *warnings = json_array();
    json_decref(img);
    json_decref(args);
    ctr_put(&cs->store, c);
    return 0;
fail:
    json_decref(img);
    json_decref(args);
    c->refs = 1;
    ctr_put(&cs->store, c);
    return -1;
}

/* SIGKILL C (thawed first) for a forced removal and wait until it is recorded as exited. */
static int kill_for_removal(struct containers *cs, struct container *c, berr_t *err)
{
    pthread_mutex_lock(&cs->store.lock);
    c->stop_requested = true;
    bool paused = c->status == CTR_PAUSED;
    events_container_num(c, "kill", "signal", SIGKILL);
    pthread_mutex_unlock(&cs->store.lock);
    if (paused)
        runtime_pause(c->bundle, false, NULL);
    runtime_kill(c->bundle, SIGKILL, NULL);
    pthread_mutex_lock(&cs->store.lock);
    bool stopped = wait_stopped(cs, c, 30000, false);
    pthread_mutex_unlock(&cs->store.lock);
    if (!stopped)
        return berr_set(err, ETIMEDOUT, "container %.12s: did not exit after SIGKILL", c->id);
    return 0;
}

int ctr_remove(struct containers *cs, struct container *c, bool force, bool volumes, berr_t *err)
{
    for (;;) {
        pthread_mutex_lock(&cs->store.lock);
        bool running = is_running(c) || c->status == CTR_RESTARTING;
        bool gone = c->removed;
        pthread_mutex_unlock(&cs->store.lock);
        if (gone)
            return 0;
        if (running && !force)
            return http_err(err, EBUSY,
                            "You cannot remove a running container %s. Stop the container "
                            "before attempting removal or force remove",
                            c->id);
        if (running && kill_for_removal(cs, c, err) < 0)
            return -1;
        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->store.lock);
        /* A restart (policy) that was under way when we killed may have started it again. */
        running = is_running(c);
        if (!running)
            c->status = CTR_REMOVING;
        pthread_mutex_unlock(&cs->store.lock);
        if (!running)
            break;
        pthread_mutex_unlock(&c->op);
    }
    exec_forget_container(c->id);
    /* Remove the record first: a crash after this point leaves no half-removed container (a
     * directory without its record is dropped at the next start), and its anonymous volumes
     * at worst dangling, never half removed. */
    _cleanup_free_ char *record = path_join(c->dir, "config.v2.json");
    unlink(record);
    ctr_unlink(&cs->store, c);
    failpoint("container-remove-unlinked");
    rm_rf(c->bundle, NULL);
    int ret = rm_rf(c->dir, err);
    if (volumes)
        mounts_remove_anonymous(cs, c);
    /* `docker run --rm` returns when this wakes it: with the volumes already gone */
    pthread_mutex_lock(&cs->store.lock);
    c->remove_done = true;
    events_container(c, "destroy", NULL);
    pthread_cond_broadcast(&cs->store.changed);
    pthread_mutex_unlock(&cs->store.lock);
    pthread_mutex_unlock(&c->op);
    return ret;
}

/* ---- open and restore ---------------------------------------------------------------- */

/* After a berthd restart: listen again on the host ports a running container had. */
static void republish(struct container *c)
{
    json_t *saved = c->ports, *ports = NULL;
    berr_t e = NULL;

    c->ports = NULL;
    if (saved && (bind_ports(c, NULL, saved, &c->proxy, &ports, &e) < 0 ||
                  portproxy_start(c->proxy, c->pid, &e) < 0)) {
        fprintf(stderr, "berthd: container %.12s: publish its ports again: %s\n", c->id,
                berr_msg(e));
        portproxy_stop(c->proxy);
        c->proxy = NULL;
        json_decref(ports);
        ports = NULL;
    }
    c->ports = ports;
    json_decref(saved);
    berr_free(&e);
}

int containers_open(struct containers *cs, const char *data_root, const char *exec_root,
                    struct image_store *images, berr_t *err)
{
    struct container **all;
    size_t n;

    cs->images = images;
    cs->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (cs->stop_fd < 0)
        return berr_set(err, errno, "containers: create the stop eventfd");
    if (cs->cgroup_parent == NULL)
        cs->cgroup_parent = xstrdup("berth");
    if (ctr_store_open(&cs->store, data_root, exec_root, err) < 0)
        return -1;
    ctr_list(&cs->store, &all, &n);
    /* First the containers still running take their addresses back, so that none is handed
     * to one that a restart policy starts below. */
    bool *alive = xcalloc(n ? n : 1, sizeof(*alive));
    for (size_t i = 0; i < n; i++) {
        struct container *c = all[i];
        struct runtime_state st;
        berr_t e = NULL;
        pthread_mutex_lock(&cs->store.lock);
        if ((is_running(c) || c->status == CTR_RESTARTING) &&
            runtime_state(c->bundle, &st, &e) == 0 && st.running) {
            alive[i] = true;
            c->pid = st.pid;
            c->shim_pid = st.shim_pid;
            c->status = st.paused ? CTR_PAUSED : CTR_RUNNING;
            netattach_restore(cs, c, true);
        } else if (!is_running(c) && c->status != CTR_RESTARTING) {
            netattach_restore(cs, c, false);
        }
        pthread_mutex_unlock(&cs->store.lock);
        berr_free(&e);
    }
    for (size_t i = 0; i < n; i++) {
        struct container *c = all[i];
        pthread_mutex_lock(&cs->store.lock);
        if (alive[i]) {
            republish(c);
            monitor_start(cs, c);
        } else if (is_running(c) || c->status == CTR_RESTARTING) {
            record_exit(cs, c);
            c->refs++;
            pthread_mutex_unlock(&cs->store.lock);
            after_exit(cs, c); /* restart policies apply at daemon start too */
            ctr_put(&cs->store, c);
            pthread_mutex_lock(&cs->store.lock);
        }
        pthread_mutex_unlock(&cs->store.lock);
    }
    free(alive);
    ctr_list_free(&cs->store, all, n);
    netattach_sweep(cs);
    return 0;
}

void containers_shutdown(struct containers *cs)
{
    pthread_mutex_lock(&cs->store.lock);
    cs->shutting_down = true;
    pthread_cond_broadcast(&cs->store.changed);
    pthread_mutex_unlock(&cs->store.lock);
}

void containers_close(struct containers *cs)
{
    containers_shutdown(cs);
    /* Containers keep running; their monitors end (an exit they see meanwhile is recorded,
     * without a restart) and drop their references to the records. */
    uint64_t one = 1;
    if (write(cs->stop_fd, &one, sizeof(one)) < 0)
        abort(); /* an eventfd takes this write unless it is not one */
    pthread_mutex_lock(&cs->store.lock);
    while (cs->monitors > 0)
        pthread_cond_wait(&cs->store.changed, &cs->store.lock);
    pthread_mutex_unlock(&cs->store.lock);
    close(cs->stop_fd);
    cs->stop_fd = -1;
    /* The port proxies live in this process: they end with it (the next berthd publishes
     * the ports again). */
    struct container **all;
    size_t n;
    ctr_list(&cs->store, &all, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&cs->store.lock);
        struct port_proxy *proxy = all[i]->proxy;
        all[i]->proxy = NULL;
        pthread_mutex_unlock(&cs->store.lock);
        portproxy_stop(proxy);
    }
    ctr_list_free(&cs->store, all, n);
    ctr_store_release(&cs->store);
    free(cs->cgroup_parent);
    cs->cgroup_parent = NULL;
    if (cs->remap)
        remap_free(cs->remap);
    free(cs->remap);
    cs->remap = NULL;
}

/* ---- presentation -------------------------------------------------------------------- */

int ctr_signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
                {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
                {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
                {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
                {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
                {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
                {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
                {"PWR", SIGPWR},       {"SYS", SIGSYS}};
    char *end;

    if (s == NULL || *s == '\0')
        return -1;
    long n = strtol(s, &end, 10);
    if (*end == '\0')
        return n > 0 && n < 65 ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (strcasecmp(s, sigs[i].name) == 0)
            return sigs[i].sig;
    }
    return -1;
}

static time_t parse_time(const char *s)
{
    struct tm tm = {0};
    if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return 0;
    return timegm(&tm);
}

char *ctr_status_text(const struct container *c)
{
    time_t now = time(NULL);
    _cleanup_free_ char *d = NULL;

    switch (c->status) {
    case CTR_RUNNING:
    case CTR_PAUSED:
        d = time_human_duration((long long)(now - parse_time(c->started_at)));
        return xasprintf("Up %s%s", d, c->status == CTR_PAUSED ? " (Paused)" : "");
    case CTR_RESTARTING:
        d = time_human_duration((long long)(now - parse_time(c->finished_at)));
        return xasprintf("Restarting (%d) %s ago", c->exit_code, d);
    case CTR_EXITED:
        d = time_human_duration((long long)(now - parse_time(c->finished_at)));
        return xasprintf("Exited (%d) %s ago", c->exit_code, d);
    case CTR_CREATED:
        return xstrdup("Created");
    case CTR_REMOVING:
        return xstrdup("Removal In Progress");
    case CTR_DEAD:
        return xstrdup("Dead");
    }
    return xstrdup("");
}

static char *command_text(const struct container *c)
{
    size_t i;
    json_t *a;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fputs(c->path, f);
    json_array_foreach(c->args, i, a)
    {
        fprintf(f, " %s", json_string_value(a));
    }
    fclose(f);
    return buf;
}

json_t *ctr_summary(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    _cleanup_free_ char *status = ctr_status_text(c);
    _cleanup_free_ char *cmd = command_text(c);
    _cleanup_free_ char *name = xasprintf("/%s", c->name);
    json_t *labels = json_object_get(c->config, "Labels");
    labels = json_is_object(labels) ? json_incref(labels) : json_object();
    json_t *settings = netattach_settings(c);
    json_t *j = json_pack(
        "{s:s,s:[s],s:s,s:s,s:s,s:I,s:o,s:o,s:s,s:s,s:{s:O},s:{s:O},s:o}", "Id", c->id, "Names",
        name, "Image", c->image, "ImageID", c->image_id, "Command", cmd, "Created",
        (json_int_t)parse_time(c->created), "Ports", portproxy_summary(c->ports), "Labels", labels,
        "State", ctr_status_name(c->status), "Status", status, "HostConfig", "NetworkMode",
        json_object_get(c->host, "NetworkMode"), "NetworkSettings", "Networks",
        json_object_get(settings, "Networks"), "Mounts", mounts_public(c->mounts));
    json_decref(settings);
    pthread_mutex_unlock(&cs->store.lock);
    return j;
}

static json_t *state_json(const struct container *c)
{
    return json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s}", "Status",
                     ctr_status_name(c->status), "Running", is_running(c), "Paused",
                     c->status == CTR_PAUSED, "Restarting", c->status == CTR_RESTARTING,
                     "OOMKilled", c->oom_killed, "Dead", c->status == CTR_DEAD, "Pid",
                     is_running(c) ? (int)c->pid : 0, "ExitCode", c->exit_code, "Error",
                     c->error ? c->error : "", "StartedAt",
                     c->started_at ? c->started_at : "0001-01-01T00:00:00Z", "FinishedAt",
                     c->finished_at ? c->finished_at : "0001-01-01T00:00:00Z");
}

static json_t *graph_driver(const struct container *c)
{
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    _cleanup_free_ char *work = path_join(c->dir, "work");
    _cleanup_free_ char *merged = path_join(c->bundle, "rootfs");
    return json_pack("{s:s,s:{s:s,s:s,s:s}}", "Name", "overlay2", "Data", "UpperDir", upper,
                     "WorkDir", work, "MergedDir", merged);
}

static bool file_exists_sandbox(struct containers *cs, const struct container *c)
{
    _cleanup_free_ char *p = path_join(cs->netns_dir, c->id);
    return file_exists(p);
}

static json_t *network_settings(struct containers *cs, const struct container *c)
{
    _cleanup_free_ char *sandbox = NULL;
    if (is_running(c))
        sandbox = file_exists_sandbox(cs, c) ? path_join(cs->netns_dir, c->id)
                                             : xasprintf("/proc/%d/ns/net", (int)c->pid);
    json_t *s =
        json_pack("{s:s,s:s,s:b,s:s,s:i,s:o,s:s,s:n,s:n,s:s,s:i,s:s}", "Bridge", "", "SandboxID",
                  c->id, "HairpinMode", 0, "LinkLocalIPv6Address", "", "LinkLocalIPv6PrefixLen", 0,
                  "Ports", c->ports ? json_deep_copy(c->ports) : json_object(), "SandboxKey",
                  sandbox ? sandbox : "", "SecondaryIPAddresses", "SecondaryIPv6Addresses",
                  "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "IPv6Gateway", "");
    json_t *ns = netattach_settings(c);
    json_object_update(s, ns);
    json_decref(ns);
    return s;
}

json_t *ctr_inspect(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    _cleanup_free_ char *name = xasprintf("/%s", c->name);
    _cleanup_free_ char *resolv = path_join(c->dir, "resolv.conf");
    _cleanup_free_ char *hostname = path_join(c->dir, "hostname");
    _cleanup_free_ char *hosts = path_join(c->dir, "hosts");
    _cleanup_free_ char *logname = xasprintf("%s-json.log", c->id);
    _cleanup_free_ char *log = path_join(c->dir, logname);
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:O,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:O,s:o,s:o,"
        "s:O,s:o}",
        "Id", c->id, "Created", c->created, "Path", c->path, "Args", c->args, "State",
        state_json(c), "Image", c->image_id, "ResolvConfPath", resolv, "HostnamePath", hostname,
        "HostsPath", hosts, "LogPath", log, "Name", name, "RestartCount", c->restart_count,
        "Driver", "overlay2", "Platform", "linux", "MountLabel", "", "ProcessLabel", "",
        "AppArmorProfile", "", "ExecIDs", exec_ids_of(c->id), "HostConfig", c->host, "GraphDriver",
        graph_driver(c), "Mounts", mounts_public(c->mounts), "Config", c->config, "NetworkSettings",
        network_settings(cs, c));
    pthread_mutex_unlock(&cs->store.lock);
    return j;
}
