/* docker save: a docker-archive tar (manifest.json, repositories, <id>.json,
 * <layer>/layer.tar) that also is an OCI image layout (oci-layout,
 * index.json, blobs/sha256/), as Docker 25 writes. The layout's config and
 * layer blobs are symlinks to the docker-archive files, so every byte is
 * stored once. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/store_int.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

struct save_layer {
    char diff_id[DIGEST_SIZE];
    char parent[DIGEST_SIZE]; /* DiffID below it in the first image that has it, or "" */
    int fd;                   /* its layer.tar, opened under the lock */
    int64_t size;
};

struct save_image {
    char id[DIGEST_SIZE];
    char *cfg;
    size_t cfg_len;
    json_t *tags;     /* full references ("docker.io/library/alpine:latest") */
    json_t *diff_ids; /* a copy of the config's rootfs.diff_ids */
};

struct saver {
    struct image_store *s;
    struct save_image *imgs;
    size_t n_imgs, cap_imgs;
    struct save_layer *layers;
    size_t n_layers, cap_layers;
    struct archive *a;
    char buf[65536];
};

static struct save_image *add_image(struct saver *sv, struct img *img, berr_t *err)
{
    for (size_t i = 0; i < sv->n_imgs; i++)
        if (strcmp(sv->imgs[i].id, img->id) == 0)
            return &sv->imgs[i];
    _cleanup_free_ char *path = xasprintf("%s/configs/%s.json", sv->s->root, digest_hex(img->id));
    char *cfg;
    size_t len;
    if (read_file(path, &cfg, &len, err) < 0)
        return NULL;
    GROW(sv->imgs, sv->n_imgs, sv->cap_imgs);
    struct save_image *si = &sv->imgs[sv->n_imgs++];
    memset(si, 0, sizeof(*si));
    memcpy(si->id, img->id, DIGEST_SIZE);
    si->cfg = cfg;
    si->cfg_len = len;
    si->tags = json_array();
    si->diff_ids =
        json_deep_copy(json_object_get(json_object_get(img->config, "rootfs"), "diff_ids"));
    for (size_t i = 0; i < img->n_layers; i++) {
        const char *diff = json_string_value(json_array_get(si->diff_ids, i));
        bool have = false;
        for (size_t j = 0; j < sv->n_layers && !have; j++)
            have = strcmp(sv->layers[j].diff_id, diff) == 0;
        if (have)
            continue;
        _cleanup_free_ char *tar = store_layer_path(sv->s, img->chains[i], "layer.tar");
        struct stat st;
        int fd = open(tar, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            berr_set(err, errno, "save: open %s", tar);
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        GROW(sv->layers, sv->n_layers, sv->cap_layers);
        struct save_layer *sl = &sv->layers[sv->n_layers++];
        snprintf(sl->diff_id, sizeof(sl->diff_id), "%s", diff);
        snprintf(sl->parent, sizeof(sl->parent), "%s",
                 i ? json_string_value(json_array_get(si->diff_ids, i - 1)) : "");
        sl->fd = fd;
        sl->size = st.st_size;
    }
    return si;
}

static void add_tag(struct save_image *si, const char *key)
{
    size_t i;
    json_t *v;

    json_array_foreach(si->tags, i, v)
    {
        if (strcmp(json_string_value(v), key) == 0)
            return;
    }
    json_array_append_new(si->tags, json_string(key));
}

/* "alpine" (no tag) saves every tag of the repository, as Docker does. */
static int add_repository_locked(struct saver *sv, const struct image_ref *ref, bool *found,
                                 berr_t *err)
{
    _cleanup_free_ char *name = image_ref_name(ref);
    size_t nl = strlen(name);
    const char *key;
    json_t *v;

    *found = false;
    json_object_foreach(sv->s->repos, key, v)
    {
        if (strncmp(key, name, nl) != 0 || key[nl] != ':')
            continue;
        struct img *img = store_find_locked(sv->s, json_string_value(v));
        struct save_image *si = img ? add_image(sv, img, err) : NULL;
        if (si == NULL)
            return -1;
        add_tag(si, key);
        *found = true;
    }
    return 0;
}

static int add_ref_locked(struct saver *sv, const char *name, berr_t *err)
{
    struct lookup l;
    struct image_ref ref;
    berr_t ignored = NULL;
    bool found = false;

    int parsed = image_ref_parse(name, &ref, &ignored);
    berr_free(&ignored);
    if (parsed == 0 && ref.name_only) {
        int r = add_repository_locked(sv, &ref, &found, err);
        image_ref_clear(&ref);
        if (r < 0 || found)
            return r;
    }
    image_ref_clear(&ref);
    if (store_lookup_locked(sv->s, name, &l, err) < 0)
        return -1;
    struct save_image *si = add_image(sv, l.img, err);
    if (si && l.by_ref && l.ref.digest == NULL)
        add_tag(si, l.key);
    lookup_clear(&l);
    return si ? 0 : -1;
}

static int write_entry(struct saver *sv, const char *path, mode_t type, int64_t size,
                       const char *link, berr_t *err)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : type == AE_IFLNK ? 0777 : 0644);
    archive_entry_set_size(e, type == AE_IFREG ? size : 0);
    archive_entry_set_mtime(e, 0, 0);
    if (link)
        archive_entry_set_symlink(e, link);
    int r = archive_write_header(sv->a, e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN)
        return berr_set(err, 0, "save: %s: %s", path, archive_error_string(sv->a));
    return 0;
}

static int write_bytes(struct saver *sv, const char *path, const void *data, size_t len,
                       berr_t *err)
{
    if (write_entry(sv, path, AE_IFREG, (int64_t)len, NULL, err) < 0)
        return -1;
    if (len > 0 && archive_write_data(sv->a, data, len) < 0)
        return berr_set(err, 0, "save: %s: %s", path, archive_error_string(sv->a));
    return 0;
}

static int write_json(struct saver *sv, const char *path, json_t *v, char digest[DIGEST_SIZE],
                      size_t *len, berr_t *err)
{
    _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT);
    size_t n = strlen(text);

    if (digest)
        sha256_digest(text, n, digest);
    if (len)
        *len = n;
    return write_bytes(sv, path, text, n, err);
}

static int write_layer(struct saver *sv, struct save_layer *sl, berr_t *err)
{
    const char *hex = digest_hex(sl->diff_id);
    _cleanup_free_ char *dir = xstrdup(hex);
    _cleanup_free_ char *tar = xasprintf("%s/layer.tar", hex);
    _cleanup_free_ char *version = xasprintf("%s/VERSION", hex);
    _cleanup_free_ char *json_path = xasprintf("%s/json", hex);
    _cleanup_free_ char *blob = xasprintf("blobs/sha256/%s", hex);
    _cleanup_free_ char *blob_link = xasprintf("../../%s/layer.tar", hex);
    int64_t left = sl->size;

    if (write_entry(sv, dir, AE_IFDIR, 0, NULL, err) < 0 ||
        write_bytes(sv, version, "1.0", 3, err) < 0)
        return -1;
    json_t *v1 = json_pack("{s:s, s:s}", "id", hex, "os", "linux");
    if (sl->parent[0])
        json_object_set_new(v1, "parent", json_string(digest_hex(sl->parent)));
    int r = write_json(sv, json_path, v1, NULL, NULL, err);
    json_decref(v1);
    if (r < 0 || write_entry(sv, tar, AE_IFREG, sl->size, NULL, err) < 0)
        return -1;
    while (left > 0) {
        ssize_t n = read(sl->fd, sv->buf, sizeof(sv->buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berr_set(err, n < 0 ? errno : 0, "save: read layer %s%s", sl->diff_id,
                            n == 0 ? ": file is shorter than it was" : "");
        if (n > left)
            n = (ssize_t)left;
        if (archive_write_data(sv->a, sv->buf, (size_t)n) < 0)
            return berr_set(err, 0, "save: %s", archive_error_string(sv->a));
        left -= n;
    }
    return write_entry(sv, blob, AE_IFLNK, 0, blob_link, err);
}

/* The image's OCI manifest blob; DIGEST and LEN describe it. */
static int write_manifest(struct saver *sv, struct save_image *si, char digest[DIGEST_SIZE],
                          size_t *len, berr_t *err)
{
    json_t *layers = json_array(), *v;
    size_t i;

    json_array_foreach(si->diff_ids, i, v)
    {
        int64_t size = 0;
        for (size_t j = 0; j < sv->n_layers; j++)
            if (strcmp(sv->layers[j].diff_id, json_string_value(v)) == 0)
                size = sv->layers[j].size;
        json_array_append_new(layers, json_pack("{s:s, s:O, s:I}", "mediaType", MT_OCI_LAYER,
                                                "digest", v, "size", (json_int_t)size));
    }
    json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                          MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", si->id,
                          "size", (json_int_t)si->cfg_len, "layers", layers);
    _cleanup_free_ char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    *len = strlen(text);
    sha256_digest(text, *len, digest);
    _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", digest_hex(digest));
    return write_bytes(sv, path, text, *len, err);
}

/* index.json entry for SI: one per tag, named as containerd and Docker 25 name them. */
static void index_entries(struct save_image *si, const char *digest, size_t len, json_t *out)
{
    size_t i;
    json_t *v;

    if (json_array_size(si->tags) == 0)
        json_array_append_new(out, json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_MANIFEST,
                                             "digest", digest, "size", (json_int_t)len));
    json_array_foreach(si->tags, i, v)
    {
        const char *key = json_string_value(v);
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType", MT_OCI_MANIFEST, "digest",
                      digest, "size", (json_int_t)len, "annotations", "io.containerd.image.name",
                      key, "org.opencontainers.image.ref.name", strrchr(key, ':') + 1));
    }
}

static json_t *familiar_tags(struct save_image *si)
{
    json_t *tags = json_array(), *v;
    size_t i;

    json_array_foreach(si->tags, i, v)
    {
        json_array_append_new(tags, json_string_take(image_ref_familiarize(json_string_value(v))));
    }
    return tags;
}

/* The legacy "repositories" file: familiar repository -> tag -> top layer's v1 id. */
static void add_repositories(struct save_image *si, json_t *repos)
{
    size_t i, n = json_array_size(si->diff_ids);
    json_t *v;

    if (n == 0)
        return;
    const char *top = digest_hex(json_string_value(json_array_get(si->diff_ids, n - 1)));
    json_array_foreach(si->tags, i, v)
    {
        _cleanup_free_ char *familiar = image_ref_familiarize(json_string_value(v));
        char *colon = strrchr(familiar, ':');
        *colon = '\0';
        json_t *repo = json_object_get(repos, familiar);
        if (repo == NULL)
            json_object_set_new(repos, familiar, repo = json_object());
        json_object_set_new(repo, colon + 1, json_string(top));
    }
}

static int write_archive(struct saver *sv, berr_t *err)
{
    json_t *manifest = json_array(), *index = json_array(), *repos = json_object();
    int r = -1;

    if (write_entry(sv, "blobs", AE_IFDIR, 0, NULL, err) < 0 ||
        write_entry(sv, "blobs/sha256", AE_IFDIR, 0, NULL, err) < 0)
        goto out;
    for (size_t i = 0; i < sv->n_layers; i++)
        if (write_layer(sv, &sv->layers[i], err) < 0)
            goto out;
    for (size_t i = 0; i < sv->n_imgs; i++) {
        struct save_image *si = &sv->imgs[i];
        const char *hex = digest_hex(si->id);
        _cleanup_free_ char *cfg_name = xasprintf("%s.json", hex);
        _cleanup_free_ char *blob = xasprintf("blobs/sha256/%s", hex);
        _cleanup_free_ char *link = xasprintf("../../%s.json", hex);
        char mdigest[DIGEST_SIZE];
        size_t mlen;
        if (write_bytes(sv, cfg_name, si->cfg, si->cfg_len, err) < 0 ||
            write_entry(sv, blob, AE_IFLNK, 0, link, err) < 0 ||
            write_manifest(sv, si, mdigest, &mlen, err) < 0)
            goto out;
        index_entries(si, mdigest, mlen, index);
        json_t *layers = json_array(), *v;
        size_t j;
        json_array_foreach(si->diff_ids, j, v)
        {
            json_array_append_new(layers, json_string_take(xasprintf(
                                              "%s/layer.tar", digest_hex(json_string_value(v)))));
        }
        json_t *tags = familiar_tags(si);
        json_array_append_new(manifest, json_pack("{s:s, s:o, s:o}", "Config", cfg_name, "RepoTags",
                                                  json_array_size(tags) ? tags : json_null(),
                                                  "Layers", layers));
        if (json_array_size(tags) == 0)
            json_decref(tags);
        add_repositories(si, repos);
    }
    json_t *idx = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
                            "manifests", index);
    json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
    r = write_json(sv, "oci-layout", layout, NULL, NULL, err) < 0 ||
                write_json(sv, "index.json", idx, NULL, NULL, err) < 0 ||
                write_json(sv, "manifest.json", manifest, NULL, NULL, err) < 0 ||
                (json_object_size(repos) &&
                 write_json(sv, "repositories", repos, NULL, NULL, err) < 0)
            ? -1
            : 0;
    json_decref(idx);
    json_decref(layout);
out:
    json_decref(manifest);
    json_decref(index);
    json_decref(repos);
    return r;
}

static void saver_free(struct saver *sv)
{
    for (size_t i = 0; i < sv->n_imgs; i++) {
        free(sv->imgs[i].cfg);
        json_decref(sv->imgs[i].tags);
        json_decref(sv->imgs[i].diff_ids);
    }
    free(sv->imgs);
    for (size_t i = 0; i < sv->n_layers; i++)
        close(sv->layers[i].fd);
    free(sv->layers);
    if (sv->a)
        archive_write_free(sv->a);
    free(sv);
}

int image_save(struct image_store *s, const char *const *refs, size_t n, struct io_writer *out,
               berr_t *err)
{
    struct saver *sv = xcalloc(1, sizeof(*sv));
    int r = 0;

    sv->s = s;
    if (n == 0) {
        free(sv);
        return berr_status(err, EINVAL, "save: no image given");
    }
    /* Config bytes are read and layer files opened under the lock, so a concurrent delete
     * cannot pull them away while the archive is written. */
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n && r == 0; i++)
        r = add_ref_locked(sv, refs[i], err);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        goto out;
    sv->a = archive_write_new();
    archive_write_set_format_pax_restricted(sv->a);
    if (io_archive_write_open(sv->a, out) != ARCHIVE_OK) {
        r = berr_set(err, 0, "save: %s", archive_error_string(sv->a));
        goto out;
    }
    r = write_archive(sv, err);
    if (r == 0 && archive_write_close(sv->a) != ARCHIVE_OK)
        r = berr_set(err, 0, "save: %s", archive_error_string(sv->a));
    for (size_t i = 0; i < n && r == 0; i++)
        events_image("save", NULL, refs[i]);
out:
    saver_free(sv);
    return r;
}
