/* The provisioner: turns a host berth reaches over SSH into a berthd machine.
 *
 * It detects the OS (/etc/os-release) and the init system (systemd, OpenRC, else
 * busybox/sysvinit), works as root or through `sudo -n`, uploads a self-contained berthd
 * to /usr/local/bin/berthd (a temporary name, then a rename, so running containers keep
 * their binary), installs the server certificate, key and CA under /etc/berth, writes
 * /etc/berth/daemon.json from the engine options and the service definition (unix socket
 * plus tcp://0.0.0.0:PORT --tlsverify), starts berthd, waits with a bound until it
 * answers and makes one mutual-TLS API call end to end. A failure says what was tried,
 * what answered, and ends with the last lines of berthd's log. */
#ifndef BERTH_PROVISION_H
#define BERTH_PROVISION_H

#include <jansson.h>
#include <stdbool.h>

#include "core/lib/host.h"

#define PROVISION_BIN "/usr/local/bin/berthd"
#define PROVISION_ETC "/etc/berth"
#define PROVISION_SOCKET "unix:///run/berth/berthd.sock"
#define PROVISION_PIDFILE "/run/berth/berthd.pid"
#define PROVISION_LOG "/var/log/berthd.log"

enum provision_what {
    PROVISION_ALL,     /* berthd (unless the same one is there), certificates, config, service */
    PROVISION_UPGRADE, /* a new berthd, then a restart; containers keep running */
    PROVISION_CERTS,   /* the server certificate, its key and the CA, then a restart */
};

struct provision_opts {
    enum provision_what what;
    bool wait;            /* wait for SSH to come up (after create) */
    bool accept_host_key; /* record the host key the machine presents now */
};

/* Provision H (its server certificate must exist). The caller holds H's lock. */
int provision_run(struct berth_host *h, const struct provision_opts *o, berr_t *err);

/* Remove what provisioning installed: the service, berthd, /etc/berth, /run/berth, the log
 * and the machine key's line in authorized_keys. /var/lib/berth (images, containers) stays.
 * Refuses while containers run. */
int provision_purge(struct berth_host *h, berr_t *err);

/* ---- what gets written on the host (provision_files.c) ------------------------------- */

enum init_system { INIT_SYSTEMD, INIT_OPENRC, INIT_SYSV };

struct host_info {
    char id[64], version[64], pretty[128], arch[32];
    enum init_system init;
    bool root, sudo;
};

/* Parse the answer of the detection script (provision_probe_script). */
int provision_parse_probe(const char *text, struct host_info *hi, berr_t *err);

/* The detection script, run as the SSH user. */
const char *provision_probe_script(void);

/* "busybox/sysv init" and friends, for messages. */
const char *provision_init_name(enum init_system init);

/* /etc/berth/daemon.json for ENGINE (HostOptions.EngineOptions): --engine-opt k=v pairs
 * (dockerd flag names become daemon.json keys), labels, insecure registries, mirrors. */
int provision_daemon_json(const json_t *engine, char **out, berr_t *err);

/* The service definition for INIT with berthd listening on PORT and ENGINE's Env. */
int provision_service(enum init_system init, const json_t *engine, int port, char **out,
                      berr_t *err);

/* Where the service definition goes on the host, and its mode. */
const char *provision_service_path(enum init_system init);

/* Shell commands (run as root): enable and (re)start berthd; its state; its last log lines;
 * stop and remove the service. */
const char *provision_restart_cmd(enum init_system init);
const char *provision_status_cmd(enum init_system init);
const char *provision_log_cmd(enum init_system init);
const char *provision_remove_cmd(enum init_system init);

#endif
