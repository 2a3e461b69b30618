/* Facts about the host berthd runs on, as dockerd reports them in /info and /version. */
#ifndef BERTHD_HOST_H
#define BERTHD_HOST_H

#include <stdint.h>

/* The architecture in Go's naming (amd64, arm64, ...), as docker clients expect. */
char *host_arch(void);

/* uname's machine name (x86_64, aarch64), what /info calls Architecture. */
char *host_machine(void);

/* The kernel release (uname -r). */
char *host_kernel_version(void);

/* PRETTY_NAME from /etc/os-release, or "Linux". */
char *host_os_name(void);

/* VERSION_ID from /etc/os-release, or "". */
char *host_os_version(void);

/* "2" on a unified cgroup v2 hierarchy, "1" on v1 and hybrid hosts. */
const char *host_cgroup_version(void);

/* CPUs this process may run on. */
int host_ncpu(void);

/* Physical memory in bytes. */
int64_t host_mem_total(void);

/* The host name. */
char *host_name(void);

#endif
