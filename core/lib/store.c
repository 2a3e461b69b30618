#include "core/lib/store.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/util.h"

static char *default_root(void)
{
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    return path_join(home, ".berth");
}

int store_open(struct berth_store *s, const char *root, berr_t *err)
{
    const char *env = getenv("BERTH_STORAGE_PATH");

    memset(s, 0, sizeof(*s));
    if (root != NULL && *root != '\0')
        s->root = xstrdup(root);
    else if (env != NULL && *env != '\0')
        s->root = xstrdup(env);
    else
        s->root = default_root();
    s->certs_dir = path_join(s->root, "certs");
    s->machines_dir = path_join(s->root, "machines");
    s->locks_dir = path_join(s->root, "locks");
    s->cache_dir = path_join(s->root, "cache");
    const char *dirs[] = {s->certs_dir, s->machines_dir, s->locks_dir, s->cache_dir};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (mkdir_p(dirs[i], 0700, err) < 0)
            return berr_prefix(err, "storage path %s", s->root);
    }
    return 0;
}

void store_close(struct berth_store *s)
{
    free(s->root);
    free(s->certs_dir);
    free(s->machines_dir);
    free(s->locks_dir);
    free(s->cache_dir);
    memset(s, 0, sizeof(*s));
}

static int name_char_ok(char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return !first && (c == '.' || c == '-');
}

int store_check_name(const char *name, berr_t *err)
{
    if (name == NULL || *name == '\0')
        return berr_set(err, 0, "machine name is empty");
    for (const char *p = name; *p; p++) {
        if (!name_char_ok(*p, p == name))
            return berr_set(err, 0,
                            "invalid machine name \"%s\": use letters, digits, '.' and '-', "
                            "starting with a letter or digit",
                            name);
    }
    if (strlen(name) > 200)
        return berr_set(err, 0, "invalid machine name \"%.20s...\": longer than 200 characters",
                        name);
    return 0;
}

char *store_machine_dir(const struct berth_store *s, const char *name)
{
    return path_join(s->machines_dir, name);
}

int store_exists(const struct berth_store *s, const char *name)
{
    _cleanup_free_ char *dir = store_machine_dir(s, name);
    _cleanup_free_ char *cfg = path_join(dir, "config.json");
    return file_exists(cfg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(const struct berth_store *s, char ***names, size_t *n, berr_t *err)
{
    DIR *d = opendir(s->machines_dir);
    struct dirent *de;
    char **out = NULL;
    size_t cnt = 0, cap = 0;

    if (d == NULL)
        return berr_set(err, errno, "list machines in %s", s->machines_dir);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || store_check_name(de->d_name, NULL) < 0)
            continue;
        if (!store_exists(s, de->d_name))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(out, cap * sizeof(*out));
            if (grown == NULL)
                abort();
            out = grown;
        }
        out[cnt++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (cnt > 1)
        qsort(out, cnt, sizeof(*out), cmp_str);
    *names = out;
    *n = cnt;
    return 0;
}

void store_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Remove temp files that a writer killed mid-write left in DIR. Only called
 * with the lock that every writer of DIR holds, so none is in progress. */
static void sweep_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".tmp.") != NULL)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

int store_lock(const struct berth_store *s, const char *name, berr_t *err)
{
    _cleanup_free_ char *file = xasprintf("%s.lock", name);
    _cleanup_free_ char *path = path_join(s->locks_dir, file);
    _cleanup_free_ char *dir = store_machine_dir(s, name);
    int fd = lock_path(path, err);

    if (fd >= 0)
        sweep_temp_files(dir);
    return fd;
}
