/* Network endpoints: create, list (filters name, id, driver, label, type, dangling), inspect,
 * remove, prune, connect and disconnect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/containers/netattach.h"
#include "runtime-agent/network/netstore.h"

static struct net_store *ns_of(struct http_request *req)
{
    return &api_daemon(req)->nets;
}

static struct containers *cs_of(struct http_request *req)
{
    return daemon_containers(api_daemon(req));
}

static int h_create(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *body = NULL, *warning = NULL;
    _cleanup_free_ char *id = NULL;

    if (http_body_json(req, &body, err) < 0)
        return -1;
    int ret = net_create(ns_of(req), body, &id, &warning, err);
    json_decref(body);
    if (ret < 0)
        return -1;
    http_resp_json(resp, 201, json_pack("{s:s,s:o}", "Id", id, "Warning", warning));
    return 0;
}

/* A network's inspect form, with its running containers. */
static json_t *full(struct http_request *req, const json_t *n)
{
    json_t *j = json_deep_copy(n);
    json_object_set_new(
        j, "Containers",
        netattach_network_containers(cs_of(req), json_string_value(json_object_get(j, "Id"))));
    return j;
}

static bool list_match(const json_t *f, const json_t *n, bool in_use, int dangle)
{
    const char *name = json_string_value(json_object_get(n, "Name"));
    const char *id = json_string_value(json_object_get(n, "Id"));
    const char *driver = json_string_value(json_object_get(n, "Driver"));
    bool builtin =
        strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 || strcmp(name, "none") == 0;
    const json_t *types = json_object_get(f, "type");
    size_t i;
    json_t *v;

    if (!api_filter_substr(f, "name", name) ||
        !api_filter_labels(f, "label", json_object_get(n, "Labels"), true))
        return false;
    if (json_array_size(json_object_get(f, "id")) > 0) {
        bool hit = false;
        json_array_foreach(json_object_get(f, "id"), i, v)
        {
            const char *want = json_string_value(v);
            hit = hit || (want && strncmp(id, want, strlen(want)) == 0);
        }
        if (!hit)
            return false;
    }
    if (json_array_size(json_object_get(f, "driver")) > 0) {
        bool hit = false;
        json_array_foreach(json_object_get(f, "driver"), i, v)
        {
            hit = hit || strcmp(driver, json_string_value(v) ? json_string_value(v) : "") == 0;
        }
        if (!hit)
            return false;
    }
    if (json_array_size(types) > 0) {
        bool hit = false;
        json_array_foreach(types, i, v)
        {
            const char *t = json_string_value(v) ? json_string_value(v) : "";
            hit = hit || (strcmp(t, "builtin") == 0 && builtin) ||
                  (strcmp(t, "custom") == 0 && !builtin);
        }
        if (!hit)
            return false;
    }
    return dangle < 0 || (!builtin && !in_use) == (dangle == 1);
}

static int h_list(struct http_request *req, struct http_response *resp, berr_t *err)
{
    static const char *const keys[] = {"name", "id", "driver", "label", "type", "dangling", NULL};
    json_t *f = NULL, *all, *out = json_array(), *n;
    int dangle;
    size_t i;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0 ||
        api_filter_keys(f, keys, err) < 0 || api_filter_bool(f, "dangling", &dangle, err) < 0) {
        json_decref(f);
        json_decref(out);
        return -1;
    }
    all = net_list_json(ns_of(req));
    json_array_foreach(all, i, n)
    {
        json_t *j = full(req, n);
        bool in_use = json_object_size(json_object_get(j, "Containers")) > 0;
        if (list_match(f, j, in_use, dangle))
            json_array_append(out, j);
        json_decref(j);
    }
    json_decref(all);
    json_decref(f);
    http_resp_json(resp, 200, out);
    return 0;
}

/* The inspect form of network REF (copied under the store lock). */
static int lookup(struct http_request *req, const char *ref, json_t **out, berr_t *err)
{
    struct net_store *s = ns_of(req);
    net_lock(s);
    struct network *n = net_find_locked(s, ref, err);
    json_t *j = n ? net_json(n) : NULL;
    net_unlock(s);
    if (j == NULL)
        return -1;
    *out = j;
    return 0;
}

static int h_inspect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *n = NULL;
    if (lookup(req, http_req_param(req, "id"), &n, err) < 0)
        return -1;
    http_resp_json(resp, 200, full(req, n));
    json_decref(n);
    return 0;
}

static int remove_one(struct http_request *req, const char *ref, berr_t *err)
{
    json_t *n = NULL;
    if (lookup(req, ref, &n, err) < 0)
        return -1;
    bool used = netattach_network_in_use(cs_of(req), json_string_value(json_object_get(n, "Id")));
    json_decref(n);
    return net_remove(ns_of(req), ref, used, err);
}

static int h_remove(struct http_request *req, struct http_response *resp, berr_t *err)
{
    if (remove_one(req, http_req_param(req, "id"), err) < 0)
        return -1;
    http_resp_empty(resp, 204);
    return 0;
}

static int h_prune(struct http_request *req, struct http_response *resp, berr_t *err)
{
    static const char *const keys[] = {"label", "label!", "until", NULL};
    json_t *f = NULL, *all, *deleted = json_array(), *n;
    size_t i;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0 ||
        api_filter_keys(f, keys, err) < 0) {
        json_decref(f);
        json_decref(deleted);
        return -1;
    }
    all = net_list_json(ns_of(req));
    json_array_foreach(all, i, n)
    {
        const char *name = json_string_value(json_object_get(n, "Name"));
        const json_t *labels = json_object_get(n, "Labels");
        berr_t e = NULL;
        if (strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 || strcmp(name, "none") == 0 ||
            !api_filter_labels(f, "label", labels, true) ||
            (json_array_size(json_object_get(f, "label!")) > 0 &&
             api_filter_labels(f, "label!", labels, false)))
            continue;
        if (remove_one(req, json_string_value(json_object_get(n, "Id")), &e) == 0)
            json_array_append_new(deleted, json_string(name));
        berr_free(&e);
    }
    json_decref(all);
    json_decref(f);
    http_resp_json(resp, 200, json_pack("{s:o}", "NetworksDeleted", deleted));
    return 0;
}

static int connect_common(struct http_request *req, bool connect, berr_t *err)
{
    json_t *body = NULL;
    struct container *c = NULL;
    int ret = -1;

    if (http_body_json(req, &body, err) < 0)
        return -1;
    const char *ref = json_string_value(json_object_get(body, "Container"));
    if (ref == NULL || *ref == '\0') {
        http_err(err, EINVAL, "a container is required");
        goto out;
    }
    if (ctr_get(&cs_of(req)->store, ref, &c, err) < 0)
        goto out;
    if (connect)
        ret = netattach_connect(cs_of(req), c, http_req_param(req, "id"),
                                json_object_get(body, "EndpointConfig"), err);
    else
        ret = netattach_disconnect(cs_of(req), c, http_req_param(req, "id"),
                                   json_is_true(json_object_get(body, "Force")), err);
    ctr_put(&cs_of(req)->store, c);
out:
    json_decref(body);
    return ret;
}

static int h_connect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    if (connect_common(req, true, err) < 0)
        return -1;
    http_resp_empty(resp, 200);
    return 0;
}

static int h_disconnect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    if (connect_common(req, false, err) < 0)
        return -1;
    http_resp_empty(resp, 200);
    return 0;
}

const struct http_route api_network_routes[] = {
    {"POST", "/networks/create", h_create, 0},
    {"POST", "/networks/prune", h_prune, 0},
    {"GET", "/networks", h_list, 0},
    {"GET", "/networks/{id}", h_inspect, 0},
    {"DELETE", "/networks/{id}", h_remove, 0},
    {"POST", "/networks/{id}/connect", h_connect, 0},
    {"POST", "/networks/{id}/disconnect", h_disconnect, 0},
};
const size_t api_network_routes_len = sizeof(api_network_routes) / sizeof(api_network_routes[0]);
