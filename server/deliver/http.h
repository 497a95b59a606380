/* http.h -- outbound HTTP requests on the event loop: libcurl multi driven by libuv */
#ifndef HK_HTTP_H
#define HK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "deliver/policy.h"

/* The loop type is libuv's; callers that never touch libuv need not include
 * uv.h to hold a pointer to it. */
struct uv_loop_s;

/* How one request ended. The numbers are the proto's Outcome
 * (hookd.v1.Outcome): store and answer them as they are. */
typedef enum {
    HK_OUTCOME_UNSPECIFIED = 0,
    HK_OUTCOME_SUCCEEDED = 1,     /* a 2xx answer */
    HK_OUTCOME_HTTP_ERROR = 2,    /* any other final status, 3xx included */
    HK_OUTCOME_TIMED_OUT = 3,     /* no complete answer within timeout_ms */
    HK_OUTCOME_NETWORK_ERROR = 4, /* resolve, connect, TLS or transfer failure */
    HK_OUTCOME_REFUSED = 5,       /* the outbound policy refused every address */
    HK_OUTCOME_CANCELLED = 6      /* hk_http_request_cancel or hk_http_close */
} hk_outcome_t;

/* "succeeded", "http_error", ... for logs; never NULL. */
const char *hk_outcome_name(hk_outcome_t outcome);

typedef struct hk_http hk_http_t;
typedef struct hk_http_request hk_http_request_t;

typedef struct {
    /* Transfers in flight at once; more requests wait in a queue and start
     * as others finish. 0: 256. */
    uint32_t max_transfers;
    /* Connections to one host:port at once. 0: no limit beyond
     * max_transfers. A limit makes libcurl hold the excess transfers in its
     * own queue, where their timeout does not run (libcurl 7.88), so a
     * limit below max_transfers can stretch a request past timeout_ms. */
    uint32_t max_host_connections;
    const char *ca_file;    /* CA bundle for TLS verification; NULL: the system's */
    const char *user_agent; /* "hookd/<version>"; NULL: no User-Agent header */
    /* Checked on every resolved address before connecting (copied).
     * NULL: the built-in defaults only (hk_policy_init). */
    const hk_policy_t *policy;
} hk_http_opts_t;

typedef struct {
    const char *name;  /* "webhook-id" */
    const char *value; /* NUL-terminated; no CR or LF (HK_EINVAL) */
} hk_http_header_t;

/* One POST. Everything is copied by hk_http_request_start unless said
 * otherwise, so the request may live on the caller's stack. */
typedef struct {
    const char *url;                 /* http:// or https://; other schemes fail */
    const hk_http_header_t *headers; /* sent as given, after Host */
    size_t n_headers;
    const uint8_t *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    /* When set, body is NOT copied: it must stay valid and unchanged until
     * the callback has run. Saves a copy per receiver when one event body
     * goes to many webhooks. */
    int body_borrowed;
    /* Bound on the whole transfer (connect, send, answer), counted from the
     * moment it starts, not from when it was queued. 1..600000. */
    uint32_t timeout_ms;
    size_t max_body_keep; /* bytes of the answer kept for the result */
    /* A caller is waiting (synchronous webhooks): when over max_transfers,
     * start before every queued non-urgent request. */
    int urgent;
} hk_http_req_t;

typedef struct {
    hk_outcome_t outcome;
    int http_status;      /* final status; 0 when none came */
    uint32_t duration_ms; /* from the transfer's start to its end; 0 if it never started */
    const char *error;    /* "" on success; else why, e.g. "HTTP 500",
                             "address 169.254.169.254 refused by outbound policy" */
    const uint8_t *body;  /* the first bytes of the answer (not NUL-terminated; never NULL) */
    size_t body_len;      /* <= max_body_keep */
    int body_truncated;   /* the answer was longer than max_body_keep */
    /* Seconds the receiver asked to wait (Retry-After: delta-seconds or an
     * HTTP-date, a past date giving 0); -1 when absent or unparsable. */
    long retry_after_s;
    /* The transfer failed for want of a file descriptor in this process
     * (EMFILE/ENFILE: a socket, or the resolver's), not because of the
     * receiver: outcome is HK_OUTCOME_NETWORK_ERROR and the receiver never
     * saw the request. The first such failure of a burst, and the first
     * success a second after its last, are logged ("fd_exhausted",
     * "fd_recovered" with the count). */
    int no_fd;
} hk_http_result_t;

/* Runs exactly once per started request, on the loop thread, never from
 * inside hk_http_request_start, hk_http_request_cancel or hk_http_close.
 * result and everything it points to are valid only during the call: copy
 * what you keep. req is freed when the callback returns. The callback may
 * start and cancel requests and may call hk_http_close. */
typedef void (*hk_http_cb)(hk_http_request_t *req, const hk_http_result_t *result, void *arg);

/* Runs once, after the last callback and after every handle is closed. */
typedef void (*hk_http_close_cb)(void *arg);

/* Creates a client on loop. Every request shares one connection cache, so
 * sequential requests to a host reuse a kept-alive HTTP/1.1 connection.
 * opts may be NULL (all defaults). Returns 0, HK_ENOMEM or HK_EIO (libcurl
 * could not start). Free with hk_http_close. */
int hk_http_new(struct uv_loop_s *loop, const hk_http_opts_t *opts, hk_http_t **out);

/* Starts a POST (or queues it when max_transfers are in flight). cb gets the
 * result later; *out (may be NULL) is the handle to cancel with, valid until
 * cb returns. Redirects are not followed, TLS is verified, proxies from the
 * environment are ignored (the policy must see the receiver's address).
 * Returns 0; HK_EINVAL (no URL, bad timeout, a header with CR/LF);
 * HK_ESHUTDOWN (hk_http_close was called); HK_ENOMEM. On failure cb never
 * runs. */
int hk_http_request_start(hk_http_t *http, const hk_http_req_t *req, hk_http_cb cb, void *arg,
                          hk_http_request_t **out);

/* Aborts the request at once: its connection is closed before this returns
 * (the receiver sees it close), a queued request never starts. The callback
 * runs later, from the loop, with HK_OUTCOME_CANCELLED — deferred so a caller
 * tearing down its own state in a loop of cancels is not re-entered. A
 * request whose transfer already ended but whose callback has not run yet
 * keeps its real result. Must not be called after the callback ran. */
void hk_http_request_cancel(hk_http_request_t *req);

/* Replaces the outbound policy (a config reload; policy is copied). Every
 * connect from now on is checked against it; a connection libcurl keeps
 * alive was checked when it was made and may be reused until it idles out
 * (118 s). */
void hk_http_set_policy(hk_http_t *http, const hk_policy_t *policy);

/* Requests in flight or queued (started, callback not yet run). */
size_t hk_http_pending(const hk_http_t *http);

/* Cancels every request (each callback runs with HK_OUTCOME_CANCELLED, as
 * hk_http_request_cancel), closes all connections and handles, frees http,
 * then calls cb(arg) (cb may be NULL). Further hk_http_request_start calls
 * fail with HK_ESHUTDOWN. Call once. */
void hk_http_close(hk_http_t *http, hk_http_close_cb cb, void *arg);

/* Counts since hk_http_new, for the metrics page: finished requests by
 * outcome (HK_OUTCOME_*), and the durations of those that started, as a
 * histogram: duration_buckets[i] counts durations <= bounds[i] and above the
 * bound before (not cumulative); the last bucket is beyond every bound. */
#define HK_HTTP_OUTCOMES 7
#define HK_HTTP_DURATION_BUCKETS 13
extern const uint32_t hk_http_duration_bounds_ms[HK_HTTP_DURATION_BUCKETS];
typedef struct {
    uint64_t outcomes[HK_HTTP_OUTCOMES];
    uint64_t duration_buckets[HK_HTTP_DURATION_BUCKETS + 1];
    uint64_t duration_ms_sum;
} hk_http_stats_t;
void hk_http_stats(const hk_http_t *http, hk_http_stats_t *out);

#endif
