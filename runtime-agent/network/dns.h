/* berthd's embedded DNS server, as Docker's: every container attached to a user-defined
 * network gets a resolver at 127.0.0.11:53 (UDP and TCP) inside its own network namespace,
 * with `nameserver 127.0.0.11` in its resolv.conf. It answers A queries for the names of the
 * containers (and their aliases) on the networks the asking container is on, through a
 * callback berthd provides, and forwards every other query to the upstream servers (the
 * host's resolv.conf without loopback ones, or the container's --dns servers). DNS messages
 * are parsed and built with libldns, never by hand.
 *
 * One thread serves all containers' sockets (epoll). The caller opens the sockets inside each
 * container's namespace (netns_socket) and binds them with dns_bind, so nothing is rewritten
 * by NAT and nothing listens on the host. Forwarded queries are sent from the host's
 * namespace (over UDP, also those that came in over TCP), answered within 2 s or SERVFAIL.
 * Names are matched case-insensitively, with or without a trailing dot; a name
 * berthd knows but has no IPv4 address for gets an empty NOERROR answer (AAAA queries of
 * known names too), so clients do not wait for upstream. */
#ifndef BERTHD_NETWORK_DNS_H
#define BERTHD_NETWORK_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

struct dns_server;

/* Looks NAME up for container CTR_ID: fills up to MAX addresses and returns how many
 * (0 = not a container name: forward it). NAME comes lowercase, without the trailing dot.
 * Called from the DNS thread, which holds none of its locks meanwhile. */
typedef size_t (*dns_lookup_fn)(void *opaque, const char *ctr_id, const char *name,
                                struct in_addr *out, size_t max);

int dns_server_start(dns_lookup_fn lookup, void *opaque, struct dns_server **out, berr_t *err);

/* Bind UDP_FD and TCP_FD (AF_INET sockets the caller created inside the container's network
 * namespace) to 127.0.0.11:53 and make TCP_FD listen. The sockets stay the caller's, also on
 * failure. */
int dns_bind(int udp_fd, int tcp_fd, berr_t *err);

/* Serve UDP_FD and TCP_FD (bound by dns_bind) for container CTR_ID, forwarding to UPSTREAM
 * (N servers, asked on port 53; N = 0: answer only what lookup knows, SERVFAIL otherwise).
 * Takes ownership of both sockets, even on failure. Replaces an earlier attachment of the
 * same container. */
int dns_server_attach(struct dns_server *s, const char *ctr_id, int udp_fd, int tcp_fd,
                      const struct in_addr *upstream, size_t n, berr_t *err);

/* Ask the upstream servers of later attachments on PORT instead of 53 (for tests, whose
 * fake upstream cannot take port 53 next to a real resolver). */
void dns_server_set_upstream_port(struct dns_server *s, uint16_t port);

/* Close the container's sockets (none attached: nothing happens). */
void dns_server_detach(struct dns_server *s, const char *ctr_id);

/* Stop the thread, close every socket and free S. */
void dns_server_stop(struct dns_server *s);

/* One query message (wire format) in, the answer message out, for the fuzz target and the
 * unit tests: *OUT is malloc'ed; returns 1 when answered locally, 0 when it must be
 * forwarded, -1 when the message is no valid query (then *OUT holds a FORMERR answer when
 * the header could be read, else NULL; a response, QR set, is never answered). */
int dns_answer(const unsigned char *msg, size_t len, dns_lookup_fn lookup, void *opaque,
               const char *ctr_id, unsigned char **out, size_t *out_len);

#endif
