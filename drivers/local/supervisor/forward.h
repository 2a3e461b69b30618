/* Port forwards from the host's 127.0.0.1 into a machine's network namespace, as VirtualBox's
 * NAT and Lima do. A listener lives in the host's namespace; for each connection a socket is
 * opened inside the machine's (setns, socket, setns back: a socket keeps the namespace it was
 * made in) and the two are relayed with splice through a pipe per direction.
 *
 * Fixed forwards (SSH, the engine) exist from start to stop. Published forwards follow the
 * TCP ports something in the machine listens on and the UDP ports it has bound (asked of the
 * kernel with sock_diag netlink dumps made in the machine's namespace; /proc/INIT/net/tcp,
 * tcp6, udp and udp6 when that is not available): each gets the same port on the host when it
 * is free, another one otherwise, and goes away with its socket. They are listed in
 * local/forwards.json.
 *
 * UDP has no listening state, so which bound sockets are published ports is a choice: those
 * without a peer, bound to a loopback or every address, on a port outside the machine's
 * ephemeral range (a socket there was bound by a first sendto: a client's, such as the
 * engine's DNS forwarder). Datagrams are relayed through a flow per host client address: a
 * socket made in the machine's namespace and connected to the port, whose replies go back to
 * that client from the host socket. Flows live in the same poll loop (no thread), end after
 * 90 s without traffic, and at most 256 exist (the least recently used gives way). */
#ifndef BERTH_LOCAL_FORWARD_H
#define BERTH_LOCAL_FORWARD_H

#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "berth/error.h"

struct fwd;

/* A forwarder whose listeners live in the network namespace of the caller. */
struct fwd *fwd_new(const char *machine_dir, berr_t *err);

void fwd_free(struct fwd *f);

/* Listen on 127.0.0.1:HOST_PORT for the machine's port MACHINE_PORT, until fwd_free. */
int fwd_add_fixed(struct fwd *f, int host_port, int machine_port, berr_t *err);

/* Point the forwards at the machine whose network namespace is NETNS (an fd the forwarder
 * takes) and whose pid 1 is INIT; -1 detaches: connections close, published forwards go. */
void fwd_attach(struct fwd *f, int netns, pid_t init);

/* Whether something in the machine listens on TCP port PORT. */
bool fwd_machine_listens(struct fwd *f, int port);

/* Follow the machine's listening TCP and bound UDP ports and end idle UDP flows (call about
 * once a second). */
void fwd_scan(struct fwd *f);

/* Fill FDS (at most MAX) with what the forwarder waits for; returns the count. */
size_t fwd_pollfds(struct fwd *f, struct pollfd *fds, size_t max);

/* Act on the results of poll() for the N entries fwd_pollfds gave. */
void fwd_handle(struct fwd *f, const struct pollfd *fds, size_t n);

#endif
