/* arima_auto.c - automatic order selection (placeholder until implemented). */
#include "arima_impl.h"
#include "error.h"

int tc_arima_auto(const double *y, const double *x, size_t n, int n_exog, int s,
                  double lambda, const tc_arima_opts_t *opts, tc_arima_t **out)
{
    (void)y; (void)x; (void)n; (void)n_exog; (void)s; (void)lambda; (void)opts; (void)out;
    return TC_EUNSUPPORTED;
}
