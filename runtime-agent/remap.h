/* --userns-remap (dockerd's flag and daemon.json key "userns-remap"): remapped containers run
 * in a user namespace of their own in which uid and gid 0..N-1 are the subordinate ids of a
 * host user, from /etc/subuid and /etc/subgid ("name-or-id:first:count", the first line for
 * the user counts). The value is "default" (the user and group dockremap, made with
 * useradd/usermod when missing, as dockerd does), USER, USER:GROUP, UID or UID:GID; a user
 * is looked up by name or id in /etc/passwd (a numeric one needs no entry), and its ranges by
 * name or by id. The subordinate gid range belongs to GROUP when given, else to the user.
 * Files are read directly (fgetpwent), which also works in the statically linked berthd. */
#ifndef BERTHD_REMAP_H
#define BERTHD_REMAP_H

#include <jansson.h>
#include <stdint.h>

#include "berth/error.h"

#define REMAP_DEFAULT_USER "dockremap"

/* A remapping: container id 0 is host id UID (GID), for UID_SIZE (GID_SIZE) ids. */
struct remap {
    char *user, *group; /* as resolved: the user's and group's names (or numbers) */
    uint32_t uid, uid_size, gid, gid_size;
};

/* Split an option value into its user and group parts (*GROUP NULL when not given);
 * "default" is dockremap:dockremap. EINVAL for an empty user or group or more colons. */
int remap_parse_value(const char *value, char **user, char **group, berr_t *err);

/* The first range in TEXT (the content of a subuid or subgid file) for NAME (may be NULL) or
 * numeric ID (-1: none). 0 when found, -1 when not (no error is set). */
int remap_find_range(const char *text, const char *name, long id, uint32_t *start, uint32_t *count);

/* Where a new range of COUNT ids may start: after every range of the texts, and >= 100000. */
uint32_t remap_free_start(const char *subuid, const char *subgid, uint32_t count);

/* Resolve VALUE against /etc/passwd, /etc/group, /etc/subuid and /etc/subgid (making
 * dockremap for "default" if it is missing). The error tells the admin what to add. */
int remap_resolve(const char *value, struct remap *r, berr_t *err);

/* The spec.json map [{"container_id": 0, "host_id": START, "size": COUNT}]. */
json_t *remap_map_json(uint32_t start, uint32_t count);

void remap_free(struct remap *r);

#endif
