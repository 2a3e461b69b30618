/* PUT /containers/{id}/archive: extract a tar into a directory of the container.
 *
 * Each entry's parent directory is resolved (and made when missing) inside the container's
 * root; the entry itself is created with *at() calls that never follow a symlink, and modes
 * are applied through an O_PATH fd of what was just made, so a running container that swaps
 * a file for a symlink meanwhile cannot redirect anything outside its root. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/daemon.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/beneath.h"
#include "runtime-agent/image/io.h"

#define BLOCK_SIZE 65536
#define FD_PATH_LEN 32

struct dir_time {
    char *path;
    struct timespec ts[2];
};

struct extractor {
    int root;
    const char *dir; /* the extraction point, absolute in the container */
    const struct cp_extract_opts *o;
    struct archive *tar;
    struct io_reader *in;
    char buf[BLOCK_SIZE];
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
};

/* One entry being made: its parent directory and its names. */
struct target {
    int pfd;
    const char *base;
    const char *rel; /* relative to the extraction point, for messages */
    char *path;      /* absolute in the container */
};

static la_ssize_t body_read(struct archive *a, void *ctx, const void **buf)
{
    struct extractor *ex = ctx;
    ssize_t n = ex->in->read(ex->in->ctx, ex->buf, sizeof(ex->buf));

    if (n < 0) {
        archive_set_error(a, errno, "read the request body");
        return -1;
    }
    *buf = ex->buf;
    return n;
}

static int tar_error(struct extractor *ex, const char *rel, berr_t *err)
{
    const char *msg = archive_error_string(ex->tar);
    return berr_set(err, 0, "extract to %s: %s%s%s", ex->dir, rel ? rel : "", rel ? ": " : "",
                    msg ? msg : "read tar");
}

/* ---- metadata ------------------------------------------------------------------------ */

static void owner_of(struct extractor *ex, struct archive_entry *e, uid_t *uid, gid_t *gid)
{
    *uid = ex->o->chown ? ex->o->uid : (uid_t)archive_entry_uid(e);
    *gid = ex->o->chown ? ex->o->gid : (gid_t)archive_entry_gid(e);
}

/* Owner, xattrs, then mode (chown clears setuid bits) of what FD (O_PATH or not) names. */
static int set_meta(struct extractor *ex, int fd, struct archive_entry *e, const char *rel,
                    berr_t *err)
{
    char path[FD_PATH_LEN];
    const char *name;
    const void *value;
    size_t size;
    uid_t uid;
    gid_t gid;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    owner_of(ex, e, &uid, &gid);
    if (chown(path, uid, gid) < 0)
        return berr_set(err, errno, "extract to %s: %s: chown", ex->dir, rel);
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (setxattr(path, name, value, size, 0) < 0 && errno != ENOTSUP && errno != EPERM)
            return berr_set(err, errno, "extract to %s: %s: set xattr %s", ex->dir, rel, name);
    }
    if (chmod(path, archive_entry_perm(e) & 07777) < 0)
        return berr_set(err, errno, "extract to %s: %s: chmod", ex->dir, rel);
    return 0;
}

/* ---- entries ------------------------------------------------------------------------- */

/* Where tests stop berthd in the middle of writing a file (BERTHD_FAILPOINTS). */
static void writing_block(void)
{
    failpoint("cp-extract-writing");
}

static int make_file(struct extractor *ex, struct target *t, struct archive_entry *e, berr_t *err)
{
    struct timespec ts[2];
    _cleanup_close_ int fd =
        openat(t->pfd, t->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return berr_set(err, errno, "extract to %s: %s: create", ex->dir, t->rel);
    if (io_archive_extract_data(ex->tar, e, fd, writing_block, err) < 0)
        return berr_prefix(err, "extract to %s: %s", ex->dir, t->rel);
    if (set_meta(ex, fd, e, t->rel, err) < 0)
        return -1;
    io_archive_entry_times(e, ts);
    if (futimens(fd, ts) < 0)
        return berr_set(err, errno, "extract to %s: %s: set times", ex->dir, t->rel);
    return 0;
}

static int make_dir(struct extractor *ex, struct target *t, bool exists, struct archive_entry *e,
                    berr_t *err)
{
    if (!exists && mkdirat(t->pfd, t->base, 0700) < 0)
        return berr_set(err, errno, "extract to %s: %s: create directory", ex->dir, t->rel);
    _cleanup_close_ int fd =
        openat(t->pfd, t->base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "extract to %s: %s: open directory", ex->dir, t->rel);
    if (set_meta(ex, fd, e, t->rel, err) < 0)
        return -1;
    if (ex->n_dirs == ex->cap_dirs) {
        ex->cap_dirs = ex->cap_dirs ? ex->cap_dirs * 2 : 16;
        struct dir_time *nd = realloc(ex->dirs, ex->cap_dirs * sizeof(*nd));
        if (nd == NULL)
            abort();
        ex->dirs = nd;
    }
    struct dir_time *d = &ex->dirs[ex->n_dirs++];
    d->path = xstrdup(t->path);
    io_archive_entry_times(e, d->ts);
    return 0;
}

/* Owner and times of a symlink, never following it. */
static int link_meta(struct extractor *ex, struct target *t, struct archive_entry *e, berr_t *err)
{
    struct timespec ts[2];
    uid_t uid;
    gid_t gid;

    owner_of(ex, e, &uid, &gid);
    if (fchownat(t->pfd, t->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "extract to %s: %s: chown", ex->dir, t->rel);
    io_archive_entry_times(e, ts);
    if (utimensat(t->pfd, t->base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "extract to %s: %s: set times", ex->dir, t->rel);
    return 0;
}

static int make_symlink(struct extractor *ex, struct target *t, struct archive_entry *e,
                        berr_t *err)
{
    const char *to = archive_entry_symlink(e);

    /* Only text: the link is resolved inside the container like any other. */
    if (to == NULL || symlinkat(to, t->pfd, t->base) < 0)
        return berr_set(err, to ? errno : EINVAL, "extract to %s: %s: create symbolic link",
                        ex->dir, t->rel);
    return link_meta(ex, t, e, err);
}

/* A device node or FIFO; its mode is set through an O_PATH fd of the node itself. */
static int make_node(struct extractor *ex, struct target *t, struct archive_entry *e, berr_t *err)
{
    struct timespec ts[2];
    mode_t type = archive_entry_filetype(e);

    if (mknodat(t->pfd, t->base, type | 0600, archive_entry_rdev(e)) < 0)
        return berr_set(err, errno, "extract to %s: %s: create node", ex->dir, t->rel);
    _cleanup_close_ int fd = openat(t->pfd, t->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return berr_set(err, errno, "extract to %s: %s: open node", ex->dir, t->rel);
    if ((st.st_mode & S_IFMT) != type)
        return berr_set(err, 0, "extract to %s: %s: replaced while extracted", ex->dir, t->rel);
    if (set_meta(ex, fd, e, t->rel, err) < 0)
        return -1;
    io_archive_entry_times(e, ts);
    if (utimensat(t->pfd, t->base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "extract to %s: %s: set times", ex->dir, t->rel);
    return 0;
}

/* A hard link to an entry extracted before, named relative to the extraction point. */
static int make_hardlink(struct extractor *ex, struct target *t, struct archive_entry *e,
                         berr_t *err)
{
    _cleanup_free_ char *rel = beneath_clean(archive_entry_hardlink(e));

    if (rel == NULL || *rel == '\0')
        return http_err(err, EINVAL, "extract to %s: %s: hard link to %s leaves %s", ex->dir,
                        t->rel, archive_entry_hardlink(e), ex->dir);
    _cleanup_free_ char *to = xasprintf("%s/%s", ex->dir, rel);
    char *slash = strrchr(to, '/');
    *slash = '\0';
    _cleanup_close_ int tfd = cp_openat(ex->root, to, O_PATH | O_DIRECTORY);
    if (tfd < 0 || linkat(tfd, slash + 1, t->pfd, t->base, 0) < 0)
        return berr_set(err, errno, "extract to %s: %s: hard link to %s", ex->dir, t->rel,
                        archive_entry_hardlink(e));
    return 0;
}

/* Clear the way for entry E: an existing directory stays for a directory entry (merged);
 * anything else is removed, unless no_overwrite_dir_non_dir forbids it. *EXISTS tells what
 * is left. */
static int clear(struct extractor *ex, struct target *t, struct archive_entry *e, bool *exists,
                 berr_t *err)
{
    struct stat st;
    bool dir_entry = archive_entry_filetype(e) == AE_IFDIR && archive_entry_hardlink(e) == NULL;

    *exists = fstatat(t->pfd, t->base, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!*exists)
        return 0;
    if (ex->o->no_overwrite_dir_non_dir && S_ISDIR(st.st_mode) && !dir_entry)
        return http_err(err, EINVAL, "cannot overwrite directory \"%s\" with non-directory \"%s\"",
                        t->path, ex->dir);
    if (ex->o->no_overwrite_dir_non_dir && !S_ISDIR(st.st_mode) && dir_entry)
        return http_err(err, EINVAL, "cannot overwrite non-directory \"%s\" with directory \"%s\"",
                        t->path, ex->dir);
    if (S_ISDIR(st.st_mode) && dir_entry)
        return 0;
    if (beneath_remove(t->pfd, t->base) < 0)
        return berr_set(err, errno, "extract to %s: %s: remove what is there", ex->dir, t->rel);
    *exists = false;
    return 0;
}

static int make(struct extractor *ex, struct target *t, struct archive_entry *e, berr_t *err)
{
    bool exists;

    if (clear(ex, t, e, &exists, err) < 0)
        return -1;
    if (archive_entry_hardlink(e) != NULL)
        return make_hardlink(ex, t, e, err);
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
        return make_file(ex, t, e, err);
    case AE_IFDIR:
        return make_dir(ex, t, exists, e, err);
    case AE_IFLNK:
        return make_symlink(ex, t, e, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        return make_node(ex, t, e, err);
    default:
        return 0; /* sockets and unknown types, as Docker skips them */
    }
}

static int extract_entry(struct extractor *ex, struct archive_entry *e, berr_t *err)
{
    const char *name = archive_entry_pathname(e);
    _cleanup_free_ char *rel = name ? beneath_clean(name) : NULL;

    if (rel == NULL)
        return http_err(err, EINVAL, "extract to %s: %s: the path leaves %s", ex->dir,
                        name ? name : "(no name)", ex->dir);
    if (*rel == '\0')
        return 0; /* the extraction point itself ("." of a "dir/." copy) */
    struct target t = {.pfd = -1, .rel = rel};
    t.path = strcmp(ex->dir, "/") == 0 ? xasprintf("/%s", rel) : xasprintf("%s/%s", ex->dir, rel);
    char *slash = strrchr(t.path, '/');
    *slash = '\0';
    t.pfd = cp_mkdirs(ex->root, *t.path ? t.path : "/");
    *slash = '/';
    t.base = slash + 1;
    int ret = t.pfd < 0
                  ? berr_set(err, errno, "extract to %s: %s: make its directory", ex->dir, rel)
                  : make(ex, &t, e, err);
    if (t.pfd >= 0)
        close(t.pfd);
    free(t.path);
    return ret;
}

/* Directory times last: what was made inside changed them. */
static void fix_dir_times(struct extractor *ex)
{
    for (size_t i = ex->n_dirs; i > 0; i--) {
        struct dir_time *d = &ex->dirs[i - 1];
        int fd = cp_openat(ex->root, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd >= 0) {
            futimens(fd, d->ts);
            close(fd);
        }
        free(d->path);
    }
    free(ex->dirs);
}

static int extract_all(struct extractor *ex, berr_t *err)
{
    struct archive_entry *e;
    int r;

    archive_read_support_filter_gzip(ex->tar);
    archive_read_support_filter_bzip2(ex->tar);
    archive_read_support_filter_xz(ex->tar);
    archive_read_support_filter_zstd(ex->tar);
    archive_read_support_format_tar(ex->tar);
    archive_read_support_format_empty(ex->tar);
    if (archive_read_open(ex->tar, ex, NULL, body_read, NULL) != ARCHIVE_OK)
        return tar_error(ex, NULL, err);
    while ((r = archive_read_next_header(ex->tar, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN)
            return tar_error(ex, NULL, err);
        if (extract_entry(ex, e, err) < 0)
            return -1;
    }
    return 0;
}

int cp_extract(int root, const char *dir, struct io_reader *in, const struct cp_extract_opts *o,
               berr_t *err)
{
    struct extractor *ex = xcalloc(1, sizeof(*ex));

    ex->root = root;
    ex->dir = dir;
    ex->o = o;
    ex->in = in;
    ex->tar = archive_read_new();
    int ret = ex->tar ? extract_all(ex, err) : berr_set(err, ENOMEM, "extract to %s", dir);
    fix_dir_times(ex);
    if (ex->tar)
        archive_read_free(ex->tar);
    free(ex);
    return ret;
}
