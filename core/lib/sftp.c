/* The remote side of xfer: filesystem operations over libssh2's SFTP (blocking
 * mode, each call bounded by the session timeout). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/lib/ssh_internal.h"
#include "core/lib/xfer.h"

struct remote {
    struct ssh_conn *c;
    LIBSSH2_SFTP *sftp;
    const char *prefix;
};

int ssh_sftp(struct ssh_conn *c, void **sftp, berr_t *err)
{
    if (c->sftp == NULL) {
        c->sftp = libssh2_sftp_init(c->s);
        if (c->sftp == NULL)
            return ssh_lib_error(c, "start SFTP (is the sftp subsystem enabled in sshd?)", err);
    }
    *sftp = c->sftp;
    return 0;
}

static const char *fx_text(unsigned long code)
{
    switch (code) {
    case LIBSSH2_FX_NO_SUCH_FILE:
    case LIBSSH2_FX_NO_SUCH_PATH:
        return "No such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED:
    case LIBSSH2_FX_WRITE_PROTECT:
        return "Permission denied";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
    case LIBSSH2_FX_QUOTA_EXCEEDED:
        return "No space left on device";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS:
        return "File exists";
    case LIBSSH2_FX_NOT_A_DIRECTORY:
        return "Not a directory";
    case LIBSSH2_FX_DIR_NOT_EMPTY:
        return "Directory not empty";
    case LIBSSH2_FX_OP_UNSUPPORTED:
        return "operation not supported by the SFTP server";
    default:
        return "failed (the SFTP server gave no reason)";
    }
}

/* The SFTP status of the last failure, or 0 when it was not an SFTP status. */
static unsigned long fx_code(struct remote *r)
{
    if (libssh2_session_last_errno(r->c->s) != LIBSSH2_ERROR_SFTP_PROTOCOL)
        return 0;
    return libssh2_sftp_last_error(r->sftp);
}

static int fail(struct remote *r, const char *op, const char *path, berr_t *err)
{
    unsigned long code = fx_code(r);
    if (code != 0)
        return berr_set(err, 0, "%s%s: %s: %s", r->prefix, path, op, fx_text(code));
    ssh_lib_error(r->c, "sftp", err);
    return berr_prefix(err, "%s%s: %s", r->prefix, path, op);
}

static enum xfer_type type_of(unsigned long perm)
{
    if (LIBSSH2_SFTP_S_ISREG(perm))
        return XFER_FILE;
    if (LIBSSH2_SFTP_S_ISDIR(perm))
        return XFER_DIR;
    if (LIBSSH2_SFTP_S_ISLNK(perm))
        return XFER_LINK;
    return XFER_OTHER;
}

static int r_stat(void *ctx, const char *path, bool follow, struct xfer_stat *st, berr_t *err)
{
    struct remote *r = ctx;
    LIBSSH2_SFTP_ATTRIBUTES a = {0};

    memset(st, 0, sizeof(*st));
    if (libssh2_sftp_stat_ex(r->sftp, path, (unsigned)strlen(path),
                             follow ? LIBSSH2_SFTP_STAT : LIBSSH2_SFTP_LSTAT, &a) != 0) {
        unsigned long code = fx_code(r);
        if (code == LIBSSH2_FX_NO_SUCH_FILE || code == LIBSSH2_FX_NO_SUCH_PATH) {
            st->type = XFER_MISSING;
            return 0;
        }
        return fail(r, "stat", path, err);
    }
    st->type = type_of(a.permissions);
    st->mode = (unsigned)(a.permissions & 07777);
    st->size = a.filesize;
    st->mtime = (long long)a.mtime;
    st->atime = (long long)a.atime;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int r_list(void *ctx, const char *path, char ***names, size_t *n, berr_t *err)
{
    struct remote *r = ctx;
    LIBSSH2_SFTP_HANDLE *d = libssh2_sftp_opendir(r->sftp, path);
    char buf[4096];
    LIBSSH2_SFTP_ATTRIBUTES a;
    char **out = NULL;
    size_t cnt = 0;
    int len;

    if (d == NULL)
        return fail(r, "open directory", path, err);
    while ((len = libssh2_sftp_readdir(d, buf, sizeof(buf), &a)) > 0) {
        if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
            continue;
        char **grown = realloc(out, (cnt + 1) * sizeof(*out));
        if (grown == NULL)
            abort();
        out = grown;
        out[cnt++] = xasprintf("%.*s", len, buf);
    }
    libssh2_sftp_closedir(d);
    if (len < 0) {
        for (size_t i = 0; i < cnt; i++)
            free(out[i]);
        free(out);
        return fail(r, "read directory", path, err);
    }
    if (cnt > 1)
        qsort(out, cnt, sizeof(*out), cmp_names);
    *names = out;
    *n = cnt;
    return 0;
}

static int r_readlink(void *ctx, const char *path, char **target, berr_t *err)
{
    struct remote *r = ctx;
    char buf[4096];
    int len = libssh2_sftp_symlink_ex(r->sftp, path, (unsigned)strlen(path), buf, sizeof(buf),
                                      LIBSSH2_SFTP_READLINK);
    if (len < 0)
        return fail(r, "read link", path, err);
    *target = xasprintf("%.*s", len, buf);
    return 0;
}

static int r_symlink(void *ctx, const char *target, const char *path, berr_t *err)
{
    struct remote *r = ctx;
    char buf[4096];

    /* OpenSSH's server reads SSH_FXP_SYMLINK's arguments as (target, link path), which is
     * the order libssh2 sends them in. */
    if (libssh2_sftp_symlink_ex(r->sftp, target, (unsigned)strlen(target), (char *)path,
                                (unsigned)strlen(path), LIBSSH2_SFTP_SYMLINK) == 0)
        return 0;
    /* libssh2 1.10 reports a failure for a link it created when an earlier request of the
     * session failed: believe the link itself. */
    int n = libssh2_sftp_symlink_ex(r->sftp, path, (unsigned)strlen(path), buf, sizeof(buf),
                                    LIBSSH2_SFTP_READLINK);
    if (n >= 0 && (size_t)n == strlen(target) && memcmp(buf, target, (size_t)n) == 0)
        return 0;
    return fail(r, "create symlink", path, err);
}

static int r_mkdir(void *ctx, const char *path, unsigned mode, berr_t *err)
{
    struct remote *r = ctx;
    if (libssh2_sftp_mkdir_ex(r->sftp, path, (unsigned)strlen(path), (long)mode) != 0)
        return fail(r, "create directory", path, err);
    return 0;
}

static int r_unlink(void *ctx, const char *path, berr_t *err)
{
    struct remote *r = ctx;
    if (libssh2_sftp_unlink_ex(r->sftp, path, (unsigned)strlen(path)) != 0)
        return fail(r, "remove", path, err);
    return 0;
}

struct rfile {
    LIBSSH2_SFTP_HANDLE *h;
    char *path;
};

static int r_open(void *ctx, const char *path, bool write, unsigned mode, void **fh, berr_t *err)
{
    struct remote *r = ctx;
    unsigned long flags =
        write ? LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC : LIBSSH2_FXF_READ;
    LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(r->sftp, path, (unsigned)strlen(path), flags,
                                                  (long)mode, LIBSSH2_SFTP_OPENFILE);
    if (h == NULL)
        return fail(r, write ? "open for writing" : "open", path, err);
    struct rfile *f = xcalloc(1, sizeof(*f));
    f->h = h;
    f->path = xstrdup(path);
    *fh = f;
    return 0;
}

static long r_read(void *ctx, void *fh, char *buf, size_t len, berr_t *err)
{
    struct rfile *f = fh;
    ssize_t n = libssh2_sftp_read(f->h, buf, len);
    if (n < 0)
        return fail(ctx, "read", f->path, err);
    return (long)n;
}

static long r_write(void *ctx, void *fh, const char *buf, size_t len, berr_t *err)
{
    struct rfile *f = fh;
    ssize_t n = libssh2_sftp_write(f->h, buf, len);
    if (n < 0)
        return fail(ctx, "write", f->path, err);
    return (long)n;
}

static int r_close(void *ctx, void *fh, berr_t *err)
{
    struct rfile *f = fh;
    int rc = libssh2_sftp_close_handle(f->h);
    if (rc != 0)
        fail(ctx, "close", f->path, err);
    free(f->path);
    free(f);
    return rc != 0 ? -1 : 0;
}

static int r_setattr(void *ctx, const char *path, const struct xfer_stat *st, berr_t *err)
{
    struct remote *r = ctx;
    LIBSSH2_SFTP_ATTRIBUTES a = {0};

    a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS | LIBSSH2_SFTP_ATTR_ACMODTIME;
    a.permissions = st->mode & 07777;
    a.atime = (unsigned long)st->atime;
    a.mtime = (unsigned long)st->mtime;
    if (libssh2_sftp_stat_ex(r->sftp, path, (unsigned)strlen(path), LIBSSH2_SFTP_SETSTAT, &a) != 0)
        return fail(r, "set permissions and times", path, err);
    return 0;
}

static const struct xfer_ops remote_ops = {
    r_stat, r_list, r_readlink, r_symlink, r_mkdir,   r_unlink,
    r_open, r_read, r_write,    r_close,   r_setattr,
};

int xfer_remote(struct xfer_fs *fs, struct ssh_conn *c, const char *prefix, berr_t *err)
{
    void *sftp = NULL;

    if (ssh_sftp(c, &sftp, err) < 0)
        return -1;
    struct remote *r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->sftp = sftp;
    r->prefix = prefix;
    fs->ops = &remote_ops;
    fs->ctx = r;
    fs->prefix = prefix;
    return 0;
}
