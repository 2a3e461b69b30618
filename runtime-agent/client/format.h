/* docker's human output: durations ("2 minutes"), sizes ("1.98MB", "23.54GiB"), truncation
 * with an ellipsis, and tables whose columns are padded to their widest cell plus three
 * spaces (at least ten), as docker's tabwriter lays them out. */
#ifndef BERTHD_CLIENT_FORMAT_H
#define BERTHD_CLIENT_FORMAT_H

#include <stddef.h>
#include <stdio.h>

/* Decimal units, three significant digits: "1.98MB". */
char *fmt_size(double bytes);
/* Binary units, four significant digits: "23.54GiB". */
char *fmt_bytes_binary(double bytes);
/* S cut to N characters (UTF-8 aware), the last one replaced by "…" when cut. */
char *fmt_trunc(const char *s, size_t n);

struct table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, owned */
};

void table_init(struct table *t, size_t ncols);
/* Append a row of ncols cells (copied; NULL is empty). */
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
