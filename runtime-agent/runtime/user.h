/* The container's user: "name", "uid", "name:group" or "uid:gid", resolved in the container's
 * own /etc/passwd and /etc/group (read directly, never through the host's NSS). */
#ifndef BERTHD_RUNTIME_USER_H
#define BERTHD_RUNTIME_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "berth/error.h"

struct rt_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups from /etc/group */
    size_t n_groups;
    char *home;
};

/* Resolve SPEC against the files below the current root. */
int user_resolve(const char *spec, struct rt_user *u, berr_t *err);

void user_free(struct rt_user *u);

#endif
