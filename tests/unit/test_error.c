/* Tests of the error table. */
#include "error.h"
#include "tests/test.h"

TC_TEST(error_codes_distinct_and_named)
{
    CHECK_INT_EQ(TC_ENOMEM, -1);
    CHECK(TC_EINVAL < TC_ENOMEM);
    CHECK_STR_EQ(tc_strerror(TC_OK), "ok");
    CHECK_STR_EQ(tc_errname(TC_EBAD_TIMESTAMP), "TC_EBAD_TIMESTAMP");
    CHECK_STR_EQ(tc_strerror(12345), "unknown error");
    CHECK(tc_error_retriable(TC_EAGAIN));
    CHECK(!tc_error_retriable(TC_EPARSE));
}
