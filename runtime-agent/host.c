#include "runtime-agent/host.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "berth/util.h"

char *host_arch(void)
{
    static const struct {
        const char *machine, *go;
    } map[] = {
        {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},      {"armv6l", "arm"},
        {"i686", "386"},        {"i386", "386"},      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
        {"riscv64", "riscv64"}, {"mips64", "mips64"},
    };
    struct utsname u;

    if (uname(&u) < 0)
        return xstrdup("unknown");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(u.machine, map[i].machine) == 0)
            return xstrdup(map[i].go);
    return xstrdup(u.machine);
}

char *host_machine(void)
{
    struct utsname u;
    return xstrdup(uname(&u) == 0 ? u.machine : "unknown");
}

char *host_kernel_version(void)
{
    struct utsname u;
    return xstrdup(uname(&u) == 0 ? u.release : "unknown");
}

/* The value of KEY in /etc/os-release without its quotes, or NULL. */
static char *os_release(const char *key)
{
    FILE *f = fopen("/etc/os-release", "re");
    char line[512];
    size_t klen = strlen(key);
    char *value = NULL;

    if (f == NULL)
        f = fopen("/usr/lib/os-release", "re");
    if (f == NULL)
        return NULL;
    while (value == NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != '=')
            continue;
        char *v = line + klen + 1;
        v[strcspn(v, "\n")] = '\0';
        size_t len = strlen(v);
        if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
            v[len - 1] = '\0';
            v++;
        }
        value = xstrdup(v);
    }
    fclose(f);
    return value;
}

char *host_os_name(void)
{
    char *name = os_release("PRETTY_NAME");
    return name ? name : xstrdup("Linux");
}

char *host_os_version(void)
{
    char *v = os_release("VERSION_ID");
    return v ? v : xstrdup("");
}

const char *host_cgroup_version(void)
{
    return file_exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1";
}

int host_ncpu(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int64_t host_mem_total(void)
{
    struct sysinfo si;

    if (sysinfo(&si) < 0)
        return 0;
    return (int64_t)si.totalram * si.mem_unit;
}

char *host_name(void)
{
    char name[256] = "";

    gethostname(name, sizeof(name) - 1);
    return xstrdup(name);
}
