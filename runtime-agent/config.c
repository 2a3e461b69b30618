#include "runtime-agent/config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/containers/detachkeys.h"
#include "runtime-agent/http/listen.h"
#include "runtime-agent/log.h"
#include "runtime-agent/remap.h"

enum {
    OPT_TLS = 256,
    OPT_TLSVERIFY,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_DATA_ROOT,
    OPT_EXEC_ROOT,
    OPT_PIDFILE,
    OPT_CONFIG_FILE,
    OPT_INSECURE_TCP,
    OPT_CGROUP_PARENT,
    OPT_BRIDGE,
    OPT_BIP,
    OPT_FIXED_CIDR,
    OPT_ICC,
    OPT_IP_MASQ,
    OPT_MTU,
    OPT_USERNS_REMAP
};

static const struct option options[] = {
    {"host", required_argument, NULL, 'H'},
    {"tls", optional_argument, NULL, OPT_TLS},
    {"tlsverify", optional_argument, NULL, OPT_TLSVERIFY},
    {"tlscacert", required_argument, NULL, OPT_CACERT},
    {"tlscert", required_argument, NULL, OPT_CERT},
    {"tlskey", required_argument, NULL, OPT_KEY},
    {"data-root", required_argument, NULL, OPT_DATA_ROOT},
    {"exec-root", required_argument, NULL, OPT_EXEC_ROOT},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"log-level", required_argument, NULL, 'l'},
    {"debug", no_argument, NULL, 'D'},
    {"config-file", required_argument, NULL, OPT_CONFIG_FILE},
    {"insecure-tcp", no_argument, NULL, OPT_INSECURE_TCP},
    {"cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT},
    {"bridge", required_argument, NULL, 'b'},
    {"bip", required_argument, NULL, OPT_BIP},
    {"fixed-cidr", required_argument, NULL, OPT_FIXED_CIDR},
    {"icc", optional_argument, NULL, OPT_ICC},
    {"ip-masq", optional_argument, NULL, OPT_IP_MASQ},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"userns-remap", required_argument, NULL, OPT_USERNS_REMAP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const char *config_usage(void)
{
    return "Usage: berthd daemon [OPTIONS]\n"
           "\n"
           "Options:\n"
           "  -H, --host ADDR         listen on unix://PATH or tcp://HOST:PORT (repeatable;\n"
           "                          default unix://" LISTEN_DEFAULT_UNIX ")\n"
           "      --tls               use TLS on tcp:// addresses\n"
           "      --tlsverify         use TLS and require client certificates signed by "
           "--tlscacert\n"
           "      --tlscacert FILE    CA for client certificates (" CONFIG_DEFAULT_TLS_DIR
           "/ca.pem)\n"
           "      --tlscert FILE      server certificate (" CONFIG_DEFAULT_TLS_DIR "/cert.pem)\n"
           "      --tlskey FILE       server key (" CONFIG_DEFAULT_TLS_DIR "/key.pem)\n"
           "      --insecure-tcp      allow tcp:// without --tlsverify (anyone reaching it is "
           "root)\n"
           "      --data-root DIR     persistent state (" CONFIG_DEFAULT_DATA_ROOT ")\n"
           "      --exec-root DIR     runtime state (" CONFIG_DEFAULT_EXEC_ROOT ")\n"
           "      --pidfile FILE      pid file (EXEC_ROOT/berthd.pid)\n"
           "      --cgroup-parent P   containers' cgroups are P/ID (" CONFIG_DEFAULT_CGROUP_PARENT
           ")\n"
           "  -b, --bridge NAME       the default bridge's interface (berth0; none: no bridge)\n"
           "      --bip CIDR          the default bridge's address (172.17.0.1/16)\n"
           "      --fixed-cidr CIDR   containers' addresses on the default bridge come from here\n"
           "      --icc[=false]       containers on the default bridge may talk (true)\n"
           "      --ip-masq[=false]   outbound NAT for the default bridge (true)\n"
           "      --mtu N             the default bridge's MTU (1500)\n"
           "      --userns-remap U    run containers in user namespaces mapped to the\n"
           "                          subordinate ids of U: default (dockremap), USER,\n"
           "                          USER:GROUP, UID or UID:GID (/etc/subuid, /etc/subgid)\n"
           "  -l, --log-level LEVEL   debug, info, warn, error or fatal (info)\n"
           "  -D, --debug             same as --log-level debug\n"
           "      --config-file FILE  daemon.json settings (" CONFIG_DEFAULT_FILE ")\n";
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static void add_host(struct daemon_config *c, const char *host)
{
    char **h = realloc(c->hosts, (c->n_hosts + 1) * sizeof(*h));
    if (h == NULL)
        abort();
    c->hosts = h;
    c->hosts[c->n_hosts++] = xstrdup(host);
}

/* "--tlsverify" alone is true; "--tlsverify=false" is accepted as dockerd does. */
static int parse_flag_bool(const char *name, const char *arg, bool *out, berr_t *err)
{
    if (arg == NULL || strcmp(arg, "true") == 0 || strcmp(arg, "1") == 0)
        *out = true;
    else if (strcmp(arg, "false") == 0 || strcmp(arg, "0") == 0)
        *out = false;
    else
        return berr_set(err, 0, "--%s: expected true or false, got \"%s\"", name, arg);
    return 0;
}

static int set_log_level(struct daemon_config *c, const char *name, berr_t *err)
{
    int level = log_level_parse(name);
    if (level < 0)
        return berr_set(err, 0, "log level \"%s\": use debug, info, warn, error or fatal", name);
    c->log_level = level;
    return 0;
}

/* Apply one parsed option. */
static int apply_opt(struct daemon_config *c, int opt, const char *arg, berr_t *err)
{
    switch (opt) {
    case 'H':
        add_host(c, arg);
        c->set |= CFG_HOSTS;
        return 0;
    case OPT_TLS:
        c->set |= CFG_TLS;
        return parse_flag_bool("tls", arg, &c->tls, err);
    case OPT_TLSVERIFY:
        c->set |= CFG_TLSVERIFY;
        return parse_flag_bool("tlsverify", arg, &c->tlsverify, err);
    case OPT_CACERT:
        c->set |= CFG_TLSCACERT;
        set_str(&c->tlscacert, arg);
        return 0;
    case OPT_CERT:
        c->set |= CFG_TLSCERT;
        set_str(&c->tlscert, arg);
        return 0;
    case OPT_KEY:
        c->set |= CFG_TLSKEY;
        set_str(&c->tlskey, arg);
        return 0;
    case OPT_DATA_ROOT:
        c->set |= CFG_DATA_ROOT;
        set_str(&c->data_root, arg);
        return 0;
    case OPT_EXEC_ROOT:
        c->set |= CFG_EXEC_ROOT;
        set_str(&c->exec_root, arg);
        return 0;
    case OPT_PIDFILE:
        c->set |= CFG_PIDFILE;
        set_str(&c->pidfile, arg);
        return 0;
    case OPT_CGROUP_PARENT:
        c->set |= CFG_CGROUP_PARENT;
        set_str(&c->cgroup_parent, arg);
        return 0;
    case 'b':
        c->set |= CFG_BRIDGE;
        set_str(&c->bridge, arg);
        return 0;
    case OPT_BIP:
        c->set |= CFG_BIP;
        set_str(&c->bip, arg);
        return 0;
    case OPT_FIXED_CIDR:
        c->set |= CFG_FIXED_CIDR;
        set_str(&c->fixed_cidr, arg);
        return 0;
    case OPT_ICC:
        c->set |= CFG_ICC;
        return parse_flag_bool("icc", arg, &c->icc, err);
    case OPT_IP_MASQ:
        c->set |= CFG_IP_MASQ;
        return parse_flag_bool("ip-masq", arg, &c->ip_masq, err);
    case OPT_MTU: {
        char *end;
        long m = strtol(arg, &end, 10);
        if (*end != '\0' || m < 68 || m > 65535)
            return berr_set(err, 0, "--mtu: expected a number from 68 to 65535, got \"%s\"", arg);
        c->set |= CFG_MTU;
        c->mtu = (int)m;
        return 0;
    }
    case OPT_USERNS_REMAP:
        c->set |= CFG_USERNS_REMAP;
        set_str(&c->userns_remap, arg);
        return 0;
    case 'l':
        c->set |= CFG_LOG_LEVEL;
        return set_log_level(c, arg, err);
    case 'D':
        c->set |= CFG_LOG_LEVEL;
        c->log_level = LOG_LEVEL_DEBUG;
        return 0;
    case OPT_CONFIG_FILE:
        c->set |= CFG_CONFIG_FILE;
        set_str(&c->config_file, arg);
        return 0;
    case OPT_INSECURE_TCP:
        c->insecure_tcp = true;
        return 0;
    case 'h':
        c->help = true;
        return 0;
    default:
        return berr_set(err, 0, "invalid option (see berthd daemon --help)");
    }
}

int config_parse_args(struct daemon_config *c, int argc, char **argv, berr_t *err)
{
    int opt;

    c->log_level = LOG_LEVEL_INFO;
    c->icc = true;
    c->ip_masq = true;
    optind = 0; /* glibc: full reset, so parsing can run more than once (tests) */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "H:l:Dhb:", options, NULL)) != -1) {
        if (opt == '?' || opt == ':')
            return berr_set(err, 0, "invalid or incomplete option \"%s\" (see --help)",
                            argv[optind - 1]);
        if (apply_opt(c, opt, optarg, err) < 0)
            return -1;
    }
    if (optind < argc)
        return berr_set(err, 0, "unexpected argument \"%s\" (see --help)", argv[optind]);
    return 0;
}

/* Settings with a string value in daemon.json. */
static const struct {
    const char *key;
    enum config_field field;
    size_t offset;
} string_keys[] = {
    {"tlscacert", CFG_TLSCACERT, offsetof(struct daemon_config, tlscacert)},
    {"tlscert", CFG_TLSCERT, offsetof(struct daemon_config, tlscert)},
    {"tlskey", CFG_TLSKEY, offsetof(struct daemon_config, tlskey)},
    {"data-root", CFG_DATA_ROOT, offsetof(struct daemon_config, data_root)},
    {"exec-root", CFG_EXEC_ROOT, offsetof(struct daemon_config, exec_root)},
    {"pidfile", CFG_PIDFILE, offsetof(struct daemon_config, pidfile)},
    {"cgroup-parent", CFG_CGROUP_PARENT, offsetof(struct daemon_config, cgroup_parent)},
    {"bridge", CFG_BRIDGE, offsetof(struct daemon_config, bridge)},
    {"bip", CFG_BIP, offsetof(struct daemon_config, bip)},
    {"fixed-cidr", CFG_FIXED_CIDR, offsetof(struct daemon_config, fixed_cidr)},
    {"userns-remap", CFG_USERNS_REMAP, offsetof(struct daemon_config, userns_remap)},
    {"detach-keys", CFG_DETACH_KEYS, offsetof(struct daemon_config, detach_keys)},
};

static int file_hosts(struct daemon_config *c, json_t *v, const char *path, berr_t *err)
{
    size_t i;
    json_t *h;
    bool ok = json_is_array(v);

    json_array_foreach(v, i, h)
    {
        ok = ok && json_is_string(h);
    }
    if (!ok)
        return berr_set(err, 0, "config file %s: \"hosts\" must be an array of strings", path);
    if (c->set & CFG_HOSTS)
        return 0;
    json_array_foreach(v, i, h)
    {
        add_host(c, json_string_value(h));
    }
    return 0;
}

static int file_bool(struct daemon_config *c, const char *key, json_t *v, enum config_field f,
                     bool *field, const char *path, berr_t *err)
{
    if (!json_is_boolean(v))
        return berr_set(err, 0, "config file %s: \"%s\" must be true or false", path, key);
    if (!(c->set & f))
        *field = json_is_true(v);
    return 0;
}

/* Apply one daemon.json key. */
static int file_key(struct daemon_config *c, const char *key, json_t *v, const char *path,
                    berr_t *err)
{
    bool debug = false;

    if (strcmp(key, "hosts") == 0)
        return file_hosts(c, v, path, err);
    if (strcmp(key, "tls") == 0)
        return file_bool(c, key, v, CFG_TLS, &c->tls, path, err);
    if (strcmp(key, "tlsverify") == 0)
        return file_bool(c, key, v, CFG_TLSVERIFY, &c->tlsverify, path, err);
    if (strcmp(key, "icc") == 0)
        return file_bool(c, key, v, CFG_ICC, &c->icc, path, err);
    if (strcmp(key, "ip-masq") == 0)
        return file_bool(c, key, v, CFG_IP_MASQ, &c->ip_masq, path, err);
    if (strcmp(key, "mtu") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 68 || json_integer_value(v) > 65535)
            return berr_set(err, 0, "config file %s: \"mtu\" must be a number from 68 to 65535",
                            path);
        if (!(c->set & CFG_MTU))
            c->mtu = (int)json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "debug") == 0) {
        if (file_bool(c, key, v, CFG_LOG_LEVEL, &debug, path, err) < 0)
            return -1;
        if (debug && !(c->set & CFG_LOG_LEVEL))
            c->log_level = LOG_LEVEL_DEBUG;
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        if (!json_is_string(v))
            return berr_set(err, 0, "config file %s: \"log-level\" must be a string", path);
        if (c->set & CFG_LOG_LEVEL)
            return 0;
        return set_log_level(c, json_string_value(v), err) < 0
                   ? berr_prefix(err, "config file %s", path)
                   : 0;
    }
    for (size_t i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++) {
        if (strcmp(key, string_keys[i].key) != 0)
            continue;
        if (!json_is_string(v))
            return berr_set(err, 0, "config file %s: \"%s\" must be a string", path, key);
        if (!(c->set & string_keys[i].field))
            set_str((char **)((char *)c + string_keys[i].offset), json_string_value(v));
        return 0;
    }
    /* Keys of dockerd features berthd does not have yet are not fatal. */
    log_warn("config file %s: ignoring unknown setting \"%s\"", path, key);
    return 0;
}

int config_load_file(struct daemon_config *c, berr_t *err)
{
    const char *path = c->config_file ? c->config_file : CONFIG_DEFAULT_FILE;
    json_error_t jerr;
    const char *key;
    json_t *v;

    if (!file_exists(path)) {
        if (c->set & CFG_CONFIG_FILE)
            return berr_set(err, ENOENT, "config file %s", path);
        return 0;
    }
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        return berr_set(err, 0, "config file %s: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return berr_set(err, 0, "config file %s: must hold a JSON object", path);
    }
    json_object_foreach(root, key, v)
    {
        if (file_key(c, key, v, path, err) < 0) {
            json_decref(root);
            return -1;
        }
    }
    json_decref(root);
    return 0;
}

bool config_host_is_tcp(const char *host)
{
    return strncmp(host, "tcp://", 6) == 0;
}

/* Check every address; tcp without client verification needs the explicit opt-in. */
static int check_hosts(struct daemon_config *c, berr_t *err)
{
    for (size_t i = 0; i < c->n_hosts; i++) {
        struct listen_addr a;
        if (listen_parse(c->hosts[i], c->tls, &a, err) < 0)
            return -1;
        bool tcp = a.kind == LISTEN_TCP;
        listen_addr_free(&a);
        if (tcp && !c->tlsverify && !c->insecure_tcp)
            return berr_set(err, 0,
                            "refusing to listen on %s without --tlsverify: anyone who can "
                            "reach it gets root on this host. Use --tlsverify with "
                            "--tlscacert/--tlscert/--tlskey, or pass --insecure-tcp to accept "
                            "the risk",
                            c->hosts[i]);
    }
    return 0;
}

/* The cgroup parent goes into paths below every hierarchy root: "a/b" (a leading '/' is
 * dropped), no "..", only [A-Za-z0-9_.-/]. */
static int check_cgroup_parent(struct daemon_config *c, berr_t *err)
{
    const char *p = c->cgroup_parent + strspn(c->cgroup_parent, "/");

    if (*p == '\0' || strstr(p, "..") != NULL ||
        p[strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")] != '\0')
        return berr_set(err, 0,
                        "cgroup parent \"%s\": use a relative path of letters, digits and "
                        "_.-/ without \"..\"",
                        c->cgroup_parent);
    memmove(c->cgroup_parent, p, strlen(p) + 1);
    return 0;
}

int config_finish(struct daemon_config *c, berr_t *err)
{
    if (c->n_hosts == 0)
        add_host(c, "unix://" LISTEN_DEFAULT_UNIX);
    if (c->data_root == NULL)
        c->data_root = xstrdup(CONFIG_DEFAULT_DATA_ROOT);
    if (c->exec_root == NULL)
        c->exec_root = xstrdup(CONFIG_DEFAULT_EXEC_ROOT);
    if (c->pidfile == NULL)
        c->pidfile = path_join(c->exec_root, "berthd.pid");
    if (c->tlsverify)
        c->tls = true;
    if (c->tlscacert == NULL)
        c->tlscacert = xstrdup(CONFIG_DEFAULT_TLS_DIR "/ca.pem");
    if (c->tlscert == NULL)
        c->tlscert = xstrdup(CONFIG_DEFAULT_TLS_DIR "/cert.pem");
    if (c->tlskey == NULL)
        c->tlskey = xstrdup(CONFIG_DEFAULT_TLS_DIR "/key.pem");
    if (c->cgroup_parent == NULL)
        c->cgroup_parent = xstrdup(CONFIG_DEFAULT_CGROUP_PARENT);
    if (check_cgroup_parent(c, err) < 0)
        return -1;
    /* "" (daemon.json's way of saying none) is off; the rest must parse. */
    if (c->userns_remap && c->userns_remap[0] == '\0') {
        free(c->userns_remap);
        c->userns_remap = NULL;
    }
    _cleanup_free_ char *ru = NULL, *rg = NULL;
    if (c->userns_remap && remap_parse_value(c->userns_remap, &ru, &rg, err) < 0)
        return -1;
    if (detach_keys_set_default(c->detach_keys, err) < 0)
        return berr_prefix(err, "config \"detach-keys\"");
    return check_hosts(c, err);
}

void config_free(struct daemon_config *c)
{
    for (size_t i = 0; i < c->n_hosts; i++)
        free(c->hosts[i]);
    free(c->hosts);
    free(c->tlscacert);
    free(c->tlscert);
    free(c->tlskey);
    free(c->data_root);
    free(c->exec_root);
    free(c->pidfile);
    free(c->config_file);
    free(c->cgroup_parent);
    free(c->bridge);
    free(c->bip);
    free(c->fixed_cidr);
    free(c->userns_remap);
    free(c->detach_keys);
    memset(c, 0, sizeof(*c));
}
