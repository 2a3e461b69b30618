/* Linux capabilities by name and number, applied with the raw system calls. */
#ifndef BERTHD_RUNTIME_CAPS_H
#define BERTHD_RUNTIME_CAPS_H

#include <stdint.h>

#include "berth/error.h"

/* The number of capability NAME ("NET_ADMIN", "CAP_NET_ADMIN", "net_admin"), -1 if unknown. */
int caps_from_name(const char *name);

/* The highest capability number the running kernel knows. */
int caps_last(void);

/* Every capability the kernel knows, as a bit set. */
uint64_t caps_all(void);

/* Drop every capability not in CAPS from the bounding set and clear the ambient set. */
int caps_drop_bounding(uint64_t caps, berr_t *err);

/* Make CAPS, limited to the permitted set of the caller, the effective and permitted sets
 * (inheritable empty). */
int caps_set(uint64_t caps, berr_t *err);

#endif
