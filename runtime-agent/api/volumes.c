/* Volume endpoints: create, list (filters name, label, driver, dangling), inspect, remove,
 * prune. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"
#include "runtime-agent/volumes/store.h"

static struct vol_store *vs_of(struct http_request *req)
{
    return daemon_volumes(api_daemon(req));
}

static int h_create(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *body = NULL, *info = NULL;

    if (http_body_json(req, &body, err) < 0)
        return -1;
    if (body && !json_is_object(body)) {
        json_decref(body);
        return http_err(err, EINVAL, "invalid JSON: the body must be an object");
    }
    struct vol_spec spec = {
        .name = json_string_value(json_object_get(body, "Name")),
        .driver = json_string_value(json_object_get(body, "Driver")),
        .labels = json_object_get(body, "Labels"),
        .options = json_object_get(body, "DriverOpts"),
    };
    int ret = vol_create(vs_of(req), &spec, &info, err);
    json_decref(body);
    if (ret < 0)
        return -1;
    http_resp_json(resp, 201, info);
    return 0;
}

static bool dangling(struct vol_store *vs, const char *name)
{
    json_t *ids = vol_users(vs, name);
    bool unused = json_array_size(ids) == 0;
    json_decref(ids);
    return unused;
}

static bool list_match(struct vol_store *vs, const json_t *f, const json_t *v, int dangle)
{
    const char *name = json_string_value(json_object_get(v, "Name"));
    const json_t *labels = json_object_get(v, "Labels");

    return api_filter_substr(f, "name", name) && api_filter_substr(f, "driver", "local") &&
           api_filter_labels(f, "label", labels, true) &&
           (dangle < 0 || dangling(vs, name) == (dangle == 1));
}

static int h_list(struct http_request *req, struct http_response *resp, berr_t *err)
{
    static const char *const keys[] = {"name", "label", "driver", "dangling", NULL};
    struct vol_store *vs = vs_of(req);
    json_t *f = NULL, *all, *out = json_array(), *v;
    int dangle;
    size_t i;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0 ||
        api_filter_keys(f, keys, err) < 0 || api_filter_bool(f, "dangling", &dangle, err) < 0) {
        json_decref(f);
        json_decref(out);
        return -1;
    }
    all = vol_list(vs);
    json_array_foreach(all, i, v)
    {
        if (list_match(vs, f, v, dangle))
            json_array_append(out, v);
    }
    json_decref(all);
    json_decref(f);
    http_resp_json(resp, 200, json_pack("{s:o,s:[]}", "Volumes", out, "Warnings"));
    return 0;
}

static int h_inspect(struct http_request *req, struct http_response *resp, berr_t *err)
{
    json_t *info = NULL;

    if (vol_inspect(vs_of(req), http_req_param(req, "name"), &info, err) < 0)
        return -1;
    http_resp_json(resp, 200, info);
    return 0;
}

static int h_remove(struct http_request *req, struct http_response *resp, berr_t *err)
{
    if (vol_remove(vs_of(req), http_req_param(req, "name"),
                   http_req_query_bool(req, "force", false), NULL, err) < 0)
        return -1;
    http_resp_empty(resp, 204);
    return 0;
}

/* Whether prune takes V: unused, matching the label filters, and anonymous unless ALL. */
static bool prunable(struct vol_store *vs, const json_t *f, const json_t *v, bool all)
{
    const json_t *labels = json_object_get(v, "Labels");

    if (!all && json_object_get(labels, VOL_ANON_LABEL) == NULL)
        return false;
    if (!api_filter_labels(f, "label", labels, true))
        return false;
    if (json_array_size(json_object_get(f, "label!")) > 0 &&
        api_filter_labels(f, "label!", labels, false))
        return false;
    return dangling(vs, json_string_value(json_object_get(v, "Name")));
}

static int h_prune(struct http_request *req, struct http_response *resp, berr_t *err)
{
    static const char *const keys[] = {"label", "label!", "all", NULL};
    struct vol_store *vs = vs_of(req);
    json_t *f = NULL, *list, *deleted = json_array(), *v;
    int all;
    int64_t space = 0;
    size_t i;

    if (api_filters_parse(http_req_query(req, "filters"), &f, err) < 0 ||
        api_filter_keys(f, keys, err) < 0 || api_filter_bool(f, "all", &all, err) < 0) {
        json_decref(f);
        json_decref(deleted);
        return -1;
    }
    /* Before API 1.42 prune took every unused volume. */
    int version = http_req_api_version(req);
    if (all < 0)
        all = version != 0 && version < API_VERSION(1, 42);
    list = vol_list(vs);
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "Name"));
        int64_t freed = 0;
        berr_t e = NULL;
        if (prunable(vs, f, v, all == 1) && vol_remove(vs, name, false, &freed, &e) == 0) {
            json_array_append_new(deleted, json_string(name));
            space += freed;
        }
        berr_free(&e);
    }
    json_decref(list);
    json_decref(f);
    http_resp_json(
        resp, 200,
        json_pack("{s:o,s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)space));
    return 0;
}

const struct http_route api_volume_routes[] = {
    {"POST", "/volumes/create", h_create, 0},
    {"POST", "/volumes/prune", h_prune, 0},
    {"GET", "/volumes", h_list, 0},
    {"GET", "/volumes/{name}", h_inspect, 0},
    {"DELETE", "/volumes/{name}", h_remove, 0},
};
const size_t api_volume_routes_len = sizeof(api_volume_routes) / sizeof(api_volume_routes[0]);
