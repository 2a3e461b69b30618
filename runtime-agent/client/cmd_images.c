/* Image commands: images, rmi, tag, import, load, save. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/client/cli.h"
#include "runtime-agent/client/format.h"
#include "runtime-agent/timefmt.h"

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

static int help(const char *cmd, const char *usage, int c)
{
    fprintf(c == 'h' ? stdout : stderr, "\nUsage:  berthd %s %s\n", cmd, usage);
    return c == 'h' ? 0 : 1;
}

/* "sha256:abc..." -> "abc..." cut to 12 unless NO_TRUNC. */
static char *short_id(const char *id, bool no_trunc)
{
    if (id == NULL)
        return xstrdup("");
    if (no_trunc)
        return xstrdup(id);
    const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
    return xasprintf("%.12s", hex);
}

/* Split "repo:tag" at the last colon after the last slash. */
static void split_ref(const char *ref, char **repo, char **tag)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    const char *at = strchr(ref, '@');

    if (at != NULL) {
        *repo = strndup(ref, (size_t)(at - ref));
        *tag = xstrdup("<none>");
    } else if (colon != NULL) {
        *repo = strndup(ref, (size_t)(colon - ref));
        *tag = xstrdup(colon + 1);
    } else {
        *repo = xstrdup(ref);
        *tag = xstrdup("");
    }
    if (*repo == NULL)
        abort();
}

int cmd_images(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"no-trunc", no_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool quiet = false, all = false, no_trunc = false;
    json_t *list = NULL;
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+qah", opts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 'a')
            all = true;
        else if (c == 'T')
            no_trunc = true;
        else
            return help("images", "[OPTIONS] [REPOSITORY[:TAG]]", c);
    }
    if (cli_json(cli, "GET", all ? "/images/json?all=1" : "/images/json", NULL, &list, &err) < 0) {
        cli_print_err(&err);
        return 1;
    }
    const char *filter = optind < argc ? argv[optind] : NULL;
    struct table t;
    table_init(&t, 5);
    table_add(&t, (const char *const[]){"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
    json_t *seen = json_object();
    size_t i;
    json_t *img;
    json_array_foreach(list, i, img)
    {
        _cleanup_free_ char *id = short_id(json_string_value(json_object_get(img, "Id")), no_trunc);
        json_t *tags = json_object_get(img, "RepoTags");
        size_t ntags = json_array_size(tags);
        _cleanup_free_ char *created = NULL, *size = NULL, *ago = NULL;
        ago = time_human_duration((long long)time(NULL) -
                                  json_integer_value(json_object_get(img, "Created")));
        created = xasprintf("%s ago", ago);
        size = fmt_size((double)json_integer_value(json_object_get(img, "Size")));
        for (size_t k = 0; k < (ntags ? ntags : 1); k++) {
            const char *ref = ntags ? json_string_value(json_array_get(tags, k)) : NULL;
            char *repo, *tag;
            if (ref == NULL || strcmp(ref, "<none>:<none>") == 0) {
                repo = xstrdup("<none>");
                tag = xstrdup("<none>");
            } else {
                split_ref(ref, &repo, &tag);
            }
            bool match = filter == NULL || strcmp(filter, repo) == 0 ||
                         (ref != NULL && strcmp(filter, ref) == 0);
            if (match && quiet && json_object_get(seen, id) == NULL) {
                printf("%s\n", id);
                json_object_set_new(seen, id, json_true());
            } else if (match && !quiet) {
                table_add(&t, (const char *const[]){repo, tag, id, created, size});
            }
            free(repo);
            free(tag);
        }
    }
    if (!quiet)
        table_print(&t, stdout);
    table_free(&t);
    json_decref(seen);
    json_decref(list);
    return 0;
}

int cmd_rmi(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"no-prune", no_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool force = false, noprune = false;
    int c, rc = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == 'P')
            noprune = true;
        else
            return help("rmi", "[OPTIONS] IMAGE [IMAGE...]", c);
    }
    if (optind >= argc)
        return cli_usage_error("rmi", "[OPTIONS] IMAGE [IMAGE...]", "at least 1 argument");
    for (int a = optind; a < argc; a++) {
        _cleanup_free_ char *path =
            xasprintf("/images/%s?force=%d&noprune=%d", argv[a], force, noprune);
        json_t *out = NULL, *e;
        berr_t err = NULL;
        size_t i;
        if (cli_json(cli, "DELETE", path, NULL, &out, &err) < 0) {
            cli_print_err(&err);
            rc = 1;
            continue;
        }
        json_array_foreach(out, i, e)
        {
            const char *u = json_string_value(json_object_get(e, "Untagged"));
            const char *d = json_string_value(json_object_get(e, "Deleted"));
            if (u)
                printf("Untagged: %s\n", u);
            if (d)
                printf("Deleted: %s\n", d);
        }
        json_decref(out);
    }
    return rc;
}

int cmd_tag(struct cli *cli, int argc, char **argv)
{
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+h", help_only, NULL)) != -1)
        return help("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", c);
    if (argc - optind != 2)
        return cli_usage_error("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                               "exactly 2 arguments");
    char *repo, *tag;
    split_ref(argv[optind + 1], &repo, &tag);
    _cleanup_free_ char *erepo = cli_query_escape(repo), *etag = cli_query_escape(tag);
    _cleanup_free_ char *path =
        xasprintf("/images/%s/tag?repo=%s&tag=%s", argv[optind], erepo, etag);
    free(repo);
    free(tag);
    if (cli_json(cli, "POST", path, NULL, NULL, &err) < 0) {
        cli_print_err(&err);
        return 1;
    }
    return 0;
}

/* The JSON messages of a progress stream (import, load): CB on each; an "error" member
 * becomes the error. */
static int each_message(const char *body, size_t len, void (*cb)(json_t *m, void *arg), void *arg,
                        berr_t *err)
{
    size_t off = 0;

    while (off < len) {
        while (off < len && strchr(" \t\r\n", body[off]))
            off++;
        if (off >= len)
            break;
        json_error_t je;
        json_t *m = json_loadb(body + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        if (m == NULL)
            return berr_set(err, 0, "bad progress message from the daemon: %s", je.text);
        off += je.position;
        const char *e = json_string_value(json_object_get(m, "error"));
        if (e != NULL) {
            berr_set(err, 0, "%s", e);
            json_decref(m);
            return -1;
        }
        cb(m, arg);
        json_decref(m);
    }
    return 0;
}

/* A request whose body is FD and whose answer is a progress stream. */
static int upload(struct cli *cli, const char *path, const char *ctype, int fd,
                  void (*cb)(json_t *m, void *arg), void *arg, berr_t *err)
{
    struct cli_http h;
    struct cli_req req = {"POST", path, ctype, NULL, 0, fd, false};
    int rc = -1;

    if (cli_open(cli, &req, &h, err) < 0 || cli_http_body(&h, err) < 0)
        goto out;
    rc = each_message(h.body, h.body_len, cb, arg, err);
out:
    cli_http_close(&h);
    return rc;
}

static void last_status(json_t *m, void *arg)
{
    const char *s = json_string_value(json_object_get(m, "status"));
    if (s != NULL) {
        free(*(char **)arg);
        *(char **)arg = xstrdup(s);
    }
}

static int open_input(const char *file, berr_t *err)
{
    if (file == NULL || strcmp(file, "-") == 0)
        return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno, "open %s", file);
    return fd;
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"change", required_argument, NULL, 'c'},
                                         {"message", required_argument, NULL, 'm'},
                                         {"platform", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *usage = "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]";
    _cleanup_free_ char *query = xstrdup(""), *status = NULL;
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+c:m:h", opts, NULL)) != -1) {
        _cleanup_free_ char *v = NULL;
        char *q;
        if (c == 'c' || c == 'm') {
            v = cli_query_escape(optarg);
            q = xasprintf("%s&%s=%s", query, c == 'c' ? "changes" : "message", v);
            free(query);
            query = q;
        } else if (c != 'p') {
            return help("import", usage, c);
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage_error("import", usage, "at least 1 and at most 2 arguments");
    if (argc - optind == 2) {
        char *repo, *tag;
        split_ref(argv[optind + 1], &repo, &tag);
        _cleanup_free_ char *er = cli_query_escape(repo), *et = cli_query_escape(tag);
        char *q = xasprintf("%s&repo=%s&tag=%s", query, er, et);
        free(query);
        query = q;
        free(repo);
        free(tag);
    }
    int fd = open_input(argv[optind], &err);
    if (fd < 0) {
        cli_print_err(&err);
        return 1;
    }
    _cleanup_free_ char *path = xasprintf("/images/create?fromSrc=-%s", query);
    int rc = upload(cli, path, "application/x-tar", fd, last_status, &status, &err);
    if (fd > 0)
        close(fd);
    if (rc < 0) {
        cli_print_err(&err);
        return 1;
    }
    if (status != NULL)
        printf("%s\n", status);
    return 0;
}

static void print_stream(json_t *m, void *arg)
{
    const char *s = json_string_value(json_object_get(m, "stream"));
    (void)arg;
    if (s != NULL)
        fputs(s, stdout);
}

int cmd_load(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *input = NULL;
    bool quiet = false;
    berr_t err = NULL;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
        if (c == 'i')
            input = optarg;
        else if (c == 'q')
            quiet = true;
        else
            return help("load", "[OPTIONS]", c);
    }
    if (optind < argc) {
        fprintf(stderr, "\"berthd load\" accepts no arguments.\n");
        return 1;
    }
    if (input == NULL && isatty(0)) {
        fprintf(stderr, "requested load from stdin, but stdin is empty\n");
        return 1;
    }
    int fd = open_input(input, &err);
    if (fd < 0) {
        cli_print_err(&err);
        return 1;
    }
    int rc = upload(cli, quiet ? "/images/load?quiet=1" : "/images/load?quiet=0",
                    "application/x-tar", fd, print_stream, NULL, &err);
    if (fd > 0)
        close(fd);
    if (rc < 0) {
        cli_print_err(&err);
        return 1;
    }
    return 0;
}

static int to_fd(void *arg, const char *data, size_t n, berr_t *err)
{
    int fd = *(int *)arg;
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return berr_set(err, errno, "write the archive");
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

int cmd_save(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL;
    berr_t err = NULL;
    int c, fd = -1, rc = 1;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else
            return help("save", "[OPTIONS] IMAGE [IMAGE...]", c);
    }
    if (optind >= argc)
        return cli_usage_error("save", "[OPTIONS] IMAGE [IMAGE...]", "at least 1 argument");
    if (output == NULL && isatty(1)) {
        fprintf(stderr, "cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
        return 1;
    }
    _cleanup_free_ char *path = xstrdup("/images/get?");
    for (int a = optind; a < argc; a++) {
        _cleanup_free_ char *e = cli_query_escape(argv[a]);
        char *p = xasprintf("%s%snames=%s", path, a > optind ? "&" : "", e);
        free(path);
        path = p;
    }
    struct cli_http h;
    struct cli_req req = {"GET", path, NULL, NULL, 0, -1, false};
    if (cli_open(cli, &req, &h, &err) < 0)
        goto out;
    if (output == NULL) {
        fd = 1;
    } else {
        fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            berr_set(&err, errno, "failed to save image: open %s", output);
            goto out;
        }
    }
    h.sink = to_fd;
    h.sink_arg = &fd;
    if (cli_http_body(&h, &err) < 0)
        goto out;
    rc = 0;
out:
    cli_http_close(&h);
    if (output != NULL && fd >= 0) {
        if (close(fd) < 0 && rc == 0) {
            berr_set(&err, errno, "write %s", output);
            rc = 1;
        }
        if (rc != 0)
            unlink(output);
    }
    if (rc != 0)
        cli_print_err(&err);
    return rc;
}
