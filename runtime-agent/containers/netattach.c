#include "runtime-agent/containers/netattach.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/log.h"
#include "runtime-agent/network/dns.h"
#include "runtime-agent/network/netlink.h"
#include "runtime-agent/network/netstore.h"
#include "runtime-agent/network/nft.h"

#define PRIV "_berth" /* an endpoint's own fields, never shown by inspect */
#define MAX_UPSTREAM 3

/* ---- small helpers ------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *mode_of(const struct container *c)
{
    const char *m = jstr(c->host, "NetworkMode");
    if (m == NULL || *m == '\0' || strcmp(m, "default") == 0)
        return "bridge";
    return m;
}

static bool mode_is(const struct container *c, const char *m)
{
    return strcmp(mode_of(c), m) == 0;
}

/* Bridge or user-defined network: berthd makes the namespace. */
static bool own_sandbox(const struct container *c)
{
    const char *m = mode_of(c);
    return strcmp(m, "host") != 0 && strcmp(m, "none") != 0 && strncmp(m, "container:", 10) != 0;
}

static char *sandbox_path(struct containers *cs, const struct container *c)
{
    return path_join(cs->netns_dir, c->id);
}

struct netinfo {
    char id[65];
    char name[256];
    char bridge[16];
    struct in_addr gw;
    int prefix;
    int mtu;
    bool predefined, user_subnet, is_default, icc, bridge_driver;
};

static int net_info(struct containers *cs, const char *ref, struct netinfo *out, berr_t *err)
{
    net_lock(cs->nets);
    struct network *n = net_find_locked(cs->nets, ref, err);
    if (n) {
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", n->id);
        snprintf(out->name, sizeof(out->name), "%s", n->name);
        snprintf(out->bridge, sizeof(out->bridge), "%s", n->bridge ? n->bridge : "");
        out->gw = n->gateway;
        out->prefix = n->prefix;
        out->mtu = n->mtu;
        out->predefined = n->predefined;
        out->user_subnet = n->user_subnet;
        out->is_default = cs->nets->default_id && strcmp(n->id, cs->nets->default_id) == 0;
        out->icc = n->icc;
        out->bridge_driver = strcmp(n->driver, "bridge") == 0;
    }
    net_unlock(cs->nets);
    return n ? 0 : -1;
}

static char *ntoa(struct in_addr a)
{
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    return xstrdup(buf);
}

static struct in_addr aton(const char *s)
{
    struct in_addr a = {0};
    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        a.s_addr = 0;
    return a;
}

/* An endpoint as inspect shows it, with the user's settings. */
static json_t *endpoint_new(const char *net_id, const json_t *user)
{
    json_t *e =
        json_pack("{s:n,s:n,s:n,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:n,s:n}", "IPAMConfig",
                  "Links", "Aliases", "MacAddress", "", "NetworkID", net_id, "EndpointID", "",
                  "Gateway", "", "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "",
                  "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "DriverOpts", "DNSNames");
    static const char *const keep[] = {"IPAMConfig", "Links", "Aliases", "MacAddress",
                                       "DriverOpts"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(user, keep[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            json_object_set(e, keep[i], v);
    }
    return e;
}

/* ---- create: the plan ---------------------------------------------------------------- */

static int check_endpoint(const struct netinfo *ni, const json_t *ec, berr_t *err)
{
    const char *ip = jstr(json_object_get(ec, "IPAMConfig"), "IPv4Address");
    const json_t *aliases = json_object_get(ec, "Aliases");

    if (ip && *ip) {
        if (ni->is_default || ni->predefined)
            return http_err(err, EINVAL,
                            "user specified IP address is supported on user defined networks "
                            "only");
        if (!ni->user_subnet)
            return http_err(err, EINVAL,
                            "user specified IP address is supported only when connecting to "
                            "networks with user configured subnets");
        if (aton(ip).s_addr == 0)
            return http_err(err, EINVAL, "invalid IPv4 address: %s", ip);
    }
    if (json_array_size(aliases) > 0 && (ni->is_default || ni->predefined))
        return http_err(err, EINVAL,
                        "network-scoped alias is supported only for containers in user defined "
                        "networks");
    if (!ni->bridge_driver)
        return http_err(err, EINVAL, "container cannot be connected to network %s (driver %s)",
                        ni->name, "host/null");
    return 0;
}

/* "db:webdb" or "/db:/web/webdb" -> name "db", alias "webdb". */
static int parse_link(const char *spec, char **name, char **alias)
{
    const char *colon = spec ? strchr(spec, ':') : NULL;
    const char *n = spec, *a;
    size_t nlen;

    if (spec == NULL || *spec == '\0')
        return -1;
    nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (*n == '/') {
        n++;
        nlen--;
    }
    a = colon ? colon + 1 : NULL;
    if (a && strrchr(a, '/'))
        a = strrchr(a, '/') + 1;
    if (nlen == 0 || (a && *a == '\0'))
        return -1;
    *name = xasprintf("%.*s", (int)nlen, n);
    *alias = xstrdup(a ? a : *name);
    return 0;
}

/* HostConfig.Links in Docker's stored form "/db:/web/webdb"; each must name a container. */
static int plan_links(struct containers *cs, struct container *c, json_t **links_obj, berr_t *err)
{
    json_t *links = json_object_get(c->host, "Links"), *out = json_array(), *v;
    size_t i;

    *links_obj = json_object();
    json_array_foreach(links, i, v)
    {
        char *name = NULL, *alias = NULL;
        struct container *t = NULL;
        if (parse_link(json_string_value(v), &name, &alias) < 0) {
            json_decref(out);
            return http_err(err, EINVAL, "invalid link: %s",
                            json_string_value(v) ? json_string_value(v) : "(not a string)");
        }
        if (ctr_get(&cs->store, name, &t, NULL) < 0) {
            http_err(err, ENOENT, "could not get container for %s", name);
            free(name);
            free(alias);
            json_decref(out);
            return -1;
        }
        json_array_append_new(out, json_sprintf("/%s:/%s/%s", t->name, c->name, alias));
        json_object_set_new(*links_obj, alias, json_string(t->name));
        ctr_put(&cs->store, t);
        free(name);
        free(alias);
    }
    if (json_array_size(out) > 0)
        json_object_set_new(c->host, "Links", out);
    else
        json_decref(out);
    return 0;
}

int netattach_plan(struct containers *cs, struct container *c, berr_t *err)
{
    const char *mode = mode_of(c);
    json_t *ecs = json_object_get(c->netcfg, "EndpointsConfig");
    json_t *eps = json_object(), *links = NULL, *v;
    const char *key;
    struct netinfo ni;
    int ret = -1;

    if (strcmp(mode, "host") == 0 || strcmp(mode, "none") == 0 ||
        strncmp(mode, "container:", 10) == 0) {
        json_object_foreach(ecs, key, v)
        {
            if (strcmp(key, mode) != 0) {
                http_err(err, EINVAL,
                         "conflicting options: cannot attach both user-defined and non-user-"
                         "defined network-modes");
                goto out;
            }
        }
        if (json_array_size(json_object_get(c->host, "Links")) > 0) {
            http_err(err, EINVAL, "conflicting options: links and the %s network mode", mode);
            goto out;
        }
        if (strncmp(mode, "container:", 10) != 0) {
            if (net_info(cs, strcmp(mode, "none") == 0 ? "none" : "host", &ni, err) < 0)
                goto out;
            json_object_set_new(eps, ni.name, endpoint_new(ni.id, NULL));
        }
        json_decref(c->endpoints);
        c->endpoints = eps;
        return 0;
    }
    if (net_info(cs, mode, &ni, err) < 0)
        goto out;
    /* the primary network first: it gets eth0 and the default route */
    const json_t *pc = json_object_get(ecs, mode);
    if (pc == NULL)
        pc = json_object_get(ecs, ni.name);
    if (pc == NULL &&
        strcmp(jstr(c->host, "NetworkMode") ? jstr(c->host, "NetworkMode") : "", "default") == 0)
        pc = json_object_get(ecs, "default");
    if (check_endpoint(&ni, pc, err) < 0)
        goto out;
    if (plan_links(cs, c, &links, err) < 0)
        goto out;
    json_t *ep = endpoint_new(ni.id, pc);
    if (!ni.is_default && json_object_size(links) > 0) {
        /* on user-defined networks a link is a name only the linking container resolves */
        json_t *l = json_array();
        json_object_foreach(links, key, v)
        {
            json_array_append_new(l, json_sprintf("%s:%s", json_string_value(v), key));
        }
        json_object_set_new(ep, "Links", l);
    }
    json_object_set_new(eps, ni.name, ep);
    json_object_foreach(ecs, key, v)
    {
        struct netinfo o;
        if (strcmp(key, mode) == 0 || strcmp(key, ni.name) == 0 || strcmp(key, "default") == 0)
            continue;
        if (net_info(cs, key, &o, err) < 0 || check_endpoint(&o, v, err) < 0)
            goto out;
        json_object_set_new(eps, o.name, endpoint_new(o.id, v));
    }
    json_decref(c->endpoints);
    c->endpoints = eps;
    eps = NULL;
    ret = 0;
out:
    json_decref(links);
    json_decref(eps);
    return ret;
}

/* ---- /etc/hosts and /etc/resolv.conf ------------------------------------------------- */

/* The primary endpoint: the first of EPS (NULL when none). */
static json_t *first_ep(const json_t *eps)
{
    return json_object_iter_value(json_object_iter((json_t *)eps));
}

/* The address of the primary endpoint of EPS ("" when none). */
static const char *primary_ip(const json_t *eps)
{
    const char *ip = jstr(first_ep(eps), "IPAddress");
    return ip ? ip : "";
}

/* T's address when its primary endpoint is on the default bridge, else NULL. Caller holds
 * the store lock. */
static const char *default_bridge_ip(struct containers *cs, const struct container *t)
{
    const json_t *ep = first_ep(t->endpoints);
    const char *nid = jstr(ep, "NetworkID");
    const char *ip = jstr(ep, "IPAddress");
    if (cs->nets->default_id == NULL || nid == NULL || strcmp(nid, cs->nets->default_id) != 0)
        return NULL;
    return ip && *ip ? ip : NULL;
}

/* The address of container NAME on the default bridge, and its hostname; -1 when it does
 * not run there. */
static int link_target(struct containers *cs, const char *name, char **ip, char **hostname,
                       char **id)
{
    struct container *t = NULL;
    int ret = -1;

    if (ctr_get(&cs->store, name, &t, NULL) < 0)
        return -1;
    pthread_mutex_lock(&cs->store.lock);
    const char *tip = default_bridge_ip(cs, t);
    if ((t->status == CTR_RUNNING || t->status == CTR_PAUSED) && tip) {
        const char *h = jstr(t->config, "Hostname");
        *ip = xstrdup(tip);
        *hostname = xstrdup(h && *h ? h : "");
        *id = xstrdup(t->id);
        ret = 0;
    }
    pthread_mutex_unlock(&cs->store.lock);
    ctr_put(&cs->store, t);
    return ret;
}

static char *hosts_text(struct containers *cs, const struct container *c, const char *hostname,
                        const char *own_ip)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    size_t i;
    json_t *v;

    if (mode_is(c, "host")) {
        _cleanup_free_ char *host = NULL;
        if (read_file("/etc/hosts", &host, NULL, NULL) == 0)
            fputs(host, f);
    } else {
        fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
              "ff02::2\tip6-allrouters\n",
              f);
    }
    json_array_foreach(json_object_get(c->host, "ExtraHosts"), i, v)
    {
        const char *e = json_string_value(v);
        const char *sep = e ? strpbrk(e, ":=") : NULL;
        if (sep == NULL)
            continue;
        fprintf(f, "%s\t%.*s\n", sep + 1, (int)(sep - e), e);
    }
    if (mode_is(c, "bridge")) {
        json_array_foreach(json_object_get(c->host, "Links"), i, v)
        {
            _cleanup_free_ char *name = NULL, *alias = NULL, *ip = NULL, *h = NULL, *id = NULL;
            if (parse_link(json_string_value(v), &name, &alias) < 0 ||
                link_target(cs, name, &ip, &h, &id) < 0)
                continue;
            fprintf(f, "%s\t%s %s %s\n", ip, alias, *h ? h : "", name);
        }
    }
    if (!mode_is(c, "host")) {
        if (own_ip && *own_ip)
            fprintf(f, "%s\t%s\n", own_ip, hostname);
        else
            fprintf(f, "127.0.1.1\t%s\n", hostname);
    }
    fclose(f);
    return out;
}

/* The host's nameservers: all of them for the DNS server (it forwards from the host's
 * namespace), or without loopback ones for a container's own resolv.conf. */
static size_t host_nameservers(struct in_addr *out, size_t max, bool loopback_ok, char **rest)
{
    _cleanup_free_ char *text = NULL;
    char *save = NULL, *buf = NULL;
    size_t n = 0, blen = 0;
    FILE *f = rest ? open_memstream(&buf, &blen) : NULL;

    if (read_file("/etc/resolv.conf", &text, NULL, NULL) == 0) {
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "nameserver", 10) == 0) {
                const char *a = line + 10 + strspn(line + 10, " \t");
                struct in_addr addr = aton(a);
                if (addr.s_addr == 0)
                    continue; /* IPv6: not for us */
                if (!loopback_ok && (ntohl(addr.s_addr) >> 24) == 127)
                    continue;
                if (n < max)
                    out[n++] = addr;
            } else if (f) {
                fprintf(f, "%s\n", line);
            }
        }
    }
    if (f) {
        fclose(f);
        *rest = buf;
    }
    return n;
}

/* The DNS servers the container asked for (--dns), IPv4 only. */
static size_t user_dns(const struct container *c, struct in_addr *out, size_t max)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(c->host, "Dns"), i, v)
    {
        struct in_addr a = aton(json_string_value(v));
        if (a.s_addr && n < max)
            out[n++] = a;
    }
    return n;
}

static char *resolv_text(const struct container *c, bool embedded)
{
    char *out = NULL, *rest = NULL;
    size_t len = 0, i;
    struct in_addr ns[MAX_UPSTREAM];
    json_t *v;
    FILE *f = open_memstream(&out, &len);
    const json_t *search = json_object_get(c->host, "DnsSearch");
    const json_t *opts = json_object_get(c->host, "DnsOptions");
    size_t n = host_nameservers(ns, MAX_UPSTREAM, mode_is(c, "host"), &rest);

    if (embedded) {
        fputs("nameserver 127.0.0.11\n", f);
    } else if (json_array_size(json_object_get(c->host, "Dns")) > 0) {
        json_array_foreach(json_object_get(c->host, "Dns"), i, v)
        {
            fprintf(f, "nameserver %s\n", json_string_value(v));
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            _cleanup_free_ char *a = ntoa(ns[k]);
            fprintf(f, "nameserver %s\n", a);
        }
        if (n == 0)
            fputs("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", f);
    }
    if (json_array_size(search) > 0) {
        fputs("search", f);
        json_array_foreach(search, i, v)
        {
            fprintf(f, " %s", json_string_value(v));
        }
        fputc('\n', f);
    }
    if (json_array_size(opts) > 0 || embedded) {
        fputs("options", f);
        if (embedded)
            fputs(" ndots:0", f);
        json_array_foreach(opts, i, v)
        {
            fprintf(f, " %s", json_string_value(v));
        }
        fputc('\n', f);
    }
    /* the host's search and options lines, unless the user gave their own */
    if (rest && json_array_size(search) == 0 && json_array_size(opts) == 0) {
        char *save = NULL;
        for (char *l = strtok_r(rest, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            if (strncmp(l, "search", 6) == 0 || (!embedded && strncmp(l, "options", 7) == 0))
                fprintf(f, "%s\n", l);
    }
    free(rest);
    fclose(f);
    return out;
}

/* Rewrite a file a running container has bind-mounted: in place, so its mount sees it. */
static int rewrite_in_place(const char *path, const char *text, berr_t *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    size_t len = strlen(text), off = 0;

    if (fd < 0)
        return berr_set(err, errno, "rewrite %s", path);
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return berr_set(err, errno, "rewrite %s", path);
        off += (size_t)w;
    }
    return 0;
}

static bool on_user_network(struct containers *cs, const json_t *eps)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)eps, key, v)
    {
        const char *id = jstr(v, "NetworkID");
        if (strcmp(key, "host") == 0 || strcmp(key, "none") == 0)
            continue;
        if (id && (cs->nets->default_id == NULL || strcmp(id, cs->nets->default_id) != 0))
            return true;
    }
    return false;
}

static int write_etc(struct containers *cs, const struct container *c, const json_t *eps,
                     const char *hostname, berr_t *err)
{
    _cleanup_free_ char *hosts = path_join(c->dir, "hosts");
    _cleanup_free_ char *resolv = path_join(c->dir, "resolv.conf");

    _cleanup_free_ char *ht = hosts_text(cs, c, hostname, primary_ip(eps));
    _cleanup_free_ char *rt = resolv_text(c, on_user_network(cs, eps));
    if (write_file_atomic(hosts, ht, strlen(ht), 0644, err) < 0 ||
        write_file_atomic(resolv, rt, strlen(rt), 0644, err) < 0)
        return berr_prefix(err, "container %.12s: write /etc files", c->id);
    return 0;
}

/* ---- links --------------------------------------------------------------------------- */

static void upper_alias(char *s)
{
    for (; *s; s++)
        *s = *s == '-' || *s == '.' ? '_' : (char)toupper((unsigned char)*s);
}

static int port_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    long px = strtol(x, NULL, 10), py = strtol(y, NULL, 10);
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(x, y);
}

/* The ports container T exposes (its own and its image's, ICFG), sorted: "80/tcp", ... */
static json_t *exposed_ports(const json_t *icfg, const struct container *t)
{
    json_t *all = json_object(), *out = json_array(), *v;
    const char *key;

    json_object_update(all, json_object_get(icfg, "ExposedPorts"));
    json_object_update(all, json_object_get(t->config, "ExposedPorts"));
    size_t n = json_object_size(all), i = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    json_object_foreach(all, key, v)
    {
        keys[i++] = key;
    }
    qsort(keys, n, sizeof(*keys), port_cmp);
    for (i = 0; i < n; i++)
        json_array_append_new(out, json_string(keys[i]));
    free(keys);
    json_decref(all);
    return out;
}

/* T's environment: its image's (ICFG) and its own. */
static json_t *env_of(const json_t *icfg, const struct container *t)
{
    json_t *env = json_array(), *v;
    size_t i;
    json_array_extend(env, json_object_get(icfg, "Env"));
    json_array_foreach(json_object_get(t->config, "Env"), i, v)
    {
        if (json_is_string(v))
            json_array_append(env, v);
    }
    return env;
}

/* Docker's link variables for ALIAS -> a container with PORTS and environment TENV at
 * address IP, appended to ENV. */
static void link_env(const struct container *c, const char *alias, const char *ip,
                     const json_t *ports, const json_t *tenv, json_t *env)
{
    _cleanup_free_ char *up = xstrdup(alias);
    json_t *v;
    size_t i;

    upper_alias(up);
    json_array_append_new(env, json_sprintf("%s_NAME=/%s/%s", up, c->name, alias));
    json_array_foreach(ports, i, v)
    {
        const char *p = json_string_value(v);
        const char *slash = strchr(p, '/');
        int port = atoi(p);
        _cleanup_free_ char *proto = xstrdup(slash ? slash + 1 : "tcp");
        _cleanup_free_ char *PROTO = xstrdup(proto);
        upper_alias(PROTO);
        if (i == 0)
            json_array_append_new(env, json_sprintf("%s_PORT=%s://%s:%d", up, proto, ip, port));
        json_array_append_new(
            env, json_sprintf("%s_PORT_%d_%s=%s://%s:%d", up, port, PROTO, proto, ip, port));
        json_array_append_new(env, json_sprintf("%s_PORT_%d_%s_ADDR=%s", up, port, PROTO, ip));
        json_array_append_new(env, json_sprintf("%s_PORT_%d_%s_PORT=%d", up, port, PROTO, port));
        json_array_append_new(env, json_sprintf("%s_PORT_%d_%s_PROTO=%s", up, port, PROTO, proto));
    }
    json_array_foreach(tenv, i, v)
    {
        const char *e = json_string_value(v);
        const char *eq = strchr(e, '=');
        if (eq == NULL || (eq - e == 4 && strncmp(e, "HOME", 4) == 0) ||
            (eq - e == 4 && strncmp(e, "PATH", 4) == 0) ||
            (eq - e == 8 && strncmp(e, "HOSTNAME", 8) == 0))
            continue;
        json_array_append_new(env, json_sprintf("%s_ENV_%.*s=%s", up, (int)(eq - e), e, eq + 1));
    }
}

/* With --icc=false on the default bridge: let C reach PORTS of the container at T_IP. */
static int link_rules(struct containers *cs, const struct container *c, const char *my_ip,
                      const json_t *ports, const char *t_ip, berr_t *err)
{
    struct netinfo ni;
    if (cs->nets->default_id == NULL || net_info(cs, cs->nets->default_id, &ni, err) < 0)
        return -1;
    if (ni.icc)
        return 0;
    json_t *v;
    size_t i;
    int ret = 0;
    json_array_foreach(ports, i, v)
    {
        const char *p = json_string_value(v);
        const char *slash = strchr(p, '/');
        if (ret == 0 && nft_link_allow(c->id, ni.bridge, aton(my_ip), aton(t_ip), atoi(p),
                                       slash ? slash + 1 : "tcp", err) < 0)
            ret = -1;
    }
    return ret;
}

/* Links of C on the default bridge: env variables, rules. Targets must run there. */
static int links_up(struct containers *cs, struct container *c, const char *my_ip, json_t *env,
                    berr_t *err)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(c->host, "Links"), i, v)
    {
        _cleanup_free_ char *name = NULL, *alias = NULL;
        struct container *t = NULL;
        if (parse_link(json_string_value(v), &name, &alias) < 0)
            continue;
        if (ctr_get(&cs->store, name, &t, NULL) < 0)
            return http_err(err, EINVAL, "Cannot link to /%s, as it does not exist", name);
        pthread_mutex_lock(&cs->store.lock);
        bool running = t->status == CTR_RUNNING || t->status == CTR_PAUSED;
        const char *tip = default_bridge_ip(cs, t);
        _cleanup_free_ char *ip = tip ? xstrdup(tip) : NULL;
        pthread_mutex_unlock(&cs->store.lock);
        int ret = 0;
        if (!running)
            ret = http_err(err, EINVAL, "Cannot link to a non running container: /%s AS /%s/%s",
                           t->name, c->name, alias);
        else if (ip == NULL)
            ret = http_err(err, EINVAL,
                           "Cannot link to /%s, as it does not belong to the default "
                           "network",
                           t->name);
        else {
            json_t *img = NULL; /* the target's image config, read once for both */
            image_get_config(cs->images, t->image_id, &img, NULL);
            const json_t *icfg = json_object_get(img, "config");
            json_t *ports = exposed_ports(icfg, t), *tenv = env_of(icfg, t);
            link_env(c, alias, ip, ports, tenv, env);
            ret = link_rules(cs, c, my_ip, ports, ip, err);
            json_decref(ports);
            json_decref(tenv);
            json_decref(img);
        }
        ctr_put(&cs->store, t);
        if (ret < 0)
            return -1;
    }
    return 0;
}

/* ---- endpoints ----------------------------------------------------------------------- */

static void random_hex(char out[65])
{
    ctr_new_id(out);
}

/* Tear down every live endpoint of EPS (C's), releasing addresses and names. With
 * WHOLE_SANDBOX the veths are left to the kernel: they go with the namespace, which the
 * caller unmounts next (deleting a veth synchronously costs 10-25 ms of RTNL and RCU
 * waiting; the namespace's cleanup does the same work asynchronously). Their names are
 * unique per start, so a quick restart never meets a pair still being destroyed. */
static void eps_down(struct containers *cs, const char *ctr_id, json_t *eps, bool whole_sandbox)
{
    const char *key;
    json_t *ep;

    json_object_foreach(eps, key, ep)
    {
        json_t *priv = json_object_get(ep, PRIV);
        const char *hostif = jstr(priv, "HostIf");
        const char *ip = jstr(ep, "IPAddress");
        berr_t e = NULL;
        if (hostif && !whole_sandbox && nl_endpoint_delete(hostif, &e) < 0) {
            log_warn("container %.12s: %s", ctr_id, berr_msg(e));
            berr_free(&e);
        }
        if (ip && *ip && jstr(ep, "NetworkID"))
            net_ip_release(cs->nets, jstr(ep, "NetworkID"), aton(ip));
        if (ip && *ip && jstr(ep, "NetworkID"))
            events_network("disconnect", jstr(ep, "NetworkID"), key, "bridge", ctr_id);
        json_object_del(ep, PRIV);
        json_object_set_new(ep, "EndpointID", json_string(""));
        json_object_set_new(ep, "Gateway", json_string(""));
        json_object_set_new(ep, "IPAddress", json_string(""));
        json_object_set_new(ep, "IPPrefixLen", json_integer(0));
        json_object_set_new(ep, "MacAddress",
                            json_string(jstr(ep, "UserMac") ? jstr(ep, "UserMac") : ""));
        json_object_set_new(ep, "DNSNames", json_null());
    }
    net_endpoint_remove(cs->nets, NULL, ctr_id);
}

static json_t *dns_names(const struct container *c, const json_t *ep)
{
    json_t *n = json_pack("[s,s%]", c->name, c->id, (size_t)12), *v;
    size_t i;
    json_array_foreach(json_object_get(ep, "Aliases"), i, v)
    {
        json_array_append(n, v);
    }
    return n;
}

/* Link aliases of an endpoint on a user network ("db:webdb" entries) as {"webdb": "db"}. */
static json_t *ep_link_names(const json_t *ep)
{
    json_t *o = json_object(), *v;
    size_t i;
    json_array_foreach(json_object_get(ep, "Links"), i, v)
    {
        _cleanup_free_ char *name = NULL, *alias = NULL;
        if (parse_link(json_string_value(v), &name, &alias) == 0)
            json_object_set_new(o, alias, json_string(name));
    }
    return o;
}

/* Bring up endpoint EP (network NAME) of C as interface eth<IDX> in namespace PATH. */
/* Register C's names for endpoint EP (address ADDR on network NID) with the DNS records. */
static void ep_names_add(struct containers *cs, const struct container *c, const char *nid,
                         const json_t *ep, struct in_addr addr)
{
    json_t *links = ep_link_names(ep);
    net_endpoint_add(cs->nets, nid, c->id, c->name, json_object_get(ep, "Aliases"), links, addr);
    json_decref(links);
}

static int ep_up(struct containers *cs, struct container *c, const char *path, const char *name,
                 json_t *ep, int idx, berr_t *err)
{
    struct netinfo ni;
    struct in_addr addr;
    const char *want = jstr(json_object_get(ep, "IPAMConfig"), "IPv4Address");
    const char *umac = jstr(ep, "MacAddress");
    char hostif[16], ifname[16], eid[65];

    if (net_info(cs, jstr(ep, "NetworkID") ? jstr(ep, "NetworkID") : name, &ni, err) < 0)
        return berr_prefix(err, "container %.12s", c->id);
    if (idx == 0 && (umac == NULL || *umac == '\0'))
        umac = jstr(c->config, "MacAddress");
    if (net_ip_alloc(cs->nets, ni.id, aton(want), &addr, err) < 0)
        return -1;
    struct nl_endpoint nep = {.host_if = hostif,
                              .bridge = ni.bridge,
                              .netns_path = path,
                              .ifname = ifname,
                              .addr = addr,
                              .prefix = ni.prefix,
                              .gw = ni.gw,
                              .default_route = idx == 0,
                              .mtu = ni.mtu};
    random_hex(eid);
    snprintf(hostif, sizeof(hostif), "vb%.11s", eid); /* unique per start: see eps_down */
    snprintf(ifname, sizeof(ifname), "eth%d", idx);
    if (umac && *umac) {
        unsigned int m[6];
        if (sscanf(umac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
            net_ip_release(cs->nets, ni.id, addr);
            return http_err(err, EINVAL, "invalid MAC address: %s", umac);
        }
        for (int i = 0; i < 6; i++)
            nep.mac[i] = (unsigned char)m[i];
        json_object_set_new(ep, "UserMac", json_string(umac));
    } else {
        nl_mac_from_ip(addr, nep.mac);
    }
    if (nl_endpoint_add(&nep, err) < 0) {
        net_ip_release(cs->nets, ni.id, addr);
        return berr_prefix(err, "container %.12s: network %s", c->id, ni.name);
    }
    char mac[18];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nep.mac[0], nep.mac[1], nep.mac[2],
             nep.mac[3], nep.mac[4], nep.mac[5]);
    random_hex(eid);
    _cleanup_free_ char *ip = ntoa(addr), *gw = ntoa(ni.gw);
    json_object_set_new(ep, "NetworkID", json_string(ni.id));
    json_object_set_new(ep, "EndpointID", json_string(eid));
    json_object_set_new(ep, "Gateway", json_string(gw));
    json_object_set_new(ep, "IPAddress", json_string(ip));
    json_object_set_new(ep, "IPPrefixLen", json_integer(ni.prefix));
    json_object_set_new(ep, "MacAddress", json_string(mac));
    json_object_set_new(ep, PRIV, json_pack("{s:s,s:s}", "HostIf", hostif, "IfName", ifname));
    if (!ni.is_default)
        json_object_set_new(ep, "DNSNames", dns_names(c, ep));
    ep_names_add(cs, c, ni.id, ep, addr);
    events_network("connect", ni.id, ni.name, "bridge", c->id);
    return 0;
}

/* The embedded DNS server for C in namespace PATH. */
static int dns_up(struct containers *cs, const struct container *c, const char *path, berr_t *err)
{
    struct in_addr up[MAX_UPSTREAM];
    size_t n = user_dns(c, up, MAX_UPSTREAM);
    if (n == 0)
        n = host_nameservers(up, MAX_UPSTREAM, true, NULL);
    if (cs->dns == NULL)
        return berr_set(err, ENOTSUP, "container %.12s: the embedded DNS server is not running",
                        c->id);
    int u = netns_socket(path, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, err);
    if (u < 0)
        return berr_prefix(err, "container %.12s: DNS", c->id);
    int t = netns_socket(path, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, err);
    if (t < 0) {
        close(u);
        return berr_prefix(err, "container %.12s: DNS", c->id);
    }
    if (dns_bind(u, t, err) < 0) {
        close(u);
        close(t);
        return berr_prefix(err, "container %.12s: DNS", c->id);
    }
    return dns_server_attach(cs->dns, c->id, u, t, up, n, err);
}

int netattach_up(struct containers *cs, struct container *c, const char *hostname, char **net_ns,
                 json_t **link_env, berr_t *err)
{
    _cleanup_free_ char *path = NULL;
    json_t *eps;
    const char *key;
    json_t *ep;
    int idx = 0;

    *net_ns = NULL;
    *link_env = json_array();
    pthread_mutex_lock(&cs->store.lock);
    eps = json_deep_copy(c->endpoints ? c->endpoints : json_object());
    pthread_mutex_unlock(&cs->store.lock);
    if (!own_sandbox(c)) {
        if (mode_is(c, "host"))
            *net_ns = xstrdup("host");
        else if (mode_is(c, "none"))
            *net_ns = xstrdup("new");
        int ret = write_etc(cs, c, eps, hostname, err);
        json_decref(eps);
        return ret;
    }
    path = sandbox_path(cs, c);
    if (mkdir_p(cs->netns_dir, 0711, err) < 0 || netns_delete(path, err) < 0 ||
        netns_create(path, err) < 0) {
        json_decref(eps);
        return berr_prefix(err, "container %.12s: network namespace", c->id);
    }
    json_object_foreach(eps, key, ep)
    {
        if (ep_up(cs, c, path, key, ep, idx++, err) < 0)
            goto fail;
    }
    if (on_user_network(cs, eps) && dns_up(cs, c, path, err) < 0)
        goto fail;
    if (mode_is(c, "bridge")) {
        ep = first_ep(eps);
        if (links_up(cs, c, primary_ip(eps), *link_env, err) < 0)
            goto fail;
        if (json_array_size(json_object_get(c->host, "Links")) > 0)
            json_object_set_new(json_object_get(ep, PRIV), "LinkRules", json_true());
    }
    if (write_etc(cs, c, eps, hostname, err) < 0)
        goto fail;
    pthread_mutex_lock(&cs->store.lock);
    json_decref(c->endpoints);
    c->endpoints = eps;
    pthread_mutex_unlock(&cs->store.lock);
    *net_ns = xstrdup(path);
    return 0;
fail:
    dns_server_detach(cs->dns, c->id);
    nft_owner_delete(c->id, NULL);
    eps_down(cs, c->id, eps, true);
    json_decref(eps);
    netns_delete(path, NULL);
    json_decref(*link_env);
    *link_env = NULL;
    return -1;
}

static bool had_link_rules(const json_t *eps)
{
    const char *key;
    json_t *ep;
    json_object_foreach((json_t *)eps, key, ep)
    {
        if (json_is_true(json_object_get(json_object_get(ep, PRIV), "LinkRules")))
            return true;
    }
    return false;
}

void netattach_down(struct containers *cs, struct container *c)
{
    if (c->endpoints == NULL || !own_sandbox(c))
        return;
    if (cs->dns)
        dns_server_detach(cs->dns, c->id);
    if (had_link_rules(c->endpoints))
        nft_owner_delete(c->id, NULL);
    eps_down(cs, c->id, c->endpoints, true);
    _cleanup_free_ char *path = sandbox_path(cs, c);
    berr_t e = NULL;
    if (netns_delete(path, &e) < 0) {
        log_warn("container %.12s: %s", c->id, berr_msg(e));
        berr_free(&e);
    }
}

void netattach_restore(struct containers *cs, struct container *c, bool running)
{
    const char *key;
    json_t *ep;

    if (c->endpoints == NULL)
        return;
    if (!running) {
        netattach_down(cs, c);
        return;
    }
    if (!own_sandbox(c))
        return;
    _cleanup_free_ char *path = sandbox_path(cs, c);
    json_object_foreach(c->endpoints, key, ep)
    {
        const char *ip = jstr(ep, "IPAddress");
        const char *nid = jstr(ep, "NetworkID");
        struct in_addr got;
        berr_t e = NULL;
        if (ip == NULL || *ip == '\0' || nid == NULL)
            continue;
        if (net_ip_alloc(cs->nets, nid, aton(ip), &got, &e) < 0) {
            log_warn("container %.12s: keep address %s: %s", c->id, ip, berr_msg(e));
            berr_free(&e);
        }
        ep_names_add(cs, c, nid, ep, aton(ip));
    }
    berr_t e = NULL;
    if (on_user_network(cs, c->endpoints) && dns_up(cs, c, path, &e) < 0) {
        log_warn("%s", berr_msg(e));
        berr_free(&e);
    }
}

/* Whether some running container owns host interface NAME or namespace file ID. */
static bool owned(struct container **all, size_t n, const char *hostif, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        const struct container *c = all[i];
        const char *key;
        json_t *ep;
        if (c->status != CTR_RUNNING && c->status != CTR_PAUSED)
            continue;
        if (id && strcmp(c->id, id) == 0)
            return true;
        json_object_foreach(c->endpoints, key, ep)
        {
            const char *h = jstr(json_object_get(ep, PRIV), "HostIf");
            if (hostif && h && strcmp(h, hostif) == 0)
                return true;
        }
    }
    return false;
}

void netattach_sweep(struct containers *cs)
{
    struct container **all;
    size_t n, nn = 0;
    char **names = NULL;
    berr_t e = NULL;

    ctr_list(&cs->store, &all, &n);
    pthread_mutex_lock(&cs->store.lock);
    if (nl_links_with_prefix("vb", &names, &nn, &e) == 0) {
        for (size_t i = 0; i < nn; i++) {
            if (strlen(names[i]) == 13 && !owned(all, n, names[i], NULL)) {
                log_info("removing interface %s: no running container owns it", names[i]);
                nl_link_delete(names[i], NULL);
            }
        }
        nl_names_free(names);
    }
    berr_free(&e);
    DIR *d = opendir(cs->netns_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 64 || owned(all, n, NULL, de->d_name))
            continue;
        _cleanup_free_ char *p = path_join(cs->netns_dir, de->d_name);
        log_info("removing network namespace %s: its container does not run", p);
        netns_delete(p, NULL);
    }
    if (d)
        closedir(d);
    pthread_mutex_unlock(&cs->store.lock);
    ctr_list_free(&cs->store, all, n);
}

/* Rules and hosts of container X, which links to something that (re)started. */
static void refresh_one(struct containers *cs, struct container *x)
{
    pthread_mutex_lock(&cs->store.lock);
    bool running = x->status == CTR_RUNNING || x->status == CTR_PAUSED;
    _cleanup_free_ char *ip = xstrdup(primary_ip(x->endpoints));
    const char *h = jstr(x->config, "Hostname");
    _cleanup_free_ char *hostname = xstrdup(h && *h ? h : "");
    bool rules = had_link_rules(x->endpoints);
    pthread_mutex_unlock(&cs->store.lock);
    if (!running)
        return;
    _cleanup_free_ char *text = hosts_text(cs, x, hostname, ip);
    _cleanup_free_ char *path = path_join(x->dir, "hosts");
    berr_t e = NULL;
    if (rewrite_in_place(path, text, &e) < 0) {
        log_warn("container %.12s: update links: %s", x->id, berr_msg(e));
        berr_free(&e);
    }
    if (rules) {
        nft_owner_delete(x->id, NULL);
        json_t *env = json_array();
        if (links_up(cs, x, ip, env, &e) < 0) {
            log_warn("container %.12s: update link rules: %s", x->id, berr_msg(e));
            berr_free(&e);
        }
        json_decref(env);
    }
}

void netattach_links_refresh(struct containers *cs, struct container *c)
{
    struct container **all;
    size_t n;

    ctr_list(&cs->store, &all, &n);
    for (size_t i = 0; i < n; i++) {
        struct container *x = all[i];
        size_t k;
        json_t *v;
        bool links_to = false;
        if (x == c)
            continue;
        pthread_mutex_lock(&cs->store.lock);
        json_array_foreach(json_object_get(x->host, "Links"), k, v)
        {
            _cleanup_free_ char *name = NULL, *alias = NULL;
            if (parse_link(json_string_value(v), &name, &alias) == 0 && strcmp(name, c->name) == 0)
                links_to = true;
        }
        pthread_mutex_unlock(&cs->store.lock);
        if (links_to)
            refresh_one(cs, x);
    }
    ctr_list_free(&cs->store, all, n);
}

/* ---- connect and disconnect ---------------------------------------------------------- */

int netattach_connect(struct containers *cs, struct container *c, const char *net_ref,
                      const json_t *ec, berr_t *err)
{
    struct netinfo ni;
    int ret = -1;

    if (net_info(cs, net_ref, &ni, err) < 0)
        return -1;
    pthread_mutex_lock(&c->op);
    pthread_mutex_lock(&cs->store.lock);
    bool running = c->status == CTR_RUNNING || c->status == CTR_PAUSED;
    bool exists = json_object_get(c->endpoints, ni.name) != NULL;
    bool sandbox = own_sandbox(c);
    size_t idx = json_object_size(c->endpoints);
    pthread_mutex_unlock(&cs->store.lock);
    if (!sandbox) {
        http_err(err, EINVAL, "container cannot be connected to network %s: its network mode is %s",
                 ni.name, mode_of(c));
        goto out;
    }
    if (exists) {
        http_err(err, EPERM, "endpoint with name %s already exists in network %s", c->name,
                 ni.name);
        goto out;
    }
    if (check_endpoint(&ni, ec, err) < 0)
        goto out;
    json_t *ep = endpoint_new(ni.id, ec);
    if (running) {
        _cleanup_free_ char *path = sandbox_path(cs, c);
        if (ep_up(cs, c, path, ni.name, ep, (int)idx, err) < 0) {
            json_decref(ep);
            goto out;
        }
        pthread_mutex_lock(&cs->store.lock);
        bool had_dns = on_user_network(cs, c->endpoints);
        pthread_mutex_unlock(&cs->store.lock);
        if (!had_dns && !ni.is_default && dns_up(cs, c, path, err) < 0) {
            json_t *one = json_pack("{s:O}", ni.name, ep);
            eps_down(cs, c->id, one, false);
            json_decref(one);
            json_decref(ep);
            goto out;
        }
        if (!had_dns && !ni.is_default) {
            /* from now on its names come from the embedded server, as if it had started there */
            _cleanup_free_ char *text = resolv_text(c, true);
            _cleanup_free_ char *rpath = path_join(c->dir, "resolv.conf");
            berr_t e = NULL;
            if (rewrite_in_place(rpath, text, &e) < 0) {
                log_warn("container %.12s: %s", c->id, berr_msg(e));
                berr_free(&e);
            }
        }
    }
    pthread_mutex_lock(&cs->store.lock);
    json_object_set_new(c->endpoints, ni.name, ep);
    ret = ctr_save(&cs->store, c, err);
    pthread_mutex_unlock(&cs->store.lock);
out:
    pthread_mutex_unlock(&c->op);
    return ret;
}

int netattach_disconnect(struct containers *cs, struct container *c, const char *net_ref,
                         bool force, berr_t *err)
{
    struct netinfo ni;
    int ret = -1;

    (void)force;
    if (net_info(cs, net_ref, &ni, err) < 0)
        return -1;
    pthread_mutex_lock(&c->op);
    pthread_mutex_lock(&cs->store.lock);
    json_t *ep = json_object_get(c->endpoints, ni.name);
    if (ep == NULL) {
        http_err(err, EINVAL, "container %s is not connected to network %s", c->name, ni.name);
        goto out;
    }
    if (!own_sandbox(c)) {
        http_err(err, EINVAL, "container cannot be disconnected from network %s", ni.name);
        goto out;
    }
    json_t *one = json_pack("{s:O}", ni.name, ep);
    /* eps_down forgets every name of the container: the others come back below */
    eps_down(cs, c->id, one, false);
    json_decref(one);
    json_object_del(c->endpoints, ni.name);
    const char *key;
    json_t *v;
    json_object_foreach(c->endpoints, key, v)
    {
        const char *ip = jstr(v, "IPAddress");
        if (ip && *ip && jstr(v, "NetworkID"))
            ep_names_add(cs, c, jstr(v, "NetworkID"), v, aton(ip));
    }
    bool dns_left = on_user_network(cs, c->endpoints);
    ret = ctr_save(&cs->store, c, err);
    pthread_mutex_unlock(&cs->store.lock);
    if (!dns_left && cs->dns)
        dns_server_detach(cs->dns, c->id);
    pthread_mutex_unlock(&c->op);
    return ret;
out:
    pthread_mutex_unlock(&cs->store.lock);
    pthread_mutex_unlock(&c->op);
    return ret;
}

/* ---- presentation -------------------------------------------------------------------- */

json_t *netattach_settings(const struct container *c)
{
    json_t *nets = json_object(), *v;
    const char *key, *ip = "", *gw = "", *mac = "", *eid = "";
    int prefix = 0;
    bool first = true;

    json_object_foreach(c->endpoints, key, v)
    {
        json_t *pub = json_deep_copy(v);
        json_object_del(pub, PRIV);
        json_object_del(pub, "UserMac");
        json_object_set_new(nets, key, pub);
        /* Docker's top-level fields describe the default bridge only */
        if (first && strcmp(key, "bridge") == 0) {
            ip = jstr(v, "IPAddress");
            gw = jstr(v, "Gateway");
            mac = jstr(v, "MacAddress");
            eid = jstr(v, "EndpointID");
            prefix = (int)json_integer_value(json_object_get(v, "IPPrefixLen"));
        }
        first = false;
    }
    return json_pack("{s:s,s:s,s:i,s:s,s:s,s:o}", "EndpointID", eid ? eid : "", "Gateway",
                     gw ? gw : "", "IPPrefixLen", prefix, "IPAddress", ip ? ip : "", "MacAddress",
                     mac ? mac : "", "Networks", nets);
}

json_t *netattach_network_containers(struct containers *cs, const char *net_id)
{
    struct container **all;
    size_t n;
    json_t *out = json_object();

    ctr_list(&cs->store, &all, &n);
    pthread_mutex_lock(&cs->store.lock);
    for (size_t i = 0; i < n; i++) {
        struct container *x = all[i];
        const char *key;
        json_t *v;
        if (x->status != CTR_RUNNING && x->status != CTR_PAUSED)
            continue;
        json_object_foreach(x->endpoints, key, v)
        {
            const char *ip = jstr(v, "IPAddress");
            if (strcmp(jstr(v, "NetworkID") ? jstr(v, "NetworkID") : "", net_id) != 0 ||
                ip == NULL || *ip == '\0')
                continue;
            _cleanup_free_ char *cidr =
                xasprintf("%s/%d", ip, (int)json_integer_value(json_object_get(v, "IPPrefixLen")));
            json_object_set_new(out, x->id,
                                json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", x->name, "EndpointID",
                                          jstr(v, "EndpointID"), "MacAddress",
                                          jstr(v, "MacAddress"), "IPv4Address", cidr, "IPv6Address",
                                          ""));
        }
    }
    pthread_mutex_unlock(&cs->store.lock);
    ctr_list_free(&cs->store, all, n);
    return out;
}

bool netattach_network_in_use(struct containers *cs, const char *net_id)
{
    json_t *c = netattach_network_containers(cs, net_id);
    bool used = json_object_size(c) > 0;
    json_decref(c);
    return used;
}
