/* The commands that attach to a process: run, start (-a), exec.
 *
 * `run` follows docker's order so no output is lost: create, attach (the hijacked stream
 * waits for the start), wait (headers now, the exit code when it exits), start, pump the
 * stream, then read the exit code. With -t the local terminal goes raw (when stdin is one
 * and attached) and every SIGWINCH becomes a resize. Errors before the container runs exit
 * 125 (126/127 when the command cannot be executed, as docker maps them). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/client/cli.h"
#include "runtime-agent/client/stream.h"
#include "runtime-agent/containers/spec.h"

static int help(const char *cmd, const char *usage, int c)
{
    fprintf(c == 'h' ? stdout : stderr, "\nUsage:  berthd %s %s\n", cmd, usage);
    return c == 'h' ? 0 : 125;
}

/* docker's status for a failure to start: the command could not be found or executed. */
static int start_error_status(const char *msg)
{
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory") ||
        strstr(msg, "No such file or directory"))
        return 127;
    if (strstr(msg, "permission denied") || strstr(msg, "Permission denied"))
        return 126;
    return 125;
}

/* "-e K=V" as given; "-e K" takes K from our environment (dropped when unset). */
static void add_env(json_t *env, const char *e)
{
    if (strchr(e, '=') != NULL) {
        json_array_append_new(env, json_string(e));
        return;
    }
    const char *v = getenv(e);
    if (v != NULL)
        json_array_append_new(env, json_string_nocheck(xasprintf("%s=%s", e, v)));
}

/* The attach fields run and exec share: stdin only when interactive and in the foreground. */
static void set_attach(json_t *body, bool in, bool tty, bool detach)
{
    json_object_set_new(body, "AttachStdin", json_boolean(in && !detach));
    json_object_set_new(body, "AttachStdout", json_boolean(!detach));
    json_object_set_new(body, "AttachStderr", json_boolean(!detach));
    json_object_set_new(body, "Tty", json_boolean(tty));
}

/* -p [[IP:]HOST:]CONTAINER[/PROTO] into ExposedPorts and PortBindings. */
static int add_port(json_t *exposed, json_t *bindings, const char *spec)
{
    _cleanup_free_ char *s = xstrdup(spec);
    char *proto = strchr(s, '/');
    char *parts[3] = {NULL, NULL, NULL};
    int n = 0;

    if (proto != NULL)
        *proto++ = '\0';
    for (char *p = s, *save = NULL; n < 3 && (p = strtok_r(p, ":", &save)) != NULL; p = NULL)
        parts[n++] = p;
    if (n == 0 || strspn(parts[n - 1], "0123456789") != strlen(parts[n - 1]))
        return -1;
    _cleanup_free_ char *key = xasprintf("%s/%s", parts[n - 1], proto ? proto : "tcp");
    json_object_set_new(exposed, key, json_object());
    json_t *list = json_object_get(bindings, key);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(bindings, key, list);
    }
    json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", n == 3 ? parts[0] : "",
                                          "HostPort", n >= 2 ? parts[n - 2] : ""));
    return 0;
}

static json_t *restart_policy(const char *s)
{
    const char *colon = strchr(s, ':');
    int max = colon ? atoi(colon + 1) : 0;
    _cleanup_free_ char *name = colon ? strndup(s, (size_t)(colon - s)) : xstrdup(s);
    return json_pack("{s:s, s:i}", "Name", name, "MaximumRetryCount", max);
}

/* A session with one process: the hijacked stream, its resizes and its exit code. */
struct session {
    struct cli *cli;
    const char *resize_path; /* "/containers/ID/resize" or "/exec/ID/resize" */
    bool tty, in;
};

static void do_resize(void *arg)
{
    struct session *s = arg;
    unsigned rows, cols;
    berr_t err = NULL;

    if (!term_size(1, &rows, &cols) && !term_size(0, &rows, &cols))
        return;
    _cleanup_free_ char *p = xasprintf("%s?h=%u&w=%u", s->resize_path, rows, cols);
    if (cli_json(s->cli, "POST", p, NULL, NULL, &err) < 0)
        berr_free(&err); /* the process may be gone already: docker ignores it too */
}

/* Send an upgrade request for the stream; the headers must say 101 (or 200). */
static int open_stream(struct cli *cli, struct cli_http *h, const char *path, json_t *body,
                       berr_t *err)
{
    _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct cli_req req = {
        "POST", path, text ? "application/json" : "text/plain", text, text ? strlen(text) : 0,
        -1,     true};

    if (cli_open(cli, &req, h, err) < 0)
        return -1;
    if (h->status != 101 && h->status != 200)
        return berr_set(err, 0, "attach: unexpected HTTP status %d", h->status);
    /* A 101 is complete after its headers; a 200 streams as its body: both stay raw. */
    if (h->status == 101 && !h->upgraded && cli_http_body(h, err) < 0)
        return -1;
    return 0;
}

/* Pump the stream with the terminal set up for S; stdin goes in when S->in. */
static int pump(struct session *s, struct cli_http *h, berr_t *err)
{
    struct termios saved;
    bool raw = s->tty && s->in && isatty(0) && term_raw(0, &saved) == 0;
    struct pump_opts o = {s->tty, s->in ? 0 : -1, s->tty ? do_resize : NULL, s};

    int rc = stream_pump(h, &o, err);
    if (raw)
        term_restore(0, &saved);
    return rc;
}

/* The wait's body: {"StatusCode": N, "Error": {"Message": ...}}. */
static int wait_result(struct cli_http *w, berr_t *err)
{
    if (cli_http_body(w, err) < 0)
        return -1;
    json_t *j = json_loads(w->body, 0, NULL);
    json_t *code = json_object_get(j, "StatusCode");
    const char *msg = json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
    int rc = code ? (int)json_integer_value(code) : -1;
    if (msg != NULL && msg[0] != '\0')
        fprintf(stderr, "%s\n", msg);
    json_decref(j);
    if (rc < 0)
        return berr_set(err, 0, "wait: bad answer from the daemon: %s", w->body);
    return rc;
}

/* Attach to ID, wait for CONDITION, start, pump, and return the exit code. A failure
 * before the start returns -1 with *START_FAILED telling whether the start was refused. */
static int attach_start_wait(struct cli *cli, const char *id, bool tty, bool in,
                             const char *condition, bool *start_failed, berr_t *err)
{
    struct cli_http a = {.conn = {.fd = -1}}, w = {.conn = {.fd = -1}};
    _cleanup_free_ char *apath = xasprintf("/containers/%s/attach?stream=1&stdin=%d&stdout=1&"
                                           "stderr=1",
                                           id, in);
    _cleanup_free_ char *wpath = xasprintf("/containers/%s/wait?condition=%s", id, condition);
    _cleanup_free_ char *spath = xasprintf("/containers/%s/start", id);
    _cleanup_free_ char *rpath = xasprintf("/containers/%s/resize", id);
    struct cli_req wreq = {"POST", wpath, NULL, NULL, 0, -1, false};
    struct session s = {cli, rpath, tty, in};
    int rc = -1;

    *start_failed = false;
    if (open_stream(cli, &a, apath, NULL, err) < 0)
        goto out;
    if (cli_open(cli, &wreq, &w, err) < 0)
        goto out;
    if (cli_json(cli, "POST", spath, NULL, NULL, err) < 0) {
        *start_failed = true;
        goto out;
    }
    if (pump(&s, &a, err) < 0)
        goto out;
    rc = wait_result(&w, err);
out:
    cli_http_close(&a);
    cli_http_close(&w);
    return rc;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    _cleanup_free_ char *ename = NULL;
    _cleanup_free_ char *cpath = NULL;
    enum { O_RM = 256, O_NAME, O_ENTRYPOINT, O_NET, O_RESTART, O_PIDS, O_LABEL, O_PRIV };
    static const struct option opts[] = {{"detach", no_argument, NULL, 'd'},
                                         {"interactive", no_argument, NULL, 'i'},
                                         {"tty", no_argument, NULL, 't'},
                                         {"rm", no_argument, NULL, O_RM},
                                         {"name", required_argument, NULL, O_NAME},
                                         {"env", required_argument, NULL, 'e'},
                                         {"publish", required_argument, NULL, 'p'},
                                         {"publish-all", no_argument, NULL, 'P'},
                                         {"volume", required_argument, NULL, 'v'},
                                         {"workdir", required_argument, NULL, 'w'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"hostname", required_argument, NULL, 'h'},
                                         {"entrypoint", required_argument, NULL, O_ENTRYPOINT},
                                         {"network", required_argument, NULL, O_NET},
                                         {"net", required_argument, NULL, O_NET},
                                         {"restart", required_argument, NULL, O_RESTART},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"pids-limit", required_argument, NULL, O_PIDS},
                                         {"label", required_argument, NULL, 'l'},
                                         {"privileged", no_argument, NULL, O_PRIV},
                                         {"help", no_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    const char *usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]";
    bool detach = false, in = false, tty = false, rm = false;
    const char *name = NULL;
    json_t *cfg = json_object(), *host = json_object(), *env = json_array();
    json_t *exposed = json_object(), *bindings = json_object(), *binds = json_array();
    json_t *labels = json_object(), *created = NULL;
    berr_t err = NULL;
    int c, rc = 125;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+ditHe:p:Pv:w:u:h:m:l:", opts, NULL)) != -1) {
        long long n;
        switch (c) {
        case 'd':
            detach = true;
            break;
        case 'i':
            in = true;
            break;
        case 't':
            tty = true;
            break;
        case O_RM:
            rm = true;
            break;
        case O_NAME:
            name = optarg;
            break;
        case 'e':
            add_env(env, optarg);
            break;
        case 'p':
            if (add_port(exposed, bindings, optarg) < 0) {
                fprintf(stderr, "berthd: invalid port specification: \"%s\"\n", optarg);
                goto out;
            }
            break;
        case 'P':
            json_object_set_new(host, "PublishAllPorts", json_true());
            break;
        case 'v':
            json_array_append_new(binds, json_string(optarg));
            break;
        case 'w':
            json_object_set_new(cfg, "WorkingDir", json_string(optarg));
            break;
        case 'u':
            json_object_set_new(cfg, "User", json_string(optarg));
            break;
        case 'h':
            json_object_set_new(cfg, "Hostname", json_string(optarg));
            break;
        case O_ENTRYPOINT:
            json_object_set_new(cfg, "Entrypoint", json_pack("[s]", optarg));
            break;
        case O_NET:
            json_object_set_new(host, "NetworkMode", json_string(optarg));
            break;
        case O_RESTART:
            json_object_set_new(host, "RestartPolicy", restart_policy(optarg));
            break;
        case 'm':
            if ((n = spec_parse_size(optarg)) < 0) {
                fprintf(stderr, "berthd: invalid argument \"%s\" for \"-m, --memory\" flag\n",
                        optarg);
                goto out;
            }
            json_object_set_new(host, "Memory", json_integer(n));
            break;
        case O_PIDS:
            json_object_set_new(host, "PidsLimit", json_integer(atoll(optarg)));
            break;
        case 'l': {
            const char *eq = strchr(optarg, '=');
            _cleanup_free_ char *k = eq ? strndup(optarg, (size_t)(eq - optarg)) : xstrdup(optarg);
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
            break;
        }
        case O_PRIV:
            json_object_set_new(host, "Privileged", json_true());
            break;
        default:
            rc = help("run", usage, c == 'H' ? 'h' : c);
            goto out;
        }
    }
    if (optind >= argc) {
        cli_usage_error("run", usage, "at least 1 argument");
        goto out;
    }
    const char *image = argv[optind];
    json_object_set_new(cfg, "Image", json_string(image));
    if (argc - optind > 1) {
        json_t *cmd = json_array();
        for (int a = optind + 1; a < argc; a++)
            json_array_append_new(cmd, json_string(argv[a]));
        json_object_set_new(cfg, "Cmd", cmd);
    }
    set_attach(cfg, in, tty, detach);
    json_object_set_new(cfg, "OpenStdin", json_boolean(in));
    json_object_set_new(cfg, "StdinOnce", json_boolean(in && !detach));
    json_object_set(cfg, "Env", env);
    json_object_set(cfg, "ExposedPorts", exposed);
    json_object_set(cfg, "Labels", labels);
    json_object_set(host, "PortBindings", bindings);
    json_object_set(host, "Binds", binds);
    json_object_set_new(host, "AutoRemove", json_boolean(rm));
    json_object_set(cfg, "HostConfig", host);

    ename = name ? cli_query_escape(name) : NULL;
    cpath = ename ? xasprintf("/containers/create?name=%s", ename) : xstrdup("/containers/create");
    if (cli_json(cli, "POST", cpath, cfg, &created, &err) < 0) {
        if (strstr(berr_msg(err), "No such image") != NULL)
            fprintf(stderr, "Unable to find image '%s' locally\n", image);
        fprintf(stderr, "berthd: %s\n", berr_msg(err));
        berr_free(&err);
        goto out;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(created, "Warnings"), i, w)
        fprintf(stderr, "WARNING: %s\n", json_string_value(w));
    const char *id = json_string_value(json_object_get(created, "Id"));
    if (id == NULL) {
        fprintf(stderr, "berthd: create: the daemon's answer has no Id\n");
        goto out;
    }
    if (detach) {
        _cleanup_free_ char *spath = xasprintf("/containers/%s/start", id);
        if (cli_json(cli, "POST", spath, NULL, NULL, &err) < 0) {
            fprintf(stderr, "berthd: %s\n", berr_msg(err));
            rc = start_error_status(berr_msg(err));
            berr_free(&err);
            goto out;
        }
        printf("%s\n", id);
        rc = 0;
        goto out;
    }
    bool start_failed;
    rc = attach_start_wait(cli, id, tty, in, rm ? "removed" : "next-exit", &start_failed, &err);
    if (rc < 0) {
        fprintf(stderr, "berthd: %s\n", berr_msg(err));
        rc = start_failed ? start_error_status(berr_msg(err)) : 125;
        berr_free(&err);
        if (start_failed && rm) {
            /* docker removes what it created when the start failed */
            _cleanup_free_ char *dpath = xasprintf("/containers/%s?force=1", id);
            if (cli_json(cli, "DELETE", dpath, NULL, NULL, &err) < 0)
                berr_free(&err);
        }
    }
out:
    json_decref(created);
    json_decref(cfg);
    json_decref(host);
    json_decref(env);
    json_decref(exposed);
    json_decref(bindings);
    json_decref(binds);
    json_decref(labels);
    return rc;
}

int cmd_start(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"attach", no_argument, NULL, 'a'},
                                         {"interactive", no_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool attach = false, in = false;
    berr_t err = NULL;
    int c, rc = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+aih", opts, NULL)) != -1) {
        if (c == 'a')
            attach = true;
        else if (c == 'i')
            in = true;
        else
            return help("start", "[OPTIONS] CONTAINER [CONTAINER...]", c) ? 1 : 0;
    }
    if (optind >= argc)
        return cli_usage_error("start", "[OPTIONS] CONTAINER [CONTAINER...]",
                               "at least 1 argument");
    if (attach || in) {
        if (argc - optind != 1) {
            fprintf(stderr, "you cannot start and attach multiple containers at once\n");
            return 1;
        }
        json_t *ct = NULL;
        _cleanup_free_ char *ipath = xasprintf("/containers/%s/json", argv[optind]);
        if (cli_json(cli, "GET", ipath, NULL, &ct, &err) < 0) {
            cli_print_err(&err);
            return 1;
        }
        json_t *config = json_object_get(ct, "Config");
        bool tty = json_is_true(json_object_get(config, "Tty"));
        bool open_in = json_is_true(json_object_get(config, "OpenStdin"));
        _cleanup_free_ char *id = xstrdup(json_string_value(json_object_get(ct, "Id")));
        json_decref(ct);
        bool start_failed;
        rc = attach_start_wait(cli, id, tty, in && open_in, "next-exit", &start_failed, &err);
        if (rc < 0) {
            cli_print_err(&err);
            rc = 1;
        }
        return rc;
    }
    for (int a = optind; a < argc; a++) {
        _cleanup_free_ char *path = xasprintf("/containers/%s/start", argv[a]);
        if (cli_json(cli, "POST", path, NULL, NULL, &err) < 0) {
            cli_print_err(&err);
            rc = 1;
            continue;
        }
        printf("%s\n", argv[a]);
    }
    return rc;
}

int cmd_exec(struct cli *cli, int argc, char **argv)
{
    _cleanup_free_ char *cpath = NULL;
    _cleanup_free_ char *spath = NULL;
    _cleanup_free_ char *rpath = NULL;
    _cleanup_free_ char *ipath = NULL;
    static const struct option opts[] = {{"detach", no_argument, NULL, 'd'},
                                         {"interactive", no_argument, NULL, 'i'},
                                         {"tty", no_argument, NULL, 't'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"workdir", required_argument, NULL, 'w'},
                                         {"privileged", no_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *usage = "[OPTIONS] CONTAINER COMMAND [ARG...]";
    bool detach = false, in = false, tty = false;
    json_t *body = json_object(), *env = json_array(), *created = NULL, *info = NULL;
    struct cli_http h = {.conn = {.fd = -1}};
    berr_t err = NULL;
    int c, rc = 1;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+dite:u:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            detach = true;
            break;
        case 'i':
            in = true;
            break;
        case 't':
            tty = true;
            break;
        case 'e':
            add_env(env, optarg);
            break;
        case 'u':
            json_object_set_new(body, "User", json_string(optarg));
            break;
        case 'w':
            json_object_set_new(body, "WorkingDir", json_string(optarg));
            break;
        case 'P':
            json_object_set_new(body, "Privileged", json_true());
            break;
        default:
            rc = help("exec", usage, c) ? 1 : 0;
            goto out;
        }
    }
    if (argc - optind < 2) {
        cli_usage_error("exec", usage, "at least 2 arguments");
        goto out;
    }
    json_t *cmd = json_array();
    for (int a = optind + 1; a < argc; a++)
        json_array_append_new(cmd, json_string(argv[a]));
    json_object_set_new(body, "Cmd", cmd);
    json_object_set(body, "Env", env);
    set_attach(body, in, tty, detach);
    json_object_set_new(body, "Detach", json_boolean(detach));
    cpath = xasprintf("/containers/%s/exec", argv[optind]);
    if (cli_json(cli, "POST", cpath, body, &created, &err) < 0)
        goto fail;
    const char *id = json_string_value(json_object_get(created, "Id"));
    if (id == NULL) {
        berr_set(&err, 0, "exec: the daemon's answer has no Id");
        goto fail;
    }
    spath = xasprintf("/exec/%s/start", id);
    json_t *start = json_pack("{s:b, s:b}", "Detach", detach, "Tty", tty);
    if (detach) {
        int st = cli_json(cli, "POST", spath, start, NULL, &err);
        json_decref(start);
        if (st < 0)
            goto fail;
        rc = 0;
        goto out;
    }
    int st = open_stream(cli, &h, spath, start, &err);
    json_decref(start);
    if (st < 0)
        goto fail;
    rpath = xasprintf("/exec/%s/resize", id);
    struct session s = {cli, rpath, tty, in};
    if (pump(&s, &h, &err) < 0)
        goto fail;
    ipath = xasprintf("/exec/%s/json", id);
    if (cli_json(cli, "GET", ipath, NULL, &info, &err) < 0)
        goto fail;
    rc = (int)json_integer_value(json_object_get(info, "ExitCode"));
    goto out;
fail:
    cli_print_err(&err);
    rc = 1;
out:
    cli_http_close(&h);
    json_decref(info);
    json_decref(created);
    json_decref(body);
    json_decref(env);
    return rc;
}
