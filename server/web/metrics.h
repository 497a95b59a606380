/* metrics.h -- GET /metrics: the modules' counters in the Prometheus text exposition format */
#ifndef HK_METRICS_H
#define HK_METRICS_H

#include <stddef.h>

#include "deliver/commit.h"
#include "deliver/http.h"
#include "deliver/scheduler.h"
#include "store/store.h"
#include "transport/server.h"

/* Where the counters come from; any may be NULL (its metrics are left out). */
typedef struct {
    hk_server_t *socket_server; /* listener="socket" */
    hk_server_t *http_server;   /* listener="http" */
    hk_commit_t *commit;
    hk_scheduler_t *scheduler;
    hk_http_t *http;
    hk_store_t *store;
    size_t sessions; /* admin page sessions alive */
} hk_metrics_src_t;

/* The Content-Type of what hk_metrics_render writes. */
#define HK_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders every metric (text format 0.0.4) into a malloc'd buffer (*out,
 * *len; the caller frees it). Returns 0, HK_ENOMEM, or a store error. */
int hk_metrics_render(const hk_metrics_src_t *src, char **out, size_t *len);

#endif
