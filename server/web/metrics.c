/* metrics.c -- GET /metrics: the modules' counters in the Prometheus text exposition format */
#include "web/metrics.h"
#include "store/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/methods.h"
#include "core/error.h"
#include "core/status.h"
#include "store/deliveries.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (o->failed) return;
        size_t room = o->cap - o->len;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *p = realloc(o->buf, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    head(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void servers(out_t *o, const hk_metrics_src_t *src)
{
    struct {
        const char *name;
        hk_server_t *server;
    } l[] = {{"socket", src->socket_server}, {"http", src->http_server}};
    hk_server_stats_t st[2];
    int have[2];

    for (int i = 0; i < 2; i++)
        if ((have[i] = l[i].server != NULL)) hk_server_stats(l[i].server, &st[i]);
    head(o, "hookd_connections", "gauge", "Client connections open now, by listener.");
    for (int i = 0; i < 2; i++)
        if (have[i])
            put(o, "hookd_connections{listener=\"%s\"} %llu\n", l[i].name,
                (unsigned long long)st[i].connections);
    head(o, "hookd_calls_in_flight", "gauge", "RPC calls being served now, by listener.");
    for (int i = 0; i < 2; i++)
        if (have[i])
            put(o, "hookd_calls_in_flight{listener=\"%s\"} %llu\n", l[i].name,
                (unsigned long long)st[i].calls);
    head(o, "hookd_calls_total", "counter", "RPC calls dispatched, by listener.");
    for (int i = 0; i < 2; i++)
        if (have[i])
            put(o, "hookd_calls_total{listener=\"%s\"} %llu\n", l[i].name,
                (unsigned long long)st[i].calls_total);
}

static void rpcs(out_t *o)
{
    head(o, "hookd_rpcs_total", "counter", "Answered RPCs by method and status code.");
    for (size_t i = 0; i <= hk_rpc_method_count && i <= HK_RPC_COUNT_ROWS; i++) {
        const hk_rpc_method_t *m = i < hk_rpc_method_count ? &hk_rpc_methods[i] : NULL;
        const char *name = m ? strrchr(m->path, '/') + 1 : "(unknown)";
        const char *svc = m ? m->path + 1 : "";
        int svclen = m ? (int)(strrchr(m->path, '/') - svc) : 0;
        for (int code = 0; code < HK_RPC_CODES; code++) {
            uint64_t n = hk_rpc_count(m, code);
            /* Every method's OK series always; others once they happened. */
            if (n == 0 && (code != 0 || !m)) continue;
            put(o, "hookd_rpcs_total{service=\"%.*s\",method=\"%s\",code=\"%s\"} %llu\n", svclen,
                svc, name, hk_status_name(code), (unsigned long long)n);
        }
    }
}

static void attempts(out_t *o, hk_http_t *http)
{
    hk_http_stats_t st;
    hk_http_stats(http, &st);
    head(o, "hookd_attempts_total", "counter",
         "Delivery attempts (outbound requests) finished, by outcome.");
    for (int i = HK_OUTCOME_SUCCEEDED; i < HK_HTTP_OUTCOMES; i++)
        put(o, "hookd_attempts_total{outcome=\"%s\"} %llu\n", hk_outcome_name((hk_outcome_t)i),
            (unsigned long long)st.outcomes[i]);
    head(o, "hookd_attempt_duration_seconds", "histogram",
         "Duration of delivery attempts that started, from start to end.");
    uint64_t cum = 0;
    for (int b = 0; b < HK_HTTP_DURATION_BUCKETS; b++) {
        cum += st.duration_buckets[b];
        put(o, "hookd_attempt_duration_seconds_bucket{le=\"%g\"} %llu\n",
            hk_http_duration_bounds_ms[b] / 1000.0, (unsigned long long)cum);
    }
    cum += st.duration_buckets[HK_HTTP_DURATION_BUCKETS];
    put(o, "hookd_attempt_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    put(o, "hookd_attempt_duration_seconds_sum %.3f\n", st.duration_ms_sum / 1000.0);
    put(o, "hookd_attempt_duration_seconds_count %llu\n", (unsigned long long)cum);
    one(o, "hookd_attempts_queued", "gauge",
        "Outbound requests started or waiting for a transfer slot.", hk_http_pending(http));
}

static void scheduler(out_t *o, hk_scheduler_t *s)
{
    hk_scheduler_stats_t st;
    hk_scheduler_stats(s, &st);
    head(o, "hookd_async_deliveries_total", "counter",
         "Asynchronous delivery attempts' results: succeeded and failed end a delivery, retried "
         "schedules another attempt.");
    put(o, "hookd_async_deliveries_total{outcome=\"succeeded\"} %llu\n",
        (unsigned long long)st.succeeded);
    put(o, "hookd_async_deliveries_total{outcome=\"failed\"} %llu\n",
        (unsigned long long)st.failed);
    put(o, "hookd_async_deliveries_total{outcome=\"retried\"} %llu\n",
        (unsigned long long)st.retried);
    one(o, "hookd_async_attempts_total", "counter", "Asynchronous attempts started.", st.attempts);
    one(o, "hookd_async_attempts_in_flight", "gauge", "Asynchronous attempts running now.",
        st.in_flight);
    one(o, "hookd_deliveries_pruned_total", "counter", "Deliveries pruned from the log.",
        st.pruned);
}

static void commit(out_t *o, hk_commit_t *c)
{
    hk_commit_stats_t st;
    hk_commit_stats(c, &st);
    one(o, "hookd_commit_batches_total", "counter", "Group-commit batches committed.", st.batches);
    one(o, "hookd_commit_batches_failed_total", "counter", "Group-commit batches thrown away.",
        st.failed);
    one(o, "hookd_commit_syncs_total", "counter", "Store syncs run by the group commit.", st.syncs);
    one(o, "hookd_commit_waiters_total", "counter",
        "Writes answered by a group commit (waiters per batch: this over batches).", st.waiters);
}

/* The group commit as the store's writer sees it: operations per batch, and
 * how long each commit (writes, data sync, meta page) took. */
static void commit_histograms(out_t *o, hk_store_t *store)
{
    hk_store_write_stats_t st;
    hk_store_write_stats(store, &st);
    one(o, "hookd_store_writes_kept", "gauge",
        "Writes nobody waits for (attempt results, due entries) kept to be tried again after "
        "their batch failed.",
        st.kept);
    uint64_t cum = 0;
    head(o, "hookd_commit_batch_size", "histogram",
         "Store writes (an event's deliveries, a webhook change, ...) per group commit.");
    for (int b = 0; b < HK_STORE_BATCH_BUCKETS; b++) {
        cum += st.batch_buckets[b];
        put(o, "hookd_commit_batch_size_bucket{le=\"%u\"} %llu\n", hk_store_batch_bounds[b],
            (unsigned long long)cum);
    }
    cum += st.batch_buckets[HK_STORE_BATCH_BUCKETS];
    put(o, "hookd_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    put(o, "hookd_commit_batch_size_sum %llu\n", (unsigned long long)st.batch_ops_sum);
    put(o, "hookd_commit_batch_size_count %llu\n", (unsigned long long)cum);
    cum = 0;
    head(o, "hookd_commit_duration_seconds", "histogram",
         "Time of one group commit on the writer thread: its pages written and synced, then "
         "the meta page.");
    for (int b = 0; b < HK_STORE_COMMIT_BUCKETS; b++) {
        cum += st.commit_buckets[b];
        put(o, "hookd_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
            hk_store_commit_bounds_us[b] / 1e6, (unsigned long long)cum);
    }
    cum += st.commit_buckets[HK_STORE_COMMIT_BUCKETS];
    put(o, "hookd_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    put(o, "hookd_commit_duration_seconds_sum %.6f\n", st.commit_ns_sum / 1e9);
    put(o, "hookd_commit_duration_seconds_count %llu\n", (unsigned long long)cum);
}

int hk_metrics_render(const hk_metrics_src_t *src, char **out, size_t *len)
{
    out_t o = {0};
    int rc = 0;

    if (!(o.buf = malloc(o.cap = 8192))) return HK_ENOMEM;
    head(&o, "hookd_build_info", "gauge", "hookd's version, as a label.");
    put(&o, "hookd_build_info{version=\"%s\"} 1\n", HK_VERSION);
    servers(&o, src);
    rpcs(&o);
    if (src->http) attempts(&o, src->http);
    if (src->scheduler) scheduler(&o, src->scheduler);
    if (src->commit) commit(&o, src->commit);
    if (src->store) commit_histograms(&o, src->store);
    if (src->store) {
        hk_outbox_stats_t st;
        if ((rc = hk_outbox_stats(src->store, &st)) != 0) goto out;
        one(&o, "hookd_deliveries_pending", "gauge", "Deliveries waiting for an attempt.",
            st.pending);
        one(&o, "hookd_deliveries_due", "gauge", "Pending deliveries in the due index.", st.due);
        one(&o, "hookd_deliveries_stored", "gauge", "Deliveries in the log.", st.deliveries);
        one(&o, "hookd_events_stored", "gauge", "Event ids remembered for idempotency.", st.events);
        hk_store_usage_t u;
        if ((rc = hk_store_usage(src->store, &u)) != 0) goto out;
        one(&o, "hookd_store_used_bytes", "gauge", "Bytes of the store in use (LMDB's pages).",
            u.used);
        one(&o, "hookd_store_map_bytes", "gauge", "The store's map size (store_map_bytes).", u.map);
        one(&o, "hookd_store_trigger_limit_bytes", "gauge",
            "New deliveries are refused above this many bytes in use (store_max_fill).", u.trigger);
        one(&o, "hookd_store_refused_total", "counter", "Store writes refused for room.",
            u.refused);
        one(&o, "hookd_store_pruned_for_space_total", "counter",
            "Finished deliveries pruned because the store was over its prune mark.",
            u.pruned_for_space);
        one(&o, "hookd_store_quarantined_records", "gauge",
            "Stored records that did not decode, set aside in the quarantine table.",
            u.quarantined);
    }
    one(&o, "hookd_admin_sessions", "gauge", "Admin page sessions alive.", src->sessions);
    if (o.failed) rc = HK_ENOMEM;
out:
    if (rc != 0) {
        free(o.buf);
        return rc;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
