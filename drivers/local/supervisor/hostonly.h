/* The host-only network of local machines (`--local-network hostonly`), like VirtualBox's
 * host-only adapter: a bridge on the host (LOCAL_BRIDGE, holding the host's address of the
 * network) and, for each running machine, a veth pair whose host end is a port of the bridge
 * and whose other end is the machine's eth0 with the machine's own address. There is no
 * default route in the machine and nothing routes or masquerades for it: the host and the
 * machines on the bridge reach each other, nothing else. Links are made through rtnetlink
 * with berthd's netlink module (runtime-agent/network/netlink.c). */
#ifndef BERTH_LOCAL_HOSTONLY_H
#define BERTH_LOCAL_HOSTONLY_H

#include <sys/types.h>

#include "berth/error.h"
#include "drivers/local/run.h"

/* Give the machine of R whose pid 1 is INIT its eth0 on the host-only network: the bridge is
 * made when missing, a pair left by an earlier boot whose namespace is not gone yet is
 * replaced. The pair goes away with the machine's network namespace. */
int hostonly_attach(const struct local_run *r, pid_t init, berr_t *err);

/* Remove the machine's pair once its init is gone (the host end HOST_IF; the peer goes with
 * it). Failures are logged: the pair also goes with the namespace. */
void hostonly_detach(const struct local_run *r);

/* Delete BRIDGE unless some interface is still its port (a running machine, maybe of another
 * store); a missing bridge is not an error. *deleted tells what happened. */
int hostonly_bridge_down(const char *bridge, bool *deleted, berr_t *err);

#endif
