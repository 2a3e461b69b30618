#include "berth/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void berth_freep(void *p)
{
    free(*(void **)p);
}

void berth_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static void oom(void)
{
    fputs("berth: out of memory\n", stderr);
    abort();
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        oom();
    va_end(ap);
    return s;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL)
        oom();
    return d;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        oom();
    return q;
}

char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 0 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (la == 0 && *a == '/')
        return xasprintf("/%s", b);
    return xasprintf("%.*s/%s", (int)la, a, b);
}

int mkdir_p(const char *path, mode_t mode, berr_t *err)
{
    _cleanup_free_ char *copy = xstrdup(path);
    char *p = copy;

    if (*p == '/')
        p++;
    for (;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (*copy != '\0' && mkdir(copy, mode) < 0) {
            struct stat st;
            if (errno != EEXIST)
                return berr_set(err, errno, "create directory %s", path);
            if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode))
                return berr_set(err, 0, "create directory %s: %s is not a directory", path, copy);
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path, berr_t *err)
{
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        return berr_set(err, errno, "remove %s", path);
    return 0;
}

int read_file(const char *path, char **out, size_t *len, berr_t *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    size_t cap, n = 0;
    _cleanup_free_ char *buf = NULL;

    if (fd < 0)
        return berr_set(err, errno, "open %s", path);
    if (fstat(fd, &st) < 0)
        return berr_set(err, errno, "stat %s", path);
    cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    buf = xcalloc(1, cap);
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                return berr_set(err, ENOMEM, "read %s", path);
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return berr_set(err, errno, "read %s", path);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    *out = steal_pointer(&buf);
    return 0;
}

static int fsync_dir_of(const char *path)
{
    _cleanup_free_ char *copy = xstrdup(path);
    _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    return fsync(dfd);
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, berr_t *err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    const char *p = data;
    size_t off = 0;

    if (fd < 0)
        return berr_set(err, errno, "write %s: create temporary file", path);
    if (fchmod(fd, mode) < 0)
        goto fail;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail;
        off += (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (rename(tmp, path) < 0)
        goto fail;
    fsync_dir_of(path);
    return 0;
fail:
    berr_set(err, errno, "write %s", path);
    unlink(tmp);
    return -1;
}

int copy_file_atomic(const char *src, const char *dst, mode_t mode, berr_t *err)
{
    _cleanup_free_ char *data = NULL;
    size_t len;

    if (read_file(src, &data, &len, err) < 0)
        return -1;
    return write_file_atomic(dst, data, len, mode, err);
}

int lock_path(const char *path, berr_t *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return berr_set(err, errno, "open lock %s", path);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno == EINTR)
            continue;
        berr_set(err, errno, "lock %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
