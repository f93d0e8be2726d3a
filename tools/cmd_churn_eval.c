/*
 * cmd_churn_eval.c - `tidecast churn-eval FILE`: the churn evaluation
 * protocol of shared/PEERS.md on a CDNOW-format purchase log.
 *
 * 1. Records of one customer on one day are one transaction; day 0 is
 *    1997-01-01; calibration days <= 272, holdout 273..545.
 * 2. Per customer x, t_x, T (weeks) from the calibration, y from the holdout;
 *    label churn = (y == 0).
 * 3. BG/NBD and MBG/NBD maximum likelihood on theta = ln(r, alpha, a, b) by
 *    L-BFGS from the protocol's five starts, best log-likelihood kept.
 * 4. Scores for the churn label, each with ROC AUC (ties 1/2) and Brier score:
 *    1 - P(alive); BG/NBD risk at tau = 39 weeks; MBG/NBD risk; recency
 *    T - t_x (AUC only); the supervised layer. E[Y(39)] against y: total and
 *    mean absolute error.
 * The supervised layer is the engine's own (lib/churn.h): the calibration
 * records are replayed day by day as purchase events into a churn table
 * (same-day merge, weeks), swept daily, refitted every four weeks on the
 * table's statistics, and trained only on the label windows that close inside
 * the calibration period (--label-weeks, default 13); its score is read at the
 * end of day 272. It never sees a holdout record.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgnbd.h"
#include "cdnow.h"
#include "churn.h"
#include "error.h"
#include "roc.h"

const char cmd_churn_eval_summary[] = "BG/NBD churn evaluation on a CDNOW-format log";

#define CAL_END 272
#define HOLD_END 545
#define TAU 39.0
#define DAY_MS (86400LL * 1000)
#define BASE_MS (852076800LL * 1000) /* 1997-01-01 00:00 UTC */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return b;
}

static void report(const char *name, const double *score, const uint8_t *lab, size_t n,
                   int brier, const char *peer)
{
    double auc = NAN, br = NAN;
    tc_roc_auc(score, lab, n, &auc);
    if (brier)
        tc_roc_brier(score, lab, n, &br);
    if (brier)
        printf("  %-34s AUC %.4f  Brier %.4f   (PEERS.md: %s)\n", name, auc, br, peer);
    else
        printf("  %-34s AUC %.4f                 (PEERS.md: %s)\n", name, auc, peer);
}

/* Replays the calibration through a churn table with the supervised layer and
 * writes each customer's published risk into sup[]. */
static int supervised_scores(const tc_cdnow_t *c, const tc_bgnbd_params_t *final_p,
                             double label_weeks, double *sup, uint64_t *labels)
{
    tc_churn_config_t cfg;
    tc_churn_config_default(&cfg);
    cfg.max_users = c->n_cust + 16;
    cfg.tx_mode = TC_CHURN_TX_PURCHASE;
    cfg.merge_same_day = true;
    cfg.time_unit_s = 7 * 86400.0;
    cfg.horizon = TAU;
    cfg.params = (tc_bgnbd_params_t){1, 1, 1, 1};
    cfg.activity_half_life = 4;
    cfg.supervised = true;
    cfg.label_horizon = label_weeks;
    cfg.sup_min_labels = 1;
    /* The evaluation's secret is irrelevant: nothing leaves this process. */
    static const char secret[] = "churn-eval: ephemeral pseudonym key";
    tc_churn_t *t;
    int rc = tc_churn_new(&cfg, secret, sizeof(secret) - 1, &t);
    if (rc)
        return rc;
    size_t ri = 0;
    for (int32_t day = 0; day <= CAL_END; day++) {
        size_t v;
        int64_t midnight = BASE_MS + day * DAY_MS;
        if (day > 0 && day % 28 == 0) {
            tc_churn_stats_t st;
            tc_bgnbd_fit_result_t fr;
            if ((rc = tc_churn_stats_export(t, midnight, &st)))
                goto out;
            if (tc_bgnbd_fit(TC_BGNBD_BG, &st.data, NULL, &fr) == 0)
                tc_churn_set_params(t, TC_BGNBD_BG, &fr.params);
            tc_churn_stats_deinit(&st);
        }
        tc_churn_sweep(t, midnight, c->n_cust + 16, 0, &v);
        for (; ri < c->n_records && c->rec[ri].day <= day; ri++) {
            char id[16];
            int n = snprintf(id, sizeof(id), "%u", c->rec[ri].cust);
            rc = tc_churn_observe(t, id, (size_t)n, midnight + DAY_MS / 2, TC_CHURN_EV_PURCHASE,
                                  c->rec[ri].usd);
            if (rc && rc != TC_ELATE)
                goto out;
        }
    }
    tc_churn_set_params(t, TC_BGNBD_BG, final_p);
    for (size_t k = 0; k < c->n_cust; k++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", c->cust[k]);
        tc_churn_score_t s;
        if ((rc = tc_churn_score(t, tc_churn_id(t, id, (size_t)n),
                                 BASE_MS + CAL_END * DAY_MS + DAY_MS / 2, &s)))
            goto out;
        sup[k] = s.risk;
    }
    tc_churn_counters_t ct;
    tc_churn_counters(t, &ct);
    *labels = ct.labels;
    rc = 0;
out:
    tc_churn_free(t);
    return rc;
}

int cmd_churn_eval(int argc, char **argv)
{
    const char *path = NULL;
    double label_weeks = 13;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tidecast churn-eval [--label-weeks N] [--timing-reps N] FILE\n"
                   "  FILE: CDNOW log (sample `cust sid YYYYMMDD ncds usd` or master with header).\n"
                   "  Calibration 1997-01-01..1997-09-30, holdout to 1998-06-30, weeks as unit.\n");
            return 0;
        } else if (!strcmp(argv[i], "--label-weeks") && i + 1 < argc) {
            label_weeks = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--timing-reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            path = argv[i];
        }
    }
    if (!path || !(label_weeks > 0) || reps < 1) {
        fprintf(stderr, "usage: tidecast churn-eval [--label-weeks N] [--timing-reps N] FILE\n");
        return 2;
    }
    size_t len, bad = 0;
    char *buf = slurp(path, &len);
    if (!buf) {
        fprintf(stderr, "churn-eval: cannot read %s\n", path);
        return 1;
    }
    tc_cdnow_t c;
    int rc = tc_cdnow_parse(buf, len, CAL_END, HOLD_END, &c, &bad);
    free(buf);
    if (rc) {
        fprintf(stderr, "churn-eval: %s: %s (line %zu)\n", path, tc_strerror(rc), bad);
        return 1;
    }
    size_t n = c.n_cust, zero = 0, churn = 0;
    uint8_t *lab = malloc(n);
    double *s1 = malloc(n * sizeof(double)), *s2 = malloc(n * sizeof(double)),
           *s3 = malloc(n * sizeof(double)), *s4 = malloc(n * sizeof(double)),
           *s5 = malloc(n * sizeof(double)), *ey = malloc(n * sizeof(double));
    if (!lab || !s1 || !s2 || !s3 || !s4 || !s5 || !ey) {
        rc = TC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        zero += c.x[i] == 0;
        lab[i] = c.y[i] == 0;
        churn += lab[i];
    }
    printf("CDNOW churn evaluation: %s\n", path);
    printf("  records %zu, same-day records merged %zu\n", c.n_records, c.merged);
    printf("  customers / without repeat purchase / churners: %zu / %zu / %zu (%.1f%%)\n", n,
           zero, churn, 100.0 * churn / n);

    tc_bgnbd_data_t d = {n, c.x, c.t_x, c.T, NULL};
    tc_bgnbd_fit_result_t bg, mbg;
    double times[64];
    if (reps > 64)
        reps = 64;
    for (int k = 0; k < reps; k++) {
        double t0 = now_s();
        rc = tc_bgnbd_fit(TC_BGNBD_BG, &d, NULL, &bg);
        times[k] = now_s() - t0;
        if (rc)
            goto out;
    }
    qsort(times, (size_t)reps, sizeof(double), cmp_double);
    if ((rc = tc_bgnbd_fit(TC_BGNBD_MBG, &d, NULL, &mbg)))
        goto out;
    printf("BG/NBD fit (5 starts, L-BFGS on log-parameters)\n");
    printf("  r %.5f  alpha %.5f  a %.5f  b %.5f   (PEERS.md: 0.24259 4.41360 0.79292 2.42591)\n",
           bg.params.r, bg.params.alpha, bg.params.a, bg.params.b);
    printf("  log-likelihood %.4f   (PEERS.md: -9582.4292)\n", bg.loglik);
    printf("  fit wall time %.4f s, median of %d (%d likelihood evaluations)   (PEERS.md scipy: 0.049 s)\n",
           times[reps / 2], reps, bg.iterations);
    printf("MBG/NBD fit\n  r %.5f  alpha %.5f  a %.5f  b %.5f  log-likelihood %.4f\n", mbg.params.r,
           mbg.params.alpha, mbg.params.a, mbg.params.b, mbg.loglik);

    double tot_e = 0, tot_y = 0, mae = 0, tot_em = 0, mae_m = 0;
    for (size_t i = 0; i < n; i++) {
        double e, em;
        if ((rc = tc_bgnbd_expected(TC_BGNBD_BG, &bg.params, c.x[i], c.t_x[i], c.T[i], TAU, &e)) ||
            (rc = tc_bgnbd_expected(TC_BGNBD_MBG, &mbg.params, c.x[i], c.t_x[i], c.T[i], TAU, &em)))
            goto out;
        ey[i] = -e;
        tot_e += e;
        tot_em += em;
        tot_y += c.y[i];
        mae += fabs(e - c.y[i]);
        mae_m += fabs(em - c.y[i]);
        s1[i] = 1.0 - tc_bgnbd_p_alive(TC_BGNBD_BG, &bg.params, c.x[i], c.t_x[i], c.T[i]);
        s2[i] = tc_bgnbd_risk(TC_BGNBD_BG, &bg.params, c.x[i], c.t_x[i], c.T[i], TAU);
        s3[i] = tc_bgnbd_risk(TC_BGNBD_MBG, &mbg.params, c.x[i], c.t_x[i], c.T[i], TAU);
        s4[i] = c.T[i] - c.t_x[i];
    }
    printf("Holdout (39 weeks)\n");
    printf("  BG/NBD  expected / actual purchases: %.1f / %.0f (%+.1f%%), MAE per customer %.4f"
           "   (PEERS.md: 1653.4 / 1882, 0.786)\n",
           tot_e, tot_y, 100 * (tot_e - tot_y) / tot_y, mae / n);
    printf("  MBG/NBD expected / actual purchases: %.1f / %.0f (%+.1f%%), MAE per customer %.4f\n",
           tot_em, tot_y, 100 * (tot_em - tot_y) / tot_y, mae_m / n);

    uint64_t labels = 0;
    if ((rc = supervised_scores(&c, &bg.params, label_weeks, s5, &labels)))
        goto out;
    printf("Label: no purchase in the holdout (positive class), all %zu customers\n", n);
    report("1 - P(alive)  [BG/NBD]", s1, lab, n, 1, "AUC 0.316");
    report("risk tau=39w  [BG/NBD]", s2, lab, n, 1, "AUC 0.757, Brier 0.161");
    report("risk tau=39w  [MBG/NBD]", s3, lab, n, 1, "-");
    report("-E[Y(39)]     [BG/NBD]", ey, lab, n, 0, "extra");
    report("recency T - t_x", s4, lab, n, 0, "AUC 0.771");
    char name[80];
    snprintf(name, sizeof(name), "supervised layer (label %gw, %llu labels)", label_weeks,
             (unsigned long long)labels);
    report(name, s5, lab, n, 1, "logistic (x,t_x,T) 5-fold CV: AUC 0.776, Brier 0.157");
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "churn-eval: %s\n", tc_strerror(rc));
    free(lab);
    free(s1);
    free(s2);
    free(s3);
    free(s4);
    free(s5);
    free(ey);
    tc_cdnow_deinit(&c);
    return rc ? 1 : 0;
}
