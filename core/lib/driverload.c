#include "core/lib/driverload.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"
#include "core/lib/store.h"

char *driver_search_path(void)
{
    const char *env = getenv("BERTH_DRIVER_PATH");
    char exe[PATH_MAX];
    ssize_t n;

    if (env != NULL && *env != '\0')
        return xstrdup(env);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return xstrdup("/usr/local/lib/berth/drivers");
    exe[n] = '\0';
    return xasprintf("%s/../lib/berth/drivers", dirname(exe));
}

static int driver_name_ok(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    }
    return 1;
}

/* First DIR/NAME.so that exists along the search path, or NULL. */
static char *driver_find(const char *name, const char *search)
{
    _cleanup_free_ char *copy = xstrdup(search);
    char *save = NULL;

    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *path = xasprintf("%s/%s.so", dir, name);
        if (file_exists(path))
            return path;
        free(path);
    }
    return NULL;
}

static int driver_check(const struct berth_driver *d, const char *name, const char *path,
                        berr_t *err)
{
    if (d->abi_version != BERTH_DRIVER_ABI_VERSION)
        return berr_set(err, 0,
                        "driver %s (%s): built for driver ABI %u, this berth speaks ABI %d; "
                        "rebuild the driver against berth %s",
                        name, path, d->abi_version, BERTH_DRIVER_ABI_VERSION, BERTH_VERSION);
    if (d->name == NULL || strcmp(d->name, name) != 0)
        return berr_set(err, 0, "driver %s (%s): descriptor names itself \"%s\"", name, path,
                        d->name ? d->name : "(null)");
    if (!d->config_new || !d->config_free || !d->config_from_flags || !d->config_load ||
        !d->config_save || !d->get_state || !d->get_ip || !d->get_url)
        return berr_set(err, 0, "driver %s (%s): descriptor lacks a required operation", name,
                        path);
    return 0;
}

int driver_load(const char *name, struct driver_handle **out, berr_t *err)
{
    _cleanup_free_ char *search = driver_search_path();
    _cleanup_free_ char *path = NULL;
    const struct berth_driver *d;
    void *dl;

    if (!driver_name_ok(name))
        return berr_set(err, 0, "driver \"%s\": invalid name (use a-z, 0-9, '-', '_')", name);
    path = driver_find(name, search);
    if (path == NULL)
        return berr_set(err, 0,
                        "driver %s: not found (looked for %s.so in %s); run 'berth create "
                        "--help' to list the installed drivers",
                        name, name, search);
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        return berr_set(err, 0, "driver %s (%s): cannot load: %s", name, path, dlerror());
    d = dlsym(dl, BERTH_DRIVER_SYMBOL);
    if (d == NULL) {
        dlclose(dl);
        return berr_set(err, 0, "driver %s (%s): not a berth driver: it exports no '%s' symbol",
                        name, path, BERTH_DRIVER_SYMBOL);
    }
    if (driver_check(d, name, path, err) < 0) {
        dlclose(dl);
        return -1;
    }
    *out = xcalloc(1, sizeof(**out));
    (*out)->dl = dl;
    (*out)->drv = d;
    (*out)->path = steal_pointer(&path);
    return 0;
}

void driver_unload(struct driver_handle *h)
{
    if (h == NULL)
        return;
    /* Keep the object mapped: strings and flag tables from it may still be referenced. */
    free(h->path);
    free(h);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int driver_list(char ***names, size_t *n, berr_t *err)
{
    _cleanup_free_ char *search = driver_search_path();
    char *save = NULL;
    char **out = NULL;
    size_t cnt = 0;

    (void)err;
    for (char *dir = strtok_r(search, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        DIR *d = opendir(dir);
        struct dirent *de;
        if (d == NULL)
            continue;
        while ((de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0)
                continue;
            char **grown = realloc(out, (cnt + 1) * sizeof(*out));
            if (grown == NULL)
                abort();
            out = grown;
            out[cnt++] = xasprintf("%.*s", (int)(len - 3), de->d_name);
        }
        closedir(d);
    }
    if (cnt > 1)
        qsort(out, cnt, sizeof(*out), cmp_str);
    /* Drop duplicates from later search-path entries. */
    size_t w = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (w > 0 && strcmp(out[w - 1], out[i]) == 0) {
            free(out[i]);
            continue;
        }
        out[w++] = out[i];
    }
    *names = out;
    *n = w;
    return 0;
}
