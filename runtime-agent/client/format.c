#include "runtime-agent/client/format.h"

#include <stdlib.h>
#include <string.h>

#include "berth/util.h"

static char *scaled(double v, double base, const char *const *units, size_t n, int digits)
{
    size_t i = 0;
    while (v >= base && i + 1 < n) {
        v /= base;
        i++;
    }
    return xasprintf("%.*g%s", digits, v, units[i]);
}

char *fmt_size(double bytes)
{
    static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    return scaled(bytes, 1000.0, u, sizeof(u) / sizeof(u[0]), 3);
}

char *fmt_bytes_binary(double bytes)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    return scaled(bytes, 1024.0, u, sizeof(u) / sizeof(u[0]), 4);
}

/* Characters (not continuation bytes) in S. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

char *fmt_trunc(const char *s, size_t n)
{
    if (n == 0 || width(s) <= n)
        return xstrdup(s);
    size_t chars = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == n - 1)
            break;
    }
    return xasprintf("%.*s…", (int)i, s);
}

void table_init(struct table *t, size_t ncols)
{
    *t = (struct table){.ncols = ncols};
}

void table_add(struct table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *));
        if (t->cells == NULL)
            abort();
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "");
    t->nrows++;
}

void table_print(const struct table *t, FILE *out)
{
    size_t *w = xcalloc(t->ncols, sizeof(size_t));

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            fputs(cell, out);
            /* docker's tabwriter: padding 3, minimum cell width 10 */
            size_t cw = w[c] + 3 < 10 ? 10 : w[c] + 3;
            if (c + 1 < t->ncols)
                fprintf(out, "%*s", (int)(cw - width(cell)), "");
        }
        fputc('\n', out);
    }
    free(w);
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (struct table){0};
}
