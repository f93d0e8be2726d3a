/*
 * roc.c - ROC AUC by the Mann-Whitney U statistic: sort by score, give tied
 * scores their mean rank, AUC = (R_pos - n_pos (n_pos + 1)/2) / (n_pos n_neg)
 * where R_pos is the rank sum of the positives (Hanley & McNeil 1982).
 * Brier score: mean squared difference between probability and outcome
 * (Brier 1950).
 */
#include "roc.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

typedef struct pair {
    double s;
    uint8_t y;
} pair_t;

static int by_score(const void *a, const void *b)
{
    double x = ((const pair_t *)a)->s, y = ((const pair_t *)b)->s;
    return (x > y) - (x < y);
}

int tc_roc_auc(const double *score, const uint8_t *label, size_t n, double *auc)
{
    if (!score || !label || !auc)
        return TC_EINVAL;
    pair_t *v = malloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return TC_ENOMEM;
    int rc = 0;
    double npos = 0, rank_pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(score[i])) {
            rc = TC_EINVAL;
            goto out;
        }
        v[i].s = score[i];
        v[i].y = label[i] != 0;
        npos += v[i].y;
    }
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0) {
        rc = TC_EDEGENERATE;
        goto out;
    }
    qsort(v, n, sizeof(*v), by_score);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double pos = 0;
        while (j < n && v[j].s == v[i].s)
            pos += v[j++].y;
        /* ranks i+1..j share their mean */
        rank_pos += pos * ((double)(i + 1) + (double)j) / 2.0;
        i = j;
    }
    *auc = (rank_pos - npos * (npos + 1) / 2.0) / (npos * nneg);
out:
    free(v);
    return rc;
}

int tc_roc_brier(const double *p, const uint8_t *label, size_t n, double *out)
{
    if (!p || !label || !out || n == 0)
        return TC_EINVAL;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = p[i] - (label[i] != 0);
        s += e * e;
    }
    *out = s / (double)n;
    return 0;
}
