#include "core/lib/template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

struct out {
    FILE *f;
    char *buf;
    size_t len;
};

static void print_value(FILE *f, const json_t *v)
{
    size_t i;
    const char *key;
    json_t *item;

    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), f);
        break;
    case JSON_INTEGER:
        fprintf(f, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        fprintf(f, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("<nil>", f);
        break;
    case JSON_ARRAY:
        fputc('[', f);
        json_array_foreach(v, i, item)
        {
            if (i)
                fputc(' ', f);
            print_value(f, item);
        }
        fputc(']', f);
        break;
    case JSON_OBJECT: {
        /* Go prints maps with sorted keys. */
        char *text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
        json_t *sorted = json_loads(text, JSON_PRESERVE_ORDER, NULL);
        int first = 1;
        fputs("map[", f);
        json_object_foreach(sorted, key, item)
        {
            fprintf(f, "%s%s:", first ? "" : " ", key);
            print_value(f, item);
            first = 0;
        }
        fputc(']', f);
        json_decref(sorted);
        free(text);
        break;
    }
    }
}

/* Resolve ".A.B" against DATA; *missing is set when a key is absent. */
static const json_t *resolve(const json_t *data, const char *path, size_t len, int *missing)
{
    const json_t *cur = data;
    size_t i = 1; /* skip the leading '.' */

    *missing = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '.')
            i++;
        if (!json_is_object(cur)) {
            *missing = 1;
            return NULL;
        }
        _cleanup_free_ char *key = xasprintf("%.*s", (int)(i - start), path + start);
        cur = json_object_get(cur, key);
        if (cur == NULL) {
            *missing = 1;
            return NULL;
        }
        i++;
    }
    return cur;
}

static int is_path(const char *s, size_t len)
{
    if (len == 0 || s[0] != '.')
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
            return 0;
    }
    return 1;
}

static void apply_case(char *s, int upper)
{
    for (; *s; s++)
        *s = upper ? (char)toupper((unsigned char)*s) : (char)tolower((unsigned char)*s);
}

/* Evaluate one action body (already trimmed) and print it. */
static int eval_action(FILE *f, const json_t *data, const char *a, size_t len, berr_t *err)
{
    const char *sp = memchr(a, ' ', len);
    size_t fn_len = sp ? (size_t)(sp - a) : 0;
    const char *arg = sp ? sp + 1 : a;
    size_t arg_len = sp ? len - fn_len - 1 : len;
    int missing;

    while (arg_len > 0 && *arg == ' ') {
        arg++;
        arg_len--;
    }
    if (!is_path(arg, arg_len))
        return berr_set(err, 0, "template: cannot evaluate \"%.*s\": expected .Field or "
                        "FUNCTION .Field", (int)len, a);
    const json_t *v = resolve(data, arg, arg_len, &missing);
    if (fn_len == 0) {
        if (missing)
            fputs("<no value>", f);
        else
            print_value(f, v);
        return 0;
    }
    if (fn_len == 4 && memcmp(a, "json", 4) == 0) {
        char *text = missing ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(text ? text : "null", f);
        free(text);
        return 0;
    }
    if ((fn_len == 5 && memcmp(a, "upper", 5) == 0) ||
        (fn_len == 5 && memcmp(a, "lower", 5) == 0)) {
        char *buf = NULL;
        size_t blen = 0;
        FILE *mf = open_memstream(&buf, &blen);
        if (missing)
            fputs("<no value>", mf);
        else
            print_value(mf, v);
        fclose(mf);
        apply_case(buf, a[0] == 'u');
        fputs(buf, f);
        free(buf);
        return 0;
    }
    return berr_set(err, 0, "template: function \"%.*s\" not defined (known: json, upper, lower)",
                    (int)fn_len, a);
}

/* Copy literal text, turning the two-character escapes \t and \n into their bytes. */
static void put_text(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && (s[i + 1] == 't' || s[i + 1] == 'n')) {
            fputc(s[i + 1] == 't' ? '\t' : '\n', f);
            i++;
        } else {
            fputc(s[i], f);
        }
    }
}

int template_render(const char *tmpl, const json_t *data, char **out, berr_t *err)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    const char *p = tmpl;
    int trim_next = 0;

    while (*p) {
        const char *open = strstr(p, "{{");
        const char *text_end = open ? open : p + strlen(p);
        const char *text = p;
        if (trim_next)
            while (text < text_end && isspace((unsigned char)*text))
                text++;
        if (open == NULL) {
            put_text(f, text, (size_t)(text_end - text));
            break;
        }
        const char *body = open + 2;
        int trim_prev = body[0] == '-' && body[1] == ' ';
        const char *tail = text_end;
        if (trim_prev)
            while (tail > text && isspace((unsigned char)tail[-1]))
                tail--;
        put_text(f, text, (size_t)(tail - text));
        const char *close = strstr(body, "}}");
        if (close == NULL) {
            fclose(f);
            free(buf);
            return berr_set(err, 0, "template: unclosed action starting at \"%.20s\"", open);
        }
        const char *end = close;
        trim_next = end - body >= 2 && end[-1] == '-' && end[-2] == ' ';
        if (trim_prev)
            body += 2;
        if (trim_next)
            end -= 2;
        while (body < end && isspace((unsigned char)*body))
            body++;
        while (end > body && isspace((unsigned char)end[-1]))
            end--;
        if (eval_action(f, data, body, (size_t)(end - body), err) < 0) {
            fclose(f);
            free(buf);
            return -1;
        }
        p = close + 2;
    }
    fclose(f);
    *out = buf;
    return 0;
}
