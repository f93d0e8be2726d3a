/*
 * lstm.c - global LSTM with a Gaussian head, batched across series, trained
 * online by truncated backpropagation through time and Adam.
 *
 * Cell (Hochreiter & Schmidhuber 1997, with forget gate, Gers et al. 2000),
 * for layer l at step t with input x_t (the layer below's h, or the features)
 * and a = W_l [x_t; h_{t-1}] + b_l split into four blocks of H rows:
 *     i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
 *     c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)
 * Head (DeepAR, Salinas, Flunkert, Gasthaus & Januschowski 2020): on the top
 * layer's h, mu = w_mu.h + b_mu and s = w_s.h + b_s (log-variance); the
 * loss per observation in scaled units z is the Gaussian negative
 * log-likelihood without its constant,  0.5 * (s + (z - mu)^2 exp(-s)),  so
 * dL/dmu = -(z - mu) exp(-s) and dL/ds = 0.5 (1 - (z - mu)^2 exp(-s)).
 * Backward pass (the standard LSTM gradients), with dh, dc flowing from t+1:
 *     dc  += dh * o * (1 - tanh(c)^2)
 *     da_o = dh * tanh(c) * o (1 - o)      da_i = dc * g * i (1 - i)
 *     da_g = dc * i * (1 - g^2)            da_f = dc * c_{t-1} * f (1 - f)
 *     dc_{t-1} = dc * f                    [dx; dh_{t-1}] = W_l^T da
 *     dW_l += da [x; h_{t-1}]^T            db_l += da
 * Adam (Kingma & Ba 2015) with bias correction, after clipping the global
 * gradient norm (Pascanu, Mikolov & Bengio 2013).
 *
 * Inputs per step (n_input = 2 + 4 + n_exog, or 1 + 4 + n_exog without a
 * season): the series' newest value and its value one season before the
 * target bucket, both scaled as z = (y - m) / s by the series' running
 * exponentially weighted mean m and deviation s (clamped to +-10); the
 * target bucket's hour of day and day of week as sin/cos pairs; the
 * exogenous features active in the target bucket. The seasonal lag is
 * DeepAR's lagged-value input: it lets one small network carry the daily
 * pattern of series whose phase and level differ.
 *
 * Training is truncated BPTT(k, 1): each tick, for every stepped series
 * that had a forecast, the window of its last k inputs is re-run from the
 * state saved before the window, with the current weights, and the loss of
 * the newly observed value is backpropagated through those k steps. Only the
 * inputs (k x n_input floats) and two states are kept per series, not k
 * steps of activations, so memory per series stays small while the gradient
 * is the exact gradient of the truncated objective; the price is k forward
 * steps per tick instead of one. All series of a tick share one Adam step on
 * the mean loss. Forward and backward are batched: one sgemm per layer and
 * step for the gates, one per layer and step for the input gradients, and a
 * single sgemm per layer over all k steps for the weight gradient.
 *
 * Multi-step forecasts feed the mean back (recursive strategy) rather than
 * using a direct multi-horizon head: the same one-step head and objective
 * serve every horizon, training needs no H-step delay before a target is
 * known (a direct head learns horizon h only h buckets later, which matters
 * for a series that appears mid-stream), the calendar and the announced
 * exogenous features of each future bucket enter at their own step, and the
 * head stays 2 x H whatever horizon is asked. The cost is H batched forward
 * steps per forecast and intervals that are conditional on the fed-back path.
 *
 * Intervals: the head's variance is learnt in-sample and, after many passes
 * or on a changing series, is too confident; each series therefore keeps a
 * running mean c of its squared standardised one-step errors
 * ((z - mu)^2 exp(-s), measured before the model trains on the value) and
 * reports the deviation s_scale * sqrt(c) * exp(s/2): a per-series variance
 * recalibration that is 1 for a calibrated head.
 *
 * Gates use sigma(x) = 1 / (1 + e^-x) and tanh(x) = 2 sigma(2x) - 1 with
 * a branch-free e^x (range reduction to 2^k 2^f, degree-6 polynomial for 2^f,
 * relative error about 2e-7), written so that gcc vectorises the loops:
 * libm expf/tanhf dominate the cell otherwise (FACTS.md).
 */
#include "lstm.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tidecast/v1/lstm.pb-c.h"

#define SNAPSHOT_VERSION 1u
#define ZCLAMP 10.0f
/* Weight, in observations, of the initial calibration factor 1. */
#define CAL_PRIOR 10

/* Per-series bookkeeping; the float state lives in the model's pool at
 * pool + slot * S, laid out as
 *   h0[L*H] c0[L*H]  state before the oldest input of the window
 *   h[L*H]  c[L*H]   state after the newest input
 *   win[k*NI]         ring of the last k inputs, oldest at index head
 *   lag[season]      ring of raw values, next write at lag_pos */
typedef struct series {
    int64_t last_ms;   /* start of the newest closed bucket */
    double mean, var;  /* running scaler */
    uint64_t count;    /* finite values seen */
    float pred_mu;     /* newest forecast, scaled units */
    float pred_ls;     /* its log-variance */
    double cal;        /* running mean of squared standardised one-step errors */
    uint64_t n_cal;    /* errors in it */
    uint32_t n_in;     /* inputs in the window, <= bptt */
    uint32_t head;     /* ring index of the oldest input */
    uint32_t n_lag;    /* values in the lag ring, <= season */
    uint32_t lag_pos;  /* next write position in the lag ring */
    uint8_t active;
    uint8_t has_pred;
    uint32_t stamp;    /* tick of the last call that named this slot */
} series_t;

struct tc_lstm {
    tc_lstm_config_t cfg;
    int L, H, NI, G;            /* layers, hidden, input, 4H */
    int in[TC_LSTM_MAX_LAYERS]; /* input width of each layer */
    size_t np;                 /* parameter count */
    float *p, *g, *am, *av;    /* parameters, gradient, Adam moments */
    uint64_t adam_t;
    size_t off_w[TC_LSTM_MAX_LAYERS], off_b[TC_LSTM_MAX_LAYERS], off_wy, off_by;
    float *gate_scale;         /* 4H: 1 for sigmoid gates, 2 for the tanh block */

    series_t *ser;
    float *pool;
    size_t S;                  /* floats per series */
    uint32_t tick;

    /* Workspaces, step-major: step j, row r at [j * rows + r]. */
    size_t rows;               /* rows per step the buffers hold */
    int kmax;
    float *xin;                /* kmax x rows x NI */
    float *xh[TC_LSTM_MAX_LAYERS];   /* kmax x rows x (in_l + H) */
    float *gate[TC_LSTM_MAX_LAYERS]; /* kmax x rows x 4H, activated */
    float *cs[TC_LSTM_MAX_LAYERS];   /* kmax x rows x H */
    float *hs[TC_LSTM_MAX_LAYERS];   /* kmax x rows x H */
    float *dg[TC_LSTM_MAX_LAYERS];   /* kmax x rows x 4H */
    float *h0w, *c0w;          /* rows x L x H each (start state) */
    float *dxh;                /* rows x (max in + H) */
    float *dh, *dc;            /* rows x L x H */
    float *out;                /* rows x 2: mu, s */
    float *dout;               /* rows x 2 */
    float *z;                  /* rows */
    float *path;               /* max_batch x max_horizon raw means (forecast) */
    uint8_t *mask;             /* kmax x rows, 1 = a real step */
    int32_t *idx;              /* rows: batch position */
    int32_t *idx2;             /* rows */
};

/* ---- fast gate functions ---- */

/* The clamps below are float compares; gcc if-converts (and so vectorises)
 * them only when compares are taken as non-trapping, which nothing here
 * relies on. Applied to the gate functions and the loops that inline them. */
#define GATE_FN __attribute__((optimize("no-trapping-math")))
#define GATE_LOOP GATE_FN __attribute__((target_clones("avx512f", "avx2", "default")))
/* Adam's square roots vectorise only without errno (inputs are >= 0 anyway). */
#define ADAM_LOOP __attribute__((optimize("no-trapping-math", "no-math-errno"))) \
    __attribute__((target_clones("avx512f", "avx2", "default")))

/* e^x for x in about [-87, 88]; callers clamp. 2^k 2^f with k = round(x log2 e). */
GATE_FN static inline float fast_exp(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    /* Written so that NaN (from overflowing pre-activations) takes the lower
     * clamp: converting it to an integer below would be undefined. */
    x = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
    float t = x * 1.44269504088896341f;
    float kf = (t + magic) - magic;
    float f = (t - kf) * 0.69314718055994531f; /* |f| <= 0.347 */
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720))))));
    int32_t ki = (int32_t)kf + 127;
    uint32_t bits = (uint32_t)ki << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

GATE_FN static inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }
GATE_FN static inline float fast_tanh(float x) { return 2.0f / (1.0f + fast_exp(-2.0f * x)) - 1.0f; }

/* Activates one row of gate pre-activations a (4H) in place after adding the
 * bias: sigma on the i, f, o blocks, tanh = 2 sigma(2x) - 1 on the g block
 * (sc holds the factor 1 or 2 per column). n is a multiple of 8. */
GATE_LOOP static void gates_act(float *restrict a, const float *restrict sc, const float *restrict bias, int n, int H)
{
    for (int q = 0; q < n; q += 8)
        for (int u = 0; u < 8; u++) a[q + u] = fast_sigmoid(sc[q + u] * (a[q + u] + bias[q + u]));
    float *restrict gg = a + 2 * H;
    for (int q = 0; q < H; q += 8)
        for (int u = 0; u < 8; u++) gg[q + u] = 2.0f * gg[q + u] - 1.0f;
}

/* c = f c_prev + i g, h = o tanh(c) for one row (activated gates a). */
GATE_LOOP static void cell(const float *restrict a, const float *restrict cp, float *restrict c, float *restrict h, int H)
{
    const float *ig = a, *fg = a + H, *gg = a + 2 * H, *og = a + 3 * H;
    for (int q = 0; q < H; q += 8)
        for (int u = 0; u < 8; u++) {
            float cc = fg[q + u] * cp[q + u] + ig[q + u] * gg[q + u];
            c[q + u] = cc;
            h[q + u] = og[q + u] * fast_tanh(cc);
        }
}

/* Gate pre-activation gradients da (4H) of one row from dh and dc (in: from
 * the step after; out: dc becomes dc_{t-1}). */
GATE_LOOP static void cell_grad(const float *restrict a, const float *restrict c, const float *restrict cp,
                              const float *restrict dh, float *restrict dc, float *restrict da, int H)
{
    const float *ig = a, *fg = a + H, *gg = a + 2 * H, *og = a + 3 * H;
    float *dai = da, *daf = da + H, *dag = da + 2 * H, *dao = da + 3 * H;
    for (int q = 0; q < H; q += 8) {
        float tc[8], dcc[8];
        for (int u = 0; u < 8; u++) {
            tc[u] = fast_tanh(c[q + u]);
            dcc[u] = dc[q + u] + dh[q + u] * og[q + u] * (1.0f - tc[u] * tc[u]);
        }
        for (int u = 0; u < 8; u++) dai[q + u] = dcc[u] * gg[q + u] * ig[q + u] * (1.0f - ig[q + u]);
        for (int u = 0; u < 8; u++) daf[q + u] = dcc[u] * cp[q + u] * fg[q + u] * (1.0f - fg[q + u]);
        for (int u = 0; u < 8; u++) dag[q + u] = dcc[u] * ig[q + u] * (1.0f - gg[q + u] * gg[q + u]);
        for (int u = 0; u < 8; u++) dao[q + u] = dh[q + u] * tc[u] * og[q + u] * (1.0f - og[q + u]);
        for (int u = 0; u < 8; u++) dc[q + u] = dcc[u] * fg[q + u];
    }
}

/* ---- small helpers ---- */

static float clampz(double z)
{
    if (!(z > -ZCLAMP)) return z != z ? 0.0f : -ZCLAMP;
    if (z > ZCLAMP) return ZCLAMP;
    return (float)z;
}

static double scaler_sd(const series_t *s)
{
    double sd = sqrt(s->var > 0 ? s->var : 0);
    double floor_ = 1e-3 * fabs(s->mean);
    if (floor_ < 1e-6) floor_ = 1e-6;
    return sd > floor_ ? sd : floor_;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uniform_pm(uint64_t *rng, float a)
{
    double u = (double)(splitmix64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)((2.0 * u - 1.0) * a);
}

static float *series_f(const tc_lstm_t *m, int32_t slot) { return m->pool + (size_t)slot * m->S; }

void tc_lstm_config_default(tc_lstm_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->layers = 1;
    cfg->hidden = 32;
    cfg->n_exog = 0;
    cfg->season = 24;
    cfg->bptt = 8;
    cfg->max_series = 1024;
    cfg->max_batch = 1024;
    cfg->max_horizon = 24;
    cfg->lr = 1e-3f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->adam_eps = 1e-8f;
    cfg->clip = 5.0f;
    cfg->scale_alpha = 1.0f / 168;
    cfg->bucket_ms = 3600000;
    cfg->seed = 1;
}

static bool config_ok(const tc_lstm_config_t *c)
{
    return c->layers >= 1 && c->layers <= TC_LSTM_MAX_LAYERS && c->hidden >= 16 &&
           c->hidden <= 128 && c->hidden % 8 == 0 && c->n_exog >= 0 &&
           c->n_exog <= TC_LSTM_MAX_EXOG && c->season >= 0 && c->season <= TC_LSTM_MAX_SEASON &&
           c->bptt >= 1 && c->bptt <= TC_LSTM_MAX_BPTT && c->max_series >= 1 &&
           c->max_series <= (1 << 26) && c->max_batch >= 1 && c->max_batch <= (1 << 22) &&
           c->max_horizon >= 1 && c->max_horizon <= TC_LSTM_MAX_HORIZON && c->lr >= 0 &&
           isfinite(c->lr) && c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1 &&
           c->adam_eps > 0 && c->clip >= 0 && c->scale_alpha > 0 && c->scale_alpha <= 1 &&
           c->bucket_ms > 0;
}

const tc_lstm_config_t *tc_lstm_config(const tc_lstm_t *m) { return &m->cfg; }
size_t tc_lstm_n_params(const tc_lstm_t *m) { return m->np; }
int tc_lstm_n_input(const tc_lstm_t *m) { return m->NI; }
float *tc_lstm_params(tc_lstm_t *m) { return m->p; }
const float *tc_lstm_grad(const tc_lstm_t *m) { return m->g; }
size_t tc_lstm_series_bytes(const tc_lstm_t *m) { return m->S * sizeof(float) + sizeof(series_t); }

size_t tc_lstm_workspace_bytes_per_row(const tc_lstm_t *m)
{
    size_t SR = (size_t)(m->kmax > 2 ? m->kmax : 2), K = (size_t)m->kmax, R = 2;
    size_t H = m->H, G = m->G, L = m->L, maxin = (size_t)(m->NI > m->H ? m->NI : m->H);
    size_t f = SR * m->NI;
    for (int l = 0; l < m->L; l++) f += SR * (m->in[l] + H + G + 2 * H) + K * G;
    f += R * (2 * L * H + (maxin + H) + 2 * L * H + 2 + 2 + 1) + (size_t)m->cfg.max_horizon;
    return f * sizeof(float) + SR + R * 2 * sizeof(int32_t);
}

void tc_lstm_free(tc_lstm_t *m)
{
    if (!m) return;
    free(m->p);
    free(m->g);
    free(m->am);
    free(m->av);
    free(m->gate_scale);
    free(m->ser);
    free(m->pool);
    free(m->xin);
    for (int l = 0; l < TC_LSTM_MAX_LAYERS; l++) {
        free(m->xh[l]);
        free(m->gate[l]);
        free(m->cs[l]);
        free(m->hs[l]);
        free(m->dg[l]);
    }
    free(m->h0w);
    free(m->c0w);
    free(m->dxh);
    free(m->dh);
    free(m->dc);
    free(m->out);
    free(m->dout);
    free(m->z);
    free(m->path);
    free(m->mask);
    free(m->idx);
    free(m->idx2);
    free(m);
}

static void *xcalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return calloc(n ? n : 1, size);
}

/* Allocates everything for cfg; weights are left zero. */
static int alloc_model(const tc_lstm_config_t *cfg, tc_lstm_t **out)
{
    if (!cfg || !out || !config_ok(cfg)) return TC_EINVAL;
    tc_lstm_t *m = calloc(1, sizeof(*m));
    if (!m) return TC_ENOMEM;
    m->cfg = *cfg;
    m->L = cfg->layers;
    m->H = cfg->hidden;
    m->G = 4 * m->H;
    m->NI = 1 + (cfg->season > 0) + 4 + cfg->n_exog;
    size_t np = 0;
    for (int l = 0; l < m->L; l++) {
        m->in[l] = l == 0 ? m->NI : m->H;
        m->off_w[l] = np;
        np += (size_t)m->G * (m->in[l] + m->H);
        m->off_b[l] = np;
        np += m->G;
    }
    m->off_wy = np;
    np += 2u * m->H;
    m->off_by = np;
    np += 2;
    m->np = np;
    m->S = 4u * m->L * m->H + (size_t)cfg->bptt * m->NI + cfg->season;
    m->kmax = cfg->bptt > 1 ? cfg->bptt : 1;
    m->rows = 2u * cfg->max_batch; /* a forward of one step holds two rows per series */
    size_t R = m->rows, H = m->H, G = m->G, L = m->L;
    /* Step-major buffers hold k steps of max_batch rows (training) or one
     * step of 2 max_batch rows (advance + forecast), whichever is more. */
    size_t SR = (size_t)(m->kmax > 2 ? m->kmax : 2) * cfg->max_batch;
    int maxin = m->NI > m->H ? m->NI : m->H;

    m->p = xcalloc(np, sizeof(float));
    m->g = xcalloc(np, sizeof(float));
    m->am = xcalloc(np, sizeof(float));
    m->av = xcalloc(np, sizeof(float));
    m->gate_scale = xcalloc(G, sizeof(float));
    m->ser = xcalloc(cfg->max_series, sizeof(series_t));
    m->pool = xcalloc((size_t)cfg->max_series, m->S * sizeof(float));
    m->xin = xcalloc(SR, m->NI * sizeof(float));
    bool ok = m->p && m->g && m->am && m->av && m->gate_scale && m->ser && m->pool && m->xin;
    for (int l = 0; ok && l < m->L; l++) {
        m->xh[l] = xcalloc(SR, (m->in[l] + H) * sizeof(float));
        m->gate[l] = xcalloc(SR, G * sizeof(float));
        m->cs[l] = xcalloc(SR, H * sizeof(float));
        m->hs[l] = xcalloc(SR, H * sizeof(float));
        m->dg[l] = xcalloc((size_t)m->kmax * cfg->max_batch, G * sizeof(float));
        ok = m->xh[l] && m->gate[l] && m->cs[l] && m->hs[l] && m->dg[l];
    }
    if (ok) {
        m->h0w = xcalloc(R, L * H * sizeof(float));
        m->c0w = xcalloc(R, L * H * sizeof(float));
        m->dxh = xcalloc(R, (maxin + H) * sizeof(float));
        m->dh = xcalloc(R, L * H * sizeof(float));
        m->dc = xcalloc(R, L * H * sizeof(float));
        m->out = xcalloc(R, 2 * sizeof(float));
        m->dout = xcalloc(R, 2 * sizeof(float));
        m->z = xcalloc(R, sizeof(float));
        m->path = xcalloc((size_t)cfg->max_batch, (size_t)cfg->max_horizon * sizeof(float));
        m->mask = xcalloc(SR, 1);
        m->idx = xcalloc(R, sizeof(int32_t));
        m->idx2 = xcalloc(R, sizeof(int32_t));
        ok = m->h0w && m->c0w && m->dxh && m->dh && m->dc && m->out && m->dout && m->z &&
             m->path && m->mask && m->idx && m->idx2;
    }
    if (!ok) {
        tc_lstm_free(m);
        return TC_ENOMEM;
    }
    for (int j = 0; j < m->G; j++) m->gate_scale[j] = (j >= 2 * m->H && j < 3 * m->H) ? 2.0f : 1.0f;
    openblas_set_num_threads(1);
    *out = m;
    return 0;
}

int tc_lstm_new(const tc_lstm_config_t *cfg, tc_lstm_t **out)
{
    tc_lstm_t *m = NULL;
    int rc = alloc_model(cfg, &m);
    if (rc) return rc;
    /* Uniform(+-1/sqrt(H)) as in Torch's LSTM; forget-gate bias 1 so that
     * the cell remembers from the start (Jozefowicz et al. 2015); a small
     * head so that the first forecasts are the running mean with unit
     * variance in scaled units. */
    uint64_t rng = cfg->seed;
    float a = 1.0f / sqrtf((float)m->H);
    for (int l = 0; l < m->L; l++) {
        size_t nw = (size_t)m->G * (m->in[l] + m->H);
        for (size_t i = 0; i < nw; i++) m->p[m->off_w[l] + i] = uniform_pm(&rng, a);
        for (int j = 0; j < m->G; j++) m->p[m->off_b[l] + j] = (j >= m->H && j < 2 * m->H) ? 1.0f : 0.0f;
    }
    for (int j = 0; j < 2 * m->H; j++) m->p[m->off_wy + j] = uniform_pm(&rng, 0.1f * a);
    *out = m;
    return 0;
}

/* ---- batched forward and backward ---- */

/* Runs k steps for B rows from the start state (h0w, c0w: rows x L x H),
 * layer-0 inputs in xin (step-major), mask (k x B, NULL = all real).
 * Leaves activations in xh, gate, cs, hs. A masked row copies its state. */
static void forward(tc_lstm_t *m, size_t B, int k, const uint8_t *mask)
{
    const int H = m->H, G = m->G, L = m->L;
    for (int j = 0; j < k; j++) {
        for (int l = 0; l < L; l++) {
            const int in = m->in[l], w = in + H;
            float *xh = m->xh[l] + (size_t)j * B * w;
            float *gt = m->gate[l] + (size_t)j * B * G;
            float *cs = m->cs[l] + (size_t)j * B * H;
            float *hs = m->hs[l] + (size_t)j * B * H;
            for (size_t r = 0; r < B; r++) {
                const float *x = l == 0 ? m->xin + ((size_t)j * B + r) * m->NI
                                        : m->hs[l - 1] + ((size_t)j * B + r) * H;
                const float *hp = j == 0 ? m->h0w + (r * L + l) * H : m->hs[l] + ((size_t)(j - 1) * B + r) * H;
                memcpy(xh + r * w, x, in * sizeof(float));
                memcpy(xh + r * w + in, hp, H * sizeof(float));
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, G, w, 1.0f, xh, w,
                        m->p + m->off_w[l], w, 0.0f, gt, G);
            const float *bias = m->p + m->off_b[l];
            const float *sc = m->gate_scale;
            for (size_t r = 0; r < B; r++) {
                float *a = gt + r * G;
                gates_act(a, sc, bias, G, H);
                const float *cp = j == 0 ? m->c0w + (r * L + l) * H : m->cs[l] + ((size_t)(j - 1) * B + r) * H;
                const float *hp = xh + r * w + in;
                float *c = cs + r * H, *h = hs + r * H;
                if (mask && !mask[(size_t)j * B + r]) {
                    memcpy(c, cp, H * sizeof(float));
                    memcpy(h, hp, H * sizeof(float));
                    continue;
                }
                cell(a, cp, c, h, H);
            }
        }
    }
}

/* Head on the top layer's h after step k-1: out[r] = (mu, s). */
static void head(tc_lstm_t *m, size_t B, int k)
{
    const int H = m->H;
    const float *h = m->hs[m->L - 1] + (size_t)(k - 1) * B * H;
    const float *wy = m->p + m->off_wy, *by = m->p + m->off_by;
    for (size_t r = 0; r < B; r++) {
        float mu = by[0], s = by[1];
        for (int q = 0; q < H; q++) {
            mu += wy[q] * h[r * H + q];
            s += wy[H + q] * h[r * H + q];
        }
        m->out[2 * r] = mu;
        m->out[2 * r + 1] = s;
    }
}

/* Accumulates into m->g the gradient given dout (rows x 2: dL/dmu, dL/ds)
 * after a forward(B, k, mask). */
static void backward(tc_lstm_t *m, size_t B, int k, const uint8_t *mask)
{
    const int H = m->H, G = m->G, L = m->L;
    const float *htop = m->hs[L - 1] + (size_t)(k - 1) * B * H;
    float *gwy = m->g + m->off_wy, *gby = m->g + m->off_by;
    const float *wy = m->p + m->off_wy;
    memset(m->dh, 0, B * L * H * sizeof(float));
    memset(m->dc, 0, B * L * H * sizeof(float));
    for (size_t r = 0; r < B; r++) {
        float d0 = m->dout[2 * r], d1 = m->dout[2 * r + 1];
        gby[0] += d0;
        gby[1] += d1;
        float *dh = m->dh + (r * L + (L - 1)) * H;
        for (int q = 0; q < H; q++) {
            gwy[q] += d0 * htop[r * H + q];
            gwy[H + q] += d1 * htop[r * H + q];
            dh[q] = d0 * wy[q] + d1 * wy[H + q];
        }
    }
    for (int j = k - 1; j >= 0; j--) {
        for (int l = L - 1; l >= 0; l--) {
            const int in = m->in[l], w = in + H;
            const float *gt = m->gate[l] + (size_t)j * B * G;
            const float *cs = m->cs[l] + (size_t)j * B * H;
            float *dg = m->dg[l] + (size_t)j * B * G;
            for (size_t r = 0; r < B; r++) {
                float *da = dg + r * G;
                float *dh = m->dh + (r * L + l) * H, *dc = m->dc + (r * L + l) * H;
                if (mask && !mask[(size_t)j * B + r]) {
                    memset(da, 0, G * sizeof(float));
                    continue;
                }
                const float *cp = j == 0 ? m->c0w + (r * L + l) * H : m->cs[l] + ((size_t)(j - 1) * B + r) * H;
                cell_grad(gt + r * G, cs + r * H, cp, dh, dc, da, H);
            }
            /* [dx; dh_prev] = da W_l, rows x w */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, w, G, 1.0f, dg, G,
                        m->p + m->off_w[l], w, 0.0f, m->dxh, w);
            for (size_t r = 0; r < B; r++) {
                if (mask && !mask[(size_t)j * B + r]) continue; /* dh, dc pass through */
                memcpy(m->dh + (r * L + l) * H, m->dxh + r * w + in, H * sizeof(float));
                if (l > 0) {
                    float *dhb = m->dh + (r * L + l - 1) * H;
                    const float *dx = m->dxh + r * w;
                    for (int q = 0; q < H; q++) dhb[q] += dx[q];
                }
            }
        }
    }
    /* Weight gradient of all k steps at once: dW_l += dG^T [x; h_prev]. */
    for (int l = 0; l < L; l++) {
        const int w = m->in[l] + H;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, w, (int)(k * B), 1.0f, m->dg[l], G,
                    m->xh[l], w, 1.0f, m->g + m->off_w[l], w);
        float *gb = m->g + m->off_b[l];
        const float *dg = m->dg[l];
        for (size_t r = 0; r < (size_t)k * B; r++)
            for (int q = 0; q < G; q++) gb[q] += dg[r * G + q];
    }
}

/* Sets dout from out and the targets z (rows with weight 0 get 0) and returns
 * the summed loss. */
static double loss_grad(tc_lstm_t *m, size_t B, double inv_n)
{
    double loss = 0;
    for (size_t r = 0; r < B; r++) {
        float mu = m->out[2 * r], s = m->out[2 * r + 1];
        float sc = s < -20.0f ? -20.0f : (s > 20.0f ? 20.0f : s);
        double e = (double)m->z[r] - mu, iv = exp(-(double)sc);
        loss += 0.5 * (sc + e * e * iv);
        m->dout[2 * r] = (float)(-e * iv * inv_n);
        m->dout[2 * r + 1] = (s == sc) ? (float)(0.5 * (1.0 - e * e * iv) * inv_n) : 0.0f;
    }
    return loss * inv_n;
}

/* One Adam step on n parameters with gradient scale sc. */
ADAM_LOOP static void adam_loop(float *restrict p, const float *restrict g, float *restrict am,
                                float *restrict av, size_t n, float sc, float b1, float b2, float step,
                                float eps)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * sc;
        am[i] = b1 * am[i] + (1.0f - b1) * gi;
        av[i] = b2 * av[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * am[i] / (sqrtf(av[i]) + eps);
    }
}

/* Clips the gradient's global norm and takes one Adam step. */
static void adam_update(tc_lstm_t *m)
{
    const tc_lstm_config_t *c = &m->cfg;
    double nrm2 = 0;
    for (size_t i = 0; i < m->np; i++) nrm2 += (double)m->g[i] * m->g[i];
    if (!isfinite(nrm2)) return; /* a non-finite gradient is dropped, never applied */
    float sc = 1.0f;
    if (c->clip > 0 && nrm2 > (double)c->clip * c->clip) sc = (float)(c->clip / sqrt(nrm2));
    m->adam_t++;
    double bc1 = 1.0 - pow(c->beta1, (double)m->adam_t), bc2 = 1.0 - pow(c->beta2, (double)m->adam_t);
    float step = (float)(c->lr * sqrt(bc2) / bc1);
    float b1 = c->beta1, b2 = c->beta2, eps = c->adam_eps * (float)sqrt(bc2);
    adam_loop(m->p, m->g, m->am, m->av, m->np, sc, b1, b2, step, eps);
}

int tc_lstm_window_grad(tc_lstm_t *m, size_t n, int k, const float *x, const float *state0,
                        const float *z, double *loss)
{
    if (!m || !x || !z || n == 0 || n > (size_t)m->cfg.max_batch || k < 1 || k > m->kmax) return TC_EINVAL;
    size_t LH = (size_t)m->L * m->H;
    memcpy(m->xin, x, (size_t)k * n * m->NI * sizeof(float));
    for (size_t r = 0; r < n; r++)
        for (int l = 0; l < m->L; l++) {
            float *h = m->h0w + (r * m->L + l) * m->H, *c = m->c0w + (r * m->L + l) * m->H;
            if (state0) {
                memcpy(h, state0 + r * 2 * LH + (size_t)l * 2 * m->H, m->H * sizeof(float));
                memcpy(c, state0 + r * 2 * LH + (size_t)l * 2 * m->H + m->H, m->H * sizeof(float));
            } else {
                memset(h, 0, m->H * sizeof(float));
                memset(c, 0, m->H * sizeof(float));
            }
        }
    memcpy(m->z, z, n * sizeof(float));
    memset(m->g, 0, m->np * sizeof(float));
    forward(m, n, k, NULL);
    head(m, n, k);
    double l = loss_grad(m, n, 1.0 / (double)n);
    backward(m, n, k, NULL);
    if (loss) *loss = l;
    return 0;
}

/* ---- the online step ---- */

static void calendar(float *dst, int64_t t_ms)
{
    const double day = 86400000.0, two_pi = 6.283185307179586;
    int64_t d = t_ms / 86400000, rem = t_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        d -= 1;
    }
    double tod = (double)rem / day;
    int64_t dow = ((d + 3) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
    double wk = ((double)dow + tod) / 7.0;
    dst[0] = (float)sin(two_pi * tod);
    dst[1] = (float)cos(two_pi * tod);
    dst[2] = (float)sin(two_pi * wk);
    dst[3] = (float)cos(two_pi * wk);
}

/* Raw value of age a (0 = newest) from the lag ring, or NAN. */
static double lag_value(const tc_lstm_t *m, const series_t *s, const float *f, int age)
{
    int season = m->cfg.season;
    if (age < 0 || (uint32_t)age >= s->n_lag) return NAN;
    const float *lag = f + 4u * m->L * m->H + (size_t)m->cfg.bptt * m->NI;
    int pos = ((int)s->lag_pos - 1 - age) % season;
    if (pos < 0) pos += season;
    return lag[pos];
}

/* Builds the input for target bucket t_target: newest value v (raw), lag
 * value (raw or NAN), calendar, exog (may be NULL). */
static void build_input(const tc_lstm_t *m, const series_t *s, float *x, double v, double lagv,
                        int64_t t_target, const float *exog)
{
    double sd = scaler_sd(s);
    int o = 0;
    x[o++] = clampz((v - s->mean) / sd);
    if (m->cfg.season > 0) x[o++] = isnan(lagv) ? 0.0f : clampz((lagv - s->mean) / sd);
    calendar(x + o, t_target);
    o += 4;
    for (int e = 0; e < m->cfg.n_exog; e++) {
        float v2 = exog ? exog[e] : 0.0f;
        x[o + e] = isfinite(v2) ? v2 : 0.0f;
    }
}

static void series_clear(tc_lstm_t *m, int32_t slot)
{
    uint32_t stamp = m->ser[slot].stamp;
    memset(&m->ser[slot], 0, sizeof(series_t));
    m->ser[slot].stamp = stamp;
    memset(series_f(m, slot), 0, m->S * sizeof(float));
}

int tc_lstm_series_reset(tc_lstm_t *m, int32_t slot)
{
    if (!m || slot < 0 || slot >= m->cfg.max_series) return TC_EINVAL;
    series_clear(m, slot);
    return 0;
}

bool tc_lstm_series_active(const tc_lstm_t *m, int32_t slot)
{
    return m && slot >= 0 && slot < m->cfg.max_series && m->ser[slot].active;
}

/* Checks slots: in range and distinct (stamps each with a fresh tick). */
static int check_slots(tc_lstm_t *m, size_t n, const int32_t *slots)
{
    if (n > (size_t)m->cfg.max_batch || (n && !slots)) return TC_EINVAL;
    m->tick++;
    if (m->tick == 0) { /* wrapped: clear the stamps once every 2^32 calls */
        for (int i = 0; i < m->cfg.max_series; i++) m->ser[i].stamp = 0;
        m->tick = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= m->cfg.max_series) return TC_EINVAL;
        if (m->ser[slots[i]].stamp == m->tick) return TC_EINVAL;
        m->ser[slots[i]].stamp = m->tick;
    }
    return 0;
}

/* Copies the state block at src (L x H h then L x H c, as in the pool) into
 * workspace row r, or back. */
static void state_to_row(tc_lstm_t *m, size_t r, const float *src)
{
    size_t LH = (size_t)m->L * m->H;
    memcpy(m->h0w + r * LH, src, LH * sizeof(float));
    memcpy(m->c0w + r * LH, src + LH, LH * sizeof(float));
}

int tc_lstm_step(tc_lstm_t *m, size_t n, const int32_t *slots, const int64_t *t_ms,
                 const float *y, const float *exog, bool train, float *mean, float *sd)
{
    if (!m || (n && (!t_ms || !y))) return TC_EINVAL;
    int rc = check_slots(m, n, slots);
    if (rc) return rc;
    const int H = m->H, L = m->L, NI = m->NI, K = m->cfg.bptt;
    const size_t LH = (size_t)L * H;
    const int nx = m->cfg.n_exog;

    /* 1. Training on the newly observed values, from each window's start. */
    if (train) {
        size_t B = 0;
        int k = 0;
        for (size_t i = 0; i < n; i++) {
            const series_t *s = &m->ser[slots[i]];
            if (s->active && s->has_pred && s->n_in > 0 && isfinite(y[i])) {
                m->idx[B++] = (int32_t)i;
                if ((int)s->n_in > k) k = (int)s->n_in;
            }
        }
        if (B > 0) {
            for (size_t r = 0; r < B; r++) {
                int32_t slot = slots[m->idx[r]];
                const series_t *s = &m->ser[slot];
                const float *f = series_f(m, slot), *win = f + 4 * LH;
                state_to_row(m, r, f);
                int pad = k - (int)s->n_in;
                for (int j = 0; j < k; j++) {
                    float *xr = m->xin + ((size_t)j * B + r) * NI;
                    m->mask[(size_t)j * B + r] = j >= pad;
                    if (j < pad) memset(xr, 0, NI * sizeof(float));
                    else memcpy(xr, win + (size_t)((s->head + (j - pad)) % K) * NI, NI * sizeof(float));
                }
                m->z[r] = clampz((y[m->idx[r]] - s->mean) / scaler_sd(s));
            }
            memset(m->g, 0, m->np * sizeof(float));
            forward(m, B, k, m->mask);
            head(m, B, k);
            loss_grad(m, B, 1.0 / (double)B);
            backward(m, B, k, m->mask);
            adam_update(m);
        }
    }

    /* 2. Advance every series: new value into scaler, lag ring and window;
     * rows [0, A) advance a full window's start state by its oldest input,
     * rows [A, A + F) step the current state with the new input. */
    size_t F = 0, A = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t slot = slots[i];
        series_t *s = &m->ser[slot];
        if (!s->active) {
            series_clear(m, slot);
            s->active = 1;
            s->cal = 1.0;
        }
        double v = y[i];
        bool finite = isfinite(v);
        if (!finite) {
            if (!s->has_pred) continue; /* nothing to go on yet */
            v = s->mean + scaler_sd(s) * s->pred_mu;
        } else {
            if (s->has_pred) { /* out-of-sample error of the forecast just made */
                double zr = clampz((v - s->mean) / scaler_sd(s)) - s->pred_mu;
                double r2 = zr * zr * exp(-(double)s->pred_ls);
                s->n_cal++;
                double a = 1.0 / (double)(s->n_cal + CAL_PRIOR);
                if (a < m->cfg.scale_alpha) a = m->cfg.scale_alpha;
                s->cal += a * ((r2 < 100.0 ? r2 : 100.0) - s->cal);
            }
            s->count++;
            double a = 1.0 / (double)s->count;
            if (a < m->cfg.scale_alpha) a = m->cfg.scale_alpha;
            double d = v - s->mean;
            s->mean += a * d;
            s->var = (1.0 - a) * (s->var + a * d * d);
        }
        s->last_ms = t_ms[i];
        float *f = series_f(m, slot);
        if (m->cfg.season > 0) {
            float *lag = f + 4 * LH + (size_t)K * NI;
            lag[s->lag_pos] = (float)v;
            s->lag_pos = (s->lag_pos + 1) % (uint32_t)m->cfg.season;
            if (s->n_lag < (uint32_t)m->cfg.season) s->n_lag++;
        }
        m->idx2[F++] = (int32_t)i;
        if (s->n_in == (uint32_t)K) m->idx[A++] = (int32_t)i;
    }
    size_t B = A + F;
    for (size_t r = 0; r < A; r++) {
        int32_t slot = slots[m->idx[r]];
        const series_t *s = &m->ser[slot];
        const float *f = series_f(m, slot);
        state_to_row(m, r, f);
        memcpy(m->xin + r * NI, f + 4 * LH + (size_t)s->head * NI, NI * sizeof(float));
    }
    for (size_t q = 0; q < F; q++) {
        size_t i = (size_t)m->idx2[q], r = A + q;
        int32_t slot = slots[i];
        series_t *s = &m->ser[slot];
        float *f = series_f(m, slot);
        double v = isfinite(y[i]) ? (double)y[i] : s->mean + scaler_sd(s) * s->pred_mu;
        double lagv = m->cfg.season > 0 ? lag_value(m, s, f, m->cfg.season - 1) : NAN;
        float *xr = m->xin + r * NI;
        build_input(m, s, xr, v, lagv, t_ms[i] + m->cfg.bucket_ms, exog && nx ? exog + i * nx : NULL);
        state_to_row(m, r, f + 2 * LH);
    }
    if (B > 0) {
        forward(m, B, 1, NULL);
        head(m, B, 1);
    }
    for (size_t r = 0; r < A; r++) { /* window start moves one step on */
        int32_t slot = slots[m->idx[r]];
        float *f = series_f(m, slot);
        for (int l = 0; l < L; l++) {
            memcpy(f + (size_t)l * H, m->hs[l] + r * H, H * sizeof(float));
            memcpy(f + LH + (size_t)l * H, m->cs[l] + r * H, H * sizeof(float));
        }
    }
    if (mean)
        for (size_t i = 0; i < n; i++) mean[i] = NAN;
    if (sd)
        for (size_t i = 0; i < n; i++) sd[i] = NAN;
    for (size_t q = 0; q < F; q++) {
        size_t i = (size_t)m->idx2[q], r = A + q;
        int32_t slot = slots[i];
        series_t *s = &m->ser[slot];
        float *f = series_f(m, slot), *win = f + 4 * LH;
        for (int l = 0; l < L; l++) {
            memcpy(f + 2 * LH + (size_t)l * H, m->hs[l] + r * H, H * sizeof(float));
            memcpy(f + 3 * LH + (size_t)l * H, m->cs[l] + r * H, H * sizeof(float));
        }
        uint32_t pos;
        if (s->n_in == (uint32_t)K) {
            pos = s->head;
            s->head = (s->head + 1) % (uint32_t)K;
        } else {
            pos = (s->head + s->n_in) % (uint32_t)K;
            s->n_in++;
        }
        memcpy(win + (size_t)pos * NI, m->xin + r * NI, NI * sizeof(float));
        float mu = clampz(m->out[2 * r]), ls = m->out[2 * r + 1];
        ls = ls < -20.0f ? -20.0f : (ls > 20.0f ? 20.0f : ls);
        s->pred_mu = mu;
        s->pred_ls = ls;
        s->has_pred = 1;
        double ssd = scaler_sd(s);
        if (mean) mean[i] = (float)(s->mean + ssd * mu);
        if (sd) sd[i] = (float)(ssd * sqrt(s->cal) * exp(0.5 * ls));
    }
    return 0;
}

int tc_lstm_forecast(tc_lstm_t *m, size_t n, const int32_t *slots, int horizon,
                     const float *exog, float *mean, float *sd)
{
    if (!m || horizon < 1 || horizon > m->cfg.max_horizon || (n && (!mean || !sd))) return TC_EINVAL;
    int rc = check_slots(m, n, slots);
    if (rc) return rc;
    const int H = m->H, L = m->L, NI = m->NI, nx = m->cfg.n_exog, season = m->cfg.season;
    const size_t LH = (size_t)L * H;
    size_t B = 0;
    for (size_t i = 0; i < n; i++) {
        const series_t *s = &m->ser[slots[i]];
        for (int h = 0; h < horizon; h++) {
            mean[i * horizon + h] = NAN;
            sd[i * horizon + h] = NAN;
        }
        if (!s->active || !s->has_pred) continue;
        double ssd = scaler_sd(s);
        mean[i * horizon] = (float)(s->mean + ssd * s->pred_mu);
        sd[i * horizon] = (float)(ssd * sqrt(s->cal) * exp(0.5 * s->pred_ls));
        m->path[B * horizon] = mean[i * horizon];
        state_to_row(m, B, series_f(m, slots[i]) + 2 * LH);
        m->idx[B] = (int32_t)i;
        m->out[2 * B] = s->pred_mu;
        B++;
    }
    for (int h = 2; h <= horizon && B > 0; h++) {
        for (size_t r = 0; r < B; r++) {
            size_t i = (size_t)m->idx[r];
            const series_t *s = &m->ser[slots[i]];
            const float *f = series_f(m, slots[i]);
            double sdv = scaler_sd(s);
            double v = s->mean + sdv * m->out[2 * r]; /* the fed-back mean */
            double lagv = NAN;
            if (season > 0) {
                int age = season - h; /* target t+h, lag bucket t+h-season */
                lagv = age >= 0 ? lag_value(m, s, f, age) : m->path[r * horizon + (h - season - 1)];
            }
            const float *ex = exog && nx ? exog + (i * horizon + (h - 1)) * nx : NULL;
            build_input(m, s, m->xin + r * NI, v, lagv, s->last_ms + (int64_t)h * m->cfg.bucket_ms, ex);
        }
        forward(m, B, 1, NULL);
        head(m, B, 1);
        for (size_t r = 0; r < B; r++) {
            size_t i = (size_t)m->idx[r];
            const series_t *s = &m->ser[slots[i]];
            double ssd = scaler_sd(s);
            float mu = clampz(m->out[2 * r]), ls = m->out[2 * r + 1];
            ls = ls < -20.0f ? -20.0f : (ls > 20.0f ? 20.0f : ls);
            m->out[2 * r] = mu;
            mean[i * horizon + h - 1] = (float)(s->mean + ssd * mu);
            sd[i * horizon + h - 1] = (float)(ssd * sqrt(s->cal) * exp(0.5 * ls));
            m->path[r * horizon + h - 1] = mean[i * horizon + h - 1];
            for (int l = 0; l < L; l++) {
                memcpy(m->h0w + r * LH + (size_t)l * H, m->hs[l] + r * H, H * sizeof(float));
                memcpy(m->c0w + r * LH + (size_t)l * H, m->cs[l] + r * H, H * sizeof(float));
            }
        }
    }
    return 0;
}

/* ---- checkpoints ---- */

int tc_lstm_save(const tc_lstm_t *m, uint8_t **buf, size_t *len)
{
    if (!m || !buf || !len) return TC_EINVAL;
    int rc = TC_ENOMEM;
    const tc_lstm_config_t *c = &m->cfg;
    Tidecast__V1__LstmConfig pc = TIDECAST__V1__LSTM_CONFIG__INIT;
    pc.layers = c->layers;
    pc.hidden = c->hidden;
    pc.n_exog = c->n_exog;
    pc.season = c->season;
    pc.bptt = c->bptt;
    pc.max_series = c->max_series;
    pc.max_batch = c->max_batch;
    pc.max_horizon = c->max_horizon;
    pc.lr = c->lr;
    pc.beta1 = c->beta1;
    pc.beta2 = c->beta2;
    pc.adam_eps = c->adam_eps;
    pc.clip = c->clip;
    pc.scale_alpha = c->scale_alpha;
    pc.bucket_ms = c->bucket_ms;
    pc.seed = c->seed;
    Tidecast__V1__LstmSnapshot snap = TIDECAST__V1__LSTM_SNAPSHOT__INIT;
    snap.version = SNAPSHOT_VERSION;
    snap.config = &pc;
    snap.n_params = snap.n_adam_m = snap.n_adam_v = m->np;
    snap.params = m->p;
    snap.adam_m = m->am;
    snap.adam_v = m->av;
    snap.adam_steps = m->adam_t;
    size_t na = 0;
    for (int i = 0; i < c->max_series; i++) na += m->ser[i].active;
    Tidecast__V1__LstmSeries *ps = xcalloc(na, sizeof(*ps));
    Tidecast__V1__LstmSeries **pp = xcalloc(na, sizeof(*pp));
    uint8_t *out = NULL;
    if (!ps || !pp) goto out_free;
    size_t q = 0;
    for (int i = 0; i < c->max_series; i++) {
        const series_t *s = &m->ser[i];
        if (!s->active) continue;
        Tidecast__V1__LstmSeries *e = &ps[q];
        tidecast__v1__lstm_series__init(e);
        e->slot = i;
        e->last_ms = s->last_ms;
        e->mean = s->mean;
        e->var = s->var;
        e->count = s->count;
        e->has_pred = s->has_pred;
        e->pred_mu = s->pred_mu;
        e->pred_ls = s->pred_ls;
        e->calib = s->cal;
        e->n_calib = s->n_cal;
        e->n_in = s->n_in;
        e->head = s->head;
        e->n_lag = s->n_lag;
        e->lag_pos = s->lag_pos;
        e->n_state = m->S;
        e->state = series_f(m, i);
        pp[q++] = e;
    }
    snap.n_series = na;
    snap.series = pp;
    size_t n = tidecast__v1__lstm_snapshot__get_packed_size(&snap);
    out = malloc(n ? n : 1);
    if (!out) goto out_free;
    *len = tidecast__v1__lstm_snapshot__pack(&snap, out);
    *buf = out;
    rc = 0;
out_free:
    free(pp);
    free(ps);
    return rc;
}

int tc_lstm_load(const uint8_t *buf, size_t len, tc_lstm_t **out)
{
    if (!buf || !out) return TC_EINVAL;
    Tidecast__V1__LstmSnapshot *snap = tidecast__v1__lstm_snapshot__unpack(NULL, len, buf);
    if (!snap) return TC_EPARSE;
    int rc = TC_EVERSION;
    tc_lstm_t *m = NULL;
    if (snap->version != SNAPSHOT_VERSION) goto out_unpack;
    rc = TC_ECORRUPT;
    const Tidecast__V1__LstmConfig *pc = snap->config;
    if (!pc) goto out_unpack;
    tc_lstm_config_t c;
    memset(&c, 0, sizeof(c));
    c.layers = pc->layers;
    c.hidden = pc->hidden;
    c.n_exog = pc->n_exog;
    c.season = pc->season;
    c.bptt = pc->bptt;
    c.max_series = pc->max_series;
    c.max_batch = pc->max_batch;
    c.max_horizon = pc->max_horizon;
    c.lr = pc->lr;
    c.beta1 = pc->beta1;
    c.beta2 = pc->beta2;
    c.adam_eps = pc->adam_eps;
    c.clip = pc->clip;
    c.scale_alpha = pc->scale_alpha;
    c.bucket_ms = pc->bucket_ms;
    c.seed = pc->seed;
    rc = alloc_model(&c, &m);
    if (rc) goto out_unpack;
    rc = TC_ECORRUPT;
    if (snap->n_params != m->np || snap->n_adam_m != m->np || snap->n_adam_v != m->np) goto out_model;
    /* Non-finite weights or moments are corruption: the gate arithmetic
     * (fast_exp's integer conversion) and Adam's square root need finite,
     * and for the second moment non-negative, numbers. */
    for (size_t i = 0; i < m->np; i++)
        if (!isfinite(snap->params[i]) || !isfinite(snap->adam_m[i]) ||
            !(snap->adam_v[i] >= 0 && isfinite(snap->adam_v[i])))
            goto out_model;
    memcpy(m->p, snap->params, m->np * sizeof(float));
    memcpy(m->am, snap->adam_m, m->np * sizeof(float));
    memcpy(m->av, snap->adam_v, m->np * sizeof(float));
    m->adam_t = snap->adam_steps;
    for (size_t q = 0; q < snap->n_series; q++) {
        const Tidecast__V1__LstmSeries *e = snap->series[q];
        if (e->slot < 0 || e->slot >= c.max_series || e->n_state != m->S || e->n_in > (uint32_t)c.bptt ||
            e->head >= (uint32_t)c.bptt || e->n_lag > (uint32_t)c.season ||
            (c.season > 0 ? e->lag_pos >= (uint32_t)c.season : e->lag_pos != 0) ||
            !isfinite(e->mean) || !(e->var >= 0 && isfinite(e->var)))
            goto out_model;
        for (size_t i = 0; i < m->S; i++)
            if (!isfinite(e->state[i]))
                goto out_model;
        series_t *s = &m->ser[e->slot];
        if (s->active) goto out_model; /* a slot twice */
        s->active = 1;
        s->last_ms = e->last_ms;
        s->mean = e->mean;
        s->var = e->var;
        s->count = e->count;
        s->has_pred = e->has_pred ? 1 : 0;
        s->pred_mu = e->pred_mu;
        s->pred_ls = e->pred_ls;
        s->cal = e->calib > 0 && isfinite(e->calib) ? e->calib : 1.0;
        s->n_cal = e->n_calib;
        s->n_in = e->n_in;
        s->head = e->head;
        s->n_lag = e->n_lag;
        s->lag_pos = e->lag_pos;
        memcpy(series_f(m, e->slot), e->state, m->S * sizeof(float));
    }
    *out = m;
    m = NULL;
    rc = 0;
out_model:
    tc_lstm_free(m);
out_unpack:
    tidecast__v1__lstm_snapshot__free_unpacked(snap, NULL);
    return rc;
}
