#include "runtime-agent/containers/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/containers/detachkeys.h"
#include "runtime-agent/containers/store.h"
#include "runtime-agent/events.h"
#include "runtime-agent/runtime/runtime.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

struct exec_inst {
    char id[65];
    char ctr_id[65];
    json_t *cmd; /* array of strings, never empty */
    json_t *env; /* array of "K=V" (or "K" to unset), may be empty */
    char *user, *workdir, *detach_keys;
    bool tty, attach_in, attach_out, attach_err, privileged;

    /* Below: under reg.lock. */
    unsigned short rows, cols;
    bool started, running, exited;
    int exit_code;
    pid_t pid;
    pid_t proc_pid; /* the exec'd process (nsexec's child), once seen */
    int master;     /* pty master, -1 */
    char *spec_path;
    time_t finished; /* CLOCK_MONOTONIC seconds */
    int refs;
    pthread_mutex_t wait_lock; /* one waitpid() at a time */
};

static struct {
    pthread_mutex_t lock;
    struct exec_inst **items;
    size_t n, cap;
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void exec_free(struct exec_inst *e)
{
    if (e->master >= 0)
        close(e->master);
    json_decref(e->cmd);
    json_decref(e->env);
    free(e->user);
    free(e->workdir);
    free(e->detach_keys);
    free(e->spec_path);
    pthread_mutex_destroy(&e->wait_lock);
    free(e);
}

/* Drop a reference; caller holds reg.lock. */
static void put_locked(struct exec_inst *e)
{
    if (--e->refs == 0)
        exec_free(e);
}

/* Remove entry I from the registry; caller holds reg.lock. */
static void unlink_locked(size_t i)
{
    struct exec_inst *e = reg.items[i];

    reg.items[i] = reg.items[--reg.n];
    put_locked(e);
}

/* Forget instances that finished more than EXEC_KEEP_SECONDS ago; caller holds reg.lock. */
static void sweep_locked(void)
{
    time_t now = mono_now();

    for (size_t i = reg.n; i-- > 0;) {
        struct exec_inst *e = reg.items[i];
        if (e->exited && now - e->finished > EXEC_KEEP_SECONDS)
            unlink_locked(i);
    }
}

/* Set *err to exactly FMT (no strerror text) with ERRNUM picking the HTTP status. */
static int __attribute__((format(printf, 3, 4))) fail(berr_t *err, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    berr_vset(err, 0, fmt, ap);
    va_end(ap);
    if (err != NULL && *err != NULL)
        (*err)->errnum = errnum;
    return -1;
}

static char *str_field(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return xstrdup(s ? s : "");
}

/* A JSON array of strings under KEY (missing or null: empty); NULL when it is something else. */
static json_t *strv_field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key), *s;
    size_t i;

    if (v == NULL || json_is_null(v))
        return json_array();
    if (!json_is_array(v))
        return NULL;
    json_array_foreach(v, i, s) if (!json_is_string(s)) return NULL;
    return json_deep_copy(v);
}

int exec_create(const char *ctr_id, const json_t *body, char id[65], berr_t *err)
{
    json_t *cmd = strv_field(body, "Cmd");
    json_t *env = strv_field(body, "Env");

    if (cmd == NULL || json_array_size(cmd) == 0 ||
        json_string_length(json_array_get(cmd, 0)) == 0) {
        json_decref(cmd);
        json_decref(env);
        return fail(err, EINVAL, "No exec command specified");
    }
    if (env == NULL) {
        json_decref(cmd);
        return fail(err, EINVAL, "Env must be a list of strings");
    }
    const char *keys = json_string_value(json_object_get(body, "DetachKeys"));
    struct detach_keys dk;
    if (detach_keys_parse(&dk, keys, err) < 0) {
        json_decref(cmd);
        json_decref(env);
        return fail(err, EINVAL, "Invalid escape keys (%s) provided", keys);
    }
    struct exec_inst *e = xcalloc(1, sizeof(*e));
    ctr_new_id(e->id);
    snprintf(e->ctr_id, sizeof(e->ctr_id), "%s", ctr_id);
    e->cmd = cmd;
    e->env = env;
    e->user = str_field(body, "User");
    e->workdir = str_field(body, "WorkingDir");
    e->detach_keys = str_field(body, "DetachKeys");
    e->tty = json_is_true(json_object_get(body, "Tty"));
    e->attach_in = json_is_true(json_object_get(body, "AttachStdin"));
    e->attach_out = json_is_true(json_object_get(body, "AttachStdout"));
    e->attach_err = json_is_true(json_object_get(body, "AttachStderr"));
    e->privileged = json_is_true(json_object_get(body, "Privileged"));
    json_t *cs = json_object_get(body, "ConsoleSize");
    json_int_t h = json_integer_value(json_array_get(cs, 0));
    json_int_t w = json_integer_value(json_array_get(cs, 1));
    e->rows = h > 0 && h < 65536 ? (unsigned short)h : 24;
    e->cols = w > 0 && w < 65536 ? (unsigned short)w : 80;
    e->master = -1;
    e->exit_code = -1;
    e->refs = 1;
    pthread_mutex_init(&e->wait_lock, NULL);
    snprintf(id, 65, "%s", e->id);

    pthread_mutex_lock(&reg.lock);
    sweep_locked();
    if (reg.n == reg.cap) {
        size_t cap = reg.cap ? reg.cap * 2 : 16;
        struct exec_inst **items = realloc(reg.items, cap * sizeof(*items));
        if (items == NULL)
            abort();
        reg.items = items;
        reg.cap = cap;
    }
    reg.items[reg.n++] = e;
    pthread_mutex_unlock(&reg.lock);
    events_exec(ctr_id, "exec_create", e->id, e->cmd, -1);
    return 0;
}

struct exec_inst *exec_get(const char *id, berr_t *err)
{
    struct exec_inst *found = NULL;

    pthread_mutex_lock(&reg.lock);
    sweep_locked();
    for (size_t i = 0; id != NULL && i < reg.n && found == NULL; i++) {
        if (strcmp(reg.items[i]->id, id) == 0) {
            found = reg.items[i];
            found->refs++;
        }
    }
    pthread_mutex_unlock(&reg.lock);
    if (found == NULL)
        fail(err, ENOENT, "No such exec instance: %s", id ? id : "");
    return found;
}

void exec_put(struct exec_inst *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&reg.lock);
    put_locked(e);
    pthread_mutex_unlock(&reg.lock);
}

const char *exec_id(const struct exec_inst *e)
{
    return e->id;
}

const char *exec_container_id(const struct exec_inst *e)
{
    return e->ctr_id;
}

bool exec_tty(const struct exec_inst *e)
{
    return e->tty;
}

const char *exec_detach_keys(const struct exec_inst *e)
{
    return e->detach_keys;
}

bool exec_attach_stdin(const struct exec_inst *e)
{
    return e->attach_in;
}

bool exec_attach_stdout(const struct exec_inst *e)
{
    return e->attach_out;
}

bool exec_attach_stderr(const struct exec_inst *e)
{
    return e->attach_err;
}

void exec_forget_container(const char *ctr_id)
{
    pthread_mutex_lock(&reg.lock);
    for (size_t i = reg.n; i-- > 0;)
        if (strcmp(reg.items[i]->ctr_id, ctr_id) == 0)
            unlink_locked(i);
    pthread_mutex_unlock(&reg.lock);
}

json_t *exec_ids_of(const char *ctr_id)
{
    json_t *ids = json_array();

    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < reg.n; i++)
        if (strcmp(reg.items[i]->ctr_id, ctr_id) == 0)
            json_array_append_new(ids, json_string(reg.items[i]->id));
    pthread_mutex_unlock(&reg.lock);
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        return json_null();
    }
    return ids;
}

/* ---- the spec file ---- */

/* Docker's ReplaceOrAppendEnvValues: "K=V" replaces K or is added, a bare "K" removes K. */
static void env_override(json_t *env, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    json_t *v;
    size_t i;

    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strncmp(s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
            if (eq)
                json_array_set_new(env, i, json_string(kv));
            else
                json_array_remove(env, i);
            return;
        }
    }
    if (eq)
        json_array_append_new(env, json_string(kv));
}

static int write_spec(struct exec_inst *e, const char *bundle, char **path, berr_t *err)
{
    _cleanup_free_ char *cpath = path_join(bundle, "spec.json");
    json_error_t jerr;
    json_t *c = json_load_file(cpath, 0, &jerr);
    json_t *v;
    size_t i;

    if (!json_is_object(c)) {
        json_decref(c);
        return berr_set(err, 0, "exec: read the container's spec %s: %s", cpath, jerr.text);
    }
    json_t *env = json_is_array(json_object_get(c, "env"))
                      ? json_deep_copy(json_object_get(c, "env"))
                      : json_array();
    json_array_foreach(e->env, i, v) env_override(env, json_string_value(v));
    const char *cwd = e->workdir[0] ? e->workdir : json_string_value(json_object_get(c, "cwd"));
    const char *user = e->user[0] ? e->user : json_string_value(json_object_get(c, "user"));
    json_t *s =
        json_pack("{s:O, s:o, s:s, s:s, s:b, s:b}", "args", e->cmd, "env", env, "cwd",
                  cwd ? cwd : "/", "user", user ? user : "", "privileged",
                  e->privileged || json_is_true(json_object_get(c, "privileged")), "tty", e->tty);
    /* The container's own security settings apply to its execs too. */
    static const char *const inherit[] = {"cap_add", "cap_drop", "no_new_privileges", "seccomp"};
    for (i = 0; i < sizeof(inherit) / sizeof(inherit[0]); i++)
        if ((v = json_object_get(c, inherit[i])) != NULL)
            json_object_set(s, inherit[i], v);
    json_decref(c);

    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    _cleanup_free_ char *name = xasprintf("exec-%s.json", e->id);
    *path = path_join(bundle, name);
    int rc = text ? write_file_atomic(*path, text, strlen(text), 0600, err)
                  : berr_set(err, ENOMEM, "exec: encode spec");
    free(text);
    if (rc < 0) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

/* ---- stdio ---- */

/* A pty from the container's own devpts (so `tty` inside names it /dev/pts/N), reached
 * through /proc/PID/root without following anything out of the container's root; the
 * host's devpts when that is not possible. */
static int open_master(pid_t ctr_pid)
{
    char root[64];
    struct stat st;
    int m = -1;

    snprintf(root, sizeof(root), "/proc/%d/root", (int)ctr_pid);
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd >= 0) {
        struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        m = (int)syscall(SYS_openat2, rfd, "dev/pts/ptmx", &how, sizeof(how));
        close(rfd);
        /* Only the ptmx device itself (5:2): anything else the container put there is not. */
        if (m >= 0 && (fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
                       minor(st.st_rdev) != 2)) {
            close(m);
            m = -1;
        }
    }
    if (m < 0)
        m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    return m;
}

static int open_pty(pid_t ctr_pid, unsigned short rows, unsigned short cols, int *master,
                    int *slave, berr_t *err)
{
    int unlock = 0;
    int m = open_master(ctr_pid);

    if (m < 0)
        return berr_set(err, errno, "exec: create a pty");
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0) {
        close(m);
        return berr_set(err, errno, "exec: unlock the pty");
    }
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        char name[64];
        if (ptsname_r(m, name, sizeof(name)) == 0)
            s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
    if (s < 0) {
        close(m);
        return berr_set(err, errno, "exec: open the pty's terminal");
    }
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(m, TIOCSWINSZ, &ws);
    *master = m;
    *slave = s;
    return 0;
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* The command's stdin/stdout/stderr in CHILD, ours in IO (or /dev/null where not attached). */
static int make_stdio(struct exec_inst *e, pid_t ctr_pid, bool detached, int child[3],
                      struct exec_io *io, int *master, berr_t *err)
{
    bool want[3] = {e->attach_in && !detached, e->attach_out && !detached,
                    e->attach_err && !detached};
    int ours[3] = {-1, -1, -1};

    child[0] = child[1] = child[2] = -1;
    *master = -1;
    if (e->tty) {
        unsigned short rows, cols;
        pthread_mutex_lock(&reg.lock);
        rows = e->rows;
        cols = e->cols;
        pthread_mutex_unlock(&reg.lock);
        int slave = -1;
        if (open_pty(ctr_pid, rows, cols, master, &slave, err) < 0)
            return -1;
        child[0] = slave;
        child[1] = fcntl(slave, F_DUPFD_CLOEXEC, 0);
        child[2] = fcntl(slave, F_DUPFD_CLOEXEC, 0);
        if (!detached) {
            ours[1] = fcntl(*master, F_DUPFD_CLOEXEC, 0);
            if (e->attach_in)
                ours[0] = fcntl(*master, F_DUPFD_CLOEXEC, 0);
        }
        if (child[1] < 0 || child[2] < 0 || (ours[1] < 0 && !detached) ||
            (e->attach_in && !detached && ours[0] < 0)) {
            berr_set(err, errno, "exec: duplicate the pty");
            goto fail;
        }
    } else {
        for (int i = 0; i < 3; i++) {
            int p[2];
            if (!want[i]) {
                child[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (child[i] < 0) {
                    berr_set(err, errno, "exec: open /dev/null");
                    goto fail;
                }
                continue;
            }
            if (pipe2(p, O_CLOEXEC) < 0) {
                berr_set(err, errno, "exec: pipe");
                goto fail;
            }
            child[i] = i == 0 ? p[0] : p[1];
            ours[i] = i == 0 ? p[1] : p[0];
        }
    }
    io->in = ours[0];
    io->out = ours[1];
    io->err = ours[2];
    return 0;
fail:
    close_fds(child, 3);
    close_fds(ours, 3);
    if (*master >= 0)
        close(*master);
    *master = -1;
    return -1;
}

/* ---- running ---- */

int exec_spawn(struct exec_inst *e, pid_t ctr_pid, const char *bundle, bool detached,
               struct exec_io *io, berr_t *err)
{
    struct exec_io none = {-1, -1, -1};
    int child[3], master = -1;
    char *spec = NULL;
    pid_t pid;

    if (io == NULL)
        io = &none;
    *io = none;
    pthread_mutex_lock(&reg.lock);
    bool ran = e->exited, busy = e->started;
    e->started = true;
    pthread_mutex_unlock(&reg.lock);
    if (ran || busy)
        return fail(err, EBUSY, "Error: Exec command %s %s", e->id,
                    ran ? "has already run" : "is already running");
    int rc = write_spec(e, bundle, &spec, err);
    if (rc == 0)
        rc = make_stdio(e, ctr_pid, detached, child, io, &master, err);
    if (rc == 0) {
        rc = runtime_exec_spawn(ctr_pid, spec, child, &pid, err);
        close_fds(child, 3);
        if (rc < 0) {
            int fds[3] = {io->in, io->out, io->err};
            close_fds(fds, 3);
            *io = none;
            if (master >= 0)
                close(master);
        }
    }
    pthread_mutex_lock(&reg.lock);
    if (rc < 0) {
        /* As Docker does: a start that failed counts as a run that ended with 126. */
        e->exited = true;
        e->exit_code = 126;
        e->finished = mono_now();
    } else {
        e->running = true;
        e->pid = pid;
        e->master = master;
        e->spec_path = spec;
        spec = NULL;
    }
    pthread_mutex_unlock(&reg.lock);
    if (spec != NULL)
        unlink(spec);
    free(spec);
    if (rc < 0)
        return berr_prefix(err, "exec %s", e->id);
    events_exec(e->ctr_id, "exec_start", e->id, e->cmd, -1);
    if (detached)
        exec_detach(e);
    return 0;
}

static void record_exit(struct exec_inst *e, int status)
{
    int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

    pthread_mutex_lock(&reg.lock);
    e->running = false;
    e->exited = true;
    e->exit_code = code;
    e->finished = mono_now();
    char *spec = e->spec_path;
    e->spec_path = NULL;
    pthread_mutex_unlock(&reg.lock);
    events_exec(e->ctr_id, "exec_die", e->id, NULL, code);
    if (spec != NULL)
        unlink(spec);
    free(spec);
}

/* Reap E's command when it exited (HANG: wait for that). True once E is finished. */
static bool reap(struct exec_inst *e, bool hang)
{
    int status;
    bool done;

    pthread_mutex_lock(&e->wait_lock);
    pthread_mutex_lock(&reg.lock);
    done = e->exited;
    pid_t pid = e->running ? e->pid : 0;
    pthread_mutex_unlock(&reg.lock);
    if (!done && pid > 0) {
        pid_t r;
        while ((r = waitpid(pid, &status, hang ? 0 : WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r == pid) {
            record_exit(e, status);
            done = true;
        } else if (r < 0) { /* not ours to wait for any more (ECHILD): the code is lost */
            record_exit(e, 255 << 8);
            done = true;
        }
    }
    pthread_mutex_unlock(&e->wait_lock);
    return done;
}

int exec_wait(struct exec_inst *e)
{
    int code;

    reap(e, true);
    pthread_mutex_lock(&reg.lock);
    code = e->exit_code;
    pthread_mutex_unlock(&reg.lock);
    return code;
}

bool exec_poll_exit(struct exec_inst *e, int *code)
{
    if (!reap(e, false))
        return false;
    pthread_mutex_lock(&reg.lock);
    if (code)
        *code = e->exit_code;
    pthread_mutex_unlock(&reg.lock);
    return true;
}

int exec_pidfd(struct exec_inst *e)
{
    pthread_mutex_lock(&reg.lock);
    pid_t pid = e->running ? e->pid : 0;
    pthread_mutex_unlock(&reg.lock);
    /* Safe against pid reuse: only we reap it, and it has not been reaped while running. */
    return pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
}

int exec_resize(struct exec_inst *e, unsigned short rows, unsigned short cols, berr_t *err)
{
    int rc = 0;

    pthread_mutex_lock(&reg.lock);
    e->rows = rows;
    e->cols = cols;
    if (e->master >= 0) {
        struct winsize ws = {.ws_row = rows, .ws_col = cols};
        if (ioctl(e->master, TIOCSWINSZ, &ws) < 0)
            rc = berr_set(err, errno, "exec %s: resize the tty", e->id);
    }
    pthread_mutex_unlock(&reg.lock);
    return rc;
}

void exec_release_tty(struct exec_inst *e)
{
    pthread_mutex_lock(&reg.lock);
    int m = e->master;
    e->master = -1;
    pthread_mutex_unlock(&reg.lock);
    if (m >= 0)
        close(m);
}

/* Detached (or abandoned by its client): discard what a pty still produces so the command
 * never blocks on it, and record the exit. */
static void *reaper_main(void *arg)
{
    struct exec_inst *e = arg;
    char buf[4096];

    pthread_mutex_lock(&reg.lock);
    int m = e->master >= 0 ? fcntl(e->master, F_DUPFD_CLOEXEC, 0) : -1;
    pthread_mutex_unlock(&reg.lock);
    if (m >= 0) {
        int pfd = exec_pidfd(e);
        for (;;) {
            struct pollfd p[2] = {{.fd = m, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
            int n = poll(p, pfd >= 0 ? 2 : 1, pfd >= 0 ? -1 : 100);
            if (n < 0 && errno != EINTR)
                break;
            if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = read(m, buf, sizeof(buf));
                if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                    break; /* EIO: no process has the terminal open any more */
            }
            if (pfd >= 0 ? (p[1].revents & POLLIN) != 0 : exec_poll_exit(e, NULL))
                break;
        }
        if (pfd >= 0)
            close(pfd);
        close(m);
    }
    exec_wait(e);
    exec_release_tty(e);
    exec_put(e);
    return NULL;
}

void exec_detach(struct exec_inst *e)
{
    pthread_attr_t attr;
    pthread_t t;

    pthread_mutex_lock(&reg.lock);
    e->refs++;
    pthread_mutex_unlock(&reg.lock);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, reaper_main, e) != 0) {
        /* No thread: wait here rather than leave a zombie and a code nobody records. */
        exec_wait(e);
        exec_release_tty(e);
        exec_put(e);
    }
    pthread_attr_destroy(&attr);
}

/* ---- inspect ---- */

/* The exec'd process as Docker reports it: `berthd nsexec` (E_PID) forks it into the
 * container's pid namespace, so it is nsexec's only child; nsexec itself until then. */
static pid_t exec_process_pid(pid_t nsexec)
{
    _cleanup_free_ char *path = xasprintf("/proc/%d/task/%d/children", (int)nsexec, (int)nsexec);
    _cleanup_free_ char *text = NULL;
    long child = 0;

    if (read_file(path, &text, NULL, NULL) == 0)
        child = strtol(text, NULL, 10);
    return child > 0 ? (pid_t)child : nsexec;
}

json_t *exec_inspect(struct exec_inst *e)
{
    json_t *args = json_array();

    for (size_t i = 1; i < json_array_size(e->cmd); i++)
        json_array_append(args, json_array_get(e->cmd, i));
    pthread_mutex_lock(&reg.lock);
    if (e->started && e->running && e->proc_pid <= 0) {
        pid_t p = exec_process_pid(e->pid);
        if (p != e->pid)
            e->proc_pid = p;
    }
    pid_t shown = !e->started ? 0 : e->proc_pid > 0 ? e->proc_pid : e->pid;
    json_t *o =
        json_pack("{s:s, s:b, s:o, s:{s:b, s:O, s:o, s:b, s:s}, s:b, s:b, s:b, s:b, s:s, s:s, s:i}",
                  "ID", e->id, "Running", e->running, "ExitCode",
                  e->exited ? json_integer(e->exit_code) : json_null(), "ProcessConfig", "tty",
                  e->tty, "entrypoint", json_array_get(e->cmd, 0), "arguments", args, "privileged",
                  e->privileged, "user", e->user, "OpenStdin", e->attach_in, "OpenStderr",
                  e->attach_err, "OpenStdout", e->attach_out, "CanRemove", 0, "ContainerID",
                  e->ctr_id, "DetachKeys", e->detach_keys, "Pid", (int)shown);
    pthread_mutex_unlock(&reg.lock);
    return o;
}
