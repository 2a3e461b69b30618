#include "runtime-agent/image/beneath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/image/internal.h"

/* Deeper trees are refused by beneath_remove rather than exhausting file descriptors. */
#define REMOVE_MAX_DEPTH 128

/* Set once the kernel (or a seccomp filter) has answered ENOSYS to openat2. */
static atomic_bool no_openat2;

char *beneath_clean(const char *path)
{
    size_t len = 0;
    char *out = xcalloc(1, strlen(path) + 1);
    const char *p = path;

    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t cl = (size_t)(p - s);
        if (cl == 0 || (cl == 1 && s[0] == '.'))
            continue;
        if (cl == 2 && s[0] == '.' && s[1] == '.') {
            if (len == 0) {
                free(out);
                return NULL;
            }
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            out[len] = '\0';
            continue;
        }
        if (len > 0)
            out[len++] = '/';
        memcpy(out + len, s, cl);
        len += cl;
        out[len] = '\0';
    }
    return out;
}

static int try_openat2(int rootfd, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = {.flags = (unsigned long long)flags, .resolve = resolve};

    if (atomic_load(&no_openat2)) {
        errno = ENOSYS;
        return -1;
    }
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        atomic_store(&no_openat2, true);
    return fd;
}

static int walk_error(berr_t *err, const char *rel, const char *comp, int errnum)
{
    if (errnum == ELOOP || errnum == ENOTDIR)
        return berr_set(err, 0,
                        "%s: %s is a symbolic link or not a directory; refusing to follow it", rel,
                        comp);
    return berr_set(err, errnum, "%s: open directory %s", rel, comp);
}

int beneath_open_dir(int rootfd, const char *rel, bool create, berr_t *err)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

    if (*rel != '\0') {
        int fd = try_openat2(rootfd, rel, flags,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd >= 0)
            return fd;
        if (errno != ENOSYS && (errno != ENOENT || !create))
            return walk_error(err, rel, rel, errno);
    }
    /* One component at a time, each opened with O_NOFOLLOW, creating what is missing. */
    _cleanup_free_ char *copy = xstrdup(rel);
    int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return berr_set(err, errno, "%s: duplicate directory fd", rel);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, flags);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                return berr_set(err, e, "%s: create directory %s", rel, c);
            }
            next = openat(fd, c, flags);
        }
        int e = errno;
        close(fd);
        if (next < 0)
            return walk_error(err, rel, c, e);
        fd = next;
    }
    return fd;
}

/* RESOLVE_IN_ROOT done by hand, for kernels without openat2: the path of PATH below ROOTFD with
 * every symlink followed, "/" and ".." kept at ROOTFD; NULL when it cannot be resolved. Fine
 * for trees nothing else changes meanwhile (an extracted archive). */
static char *resolve_in_root(int rootfd, const char *path, berr_t *err)
{
    char *resolved = xstrdup("");
    char *rest = xstrdup(path);
    int links = 0;

    for (;;) {
        char *p = rest;
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        char *end = strchrnul(p, '/');
        _cleanup_free_ char *comp = xasprintf("%.*s", (int)(end - p), p);
        char *next = xstrdup(end);
        free(rest);
        rest = next;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            char *slash = strrchr(resolved, '/');
            *(slash ? slash : resolved) = '\0';
            continue;
        }
        char target[4096];
        int dfd = beneath_open_dir(rootfd, resolved, false, err);
        ssize_t n = dfd < 0 ? -1 : readlinkat(dfd, comp, target, sizeof(target) - 1);
        if (dfd >= 0)
            close(dfd);
        if (dfd < 0 || (n >= 0 && ++links > 40)) {
            if (dfd >= 0)
                berr_set(err, ELOOP, "open %s", path);
            free(rest);
            free(resolved);
            return NULL;
        }
        if (n < 0) {
            char *joined = *resolved ? xasprintf("%s/%s", resolved, comp) : xstrdup(comp);
            free(resolved);
            resolved = joined;
            continue;
        }
        target[n] = '\0';
        if (target[0] == '/')
            resolved[0] = '\0';
        next = xasprintf("%s/%s", target, rest);
        free(rest);
        rest = next;
    }
    free(rest);
    return resolved;
}

static int open_in_root_walk(int rootfd, const char *path, int flags, berr_t *err)
{
    _cleanup_free_ char *resolved = resolve_in_root(rootfd, path, err);
    _cleanup_close_ int pfd = -1;

    if (resolved == NULL)
        return -1;
    char *slash = strrchr(resolved, '/');
    const char *base = slash ? slash + 1 : resolved;
    if (*base == '\0')
        return berr_set(err, 0, "open %s: not a file inside the archive", path);
    if (slash)
        *slash = '\0';
    pfd = beneath_open_dir(rootfd, slash ? resolved : "", false, err);
    if (pfd < 0)
        return -1;
    int fd = openat(pfd, base, flags | O_NOFOLLOW);
    if (fd < 0)
        return berr_set(err, errno, "open %s", path);
    return fd;
}

int beneath_open_file(int rootfd, const char *path, berr_t *err)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    struct stat st;
    int fd = try_openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

    if (fd < 0 && errno == ENOSYS) {
        fd = open_in_root_walk(rootfd, path, flags, err);
        if (fd < 0)
            return -1;
    } else if (fd < 0) {
        return berr_set(err, errno, "open %s", path);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return berr_set(err, 0, "open %s: not a regular file", path);
    }
    /* O_NONBLOCK only kept a FIFO from blocking the open; regular files ignore it. */
    fcntl(fd, F_SETFL, 0);
    return fd;
}

static int remove_tree(int dfd, const char *name, int depth)
{
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    if (depth >= REMOVE_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -1;
    }
    /* Collect the names first: removing while reading a directory may skip entries. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        GROW(names, n, cap);
        names[n++] = xstrdup(de->d_name);
    }
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0 && remove_tree(dirfd(d), names[i], depth + 1) < 0)
            r = -1;
        free(names[i]);
    }
    free(names);
    int e = errno;
    closedir(d);
    if (r < 0) {
        errno = e;
        return -1;
    }
    return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

int beneath_remove(int dfd, const char *name)
{
    return remove_tree(dfd, name, 0);
}
