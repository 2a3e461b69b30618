#include "runtime-agent/runtime/spec.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/runtime/caps.h"

/* Docker's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 * NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. */
#define DEFAULT_CAPS 0xa80425fbULL

static const char *const ns_names[RT_NS_COUNT] = {"pid", "net", "ipc", "uts", "mnt"};

static int get_str(json_t *o, const char *key, const char *def, char **out, berr_t *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        *out = def ? xstrdup(def) : NULL;
        return 0;
    }
    if (!json_is_string(v))
        return berr_set(err, 0, "\"%s\" is not a string", key);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int get_bool(json_t *o, const char *key, bool def, bool *out, berr_t *err)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return berr_set(err, 0, "\"%s\" is not a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out, berr_t *err)
{
    json_t *v = json_object_get(o, key);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return berr_set(err, 0, "\"%s\" is not an integer", key);
    *out = json_integer_value(v);
    return 0;
}

/* A JSON array of strings as a NULL-terminated list (an empty list when missing). */
static int get_strv(json_t *o, const char *key, char ***out, berr_t *err)
{
    json_t *v = json_object_get(o, key), *item;
    size_t i;

    *out = NULL;
    if (v != NULL && !json_is_null(v) && !json_is_array(v))
        return berr_set(err, 0, "\"%s\" is not an array", key);
    char **list = xcalloc(json_array_size(v) + 1, sizeof(char *));
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            *out = list;
            return berr_set(err, 0, "\"%s\"[%zu] is not a string", key, i);
        }
        list[i] = xstrdup(json_string_value(item));
    }
    *out = list;
    return 0;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

const char *spec_getenv(char *const *env, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

/* "NET_ADMIN", "CAP_NET_ADMIN" or "net_admin" as a capability number. */
static int cap_number(const char *name, berr_t *err)
{
    int c = caps_from_name(name);
    return c >= 0 ? c : berr_set(err, 0, "unknown capability \"%s\"", name);
}

static bool strv_has(char **v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcasecmp(v[i], s) == 0)
            return true;
    return false;
}

/* Docker's rules: start from the defaults (all when privileged); "ALL" in cap_add grants all,
 * "ALL" in cap_drop starts from none; then named drops, then named adds. */
static int compute_caps(json_t *o, struct rt_process *p, berr_t *err)
{
    char **add = NULL, **drop = NULL;
    int rc = -1;

    if (get_strv(o, "cap_add", &add, err) < 0 || get_strv(o, "cap_drop", &drop, err) < 0)
        goto out;
    p->caps = DEFAULT_CAPS & caps_all();
    if (p->privileged || strv_has(add, "ALL"))
        p->caps = caps_all();
    if (strv_has(drop, "ALL"))
        p->caps = 0;
    for (size_t i = 0; drop[i]; i++) {
        int c = strcasecmp(drop[i], "ALL") == 0 ? -2 : cap_number(drop[i], err);
        if (c == -1)
            goto out;
        if (c >= 0)
            p->caps &= ~(1ULL << c);
    }
    for (size_t i = 0; add[i]; i++) {
        int c = strcasecmp(add[i], "ALL") == 0 ? -2 : cap_number(add[i], err);
        if (c == -1)
            goto out;
        if (c >= 0)
            p->caps |= 1ULL << c;
    }
    if (p->privileged)
        p->caps = caps_all();
    rc = 0;
out:
    strv_free(add);
    strv_free(drop);
    return rc;
}

static int parse_process(json_t *o, struct rt_process *p, berr_t *err)
{
    if (get_strv(o, "args", &p->args, err) < 0 || get_strv(o, "env", &p->env, err) < 0 ||
        get_str(o, "cwd", "/", &p->cwd, err) < 0 || get_str(o, "user", "", &p->user, err) < 0 ||
        get_bool(o, "tty", false, &p->tty, err) < 0 ||
        get_bool(o, "privileged", false, &p->privileged, err) < 0 ||
        get_bool(o, "no_new_privileges", false, &p->no_new_privileges, err) < 0 ||
        get_bool(o, "seccomp", true, &p->seccomp, err) < 0)
        return -1;
    if (p->args[0] == NULL || p->args[0][0] == '\0')
        return berr_set(err, 0, "\"args\" is empty: no command to run");
    if (p->cwd[0] == '\0') {
        free(p->cwd);
        p->cwd = xstrdup("/");
    }
    if (p->cwd[0] != '/')
        return berr_set(err, 0, "\"cwd\" %s is not an absolute path", p->cwd);
    return compute_caps(o, p, err);
}

static int parse_mount(json_t *m, size_t i, struct rt_mount *out, berr_t *err)
{
    if (!json_is_object(m))
        return berr_set(err, 0, "mounts[%zu] is not an object", i);
    if (get_str(m, "source", "", &out->source, err) < 0 ||
        get_str(m, "destination", "", &out->destination, err) < 0 ||
        get_str(m, "type", "bind", &out->type, err) < 0 ||
        get_strv(m, "options", &out->options, err) < 0)
        return berr_prefix(err, "mounts[%zu]", i);
    if (out->destination[0] != '/')
        return berr_set(err, 0, "mounts[%zu]: destination \"%s\" is not an absolute path", i,
                        out->destination);
    if (strcmp(out->type, "bind") == 0 && out->source[0] != '/')
        return berr_set(err, 0, "mounts[%zu]: bind source \"%s\" is not an absolute path", i,
                        out->source);
    return 0;
}

static int parse_mounts(json_t *o, struct rt_spec *s, berr_t *err)
{
    json_t *v = json_object_get(o, "mounts"), *m;
    size_t i;

    if (v != NULL && !json_is_null(v) && !json_is_array(v))
        return berr_set(err, 0, "\"mounts\" is not an array");
    s->mounts = xcalloc(json_array_size(v), sizeof(*s->mounts));
    json_array_foreach(v, i, m)
    {
        s->n_mounts = i + 1;
        if (parse_mount(m, i, &s->mounts[i], err) < 0)
            return -1;
    }
    return 0;
}

/* "uid_map"/"gid_map": [{"container_id", "host_id", "size"}, ...], at most 340 lines (the
 * kernel's limit), none wrapping around. */
static int parse_idmap(json_t *o, const char *key, struct rt_idmap **out, size_t *n, berr_t *err)
{
    json_t *v = json_object_get(o, key), *m;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 340)
        return berr_set(err, 0, "\"%s\" must be an array of 1 to 340 mappings", key);
    *out = xcalloc(json_array_size(v), sizeof(**out));
    json_array_foreach(v, i, m)
    {
        int64_t f[3];
        static const char *const names[3] = {"container_id", "host_id", "size"};
        for (int k = 0; k < 3; k++) {
            if (get_int(m, names[k], &f[k], err) < 0)
                return berr_prefix(err, "%s[%zu]", key, i);
            if (f[k] < 0 || f[k] > UINT32_MAX)
                return berr_set(err, 0, "%s[%zu].%s %lld is out of range", key, i, names[k],
                                (long long)f[k]);
        }
        if (f[2] == 0 || f[0] + f[2] > UINT32_MAX || f[1] + f[2] > UINT32_MAX)
            return berr_set(err, 0, "%s[%zu]: empty or wrapping range", key, i);
        (*out)[i] = (struct rt_idmap){(uint32_t)f[0], (uint32_t)f[1], (uint32_t)f[2]};
        *n = i + 1;
    }
    return 0;
}

/* namespaces.user: "host" (the default) or "new" with "uid_map" and "gid_map". */
static int parse_userns(json_t *o, json_t *ns, struct rt_spec *s, berr_t *err)
{
    _cleanup_free_ char *user = NULL;

    if (get_str(ns, "user", "host", &user, err) < 0)
        return berr_prefix(err, "namespaces");
    if (strcmp(user, "host") == 0)
        return 0;
    if (strcmp(user, "new") != 0)
        return berr_set(err, 0, "namespaces.user: \"%s\" is not new or host", user);
    s->userns = true;
    if (parse_idmap(o, "uid_map", &s->uid_map, &s->n_uid_map, err) < 0 ||
        parse_idmap(o, "gid_map", &s->gid_map, &s->n_gid_map, err) < 0)
        return -1;
    return 0;
}

static int parse_namespaces(json_t *o, struct rt_spec *s, berr_t *err)
{
    json_t *ns = json_object_get(o, "namespaces");

    if (ns != NULL && !json_is_null(ns) && !json_is_object(ns))
        return berr_set(err, 0, "\"namespaces\" is not an object");
    for (int i = 0; i < RT_NS_COUNT; i++) {
        if (get_str(ns, ns_names[i], "new", &s->ns[i], err) < 0)
            return berr_prefix(err, "namespaces");
        const char *v = s->ns[i];
        if (strcmp(v, "new") != 0 && strcmp(v, "host") != 0 && v[0] != '/')
            return berr_set(err, 0, "namespaces.%s: \"%s\" is not new, host or a path", ns_names[i],
                            v);
    }
    if (strcmp(s->ns[RT_NS_MNT], "new") != 0)
        return berr_set(err, 0, "namespaces.mnt must be \"new\"");
    return parse_userns(o, ns, s, err);
}

static int parse_resources(json_t *o, struct rt_resources *r, berr_t *err)
{
    json_t *v = json_object_get(o, "resources");

    if (v != NULL && !json_is_null(v) && !json_is_object(v))
        return berr_set(err, 0, "\"resources\" is not an object");
    if (get_int(v, "memory", &r->memory, err) < 0 ||
        get_int(v, "memory_swap", &r->memory_swap, err) < 0 ||
        get_int(v, "pids_limit", &r->pids_limit, err) < 0 ||
        get_int(v, "cpu_quota", &r->cpu_quota, err) < 0 ||
        get_int(v, "cpu_period", &r->cpu_period, err) < 0 ||
        get_int(v, "cpu_shares", &r->cpu_shares, err) < 0)
        return berr_prefix(err, "resources");
    return 0;
}

/* An id or cgroup path goes into file system paths: no "..", no odd characters. */
static int check_name(const char *what, const char *v, bool slashes, berr_t *err)
{
    if (v[0] == '\0' || strstr(v, "..") != NULL)
        return berr_set(err, 0, "\"%s\" \"%s\" is empty or contains \"..\"", what, v);
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p) && !(slashes && *p == '/'))
            return berr_set(err, 0, "\"%s\" \"%s\" contains the character '%c'", what, v, *p);
    return 0;
}

static int check_abs(const char *what, const char *v, berr_t *err)
{
    if (v == NULL || v[0] != '/')
        return berr_set(err, 0, "\"%s\" \"%s\" is not an absolute path", what, v ? v : "");
    return 0;
}

static int validate(struct rt_spec *s, berr_t *err)
{
    if (check_name("id", s->id, false, err) < 0 ||
        check_name("cgroup_parent", s->cgroup_parent, true, err) < 0 ||
        check_abs("upper", s->upper, err) < 0 || check_abs("work", s->work, err) < 0)
        return -1;
    if (s->layers[0] == NULL)
        return berr_set(err, 0, "\"layers\" is empty");
    for (size_t i = 0; s->layers[i]; i++)
        if (check_abs("layers", s->layers[i], err) < 0)
            return -1;
    if (strcmp(s->log_driver, "none") != 0 && strcmp(s->log_driver, "json-file") != 0)
        return berr_set(err, 0, "log driver \"%s\" is not supported", s->log_driver);
    if (strcmp(s->log_driver, "json-file") == 0 && check_abs("log_path", s->log_path, err) < 0)
        return -1;
    return 0;
}

static int parse_spec(json_t *o, struct rt_spec *s, berr_t *err)
{
    if (parse_process(o, &s->proc, err) < 0 || get_str(o, "id", "", &s->id, err) < 0 ||
        get_strv(o, "layers", &s->layers, err) < 0 || get_str(o, "upper", "", &s->upper, err) < 0 ||
        get_str(o, "work", "", &s->work, err) < 0 ||
        get_bool(o, "readonly_rootfs", false, &s->readonly_rootfs, err) < 0 ||
        get_bool(o, "open_stdin", false, &s->open_stdin, err) < 0 ||
        get_bool(o, "stdin_once", false, &s->stdin_once, err) < 0 ||
        get_str(o, "hostname", "", &s->hostname, err) < 0 ||
        get_str(o, "domainname", "", &s->domainname, err) < 0 || parse_namespaces(o, s, err) < 0 ||
        parse_mounts(o, s, err) < 0 || parse_resources(o, &s->res, err) < 0 ||
        get_str(o, "cgroup_parent", "berth", &s->cgroup_parent, err) < 0 ||
        get_str(o, "log_path", "", &s->log_path, err) < 0 ||
        get_str(o, "log_driver", "json-file", &s->log_driver, err) < 0 ||
        get_int(o, "log_max_size", &s->log_max_size, err) < 0 ||
        get_int(o, "log_max_files", &s->log_max_files, err) < 0)
        return -1;
    while (s->cgroup_parent[0] == '/')
        memmove(s->cgroup_parent, s->cgroup_parent + 1, strlen(s->cgroup_parent));
    return validate(s, err);
}

static json_t *load_json(const char *path, berr_t *err)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);

    if (o == NULL) {
        berr_set(err, 0, "parse %s: %s (line %d)", path, jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        berr_set(err, 0, "parse %s: not a JSON object", path);
        return NULL;
    }
    return o;
}

int spec_load(const char *path, struct rt_spec *spec, berr_t *err)
{
    memset(spec, 0, sizeof(*spec));
    json_t *o = load_json(path, err);
    if (o == NULL)
        return -1;
    int rc = parse_spec(o, spec, err);
    json_decref(o);
    return rc < 0 ? berr_prefix(err, "spec %s", path) : 0;
}

int spec_load_process(const char *path, struct rt_process *proc, berr_t *err)
{
    memset(proc, 0, sizeof(*proc));
    json_t *o = load_json(path, err);
    if (o == NULL)
        return -1;
    int rc = parse_process(o, proc, err);
    json_decref(o);
    return rc < 0 ? berr_prefix(err, "exec spec %s", path) : 0;
}

void spec_process_free(struct rt_process *p)
{
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
    free(p->user);
    memset(p, 0, sizeof(*p));
}

void spec_free(struct rt_spec *s)
{
    spec_process_free(&s->proc);
    free(s->id);
    strv_free(s->layers);
    free(s->upper);
    free(s->work);
    free(s->hostname);
    free(s->domainname);
    for (int i = 0; i < RT_NS_COUNT; i++)
        free(s->ns[i]);
    for (size_t i = 0; i < s->n_mounts; i++) {
        free(s->mounts[i].source);
        free(s->mounts[i].destination);
        free(s->mounts[i].type);
        strv_free(s->mounts[i].options);
    }
    free(s->mounts);
    free(s->uid_map);
    free(s->gid_map);
    free(s->cgroup_parent);
    free(s->log_path);
    free(s->log_driver);
    memset(s, 0, sizeof(*s));
}
