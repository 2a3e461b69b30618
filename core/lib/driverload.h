/* Finding and loading driver shared objects.
 *
 * Drivers are searched in $BERTH_DRIVER_PATH (colon-separated), else in
 * <dir of the berth binary>/../lib/berth/drivers. A driver that is missing,
 * built for another ABI version, lacks the descriptor or is incomplete is
 * refused with an error naming the file and the reason. */
#ifndef BERTH_DRIVERLOAD_H
#define BERTH_DRIVERLOAD_H

#include <stddef.h>

#include "berth/driver.h"

struct driver_handle {
    void *dl;
    const struct berth_driver *drv;
    char *path;
};

/* Load driver NAME. */
int driver_load(const char *name, struct driver_handle **out, berr_t *err);

void driver_unload(struct driver_handle *h);

/* The directories searched, as one colon-separated string (malloc()ed). */
char *driver_search_path(void);

/* Names of the drivers found in the search path, sorted and unique. */
int driver_list(char ***names, size_t *n, berr_t *err);

#endif
