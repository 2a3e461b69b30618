#include "runtime-agent/remap.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/util.h"
#include "runtime-agent/log.h"

#define SUBUID_FILE "/etc/subuid"
#define SUBGID_FILE "/etc/subgid"
#define DEFAULT_COUNT 65536
#define FIRST_START 100000

extern char **environ;

int remap_parse_value(const char *value, char **user, char **group, berr_t *err)
{
    *user = *group = NULL;
    if (strcmp(value, "default") == 0) {
        *user = xstrdup(REMAP_DEFAULT_USER);
        *group = xstrdup(REMAP_DEFAULT_USER);
        return 0;
    }
    const char *colon = strchr(value, ':');
    size_t ulen = colon ? (size_t)(colon - value) : strlen(value);
    if (ulen == 0 || (colon && (colon[1] == '\0' || strchr(colon + 1, ':'))))
        return berr_set(err, EINVAL,
                        "userns-remap \"%s\": use default, USER, USER:GROUP, UID or UID:GID",
                        value);
    *user = xasprintf("%.*s", (int)ulen, value);
    if (colon)
        *group = xstrdup(colon + 1);
    return 0;
}

/* A decimal id, or -1. */
static long numeric_id(const char *s)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    return *end || errno || v > UINT32_MAX ? -1 : (long)v;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    long v = numeric_id(s);
    if (v < 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Split one "owner:start:count" line; false for comments and malformed lines. */
static bool split_line(char *line, char **owner, uint32_t *start, uint32_t *count)
{
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

    if (line[0] == '#' || a == NULL || b == NULL || a == line)
        return false;
    *a = *b = '\0';
    *owner = line;
    return parse_u32(a + 1, start) && parse_u32(b + 1, count) && *count > 0 &&
           (uint64_t)*start + *count <= UINT32_MAX;
}

int remap_find_range(const char *text, const char *name, long id, uint32_t *start, uint32_t *count)
{
    _cleanup_free_ char *copy = xstrdup(text ? text : "");
    char *save = NULL, *owner;

    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        l += strspn(l, " \t");
        if (!split_line(l, &owner, start, count))
            continue;
        if ((name && strcmp(owner, name) == 0) || (id >= 0 && numeric_id(owner) == id))
            return 0;
    }
    return -1;
}

static uint64_t max_end(const char *text)
{
    _cleanup_free_ char *copy = xstrdup(text ? text : "");
    char *save = NULL, *owner;
    uint32_t s, c;
    uint64_t end = 0;

    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (split_line(l + strspn(l, " \t"), &owner, &s, &c) && (uint64_t)s + c > end)
            end = (uint64_t)s + c;
    return end;
}

uint32_t remap_free_start(const char *subuid, const char *subgid, uint32_t count)
{
    uint64_t a = max_end(subuid), b = max_end(subgid);
    uint64_t start = a > b ? a : b;

    if (start < FIRST_START)
        start = FIRST_START;
    return start + count > UINT32_MAX ? 0 : (uint32_t)start;
}

/* The passwd entry for NAME or numeric ID: *UID and its name (NULL when there is none). */
static bool find_passwd(const char *name, long id, uid_t *uid, char **found)
{
    FILE *f = fopen("/etc/passwd", "re");
    struct passwd *pw;
    bool ok = false;

    while (f && !ok && (pw = fgetpwent(f)) != NULL) {
        if ((id >= 0 && pw->pw_uid == (uid_t)id) || (id < 0 && strcmp(pw->pw_name, name) == 0)) {
            *uid = pw->pw_uid;
            *found = xstrdup(pw->pw_name);
            ok = true;
        }
    }
    if (f)
        fclose(f);
    return ok;
}

static bool find_group(const char *name, long id, char **found)
{
    FILE *f = fopen("/etc/group", "re");
    struct group *gr;
    bool ok = false;

    while (f && !ok && (gr = fgetgrent(f)) != NULL) {
        if ((id >= 0 && gr->gr_gid == (gid_t)id) || (id < 0 && strcmp(gr->gr_name, name) == 0)) {
            *found = xstrdup(gr->gr_name);
            ok = true;
        }
    }
    if (f)
        fclose(f);
    return ok;
}

static int run_tool(char *const argv[], berr_t *err)
{
    pid_t pid;
    int status;

    int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0)
        return berr_set(err, rc, "run %s", argv[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return berr_set(err, errno, "wait for %s", argv[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return berr_set(err, 0, "%s failed (status %d)", argv[0], status);
    return 0;
}

static int read_text(const char *path, char **text)
{
    *text = NULL;
    if (read_file(path, text, NULL, NULL) == 0)
        return 0;
    *text = xstrdup("");
    return errno == ENOENT ? 0 : -1;
}

/* "default": make dockremap (a system user with its own group) and give it 65536 subordinate
 * uids and gids after every existing range, with shadow-utils' useradd and usermod as dockerd
 * does. Nothing is written by hand. */
static int make_dockremap(berr_t *err)
{
    static const char *const useradd = "/usr/sbin/useradd", *const usermod = "/usr/sbin/usermod";
    uid_t uid;
    _cleanup_free_ char *name = NULL, *su = NULL, *sg = NULL;

    if (access(useradd, X_OK) < 0 || access(usermod, X_OK) < 0)
        return berr_set(err, ENOENT, "cannot create the user %s: %s or %s is missing",
                        REMAP_DEFAULT_USER, useradd, usermod);
    if (!find_passwd(REMAP_DEFAULT_USER, -1, &uid, &name)) {
        char *argv[] = {(char *)useradd, "--system",     "--no-create-home", "--shell",
                        "/bin/false",    "--user-group", REMAP_DEFAULT_USER, NULL};
        log_info("userns-remap: creating the user %s", REMAP_DEFAULT_USER);
        if (run_tool(argv, err) < 0)
            return -1;
    }
    if (read_text(SUBUID_FILE, &su) < 0 || read_text(SUBGID_FILE, &sg) < 0)
        return berr_set(err, errno, "read %s and %s", SUBUID_FILE, SUBGID_FILE);
    uint32_t s, c;
    if (remap_find_range(su, REMAP_DEFAULT_USER, -1, &s, &c) == 0 &&
        remap_find_range(sg, REMAP_DEFAULT_USER, -1, &s, &c) == 0)
        return 0;
    uint32_t start = remap_free_start(su, sg, DEFAULT_COUNT);
    if (start == 0)
        return berr_set(err, ERANGE, "no free subordinate id range for %s", REMAP_DEFAULT_USER);
    _cleanup_free_ char *range = xasprintf("%u-%u", start, start + DEFAULT_COUNT - 1);
    char *argv[] = {(char *)usermod, "--add-subuids",    range, "--add-subgids",
                    range,           REMAP_DEFAULT_USER, NULL};
    log_info("userns-remap: giving %s the subordinate ids %s", REMAP_DEFAULT_USER, range);
    return run_tool(argv, err);
}

static int range_for(const char *file, const char *name, long id, uint32_t *start, uint32_t *count,
                     berr_t *err)
{
    _cleanup_free_ char *text = NULL;

    if (read_text(file, &text) < 0)
        return berr_set(err, errno, "read %s", file);
    if (remap_find_range(text, name, id, start, count) == 0)
        return 0;
    return berr_set(err, 0,
                    "userns-remap: %s has no range for %s: add a line like \"%s:%d:65536\" "
                    "(a range no other user has)",
                    file, name ? name : "the id", name ? name : "ID", FIRST_START);
}

static int resolve(const char *value, struct remap *r, berr_t *err)
{
    _cleanup_free_ char *user = NULL, *group = NULL;
    uid_t uid = 0;

    if (remap_parse_value(value, &user, &group, err) < 0)
        return -1;
    if (strcmp(value, "default") == 0 && make_dockremap(err) < 0)
        return berr_prefix(err,
                           "userns-remap default (add the user %s to /etc/passwd and its "
                           "ranges to /etc/subuid and /etc/subgid, or name another user)",
                           REMAP_DEFAULT_USER);
    long uid_n = numeric_id(user);
    if (!find_passwd(user, uid_n, &uid, &r->user)) {
        if (uid_n < 0)
            return berr_set(err, ENOENT, "userns-remap: no user %s in /etc/passwd", user);
        r->user = xstrdup(user);
    }
    long gid_n = numeric_id(group);
    if (group && !find_group(group, gid_n, &r->group)) {
        if (gid_n < 0)
            return berr_set(err, ENOENT, "userns-remap: no group %s in /etc/group", group);
        r->group = xstrdup(group);
    }
    if (range_for(SUBUID_FILE, r->user, uid_n >= 0 ? uid_n : (long)uid, &r->uid, &r->uid_size,
                  err) < 0)
        return -1;
    if (r->group)
        return range_for(SUBGID_FILE, r->group, gid_n, &r->gid, &r->gid_size, err);
    return range_for(SUBGID_FILE, r->user, uid_n >= 0 ? uid_n : (long)uid, &r->gid, &r->gid_size,
                     err);
}

int remap_resolve(const char *value, struct remap *r, berr_t *err)
{
    memset(r, 0, sizeof(*r));
    if (resolve(value, r, err) < 0) {
        remap_free(r);
        return -1;
    }
    return 0;
}

json_t *remap_map_json(uint32_t start, uint32_t count)
{
    return json_pack("[{s:i,s:I,s:I}]", "container_id", 0, "host_id", (json_int_t)start, "size",
                     (json_int_t)count);
}

void remap_free(struct remap *r)
{
    free(r->user);
    free(r->group);
    memset(r, 0, sizeof(*r));
}
