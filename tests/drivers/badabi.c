/* Test driver: a descriptor built for a newer driver ABI than berth speaks.
 * Only abi_version and name are meaningful; berth must not read further. */
#include "berth/driver.h"

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION + 1,
    .name = "badabi",
};
