#include "runtime-agent/http/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "berth/util.h"
#include "runtime-agent/http/http.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_percent_decode(const char *in, size_t len, bool plus_space, char **out, berr_t *err)
{
    _cleanup_free_ char *buf = xcalloc(1, len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 1 < len ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return http_err(err, EINVAL, "invalid URL escape \"%.*s\"",
                                (int)(len - i < 3 ? len - i : 3), in + i);
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return http_err(err, EINVAL, "invalid URL escape \"%%00\"");
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        buf[n++] = c;
    }
    *out = steal_pointer(&buf);
    return 0;
}

/* Append one "key=value" (or "key") segment to Q. */
static int add_pair(struct http_query *q, const char *seg, size_t len, berr_t *err)
{
    const char *eq = memchr(seg, '=', len);
    size_t klen = eq ? (size_t)(eq - seg) : len;
    char *key = NULL, *value = NULL;

    if (http_percent_decode(seg, klen, true, &key, err) < 0)
        return -1;
    if (eq == NULL) {
        value = xstrdup("");
    } else if (http_percent_decode(eq + 1, len - klen - 1, true, &value, err) < 0) {
        free(key);
        return -1;
    }
    struct query_pair *np = realloc(q->pairs, (q->n + 1) * sizeof(*np));
    if (np == NULL) {
        free(key);
        free(value);
        return berr_set(err, ENOMEM, "parse query");
    }
    q->pairs = np;
    q->pairs[q->n].key = key;
    q->pairs[q->n].value = value;
    q->n++;
    return 0;
}

int http_query_parse(struct http_query *q, const char *qs, size_t len, berr_t *err)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && qs[i] != '&' && qs[i] != ';')
            continue;
        if (i > start && add_pair(q, qs + start, i - start, err) < 0) {
            http_query_free(q);
            return berr_prefix(err, "query string");
        }
        start = i + 1;
    }
    return 0;
}

const char *http_query_nth(const struct http_query *q, const char *key, size_t idx)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->pairs[i].key, key) == 0 && idx-- == 0)
            return q->pairs[i].value;
    return NULL;
}

const char *http_query_get(const struct http_query *q, const char *key)
{
    return http_query_nth(q, key, 0);
}

bool http_query_bool(const struct http_query *q, const char *key, bool def)
{
    static const char *const falsy[] = {"", "0", "no", "false", "none"};
    const char *v = http_query_get(q, key);

    if (v == NULL)
        return def;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++)
        if (strlen(falsy[i]) == len && strncasecmp(v, falsy[i], len) == 0)
            return false;
    return true;
}

void http_query_free(struct http_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->pairs[i].key);
        free(q->pairs[i].value);
    }
    free(q->pairs);
    q->pairs = NULL;
    q->n = 0;
}
