/* What the provisioner writes on a host: daemon.json, the service definition for each
 * init system, and the shell commands that drive the service. Pure text, unit-tested. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/lib/provision.h"
#include "core/lib/ssh.h"

/* ---- detection ------------------------------------------------------------------------ */

const char *provision_probe_script(void)
{
    return "echo uid=$(id -u)\n"
           "echo arch=$(uname -m)\n"
           "if [ -d /run/systemd/system ]; then echo init=systemd\n"
           "elif [ -x /sbin/openrc-run ] || command -v rc-service >/dev/null 2>&1; then "
           "echo init=openrc\n"
           "else echo init=sysv; fi\n"
           "if [ \"$(id -u)\" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true "
           ">/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi\n"
           "echo ---os-release---\n"
           "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true\n";
}

const char *provision_init_name(enum init_system init)
{
    switch (init) {
    case INIT_SYSTEMD:
        return "systemd";
    case INIT_OPENRC:
        return "OpenRC";
    case INIT_SYSV:
        break;
    }
    return "busybox/sysv init";
}

/* Copy an os-release value (optionally quoted) into OUT. */
static void os_value(const char *v, char *out, size_t size)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v++;
        n -= 2;
    }
    snprintf(out, size, "%.*s", (int)n, v);
}

static void probe_line(char *line, bool os, struct host_info *hi)
{
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return;
    *eq = '\0';
    const char *k = line, *v = eq + 1;
    if (os && strcmp(k, "ID") == 0)
        os_value(v, hi->id, sizeof(hi->id));
    else if (os && strcmp(k, "VERSION_ID") == 0)
        os_value(v, hi->version, sizeof(hi->version));
    else if (os && strcmp(k, "PRETTY_NAME") == 0)
        os_value(v, hi->pretty, sizeof(hi->pretty));
    else if (!os && strcmp(k, "uid") == 0)
        hi->root = strcmp(v, "0") == 0;
    else if (!os && strcmp(k, "arch") == 0)
        snprintf(hi->arch, sizeof(hi->arch), "%s", v);
    else if (!os && strcmp(k, "sudo") == 0)
        hi->sudo = strcmp(v, "yes") == 0;
    else if (!os && strcmp(k, "init") == 0)
        hi->init = strcmp(v, "systemd") == 0  ? INIT_SYSTEMD
                   : strcmp(v, "openrc") == 0 ? INIT_OPENRC
                                              : INIT_SYSV;
}

int provision_parse_probe(const char *text, struct host_info *hi, berr_t *err)
{
    _cleanup_free_ char *copy = xstrdup(text);
    char *save = NULL;
    bool os = false, saw_uid = false;

    memset(hi, 0, sizeof(*hi));
    hi->init = INIT_SYSV;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r")] = '\0';
        if (strcmp(l, "---os-release---") == 0) {
            os = true;
            continue;
        }
        saw_uid |= !os && strncmp(l, "uid=", 4) == 0;
        probe_line(l, os, hi);
    }
    if (!saw_uid)
        return berr_set(err, 0, "unexpected answer from the detection script: %.200s", text);
    if (hi->id[0] == '\0')
        snprintf(hi->id, sizeof(hi->id), "unknown");
    if (hi->pretty[0] == '\0')
        snprintf(hi->pretty, sizeof(hi->pretty), "%s %s", hi->id, hi->version);
    return 0;
}

/* ---- daemon.json ---------------------------------------------------------------------- */

enum opt_kind { OPT_SCALAR, OPT_LIST, OPT_MAP };

/* dockerd flags whose daemon.json key differs or holds a list or an object. */
static const struct {
    const char *flag, *key;
    enum opt_kind kind;
} opt_keys[] = {
    {"label", "labels", OPT_LIST},
    {"insecure-registry", "insecure-registries", OPT_LIST},
    {"registry-mirror", "registry-mirrors", OPT_LIST},
    {"dns", "dns", OPT_LIST},
    {"dns-opt", "dns-opts", OPT_LIST},
    {"dns-search", "dns-search", OPT_LIST},
    {"exec-opt", "exec-opts", OPT_LIST},
    {"storage-opt", "storage-opts", OPT_LIST},
    {"log-opt", "log-opts", OPT_MAP},
};

/* "true"/"false" and whole numbers keep their JSON type; anything else is a string. */
static json_t *scalar(const char *v)
{
    char *end;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return json_boolean(strcmp(v, "true") == 0);
    long long n = strtoll(v, &end, 10);
    if (*v != '\0' && *end == '\0' && (isdigit((unsigned char)*v) || *v == '-'))
        return json_integer(n);
    return json_string(v);
}

static void list_add(json_t *root, const char *key, const char *value)
{
    json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(root, key, arr);
    }
    json_array_append_new(arr, json_string(value));
}

static int map_add(json_t *root, const char *key, const char *value, berr_t *err)
{
    const char *eq = strchr(value, '=');
    json_t *obj = json_object_get(root, key);

    if (eq == NULL)
        return berr_set(err, 0, "--engine-opt %s: expected %s=NAME=VALUE", key, key);
    if (!json_is_object(obj)) {
        obj = json_object();
        json_object_set_new(root, key, obj);
    }
    _cleanup_free_ char *name = xasprintf("%.*s", (int)(eq - value), value);
    json_object_set_new(obj, name, json_string(eq + 1));
    return 0;
}

static bool flag_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

/* One --engine-opt: "name=value" (or "name" for true), with dockerd's flag name. */
static int add_opt(json_t *root, const char *opt, berr_t *err)
{
    const char *eq = strchr(opt, '=');
    size_t n = eq ? (size_t)(eq - opt) : strlen(opt);
    const char *value = eq ? eq + 1 : "true";

    while (n > 0 && *opt == '-') /* "--debug=true" is fine too */
        opt++, n--;
    if (!flag_name_ok(opt, n))
        return berr_set(err, 0,
                        "--engine-opt \"%s\": expected NAME=VALUE with a berthd (dockerd) "
                        "flag name such as log-level=debug",
                        opt);
    _cleanup_free_ char *name = xasprintf("%.*s", (int)n, opt);
    for (size_t i = 0; i < sizeof(opt_keys) / sizeof(opt_keys[0]); i++) {
        if (strcmp(name, opt_keys[i].flag) != 0 && strcmp(name, opt_keys[i].key) != 0)
            continue;
        if (opt_keys[i].kind == OPT_MAP)
            return map_add(root, opt_keys[i].key, value, err);
        list_add(root, opt_keys[i].key, value);
        return 0;
    }
    json_object_set_new(root, name, scalar(value));
    return 0;
}

static void add_list(json_t *root, const char *key, const json_t *from)
{
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        if (json_is_string(v))
            list_add(root, key, json_string_value(v));
    }
}

int provision_daemon_json(const json_t *engine, char **out, berr_t *err)
{
    json_t *root = json_object();
    const char *storage = json_string_value(json_object_get(engine, "StorageDriver"));
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(engine, "ArbitraryFlags"), i, v)
    {
        if (json_is_string(v) && add_opt(root, json_string_value(v), err) < 0) {
            json_decref(root);
            return -1;
        }
    }
    add_list(root, "labels", json_object_get(engine, "Labels"));
    add_list(root, "insecure-registries", json_object_get(engine, "InsecureRegistry"));
    add_list(root, "registry-mirrors", json_object_get(engine, "RegistryMirror"));
    if (storage && *storage && strcmp(storage, "overlay2") != 0)
        json_object_set_new(root, "storage-driver", json_string(storage));
    char *text = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
    json_decref(root);
    *out = xasprintf("%s\n", text);
    free(text);
    return 0;
}

/* ---- the service ---------------------------------------------------------------------- */

static char *berthd_args(int port)
{
    return xasprintf("daemon -H " PROVISION_SOCKET " -H tcp://0.0.0.0:%d --tlsverify "
                     "--tlscacert " PROVISION_ETC "/ca.pem --tlscert " PROVISION_ETC
                     "/server.pem --tlskey " PROVISION_ETC
                     "/server-key.pem --config-file " PROVISION_ETC
                     "/daemon.json --pidfile " PROVISION_PIDFILE,
                     port);
}

static int env_ok(const char *kv, berr_t *err)
{
    const char *eq = strchr(kv, '=');
    bool ok = eq && eq != kv && !isdigit((unsigned char)kv[0]) && !strpbrk(kv, "\n\r");
    for (const char *p = kv; ok && p < eq; p++)
        ok = isalnum((unsigned char)*p) || *p == '_';
    if (!ok)
        return berr_set(err, 0, "--engine-env \"%s\": expected NAME=VALUE on one line", kv);
    return 0;
}

/* systemd's Environment="NAME=VALUE": quotes, backslashes and specifiers escaped. */
static char *systemd_env(const char *kv)
{
    char *out = xcalloc(1, strlen(kv) * 2 + 1);
    char *o = out;
    for (const char *p = kv; *p; p++) {
        if (*p == '"' || *p == '\\')
            *o++ = '\\';
        if (*p == '%')
            *o++ = '%';
        *o++ = *p;
    }
    return out;
}

/* The environment lines for ENGINE's Env, as systemd wants them or as shell exports. */
static int env_lines(const json_t *engine, bool systemd, char **out, berr_t *err)
{
    char *text = xstrdup("");
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(engine, "Env"), i, v)
    {
        const char *kv = json_string_value(v);
        if (kv == NULL)
            continue;
        if (env_ok(kv, err) < 0) {
            free(text);
            return -1;
        }
        _cleanup_free_ char *q = systemd ? systemd_env(kv) : ssh_quote(kv);
        char *next = systemd ? xasprintf("%sEnvironment=\"%s\"\n", text, q)
                             : xasprintf("%sexport %s\n", text, q);
        free(text);
        text = next;
    }
    *out = text;
    return 0;
}

static char *systemd_unit(const char *env, const char *args)
{
    return xasprintf("# berthd container engine, installed by berth.\n"
                     "[Unit]\n"
                     "Description=berthd container engine\n"
                     "After=network-online.target\n"
                     "Wants=network-online.target\n"
                     "\n"
                     "[Service]\n"
                     "Type=simple\n"
                     "%s"
                     "ExecStart=" PROVISION_BIN " %s\n"
                     "Restart=on-failure\n"
                     "RestartSec=2\n"
                     "# Containers outlive berthd: stop only berthd itself.\n"
                     "KillMode=process\n"
                     "Delegate=yes\n"
                     "LimitNOFILE=1048576\n"
                     "TasksMax=infinity\n"
                     "\n"
                     "[Install]\n"
                     "WantedBy=multi-user.target\n",
                     env, args);
}

static char *openrc_script(const char *env, const char *args)
{
    return xasprintf("#!/sbin/openrc-run\n"
                     "# berthd container engine, installed by berth.\n"
                     "description=\"berthd container engine\"\n"
                     "command=" PROVISION_BIN "\n"
                     "command_args=\"%s\"\n"
                     "command_background=yes\n"
                     "pidfile=/run/berthd.openrc.pid\n"
                     "output_log=" PROVISION_LOG "\n"
                     "error_log=" PROVISION_LOG "\n"
                     "retry=TERM/15/KILL/5\n"
                     "# Containers outlive berthd: never clean up its cgroup on stop.\n"
                     "rc_cgroup_cleanup=no\n"
                     "%s"
                     "\n"
                     "depend() {\n"
                     "    need net\n"
                     "    after firewall\n"
                     "}\n",
                     args, env);
}

/* A plain init script for busybox and sysvinit hosts: berthd in the background, its pid
 * in PROVISION_PIDFILE (berthd rewrites the same pid there), output in PROVISION_LOG. */
static char *sysv_script(const char *env, const char *args)
{
    return xasprintf(
        "#!/bin/sh\n"
        "# berthd container engine, installed by berth.\n"
        "### BEGIN INIT INFO\n"
        "# Provides:          berthd\n"
        "# Required-Start:    $network $remote_fs\n"
        "# Required-Stop:     $network $remote_fs\n"
        "# Default-Start:     2 3 4 5\n"
        "# Default-Stop:      0 1 6\n"
        "# Short-Description: berthd container engine\n"
        "### END INIT INFO\n"
        "PIDFILE=" PROVISION_PIDFILE "\n"
        "LOG=" PROVISION_LOG "\n"
        "%s"
        "\n"
        "running() {\n"
        "    [ -f \"$PIDFILE\" ] && kill -0 \"$(cat \"$PIDFILE\")\" 2>/dev/null\n"
        "}\n"
        "\n"
        "start() {\n"
        "    running && return 0\n"
        "    mkdir -p \"$(dirname \"$PIDFILE\")\" \"$(dirname \"$LOG\")\"\n"
        "    if command -v setsid >/dev/null 2>&1; then\n"
        "        setsid " PROVISION_BIN " %s </dev/null >>\"$LOG\" 2>&1 &\n"
        "    else\n"
        "        nohup " PROVISION_BIN " %s </dev/null >>\"$LOG\" 2>&1 &\n"
        "    fi\n"
        "    echo $! >\"$PIDFILE\"\n"
        "}\n"
        "\n"
        "stop() {\n"
        "    running || { rm -f \"$PIDFILE\"; return 0; }\n"
        "    pid=$(cat \"$PIDFILE\")\n"
        "    kill -TERM \"$pid\"\n"
        "    i=0\n"
        "    # Containers outlive berthd: only berthd is stopped, within 15 seconds.\n"
        "    while kill -0 \"$pid\" 2>/dev/null; do\n"
        "        i=$((i + 1))\n"
        "        if [ $i -ge 300 ]; then kill -KILL \"$pid\"; break; fi\n"
        "        sleep 0.05 2>/dev/null || sleep 1\n"
        "    done\n"
        "    rm -f \"$PIDFILE\"\n"
        "}\n"
        "\n"
        "case \"$1\" in\n"
        "start) start ;;\n"
        "stop) stop ;;\n"
        "restart) stop; start ;;\n"
        "status)\n"
        "    if running; then echo \"berthd is running (pid $(cat \"$PIDFILE\"))\"; exit 0; fi\n"
        "    echo \"berthd is not running\"; exit 3 ;;\n"
        "*) echo \"usage: $0 start|stop|restart|status\" >&2; exit 2 ;;\n"
        "esac\n",
        env, args, args);
}

int provision_service(enum init_system init, const json_t *engine, int port, char **out,
                      berr_t *err)
{
    _cleanup_free_ char *env = NULL;
    _cleanup_free_ char *args = berthd_args(port);

    if (env_lines(engine, init == INIT_SYSTEMD, &env, err) < 0)
        return -1;
    switch (init) {
    case INIT_SYSTEMD:
        *out = systemd_unit(env, args);
        return 0;
    case INIT_OPENRC:
        *out = openrc_script(env, args);
        return 0;
    case INIT_SYSV:
        break;
    }
    *out = sysv_script(env, args);
    return 0;
}

const char *provision_service_path(enum init_system init)
{
    return init == INIT_SYSTEMD ? "/etc/systemd/system/berthd.service" : "/etc/init.d/berthd";
}

const char *provision_restart_cmd(enum init_system init)
{
    switch (init) {
    case INIT_SYSTEMD:
        return "systemctl daemon-reload && { systemctl enable berthd.service >/dev/null 2>&1 "
               "|| true; } && systemctl restart berthd.service";
    case INIT_OPENRC:
        return "{ rc-update add berthd default >/dev/null 2>&1 || true; } && "
               "rc-service berthd restart";
    case INIT_SYSV:
        break;
    }
    /* Start at boot: busybox's rcS runs /etc/init.d/S??*; Debian-like hosts use update-rc.d. */
    return "if [ -f /etc/init.d/rcS ] && grep -qE 'S\\[|S\\?\\?' /etc/init.d/rcS 2>/dev/null; then "
           "ln -sf berthd /etc/init.d/S90berthd; "
           "elif command -v update-rc.d >/dev/null 2>&1; then "
           "update-rc.d berthd defaults >/dev/null 2>&1 || true; fi; "
           "/etc/init.d/berthd restart";
}

const char *provision_status_cmd(enum init_system init)
{
    switch (init) {
    case INIT_SYSTEMD:
        return "systemctl is-active --quiet berthd.service";
    case INIT_OPENRC:
        return "rc-service berthd status >/dev/null 2>&1";
    case INIT_SYSV:
        break;
    }
    return "/etc/init.d/berthd status >/dev/null 2>&1";
}

const char *provision_log_cmd(enum init_system init)
{
    if (init == INIT_SYSTEMD)
        return "journalctl -u berthd.service -n 20 --no-pager 2>&1";
    return "tail -n 20 " PROVISION_LOG " 2>&1";
}

const char *provision_remove_cmd(enum init_system init)
{
    switch (init) {
    case INIT_SYSTEMD:
        return "systemctl disable --now berthd.service >/dev/null 2>&1 || true; "
               "rm -f /etc/systemd/system/berthd.service; systemctl daemon-reload || true";
    case INIT_OPENRC:
        return "rc-service berthd stop >/dev/null 2>&1 || true; "
               "rc-update del berthd default >/dev/null 2>&1 || true; rm -f /etc/init.d/berthd";
    case INIT_SYSV:
        break;
    }
    return "if [ -x /etc/init.d/berthd ]; then /etc/init.d/berthd stop; fi; "
           "if command -v update-rc.d >/dev/null 2>&1; then "
           "update-rc.d -f berthd remove >/dev/null 2>&1 || true; fi; "
           "rm -f /etc/init.d/berthd /etc/init.d/S90berthd";
}
