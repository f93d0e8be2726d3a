/*
 * Tests of lib/arima: published figures (the airline model), closed forms,
 * recovery of simulated parameters, optimised-vs-reference filter paths,
 * checkpoints and degenerate input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arima.h"
#include "error.h"
#include "tests/test.h"

/* Reads data/classic/AirPassengers.csv (month,passengers) into y, returns n. */
static size_t read_air(double *y, size_t cap)
{
    FILE *f = fopen(tc_test_data_path("classic/AirPassengers.csv"), "r");
    if (!f)
        return 0;
    char line[256];
    size_t n = 0;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return 0;
    }
    while (n < cap && fgets(line, sizeof(line), f)) {
        char *c = strchr(line, ',');
        if (c)
            y[n++] = atof(c + 1);
    }
    fclose(f);
    return n;
}

TC_TEST(arima_airline_matches_r)
{
    double y[200];
    size_t n = read_air(y, 200);
    CHECK_INT_EQ(n, 144);
    tc_arima_spec_t s;
    tc_arima_spec_default(&s);
    s.d = 1;
    s.q = 1;
    s.D = 1;
    s.Q = 1;
    s.s = 12;
    s.lambda = 0.0; /* log */
    tc_arima_t *m = NULL;
    CHECK_OK(tc_arima_fit(&s, y, NULL, n, NULL, &m));
    const tc_arima_params_t *p = tc_arima_params(m);
    const tc_arima_info_t *in = tc_arima_info(m);
    /* R: arima(log(AirPassengers), c(0,1,1), seasonal = c(0,1,1)) */
    CHECK_NEAR(p->theta[0], -0.4018, 1e-3);
    CHECK_NEAR(p->stheta[0], -0.5569, 1e-3);
    CHECK_REL(p->sigma2, 0.001348, 0.02);
    CHECK_NEAR(in->loglik, 244.70, 0.05);
    CHECK_INT_EQ(in->nobs, 131);
    tc_arima_free(m);
}
