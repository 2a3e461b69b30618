/* docker load: a docker-archive (manifest.json) or an OCI image layout
 * (index.json) tar. The archive is first extracted as plain files into
 * tmp/, then each image's config and layers are checked against their
 * digests while the layers are applied. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/host.h"
#include "runtime-agent/image/beneath.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/store_int.h"

#define MAX_INDEX_DEPTH 4

struct loader {
    struct image_store *s;
    int rootfd; /* the extracted archive */
    image_progress_fn progress;
    void *ctx;
    char (*pinned)[DIGEST_SIZE];
    size_t n_pinned, cap_pinned;
};

static void say(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct loader *ld, const char *fmt, ...)
{
    va_list ap;
    char *line;

    if (ld->progress == NULL)
        return;
    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) >= 0) {
        ld->progress(ld->ctx, line);
        free(line);
    }
    va_end(ap);
}

/* The hex of PATH when it names a blob, "blobs/sha256/<64 hex>", else NULL. */
static const char *blob_hex(const char *path)
{
    static const char prefix[] = "blobs/sha256/";
    char id[DIGEST_SIZE];

    if (path == NULL || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        return NULL;
    const char *hex = path + sizeof(prefix) - 1;
    return image_id_full(hex, id) && strlen(hex) == 64 ? hex : NULL;
}

/* Read the archive file PATH (at most IMAGE_JSON_MAX bytes). */
static int read_member(struct loader *ld, const char *path, char **data, size_t *len, berr_t *err)
{
    struct stat st;
    _cleanup_close_ int fd = beneath_open_file(ld->rootfd, path, err);

    if (fd < 0)
        return berr_prefix(err, "load");
    if (fstat(fd, &st) < 0)
        return berr_set(err, errno, "load: %s", path);
    if (st.st_size > IMAGE_JSON_MAX)
        return berr_status(err, EINVAL, "load: %s is larger than %d bytes", path, IMAGE_JSON_MAX);
    *data = xcalloc(1, (size_t)st.st_size + 1);
    struct io_reader r = io_fd_reader(fd);
    ssize_t n = io_read_full(&r, *data, (size_t)st.st_size);
    if (n != st.st_size) {
        free(*data);
        return berr_set(err, n < 0 ? errno : 0, "load: read %s", path);
    }
    *len = (size_t)n;
    return 0;
}

/* Read blob or file PATH, checking that its sha256 is WANT (when given) or matches its name. */
static int read_verified(struct loader *ld, const char *path, const char *want, char **data,
                         size_t *len, char got[DIGEST_SIZE], berr_t *err)
{
    const char *hex = blob_hex(path);

    if (read_member(ld, path, data, len, err) < 0)
        return -1;
    sha256_digest(*data, *len, got);
    if ((want && strcmp(got, want) != 0) || (hex && strcmp(digest_hex(got), hex) != 0)) {
        free(*data);
        return berr_status(err, EINVAL, "load: %s: content digest is %s, expected %s", path, got,
                           want ? want : hex);
    }
    return 0;
}

static json_t *read_json(struct loader *ld, const char *path, const char *want, berr_t *err)
{
    _cleanup_free_ char *data = NULL;
    size_t len;
    char got[DIGEST_SIZE];
    json_error_t je;

    if (read_verified(ld, path, want, &data, &len, got, err) < 0)
        return NULL;
    json_t *v = json_loadb(data, len, 0, &je);
    if (v == NULL)
        berr_status(err, EINVAL, "load: parse %s: %s", path, je.text);
    return v;
}

static void pin(struct loader *ld, const char *chain)
{
    GROW(ld->pinned, ld->n_pinned, ld->cap_pinned);
    memcpy(ld->pinned[ld->n_pinned++], chain, DIGEST_SIZE);
}

/* Apply layer file PATH as the layer with DiffID WANT on PARENT; BLOB (may be NULL) is the
 * digest of the file itself, which differs from WANT when the layer is compressed. */
static int load_layer(struct loader *ld, const char *path, const char *want, const char *blob,
                      const char *parent, char chain[DIGEST_SIZE], berr_t *err)
{
    struct new_layer nl;
    struct io_hashing h;
    char got[DIGEST_SIZE];
    int r;

    chain_id(parent, want, chain);
    pthread_mutex_lock(&ld->s->lock);
    bool have = json_object_get(ld->s->layers, chain) != NULL;
    if (have)
        store_pin_locked(ld->s, chain);
    pthread_mutex_unlock(&ld->s->lock);
    if (have) {
        pin(ld, chain);
        return 0;
    }
    _cleanup_close_ int fd = beneath_open_file(ld->rootfd, path, err);
    if (fd < 0)
        return berr_prefix(err, "load");
    struct io_reader file = io_fd_reader(fd);
    struct io_reader in = io_hashing_reader(&h, &file);
    r = store_prepare_layer(ld->s, &in, &nl, err);
    sha256_final(&h.hash, got);
    if (r < 0)
        return berr_prefix(err, "load: layer %s", path);
    if (blob && strcmp(got, blob) != 0)
        r = berr_status(err, EINVAL, "load: layer %s: content digest is %s, expected %s", path, got,
                        blob);
    else if (strcmp(nl.info.diff_id, want) != 0)
        r = berr_status(err, EINVAL, "load: layer %s: DiffID is %s, the image config says %s", path,
                        nl.info.diff_id, want);
    if (r == 0) {
        pthread_mutex_lock(&ld->s->lock);
        r = store_commit_layer_locked(ld->s, &nl, parent, chain, err);
        pthread_mutex_unlock(&ld->s->lock);
        if (r == 0)
            pin(ld, chain);
    }
    new_layer_discard(&nl);
    return r;
}

/* Register the image whose config is CFG, after its N layers (paths, DiffIDs from the config,
 * optional blob digests) are in place, and tag it with the references in TAGS. */
static int load_image(struct loader *ld, const char *cfg, size_t len, const char *const *paths,
                      const char *const *blobs, size_t n, json_t *tags, berr_t *err)
{
    json_error_t je;
    char id[DIGEST_SIZE], chain[DIGEST_SIZE] = "";
    json_t *config = json_loadb(cfg, len, 0, &je);
    int r = 0;

    if (config == NULL)
        return berr_status(err, EINVAL, "load: image config: %s", je.text);
    json_t *ids = config_diff_ids(config, err);
    if (ids == NULL)
        r = berr_prefix(err, "load");
    else if (json_array_size(ids) != n)
        r = berr_status(err, EINVAL, "load: the image config lists %zu layers, the archive %zu",
                        json_array_size(ids), n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char parent[DIGEST_SIZE];
        memcpy(parent, chain, DIGEST_SIZE);
        r = load_layer(ld, paths[i], json_string_value(json_array_get(ids, i)), blobs[i], parent,
                       chain, err);
    }
    json_decref(config);
    if (r < 0)
        return -1;

    struct image_ref ref;
    size_t i;
    json_t *v;
    char replaced[DIGEST_SIZE];
    pthread_mutex_lock(&ld->s->lock);
    r = store_register_locked(ld->s, cfg, len, NULL, id, err);
    json_array_foreach(tags, i, v)
    {
        if (r < 0)
            break;
        if (image_ref_parse(json_string_value(v), &ref, err) < 0) {
            r = berr_prefix(err, "load");
            break;
        }
        _cleanup_free_ char *key = ref_key(&ref);
        _cleanup_free_ char *familiar = image_ref_familiar(&ref);
        image_ref_clear(&ref);
        r = store_set_ref_locked(ld->s, key, id, replaced, err);
        if (r == 0 && replaced[0] && strcmp(replaced, id) != 0)
            say(ld, "The image %s already exists, renaming the old one with ID %s to empty string",
                familiar, replaced);
        if (r == 0)
            say(ld, "Loaded image: %s", familiar);
        if (r == 0)
            events_image("load", id, familiar);
    }
    if (r == 0 && json_array_size(tags) == 0)
        say(ld, "Loaded image ID: %s", id);
    if (r == 0 && json_array_size(tags) == 0)
        events_image("load", id, id);
    pthread_mutex_unlock(&ld->s->lock);
    return r;
}

static int load_docker_entry(struct loader *ld, json_t *m, berr_t *err)
{
    const char *cfg_path = json_string_value(json_object_get(m, "Config"));
    json_t *layers = json_object_get(m, "Layers");
    json_t *tags = json_object_get(m, "RepoTags");
    _cleanup_free_ char *cfg = NULL;
    size_t len, n = json_array_size(layers);
    char id[DIGEST_SIZE];

    if (cfg_path == NULL || !json_is_array(layers) ||
        (tags && !json_is_null(tags) && !json_is_array(tags)))
        return berr_status(err, EINVAL, "load: manifest.json: malformed entry");
    if (read_verified(ld, cfg_path, NULL, &cfg, &len, id, err) < 0)
        return -1;
    /* "<id hex>.json" names its own digest. */
    size_t pl = strlen(cfg_path);
    if (pl == 64 + 5 && strcmp(cfg_path + 64, ".json") == 0 &&
        strncmp(cfg_path, digest_hex(id), 64) != 0)
        return berr_status(err, EINVAL, "load: %s: content digest is %s", cfg_path, id);
    const char **paths = xcalloc(n ? n : 1, sizeof(*paths));
    const char **blobs = xcalloc(n ? n : 1, sizeof(*blobs));
    char(*blob_digests)[DIGEST_SIZE] = xcalloc(n ? n : 1, DIGEST_SIZE);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        paths[i] = json_string_value(json_array_get(layers, i));
        if (paths[i] == NULL)
            r = berr_status(err, EINVAL, "load: manifest.json: malformed layer list");
        else if (blob_hex(paths[i])) {
            snprintf(blob_digests[i], DIGEST_SIZE, "sha256:%s", blob_hex(paths[i]));
            blobs[i] = blob_digests[i];
        }
    }
    if (r == 0)
        r = load_image(ld, cfg, len, paths, blobs, n, json_is_array(tags) ? tags : NULL, err);
    free(paths);
    free(blobs);
    free(blob_digests);
    return r;
}

static int load_docker_archive(struct loader *ld, berr_t *err)
{
    json_t *manifest = read_json(ld, "manifest.json", NULL, err), *m;
    size_t i;
    int r = 0;

    if (manifest == NULL)
        return -1;
    if (!json_is_array(manifest))
        r = berr_status(err, EINVAL, "load: manifest.json is not a list");
    json_array_foreach(manifest, i, m)
    {
        if (r < 0)
            break;
        r = load_docker_entry(ld, m, err);
    }
    json_decref(manifest);
    return r;
}

static const char *descriptor_digest(json_t *d, berr_t *err)
{
    const char *digest = json_string_value(json_object_get(d, "digest"));

    if (!digest_valid(digest)) {
        berr_status(err, EINVAL, "load: unsupported descriptor digest %s",
                    digest ? digest : "(none)");
        return NULL;
    }
    return digest;
}

static char *blob_path(const char *digest)
{
    return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

/* The reference an index entry names: containerd's annotation, or a full ref.name. */
static json_t *descriptor_tags(json_t *d)
{
    json_t *ann = json_object_get(d, "annotations");
    const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    const char *refname =
        json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));

    if (name == NULL && refname && (strchr(refname, ':') || strchr(refname, '/')))
        name = refname;
    return name ? json_pack("[s]", name) : json_array();
}

static int load_oci_manifest(struct loader *ld, const char *digest, json_t *tags, berr_t *err)
{
    _cleanup_free_ char *path = blob_path(digest);
    json_t *m = read_json(ld, path, digest, err);
    _cleanup_free_ char *cfg = NULL, *cfg_path = NULL;
    size_t len, n;
    char got[DIGEST_SIZE];
    int r = 0;

    if (m == NULL)
        return -1;
    json_t *layers = json_object_get(m, "layers");
    const char *cdigest = descriptor_digest(json_object_get(m, "config"), err);
    if (cdigest == NULL || !json_is_array(layers)) {
        json_decref(m);
        return cdigest ? berr_status(err, EINVAL, "load: manifest %s has no layer list", digest)
                       : -1;
    }
    cfg_path = blob_path(cdigest);
    n = json_array_size(layers);
    char **paths = xcalloc(n ? n : 1, sizeof(*paths));
    const char **blobs = xcalloc(n ? n : 1, sizeof(*blobs));
    for (size_t i = 0; i < n && r == 0; i++) {
        blobs[i] = descriptor_digest(json_array_get(layers, i), err);
        if (blobs[i] == NULL)
            r = -1;
        else
            paths[i] = blob_path(blobs[i]);
    }
    if (r == 0)
        r = read_verified(ld, cfg_path, cdigest, &cfg, &len, got, err);
    if (r == 0)
        r = load_image(ld, cfg, len, (const char *const *)paths, blobs, n, tags, err);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(blobs);
    json_decref(m);
    return r;
}

static bool is_index_type(const char *mt)
{
    return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
                  strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* From a nested index, the manifest for linux on this machine's architecture. */
static json_t *pick_platform(json_t *manifests)
{
    _cleanup_free_ char *host = host_arch();
    size_t i;
    json_t *d;

    json_array_foreach(manifests, i, d)
    {
        json_t *p = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        if (p == NULL || (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, host) == 0))
            return d;
    }
    return NULL;
}

static int load_descriptor(struct loader *ld, json_t *d, json_t *tags, int depth, berr_t *err)
{
    const char *digest = descriptor_digest(d, err);
    const char *mt = json_string_value(json_object_get(d, "mediaType"));

    if (digest == NULL)
        return -1;
    if (!is_index_type(mt))
        return load_oci_manifest(ld, digest, tags, err);
    if (depth >= MAX_INDEX_DEPTH)
        return berr_status(err, EINVAL, "load: image indexes nested too deeply");
    _cleanup_free_ char *path = blob_path(digest);
    json_t *index = read_json(ld, path, digest, err);
    if (index == NULL)
        return -1;
    json_t *pick = pick_platform(json_object_get(index, "manifests"));
    _cleanup_free_ char *host = host_arch();
    int r = pick ? load_descriptor(ld, pick, tags, depth + 1, err)
                 : berr_status(err, EINVAL, "load: index %s has no linux/%s image", digest, host);
    json_decref(index);
    return r;
}

static int load_oci_layout(struct loader *ld, berr_t *err)
{
    json_t *index = read_json(ld, "index.json", NULL, err), *d;
    size_t i;
    int r = 0;

    if (index == NULL)
        return -1;
    json_t *manifests = json_object_get(index, "manifests");
    if (!json_is_array(manifests))
        r = berr_status(err, EINVAL, "load: index.json has no manifest list");
    json_array_foreach(manifests, i, d)
    {
        if (r < 0)
            break;
        json_t *tags = descriptor_tags(d);
        r = load_descriptor(ld, d, tags, 0, err);
        json_decref(tags);
    }
    json_decref(index);
    return r;
}

static bool has_member(struct loader *ld, const char *name)
{
    struct stat st;

    return fstatat(ld->rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int image_load(struct image_store *s, struct io_reader *in, image_progress_fn progress, void *ctx,
               berr_t *err)
{
    struct loader ld = {.s = s, .rootfd = -1, .progress = progress, .ctx = ctx};
    struct layer_info info;
    struct trash t = {0};
    _cleanup_free_ char *tmp = store_tmpdir(s, "load", err);
    int r = -1;

    if (tmp == NULL)
        return -1;
    if (layer_apply(tmp, in, NULL, LAYER_PLAIN, &info, err) < 0) {
        berr_prefix(err, "load");
        goto out;
    }
    ld.rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ld.rootfd < 0) {
        berr_set(err, errno, "load: open %s", tmp);
        goto out;
    }
    if (has_member(&ld, "manifest.json"))
        r = load_docker_archive(&ld, err);
    else if (has_member(&ld, "index.json"))
        r = load_oci_layout(&ld, err);
    else
        r = berr_status(err, EINVAL,
                        "load: the archive has neither manifest.json nor index.json; is it the "
                        "output of docker save?");
out:
    if (ld.rootfd >= 0)
        close(ld.rootfd);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < ld.n_pinned; i++)
        store_unpin_locked(s, ld.pinned[i]);
    store_gc_locked(s, &t, NULL);
    pthread_mutex_unlock(&s->lock);
    trash_empty(&t);
    free(ld.pinned);
    berr_t ignored = NULL;
    if (rm_rf(tmp, &ignored) < 0)
        berr_free(&ignored);
    return r;
}
