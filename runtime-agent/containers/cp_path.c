/* Paths inside a container's root: resolution, stat, the extraction point, users. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/timefmt.h"

#define MAX_LINKS 255
/* openat2 answers EAGAIN when a rename raced with a ".." walk: try again a few times. */
#define EAGAIN_TRIES 8

/* Go's os.FileMode bits. */
#define GO_DIR (1u << 31)
#define GO_SYMLINK (1u << 27)
#define GO_DEVICE (1u << 26)
#define GO_PIPE (1u << 25)
#define GO_SOCKET (1u << 24)
#define GO_SETUID (1u << 23)
#define GO_SETGID (1u << 22)
#define GO_CHARDEV (1u << 21)
#define GO_STICKY (1u << 20)

int cp_openat(int root, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = -1;

    while (*path == '/')
        path++;
    for (int i = 0; i < EAGAIN_TRIES; i++) {
        fd = (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    return fd;
}

/* PATH without trailing slashes split at its last '/': *PARENT ("" for the root) and *BASE
 * (pointers into a copy the caller frees). */
static char *split(const char *path, const char **parent, const char **base)
{
    char *copy = xstrdup(path);
    size_t len = strlen(copy);

    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    if (slash == NULL) {
        *parent = "";
        *base = copy;
        return copy;
    }
    *slash = '\0';
    *parent = copy;
    *base = slash + 1;
    return copy;
}

int cp_mkdirs(int root, const char *path)
{
    const char *parent, *base;
    int fd = cp_openat(root, path, O_RDONLY | O_DIRECTORY);

    if (fd >= 0 || errno != ENOENT)
        return fd;
    _cleanup_free_ char *copy = split(path, &parent, &base);
    (void)copy; /* only held to be freed */
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        errno = ENOENT;
        return -1;
    }
    _cleanup_close_ int pfd = cp_mkdirs(root, parent);
    if (pfd < 0)
        return -1;
    if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
        return -1;
    return cp_openat(root, path, O_RDONLY | O_DIRECTORY);
}

int cp_create_dest(int root, const char *path, bool dir)
{
    const char *parent, *base;

    if (dir)
        return cp_mkdirs(root, path);
    int fd = cp_openat(root, path, O_PATH);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    _cleanup_free_ char *copy = split(path, &parent, &base);
    (void)copy; /* only held to be freed */
    _cleanup_close_ int pfd = cp_mkdirs(root, parent);
    if (pfd < 0)
        return -1;
    int ffd = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (ffd < 0 && errno != EEXIST)
        return -1;
    if (ffd >= 0)
        close(ffd);
    return cp_openat(root, path, O_PATH);
}

/* ---- following symlinks in scope ----------------------------------------------------- */

/* The next component of *REST (advanced past it), or NULL at the end. */
static char *next_component(char **rest)
{
    char *p = *rest;
    while (*p == '/')
        p++;
    if (*p == '\0')
        return NULL;
    char *end = strchrnul(p, '/');
    char *comp = xasprintf("%.*s", (int)(end - p), p);
    *rest = end;
    return comp;
}

/* The target of COMP in directory RESOLVED below ROOT, or NULL when it is no symlink. */
static char *read_link(int root, const char *resolved, const char *comp)
{
    _cleanup_close_ int dfd = cp_openat(root, resolved, O_PATH | O_DIRECTORY);
    char buf[4096];

    if (dfd < 0)
        return NULL;
    ssize_t n = readlinkat(dfd, comp, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

static void pop(char *resolved)
{
    char *slash = strrchr(resolved, '/');
    *(slash ? slash : resolved) = '\0';
}

char *cp_follow(int root, const char *path, berr_t *err)
{
    char *resolved = xstrdup("");
    char *text = xstrdup(path);
    char *rest = text;
    int links = 0;
    char *comp;

    while ((comp = next_component(&rest)) != NULL) {
        char *target = NULL;
        if (strcmp(comp, "..") == 0)
            pop(resolved);
        else if (strcmp(comp, ".") != 0 && (target = read_link(root, resolved, comp)) == NULL) {
            char *joined = xasprintf("%s/%s", resolved, comp);
            free(resolved);
            resolved = joined;
        }
        free(comp);
        if (target == NULL)
            continue;
        if (++links > MAX_LINKS) {
            free(target);
            free(text);
            free(resolved);
            berr_set(err, ELOOP, "follow %s", path);
            return NULL;
        }
        if (target[0] == '/')
            resolved[0] = '\0';
        char *next = xasprintf("%s/%s", target, rest);
        free(target);
        free(text);
        text = rest = next;
    }
    free(text);
    if (resolved[0] == '\0') {
        free(resolved);
        return xstrdup("/");
    }
    return resolved;
}

/* ---- stat ---------------------------------------------------------------------------- */

/* Go's filepath.Base of an absolute path. */
static char *go_base(const char *path)
{
    size_t len = strlen(path);

    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 0)
        return xstrdup("/");
    const char *start = path + len;
    while (start > path && start[-1] != '/')
        start--;
    return xasprintf("%.*s", (int)(path + len - start), start);
}

static uint32_t go_mode(mode_t m)
{
    uint32_t g = m & 0777;

    g |= m & S_ISUID ? GO_SETUID : 0;
    g |= m & S_ISGID ? GO_SETGID : 0;
    g |= m & S_ISVTX ? GO_STICKY : 0;
    switch (m & S_IFMT) {
    case S_IFDIR:
        return g | GO_DIR;
    case S_IFLNK:
        return g | GO_SYMLINK;
    case S_IFBLK:
        return g | GO_DEVICE;
    case S_IFCHR:
        return g | GO_DEVICE | GO_CHARDEV;
    case S_IFIFO:
        return g | GO_PIPE;
    case S_IFSOCK:
        return g | GO_SOCKET;
    default:
        return g;
    }
}

/* Whether PATH names its last component only through a resolution ("dir/", "dir/.", "/"). */
static bool ends_as_dir(const char *path)
{
    size_t len = strlen(path);
    return len == 0 || path[len - 1] == '/' || strcmp(path, ".") == 0 || strcmp(path, "..") == 0 ||
           (len >= 2 && path[len - 1] == '.' &&
            (path[len - 2] == '/' || (path[len - 2] == '.' && (len == 2 || path[len - 3] == '/'))));
}

/* lstat(PATH) inside ROOT: the last component is not followed unless PATH ends as a dir. */
static int lstat_in(int root, const char *path, struct stat *st)
{
    const char *parent, *base;

    if (ends_as_dir(path)) {
        _cleanup_close_ int fd = cp_openat(root, path, O_PATH);
        return fd < 0 ? -1 : fstat(fd, st);
    }
    _cleanup_free_ char *copy = split(path, &parent, &base);
    (void)copy; /* only held to be freed */
    _cleanup_close_ int pfd = cp_openat(root, parent, O_PATH | O_DIRECTORY);
    if (pfd < 0)
        return -1;
    return fstatat(pfd, base, st, AT_SYMLINK_NOFOLLOW);
}

int cp_stat(int root, const char *path, struct cp_stat *st, berr_t *err)
{
    struct stat s;
    _cleanup_free_ char *abs = xasprintf("/%s", path);

    memset(st, 0, sizeof(*st));
    if (lstat_in(root, abs, &s) < 0)
        return berr_set(err, errno == ENOTDIR ? ENOENT : errno, "lstat %s", abs);
    if (S_ISLNK(s.st_mode)) {
        st->link_target = cp_follow(root, abs, err);
        if (st->link_target == NULL)
            return -1;
    }
    st->name = go_base(abs);
    st->size = s.st_size;
    st->mode = go_mode(s.st_mode);
    st->mtime = time_rfc3339(&s.st_mtim);
    st->is_dir = S_ISDIR(s.st_mode);
    return 0;
}

void cp_stat_free(struct cp_stat *st)
{
    free(st->name);
    free(st->mtime);
    free(st->link_target);
    memset(st, 0, sizeof(*st));
}

char *cp_stat_header(const struct cp_stat *st)
{
    json_t *j = json_pack("{s:s,s:I,s:I,s:s,s:s}", "name", st->name, "size", (json_int_t)st->size,
                          "mode", (json_int_t)st->mode, "mtime", st->mtime, "linkTarget",
                          st->link_target ? st->link_target : "");
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t len = strlen(text);
    char *out = xcalloc(1, 4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)len);
    return out;
}

/* ---- extraction point ---------------------------------------------------------------- */

char *cp_extract_dir(int root, const char *path, berr_t *err)
{
    _cleanup_free_ char *abs = xasprintf("/%s", path);
    char *resolved = cp_follow(root, abs, err);
    struct stat st;

    if (resolved == NULL)
        return NULL;
    _cleanup_close_ int fd = cp_openat(root, resolved, O_PATH);
    if (fd < 0 || fstat(fd, &st) < 0) {
        berr_set(err, errno == ENOTDIR ? ENOENT : errno, "open %s", abs);
        free(resolved);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        http_err(err, EINVAL, "extraction point is not a directory");
        free(resolved);
        return NULL;
    }
    return resolved;
}

/* ---- users --------------------------------------------------------------------------- */

static long numeric(const char *s)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    long v = strtol(s, &end, 10);
    return *end == '\0' ? v : -1;
}

static FILE *open_etc(int root, const char *path)
{
    int fd = cp_openat(root, path, O_RDONLY);
    FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;

    if (f == NULL && fd >= 0)
        close(fd);
    return f;
}

/* NAME (or uid ID when NAME is NULL) in the container's /etc/passwd. */
static bool find_user(int root, const char *name, long id, uid_t *uid, gid_t *gid)
{
    FILE *f = open_etc(root, "/etc/passwd");
    struct passwd pw, *res;
    char buf[4096];
    bool found = false;

    while (f && !found && fgetpwent_r(f, &pw, buf, sizeof(buf), &res) == 0) {
        if (name ? strcmp(pw.pw_name, name) != 0 : (long)pw.pw_uid != id)
            continue;
        *uid = pw.pw_uid;
        *gid = pw.pw_gid;
        found = true;
    }
    if (f)
        fclose(f);
    return found;
}

static bool find_group(int root, const char *name, gid_t *gid)
{
    FILE *f = open_etc(root, "/etc/group");
    struct group gr, *res;
    char buf[8192];
    bool found = false;

    while (f && !found && fgetgrent_r(f, &gr, buf, sizeof(buf), &res) == 0) {
        if (strcmp(gr.gr_name, name) == 0) {
            *gid = gr.gr_gid;
            found = true;
        }
    }
    if (f)
        fclose(f);
    return found;
}

int cp_lookup_user(int root, const char *spec, uid_t *uid, gid_t *gid, berr_t *err)
{
    _cleanup_free_ char *user = xstrdup(spec);
    char *group = strchr(user, ':');
    uid_t u = 0;
    gid_t g = 0;

    if (group)
        *group++ = '\0';
    long id = numeric(user);
    if (id >= 0 && !find_user(root, NULL, id, &u, &g))
        u = (uid_t)id;
    if (id < 0 && *user && !find_user(root, user, -1, &u, &g))
        return berr_set(err, 0, "unable to find user %s: no matching entries in passwd file", user);
    long gnum = numeric(group);
    if (gnum >= 0)
        g = (gid_t)gnum;
    else if (group && *group && !find_group(root, group, &g))
        return berr_set(err, 0, "unable to find group %s: no matching entries in group file",
                        group);
    *uid = u;
    *gid = g;
    return 0;
}
