/* Filters shared by the list and prune endpoints (`filters` after api_filters_parse: an
 * object of arrays). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"
#include "runtime-agent/api/api.h"

bool api_label_match(const json_t *labels, const char *want)
{
    const char *eq = strchr(want, '=');
    if (eq == NULL)
        return json_object_get(labels, want) != NULL;
    _cleanup_free_ char *key = xasprintf("%.*s", (int)(eq - want), want);
    const char *v = json_string_value(json_object_get(labels, key));
    return v && strcmp(v, eq + 1) == 0;
}

/* Whether every value of filter KEY matches (ALL) or any does (!ALL); true without KEY. */
bool api_filter_labels(const json_t *filters, const char *key, const json_t *labels, bool all)
{
    const json_t *vals = json_object_get(filters, key);
    size_t i;
    json_t *v;

    if (json_array_size(vals) == 0)
        return true;
    json_array_foreach(vals, i, v)
    {
        bool m = api_label_match(labels, json_string_value(v));
        if (m != all)
            return m;
    }
    return all;
}

bool api_filter_substr(const json_t *filters, const char *key, const char *s)
{
    const json_t *vals = json_object_get(filters, key);
    size_t i;
    json_t *v;

    if (json_array_size(vals) == 0)
        return true;
    json_array_foreach(vals, i, v)
    {
        if (strstr(s, json_string_value(v)))
            return true;
    }
    return false;
}

int api_filter_keys(const json_t *filters, const char *const *allowed, berr_t *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)filters, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok)
            return http_err(err, EINVAL, "invalid filter '%s'", key);
    }
    return 0;
}

/* A true/false filter value: 1 true, 0 false, -1 absent; EINVAL when malformed. */
int api_filter_bool(const json_t *filters, const char *key, int *out, berr_t *err)
{
    const char *v = json_string_value(json_array_get(json_object_get(filters, key), 0));

    *out = -1;
    if (v == NULL)
        return 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return http_err(err, EINVAL, "invalid filter '%s=%s'", key, v);
    return 0;
}
