/* berth create -d DRIVER [driver flags] [engine flags] NAME */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "core/cli/cli.h"
#include "core/lib/driverload.h"
#include "core/lib/machine.h"

#define DEFAULT_DRIVER "local"

/* The general options; driver flags are appended after them at run time. */
enum {
    OPT_DRIVER = 'd',
    OPT_HELP = 'h',
    OPT_ENGINE_OPT = 1000,
    OPT_ENGINE_ENV,
    OPT_ENGINE_LABEL,
    OPT_ENGINE_INSECURE,
    OPT_ENGINE_MIRROR,
    OPT_ENGINE_STORAGE,
    OPT_TLS_SAN,
    OPT_DRIVER_FLAG = 2000, /* + index into the driver's flag table */
};

static const struct {
    const char *name;
    int id;
    const char *key; /* EngineOptions key, NULL for --tls-san */
} list_opts[] = {
    {"engine-opt", OPT_ENGINE_OPT, "ArbitraryFlags"},
    {"engine-env", OPT_ENGINE_ENV, "Env"},
    {"engine-label", OPT_ENGINE_LABEL, "Labels"},
    {"engine-insecure-registry", OPT_ENGINE_INSECURE, "InsecureRegistry"},
    {"engine-registry-mirror", OPT_ENGINE_MIRROR, "RegistryMirror"},
    {"tls-san", OPT_TLS_SAN, NULL},
};

#define N_LIST_OPTS (sizeof(list_opts) / sizeof(list_opts[0]))

static const char create_options[] =
    "  -d, --driver NAME                  driver to create the machine with (default "
    "\"" DEFAULT_DRIVER "\")\n"
    "      --engine-opt KEY=VALUE         extra berthd flag (repeatable)\n"
    "      --engine-env KEY=VALUE         environment for berthd (repeatable)\n"
    "      --engine-label KEY=VALUE       engine label (repeatable)\n"
    "      --engine-insecure-registry R   registry reached without TLS (repeatable)\n"
    "      --engine-registry-mirror URL   registry mirror (repeatable)\n"
    "      --engine-storage-driver NAME   storage driver (default overlay2)\n"
    "      --tls-san NAME                 extra name or IP in the server certificate "
    "(repeatable)\n";

/* The driver named by -d/--driver anywhere on the command line, or the default. */
static const char *find_driver_arg(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--driver") == 0) && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--driver=", 9) == 0)
            return argv[i] + 9;
        if (strncmp(argv[i], "-d", 2) == 0 && argv[i][2] != '\0')
            return argv[i] + 2;
    }
    return NULL;
}

static const char *flag_type_name(enum berth_flag_type t)
{
    switch (t) {
    case BERTH_FLAG_STRING:
        return "STRING";
    case BERTH_FLAG_STRING_LIST:
        return "VALUE";
    case BERTH_FLAG_INT:
        return "N";
    case BERTH_FLAG_BOOL:
        return "";
    }
    return "";
}

static void create_help(const struct cmd *cmd, const struct berth_driver *d)
{
    cmd_help(cmd);
    if (d == NULL) {
        char **names = NULL;
        size_t n = 0;
        driver_list(&names, &n, NULL);
        printf("\nInstalled drivers (in %s):\n", getenv("BERTH_DRIVER_PATH") ?: "the "
                                                                               "driver dir");
        for (size_t i = 0; i < n; i++)
            printf("  %s\n", names[i]);
        printf("\nRun 'berth create -d DRIVER --help' for a driver's own flags.\n");
        store_free_list(names, n);
        return;
    }
    printf("\nDriver %s: %s\n", d->name, d->summary ? d->summary : "");
    for (const struct berth_flag *f = d->flags; f && f->name; f++) {
        char left[80];
        snprintf(left, sizeof(left), "--%s %s", f->name, flag_type_name(f->type));
        printf("  %-34s %s", left, f->usage ? f->usage : "");
        if (f->def)
            printf(" (default \"%s\")", f->def);
        if (f->env)
            printf(" [$%s]", f->env);
        if (f->type == BERTH_FLAG_STRING_LIST)
            printf(" (repeatable)");
        putchar('\n');
    }
}

/* Build the JSON value of one driver flag from TEXT (a command-line value or env). */
static int flag_value(const struct berth_flag *f, const char *text, json_t **out, berr_t *err)
{
    char *end;
    long long v;

    switch (f->type) {
    case BERTH_FLAG_STRING:
        *out = json_string(text);
        return 0;
    case BERTH_FLAG_STRING_LIST:
        *out = json_pack("[s]", text);
        return 0;
    case BERTH_FLAG_INT:
        v = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0')
            return berr_set(err, 0, "create: --%s: \"%s\" is not a whole number", f->name, text);
        *out = json_integer(v);
        return 0;
    case BERTH_FLAG_BOOL:
        *out = json_boolean(strcmp(text, "1") == 0 || strcasecmp(text, "true") == 0 ||
                            strcasecmp(text, "yes") == 0);
        return 0;
    }
    return berr_set(err, 0, "create: --%s: unknown flag type", f->name);
}

/* Fill defaults and environment values for driver flags not given on the command line. */
static int flag_defaults(const struct berth_driver *d, json_t *flags, berr_t *err)
{
    for (const struct berth_flag *f = d->flags; f && f->name; f++) {
        const char *env = f->env ? getenv(f->env) : NULL;
        const char *text = env && *env ? env : f->def;
        json_t *v = NULL;
        if (json_object_get(flags, f->name))
            continue;
        if (text == NULL) {
            v = f->type == BERTH_FLAG_STRING_LIST ? json_array()
                : f->type == BERTH_FLAG_BOOL      ? json_false()
                                                  : json_null();
        } else if (flag_value(f, text, &v, err) < 0) {
            return -1;
        }
        json_object_set_new(flags, f->name, v);
    }
    return 0;
}

static struct option *build_options(const struct berth_driver *d)
{
    size_t nd = 0;
    for (const struct berth_flag *f = d->flags; f && f->name; f++)
        nd++;
    struct option *o = xcalloc(N_LIST_OPTS + nd + 4, sizeof(*o));
    size_t k = 0;
    o[k++] = (struct option){"driver", required_argument, NULL, OPT_DRIVER};
    o[k++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    o[k++] = (struct option){"engine-storage-driver", required_argument, NULL, OPT_ENGINE_STORAGE};
    for (size_t i = 0; i < N_LIST_OPTS; i++)
        o[k++] = (struct option){list_opts[i].name, required_argument, NULL, list_opts[i].id};
    for (size_t i = 0; i < nd; i++)
        o[k++] = (struct option){d->flags[i].name,
                                 d->flags[i].type == BERTH_FLAG_BOOL ? no_argument
                                                                     : required_argument,
                                 NULL, OPT_DRIVER_FLAG + (int)i};
    return o;
}

static int add_driver_flag(const struct berth_flag *f, const char *arg, json_t *flags,
                           berr_t *err)
{
    json_t *v = NULL;
    json_t *cur = json_object_get(flags, f->name);

    if (flag_value(f, f->type == BERTH_FLAG_BOOL ? "true" : arg, &v, err) < 0)
        return -1;
    if (f->type == BERTH_FLAG_STRING_LIST && json_is_array(cur)) {
        json_array_extend(cur, v);
        json_decref(v);
        return 0;
    }
    json_object_set_new(flags, f->name, v);
    return 0;
}

struct create_args {
    json_t *flags, *engine, *sans;
    bool help;
};

static int parse_create(const struct cmd *cmd, const struct berth_driver *d, int argc,
                        char **argv, struct create_args *a, berr_t *err)
{
    _cleanup_free_ struct option *opts = build_options(d);
    int ch;

    while ((ch = cli_getopt(cmd, argc, argv, "+d:h", opts, err)) != -1) {
        if (ch == '?')
            return -1;
        if (ch == OPT_HELP) {
            a->help = true;
        } else if (ch == OPT_ENGINE_STORAGE) {
            json_object_set_new(a->engine, "StorageDriver", json_string(optarg));
        } else if (ch >= OPT_DRIVER_FLAG) {
            if (add_driver_flag(&d->flags[ch - OPT_DRIVER_FLAG], optarg, a->flags, err) < 0)
                return -1;
        } else {
            for (size_t i = 0; i < N_LIST_OPTS; i++) {
                if (list_opts[i].id != ch)
                    continue;
                json_t *arr = list_opts[i].key ? json_object_get(a->engine, list_opts[i].key)
                                               : a->sans;
                if (arr == NULL) {
                    arr = json_array();
                    json_object_set_new(a->engine, list_opts[i].key, arr);
                }
                json_array_append_new(arr, json_string(optarg));
            }
        }
    }
    return 0;
}

static int run_create(struct cli *c, int argc, char **argv, berr_t *err)
{
    const char *drvname = find_driver_arg(argc, argv);
    struct driver_handle *dh = NULL;
    struct create_args a = {json_object(), json_object(), json_array(), false};
    int ret = -1;

    if (drvname == NULL) {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                create_help(&cmds_create[0], NULL);
                ret = 0;
                goto out;
            }
        }
        drvname = DEFAULT_DRIVER;
    }
    if (driver_load(drvname, &dh, err) < 0)
        goto out;
    if (parse_create(&cmds_create[0], dh->drv, argc, argv, &a, err) < 0)
        goto out;
    if (a.help) {
        create_help(&cmds_create[0], dh->drv);
        ret = 0;
        goto out;
    }
    if (optind != argc - 1) {
        berr_set(err, 0, "create: expected exactly one machine name after the options; see "
                         "'berth create -d %s --help'",
                 drvname);
        goto out;
    }
    if (flag_defaults(dh->drv, a.flags, err) < 0)
        goto out;
    struct create_opts o = {drvname, a.flags, a.engine, a.sans};
    fprintf(stderr, "Creating machine %s with driver %s...\n", argv[optind], drvname);
    ret = machine_create(&c->store, argv[optind], &o, err);
    if (ret == 0)
        fprintf(stderr,
                "Machine %s is ready. To point your docker client at it, run: "
                "eval $(berth env %s)\n",
                argv[optind], argv[optind]);
out:
    driver_unload(dh);
    json_decref(a.flags);
    json_decref(a.engine);
    json_decref(a.sans);
    return ret;
}

const struct cmd cmds_create[] = {
    {"create", "[OPTIONS] [DRIVER FLAGS] NAME", "create a machine", create_options, run_create},
    {NULL, NULL, NULL, NULL, NULL},
};
