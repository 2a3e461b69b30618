#include "runtime-agent/image/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/timefmt.h"
#include "runtime-agent/log.h"

#define REPOS_FILE "repositories.json"

char *store_path(struct image_store *s, const char *rel)
{
    return path_join(s->root, rel);
}

char *store_layer_path(struct image_store *s, const char *chain, const char *sub)
{
    if (sub == NULL)
        return xasprintf("%s/layers/%s", s->root, digest_hex(chain));
    return xasprintf("%s/layers/%s/%s", s->root, digest_hex(chain), sub);
}

static char *imagemeta_path(struct image_store *s, const char *id)
{
    return xasprintf("%s/imagemeta/%s.json", s->root, digest_hex(id));
}

static char *config_path(struct image_store *s, const char *id)
{
    return xasprintf("%s/configs/%s.json", s->root, digest_hex(id));
}

char *store_tmpdir(struct image_store *s, const char *prefix, berr_t *err)
{
    char *p = xasprintf("%s/tmp/%s-XXXXXX", s->root, prefix);

    if (mkdtemp(p) == NULL) {
        berr_set(err, errno, "image store: create a temporary directory in %s/tmp", s->root);
        free(p);
        return NULL;
    }
    return p;
}

json_t *config_diff_ids(json_t *config, berr_t *err)
{
    json_t *rootfs = json_object_get(config, "rootfs");
    json_t *ids = json_object_get(rootfs, "diff_ids");
    const char *type = json_string_value(json_object_get(rootfs, "type"));
    size_t i;
    json_t *v;

    if (!json_is_object(config) || type == NULL || strcmp(type, "layers") != 0 ||
        (ids != NULL && !json_is_array(ids))) {
        berr_status(err, EINVAL, "image config: rootfs is not {\"type\": \"layers\", ...}");
        return NULL;
    }
    if (ids == NULL) {
        ids = json_array();
        json_object_set_new(rootfs, "diff_ids", ids);
    }
    json_array_foreach(ids, i, v)
    {
        if (!digest_valid(json_string_value(v))) {
            berr_status(err, EINVAL, "image config: rootfs.diff_ids[%zu] is not a sha256 digest",
                        i);
            return NULL;
        }
    }
    return ids;
}

static void img_free(struct img *img)
{
    if (img == NULL)
        return;
    json_decref(img->config);
    free(img->chains);
    free(img->last_tag_time);
    free(img);
}

/* An image record for CONFIG (taken over), checking that all its layers are present. */
static struct img *img_new_locked(struct image_store *s, const char *id, json_t *config,
                                  berr_t *err)
{
    struct img *img = xcalloc(1, sizeof(*img));
    json_t *ids, *v;
    size_t i;

    snprintf(img->id, sizeof(img->id), "%s", id);
    img->config = config;
    ids = config_diff_ids(config, err);
    if (ids == NULL)
        goto fail;
    img->n_layers = json_array_size(ids);
    img->chains = xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*img->chains));
    json_array_foreach(ids, i, v)
    {
        chain_id(i ? img->chains[i - 1] : NULL, json_string_value(v), img->chains[i]);
        json_t *layer = json_object_get(s->layers, img->chains[i]);
        if (layer == NULL) {
            berr_set(err, 0, "image %s: layer %s (DiffID %s) is missing", id, img->chains[i],
                     json_string_value(v));
            goto fail;
        }
        img->size += json_integer_value(json_object_get(layer, "size"));
    }
    return img;
fail:
    img->config = NULL;
    img_free(img);
    return NULL;
}

static void add_img_locked(struct image_store *s, struct img *img)
{
    GROW(s->imgs, s->n_imgs, s->cap_imgs);
    s->imgs[s->n_imgs++] = img;
}

struct img *store_find_locked(struct image_store *s, const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < s->n_imgs; i++)
        if (strcmp(s->imgs[i]->id, id) == 0)
            return s->imgs[i];
    return NULL;
}

static int write_json_atomic(const char *path, json_t *v, berr_t *err)
{
    _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

    if (text == NULL)
        return berr_set(err, ENOMEM, "write %s", path);
    return write_file_atomic(path, text, strlen(text), 0600, err);
}

static int write_imagemeta(struct image_store *s, struct img *img, berr_t *err)
{
    _cleanup_free_ char *path = imagemeta_path(s, img->id);
    json_t *meta = json_object();

    if (img->parent[0])
        json_object_set_new(meta, "parent", json_string(img->parent));
    if (img->last_tag_time)
        json_object_set_new(meta, "last_tag_time", json_string(img->last_tag_time));
    int r = write_json_atomic(path, meta, err);
    json_decref(meta);
    return r;
}

static json_t *load_json_file(const char *path, berr_t *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    json_error_t je;

    if (read_file(path, &text, &len, err) < 0)
        return NULL;
    json_t *v = json_loadb(text, len, 0, &je);
    if (v == NULL)
        berr_set(err, 0, "parse %s: %s (line %d)", path, je.text, je.line);
    return v;
}

static bool is_hex64(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* One layer directory found on disk; a broken one is removed (an interrupted commit). */
static void load_layer(struct image_store *s, const char *hex)
{
    char chain[DIGEST_SIZE], want[DIGEST_SIZE];
    _cleanup_free_ char *dir = NULL;
    berr_t err = NULL;

    snprintf(chain, sizeof(chain), "sha256:%s", hex);
    dir = store_layer_path(s, chain, NULL);
    _cleanup_free_ char *meta_path = store_layer_path(s, chain, "meta.json");
    json_t *meta = load_json_file(meta_path, &err);
    const char *diff = json_string_value(json_object_get(meta, "diff_id"));
    const char *parent = json_string_value(json_object_get(meta, "parent"));
    if (meta != NULL && digest_valid(diff) && parent != NULL &&
        (*parent == '\0' || digest_valid(parent))) {
        chain_id(parent, diff, want);
        if (strcmp(want, chain) == 0) {
            json_object_set_new(s->layers, chain,
                                json_pack("{s:s, s:s, s:I}", "diff_id", diff, "parent", parent,
                                          "size",
                                          json_integer_value(json_object_get(meta, "size"))));
            json_decref(meta);
            return;
        }
    }
    log_warn("image store: removing broken layer %s: %s", dir,
             err ? berr_msg(err) : "bad meta.json");
    berr_free(&err);
    json_decref(meta);
    if (rm_rf(dir, &err) < 0) {
        log_warn("image store: %s", berr_msg(err));
        berr_free(&err);
    }
}

/* The local parent and last tag time of IMG, when recorded. */
static void load_imagemeta(struct image_store *s, struct img *img)
{
    _cleanup_free_ char *path = imagemeta_path(s, img->id);
    berr_t err = NULL;

    if (!file_exists(path))
        return;
    json_t *meta = load_json_file(path, &err);
    const char *parent = json_string_value(json_object_get(meta, "parent"));
    const char *ltt = json_string_value(json_object_get(meta, "last_tag_time"));
    if (digest_valid(parent))
        snprintf(img->parent, sizeof(img->parent), "%s", parent);
    if (ltt)
        img->last_tag_time = xstrdup(ltt);
    json_decref(meta);
    if (err)
        log_warn("image store: %s", berr_msg(err));
    berr_free(&err);
}

/* One config file; an image whose file or layers are damaged is skipped with a warning. */
static void load_image(struct image_store *s, const char *hex)
{
    char id[DIGEST_SIZE], sum[DIGEST_SIZE];
    _cleanup_free_ char *text = NULL;
    size_t len;
    berr_t err = NULL;
    json_error_t je;

    snprintf(id, sizeof(id), "sha256:%s", hex);
    _cleanup_free_ char *path = config_path(s, id);
    if (read_file(path, &text, &len, &err) < 0)
        goto warn;
    sha256_digest(text, len, sum);
    if (strcmp(sum, id) != 0) {
        berr_set(&err, 0, "content digest is %s", sum);
        goto warn;
    }
    json_t *config = json_loadb(text, len, 0, &je);
    if (config == NULL) {
        berr_set(&err, 0, "parse: %s", je.text);
        goto warn;
    }
    struct img *img = img_new_locked(s, id, config, &err);
    if (img == NULL) {
        json_decref(config);
        goto warn;
    }
    load_imagemeta(s, img);
    add_img_locked(s, img);
    return;
warn:
    log_warn("image store: skipping image %s: %s", path, berr_msg(err));
    berr_free(&err);
}

/* Call FN with the hex of each entry of ROOT/SUB named <64 hex>SUFFIX. */
static int scan_dir(struct image_store *s, const char *sub, const char *suffix,
                    void (*fn)(struct image_store *, const char *), berr_t *err)
{
    _cleanup_free_ char *dir = store_path(s, sub);
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t sl = strlen(suffix);

    if (d == NULL)
        return berr_set(err, errno, "image store: open %s", dir);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < sl || strcmp(de->d_name + n - sl, suffix) != 0 || !is_hex64(de->d_name, n - sl))
            continue;
        char hex[65];
        memcpy(hex, de->d_name, 64);
        hex[64] = '\0';
        fn(s, hex);
    }
    closedir(d);
    return 0;
}

static int load_repos(struct image_store *s, berr_t *err)
{
    _cleanup_free_ char *path = store_path(s, REPOS_FILE);
    const char *key;
    json_t *v;

    if (!file_exists(path))
        return 0;
    json_t *repos = load_json_file(path, err);
    if (repos == NULL)
        return berr_prefix(err, "image store");
    json_object_foreach(repos, key, v)
    {
        struct image_ref ref;
        berr_t sub = NULL;
        const char *id = json_string_value(v);
        if (id == NULL || store_find_locked(s, id) == NULL ||
            image_ref_parse(key, &ref, &sub) < 0) {
            berr_free(&sub);
            continue;
        }
        _cleanup_free_ char *k = ref_key(&ref);
        if (strcmp(k, key) == 0)
            json_object_set(s->repos, key, v);
        image_ref_clear(&ref);
    }
    json_decref(repos);
    return 0;
}

static int make_dirs(struct image_store *s, berr_t *err)
{
    static const char *const subs[] = {"layers", "configs", "imagemeta"};
    _cleanup_free_ char *tmp = store_path(s, "tmp");

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        _cleanup_free_ char *p = store_path(s, subs[i]);
        if (mkdir_p(p, 0700, err) < 0)
            return berr_prefix(err, "image store");
    }
    if (rm_rf(tmp, err) < 0 || mkdir_p(tmp, 0700, err) < 0)
        return berr_prefix(err, "image store");
    return 0;
}

/* Two daemons sharing a store would remove each other's work in tmp/ and layers. */
static int lock_root(struct image_store *s, berr_t *err)
{
    _cleanup_free_ char *path = store_path(s, "lock");

    if (mkdir_p(s->root, 0700, err) < 0)
        return berr_prefix(err, "image store");
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return berr_set(err, errno, "image store: open %s", path);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return berr_set(err, errno == EWOULDBLOCK ? 0 : errno, "image store %s: %s", s->root,
                        errno == EWOULDBLOCK ? "in use by another berthd" : "lock");
    return 0;
}

int image_store_open(const char *root, struct image_store **store, berr_t *err)
{
    struct image_store *s = xcalloc(1, sizeof(*s));
    struct trash t = {0};

    s->root = xstrdup(root);
    s->lock_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->layers = json_object();
    s->pins = json_object();
    s->repos = json_object();
    if (lock_root(s, err) < 0 || make_dirs(s, err) < 0 ||
        scan_dir(s, "layers", "", load_layer, err) < 0 ||
        scan_dir(s, "configs", ".json", load_image, err) < 0 || load_repos(s, err) < 0) {
        image_store_close(s);
        return -1;
    }
    store_gc_locked(s, &t, NULL);
    trash_empty(&t);
    *store = s;
    return 0;
}

void image_store_close(struct image_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_imgs; i++)
        img_free(s->imgs[i]);
    free(s->imgs);
    json_decref(s->layers);
    json_decref(s->pins);
    json_decref(s->repos);
    pthread_mutex_destroy(&s->lock);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->root);
    free(s);
}

size_t image_count(struct image_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n_imgs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

char *ref_key(const struct image_ref *ref)
{
    _cleanup_free_ char *name = image_ref_name(ref);

    if (ref->digest)
        return xasprintf("%s@%s", name, ref->digest);
    return xasprintf("%s:%s", name, ref->tag);
}

void lookup_clear(struct lookup *l)
{
    free(l->key);
    image_ref_clear(&l->ref);
    memset(l, 0, sizeof(*l));
}

/* An image whose ID starts with HEX, when exactly one does. */
static struct img *find_prefix_locked(struct image_store *s, const char *hex)
{
    struct img *found = NULL;
    size_t n = strlen(hex);

    for (size_t i = 0; i < s->n_imgs; i++) {
        if (strncmp(digest_hex(s->imgs[i]->id), hex, n) != 0)
            continue;
        if (found)
            return NULL;
        found = s->imgs[i];
    }
    return found;
}

int store_lookup_locked(struct image_store *s, const char *name, struct lookup *l, berr_t *err)
{
    char id[DIGEST_SIZE];
    const char *hex;
    berr_t perr = NULL;

    memset(l, 0, sizeof(*l));
    if (image_id_full(name, id)) {
        l->img = store_find_locked(s, id);
        if (l->img)
            return 0;
        return berr_status(err, ENOENT, "No such image: %s", name);
    }
    /* A name first, as Docker does: "abc" may be both a repository and an ID prefix. */
    if (image_ref_parse(name, &l->ref, &perr) == 0) {
        l->key = ref_key(&l->ref);
        l->img = store_find_locked(s, json_string_value(json_object_get(s->repos, l->key)));
        if (l->img) {
            l->by_ref = true;
            return 0;
        }
    }
    struct img *img = image_id_prefix(name, &hex) ? find_prefix_locked(s, hex) : NULL;
    if (img) {
        lookup_clear(l);
        l->img = img;
        berr_free(&perr);
        return 0;
    }
    if (perr) {
        lookup_clear(l);
        *err = perr;
        return -1;
    }
    _cleanup_free_ char *familiar = image_ref_familiar(&l->ref);
    lookup_clear(l);
    return berr_status(err, ENOENT, "No such image: %s", familiar);
}

int image_resolve(struct image_store *s, const char *ref_or_id, char **id, berr_t *err)
{
    struct lookup l;

    pthread_mutex_lock(&s->lock);
    int r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0)
        *id = xstrdup(l.img->id);
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int image_get_config(struct image_store *s, const char *ref_or_id, json_t **config, berr_t *err)
{
    struct lookup l;

    pthread_mutex_lock(&s->lock);
    int r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0)
        *config = json_deep_copy(l.img->config);
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int image_layer_dirs(struct image_store *s, const char *ref_or_id, char ***dirs, size_t *n,
                     berr_t *err)
{
    struct lookup l;

    pthread_mutex_lock(&s->lock);
    int r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0) {
        *n = l.img->n_layers;
        *dirs = xcalloc(*n ? *n : 1, sizeof(char *));
        for (size_t i = 0; i < *n; i++)
            (*dirs)[i] = store_layer_path(s, l.img->chains[*n - 1 - i], "diff");
    }
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return r;
}

void image_free_dirs(char **dirs, size_t n)
{
    for (size_t i = 0; dirs && i < n; i++)
        free(dirs[i]);
    free(dirs);
}

int store_prepare_layer(struct image_store *s, struct io_reader *in, struct new_layer *nl,
                        berr_t *err)
{
    memset(nl, 0, sizeof(*nl));
    nl->dir = store_tmpdir(s, "layer", err);
    if (nl->dir == NULL)
        return -1;
    _cleanup_free_ char *diff = path_join(nl->dir, "diff");
    _cleanup_free_ char *tar = path_join(nl->dir, "layer.tar");
    _cleanup_close_ int fd = -1;
    if (mkdir(diff, 0755) < 0) {
        berr_set(err, errno, "create %s", diff);
        goto fail;
    }
    fd = open(tar, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        berr_set(err, errno, "create %s", tar);
        goto fail;
    }
    struct io_writer w = io_fd_writer(fd);
    if (layer_apply(diff, in, &w, 0, &nl->info, err) < 0)
        goto fail;
    if (fsync(fd) < 0) {
        berr_set(err, errno, "write %s", tar);
        goto fail;
    }
    return 0;
fail:
    new_layer_discard(nl);
    return -1;
}

void new_layer_discard(struct new_layer *nl)
{
    berr_t err = NULL;

    if (nl->dir && rm_rf(nl->dir, &err) < 0) {
        log_warn("image store: %s", berr_msg(err));
        berr_free(&err);
    }
    free(nl->dir);
    nl->dir = NULL;
}

void store_pin_locked(struct image_store *s, const char *chain)
{
    json_int_t n = json_integer_value(json_object_get(s->pins, chain));

    json_object_set_new(s->pins, chain, json_integer(n + 1));
}

void store_unpin_locked(struct image_store *s, const char *chain)
{
    json_int_t n = json_integer_value(json_object_get(s->pins, chain));

    if (n <= 1)
        json_object_del(s->pins, chain);
    else
        json_object_set_new(s->pins, chain, json_integer(n - 1));
}

int store_commit_layer_locked(struct image_store *s, struct new_layer *nl, const char *parent_chain,
                              char chain[DIGEST_SIZE], berr_t *err)
{
    const char *parent = parent_chain ? parent_chain : "";

    chain_id(parent, nl->info.diff_id, chain);
    if (json_object_get(s->layers, chain) == NULL) {
        json_t *meta = json_pack("{s:s, s:s, s:I}", "diff_id", nl->info.diff_id, "parent", parent,
                                 "size", (json_int_t)nl->info.size);
        _cleanup_free_ char *meta_path = path_join(nl->dir, "meta.json");
        _cleanup_free_ char *dest = store_layer_path(s, chain, NULL);
        if (write_json_atomic(meta_path, meta, err) < 0) {
            json_decref(meta);
            return -1;
        }
        if (rename(nl->dir, dest) < 0) {
            json_decref(meta);
            return berr_set(err, errno, "image store: move layer %s into place", chain);
        }
        json_object_set_new(s->layers, chain, meta);
        free(nl->dir);
        nl->dir = NULL;
    }
    store_pin_locked(s, chain);
    return 0;
}

int store_register_locked(struct image_store *s, const char *cfg, size_t len, const char *parent,
                          char id[DIGEST_SIZE], berr_t *err)
{
    json_error_t je;

    sha256_digest(cfg, len, id);
    if (store_find_locked(s, id))
        return 0;
    json_t *config = json_loadb(cfg, len, 0, &je);
    if (config == NULL)
        return berr_status(err, EINVAL, "image config: %s", je.text);
    struct img *img = img_new_locked(s, id, config, err);
    if (img == NULL) {
        json_decref(config);
        return -1;
    }
    if (parent && digest_valid(parent))
        snprintf(img->parent, sizeof(img->parent), "%s", parent);
    _cleanup_free_ char *path = config_path(s, id);
    if (write_file_atomic(path, cfg, len, 0600, err) < 0 || write_imagemeta(s, img, err) < 0) {
        unlink(path);
        img_free(img);
        return berr_prefix(err, "image store");
    }
    add_img_locked(s, img);
    return 0;
}

static int save_repos_locked(struct image_store *s, berr_t *err)
{
    _cleanup_free_ char *path = store_path(s, REPOS_FILE);

    if (write_json_atomic(path, s->repos, err) < 0)
        return berr_prefix(err, "image store");
    return 0;
}

int store_set_ref_locked(struct image_store *s, const char *key, const char *id,
                         char replaced[DIGEST_SIZE], berr_t *err)
{
    json_t *old = json_incref(json_object_get(s->repos, key));
    struct img *img = store_find_locked(s, id);

    snprintf(replaced, DIGEST_SIZE, "%s", old ? json_string_value(old) : "");
    json_object_set_new(s->repos, key, json_string(id));
    if (save_repos_locked(s, err) < 0) {
        if (old)
            json_object_set(s->repos, key, old);
        else
            json_object_del(s->repos, key);
        json_decref(old);
        return -1;
    }
    json_decref(old);
    if (img) {
        free(img->last_tag_time);
        img->last_tag_time = time_rfc3339_now();
        if (write_imagemeta(s, img, err) < 0)
            return berr_prefix(err, "image store");
    }
    return 0;
}

int store_drop_ref_locked(struct image_store *s, const char *key, berr_t *err)
{
    json_t *old = json_incref(json_object_get(s->repos, key));

    if (old == NULL)
        return 0;
    json_object_del(s->repos, key);
    if (save_repos_locked(s, err) < 0) {
        json_object_set(s->repos, key, old);
        json_decref(old);
        return -1;
    }
    json_decref(old);
    return 0;
}

json_t *store_refs_of_locked(struct image_store *s, const char *id)
{
    json_t *refs = json_array(), *v;
    const char *key;

    json_object_foreach(s->repos, key, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            json_array_append_new(refs, json_string(key));
    }
    return refs;
}

size_t store_children_locked(struct image_store *s, const char *id)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_imgs; i++)
        if (strcmp(s->imgs[i]->parent, id) == 0)
            n++;
    return n;
}

int store_remove_image_locked(struct image_store *s, struct img *img, struct trash *t,
                              json_t *deleted, berr_t *err)
{
    _cleanup_free_ char *cpath = config_path(s, img->id);
    _cleanup_free_ char *mpath = imagemeta_path(s, img->id);

    if (unlink(cpath) < 0 && errno != ENOENT)
        return berr_set(err, errno, "image store: delete image %s: remove %s", img->id, cpath);
    unlink(mpath);
    for (size_t i = 0; i < s->n_imgs; i++) {
        if (s->imgs[i] == img) {
            s->imgs[i] = s->imgs[--s->n_imgs];
            break;
        }
    }
    img_free(img);
    store_gc_locked(s, t, deleted);
    return 0;
}

static bool layer_used_locked(struct image_store *s, const char *chain)
{
    if (json_object_get(s->pins, chain))
        return true;
    for (size_t i = 0; i < s->n_imgs; i++)
        for (size_t j = 0; j < s->imgs[i]->n_layers; j++)
            if (strcmp(s->imgs[i]->chains[j], chain) == 0)
                return true;
    return false;
}

void store_gc_locked(struct image_store *s, struct trash *t, json_t *deleted)
{
    const char *chain;
    json_t *v;
    void *tmp;
    berr_t err = NULL;

    json_object_foreach_safe(s->layers, tmp, chain, v)
    {
        if (layer_used_locked(s, chain))
            continue;
        /* Out of the store at once; the slow removal happens after the lock is released. */
        _cleanup_free_ char *src = store_layer_path(s, chain, NULL);
        char *dest = store_tmpdir(s, "gc", &err);
        _cleanup_free_ char *inner = dest ? path_join(dest, "layer") : NULL;
        if (dest == NULL || rename(src, inner) < 0) {
            log_warn("image store: remove layer %s: %s", chain,
                     err ? berr_msg(err) : strerror(errno));
            berr_free(&err);
            free(dest);
            continue;
        }
        GROW(t->paths, t->n, t->cap);
        t->paths[t->n++] = dest;
        if (deleted)
            json_array_append_new(deleted, json_pack("{s:s}", "Deleted", chain));
        json_object_del(s->layers, chain);
    }
}

void trash_empty(struct trash *t)
{
    berr_t err = NULL;

    for (size_t i = 0; i < t->n; i++) {
        if (rm_rf(t->paths[i], &err) < 0) {
            log_warn("image store: %s", berr_msg(err));
            berr_free(&err);
        }
        free(t->paths[i]);
    }
    free(t->paths);
    memset(t, 0, sizeof(*t));
}
