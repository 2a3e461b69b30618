/* docker diff and the mount-point filter for commits: see diff.h. */
#include "runtime-agent/image/diff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/internal.h"

#define MAX_DEPTH 256
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define AUFS_META ".wh..wh."

/* Open REL below DFD with no symlink anywhere on the way; a symlink as the last component is
 * opened itself when FLAGS has O_PATH | O_NOFOLLOW. */
static int open_beneath(int dfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dfd, *rel ? rel : ".", &how, sizeof(how));
}

/* lstat of REL below DFD; -1 (errno set) when it is not there or its way has a symlink. */
static int stat_beneath(int dfd, const char *rel, struct stat *st)
{
    _cleanup_close_ int fd = open_beneath(dfd, rel, O_PATH | O_NOFOLLOW);

    return fd < 0 ? -1 : fstat(fd, st);
}

static bool is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

static bool fd_opaque(int fd)
{
    char v[2];
    _cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", fd);
    /* An O_PATH fd cannot fgetxattr: go through its /proc link (never a symlink here). */
    ssize_t n = getxattr(path, OPAQUE_XATTR, v, sizeof(v));

    return n == 1 && v[0] == 'y';
}

static char *join_rel(const char *prefix, const char *name)
{
    return *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
}

bool diff_skipped(const struct diff_skip *skip, const char *path)
{
    for (size_t i = 0; skip && i < skip->n; i++)
        if (strcmp(skip->paths[i], path) == 0)
            return true;
    return false;
}

void diff_skip_clear(struct diff_skip *skip)
{
    for (size_t i = 0; i < skip->n; i++)
        free(skip->paths[i]);
    free(skip->paths);
    *skip = (struct diff_skip){0};
}

static void skip_add(struct diff_skip *skip, const char *path)
{
    if (diff_skipped(skip, path))
        return;
    GROW(skip->paths, skip->n, skip->cap);
    skip->paths[skip->n++] = xstrdup(path);
}

/* Directory REL below UPPERFD holds nothing SKIP does not list, and is not opaque. */
static bool only_skipped(int upperfd, const char *rel, const struct diff_skip *skip)
{
    _cleanup_close_ int fd = open_beneath(upperfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    char **names;
    size_t n;
    bool only = true;

    if (fd < 0 || fd_opaque(fd) || image_dir_names(fd, &names, &n) < 0)
        return false;
    for (size_t i = 0; i < n && only; i++) {
        _cleanup_free_ char *child = join_rel(rel, names[i]);
        only = diff_skipped(skip, child);
    }
    image_names_free(names, n);
    return only;
}

static size_t depth_of(const char *path)
{
    size_t d = 0;

    for (; *path; path++)
        d += *path == '/';
    return d;
}

static int deeper_first(const void *a, const void *b)
{
    size_t da = depth_of(*(char *const *)a), db = depth_of(*(char *const *)b);

    return da == db ? strcmp(*(char *const *)a, *(char *const *)b) : (da < db ? 1 : -1);
}

int diff_find_stubs(const char *upper, const char *const *stubs, size_t n, struct diff_skip *skip,
                    berr_t *err)
{
    _cleanup_close_ int upperfd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    char **order = xcalloc(n + 1, sizeof(char *));
    struct diff_skip parents = {0};

    if (upperfd < 0) {
        free(order);
        return berr_set(err, errno, "changes: open %s", upper);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (char *)stubs[i];
    qsort(order, n, sizeof(char *), deeper_first);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat_beneath(upperfd, order[i], &st) < 0)
            continue;
        if ((S_ISREG(st.st_mode) && st.st_size == 0) ||
            (S_ISDIR(st.st_mode) && only_skipped(upperfd, order[i], skip))) {
            skip_add(skip, order[i]);
            _cleanup_free_ char *p = xstrdup(order[i]);
            for (char *slash; (slash = strrchr(p, '/')) != NULL;) {
                *slash = '\0';
                skip_add(&parents, p);
            }
        }
    }
    free(order);
    qsort(parents.paths, parents.n, sizeof(char *), deeper_first);
    for (size_t i = 0; i < parents.n; i++)
        if (only_skipped(upperfd, parents.paths[i], skip))
            skip_add(skip, parents.paths[i]);
    diff_skip_clear(&parents);
    return 0;
}

/* ---- docker diff ----------------------------------------------------------------------- */

struct walker {
    int *lowers; /* layer directory fds, top first */
    size_t n_lowers;
    const struct diff_skip *skip;
    json_t *out;
};

/* Whether REL exists in the layers below (the topmost layer that has it decides: a whiteout
 * there means it does not); *ST gets what the layer has. */
static bool in_lowers(const struct walker *w, const char *rel, struct stat *st)
{
    for (size_t i = 0; i < w->n_lowers; i++) {
        if (stat_beneath(w->lowers[i], rel, st) == 0)
            return !is_whiteout(st);
    }
    return false;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec &&
           (a->tv_nsec == 0 || b->tv_nsec == 0 || a->tv_nsec == b->tv_nsec);
}

static void record(struct walker *w, const char *rel, enum diff_kind kind)
{
    json_array_append_new(w->out, json_pack("{s:s+, s:i}", "Path", "/", rel, "Kind", (int)kind));
}

static int walk(struct walker *w, int dfd, const char *prefix, bool *dir_listed, int depth,
                berr_t *err);

static int walk_one(struct walker *w, int dfd, const char *name, const char *prefix,
                    bool *dir_listed, int depth, berr_t *err)
{
    _cleanup_free_ char *rel = join_rel(prefix, name);
    struct stat st, low;
    enum diff_kind kind = DIFF_ADDED;
    bool listed = true, listed_self = false;
    _cleanup_close_ int sub = -1;

    if (diff_skipped(w->skip, rel) || strncmp(name, AUFS_META, strlen(AUFS_META)) == 0)
        return 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "changes: stat %s", rel);
    if (S_ISDIR(st.st_mode)) {
        sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return berr_set(err, errno, "changes: open %s", rel);
    }
    if (is_whiteout(&st)) {
        kind = DIFF_DELETED;
    } else if (in_lowers(w, rel, &low)) {
        if (sub >= 0 && fd_opaque(sub) && S_ISDIR(low.st_mode))
            kind = DIFF_DELETED;
        else if (sub >= 0 && S_ISDIR(low.st_mode) && st.st_size == low.st_size &&
                 st.st_mode == low.st_mode && same_time(&st.st_mtim, &low.st_mtim))
            listed = false;
        else
            kind = DIFF_MODIFIED;
    }
    if (listed && kind != DIFF_MODIFIED && *prefix && !*dir_listed) {
        record(w, prefix, DIFF_MODIFIED);
        *dir_listed = true;
    }
    if (listed) {
        record(w, rel, kind);
        listed_self = sub >= 0;
    }
    return sub >= 0 ? walk(w, sub, rel, &listed_self, depth + 1, err) : 0;
}

static int walk(struct walker *w, int dfd, const char *prefix, bool *dir_listed, int depth,
                berr_t *err)
{
    char **names;
    size_t n;
    int r = 0;

    if (depth > MAX_DEPTH)
        return berr_set(err, 0, "changes: %s: directories nested too deeply", prefix);
    if (image_dir_names(dfd, &names, &n) < 0)
        return berr_set(err, errno, "changes: read directory /%s", prefix);
    for (size_t i = 0; i < n && r == 0; i++)
        r = walk_one(w, dfd, names[i], prefix, dir_listed, depth, err);
    image_names_free(names, n);
    return r;
}

int diff_changes(const char *upper, char *const *lowers, size_t n_lowers,
                 const struct diff_skip *skip, json_t **changes, berr_t *err)
{
    struct walker w = {xcalloc(n_lowers + 1, sizeof(int)), 0, skip, json_array()};
    _cleanup_close_ int upperfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool root_listed = true;
    int r = -1;

    if (upperfd < 0) {
        berr_set(err, errno, "changes: open %s", upper);
        goto out;
    }
    for (; w.n_lowers < n_lowers; w.n_lowers++) {
        w.lowers[w.n_lowers] = open(lowers[w.n_lowers], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (w.lowers[w.n_lowers] < 0) {
            berr_set(err, errno, "changes: open layer %s", lowers[w.n_lowers]);
            goto out;
        }
    }
    r = walk(&w, upperfd, "", &root_listed, 0, err);
out:
    for (size_t i = 0; i < w.n_lowers; i++)
        close(w.lowers[i]);
    free(w.lowers);
    if (r < 0) {
        json_decref(w.out);
        return -1;
    }
    *changes = w.out;
    return 0;
}
