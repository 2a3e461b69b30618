/* Test driver: right ABI and name, but the required get_state is missing. */
#include "berth/driver.h"

static int inc_config_new(struct berth_machine *m, berr_t *err)
{
    (void)err;
    m->priv = NULL;
    return 0;
}

static void inc_config_free(struct berth_machine *m)
{
    m->priv = NULL;
}

static int inc_config_from_flags(struct berth_machine *m, const json_t *flags, berr_t *err)
{
    (void)m;
    (void)flags;
    (void)err;
    return 0;
}

static int inc_config_load(struct berth_machine *m, const json_t *driver, berr_t *err)
{
    (void)m;
    (void)driver;
    (void)err;
    return 0;
}

static int inc_config_save(const struct berth_machine *m, json_t *driver, berr_t *err)
{
    (void)m;
    (void)driver;
    (void)err;
    return 0;
}

static int inc_get_ip(struct berth_machine *m, char **ip, berr_t *err)
{
    (void)m;
    (void)err;
    *ip = NULL;
    return -1;
}

static int inc_get_url(struct berth_machine *m, char **url, berr_t *err)
{
    (void)m;
    (void)err;
    *url = NULL;
    return -1;
}

static const struct berth_flag inc_flags[] = {
    {NULL, NULL, NULL, NULL, 0},
};

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION,
    .name = "incomplete",
    .summary = "test driver without get_state",
    .flags = inc_flags,
    .config_new = inc_config_new,
    .config_free = inc_config_free,
    .config_from_flags = inc_config_from_flags,
    .config_load = inc_config_load,
    .config_save = inc_config_save,
    .get_state = NULL,
    .get_ip = inc_get_ip,
    .get_url = inc_get_url,
};
