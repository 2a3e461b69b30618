/* docker commit (POST /commit), docker diff (GET /containers/{id}/changes) and docker export
 * (GET /containers/{id}/export); the work is in containers/commit.h. Here: the query, and
 * the new image's config as dockerd makes it — the request's Config (or the container's) with
 * the --change lines applied as a Dockerfile would apply them, then merged with the
 * container's Config. */
#include <errno.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/commit.h"
#include "runtime-agent/image/ref.h"

#define MAX_CHANGES 256

static struct containers *cs_of(struct http_request *req)
{
    return daemon_containers(api_daemon(req));
}

/* ---- the config ------------------------------------------------------------------------ */

static bool empty(const json_t *v)
{
    return v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_string(v) && json_string_length(v) == 0);
}

/* The name part of an Env entry "K=V". */
static size_t env_key_len(const char *s)
{
    return strcspn(s, "=");
}

static bool env_has(const json_t *env, const char *entry)
{
    size_t i, klen = env_key_len(entry);
    json_t *v;

    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && env_key_len(s) == klen && strncmp(s, entry, klen) == 0)
            return true;
    }
    return false;
}

/* CFG[KEY] as an object or array, made when it is something else. */
static json_t *member(json_t *cfg, const char *key, bool array)
{
    json_t *v = json_object_get(cfg, key);

    if (array ? json_is_array(v) : json_is_object(v))
        return v;
    v = array ? json_array() : json_object();
    json_object_set_new(cfg, key, v);
    return v;
}

/* Fold what one change line set (DELTA) into CFG as the Dockerfile builder does. */
static void apply_delta(json_t *cfg, json_t *delta, bool *cmd_set)
{
    const char *key;
    json_t *v;

    json_object_foreach(delta, key, v)
    {
        if (strcmp(key, "Env") == 0) {
            json_t *env = member(cfg, "Env", true), *e;
            size_t i, j;
            json_array_foreach(v, i, e)
            {
                const char *s = json_string_value(e);
                size_t klen = env_key_len(s);
                bool replaced = false;
                json_t *old;
                json_array_foreach(env, j, old)
                {
                    const char *o = json_string_value(old);
                    if (!replaced && o && env_key_len(o) == klen && strncmp(o, s, klen) == 0) {
                        json_array_set(env, j, e);
                        replaced = true;
                    }
                }
                if (!replaced)
                    json_array_append(env, e);
            }
        } else if (strcmp(key, "ExposedPorts") == 0 || strcmp(key, "Volumes") == 0 ||
                   strcmp(key, "Labels") == 0) {
            json_object_update(member(cfg, key, false), v);
        } else if (strcmp(key, "OnBuild") == 0) {
            json_array_extend(member(cfg, key, true), v);
        } else if (strcmp(key, "Cmd") == 0) {
            /* ENTRYPOINT drops the command unless a CMD came before it. */
            if (!json_is_null(v) || !*cmd_set)
                json_object_set(cfg, key, v);
            *cmd_set |= !json_is_null(v);
        } else {
            json_object_set(cfg, key, v);
        }
    }
}

/* A relative WORKDIR continues the working directory CFG has. */
static char *absolute_workdir(const char *line, const json_t *cfg)
{
    const char *ws = " \t\r\n", *p = line + strspn(line, ws);
    size_t ilen = strcspn(p, ws);

    if (ilen != 7 || strncasecmp(p, "WORKDIR", 7) != 0)
        return xstrdup(line);
    const char *arg = p + ilen + strspn(p + ilen, ws);
    const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
    if (*arg == '/' || *arg == '\0' || wd == NULL || *wd == '\0')
        return xstrdup(line);
    return xasprintf("WORKDIR %s/%s", wd, arg);
}

/* dockerd's merge of the committed config USER with the container's IMG. */
static void merge(json_t *user, const json_t *img)
{
    const char *key;
    json_t *v;
    size_t i;

    static const char *const plain[] = {"User", "WorkingDir", "StopSignal"};
    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (empty(json_object_get(user, plain[i])) && json_object_get(img, plain[i]))
            json_object_set(user, plain[i], json_object_get(img, plain[i]));
    if (json_is_object(json_object_get(img, "ExposedPorts")))
        json_object_update_missing(member(user, "ExposedPorts", false),
                                   json_object_get(img, "ExposedPorts"));
    if (empty(json_object_get(user, "Env"))) {
        if (json_object_get(img, "Env"))
            json_object_set(user, "Env", json_object_get(img, "Env"));
    } else {
        json_t *env = json_object_get(user, "Env");
        json_array_foreach(json_object_get(img, "Env"), i, v)
        {
            if (json_is_string(v) && !env_has(env, json_string_value(v)))
                json_array_append(env, v);
        }
    }
    json_t *labels = member(user, "Labels", false);
    json_object_foreach((json_t *)json_object_get(img, "Labels"), key, v)
    {
        if (json_object_get(labels, key) == NULL)
            json_object_set(labels, key, v);
    }
    if (empty(json_object_get(user, "Entrypoint")) && empty(json_object_get(user, "Cmd"))) {
        json_object_set_new(user, "Cmd", json_deep_copy(json_object_get(img, "Cmd")));
        json_object_set_new(user, "Entrypoint", json_deep_copy(json_object_get(img, "Entrypoint")));
    }
    if (json_is_object(json_object_get(img, "Volumes")))
        json_object_update(member(user, "Volumes", false), json_object_get(img, "Volumes"));
    /* null rather than {} for what stayed empty, as Go leaves nil maps. */
    static const char *const maps[] = {"ExposedPorts", "Volumes"};
    for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        if (json_object_size(json_object_get(user, maps[i])) == 0)
            json_object_set_new(user, maps[i], json_null());
}

/* The new image's Config from the request body BODY (consumed; NULL or empty: CC's copy), the
 * N change LINES and the container's config CC. */
static int commit_config(json_t *body, const json_t *cc, const char *const *lines, size_t n,
                         json_t **out, berr_t *err)
{
    json_t *cfg =
        json_is_object(body) && json_object_size(body) > 0 ? json_incref(body) : json_deep_copy(cc);
    bool cmd_set = false;

    json_decref(body);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *line = absolute_workdir(lines[i], cfg);
        const char *one = line;
        json_t *delta;
        if (api_image_changes(&one, 1, &delta, err) < 0) {
            json_decref(cfg);
            return -1;
        }
        apply_delta(cfg, delta, &cmd_set);
        json_decref(delta);
    }
    merge(cfg, cc);
    *out = cfg;
    return 0;
}

/* ---- handlers -------------------------------------------------------------------------- */

/* repo= and tag= as one reference (NULL when no repo), checked before any work is done. */
static int commit_ref(struct http_request *req, char **out, berr_t *err)
{
    const char *repo = http_req_query(req, "repo"), *tag = http_req_query(req, "tag");
    struct image_ref ref;

    *out = NULL;
    if (repo == NULL || *repo == '\0')
        return 0;
    if (image_ref_parse(repo, &ref, err) < 0)
        return -1;
    bool digest = ref.digest != NULL;
    image_ref_clear(&ref);
    if (tag && *tag) {
        if (digest)
            return http_err(err, EINVAL, "refusing to create a tag with a digest reference");
        *out = xasprintf("%s:%s", repo, tag);
        if (image_ref_parse(*out, &ref, err) < 0) {
            free(*out);
            *out = NULL;
            return -1;
        }
        image_ref_clear(&ref);
    } else {
        *out = xstrdup(repo);
    }
    return 0;
}

static int h_commit(struct http_request *req, struct http_response *resp, berr_t *err)
{
    const char *name = http_req_query(req, "container");
    const char *lines[MAX_CHANGES];
    size_t n = 0;
    _cleanup_free_ char *ref = NULL, *id = NULL;
    json_t *body = NULL, *config = NULL;
    struct container *c;

    while (n < MAX_CHANGES && (lines[n] = http_req_query_nth(req, "changes", n)) != NULL)
        n++;
    if (n == MAX_CHANGES)
        return http_err(err, EINVAL, "commit: too many changes");
    if (commit_ref(req, &ref, err) < 0 || http_body_json(req, &body, err) < 0)
        return -1;
    if (ctr_get(&cs_of(req)->store, name ? name : "", &c, err) < 0) {
        json_decref(body);
        return -1;
    }
    json_t *cc = ctr_config_copy(cs_of(req), c);
    int r = commit_config(body, cc, lines, n, &config, err);
    json_decref(cc);
    if (r == 0) {
        struct ctr_commit_opts o = {
            .ref = ref,
            .comment = http_req_query(req, "comment"),
            .author = http_req_query(req, "author"),
            .pause = http_req_query_bool(req, "pause", true),
            .config = config,
        };
        r = ctr_commit(cs_of(req), c, &o, &id, err);
    }
    json_decref(config);
    ctr_put(&cs_of(req)->store, c);
    if (r < 0)
        return -1;
    http_resp_json(resp, 201, json_pack("{s:s}", "Id", id));
    return 0;
}

static int h_changes(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct container *c;
    json_t *changes = NULL;

    if (ctr_get(&cs_of(req)->store, http_req_param(req, "id"), &c, err) < 0)
        return -1;
    int r = ctr_changes(cs_of(req), c, &changes, err);
    ctr_put(&cs_of(req)->store, c);
    if (r < 0)
        return -1;
    http_resp_json(resp, 200, changes);
    return 0;
}

struct export_out {
    struct http_response *resp;
    berr_t err;
};

static int export_begin(void *ctx, berr_t *err)
{
    struct export_out *o = ctx;
    return http_chunk_begin(o->resp, 200, "application/x-tar", err);
}

static int export_write(void *ctx, const void *buf, size_t len)
{
    struct export_out *o = ctx;

    if (o->err == NULL && http_chunk_write(o->resp, buf, len, &o->err) == 0)
        return 0;
    errno = EPIPE;
    return -1;
}

static int h_export(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct export_out o = {resp, NULL};
    struct io_writer w = {export_write, &o};
    struct container *c;

    if (ctr_get(&cs_of(req)->store, http_req_param(req, "id"), &c, err) < 0)
        return -1;
    int r = ctr_export(cs_of(req), c, &w, export_begin, &o, err);
    ctr_put(&cs_of(req)->store, c);
    if (r < 0 && o.err) {
        berr_free(err);
        *err = o.err;
        o.err = NULL;
    }
    berr_free(&o.err);
    return r;
}

const struct http_route api_commit_routes[] = {
    {"POST", "/commit", h_commit, 0},
    {"GET", "/containers/{id}/changes", h_changes, 0},
    {"GET", "/containers/{id}/export", h_export, 0},
};
const size_t api_commit_routes_len = sizeof(api_commit_routes) / sizeof(api_commit_routes[0]);
