/*
 * bench/lstm.c - LSTM training-step throughput across batch sizes.
 *
 * For B = 1, 64, 1024, 16384 series (one global model, hidden 32, one layer,
 * BPTT 8, season 24, inputs 6): times tc_lstm_step(train = true) on all B
 * series per tick, after a warm-up that fills every window. Reports
 * series*steps/s, the sgemm FLOP rate the step achieves, and beside it the
 * rate of the bare sgemm calls of the same shapes in the same run (the
 * step's ceiling), plus the memory per series.
 *   FLOPs per tick = 2 * 4H * (I + H) * B * (3k + 2):
 *   k forward gate products, k input-gradient products, one weight-gradient
 *   product over k*B rows, one forward over 2B rows (window advance + forecast).
 * usage: build/bench/lstm [seconds-per-case (default 1.0)] [max B] [min B]
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "lstm.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The sgemm calls of one training tick, on scratch buffers. */
static void bare_tick(int B, int G, int w, int k, float *x, float *W, float *gt, float *dW)
{
    for (int j = 0; j < k; j++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, w, 1.0f, x + (size_t)j * B * w, w, W, w,
                    0.0f, gt + (size_t)j * B * G, G);
    for (int j = 0; j < k; j++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, w, G, 1.0f, gt + (size_t)j * B * G, G, W, w,
                    0.0f, x + (size_t)j * B * w, w);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, w, k * B, 1.0f, gt, G, x, w, 1.0f, dW, w);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2 * B, G, w, 1.0f, x, w, W, w, 0.0f, gt, G);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    int maxb = argc > 2 ? atoi(argv[2]) : 16384;
    int minb = argc > 3 ? atoi(argv[3]) : 1;
    const int sizes[] = {1, 64, 1024, 16384};
    printf("# LSTM training step (hidden 32, 1 layer, bptt 8, inputs 6), one thread\n");
    printf("%7s %14s %11s %9s %11s %7s %12s %13s\n", "series", "series*step/s", "us/tick", "GFLOP/s",
           "sgemm GF/s", "share", "state B/ser", "workspace B/ser");
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        int B = sizes[si];
        if (B > maxb) break;
        if (B < minb) continue;
        tc_lstm_config_t c;
        tc_lstm_config_default(&c);
        c.max_series = B;
        c.max_batch = B;
        tc_lstm_t *m = NULL;
        int rc = tc_lstm_new(&c, &m);
        if (rc) {
            fprintf(stderr, "tc_lstm_new: %s\n", tc_strerror(rc));
            return 1;
        }
        int32_t *slots = malloc(sizeof(int32_t) * B);
        int64_t *ts = malloc(sizeof(int64_t) * B);
        float *y = malloc(sizeof(float) * B), *mu = malloc(sizeof(float) * B);
        for (int i = 0; i < B; i++) slots[i] = i;
        int t = 0;
        /* warm-up: fill the windows */
        for (; t < c.bptt + 2; t++) {
            for (int i = 0; i < B; i++) {
                ts[i] = 1700000000000LL + (int64_t)t * 3600000;
                y[i] = (float)(100 + 10 * sin(t / 3.8 + i) + (i % 7));
            }
            tc_lstm_step(m, (size_t)B, slots, ts, y, NULL, true, mu, NULL);
        }
        int ticks = 0;
        double t0 = now_s(), el = 0;
        do {
            for (int i = 0; i < B; i++) {
                ts[i] = 1700000000000LL + (int64_t)t * 3600000;
                y[i] = (float)(100 + 10 * sin(t / 3.8 + i) + (i % 7));
            }
            tc_lstm_step(m, (size_t)B, slots, ts, y, NULL, true, mu, NULL);
            t++;
            ticks++;
            el = now_s() - t0;
        } while (el < secs);
        int H = c.hidden, G = 4 * H, w = tc_lstm_n_input(m) + H, k = c.bptt;
        double flops = 2.0 * G * w * (double)B * (3 * k + 2);
        double gfs = flops * ticks / el / 1e9;
        /* bare sgemm of the same shapes */
        float *x = calloc((size_t)(k > 2 ? k : 2) * B * w, sizeof(float));
        float *gt = calloc((size_t)(k > 2 ? k : 2) * B * G, sizeof(float));
        float *W = calloc((size_t)G * w, sizeof(float)), *dW = calloc((size_t)G * w, sizeof(float));
        for (size_t q = 0; q < (size_t)G * w; q++) W[q] = 0.01f * (float)(q % 13);
        bare_tick(B, G, w, k, x, W, gt, dW); /* first touch of the pages */
        int bt = 0;
        double b0 = now_s(), bel = 0;
        do {
            bare_tick(B, G, w, k, x, W, gt, dW);
            bt++;
            bel = now_s() - b0;
        } while (bel < secs / 2);
        double bgfs = flops * bt / bel / 1e9;
        printf("%7d %14.0f %11.1f %9.2f %11.2f %6.0f%% %12zu %13zu\n", B, (double)B * ticks / el,
               1e6 * el / ticks, gfs, bgfs, 100 * gfs / bgfs, tc_lstm_series_bytes(m),
               tc_lstm_workspace_bytes_per_row(m));
        fflush(stdout);
        free(x);
        free(gt);
        free(W);
        free(dW);
        free(slots);
        free(ts);
        free(y);
        free(mu);
        tc_lstm_free(m);
    }
    return 0;
}
