/* The driver's side of the host-only network (`--local-network hostonly`): choosing a
 * machine's address at create, and telling at rm whether another machine of the store still
 * uses the network. The links themselves are the supervisor's (supervisor/hostonly.c), so
 * that local.so never loads libnl.
 *
 * The network is a /24: 192.168.99.0/24, the host at .1 on the bridge LOCAL_BRIDGE, machines
 * from .100 up, as docker-machine's VirtualBox host-only network. When that /24 overlaps an
 * address the host already has on another interface, the next /24 (192.168.100.0/24, ...)
 * that overlaps none is used; once a machine of the store has an address, every later one
 * joins its network, and a bridge that already exists keeps its network.
 *
 * Addresses are chosen under the store-wide lock STORE/locks/local-hostonly.lock and claimed
 * at once in MACHINE_DIR/local/hostonly.json (config.json, which also holds them, is written
 * by berth only after create returns), so concurrent creates never pick the same one. */
#ifndef BERTH_LOCAL_NETWORK_H
#define BERTH_LOCAL_NETWORK_H

#include <stdbool.h>

#include "berth/error.h"

#define HOSTONLY_PREFIX 24
#define HOSTONLY_FIRST_HOST 100

/* Choose and claim the address of the machine NAME in MACHINE_DIR (absolute, in a store's
 * machines/ directory): *address and *gateway (the host's address on the bridge) are
 * malloc()ed dotted quads. */
int hostonly_choose(const char *machine_dir, const char *name, char **address, char **gateway,
                    berr_t *err);

/* Whether a machine of the store other than NAME is on the host-only network. */
bool hostonly_used_by_others(const char *machine_dir, const char *name);

#endif
