/* The `none` driver: a machine that is only an engine URL (docker-machine's
 * `none`). Nothing is created or provisioned; berth keeps the URL and the
 * TLS identity so that `env`, `ls` and `config` work against an engine that
 * is already running somewhere. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "berth/driver.h"
#include "berth/util.h"

struct none_cfg {
    char *url;
};

static const struct berth_flag none_flags[] = {
    {"url", "URL of the engine, e.g. tcp://10.0.0.5:2376", "NONE_URL", NULL, BERTH_FLAG_STRING},
    {NULL, NULL, NULL, NULL, 0},
};

/* Split a tcp:// URL with libcurl's URL parser; *host is malloc()ed. */
static int parse_url(const char *url, char **host, berr_t *err)
{
    CURLU *u = curl_url();
    char *h = NULL, *port = NULL, *scheme = NULL;
    int ret = -1;

    if (u == NULL)
        return berr_set(err, 0, "driver none: cannot allocate URL parser");
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK) {
        berr_set(err, 0, "driver none: invalid URL \"%s\": expected tcp://HOST:PORT", url);
        goto out;
    }
    if (strcmp(scheme, "tcp") != 0) {
        berr_set(err, 0, "driver none: URL \"%s\": scheme must be tcp://", url);
        goto out;
    }
    size_t len = strlen(h);
    if (len > 2 && h[0] == '[' && h[len - 1] == ']')
        *host = xasprintf("%.*s", (int)len - 2, h + 1);
    else
        *host = xstrdup(h);
    ret = 0;
out:
    curl_free(h);
    curl_free(port);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ret;
}

static int none_config_new(struct berth_machine *m, berr_t *err)
{
    (void)err;
    m->priv = xcalloc(1, sizeof(struct none_cfg));
    return 0;
}

static void none_config_free(struct berth_machine *m)
{
    struct none_cfg *c = m->priv;
    free(c->url);
    free(c);
    m->priv = NULL;
}

static int set_url(struct berth_machine *m, const char *url, berr_t *err)
{
    struct none_cfg *c = m->priv;
    _cleanup_free_ char *host = NULL;

    if (url == NULL || *url == '\0')
        return berr_set(err, 0, "driver none: --url is required (e.g. --url tcp://10.0.0.5:2376)");
    if (parse_url(url, &host, err) < 0)
        return -1;
    free(c->url);
    c->url = xstrdup(url);
    return 0;
}

static int none_config_from_flags(struct berth_machine *m, const json_t *flags, berr_t *err)
{
    return set_url(m, json_string_value(json_object_get(flags, "url")), err);
}

static int none_config_load(struct berth_machine *m, const json_t *driver, berr_t *err)
{
    return set_url(m, json_string_value(json_object_get(driver, "URL")), err);
}

static int none_config_save(const struct berth_machine *m, json_t *driver, berr_t *err)
{
    const struct none_cfg *c = m->priv;
    (void)err;
    json_object_set_new(driver, "URL", json_string(c->url ? c->url : ""));
    return 0;
}

static int none_noop(struct berth_machine *m, berr_t *err)
{
    (void)m;
    (void)err;
    return 0;
}

static int none_get_state(struct berth_machine *m, enum berth_state *st, berr_t *err)
{
    (void)m;
    (void)err;
    *st = BERTH_STATE_RUNNING;
    return 0;
}

static int none_get_ip(struct berth_machine *m, char **ip, berr_t *err)
{
    const struct none_cfg *c = m->priv;
    return parse_url(c->url, ip, err);
}

static int none_get_url(struct berth_machine *m, char **url, berr_t *err)
{
    const struct none_cfg *c = m->priv;
    (void)err;
    *url = xstrdup(c->url);
    return 0;
}

const struct berth_driver berth_driver = {
    .abi_version = BERTH_DRIVER_ABI_VERSION,
    .name = "none",
    .summary = "an engine that already runs at a URL; berth only keeps its TLS identity",
    .flags = none_flags,
    .config_new = none_config_new,
    .config_free = none_config_free,
    .config_from_flags = none_config_from_flags,
    .config_load = none_config_load,
    .config_save = none_config_save,
    .create = none_noop,
    .remove = none_noop,
    .get_state = none_get_state,
    .get_ip = none_get_ip,
    .get_url = none_get_url,
    .provisions = 0,
};
