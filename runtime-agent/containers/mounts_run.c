/* Using a container's mount points: its volumes (made, held, filled by copy-up, removed with
 * rm -v), the runtime's mounts at start, and how inspect and ps show them. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/containers/fsview.h"
#include "runtime-agent/containers/mounts.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/log.h"
#include "runtime-agent/remap.h"
#include "runtime-agent/volumes/copy.h"
#include "runtime-agent/volumes/store.h"

#define SELINUX_MAGIC 0xf97cff8c
#define SELINUX_XATTR "security.selinux"
#define CONTAINER_FILE_LABEL "system_u:object_r:container_file_t:s0"

static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static bool is(const json_t *p, const char *type)
{
    return strcmp(str(p, "Type"), type) == 0;
}

/* ---- volumes: acquire, release, copy-up, rm -v --------------------------------------- */

static int acquire_one(struct containers *cs, json_t *p, json_t *held, berr_t *err)
{
    struct vol_spec spec = {
        .name = str(p, "Name"),
        .driver = str(p, "_driver"),
        .labels = json_object_get(p, "_labels"),
        .options = json_object_get(p, "_opts"),
    };
    char *name = NULL;
    bool created = false;

    if (vol_acquire(cs->volumes, &spec, &name, &created, err) < 0)
        return -1;
    _cleanup_free_ char *source = vol_data_path(cs->volumes, name);
    json_array_append_new(held, json_pack("{s:s,s:b}", "name", name, "created", created));
    json_object_set_new(p, "Name", json_string(name));
    json_object_set_new(p, "Source", json_string(source));
    json_object_del(p, "_driver");
    json_object_del(p, "_labels");
    json_object_del(p, "_opts");
    free(name);
    return 0;
}

int mounts_acquire(struct containers *cs, struct container *c, json_t **held, berr_t *err)
{
    size_t i;
    json_t *p;

    *held = json_array();
    json_array_foreach(c->mounts, i, p)
    {
        if (is(p, "volume") && acquire_one(cs, p, *held, err) < 0) {
            mounts_release(cs, *held, true);
            *held = NULL;
            return -1;
        }
    }
    return 0;
}

void mounts_release(struct containers *cs, json_t *held, bool failed)
{
    size_t i;
    json_t *h;

    json_array_foreach(held, i, h)
    {
        vol_release(cs->volumes, str(h, "name"));
        if (failed && json_is_true(json_object_get(h, "created")))
            vol_remove(cs->volumes, str(h, "name"), true, NULL, NULL);
    }
    json_decref(held);
}

/* Whether volume point P gets the image's content: asked for, a plain local volume, empty. */
static bool wants_copy(struct containers *cs, const json_t *p)
{
    if (!is(p, "volume") || !json_is_true(json_object_get(p, "CopyData")))
        return false;
    json_t *opts = vol_options(cs->volumes, str(p, "Name"));
    bool plain = opts && json_object_get(opts, "type") == NULL;
    json_decref(opts);
    return plain && vol_dir_empty(str(p, "Source"));
}

/* ---- remapped containers (--userns-remap) ------------------------------------------------ */

static __thread const struct remap *shifting;

/* Copy-up copies the image's files as they are on disk, owned by host ids; a remapped
 * container's root must own what the image's root owns: shift ids inside the map. */
static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag, (void)ftw;
    uid_t uid = st->st_uid < shifting->uid_size ? st->st_uid + shifting->uid : st->st_uid;
    gid_t gid = st->st_gid < shifting->gid_size ? st->st_gid + shifting->gid : st->st_gid;
    if (lchown(path, uid, gid) < 0)
        return -1;
    /* chown clears set-id bits: put them back (not on symlinks, which have no mode). */
    if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)))
        chmod(path, st->st_mode & 07777);
    return 0;
}

static int shift_ids(const char *dir, const struct remap *r, berr_t *err)
{
    shifting = r;
    int rc = nftw(dir, shift_one, 16, FTW_PHYS | FTW_MOUNT);
    shifting = NULL;
    return rc == 0 ? 0 : berr_set(err, errno, "shift the owners in %s to the remapped ids", dir);
}

/* A local volume's directory, made by root: a remapped root gets to own it (once, while
 * root still owns it, as dockerd makes volumes under the remapped root). */
static int own_volume(const char *dir, const struct remap *r, berr_t *err)
{
    struct stat st;

    if (r == NULL || lstat(dir, &st) < 0 || st.st_uid != 0 || st.st_gid != 0)
        return 0;
    if (lchown(dir, r->uid, r->gid) < 0)
        return berr_set(err, errno, "chown volume %s to the remapped root", dir);
    return 0;
}

static int copy_one(int root, const json_t *p, const struct remap *r, berr_t *err)
{
    _cleanup_close_ int src = cp_openat(root, str(p, "Destination"), O_RDONLY | O_DIRECTORY);
    if (src < 0)
        return 0; /* nothing (or no directory) there in the image */
    _cleanup_close_ int dst =
        open(str(p, "Source"), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst < 0)
        return berr_set(err, errno, "open %s", str(p, "Source"));
    if (vol_copy_up(src, dst, err) < 0) {
        vol_empty(dst); /* it was empty: leave no partial copy behind */
        return berr_prefix(err, "copy %s into volume %s", str(p, "Destination"), str(p, "Name"));
    }
    if (r && shift_ids(str(p, "Source"), r, err) < 0)
        return berr_prefix(err, "volume %s", str(p, "Name"));
    return 0;
}

int mounts_copy_up(struct containers *cs, struct container *c, berr_t *err)
{
    json_t *todo = json_array(), *p;
    struct ctr_view *v = NULL;
    size_t i;
    int ret = 0;

    json_array_foreach(c->mounts, i, p)
    {
        if (wants_copy(cs, p))
            json_array_append(todo, p);
    }
    if (json_array_size(todo) > 0)
        ret = ctr_view_open(cs, c, VIEW_NO_LOCK, &v, err);
    json_array_foreach(todo, i, p)
    {
        if (ret == 0)
            ret = copy_one(v->root, p, ctr_remap(cs, c), err);
    }
    ctr_view_close(v);
    json_decref(todo);
    return ret < 0 ? berr_prefix(err, "container %.12s: copy-up", c->id) : 0;
}

void mounts_remove_anonymous(struct containers *cs, struct container *c)
{
    size_t i;
    json_t *p;

    json_array_foreach(c->mounts, i, p)
    {
        if (!is(p, "volume") || !json_is_true(json_object_get(p, "Anonymous")))
            continue;
        berr_t e = NULL;
        /* Another container using it (--volumes-from) keeps it, as dockerd does. */
        if (vol_remove(cs->volumes, str(p, "Name"), true, NULL, &e) < 0 && e->errnum != EBUSY)
            log_warn("container %.12s: remove volume %s: %s", c->id, str(p, "Name"), berr_msg(e));
        berr_free(&e);
    }
}

/* ---- the runtime's mounts ------------------------------------------------------------ */

static bool selinux_enabled(void)
{
    struct statfs sf;
    return statfs("/sys/fs/selinux", &sf) == 0 && (unsigned long)sf.f_type == SELINUX_MAGIC;
}

static int relabel_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    lsetxattr(path, SELINUX_XATTR, CONTAINER_FILE_LABEL, strlen(CONTAINER_FILE_LABEL) + 1, 0);
    return 0;
}

/* :z/:Z: label the source for containers where SELinux is enabled (nothing to do elsewhere). */
static void relabel(const json_t *p, const char *source)
{
    if (*str(p, "Relabel") && selinux_enabled())
        nftw(source, relabel_one, 16, FTW_PHYS | FTW_MOUNT);
}

static json_t *bind_spec(const char *source, const json_t *p, const char *prop)
{
    bool nonrec = json_is_true(json_object_get(p, "NonRecursive"));
    bool rw = json_is_true(json_object_get(p, "RW"));

    return json_pack("{s:s,s:s,s:s,s:[sss]}", "source", source, "destination",
                     str(p, "Destination"), "type", "bind", "options", nonrec ? "bind" : "rbind",
                     rw ? "rw" : "ro", *prop ? prop : "rprivate");
}

/* A volume with the local driver's type/device/o options: mounted as mount(8) would. */
static json_t *option_spec(const json_t *opts, const json_t *p)
{
    _cleanup_free_ char *o = xstrdup(str(opts, "o"));
    json_t *options = json_array();
    bool bind = false;
    char *save = NULL;

    for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "bind") == 0 || strcmp(t, "rbind") == 0)
            bind = true;
        json_array_append_new(options, json_string(t));
    }
    if (!json_is_true(json_object_get(p, "RW")))
        json_array_append_new(options, json_string("ro"));
    return json_pack("{s:s,s:s,s:s,s:o}", "source", str(opts, "device"), "destination",
                     str(p, "Destination"), "type", bind ? "bind" : str(opts, "type"), "options",
                     options);
}

static json_t *tmpfs_spec(const json_t *p)
{
    json_t *options = json_pack("[sss]", "noexec", "nosuid", "nodev");
    _cleanup_free_ char *o = xstrdup(str(p, "TmpfsOptions"));
    char *save = NULL;

    for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(options, json_string(t));
    return json_pack("{s:s,s:s,s:s,s:o}", "source", "tmpfs", "destination", str(p, "Destination"),
                     "type", "tmpfs", "options", options);
}

static json_t *volume_spec(struct containers *cs, const json_t *p, const struct remap *r,
                           berr_t *err)
{
    json_t *opts = vol_options(cs->volumes, str(p, "Name"));
    json_t *m = NULL;

    if (opts == NULL)
        http_err(err, ENOENT, "get %s: no such volume", str(p, "Name"));
    else if (json_object_get(opts, "type"))
        m = option_spec(opts, p);
    else if (own_volume(str(p, "Source"), r, err) == 0) {
        relabel(p, str(p, "Source"));
        m = bind_spec(str(p, "Source"), p, "");
    }
    json_decref(opts);
    return m;
}

static json_t *point_spec(struct containers *cs, const json_t *p, const struct remap *r,
                          berr_t *err)
{
    const char *source = str(p, "Source");

    if (is(p, "tmpfs"))
        return tmpfs_spec(p);
    if (is(p, "volume"))
        return volume_spec(cs, p, r, err);
    if (json_is_true(json_object_get(p, "CreateSource")) && !file_exists(source) &&
        mkdir_p(source, 0755, err) < 0) {
        berr_prefix(err, "create the source of the bind mount %s", str(p, "Destination"));
        return NULL;
    }
    relabel(p, source);
    return bind_spec(source, p, str(p, "Propagation"));
}

int mounts_spec(struct containers *cs, struct container *c, json_t **mounts, berr_t *err)
{
    size_t i;
    json_t *p;

    *mounts = json_array();
    json_array_foreach(c->mounts, i, p)
    {
        json_t *m = point_spec(cs, p, ctr_remap(cs, c), err);
        if (m == NULL) {
            json_decref(*mounts);
            *mounts = NULL;
            return berr_prefix(err, "container %.12s: mount %s", c->id, str(p, "Destination"));
        }
        json_array_append_new(*mounts, m);
    }
    return 0;
}

json_t *mounts_view_binds(struct containers *cs, const json_t *points)
{
    json_t *out = json_array(), *p;
    size_t i;

    json_array_foreach(points, i, p)
    {
        json_t *opts = is(p, "volume") ? vol_options(cs->volumes, str(p, "Name")) : NULL;
        const char *source = str(p, "Source");
        if (opts && json_object_get(opts, "type"))
            source = strstr(str(opts, "o"), "bind") ? str(opts, "device") : "";
        if (!is(p, "tmpfs") && *source && file_exists(source))
            json_array_append_new(out, json_pack("{s:s,s:s,s:b}", "source", source, "destination",
                                                 str(p, "Destination"), "ro",
                                                 !json_is_true(json_object_get(p, "RW"))));
        json_decref(opts);
    }
    return out;
}

/* ---- presentation and queries -------------------------------------------------------- */

json_t *mounts_public(const json_t *points)
{
    json_t *out = json_array(), *p;
    size_t i;

    json_array_foreach(points, i, p)
    {
        json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s}", "Type", str(p, "Type"), "Source",
                              str(p, "Source"), "Destination", str(p, "Destination"), "Mode",
                              str(p, "Mode"), "RW", json_object_get(p, "RW"), "Propagation",
                              str(p, "Propagation"));
        if (*str(p, "Name"))
            json_object_set_new(m, "Name", json_string(str(p, "Name")));
        if (*str(p, "Driver"))
            json_object_set_new(m, "Driver", json_string(str(p, "Driver")));
        json_array_append_new(out, m);
    }
    return out;
}

bool mounts_use_volume(const json_t *points, const char *name)
{
    size_t i;
    json_t *p;

    json_array_foreach(points, i, p)
    {
        if (is(p, "volume") && strcmp(str(p, "Name"), name) == 0)
            return true;
    }
    return false;
}

const json_t *mounts_find(const json_t *points, const char *path)
{
    const json_t *best = NULL;
    size_t i, best_len = 0;
    json_t *p;

    json_array_foreach(points, i, p)
    {
        const char *d = str(p, "Destination");
        size_t len = strlen(d);
        bool below = strncmp(path, d, len) == 0 && (path[len] == '\0' || path[len] == '/');
        if (below && len >= best_len) {
            best = p;
            best_len = len;
        }
    }
    return best;
}
