/* Test driver: a shared object with a function but no `berth_driver` descriptor. */
#include "berth/driver.h"

int nodesc_answer(void);

int nodesc_answer(void)
{
    return 42;
}
