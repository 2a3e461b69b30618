/* Image endpoints of the Docker Engine API, on top of the image store:
 *   GET    /images/json                 docker images (filters: reference, dangling, label,
 *                                       before, since, until)
 *   POST   /images/create?fromSrc=-     docker import (the body is the rootfs tar)
 *   POST   /images/create?fromImage=    docker pull: not implemented yet (501)
 *   GET    /images/get?names=           docker save (also GET /images/{name}/get)
 *   POST   /images/load                 docker load
 *   POST   /images/prune                docker image prune
 *   GET    /images/{name}/json          docker image inspect
 *   GET    /images/{name}/history       docker history
 *   POST   /images/{name}/tag           docker tag
 *   DELETE /images/{name}               docker rmi
 * Tar bodies are streamed through the store, never held in memory. */
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/image/ref.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/timefmt.h"

#define NOT_PULLING                                                                                \
    "berthd: pulling images from registries is not implemented yet (issue: registry pull/push); "  \
    "use docker load or docker import"
#define NOT_PUSHING                                                                                \
    "berthd: pushing images to registries is not implemented yet (issue: registry pull/push); "    \
    "use docker save"
/* What a save stream collects before sending a chunk. */
#define SAVE_CHUNK (64 * 1024)

/* A JSON string made from heap string S, which is freed. */
static json_t *take_string(char *s)
{
    json_t *v = json_string(s);

    free(s);
    return v;
}

/* ---- filters ---- */

/* One filter key's values: the CLI's {"v": true} map or docker-py's ["v"] list. */
static int filter_values(const char *key, json_t *in, json_t *vals, berr_t *err)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_array(in)) {
        json_array_foreach(in, i, v)
        {
            if (!json_is_string(v))
                return http_err(err, EINVAL, "invalid filter '%s': values must be strings", key);
            json_array_append(vals, v);
        }
        return 0;
    }
    if (!json_is_object(in))
        return http_err(err, EINVAL, "invalid filter '%s': expected a list or a map", key);
    json_object_foreach(in, k, v)
    {
        if (!json_is_boolean(v))
            return http_err(err, EINVAL, "invalid filter '%s': map values must be booleans", key);
        if (json_is_true(v))
            json_array_append_new(vals, json_string(k));
    }
    return 0;
}

int api_filters_parse(const char *text, json_t **out, berr_t *err)
{
    json_error_t jerr;
    const char *key;
    json_t *v;

    *out = json_object();
    if (text == NULL || text[0] == '\0')
        return 0;
    json_t *in = json_loads(text, 0, &jerr);
    if (!json_is_object(in)) {
        json_decref(in);
        json_decref(*out);
        *out = NULL;
        return http_err(err, EINVAL, "invalid filters: %s",
                        in ? "expected a JSON object" : jerr.text);
    }
    json_object_foreach(in, key, v)
    {
        json_t *vals = json_array();
        json_object_set_new(*out, key, vals);
        if (filter_values(key, v, vals, err) < 0) {
            json_decref(in);
            json_decref(*out);
            *out = NULL;
            return -1;
        }
    }
    json_decref(in);
    return 0;
}

/* Refuse filter keys outside ALLOWED (NULL-terminated), as dockerd does. */
static int filters_check(json_t *f, const char *const *allowed, berr_t *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(f, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL)
            return http_err(err, EINVAL, "invalid filter '%s'", key);
    }
    return 0;
}

/* The boolean filter KEY: -1 when absent, else 0/1; EINVAL for other values. */
static int filter_bool(json_t *f, const char *key, int *out, berr_t *err)
{
    json_t *vals = json_object_get(f, key), *v;
    size_t i;

    *out = -1;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        int b = strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0    ? 1
                : strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 ? 0
                                                                     : -1;
        if (b < 0 || (*out >= 0 && *out != b))
            return http_err(err, EINVAL, "invalid filter '%s=%s'", key, s);
        *out = b;
    }
    return 0;
}

/* True when LABELS satisfy every "k" (present) and "k=v" (equal) of VALS; true without VALS. */
static bool labels_match(json_t *labels, json_t *vals)
{
    json_t *v;
    size_t i;

    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        const char *eq = strchr(s, '=');
        _cleanup_free_ char *k = eq ? xasprintf("%.*s", (int)(eq - s), s) : xstrdup(s);
        const char *have = json_string_value(json_object_get(labels, k));
        if (have == NULL || (eq && strcmp(have, eq + 1) != 0))
            return false;
    }
    return true;
}

/* A Go duration ("1h30m", "90s", "1.5h") in nanoseconds; false when S is not one. */
static bool parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    double total = 0;

    if (*s == '\0')
        return false;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end == '\0' || v < 0)
            return false;
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, l) == 0 && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (best_len == 0)
            return false;
        total += v * units[best].ns;
        s = end + best_len;
    }
    if (total > 9e18)
        return false;
    *ns = (int64_t)total;
    return true;
}

/* The nanoseconds since the epoch of RFC 3339 text S (Docker's "Created"); 0 when invalid. */
static int64_t rfc3339_ns(const char *s)
{
    int64_t secs, frac = 0;
    int digits = 0;

    if (s == NULL || time_parse_rfc3339(s, &secs) < 0)
        return 0;
    /* Far past or future dates (year 1 or 9999 in a loaded config) saturate. */
    if (secs > INT64_MAX / 1000000000 - 1)
        secs = INT64_MAX / 1000000000 - 1;
    if (secs < INT64_MIN / 1000000000 + 1)
        secs = INT64_MIN / 1000000000 + 1;
    const char *t = strchr(s, 'T');
    const char *dot = t ? strchr(t, '.') : NULL;
    if (dot)
        for (const char *p = dot + 1; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
            frac = frac * 10 + (*p - '0');
    for (; digits < 9; digits++)
        frac *= 10;
    return secs * 1000000000 + frac;
}

/* dockerd's timestamp filter values: a duration before now, Unix seconds[.fraction], or a
 * date in RFC 3339 form. */
static int parse_timestamp(const char *s, int64_t *ns, berr_t *err)
{
    struct timespec now;
    int64_t d, secs;
    char *end;

    clock_gettime(CLOCK_REALTIME, &now);
    if (parse_duration(s, &d)) {
        *ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - d;
        return 0;
    }
    double v = strtod(s, &end);
    if (end != s && *end == '\0' && v >= 0 && v < 9e9) {
        *ns = (int64_t)(v * 1e9);
        return 0;
    }
    if (time_parse_rfc3339(s, &secs) == 0) {
        *ns = rfc3339_ns(s);
        return 0;
    }
    return http_err(err, EINVAL, "invalid timestamp \"%s\"", s);
}

/* The creation time of REF_OR_ID in nanoseconds. */
static int image_created_ns(struct image_store *s, const char *ref_or_id, int64_t *ns, berr_t *err)
{
    json_t *info;

    if (image_inspect(s, ref_or_id, &info, err) < 0)
        return -1;
    *ns = rfc3339_ns(json_string_value(json_object_get(info, "Created")));
    json_decref(info);
    return 0;
}

/* Whether a familiar reference ("alpine:3", "x@sha256:..") matches one of PATTERNS: the whole
 * text or, as Docker's FamiliarMatch, only its repository name. */
static bool ref_matches(json_t *patterns, const char *familiar)
{
    struct image_ref ref;
    berr_t err = NULL;
    _cleanup_free_ char *name = NULL;
    json_t *p;
    size_t i;

    if (image_ref_parse(familiar, &ref, &err) == 0) {
        name = image_ref_familiar_name(&ref);
        image_ref_clear(&ref);
    }
    berr_free(&err);
    json_array_foreach(patterns, i, p)
    {
        const char *pat = json_string_value(p);
        if (fnmatch(pat, familiar, FNM_PATHNAME) == 0 ||
            (name && fnmatch(pat, name, FNM_PATHNAME) == 0))
            return true;
    }
    return false;
}

/* The entries of REFS (familiar strings) that match PATTERNS; placeholders never do. */
static json_t *refs_matching(json_t *refs, json_t *patterns)
{
    json_t *out = json_array(), *v;
    size_t i;

    json_array_foreach(refs, i, v)
    {
        const char *s = json_string_value(v);
        if (strncmp(s, "<none>", 6) != 0 && ref_matches(patterns, s))
            json_array_append(out, v);
    }
    return out;
}

static bool untagged(json_t *entry)
{
    json_t *tags = json_object_get(entry, "RepoTags");
    return json_array_size(tags) == 0 ||
           strcmp(json_string_value(json_array_get(tags, 0)), "<none>:<none>") == 0;
}

/* The time bounds of a listing, in nanoseconds (0: none). */
struct time_bounds {
    int64_t before, since, until;
};

static int time_bounds(struct image_store *s, json_t *f, struct time_bounds *b, berr_t *err)
{
    json_t *v;
    size_t i;

    memset(b, 0, sizeof(*b));
    json_array_foreach(json_object_get(f, "before"), i, v)
    {
        if (image_created_ns(s, json_string_value(v), &b->before, err) < 0)
            return -1;
    }
    json_array_foreach(json_object_get(f, "since"), i, v)
    {
        if (image_created_ns(s, json_string_value(v), &b->since, err) < 0)
            return -1;
    }
    json_array_foreach(json_object_get(f, "until"), i, v)
    {
        if (parse_timestamp(json_string_value(v), &b->until, err) < 0)
            return -1;
    }
    return 0;
}

static bool in_bounds(struct image_store *s, json_t *entry, const struct time_bounds *b)
{
    int64_t t;
    berr_t err = NULL;

    if (b->before == 0 && b->since == 0 && b->until == 0)
        return true;
    if (image_created_ns(s, json_string_value(json_object_get(entry, "Id")), &t, &err) < 0) {
        berr_free(&err); /* deleted meanwhile */
        return false;
    }
    return (b->before == 0 || t < b->before) && (b->since == 0 || t > b->since) &&
           (b->until == 0 || t <= b->until);
}

/* Apply the reference filter to ENTRY: false when no reference matches. */
static bool filter_refs(json_t *entry, json_t *patterns)
{
    if (json_array_size(patterns) == 0)
        return true;
    json_t *tags = refs_matching(json_object_get(entry, "RepoTags"), patterns);
    json_t *digests = refs_matching(json_object_get(entry, "RepoDigests"), patterns);
    bool any = json_array_size(tags) > 0 || json_array_size(digests) > 0;
    json_object_set_new(entry, "RepoTags", tags);
    json_object_set_new(entry, "RepoDigests", digests);
    return any;
}

static const char *const list_filter_keys[] = {"reference", "dangling", "label", "before",
                                               "since",     "until",    NULL};

/* Keep the entries of IMAGES that pass the filters F. */
static int filter_list(struct image_store *s, json_t *f, json_t *images, berr_t *err)
{
    struct time_bounds b;
    int dangling;

    if (filters_check(f, list_filter_keys, err) < 0 ||
        filter_bool(f, "dangling", &dangling, err) < 0 || time_bounds(s, f, &b, err) < 0)
        return -1;
    for (size_t i = json_array_size(images); i-- > 0;) {
        json_t *e = json_array_get(images, i);
        bool keep = (dangling < 0 || dangling == (int)untagged(e)) &&
                    labels_match(json_object_get(e, "Labels"), json_object_get(f, "label")) &&
                    in_bounds(s, e, &b) && filter_refs(e, json_object_get(f, "reference"));
        if (!keep)
            json_array_remove(images, i);
    }
    return 0;
}

/* ---- docker import --change ---- */

struct words {
    char **w;
    size_t n, cap;
};

static void words_free(struct words *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        free(ws->w[i]);
    free(ws->w);
}

/* Split S as Dockerfile ENV, LABEL and VOLUME do: whitespace separates, quotes group, a
 * backslash escapes the next character (not inside single quotes). */
static int split_words(const char *s, struct words *ws, berr_t *err)
{
    memset(ws, 0, sizeof(*ws));
    for (;;) {
        s += strspn(s, " \t");
        if (*s == '\0')
            return 0;
        char *w = xcalloc(1, strlen(s) + 1);
        size_t n = 0;
        char quote = 0;
        for (; *s && (quote || (*s != ' ' && *s != '\t')); s++) {
            if (quote == 0 && (*s == '"' || *s == '\''))
                quote = *s;
            else if (quote && *s == quote)
                quote = 0;
            else if (*s == '\\' && quote != '\'' && s[1] != '\0')
                w[n++] = *++s;
            else
                w[n++] = *s;
        }
        /* Many words must not each keep the size of the whole line. */
        char *shrunk = realloc(w, n + 1);
        if (shrunk == NULL)
            abort();
        if (ws->n == ws->cap) {
            ws->cap = ws->cap ? 2 * ws->cap : 8;
            char **nw = realloc(ws->w, ws->cap * sizeof(*nw));
            if (nw == NULL)
                abort();
            ws->w = nw;
        }
        ws->w[ws->n++] = shrunk;
        if (quote) {
            words_free(ws);
            return http_err(err, EINVAL, "unmatched quote (%c) in change", quote);
        }
    }
}

/* CONFIG[KEY] as an object or array (IS_ARRAY), created when missing. */
static json_t *member(json_t *config, const char *key, bool is_array)
{
    json_t *v = json_object_get(config, key);

    if (is_array ? json_is_array(v) : json_is_object(v))
        return v;
    v = is_array ? json_array() : json_object();
    json_object_set_new(config, key, v);
    return v;
}

/* The JSON-array (exec) form of REST, or NULL when REST is in shell form. */
static json_t *exec_form(const char *rest)
{
    json_t *a, *v;
    size_t i;

    if (rest[0] != '[' || (a = json_loads(rest, 0, NULL)) == NULL)
        return NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* CMD and ENTRYPOINT: exec form as is, shell form run by /bin/sh -c. */
static json_t *command(const char *rest)
{
    json_t *a = exec_form(rest);
    return a ? a : json_pack("[s,s,s]", "/bin/sh", "-c", rest);
}

struct change {
    json_t *config;
    const char *instr; /* upper case */
    const char *rest;  /* the arguments, trimmed, never empty */
    bool cmd_set;      /* CMD came before: ENTRYPOINT keeps it */
};

static int ch_cmd(struct change *c, berr_t *err)
{
    (void)err;
    json_object_set_new(c->config, "Cmd", command(c->rest));
    c->cmd_set = true;
    return 0;
}

static int ch_entrypoint(struct change *c, berr_t *err)
{
    (void)err;
    json_object_set_new(c->config, "Entrypoint", command(c->rest));
    /* As in a Dockerfile, a new entrypoint drops an inherited command. */
    if (!c->cmd_set)
        json_object_set_new(c->config, "Cmd", json_null());
    return 0;
}

static void set_env(json_t *config, const char *key, const char *value)
{
    json_t *env = member(config, "Env", true), *v;
    size_t i, klen = strlen(key);
    char *line = xasprintf("%s=%s", key, value);

    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
            json_array_set_new(env, i, json_string(line));
            free(line);
            return;
        }
    }
    json_array_append_new(env, json_string(line));
    free(line);
}

static void set_label(json_t *config, const char *key, const char *value)
{
    json_object_set_new(member(config, "Labels", false), key, json_string(value));
}

/* ENV and LABEL: "k=v k2='v 2'" pairs, or the legacy "k the value" form. */
static int key_values(struct change *c, void (*set)(json_t *, const char *, const char *),
                      berr_t *err)
{
    struct words ws;
    int r = 0;

    if (split_words(c->rest, &ws, err) < 0)
        return -1;
    bool pairs = ws.n > 0 && strchr(ws.w[0], '=') != NULL;
    if (ws.n > 0 && !pairs) {
        /* As dockerd: the raw first word is the name, the raw rest the value. */
        size_t klen = strcspn(c->rest, " \t");
        _cleanup_free_ char *key = xasprintf("%.*s", (int)klen, c->rest);
        const char *value = c->rest + klen + strspn(c->rest + klen, " \t");
        if (*value == '\0')
            r = http_err(err, EINVAL, "%s must have two arguments", c->instr);
        else
            set(c->config, key, value);
    }
    for (size_t i = 0; r == 0 && pairs && i < ws.n; i++) {
        char *eq = strchr(ws.w[i], '=');
        if (eq == NULL)
            r = http_err(err, EINVAL,
                         "Syntax error - can't find = in \"%s\". Must be of the form: name=value",
                         ws.w[i]);
        else if (eq == ws.w[i])
            r = http_err(err, EINVAL, "%s names can not be blank", c->instr);
        else {
            *eq = '\0';
            set(c->config, ws.w[i], eq + 1);
        }
    }
    words_free(&ws);
    return r;
}

static int ch_env(struct change *c, berr_t *err)
{
    return key_values(c, set_env, err);
}

static int ch_label(struct change *c, berr_t *err)
{
    return key_values(c, set_label, err);
}

/* A port number at *S (digits only), advancing *S; -1 when there is none or it is too big. */
static long port_number(const char **s)
{
    long v = 0;

    if (**s < '0' || **s > '9')
        return -1;
    while (**s >= '0' && **s <= '9') {
        v = v * 10 + (**s - '0');
        (*s)++;
        if (v > 65535)
            return -1;
    }
    return v;
}

/* One EXPOSE argument: "80", "53/udp", "8000-8010/tcp". */
static int expose_one(json_t *ports, const char *spec, berr_t *err)
{
    const char *slash = strchr(spec, '/');
    _cleanup_free_ char *range =
        slash ? xasprintf("%.*s", (int)(slash - spec), spec) : xstrdup(spec);
    _cleanup_free_ char *proto = xstrdup(slash ? slash + 1 : "tcp");
    const char *p = range;
    long lo, hi;

    for (char *p = proto; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0)
        return http_err(err, EINVAL, "Invalid proto: %s", proto);
    lo = hi = port_number(&p);
    if (lo >= 0 && *p == '-') {
        p++;
        hi = port_number(&p);
    }
    if (lo < 0 || hi < lo || *p != '\0')
        return http_err(err, EINVAL, "Invalid containerPort: %s", range);
    for (long port = lo; port <= hi; port++) {
        char key[32];
        snprintf(key, sizeof(key), "%ld/%s", port, proto);
        json_object_set_new(ports, key, json_object());
    }
    return 0;
}

static int ch_expose(struct change *c, berr_t *err)
{
    json_t *ports = member(c->config, "ExposedPorts", false);
    struct words ws;
    int r = 0;

    if (split_words(c->rest, &ws, err) < 0)
        return -1;
    for (size_t i = 0; r == 0 && i < ws.n; i++)
        r = expose_one(ports, ws.w[i], err);
    words_free(&ws);
    return r;
}

static int ch_user(struct change *c, berr_t *err)
{
    (void)err;
    json_object_set_new(c->config, "User", json_string(c->rest));
    return 0;
}

/* PATH made absolute and clean: no "." or ".." parts, no repeated or trailing slashes. */
static char *clean_path(const char *path)
{
    char *out = xcalloc(1, strlen(path) + 2);
    size_t n = 0;

    while (*path) {
        path += strspn(path, "/");
        size_t len = strcspn(path, "/");
        if (len == 0)
            break;
        if (len == 2 && strncmp(path, "..", 2) == 0) {
            while (n > 0 && out[--n] != '/')
                ;
        } else if (len != 1 || path[0] != '.') {
            out[n++] = '/';
            memcpy(out + n, path, len);
            n += len;
        }
        path += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return out;
}

/* WORKDIR: a relative path continues the previous working directory. */
static int ch_workdir(struct change *c, berr_t *err)
{
    const char *prev = json_string_value(json_object_get(c->config, "WorkingDir"));
    _cleanup_free_ char *joined =
        c->rest[0] == '/' ? xstrdup(c->rest) : xasprintf("%s/%s", prev ? prev : "", c->rest);

    (void)err;
    json_object_set_new(c->config, "WorkingDir", take_string(clean_path(joined)));
    return 0;
}

/* VOLUME ["/a", "/b"] or VOLUME /a /b */
static int ch_volume(struct change *c, berr_t *err)
{
    json_t *vols = member(c->config, "Volumes", false), *a = exec_form(c->rest), *v;
    struct words ws = {0};
    size_t i;
    int r = 0;

    if (a == NULL) {
        if (split_words(c->rest, &ws, err) < 0)
            return -1;
        a = json_array();
        for (i = 0; i < ws.n; i++)
            json_array_append_new(a, json_string(ws.w[i]));
        words_free(&ws);
    }
    json_array_foreach(a, i, v)
    {
        const char *path = json_string_value(v);
        if (path == NULL || path[0] == '\0') {
            r = http_err(err, EINVAL, "VOLUME specified can not be an empty string");
            break;
        }
        json_object_set_new(vols, path, json_object());
    }
    json_decref(a);
    return r;
}

static int ch_stopsignal(struct change *c, berr_t *err)
{
    (void)err;
    json_object_set_new(c->config, "StopSignal", json_string(c->rest));
    return 0;
}

/* ONBUILD INSTRUCTION ARGS: kept as text for images built FROM this one. */
static int ch_onbuild(struct change *c, berr_t *err)
{
    size_t len = strcspn(c->rest, " \t");
    _cleanup_free_ char *trigger = xasprintf("%.*s", (int)len, c->rest);

    for (char *p = trigger; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    if (strcmp(trigger, "ONBUILD") == 0 || strcmp(trigger, "FROM") == 0 ||
        strcmp(trigger, "MAINTAINER") == 0)
        return http_err(err, EINVAL, "%s isn't allowed as an ONBUILD trigger", trigger);
    json_array_append_new(member(c->config, "OnBuild", true),
                          take_string(xasprintf("%s%s", trigger, c->rest + len)));
    return 0;
}

static const struct {
    const char *name;
    int (*apply)(struct change *c, berr_t *err);
} change_cmds[] = {
    {"CMD", ch_cmd},         {"ENTRYPOINT", ch_entrypoint}, {"ENV", ch_env},
    {"LABEL", ch_label},     {"EXPOSE", ch_expose},         {"USER", ch_user},
    {"WORKDIR", ch_workdir}, {"VOLUME", ch_volume},         {"STOPSIGNAL", ch_stopsignal},
    {"ONBUILD", ch_onbuild},
};

/* Apply one Dockerfile-style LINE to C->config. */
static int apply_change(struct change *c, const char *line, berr_t *err)
{
    json_t *probe = json_string(line);
    const char *ws = " \t\r\n";

    if (probe == NULL)
        return http_err(err, EINVAL, "change is not valid UTF-8");
    json_decref(probe);
    line += strspn(line, ws);
    size_t ilen = strcspn(line, ws);
    if (ilen == 0)
        return 0;
    _cleanup_free_ char *instr = xasprintf("%.*s", (int)ilen, line);
    _cleanup_free_ char *rest = xstrdup(line + ilen + strspn(line + ilen, ws));
    size_t rlen = strlen(rest);
    while (rlen > 0 && strchr(ws, rest[rlen - 1]))
        rest[--rlen] = '\0';
    for (char *p = instr; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    for (size_t i = 0; i < sizeof(change_cmds) / sizeof(change_cmds[0]); i++) {
        if (strcmp(instr, change_cmds[i].name) != 0)
            continue;
        if (rlen == 0)
            return http_err(err, EINVAL, "%s requires at least one argument", instr);
        c->instr = instr;
        c->rest = rest;
        return change_cmds[i].apply(c, err);
    }
    return http_err(err, EINVAL, "%s is not a valid change command", instr);
}

int api_image_changes(const char *const *lines, size_t n, json_t **config, berr_t *err)
{
    struct change c = {.config = json_object()};

    for (size_t i = 0; i < n; i++) {
        if (apply_change(&c, lines[i], err) < 0) {
            json_decref(c.config);
            *config = NULL;
            return -1;
        }
    }
    *config = c.config;
    return 0;
}

/* ---- request bodies and response streams ---- */

static struct image_store *store_of(const struct http_request *req)
{
    return api_daemon(req)->images;
}

/* The request body as an io_reader; the first read error is kept for the answer. */
struct body_in {
    struct http_request *req;
    berr_t err;
};

static ssize_t body_in_read(void *ctx, void *buf, size_t len)
{
    struct body_in *b = ctx;
    ssize_t n = b->err ? -1 : http_body_read(b->req, buf, len, &b->err);

    if (n < 0)
        errno = b->err && b->err->errnum ? b->err->errnum : EIO;
    return n;
}

/* After a store call over the body returned R: when it failed, a body error explains why
 * better than the store's view of it (413 too large, client gone). */
static int body_in_done(struct body_in *b, int r, berr_t *err)
{
    if (r < 0 && b->err) {
        berr_free(err);
        *err = b->err;
        b->err = NULL;
    }
    berr_free(&b->err);
    return r;
}

/* Answer the JSON lines LINES (consumed) as dockerd streams progress, then, when R < 0, ERR as
 * {"errorDetail": {"message"}, "error"}. A failure with nothing to show before it is a plain
 * error status instead. */
static int send_lines(struct http_response *resp, json_t *lines, int r, berr_t *err)
{
    berr_t werr = NULL;
    json_t *v;
    size_t i;

    if (r < 0 && json_array_size(lines) == 0) {
        json_decref(lines);
        return -1;
    }
    int w = http_chunk_begin(resp, 200, "application/json", &werr);
    json_array_foreach(lines, i, v)
    {
        if (w == 0)
            w = http_chunk_json(resp, json_incref(v), &werr);
    }
    json_decref(lines);
    if (w == 0 && r < 0)
        w = http_chunk_json(resp,
                            json_pack("{s:{s:s}, s:s}", "errorDetail", "message", berr_msg(*err),
                                      "error", berr_msg(*err)),
                            &werr);
    berr_free(err);
    if (w < 0) {
        *err = werr;
        return -1;
    }
    return 0;
}

/* docker save output: buffered into chunks; the stream starts with the first bytes, so a
 * missing image is still answered with 404. */
struct save_out {
    struct http_response *resp;
    berr_t err;
    char *buf;
    size_t len;
};

static int save_flush(struct save_out *o)
{
    if (!http_resp_started(o->resp) &&
        http_chunk_begin(o->resp, 200, "application/x-tar", &o->err) < 0)
        return -1;
    if (o->len > 0 && http_chunk_write(o->resp, o->buf, o->len, &o->err) < 0)
        return -1;
    o->len = 0;
    return 0;
}

static int save_write(void *ctx, const void *buf, size_t len)
{
    struct save_out *o = ctx;
    const char *p = buf;

    if (o->err) {
        errno = EPIPE;
        return -1;
    }
    while (len > 0) {
        size_t n = SAVE_CHUNK - o->len < len ? SAVE_CHUNK - o->len : len;
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        p += n;
        len -= n;
        if (o->len == SAVE_CHUNK && save_flush(o) < 0) {
            errno = EPIPE;
            return -1;
        }
    }
    return 0;
}

static int save(struct http_request *req, struct http_response *resp, const char *const *names,
                size_t n, berr_t *err)
{
    struct save_out o = {.resp = resp, .buf = xcalloc(1, SAVE_CHUNK)};
    struct io_writer w = {save_write, &o};
    int r = image_save(store_of(req), names, n, &w, err);

    if (r == 0 && save_flush(&o) < 0)
        r = -1;
    if (r < 0 && o.err) {
        berr_free(err);
        *err = o.err;
        o.err = NULL;
    }
    berr_free(&o.err);
    free(o.buf);
    return r;
}

/* ---- handlers ---- */

static int h_list(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *legacy = http_req_query(req, "filter");
    json_t *f = NULL, *images = NULL;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0)
        return -1;
    /* Before API 1.25 a name pattern came as "filter". */
    if (legacy && legacy[0])
        json_array_append_new(member(f, "reference", true), json_string(legacy));
    int r = image_list(store_of(req), http_req_query_bool(req, "all", false), &images, err);
    if (r == 0)
        r = filter_list(store_of(req), f, images, err);
    json_decref(f);
    if (r < 0) {
        json_decref(images);
        return -1;
    }
    http_resp_json(resp, 200, images);
    return 0;
}

/* REPO joined with TAG (may be NULL or empty), as dockerd reads repo= and tag=. */
static int repo_tag(const char *repo, const char *tag, char **out, berr_t *err)
{
    struct image_ref ref;

    if (image_ref_parse(repo, &ref, err) < 0)
        return -1;
    if (tag == NULL || tag[0] == '\0') {
        *out = xstrdup(repo);
    } else if (ref.digest) {
        image_ref_clear(&ref);
        return http_err(err, EINVAL, "cannot combine the digest reference %s with tag %s", repo,
                        tag);
    } else {
        _cleanup_free_ char *name = image_ref_name(&ref);
        *out = xasprintf("%s:%s", name, tag);
    }
    image_ref_clear(&ref);
    return 0;
}

/* docker import: the body is the rootfs tar. */
static int import(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *repo = http_req_query(req, "repo"), *msg = http_req_query(req, "message");
    const char *change[256];
    size_t n = 0;
    _cleanup_free_ char *ref = NULL;
    json_t *changes = NULL;

    while (n < sizeof(change) / sizeof(change[0]) &&
           (change[n] = http_req_query_nth(req, "changes", n)) != NULL)
        n++;
    if (n == sizeof(change) / sizeof(change[0]))
        return http_err(err, EINVAL, "import: too many changes");
    if ((repo && repo[0] && repo_tag(repo, http_req_query(req, "tag"), &ref, err) < 0) ||
        api_image_changes(change, n, &changes, err) < 0)
        return -1;
    struct image_import_opts o = {ref, n ? changes : NULL, msg && msg[0] ? msg : NULL, "-"};
    struct body_in b = {.req = req};
    struct io_reader in = {body_in_read, &b};
    char *id = NULL;
    int r = body_in_done(&b, image_import(store_of(req), &in, &o, &id, err), err);
    json_decref(changes);
    json_t *lines = json_array();
    if (r == 0)
        json_array_append_new(lines, json_pack("{s:s}", "status", id));
    free(id);
    return send_lines(resp, lines, r, err);
}

static int h_search(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    (void)resp;
    return http_err(err, ENOTSUP, "berthd: searching registries is not implemented yet");
}

static int h_create(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *image = http_req_query(req, "fromImage"), *src = http_req_query(req, "fromSrc");

    if (image && image[0])
        return http_err(err, ENOTSUP, NOT_PULLING);
    if (src == NULL || src[0] == '\0')
        return http_err(err, EINVAL, "fromImage or fromSrc is required");
    if (strcmp(src, "-") != 0)
        return http_err(err, ENOTSUP,
                        "berthd: importing from a URL is not supported; send the archive as the "
                        "request body (docker import FILE or -)");
    return import(req, resp, err);
}

static int h_push(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    (void)resp;
    return http_err(err, ENOTSUP, NOT_PUSHING);
}

static int h_inspect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *out;

    if (image_inspect(store_of(req), http_req_param(req, "name"), &out, err) < 0)
        return -1;
    http_resp_json(resp, 200, out);
    return 0;
}

static int h_history(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *out;

    if (image_history(store_of(req), http_req_param(req, "name"), &out, err) < 0)
        return -1;
    http_resp_json(resp, 200, out);
    return 0;
}

static int h_tag(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *repo = http_req_query(req, "repo");
    _cleanup_free_ char *ref = NULL;

    if (repo == NULL || repo[0] == '\0')
        return http_err(err, EINVAL, "repository name must have at least one component");
    if (repo_tag(repo, http_req_query(req, "tag"), &ref, err) < 0 ||
        image_tag(store_of(req), http_req_param(req, "name"), ref, err) < 0)
        return -1;
    http_resp_empty(resp, 201);
    return 0;
}

static int h_delete(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct daemon *d = api_daemon(req);
    struct image_delete_opts o = {http_req_query_bool(req, "force", false),
                                  http_req_query_bool(req, "noprune", false), d->images_in_use, d};
    json_t *report;

    if (image_delete(d->images, http_req_param(req, "name"), &o, &report, err) < 0)
        return -1;
    http_resp_json(resp, 200, report);
    return 0;
}

static int h_save_one(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *name = http_req_param(req, "name");
    return save(req, resp, &name, 1, err);
}

static int h_save_many(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char **names = NULL;
    size_t n = 0;

    while (http_req_query_nth(req, "names", n))
        n++;
    names = xcalloc(n + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = http_req_query_nth(req, "names", i);
    int r = save(req, resp, names, n, err);
    free(names);
    return r;
}

/* Loaded images are reported when the store is done (it calls this under its lock). */
static void load_line(void *ctx, const char *line)
{
    json_t *item = json_object();

    json_object_set_new(item, "stream", take_string(xasprintf("%s\n", line)));
    json_array_append_new(ctx, item);
}

/* docker load (quiet or not, dockerd sends the same lines). */
static int h_load(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *lines = json_array();
    struct body_in b = {.req = req};
    struct io_reader in = {body_in_read, &b};
    int r = body_in_done(&b, image_load(store_of(req), &in, load_line, lines, err), err);

    return send_lines(resp, lines, r, err);
}

/* ---- docker image prune ---- */

struct prune {
    struct daemon *d;
    json_t *deleted;
    json_int_t reclaimed;
};

static bool used_by_container(struct daemon *d, const char *id)
{
    char *container = NULL;

    if (d->images_in_use == NULL)
        return false;
    enum image_use use = d->images_in_use(d, id, &container);
    free(container);
    return use != IMAGE_UNUSED;
}

/* Remove REF (image ID's reference, or the ID itself) as prune does: conflicts are skipped. */
static void prune_ref(struct prune *p, const char *ref, const char *id, json_int_t size)
{
    struct image_delete_opts o = {.in_use = p->d->images_in_use, .ctx = p->d};
    json_t *report, *v;
    berr_t err = NULL;
    size_t i;

    if (image_delete(p->d->images, ref, &o, &report, &err) < 0) {
        berr_free(&err);
        return;
    }
    json_array_foreach(report, i, v)
    {
        const char *gone = json_string_value(json_object_get(v, "Deleted"));
        if (gone && strcmp(gone, id) == 0)
            p->reclaimed += size;
    }
    json_array_extend(p->deleted, report);
    json_decref(report);
}

static void prune_image(struct prune *p, json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "Id"));
    json_int_t size = json_integer_value(json_object_get(e, "Size"));
    const char *keys[] = {"RepoTags", "RepoDigests"};
    json_t *v;
    size_t i;

    if (used_by_container(p->d, id))
        return;
    if (untagged(e)) {
        prune_ref(p, id, id, size);
        return;
    }
    for (size_t k = 0; k < 2; k++) {
        json_array_foreach(json_object_get(e, keys[k]), i, v)
        {
            const char *ref = json_string_value(v);
            if (strncmp(ref, "<none>", 6) != 0)
                prune_ref(p, ref, id, size);
        }
    }
}

static const char *const prune_filter_keys[] = {"dangling", "label", "label!", "until", NULL};

/* Prune candidates: dangling ones unless dangling=false, within the label and until filters. */
static int prune_candidates(struct image_store *s, json_t *f, json_t **images, berr_t *err)
{
    struct time_bounds b;
    int dangling;

    if (filters_check(f, prune_filter_keys, err) < 0 ||
        filter_bool(f, "dangling", &dangling, err) < 0 || time_bounds(s, f, &b, err) < 0 ||
        image_list(s, false, images, err) < 0)
        return -1;
    json_t *neg = json_object_get(f, "label!");
    for (size_t i = json_array_size(*images); i-- > 0;) {
        json_t *e = json_array_get(*images, i);
        json_t *labels = json_object_get(e, "Labels");
        bool keep = (dangling == 0 || untagged(e)) &&
                    labels_match(labels, json_object_get(f, "label")) &&
                    !(json_array_size(neg) > 0 && labels_match(labels, neg)) && in_bounds(s, e, &b);
        if (!keep)
            json_array_remove(*images, i);
    }
    return 0;
}

static int h_prune(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct prune p = {.d = api_daemon(req)};
    json_t *f = NULL, *images = NULL, *e;
    size_t i;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0)
        return -1;
    int r = prune_candidates(p.d->images, f, &images, err);
    json_decref(f);
    if (r < 0)
        return -1;
    p.deleted = json_array();
    json_array_foreach(images, i, e) prune_image(&p, e);
    json_decref(images);
    if (json_array_size(p.deleted) == 0) {
        json_decref(p.deleted);
        p.deleted = json_null();
    }
    http_resp_json(
        resp, 200,
        json_pack("{s:o, s:I}", "ImagesDeleted", p.deleted, "SpaceReclaimed", p.reclaimed));
    return 0;
}

/* Fixed paths first: the router takes the first route that matches. */
const struct http_route api_image_routes[] = {
    {"GET", "/images/json", h_list, 0},
    {"POST", "/images/create", h_create, HTTP_BODY_UNLIMITED},
    {"GET", "/images/get", h_save_many, 0},
    {"POST", "/images/load", h_load, HTTP_BODY_UNLIMITED},
    {"POST", "/images/prune", h_prune, 0},
    {"GET", "/images/search", h_search, 0},
    {"GET", "/images/{name*}/json", h_inspect, 0},
    {"GET", "/images/{name*}/history", h_history, 0},
    {"GET", "/images/{name*}/get", h_save_one, 0},
    {"POST", "/images/{name*}/tag", h_tag, 0},
    {"POST", "/images/{name*}/push", h_push, 0},
    {"DELETE", "/images/{name*}", h_delete, 0},
};
const size_t api_image_routes_len = sizeof(api_image_routes) / sizeof(api_image_routes[0]);
