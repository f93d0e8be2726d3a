/*
 * fixture_cdnow.h - the CDNOW sample as the churn tests use it.
 */
#ifndef TC_TEST_FIXTURE_CDNOW_H
#define TC_TEST_FIXTURE_CDNOW_H

#include <stddef.h>

#include "cdnow.h"

/* Reads the file at tc_test_data_path(rel) whole into a malloc'd buffer with
 * a terminating NUL (not counted in *len); the caller frees it. NULL if the
 * file cannot be read or memory runs out. */
char *tc_test_read_data(const char *rel, size_t *len);

/* Parses data/cdnow/CDNOW_sample.txt into *c with the churn protocol's
 * periods (calibration to day 272 = 1997-09-30, holdout to day 545 =
 * 1998-06-30). Returns tc_cdnow_parse's code, or TC_EIO if the file cannot
 * be read; *c is released with tc_cdnow_deinit either way. */
int tc_test_cdnow_sample(tc_cdnow_t *c);

#endif
