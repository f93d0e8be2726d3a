/*
 * cdnow.h - the CDNOW purchase log and the churn evaluation protocol's
 * per-customer statistics (shared/PEERS.md, "Churn: BG/NBD on CDNOW").
 *
 * Input text (the caller reads the file): the sample's lines are
 * `cust sid YYYYMMDD ncds usd`, the master file's `cust YYYYMMDD ncds usd`
 * after a header line; lines whose date does not parse are skipped as headers.
 * Only (cust, date) enter the statistics; records of one customer on one day
 * are one transaction. Days count from 1997-01-01 (day 0).
 *
 * Per customer, with cal_end the last calibration day (272 = 1997-09-30):
 *   x = distinct calibration days - 1, t_x = (last calibration day - first)/7,
 *   T = (cal_end - first)/7 (weeks), y = distinct days in (cal_end, hold_end].
 * Customers with no calibration record are left out.
 */
#ifndef TC_CDNOW_H
#define TC_CDNOW_H

#include <stddef.h>
#include <stdint.h>

typedef struct tc_cdnow_record {
    uint32_t cust; /* customer number as printed */
    int32_t day;   /* days since 1997-01-01 */
    double usd;    /* dollar value */
} tc_cdnow_record_t;

typedef struct tc_cdnow {
    /* all parsed records, sorted by (day, cust) */
    size_t n_records;
    tc_cdnow_record_t *rec;
    /* customers, sorted by number; arrays of n_cust */
    size_t n_cust;
    uint32_t *cust;
    int32_t *first_day;
    uint32_t *x;
    double *t_x;
    double *T;
    uint32_t *y;
    size_t merged; /* records folded into an earlier same-day record */
} tc_cdnow_t;

/* Parses buf (len bytes) into *out (caller-allocated, owned arrays freed by
 * tc_cdnow_deinit even on failure). Returns 0, TC_EINVAL, TC_EPARSE (a data
 * line with a bad field; *bad_line gets its 1-based number when non-NULL),
 * TC_ETOOFEW (no records), TC_ENOMEM. */
int tc_cdnow_parse(const char *buf, size_t len, int32_t cal_end, int32_t hold_end,
                   tc_cdnow_t *out, size_t *bad_line);

void tc_cdnow_deinit(tc_cdnow_t *c);

/* Days since 1997-01-01 of a proleptic Gregorian date. */
int32_t tc_cdnow_day(int y, int m, int d);

#endif
