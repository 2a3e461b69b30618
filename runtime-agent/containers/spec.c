#include "runtime-agent/containers/spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/remap.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A string array from a JSON value that may be null, a string (shell form) or an array. */
static json_t *as_array(const json_t *v)
{
    if (json_is_array(v))
        return json_deep_copy(v);
    if (json_is_string(v))
        return json_pack("[sss]", "/bin/sh", "-c", json_string_value(v));
    return NULL;
}

int spec_command(const json_t *config, const json_t *image_config, json_t **args, berr_t *err)
{
    json_t *cep = json_object_get(config, "Entrypoint");
    json_t *ccmd = json_object_get(config, "Cmd");
    json_t *ep = NULL, *cmd = NULL;

    if (cep != NULL && !json_is_null(cep)) {
        ep = as_array(cep);
        /* --entrypoint "" clears the image's entrypoint. */
        if (json_array_size(ep) == 1 && strcmp(json_string_value(json_array_get(ep, 0)), "") == 0)
            json_array_clear(ep);
        cmd = as_array(ccmd); /* a new entrypoint drops the image's Cmd */
    } else {
        ep = as_array(json_object_get(image_config, "Entrypoint"));
        cmd = ccmd && !json_is_null(ccmd) ? as_array(ccmd)
                                          : as_array(json_object_get(image_config, "Cmd"));
    }
    json_t *all = json_array();
    if (ep)
        json_array_extend(all, ep);
    if (cmd)
        json_array_extend(all, cmd);
    json_decref(ep);
    json_decref(cmd);
    if (json_array_size(all) == 0) {
        json_decref(all);
        return http_err(err, EINVAL, "No command specified");
    }
    *args = all;
    return 0;
}

/* Set KEY=VALUE in ENV (an array), replacing an entry with the same key. */
static void env_set(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    size_t i;
    json_t *v;

    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strncmp(s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

static bool env_has(const json_t *env, const char *key)
{
    size_t i, klen = strlen(key);
    json_t *v;
    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
            return true;
    }
    return false;
}

json_t *spec_env(const json_t *config, const json_t *image_config, const char *hostname)
{
    json_t *env = json_array();
    size_t i;
    json_t *v;
    char *h = xasprintf("HOSTNAME=%s", hostname);

    if (!env_has(json_object_get(image_config, "Env"), "PATH") &&
        !env_has(json_object_get(config, "Env"), "PATH"))
        json_array_append_new(env, json_string(DEFAULT_PATH));
    json_array_append_new(env, json_string(h));
    free(h);
    json_array_foreach(json_object_get(image_config, "Env"), i, v)
    {
        if (json_is_string(v))
            env_set(env, json_string_value(v));
    }
    if (json_is_true(json_object_get(config, "Tty")))
        env_set(env, "TERM=xterm");
    json_array_foreach(json_object_get(config, "Env"), i, v)
    {
        if (json_is_string(v) && strchr(json_string_value(v), '='))
            env_set(env, json_string_value(v));
    }
    return env;
}

/* Link variables go under the user's own: a variable the user set wins. */
static json_t *env_with_links(json_t *env, const json_t *config, const json_t *links)
{
    size_t i;
    json_t *v;
    json_array_foreach(links, i, v)
    {
        const char *kv = json_string_value(v);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL)
            continue;
        _cleanup_free_ char *key = xasprintf("%.*s", (int)(eq - kv), kv);
        if (!env_has(json_object_get(config, "Env"), key))
            env_set(env, kv);
    }
    return env;
}

long long spec_parse_size(const char *s)
{
    char *end;
    double v;
    long long mult = 1;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'b':
        break;
    case 'k':
        mult = 1024LL;
        break;
    case 'm':
        mult = 1024LL * 1024;
        break;
    case 'g':
        mult = 1024LL * 1024 * 1024;
        break;
    case 't':
        mult = 1024LL * 1024 * 1024 * 1024;
        break;
    default:
        return -1;
    }
    if (*end && end[1] != '\0' && !(tolower((unsigned char)end[1]) == 'b' && end[2] == '\0'))
        return -1;
    return (long long)(v * (double)mult);
}

static const char *str_or(const json_t *o, const char *k, const char *def)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && *v ? v : def;
}

static json_t *bind_mount(const char *src, const char *dst, bool ro)
{
    return json_pack("{s:s,s:s,s:s,s:[ss]}", "source", src, "destination", dst, "type", "bind",
                     "options", "rbind", ro ? "ro" : "rw");
}

static bool mounted_at(const json_t *mounts, const char *dst)
{
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *d = json_string_value(json_object_get(m, "destination"));
        if (d && strcmp(d, dst) == 0)
            return true;
    }
    return false;
}

/* /etc/hosts, /etc/hostname and /etc/resolv.conf, unless the user mounts their own there. */
static json_t *etc_mounts(struct container *c, const json_t *user)
{
    json_t *m = json_array();
    static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        _cleanup_free_ char *src = path_join(c->dir, files[i]);
        _cleanup_free_ char *dst = xasprintf("/etc/%s", files[i]);
        if (!mounted_at(user, dst))
            json_array_append_new(m, bind_mount(src, dst, false));
    }
    return m;
}

static void add_tmpfs(json_t *mounts, const json_t *tmpfs)
{
    const char *dst;
    json_t *opts;
    json_object_foreach((json_t *)tmpfs, dst, opts)
    {
        /* Docker's defaults; the user's options come after and win ("exec"). */
        json_t *o = json_pack("[s,s,s]", "noexec", "nosuid", "nodev");
        const char *text = json_string_value(opts);
        if (text && *text) {
            _cleanup_free_ char *copy = xstrdup(text);
            char *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(o, json_string(t));
        }
        json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:o}", "source", "tmpfs",
                                                "destination", dst, "type", "tmpfs", "options", o));
    }
}

static size_t dest_depth(const json_t *m)
{
    const char *d = json_string_value(json_object_get(m, "destination"));
    size_t n = 0;
    for (; d && *d; d++)
        n += *d == '/';
    return n;
}

/* Order MOUNTS so that a mount comes after those of its parent directories (fewer path
 * components first, the given order otherwise), as Docker sorts them. */
static void sort_mounts(json_t *mounts)
{
    size_t n = json_array_size(mounts);

    for (size_t i = 1; i < n; i++) {
        json_t *m = json_incref(json_array_get(mounts, i));
        size_t j = i;
        while (j > 0 && dest_depth(json_array_get(mounts, j - 1)) > dest_depth(m)) {
            json_array_set(mounts, j, json_array_get(mounts, j - 1));
            j--;
        }
        json_array_set_new(mounts, j, m);
    }
}

/* A copy of array KEY of O, or an empty array. */
static json_t *array_or_empty(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_array(v) ? json_deep_copy(v) : json_array();
}

static json_t *resources(const json_t *hc)
{
    long long quota = json_integer_value(json_object_get(hc, "CpuQuota"));
    long long period = json_integer_value(json_object_get(hc, "CpuPeriod"));
    long long nano = json_integer_value(json_object_get(hc, "NanoCpus"));
    long long pids = json_integer_value(json_object_get(hc, "PidsLimit"));

    if (nano > 0) {
        period = 100000;
        quota = nano * period / 1000000000LL;
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "memory",
                     (json_int_t)json_integer_value(json_object_get(hc, "Memory")), "memory_swap",
                     (json_int_t)json_integer_value(json_object_get(hc, "MemorySwap")),
                     "pids_limit", (json_int_t)(pids > 0 ? pids : 0), "cpu_quota",
                     (json_int_t)quota, "cpu_period", (json_int_t)period, "cpu_shares",
                     (json_int_t)json_integer_value(json_object_get(hc, "CpuShares")));
}

/* --security-opt: no-new-privileges[:true], seccomp=unconfined (also with ':'). */
static void security_opts(const json_t *hc, bool *nnp, bool *seccomp)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(hc, "SecurityOpt"), i, v)
    {
        const char *s = json_string_value(v);
        if (s == NULL)
            continue;
        if (strcmp(s, "no-new-privileges") == 0 || strcmp(s, "no-new-privileges:true") == 0 ||
            strcmp(s, "no-new-privileges=true") == 0)
            *nnp = true;
        if (strcmp(s, "seccomp=unconfined") == 0 || strcmp(s, "seccomp:unconfined") == 0)
            *seccomp = false;
    }
}

static json_t *log_config(const struct container *c, const json_t *hc)
{
    const json_t *lc = json_object_get(hc, "LogConfig");
    const char *type = str_or(lc, "Type", "json-file");
    const json_t *cfg = json_object_get(lc, "Config");
    long long max = spec_parse_size(str_or(cfg, "max-size", ""));
    const char *files = str_or(cfg, "max-file", "1");
    _cleanup_free_ char *name = xasprintf("%s-json.log", c->id);
    _cleanup_free_ char *path = path_join(c->dir, name);

    return json_pack("{s:s,s:s,s:I,s:I}", "log_driver",
                     strcmp(type, "none") == 0 ? "none" : "json-file", "log_path", path,
                     "log_max_size", (json_int_t)(max > 0 ? max : 0), "log_max_files",
                     (json_int_t)(atoi(files) > 0 ? atoi(files) : 1));
}

int spec_build(struct container *c, const struct spec_inputs *in, json_t **spec, berr_t *err)
{
    const json_t *cfg = c->config;
    const json_t *hc = c->host;
    const char *hostname = str_or(cfg, "Hostname", NULL);
    _cleanup_free_ char *short_id = xasprintf("%.12s", c->id);
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    _cleanup_free_ char *work = path_join(c->dir, "work");
    bool privileged = json_is_true(json_object_get(hc, "Privileged"));
    bool nnp = false, seccomp = !privileged;
    json_t *args = NULL;

    if (spec_command(cfg, in->image_config, &args, err) < 0)
        return -1;
    if (hostname == NULL)
        hostname = short_id;
    security_opts(hc, &nnp, &seccomp);
    json_t *layers = json_array();
    for (size_t i = 0; i < in->n_layers; i++)
        json_array_append_new(layers, json_string(in->layers[i]));
    json_t *mounts = etc_mounts(c, in->mounts);
    add_tmpfs(mounts, json_object_get(hc, "Tmpfs"));
    json_array_extend(mounts, in->mounts);
    sort_mounts(mounts);
    json_t *s =
        json_pack("{s:s,s:o,s:s,s:s,s:b,s:o,s:o,s:s,s:s,s:s,s:s,s:b,s:b,s:b,"
                  "s:{s:s,s:s,s:s,s:s,s:s},s:o,s:o,s:s,s:b,s:o,s:o,s:b,s:b}",
                  "id", c->id, "layers", layers, "upper", upper, "work", work, "readonly_rootfs",
                  json_is_true(json_object_get(hc, "ReadonlyRootfs")), "args", args, "env",
                  env_with_links(spec_env(cfg, in->image_config, hostname), cfg, in->link_env),
                  "cwd", str_or(cfg, "WorkingDir", str_or(in->image_config, "WorkingDir", "/")),
                  "user", str_or(cfg, "User", str_or(in->image_config, "User", "")), "hostname",
                  hostname, "domainname", str_or(cfg, "Domainname", ""), "tty",
                  json_is_true(json_object_get(cfg, "Tty")), "open_stdin",
                  json_is_true(json_object_get(cfg, "OpenStdin")), "stdin_once",
                  json_is_true(json_object_get(cfg, "StdinOnce")), "namespaces", "pid", in->pid_ns,
                  "net", in->net_ns, "ipc", in->ipc_ns, "uts", in->uts_ns, "mnt", "new", "mounts",
                  mounts, "resources", resources(hc), "cgroup_parent", in->cgroup_parent,
                  "privileged", privileged, "cap_add", array_or_empty(hc, "CapAdd"), "cap_drop",
                  array_or_empty(hc, "CapDrop"), "no_new_privileges", nnp, "seccomp", seccomp);
    if (s == NULL)
        return berr_set(err, EINVAL, "container %.12s: build runtime spec", c->id);
    json_t *logs = log_config(c, hc);
    json_object_update(s, logs);
    json_decref(logs);
    if (in->remap) {
        json_object_set_new(json_object_get(s, "namespaces"), "user", json_string("new"));
        json_object_set_new(s, "uid_map", remap_map_json(in->remap->uid, in->remap->uid_size));
        json_object_set_new(s, "gid_map", remap_map_json(in->remap->gid, in->remap->gid_size));
    }
    *spec = s;
    return 0;
}

static int write_hosts(struct container *c, const char *hostname, int host_net, berr_t *err)
{
    _cleanup_free_ char *path = path_join(c->dir, "hosts");
    _cleanup_free_ char *text = NULL;

    if (host_net)
        return copy_file_atomic("/etc/hosts", path, 0644, err);
    text = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                     "ff02::2\tip6-allrouters\n127.0.1.1\t%s\n",
                     hostname);
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

/* The host's resolv.conf without loopback nameservers, which a container cannot reach. */
static int write_resolv(struct container *c, berr_t *err)
{
    _cleanup_free_ char *path = path_join(c->dir, "resolv.conf");
    _cleanup_free_ char *host = NULL;
    char *out = NULL;
    size_t len = 0;
    bool any_ns = false;
    FILE *f = open_memstream(&out, &len);

    if (read_file("/etc/resolv.conf", &host, NULL, NULL) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(host, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "nameserver", 10) == 0) {
                const char *addr = line + 10;
                while (*addr == ' ' || *addr == '\t')
                    addr++;
                if (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0)
                    continue;
                any_ns = true;
            }
            fprintf(f, "%s\n", line);
        }
    }
    if (!any_ns)
        fputs("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", f);
    fclose(f);
    int ret = write_file_atomic(path, out, len, 0644, err);
    free(out);
    return ret;
}

int spec_write_hostname(struct container *c, const char *hostname, berr_t *err)
{
    _cleanup_free_ char *hpath = path_join(c->dir, "hostname");
    _cleanup_free_ char *htext = xasprintf("%s\n", hostname);

    if (write_file_atomic(hpath, htext, strlen(htext), 0644, err) < 0)
        return berr_prefix(err, "container %.12s: write /etc/hostname", c->id);
    return 0;
}

int spec_write_etc(struct container *c, const char *hostname, int host_net, berr_t *err)
{
    _cleanup_free_ char *hpath = path_join(c->dir, "hostname");
    _cleanup_free_ char *htext = xasprintf("%s\n", hostname);

    if (write_hosts(c, hostname, host_net, err) < 0 || write_resolv(c, err) < 0 ||
        write_file_atomic(hpath, htext, strlen(htext), 0644, err) < 0)
        return berr_prefix(err, "container %.12s: write /etc files", c->id);
    return 0;
}
