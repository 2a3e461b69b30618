#include "drivers/local/run.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/util.h"

static const char *const phase_names[] = {"starting", "running", "stopping"};

char *local_path(const char *machine_dir, const char *file)
{
    return xasprintf("%s/" LOCAL_SUBDIR "/%s", machine_dir, file);
}

static int save_json(const char *path, json_t *root, berr_t *err)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (text == NULL)
        return berr_set(err, ENOMEM, "encode %s", path);
    int ret = write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return ret;
}

static json_t *load_json(const char *path, berr_t *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);

    if (root == NULL) {
        berr_set(err, errno == ENOENT ? ENOENT : 0, "read %s: %s", path, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        berr_set(err, 0, "read %s: not a JSON object", path);
        return NULL;
    }
    return root;
}

int local_run_save(const struct local_run *r, berr_t *err)
{
    _cleanup_free_ char *path = local_path(r->machine_dir, "run.json");
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "Name", r->name, "MachineDir",
        r->machine_dir, "Rootfs", r->rootfs, "Cgroup", r->cgroup, "CPUs", r->cpus, "MemoryMB",
        r->memory_mb, "SSHHostPort", r->ssh_host_port, "SSHPort", r->ssh_port, "EngineHostPort",
        r->engine_host_port, "EnginePort", r->engine_port, "StopTimeout", r->stop_timeout);

    if (root == NULL)
        return berr_set(err, ENOMEM, "encode %s", path);
    if (r->address != NULL) {
        json_t *net =
            json_pack("{s:s,s:s,s:i,s:s,s:s}", "Address", r->address, "Gateway", r->gateway,
                      "Prefix", r->prefix, "Bridge", r->bridge, "HostIf", r->host_if);
        if (net == NULL) {
            json_decref(root);
            return berr_set(err, ENOMEM, "encode %s", path);
        }
        json_object_set_new(root, "HostOnly", net);
    }
    return save_json(path, root, err);
}

static char *str_field(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? xstrdup(v) : NULL;
}

static int int_field(json_t *o, const char *key)
{
    return (int)json_integer_value(json_object_get(o, key));
}

int local_run_load(const char *machine_dir, struct local_run *r, berr_t *err)
{
    _cleanup_free_ char *path = local_path(machine_dir, "run.json");
    json_t *root = load_json(path, err);

    memset(r, 0, sizeof(*r));
    if (root == NULL)
        return -1;
    r->name = str_field(root, "Name");
    r->machine_dir = str_field(root, "MachineDir");
    r->rootfs = str_field(root, "Rootfs");
    r->cgroup = str_field(root, "Cgroup");
    r->cpus = int_field(root, "CPUs");
    r->memory_mb = int_field(root, "MemoryMB");
    r->ssh_host_port = int_field(root, "SSHHostPort");
    r->ssh_port = int_field(root, "SSHPort");
    r->engine_host_port = int_field(root, "EngineHostPort");
    r->engine_port = int_field(root, "EnginePort");
    r->stop_timeout = int_field(root, "StopTimeout");
    json_t *net = json_object_get(root, "HostOnly");
    if (net != NULL) {
        r->address = str_field(net, "Address");
        r->gateway = str_field(net, "Gateway");
        r->prefix = int_field(net, "Prefix");
        r->bridge = str_field(net, "Bridge");
        r->host_if = str_field(net, "HostIf");
    }
    json_decref(root);
    if (net != NULL && (r->address == NULL || r->gateway == NULL || r->bridge == NULL ||
                        r->host_if == NULL || r->prefix <= 0 || r->prefix > 30)) {
        local_run_free(r);
        return berr_set(err, 0, "read %s: HostOnly: missing fields", path);
    }
    if (r->name == NULL || r->machine_dir == NULL || r->rootfs == NULL || r->cgroup == NULL ||
        r->ssh_port <= 0 || r->engine_port <= 0) {
        local_run_free(r);
        return berr_set(err, 0, "read %s: missing fields", path);
    }
    return 0;
}

void local_run_free(struct local_run *r)
{
    free(r->name);
    free(r->machine_dir);
    free(r->rootfs);
    free(r->cgroup);
    free(r->address);
    free(r->gateway);
    free(r->bridge);
    free(r->host_if);
    memset(r, 0, sizeof(*r));
}

static json_t *proc_json(const struct proc_id *p)
{
    return json_pack("{s:i,s:I}", "Pid", (int)p->pid, "Start", (json_int_t)p->start);
}

static void proc_from_json(json_t *o, struct proc_id *p)
{
    p->pid = (pid_t)json_integer_value(json_object_get(o, "Pid"));
    p->start = (unsigned long long)json_integer_value(json_object_get(o, "Start"));
}

int local_state_save(const char *machine_dir, const struct local_state *s, berr_t *err)
{
    _cleanup_free_ char *path = local_path(machine_dir, "state.json");
    json_t *root = json_pack("{s:s,s:o,s:o,s:s}", "BootID", s->boot_id, "Supervisor",
                             proc_json(&s->supervisor), "Init", proc_json(&s->init), "Phase",
                             phase_names[s->phase]);

    if (root == NULL)
        return berr_set(err, ENOMEM, "encode %s", path);
    return save_json(path, root, err);
}

int local_state_load(const char *machine_dir, struct local_state *s, bool *found, berr_t *err)
{
    _cleanup_free_ char *path = local_path(machine_dir, "state.json");
    berr_t e = NULL;
    json_t *root;

    memset(s, 0, sizeof(*s));
    *found = false;
    if (!file_exists(path))
        return 0;
    root = load_json(path, &e);
    if (root == NULL) {
        /* Removed between the check and the read (the machine just stopped), or unreadable:
         * no run to trust. The supervisor's lock still guards against a second one. */
        berr_free(&e);
        (void)err;
        return 0;
    }
    const char *boot = json_string_value(json_object_get(root, "BootID"));
    const char *phase = json_string_value(json_object_get(root, "Phase"));
    snprintf(s->boot_id, sizeof(s->boot_id), "%s", boot ? boot : "");
    proc_from_json(json_object_get(root, "Supervisor"), &s->supervisor);
    proc_from_json(json_object_get(root, "Init"), &s->init);
    s->phase = LOCAL_STARTING;
    for (size_t i = 0; phase && i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
        if (strcmp(phase, phase_names[i]) == 0)
            s->phase = (enum local_phase)i;
    json_decref(root);
    *found = true;
    return 0;
}

void local_state_clear(const char *machine_dir)
{
    _cleanup_free_ char *state = local_path(machine_dir, "state.json");
    _cleanup_free_ char *fwd = local_path(machine_dir, "forwards.json");

    unlink(state);
    unlink(fwd);
}

int proc_id_get(pid_t pid, struct proc_id *id)
{
    char path[64], buf[1024];
    _cleanup_close_ int fd = -1;
    ssize_t n;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return -1;
    p += 2;
    /* State is field 3; start time is field 22. A zombie has exited already. */
    if (*p == 'Z' || *p == 'X')
        return -1;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return -1;
        p++;
    }
    id->pid = pid;
    id->start = strtoull(p, NULL, 10);
    return 0;
}

bool proc_id_alive(const struct proc_id *id)
{
    struct proc_id now;

    return proc_id_get(id->pid, &now) == 0 && now.start == id->start;
}

int proc_id_open(const struct proc_id *id)
{
    if (id->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    int fd = pidfd_open(id->pid, 0);
    if (fd < 0)
        return -1;
    /* Checked after the open: if it still matches, the pidfd holds the right process. */
    if (!proc_id_alive(id)) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    return fd;
}

bool proc_wait_exit(int pidfd, long long timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    for (;;) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        long long left = deadline - now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return true;
        if (r == 0 || (r < 0 && errno != EINTR))
            return false;
    }
}

int host_boot_id(char *buf, size_t len, berr_t *err)
{
    _cleanup_free_ char *text = NULL;

    if (read_file("/proc/sys/kernel/random/boot_id", &text, NULL, err) < 0)
        return -1;
    text[strcspn(text, "\n")] = '\0';
    snprintf(buf, len, "%s", text);
    return 0;
}

int root_open(int rootfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    while (*path == '/')
        path++;
    return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}
