/* Test driver: complete and of the right ABI, but its descriptor says it is
 * driver "other" while the file is misnamed.so. */
#include "berth/driver.h"

static int mis_config_new(struct berth_machine *m, berr_t *err)
{
    (void)err;
    m->priv = NULL;
    return 0;
}

static void mis_config_free(struct berth_machine *m)
{
    m->priv = NULL;
}

static int mis_config_from_flags(struct berth_machine *m, const json_t *flags, berr_t *err)
{
    (void)m;
    (void)flags;
    (void)err;
    return 0;
}

static int mis_config_load(struct berth_machine *m, const json_t *driver, berr_t *err)
{
    (void)m;
    (void)driver;
    (void)err;
    return 0;
}

static int mis_config_save(const struct berth_machine *m, json_t *driver, berr_t *err)
{
    (void)m;
    (void)driver;
    (void)err;
    return 0;
}

static int mis_get_state(struct berth_machine *m, enum berth_state *st, berr_t *err)
{
    (void)m;
    (void)err;
    *st = BERTH_STATE_NONE;
    return 0;
}

static int mis_get_ip(struct berth_machine *m, char **ip, berr_t *err)
{
    (void)m;
    (void)err;
    *ip = NULL;
    return -1;
}

static int mis_get_url(struct berth_machine *m, char **url, berr_t *err)
{
    (void)m;
    (void)err;
    *url = NULL;
    return -1;
}

static const struct berth_flag mis_flags[] = {
    {NULL, NULL, NULL, NULL, 0},
};

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION,
    .name = "other",
    .summary = "test driver whose descriptor has another name",
    .flags = mis_flags,
    .config_new = mis_config_new,
    .config_free = mis_config_free,
    .config_from_flags = mis_config_from_flags,
    .config_load = mis_config_load,
    .config_save = mis_config_save,
    .get_state = mis_get_state,
    .get_ip = mis_get_ip,
    .get_url = mis_get_url,
};
