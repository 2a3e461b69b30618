#include "runtime-agent/image/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/diff.h"
#include "runtime-agent/image/internal.h"

#define BLOCK_SIZE 65536
#define MAX_DEPTH 256
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define CAP_XATTR "security.capability"

/* A file with several links: later paths to it become hard link entries. */
struct link {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct packer {
    struct archive *a;
    const struct diff_skip *skip; /* paths left out, may be NULL */
    struct link *links;
    size_t n_links, cap_links;
    char buf[BLOCK_SIZE];
};

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int image_dir_names(int fd, char ***names, size_t *n)
{
    size_t cap = 0;
    /* a new open file description: its read position is not FD's */
    int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    struct dirent *de;

    *names = NULL;
    *n = 0;
    if (d == NULL) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        GROW(*names, *n, cap);
        (*names)[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 0)
        qsort(*names, *n, sizeof(**names), compare_names);
    return 0;
}

void image_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static struct archive_entry *new_entry(const char *path, const struct stat *st)
{
    struct archive_entry *e = archive_entry_new();

    if (e == NULL) {
        fputs("berthd: out of memory\n", stderr);
        abort();
    }
    archive_entry_set_pathname(e, path);
    archive_entry_set_uid(e, st->st_uid);
    archive_entry_set_gid(e, st->st_gid);
    archive_entry_set_mode(e, st->st_mode);
    /* Whole seconds, as Docker writes them: keeps headers plain ustar. */
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, 0);
    return e;
}

static int write_header(struct packer *p, struct archive_entry *e, const char *path, berr_t *err)
{
    int r = archive_write_header(p->a, e);

    archive_entry_free(e);
    if (r < ARCHIVE_WARN)
        return berr_set(err, 0, "pack layer: %s: %s", path, archive_error_string(p->a));
    return 0;
}

/* An empty regular file standing for a whiteout or an opaque marker (MODE its permissions). */
static int write_marker(struct packer *p, const char *path, const struct stat *st, mode_t mode,
                        berr_t *err)
{
    struct stat m = *st;

    m.st_mode = S_IFREG | mode;
    struct archive_entry *e = new_entry(path, &m);
    archive_entry_set_size(e, 0);
    return write_header(p, e, path, err);
}

static int write_file(struct packer *p, int dfd, const char *name, const char *path,
                      const struct stat *st, berr_t *err)
{
    struct archive_entry *e = new_entry(path, st);
    char cap[1024];

    if (st->st_nlink > 1) {
        for (size_t i = 0; i < p->n_links; i++) {
            if (p->links[i].dev == st->st_dev && p->links[i].ino == st->st_ino) {
                archive_entry_set_hardlink(e, p->links[i].path);
                archive_entry_set_size(e, 0);
                return write_header(p, e, path, err);
            }
        }
        GROW(p->links, p->n_links, p->cap_links);
        p->links[p->n_links++] = (struct link){st->st_dev, st->st_ino, xstrdup(path)};
    }
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        archive_entry_free(e);
        return berr_set(err, errno, "pack layer: %s: open", path);
    }
    archive_entry_set_size(e, st->st_size);
    /* Like Docker, file capabilities are the one xattr a layer carries. */
    ssize_t cl = fgetxattr(fd, CAP_XATTR, cap, sizeof(cap));
    if (cl > 0)
        archive_entry_xattr_add_entry(e, CAP_XATTR, cap, (size_t)cl);
    if (write_header(p, e, path, err) < 0)
        return -1;
    for (;;) {
        ssize_t n = read(fd, p->buf, sizeof(p->buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "pack layer: %s: read", path);
        if (n == 0)
            break;
        if (archive_write_data(p->a, p->buf, (size_t)n) < 0)
            return berr_set(err, 0, "pack layer: %s: %s", path, archive_error_string(p->a));
    }
    return 0;
}

static int write_symlink(struct packer *p, int dfd, const char *name, const char *path,
                         const struct stat *st, berr_t *err)
{
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(dfd, name, target, PATH_MAX);

    if (n < 0)
        return berr_set(err, errno, "pack layer: %s: read link", path);
    target[n] = '\0';
    struct archive_entry *e = new_entry(path, st);
    archive_entry_set_symlink(e, target);
    return write_header(p, e, path, err);
}

static int pack_dir(struct packer *p, int dfd, const char *prefix, int depth, berr_t *err);

static bool is_opaque(int fd)
{
    char v[2];
    ssize_t n = fgetxattr(fd, OPAQUE_XATTR, v, sizeof(v));

    return n == 1 && v[0] == 'y';
}

static int write_dir(struct packer *p, int dfd, const char *name, const char *path,
                     const struct stat *st, int depth, berr_t *err)
{
    _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return berr_set(err, errno, "pack layer: %s: open directory", path);
    if (write_header(p, new_entry(path, st), path, err) < 0)
        return -1;
    if (is_opaque(fd)) {
        _cleanup_free_ char *marker = xasprintf("%s/" WH_OPAQUE, path);
        if (write_marker(p, marker, st, st->st_mode & 0777, err) < 0)
            return -1;
    }
    return pack_dir(p, fd, path, depth + 1, err);
}

static int pack_one(struct packer *p, int dfd, const char *name, const char *path, int depth,
                    berr_t *err)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno, "pack layer: %s: stat", path);
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *wh =
            xasprintf("%.*s" WH_PREFIX "%s", slash ? (int)(slash - path + 1) : 0, path, name);
        /* Docker's whiteout entries are 0600 whatever the device's mode. */
        return write_marker(p, wh, &st, 0600, err);
    }
    if (S_ISDIR(st.st_mode))
        return write_dir(p, dfd, name, path, &st, depth, err);
    if (S_ISREG(st.st_mode))
        return write_file(p, dfd, name, path, &st, err);
    if (S_ISLNK(st.st_mode))
        return write_symlink(p, dfd, name, path, &st, err);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        struct archive_entry *e = new_entry(path, &st);
        archive_entry_set_rdev(e, st.st_rdev);
        return write_header(p, e, path, err);
    }
    return 0; /* sockets have no tar form */
}

static int pack_dir(struct packer *p, int dfd, const char *prefix, int depth, berr_t *err)
{
    char **names;
    size_t n;
    int r = 0;

    if (depth > MAX_DEPTH)
        return berr_set(err, 0, "pack layer: %s: directories nested too deeply", prefix);
    if (image_dir_names(dfd, &names, &n) < 0)
        return berr_set(err, errno, "pack layer: %s: read directory", *prefix ? prefix : ".");
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            _cleanup_free_ char *path =
                *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
            if (!diff_skipped(p->skip, path))
                r = pack_one(p, dfd, names[i], path, depth, err);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int layer_pack(const char *dir, struct io_writer *out, berr_t *err)
{
    return layer_pack_skip(dir, NULL, out, err);
}

int layer_pack_skip(const char *dir, const struct diff_skip *skip, struct io_writer *out,
                    berr_t *err)
{
    struct packer *p = xcalloc(1, sizeof(*p));
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = -1;

    if (fd < 0) {
        berr_set(err, errno, "pack layer: open %s", dir);
        goto out;
    }
    p->skip = skip;
    p->a = archive_write_new();
    if (p->a == NULL) {
        berr_set(err, ENOMEM, "pack layer");
        goto out;
    }
    /* ustar unless an entry needs pax records; no padding after the end-of-archive blocks. */
    archive_write_set_format_pax_restricted(p->a);
    archive_write_set_bytes_per_block(p->a, 0);
    if (io_archive_write_open(p->a, out) != ARCHIVE_OK) {
        berr_set(err, 0, "pack layer: %s", archive_error_string(p->a));
        goto out;
    }
    if (is_opaque(fd)) {
        struct stat st;
        if (fstat(fd, &st) < 0 || write_marker(p, WH_OPAQUE, &st, st.st_mode & 0777, err) < 0)
            goto out;
    }
    if (pack_dir(p, fd, "", 0, err) < 0)
        goto out;
    if (archive_write_close(p->a) != ARCHIVE_OK) {
        berr_set(err, 0, "pack layer: %s", archive_error_string(p->a));
        goto out;
    }
    r = 0;
out:
    if (p->a)
        archive_write_free(p->a);
    for (size_t i = 0; i < p->n_links; i++)
        free(p->links[i].path);
    free(p->links);
    free(p);
    return r;
}
