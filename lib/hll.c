/*
 * hll.c - HyperLogLog registers and Ertl's improved estimator (hll.h).
 *
 * With m = 2^p registers, q = 64 - p, and C[k] the number of registers
 * holding k (0 <= k <= q + 1), Ertl (2017, "New cardinality estimation
 * algorithms for HyperLogLog sketches", Algorithm 6) estimates
 *
 *   n^ = alpha_inf m^2 / ( m sigma(C[0]/m) + sum_{k=1..q} C[k] 2^-k
 *                          + m tau(1 - C[q+1]/m) 2^-q ),
 *   alpha_inf = 1 / (2 ln 2),
 *   sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1),
 *   tau(x)   = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3.
 *
 * sigma carries the linear-counting information of empty registers (it
 * reduces to m ln(m / C[0]) behaviour for small n) and tau corrects for
 * saturated registers, so no empirical bias table (Heule et al. 2013) is
 * needed. The sum is evaluated by Horner's scheme from k = q down.
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hll.h"

int tc_hll_init(tc_hll_t *h, unsigned p, uint8_t *regs)
{
    if (p < TC_HLL_MIN_P || p > TC_HLL_MAX_P || !regs)
        return TC_EINVAL;
    h->p = (uint8_t)p;
    h->regs = regs;
    memset(regs, 0, tc_hll_size(p));
    return 0;
}

tc_hll_t *tc_hll_new(unsigned p)
{
    if (p < TC_HLL_MIN_P || p > TC_HLL_MAX_P)
        return NULL;
    tc_hll_t *h = malloc(sizeof(*h));
    uint8_t *regs = calloc(tc_hll_size(p), 1);
    if (!h || !regs) {
        free(h);
        free(regs);
        return NULL;
    }
    h->p = (uint8_t)p;
    h->regs = regs;
    return h;
}

void tc_hll_free(tc_hll_t *h)
{
    if (!h)
        return;
    free(h->regs);
    free(h);
}

void tc_hll_clear(tc_hll_t *h)
{
    memset(h->regs, 0, tc_hll_size(h->p));
}

uint64_t tc_hll_hash(const void *data, size_t len, const uint8_t *key16)
{
    static const uint8_t zero_key[crypto_shorthash_KEYBYTES];
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, data, len, key16 ? key16 : zero_key);
    uint64_t v;
    memcpy(&v, out, sizeof(v));
    return v;
}

/* sigma(x) of the header comment; infinite at x = 1 (all registers empty). */
static double sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, zprev;
    do {
        x *= x;
        zprev = z;
        z += x * y;
        y += y;
    } while (z != zprev);
    return z;
}

/* tau(x) of the header comment. */
static double tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, zprev;
    do {
        x = sqrt(x);
        zprev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zprev);
    return z / 3.0;
}

void tc_hll_histogram(const tc_hll_t *h, uint32_t *hist)
{
    size_t m = tc_hll_size(h->p);
    memset(hist, 0, TC_HLL_HIST_LEN * sizeof(*hist));
    for (size_t i = 0; i < m; i++)
        hist[h->regs[i]]++;
}

double tc_hll_estimate_histogram(unsigned p, const uint32_t *c)
{
    unsigned q = 64 - p;
    double md = (double)tc_hll_size(p);
    if ((double)c[0] == md)
        return 0.0;
    double z = md * tau(1.0 - (double)c[q + 1] / md);
    for (unsigned k = q; k >= 1; k--)
        z = 0.5 * (z + (double)c[k]);
    z += md * sigma((double)c[0] / md);
    return (md * md / (2.0 * log(2.0))) / z;
}

double tc_hll_estimate(const tc_hll_t *h)
{
    uint32_t c[TC_HLL_HIST_LEN];
    tc_hll_histogram(h, c);
    return tc_hll_estimate_histogram(h->p, c);
}

int tc_hll_merge(tc_hll_t *dst, const tc_hll_t *src)
{
    if (dst->p != src->p)
        return TC_EINVAL;
    size_t m = tc_hll_size(dst->p);
    for (size_t i = 0; i < m; i++)
        if (dst->regs[i] < src->regs[i])
            dst->regs[i] = src->regs[i];
    return 0;
}
