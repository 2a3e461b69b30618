/* New images from a tar stream (docker import) or from a directory of
 * changes on top of a parent (docker commit, builds). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/host.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/pack.h"
#include "runtime-agent/image/store_int.h"
#include "runtime-agent/timefmt.h"

/* DiffID of a tar holding nothing but its end-of-archive blocks: Docker adds no layer for it. */
#define EMPTY_TAR_DIFF_ID "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

json_t *empty_container_config(void)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:n, s:s, s:n, s:s, s:n, "
                     "s:n, s:n}",
                     "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout",
                     0, "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd",
                     "Image", "", "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

/* Serialize CONFIG (consumed) as the exact bytes the image ID is computed over. */
static char *config_bytes(json_t *config, size_t *len)
{
    char *text = json_dumps(config, JSON_COMPACT);

    json_decref(config);
    if (text == NULL)
        abort();
    *len = strlen(text);
    return text;
}

/* Drop the pins of the N chains in PINNED and remove layers nothing uses any more. */
static void release_pins(struct image_store *s, char (*pinned)[DIGEST_SIZE], size_t n)
{
    struct trash t = {0};

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        store_unpin_locked(s, pinned[i]);
    store_gc_locked(s, &t, NULL);
    pthread_mutex_unlock(&s->lock);
    trash_empty(&t);
}

/* Commit NL (may be NULL) on PARENT_TOP, register CFG and tag it KEY (may be NULL), then drop the
 * pins of the N_PINNED chains in PINNED and of the new layer. */
static int finish_image(struct image_store *s, struct new_layer *nl, const char *parent_top,
                        const char *parent_id, const char *cfg, size_t len, const char *key,
                        char (*pinned)[DIGEST_SIZE], size_t n_pinned, char id[DIGEST_SIZE],
                        berr_t *err)
{
    char chain[DIGEST_SIZE] = "", replaced[DIGEST_SIZE];
    int r = 0;

    pthread_mutex_lock(&s->lock);
    if (nl && nl->dir)
        r = store_commit_layer_locked(s, nl, parent_top, chain, err);
    if (r == 0)
        r = store_register_locked(s, cfg, len, parent_id, id, err);
    if (r == 0 && key)
        r = store_set_ref_locked(s, key, id, replaced, err);
    if (chain[0])
        store_unpin_locked(s, chain);
    pthread_mutex_unlock(&s->lock);
    release_pins(s, pinned, n_pinned);
    if (nl)
        new_layer_discard(nl);
    return r;
}

int image_import(struct image_store *s, struct io_reader *in, const struct image_import_opts *opts,
                 char **id, berr_t *err)
{
    const struct image_import_opts none = {0};
    _cleanup_free_ char *key = NULL, *comment = NULL, *created = NULL, *cfg = NULL;
    struct new_layer nl;
    char out[DIGEST_SIZE];
    size_t len;

    if (opts == NULL)
        opts = &none;
    if (opts->changes && !json_is_object(opts->changes))
        return berr_status(err, EINVAL, "import: changes must be a JSON object");
    if (opts->ref) {
        struct image_ref ref;
        if (image_ref_parse(opts->ref, &ref, err) < 0)
            return -1;
        key = ref_key(&ref);
        image_ref_clear(&ref);
    }
    if (store_prepare_layer(s, in, &nl, err) < 0)
        return berr_prefix(err, "import");
    comment = opts->message ? xstrdup(opts->message)
                            : xasprintf("Imported from %s", opts->source ? opts->source : "-");
    created = time_rfc3339_now();
    json_t *cc = empty_container_config();
    if (opts->changes)
        json_object_update(cc, opts->changes);
    _cleanup_free_ char *arch = host_arch();
    json_t *config = json_pack("{s:s, s:s, s:o, s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:[s]}}",
                               "architecture", arch, "comment", comment, "config", cc, "created",
                               created, "history", "created", created, "comment", comment, "os",
                               "linux", "rootfs", "type", "layers", "diff_ids", nl.info.diff_id);
    cfg = config_bytes(config, &len);
    if (finish_image(s, &nl, "", NULL, cfg, len, key, NULL, 0, out, err) < 0)
        return berr_prefix(err, "import");
    events_image("import", out, out);
    *id = xstrdup(out);
    return 0;
}

/* Prepare the layer for CHANGES: a directory is packed to a temporary tar first. */
static int prepare_changes(struct image_store *s, const char *changes, struct new_layer *nl,
                           berr_t *err)
{
    struct stat st;
    _cleanup_free_ char *tmp = NULL, *tar = NULL;
    _cleanup_close_ int fd = -1;
    int r = -1;

    if (stat(changes, &st) < 0)
        return berr_set(err, errno, "create image: %s", changes);
    if (S_ISREG(st.st_mode)) {
        fd = open(changes, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return berr_set(err, errno, "create image: open %s", changes);
    } else if (S_ISDIR(st.st_mode)) {
        tmp = store_tmpdir(s, "pack", err);
        if (tmp == NULL)
            return -1;
        tar = path_join(tmp, "layer.tar");
        fd = open(tar, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct io_writer w = io_fd_writer(fd);
        if (fd < 0) {
            berr_set(err, errno, "create image: create %s", tar);
            goto out;
        }
        if (layer_pack(changes, &w, err) < 0)
            goto out;
        if (lseek(fd, 0, SEEK_SET) < 0) {
            berr_set(err, errno, "create image: rewind %s", tar);
            goto out;
        }
    } else {
        return berr_status(err, EINVAL, "create image: %s is neither a directory nor a tar file",
                           changes);
    }
    struct io_reader rd = io_fd_reader(fd);
    r = store_prepare_layer(s, &rd, nl, err);
out:
    if (tmp) {
        berr_t ignored = NULL;
        rm_rf(tmp, &ignored);
        berr_free(&ignored);
    }
    return r;
}

/* What a child image keeps of its parent's config: platform, rootfs and history. */
static json_t *child_config(json_t *parent, json_t *overrides, json_t *history, const char *diff_id,
                            const char *created)
{
    static const char *const inherited[] = {"architecture", "variant", "os", "os.version",
                                            "os.features"};
    json_t *c = json_object();

    for (size_t i = 0; i < sizeof(inherited) / sizeof(inherited[0]); i++) {
        json_t *v = json_object_get(parent, inherited[i]);
        if (v)
            json_object_set(c, inherited[i], v);
    }
    if (json_object_get(c, "architecture") == NULL) {
        _cleanup_free_ char *arch = host_arch();
        json_object_set_new(c, "architecture", json_string(arch));
    }
    if (json_object_get(c, "os") == NULL)
        json_object_set_new(c, "os", json_string("linux"));
    if (json_object_get(parent, "config"))
        json_object_set(c, "config", json_object_get(parent, "config"));
    if (overrides)
        json_object_update(c, overrides);
    if (json_object_get(c, "created") == NULL)
        json_object_set_new(c, "created", json_string(created));

    json_t *ids = json_deep_copy(json_object_get(json_object_get(parent, "rootfs"), "diff_ids"));
    if (!json_is_array(ids)) {
        json_decref(ids);
        ids = json_array();
    }
    if (diff_id)
        json_array_append_new(ids, json_string(diff_id));
    json_object_set_new(c, "rootfs", json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));

    json_t *hist = json_deep_copy(json_object_get(parent, "history"));
    if (!json_is_array(hist)) {
        json_decref(hist);
        hist = json_array();
    }
    json_t *entry = json_pack("{s:O}", "created", json_object_get(c, "created"));
    if (json_is_object(history))
        json_object_update_missing(entry, history);
    if (diff_id == NULL)
        json_object_set_new(entry, "empty_layer", json_true());
    json_array_append_new(hist, entry);
    json_object_set_new(c, "history", hist);
    return c;
}

int image_create_from_layer(struct image_store *s, const char *parent, const char *changes,
                            json_t *config, json_t *history, char **id, berr_t *err)
{
    json_t *pconfig = NULL;
    char pid[DIGEST_SIZE] = "", top[DIGEST_SIZE] = "", out[DIGEST_SIZE];
    char(*pinned)[DIGEST_SIZE] = NULL;
    size_t n_pinned = 0, len;
    struct new_layer nl = {0};
    _cleanup_free_ char *created = NULL, *cfg = NULL;

    if (config && !json_is_object(config))
        return berr_status(err, EINVAL, "create image: config must be a JSON object");
    if (parent) {
        struct lookup l;
        pthread_mutex_lock(&s->lock);
        if (store_lookup_locked(s, parent, &l, err) < 0) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        pconfig = json_deep_copy(l.img->config);
        snprintf(pid, sizeof(pid), "%s", l.img->id);
        n_pinned = l.img->n_layers;
        pinned = xcalloc(n_pinned ? n_pinned : 1, sizeof(*pinned));
        for (size_t i = 0; i < n_pinned; i++) {
            memcpy(pinned[i], l.img->chains[i], DIGEST_SIZE);
            store_pin_locked(s, pinned[i]);
        }
        if (n_pinned)
            memcpy(top, pinned[n_pinned - 1], DIGEST_SIZE);
        lookup_clear(&l);
        pthread_mutex_unlock(&s->lock);
    }
    int r = changes ? prepare_changes(s, changes, &nl, err) : 0;
    if (r == 0 && nl.dir && strcmp(nl.info.diff_id, EMPTY_TAR_DIFF_ID) == 0)
        new_layer_discard(&nl);
    created = time_rfc3339_now();
    cfg = config_bytes(
        child_config(pconfig, config, history, nl.dir ? nl.info.diff_id : NULL, created), &len);
    json_decref(pconfig);
    if (r == 0)
        r = finish_image(s, &nl, top, pid, cfg, len, NULL, pinned, n_pinned, out, err);
    else
        release_pins(s, pinned, n_pinned);
    free(pinned);
    if (r < 0)
        return berr_prefix(err, "create image");
    *id = xstrdup(out);
    return 0;
}
