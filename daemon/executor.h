/*
 * executor.h - runs pipeline jobs (SARIMA fits, churn population refits)
 * on libuv's worker pool.
 *
 * tc_executor_bind() fills a tc_pipeline_executor_t whose submit queues the
 * job with uv_queue_work; wait blocks the loop thread on a condition
 * variable until the worker has finished it (the pipeline only waits when
 * it needs the result, arima.apply_lag buckets or the churn refit lag later,
 * or at shutdown).
 * Per-job bookkeeping is freed once both the pipeline has released the job
 * and libuv has run the completion callback, so after freeing the pipeline
 * the loop must run once more (uv_run) before uv_loop_close.
 *
 * @locality submit/wait/release on the loop thread; the job itself on a
 * worker thread.
 */
#ifndef TC_DAEMON_EXECUTOR_H
#define TC_DAEMON_EXECUTOR_H

#include <uv.h>

#include "pipeline.h"

/* Fills ex to run jobs on loop's worker pool. */
void tc_executor_bind(tc_pipeline_executor_t *ex, uv_loop_t *loop);

#endif
