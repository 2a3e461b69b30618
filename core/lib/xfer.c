/* Copying between two xfer filesystems, and the local filesystem's operations. */
#include "core/lib/xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"

#define COPY_BUF (1u << 20)

/* ---- the local filesystem ------------------------------------------------------------- */

static int l_stat(void *ctx, const char *path, bool follow, struct xfer_stat *st, berr_t *err)
{
    struct stat s;
    (void)ctx;
    memset(st, 0, sizeof(*st));
    if ((follow ? stat(path, &s) : lstat(path, &s)) < 0) {
        if (errno == ENOENT) {
            st->type = XFER_MISSING;
            return 0;
        }
        return berr_set(err, errno, "%s: stat", path);
    }
    st->type = S_ISREG(s.st_mode)   ? XFER_FILE
               : S_ISDIR(s.st_mode) ? XFER_DIR
               : S_ISLNK(s.st_mode) ? XFER_LINK
                                    : XFER_OTHER;
    st->mode = s.st_mode & 07777;
    st->size = (unsigned long long)s.st_size;
    st->mtime = (long long)s.st_mtim.tv_sec;
    st->atime = (long long)s.st_atim.tv_sec;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int l_list(void *ctx, const char *path, char ***names, size_t *n, berr_t *err)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char **out = NULL;
    size_t cnt = 0;
    (void)ctx;

    if (d == NULL)
        return berr_set(err, errno, "%s: open directory", path);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char **grown = realloc(out, (cnt + 1) * sizeof(*out));
        if (grown == NULL)
            abort();
        out = grown;
        out[cnt++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (cnt > 1)
        qsort(out, cnt, sizeof(*out), cmp_names);
    *names = out;
    *n = cnt;
    return 0;
}

static int l_readlink(void *ctx, const char *path, char **target, berr_t *err)
{
    char buf[4096];
    (void)ctx;
    ssize_t n = readlink(path, buf, sizeof(buf));
    if (n < 0)
        return berr_set(err, errno, "%s: read link", path);
    *target = xasprintf("%.*s", (int)n, buf);
    return 0;
}

static int l_symlink(void *ctx, const char *target, const char *path, berr_t *err)
{
    (void)ctx;
    if (symlink(target, path) < 0)
        return berr_set(err, errno, "%s: create symlink", path);
    return 0;
}

static int l_mkdir(void *ctx, const char *path, unsigned mode, berr_t *err)
{
    (void)ctx;
    if (mkdir(path, mode) < 0)
        return berr_set(err, errno, "%s: create directory", path);
    return 0;
}

static int l_unlink(void *ctx, const char *path, berr_t *err)
{
    (void)ctx;
    if (unlink(path) < 0)
        return berr_set(err, errno, "%s: remove", path);
    return 0;
}

struct lfile {
    int fd;
    char *path;
};

static int l_open(void *ctx, const char *path, bool write, unsigned mode, void **fh, berr_t *err)
{
    (void)ctx;
    int fd = write ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
                   : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "%s: open%s", path, write ? " for writing" : "");
    struct lfile *f = xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->path = xstrdup(path);
    *fh = f;
    return 0;
}

static long l_read(void *ctx, void *fh, char *buf, size_t len, berr_t *err)
{
    struct lfile *f = fh;
    (void)ctx;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return berr_set(err, errno, "%s: read", f->path);
    }
}

static long l_write(void *ctx, void *fh, const char *buf, size_t len, berr_t *err)
{
    struct lfile *f = fh;
    (void)ctx;
    for (;;) {
        ssize_t n = write(f->fd, buf, len);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return berr_set(err, errno, "%s: write", f->path);
    }
}

static int l_close(void *ctx, void *fh, berr_t *err)
{
    struct lfile *f = fh;
    int ret = 0;
    (void)ctx;
    if (close(f->fd) < 0)
        ret = berr_set(err, errno, "%s: close", f->path);
    free(f->path);
    free(f);
    return ret;
}

static int l_setattr(void *ctx, const char *path, const struct xfer_stat *st, berr_t *err)
{
    struct timespec ts[2] = {{st->atime, 0}, {st->mtime, 0}};
    (void)ctx;
    if (chmod(path, st->mode & 07777) < 0)
        return berr_set(err, errno, "%s: set permissions", path);
    if (utimensat(AT_FDCWD, path, ts, 0) < 0)
        return berr_set(err, errno, "%s: set times", path);
    return 0;
}

static const struct xfer_ops local_ops = {
    l_stat, l_list, l_readlink, l_symlink, l_mkdir,   l_unlink,
    l_open, l_read, l_write,    l_close,   l_setattr,
};

void xfer_local(struct xfer_fs *fs)
{
    fs->ops = &local_ops;
    fs->ctx = NULL;
    fs->prefix = "";
}

void xfer_release(struct xfer_fs *fs)
{
    free(fs->ctx);
    fs->ctx = NULL;
}

/* ---- copying -------------------------------------------------------------------------- */

struct copy {
    struct xfer_fs *src, *dst;
    const struct xfer_opts *o;
    struct xfer_stats *st;
    char *buf;
};

static void note(struct copy *cp, const char *what, const char *path)
{
    if (cp->o->debug)
        fprintf(cp->o->debug, "scp: %s %s%s\n", what, cp->dst->prefix, path);
}

static char *base_name(const char *path)
{
    _cleanup_free_ char *copy = xstrdup(path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    return xstrdup(basename(copy));
}

int xfer_target(struct xfer_fs *dst, const char *dpath, const char *spath, bool many, char **out,
                berr_t *err)
{
    struct xfer_stat st;

    if (dst->ops->stat(dst->ctx, dpath, true, &st, err) < 0)
        return -1;
    if (st.type == XFER_DIR) {
        _cleanup_free_ char *base = base_name(spath);
        *out = path_join(dpath, base);
        return 0;
    }
    if (many)
        return berr_set(err, 0, "%s%s: not a directory (several sources need one)", dst->prefix,
                        dpath);
    *out = xstrdup(dpath);
    return 0;
}

static int write_all(struct copy *cp, void *fh, const char *p, size_t n, berr_t *err)
{
    while (n > 0) {
        long w = cp->dst->ops->write(cp->dst->ctx, fh, p, n, err);
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int copy_data(struct copy *cp, const char *sp, const char *dp, const struct xfer_stat *s,
                     berr_t *err)
{
    void *in = NULL, *out = NULL;
    int ret = -1;
    long n;

    if (cp->src->ops->open(cp->src->ctx, sp, false, 0, &in, err) < 0)
        return -1;
    if (cp->dst->ops->open(cp->dst->ctx, dp, true, s->mode | 0200, &out, err) < 0)
        goto out;
    while ((n = cp->src->ops->read(cp->src->ctx, in, cp->buf, COPY_BUF, err)) > 0) {
        if (write_all(cp, out, cp->buf, (size_t)n, err) < 0)
            goto out;
        cp->st->bytes += (unsigned long long)n;
    }
    ret = n < 0 ? -1 : 0;
out:
    if (out != NULL && cp->dst->ops->close(cp->dst->ctx, out, ret < 0 ? NULL : err) < 0)
        ret = -1;
    cp->src->ops->close(cp->src->ctx, in, NULL);
    return ret;
}

static int copy_file(struct copy *cp, const char *sp, const char *dp, const struct xfer_stat *s,
                     const struct xfer_stat *d, berr_t *err)
{
    if (cp->o->delta && d->type == XFER_FILE && d->size == s->size && d->mtime == s->mtime) {
        cp->st->skipped++;
        note(cp, "skip", dp);
        return 0;
    }
    if (d->type == XFER_DIR)
        return berr_set(err, 0, "%s%s: is a directory", cp->dst->prefix, dp);
    if (d->type == XFER_LINK && cp->dst->ops->unlink(cp->dst->ctx, dp, err) < 0)
        return -1;
    note(cp, "copy", dp);
    if (copy_data(cp, sp, dp, s, err) < 0 || cp->dst->ops->setattr(cp->dst->ctx, dp, s, err) < 0)
        return -1;
    cp->st->copied++;
    return 0;
}

static int copy_link(struct copy *cp, const char *sp, const char *dp, const struct xfer_stat *d,
                     berr_t *err)
{
    _cleanup_free_ char *target = NULL;
    _cleanup_free_ char *old = NULL;

    if (cp->src->ops->readlink(cp->src->ctx, sp, &target, err) < 0)
        return -1;
    if (d->type == XFER_LINK && cp->dst->ops->readlink(cp->dst->ctx, dp, &old, NULL) == 0 &&
        strcmp(old, target) == 0) {
        note(cp, "skip", dp);
        return 0;
    }
    if (d->type == XFER_DIR)
        return berr_set(err, 0, "%s%s: is a directory", cp->dst->prefix, dp);
    if (d->type != XFER_MISSING && cp->dst->ops->unlink(cp->dst->ctx, dp, err) < 0)
        return -1;
    note(cp, "link", dp);
    if (cp->dst->ops->symlink(cp->dst->ctx, target, dp, err) < 0)
        return -1;
    cp->st->links++;
    return 0;
}

static int copy_any(struct copy *cp, const char *sp, const char *dp, berr_t *err);

static int copy_dir(struct copy *cp, const char *sp, const char *dp, const struct xfer_stat *s,
                    const struct xfer_stat *d, berr_t *err)
{
    char **names = NULL;
    size_t n = 0;
    int ret = 0;

    if (!cp->o->recursive)
        return berr_set(err, 0, "%s%s: is a directory (use -r)", cp->src->prefix, sp);
    if (d->type != XFER_MISSING && d->type != XFER_DIR)
        return berr_set(err, 0, "%s%s: exists and is not a directory", cp->dst->prefix, dp);
    if (d->type == XFER_MISSING && cp->dst->ops->mkdir(cp->dst->ctx, dp, 0700, err) < 0)
        return -1;
    if (cp->src->ops->list(cp->src->ctx, sp, &names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && ret == 0; i++) {
        _cleanup_free_ char *cs = path_join(sp, names[i]);
        _cleanup_free_ char *cd = path_join(dp, names[i]);
        ret = copy_any(cp, cs, cd, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (ret < 0)
        return -1;
    cp->st->dirs++;
    /* Last, so that the children did not change the directory's time again. */
    return cp->dst->ops->setattr(cp->dst->ctx, dp, s, err);
}

static int copy_any(struct copy *cp, const char *sp, const char *dp, berr_t *err)
{
    struct xfer_stat s, d;

    if (cp->src->ops->stat(cp->src->ctx, sp, false, &s, err) < 0 ||
        cp->dst->ops->stat(cp->dst->ctx, dp, false, &d, err) < 0)
        return -1;
    switch (s.type) {
    case XFER_MISSING:
        return berr_set(err, ENOENT, "%s%s", cp->src->prefix, sp);
    case XFER_FILE:
        return copy_file(cp, sp, dp, &s, &d, err);
    case XFER_LINK:
        return copy_link(cp, sp, dp, &d, err);
    case XFER_DIR:
        return copy_dir(cp, sp, dp, &s, &d, err);
    case XFER_OTHER:
        break;
    }
    fprintf(stderr, "berth: scp: %s%s: not a regular file, directory or symlink; skipped\n",
            cp->src->prefix, sp);
    return 0;
}

int xfer_copy(struct xfer_fs *src, const char *spath, struct xfer_fs *dst, const char *dpath,
              const struct xfer_opts *o, struct xfer_stats *st, berr_t *err)
{
    struct copy cp = {src, dst, o, st, xcalloc(1, COPY_BUF)};
    int ret = copy_any(&cp, spath, dpath, err);
    free(cp.buf);
    return ret;
}
