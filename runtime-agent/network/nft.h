/* berthd's packet filtering, through nftables only. berthd owns two tables and nothing else:
 * `table ip berth` (NAT and forwarding between networks) and `table bridge berth` (traffic
 * between containers of one bridge, for --icc=false). Every rule carries the comment
 * "berth:OWNER" (OWNER a network or container id), so berthd can find and delete exactly
 * its own rules; rules of other tables (Docker's, firewalld's, the admin's) are never read or
 * changed. Statements are applied as nft scripts in one transaction each (all or nothing):
 * through libnftables in berthd (nft_lib.c) and by piping the same script to nft(8) in the
 * static berthd (static/nft_exec.c), which cannot link libnftables.
 *
 * A network's rules:
 *   - outbound NAT: packets from SUBNET leaving through another interface than BRIDGE are
 *     masqueraded (not for internal networks);
 *   - isolation: packets between two different berth bridges are dropped, as Docker does
 *     between networks; an internal network's bridge forwards nothing to or from any other
 *     interface;
 *   - with icc false: IPv4 bridged between two ports of BRIDGE is dropped, except pairs
 *     allowed by nft_link_allow. The bridge is matched with `meta ibrname` where the kernel
 *     has it (CONFIG_NFT_BRIDGE_META, probed once with a dry run); without it, by the network's
 *     subnet (IPv4 bridged from SUBNET to SUBNET), which is only as strict as the containers'
 *     source addresses.
 * Rule generation, listing and deleting by owner live in nft.c; a backend only runs a script
 * (nft_backend_run). Calls are serialised by one lock, so a list-then-delete is never raced.
 * Errors: -1 and *err with nft's own message ("nftables: add rules of network ID: Error: ..."). */
#ifndef BERTHD_NETWORK_NFT_H
#define BERTHD_NETWORK_NFT_H

#include <netinet/in.h>
#include <stdbool.h>

#include "berth/error.h"

/* Run one nft script (several commands, one transaction). Errors: "nftables: DIAGNOSTIC". */
int nft_run(const char *script, berr_t *err);

/* The text of berth's tables as `nft list table` prints them (empty when neither exists), for
 * tests and debugging. *OUT is malloc'd. */
int nft_list(char **out, berr_t *err);

/* Drop both berth tables if present and create them empty with their base chains (what
 * berthd does when it starts, before re-adding the rules of its networks and running
 * containers). */
int nft_reset(berr_t *err);

/* Delete both berth tables (nothing of berthd's is left). */
int nft_teardown(berr_t *err);

struct nft_network {
    const char *id;     /* owner tag */
    const char *bridge; /* interface name */
    struct in_addr subnet;
    int prefix;
    bool internal; /* no traffic to or from other interfaces, no NAT */
    bool icc;      /* false: containers on it cannot talk except through nft_link_allow */
    bool no_masq;  /* --ip-masq=false: forwarded, but not masqueraded */
};

/* Add the rules of network N (see above). Idempotent per id: its old rules go first. */
int nft_network_add(const struct nft_network *n, berr_t *err);

/* Delete every rule tagged with network id ID. */
int nft_network_delete(const char *id, berr_t *err);

/* With icc false on BRIDGE: allow FROM to reach TO on PORT/PROTO ("tcp" or "udp") and the
 * replies, as Docker does for a link to an exposed port. Tagged with OWNER (the linking
 * container's id). */
int nft_link_allow(const char *owner, const char *bridge, struct in_addr from, struct in_addr to,
                   int port, const char *proto, berr_t *err);

/* Delete every rule tagged OWNER (a container's link rules). */
int nft_owner_delete(const char *owner, berr_t *err);

/* How many rules are tagged with OWNER, or -1 (the leak test counts them). */
int nft_count_owner(const char *owner, berr_t *err);

/* The backend, implemented by nft_lib.c (libnftables) or static/nft_exec.c (nft(8)): run SCRIPT
 * in one transaction with the NFT_F_* flags; when OUT, *OUT gets what it printed (malloc'd).
 * On failure *err holds nft_diagnostic of nft's error text, without any prefix. Not locked:
 * called by nft.c (and tests) only. */
enum {
    NFT_F_JSON = 1 << 0,    /* print JSON (-j) */
    NFT_F_HANDLE = 1 << 1,  /* print rule handles (-a) */
    NFT_F_DRY_RUN = 1 << 2, /* have the kernel check the transaction, then abort it (-c) */
};
int nft_backend_run(const char *script, unsigned flags, char **out, berr_t *err);

/* A memfd (close-on-exec) holding SCRIPT, its offset at 0: what either backend hands nft. */
int nft_script_memfd(const char *script, berr_t *err);

/* nft's error output made one line (malloc'd): each "Error: ..." followed by the command it
 * is about; the whole text, trimmed, when it has no such line. */
char *nft_diagnostic(const char *text);

#endif
