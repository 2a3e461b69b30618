#include "runtime-agent/volumes/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/beneath.h"

#define MAX_DEPTH 128
#define BUF_SIZE 65536
#define XATTR_LIST_SIZE 65536
#define OVERLAY_XATTR_PREFIX "trusted.overlay."

/* A file with several links, copied once: later links are made to its copy. */
struct linked {
    dev_t dev;
    ino_t ino;
    char *rel; /* the copy, relative to the destination root */
};

struct copier {
    int dst_root;
    struct linked *links;
    size_t n_links, cap_links;
    char buf[BUF_SIZE];
};

bool vol_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    bool empty = d != NULL;

    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    if (d)
        closedir(d);
    return empty;
}

void vol_empty(int dir)
{
    int fd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* Removing while reading may skip entries: read again until nothing is left. */
    for (int pass = 0, removed = 1; removed > 0 && pass < 8; pass++) {
        removed = 0;
        rewinddir(d);
        while ((de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                removed += beneath_remove(dir, de->d_name) == 0;
    }
    closedir(d);
}

/* ---- metadata ------------------------------------------------------------------------ */

static void copy_xattrs(int src, int dst)
{
    _cleanup_free_ char *names = xcalloc(1, XATTR_LIST_SIZE);
    char value[4096];
    ssize_t len = flistxattr(src, names, XATTR_LIST_SIZE);

    for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
        const char *name = names + off;
        if (strncmp(name, OVERLAY_XATTR_PREFIX, strlen(OVERLAY_XATTR_PREFIX)) == 0)
            continue;
        ssize_t n = fgetxattr(src, name, value, sizeof(value));
        if (n >= 0)
            fsetxattr(dst, name, value, (size_t)n, 0); /* best effort, as Docker's copy */
    }
}

/* Owner, xattrs, mode (after chown, which clears setuid bits), times. */
static int copy_meta(int src, int dst, const struct stat *st, const char *rel, berr_t *err)
{
    if (fchown(dst, st->st_uid, st->st_gid) < 0)
        return berr_set(err, errno, "copy %s: chown", rel);
    copy_xattrs(src, dst);
    if (fchmod(dst, st->st_mode & 07777) < 0)
        return berr_set(err, errno, "copy %s: chmod", rel);
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (futimens(dst, ts) < 0)
        return berr_set(err, errno, "copy %s: set times", rel);
    return 0;
}

/* Owner and times of a node that is not opened (symlink, device, FIFO); the mode of a
 * non-symlink too, set through an O_PATH fd of the node: a container sharing the volume
 * cannot swap it for a symlink that chmod would follow. */
static int node_meta(int dfd, const char *name, const struct stat *st, const char *rel, berr_t *err)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    char path[32];
    struct stat now;

    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "copy %s: chown", rel);
    if (!S_ISLNK(st->st_mode)) {
        _cleanup_close_ int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &now) < 0)
            return berr_set(err, errno, "copy %s: reopen", rel);
        if ((now.st_mode & S_IFMT) != (st->st_mode & S_IFMT))
            return berr_set(err, 0, "copy %s: replaced while copied", rel);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (chmod(path, st->st_mode & 07777) < 0)
            return berr_set(err, errno, "copy %s: chmod", rel);
    }
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "copy %s: set times", rel);
    return 0;
}

/* ---- nodes --------------------------------------------------------------------------- */

static int copy_bytes(struct copier *cp, int in, int out, const char *rel, berr_t *err)
{
    for (;;) {
        ssize_t n = read(in, cp->buf, sizeof(cp->buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "copy %s: read", rel);
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, cp->buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return berr_set(err, errno, "copy %s: write", rel);
            off += w > 0 ? w : 0;
        }
    }
}

/* A second link to a file already copied: link to its copy. 1 when done so, 0 when first. */
static int link_again(struct copier *cp, int ddir, const char *name, const struct stat *st,
                      const char *rel, berr_t *err)
{
    for (size_t i = 0; i < cp->n_links; i++) {
        struct linked *l = &cp->links[i];
        if (l->dev != st->st_dev || l->ino != st->st_ino)
            continue;
        _cleanup_free_ char *dir = xstrdup(l->rel);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        if (slash)
            *slash = '\0';
        berr_t sub = NULL;
        _cleanup_close_ int tfd = beneath_open_dir(cp->dst_root, slash ? dir : "", false, &sub);
        berr_free(&sub);
        if (tfd < 0 || linkat(tfd, base, ddir, name, 0) < 0)
            return berr_set(err, errno, "copy %s: link to %s", rel, l->rel);
        return 1;
    }
    if (cp->n_links == cp->cap_links) {
        cp->cap_links = cp->cap_links ? cp->cap_links * 2 : 16;
        struct linked *nl = realloc(cp->links, cp->cap_links * sizeof(*nl));
        if (nl == NULL)
            abort();
        cp->links = nl;
    }
    cp->links[cp->n_links++] = (struct linked){st->st_dev, st->st_ino, xstrdup(rel)};
    return 0;
}

static int copy_file(struct copier *cp, int sdir, int ddir, const char *name, const struct stat *st,
                     const char *rel, berr_t *err)
{
    if (st->st_nlink > 1) {
        int r = link_again(cp, ddir, name, st, rel, err);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int out =
        openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (in < 0 || out < 0)
        return berr_set(err, errno, "copy %s: open", rel);
    if (copy_bytes(cp, in, out, rel, err) < 0)
        return -1;
    return copy_meta(in, out, st, rel, err);
}

static int copy_tree(struct copier *cp, int sdir, int ddir, const char *rel, int depth,
                     berr_t *err);

static int copy_dir(struct copier *cp, int sdir, int ddir, const char *name, const struct stat *st,
                    const char *rel, int depth, berr_t *err)
{
    if (mkdirat(ddir, name, 0700) < 0)
        return berr_set(err, errno, "copy %s: create directory", rel);
    _cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int out = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0 || out < 0)
        return berr_set(err, errno, "copy %s: open directory", rel);
    if (copy_tree(cp, in, out, rel, depth + 1, err) < 0)
        return -1;
    return copy_meta(in, out, st, rel, err);
}

static int copy_node(struct copier *cp, int sdir, int ddir, const char *name, const char *rel,
                     int depth, berr_t *err)
{
    struct stat st;
    char target[4096];

    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "copy %s: stat", rel);
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
        return copy_dir(cp, sdir, ddir, name, &st, rel, depth, err);
    case S_IFREG:
        return copy_file(cp, sdir, ddir, name, &st, rel, err);
    case S_IFLNK: {
        ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
        if (n < 0)
            return berr_set(err, errno, "copy %s: read link", rel);
        target[n] = '\0';
        if (symlinkat(target, ddir, name) < 0)
            return berr_set(err, errno, "copy %s: create symbolic link", rel);
        return node_meta(ddir, name, &st, rel, err);
    }
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
        if (mknodat(ddir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
            return berr_set(err, errno, "copy %s: create node", rel);
        return node_meta(ddir, name, &st, rel, err);
    default:
        return 0; /* sockets */
    }
}

static int copy_tree(struct copier *cp, int sdir, int ddir, const char *rel, int depth, berr_t *err)
{
    int fd = fcntl(sdir, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    int ret = 0;

    if (depth > MAX_DEPTH || d == NULL) {
        if (fd >= 0 && d == NULL)
            close(fd);
        return berr_set(err, d ? ELOOP : errno, "copy %s", rel);
    }
    while (ret == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *child =
            *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        ret = copy_node(cp, sdir, ddir, de->d_name, child, depth, err);
    }
    closedir(d);
    return ret;
}

int vol_copy_up(int src, int dst, berr_t *err)
{
    struct copier *cp = xcalloc(1, sizeof(*cp));
    struct stat st;

    cp->dst_root = dst;
    int ret = copy_tree(cp, src, dst, "", 0, err);
    if (ret == 0 && fstat(src, &st) == 0)
        ret = copy_meta(src, dst, &st, ".", err);
    for (size_t i = 0; i < cp->n_links; i++)
        free(cp->links[i].rel);
    free(cp->links);
    free(cp);
    return ret;
}
