/*
 * output.h - the NDJSON writers of tidecastd: closed buckets (the
 * file/stdout sink of the pipeline) and dead-letter records. This module is
 * the daemon's only user of the JSON library.
 *
 * Bucket line (one per series per closed bucket; metrics not selected by
 * window.metrics are left out):
 *   {"series":"nasa","bucket_start_ms":807256800000,
 *    "bucket_start":"1995-08-01T04:00:00Z","bucket_ms":60000,"requests":12,
 *    "unique_users":7,"bytes":83122,"errors":0,"conversions":0,"revenue":0}
 * unique_users is the HyperLogLog estimate rounded to an integer.
 *
 * Dead-letter line:
 *   {"source":"events.ndjson","line":17,"error":"TC_EMISSING_KEY",
 *    "reason":"missing field site","payload":"{...}"}
 * For protobuf input "frame" replaces "line" and the bytes are given as
 * "payload_hex"; NDJSON payloads that are not valid UTF-8 are given as
 * "payload_hex" too.
 */
#ifndef TC_DAEMON_OUTPUT_H
#define TC_DAEMON_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

/*
 * Writes one bucket line to out. metrics is a bit set of (1u << tc_metric_t).
 * Returns 0, TC_EIO (write failed) or TC_ENOMEM.
 */
int tc_output_bucket(FILE *out, const tc_pipeline_bucket_t *b, unsigned metrics);

/*
 * Writes one dead-letter line. binary selects "frame"/"payload_hex" over
 * "line"/"payload". data may be NULL (len 0). Returns 0, TC_EIO or TC_ENOMEM.
 */
int tc_output_dead_letter(FILE *out, const char *source, uint64_t index, bool binary, int code,
                          const char *reason, const uint8_t *data, size_t len);

/*
 * Writes one forecast line:
 *   {"type":"forecast","series":"nasa","metric":"requests","model":"ensemble",
 *    "origin_ms":...,"origin":"1995-08-01T07:00:00Z","bucket_ms":60000,"actual":41,
 *    "steps":[{"h":1,"mean":..,"lo80":..,"hi80":..,"lo95":..,"hi95":..},...],
 *    "accuracy":{"n":..,"mae":..,"rmse":..,"mase":..,"smape":..,"r2":..,"coverage80":..}}
 * Undefined numbers (NaN) are written as null. Returns 0, TC_EIO or TC_ENOMEM.
 */
int tc_output_forecast(FILE *out, const tc_pipeline_forecast_t *f);

/*
 * Writes one scale-signal line:
 *   {"type":"scale","series":..,"current_replicas":2,"recommended_replicas":5,
 *    "forecast_upper":..,"at_h":3,"capacity_per_replica":..,"origin_ms":..,
 *    "origin":"...","reason":"..."}
 */
int tc_output_scale(FILE *out, const tc_pipeline_scale_t *s);

/*
 * Churn lines:
 *   {"type":"churn_alert","user":"3f2a...","risk":0.83,"p_alive":..,
 *    "expected_transactions":..,"threshold":0.8,"last_seen_ms":..,"as_of_ms":..,"as_of":"..."}
 *   {"type":"churn_score","user":..,"risk":..,"p_alive":..,"expected_transactions":..,
 *    "frequency":..,"last_seen_ms":..,"horizon_ms":..,"as_of_ms":..,"model":"bgnbd"}
 */
int tc_output_churn_alert(FILE *out, const tc_pipeline_churn_alert_t *a);
int tc_output_churn_score(FILE *out, const tc_pipeline_churn_score_t *c);

/* Formats ms since epoch as "YYYY-MM-DDTHH:MM:SSZ" (with ".mmm" if not whole seconds). */
void tc_output_iso8601(int64_t ms, char *buf, size_t n);

#endif
