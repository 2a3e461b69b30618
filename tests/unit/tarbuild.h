/* Tars built in memory for the unit tests that feed archives to berthd's extractors: a
 * pax-restricted libarchive writer into an io_buf. tb_begin opens one, the test writes its
 * entries (its own helpers decide their fields), tb_end closes it; the tar is then in
 * t.buf.data / t.buf.len, which the test frees. */
#ifndef BERTH_TARBUILD_H
#define BERTH_TARBUILD_H

#include "tests/unit/testutil.h"

#include <archive.h>
#include <archive_entry.h>

#include "runtime-agent/image/io.h"

struct tarb {
    struct archive *a;
    struct io_buf buf;
    struct io_writer w;
};

static inline void tb_begin(struct tarb *t)
{
    memset(t, 0, sizeof(*t));
    t->w = io_buf_writer(&t->buf);
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    assert_int_equal(io_archive_write_open(t->a, &t->w), ARCHIVE_OK);
}

static inline void tb_end(struct tarb *t)
{
    assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
    archive_write_free(t->a);
}

#endif
