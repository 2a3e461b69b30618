/* docker images, docker image inspect and docker history. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/store_int.h"
#include "runtime-agent/timefmt.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

/* Familiar tags and repo digests of image ID, as two new arrays. */
static void refs_split_locked(struct image_store *s, const char *id, json_t **tags,
                              json_t **digests)
{
    json_t *refs = store_refs_of_locked(s, id), *v;
    size_t i;

    *tags = json_array();
    *digests = json_array();
    json_array_foreach(refs, i, v)
    {
        const char *key = json_string_value(v);
        json_array_append_new(strchr(key, '@') ? *digests : *tags,
                              json_string_take(image_ref_familiarize(key)));
    }
    json_decref(refs);
}

static int64_t created_secs(json_t *obj)
{
    int64_t t = 0;

    if (time_parse_rfc3339(json_string_value(json_object_get(obj, "created")), &t) < 0)
        return 0;
    return t;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : dflt;
}

static json_t *list_entry_locked(struct image_store *s, struct img *img, bool all)
{
    json_t *tags, *digests;
    json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");

    refs_split_locked(s, img->id, &tags, &digests);
    if (json_array_size(tags) == 0 && json_array_size(digests) == 0) {
        /* Untagged parents of other images are intermediate build steps: hidden by default. */
        if (!all && store_children_locked(s, img->id) > 0) {
            json_decref(tags);
            json_decref(digests);
            return NULL;
        }
        json_array_append_new(tags, json_string("<none>:<none>"));
        json_array_append_new(digests, json_string("<none>@<none>"));
    }
    /* Copies, never the store's own objects: callers may change what they get. */
    return json_pack("{s:i, s:I, s:s, s:o, s:s, s:o, s:o, s:i, s:I, s:I}", "Containers", -1,
                     "Created", (json_int_t)created_secs(img->config), "Id", img->id, "Labels",
                     json_is_object(labels) ? json_deep_copy(labels) : json_object(), "ParentId",
                     img->parent, "RepoDigests", digests, "RepoTags", tags, "SharedSize", -1,
                     "Size", (json_int_t)img->size, "VirtualSize", (json_int_t)img->size);
}

static int newest_first(const void *a, const void *b)
{
    json_int_t ca = json_integer_value(json_object_get(*(json_t *const *)a, "Created"));
    json_int_t cb = json_integer_value(json_object_get(*(json_t *const *)b, "Created"));

    return ca < cb ? 1 : ca > cb ? -1 : 0;
}

int image_list(struct image_store *s, bool all, json_t **images, berr_t *err)
{
    json_t **entries;
    size_t n = 0;

    (void)err;
    pthread_mutex_lock(&s->lock);
    entries = xcalloc(s->n_imgs ? s->n_imgs : 1, sizeof(*entries));
    for (size_t i = 0; i < s->n_imgs; i++) {
        json_t *e = list_entry_locked(s, s->imgs[i], all);
        if (e)
            entries[n++] = e;
    }
    pthread_mutex_unlock(&s->lock);
    qsort(entries, n, sizeof(*entries), newest_first);
    *images = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(*images, entries[i]);
    free(entries);
    return 0;
}

/* overlay2's GraphDriver data: the top layer as UpperDir, the others as LowerDir. */
static json_t *graph_driver_locked(struct image_store *s, struct img *img)
{
    json_t *data = json_object();

    if (img->n_layers > 0) {
        size_t top = img->n_layers - 1;
        json_object_set_new(data, "UpperDir",
                            json_string_take(store_layer_path(s, img->chains[top], "diff")));
        char *lower = NULL;
        for (size_t i = top; i > 0; i--) {
            _cleanup_free_ char *dir = store_layer_path(s, img->chains[i - 1], "diff");
            char *next = lower ? xasprintf("%s:%s", lower, dir) : xstrdup(dir);
            free(lower);
            lower = next;
        }
        if (lower)
            json_object_set_new(data, "LowerDir", json_string_take(lower));
    }
    return json_pack("{s:s, s:o}", "Name", "overlay2", "Data", data);
}

static json_t *inspect_locked(struct image_store *s, struct img *img)
{
    json_t *c = img->config, *tags, *digests;
    json_t *cc = json_object_get(c, "container_config");
    json_t *config = json_object_get(c, "config");

    refs_split_locked(s, img->id, &tags, &digests);
    json_t *out = json_pack(
        "{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:o, "
        "s:{s:s, s:o}, s:{s:s}}",
        "Id", img->id, "RepoTags", tags, "RepoDigests", digests, "Parent", img->parent, "Comment",
        str_or(c, "comment", ""), "Created", str_or(c, "created", ZERO_TIME), "Container",
        str_or(c, "container", ""), "ContainerConfig",
        json_is_object(cc) ? json_deep_copy(cc) : empty_container_config(), "DockerVersion",
        str_or(c, "docker_version", ""), "Author", str_or(c, "author", ""), "Config",
        config ? json_deep_copy(config) : json_null(), "Architecture",
        str_or(c, "architecture", ""), "Os", str_or(c, "os", ""), "Size", (json_int_t)img->size,
        "VirtualSize", (json_int_t)img->size, "GraphDriver", graph_driver_locked(s, img), "RootFS",
        "Type", "layers", "Layers",
        json_deep_copy(json_object_get(json_object_get(c, "rootfs"), "diff_ids")), "Metadata",
        "LastTagTime", img->last_tag_time ? img->last_tag_time : ZERO_TIME);
    if (json_object_get(c, "variant"))
        json_object_set_new(out, "Variant", json_deep_copy(json_object_get(c, "variant")));
    if (json_object_get(c, "os.version"))
        json_object_set_new(out, "OsVersion", json_deep_copy(json_object_get(c, "os.version")));
    return out;
}

int image_inspect(struct image_store *s, const char *ref_or_id, json_t **out, berr_t *err)
{
    struct lookup l;

    pthread_mutex_lock(&s->lock);
    int r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0)
        *out = inspect_locked(s, l.img);
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* One entry per history record, newest first, sized by the layer it added. */
static json_t *history_entries_locked(struct image_store *s, struct img *img)
{
    json_t *items = json_array(), *h;
    size_t i, layer = 0;

    json_array_foreach(json_object_get(img->config, "history"), i, h)
    {
        json_int_t size = 0;
        if (!json_is_true(json_object_get(h, "empty_layer")) && layer < img->n_layers) {
            json_t *meta = json_object_get(s->layers, img->chains[layer++]);
            size = json_integer_value(json_object_get(meta, "size"));
        }
        json_array_insert_new(items, 0,
                              json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>",
                                        "Created", (json_int_t)created_secs(h), "CreatedBy",
                                        str_or(h, "created_by", ""), "Tags", "Size", size,
                                        "Comment", str_or(h, "comment", "")));
    }
    return items;
}

int image_history(struct image_store *s, const char *ref_or_id, json_t **out, berr_t *err)
{
    struct lookup l;
    json_t *item;
    size_t i;

    pthread_mutex_lock(&s->lock);
    int r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0) {
        *out = history_entries_locked(s, l.img);
        /* The newest entries belong to the image and then to its local parents, while known. */
        struct img *cur = l.img;
        json_array_foreach(*out, i, item)
        {
            if (cur == NULL)
                break;
            json_t *tags, *digests;
            refs_split_locked(s, cur->id, &tags, &digests);
            json_decref(digests);
            json_object_set_new(item, "Id", json_string(cur->id));
            json_object_set_new(item, "Tags", json_array_size(tags) ? tags : json_null());
            if (json_array_size(tags) == 0)
                json_decref(tags);
            cur = cur->parent[0] ? store_find_locked(s, cur->parent) : NULL;
        }
    }
    lookup_clear(&l);
    pthread_mutex_unlock(&s->lock);
    return r;
}
