#include "runtime-agent/daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/network/dns.h"
#include "runtime-agent/containers/mounts.h"
#include "runtime-agent/events.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/log.h"
#include "runtime-agent/remap.h"

#define ENGINE_ID_FILE "engine-id"

/* A random (version 4) UUID, the form dockerd uses for its engine ID. */
static char *new_uuid(berr_t *err)
{
    unsigned char b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        berr_set(err, errno, "engine ID: read random bytes");
        return NULL;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                     b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
}

/* Read the engine ID kept in the data root, creating it on first start. */
static int load_id(struct daemon *d, berr_t *err)
{
    _cleanup_free_ char *path = path_join(d->data_root, ENGINE_ID_FILE);
    char *text = NULL;

    if (file_exists(path)) {
        if (read_file(path, &text, NULL, err) < 0)
            return berr_prefix(err, "engine ID");
        text[strcspn(text, " \t\r\n")] = '\0';
        if (text[0] != '\0') {
            d->id = text;
            return 0;
        }
        free(text);
    }
    _cleanup_free_ char *id = new_uuid(err);
    if (id == NULL)
        return -1;
    _cleanup_free_ char *line = xasprintf("%s\n", id);
    if (write_file_atomic(path, line, strlen(line), 0600, err) < 0)
        return berr_prefix(err, "engine ID");
    d->id = steal_pointer(&id);
    return 0;
}

/* image_use_fn for rmi: whether a container (running or not) uses image ID. */
static enum image_use images_in_use(void *ctx, const char *id, char **container)
{
    struct daemon *d = ctx;
    struct container **v;
    size_t n;
    enum image_use use = IMAGE_UNUSED;
    char *found = NULL;

    ctr_list(&d->containers.store, &v, &n);
    pthread_mutex_lock(&d->containers.store.lock);
    for (size_t i = 0; i < n && use != IMAGE_USED_RUNNING; i++) {
        if (v[i]->image_id == NULL || strcmp(v[i]->image_id, id) != 0)
            continue;
        bool running = v[i]->status == CTR_RUNNING || v[i]->status == CTR_PAUSED ||
                       v[i]->status == CTR_RESTARTING;
        if (running || use == IMAGE_UNUSED) {
            free(found);
            found = xstrdup(v[i]->id);
            use = running ? IMAGE_USED_RUNNING : IMAGE_USED_STOPPED;
        }
    }
    pthread_mutex_unlock(&d->containers.store.lock);
    ctr_list_free(&d->containers.store, v, n);
    if (found)
        *container = found;
    return use;
}

/* vol_users_fn: the containers whose records use volume NAME. */
static json_t *volume_users(void *ctx, const char *name)
{
    struct daemon *d = ctx;
    struct container **v;
    size_t n;
    json_t *ids = json_array();

    ctr_list(&d->containers.store, &v, &n);
    pthread_mutex_lock(&d->containers.store.lock);
    for (size_t i = 0; i < n; i++)
        if (mounts_use_volume(v[i]->mounts, name))
            json_array_append_new(ids, json_string(v[i]->id));
    pthread_mutex_unlock(&d->containers.store.lock);
    ctr_list_free(&d->containers.store, v, n);
    return ids;
}

int daemon_init(struct daemon *d, const char *data_root, const char *exec_root,
                const char *cgroup_parent, const struct net_options *net, const char *userns_remap,
                berr_t *err)
{
    memset(d, 0, sizeof(*d));
    if (cgroup_parent != NULL)
        d->containers.cgroup_parent = xstrdup(cgroup_parent);
    d->data_root = xstrdup(data_root);
    d->exec_root = xstrdup(exec_root);
    /* 0711: others may reach the API socket inside, but not list what is there. */
    if (mkdir_p(data_root, 0711, err) < 0)
        return berr_prefix(err, "data root");
    if (mkdir_p(exec_root, 0711, err) < 0)
        return berr_prefix(err, "exec root");
    if (load_id(d, err) < 0)
        return -1;
    _cleanup_free_ char *images = path_join(data_root, "image");
    if (image_store_open(images, &d->images, err) < 0)
        return -1;
    d->images_in_use = images_in_use;
    if (vol_store_open(data_root, volume_users, d, &d->volumes, err) < 0)
        return -1;
    d->containers.volumes = d->volumes;
    struct net_options defaults = {.icc = true, .ip_masq = true};
    if (net_store_open(&d->nets, data_root, net ? net : &defaults, err) < 0)
        return -1;
    d->containers.nets = &d->nets;
    berr_t e = NULL;
    if (dns_server_start(net_dns_lookup, &d->nets, &d->dns, &e) < 0) {
        daemon_add_warning(d, "WARNING: no embedded DNS server: %s", berr_msg(e));
        berr_free(&e);
        d->dns = NULL;
    }
    d->containers.dns = d->dns;
    d->containers.netns_dir = path_join(exec_root, "netns");
    if (userns_remap && daemon_set_userns_remap(d, userns_remap, err) < 0)
        return -1;
    if (containers_open(&d->containers, data_root, exec_root, d->images, err) < 0)
        return -1;
    events_set_store(&d->containers.store);
    return 0;
}

struct containers *daemon_containers(struct daemon *d)
{
    return &d->containers;
}

struct vol_store *daemon_volumes(struct daemon *d)
{
    return d->volumes;
}

static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len) {
        if ((p == list || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
            return true;
    }
    return false;
}

void failpoint(const char *name)
{
    const char *list = getenv("BERTHD_FAILPOINTS");

    if (list == NULL || !listed(list, name))
        return;
    log_warn("failpoint %s reached: this operation stops here", name);
    for (;;)
        pause();
}

void daemon_add_warning(struct daemon *d, const char *fmt, ...)
{
    va_list ap;
    char *w = NULL;

    va_start(ap, fmt);
    if (vasprintf(&w, fmt, ap) < 0)
        abort();
    va_end(ap);
    char **nw = realloc(d->warnings, (d->n_warnings + 1) * sizeof(*nw));
    if (nw == NULL)
        abort();
    d->warnings = nw;
    d->warnings[d->n_warnings++] = w;
}

void daemon_counts(struct daemon *d, struct engine_counts *out)
{
    struct container **v;
    size_t n;

    memset(out, 0, sizeof(*out));
    out->images = d->images ? (long)image_count(d->images) : 0;
    ctr_list(&d->containers.store, &v, &n);
    pthread_mutex_lock(&d->containers.store.lock);
    for (size_t i = 0; i < n; i++) {
        out->containers++;
        if (v[i]->status == CTR_RUNNING || v[i]->status == CTR_RESTARTING)
            out->running++;
        else if (v[i]->status == CTR_PAUSED)
            out->paused++;
        else
            out->stopped++;
    }
    pthread_mutex_unlock(&d->containers.store.lock);
    ctr_list_free(&d->containers.store, v, n);
}

void daemon_shutdown(struct daemon *d)
{
    events_shutdown(events_bus());
    containers_shutdown(&d->containers);
}

int daemon_set_userns_remap(struct daemon *d, const char *value, berr_t *err)
{
    struct remap *r = xcalloc(1, sizeof(*r));

    if (remap_resolve(value, r, err) < 0) {
        free(r);
        return -1;
    }
    log_info("userns-remap: containers' root is %s:%s, uids %u-%u, gids %u-%u", r->user,
             r->group ? r->group : r->user, r->uid, r->uid + r->uid_size - 1, r->gid,
             r->gid + r->gid_size - 1);
    d->containers.remap = r;
    return 0;
}

void daemon_free(struct daemon *d)
{
    struct engine_counts counts = {0};
    if (d->nets.root)
        daemon_counts(d, &counts);
    events_set_store(NULL);
    containers_close(&d->containers);
    if (d->dns)
        dns_server_stop(d->dns);
    free(d->containers.netns_dir);
    net_store_close(&d->nets, counts.running + counts.paused == 0);
    vol_store_close(d->volumes);
    if (d->images)
        image_store_close(d->images);
    free(d->data_root);
    free(d->exec_root);
    free(d->id);
    for (size_t i = 0; i < d->n_warnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    memset(d, 0, sizeof(*d));
}
