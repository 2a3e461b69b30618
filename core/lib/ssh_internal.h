/* What ssh.c, sshexec.c and sftp.c share about a connection. Not for other modules. */
#ifndef BERTH_SSH_INTERNAL_H
#define BERTH_SSH_INTERNAL_H

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "core/lib/ssh.h"

struct ssh_conn {
    int fd;
    LIBSSH2_SESSION *s;
    LIBSSH2_SFTP *sftp; /* opened on first use */
    char *label;        /* "ssh HOST:PORT" */
    char *key;          /* the key that authenticated */
};

/* Set *err from the session's last libssh2 error: "LABEL: WHAT: MESSAGE". Returns -1. */
int ssh_lib_error(struct ssh_conn *c, const char *what, berr_t *err);

#endif
