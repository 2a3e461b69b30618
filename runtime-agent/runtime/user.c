#include "runtime-agent/runtime/user.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

#define MAX_GROUPS 64

/* A non-empty string of digits as a number; -1 otherwise. */
static long numeric(const char *s)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    long v = strtol(s, &end, 10);
    return *end == '\0' ? v : -1;
}

/* Look NAME (or the uid ID when NAME is NULL) up in /etc/passwd; fills U and *LOGIN. */
static bool find_passwd(const char *name, long id, struct rt_user *u, char **login)
{
    FILE *f = fopen("/etc/passwd", "re");
    struct passwd *pw;
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && (pw = fgetpwent(f)) != NULL) {
        if (name ? strcmp(pw->pw_name, name) != 0 : (long)pw->pw_uid != id)
            continue;
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        u->home = xstrdup(pw->pw_dir);
        *login = xstrdup(pw->pw_name);
        found = true;
    }
    fclose(f);
    return found;
}

/* Resolve the group NAME into *GID, and collect the groups LOGIN is a member of. */
static bool scan_groups(const char *name, gid_t *gid, const char *login, struct rt_user *u)
{
    FILE *f = fopen("/etc/group", "re");
    struct group *gr;
    bool found = false;

    if (f == NULL)
        return false;
    while ((gr = fgetgrent(f)) != NULL) {
        if (name && strcmp(gr->gr_name, name) == 0 && !found) {
            *gid = gr->gr_gid;
            found = true;
        }
        for (char **m = gr->gr_mem; login && m && *m; m++)
            if (strcmp(*m, login) == 0 && u->n_groups < MAX_GROUPS)
                u->groups[u->n_groups++] = gr->gr_gid;
    }
    fclose(f);
    return found;
}

static int resolve_user_part(const char *name, struct rt_user *u, char **login, berr_t *err)
{
    long id = numeric(name);

    if (name[0] == '\0')
        id = 0;
    if (id >= 0) {
        if (!find_passwd(NULL, id, u, login)) {
            u->uid = (uid_t)id;
            u->gid = 0;
        }
        return 0;
    }
    if (!find_passwd(name, -1, u, login))
        return berr_set(err, 0, "unable to find user %s: no matching entries in passwd file", name);
    return 0;
}

int user_resolve(const char *spec, struct rt_user *u, berr_t *err)
{
    _cleanup_free_ char *copy = xstrdup(spec);
    _cleanup_free_ char *login = NULL;
    char *group = strchr(copy, ':');

    memset(u, 0, sizeof(*u));
    if (group != NULL)
        *group++ = '\0';
    if (resolve_user_part(copy, u, &login, err) < 0)
        return -1;
    if (u->home == NULL)
        u->home = xstrdup("/");
    u->groups = xcalloc(MAX_GROUPS, sizeof(gid_t));
    long gid = numeric(group);
    if (gid >= 0)
        u->gid = (gid_t)gid;
    const char *gname = group && group[0] && gid < 0 ? group : NULL;
    if (gname == NULL && login == NULL)
        return 0;
    if (!scan_groups(gname, &u->gid, login, u) && gname != NULL)
        return berr_set(err, 0, "unable to find group %s: no matching entries in group file",
                        gname);
    return 0;
}

void user_free(struct rt_user *u)
{
    free(u->groups);
    free(u->home);
    memset(u, 0, sizeof(*u));
}
