/* version and info: docker's layouts, the short forms. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/client/cli.h"
#include "runtime-agent/client/format.h"

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Options: none but --help; returns -1 to go on, else the exit status. */
static int no_options(int argc, char **argv, const char *usage)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        printf("\nUsage:  berthd %s\n", usage);
        return c == 'h' ? 0 : 1;
    }
    if (optind < argc) {
        fprintf(stderr, "\"berthd %s\" accepts no arguments.\n", argv[0]);
        return 1;
    }
    return -1;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
    struct utsname u;
    json_t *v = NULL;
    berr_t err = NULL;
    int rc = no_options(argc, argv, "version");

    if (rc >= 0)
        return rc;
    uname(&u);
    const char *arch = strcmp(u.machine, "x86_64") == 0    ? "amd64"
                       : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                                                           : u.machine;
    printf("Client:\n"
           " Version:           %s\n"
           " API version:       %s\n"
           " Git commit:        %s\n"
           " OS/Arch:           linux/%s\n"
           " Context:           default\n",
           BERTH_VERSION, CLI_API_VERSION, BERTH_GIT_COMMIT, arch);
    fflush(stdout);
    if (cli_json(cli, "GET", "/version", NULL, &v, &err) < 0) {
        cli_print_err(&err);
        return 1;
    }
    const char *platform = str(json_object_get(v, "Platform"), "Name");
    /* BuildTime is RFC 3339; docker shows it as "Fri Nov 27 23:31:14 2026". */
    char built[64];
    struct tm tm = {0};
    const char *end = strptime(str(v, "BuildTime"), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL || strftime(built, sizeof(built), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        snprintf(built, sizeof(built), "%s", str(v, "BuildTime"));
    printf("\nServer:%s%s\n", platform[0] ? " " : "", platform);
    printf(" Engine:\n"
           "  Version:          %s\n"
           "  API version:      %s (minimum version %s)\n"
           "  Go version:       %s\n"
           "  Git commit:       %s\n"
           "  Built:            %s\n"
           "  OS/Arch:          %s/%s\n"
           "  Experimental:     %s\n",
           str(v, "Version"), str(v, "ApiVersion"), str(v, "MinAPIVersion"), str(v, "GoVersion"),
           str(v, "GitCommit"), built, str(v, "Os"), str(v, "Arch"),
           json_is_true(json_object_get(v, "Experimental")) ? "true" : "false");
    json_decref(v);
    return 0;
}

static void line_int(const char *indent, const char *label, json_t *o, const char *key)
{
    printf("%s%s: %lld\n", indent, label, (long long)json_integer_value(json_object_get(o, key)));
}

static void line_str(const char *label, json_t *o, const char *key)
{
    printf(" %s: %s\n", label, str(o, key));
}

int cmd_info(struct cli *cli, int argc, char **argv)
{
    json_t *i = NULL;
    berr_t err = NULL;
    int rc = no_options(argc, argv, "info");

    if (rc >= 0)
        return rc;
    printf("Client:\n Version:    %s\n Context:    default\n\n", BERTH_VERSION);
    fflush(stdout);
    if (cli_json(cli, "GET", "/info", NULL, &i, &err) < 0) {
        printf("Server:\n");
        fflush(stdout);
        cli_print_err(&err);
        return 1;
    }
    printf("Server:\n");
    line_int(" ", "Containers", i, "Containers");
    line_int("  ", "Running", i, "ContainersRunning");
    line_int("  ", "Paused", i, "ContainersPaused");
    line_int("  ", "Stopped", i, "ContainersStopped");
    line_int(" ", "Images", i, "Images");
    line_str("Server Version", i, "ServerVersion");
    line_str("Storage Driver", i, "Driver");
    line_str("Logging Driver", i, "LoggingDriver");
    line_str("Cgroup Driver", i, "CgroupDriver");
    line_str("Cgroup Version", i, "CgroupVersion");
    line_str("Kernel Version", i, "KernelVersion");
    line_str("Operating System", i, "OperatingSystem");
    line_str("OSType", i, "OSType");
    line_str("Architecture", i, "Architecture");
    line_int(" ", "CPUs", i, "NCPU");
    _cleanup_free_ char *mem =
        fmt_bytes_binary((double)json_integer_value(json_object_get(i, "MemTotal")));
    printf(" Total Memory: %s\n", mem);
    line_str("Name", i, "Name");
    line_str("ID", i, "ID");
    line_str("Docker Root Dir", i, "DockerRootDir");
    printf(" Debug Mode: %s\n", json_is_true(json_object_get(i, "Debug")) ? "true" : "false");
    printf(" Experimental: %s\n",
           json_is_true(json_object_get(i, "ExperimentalBuild")) ? "true" : "false");
    printf(" Live Restore Enabled: %s\n",
           json_is_true(json_object_get(i, "LiveRestoreEnabled")) ? "true" : "false");
    fflush(stdout);
    size_t k;
    json_t *w;
    json_array_foreach(json_object_get(i, "Warnings"), k, w)
        fprintf(stderr, "%s\n", json_string_value(w));
    json_decref(i);
    return 0;
}
