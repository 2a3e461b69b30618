#include "runtime-agent/containers/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/timefmt.h"
#include "runtime-agent/http/http.h"

static const char *const status_names[] = {"created",  "running", "paused", "restarting",
                                           "removing", "exited",  "dead"};

const char *ctr_status_name(enum ctr_status st)
{
    return status_names[st];
}

static enum ctr_status status_from_name(const char *s)
{
    for (size_t i = 0; s && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (strcmp(s, status_names[i]) == 0)
            return (enum ctr_status)i;
    }
    return CTR_DEAD;
}

void ctr_new_id(char out[65])
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

struct container *ctr_alloc(void)
{
    struct container *c = xcalloc(1, sizeof(*c));
    c->attach_fd = -1;
    pthread_mutex_init(&c->op, NULL);
    return c;
}

static void ctr_free(struct container *c)
{
    if (c->attach_fd >= 0)
        close(c->attach_fd);
    pthread_mutex_destroy(&c->op);
    free(c->name);
    free(c->image);
    free(c->image_id);
    free(c->created);
    json_decref(c->config);
    json_decref(c->host);
    json_decref(c->netcfg);
    json_decref(c->endpoints);
    json_decref(c->mounts);
    json_decref(c->ports);
    free(c->path);
    json_decref(c->args);
    free(c->dir);
    free(c->bundle);
    free(c->error);
    free(c->started_at);
    free(c->finished_at);
    free(c);
}

static json_t *ctr_to_json(const struct container *c)
{
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:O,s:s,s:O,s:{s:s,s:i,s:i,s:i,s:b,s:s,s:s,s:s},s:i,s:b,"
        "s:O,s:O,s:O}",
        "Id", c->id, "Name", c->name, "Image", c->image, "ImageID", c->image_id, "Created",
        c->created, "Config", c->config, "HostConfig", c->host, "NetworkingConfig", c->netcfg,
        "Path", c->path, "Args", c->args, "State", "Status", ctr_status_name(c->status), "Pid",
        (int)c->pid, "ShimPid", (int)c->shim_pid, "ExitCode", c->exit_code, "OOMKilled",
        c->oom_killed, "Error", c->error ? c->error : "", "StartedAt",
        c->started_at ? c->started_at : "0001-01-01T00:00:00Z", "FinishedAt",
        c->finished_at ? c->finished_at : "0001-01-01T00:00:00Z", "RestartCount", c->restart_count,
        "StopRequested", c->stop_requested, "Ports", c->ports ? c->ports : json_null(),
        "MountPoints", c->mounts ? c->mounts : json_null(), "Networks",
        c->endpoints ? c->endpoints : json_null());
}

static char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? xstrdup(v) : NULL;
}

static json_t *jobj(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v ? json_incref(v) : json_object();
}

static struct container *ctr_from_json(struct ctr_store *s, const json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "Id"));
    const json_t *st = json_object_get(j, "State");
    struct container *c;

    if (id == NULL || strlen(id) != 64 || !json_is_object(st))
        return NULL;
    c = ctr_alloc();
    memcpy(c->id, id, 65);
    c->name = jstr(j, "Name");
    c->image = jstr(j, "Image");
    c->image_id = jstr(j, "ImageID");
    c->created = jstr(j, "Created");
    c->config = jobj(j, "Config");
    c->host = jobj(j, "HostConfig");
    c->netcfg = jobj(j, "NetworkingConfig");
    c->endpoints = jobj(j, "Networks");
    c->mounts = json_is_array(json_object_get(j, "MountPoints"))
                    ? json_incref(json_object_get(j, "MountPoints"))
                    : json_array();
    if (json_is_object(json_object_get(j, "Ports")))
        c->ports = json_incref(json_object_get(j, "Ports"));
    c->path = jstr(j, "Path");
    c->args = json_object_get(j, "Args") ? json_incref(json_object_get(j, "Args")) : json_array();
    c->status = status_from_name(json_string_value(json_object_get(st, "Status")));
    c->pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    c->shim_pid = (pid_t)json_integer_value(json_object_get(st, "ShimPid"));
    c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    c->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
    c->error = jstr(st, "Error");
    c->started_at = jstr(st, "StartedAt");
    c->finished_at = jstr(st, "FinishedAt");
    c->restart_count = (int)json_integer_value(json_object_get(j, "RestartCount"));
    c->stop_requested = json_is_true(json_object_get(j, "StopRequested"));
    c->dir = path_join(s->root, id);
    c->bundle = path_join(s->exec_root, id);
    if (c->name == NULL || c->image == NULL || c->created == NULL || c->path == NULL) {
        ctr_free(c);
        return NULL;
    }
    return c;
}

int ctr_save(struct ctr_store *s, struct container *c, berr_t *err)
{
    _cleanup_free_ char *path = path_join(c->dir, "config.v2.json");
    _cleanup_free_ char *text = NULL;
    json_t *j = ctr_to_json(c);

    (void)s;
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return berr_set(err, ENOMEM, "container %.12s: encode record", c->id);
    if (write_file_atomic(path, text, strlen(text), 0600, err) < 0)
        return berr_prefix(err, "container %.12s: save record", c->id);
    return 0;
}

static struct container *find_locked(struct ctr_store *s, const char *ref);

static void push(struct ctr_store *s, struct container *c)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        struct container **v = realloc(s->items, s->cap * sizeof(*v));
        if (v == NULL)
            abort();
        s->items = v;
    }
    s->items[s->n++] = c;
}

static void load_all(struct ctr_store *s)
{
    DIR *d = opendir(s->root);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 64)
            continue;
        _cleanup_free_ char *dir = path_join(s->root, de->d_name);
        _cleanup_free_ char *path = path_join(dir, "config.v2.json");
        json_t *j = json_load_file(path, 0, NULL);
        struct container *c = j ? ctr_from_json(s, j) : NULL;
        json_decref(j);
        if (c == NULL) {
            /* A record that never finished being created (killed mid-create): drop it. */
            fprintf(stderr, "berthd: containers: dropping incomplete record %s\n", dir);
            rm_rf(dir, NULL);
            continue;
        }
        c->refs = 1;
        push(s, c);
    }
    closedir(d);
}

/* Runtime bundles of containers without a record (berthd killed while removing one). */
static void sweep_bundles(struct ctr_store *s)
{
    DIR *d = opendir(s->exec_root);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 64 || find_locked(s, de->d_name) != NULL)
            continue;
        _cleanup_free_ char *dir = path_join(s->exec_root, de->d_name);
        fprintf(stderr, "berthd: containers: removing the bundle of a removed container %s\n", dir);
        rm_rf(dir, NULL);
    }
    closedir(d);
}

int ctr_store_open(struct ctr_store *s, const char *data_root, const char *exec_root, berr_t *err)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->root = path_join(data_root, "containers");
    s->exec_root = path_join(exec_root, "containers");
    if (mkdir_p(s->root, 0700, err) < 0 || mkdir_p(s->exec_root, 0700, err) < 0)
        return berr_prefix(err, "containers: open store");
    load_all(s);
    sweep_bundles(s);
    return 0;
}

void ctr_store_release(struct ctr_store *s)
{
    pthread_mutex_lock(&s->lock);
    struct container **items = s->items;
    size_t n = s->n;
    s->items = NULL;
    s->n = s->cap = 0;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        ctr_put(s, items[i]);
    free(items);
    free(s->root);
    free(s->exec_root);
    s->root = s->exec_root = NULL;
}

static struct container *find_locked(struct ctr_store *s, const char *ref)
{
    struct container *match = NULL;
    size_t len = strlen(ref);
    int hits = 0;

    if (*ref == '/')
        ref++, len--;
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        struct container *c = s->items[i];
        if (strcmp(c->id, ref) == 0 || strcmp(c->name, ref) == 0)
            return c;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strncmp(s->items[i]->id, ref, len) == 0) {
            match = s->items[i];
            hits++;
        }
    }
    return hits == 1 ? match : NULL;
}

int ctr_get(struct ctr_store *s, const char *ref, struct container **out, berr_t *err)
{
    pthread_mutex_lock(&s->lock);
    struct container *c = find_locked(s, ref);
    if (c)
        c->refs++;
    pthread_mutex_unlock(&s->lock);
    if (c == NULL)
        return http_err(err, ENOENT, "No such container: %s", ref);
    *out = c;
    return 0;
}

void ctr_put(struct ctr_store *s, struct container *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    int left = --c->refs;
    pthread_mutex_unlock(&s->lock);
    if (left == 0)
        ctr_free(c);
}

int ctr_add(struct ctr_store *s, struct container *c, berr_t *err)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->items[i]->name, c->name) == 0) {
            pthread_mutex_unlock(&s->lock);
            return http_err(err, EEXIST,
                            "Conflict. The container name \"/%s\" is already in use by container "
                            "\"%s\". You have to remove (or rename) that container to be able to "
                            "reuse that name.",
                            c->name, s->items[i]->id);
        }
    }
    c->refs = 2; /* the store's and the caller's */
    push(s, c);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void ctr_unlink(struct ctr_store *s, struct container *c)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i] == c) {
            s->items[i] = s->items[--s->n];
            found = true;
            break;
        }
    }
    c->removed = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    if (found)
        ctr_put(s, c);
}

int ctr_rename(struct ctr_store *s, struct container *c, const char *name, berr_t *err)
{
    if (*name == '/')
        name++;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i] != c && strcmp(s->items[i]->name, name) == 0) {
            pthread_mutex_unlock(&s->lock);
            return http_err(err, EEXIST, "Conflict. The container name \"/%s\" is already in use",
                            name);
        }
    }
    _cleanup_free_ char *old = xasprintf("/%s", c->name);
    free(c->name);
    c->name = xstrdup(name);
    events_container(c, "rename", "oldName", old, NULL);
    int ret = ctr_save(s, c, err);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

void ctr_list(struct ctr_store *s, struct container ***out, size_t *n)
{
    pthread_mutex_lock(&s->lock);
    struct container **v = xcalloc(s->n + 1, sizeof(*v));
    for (size_t i = 0; i < s->n; i++) {
        v[i] = s->items[i];
        v[i]->refs++;
    }
    *n = s->n;
    pthread_mutex_unlock(&s->lock);
    *out = v;
}

void ctr_list_free(struct ctr_store *s, struct container **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ctr_put(s, v[i]);
    free(v);
}

static const char *const adjectives[] = {
    "admiring", "bold",   "brave",   "calm",     "clever",   "eager",   "elegant", "festive",
    "focused",  "gentle", "happy",   "jolly",    "keen",     "kind",    "lucid",   "modest",
    "nifty",    "quirky", "relaxed", "serene",   "sharp",    "stoic",   "sweet",   "tender",
    "trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous", "amazing", "busy"};
static const char *const nouns[] = {
    "archimedes", "babbage", "curie",    "darwin",  "einstein", "fermat",  "galileo",   "hopper",
    "hypatia",    "kepler",  "lovelace", "maxwell", "newton",   "noether", "pascal",    "ritchie",
    "shannon",    "tesla",   "thompson", "turing",  "wozniak",  "yalow",   "zhukovsky", "bohr"};

char *ctr_gen_name(struct ctr_store *s)
{
    const size_t na = sizeof(adjectives) / sizeof(adjectives[0]);
    const size_t nn = sizeof(nouns) / sizeof(nouns[0]);

    for (int attempt = 0;; attempt++) {
        unsigned int r;
        if (getrandom(&r, sizeof(r), 0) != sizeof(r))
            r = (unsigned int)time(NULL) + (unsigned int)attempt;
        char *name = attempt < 10
                         ? xasprintf("%s_%s", adjectives[r % na], nouns[(r / na) % nn])
                         : xasprintf("%s_%s%u", adjectives[r % na], nouns[(r / na) % nn], r % 100);
        pthread_mutex_lock(&s->lock);
        bool taken = find_locked(s, name) != NULL;
        pthread_mutex_unlock(&s->lock);
        if (!taken)
            return name;
        free(name);
    }
}
