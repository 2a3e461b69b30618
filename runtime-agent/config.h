/* berthd daemon settings: dockerd's flag names on the command line, the same
 * keys in daemon.json, flags winning over the file. */
#ifndef BERTHD_CONFIG_H
#define BERTHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

#define CONFIG_DEFAULT_FILE "/etc/berth/daemon.json"
#define CONFIG_DEFAULT_DATA_ROOT "/var/lib/berth"
#define CONFIG_DEFAULT_EXEC_ROOT "/run/berth"
#define CONFIG_DEFAULT_TLS_DIR "/etc/berth/tls"
#define CONFIG_DEFAULT_CGROUP_PARENT "berth"

/* Which settings were given on the command line (the file does not override them). */
enum config_field {
    CFG_HOSTS = 1 << 0,
    CFG_TLS = 1 << 1,
    CFG_TLSVERIFY = 1 << 2,
    CFG_TLSCACERT = 1 << 3,
    CFG_TLSCERT = 1 << 4,
    CFG_TLSKEY = 1 << 5,
    CFG_DATA_ROOT = 1 << 6,
    CFG_EXEC_ROOT = 1 << 7,
    CFG_PIDFILE = 1 << 8,
    CFG_LOG_LEVEL = 1 << 9,
    CFG_CONFIG_FILE = 1 << 10,
    CFG_CGROUP_PARENT = 1 << 11,
    CFG_BRIDGE = 1 << 12,
    CFG_BIP = 1 << 13,
    CFG_FIXED_CIDR = 1 << 14,
    CFG_ICC = 1 << 15,
    CFG_IP_MASQ = 1 << 16,
    CFG_MTU = 1 << 17,
    CFG_USERNS_REMAP = 1 << 18,
    CFG_DETACH_KEYS = 1 << 19, /* daemon.json only: dockerd has no such flag */
};

struct daemon_config {
    char **hosts;
    size_t n_hosts;
    bool tls, tlsverify, insecure_tcp;
    char *tlscacert, *tlscert, *tlskey;
    char *data_root, *exec_root, *pidfile, *config_file;
    char *cgroup_parent; /* containers' cgroups are CGROUP_PARENT/ID in each hierarchy */
    char *bridge, *bip, *fixed_cidr; /* the default bridge network */
    bool icc, ip_masq;
    int mtu;
    char *userns_remap; /* --userns-remap: NULL (off), "default", USER[:GROUP], UID[:GID] */
    char *detach_keys;  /* "detach-keys": the default detach sequence of attach and exec */
    int log_level;
    unsigned set; /* enum config_field bits given as flags */
    bool help;    /* --help was asked for */
};

/* Parse the arguments after "daemon" (ARGV[0] is the subcommand name). */
int config_parse_args(struct daemon_config *c, int argc, char **argv, berr_t *err);

/* Merge the config file into settings not given as flags. A missing default
 * file is fine; a missing file named with --config-file is an error. */
int config_load_file(struct daemon_config *c, berr_t *err);

/* Fill defaults and check the whole: every -H parses, tcp:// without --tlsverify needs the
 * explicit --insecure-tcp, and the cgroup parent is a plain relative path. Valid detach keys
 * become the process default (detach_keys_set_default). */
int config_finish(struct daemon_config *c, berr_t *err);

/* True when HOST is a tcp:// address. */
bool config_host_is_tcp(const char *host);

/* The daemon flags, for usage messages. */
const char *config_usage(void);

void config_free(struct daemon_config *c);

#endif
