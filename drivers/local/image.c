#include "drivers/local/image.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "drivers/local/run.h"

static const char *const key_names[] = {"id_ecdsa.pub", "id_ed25519.pub", "id_rsa.pub"};

/* The directory of the shared object holding this code, or NULL. */
static char *own_dir(void)
{
    Dl_info info;
    char real[PATH_MAX];

    if (dladdr((void *)own_dir, &info) == 0 || info.dli_fname == NULL ||
        realpath(info.dli_fname, real) == NULL)
        return NULL;
    return xstrdup(dirname(real));
}

int image_find(char **path, berr_t *err)
{
    _cleanup_free_ char *dir = own_dir();
    _cleanup_free_ char *by_so = dir ? xasprintf("%s/../" LOCAL_IMAGE_NAME, dir) : NULL;
    _cleanup_free_ char *by_exe = NULL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
        by_exe = xasprintf("%s/../lib/berth/" LOCAL_IMAGE_NAME, dirname(exe));
    }
    if (by_so && file_exists(by_so)) {
        *path = realpath(by_so, NULL);
        return *path ? 0 : berr_set(err, errno, "machine image %s", by_so);
    }
    if (by_exe && file_exists(by_exe)) {
        *path = realpath(by_exe, NULL);
        return *path ? 0 : berr_set(err, errno, "machine image %s", by_exe);
    }
    return berr_set(err, ENOENT,
                    "no machine image: looked for %s%s%s; build it with 'make' (or point "
                    "--local-image / " LOCAL_IMAGE_ENV " at one)",
                    by_so ? by_so : "", by_so && by_exe ? " and " : "", by_exe ? by_exe : "");
}

/* FNV-1a of S: names the cached copy of each source image apart. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int image_cache(const char *src, const char *cache_dir, char **cached, berr_t *err)
{
    _cleanup_free_ char *real = realpath(src, NULL);
    _cleanup_free_ char *dst = NULL;
    struct stat s, d;

    if (real == NULL)
        return berr_set(err, errno, "machine image %s", src);
    dst = xasprintf("%s/machine-rootfs-%08x.tar.gz", cache_dir, fnv1a(real));

    if (stat(src, &s) < 0)
        return berr_set(err, errno, "machine image %s", src);
    if (stat(dst, &d) == 0 && d.st_size == s.st_size && d.st_mtim.tv_sec == s.st_mtim.tv_sec &&
        d.st_mtim.tv_nsec == s.st_mtim.tv_nsec) {
        *cached = steal_pointer(&dst);
        return 0;
    }
    if (mkdir_p(cache_dir, 0700, err) < 0 || copy_file_atomic(src, dst, 0644, err) < 0)
        return berr_prefix(err, "cache the machine image");
    struct timespec times[2] = {s.st_atim, s.st_mtim};
    if (utimensat(AT_FDCWD, dst, times, 0) < 0)
        return berr_set(err, errno, "cache the machine image: set the time of %s", dst);
    *cached = steal_pointer(&dst);
    return 0;
}

extern char **environ;

int image_extract(const char *helper, const char *image, const char *rootfs, berr_t *err)
{
    char *const argv[] = {(char *)helper, "extract", (char *)image, (char *)rootfs, NULL};

    return helper_run(argv, err) < 0 ? berr_prefix(err, "root file system from %s", image) : 0;
}

int helper_run(char *const argv[], berr_t *err)
{
    const char *helper = argv[0];
    posix_spawn_file_actions_t fa;
    char msg[1024];
    size_t n = 0;
    int out[2], status = 0, r;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) < 0)
        return berr_set(err, errno, "%s %s: pipe", helper, argv[1]);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    r = posix_spawn(&pid, helper, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (r != 0) {
        close(out[0]);
        return berr_set(err, r, "run %s %s", helper, argv[1]);
    }
    /* Its stderr holds the reason when it fails; read it all so that it never blocks. */
    for (;;) {
        char buf[512];
        ssize_t got = read(out[0], buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t)got < sizeof(msg) - 1 - n ? (size_t)got : sizeof(msg) - 1 - n;
        memcpy(msg + n, buf, keep);
        n += keep;
    }
    close(out[0]);
    msg[n] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    msg[strcspn(msg, "\n")] = '\0';
    if (msg[0])
        return berr_set(err, 0, "%s", msg);
    return berr_set(err, 0, "%s %s failed (status %d)", helper, argv[1], status);
}

/* The machine's /root/.ssh as a directory fd, created (0700) when missing. */
static int open_ssh_dir(const char *rootfs, berr_t *err)
{
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd;

    if (rootfd < 0)
        return berr_set(err, errno, "open %s", rootfs);
    fd = root_open(rootfd, "root/.ssh", O_RDONLY | O_DIRECTORY);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : berr_set(err, errno, "open %s/root/.ssh", rootfs);
    _cleanup_close_ int home = root_open(rootfd, "root", O_RDONLY | O_DIRECTORY);
    if (home < 0)
        return berr_set(err, errno, "open %s/root", rootfs);
    if (mkdirat(home, ".ssh", 0700) < 0 && errno != EEXIST)
        return berr_set(err, errno, "create %s/root/.ssh", rootfs);
    fd = openat(home, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd >= 0 ? fd : berr_set(err, errno, "open %s/root/.ssh", rootfs);
}

static char *read_at(int dirfd, const char *name)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
        return xstrdup("");
    char *buf = xcalloc(1, (size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int write_at(int dirfd, const char *name, const char *text, berr_t *err)
{
    _cleanup_free_ char *tmp = xasprintf(".%s.tmp", name);
    size_t len = strlen(text);

    unlinkat(dirfd, tmp, 0);
    _cleanup_close_ int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
        renameat(dirfd, tmp, dirfd, name) < 0) {
        int saved = errno;
        unlinkat(dirfd, tmp, 0);
        return berr_set(err, saved, "write root/.ssh/%s", name);
    }
    return 0;
}

int image_authorize_keys(const char *machine_dir, const char *rootfs, berr_t *err)
{
    _cleanup_close_ int ssh = -1;
    _cleanup_free_ char *keys = NULL;
    bool changed = false;

    for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
        _cleanup_free_ char *path = path_join(machine_dir, key_names[i]);
        _cleanup_free_ char *key = NULL;
        if (!file_exists(path))
            continue;
        if (read_file(path, &key, NULL, err) < 0)
            return -1;
        key[strcspn(key, "\r\n")] = '\0';
        if (key[0] == '\0')
            continue;
        if (ssh < 0 && (ssh = open_ssh_dir(rootfs, err)) < 0)
            return -1;
        if (keys == NULL)
            keys = read_at(ssh, "authorized_keys");
        if (strstr(keys, key) != NULL)
            continue;
        size_t n = strlen(keys);
        char *more = xasprintf("%s%s%s\n", keys, n && keys[n - 1] != '\n' ? "\n" : "", key);
        free(keys);
        keys = more;
        changed = true;
    }
    return changed ? write_at(ssh, "authorized_keys", keys, err) : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* The first mount point at or below DIR, from /proc/self/mountinfo (malloc()ed), or NULL. */
static char *mount_below(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL, *found = NULL;
    size_t cap = 0, len = strlen(dir);

    if (f == NULL)
        return NULL;
    while (found == NULL && getline(&line, &cap, f) > 0) {
        char mnt[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
            continue;
        if (strncmp(mnt, dir, len) == 0 && (mnt[len] == '/' || mnt[len] == '\0'))
            found = xstrdup(mnt);
    }
    free(line);
    fclose(f);
    return found;
}

int image_remove_rootfs(const char *rootfs, berr_t *err)
{
    _cleanup_free_ char *mnt = NULL;

    if (!file_exists(rootfs))
        return 0;
    if ((mnt = mount_below(rootfs)) != NULL)
        return berr_set(err, EBUSY,
                        "remove %s: %s is mounted; unmount it first (nothing was deleted)", rootfs,
                        mnt);
    if (nftw(rootfs, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return berr_set(err, errno, "remove %s", rootfs);
    return 0;
}
