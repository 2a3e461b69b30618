/* The event bus behind GET /events: see events.h for the design. */
#include "runtime-agent/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/containers/store.h"
#include "runtime-agent/containers/logs.h"
#include "runtime-agent/timefmt.h"

struct event {
    int refs; /* atomic */
    int64_t time_ns;
    char *type, *action, *id;
    json_t *attrs; /* never changed after publish: read by many threads */
    char *line;
};

struct event_bus {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct event **ring; /* event with sequence number N at ring[N % cap] */
    size_t cap;
    uint64_t next; /* the sequence number the next event gets */
    bool closed;
};

struct event_sub {
    struct event_bus *bus;
    uint64_t cursor;  /* the next sequence number wanted */
    int64_t until_ns; /* replay only: events past it are not delivered */
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* ---- events ---- */

void event_put(struct event *e)
{
    if (e == NULL || __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    free(e->type);
    free(e->action);
    free(e->id);
    json_decref(e->attrs);
    free(e->line);
    free(e);
}

const char *event_line(const struct event *e)
{
    return e->line;
}
int64_t event_time_ns(const struct event *e)
{
    return e->time_ns;
}
const char *event_type(const struct event *e)
{
    return e->type;
}
const char *event_action(const struct event *e)
{
    return e->action;
}
const char *event_actor(const struct event *e)
{
    return e->id;
}
const json_t *event_attrs(const struct event *e)
{
    return e->attrs;
}

/* dockerd's message: the old fields status, id, from (containers and images only), then
 * Type, Action, Actor, scope, time, timeNano. */
static char *render(const struct event *e)
{
    json_t *doc = json_object();
    bool ctr = strcmp(e->type, "container") == 0;

    if (ctr || strcmp(e->type, "image") == 0) {
        json_object_set_new(doc, "status", json_string(e->action));
        json_object_set_new(doc, "id", json_string(e->id));
    }
    if (ctr && json_object_get(e->attrs, "image"))
        json_object_set(doc, "from", json_object_get(e->attrs, "image"));
    json_object_set_new(doc, "Type", json_string(e->type));
    json_object_set_new(doc, "Action", json_string(e->action));
    json_object_set_new(doc, "Actor", json_pack("{s:s,s:O}", "ID", e->id, "Attributes", e->attrs));
    json_object_set_new(doc, "scope", json_string("local"));
    json_object_set_new(doc, "time", json_integer(e->time_ns / NS_PER_SEC));
    json_object_set_new(doc, "timeNano", json_integer(e->time_ns));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char *line = xasprintf("%s\n", text ? text : "{}");
    free(text);
    return line;
}

/* ---- the bus ---- */

struct event_bus *events_bus_new(size_t cap)
{
    struct event_bus *b = xcalloc(1, sizeof(*b));

    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->cap = cap > 0 ? cap : EVENTS_RING;
    b->ring = xcalloc(b->cap, sizeof(*b->ring));
    return b;
}

void events_bus_free(struct event_bus *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->cap; i++)
        event_put(b->ring[i]);
    free(b->ring);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
static struct event_bus *the_bus;

static void bus_init(void)
{
    the_bus = events_bus_new(EVENTS_RING);
}

struct event_bus *events_bus(void)
{
    pthread_once(&bus_once, bus_init);
    return the_bus;
}

void events_publish_at(struct event_bus *b, int64_t time_ns, const char *type, const char *action,
                       const char *id, json_t *attrs)
{
    struct event *e = xcalloc(1, sizeof(*e));

    e->refs = 1; /* the ring's */
    e->type = xstrdup(type);
    e->action = xstrdup(action);
    e->id = xstrdup(id ? id : "");
    e->attrs = attrs ? attrs : json_object();
    pthread_mutex_lock(&b->lock);
    /* Stamped under the lock, so sequence order is time order for replays. */
    e->time_ns = time_ns > 0 ? time_ns : now_ns();
    e->line = render(e);
    struct event **slot = &b->ring[b->next % b->cap];
    struct event *old = *slot;
    *slot = e;
    b->next++;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    event_put(old); /* a subscriber may still hold it */
}

void events_publish(struct event_bus *b, const char *type, const char *action, const char *id,
                    json_t *attrs)
{
    events_publish_at(b, 0, type, action, id, attrs);
}

void events_shutdown(struct event_bus *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* The oldest sequence number the ring still holds. Lock held. */
static uint64_t oldest(const struct event_bus *b)
{
    return b->next > b->cap ? b->next - b->cap : 0;
}

struct event_sub *events_subscribe(struct event_bus *b, int64_t since_ns, int64_t until_ns)
{
    struct event_sub *s = xcalloc(1, sizeof(*s));

    s->bus = b;
    pthread_mutex_lock(&b->lock);
    s->cursor = b->next;
    if (since_ns > 0 || until_ns > 0) {
        /* Back to the first event at or after SINCE (times only grow along the ring). */
        while (s->cursor > oldest(b) && b->ring[(s->cursor - 1) % b->cap]->time_ns >= since_ns)
            s->cursor--;
    }
    s->until_ns = until_ns;
    pthread_mutex_unlock(&b->lock);
    return s;
}

void events_unsubscribe(struct event_sub *s)
{
    free(s);
}

int events_next(struct event_sub *s, int timeout_ms, struct event **out, berr_t *err)
{
    struct event_bus *b = s->bus;
    struct timespec dl;
    int rc = 0;

    *out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->lock);
    for (;;) {
        if (b->closed) {
            rc = berr_set(err, ESHUTDOWN, "events: berthd is shutting down");
            break;
        }
        if (s->cursor < oldest(b)) {
            rc = berr_set(err, ENOBUFS, "events: the client fell %llu events behind",
                          (unsigned long long)(oldest(b) - s->cursor));
            break;
        }
        if (s->cursor < b->next) {
            struct event *e = b->ring[s->cursor % b->cap];
            s->cursor++;
            if (s->until_ns > 0 && e->time_ns > s->until_ns)
                continue;
            __atomic_add_fetch(&e->refs, 1, __ATOMIC_ACQ_REL);
            *out = e;
            rc = 1;
            break;
        }
        if (pthread_cond_timedwait(&b->cond, &b->lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* ---- filters ---- */

int events_filters_check(const json_t *filters, berr_t *err)
{
    static const char *const keys[] = {"type",   "event", "container", "image",  "network",
                                       "volume", "label", "scope",     "daemon", NULL};
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)filters, key, v)
    {
        bool ok = false;
        for (size_t i = 0; keys[i]; i++)
            ok = ok || strcmp(key, keys[i]) == 0;
        if (!ok)
            return berr_set(err, 0, "invalid filter '%s'", key);
    }
    return 0;
}

/* Whether filter KEY is absent or one of its values satisfies MATCH against each of S[0..n). */
static bool any_value(const json_t *filters, const char *key, bool prefix, const char *const *s,
                      size_t n)
{
    const json_t *vals = json_object_get(filters, key);
    size_t i;
    json_t *v;

    if (vals == NULL)
        return true;
    json_array_foreach(vals, i, v)
    {
        const char *want = json_string_value(v);
        if (want == NULL)
            continue;
        for (size_t k = 0; k < n; k++) {
            if (s[k] == NULL)
                continue;
            if (prefix ? strncmp(s[k], want, strlen(want)) == 0 : strcmp(s[k], want) == 0)
                return true;
        }
    }
    return false;
}

/* NAME without its ":tag" (not a registry's ":port"). */
static char *strip_tag(const char *name)
{
    const char *colon = strrchr(name, ':');
    const char *slash = strrchr(name, '/');
    if (colon == NULL || (slash && slash > colon) || strncmp(name, "sha256:", 7) == 0)
        return xstrdup(name);
    return xasprintf("%.*s", (int)(colon - name), name);
}

static bool label_ok(const json_t *filters, const json_t *attrs)
{
    const json_t *vals = json_object_get(filters, "label");
    size_t i;
    json_t *v;

    json_array_foreach(vals, i, v)
    {
        const char *want = json_string_value(v);
        if (want == NULL)
            continue;
        const char *eq = strchr(want, '=');
        if (eq == NULL) {
            if (json_object_get(attrs, want) == NULL)
                return false;
            continue;
        }
        _cleanup_free_ char *k = xasprintf("%.*s", (int)(eq - want), want);
        const char *have = json_string_value(json_object_get(attrs, k));
        if (have == NULL || strcmp(have, eq + 1) != 0)
            return false;
    }
    return true;
}

bool events_filter_match(const json_t *filters, const struct event *e)
{
    const char *name = json_string_value(json_object_get(e->attrs, "name"));
    const char *colon = strstr(e->action, ": ");
    _cleanup_free_ char *verb =
        colon ? xasprintf("%.*s", (int)(colon - e->action), e->action) : xstrdup(e->action);
    const char *actions[] = {e->action, verb};
    const char *type[] = {e->type};
    const char *scope[] = {"local"};
    const char *ident[] = {e->id, name};

    if (!any_value(filters, "event", false, actions, 2) ||
        !any_value(filters, "type", false, type, 1) ||
        !any_value(filters, "scope", false, scope, 1))
        return false;
    if (!any_value(filters, "container", true, ident, 2) ||
        !any_value(filters, "network", true, ident, 2) ||
        !any_value(filters, "volume", true, ident, 2))
        return false;
    if (json_object_get(filters, "image")) {
        const char *img = json_string_value(
            json_object_get(e->attrs, strcmp(e->type, "image") == 0 ? "name" : "image"));
        _cleanup_free_ char *id_bare = strip_tag(e->id);
        _cleanup_free_ char *img_bare = img ? strip_tag(img) : NULL;
        const char *cands[] = {e->id, img, id_bare, img_bare};
        if (!any_value(filters, "image", false, cands, 4))
            return false;
    }
    return label_ok(filters, e->attrs);
}

int events_parse_time(const char *s, int64_t *ns)
{
    if (s != NULL && strchr(s, 'T') != NULL)
        return time_parse_rfc3339_ns(s, ns);
    return logs_parse_unix(s, ns);
}

/* ---- emitting ---- */

static struct ctr_store *the_store; /* set before serving, cleared after */

void events_set_store(struct ctr_store *s)
{
    __atomic_store_n(&the_store, s, __ATOMIC_RELEASE);
}

/* name, image and the labels of C; lock held by the caller. */
static json_t *container_attrs(const struct container *c)
{
    json_t *a = json_object();
    const char *k;
    json_t *v;

    json_object_foreach(json_object_get(c->config, "Labels"), k, v)
    {
        if (json_is_string(v))
            json_object_set(a, k, v);
    }
    json_object_set_new(a, "image", json_string(c->image ? c->image : ""));
    json_object_set_new(a, "name", json_string(c->name ? c->name : ""));
    return a;
}

void events_container(const struct container *c, const char *action, ...)
{
    json_t *a = container_attrs(c);
    va_list ap;
    const char *k;

    va_start(ap, action);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        json_object_set_new(a, k, json_string(v ? v : ""));
    }
    va_end(ap);
    events_publish(events_bus(), "container", action, c->id, a);
}

void events_container_num(const struct container *c, const char *action, const char *key,
                          long value)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%ld", value);
    events_container(c, action, key, buf, NULL);
}

void events_exec(const char *ctr_id, const char *verb, const char *exec_id, const json_t *cmd,
                 int exit_code)
{
    struct ctr_store *s = __atomic_load_n(&the_store, __ATOMIC_ACQUIRE);
    struct container *c = NULL;
    json_t *a = NULL;
    berr_t err = NULL;

    if (s != NULL && ctr_get(s, ctr_id, &c, &err) == 0) {
        pthread_mutex_lock(&s->lock);
        a = container_attrs(c);
        pthread_mutex_unlock(&s->lock);
        ctr_put(s, c);
    }
    berr_free(&err);
    if (a == NULL)
        a = json_object();
    json_object_set_new(a, "execID", json_string(exec_id));
    if (exit_code >= 0)
        json_object_set_new(a, "exitCode", json_sprintf("%d", exit_code));
    size_t i;
    json_t *v;
    char *action = xstrdup(verb);
    json_array_foreach(cmd, i, v)
    {
        char *next = xasprintf("%s%s%s", action, i == 0 ? ": " : " ",
                               json_string_value(v) ? json_string_value(v) : "");
        free(action);
        action = next;
    }
    events_publish(events_bus(), "container", action, ctr_id, a);
    free(action);
}

void events_image(const char *action, const char *id, const char *name)
{
    json_t *a = json_pack("{s:s}", "name", name ? name : (id ? id : ""));
    events_publish(events_bus(), "image", action, id ? id : name, a);
}

void events_network(const char *action, const char *id, const char *name, const char *type,
                    const char *ctr_id)
{
    json_t *a = json_pack("{s:s,s:s}", "name", name ? name : "", "type", type ? type : "bridge");
    if (ctr_id)
        json_object_set_new(a, "container", json_string(ctr_id));
    events_publish(events_bus(), "network", action, id, a);
}

void events_volume(const char *action, const char *name, const char *ctr_id,
                   const char *destination, bool read_write)
{
    json_t *a = json_pack("{s:s}", "driver", "local");
    if (ctr_id)
        json_object_set_new(a, "container", json_string(ctr_id));
    if (destination) {
        json_object_set_new(a, "destination", json_string(destination));
        json_object_set_new(a, "propagation", json_string(""));
        json_object_set_new(a, "read/write", json_string(read_write ? "true" : "false"));
    }
    events_publish(events_bus(), "volume", action, name, a);
}

void events_volume_mounts(const struct container *c, const char *action)
{
    bool mount = strcmp(action, "mount") == 0;
    size_t i;
    json_t *p;

    json_array_foreach(c->mounts, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "Type"));
        const char *name = json_string_value(json_object_get(p, "Name"));
        if (type == NULL || strcmp(type, "volume") != 0 || name == NULL || *name == '\0')
            continue;
        events_volume(action, name, c->id,
                      mount ? json_string_value(json_object_get(p, "Destination")) : NULL,
                      json_is_true(json_object_get(p, "RW")));
    }
}
