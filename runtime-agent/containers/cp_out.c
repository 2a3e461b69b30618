/* GET /containers/{id}/archive: a tar of a path in the container. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/daemon.h"

#define MAX_DEPTH 256
#define BUF_SIZE 65536
#define CAP_XATTR "security.capability"

/* Pseudo file systems a copy lists but never descends into. */
static const long pseudo_fs[] = {
    0x9fa0,     /* proc */
    0x62656572, /* sysfs */
    0x27e0eb,   /* cgroup */
    0x63677270, /* cgroup2 */
    0x1cd1,     /* devpts */
    0x19800202, /* mqueue */
    0x73636673, /* securityfs */
    0x64626720, /* debugfs */
    0x74726163, /* tracefs */
};

struct tarw {
    struct archive *a;
    struct archive_entry_linkresolver *links;
    const char *path; /* what the client asked for, for messages */
    char buf[BUF_SIZE];
};

static int tar_fail(struct tarw *tw, const char *name, berr_t *err)
{
    return berr_set(err, archive_errno(tw->a), "archive %s: %s: %s", tw->path, name,
                    archive_error_string(tw->a));
}

static bool is_pseudo(int fd)
{
    struct statfs sf;

    if (fstatfs(fd, &sf) < 0)
        return false;
    for (size_t i = 0; i < sizeof(pseudo_fs) / sizeof(pseudo_fs[0]); i++)
        if ((long)sf.f_type == pseudo_fs[i])
            return true;
    return false;
}

/* The copy keeps file capabilities, as Docker's does; other xattrs stay behind. */
static void add_caps(struct archive_entry *e, int fd)
{
    char value[256];
    ssize_t n = fgetxattr(fd, CAP_XATTR, value, sizeof(value));

    if (n > 0)
        archive_entry_xattr_add_entry(e, CAP_XATTR, value, (size_t)n);
}

/* Exactly SIZE bytes of FD (zeros when it shrank meanwhile), so the header stays true. */
static int copy_data(struct tarw *tw, int fd, int64_t size, const char *name, berr_t *err)
{
    while (size > 0) {
        size_t want = size < BUF_SIZE ? (size_t)size : BUF_SIZE;
        ssize_t n = read(fd, tw->buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, errno, "archive %s: read %s", tw->path, name);
        if (n == 0) {
            memset(tw->buf, 0, want);
            n = (ssize_t)want;
        }
        if (archive_write_data(tw->a, tw->buf, (size_t)n) < 0)
            return tar_fail(tw, name, err);
        failpoint("cp-archive-writing");
        size -= n;
    }
    return 0;
}

/* Write *EP (and FD's content, when a regular file that is not a second hard link). */
static int write_entry(struct tarw *tw, struct archive_entry **ep, int fd, berr_t *err)
{
    struct archive_entry *spare = NULL;
    int ret = 0;

    if (archive_entry_filetype(*ep) == AE_IFREG && archive_entry_nlink(*ep) > 1)
        archive_entry_linkify(tw->links, ep, &spare);
    struct archive_entry *e = *ep;
    const char *name = archive_entry_pathname(e);
    if (archive_write_header(tw->a, e) < ARCHIVE_WARN)
        ret = tar_fail(tw, name, err);
    else if (fd >= 0 && archive_entry_hardlink(e) == NULL && archive_entry_size(e) > 0)
        ret = copy_data(tw, fd, archive_entry_size(e), name, err);
    archive_entry_free(spare);
    return ret;
}

static struct archive_entry *entry_for(const struct stat *st, const char *name)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_copy_stat(e, st);
    archive_entry_set_pathname(e, name);
    if (!S_ISREG(st->st_mode))
        archive_entry_set_size(e, 0);
    return e;
}

static int add_dir(struct tarw *tw, int fd, const struct stat *st, const char *name, int depth,
                   berr_t *err);

/* Add NAME of directory DFD, recursively, under the archive name ANAME. */
static int add_node(struct tarw *tw, int dfd, const char *name, const char *aname, int depth,
                    berr_t *err)
{
    struct stat st;
    char target[4096];

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : berr_set(err, errno, "archive %s: stat %s", tw->path, aname);
    if (S_ISSOCK(st.st_mode))
        return 0;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return berr_set(err, errno, "archive %s: open %s", tw->path, aname);
        return add_dir(tw, fd, &st, aname, depth, err);
    }
    struct archive_entry *e = entry_for(&st, aname);
    _cleanup_close_ int fd = -1;
    int ret = 0;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
        if (n < 0)
            ret = berr_set(err, errno, "archive %s: read link %s", tw->path, aname);
        target[n < 0 ? 0 : n] = '\0';
        archive_entry_copy_symlink(e, target);
    } else if (S_ISREG(st.st_mode)) {
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            ret = berr_set(err, errno, "archive %s: open %s", tw->path, aname);
        else
            add_caps(e, fd);
    }
    if (ret == 0)
        ret = write_entry(tw, &e, fd, err);
    archive_entry_free(e);
    return ret;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory FD, sorted (Docker's walk is lexical too). */
static char **list_dir(int fd, size_t *n)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    struct dirent *de;
    char **names = NULL;
    size_t cap = 0;

    *n = 0;
    if (d == NULL) {
        if (dup_fd >= 0)
            close(dup_fd);
        return NULL;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (nn == NULL)
                abort();
            names = nn;
        }
        names[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(names, *n, sizeof(*names), cmp_names);
    return names;
}

/* Add directory FD (closed here) as ANAME, then what it holds. */
static int add_dir(struct tarw *tw, int fd, const struct stat *st, const char *aname, int depth,
                   berr_t *err)
{
    size_t n = 0;
    int ret = 0;

    if (depth >= MAX_DEPTH) {
        close(fd);
        return berr_set(err, ELOOP, "archive %s: %s", tw->path, aname);
    }
    struct archive_entry *e = entry_for(st, aname);
    ret = write_entry(tw, &e, -1, err);
    archive_entry_free(e);
    char **names = ret == 0 && !is_pseudo(fd) ? list_dir(fd, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (ret == 0) {
            _cleanup_free_ char *child = xasprintf("%s/%s", aname, names[i]);
            ret = add_node(tw, fd, names[i], child, depth + 1, err);
        }
        free(names[i]);
    }
    free(names);
    close(fd);
    return ret;
}

/* What the archive starts with: the directory PATH resolves to when it ends as one ("dir/",
 * "dir/."), else its last component, not followed. */
static int add_start(struct tarw *tw, int root, const char *abs, const char *aname, berr_t *err)
{
    _cleanup_free_ char *copy = xstrdup(abs);
    char *slash = strrchr(copy, '/');
    const char *base = slash + 1;
    /* "." and ".." are resolved in the root, never opened relative to a directory fd. */
    bool as_dir = *base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
    struct stat st;

    if (as_dir) {
        int fd = cp_openat(root, copy, O_RDONLY | O_DIRECTORY);
        if (fd < 0 || fstat(fd, &st) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return berr_set(err, e == ENOTDIR ? ENOENT : e, "archive %s", tw->path);
        }
        return add_dir(tw, fd, &st, aname, 0, err);
    }
    *slash = '\0';
    _cleanup_close_ int pfd = cp_openat(root, copy, O_RDONLY | O_DIRECTORY);
    if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return berr_set(err, errno == ENOTDIR ? ENOENT : errno, "archive %s", tw->path);
    return add_node(tw, pfd, base, aname, 0, err);
}

/* Docker's archive name of the path: filepath.Base ("/" for the root, "." for "dir/."). */
static char *archive_name(const char *abs)
{
    size_t len = strlen(abs);

    while (len > 0 && abs[len - 1] == '/')
        len--;
    if (len == 0)
        return xstrdup("/");
    const char *start = abs + len;
    while (start > abs && start[-1] != '/')
        start--;
    return xasprintf("%.*s", (int)(abs + len - start), start);
}

int cp_archive(int root, const char *path, struct io_writer *out, berr_t *err)
{
    _cleanup_free_ char *abs = xasprintf("/%s", path);
    _cleanup_free_ char *aname = archive_name(abs);
    struct tarw *tw = xcalloc(1, sizeof(*tw));
    int ret = -1;

    tw->path = abs;
    tw->a = archive_write_new();
    tw->links = archive_entry_linkresolver_new();
    if (tw->a == NULL || tw->links == NULL) {
        berr_set(err, ENOMEM, "archive %s", abs);
        goto out;
    }
    archive_write_set_format_pax_restricted(tw->a);
    archive_entry_linkresolver_set_strategy(tw->links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    if (io_archive_write_open(tw->a, out) != ARCHIVE_OK) {
        tar_fail(tw, "open", err);
        goto out;
    }
    ret = add_start(tw, root, abs, aname, err);
    if (archive_write_close(tw->a) != ARCHIVE_OK && ret == 0)
        ret = tar_fail(tw, "close", err);
out:
    if (tw->links)
        archive_entry_linkresolver_free(tw->links);
    if (tw->a)
        archive_write_free(tw->a);
    free(tw);
    return ret;
}
