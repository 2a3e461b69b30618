/* docker commit, diff and export: see commit.h. */
#include "runtime-agent/containers/commit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/diff.h"
#include "runtime-agent/image/pack.h"
#include "runtime-agent/image/store.h"
#include "runtime-agent/log.h"

#define FD_PATH_LEN 32
/* fsconfig takes at most this many bytes of a string value (kernels before lowerdir+). */
#define FSCONFIG_STRING_MAX 256

/* What berthd makes in a container's root for its own mounts: Docker's init layer. */
static const char *const stubs[] = {
    "etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "proc",       "sys",
    "dev",       "dev/console",  "dev/pts",         "dev/shm",    "dev/mqueue",
};

json_t *ctr_config_copy(struct containers *cs, struct container *c)
{
    pthread_mutex_lock(&cs->store.lock);
    json_t *copy = json_deep_copy(c->config);
    pthread_mutex_unlock(&cs->store.lock);
    return copy ? copy : json_object();
}

/* dockerd's refusals for a container that is going away; *RUNNING tells whether it runs. */
static int check_state(struct containers *cs, struct container *c, const char *verb, bool *running,
                       berr_t *err)
{
    pthread_mutex_lock(&cs->store.lock);
    bool removed = c->removed;
    enum ctr_status st = c->status;
    pthread_mutex_unlock(&cs->store.lock);
    if (removed)
        return http_err(err, ENOENT, "No such container: %s", c->id);
    if (st == CTR_REMOVING)
        return http_err(err, EBUSY, "You cannot %s container %s which is being removed", verb,
                        c->id);
    if (st == CTR_DEAD)
        return http_err(err, EBUSY, "You cannot %s container %s which is Dead", verb, c->id);
    if (running)
        *running = st == CTR_RUNNING;
    return 0;
}

/* Pack C's upper dir, without berthd's mount points, into the open file FD. */
static int pack_upper(struct container *c, int fd, berr_t *err)
{
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    struct diff_skip skip = {0};
    struct io_writer w = io_fd_writer(fd);

    int r = diff_find_stubs(upper, stubs, sizeof(stubs) / sizeof(stubs[0]), &skip, err);
    if (r == 0)
        r = layer_pack_skip(upper, &skip, &w, err);
    diff_skip_clear(&skip);
    return r;
}

/* The history entry and config keys of the commit. */
static void commit_meta(struct container *c, const struct ctr_commit_opts *o, json_t *cc,
                        json_t **config, json_t **history)
{
    _cleanup_free_ char *created_by = NULL;
    size_t len = 0, i;
    json_t *v;
    FILE *f = open_memstream(&created_by, &len);

    /* dockerd's created_by: the container's Cmd joined with spaces. */
    json_array_foreach(json_object_get(cc, "Cmd"), i, v)
        fprintf(f, "%s%s", i ? " " : "", json_string_value(v) ? json_string_value(v) : "");
    fclose(f);
    *history = json_pack("{s:s}", "created_by", created_by);
    *config = json_pack("{s:O, s:s, s:O}", "config", o->config, "container", c->id,
                        "container_config", cc);
    if (o->author && *o->author) {
        json_object_set_new(*history, "author", json_string(o->author));
        json_object_set_new(*config, "author", json_string(o->author));
    }
    if (o->comment && *o->comment) {
        json_object_set_new(*history, "comment", json_string(o->comment));
        json_object_set_new(*config, "comment", json_string(o->comment));
    }
}

int ctr_commit(struct containers *cs, struct container *c, const struct ctr_commit_opts *o,
               char **id, berr_t *err)
{
    bool running, paused = false;
    _cleanup_free_ char *tar = path_join(c->dir, "commit-XXXXXX");
    _cleanup_close_ int fd = -1;
    int r = -1;

    if (check_state(cs, c, "commit", &running, err) < 0)
        return -1;
    if (o->pause && running) {
        if (ctr_pause(cs, c, true, err) < 0)
            return berr_prefix(err, "commit: pause");
        paused = true;
    }
    fd = mkostemp(tar, O_CLOEXEC);
    if (fd < 0) {
        berr_set(err, errno, "container %.12s: commit: create %s", c->id, tar);
    } else {
        r = pack_upper(c, fd, err);
        unlink(tar);
    }
    if (paused) {
        berr_t e = NULL;
        if (ctr_pause(cs, c, false, &e) < 0)
            log_warn("container %.12s: unpause after commit: %s", c->id, berr_msg(e));
        berr_free(&e);
    }
    if (r < 0)
        return berr_prefix(err, "container %.12s: commit", c->id);

    /* The tar is read back through /proc/self/fd: it has no name any more. */
    char path[FD_PATH_LEN];
    json_t *cc = ctr_config_copy(cs, c), *config, *history;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    commit_meta(c, o, cc, &config, &history);
    json_decref(cc);
    if (lseek(fd, 0, SEEK_SET) < 0)
        r = berr_set(err, errno, "container %.12s: commit: rewind the layer", c->id);
    else
        r = image_create_from_layer(cs->images, c->image_id, path, config, history, id, err);
    json_decref(config);
    json_decref(history);
    if (r == 0 && o->ref && image_tag(cs->images, *id, o->ref, err) < 0) {
        free(*id);
        *id = NULL;
        r = -1;
    }
    return r;
}

int ctr_changes(struct containers *cs, struct container *c, json_t **changes, berr_t *err)
{
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    struct diff_skip skip = {0};
    char **dirs = NULL;
    size_t n = 0;

    if (check_state(cs, c, "diff", NULL, err) < 0 ||
        image_layer_dirs(cs->images, c->image_id, &dirs, &n, err) < 0)
        return -1;
    int r = diff_find_stubs(upper, stubs, sizeof(stubs) / sizeof(stubs[0]), &skip, err);
    if (r == 0)
        r = diff_changes(upper, dirs, n, &skip, changes, err);
    diff_skip_clear(&skip);
    image_free_dirs(dirs, n);
    return r < 0 ? berr_prefix(err, "container %.12s", c->id) : 0;
}

/* ---- export -------------------------------------------------------------------------- */

/* Give the overlay context FSFD the N directories FDS as lower dirs, top first. */
static int set_lowers(int fsfd, const int *fds, size_t n, berr_t *err)
{
    char path[FD_PATH_LEN], all[FSCONFIG_STRING_MAX] = "";
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
            break;
    }
    if (i == n)
        return 0;
    if (i > 0 || errno != EINVAL)
        return berr_set(err, errno, "overlay option lowerdir+");
    /* Before Linux 6.8: one lowerdir string. */
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
        if (strlen(all) + strlen(path) + 2 >= sizeof(all))
            return berr_set(err, E2BIG, "%zu layers need Linux 6.8 to be exported", n);
        if (i > 0)
            strcat(all, ":");
        strcat(all, path);
    }
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", all, 0) < 0)
        return berr_set(err, errno, "overlay option lowerdir");
    return 0;
}

/* A detached read-only overlay of C's upper dir over its image's layers. */
static int merged_view(struct containers *cs, struct container *c, berr_t *err)
{
    char **dirs = NULL;
    size_t n = 0;
    int mfd = -1;

    if (image_layer_dirs(cs->images, c->image_id, &dirs, &n, err) < 0)
        return -1;
    int *fds = xcalloc(n + 1, sizeof(int));
    size_t opened = 0;
    _cleanup_free_ char *upper = path_join(c->dir, "upper");
    _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);

    if (fsfd < 0) {
        berr_set(err, errno, "open an overlay file system context");
        goto out;
    }
    for (; opened <= n; opened++) {
        const char *dir = opened == 0 ? upper : dirs[opened - 1];
        fds[opened] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fds[opened] < 0) {
            berr_set(err, errno, "open %s", dir);
            goto out;
        }
    }
    if (set_lowers(fsfd, fds, n + 1, err) < 0)
        goto out;
    if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        berr_set(err, errno, "create the overlay");
        goto out;
    }
    mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
                  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mfd < 0)
        berr_set(err, errno, "mount the overlay");
out:
    for (size_t i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    image_free_dirs(dirs, n);
    return mfd;
}

int ctr_export(struct containers *cs, struct container *c, struct io_writer *out,
               int (*begin)(void *ctx, berr_t *err), void *ctx, berr_t *err)
{
    char path[FD_PATH_LEN];

    if (check_state(cs, c, "export", NULL, err) < 0)
        return -1;
    _cleanup_close_ int mfd = merged_view(cs, c, err);
    if (mfd < 0)
        return berr_prefix(err, "container %.12s: export", c->id);
    if (begin && begin(ctx, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
    if (layer_pack(path, out, err) < 0)
        return berr_prefix(err, "container %.12s: export", c->id);
    return 0;
}
