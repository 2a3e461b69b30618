/* The `generic` driver: an existing host berth reaches over SSH (docker-machine's
 * `generic`). The driver only records where the host is and how to log in; berth
 * itself provisions it (the descriptor's `provisions` flag): it logs in with
 * --generic-ssh-key, installs the machine's own key (machine dir id_ecdsa) in the
 * user's authorized_keys and uses that key first from then on. `rm` leaves the host
 * alone; `rm --purge` has berth remove what it installed there. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/driver.h"
#include "berth/util.h"

/* `ls` asks every machine's state: a host that does not answer must not hold it up. */
#define STATE_TIMEOUT_MS 3000

static const struct berth_flag generic_flags[] = {
    {"generic-ip-address", "address (or name) of the host (required)", "GENERIC_IP_ADDRESS", NULL,
     BERTH_FLAG_STRING},
    {"generic-ssh-user", "SSH user, root or one with password-less sudo", "GENERIC_SSH_USER",
     "root", BERTH_FLAG_STRING},
    {"generic-ssh-key",
     "private key for the first login (default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa)",
     "GENERIC_SSH_KEY", NULL, BERTH_FLAG_STRING},
    {"generic-ssh-port", "SSH port", "GENERIC_SSH_PORT", "22", BERTH_FLAG_INT},
    {"generic-engine-port", "port berthd listens on with mutual TLS", "GENERIC_ENGINE_PORT", "2376",
     BERTH_FLAG_INT},
    {NULL, NULL, NULL, NULL, 0},
};

static int generic_config_new(struct berth_machine *m, berr_t *err)
{
    (void)err;
    m->priv = NULL;
    return 0;
}

static void generic_config_free(struct berth_machine *m)
{
    m->priv = NULL;
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = value && *value ? xstrdup(value) : NULL;
}

/* The user's default key when --generic-ssh-key is not given, or NULL. */
static char *default_key(void)
{
    static const char *const names[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
    const char *home = getenv("HOME");

    for (size_t i = 0; home && i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = xasprintf("%s/.ssh/%s", home, names[i]);
        if (access(p, R_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static int set_key(struct berth_machine *m, const char *key, berr_t *err)
{
    char abs[PATH_MAX];

    if (key == NULL || *key == '\0') {
        set_str(&m->ssh_key_path, NULL);
        m->ssh_key_path = default_key();
        return 0;
    }
    if (realpath(key, abs) == NULL || access(abs, R_OK) < 0)
        return berr_set(err, errno, "driver generic: --generic-ssh-key %s", key);
    set_str(&m->ssh_key_path, abs);
    return 0;
}

static int check_port(const char *flag, long long v, berr_t *err)
{
    if (v < 1 || v > 65535)
        return berr_set(err, 0, "driver generic: --%s %lld: expected a port from 1 to 65535", flag,
                        v);
    return 0;
}

static int generic_config_from_flags(struct berth_machine *m, const json_t *f, berr_t *err)
{
    const char *ip = json_string_value(json_object_get(f, "generic-ip-address"));
    long long ssh_port = json_integer_value(json_object_get(f, "generic-ssh-port"));
    long long engine_port = json_integer_value(json_object_get(f, "generic-engine-port"));

    if (ip == NULL || *ip == '\0')
        return berr_set(err, 0, "driver generic: --generic-ip-address is required");
    if (check_port("generic-ssh-port", ssh_port, err) < 0 ||
        check_port("generic-engine-port", engine_port, err) < 0)
        return -1;
    if (set_key(m, json_string_value(json_object_get(f, "generic-ssh-key")), err) < 0)
        return -1;
    set_str(&m->ip_address, ip);
    set_str(&m->ssh_user, json_string_value(json_object_get(f, "generic-ssh-user")));
    if (m->ssh_user == NULL)
        m->ssh_user = xstrdup("root");
    m->ssh_port = (int)ssh_port;
    m->engine_port = (int)engine_port;
    return 0;
}

/* Everything generic needs is in berth's own Driver fields (IPAddress, SSHUser, SSHPort,
 * SSHKeyPath, EnginePort); "SSHKey" repeats the key for docker-machine's shape. */
static int generic_config_load(struct berth_machine *m, const json_t *d, berr_t *err)
{
    if (m->ip_address == NULL)
        return berr_set(err, 0, "driver generic: config.json has no Driver.IPAddress");
    if (m->ssh_port <= 0)
        m->ssh_port = 22;
    (void)d;
    return 0;
}

static int generic_config_save(const struct berth_machine *m, json_t *d, berr_t *err)
{
    (void)err;
    json_object_set_new(d, "SSHKey", json_string(m->ssh_key_path ? m->ssh_key_path : ""));
    return 0;
}

/* Whether HOST:PORT accepts a TCP connection within TIMEOUT_MS. */
static int probe(const char *host, int port, berr_t *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char service[16];
    int rc, ret = -1;

    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return berr_set(err, 0, "driver generic: resolve %s: %s", host, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        berr_set(err, errno, "driver generic: socket");
    } else if (connect(fd, res->ai_addr, res->ai_addrlen) == 0 || errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (poll(&p, 1, STATE_TIMEOUT_MS) == 0)
            berr_set(err, 0, "driver generic: ssh port %s:%d: no answer within %ds", host, port,
                     STATE_TIMEOUT_MS / 1000);
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
            berr_set(err, soerr ? soerr : errno, "driver generic: ssh port %s:%d", host, port);
        else
            ret = 0;
    } else {
        berr_set(err, errno, "driver generic: ssh port %s:%d", host, port);
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return ret;
}

static int generic_get_state(struct berth_machine *m, enum berth_state *st, berr_t *err)
{
    *st = BERTH_STATE_ERROR;
    if (probe(m->ip_address, m->ssh_port, err) < 0)
        return -1;
    *st = BERTH_STATE_RUNNING;
    return 0;
}

static int generic_get_ip(struct berth_machine *m, char **ip, berr_t *err)
{
    (void)err;
    *ip = xstrdup(m->ip_address);
    return 0;
}

static int generic_get_url(struct berth_machine *m, char **url, berr_t *err)
{
    (void)err;
    if (strchr(m->ip_address, ':') != NULL)
        *url = xasprintf("tcp://[%s]:%d", m->ip_address, m->engine_port);
    else
        *url = xasprintf("tcp://%s:%d", m->ip_address, m->engine_port);
    return 0;
}

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION,
    .name = "generic",
    .summary = "an existing host reached over SSH; berth installs berthd on it",
    .flags = generic_flags,
    .config_new = generic_config_new,
    .config_free = generic_config_free,
    .config_from_flags = generic_config_from_flags,
    .config_load = generic_config_load,
    .config_save = generic_config_save,
    .get_state = generic_get_state,
    .get_ip = generic_get_ip,
    .get_url = generic_get_url,
    .provisions = 1,
};
