/* Planning a container's mount points at create: -v, --mount, --volumes-from, anonymous and
 * image volumes, with dockerd's validation and error texts. */
#include "runtime-agent/containers/mounts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"

#define DEFAULT_PROPAGATION "rprivate"

/* The kinds of words a -v mode may hold, at most one of each. */
static const char *const mode_words[][7] = {
    {"rw", "ro", NULL},
    {"z", "Z", NULL},
    {"private", "rprivate", "slave", "rslave", "shared", "rshared", NULL},
    {"nocopy", NULL},
    {"consistent", "cached", "delegated", NULL},
};
enum { KIND_RW, KIND_LABEL, KIND_PROPAGATION, KIND_COPY, KIND_CONSISTENCY, N_KINDS };

/* ---- modes --------------------------------------------------------------------------- */

static int word_kind(const char *w, size_t len)
{
    for (int k = 0; k < N_KINDS; k++)
        for (size_t i = 0; mode_words[k][i]; i++)
            if (strlen(mode_words[k][i]) == len && strncmp(mode_words[k][i], w, len) == 0)
                return k;
    return -1;
}

static bool mode_valid(const char *mode)
{
    int count[N_KINDS] = {0};

    for (const char *p = mode; *mode && p;) {
        const char *end = strchrnul(p, ',');
        int k = word_kind(p, (size_t)(end - p));
        if (k < 0 || ++count[k] > 1)
            return false;
        p = *end ? end + 1 : NULL;
    }
    return true;
}

/* The word of MODE of kind K, or NULL. Caller frees. */
static char *mode_word(const char *mode, int kind)
{
    for (const char *p = mode; *mode && p;) {
        const char *end = strchrnul(p, ',');
        if (word_kind(p, (size_t)(end - p)) == kind)
            return xasprintf("%.*s", (int)(end - p), p);
        p = *end ? end + 1 : NULL;
    }
    return NULL;
}

static bool mode_has_kind(const char *mode, int kind)
{
    char *w = mode_word(mode, kind);
    bool has = w != NULL;

    free(w);
    return has;
}

static bool mode_has(const char *mode, const char *word)
{
    for (const char *p = mode; *mode && p;) {
        const char *end = strchrnul(p, ',');
        if ((size_t)(end - p) == strlen(word) && strncmp(p, word, (size_t)(end - p)) == 0)
            return true;
        p = *end ? end + 1 : NULL;
    }
    return false;
}

/* ---- paths and points ---------------------------------------------------------------- */

/* Go's path.Clean for an absolute path. */
static char *clean_abs(const char *path)
{
    char *out = xcalloc(1, strlen(path) + 2);
    size_t len = 0;

    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            len = len > 0 ? len - 1 : 0;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, s, n);
        len += n;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

/* dockerd's text for a mount it refuses: "invalid mount config for type "T": WHY". */
__attribute__((format(printf, 3, 4))) static int config_err(berr_t *err, const char *type,
                                                            const char *fmt, ...)
{
    va_list ap;
    char *why = NULL;

    va_start(ap, fmt);
    if (vasprintf(&why, fmt, ap) < 0)
        abort();
    va_end(ap);
    http_err(err, EINVAL, "invalid mount config for type \"%s\": %s", type, why);
    free(why);
    return -1;
}

static int check_target(const char *type, const char *target, berr_t *err)
{
    _cleanup_free_ char *clean = clean_abs(target);

    if (*target == '\0')
        return config_err(err, type, "field %s must not be empty", "Target");
    if (target[0] != '/')
        return config_err(err, type, "invalid mount path: '%s' mount path must be absolute",
                          target);
    if (strcmp(clean, "/") == 0)
        return config_err(err, type, "invalid specification: destination can't be '/'");
    return 0;
}

static json_t *point_new(const char *type, const char *dest, bool rw)
{
    _cleanup_free_ char *clean = clean_abs(dest);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "Type", type, "Name", "", "Source", "",
                     "Destination", clean, "Driver", "", "Mode", "", "RW", rw, "Propagation", "");
}

static void set_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, json_string(v ? v : ""));
}

static json_t *volume_point(const char *name, const char *dest, bool rw, const char *mode,
                            bool copy)
{
    json_t *p = point_new("volume", dest, rw);

    set_str(p, "Name", name);
    set_str(p, "Driver", "local");
    set_str(p, "Mode", mode);
    json_object_set_new(p, "Anonymous", json_boolean(name == NULL || *name == '\0'));
    json_object_set_new(p, "CopyData", json_boolean(copy));
    return p;
}

/* ---- -v (Binds) ---------------------------------------------------------------------- */

static int bad_spec(berr_t *err, const char *raw)
{
    return http_err(err, EINVAL, "invalid volume specification: '%s'", raw);
}

/* The checks dockerd makes of a -v mount, in its order. */
static int check_bind(const char *raw, const char *src, const char *dst, const char *mode,
                      berr_t *err)
{
    bool bind = src[0] == '/';
    const char *type = bind ? "bind" : "volume";
    bool prop = mode_has_kind(mode, KIND_PROPAGATION);

    if (!mode_valid(mode))
        return http_err(err, EINVAL, "invalid mode: %s", mode);
    if (check_target(type, dst, err) < 0 ||
        (!bind && prop && config_err(err, type, "field %s must not be specified", "BindOptions")) ||
        (bind && mode_has(mode, "nocopy") &&
         config_err(err, type, "field %s must not be specified", "VolumeOptions")))
        return berr_prefix(err, "invalid volume specification: '%s'", raw);
    return 0;
}

static json_t *bind_point(const char *src, const char *dst, const char *mode)
{
    bool rw = !mode_has(mode, "ro");
    _cleanup_free_ char *label = mode_word(mode, KIND_LABEL);
    _cleanup_free_ char *prop = mode_word(mode, KIND_PROPAGATION);
    json_t *p;

    if (src[0] == '/') {
        _cleanup_free_ char *source = clean_abs(src);
        p = point_new("bind", dst, rw);
        set_str(p, "Source", source);
        set_str(p, "Mode", mode);
        set_str(p, "Propagation", prop ? prop : DEFAULT_PROPAGATION);
        json_object_set_new(p, "CreateSource", json_true());
    } else {
        p = volume_point(src, dst, rw, *mode ? mode : "z", !mode_has(mode, "nocopy"));
    }
    if (label)
        set_str(p, "Relabel", label);
    return p;
}

/* One HostConfig.Binds entry: SRC:DST[:MODE], or DST alone (an anonymous volume). */
static json_t *parse_bind(const char *raw, berr_t *err)
{
    _cleanup_free_ char *copy = xstrdup(raw);
    char *part[4] = {copy, NULL, NULL, NULL};
    size_t n = 1;
    const char *src = "", *dst, *mode = "";

    for (char *p = copy; n < 4 && (p = strchr(p, ':')) != NULL;)
        *p++ = '\0', part[n++] = p;
    /* DST:MODE is no volume: a volume cannot have a mode without a source. */
    if (*part[0] == '\0' || n == 4 || (n == 2 && mode_valid(part[1]))) {
        bad_spec(err, raw);
        return NULL;
    }
    dst = part[0];
    if (n >= 2) {
        src = part[0];
        dst = part[1];
        mode = n == 3 ? part[2] : "";
    }
    if (check_bind(raw, src, dst, mode, err) < 0)
        return NULL;
    return bind_point(src, dst, mode);
}

/* ---- --mount (Mounts) ---------------------------------------------------------------- */

static const json_t *opt_obj(const json_t *m, const char *key)
{
    const json_t *v = json_object_get(m, key);
    return json_is_object(v) ? v : NULL;
}

static const char *opt_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static int check_bind_mount(const json_t *m, const char *src, berr_t *err)
{
    const json_t *bo = opt_obj(m, "BindOptions");
    const char *prop = opt_str(bo, "Propagation");
    struct stat st;

    if (*src == '\0')
        return config_err(err, "bind", "field %s must not be empty", "Source");
    if (*prop && word_kind(prop, strlen(prop)) != KIND_PROPAGATION)
        return config_err(err, "bind", "invalid propagation mode: %s", prop);
    if (opt_obj(m, "VolumeOptions"))
        return config_err(err, "bind", "field %s must not be specified", "VolumeOptions");
    if (src[0] != '/')
        return config_err(err, "bind", "invalid mount path: '%s' mount path must be absolute", src);
    if (stat(src, &st) < 0 && !json_is_true(json_object_get(bo, "CreateMountpoint")))
        return config_err(err, "bind", "bind source path does not exist: %s", src);
    return 0;
}

static json_t *bind_mount_point(const json_t *m, const char *src, const char *dst, bool rw)
{
    const json_t *bo = opt_obj(m, "BindOptions");
    const char *prop = opt_str(bo, "Propagation");
    _cleanup_free_ char *source = clean_abs(src);
    json_t *p = point_new("bind", dst, rw);

    set_str(p, "Source", source);
    set_str(p, "Propagation", *prop ? prop : DEFAULT_PROPAGATION);
    json_object_set_new(p, "CreateSource",
                        json_boolean(json_is_true(json_object_get(bo, "CreateMountpoint"))));
    json_object_set_new(p, "NonRecursive",
                        json_boolean(json_is_true(json_object_get(bo, "NonRecursive"))));
    return p;
}

static json_t *volume_mount_point(const json_t *m, const char *src, const char *dst, bool rw)
{
    const json_t *vo = opt_obj(m, "VolumeOptions");
    const json_t *dc = opt_obj(vo, "DriverConfig");
    json_t *p = volume_point(src, dst, rw, "z", !json_is_true(json_object_get(vo, "NoCopy")));

    /* What a new volume is made with; dropped once the volumes are made (mounts_acquire). */
    if (opt_obj(vo, "Labels"))
        json_object_set(p, "_labels", (json_t *)opt_obj(vo, "Labels"));
    if (opt_obj(dc, "Options"))
        json_object_set(p, "_opts", (json_t *)opt_obj(dc, "Options"));
    if (*opt_str(dc, "Name"))
        set_str(p, "_driver", opt_str(dc, "Name"));
    return p;
}

/* Docker's tmpfs options from TmpfsOptions: ro, mode=%o, size with the largest exact unit. */
static char *tmpfs_options(const json_t *m, bool ro)
{
    const json_t *to = opt_obj(m, "TmpfsOptions");
    json_int_t size = json_integer_value(json_object_get(to, "SizeBytes"));
    json_int_t mode = json_integer_value(json_object_get(to, "Mode"));
    static const struct {
        const char *suffix;
        json_int_t div;
    } units[] = {{"g", 1LL << 30}, {"m", 1LL << 20}, {"k", 1LL << 10}};
    char *out = xstrdup(ro ? "ro" : "");

    if (mode) {
        char *n = xasprintf("%s%smode=%llo", out, *out ? "," : "", (unsigned long long)mode);
        free(out);
        out = n;
    }
    if (size) {
        const char *suffix = "";
        for (size_t i = 0; i < 3 && !*suffix; i++)
            if (size % units[i].div == 0)
                size /= units[i].div, suffix = units[i].suffix;
        char *n = xasprintf("%s%ssize=%lld%s", out, *out ? "," : "", (long long)size, suffix);
        free(out);
        out = n;
    }
    return out;
}

/* The checks dockerd makes of a --mount of type volume or tmpfs (bind: check_bind_mount). */
static int check_other_mount(const json_t *m, const char *type, const char *src, bool ro,
                             berr_t *err)
{
    bool volume = strcmp(type, "volume") == 0;

    if (!volume && strcmp(type, "tmpfs") != 0)
        return config_err(err, type, "mount type unknown");
    if (opt_obj(m, "BindOptions"))
        return config_err(err, type, "field %s must not be specified", "BindOptions");
    if (volume && ro && *src == '\0')
        return config_err(err, type, "must not set ReadOnly mode when using anonymous volumes");
    if (!volume && *src)
        return config_err(err, type, "field %s must not be specified", "Source");
    return 0;
}

static json_t *tmpfs_point(const json_t *m, const char *dst, bool ro)
{
    _cleanup_free_ char *opts = tmpfs_options(m, ro);
    json_t *p = point_new("tmpfs", dst, !ro);

    set_str(p, "TmpfsOptions", opts);
    return p;
}

/* One HostConfig.Mounts entry (--mount). */
static json_t *parse_mount(const json_t *m, berr_t *err)
{
    const char *type = opt_str(m, "Type"), *src = opt_str(m, "Source");
    const char *dst = opt_str(m, "Target");
    bool ro = json_is_true(json_object_get(m, "ReadOnly"));

    if (check_target(type, dst, err) < 0)
        return NULL;
    if (strcmp(type, "bind") == 0)
        return check_bind_mount(m, src, err) < 0 ? NULL : bind_mount_point(m, src, dst, !ro);
    if (check_other_mount(m, type, src, ro, err) < 0)
        return NULL;
    if (strcmp(type, "volume") == 0)
        return volume_mount_point(m, src, dst, !ro);
    return tmpfs_point(m, dst, ro);
}

/* ---- --volumes-from ------------------------------------------------------------------ */

/* Copies of the mount points of the container SPEC names ("ID[:MODE]") into BY_DEST. */
static int add_volumes_from(struct containers *cs, json_t *by_dest, const char *spec, berr_t *err)
{
    _cleanup_free_ char *id = xstrdup(spec);
    char *mode = strchr(id, ':');
    struct container *src;
    size_t i;
    json_t *p;

    if (*spec == '\0')
        return http_err(err, EINVAL, "volumes-from specification cannot be an empty string");
    if (mode)
        *mode++ = '\0';
    if (mode && *mode &&
        (!mode_valid(mode) || mode_has_kind(mode, KIND_PROPAGATION) || mode_has(mode, "nocopy")))
        return http_err(err, EINVAL, "invalid mode: %s", mode);
    if (ctr_get(&cs->store, id, &src, err) < 0)
        return -1;
    bool ro = mode && mode_has(mode, "ro");
    json_array_foreach(src->mounts, i, p)
    {
        json_t *cp = json_deep_copy(p);
        json_object_set_new(cp, "RW", json_boolean(json_is_true(json_object_get(p, "RW")) && !ro));
        set_str(cp, "Mode", "");
        json_object_del(cp, "Relabel");
        json_object_set_new(cp, "CopyData", json_false());
        json_object_set_new(by_dest, json_string_value(json_object_get(p, "Destination")), cp);
    }
    ctr_put(&cs->store, src);
    return 0;
}

/* ---- the plan ------------------------------------------------------------------------ */

static int duplicate(berr_t *err, const char *dest)
{
    return http_err(err, EINVAL, "Duplicate mount point: %s", dest);
}

/* Add point P (taken) to BY_DEST unless SEEN (or a --tmpfs, for -v) has its destination. */
static int put_unique(json_t *seen, json_t *by_dest, json_t *p, const json_t *tmpfs, berr_t *err)
{
    const char *dest = json_string_value(json_object_get(p, "Destination"));
    int ret = 0;

    if (json_object_get(seen, dest) || json_object_get(tmpfs, dest))
        ret = duplicate(err, dest);
    else
        json_object_set_new(seen, dest, json_true());
    if (ret == 0)
        json_object_set(by_dest, dest, p);
    json_decref(p);
    return ret;
}

/* Binds, then Mounts, each destination once, over what --volumes-from gave. */
static int add_explicit(const json_t *host, json_t *by_dest, berr_t *err)
{
    json_t *seen = json_object(), *v, *p;
    size_t i;
    int ret = 0;

    json_array_foreach(json_object_get(host, "Binds"), i, v)
    {
        const char *raw = json_string_value(v);
        if (ret == 0 && (p = parse_bind(raw ? raw : "", err)) == NULL)
            ret = -1;
        if (ret == 0)
            ret = put_unique(seen, by_dest, p, json_object_get(host, "Tmpfs"), err);
    }
    json_array_foreach(json_object_get(host, "Mounts"), i, v)
    {
        if (ret == 0 && (p = parse_mount(v, err)) == NULL)
            ret = -1;
        if (ret == 0)
            ret = put_unique(seen, by_dest, p, NULL, err);
    }
    json_decref(seen);
    return ret;
}

/* -v /path and the image's VOLUME entries: an anonymous volume where nothing else mounts. */
static int add_anonymous(const json_t *volumes, const json_t *host, json_t *by_dest, berr_t *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)volumes, key, v)
    {
        if (check_target("volume", key, err) < 0)
            return -1;
        _cleanup_free_ char *dest = clean_abs(key);
        if (json_object_get(by_dest, dest) || json_object_get(json_object_get(host, "Tmpfs"), dest))
            continue;
        json_object_set_new(by_dest, dest, volume_point(NULL, dest, true, "", true));
    }
    return 0;
}

static size_t depth(const json_t *p)
{
    const char *d = json_string_value(json_object_get(p, "Destination"));
    size_t n = 0;
    for (; *d; d++)
        n += *d == '/';
    return n;
}

/* Parents before children: fewer path components first, then by name. */
static int by_depth(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    size_t dx = depth(x), dy = depth(y);

    if (dx != dy)
        return dx < dy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "Destination")),
                  json_string_value(json_object_get(y, "Destination")));
}

static json_t *sorted(json_t *by_dest)
{
    size_t n = json_object_size(by_dest), i = 0;
    json_t **v = xcalloc(n + 1, sizeof(*v)), *p, *out = json_array();
    const char *key;

    json_object_foreach(by_dest, key, p)
    {
        v[i++] = p;
    }
    qsort(v, n, sizeof(*v), by_depth);
    for (i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

int mounts_plan(struct containers *cs, struct container *c, const json_t *image_config, berr_t *err)
{
    json_t *by_dest = json_object(), *v;
    size_t i;
    int ret = 0;

    json_array_foreach(json_object_get(c->host, "VolumesFrom"), i, v)
    {
        if (ret == 0)
            ret = add_volumes_from(cs, by_dest, json_string_value(v) ? json_string_value(v) : "",
                                   err);
    }
    if (ret == 0)
        ret = add_explicit(c->host, by_dest, err);
    if (ret == 0)
        ret = add_anonymous(json_object_get(c->config, "Volumes"), c->host, by_dest, err);
    if (ret == 0)
        ret = add_anonymous(json_object_get(image_config, "Volumes"), c->host, by_dest, err);
    if (ret == 0) {
        json_decref(c->mounts);
        c->mounts = sorted(by_dest);
    }
    json_decref(by_dest);
    return ret;
}
