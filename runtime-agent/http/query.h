/* URL query strings and percent-encoding, as Go's net/url reads them. */
#ifndef BERTHD_HTTP_QUERY_H
#define BERTHD_HTTP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "berth/error.h"

struct query_pair {
    char *key;
    char *value;
};

struct http_query {
    struct query_pair *pairs;
    size_t n;
};

/* Decode %XX escapes in IN[0..LEN) into a new string; PLUS_SPACE turns '+' into ' '
 * (query strings, not paths). Fails on a malformed escape or an embedded NUL. */
int http_percent_decode(const char *in, size_t len, bool plus_space, char **out, berr_t *err);

/* Parse "a=1&b=x%20y&flag" into Q (which must be zeroed); keys may repeat. */
int http_query_parse(struct http_query *q, const char *qs, size_t len, berr_t *err);

/* The first value of KEY, or NULL when absent ("" for "?key" or "?key="). */
const char *http_query_get(const struct http_query *q, const char *key);

/* The IDX-th value of a repeated KEY (e.g. build's t=), or NULL past the last. */
const char *http_query_nth(const struct http_query *q, const char *key, size_t idx);

/* Docker's boolean: DEF when absent; false for "", "0", "no", "false", "none"
 * (any case); true for anything else ("1", "true", ...). */
bool http_query_bool(const struct http_query *q, const char *key, bool def);

void http_query_free(struct http_query *q);

#endif
