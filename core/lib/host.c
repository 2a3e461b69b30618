#include "core/lib/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/util.h"

char *host_path(const struct berth_host *h, const char *file)
{
    return path_join(h->m.machine_dir, file);
}

static json_t *default_engine_options(void)
{
    return json_pack("{s:[],s:[],s:[],s:[],s:[],s:s,s:b,s:s}", "ArbitraryFlags", "Env",
                     "InsecureRegistry", "Labels", "RegistryMirror", "StorageDriver", "overlay2",
                     "TlsVerify", 1, "InstallURL", "");
}

static char *now_rfc3339(void)
{
    char buf[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

int host_new(const struct berth_store *s, const char *name, const char *driver,
             struct berth_host **out, berr_t *err)
{
    struct berth_host *h;

    if (store_check_name(name, err) < 0)
        return -1;
    h = xcalloc(1, sizeof(*h));
    h->store = s;
    h->name = xstrdup(name);
    h->driver_name = xstrdup(driver);
    h->m.name = xstrdup(name);
    h->m.machine_dir = store_machine_dir(s, name);
    h->m.engine_port = BERTH_ENGINE_PORT;
    h->engine = default_engine_options();
    h->sans = json_array();
    h->created = now_rfc3339();
    if (driver_load(driver, &h->dh, err) < 0 || h->dh->drv->config_new(&h->m, err) < 0) {
        host_free(h);
        return berr_prefix(err, "machine %s", name);
    }
    *out = h;
    return 0;
}

static char *json_str_dup(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? xstrdup(v) : NULL;
}

static int host_from_json(struct berth_host *h, json_t *root, const char *path, berr_t *err)
{
    json_t *drv = json_object_get(root, "Driver");
    json_t *opts = json_object_get(root, "HostOptions");
    json_t *version = json_object_get(root, "ConfigVersion");

    if (!json_is_object(drv) || !json_is_string(json_object_get(root, "DriverName")))
        return berr_set(err, 0, "%s: missing \"Driver\" or \"DriverName\"", path);
    if (json_is_integer(version) && json_integer_value(version) > BERTH_CONFIG_VERSION)
        return berr_set(err, 0, "%s: config version %lld is newer than this berth understands (%d)",
                        path, json_integer_value(version), BERTH_CONFIG_VERSION);
    h->m.ip_address = json_str_dup(drv, "IPAddress");
    h->m.ssh_user = json_str_dup(drv, "SSHUser");
    h->m.ssh_key_path = json_str_dup(drv, "SSHKeyPath");
    h->m.ssh_port = (int)json_integer_value(json_object_get(drv, "SSHPort"));
    if (json_is_integer(json_object_get(drv, "EnginePort")))
        h->m.engine_port = (int)json_integer_value(json_object_get(drv, "EnginePort"));
    json_t *engine = json_object_get(opts, "EngineOptions");
    if (json_is_object(engine)) {
        json_decref(h->engine);
        h->engine = json_deep_copy(engine);
    }
    json_t *sans = json_object_get(json_object_get(opts, "AuthOptions"), "ServerCertSANs");
    if (json_is_array(sans)) {
        json_decref(h->sans);
        h->sans = json_deep_copy(sans);
    }
    char *created = json_str_dup(root, "Created");
    if (created) {
        free(h->created);
        h->created = created;
    }
    return h->dh->drv->config_load(&h->m, drv, err);
}

int host_load(const struct berth_store *s, const char *name, struct berth_host **out,
              berr_t *err)
{
    _cleanup_free_ char *dir = NULL;
    _cleanup_free_ char *path = NULL;
    struct berth_host *h = NULL;
    json_error_t jerr;
    json_t *root;

    if (store_check_name(name, err) < 0)
        return -1;
    dir = store_machine_dir(s, name);
    path = path_join(dir, "config.json");
    if (!file_exists(path))
        return berr_set(err, ENOENT, "machine %s does not exist (no %s)", name, path);
    root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        return berr_set(err, 0, "machine %s: read %s: line %d: %s", name, path, jerr.line,
                        jerr.text);
    const char *driver = json_string_value(json_object_get(root, "DriverName"));
    if (host_new(s, name, driver ? driver : "", &h, err) < 0) {
        json_decref(root);
        return -1; /* host_new names the machine already */
    }
    if (host_from_json(h, root, path, err) < 0) {
        json_decref(root);
        host_free(h);
        return berr_prefix(err, "machine %s", name);
    }
    json_decref(root);
    *out = h;
    return 0;
}

/* Set KEY to the string VALUE and free VALUE. */
static void set_owned(json_t *obj, const char *key, char *value)
{
    json_object_set_new(obj, key, json_string(value));
    free(value);
}

static json_t *auth_options(const struct berth_host *h)
{
    const char *certs = h->store->certs_dir;
    json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s}", "CertDir", certs, "CaCertRemotePath", "",
                          "ServerCertRemotePath", "", "ServerKeyRemotePath", "", "ServerCertSANs",
                          h->sans, "StorePath", h->m.machine_dir);
    set_owned(a, "CaCertPath", path_join(certs, "ca.pem"));
    set_owned(a, "CaPrivateKeyPath", path_join(certs, "ca-key.pem"));
    set_owned(a, "ClientCertPath", path_join(certs, "cert.pem"));
    set_owned(a, "ClientKeyPath", path_join(certs, "key.pem"));
    set_owned(a, "ServerCertPath", host_path(h, "server.pem"));
    set_owned(a, "ServerKeyPath", host_path(h, "server-key.pem"));
    return a;
}

json_t *host_to_json(const struct berth_host *h, berr_t *err)
{
    const struct berth_machine *m = &h->m;
    json_t *drv = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:i}", "IPAddress",
                            m->ip_address ? m->ip_address : "", "MachineName", h->name, "SSHUser",
                            m->ssh_user ? m->ssh_user : "", "SSHPort", m->ssh_port, "SSHKeyPath",
                            m->ssh_key_path ? m->ssh_key_path : "", "StorePath", h->store->root,
                            "EnginePort", m->engine_port);
    json_t *auth = auth_options(h);
    if (h->dh->drv->config_save(m, drv, err) < 0) {
        json_decref(drv);
        json_decref(auth);
        return NULL;
    }
    return json_pack("{s:i,s:o,s:s,s:{s:s,s:O,s:o},s:s,s:s}", "ConfigVersion",
                     BERTH_CONFIG_VERSION, "Driver", drv, "DriverName", h->driver_name,
                     "HostOptions", "Driver", h->driver_name, "EngineOptions", h->engine,
                     "AuthOptions", auth, "Name", h->name, "Created", h->created);
}

int host_save(const struct berth_host *h, berr_t *err)
{
    _cleanup_free_ char *path = host_path(h, "config.json");
    _cleanup_free_ char *text = NULL;
    json_t *root = host_to_json(h, err);

    if (root == NULL)
        return berr_prefix(err, "machine %s: save config", h->name);
    text = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
    json_decref(root);
    if (text == NULL)
        return berr_set(err, ENOMEM, "machine %s: encode config", h->name);
    size_t len = strlen(text);
    text[len] = '\n';
    if (write_file_atomic(path, text, len + 1, 0600, err) < 0)
        return berr_prefix(err, "machine %s", h->name);
    return 0;
}

void host_free(struct berth_host *h)
{
    if (h == NULL)
        return;
    if (h->dh != NULL && h->m.priv != NULL)
        h->dh->drv->config_free(&h->m);
    driver_unload(h->dh);
    free(h->name);
    free(h->driver_name);
    free(h->m.name);
    free(h->m.machine_dir);
    free(h->m.ip_address);
    free(h->m.ssh_user);
    free(h->m.ssh_key_path);
    json_decref(h->engine);
    json_decref(h->sans);
    free(h->created);
    free(h);
}

const char *host_state_name(enum berth_state st)
{
    static const char *const names[] = {"", "Running", "Paused", "Saved", "Stopped",
                                        "Stopping", "Starting", "Error", "Timeout"};
    if ((unsigned)st < sizeof(names) / sizeof(names[0]))
        return names[st];
    return "Error";
}
