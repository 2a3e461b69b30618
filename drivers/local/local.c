/* The `local` driver: a machine is a system container on this host, with its own pid,
 * mount, uts, ipc, network and cgroup namespaces, its own cgroup (--local-cpus,
 * --local-memory) and a persistent root file system in MACHINE_DIR/rootfs made from the
 * machine image. A detached supervisor (berth-local, drivers/local/supervisor/) boots it
 * and forwards 127.0.0.1 ports of the host to its SSH server and engine, so the machine's
 * address is 127.0.0.1 and its engine URL tcp://127.0.0.1:PORT; or, with --local-network
 * hostonly, puts it on a host-only bridge with an address of its own (network.c) and makes
 * no forwards. berth provisions it over SSH like any other machine. See
 * drivers/local/README.md. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/driver.h"
#include "berth/util.h"
#include "drivers/local/cgroup.h"
#include "drivers/local/image.h"
#include "drivers/local/network.h"
#include "drivers/local/run.h"

#define START_TIMEOUT_MS 30000
#define KILL_WAIT_MS 10000
#define HELPER_ENV "BERTH_LOCAL_HELPER"

struct local_cfg {
    int cpus;
    int memory_mb;
    int ssh_port_flag;    /* --local-ssh-port, used at create */
    int engine_host_port; /* 127.0.0.1 port forwarded to the engine */
    char *machine_id;     /* makes the cgroup name unique across storage paths */
    char *image;          /* --local-image at create; then the cached image the rootfs came from */
    bool hostonly;        /* --local-network hostonly */
    char *address;        /* hostonly: the machine's address, chosen at create */
    char *gateway;        /* hostonly: the host's address on the bridge */
};

static const struct berth_flag local_flags[] = {
    {"local-cpus", "CPUs the machine may use (0: no limit)", "LOCAL_CPUS", "0", BERTH_FLAG_INT},
    {"local-memory", "memory limit of the machine in MB (0: no limit)", "LOCAL_MEMORY", "0",
     BERTH_FLAG_INT},
    {"local-image",
     "machine image, a .tar.gz root file system (default: the one installed with "
     "berth, lib/berth/" LOCAL_IMAGE_NAME ")",
     LOCAL_IMAGE_ENV, NULL, BERTH_FLAG_STRING},
    {"local-ssh-port",
     "port on the host's 127.0.0.1 forwarded to the machine's SSH server (0: "
     "a free one)",
     "LOCAL_SSH_PORT", "0", BERTH_FLAG_INT},
    {"local-engine-port",
     "port on the host's 127.0.0.1 forwarded to the machine's engine (0: "
     "a free one)",
     "LOCAL_ENGINE_PORT", "0", BERTH_FLAG_INT},
    {"local-network",
     "forward (reached through forwards on the host's 127.0.0.1) or hostonly (an address of "
     "its own on the host-only bridge " LOCAL_BRIDGE ", 192.168.99.0/24; no outbound traffic)",
     "LOCAL_NETWORK", "forward", BERTH_FLAG_STRING},
    {NULL, NULL, NULL, NULL, 0},
};

static const char *const key_files[] = {"id_ecdsa", "id_ed25519", "id_rsa"};

static struct local_cfg *cfg(const struct berth_machine *m)
{
    return m->priv;
}

static int local_config_new(struct berth_machine *m, berr_t *err)
{
    (void)err;
    m->priv = xcalloc(1, sizeof(struct local_cfg));
    return 0;
}

static void local_config_free(struct berth_machine *m)
{
    struct local_cfg *c = cfg(m);

    free(c->machine_id);
    free(c->image);
    free(c->address);
    free(c->gateway);
    free(c);
    m->priv = NULL;
}

static int int_flag(const json_t *flags, const char *name, int max, int *out, berr_t *err)
{
    json_t *v = json_object_get(flags, name);
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;

    if (i < 0 || i > max)
        return berr_set(err, 0, "driver local: --%s %lld: must be between 0 and %d", name,
                        (long long)i, max);
    *out = (int)i;
    return 0;
}

static int local_config_from_flags(struct berth_machine *m, const json_t *flags, berr_t *err)
{
    struct local_cfg *c = cfg(m);
    const char *image = json_string_value(json_object_get(flags, "local-image"));
    const char *net = json_string_value(json_object_get(flags, "local-network"));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (int_flag(flags, "local-cpus", ncpu > 0 ? (int)ncpu : 1024, &c->cpus, err) < 0 ||
        int_flag(flags, "local-memory", 1 << 24, &c->memory_mb, err) < 0 ||
        int_flag(flags, "local-ssh-port", 65535, &c->ssh_port_flag, err) < 0 ||
        int_flag(flags, "local-engine-port", 65535, &c->engine_host_port, err) < 0)
        return -1;
    if (c->memory_mb > 0 && c->memory_mb < 32)
        return berr_set(err, 0, "driver local: --local-memory %d: a machine needs 32 MB at least",
                        c->memory_mb);
    if (net == NULL || *net == '\0' || strcmp(net, "forward") == 0)
        c->hostonly = false;
    else if (strcmp(net, "hostonly") == 0)
        c->hostonly = true;
    else
        return berr_set(err, EINVAL,
                        "driver local: --local-network %s: must be forward or hostonly", net);
    if (c->hostonly && (c->ssh_port_flag != 0 || c->engine_host_port != 0))
        return berr_set(err, EINVAL,
                        "driver local: --local-ssh-port and --local-engine-port are for "
                        "--local-network forward: a hostonly machine has no forwards");
    free(c->image);
    c->image = image && *image ? xstrdup(image) : NULL;
    return 0;
}

static char *opt_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? xstrdup(v) : NULL;
}

static int local_config_load(struct berth_machine *m, const json_t *d, berr_t *err)
{
    struct local_cfg *c = cfg(m);
    const char *id = json_string_value(json_object_get(d, "MachineID"));
    const char *image = json_string_value(json_object_get(d, "Image"));

    (void)err;
    c->cpus = (int)json_integer_value(json_object_get(d, "CPU"));
    c->memory_mb = (int)json_integer_value(json_object_get(d, "Memory"));
    c->engine_host_port = (int)json_integer_value(json_object_get(d, "EngineForwardPort"));
    free(c->machine_id);
    c->machine_id = id && *id ? xstrdup(id) : NULL;
    free(c->image);
    c->image = image && *image ? xstrdup(image) : NULL;
    const char *net = json_string_value(json_object_get(d, "Network"));
    c->hostonly = net != NULL && strcmp(net, "hostonly") == 0;
    free(c->address);
    c->address = opt_str(d, "HostOnlyAddress");
    free(c->gateway);
    c->gateway = opt_str(d, "HostOnlyGateway");
    return 0;
}

static int local_config_save(const struct berth_machine *m, json_t *d, berr_t *err)
{
    const struct local_cfg *c = cfg(m);

    (void)err;
    json_object_set_new(d, "CPU", json_integer(c->cpus));
    json_object_set_new(d, "Memory", json_integer(c->memory_mb));
    json_object_set_new(d, "EngineForwardPort", json_integer(c->engine_host_port));
    json_object_set_new(d, "MachineID", json_string(c->machine_id ? c->machine_id : ""));
    json_object_set_new(d, "Image", json_string(c->image ? c->image : ""));
    json_object_set_new(d, "Network", json_string(c->hostonly ? "hostonly" : "forward"));
    if (c->hostonly) {
        json_object_set_new(d, "HostOnlyAddress", json_string(c->address ? c->address : ""));
        json_object_set_new(d, "HostOnlyGateway", json_string(c->gateway ? c->gateway : ""));
        json_object_set_new(d, "HostOnlyBridge", json_string(LOCAL_BRIDGE));
    }
    return 0;
}

/* MACHINE_DIR made absolute (the supervisor runs from /), malloc()ed. */
static char *abs_dir(const struct berth_machine *m, berr_t *err)
{
    char *p = realpath(m->machine_dir, NULL);

    if (p == NULL)
        berr_set(err, errno, "machine directory %s", m->machine_dir);
    return p;
}

static char *cgroup_rel(const struct berth_machine *m)
{
    return xasprintf(LOCAL_CGROUP_PARENT "/%s-%s", m->name, cfg(m)->machine_id);
}

static void replace(char **field, char *value)
{
    free(*field);
    *field = value;
}

/* berth's per-machine SSH key (core generates it; the first of key_files that exists). */
static void set_ssh_identity(struct berth_machine *m)
{
    char *path = NULL;

    for (size_t i = 0; i < sizeof(key_files) / sizeof(key_files[0]) && path == NULL; i++) {
        char *p = path_join(m->machine_dir, key_files[i]);
        if (file_exists(p))
            path = p;
        else
            free(p);
    }
    if (path == NULL && m->ssh_key_path != NULL && *m->ssh_key_path != '\0')
        path = xstrdup(m->ssh_key_path);
    replace(&m->ssh_key_path, path ? path : path_join(m->machine_dir, key_files[0]));
    replace(&m->ssh_user, xstrdup("root"));
    replace(&m->ip_address,
            xstrdup(cfg(m)->hostonly && cfg(m)->address ? cfg(m)->address : "127.0.0.1"));
}

/* The engine's port inside the machine. */
static int engine_port(const struct berth_machine *m)
{
    return m->engine_port > 0 ? m->engine_port : 2376;
}

/* ---- ports ---- */

static bool port_free(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    bool ok;

    /* As the supervisor binds: connections in TIME_WAIT do not make a port busy. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
         bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Ports the other local machines of this store forward: not free while those are stopped. */
static size_t sibling_ports(const struct berth_machine *m, int *ports, size_t max)
{
    _cleanup_free_ char *copy = xstrdup(m->machine_dir);
    char *machines = dirname(copy);
    DIR *d = opendir(machines);
    size_t n = 0;

    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n + 2 <= max;) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, m->name) == 0)
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s/config.json", machines, e->d_name);
        json_t *root = json_load_file(path, 0, NULL);
        const char *driver = json_string_value(json_object_get(root, "DriverName"));
        if (driver && strcmp(driver, "local") == 0) {
            json_t *drv = json_object_get(root, "Driver");
            ports[n++] = (int)json_integer_value(json_object_get(drv, "SSHPort"));
            ports[n++] = (int)json_integer_value(json_object_get(drv, "EngineForwardPort"));
        }
        json_decref(root);
    }
    closedir(d);
    return n;
}

/* A port on 127.0.0.1 that is free now, not among TAKEN[0..N). */
static int pick_port(const int *taken, size_t n, berr_t *err)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
            if (fd >= 0)
                close(fd);
            return berr_set(err, errno, "driver local: find a free port on 127.0.0.1");
        }
        close(fd);
        int port = ntohs(a.sin_port);
        bool used = false;
        for (size_t i = 0; i < n; i++)
            used = used || taken[i] == port;
        if (!used)
            return port;
    }
    return berr_set(err, EADDRINUSE, "driver local: no free port on 127.0.0.1");
}

/* The SSH and engine forward ports: the ones asked for, else free ones. With DRY_RUN only
 * check the ones asked for (before the machine is saved, so a refusal leaves nothing). */
static int choose_ports(struct berth_machine *m, bool dry_run, berr_t *err)
{
    struct local_cfg *c = cfg(m);
    int taken[512];
    size_t n = sibling_ports(m, taken, sizeof(taken) / sizeof(taken[0]) - 2);
    int want[2] = {c->ssh_port_flag, c->engine_host_port};
    const char *what[2] = {"--local-ssh-port", "--local-engine-port"};

    if (want[0] != 0 && want[0] == want[1])
        return berr_set(err, EINVAL,
                        "driver local: --local-ssh-port and --local-engine-port are "
                        "both %d",
                        want[0]);
    for (int i = 0; i < 2; i++) {
        if (want[i] == 0)
            continue;
        if (!port_free(want[i]))
            return berr_set(err, EADDRINUSE, "driver local: %s %d: 127.0.0.1:%d is in use", what[i],
                            want[i], want[i]);
        taken[n++] = want[i];
    }
    for (int i = 0; i < 2 && !dry_run; i++) {
        if (want[i] != 0)
            continue;
        if ((want[i] = pick_port(taken, n, err)) < 0)
            return -1;
        taken[n++] = want[i];
    }
    if (!dry_run) {
        m->ssh_port = want[0];
        c->engine_host_port = want[1];
    }
    return 0;
}

/* ---- who runs the machine ---- */

/* Whether PID runs berth-local (a belt to the start-time braces of struct proc_id). */
static bool is_supervisor(pid_t pid)
{
    char path[64], buf[512];
    _cleanup_close_ int fd = -1;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
        return false;
    buf[n] = '\0';
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    return strcmp(base, LOCAL_HELPER_NAME) == 0 && (size_t)n > strlen(buf) + 1 &&
           strcmp(buf + strlen(buf) + 1, "supervise") == 0;
}

/* The state of the current run; *live is false when nobody runs the machine now (no state,
 * a state of an earlier boot of the host, or a supervisor that is gone). */
static int current_run(const struct berth_machine *m, struct local_state *s, bool *live,
                       berr_t *err)
{
    char boot[64];
    bool found;

    *live = false;
    if (local_state_load(m->machine_dir, s, &found, err) < 0)
        return -1;
    if (!found)
        return 0;
    if (host_boot_id(boot, sizeof(boot), err) < 0)
        return -1;
    *live = strcmp(boot, s->boot_id) == 0 && proc_id_alive(&s->supervisor) &&
            is_supervisor(s->supervisor.pid);
    return 0;
}

/* Remove what a run that is over left behind: its cgroup (and any process in it) and state.
 * Refused while a supervisor holds the machine's lock, whatever state.json says. */
static int clean_leftovers(struct berth_machine *m, berr_t *err)
{
    _cleanup_free_ char *lockfile = local_path(m->machine_dir, "supervisor.lock");
    _cleanup_close_ int lock = open(lockfile, O_RDWR | O_CLOEXEC);
    _cleanup_free_ char *rel = NULL;
    struct mcgroup cg;
    int ret = 0;

    if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
        return berr_set(err, errno == EWOULDBLOCK ? EBUSY : errno,
                        "driver local: a supervisor still runs the machine (it holds %s) but "
                        "its state is unknown; kill the berth-local process of %s",
                        lockfile, m->machine_dir);
    local_state_clear(m->machine_dir);
    if (cfg(m)->machine_id == NULL)
        return 0;
    rel = cgroup_rel(m);
    if (mcg_open(&cg, rel, err) < 0)
        return -1;
    if (mcg_exists(&cg))
        ret = mcg_destroy(&cg, err);
    mcg_close(&cg);
    return ret;
}

static int local_get_state(struct berth_machine *m, enum berth_state *st, berr_t *err)
{
    _cleanup_free_ char *rootfs = path_join(m->machine_dir, "rootfs");
    struct local_state s;
    bool live;

    if (current_run(m, &s, &live, err) < 0)
        return berr_prefix(err, "driver local");
    if (!live) {
        if (!file_exists(rootfs))
            return berr_set(err, ENOENT,
                            "driver local: the machine's root file system %s is missing; "
                            "remove the machine with 'berth rm %s'",
                            rootfs, m->name);
        *st = BERTH_STATE_STOPPED;
        return 0;
    }
    switch (s.phase) {
    case LOCAL_STOPPING:
        *st = BERTH_STATE_STOPPING;
        break;
    case LOCAL_STARTING:
        *st = BERTH_STATE_STARTING;
        break;
    case LOCAL_RUNNING:
        *st = proc_id_alive(&s.init) ? BERTH_STATE_RUNNING : BERTH_STATE_STARTING;
        break;
    }
    return 0;
}

/* ---- starting the supervisor ---- */

/* berth-local: $BERTH_LOCAL_HELPER, else next to the drivers directory holding this driver. */
static int find_helper(char **path, berr_t *err)
{
    const char *env = getenv(HELPER_ENV);
    Dl_info info;
    char real[PATH_MAX];

    if (env && *env) {
        *path = xstrdup(env);
    } else {
        if (dladdr((void *)find_helper, &info) == 0 || info.dli_fname == NULL ||
            realpath(info.dli_fname, real) == NULL)
            return berr_set(err, 0, "driver local: cannot tell where local.so lives");
        *path = xasprintf("%s/../" LOCAL_HELPER_NAME, dirname(real));
    }
    if (access(*path, X_OK) < 0) {
        berr_set(err, errno,
                 "driver local: supervisor %s (build it with 'make'; or set " HELPER_ENV ")",
                 *path);
        free(*path);
        return -1;
    }
    return 0;
}

/* In the double-forked child: become berth-local with the report pipe on fd 3. Only
 * async-signal-safe calls here, since berth may have threads. */
static __attribute__((noreturn)) void exec_supervisor(const char *helper, char *const argv[],
                                                      const char *log, int report)
{
    static const char fail[] = "error: cannot exec the supervisor\n";
    sigset_t none;
    int fd;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0)
        _exit(127);
    if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
        dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || dup2(report, LOCAL_READY_FD) < 0)
        _exit(127);
    /* dup2 onto itself keeps O_CLOEXEC: clear it in any case. */
    if (fcntl(LOCAL_READY_FD, F_SETFD, 0) < 0)
        _exit(127);
    syscall(SYS_close_range, LOCAL_READY_FD + 1, ~0U, 0);
    if (chdir("/") < 0)
        _exit(127);
    umask(022);
    execv(helper, argv);
    if (write(LOCAL_READY_FD, fail, sizeof(fail) - 1) < 0)
        _exit(127);
    _exit(127);
}

/* Read the supervisor's report: all it writes before closing fd 3, within the timeout. */
static int read_report(int fd, char *buf, size_t len)
{
    long long deadline = now_ms() + START_TIMEOUT_MS;
    size_t n = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = read(fd, buf + n, len - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || n + (size_t)got >= len - 1) {
            n += got > 0 ? (size_t)got : 0;
            buf[n] = '\0';
            return 0;
        }
        n += (size_t)got;
    }
}

static int spawn_supervisor(const char *dir, berr_t *err)
{
    _cleanup_free_ char *helper = NULL;
    _cleanup_free_ char *log = local_path(dir, "supervisor.log");
    char *argv[] = {LOCAL_HELPER_NAME, "supervise", (char *)dir, NULL};
    char msg[8192] = "";
    int p[2];

    if (find_helper(&helper, err) < 0)
        return -1;
    if (pipe2(p, O_CLOEXEC) < 0)
        return berr_set(err, errno, "driver local: pipe");
    pid_t pid = fork();
    if (pid == 0) {
        if (setsid() < 0)
            _exit(1);
        pid_t sup = fork();
        if (sup != 0)
            _exit(sup < 0 ? 1 : 0);
        exec_supervisor(helper, argv, log, p[1]);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return berr_set(err, errno, "driver local: fork");
    }
    waitpid(pid, NULL, 0);
    int r = read_report(p[0], msg, sizeof(msg));
    close(p[0]);
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    if (r == 0 && strcmp(msg, "ok") == 0)
        return 0;
    if (r < 0)
        return berr_set(err, ETIMEDOUT,
                        "driver local: the supervisor did not report within %d s; see %s",
                        START_TIMEOUT_MS / 1000, log);
    if (strncmp(msg, "error: ", 7) == 0)
        return berr_set(err, 0, "driver local: %s (supervisor log: %s)", msg + 7, log);
    return berr_set(err, 0, "driver local: the supervisor exited without a report; see %s", log);
}

/* ---- operations ---- */

static int write_run(struct berth_machine *m, const char *dir, berr_t *err)
{
    const struct local_cfg *c = cfg(m);
    _cleanup_free_ char *host_if = xasprintf("bh%s", c->machine_id);
    struct local_run r = {
        .name = m->name,
        .machine_dir = (char *)dir,
        .rootfs = path_join(dir, "rootfs"),
        .cgroup = cgroup_rel(m),
        .cpus = c->cpus,
        .memory_mb = c->memory_mb,
        .ssh_host_port = m->ssh_port,
        .ssh_port = LOCAL_SSH_PORT,
        .engine_host_port = c->engine_host_port,
        .engine_port = engine_port(m),
        .stop_timeout = LOCAL_STOP_TIMEOUT,
    };

    if (c->hostonly) {
        r.address = c->address;
        r.gateway = c->gateway;
        r.prefix = HOSTONLY_PREFIX;
        r.bridge = LOCAL_BRIDGE;
        r.host_if = host_if;
    }
    int ret = local_run_save(&r, err);

    free(r.rootfs);
    free(r.cgroup);
    return ret;
}

static int local_start(struct berth_machine *m, berr_t *err)
{
    _cleanup_free_ char *dir = abs_dir(m, err);
    _cleanup_free_ char *rootfs = NULL;
    struct local_state s;
    bool live;

    if (dir == NULL || current_run(m, &s, &live, err) < 0)
        return berr_prefix(err, "driver local");
    if (live && s.phase == LOCAL_STOPPING)
        return berr_set(err, EBUSY,
                        "driver local: the machine is stopping; start it once it is "
                        "stopped");
    if (live)
        return 0;
    rootfs = path_join(dir, "rootfs");
    if (!file_exists(rootfs))
        return berr_set(err, ENOENT, "driver local: the root file system %s is missing", rootfs);
    if (cfg(m)->machine_id == NULL || m->ssh_port <= 0 ||
        (cfg(m)->hostonly ? cfg(m)->address == NULL || cfg(m)->gateway == NULL
                          : cfg(m)->engine_host_port <= 0))
        return berr_set(err, 0,
                        "driver local: the machine's config has no ports, address or ID; "
                        "recreate the machine");
    if (clean_leftovers(m, err) < 0)
        return berr_prefix(err, "driver local: clean up the last run");
    if (image_authorize_keys(dir, rootfs, err) < 0)
        return berr_prefix(err, "driver local: install the SSH key");
    set_ssh_identity(m);
    if (write_run(m, dir, err) < 0)
        return berr_prefix(err, "driver local");
    return spawn_supervisor(dir, err);
}

/* Wait for the supervisor S to exit; SIGKILL it (the machine dies with it) after TIMEOUT_MS. */
static int wait_supervisor(struct berth_machine *m, int pidfd, long long timeout_ms, berr_t *err)
{
    if (!proc_wait_exit(pidfd, timeout_ms)) {
        pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        if (!proc_wait_exit(pidfd, KILL_WAIT_MS))
            return berr_set(err, ETIMEDOUT,
                            "driver local: the supervisor does not exit, even "
                            "after SIGKILL");
    }
    return clean_leftovers(m, err);
}

static int local_stop(struct berth_machine *m, berr_t *err)
{
    struct local_state s;
    bool live;
    int pidfd, ret;

    if (current_run(m, &s, &live, err) < 0)
        return berr_prefix(err, "driver local");
    if (!live || (pidfd = proc_id_open(&s.supervisor)) < 0)
        return clean_leftovers(m, err);
    if (pidfd_send_signal(pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH) {
        close(pidfd);
        return berr_set(err, errno, "driver local: signal the supervisor (pid %d)",
                        (int)s.supervisor.pid);
    }
    ret = wait_supervisor(m, pidfd, (LOCAL_STOP_TIMEOUT + 10) * 1000LL, err);
    close(pidfd);
    return ret;
}

static int local_kill(struct berth_machine *m, berr_t *err)
{
    struct local_state s;
    bool live;
    int pidfd, initfd, ret;

    if (current_run(m, &s, &live, err) < 0)
        return berr_prefix(err, "driver local");
    if (!live || (pidfd = proc_id_open(&s.supervisor)) < 0)
        return clean_leftovers(m, err);
    /* The machine's pid 1 first: the whole pid namespace dies with it, and the supervisor
     * then cleans up and exits by itself. */
    if ((initfd = proc_id_open(&s.init)) >= 0) {
        pidfd_send_signal(initfd, SIGKILL, NULL, 0);
        close(initfd);
    } else {
        pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
    }
    ret = wait_supervisor(m, pidfd, KILL_WAIT_MS, err);
    close(pidfd);
    return ret;
}

static int local_restart(struct berth_machine *m, berr_t *err)
{
    if (local_stop(m, err) < 0)
        return -1;
    return local_start(m, err);
}

/* The host-only bridge goes with the store's last machine on it, through berth-local (which
 * keeps it while any machine, maybe of another store, still has a port on it). */
static int bridge_down(struct berth_machine *m, berr_t *err)
{
    _cleanup_free_ char *helper = NULL;

    if (hostonly_used_by_others(m->machine_dir, m->name))
        return 0;
    if (find_helper(&helper, err) < 0)
        return -1;
    char *const argv[] = {helper, "bridge-down", LOCAL_BRIDGE, NULL};
    if (helper_run(argv, err) < 0)
        return berr_prefix(err, "driver local: remove bridge " LOCAL_BRIDGE);
    return 0;
}

static int local_remove(struct berth_machine *m, berr_t *err)
{
    _cleanup_free_ char *rootfs = path_join(m->machine_dir, "rootfs");
    _cleanup_free_ char *local = path_join(m->machine_dir, LOCAL_SUBDIR);

    if (local_kill(m, err) < 0)
        return -1;
    if (image_remove_rootfs(rootfs, err) < 0)
        return berr_prefix(err, "driver local");
    if (rm_rf(local, err) < 0)
        return berr_prefix(err, "driver local");
    return cfg(m)->hostonly ? bridge_down(m, err) : 0;
}

static int new_machine_id(struct local_cfg *c, berr_t *err)
{
    unsigned char b[4];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return berr_set(err, errno, "driver local: getrandom");
    free(c->machine_id);
    c->machine_id = xasprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return 0;
}

/* The machine image, copied into the store's cache (MACHINE_DIR/../../cache). */
static int cached_image(struct berth_machine *m, const char *dir, char **image, berr_t *err)
{
    struct local_cfg *c = cfg(m);
    _cleanup_free_ char *src = NULL;
    _cleanup_free_ char *store = xasprintf("%s/../..", dir);
    _cleanup_free_ char *real = realpath(store, NULL);

    if (c->image)
        src = xstrdup(c->image);
    else if (image_find(&src, err) < 0)
        return -1;
    if (real == NULL)
        return berr_set(err, errno, "storage path %s", store);
    _cleanup_free_ char *cache = path_join(real, "cache");
    return image_cache(src, cache, image, err);
}

static int local_create(struct berth_machine *m, berr_t *err)
{
    struct local_cfg *c = cfg(m);
    _cleanup_free_ char *dir = abs_dir(m, err);
    _cleanup_free_ char *rootfs = NULL;
    _cleanup_free_ char *local = NULL;
    char *image = NULL;

    if (dir == NULL)
        return berr_prefix(err, "driver local");
    rootfs = path_join(dir, "rootfs");
    local = path_join(dir, LOCAL_SUBDIR);
    if (new_machine_id(c, err) < 0)
        return -1;
    if (mkdir_p(local, 0700, err) < 0)
        return berr_prefix(err, "driver local");
    if (c->hostonly) {
        free(c->address);
        free(c->gateway);
        c->address = c->gateway = NULL;
        if (hostonly_choose(dir, m->name, &c->address, &c->gateway, err) < 0)
            return berr_prefix(err, "driver local");
        m->ssh_port = LOCAL_SSH_PORT;
        c->engine_host_port = 0;
    } else if (choose_ports(m, false, err) < 0) {
        return -1;
    }
    if (cached_image(m, dir, &image, err) < 0)
        return berr_prefix(err, "driver local");
    free(c->image);
    c->image = image;
    _cleanup_free_ char *helper = NULL;
    if (find_helper(&helper, err) < 0 || image_extract(helper, image, rootfs, err) < 0)
        return berr_prefix(err, "driver local");
    set_ssh_identity(m);
    return local_start(m, err);
}

static int local_pre_create_check(struct berth_machine *m, berr_t *err)
{
    _cleanup_free_ char *helper = NULL;
    _cleanup_free_ char *image = NULL;

    (void)m;
    if (geteuid() != 0)
        return berr_set(err, EPERM,
                        "driver local: a local machine needs root (namespaces, "
                        "cgroups, mounts): run berth as root");
    if (!file_exists("/proc/self/ns/cgroup") || !file_exists("/proc/self/ns/pid"))
        return berr_set(err, ENOTSUP, "driver local: this kernel lacks cgroup or pid namespaces");
    if (find_helper(&helper, err) < 0)
        return -1;
    if (cfg(m)->image == NULL && image_find(&image, err) < 0)
        return berr_prefix(err, "driver local");
    if (cfg(m)->image != NULL && !file_exists(cfg(m)->image))
        return berr_set(err, ENOENT, "driver local: --local-image %s", cfg(m)->image);
    return cfg(m)->hostonly ? 0 : choose_ports(m, true, err);
}

static int local_get_ip(struct berth_machine *m, char **ip, berr_t *err)
{
    if (cfg(m)->hostonly) {
        if (cfg(m)->address == NULL)
            return berr_set(err, 0, "driver local: the machine has no address (create failed?)");
        *ip = xstrdup(cfg(m)->address);
        return 0;
    }
    *ip = xstrdup("127.0.0.1");
    return 0;
}

static int local_get_url(struct berth_machine *m, char **url, berr_t *err)
{
    if (cfg(m)->hostonly) {
        if (cfg(m)->address == NULL)
            return berr_set(err, 0, "driver local: the machine has no address (create failed?)");
        *url = xasprintf("tcp://%s:%d", cfg(m)->address, engine_port(m));
        return 0;
    }
    if (cfg(m)->engine_host_port <= 0)
        return berr_set(err, 0, "driver local: the machine has no engine port (create failed?)");
    *url = xasprintf("tcp://127.0.0.1:%d", cfg(m)->engine_host_port);
    return 0;
}

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION,
    .name = "local",
    .summary = "a system container on this host (namespaces, cgroup, own root file system), "
               "reached over 127.0.0.1 forwards or on a host-only network",
    .flags = local_flags,
    .config_new = local_config_new,
    .config_free = local_config_free,
    .config_from_flags = local_config_from_flags,
    .config_load = local_config_load,
    .config_save = local_config_save,
    .pre_create_check = local_pre_create_check,
    .create = local_create,
    .remove = local_remove,
    .start = local_start,
    .stop = local_stop,
    .restart = local_restart,
    .kill = local_kill,
    .get_state = local_get_state,
    .get_ip = local_get_ip,
    .get_url = local_get_url,
    .provisions = 1,
};
