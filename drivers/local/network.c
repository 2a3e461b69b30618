#include "drivers/local/network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <libgen.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "drivers/local/run.h"

#define CLAIM_FILE "hostonly.json"
#define MAX_MACHINES 1024

/* What the other local machines of the store hold on the host-only network (host order). */
struct taken {
    uint32_t addr[MAX_MACHINES];
    size_t n;
    uint32_t gateway; /* of the first such machine, 0 when none */
};

static uint32_t parse_ip(const char *text)
{
    struct in_addr a;

    return text && inet_pton(AF_INET, text, &a) == 1 ? ntohl(a.s_addr) : 0;
}

static char *format_ip(uint32_t ip)
{
    struct in_addr a = {.s_addr = htonl(ip)};
    char buf[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    return xstrdup(buf);
}

static void note(struct taken *t, uint32_t addr, uint32_t gateway)
{
    if (addr != 0 && t->n < MAX_MACHINES)
        t->addr[t->n++] = addr;
    if (t->gateway == 0 && gateway != 0)
        t->gateway = gateway;
}

/* STORE/machines: MACHINE_DIR's parent, malloc()ed. */
static char *machines_dir(const char *machine_dir)
{
    _cleanup_free_ char *copy = xstrdup(machine_dir);
    return xstrdup(dirname(copy));
}

/* Every other machine's claim (local/hostonly.json) and config (Driver.HostOnlyAddress of a
 * local machine): a machine being created has only the first, one whose create failed
 * half-way maybe only the second. */
static void scan_store(const char *machine_dir, const char *name, struct taken *t)
{
    _cleanup_free_ char *machines = machines_dir(machine_dir);
    DIR *d = opendir(machines);

    memset(t, 0, sizeof(*t));
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, name) == 0)
            continue;
        _cleanup_free_ char *claim =
            xasprintf("%s/%s/" LOCAL_SUBDIR "/" CLAIM_FILE, machines, e->d_name);
        _cleanup_free_ char *config = xasprintf("%s/%s/config.json", machines, e->d_name);
        json_t *c = json_load_file(claim, 0, NULL);
        note(t, parse_ip(json_string_value(json_object_get(c, "Address"))),
             parse_ip(json_string_value(json_object_get(c, "Gateway"))));
        json_decref(c);
        json_t *root = json_load_file(config, 0, NULL);
        const char *driver = json_string_value(json_object_get(root, "DriverName"));
        if (driver && strcmp(driver, "local") == 0) {
            json_t *drv = json_object_get(root, "Driver");
            note(t, parse_ip(json_string_value(json_object_get(drv, "HostOnlyAddress"))),
                 parse_ip(json_string_value(json_object_get(drv, "HostOnlyGateway"))));
        }
        json_decref(root);
    }
    closedir(d);
}

static uint32_t mask_of(int prefix)
{
    return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

/* The host's network: the bridge's existing network when it has an address, else the first
 * 192.168.X.0/24 (X from 99) that no address of another interface of the host overlaps. */
static int choose_gateway(uint32_t *gateway, berr_t *err)
{
    struct ifaddrs *ifs;

    if (getifaddrs(&ifs) < 0)
        return berr_set(err, errno, "host-only network: list the host's addresses");
    *gateway = 0;
    for (struct ifaddrs *i = ifs; i && *gateway == 0; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            strcmp(i->ifa_name, LOCAL_BRIDGE) == 0)
            *gateway = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
    for (uint32_t x = 99; x <= 254 && *gateway == 0; x++) {
        uint32_t net = (192u << 24) | (168u << 16) | (x << 8);
        bool overlaps = false;
        for (struct ifaddrs *i = ifs; i && !overlaps; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
                i->ifa_netmask == NULL || strcmp(i->ifa_name, LOCAL_BRIDGE) == 0)
                continue;
            uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
            uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
            uint32_t both = m & mask_of(HOSTONLY_PREFIX); /* the shorter of the two prefixes */
            overlaps = (a & both) == (net & both);
        }
        if (!overlaps)
            *gateway = net | 1;
    }
    freeifaddrs(ifs);
    if (*gateway == 0)
        return berr_set(err, EADDRNOTAVAIL,
                        "host-only network: every 192.168.X.0/24 from X = 99 overlaps an "
                        "address of this host");
    return 0;
}

static int claim(const char *machine_dir, const char *address, const char *gateway, berr_t *err)
{
    _cleanup_free_ char *path = local_path(machine_dir, CLAIM_FILE);
    json_t *o = json_pack("{s:s,s:s}", "Address", address, "Gateway", gateway);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int ret;

    json_decref(o);
    if (text == NULL)
        return berr_set(err, ENOMEM, "host-only network: encode %s", path);
    ret = write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return ret < 0 ? berr_prefix(err, "host-only network: claim %s", address) : 0;
}

int hostonly_choose(const char *machine_dir, const char *name, char **address, char **gateway,
                    berr_t *err)
{
    _cleanup_free_ char *machines = machines_dir(machine_dir);
    _cleanup_free_ char *lockfile = xasprintf("%s/../locks/local-hostonly.lock", machines);
    _cleanup_close_ int lock = lock_path(lockfile, err);
    struct taken t;
    uint32_t gw, mask = mask_of(HOSTONLY_PREFIX);

    if (lock < 0)
        return berr_prefix(err, "host-only network");
    scan_store(machine_dir, name, &t);
    if (t.gateway != 0)
        gw = t.gateway;
    else if (choose_gateway(&gw, err) < 0)
        return -1;
    for (uint32_t host = HOSTONLY_FIRST_HOST; host < (~mask & 0xffffffffu); host++) {
        uint32_t a = (gw & mask) | host;
        bool used = a == gw;
        for (size_t i = 0; i < t.n && !used; i++)
            used = t.addr[i] == a;
        if (used)
            continue;
        *address = format_ip(a);
        *gateway = format_ip(gw);
        if (claim(machine_dir, *address, *gateway, err) == 0)
            return 0;
        free(*address);
        free(*gateway);
        *address = *gateway = NULL;
        return -1;
    }
    return berr_set(err, EADDRNOTAVAIL, "host-only network: no free address left");
}

bool hostonly_used_by_others(const char *machine_dir, const char *name)
{
    struct taken t;

    scan_store(machine_dir, name, &t);
    return t.n > 0;
}
