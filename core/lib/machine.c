#include "core/lib/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "certs/certs.h"
#include "core/lib/provision.h"

#define CERT_ORG "berth"
#define CERT_MIN_DAYS 30

/* The CA and client certificate are shared by every machine: create them under one
 * store-wide lock so two concurrent creates never write mismatched key/cert pairs. */
static int ensure_store_certs(const struct berth_store *s, bool client_force, berr_t *err)
{
    _cleanup_free_ char *lockfile = path_join(s->locks_dir, ".certs.lock");
    _cleanup_close_ int lock = lock_path(lockfile, err);

    if (lock < 0)
        return -1;
    if (certs_ensure_ca(s->certs_dir, CERT_ORG, err) < 0)
        return -1;
    return certs_ensure_client(s->certs_dir, CERT_ORG, client_force, err);
}

/* Copy ca.pem, cert.pem and key.pem into the machine dir so DOCKER_CERT_PATH can point there. */
static int copy_client_certs(struct berth_host *h, berr_t *err)
{
    static const struct {
        const char *name;
        mode_t mode;
    } files[] = {{"ca.pem", 0644}, {"cert.pem", 0644}, {"key.pem", 0600}};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        _cleanup_free_ char *src = path_join(h->store->certs_dir, files[i].name);
        _cleanup_free_ char *dst = host_path(h, files[i].name);
        _cleanup_free_ char *a = NULL;
        _cleanup_free_ char *b = NULL;
        size_t la, lb;
        if (read_file(src, &a, &la, err) < 0)
            return -1;
        if (read_file(dst, &b, &lb, NULL) == 0 && la == lb && memcmp(a, b, la) == 0)
            continue;
        if (write_file_atomic(dst, a, la, files[i].mode, err) < 0)
            return -1;
    }
    return 0;
}

static int issue_server_cert(struct berth_host *h, berr_t *err)
{
    _cleanup_free_ char *ca = path_join(h->store->certs_dir, "ca.pem");
    _cleanup_free_ char *cakey = path_join(h->store->certs_dir, "ca-key.pem");
    _cleanup_free_ char *cert = host_path(h, "server.pem");
    _cleanup_free_ char *key = host_path(h, "server-key.pem");
    const char *sans[64];
    size_t n = 0, i;
    json_t *v;

    if (h->m.ip_address != NULL)
        sans[n++] = h->m.ip_address;
    sans[n++] = "localhost";
    sans[n++] = "127.0.0.1";
    json_array_foreach(h->sans, i, v)
    {
        if (n < sizeof(sans) / sizeof(sans[0]) && json_is_string(v))
            sans[n++] = json_string_value(v);
    }
    return certs_issue_server(ca, cakey, CERT_ORG, sans, n, cert, key, err);
}

/* Whether server.pem is valid, matches its key and covers the current address. */
static int server_cert_ok(struct berth_host *h, bool *ok, berr_t *err)
{
    _cleanup_free_ char *ca = path_join(h->store->certs_dir, "ca.pem");
    _cleanup_free_ char *cert = host_path(h, "server.pem");
    _cleanup_free_ char *key = host_path(h, "server-key.pem");

    *ok = false;
    if (!file_exists(cert) || !file_exists(key))
        return 0;
    if (certs_check(cert, ca, h->m.ip_address, CERT_MIN_DAYS, ok, err) < 0)
        return -1;
    if (*ok && certs_pair_matches(cert, key, ok, err) < 0)
        return -1;
    return 0;
}

/* machine_ensure_certs, telling whether a new server certificate was issued. */
static int ensure_certs(struct berth_host *h, bool force, bool *issued, berr_t *err)
{
    bool ok = false;

    *issued = false;
    if (ensure_store_certs(h->store, false, err) < 0 || copy_client_certs(h, err) < 0)
        return berr_prefix(err, "machine %s: certificates", h->name);
    if (!force && server_cert_ok(h, &ok, err) < 0)
        return berr_prefix(err, "machine %s: check server certificate", h->name);
    if (ok)
        return 0;
    if (issue_server_cert(h, err) < 0)
        return berr_prefix(err, "machine %s: issue server certificate", h->name);
    *issued = true;
    return 0;
}

int machine_ensure_certs(struct berth_host *h, bool force, berr_t *err)
{
    bool issued;
    return ensure_certs(h, force, &issued, err);
}

/* A provisioned machine's berthd serves the server certificate from /etc/berth: a new one
 * (address moved, expiring) is no use until it is installed there. */
static int install_certs(struct berth_host *h, bool issued, berr_t *err)
{
    const struct provision_opts po = {PROVISION_CERTS, true, false}; /* it may be booting */

    if (!issued || !h->dh->drv->provisions)
        return 0;
    fprintf(stderr, "Installing the new server certificate of %s...\n", h->name);
    return provision_run(h, &po, err);
}

/* Replace m->ip_address with the driver's current answer; *changed tells whether it moved. */
static int update_ip(struct berth_host *h, bool *changed, berr_t *err)
{
    char *ip = NULL;

    *changed = false;
    if (h->dh->drv->get_ip(&h->m, &ip, err) < 0)
        return berr_prefix(err, "machine %s: get IP address", h->name);
    if (h->m.ip_address == NULL || strcmp(h->m.ip_address, ip) != 0) {
        free(h->m.ip_address);
        h->m.ip_address = ip;
        *changed = true;
    } else {
        free(ip);
    }
    return 0;
}

int machine_refresh_address(struct berth_host *h, berr_t *err)
{
    _cleanup_close_ int lock = store_lock(h->store, h->name, err);
    bool changed, issued;

    if (lock < 0)
        return -1;
    if (update_ip(h, &changed, err) < 0 || ensure_certs(h, false, &issued, err) < 0)
        return -1;
    if (changed && host_save(h, err) < 0)
        return -1;
    return install_certs(h, issued, err);
}

int machine_state(struct berth_host *h, enum berth_state *st, berr_t *err)
{
    if (h->dh->drv->get_state(&h->m, st, err) < 0)
        return berr_prefix(err, "machine %s: get state", h->name);
    return 0;
}

int machine_url(struct berth_host *h, char **url, berr_t *err)
{
    enum berth_state st;

    if (machine_state(h, &st, err) < 0)
        return -1;
    if (st != BERTH_STATE_RUNNING)
        return berr_set(err, 0,
                        "machine %s is not running (state: %s); start it with "
                        "'berth start %s'",
                        h->name, host_state_name(st), h->name);
    if (h->dh->drv->get_url(&h->m, url, err) < 0)
        return berr_prefix(err, "machine %s: get URL", h->name);
    return 0;
}

/* The machine's own SSH key, made before the driver creates anything so that drivers can
 * put its public half into the machine. SSHKeyPath points at it unless the driver chose. */
static int machine_key(struct berth_host *h, berr_t *err)
{
    _cleanup_free_ char *comment = xasprintf("berth-machine-%s", h->name);
    char *key = NULL;

    if (ssh_key_ensure(h->m.machine_dir, comment, &key, err) < 0)
        return berr_prefix(err, "machine %s: SSH key", h->name);
    if (h->m.ssh_key_path == NULL)
        h->m.ssh_key_path = key;
    else
        free(key);
    return 0;
}

static int create_steps(const struct berth_store *s, struct berth_host *h,
                        const struct create_opts *o, berr_t *err)
{
    const struct berth_driver *d = h->dh->drv;
    bool changed;

    if (ensure_store_certs(s, false, err) < 0)
        return -1;
    if (d->provisions && machine_key(h, err) < 0)
        return -1;
    if (d->pre_create_check && d->pre_create_check(&h->m, err) < 0)
        return berr_prefix(err, "pre-create check");
    if (host_save(h, err) < 0)
        return -1;
    if (d->create && d->create(&h->m, err) < 0)
        return berr_prefix(err, "create"); /* the driver names itself in its messages */
    if (update_ip(h, &changed, err) < 0 || machine_ensure_certs(h, true, err) < 0)
        return -1;
    (void)o;
    return host_save(h, err);
}

static void merge_engine(json_t *engine, const json_t *over)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)over, key, v)
    {
        json_object_set(engine, key, v);
    }
}

int machine_create(const struct berth_store *s, const char *name, const struct create_opts *o,
                   berr_t *err)
{
    struct berth_host *h = NULL;
    _cleanup_close_ int lock = -1;
    int ret;

    if (host_new(s, name, o->driver, &h, err) < 0)
        return -1;
    lock = store_lock(s, name, err);
    if (lock < 0)
        goto out_free;
    if (store_exists(s, name)) {
        berr_set(err, EEXIST, "machine %s already exists", name);
        goto out_free;
    }
    if (mkdir_p(s->machines_dir, 0700, err) < 0 ||
        (mkdir(h->m.machine_dir, 0700) < 0 && errno != EEXIST)) {
        if (err && !*err)
            berr_set(err, errno, "create directory %s", h->m.machine_dir);
        goto out_free;
    }
    if (o->engine)
        merge_engine(h->engine, o->engine);
    if (o->sans) {
        json_decref(h->sans);
        h->sans = json_deep_copy(o->sans);
    }
    if (h->dh->drv->config_from_flags(&h->m, o->driver_flags, err) < 0) {
        rm_rf(h->m.machine_dir, NULL);
        goto out_free;
    }
    ret = create_steps(s, h, o, err);
    if (ret < 0 && !store_exists(s, name))
        rm_rf(h->m.machine_dir, NULL);
    else if (ret < 0)
        berr_prefix(err,
                    "create failed (the machine is kept for inspection; remove it with "
                    "'berth rm %s')",
                    name);
    if (ret < 0) {
        host_free(h);
        return berr_prefix(err, "machine %s", name);
    }
    if (h->dh->drv->provisions) {
        const struct provision_opts po = {PROVISION_ALL, true, false};
        ret = provision_run(h, &po, err);
        if (ret < 0)
            berr_append(err,
                        "\nThe machine is kept: fix the cause and run 'berth provision "
                        "%s', or remove it with 'berth rm %s'.",
                        name, name);
    }
    host_free(h);
    return ret;
out_free:
    host_free(h);
    return berr_prefix(err, "machine %s", name);
}

int machine_action(struct berth_host *h, enum machine_action a, berr_t *err)
{
    static const char *const names[] = {"start", "stop", "restart", "kill"};
    const struct berth_driver *d = h->dh->drv;
    int (*op)(struct berth_machine *, berr_t *) = NULL;
    _cleanup_close_ int lock = store_lock(h->store, h->name, err);
    bool changed, issued = false;

    if (lock < 0)
        return -1;
    switch (a) {
    case ACT_START:
        op = d->start;
        break;
    case ACT_STOP:
        op = d->stop;
        break;
    case ACT_RESTART:
        op = d->restart;
        break;
    case ACT_KILL:
        op = d->kill;
        break;
    }
    if (op == NULL)
        return berr_set(err, ENOTSUP, "machine %s: %s: not supported by driver %s", h->name,
                        names[a], h->driver_name);
    if (op(&h->m, err) < 0)
        return berr_prefix(err, "machine %s: %s", h->name, names[a]);
    if (a == ACT_START || a == ACT_RESTART) {
        /* The address may have moved (DHCP, new forward ports): keep the cert valid for it. */
        if (update_ip(h, &changed, err) < 0 || ensure_certs(h, false, &issued, err) < 0)
            return -1;
    }
    if (host_save(h, err) < 0)
        return -1;
    return install_certs(h, issued, err);
}

/* What the driver and (with PURGE) the provisioner remove; with FORCE failures are warnings. */
static int remove_resources(struct berth_host *h, bool force, bool purge, berr_t *err)
{
    const struct berth_driver *d = h->dh->drv;

    if (purge && d->provisions && provision_purge(h, err) < 0) {
        if (!force)
            return berr_prefix(err, "remove (nothing was removed; use -f to remove the machine "
                                    "anyway)");
        fprintf(stderr, "berth: %s (removing the machine anyway: -f)\n", berr_msg(*err));
        berr_free(err);
    }
    if (d->remove && d->remove(&h->m, err) < 0) {
        berr_prefix(err, "machine %s: driver %s: remove", h->name, h->driver_name);
        if (!force)
            return berr_prefix(err, "(use -f to remove its files anyway)");
        berr_free(err);
    }
    return 0;
}

int machine_remove(const struct berth_store *s, const char *name, bool force, bool purge,
                   berr_t *err)
{
    struct berth_host *h = NULL;
    _cleanup_close_ int lock = -1;
    _cleanup_free_ char *dir = NULL;

    if (store_check_name(name, err) < 0)
        return -1;
    lock = store_lock(s, name, err);
    if (lock < 0)
        return -1;
    dir = store_machine_dir(s, name);
    if (!store_exists(s, name))
        return berr_set(err, ENOENT, "machine %s does not exist", name);
    if (host_load(s, name, &h, err) < 0) {
        if (!force)
            return berr_prefix(err, "remove (use -f to remove its files anyway)");
        berr_free(err);
    } else if (remove_resources(h, force, purge, err) < 0) {
        host_free(h);
        return -1;
    }
    host_free(h);
    if (rm_rf(dir, err) < 0)
        return berr_prefix(err, "machine %s: remove files", name);
    return 0;
}

int machine_regenerate_certs(struct berth_host *h, bool client, berr_t *err)
{
    _cleanup_close_ int lock = store_lock(h->store, h->name, err);
    bool changed;

    if (lock < 0)
        return -1;
    if (client && ensure_store_certs(h->store, true, err) < 0)
        return berr_prefix(err, "machine %s: regenerate client certificate", h->name);
    if (update_ip(h, &changed, err) < 0 || machine_ensure_certs(h, true, err) < 0)
        return -1;
    if (host_save(h, err) < 0)
        return -1;
    if (!h->dh->drv->provisions)
        return 0;
    const struct provision_opts po = {PROVISION_CERTS, false, false};
    return provision_run(h, &po, err);
}

int machine_provision(struct berth_host *h, enum provision_what what, bool accept_host_key,
                      berr_t *err)
{
    _cleanup_close_ int lock = store_lock(h->store, h->name, err);
    const struct provision_opts po = {what, false, accept_host_key};
    bool changed;

    if (lock < 0)
        return -1;
    if (!h->dh->drv->provisions)
        return berr_set(err, ENOTSUP,
                        "machine %s: driver %s does not run berthd over SSH; "
                        "nothing to provision",
                        h->name, h->driver_name);
    if (machine_key(h, err) < 0 || update_ip(h, &changed, err) < 0 ||
        machine_ensure_certs(h, false, err) < 0 || host_save(h, err) < 0)
        return -1;
    return provision_run(h, &po, err);
}
