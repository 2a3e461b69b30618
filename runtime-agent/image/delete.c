/* docker rmi, following Docker's rules for which references go, when the
 * image itself goes, and which conflicts stop it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/events.h"
#include "runtime-agent/image/internal.h"
#include "runtime-agent/image/store_int.h"

/* Parents followed when pruning: more means a broken parent chain. */
#define MAX_ANCESTORS 1024

enum conflict_kind {
    C_CHILD = 1 << 0,   /* hard: other images are built on it */
    C_RUNNING = 1 << 1, /* hard: a running container uses it */
    C_REF = 1 << 2,     /* soft: references remain */
    C_STOPPED = 1 << 3, /* soft: a stopped container uses it */
};
#define C_HARD (C_CHILD | C_RUNNING)
#define C_SOFT (C_REF | C_STOPPED)

/* How containers use one image, asked before the lock is taken. */
struct usage {
    char id[DIGEST_SIZE];
    enum image_use use;
    char *container;
};

struct deletion {
    struct image_store *s;
    struct usage *uses;
    size_t n_uses;
    json_t *records;
    struct trash trash;
};

static const struct usage *usage_of(struct deletion *d, const char *id)
{
    static const struct usage unused = {.use = IMAGE_UNUSED};

    for (size_t i = 0; i < d->n_uses; i++)
        if (strcmp(d->uses[i].id, id) == 0)
            return &d->uses[i];
    return &unused;
}

/* Length of the repository name in reference key KEY ("name:tag" or "name@digest"). */
static size_t key_repo_len(const char *key)
{
    const char *at = strchr(key, '@');

    return at ? (size_t)(at - key) : (size_t)(strrchr(key, ':') - key);
}

static bool key_is_digest(const char *key)
{
    return strchr(key, '@') != NULL;
}

static bool same_repo(const char *a, const char *b)
{
    size_t la = key_repo_len(a);

    return la == key_repo_len(b) && strncmp(a, b, la) == 0;
}

/* Docker's isSingleReference: one reference, or at most one tag with digests of its repository. */
static bool single_reference(json_t *refs)
{
    const char *tag = NULL, *digest_repo = NULL;
    size_t i;
    json_t *v;

    if (json_array_size(refs) <= 1)
        return json_array_size(refs) == 1;
    json_array_foreach(refs, i, v)
    {
        const char *k = json_string_value(v);
        if (!key_is_digest(k)) {
            if (tag)
                return false;
            tag = k;
        } else if (digest_repo == NULL) {
            digest_repo = k;
        } else if (!same_repo(digest_repo, k)) {
            return false;
        }
    }
    return digest_repo && same_repo(tag ? tag : digest_repo, digest_repo);
}

static int untag(struct deletion *d, const char *key, berr_t *err)
{
    _cleanup_free_ char *id = xstrdup(json_string_value(json_object_get(d->s->repos, key)));
    if (store_drop_ref_locked(d->s, key, err) < 0)
        return -1;
    _cleanup_free_ char *familiar = image_ref_familiarize(key);
    events_image("untag", id, familiar);
    json_array_append_new(d->records, json_pack("{s:s}", "Untagged", familiar));
    return 0;
}

static int untag_all(struct deletion *d, json_t *refs, berr_t *err)
{
    size_t i;
    json_t *v;

    json_array_foreach(refs, i, v)
    {
        if (untag(d, json_string_value(v), err) < 0)
            return -1;
    }
    return 0;
}

/* The first conflict among MASK for IMG: sets *err (EBUSY) and returns -1, *USED tells whether
 * a container caused it; 0 when none. */
static int check_conflict(struct deletion *d, struct img *img, unsigned mask, bool *used,
                          berr_t *err)
{
    const struct usage *u = usage_of(d, img->id);
    const char *hex = digest_hex(img->id);
    const char *c = u->container ? u->container : "";

    *used = false;
    if ((mask & C_CHILD) && store_children_locked(d->s, img->id) > 0)
        return berr_status(err, EBUSY,
                           "conflict: unable to delete %.12s (cannot be forced) - image has "
                           "dependent child images",
                           hex);
    if ((mask & C_RUNNING) && u->use == IMAGE_USED_RUNNING) {
        *used = true;
        return berr_status(err, EBUSY,
                           "conflict: unable to delete %.12s (cannot be forced) - image is being "
                           "used by running container %.12s",
                           hex, c);
    }
    json_t *refs = store_refs_of_locked(d->s, img->id);
    size_t n_refs = json_array_size(refs);
    json_decref(refs);
    if ((mask & C_REF) && n_refs > 0)
        return berr_status(err, EBUSY,
                           "conflict: unable to delete %.12s (must be forced) - image is "
                           "referenced in multiple repositories",
                           hex);
    if ((mask & C_STOPPED) && u->use == IMAGE_USED_STOPPED) {
        *used = true;
        return berr_status(err, EBUSY,
                           "conflict: unable to delete %.12s (must be forced) - image is being "
                           "used by stopped container %.12s",
                           hex, c);
    }
    return 0;
}

static bool dangling(struct deletion *d, struct img *img)
{
    json_t *refs = store_refs_of_locked(d->s, img->id);
    bool none = json_array_size(refs) == 0 && store_children_locked(d->s, img->id) == 0;

    json_decref(refs);
    return none;
}

/* Delete image ID and, when PRUNE, its untagged parents; QUIET stops silently at a conflict
 * on an image that is tagged or used (Docker's imageDeleteHelper). */
static int delete_chain(struct deletion *d, const char *id, bool force, bool prune, bool quiet,
                        berr_t *err)
{
    char cur[DIGEST_SIZE];

    snprintf(cur, sizeof(cur), "%s", id);
    for (;;) {
        struct img *img = store_find_locked(d->s, cur);
        berr_t conflict = NULL;
        bool used;
        if (img == NULL)
            return 0;
        if (check_conflict(d, img, C_HARD | (force ? 0 : C_SOFT), &used, &conflict) < 0) {
            if (quiet && (!dangling(d, img) || used)) {
                berr_free(&conflict);
                return 0;
            }
            *err = conflict;
            return -1;
        }
        char parent[DIGEST_SIZE];
        memcpy(parent, img->parent, DIGEST_SIZE);
        json_t *refs = store_refs_of_locked(d->s, cur);
        int r = untag_all(d, refs, err);
        json_decref(refs);
        if (r < 0)
            return -1;
        json_array_append_new(d->records, json_pack("{s:s}", "Deleted", cur));
        events_image("delete", cur, cur);
        if (store_remove_image_locked(d->s, img, &d->trash, d->records, err) < 0)
            return -1;
        if (!prune || parent[0] == '\0')
            return 0;
        memcpy(cur, parent, DIGEST_SIZE);
        force = false;
        quiet = true;
    }
}

/* A tag was removed: digest references of the same repository go too when no tag is left. */
static int drop_orphan_digests(struct deletion *d, const char *id, const char *key, berr_t *err)
{
    json_t *refs = store_refs_of_locked(d->s, id), *v;
    size_t i;
    int r = 0;

    json_array_foreach(refs, i, v)
    {
        const char *k = json_string_value(v);
        if (same_repo(k, key) && !key_is_digest(k))
            goto out;
    }
    json_array_foreach(refs, i, v)
    {
        const char *k = json_string_value(v);
        if (r == 0 && same_repo(k, key))
            r = untag(d, k, err);
    }
out:
    json_decref(refs);
    return r;
}

/* Deleting by reference: untag it; true in *DONE when other references keep the image. */
static int delete_by_ref(struct deletion *d, struct lookup *l, const char *name, bool force,
                         bool *done, berr_t *err)
{
    const char *id = l->img->id;
    json_t *refs = store_refs_of_locked(d->s, id);
    size_t n = json_array_size(refs);
    const struct usage *u = usage_of(d, id);

    json_decref(refs);
    if (!force && n == 1 && u->use != IMAGE_UNUSED)
        return berr_status(err, EBUSY,
                           "conflict: unable to remove repository reference \"%s\" (must force) "
                           "- container %.12s is using its referenced image %.12s",
                           name, u->container ? u->container : "", digest_hex(id));
    if (untag(d, l->key, err) < 0)
        return -1;
    if (!key_is_digest(l->key) && drop_orphan_digests(d, id, l->key, err) < 0)
        return -1;
    refs = store_refs_of_locked(d->s, id);
    *done = json_array_size(refs) > 0;
    json_decref(refs);
    return 0;
}

/* Deleting by ID: when all references belong to one repository, untag them first. */
static int delete_by_id(struct deletion *d, struct img *img, bool force, berr_t *err)
{
    json_t *refs = store_refs_of_locked(d->s, img->id);
    bool used;
    int r = 0;

    if (single_reference(refs)) {
        r = check_conflict(d, img, C_HARD | (force ? 0 : C_STOPPED), &used, err);
        if (r == 0)
            r = untag_all(d, refs, err);
    }
    json_decref(refs);
    return r;
}

/* The IDs of IMG and of its ancestors, to ask the caller about before locking again. */
static void collect_ids(struct image_store *s, struct img *img, bool prune, struct deletion *d)
{
    size_t cap = 0;

    while (img && d->n_uses < MAX_ANCESTORS) {
        GROW(d->uses, d->n_uses, cap);
        struct usage *u = &d->uses[d->n_uses++];
        memset(u, 0, sizeof(*u));
        memcpy(u->id, img->id, DIGEST_SIZE);
        if (!prune || img->parent[0] == '\0')
            break;
        img = store_find_locked(s, img->parent);
    }
}

int image_delete(struct image_store *s, const char *ref_or_id, const struct image_delete_opts *opts,
                 json_t **report, berr_t *err)
{
    const struct image_delete_opts none = {0};
    struct deletion d = {.s = s};
    struct lookup l;
    char id[DIGEST_SIZE];
    bool done = false, removed_ref = false;
    int r;

    if (opts == NULL)
        opts = &none;
    pthread_mutex_lock(&s->lock);
    r = store_lookup_locked(s, ref_or_id, &l, err);
    if (r == 0) {
        memcpy(id, l.img->id, DIGEST_SIZE);
        collect_ids(s, l.img, !opts->noprune, &d);
    }
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        return -1;
    /* Containers are asked without the store lock: their module may call into the store. */
    for (size_t i = 0; opts->in_use && i < d.n_uses; i++)
        d.uses[i].use = opts->in_use(opts->ctx, d.uses[i].id, &d.uses[i].container);

    d.records = json_array();
    pthread_mutex_lock(&s->lock);
    struct img *img = store_find_locked(s, id);
    if (img == NULL) {
        r = berr_status(err, ENOENT, "No such image: %s", ref_or_id);
    } else if (l.by_ref && json_object_get(s->repos, l.key) != NULL) {
        r = delete_by_ref(&d, &l, ref_or_id, opts->force, &done, err);
        removed_ref = true;
    } else {
        r = delete_by_id(&d, img, opts->force, err);
    }
    if (r == 0 && !done)
        r = delete_chain(&d, id, opts->force, !opts->noprune, removed_ref, err);
    pthread_mutex_unlock(&s->lock);

    trash_empty(&d.trash);
    lookup_clear(&l);
    for (size_t i = 0; i < d.n_uses; i++)
        free(d.uses[i].container);
    free(d.uses);
    if (r < 0) {
        json_decref(d.records);
        return -1;
    }
    *report = d.records;
    return 0;
}
