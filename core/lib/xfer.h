/* Copying files and trees between the local filesystem and machines (SFTP),
 * in any direction, keeping symlinks, permissions and modification times, and
 * with `delta` only the files whose size or modification time differ.
 *
 * Both sides are a `struct xfer_fs`: a table of filesystem operations over a
 * context, so one copy algorithm serves local->remote, remote->local and
 * remote->remote. */
#ifndef BERTH_XFER_H
#define BERTH_XFER_H

#include <stdbool.h>
#include <stdio.h>

#include "berth/error.h"
#include "core/lib/ssh.h"

enum xfer_type { XFER_MISSING, XFER_FILE, XFER_DIR, XFER_LINK, XFER_OTHER };

struct xfer_stat {
    enum xfer_type type;
    unsigned mode; /* permission bits (07777) */
    unsigned long long size;
    long long mtime, atime; /* seconds */
};

struct xfer_ops {
    /* Stat PATH (FOLLOW: through symlinks); a missing PATH is XFER_MISSING, not an error. */
    int (*stat)(void *ctx, const char *path, bool follow, struct xfer_stat *st, berr_t *err);
    /* The names in directory PATH without "." and "..", sorted. */
    int (*list)(void *ctx, const char *path, char ***names, size_t *n, berr_t *err);
    int (*readlink)(void *ctx, const char *path, char **target, berr_t *err);
    int (*symlink)(void *ctx, const char *target, const char *path, berr_t *err);
    int (*mkdir)(void *ctx, const char *path, unsigned mode, berr_t *err);
    int (*unlink)(void *ctx, const char *path, berr_t *err);
    /* Open PATH for reading, or for writing (created or truncated with MODE). */
    int (*open)(void *ctx, const char *path, bool write, unsigned mode, void **fh, berr_t *err);
    /* Read up to LEN bytes (0 at the end) / write some of LEN bytes; -1 on error. */
    long (*read)(void *ctx, void *fh, char *buf, size_t len, berr_t *err);
    long (*write)(void *ctx, void *fh, const char *buf, size_t len, berr_t *err);
    int (*close)(void *ctx, void *fh, berr_t *err);
    /* Set permissions and times (not on symlinks). */
    int (*setattr)(void *ctx, const char *path, const struct xfer_stat *st, berr_t *err);
};

struct xfer_fs {
    const struct xfer_ops *ops;
    void *ctx;
    const char *prefix; /* put before paths in messages: "" locally, "h1:" on a machine */
};

/* The local filesystem. */
void xfer_local(struct xfer_fs *fs);

/* Machine PREFIX's filesystem over C's SFTP session (sftp.c). */
int xfer_remote(struct xfer_fs *fs, struct ssh_conn *c, const char *prefix, berr_t *err);

/* Release what xfer_local/xfer_remote allocated (the SFTP session stays with its connection). */
void xfer_release(struct xfer_fs *fs);

struct xfer_opts {
    bool recursive; /* copy directories */
    bool delta;     /* skip files whose size and modification time already match */
    FILE *debug;    /* when set: one "copy"/"skip" line per file and a summary */
};

struct xfer_stats {
    unsigned long copied, skipped, links, dirs;
    unsigned long long bytes;
};

/* Where SRC lands when copied to DST: DST/basename(SRC) when DST is an existing directory,
 * else DST itself (malloc()ed). MANY says several sources go to DST: it must be a directory. */
int xfer_target(struct xfer_fs *dst, const char *dpath, const char *spath, bool many, char **out,
                berr_t *err);

/* Copy SPATH on SRC to exactly DPATH on DST, adding to *ST. */
int xfer_copy(struct xfer_fs *src, const char *spath, struct xfer_fs *dst, const char *dpath,
              const struct xfer_opts *o, struct xfer_stats *st, berr_t *err);

#endif
