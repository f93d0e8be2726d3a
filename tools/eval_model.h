/*
 * eval_model.h - the model interface of `tidecast eval`.
 *
 * A model is a table of four operations.  The evaluator calls fit once on
 * the training part, then for every test observation: forecast (h = 1, and
 * h = 24 at path origins) and update with the observed value; parameters are
 * never re-estimated after fit.  To add a model: define a const
 * eval_model_ops_t in its own tools/eval_<name>.c, declare it below, and add
 * it to the table in tools/cmd_eval.c.
 */
#ifndef TC_EVAL_MODEL_H
#define TC_EVAL_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Reads `timestamp,value` rows of path and aggregates them into buckets of
 * width seconds from the first to the last (PEERS.md protocol step 1): sum
 * (empty bucket 0) or mean (empty bucket = previous).  *y is malloc'd, the
 * caller frees it.  Returns 0, TC_EIO, TC_EPARSE or TC_ENOMEM.
 */
int eval_load_series(const char *path, long width, bool sum, double **y, size_t *n);
/* Whether the file name marks a count series (bucket = sum). */
bool eval_name_is_count(const char *path);

typedef struct eval_model_ops {
    const char *name; /* as given to --models */
    const char *label; /* for the table */
    /*
     * Fits on y[0..n-1] (buckets, NaN = missing) with seasonal period m;
     * *ctx receives the model's state.  Returns 0 or a negative TC_E* code.
     */
    int (*fit)(const double *y, size_t n, int m, void **ctx);
    /*
     * Forecasts the next h buckets: mean[0..h-1] and forecast-error
     * variance var[0..h-1] (NAN when the model has none).
     */
    int (*forecast)(void *ctx, int h, double *mean, double *var);
    /* Feeds the next observed bucket (state update, no re-estimation). */
    int (*update)(void *ctx, double y);
    void (*free)(void *ctx); /* NULL-safe */
} eval_model_ops_t;

extern const eval_model_ops_t eval_model_snaive;
extern const eval_model_ops_t eval_model_sarima;
extern const eval_model_ops_t eval_model_autoarima;
extern const eval_model_ops_t eval_model_lstm;
extern const eval_model_ops_t eval_model_ensemble;

#endif
