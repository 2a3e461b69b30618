/* System endpoints: GET|HEAD /_ping, GET /version, GET /info. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/host.h"

#ifdef __clang__
#define CC_VERSION "clang " __clang_version__
#else
#define CC_VERSION "gcc " __VERSION__
#endif

static int h_ping(struct http_request *req, struct http_response *resp, berr_t *err)
{
    (void)req;
    (void)err;
    http_resp_header(resp, "Builder-Version", "1");
    http_resp_header(resp, "Swarm", "inactive");
    http_resp_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
    http_resp_header(resp, "Pragma", "no-cache");
    http_resp_send(resp, 200, "text/plain; charset=utf-8", "OK", 2);
    return 0;
}

/* The build time as RFC 3339, which the docker CLI reformats for display. */
static void build_time(char *out, size_t len)
{
    struct tm tm = {0};

    if (strptime(__DATE__ " " __TIME__, "%b %d %Y %H:%M:%S", &tm) == NULL)
        snprintf(out, len, "%s", __DATE__ " " __TIME__);
    else
        strftime(out, len, "%Y-%m-%dT%H:%M:%S.000000000+00:00", &tm);
}

static int h_version(struct http_request *req, struct http_response *resp, berr_t *err)
{
    _cleanup_free_ char *arch = host_arch();
    _cleanup_free_ char *kernel = host_kernel_version();
    char built[64];

    (void)req;
    (void)err;
    build_time(built, sizeof(built));
    json_t *details =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion",
                  API_VERSION_MAX_STR, "Arch", arch, "BuildTime", built, "Experimental", "false",
                  "GitCommit", BERTH_GIT_COMMIT, "GoVersion", CC_VERSION, "KernelVersion", kernel,
                  "MinAPIVersion", API_VERSION_MIN_STR, "Os", "linux");
    json_t *v = json_pack("{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                          "s:s, s:s}",
                          "Platform", "Name", "berth", "Components", "Name", "Engine", "Version",
                          BERTH_VERSION, "Details", details, "Version", BERTH_VERSION, "ApiVersion",
                          API_VERSION_MAX_STR, "MinAPIVersion", API_VERSION_MIN_STR, "GitCommit",
                          BERTH_GIT_COMMIT, "GoVersion", CC_VERSION, "Os", "linux", "Arch", arch,
                          "KernelVersion", kernel, "BuildTime", built);
    http_resp_json(resp, 200, v);
    return 0;
}

/* Entries in a /proc directory (open fds, threads), for the debug fields of /info. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void set_str(json_t *o, const char *key, const char *value)
{
    json_object_set_new(o, key, json_string(value ? value : ""));
}

static void set_owned_str(json_t *o, const char *key, char *value)
{
    set_str(o, key, value);
    free(value);
}

static void info_counts(json_t *o, struct daemon *d)
{
    struct engine_counts c;

    daemon_counts(d, &c);
    json_object_set_new(o, "Containers", json_integer(c.containers));
    json_object_set_new(o, "ContainersRunning", json_integer(c.running));
    json_object_set_new(o, "ContainersPaused", json_integer(c.paused));
    json_object_set_new(o, "ContainersStopped", json_integer(c.stopped));
    json_object_set_new(o, "Images", json_integer(c.images));
}

static void info_host(json_t *o)
{
    char now[64];
    struct timespec ts;
    struct tm tm;

    set_owned_str(o, "KernelVersion", host_kernel_version());
    set_owned_str(o, "OperatingSystem", host_os_name());
    set_owned_str(o, "OSVersion", host_os_version());
    set_str(o, "OSType", "linux");
    set_owned_str(o, "Architecture", host_machine());
    json_object_set_new(o, "NCPU", json_integer(host_ncpu()));
    json_object_set_new(o, "MemTotal", json_integer(host_mem_total()));
    set_owned_str(o, "Name", host_name());
    set_str(o, "CgroupVersion", host_cgroup_version());
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(now + n, sizeof(now) - n, ".%09ldZ", ts.tv_nsec);
    set_str(o, "SystemTime", now);
    json_object_set_new(o, "NFd", json_integer(count_entries("/proc/self/fd")));
    json_object_set_new(o, "NGoroutines", json_integer(count_entries("/proc/self/task")));
}

/* What the engine supports; the docker CLI prints these and warns on false limits. */
static void info_features(json_t *o)
{
    static const char *const yes[] = {"MemoryLimit",    "CpuCfsPeriod",     "CpuCfsQuota",
                                      "CPUShares",      "CPUSet",           "PidsLimit",
                                      "IPv4Forwarding", "BridgeNfIptables", "BridgeNfIp6tables"};
    static const char *const no[] = {"SwapLimit",      "KernelMemory",      "KernelMemoryTCP",
                                     "OomKillDisable", "ExperimentalBuild", "LiveRestoreEnabled"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        json_object_set_new(o, yes[i], json_true());
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        json_object_set_new(o, no[i], json_false());
    set_str(o, "Driver", "overlay2");
    json_object_set_new(o, "DriverStatus", json_array());
    set_str(o, "LoggingDriver", "json-file");
    set_str(o, "CgroupDriver", "cgroupfs");
    json_object_set_new(o, "Plugins",
                        json_pack("{s:[s], s:[s,s,s], s:n, s:[s]}", "Volume", "local", "Network",
                                  "bridge", "host", "none", "Authorization", "Log", "json-file"));
    json_object_set_new(o, "Runtimes", json_pack("{s:{s:s}}", "berth", "path", "berthd"));
    set_str(o, "DefaultRuntime", "berth");
    json_object_set_new(o, "SecurityOptions", json_array());
    set_str(o, "Isolation", "");
    set_str(o, "InitBinary", "");
    json_object_set_new(o, "ContainerdCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
    json_object_set_new(o, "RuncCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
    json_object_set_new(o, "InitCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
}

static void info_swarm_registry(json_t *o)
{
    json_object_set_new(o, "Swarm",
                        json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "LocalNodeState", "inactive",
                                  "NodeID", "", "NodeAddr", "", "ControlAvailable", 0, "Error", "",
                                  "RemoteManagers"));
    set_str(o, "IndexServerAddress", "https://index.docker.io/v1/");
    json_object_set_new(o, "RegistryConfig",
                        json_pack("{s:[s], s:{s:{s:s, s:[], s:b, s:b}}, s:[]}",
                                  "InsecureRegistryCIDRs", "127.0.0.0/8", "IndexConfigs",
                                  "docker.io", "Name", "docker.io", "Mirrors", "Secure", 1,
                                  "Official", 1, "Mirrors"));
    set_str(o, "HttpProxy", "");
    set_str(o, "HttpsProxy", "");
    set_str(o, "NoProxy", "");
    json_object_set_new(o, "Labels", json_array());
    json_object_set_new(o, "GenericResources", json_null());
    json_object_set_new(o, "NEventsListener", json_integer(0));
}

static int h_info(struct http_request *req, struct http_response *resp, berr_t *err)
{
    struct daemon *d = api_daemon(req);
    json_t *o = json_object();
    json_t *warnings = json_array();

    (void)err;
    set_str(o, "ID", d->id);
    info_counts(o, d);
    info_host(o);
    info_features(o);
    if (d->containers.remap) /* --userns-remap, as dockerd lists it */
        json_array_append_new(json_object_get(o, "SecurityOptions"), json_string("name=userns"));
    info_swarm_registry(o);
    set_str(o, "DockerRootDir", d->data_root);
    set_str(o, "ServerVersion", BERTH_VERSION);
    json_object_set_new(o, "Debug", json_boolean(d->debug));
    for (size_t i = 0; i < d->n_warnings; i++)
        json_array_append_new(warnings, json_string(d->warnings[i]));
    json_object_set_new(o, "Warnings", warnings);
    http_resp_json(resp, 200, o);
    return 0;
}

const struct http_route api_system_routes[] = {
    {"GET", "/_ping", h_ping, 0},
    {"HEAD", "/_ping", h_ping, 0},
    {"GET", "/version", h_version, 0},
    {"GET", "/info", h_info, 0},
};
const size_t api_system_routes_len = sizeof(api_system_routes) / sizeof(api_system_routes[0]);
