#include "runtime-agent/http/router.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/http/query.h"

struct route_table {
    const struct http_route *routes;
    size_t n;
};

struct router {
    int min_version, max_version;
    struct route_table *tables;
    size_t n_tables;
};

/* A parameter found while matching: slices of the pattern and the path. */
struct raw_param {
    const char *name, *value;
    size_t name_len, value_len;
};

struct raw_params {
    size_t n;
    struct raw_param p[ROUTE_MAX_PARAMS];
};

struct router *router_new(int min_version, int max_version)
{
    struct router *r = xcalloc(1, sizeof(*r));
    r->min_version = min_version;
    r->max_version = max_version;
    return r;
}

void router_add(struct router *r, const struct http_route *routes, size_t n)
{
    struct route_table *t = realloc(r->tables, (r->n_tables + 1) * sizeof(*t));
    if (t == NULL)
        abort();
    r->tables = t;
    r->tables[r->n_tables++] = (struct route_table){routes, n};
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    free(r->tables);
    free(r);
}

static bool add_raw(struct raw_params *ps, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    if (ps->n == ROUTE_MAX_PARAMS)
        return false;
    ps->p[ps->n++] = (struct raw_param){name, value, name_len, value_len};
    return true;
}

/* Match PAT against PATH, collecting parameters; backtracks for {name*}. */
static bool match(const char *pat, const char *path, struct raw_params *ps)
{
    while (*pat != '\0') {
        if (*pat != '{') {
            if (*pat++ != *path++)
                return false;
            continue;
        }
        const char *close = strchr(pat, '}');
        if (close == NULL)
            return false;
        const char *name = pat + 1;
        size_t name_len = (size_t)(close - name);
        bool greedy = name_len > 0 && name[name_len - 1] == '*';
        pat = close + 1;
        if (!greedy) {
            size_t seg = strcspn(path, "/");
            if (seg == 0 || !add_raw(ps, name, name_len, path, seg))
                return false;
            path += seg;
            continue;
        }
        /* Longest first, so "/images/a/b/json" gives name "a/b". */
        size_t saved = ps->n;
        for (size_t len = strlen(path); len > 0; len--) {
            if (match(pat, path + len, ps) && add_raw(ps, name, name_len - 1, path, len))
                return true;
            ps->n = saved;
        }
        return false;
    }
    return *path == '\0';
}

/* Copy the matched slices into M, decoding values. */
static int keep_params(const struct raw_params *raw, struct route_match *m, berr_t *err)
{
    for (size_t i = 0; i < raw->n; i++) {
        char *value = NULL;
        if (http_percent_decode(raw->p[i].value, raw->p[i].value_len, false, &value, err) < 0) {
            route_params_clear(&m->params);
            m->status = 400;
            return -1;
        }
        m->params.p[i].name = xasprintf("%.*s", (int)raw->p[i].name_len, raw->p[i].name);
        m->params.p[i].value = value;
        m->params.n = i + 1;
    }
    return 0;
}

/* Find the route for METHOD exactly; *path_seen tells whether any method matched the path. */
static const struct http_route *find(const struct router *r, const char *method, const char *path,
                                     struct raw_params *raw, bool *path_seen)
{
    for (size_t t = 0; t < r->n_tables; t++) {
        for (size_t i = 0; i < r->tables[t].n; i++) {
            const struct http_route *rt = &r->tables[t].routes[i];
            struct raw_params ps = {0};
            if (!match(rt->pattern, path, &ps))
                continue;
            *path_seen = true;
            if (strcmp(rt->method, method) == 0) {
                *raw = ps;
                return rt;
            }
        }
    }
    return NULL;
}

int router_split_version(const char *path, int *version, const char **rest)
{
    if (strncmp(path, "/v", 2) != 0 || !isdigit((unsigned char)path[2]))
        return 0;
    const char *p = path + 2;
    size_t span = strspn(p, "0123456789.");
    if (p[span] != '/' && p[span] != '\0')
        return 0;
    char *end;
    long major = strtol(p, &end, 10), minor = 0;
    if (*end == '.')
        minor = strtol(end + 1, &end, 10);
    if (end != p + span || end[-1] == '.' || major > 999 || minor > 999)
        return -1;
    *version = API_VERSION((int)major, (int)minor);
    *rest = p + span;
    return 1;
}

/* Check the /vX.YY prefix of PATH against the supported range; sets *rest. */
static int check_version(const struct router *r, const char *path, struct route_match *m,
                         const char **rest, berr_t *err)
{
    *rest = path;
    int found = router_split_version(path, &m->version, rest);
    int vlen = found != 0 ? (int)strcspn(path + 2, "/") : 0;

    m->status = 400;
    if (found < 0)
        return berr_set(err, 0, "invalid API version \"%.*s\"", vlen, path + 2);
    if (found == 0)
        return 0;
    if (m->version > r->max_version)
        return berr_set(err, 0,
                        "client version %.*s is too new. Maximum supported API version is %d.%d",
                        vlen, path + 2, r->max_version / 1000, r->max_version % 1000);
    if (m->version < r->min_version)
        return berr_set(err, 0,
                        "client version %.*s is too old. Minimum supported API version is "
                        "%d.%d, please upgrade your client to a newer version",
                        vlen, path + 2, r->min_version / 1000, r->min_version % 1000);
    return 0;
}

int router_resolve(const struct router *r, const char *method, const char *path,
                   struct route_match *m, berr_t *err)
{
    struct raw_params raw = {0};
    bool path_seen = false;
    const char *rest;

    memset(m, 0, sizeof(*m));
    if (check_version(r, path, m, &rest, err) < 0)
        return -1;
    m->route = find(r, method, rest, &raw, &path_seen);
    if (m->route == NULL && strcmp(method, "HEAD") == 0)
        m->route = find(r, "GET", rest, &raw, &path_seen);
    if (m->route == NULL) {
        m->status = path_seen ? 405 : 404;
        return berr_set(err, 0, path_seen ? "method not allowed" : "page not found");
    }
    m->status = 200;
    return keep_params(&raw, m, err);
}

const char *route_param(const struct route_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return ps->p[i].value;
    return NULL;
}

void route_params_clear(struct route_params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->p[i].name);
        free(ps->p[i].value);
    }
    ps->n = 0;
}
