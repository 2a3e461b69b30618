/* `docker cp` inside a container's root directory (an fd from containers/fsview.h), with
 * Docker's semantics for the archive API (HEAD/GET/PUT /containers/{id}/archive).
 *
 * Every path is resolved below ROOT with openat2(RESOLVE_IN_ROOT): a symlink in the container
 * that points at "/", at "../../.." or at a host path resolves inside the container, as it
 * would for the container's own processes. Trees are read and written with *at() calls on
 * directory fds, never following a symlink below the resolved start; tar streams are
 * libarchive's. */
#ifndef BERTHD_CONTAINERS_CP_H
#define BERTHD_CONTAINERS_CP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/error.h"
#include "runtime-agent/image/io.h"

/* openat2(ROOT, PATH, FLAGS | O_CLOEXEC) resolving in ROOT ("" or "/" is ROOT itself);
 * -1 with errno set. */
int cp_openat(int root, const char *path, int flags);

/* The directory PATH below ROOT, made (with its missing parents, mode 0755) when it does not
 * exist: an O_RDONLY directory fd, or -1 with errno set. */
int cp_mkdirs(int root, const char *path);

/* An O_PATH fd of PATH below ROOT, made as an empty directory (DIR) or file when missing, with
 * its parents: a mount point. -1 with errno set. */
int cp_create_dest(int root, const char *path, bool dir);

/* PATH with every symlink along it followed inside ROOT, as an absolute clean path in the
 * container; components that do not exist are kept as they are (Docker's
 * FollowSymlinkInScope). NULL (ELOOP) after 255 links. */
char *cp_follow(int root, const char *path, berr_t *err);

/* What HEAD /containers/{id}/archive reports about a path (X-Docker-Container-Path-Stat). */
struct cp_stat {
    char *name; /* the path's base name */
    int64_t size;
    uint32_t mode;     /* Go's os.FileMode: permissions and type bits */
    char *mtime;       /* RFC 3339 */
    char *link_target; /* for a symlink, the path it finally leads to in the container */
    bool is_dir;
};

/* Stat PATH in the container (its last component not followed): ENOENT when missing. */
int cp_stat(int root, const char *path, struct cp_stat *st, berr_t *err);

void cp_stat_free(struct cp_stat *st);

/* The X-Docker-Container-Path-Stat value: base64 of the JSON Docker sends. Caller frees. */
char *cp_stat_header(const struct cp_stat *st);

/* GET: write a tar of PATH to OUT as Docker names its entries (the base name of PATH, "." for
 * "DIR/.", children below it). Mounted proc, sys, cgroup, devpts and mqueue file systems are
 * listed, not descended into. */
int cp_archive(int root, const char *path, struct io_writer *out, berr_t *err);

/* PUT: where an archive for PATH is extracted: PATH with every symlink followed, which must be
 * an existing directory (ENOENT when missing, ENOTDIR "extraction point is not a directory"). */
char *cp_extract_dir(int root, const char *path, berr_t *err);

struct cp_extract_opts {
    bool no_overwrite_dir_non_dir; /* refuse to replace a directory by a file or back */
    bool chown;                    /* give every entry UID:GID, not the tar header's owner */
    uid_t uid;
    gid_t gid;
};

/* Extract the tar (plain or compressed) read from IN below DIR (from cp_extract_dir). Entries
 * that would leave DIR are refused; files, directories, symlinks, hard links, devices and FIFOs
 * keep their modes, owners and times. */
int cp_extract(int root, const char *dir, struct io_reader *in, const struct cp_extract_opts *o,
               berr_t *err);

/* Docker's user spec ("name", "uid", "name:group", "uid:gid") resolved in the container's
 * /etc/passwd and /etc/group. */
int cp_lookup_user(int root, const char *spec, uid_t *uid, gid_t *gid, berr_t *err);

#endif
