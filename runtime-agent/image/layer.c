#include "runtime-agent/image/layer.h"
#include "runtime-agent/image/io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/beneath.h"
#include "runtime-agent/image/internal.h"

#define BLOCK_SIZE 65536
#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define OVERLAY_XATTR_PREFIX "trusted.overlay."

/* The bytes under the tar reader: IN, decompressed by a first libarchive reader in "raw"
 * mode, then hashed and copied on their way to the tar reader. */
struct source {
    struct io_reader *in;
    struct archive *raw;
    struct io_writer *copy;
    struct sha256 hash;
    int64_t total;
    bool eof;
    char inbuf[BLOCK_SIZE];
    char outbuf[BLOCK_SIZE];
};

/* A directory whose times are set once the entries below it are written. */
struct dir_time {
    char *rel;
    struct timespec ts[2];
};

struct applier {
    int rootfd;
    unsigned flags;
    struct archive *tar;
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
    int64_t size;
};

static la_ssize_t raw_read(struct archive *a, void *ctx, const void **buf)
{
    struct source *src = ctx;
    ssize_t n = src->in->read(src->in->ctx, src->inbuf, sizeof(src->inbuf));

    if (n < 0) {
        archive_set_error(a, errno, "read layer stream");
        return -1;
    }
    *buf = src->inbuf;
    return n;
}

/* Next block of the uncompressed stream into src->outbuf; 0 at its end, -1 with *why set. */
static la_ssize_t next_block(struct source *src, const char **why, int *errnum)
{
    if (src->eof)
        return 0;
    la_ssize_t n = archive_read_data(src->raw, src->outbuf, sizeof(src->outbuf));
    if (n < 0) {
        *why = archive_error_string(src->raw);
        *errnum = archive_errno(src->raw);
        return -1;
    }
    if (n == 0) {
        src->eof = true;
        return 0;
    }
    sha256_update(&src->hash, src->outbuf, (size_t)n);
    src->total += n;
    if (src->copy && src->copy->write(src->copy->ctx, src->outbuf, (size_t)n) < 0) {
        *why = "copy the layer tar";
        *errnum = errno;
        return -1;
    }
    return n;
}

static la_ssize_t tar_read(struct archive *a, void *ctx, const void **buf)
{
    struct source *src = ctx;
    const char *why = NULL;
    int errnum = 0;
    la_ssize_t n = next_block(src, &why, &errnum);

    if (n < 0) {
        archive_set_error(a, errnum ? errnum : EIO, "%s", why ? why : "read layer stream");
        return -1;
    }
    *buf = src->outbuf;
    return n;
}

static int open_source(struct source *src, berr_t *err)
{
    struct archive_entry *e;

    src->raw = archive_read_new();
    if (src->raw == NULL)
        return berr_set(err, ENOMEM, "apply layer");
    archive_read_support_filter_gzip(src->raw);
    archive_read_support_filter_bzip2(src->raw);
    archive_read_support_filter_xz(src->raw);
    archive_read_support_filter_zstd(src->raw);
    archive_read_support_format_raw(src->raw);
    archive_read_support_format_empty(src->raw);
    sha256_init(&src->hash);
    if (archive_read_open(src->raw, src, NULL, raw_read, NULL) != ARCHIVE_OK)
        return berr_set(err, 0, "apply layer: %s", archive_error_string(src->raw));
    int r = archive_read_next_header(src->raw, &e);
    if (r == ARCHIVE_EOF)
        src->eof = true;
    else if (r < ARCHIVE_WARN)
        return berr_set(err, 0, "apply layer: %s", archive_error_string(src->raw));
    return 0;
}

/* Hash (and copy) what follows the end of the tar, as the DiffID covers the whole stream. */
static int drain_source(struct source *src, berr_t *err)
{
    const char *why = NULL;
    int errnum = 0;
    la_ssize_t n;

    while ((n = next_block(src, &why, &errnum)) > 0)
        ;
    if (n < 0)
        return berr_set(err, errnum, "apply layer: %s", why ? why : "read layer stream");
    return 0;
}

static int tar_error(struct applier *ap, const char *path, berr_t *err)
{
    const char *msg = archive_error_string(ap->tar);

    return berr_set(err, 0, "apply layer: %s%s%s", path ? path : "", path ? ": " : "",
                    msg ? msg : "read tar");
}

static void remember_dir(struct applier *ap, const char *rel, struct archive_entry *e)
{
    GROW(ap->dirs, ap->n_dirs, ap->cap_dirs);
    struct dir_time *d = &ap->dirs[ap->n_dirs++];
    d->rel = xstrdup(rel);
    io_archive_entry_times(e, d->ts);
}

static mode_t entry_mode(struct applier *ap, struct archive_entry *e, mode_t plain_min)
{
    mode_t m = archive_entry_perm(e) & 07777;
    return ap->flags & LAYER_PLAIN ? (m & 0777) | plain_min : m;
}

/* Owner, xattrs (never trusted.overlay.*, which would fake whiteouts) and mode of FD,
 * in that order: chown clears setuid bits and file capabilities. */
static int set_meta(struct applier *ap, int fd, struct archive_entry *e, const char *path,
                    mode_t plain_min, berr_t *err)
{
    const char *name;
    const void *value;
    size_t size;

    if (!(ap->flags & LAYER_PLAIN)) {
        if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0)
            return berr_set(err, errno, "apply layer: %s: chown", path);
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            if (strncmp(name, OVERLAY_XATTR_PREFIX, strlen(OVERLAY_XATTR_PREFIX)) == 0)
                continue;
            /* Like Docker: a filesystem without xattr support loses them silently. */
            if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP && errno != EPERM)
                return berr_set(err, errno, "apply layer: %s: set xattr %s", path, name);
        }
    }
    if (fchmod(fd, entry_mode(ap, e, plain_min)) < 0)
        return berr_set(err, errno, "apply layer: %s: chmod", path);
    return 0;
}

static int make_file(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                     const char *path, berr_t *err)
{
    struct timespec ts[2];
    _cleanup_close_ int fd =
        openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return berr_set(err, errno, "apply layer: %s: create file", path);
    if (io_archive_extract_data(ap->tar, e, fd, NULL, err) < 0)
        return berr_prefix(err, "apply layer: %s", path);
    ap->size += archive_entry_size(e);
    if (set_meta(ap, fd, e, path, 0600, err) < 0)
        return -1;
    io_archive_entry_times(e, ts);
    if (futimens(fd, ts) < 0)
        return berr_set(err, errno, "apply layer: %s: set times", path);
    return 0;
}

static int make_dir(struct applier *ap, int pfd, const char *base, bool exists,
                    struct archive_entry *e, const char *rel, berr_t *err)
{
    if (!exists && mkdirat(pfd, base, 0700) < 0)
        return berr_set(err, errno, "apply layer: %s: create directory", rel);
    _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "apply layer: %s: open directory", rel);
    if (set_meta(ap, fd, e, rel, 0700, err) < 0)
        return -1;
    remember_dir(ap, rel, e);
    return 0;
}

/* Owner and times of a node that cannot be opened safely (symlink, device, FIFO). */
static int set_node_meta(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                         const char *path, berr_t *err)
{
    struct timespec ts[2];

    if (!(ap->flags & LAYER_PLAIN) &&
        fchownat(pfd, base, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "apply layer: %s: chown", path);
    io_archive_entry_times(e, ts);
    if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "apply layer: %s: set times", path);
    return 0;
}

static int make_symlink(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                        const char *path, berr_t *err)
{
    const char *target = archive_entry_symlink(e);

    /* The target is only text here: no later entry is ever resolved through it. */
    if (target == NULL || *target == '\0')
        return berr_set(err, 0, "apply layer: %s: symbolic link without a target", path);
    if (symlinkat(target, pfd, base) < 0)
        return berr_set(err, errno, "apply layer: %s: create symbolic link", path);
    return set_node_meta(ap, pfd, base, e, path, err);
}

static int make_node(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                     const char *path, berr_t *err)
{
    mode_t type = archive_entry_filetype(e);
    mode_t perm = archive_entry_perm(e) & 07777;

    if (mknodat(pfd, base, type | (perm & 0777), archive_entry_rdev(e)) < 0)
        return berr_set(err, errno, "apply layer: %s: create device node", path);
    if (set_node_meta(ap, pfd, base, e, path, err) < 0)
        return -1;
    /* The node was just created in this private tree, so the name cannot be a symlink. */
    if (fchmodat(pfd, base, perm, 0) < 0)
        return berr_set(err, errno, "apply layer: %s: chmod", path);
    return 0;
}

/* A hard link must name something already extracted below the root; absolute targets are
 * taken relative to the root, as Docker does. */
static int make_hardlink(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                         const char *path, berr_t *err)
{
    _cleanup_free_ char *target = beneath_clean(archive_entry_hardlink(e));
    _cleanup_close_ int tfd = -1;
    berr_t sub = NULL;

    if (target == NULL || *target == '\0')
        return berr_set(err, 0, "apply layer: %s: hard link to %s leaves the layer", path,
                        archive_entry_hardlink(e));
    char *slash = strrchr(target, '/');
    const char *tbase = target;
    int tdir = ap->rootfd;
    if (slash) {
        *slash = '\0';
        tbase = slash + 1;
        tfd = beneath_open_dir(ap->rootfd, target, false, &sub);
        if (tfd < 0) {
            berr_set(err, 0, "apply layer: %s: hard link target: %s", path, berr_msg(sub));
            berr_free(&sub);
            return -1;
        }
        tdir = tfd;
    }
    if (linkat(tdir, tbase, pfd, base, 0) < 0)
        return berr_set(err, errno, "apply layer: %s: hard link to %s", path,
                        archive_entry_hardlink(e));
    return 0;
}

static int make_whiteout(int pfd, const char *name, struct archive_entry *e, const char *path,
                         berr_t *err)
{
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return berr_set(err, 0, "apply layer: %s: invalid whiteout", path);
    if (beneath_remove(pfd, name) < 0)
        return berr_set(err, errno, "apply layer: %s: remove %s", path, name);
    if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
        return berr_set(err, errno, "apply layer: %s: create whiteout", path);
    if (fchownat(pfd, name, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "apply layer: %s: chown whiteout", path);
    return 0;
}

/* Whiteouts: returns 1 when the entry was one (handled or skipped), 0 otherwise. */
static int handle_whiteout(struct applier *ap, int pfd, const char *base, struct archive_entry *e,
                           const char *path, berr_t *err)
{
    if (ap->flags & LAYER_PLAIN)
        return 0;
    if (strcmp(base, WH_OPAQUE) == 0) {
        if (fsetxattr(pfd, OPAQUE_XATTR, "y", 1, 0) < 0)
            return berr_set(err, errno, "apply layer: %s: mark directory opaque", path);
        return 1;
    }
    if (strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0)
        return 1;
    if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
        return make_whiteout(pfd, base + strlen(WH_PREFIX), e, path, err) < 0 ? -1 : 1;
    return 0;
}

static int apply_entry(struct applier *ap, struct archive_entry *e, berr_t *err)
{
    const char *name = archive_entry_pathname(e);
    _cleanup_close_ int pfd = -1;
    struct stat st;
    berr_t sub = NULL;

    if (name == NULL)
        return berr_set(err, 0, "apply layer: entry without a usable name");
    _cleanup_free_ char *rel = beneath_clean(name);
    if (rel == NULL)
        return berr_set(err, 0, "apply layer: %s: path leaves the layer", name);
    /* The root itself, and AUFS metadata (.wh..wh.plnk and the like), are skipped. */
    if (*rel == '\0' ||
        (!(ap->flags & LAYER_PLAIN) && strncmp(rel, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0 &&
         strcmp(rel, WH_OPAQUE) != 0))
        return 0;
    if (strlen(rel) >= 4096)
        return berr_set(err, 0, "apply layer: %.64s...: path too long", rel);
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (slash)
        *slash = '\0';
    pfd = beneath_open_dir(ap->rootfd, slash ? rel : "", true, &sub);
    if (slash)
        *slash = '/';
    if (pfd < 0) {
        berr_set(err, 0, "apply layer: %s", berr_msg(sub));
        berr_free(&sub);
        return -1;
    }
    int wh = handle_whiteout(ap, pfd, base, e, rel, err);
    if (wh != 0)
        return wh < 0 ? -1 : 0;

    mode_t type = archive_entry_filetype(e);
    bool hardlink = archive_entry_hardlink(e) != NULL;
    bool exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if ((ap->flags & LAYER_PLAIN) && !hardlink && type != AE_IFREG && type != AE_IFDIR &&
        type != AE_IFLNK)
        return 0;
    if (type == AE_IFSOCK || (!hardlink && type == 0))
        return 0;
    /* An existing entry is replaced, except that a directory over a directory merges. */
    if (exists && !(type == AE_IFDIR && !hardlink && S_ISDIR(st.st_mode))) {
        if (beneath_remove(pfd, base) < 0)
            return berr_set(err, errno, "apply layer: %s: remove existing entry", rel);
        exists = false;
    }
    if (hardlink)
        return make_hardlink(ap, pfd, base, e, rel, err);
    switch (type) {
    case AE_IFREG:
        return make_file(ap, pfd, base, e, rel, err);
    case AE_IFDIR:
        return make_dir(ap, pfd, base, exists, e, rel, err);
    case AE_IFLNK:
        return make_symlink(ap, pfd, base, e, rel, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        return make_node(ap, pfd, base, e, rel, err);
    default:
        return 0;
    }
}

/* Directory times last: creating entries inside a directory changes its mtime. */
static void fix_dir_times(struct applier *ap)
{
    berr_t ignored = NULL;

    for (size_t i = ap->n_dirs; i > 0; i--) {
        struct dir_time *d = &ap->dirs[i - 1];
        int fd = beneath_open_dir(ap->rootfd, d->rel, false, &ignored);
        if (fd < 0) {
            berr_free(&ignored);
            continue;
        }
        futimens(fd, d->ts);
        close(fd);
    }
}

static int apply_all(struct applier *ap, struct source *src, berr_t *err)
{
    struct archive_entry *e;
    int r;

    if (src->eof)
        return 0;
    archive_read_support_format_tar(ap->tar);
    if (archive_read_open(ap->tar, src, NULL, tar_read, NULL) != ARCHIVE_OK)
        return tar_error(ap, NULL, err);
    while ((r = archive_read_next_header(ap->tar, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN)
            return tar_error(ap, NULL, err);
        if (apply_entry(ap, e, err) < 0)
            return -1;
    }
    fix_dir_times(ap);
    return 0;
}

int layer_apply(const char *dir, struct io_reader *in, struct io_writer *tar_copy, unsigned flags,
                struct layer_info *info, berr_t *err)
{
    struct applier ap = {.rootfd = -1, .flags = flags};
    struct source *src = xcalloc(1, sizeof(*src));
    int r = -1;

    src->in = in;
    src->copy = tar_copy;
    ap.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ap.rootfd < 0) {
        berr_set(err, errno, "apply layer: open %s", dir);
        goto out;
    }
    ap.tar = archive_read_new();
    if (ap.tar == NULL) {
        berr_set(err, ENOMEM, "apply layer");
        goto out;
    }
    if (open_source(src, err) < 0 || apply_all(&ap, src, err) < 0 || drain_source(src, err) < 0)
        goto out;
    memset(info, 0, sizeof(*info));
    sha256_final(&src->hash, info->diff_id);
    info->size = ap.size;
    info->tar_size = src->total;
    r = 0;
out:
    if (ap.tar)
        archive_read_free(ap.tar);
    if (src->raw)
        archive_read_free(src->raw);
    sha256_discard(&src->hash);
    for (size_t i = 0; i < ap.n_dirs; i++)
        free(ap.dirs[i].rel);
    free(ap.dirs);
    if (ap.rootfd >= 0)
        close(ap.rootfd);
    free(src);
    return r;
}
