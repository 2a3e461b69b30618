/* Reaching a machine over SSH with what berth knows about it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/lib/machine.h"

#define SSH_WAIT_DEFAULT_S 120
#define SSH_CONNECT_DEFAULT_S 20

long machine_ssh_timeout(long default_s)
{
    const char *env = getenv("BERTH_SSH_TIMEOUT");
    char *end = NULL;
    long s = env && *env ? strtol(env, &end, 10) : 0;
    if (env && *env && *end == '\0' && s > 0)
        return s * 1000;
    return default_s * 1000;
}

/* The machine's current address, refreshed from the driver. */
static int current_ip(struct berth_host *h, berr_t *err)
{
    char *ip = NULL;
    if (h->dh->drv->get_ip(&h->m, &ip, err) < 0)
        return berr_prefix(err, "get IP address");
    free(h->m.ip_address);
    h->m.ip_address = ip;
    return 0;
}

int machine_ssh_connect(struct berth_host *h, const struct machine_ssh_opts *o, struct ssh_conn **c,
                        berr_t *err)
{
    _cleanup_free_ char *key = host_path(h, SSH_KEY_NAME);
    _cleanup_free_ char *known = host_path(h, SSH_KNOWN_HOST_NAME);
    long timeout = machine_ssh_timeout(o->wait ? SSH_WAIT_DEFAULT_S : SSH_CONNECT_DEFAULT_S);
    int rc;

    if (!h->dh->drv->provisions && h->m.ssh_port <= 0)
        return berr_set(err, ENOTSUP, "machine %s: driver %s gives no SSH access", h->name,
                        h->driver_name);
    if (current_ip(h, err) < 0 || h->m.ip_address == NULL)
        return berr_prefix(err, "machine %s", h->name);
    struct ssh_target t = {
        .machine = h->name,
        .host = h->m.ip_address,
        .port = h->m.ssh_port,
        .user = o->user ? o->user : h->m.ssh_user,
        .keys = {key, h->m.ssh_key_path, NULL},
        .known_host = known,
        .policy = o->accept_host_key ? SSH_HOSTKEY_ACCEPT : SSH_HOSTKEY_VERIFY,
    };
    if (h->m.ssh_key_path != NULL && strcmp(h->m.ssh_key_path, key) == 0)
        t.keys[1] = NULL;
    rc = o->wait ? ssh_wait(&t, timeout, c, err) : ssh_connect(&t, timeout, c, err);
    if (rc < 0) {
        berr_prefix(err, "machine %s", h->name);
        if (o->step != NULL)
            berr_append(err, " (step: %s)", o->step);
    }
    return rc;
}
