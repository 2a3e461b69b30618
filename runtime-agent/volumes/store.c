#include "runtime-agent/volumes/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/daemon.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/beneath.h"
#include "runtime-agent/log.h"

#define META_FILE "volume.json"
#define DATA_DIR "_data"
#define NEW_PREFIX ".new-"
#define TRASH_PREFIX ".trash-"
#define NAME_CHARS "[a-zA-Z0-9][a-zA-Z0-9_.-]"
/* Deeper trees are not measured further (the bytes a prune reports are an estimate). */
#define MEASURE_MAX_DEPTH 128

struct volume {
    char *name;
    char *created;   /* RFC 3339, seconds */
    json_t *labels;  /* object or NULL */
    json_t *options; /* object or NULL */
    int holds;       /* containers being created with it (vol_acquire) */
};

struct vol_store {
    pthread_mutex_t lock;
    char *root; /* DATA_ROOT/volumes */
    struct volume **items;
    size_t n, cap;
    vol_users_fn users;
    void *ctx;
};

/* ---- names, options, metadata -------------------------------------------------------- */

static bool name_ok(const char *n)
{
    static const char more[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

    if (strlen(n) < 2 || strchr(more, n[0]) == NULL || n[0] == '_' || n[0] == '.' || n[0] == '-')
        return false;
    return strspn(n, more) == strlen(n);
}

static char *random_hex(size_t bytes)
{
    unsigned char raw[32];
    char *out = xcalloc(1, 2 * bytes + 1);

    while (getrandom(raw, bytes, 0) != (ssize_t)bytes)
        ;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return out;
}

/* The local driver's options: type, device and o, each needing the others as dockerd's do. */
static int check_options(const json_t *opts, berr_t *err)
{
    static const char *const needs[][3] = {
        {"type", "device", NULL}, {"device", "type", NULL}, {"o", "device", "type"}};
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)opts, key, v)
    {
        if (strcmp(key, "size") == 0)
            return http_err(err, EINVAL, "quota size requested but no quota support");
        if (strcmp(key, "type") != 0 && strcmp(key, "device") != 0 && strcmp(key, "o") != 0)
            return http_err(err, EINVAL, "invalid option: \"%s\"", key);
        if (!json_is_string(v))
            return http_err(err, EINVAL, "invalid option \"%s\": not a string", key);
    }
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
        if (json_object_get(opts, needs[i][0]) == NULL)
            continue;
        for (size_t k = 1; k < 3 && needs[i][k]; k++)
            if (json_object_get(opts, needs[i][k]) == NULL)
                return http_err(err, EINVAL, "missing required option: \"%s\"", needs[i][k]);
    }
    return 0;
}

static int check_spec(const struct vol_spec *s, berr_t *err)
{
    if (s->driver && *s->driver && strcmp(s->driver, "local") != 0)
        return http_err(err, ENOENT, "error looking up volume plugin %s: plugin \"%s\" not found",
                        s->driver, s->driver);
    if (s->name && *s->name && !name_ok(s->name))
        return http_err(err, EINVAL,
                        "create %s: \"%s\" includes invalid characters for a local volume name, "
                        "only \"%s\" are allowed. If you intended to pass a host directory, use "
                        "absolute path",
                        s->name, s->name, NAME_CHARS);
    /* JSON null (docker-py's None) is as good as absent. */
    if (s->labels && !json_is_null(s->labels) && !json_is_object(s->labels))
        return http_err(err, EINVAL, "create %s: Labels must be an object", s->name);
    if (s->options && !json_is_null(s->options) && !json_is_object(s->options))
        return http_err(err, EINVAL, "create %s: DriverOpts must be an object", s->name);
    return json_is_object(s->options) ? check_options(s->options, err) : 0;
}

static char *now_text(void)
{
    char buf[32];
    struct tm tm;
    time_t now = time(NULL);

    gmtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

static json_t *meta_json(const struct volume *v)
{
    return json_pack("{s:s,s:s,s:O?,s:O?}", "Name", v->name, "CreatedAt", v->created, "Labels",
                     v->labels, "Options", v->options);
}

static void volume_free(struct volume *v)
{
    if (v == NULL)
        return;
    free(v->name);
    free(v->created);
    json_decref(v->labels);
    json_decref(v->options);
    free(v);
}

static json_t *object_or_null(const json_t *o)
{
    return json_is_object(o) ? json_deep_copy(o) : NULL;
}

/* ---- the in-memory list -------------------------------------------------------------- */

static struct volume *find(struct vol_store *vs, const char *name)
{
    for (size_t i = 0; i < vs->n; i++)
        if (strcmp(vs->items[i]->name, name) == 0)
            return vs->items[i];
    return NULL;
}

static void push(struct vol_store *vs, struct volume *v)
{
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 32;
        struct volume **nv = realloc(vs->items, vs->cap * sizeof(*nv));
        if (nv == NULL)
            abort();
        vs->items = nv;
    }
    vs->items[vs->n++] = v;
}

static void drop(struct vol_store *vs, struct volume *v)
{
    for (size_t i = 0; i < vs->n; i++) {
        if (vs->items[i] == v) {
            vs->items[i] = vs->items[--vs->n];
            break;
        }
    }
    volume_free(v);
}

static json_t *describe(struct vol_store *vs, const struct volume *v)
{
    _cleanup_free_ char *path = vol_data_path(vs, v->name);
    return json_pack("{s:s,s:s,s:O?,s:s,s:s,s:O?,s:s}", "CreatedAt", v->created, "Driver", "local",
                     "Labels", v->labels, "Mountpoint", path, "Name", v->name, "Options",
                     v->options, "Scope", "local");
}

/* ---- open: load and sweep ------------------------------------------------------------ */

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* A volume directory's record; one whose volume.json is unreadable (written by hand, or by an
 * older berthd) keeps its data and gets defaults. */
static struct volume *load_one(struct vol_store *vs, const char *name)
{
    _cleanup_free_ char *dir = path_join(vs->root, name);
    _cleanup_free_ char *meta = path_join(dir, META_FILE);
    _cleanup_free_ char *data = path_join(dir, DATA_DIR);
    struct stat st;

    if (!name_ok(name) || stat(data, &st) < 0 || !S_ISDIR(st.st_mode))
        return NULL;
    json_t *j = json_load_file(meta, 0, NULL);
    const char *created = json_string_value(json_object_get(j, "CreatedAt"));
    struct volume *v = xcalloc(1, sizeof(*v));
    v->name = xstrdup(name);
    v->created = created ? xstrdup(created) : now_text();
    v->labels = object_or_null(json_object_get(j, "Labels"));
    v->options = object_or_null(json_object_get(j, "Options"));
    if (j == NULL)
        log_warn("volume %s: %s is missing or unreadable; keeping the volume with defaults", name,
                 meta);
    json_decref(j);
    return v;
}

static void sweep(struct vol_store *vs, const char *name)
{
    _cleanup_free_ char *path = path_join(vs->root, name);
    berr_t e = NULL;

    log_info("volumes: removing %s, left by an interrupted %s", path,
             strncmp(name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0 ? "create" : "remove");
    if (rm_rf(path, &e) < 0)
        log_warn("volumes: %s", berr_msg(e));
    berr_free(&e);
}

static int load_all(struct vol_store *vs, berr_t *err)
{
    DIR *d = opendir(vs->root);
    struct dirent *de;

    if (d == NULL)
        return berr_set(err, errno, "volumes: open %s", vs->root);
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, NEW_PREFIX, strlen(NEW_PREFIX)) == 0 ||
            strncmp(n, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0) {
            sweep(vs, n);
            continue;
        }
        struct volume *v = n[0] == '.' ? NULL : load_one(vs, n);
        if (v)
            push(vs, v);
        else if (n[0] != '.')
            log_warn("volumes: %s/%s is not a volume; leaving it alone", vs->root, n);
    }
    closedir(d);
    fsync_dir(vs->root);
    return 0;
}

int vol_store_open(const char *data_root, vol_users_fn users, void *ctx, struct vol_store **out,
                   berr_t *err)
{
    struct vol_store *vs = xcalloc(1, sizeof(*vs));

    pthread_mutex_init(&vs->lock, NULL);
    vs->root = path_join(data_root, "volumes");
    vs->users = users;
    vs->ctx = ctx;
    if (mkdir_p(vs->root, 0701, err) < 0 || load_all(vs, err) < 0) {
        vol_store_close(vs);
        return berr_prefix(err, "volumes: open store");
    }
    *out = vs;
    return 0;
}

void vol_store_close(struct vol_store *vs)
{
    if (vs == NULL)
        return;
    for (size_t i = 0; i < vs->n; i++)
        volume_free(vs->items[i]);
    free(vs->items);
    free(vs->root);
    pthread_mutex_destroy(&vs->lock);
    free(vs);
}

/* ---- create -------------------------------------------------------------------------- */

/* Make V's directory under a temporary name, complete and synced. Returns its path. */
static char *stage(struct vol_store *vs, const struct volume *v, berr_t *err)
{
    _cleanup_free_ char *rnd = random_hex(8);
    _cleanup_free_ char *base = xasprintf(NEW_PREFIX "%s", rnd);
    char *dir = path_join(vs->root, base);
    _cleanup_free_ char *data = path_join(dir, DATA_DIR);
    _cleanup_free_ char *meta = path_join(dir, META_FILE);
    json_t *j = meta_json(v);
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (mkdir(dir, 0701) < 0) {
        berr_set(err, errno, "create %s: make %s", v->name, dir);
        free(dir);
        return NULL;
    }
    if (mkdir(data, 0755) < 0 || fsync_dir(data) < 0) {
        berr_set(err, errno, "create %s: make %s", v->name, data);
    } else if (write_file_atomic(meta, text, strlen(text), 0600, err) == 0) {
        return dir;
    }
    rm_rf(dir, NULL);
    free(dir);
    return NULL;
}

/* Create V on disk: staged, then renamed into place and the rename synced. Lock held. */
static int commit(struct vol_store *vs, const struct volume *v, berr_t *err)
{
    _cleanup_free_ char *staged = stage(vs, v, err);
    _cleanup_free_ char *final = path_join(vs->root, v->name);

    if (staged == NULL)
        return -1;
    failpoint("volume-create-staged");
    if (rename(staged, final) < 0) {
        int e = errno;
        rm_rf(staged, NULL);
        return berr_set(err, e, "create %s: rename %s to %s", v->name, staged, final);
    }
    if (fsync_dir(vs->root) < 0)
        return berr_set(err, errno, "create %s: sync %s", v->name, vs->root);
    return 0;
}

static struct volume *new_volume(const struct vol_spec *s)
{
    struct volume *v = xcalloc(1, sizeof(*v));
    bool anon = s->name == NULL || *s->name == '\0';

    v->name = anon ? random_hex(32) : xstrdup(s->name);
    v->created = now_text();
    v->labels = object_or_null(s->labels);
    v->options = object_or_null(s->options);
    if (anon) {
        if (v->labels == NULL)
            v->labels = json_object();
        json_object_set_new(v->labels, VOL_ANON_LABEL, json_string(""));
    }
    return v;
}

/* Find or make the volume SPEC names; *CREATED tells which. Lock held. */
static struct volume *get_or_make(struct vol_store *vs, const struct vol_spec *s, bool *created,
                                  berr_t *err)
{
    struct volume *v = s->name && *s->name ? find(vs, s->name) : NULL;

    *created = false;
    if (v)
        return v;
    v = new_volume(s);
    if (commit(vs, v, err) < 0) {
        volume_free(v);
        return NULL;
    }
    push(vs, v);
    events_volume("create", v->name, NULL, NULL, false);
    *created = true;
    return v;
}

int vol_create(struct vol_store *vs, const struct vol_spec *spec, json_t **info, berr_t *err)
{
    bool created;

    if (check_spec(spec, err) < 0)
        return -1;
    pthread_mutex_lock(&vs->lock);
    struct volume *v = get_or_make(vs, spec, &created, err);
    if (v && info)
        *info = describe(vs, v);
    pthread_mutex_unlock(&vs->lock);
    return v ? 0 : -1;
}

int vol_acquire(struct vol_store *vs, const struct vol_spec *spec, char **name, bool *created,
                berr_t *err)
{
    if (check_spec(spec, err) < 0)
        return -1;
    pthread_mutex_lock(&vs->lock);
    struct volume *v = get_or_make(vs, spec, created, err);
    if (v) {
        v->holds++;
        *name = xstrdup(v->name);
    }
    pthread_mutex_unlock(&vs->lock);
    return v ? 0 : -1;
}

void vol_release(struct vol_store *vs, const char *name)
{
    pthread_mutex_lock(&vs->lock);
    struct volume *v = find(vs, name);
    if (v && v->holds > 0)
        v->holds--;
    pthread_mutex_unlock(&vs->lock);
}

/* ---- queries ------------------------------------------------------------------------- */

static int no_such(const char *op, const char *name, berr_t *err)
{
    return http_err(err, ENOENT, "%s %s: no such volume", op, name);
}

int vol_inspect(struct vol_store *vs, const char *name, json_t **info, berr_t *err)
{
    pthread_mutex_lock(&vs->lock);
    struct volume *v = find(vs, name);
    if (v)
        *info = describe(vs, v);
    pthread_mutex_unlock(&vs->lock);
    return v ? 0 : no_such("get", name, err);
}

static int by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "Name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "Name"));
    return strcmp(x, y);
}

json_t *vol_list(struct vol_store *vs)
{
    pthread_mutex_lock(&vs->lock);
    size_t n = vs->n;
    json_t **rows = xcalloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = describe(vs, vs->items[i]);
    pthread_mutex_unlock(&vs->lock);
    qsort(rows, n, sizeof(*rows), by_name);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, rows[i]);
    free(rows);
    return out;
}

json_t *vol_users(struct vol_store *vs, const char *name)
{
    pthread_mutex_lock(&vs->lock);
    json_t *ids = vs->users ? vs->users(vs->ctx, name) : json_array();
    pthread_mutex_unlock(&vs->lock);
    return ids;
}

char *vol_data_path(struct vol_store *vs, const char *name)
{
    return xasprintf("%s/%s/" DATA_DIR, vs->root, name);
}

json_t *vol_options(struct vol_store *vs, const char *name)
{
    pthread_mutex_lock(&vs->lock);
    struct volume *v = find(vs, name);
    json_t *o = v == NULL ? NULL : v->options ? json_deep_copy(v->options) : json_object();
    pthread_mutex_unlock(&vs->lock);
    return o;
}

/* ---- remove -------------------------------------------------------------------------- */

/* Bytes of the regular files below directory DFD (each inode once is not attempted). */
static int64_t measure(int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    int64_t total = 0;

    if (d == NULL) {
        close(dfd);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode))
            total += st.st_size;
        if (!S_ISDIR(st.st_mode) || depth >= MEASURE_MAX_DEPTH)
            continue;
        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0)
            total += measure(sub, depth + 1);
    }
    closedir(d);
    return total;
}

/* Delete a trashed volume directory: its data entry by entry, then the rest. A failure leaves
 * it for the sweep at the next start; the volume is already gone from the list either way. */
static void delete_trash(const char *trash, int64_t *freed)
{
    _cleanup_free_ char *data = path_join(trash, DATA_DIR);
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    berr_t e = NULL;

    if (fd >= 0 && freed)
        *freed = measure(dup(fd), 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    int removed = 0;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        beneath_remove(dirfd(d), de->d_name);
        if (++removed == 1)
            failpoint("volume-remove-partial");
    }
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    if (rm_rf(trash, &e) < 0)
        log_warn("volumes: %s (removed at the next start)", berr_msg(e));
    berr_free(&e);
}

/* EBUSY with Docker's text when V is held or a container uses it. Lock held. */
static int check_unused(struct vol_store *vs, struct volume *v, berr_t *err)
{
    json_t *ids = vs->users ? vs->users(vs->ctx, v->name) : json_array();
    size_t i;
    json_t *id;
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);

    json_array_foreach(ids, i, id)
    {
        fprintf(f, "%s%s", i ? ", " : "", json_string_value(id));
    }
    fclose(f);
    bool used = json_array_size(ids) > 0 || v->holds > 0;
    json_decref(ids);
    if (used)
        http_err(err, EBUSY, "remove %s: volume is in use - [%s]", v->name, list);
    free(list);
    return used ? -1 : 0;
}

int vol_remove(struct vol_store *vs, const char *name, bool force, int64_t *freed, berr_t *err)
{
    _cleanup_free_ char *rnd = random_hex(8);
    _cleanup_free_ char *base = xasprintf(TRASH_PREFIX "%s", rnd);
    _cleanup_free_ char *trash = path_join(vs->root, base);
    _cleanup_free_ char *dir = path_join(vs->root, name);

    if (freed)
        *freed = 0;
    pthread_mutex_lock(&vs->lock);
    struct volume *v = find(vs, name);
    int ret = v ? check_unused(vs, v, err) : force ? 1 : no_such("get", name, err);
    if (ret == 0 && rename(dir, trash) < 0)
        ret = berr_set(err, errno, "remove %s: rename %s", name, dir);
    if (ret == 0) {
        fsync_dir(vs->root);
        drop(vs, v);
        events_volume("destroy", name, NULL, NULL, false);
    }
    pthread_mutex_unlock(&vs->lock);
    if (ret != 0)
        return ret < 0 ? -1 : 0;
    failpoint("volume-remove-trashed");
    delete_trash(trash, freed);
    return 0;
}
