/*
 * fuzz_targets.h - one-input fuzz targets shared by the seeded mutation
 * fuzzer of the unit suite (tests/unit/test_fuzz.c) and the libFuzzer
 * harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each target takes arbitrary bytes, runs them through the code under test
 * and checks the contract of its header: a return of 0 or one of the
 * documented TC_E* codes, and for accepted input the documented invariants.
 * It returns NULL when every check held, else a description of the first
 * violated one (in a buffer owned by the context). Crashes, leaks and
 * undefined behaviour are left to the sanitizers.
 *
 * Input layout:
 *   fuzz_decode:   byte 0 selects the decoder (mode % FUZZ_DECODE_MODES:
 *                  bare TrafficEvent, BehaviorEvent, Annotation, Envelope,
 *                  then JSON with kind none/traffic/behavior/annotation);
 *                  the rest is the message. Every input is also fed to a
 *                  pipeline (windows, seasonal naive, LSTM, churn) whose
 *                  closed buckets are written as the daemon writes them.
 *   fuzz_snapshot: byte 0 selects the restore function (% FUZZ_SNAP_KINDS:
 *                  window, SARIMA, LSTM, churn, pipeline); the rest is the
 *                  snapshot.
 *   fuzz_config:   the whole input is an INI file for tc_config_load.
 *   fuzz_framer:   byte 0 selects the framing and chunk size; the rest is
 *                  the byte stream given to tc_framer_push in chunks.
 */
#ifndef TC_TESTS_FUZZ_TARGETS_H
#define TC_TESTS_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_DECODE_MODES 8
#define FUZZ_SNAP_KINDS 5

/* The decoder's clock during fuzzing (2000-01-01T00:00Z): NASA 1995 and
 * CDNOW 1997 events are in range, later times are "in the future". */
#define FUZZ_NOW_MS 946684800000LL

typedef struct fuzz_ctx fuzz_ctx_t;

/* tmpdir: a directory for the config target's file. NULL on no memory. */
fuzz_ctx_t *fuzz_new(const char *tmpdir);
void fuzz_free(fuzz_ctx_t *f);

const char *fuzz_decode(fuzz_ctx_t *f, const uint8_t *data, size_t len);
const char *fuzz_snapshot(fuzz_ctx_t *f, const uint8_t *data, size_t len);
const char *fuzz_config(fuzz_ctx_t *f, const uint8_t *data, size_t len);
const char *fuzz_framer(fuzz_ctx_t *f, const uint8_t *data, size_t len);

/* Inputs accepted so far by fuzz_decode, pipeline feeds that returned 0,
 * and fresh pipelines started because event time jumped ahead. */
void fuzz_counts(const fuzz_ctx_t *f, size_t *decoded, size_t *fed, size_t *restarts);

/*
 * Seeds from the bundled data: real snapshot bytes of each kind (window and
 * pipeline from the NASA weblog, SARIMA and LSTM from its per-minute counts,
 * churn from CDNOW). Each returns 0 and a malloc'd buffer (with the kind
 * byte of fuzz_snapshot in front), or a negative TC_E* code.
 */
int fuzz_seed_snapshot(int kind, uint8_t **buf, size_t *len);

#endif
