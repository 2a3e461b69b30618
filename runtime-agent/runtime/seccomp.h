/* The default seccomp profile: a deny-list in the spirit of Docker's, where each dangerous
 * system call fails with EPERM unless the container holds the capability that makes it
 * legitimate. */
#ifndef BERTHD_RUNTIME_SECCOMP_H
#define BERTHD_RUNTIME_SECCOMP_H

#include <stdint.h>

#include "berth/error.h"

/* Load the default filter for a process that ends up with capability set CAPS. The caller must
 * still hold CAP_SYS_ADMIN or have set no_new_privs. */
int seccomp_apply_default(uint64_t caps, berr_t *err);

#endif
