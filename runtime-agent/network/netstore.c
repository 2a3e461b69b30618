#include "runtime-agent/network/netstore.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/containers/store.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/log.h"
#include "runtime-agent/network/netlink.h"
#include "runtime-agent/network/nft.h"
#include "runtime-agent/timefmt.h"

/* ---- addresses ----------------------------------------------------------------------- */

struct in_addr net_mask(struct in_addr addr, int prefix)
{
    uint32_t m = prefix <= 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
    return (struct in_addr){addr.s_addr & m};
}

int net_parse_cidr(const char *s, struct in_addr *addr, int *prefix)
{
    char buf[32];
    const char *slash = s ? strchr(s, '/') : NULL;
    char *end;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    long p = strtol(slash + 1, &end, 10);
    if (*end != '\0' || end == slash + 1 || p < 1 || p > 30 || inet_pton(AF_INET, buf, addr) != 1)
        return -1;
    *prefix = (int)p;
    return 0;
}

static bool in_subnet(struct in_addr a, struct in_addr subnet, int prefix)
{
    return net_mask(a, prefix).s_addr == net_mask(subnet, prefix).s_addr;
}

static bool overlaps(struct in_addr a, int pa, struct in_addr b, int pb)
{
    int p = pa < pb ? pa : pb;
    return net_mask(a, p).s_addr == net_mask(b, p).s_addr;
}

static char *cidr_text(struct in_addr a, int prefix)
{
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    return xasprintf("%s/%d", buf, prefix);
}

static char *addr_text(struct in_addr a)
{
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    return xstrdup(buf);
}

/* Host number I of the subnet as an address. */
static struct in_addr host_addr(const struct network *n, uint32_t i)
{
    return (struct in_addr){htonl(ntohl(n->subnet.s_addr) + i)};
}

static uint32_t host_index(const struct network *n, struct in_addr a)
{
    return ntohl(a.s_addr) - ntohl(n->subnet.s_addr);
}

static bool bit_get(const struct network *n, uint32_t i)
{
    return n->used[i / 8] & (1u << (i % 8));
}

static void bit_set(struct network *n, uint32_t i, bool on)
{
    if (on)
        n->used[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        n->used[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* (Re)build the allocation bitmap: the network, gateway and broadcast addresses are taken. */
static void ipam_init(struct network *n)
{
    free(n->used);
    n->used = NULL;
    n->size = 0;
    if (strcmp(n->driver, "bridge") != 0)
        return;
    n->size = 1u << (32 - n->prefix);
    n->used = xcalloc(n->size / 8 + 1, 1);
    bit_set(n, 0, true);
    bit_set(n, n->size - 1, true);
    if (in_subnet(n->gateway, n->subnet, n->prefix))
        bit_set(n, host_index(n, n->gateway), true);
    n->next = 1;
}

/* ---- records ------------------------------------------------------------------------- */

static void network_free(struct network *n)
{
    if (n == NULL)
        return;
    free(n->name);
    free(n->driver);
    free(n->bridge);
    free(n->created);
    json_decref(n->labels);
    json_decref(n->options);
    free(n->used);
    free(n);
}

/* A bridge network's subnet, gateway and range, as both the record and inspect show them. */
static json_t *ipam_json(const struct network *n)
{
    _cleanup_free_ char *sub = cidr_text(n->subnet, n->prefix), *gw = addr_text(n->gateway);
    json_t *c = json_pack("{s:s,s:s}", "Subnet", sub, "Gateway", gw);
    if (n->range_prefix) {
        _cleanup_free_ char *r = cidr_text(n->range, n->range_prefix);
        json_object_set_new(c, "IPRange", json_string(r));
    }
    return c;
}

static json_t *record_json(const struct network *n)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:i,s:O,s:O}", "Id", n->id,
                          "Name", n->name, "Driver", n->driver, "Created", n->created, "Internal",
                          n->internal, "Attachable", n->attachable, "ICC", n->icc, "Predefined",
                          n->predefined, "UserSubnet", n->user_subnet, "IPMasq", n->ip_masq, "MTU",
                          n->mtu, "Labels", n->labels, "Options", n->options);
    if (strcmp(n->driver, "bridge") == 0) {
        json_t *ipam = ipam_json(n);
        json_object_set_new(j, "Bridge", json_string(n->bridge));
        json_object_update(j, ipam);
        json_decref(ipam);
    }
    return j;
}

static int save(struct net_store *s, const struct network *n, berr_t *err)
{
    json_t *j = record_json(n);
    char *text = json_dumps(j, JSON_INDENT(1));
    _cleanup_free_ char *name = xasprintf("%s.json", n->id);
    _cleanup_free_ char *path = path_join(s->root, name);
    int ret = write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    json_decref(j);
    if (ret < 0)
        return berr_prefix(err, "network %s: save", n->name);
    return 0;
}

static struct network *from_json(const json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "Id"));
    const char *name = json_string_value(json_object_get(j, "Name"));
    const char *driver = json_string_value(json_object_get(j, "Driver"));
    struct network *n;

    if (id == NULL || strlen(id) != 64 || name == NULL || driver == NULL)
        return NULL;
    n = xcalloc(1, sizeof(*n));
    memcpy(n->id, id, 65);
    n->name = xstrdup(name);
    n->driver = xstrdup(driver);
    n->created = xstrdup(json_string_value(json_object_get(j, "Created"))
                             ? json_string_value(json_object_get(j, "Created"))
                             : "0001-01-01T00:00:00Z");
    n->internal = json_is_true(json_object_get(j, "Internal"));
    n->attachable = json_is_true(json_object_get(j, "Attachable"));
    n->icc = !json_is_false(json_object_get(j, "ICC"));
    n->ip_masq = !json_is_false(json_object_get(j, "IPMasq"));
    n->predefined = json_is_true(json_object_get(j, "Predefined"));
    n->user_subnet = json_is_true(json_object_get(j, "UserSubnet"));
    n->mtu = (int)json_integer_value(json_object_get(j, "MTU"));
    n->labels = json_is_object(json_object_get(j, "Labels"))
                    ? json_incref(json_object_get(j, "Labels"))
                    : json_object();
    n->options = json_is_object(json_object_get(j, "Options"))
                     ? json_incref(json_object_get(j, "Options"))
                     : json_object();
    if (strcmp(driver, "bridge") == 0) {
        const char *br = json_string_value(json_object_get(j, "Bridge"));
        const char *gw = json_string_value(json_object_get(j, "Gateway"));
        const char *range = json_string_value(json_object_get(j, "IPRange"));
        if (br == NULL || gw == NULL ||
            net_parse_cidr(json_string_value(json_object_get(j, "Subnet")), &n->subnet,
                           &n->prefix) < 0 ||
            inet_pton(AF_INET, gw, &n->gateway) != 1 ||
            (range && net_parse_cidr(range, &n->range, &n->range_prefix) < 0)) {
            network_free(n);
            return NULL;
        }
        n->bridge = xstrdup(br);
        n->subnet = net_mask(n->subnet, n->prefix);
    }
    ipam_init(n);
    return n;
}

static void new_id(char out[65])
{
    ctr_new_id(out);
}

static struct network *find(struct net_store *s, const char *ref)
{
    struct network *hit = NULL;
    size_t len = strlen(ref);

    if (len == 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i]->id, ref) == 0 || strcmp(s->items[i]->name, ref) == 0)
            return s->items[i];
    for (size_t i = 0; i < s->n; i++) {
        if (strncmp(s->items[i]->id, ref, len) == 0) {
            if (hit)
                return NULL; /* ambiguous */
            hit = s->items[i];
        }
    }
    return hit;
}

struct network *net_find_locked(struct net_store *s, const char *ref, berr_t *err)
{
    struct network *n = ref ? find(s, ref) : NULL;
    if (n == NULL)
        http_err(err, ENOENT, "network %s not found", ref ? ref : "");
    return n;
}

void net_lock(struct net_store *s)
{
    pthread_mutex_lock(&s->lock);
}

void net_unlock(struct net_store *s)
{
    pthread_mutex_unlock(&s->lock);
}

static void add_item(struct net_store *s, struct network *n)
{
    s->items = xrealloc(s->items, (s->n + 1) * sizeof(*s->items));
    s->items[s->n++] = n;
}

/* ---- bridges and their rules --------------------------------------------------------- */

/* Make N's bridge and rules. Store lock held (netlink and nft take a few ms). */
static int plumb(const struct network *n, berr_t *err)
{
    if (strcmp(n->driver, "bridge") != 0)
        return 0;
    if (nl_bridge_ensure(n->bridge, n->gateway, n->prefix, n->mtu, err) < 0)
        return berr_prefix(err, "network %s", n->name);
    struct nft_network f = {.id = n->id,
                            .bridge = n->bridge,
                            .subnet = n->subnet,
                            .prefix = n->prefix,
                            .internal = n->internal,
                            .icc = n->icc,
                            .no_masq = !n->ip_masq};
    if (nft_network_add(&f, err) < 0)
        return berr_prefix(err, "network %s", n->name);
    if (!n->internal && nl_sysctl_set("net/ipv4/ip_forward", "1", err) < 0)
        return berr_prefix(err, "network %s", n->name);
    return 0;
}

/* Any address on this host's interfaces, other than on BRIDGE, inside ADDR/PREFIX? */
static bool host_uses(struct in_addr addr, int prefix, const char *bridge)
{
    struct ifaddrs *ifs = NULL;
    bool used = false;

    if (getifaddrs(&ifs) < 0)
        return false;
    for (struct ifaddrs *i = ifs; i && !used; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (bridge && strcmp(i->ifa_name, bridge) == 0))
            continue;
        struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        int p = 32;
        if (i->ifa_netmask)
            p = __builtin_popcount(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
        used = overlaps(a, p, addr, prefix);
    }
    freeifaddrs(ifs);
    return used;
}

static bool store_uses(struct net_store *s, struct in_addr addr, int prefix, const char *except)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct network *n = s->items[i];
        if (strcmp(n->driver, "bridge") == 0 && (except == NULL || strcmp(n->id, except) != 0) &&
            overlaps(n->subnet, n->prefix, addr, prefix))
            return true;
    }
    return false;
}

/* Docker's default pools: 172.17-31.0.0/16, then 192.168.0-240.0/20. */
static int pick_subnet(struct net_store *s, const char *bridge, struct in_addr *subnet, int *prefix)
{
    for (int b = 17; b <= 31; b++) {
        struct in_addr a = {htonl((172u << 24) | ((unsigned)b << 16))};
        if (!store_uses(s, a, 16, NULL) && !host_uses(a, 16, bridge)) {
            *subnet = a;
            *prefix = 16;
            return 0;
        }
    }
    for (unsigned c = 0; c < 256; c += 16) {
        struct in_addr a = {htonl((192u << 24) | (168u << 16) | (c << 8))};
        if (!store_uses(s, a, 20, NULL) && !host_uses(a, 20, bridge)) {
            *subnet = a;
            *prefix = 20;
            return 0;
        }
    }
    return -1;
}

/* The default bridge, from the daemon options. */
static int setup_default(struct net_store *s, const struct net_options *o, berr_t *err)
{
    const char *brname = o->bridge && *o->bridge ? o->bridge : NET_DEFAULT_BRIDGE;
    struct network *n = find(s, "bridge");
    struct in_addr gw;
    int prefix;

    if (strcmp(brname, "none") == 0) {
        s->default_id = NULL;
        return 0;
    }
    if (o->bip && *o->bip) {
        if (net_parse_cidr(o->bip, &gw, &prefix) < 0)
            return berr_set(err, EINVAL, "--bip %s: not an IPv4 address with a prefix length",
                            o->bip);
    } else if (n && n->bridge && strcmp(n->bridge, brname) == 0) {
        gw = n->gateway; /* what it had */
        prefix = n->prefix;
    } else {
        struct in_addr sub;
        if (inet_pton(AF_INET, "172.17.0.1", &gw) != 1)
            return -1;
        prefix = 16;
        if (host_uses(gw, prefix, brname)) {
            /* e.g. Docker's docker0 on the same host: take the next free pool, as dockerd does */
            if (pick_subnet(s, brname, &sub, &prefix) < 0)
                return berr_set(err, EADDRINUSE,
                                "default bridge: no free address pool; set one with --bip");
            gw.s_addr = htonl(ntohl(sub.s_addr) + 1);
        }
    }
    if (n == NULL) {
        n = xcalloc(1, sizeof(*n));
        new_id(n->id);
        n->name = xstrdup("bridge");
        n->driver = xstrdup("bridge");
        n->created = time_rfc3339_now();
        n->labels = json_object();
        n->options = json_object();
        n->predefined = true;
        add_item(s, n);
    }
    free(n->bridge);
    n->bridge = xstrdup(brname);
    n->gateway = gw;
    n->prefix = prefix;
    n->subnet = net_mask(gw, prefix);
    n->icc = o->icc;
    n->ip_masq = o->ip_masq;
    n->mtu = o->mtu;
    n->range_prefix = 0;
    if (o->fixed_cidr && *o->fixed_cidr) {
        if (net_parse_cidr(o->fixed_cidr, &n->range, &n->range_prefix) < 0 ||
            n->range_prefix < n->prefix || !in_subnet(n->range, n->subnet, n->prefix))
            return berr_set(err, EINVAL, "--fixed-cidr %s: not a subnet of the bridge's %s",
                            o->fixed_cidr, o->bip ? o->bip : "subnet");
        n->range = net_mask(n->range, n->range_prefix);
    }
    json_object_clear(n->options);
    json_object_set_new(n->options, "com.docker.network.bridge.default_bridge",
                        json_string("true"));
    json_object_set_new(n->options, "com.docker.network.bridge.enable_icc",
                        json_string(n->icc ? "true" : "false"));
    json_object_set_new(n->options, "com.docker.network.bridge.enable_ip_masquerade",
                        json_string(n->ip_masq ? "true" : "false"));
    json_object_set_new(n->options, "com.docker.network.bridge.name", json_string(n->bridge));
    json_object_set_new(n->options, "com.docker.network.driver.mtu",
                        json_sprintf("%d", n->mtu ? n->mtu : 1500));
    ipam_init(n);
    s->default_id = xstrdup(n->id);
    return save(s, n, err);
}

static int predefined(struct net_store *s, const char *name, const char *driver, berr_t *err)
{
    if (find(s, name))
        return 0;
    struct network *n = xcalloc(1, sizeof(*n));
    new_id(n->id);
    n->name = xstrdup(name);
    n->driver = xstrdup(driver);
    n->created = time_rfc3339_now();
    n->labels = json_object();
    n->options = json_object();
    n->predefined = true;
    add_item(s, n);
    return save(s, n, err);
}

int net_store_open(struct net_store *s, const char *data_root, const struct net_options *opts,
                   berr_t *err)
{
    DIR *d;
    struct dirent *e;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->root = path_join(data_root, "network");
    if (mkdir_p(s->root, 0700, err) < 0)
        return berr_prefix(err, "networks");
    d = opendir(s->root);
    if (d == NULL)
        return berr_set(err, errno, "networks: open %s", s->root);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        _cleanup_free_ char *path = path_join(s->root, e->d_name);
        json_t *j = json_load_file(path, 0, NULL);
        struct network *n = j ? from_json(j) : NULL;
        json_decref(j);
        if (n == NULL) {
            log_warn("network record %s is unreadable: ignored", path);
            continue;
        }
        add_item(s, n);
    }
    closedir(d);
    if (setup_default(s, opts, err) < 0 || predefined(s, "host", "host", err) < 0 ||
        predefined(s, "none", "null", err) < 0)
        return -1;
    berr_t ne = NULL;
    if (nft_reset(&ne) < 0) {
        log_warn("packet filtering: %s (no outbound NAT, no --icc=false)", berr_msg(ne));
        berr_free(&ne);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (plumb(s->items[i], &ne) < 0) {
            log_warn("%s", berr_msg(ne));
            berr_free(&ne);
        }
    }
    return 0;
}

void net_store_close(struct net_store *s, bool teardown)
{
    if (s->root == NULL)
        return;
    berr_t e = NULL;
    if (teardown && nft_teardown(&e) < 0) {
        log_warn("packet filtering: %s", berr_msg(e));
        berr_free(&e);
    }
    for (size_t i = 0; i < s->n; i++)
        network_free(s->items[i]);
    free(s->items);
    for (size_t i = 0; i < s->n_eps; i++) {
        free(s->eps[i]->ctr_name);
        json_decref(s->eps[i]->aliases);
        json_decref(s->eps[i]->links);
        free(s->eps[i]);
    }
    free(s->eps);
    free(s->default_id);
    free(s->root);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof(*s));
}

/* ---- create and remove --------------------------------------------------------------- */

static const char *opt_str(const json_t *opts, const char *key)
{
    return json_string_value(json_object_get(opts, key));
}

static bool name_ok(const char *n)
{
    if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9')))
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

/* IPAM.Config[0] into N; a subnet is picked from the pools when none is given. */
static int ipam_config(struct net_store *s, struct network *n, const json_t *ipam, berr_t *err)
{
    const json_t *cfgs = json_object_get(ipam, "Config");
    const json_t *c = json_array_get(cfgs, 0);
    const char *subnet = json_string_value(json_object_get(c, "Subnet"));
    const char *gw = json_string_value(json_object_get(c, "Gateway"));
    const char *range = json_string_value(json_object_get(c, "IPRange"));
    const char *drv = json_string_value(json_object_get(ipam, "Driver"));

    if (drv && *drv && strcmp(drv, "default") != 0)
        return http_err(err, EINVAL, "IPAM driver \"%s\" is not supported (default)", drv);
    if (json_array_size(cfgs) > 1)
        return http_err(err, EINVAL, "only one IPAM configuration per network is supported");
    if (subnet && *subnet) {
        if (strchr(subnet, ':'))
            return http_err(err, EINVAL, "IPv6 subnets are not supported: %s", subnet);
        if (net_parse_cidr(subnet, &n->subnet, &n->prefix) < 0)
            return http_err(err, EINVAL, "invalid subnet %s: not an IPv4 CIDR with a /1-/30 prefix",
                            subnet);
        n->subnet = net_mask(n->subnet, n->prefix);
        if (store_uses(s, n->subnet, n->prefix, NULL))
            return http_err(err, EPERM,
                            "invalid pool request: Pool overlaps with other one on this address "
                            "space");
        n->user_subnet = true;
    } else {
        if (gw && *gw)
            return http_err(err, EINVAL, "a gateway needs a subnet (--subnet)");
        if (pick_subnet(s, NULL, &n->subnet, &n->prefix) < 0)
            return http_err(err, EADDRINUSE,
                            "could not find an available, non-overlapping IPv4 address pool "
                            "among the defaults to assign to the network");
    }
    if (gw && *gw) {
        if (inet_pton(AF_INET, gw, &n->gateway) != 1 ||
            !in_subnet(n->gateway, n->subnet, n->prefix))
            return http_err(err, EINVAL, "invalid gateway %s: not an address of subnet %s", gw,
                            subnet);
    } else {
        n->gateway.s_addr = htonl(ntohl(n->subnet.s_addr) + 1);
    }
    if (range && *range) {
        if (net_parse_cidr(range, &n->range, &n->range_prefix) < 0 || n->range_prefix < n->prefix ||
            !in_subnet(n->range, n->subnet, n->prefix))
            return http_err(err, EINVAL, "invalid ip range %s: not a subnet of %s", range, subnet);
        n->range = net_mask(n->range, n->range_prefix);
    }
    return 0;
}

int net_create(struct net_store *s, const json_t *body, char **id, json_t **warning, berr_t *err)
{
    const char *name = json_string_value(json_object_get(body, "Name"));
    const char *driver = json_string_value(json_object_get(body, "Driver"));
    const json_t *opts = json_object_get(body, "Options");
    const json_t *labels = json_object_get(body, "Labels");
    struct network *n;
    int ret = -1;

    if (!json_is_object(body))
        return http_err(err, EINVAL, "invalid JSON: the body must be an object");
    if (name == NULL || *name == '\0')
        return http_err(err, EINVAL, "network name is required");
    if (!name_ok(name))
        return http_err(err, EINVAL,
                        "invalid network name %s: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                        name);
    if (driver == NULL || *driver == '\0')
        driver = "bridge";
    if (strcmp(driver, "host") == 0 || strcmp(driver, "null") == 0)
        return http_err(err, EPERM, "only one instance of \"%s\" network is allowed", driver);
    if (strcmp(driver, "bridge") != 0)
        return http_err(err, ENOENT, "plugin \"%s\" not found: berthd has the bridge driver only",
                        driver);
    if (json_is_true(json_object_get(body, "EnableIPv6")))
        return http_err(err, EINVAL, "IPv6 networks are not supported");
    n = xcalloc(1, sizeof(*n));
    n->name = xstrdup(name);
    n->driver = xstrdup("bridge");
    n->created = time_rfc3339_now();
    n->internal = json_is_true(json_object_get(body, "Internal"));
    n->attachable = json_is_true(json_object_get(body, "Attachable"));
    n->labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
    n->options = json_is_object(opts) ? json_deep_copy(opts) : json_object();
    const char *icc = opt_str(opts, "com.docker.network.bridge.enable_icc");
    const char *masq = opt_str(opts, "com.docker.network.bridge.enable_ip_masquerade");
    const char *mtu = opt_str(opts, "com.docker.network.driver.mtu");
    const char *brname = opt_str(opts, "com.docker.network.bridge.name");
    n->icc = !(icc && strcmp(icc, "false") == 0);
    n->ip_masq = !(masq && strcmp(masq, "false") == 0);
    n->mtu = mtu ? atoi(mtu) : 0;
    if (mtu && (n->mtu < 68 || n->mtu > 65535)) {
        http_err(err, EINVAL, "invalid MTU %s", mtu);
        network_free(n);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (find(s, name) && strcmp(find(s, name)->name, name) == 0) {
        http_err(err, EEXIST, "network with name %s already exists", name);
        goto out;
    }
    if (ipam_config(s, n, json_object_get(body, "IPAM"), err) < 0)
        goto out;
    new_id(n->id);
    if (brname && *brname) {
        if (strlen(brname) > 15) {
            http_err(err, EINVAL, "bridge name %s is longer than 15 characters", brname);
            goto out;
        }
        n->bridge = xstrdup(brname);
    } else {
        n->bridge = xasprintf("br-%.12s", n->id);
    }
    ipam_init(n);
    if (plumb(n, err) < 0 || save(s, n, err) < 0) {
        nl_link_delete(n->bridge, NULL);
        nft_network_delete(n->id, NULL);
        goto out;
    }
    add_item(s, n);
    events_network("create", n->id, n->name, n->driver, NULL);
    *id = xstrdup(n->id);
    *warning = json_string("");
    n = NULL;
    ret = 0;
out:
    pthread_mutex_unlock(&s->lock);
    network_free(n);
    return ret;
}

/* Forget N: its record, bridge and rules. Lock held. */
static int remove_locked(struct net_store *s, struct network *n, berr_t *err)
{
    _cleanup_free_ char *name = xasprintf("%s.json", n->id);
    _cleanup_free_ char *path = path_join(s->root, name);
    berr_t e = NULL;

    if (unlink(path) < 0 && errno != ENOENT)
        return berr_set(err, errno, "network %s: remove %s", n->name, path);
    if (nft_network_delete(n->id, &e) < 0 || nl_link_delete(n->bridge, &e) < 0) {
        log_warn("network %s: %s", n->name, berr_msg(e));
        berr_free(&e);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i] == n) {
            memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
            s->n--;
            break;
        }
    }
    events_network("destroy", n->id, n->name, n->driver, NULL);
    network_free(n);
    return 0;
}

int net_remove(struct net_store *s, const char *ref, bool in_use, berr_t *err)
{
    int ret = -1;

    pthread_mutex_lock(&s->lock);
    struct network *n = net_find_locked(s, ref, err);
    if (n == NULL)
        ret = -1;
    else if (n->predefined)
        ret = http_err(err, EPERM, "%s is a pre-defined network and cannot be removed", n->name);
    else if (in_use)
        ret = http_err(err, EBUSY,
                       "error while removing network: network %s id %s has active endpoints",
                       n->name, n->id);
    else
        ret = remove_locked(s, n, err);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* ---- presentation -------------------------------------------------------------------- */

json_t *net_json(const struct network *n)
{
    json_t *cfg = json_array();
    if (strcmp(n->driver, "bridge") == 0)
        json_array_append_new(cfg, ipam_json(n));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:n,s:o},s:b,s:b,s:b,s:{s:s},s:b,s:{},s:O,"
                     "s:O}",
                     "Name", n->name, "Id", n->id, "Created", n->created, "Scope", "local",
                     "Driver", n->driver, "EnableIPv6", 0, "IPAM", "Driver", "default", "Options",
                     "Config", cfg, "Internal", n->internal, "Attachable", n->attachable, "Ingress",
                     0, "ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers", "Options",
                     n->options, "Labels", n->labels);
}

json_t *net_list_json(struct net_store *s)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, net_json(s->items[i]));
    pthread_mutex_unlock(&s->lock);
    return a;
}

/* ---- address management -------------------------------------------------------------- */

int net_ip_alloc(struct net_store *s, const char *net_id, struct in_addr want, struct in_addr *out,
                 berr_t *err)
{
    int ret = -1;

    pthread_mutex_lock(&s->lock);
    struct network *n = net_find_locked(s, net_id, err);
    if (n == NULL)
        goto out;
    if (n->used == NULL) {
        http_err(err, EINVAL, "network %s has no addresses to give (driver %s)", n->name,
                 n->driver);
        goto out;
    }
    if (want.s_addr != 0) {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &want, buf, sizeof(buf));
        if (!in_subnet(want, n->subnet, n->prefix)) {
            http_err(err, EINVAL, "no configured subnet or ip-range contain the IP address %s",
                     buf);
            goto out;
        }
        uint32_t i = host_index(n, want);
        if (bit_get(n, i)) {
            http_err(err, EEXIST, "Address already in use: %s on network %s", buf, n->name);
            goto out;
        }
        bit_set(n, i, true);
        *out = want;
        ret = 0;
        goto out;
    }
    uint32_t lo = 1, hi = n->size - 1; /* [lo, hi) */
    if (n->range_prefix) {
        lo = host_index(n, n->range);
        hi = lo + (1u << (32 - n->range_prefix));
        if (lo == 0)
            lo = 1;
        if (hi > n->size - 1)
            hi = n->size - 1;
    }
    uint32_t start = n->next >= lo && n->next < hi ? n->next : lo;
    for (uint32_t k = 0; k < hi - lo; k++) {
        uint32_t i = lo + (start - lo + k) % (hi - lo);
        if (!bit_get(n, i)) {
            bit_set(n, i, true);
            n->next = i + 1;
            *out = host_addr(n, i);
            ret = 0;
            goto out;
        }
    }
    http_err(err, EADDRNOTAVAIL, "no available IPv4 addresses on network %s", n->name);
out:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

void net_ip_release(struct net_store *s, const char *net_id, struct in_addr addr)
{
    pthread_mutex_lock(&s->lock);
    struct network *n = find(s, net_id);
    if (n && n->used && in_subnet(addr, n->subnet, n->prefix)) {
        uint32_t i = host_index(n, addr);
        if (i > 0 && i < n->size - 1 && addr.s_addr != n->gateway.s_addr)
            bit_set(n, i, false);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- endpoints and names ------------------------------------------------------------- */

static void ep_free(struct net_endpoint *e)
{
    free(e->ctr_name);
    json_decref(e->aliases);
    json_decref(e->links);
    free(e);
}

void net_endpoint_remove(struct net_store *s, const char *net_id, const char *ctr_id)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_eps;) {
        struct net_endpoint *e = s->eps[i];
        if (strcmp(e->ctr_id, ctr_id) == 0 && (net_id == NULL || strcmp(e->net_id, net_id) == 0)) {
            ep_free(e);
            memmove(&s->eps[i], &s->eps[i + 1], (s->n_eps - i - 1) * sizeof(*s->eps));
            s->n_eps--;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void net_endpoint_add(struct net_store *s, const char *net_id, const char *ctr_id,
                      const char *ctr_name, const json_t *aliases, const json_t *links,
                      struct in_addr addr)
{
    net_endpoint_remove(s, net_id, ctr_id);
    struct net_endpoint *e = xcalloc(1, sizeof(*e));
    snprintf(e->net_id, sizeof(e->net_id), "%s", net_id);
    snprintf(e->ctr_id, sizeof(e->ctr_id), "%s", ctr_id);
    e->ctr_name = xstrdup(ctr_name);
    e->aliases = json_is_array(aliases) ? json_deep_copy(aliases) : json_array();
    e->links = json_is_object(links) ? json_deep_copy(links) : json_object();
    e->addr = addr;
    pthread_mutex_lock(&s->lock);
    s->eps = xrealloc(s->eps, (s->n_eps + 1) * sizeof(*s->eps));
    s->eps[s->n_eps++] = e;
    pthread_mutex_unlock(&s->lock);
}

static bool name_is(const char *a, const char *name)
{
    return a && strcasecmp(a, name) == 0;
}

static bool ep_answers(const struct net_endpoint *e, const char *name)
{
    size_t i;
    json_t *v;

    if (name_is(e->ctr_name, name) || (strlen(name) == 12 && strncasecmp(e->ctr_id, name, 12) == 0))
        return true;
    json_array_foreach(e->aliases, i, v)
    {
        if (name_is(json_string_value(v), name))
            return true;
    }
    return false;
}

size_t net_dns_lookup(void *store, const char *ctr_id, const char *name, struct in_addr *out,
                      size_t max)
{
    struct net_store *s = store;
    size_t found = 0;
    char buf[256];
    size_t len = strlen(name);

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, name, len + 1);
    if (buf[len - 1] == '.')
        buf[len - 1] = '\0';
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_eps && found < max; i++) {
        const struct net_endpoint *me = s->eps[i];
        if (strcmp(me->ctr_id, ctr_id) != 0)
            continue;
        /* a link alias (`--link db:webdb` on a user network) names a container for me only */
        const char *target = json_string_value(json_object_get(me->links, buf));
        for (size_t j = 0; j < s->n_eps && found < max; j++) {
            const struct net_endpoint *o = s->eps[j];
            if (strcmp(o->net_id, me->net_id) != 0)
                continue;
            if ((target && name_is(o->ctr_name, target)) || ep_answers(o, buf)) {
                bool dup = false;
                for (size_t k = 0; k < found; k++)
                    dup = dup || out[k].s_addr == o->addr.s_addr;
                if (!dup)
                    out[found++] = o->addr;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}
