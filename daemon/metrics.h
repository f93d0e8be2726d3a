/*
 * metrics.h - a registry of counters and gauges rendered in the Prometheus
 * text exposition format (version 0.0.4).
 *
 * A metric family has a name, a help text and a type; each of its samples
 * carries a fixed set of label pairs chosen at registration. The daemon
 * owns one registry (no globals), registers its samples once at start-up
 * and either updates them as things happen (tc_metrics_inc / _set) or
 * copies them from the stats structs of its modules in a collect callback
 * that runs just before each rendering. Rendering groups samples by family
 * in registration order:
 *
 *     # HELP tidecast_events_total Events decoded, per kind.
 *     # TYPE tidecast_events_total counter
 *     tidecast_events_total{kind="traffic"} 42
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"); label values and help
 * texts are escaped as the format requires (backslash, double quote in
 * values, newline). Counters are doubles that only grow; a counter set to
 * a smaller value is the caller's error and is rendered as given.
 *
 * @locality loop thread only (not synchronised).
 */
#ifndef TC_DAEMON_METRICS_H
#define TC_DAEMON_METRICS_H

#include <stddef.h>

typedef enum tc_metrics_type {
    TC_METRICS_COUNTER = 0,
    TC_METRICS_GAUGE = 1,
} tc_metrics_type_t;

typedef struct tc_metrics tc_metrics_t;
typedef struct tc_metrics_sample tc_metrics_sample_t;

/* Called by tc_metrics_render before writing: refresh sample values here. */
typedef void (*tc_metrics_collect_fn)(void *ctx, tc_metrics_t *m);

/* Creates an empty registry. Returns NULL on allocation failure. */
tc_metrics_t *tc_metrics_new(void);

/* Frees the registry and every sample. NULL is a no-op. */
void tc_metrics_free(tc_metrics_t *m);

/* Sets the collect callback (NULL: none). */
void tc_metrics_set_collect(tc_metrics_t *m, tc_metrics_collect_fn fn, void *ctx);

/*
 * Registers one sample of family name with labels given as npairs
 * (name, value) pairs flattened into labels[2 * npairs] (labels may be NULL
 * when npairs is 0). The first registration of a name fixes its help and
 * type; later samples of that family must give the same type and the same
 * label names in the same order (help may be NULL for them).
 * *out (may be NULL) receives the sample, owned by the registry, value 0.
 * Returns 0; TC_EINVAL for a bad name, label name, a type or label-set
 * mismatch with the family; TC_EEXISTS if the same labels are already
 * registered (*out then receives the existing sample); TC_ENOMEM.
 */
int tc_metrics_add(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                   const char *const *labels, size_t npairs, tc_metrics_sample_t **out);

/* Shorthands for a sample with no labels or with one label pair. */
int tc_metrics_add0(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                    tc_metrics_sample_t **out);
int tc_metrics_add1(tc_metrics_t *m, tc_metrics_type_t type, const char *name, const char *help,
                    const char *label, const char *value, tc_metrics_sample_t **out);

/* Updates a sample (NULL is a no-op, so optional samples need no checks). */
void tc_metrics_set(tc_metrics_sample_t *s, double v);
void tc_metrics_inc(tc_metrics_sample_t *s, double by);
double tc_metrics_get(const tc_metrics_sample_t *s);

/* Number of samples registered. */
size_t tc_metrics_count(const tc_metrics_t *m);

/*
 * Runs the collect callback, then renders every family into a new
 * NUL-terminated buffer (*out, freed by the caller with free(); *len
 * excludes the NUL). Values: integers exactly, others with 17 significant
 * digits, NaN and +Inf/-Inf spelled as the format requires.
 * Returns 0 or TC_ENOMEM (*out is then NULL).
 */
int tc_metrics_render(tc_metrics_t *m, char **out, size_t *len);

#endif
