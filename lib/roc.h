/*
 * roc.h - ranking and calibration scores of a probabilistic classifier:
 * ROC AUC (Mann-Whitney, ties count 1/2) and the Brier score.
 * Pure functions; nothing is kept between calls.
 */
#ifndef TC_ROC_H
#define TC_ROC_H

#include <stddef.h>
#include <stdint.h>

/* AUC of score for the positive class (label != 0): the probability that a
 * random positive scores above a random negative, ties counting one half.
 * Allocates a sort workspace for the call. Returns 0, TC_EINVAL (NULL, a
 * non-finite score), TC_EDEGENERATE (only one class), TC_ENOMEM. */
int tc_roc_auc(const double *score, const uint8_t *label, size_t n, double *auc);

/* Brier score mean (p_i - label_i)^2 into *out. Returns 0 or TC_EINVAL. */
int tc_roc_brier(const double *p, const uint8_t *label, size_t n, double *out);

#endif
