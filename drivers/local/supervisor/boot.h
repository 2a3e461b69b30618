/* Booting a local machine: clone its pid, mount, uts, ipc and network namespaces, put it in
 * its cgroup and a cgroup namespace rooted there, mount /proc, /sys, /dev, /run, /tmp and its
 * cgroup hierarchy inside its root file system, pivot into it and exec its init. */
#ifndef BERTH_LOCAL_BOOT_H
#define BERTH_LOCAL_BOOT_H

#include <sys/types.h>

#include "berth/error.h"
#include "drivers/local/cgroup.h"
#include "drivers/local/run.h"

/* The machine's ip_local_port_range, set at boot: below the engine's -P range (49000-49900),
 * so that forward.c can tell published UDP ports from implicitly bound client sockets. */
#define MACHINE_EPHEMERAL_PORTS "32768 48999"

/* Start the machine R in the cgroup CG with CONSOLE as its init's stdout and stderr. On
 * success *init is the host pid of the machine's pid 1, which has exec'd /sbin/init. */
int boot_machine(const struct local_run *r, struct mcgroup *cg, int console, pid_t *init,
                 berr_t *err);

#endif
