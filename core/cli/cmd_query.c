/* Commands that read a machine: ls (cmd_ls.c), inspect, status, ip, url, active, version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/engine.h"
#include "core/lib/machine.h"
#include "core/lib/template.h"

#define VERSION_TIMEOUT_MS 10000

static int one_inspect(struct cli *c, const char *name, void *ud, berr_t *err)
{
    const char *format = ud;
    struct berth_host *h = NULL;
    _cleanup_free_ char *text = NULL;
    json_t *root;
    int ret = 0;

    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    root = host_to_json(h, err);
    host_free(h);
    if (root == NULL)
        return -1;
    if (format != NULL)
        ret = template_render(format, root, &text, err);
    else
        text = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
    json_decref(root);
    if (ret < 0)
        return berr_prefix(err, "inspect %s: -f", name);
    puts(text);
    return 0;
}

static int run_inspect(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    const char *format = NULL;
    int ch;

    while ((ch = cli_getopt(&cmds_query[1], argc, argv, "f:", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        format = optarg;
    }
    return cli_each(c, argc, argv, optind, one_inspect, (void *)format, err);
}

/* Commands with no options of their own: parse, then run FN on each name. */
static int simple(struct cli *c, const struct cmd *cmd, int argc, char **argv,
                  int (*fn)(struct cli *, const char *, void *, berr_t *), berr_t *err)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    int ch;
    while ((ch = cli_getopt(cmd, argc, argv, "", none, err)) != -1) {
        if (ch == '?')
            return -1;
    }
    return cli_each(c, argc, argv, optind, fn, NULL, err);
}

static int one_status(struct cli *c, const char *name, void *ud, berr_t *err)
{
    struct berth_host *h = NULL;
    enum berth_state st;
    (void)ud;
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    int ret = machine_state(h, &st, err);
    if (ret == 0)
        puts(host_state_name(st));
    host_free(h);
    return ret;
}

static int one_ip(struct cli *c, const char *name, void *ud, berr_t *err)
{
    struct berth_host *h = NULL;
    char *ip = NULL;
    (void)ud;
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    int ret = h->dh->drv->get_ip(&h->m, &ip, err);
    if (ret == 0)
        puts(ip);
    else
        berr_prefix(err, "machine %s: get IP address", name);
    free(ip);
    host_free(h);
    return ret;
}

static int one_url(struct cli *c, const char *name, void *ud, berr_t *err)
{
    struct berth_host *h = NULL;
    char *url = NULL;
    (void)ud;
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    int ret = machine_url(h, &url, err);
    if (ret == 0)
        ret = machine_refresh_address(h, err);
    if (ret == 0)
        puts(url);
    free(url);
    host_free(h);
    return ret;
}

static int run_status(struct cli *c, int argc, char **argv, berr_t *err)
{
    return simple(c, &cmds_query[2], argc, argv, one_status, err);
}

static int run_ip(struct cli *c, int argc, char **argv, berr_t *err)
{
    return simple(c, &cmds_query[3], argc, argv, one_ip, err);
}

static int run_url(struct cli *c, int argc, char **argv, berr_t *err)
{
    return simple(c, &cmds_query[4], argc, argv, one_url, err);
}

/* The machine whose URL is $DOCKER_HOST and that is running. */
static int run_active(struct cli *c, int argc, char **argv, berr_t *err)
{
    const char *dh = getenv("DOCKER_HOST");
    char **names = NULL;
    size_t n = 0;
    int found = 0;

    (void)argc;
    (void)argv;
    if (dh == NULL || *dh == '\0')
        return berr_set(err, 0, "no active host: DOCKER_HOST is not set");
    if (store_list(&c->store, &names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && !found; i++) {
        struct berth_host *h = NULL;
        char *url = NULL;
        enum berth_state st;
        berr_t e = NULL;
        if (host_load(&c->store, names[i], &h, &e) == 0 &&
            h->dh->drv->get_url(&h->m, &url, &e) == 0 && strcmp(url, dh) == 0 &&
            machine_state(h, &st, &e) == 0 && st == BERTH_STATE_RUNNING) {
            puts(names[i]);
            found = 1;
        }
        berr_free(&e);
        free(url);
        host_free(h);
    }
    store_free_list(names, n);
    if (!found)
        return berr_set(err, 0, "no active host: no running machine has the URL %s", dh);
    return 0;
}

static int one_version(struct cli *c, const char *name, void *ud, berr_t *err)
{
    struct berth_host *h = NULL;
    char *url = NULL, *version = NULL;
    (void)ud;
    if (host_load(&c->store, name, &h, err) < 0)
        return -1;
    int ret = machine_url(h, &url, err);
    if (ret == 0)
        ret = engine_version(url, h->m.machine_dir, VERSION_TIMEOUT_MS, &version, err);
    if (ret == 0)
        puts(version + 1); /* drop the leading 'v' as docker-machine does */
    else
        berr_prefix(err, "machine %s: engine version", name);
    free(url);
    free(version);
    host_free(h);
    return ret;
}

static int run_version(struct cli *c, int argc, char **argv, berr_t *err)
{
    if (argc <= 1) {
        printf("berth version %s, build %s\n", BERTH_VERSION, BERTH_GIT_COMMIT);
        return 0;
    }
    return simple(c, &cmds_query[6], argc, argv, one_version, err);
}

const struct cmd cmds_query[] = {
    {"ls", "[OPTIONS]", "list machines", cmd_ls_options, cmd_ls},
    {"inspect", "[-f TEMPLATE] [NAME...]", "show a machine's configuration as JSON",
     "  -f, --format TEMPLATE   Go template, e.g. '{{.Driver.IPAddress}}' or '{{json "
     ".Driver}}'\n",
     run_inspect},
    {"status", "[NAME...]", "show a machine's state", NULL, run_status},
    {"ip", "[NAME...]", "show a machine's IP address", NULL, run_ip},
    {"url", "[NAME...]", "show a machine's engine URL", NULL, run_url},
    {"active", "", "show the machine that $DOCKER_HOST points at", NULL, run_active},
    {"version", "[NAME...]", "show berth's version, or a machine's engine version", NULL,
     run_version},
    {NULL, NULL, NULL, NULL, NULL},
};
