/* What the cmocka unit tests share: the cmocka headers in the order it needs them and
 * assertions on berth's error convention. */
#ifndef BERTH_TESTUTIL_H
#define BERTH_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "berth/error.h"

/* Fail the test with the error message when R < 0. */
#define assert_ok(r, err)                                                                          \
    do {                                                                                           \
        if ((r) < 0)                                                                               \
            fail_msg("unexpected error: %s", berr_msg(err));                                       \
    } while (0)

/* Fail unless the message of ERR contains WANT. */
static inline void assert_msg_has(berr_t err, const char *want)
{
    assert_non_null(err);
    if (strstr(berr_msg(err), want) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", berr_msg(err), want);
}

/* Set NAME back to VALUE (unset when NULL) and free VALUE. */
static inline void restore_env(const char *name, char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

#endif
