#include "runtime-agent/containers/fsview.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/cp.h"
#include "runtime-agent/containers/mounts.h"
#include "runtime-agent/http/http.h"
#include "runtime-agent/image/store.h"

#define FD_PATH_LEN 32

/* The private mount of a container that is not running, held by its own thread. */
struct view_mount {
    char *target;  /* the overlay's mount point (in the thread's namespace only) */
    char *data;    /* overlay options */
    json_t *binds; /* runtime-style mounts to bind below the root (mounts_view_binds) */
    int ready[2];  /* thread -> opener: a byte once set up, or failed (then err is set) */
    int hold[2];   /* opener -> thread: end of file releases the namespace */
    int root;
    bool mounted; /* the overlay is mounted (in the thread's namespace) */
    berr_t err;
    pthread_t thread;
};

/* ---- the mount thread ---------------------------------------------------------------- */

static void fd_path(char buf[FD_PATH_LEN], int fd)
{
    snprintf(buf, FD_PATH_LEN, "/proc/self/fd/%d", fd);
}

/* Bind SOURCE on DEST below ROOT (created there when missing, resolved inside the root), and
 * make it read-only when RO. */
static int bind_one(int root, const char *source, const char *dest, bool ro, berr_t *err)
{
    struct stat st;
    char target[FD_PATH_LEN];

    if (stat(source, &st) < 0)
        return berr_set(err, errno, "mount %s: source %s", dest, source);
    _cleanup_close_ int fd = cp_create_dest(root, dest, S_ISDIR(st.st_mode));
    if (fd < 0)
        return berr_set(err, errno, "mount %s: create the mount point", dest);
    fd_path(target, fd);
    if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return berr_set(err, errno, "mount %s on %s", source, dest);
    if (!ro)
        return 0;
    /* The fd opened after the bind names the new mount's root, which a remount needs. */
    _cleanup_close_ int mfd = cp_openat(root, dest, O_PATH);
    if (mfd < 0)
        return berr_set(err, errno, "mount %s: reopen", dest);
    fd_path(target, mfd);
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return berr_set(err, errno, "mount %s: make it read-only", dest);
    return 0;
}

static int setup(struct view_mount *m, berr_t *err)
{
    size_t i;
    json_t *b;

    if (unshare(CLONE_NEWNS) < 0)
        return berr_set(err, errno, "unshare the mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return berr_set(err, errno, "make the mounts of the view private");
    if (mount("overlay", m->target, "overlay", 0, m->data) < 0)
        return berr_set(err, errno, "mount the overlay on %s", m->target);
    m->mounted = true;
    m->root = open(m->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (m->root < 0)
        return berr_set(err, errno, "open %s", m->target);
    json_array_foreach(m->binds, i, b)
    {
        if (bind_one(m->root, json_string_value(json_object_get(b, "source")),
                     json_string_value(json_object_get(b, "destination")),
                     json_is_true(json_object_get(b, "ro")), err) < 0)
            return -1;
    }
    return 0;
}

static void *view_main(void *arg)
{
    struct view_mount *m = arg;
    char byte = 0;

    if (setup(m, &m->err) < 0 && m->root >= 0) {
        close(m->root);
        m->root = -1;
    }
    while (write(m->ready[1], &byte, 1) < 0 && errno == EINTR)
        ;
    if (m->root >= 0) {
        ssize_t r;
        while ((r = read(m->hold[0], &byte, 1)) > 0 || (r < 0 && errno == EINTR))
            ;
    }
    /* Every fd below the root is closed by now: the overlay goes away with this unmount,
     * before the container can be started and mount its upper dir again. */
    if (m->mounted)
        umount2(m->target, MNT_DETACH);
    return NULL;
}

/* ---- opening and closing ------------------------------------------------------------- */

static void mount_free(struct view_mount *m)
{
    for (int i = 0; i < 2; i++) {
        if (m->ready[i] >= 0)
            close(m->ready[i]);
        if (m->hold[i] >= 0)
            close(m->hold[i]);
    }
    if (m->target)
        rmdir(m->target);
    free(m->target);
    free(m->data);
    json_decref(m->binds);
    berr_free(&m->err);
    free(m);
}

static char *overlay_data(struct containers *cs, struct container *c, berr_t *err)
{
    char **layers = NULL;
    size_t n = 0;
    char *buf = NULL;
    size_t len = 0;

    if (image_layer_dirs(cs->images, c->image_id, &layers, &n, err) < 0)
        return NULL;
    if (n == 0) {
        image_free_dirs(layers, n);
        berr_set(err, 0, "container %.12s: its image has no layers", c->id);
        return NULL;
    }
    FILE *f = open_memstream(&buf, &len);
    fputs("lowerdir=", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ":" : "", layers[i]);
    fprintf(f, ",upperdir=%s/upper,workdir=%s/work", c->dir, c->dir);
    fclose(f);
    image_free_dirs(layers, n);
    return buf;
}

static struct view_mount *mount_new(struct containers *cs, struct container *c, bool volumes,
                                    berr_t *err)
{
    _cleanup_free_ char *dir = NULL;
    struct view_mount *m = xcalloc(1, sizeof(*m));

    m->ready[0] = m->ready[1] = m->hold[0] = m->hold[1] = m->root = -1;
    m->data = overlay_data(cs, c, err);
    if (m->data == NULL)
        goto fail;
    m->binds = volumes ? mounts_view_binds(cs, c->mounts) : json_array();
    dir = path_join(c->bundle, "view");
    if (mkdir_p(dir, 0700, err) < 0)
        goto fail;
    m->target = steal_pointer(&dir);
    if (pipe2(m->ready, O_CLOEXEC) < 0 || pipe2(m->hold, O_CLOEXEC) < 0) {
        berr_set(err, errno, "container %.12s: open a view: pipe", c->id);
        goto fail;
    }
    return m;
fail:
    mount_free(m);
    return NULL;
}

/* Mount C in a thread of its own; the view's root once it is set up. */
static int mount_view(struct ctr_view *v, bool volumes, berr_t *err)
{
    struct view_mount *m = mount_new(v->cs, v->c, volumes, err);
    char byte;

    if (m == NULL)
        return -1;
    if (pthread_create(&m->thread, NULL, view_main, m) != 0) {
        mount_free(m);
        return berr_set(err, EAGAIN, "container %.12s: open a view: start a thread", v->c->id);
    }
    while (read(m->ready[0], &byte, 1) < 0 && errno == EINTR)
        ;
    if (m->root < 0) {
        pthread_join(m->thread, NULL);
        berr_set(err, 0, "container %.12s: mount its file system: %s", v->c->id, berr_msg(m->err));
        mount_free(m);
        return -1;
    }
    v->mnt = m;
    v->root = m->root;
    return 0;
}

/* The root of running container PID, checked to still be it once open. */
static int open_running(struct ctr_view *v, pid_t pid, berr_t *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/root", (int)pid);
    _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (pfd < 0)
        return http_err(err, EBUSY, "Container %s is not running", v->c->id);
    v->root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (v->root < 0)
        return berr_set(err, errno, "container %.12s: open %s", v->c->id, path);
    pthread_mutex_lock(&v->cs->store.lock);
    bool same = v->c->pid == pid && (v->c->status == CTR_RUNNING || v->c->status == CTR_PAUSED);
    pthread_mutex_unlock(&v->cs->store.lock);
    if (!same || syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) < 0)
        return http_err(err, EBUSY, "Container %s is not running", v->c->id);
    v->running = true;
    return 0;
}

static int view_open(struct ctr_view *v, unsigned flags, berr_t *err)
{
    struct containers *cs = v->cs;
    struct container *c = v->c;

    if (!(flags & VIEW_NO_LOCK)) {
        pthread_mutex_lock(&c->op);
        v->locked = true;
    }
    pthread_mutex_lock(&cs->store.lock);
    bool removed = c->removed;
    bool running = c->status == CTR_RUNNING || c->status == CTR_PAUSED;
    pid_t pid = c->pid;
    pthread_mutex_unlock(&cs->store.lock);
    if (removed)
        return http_err(err, ENOENT, "No such container: %s", c->id);
    if (!running)
        return mount_view(v, flags & VIEW_VOLUMES, err);
    if (v->locked) {
        pthread_mutex_unlock(&c->op);
        v->locked = false;
    }
    return open_running(v, pid, err);
}

int ctr_view_open(struct containers *cs, struct container *c, unsigned flags, struct ctr_view **out,
                  berr_t *err)
{
    struct ctr_view *v = xcalloc(1, sizeof(*v));

    v->root = -1;
    v->cs = cs;
    v->c = c;
    if (view_open(v, flags, err) < 0) {
        ctr_view_close(v);
        return -1;
    }
    *out = v;
    return 0;
}

void ctr_view_close(struct ctr_view *v)
{
    if (v == NULL)
        return;
    if (v->root >= 0)
        close(v->root);
    if (v->mnt) {
        close(v->mnt->hold[1]);
        v->mnt->hold[1] = -1;
        pthread_join(v->mnt->thread, NULL);
        mount_free(v->mnt);
    }
    if (v->locked)
        pthread_mutex_unlock(&v->c->op);
    free(v);
}
