/* berth ls: every machine queried in parallel, each bounded by the timeout
 * (docker-machine queried them one after another and timed out often). */
#include <openssl/crypto.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/engine.h"
#include "core/lib/machine.h"
#include "core/lib/template.h"

#define LS_DEFAULT_TIMEOUT 10

struct ls_shared {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int pending;
    int refs; /* main + running workers: the last one frees everything */
    struct ls_row *rows;
    int n;
};

struct ls_row {
    struct ls_shared *sh;
    const struct berth_store *store;
    char *name;
    long timeout_ms;
    long long start_ms;
    bool done;
    json_t *info; /* the fields --format sees; set under sh->lock when done */
};

static void shared_unref(struct ls_shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    int left = --sh->refs;
    pthread_mutex_unlock(&sh->lock);
    if (left > 0)
        return;
    for (int i = 0; i < sh->n; i++) {
        free(sh->rows[i].name);
        json_decref(sh->rows[i].info);
    }
    free(sh->rows);
    free(sh);
}

/* Query one machine: driver state, URL, engine version. */
static json_t *query_machine(struct ls_row *r)
{
    struct berth_host *h = NULL;
    berr_t err = NULL;
    enum berth_state st = BERTH_STATE_ERROR;
    char *url = NULL, *version = NULL;
    json_t *info = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[]}", "Name", r->name, "DriverName", "",
                             "State", "Error", "URL", "", "DockerVersion", "Unknown", "Error",
                             "", "Labels");

    if (host_load(r->store, r->name, &h, &err) == 0) {
        json_object_set_new(info, "DriverName", json_string(h->driver_name));
        json_t *labels = json_object_get(h->engine, "Labels");
        if (json_is_array(labels))
            json_object_set(info, "Labels", labels);
        if (machine_state(h, &st, &err) == 0 && st == BERTH_STATE_RUNNING &&
            h->dh->drv->get_url(&h->m, &url, &err) == 0) {
            json_object_set_new(info, "URL", json_string(url));
            long left = r->timeout_ms - (long)(now_ms() - r->start_ms);
            if (engine_version(url, h->m.machine_dir, left > 1 ? left : 1, &version, &err) == 0)
                json_object_set_new(info, "DockerVersion", json_string(version));
        }
        json_object_set_new(info, "State", json_string(host_state_name(st)));
    }
    if (err)
        json_object_set_new(info, "Error", json_string(berr_msg(err)));
    json_object_set_new(info, "ResponseTimeMs", json_integer(now_ms() - r->start_ms));
    berr_free(&err);
    free(url);
    free(version);
    host_free(h);
    return info;
}

static void *ls_worker(void *arg)
{
    struct ls_row *r = arg;
    json_t *info = query_machine(r);
    struct ls_shared *sh = r->sh;

    /* Free OpenSSL's per-thread state now: once we report done, main may exit before this
     * detached thread does, and its thread-exit cleanup would never run. */
    OPENSSL_thread_stop();

    pthread_mutex_lock(&sh->lock);
    r->info = info;
    r->done = true;
    sh->pending--;
    pthread_cond_signal(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
    shared_unref(sh);
    return NULL;
}

static void wait_all(struct ls_shared *sh, long timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&sh->lock);
    while (sh->pending > 0) {
        if (pthread_cond_timedwait(&sh->cond, &sh->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&sh->lock);
}

/* One machine's result, or a Timeout row when its worker has not finished. */
static json_t *row_result(struct ls_row *r, long timeout_s)
{
    json_t *info;
    pthread_mutex_lock(&r->sh->lock);
    info = r->done ? json_deep_copy(r->info) : NULL;
    pthread_mutex_unlock(&r->sh->lock);
    if (info)
        return info;
    char *msg = xasprintf("no answer within the %lds timeout (raise it with -t)", timeout_s);
    info = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[]}", "Name", r->name, "DriverName", "",
                     "State", "Timeout", "URL", "", "DockerVersion", "Unknown", "Error", msg,
                     "Labels");
    free(msg);
    return info;
}

struct ls_opts {
    bool quiet;
    long timeout;
    const char *format;
    json_t *filters; /* key -> array of values */
};

static bool any_match(json_t *vals, bool (*pred)(const char *want, json_t *info), json_t *info)
{
    size_t i;
    json_t *v;
    if (!json_is_array(vals) || json_array_size(vals) == 0)
        return true;
    json_array_foreach(vals, i, v)
    {
        if (pred(json_string_value(v), info))
            return true;
    }
    return false;
}

static bool match_driver(const char *want, json_t *info)
{
    return strcmp(want, json_string_value(json_object_get(info, "DriverName"))) == 0;
}

static bool match_state(const char *want, json_t *info)
{
    return strcasecmp(want, json_string_value(json_object_get(info, "State"))) == 0;
}

static bool match_name(const char *want, json_t *info)
{
    regex_t re;
    bool ok;
    if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0)
        return strcmp(want, json_string_value(json_object_get(info, "Name"))) == 0;
    ok = regexec(&re, json_string_value(json_object_get(info, "Name")), 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool match_label(const char *want, json_t *info)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(info, "Labels"), i, v)
    {
        if (strcmp(want, json_string_value(v)) == 0)
            return true;
    }
    return false;
}

static bool filtered_in(const struct ls_opts *o, json_t *info)
{
    return any_match(json_object_get(o->filters, "driver"), match_driver, info) &&
           any_match(json_object_get(o->filters, "state"), match_state, info) &&
           any_match(json_object_get(o->filters, "name"), match_name, info) &&
           any_match(json_object_get(o->filters, "label"), match_label, info);
}

static void set_active(json_t *info)
{
    const char *dh = getenv("DOCKER_HOST");
    const char *url = json_string_value(json_object_get(info, "URL"));
    bool active = dh && url && *url && strcmp(dh, url) == 0 &&
                  strcmp(json_string_value(json_object_get(info, "State")), "Running") == 0;
    json_object_set_new(info, "Active", json_string(active ? "*" : "-"));
    json_object_set_new(info, "ActiveHost", json_boolean(active));
    char *rt = xasprintf("%lldms", json_integer_value(json_object_get(info, "ResponseTimeMs")));
    json_object_set_new(info, "ResponseTime", json_string(rt));
    free(rt);
}

static const char *const columns[] = {"Name", "Active", "DriverName", "State",
                                      "URL",  "DockerVersion", "Error"};
static const char *const headers[] = {"NAME", "ACTIVE", "DRIVER", "STATE",
                                      "URL",  "DOCKER", "ERRORS"};
#define NCOL (sizeof(columns) / sizeof(columns[0]))

/* tabwriter-like output: each column as wide as its widest cell plus 3 spaces. */
static void print_table(json_t *rows)
{
    size_t width[NCOL], i;
    json_t *r;

    for (size_t c = 0; c < NCOL; c++)
        width[c] = strlen(headers[c]);
    json_array_foreach(rows, i, r)
    {
        for (size_t c = 0; c < NCOL; c++) {
            size_t l = strlen(json_string_value(json_object_get(r, columns[c])));
            if (l > width[c])
                width[c] = l;
        }
    }
    for (size_t c = 0; c < NCOL; c++)
        printf("%-*s", c + 1 < NCOL ? (int)width[c] + 3 : 0, headers[c]);
    putchar('\n');
    json_array_foreach(rows, i, r)
    {
        for (size_t c = 0; c < NCOL; c++) {
            const char *v = json_string_value(json_object_get(r, columns[c]));
            if (c + 1 < NCOL)
                printf("%-*s", (int)width[c] + 3, v);
            else
                fputs(v, stdout);
        }
        putchar('\n');
    }
}

static int print_rows(const struct ls_opts *o, json_t *rows, berr_t *err)
{
    size_t i;
    json_t *r;

    if (o->format == NULL && !o->quiet) {
        print_table(rows);
        return 0;
    }
    json_array_foreach(rows, i, r)
    {
        if (o->quiet) {
            puts(json_string_value(json_object_get(r, "Name")));
        } else if (strcmp(o->format, "json") == 0) {
            char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
            puts(text);
            free(text);
        } else {
            char *text = NULL;
            if (template_render(o->format, r, &text, err) < 0)
                return berr_prefix(err, "ls: --format");
            puts(text);
            free(text);
        }
    }
    return 0;
}

/* ls -q with at most name filters: the names are the answer, no machine is asked. */
static int names_only(struct cli *c, const struct ls_opts *o, json_t *rows, berr_t *err)
{
    char **names = NULL;
    size_t n = 0;

    if (store_list(&c->store, &names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *info = json_pack("{s:s}", "Name", names[i]);
        if (any_match(json_object_get(o->filters, "name"), match_name, info))
            json_array_append(rows, info);
        json_decref(info);
    }
    store_free_list(names, n);
    return 0;
}

static int collect(struct cli *c, const struct ls_opts *o, json_t *rows, berr_t *err)
{
    char **names = NULL;
    size_t n = 0;

    if (o->quiet && json_object_size(o->filters) ==
                        (json_object_get(o->filters, "name") ? 1 : 0))
        return names_only(c, o, rows, err);
    if (store_list(&c->store, &names, &n, err) < 0)
        return -1;
    struct ls_shared *sh = xcalloc(1, sizeof(*sh));
    pthread_mutex_init(&sh->lock, NULL);
    pthread_cond_init(&sh->cond, NULL);
    sh->rows = xcalloc(n, sizeof(*sh->rows));
    sh->n = (int)n;
    sh->refs = 1;
    long long start = now_ms();
    for (size_t i = 0; i < n; i++) {
        struct ls_row *r = &sh->rows[i];
        pthread_t t;
        pthread_attr_t attr;
        *r = (struct ls_row){sh, &c->store, names[i], o->timeout * 1000, start, false, NULL};
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&sh->lock);
        sh->refs++;
        sh->pending++;
        pthread_mutex_unlock(&sh->lock);
        if (pthread_create(&t, &attr, ls_worker, r) != 0) {
            r->info = query_machine(r); /* no thread to spare: ask inline */
            r->done = true;
            sh->pending--;
            sh->refs--;
        }
        pthread_attr_destroy(&attr);
    }
    free(names); /* the strings now belong to the rows */
    wait_all(sh, o->timeout * 1000);
    for (size_t i = 0; i < n; i++) {
        json_t *info = row_result(&sh->rows[i], o->timeout);
        set_active(info);
        if (filtered_in(o, info))
            json_array_append(rows, info);
        json_decref(info);
    }
    shared_unref(sh);
    return 0;
}

static int add_filter(json_t *filters, const char *arg, berr_t *err)
{
    const char *eq = strchr(arg, '=');
    static const char *const keys[] = {"driver", "state", "name", "label"};
    if (eq == NULL)
        return berr_set(err, 0, "ls: --filter \"%s\": expected KEY=VALUE", arg);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i]) == (size_t)(eq - arg) && strncmp(arg, keys[i], eq - arg) == 0) {
            json_t *arr = json_object_get(filters, keys[i]);
            if (arr == NULL)
                json_object_set_new(filters, keys[i], arr = json_array());
            json_array_append_new(arr, json_string(eq + 1));
            return 0;
        }
    }
    return berr_set(err, 0, "ls: unsupported filter \"%.*s\" (use driver, state, name or label)",
                    (int)(eq - arg), arg);
}

int cmd_ls(struct cli *c, int argc, char **argv, berr_t *err)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                         {"filter", required_argument, NULL, 'F'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    struct ls_opts o = {false, LS_DEFAULT_TIMEOUT, NULL, json_object()};
    json_t *rows = json_array();
    int ch, ret = -1;
    char *end;

    while ((ch = cli_getopt(&cmds_query[0], argc, argv, "qt:f:", opts, err)) != -1) {
        if (ch == '?')
            goto out;
        if (ch == 'q')
            o.quiet = true;
        else if (ch == 'f')
            o.format = optarg;
        else if (ch == 'F' && add_filter(o.filters, optarg, err) < 0)
            goto out;
        else if (ch == 't') {
            o.timeout = strtol(optarg, &end, 10);
            if (*end != '\0' || o.timeout <= 0) {
                berr_set(err, 0, "ls: --timeout \"%s\": expected a positive number of seconds",
                         optarg);
                goto out;
            }
        }
    }
    if (optind < argc) {
        berr_set(err, 0, "ls: unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    if (collect(c, &o, rows, err) == 0)
        ret = print_rows(&o, rows, err);
out:
    json_decref(rows);
    json_decref(o.filters);
    return ret;
}

const char cmd_ls_options[] =
    "  -q, --quiet             only names\n"
    "      --filter KEY=VALUE  driver=, state=, name= (regular expression), label=\n"
    "  -t, --timeout SECONDS   bound for each machine's answer (default 10)\n"
    "  -f, --format TEMPLATE   Go template over Name, Active, ActiveHost, DriverName, State,\n"
    "                          URL, DockerVersion, Error, ResponseTime; or 'json'\n";
