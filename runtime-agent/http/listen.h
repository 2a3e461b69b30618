/* -H addresses: parsing "unix://PATH" and "tcp://HOST:PORT", and opening the
 * listening sockets for them. */
#ifndef BERTHD_HTTP_LISTEN_H
#define BERTHD_HTTP_LISTEN_H

#include <stdbool.h>

#include "berth/error.h"

#define LISTEN_DEFAULT_UNIX "/run/berth/berthd.sock"

enum listen_kind { LISTEN_UNIX, LISTEN_TCP };

struct listen_addr {
    enum listen_kind kind;
    char *path; /* unix */
    char *host; /* tcp: "" for every address */
    char *port; /* tcp */
};

/* Parse SPEC; a tcp address without a port gets 2376 with TLS, 2375 without
 * (dockerd's defaults), "unix://" alone the default socket. */
int listen_parse(const char *spec, bool tls, struct listen_addr *a, berr_t *err);

void listen_addr_free(struct listen_addr *a);

/* Open a listening socket for A. A unix socket's directory is created, a
 * stale socket file (nothing answers on it) replaced, and the new one made
 * mode 0660; a live one is an error. Returns the fd. */
int listen_open(const struct listen_addr *a, berr_t *err);

#endif
