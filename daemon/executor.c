/*
 * executor.c - pipeline jobs on the libuv worker pool (see executor.h).
 */
#include "daemon/executor.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct item {
    uv_work_t req;
    tc_pipeline_job_t *job;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool done;      /* the worker has run the job (under mu) */
    bool after_ran; /* libuv's completion callback has run */
    bool released;  /* the pipeline has let go of the job */
} item_t;

static void item_free(item_t *it)
{
    uv_cond_destroy(&it->cv);
    uv_mutex_destroy(&it->mu);
    free(it);
}

static void work_cb(uv_work_t *req)
{
    item_t *it = req->data;
    tc_pipeline_job_run(it->job);
    uv_mutex_lock(&it->mu);
    it->done = true;
    uv_cond_signal(&it->cv);
    uv_mutex_unlock(&it->mu);
}

static void after_cb(uv_work_t *req, int status)
{
    item_t *it = req->data;
    (void)status; /* jobs are never cancelled */
    it->after_ran = true;
    if (it->released)
        item_free(it);
}

static int submit(void *ud, tc_pipeline_job_t *job)
{
    item_t *it = calloc(1, sizeof(*it));
    if (!it)
        return -1;
    if (uv_mutex_init(&it->mu)) {
        free(it);
        return -1;
    }
    if (uv_cond_init(&it->cv)) {
        uv_mutex_destroy(&it->mu);
        free(it);
        return -1;
    }
    it->job = job;
    it->req.data = it;
    if (uv_queue_work(ud, &it->req, work_cb, after_cb)) {
        item_free(it);
        return -1; /* the pipeline runs the job inline */
    }
    tc_pipeline_job_set_user(job, it);
    return 0;
}

static void wait_job(void *ud, tc_pipeline_job_t *job)
{
    item_t *it = tc_pipeline_job_user(job);
    (void)ud;
    uv_mutex_lock(&it->mu);
    while (!it->done)
        uv_cond_wait(&it->cv, &it->mu);
    uv_mutex_unlock(&it->mu);
}

static void release(void *ud, tc_pipeline_job_t *job)
{
    item_t *it = tc_pipeline_job_user(job);
    (void)ud;
    tc_pipeline_job_set_user(job, NULL);
    it->job = NULL;
    it->released = true;
    if (it->after_ran)
        item_free(it);
}

void tc_executor_bind(tc_pipeline_executor_t *ex, uv_loop_t *loop)
{
    ex->ud = loop;
    ex->submit = submit;
    ex->wait = wait_job;
    ex->release = release;
}
