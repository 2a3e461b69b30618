/* Container commands without a stream of their own: ps, stop, rm, logs, inspect. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/client/cli.h"
#include "runtime-agent/client/format.h"
#include "runtime-agent/timefmt.h"
#include "runtime-agent/client/stream.h"

static int help(const char *cmd, const char *usage, int c)
{
    fprintf(c == 'h' ? stdout : stderr, "\nUsage:  berthd %s %s\n", cmd, usage);
    return c == 'h' ? 0 : 1;
}

/* Go's strconv.Quote for the characters a command line holds. */
static char *quote(const char *s)
{
    char *out = xcalloc(strlen(s) * 2 + 3, 1), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '"';
    return out;
}

static char *ports_of(json_t *ports)
{
    char *out = xstrdup("");
    size_t i;
    json_t *p;

    json_array_foreach(ports, i, p)
    {
        const char *ip = json_string_value(json_object_get(p, "IP"));
        const char *type = json_string_value(json_object_get(p, "Type"));
        long long priv = json_integer_value(json_object_get(p, "PrivatePort"));
        long long pub = json_integer_value(json_object_get(p, "PublicPort"));
        char *one;
        if (pub > 0 && ip != NULL && strchr(ip, ':') != NULL)
            one = xasprintf("[%s]:%lld->%lld/%s", ip, pub, priv, type ? type : "tcp");
        else if (pub > 0)
            one =
                xasprintf("%s:%lld->%lld/%s", ip ? ip : "0.0.0.0", pub, priv, type ? type : "tcp");
        else
            one = xasprintf("%lld/%s", priv, type ? type : "tcp");
        char *joined = xasprintf("%s%s%s", out, out[0] ? ", " : "", one);
        free(one);
        free(out);
        out = joined;
    }
    return out;
}

static char *names_of(json_t *names)
{
    char *out = xstrdup("");
    size_t i;
    json_t *n;

    json_array_foreach(names, i, n)
    {
        const char *s = json_string_value(n);
        if (s == NULL)
            continue;
        if (s[0] == '/')
            s++;
        if (strchr(s, '/') != NULL) /* a link's name */
            continue;
        char *joined = xasprintf("%s%s%s", out, out[0] ? "," : "", s);
        free(out);
        out = joined;
    }
    return out;
}

int cmd_ps(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},      {"quiet", no_argument, NULL, 'q'},
        {"no-trunc", no_argument, NULL, 'T'}, {"latest", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0}};
    bool all = false, quiet = false, no_trunc = false, latest = false;
    json_t *list = NULL;
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+aqlh", opts, NULL)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == 'q')
            quiet = true;
        else if (c == 'T')
            no_trunc = true;
        else if (c == 'l')
            latest = true;
        else
            return help("ps", "[OPTIONS]", c);
    }
    if (optind < argc) {
        fprintf(stderr, "\"berthd ps\" accepts no arguments.\n");
        return 1;
    }
    const char *path = latest ? "/containers/json?all=1&limit=1"
                       : all  ? "/containers/json?all=1"
                              : "/containers/json";
    if (cli_json(cli, "GET", path, NULL, &list, &err) < 0) {
        cli_print_err(&err);
        return 1;
    }
    struct table t;
    table_init(&t, 7);
    table_add(&t, (const char *const[]){"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                        "PORTS", "NAMES"});
    size_t i;
    json_t *ct;
    json_array_foreach(list, i, ct)
    {
        const char *id = json_string_value(json_object_get(ct, "Id"));
        _cleanup_free_ char *sid = xasprintf("%.*s", no_trunc ? 64 : 12, id ? id : "");
        if (quiet) {
            printf("%s\n", sid);
            continue;
        }
        const char *image = json_string_value(json_object_get(ct, "Image"));
        _cleanup_free_ char *img = NULL, *cmd = NULL, *qcmd = NULL, *ago = NULL, *created = NULL;
        _cleanup_free_ char *ports = ports_of(json_object_get(ct, "Ports"));
        _cleanup_free_ char *names = names_of(json_object_get(ct, "Names"));
        if (image && strncmp(image, "sha256:", 7) == 0 && !no_trunc)
            img = xasprintf("%.12s", image + 7);
        else
            img = xstrdup(image ? image : "");
        const char *command = json_string_value(json_object_get(ct, "Command"));
        cmd = no_trunc ? xstrdup(command ? command : "") : fmt_trunc(command ? command : "", 20);
        qcmd = quote(cmd);
        ago = time_human_duration((long long)time(NULL) -
                                  json_integer_value(json_object_get(ct, "Created")));
        created = xasprintf("%s ago", ago);
        const char *status = json_string_value(json_object_get(ct, "Status"));
        table_add(&t, (const char *const[]){sid, img, qcmd, created, status, ports, names});
    }
    if (!quiet)
        table_print(&t, stdout);
    table_free(&t);
    json_decref(list);
    return 0;
}

/* For stop and rm: METHOD on each container's PATH_FMT, its name printed on success. */
static int each_container(struct cli *cli, int argc, char **argv, const char *method,
                          const char *fmt, const char *query)
{
    int rc = 0;

    for (int a = optind; a < argc; a++) {
        _cleanup_free_ char *path = xasprintf(fmt, argv[a], query);
        berr_t err = NULL;
        if (cli_json(cli, method, path, NULL, NULL, &err) < 0) {
            cli_print_err(&err);
            rc = 1;
            continue;
        }
        printf("%s\n", argv[a]);
    }
    return rc;
}

int cmd_stop(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"time", required_argument, NULL, 't'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"signal", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    _cleanup_free_ char *query = xstrdup("");
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+t:s:h", opts, NULL)) != -1) {
        if (c == 't' || c == 's') {
            char *end;
            if (c == 't' && (strtol(optarg, &end, 10), *end != '\0' || end == optarg)) {
                fprintf(stderr, "invalid argument \"%s\" for \"-t, --timeout\" flag\n", optarg);
                return 1;
            }
            _cleanup_free_ char *v = cli_query_escape(optarg);
            char *q =
                xasprintf("%s%s%s=%s", query, query[0] ? "&" : "?", c == 't' ? "t" : "signal", v);
            free(query);
            query = q;
        } else {
            return help("stop", "[OPTIONS] CONTAINER [CONTAINER...]", c);
        }
    }
    if (optind >= argc)
        return cli_usage_error("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "at least 1 argument");
    return each_container(cli, argc, argv, "POST", "/containers/%s/stop%s", query);
}

int cmd_rm(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"volumes", no_argument, NULL, 'v'},
                                         {"link", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool force = false, volumes = false;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+fvlh", opts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == 'v')
            volumes = true;
        else if (c != 'l')
            return help("rm", "[OPTIONS] CONTAINER [CONTAINER...]", c);
    }
    if (optind >= argc)
        return cli_usage_error("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "at least 1 argument");
    _cleanup_free_ char *query = xasprintf("?force=%d&v=%d", force, volumes);
    return each_container(cli, argc, argv, "DELETE", "/containers/%s%s", query);
}

int cmd_logs(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},      {"tail", required_argument, NULL, 'n'},
        {"timestamps", no_argument, NULL, 't'},  {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'}, {"details", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    _cleanup_free_ char *query = xstrdup("stdout=1&stderr=1");
    json_t *ct = NULL;
    berr_t err = NULL;
    int c, rc = 1;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+fn:th", opts, NULL)) != -1) {
        const char *key = c == 'f'   ? "follow"
                          : c == 'n' ? "tail"
                          : c == 't' ? "timestamps"
                          : c == 'S' ? "since"
                          : c == 'U' ? "until"
                          : c == 'D' ? "details"
                                     : NULL;
        if (key == NULL)
            return help("logs", "[OPTIONS] CONTAINER", c);
        _cleanup_free_ char *v = cli_query_escape(optarg ? optarg : "1");
        char *q = xasprintf("%s&%s=%s", query, key, (c == 'f' || c == 't' || c == 'D') ? "1" : v);
        free(query);
        query = q;
    }
    if (argc - optind != 1)
        return cli_usage_error("logs", "[OPTIONS] CONTAINER", "exactly 1 argument");
    _cleanup_free_ char *ipath = xasprintf("/containers/%s/json", argv[optind]);
    if (cli_json(cli, "GET", ipath, NULL, &ct, &err) < 0) {
        cli_print_err(&err);
        return 1;
    }
    bool tty = json_is_true(json_object_get(json_object_get(ct, "Config"), "Tty"));
    json_decref(ct);

    _cleanup_free_ char *path = xasprintf("/containers/%s/logs?%s", argv[optind], query);
    struct cli_http h;
    struct cli_req req = {"GET", path, NULL, NULL, 0, -1, false};
    struct demux d = {0};
    if (cli_open(cli, &req, &h, &err) < 0)
        goto out;
    h.sink = tty ? raw_feed : demux_feed;
    h.sink_arg = &d;
    if (cli_http_body(&h, &err) < 0)
        goto out;
    rc = 0;
out:
    cli_http_close(&h);
    if (rc != 0)
        cli_print_err(&err);
    return rc;
}

int cmd_inspect(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"type", required_argument, NULL, 'T'},
                                         {"size", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *type = NULL;
    bool size = false;
    int c, rc = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+sh", opts, NULL)) != -1) {
        if (c == 'T')
            type = optarg;
        else if (c == 's')
            size = true;
        else
            return help("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", c);
    }
    if (optind >= argc)
        return cli_usage_error("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "at least 1 argument");
    if (type && strcmp(type, "container") != 0 && strcmp(type, "image") != 0) {
        fprintf(stderr, "\"%s\" is not a valid value for --type\n", type);
        return 1;
    }
    json_t *all = json_array();
    for (int a = optind; a < argc; a++) {
        json_t *obj = NULL;
        berr_t err = NULL;
        int st = -1;
        if (type == NULL || strcmp(type, "container") == 0) {
            _cleanup_free_ char *p =
                xasprintf("/containers/%s/json%s", argv[a], size ? "?size=1" : "");
            st = cli_json(cli, "GET", p, NULL, &obj, &err);
        }
        if (st < 0 && (type == NULL || strcmp(type, "image") == 0)) {
            /* Only a missing container falls through to images. */
            if (err == NULL || strstr(berr_msg(err), "No such container") != NULL) {
                berr_free(&err);
                _cleanup_free_ char *p = xasprintf("/images/%s/json", argv[a]);
                st = cli_json(cli, "GET", p, NULL, &obj, &err);
            }
        }
        if (st < 0) {
            if (strstr(berr_msg(err), "No such") != NULL) {
                berr_free(&err);
                if (type == NULL)
                    berr_set(&err, 0, "Error: No such object: %s", argv[a]);
                else
                    berr_set(&err, 0, "Error: No such %s: %s", type, argv[a]);
            }
            cli_print_err(&err);
            rc = 1;
            continue;
        }
        json_array_append_new(all, obj);
    }
    char *text = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
    json_decref(all);
    return rc;
}
