/* http.c -- outbound HTTP requests on the event loop: libcurl multi driven by libuv */
#include "deliver/http.h"
#include "deliver/retry.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "hookd/v1/webhooks.pb-c.h"

#include <curl/curl.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* hk_outcome_t is stored and answered as the proto's Outcome as it is. */
_Static_assert((int)HK_OUTCOME_SUCCEEDED == (int)HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED, "outcome");
_Static_assert((int)HK_OUTCOME_HTTP_ERROR == (int)HOOKD__V1__OUTCOME__OUTCOME_HTTP_ERROR,
               "outcome");
_Static_assert((int)HK_OUTCOME_TIMED_OUT == (int)HOOKD__V1__OUTCOME__OUTCOME_TIMED_OUT, "outcome");
_Static_assert((int)HK_OUTCOME_NETWORK_ERROR == (int)HOOKD__V1__OUTCOME__OUTCOME_NETWORK_ERROR,
               "outcome");
_Static_assert((int)HK_OUTCOME_REFUSED == (int)HOOKD__V1__OUTCOME__OUTCOME_REFUSED, "outcome");
_Static_assert((int)HK_OUTCOME_CANCELLED == (int)HOOKD__V1__OUTCOME__OUTCOME_CANCELLED, "outcome");

#define DEFAULT_MAX_TRANSFERS 256
#define MAX_TIMEOUT_MS 600000
#define POOL_MAX 1024                          /* idle easy handles kept at most */
#define NO_FD_BURST_GAP_NS (5ull * 1000000000) /* no fd failures this far apart: a new burst */
#define NO_FD_QUIET_NS (1ull * 1000000000)     /* none for this long, and a success: it is over */

typedef enum { REQ_QUEUED, REQ_RUNNING, REQ_DONE } req_state_t;

/* A list of requests: a request is in exactly one list, the one its state
 * names, so moving between states is O(1). */
typedef struct {
    hk_link_t head; /* hk_http_request_t.link, oldest first */
    size_t n;
} req_list_t;

struct hk_http_request {
    hk_http_t *http;
    hk_link_t link; /* in the list its state names */
    req_state_t state;
    int urgent;
    CURL *easy;
    /* The header lines, built in this allocation after the struct: curl
     * reads the list during the transfer and never frees it. */
    struct curl_slist *headers;
    hk_http_cb cb;
    void *arg;
    uint64_t started_ns; /* uv_hrtime when the transfer began; 0 while queued */

    size_t body_keep; /* max_body_keep */
    uint8_t *body;    /* grows up to body_keep */
    size_t body_len, body_cap;
    int body_truncated;

    int no_fd;   /* errno (EMFILE, ENFILE) of a socket this transfer could not open */
    int refused; /* the policy refused an address of this transfer */
    char refused_addr[HK_POLICY_ADDR_MAX];
    char curl_error[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + 64];
    hk_http_result_t result; /* filled when the request becomes REQ_DONE */
};

/* One socket curl uses and its uv_poll_t. A socket hk_http opened
 * (on_open_socket) keeps its poll for its whole life, until
 * on_close_socket: a kept-alive connection goes back to curl's cache after
 * every transfer (curl says CURL_POLL_REMOVE) and comes out for the next
 * one, and closing and re-creating the poll each time would cost an
 * epoll_ctl DEL, an ADD and an ioctl per request. Any other socket curl
 * shows us (its resolver's) is closed by curl without telling us, so its
 * poll goes at CURL_POLL_REMOVE. The uv_poll_t is freed in its close
 * callback, which may run after the fd is closed and even reused. */
typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    hk_http_t *http;
    hk_link_t link; /* in http->socks */
    int events;     /* UV_READABLE | UV_WRITABLE being watched; 0: stopped */
    int owned;      /* opened by on_open_socket: on_close_socket ends it */
    int parked;     /* curl has no transfer on it (an idle cached connection) */
} sock_ctx_t;

struct hk_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's single timeout */
    uv_idle_t idle;   /* runs deferred callbacks (cancels) and the teardown */
    hk_policy_t policy;
    char *ca_file, *user_agent;
    uint32_t max_transfers;

    req_list_t urgent_queue, queue, running, done;
    hk_link_t socks;    /* sock_ctx_t.link: sockets being watched, for the teardown */
    sock_ctx_t **by_fd; /* the same, by fd: curl forgets its own link at REMOVE */
    size_t by_fd_len;

    /* Easy handles of finished requests, their fixed options set: an easy
     * handle costs a dozen allocations to create and as many setopts. */
    CURL **pool;
    size_t n_pool, pool_cap;

    /* Transfers failed for want of a file descriptor: the current burst's
     * count (0: none) and when the last one failed. */
    uint64_t no_fd_count, no_fd_last_ns;

    int draining; /* inside drain_done: do not re-enter */
    int closing, torn_down;
    unsigned n_closing; /* uv_close calls whose callback has not run */
    hk_http_close_cb close_cb;
    void *close_arg;
    hk_http_stats_t stats;
};

const uint32_t hk_http_duration_bounds_ms[HK_HTTP_DURATION_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

const char *hk_outcome_name(hk_outcome_t outcome)
{
    switch (outcome) {
    case HK_OUTCOME_UNSPECIFIED: return "unspecified";
    case HK_OUTCOME_SUCCEEDED: return "succeeded";
    case HK_OUTCOME_HTTP_ERROR: return "http_error";
    case HK_OUTCOME_TIMED_OUT: return "timed_out";
    case HK_OUTCOME_NETWORK_ERROR: return "network_error";
    case HK_OUTCOME_REFUSED: return "refused";
    case HK_OUTCOME_CANCELLED: return "cancelled";
    }
    return "unknown";
}

/* --- request lists -------------------------------------------------------- */

static void list_push(req_list_t *l, hk_http_request_t *r)
{
    hk_link_add(&l->head, &r->link);
    l->n++;
}

static void list_remove(req_list_t *l, hk_http_request_t *r)
{
    hk_link_del(&r->link);
    l->n--;
}

/* The oldest request of l, or NULL. */
static hk_http_request_t *list_first(req_list_t *l)
{
    return hk_link_empty(&l->head) ? NULL : hk_container_of(l->head.next, hk_http_request_t, link);
}

static req_list_t *list_of(hk_http_t *http, hk_http_request_t *r)
{
    switch (r->state) {
    case REQ_QUEUED: return r->urgent ? &http->urgent_queue : &http->queue;
    case REQ_RUNNING: return &http->running;
    case REQ_DONE: break;
    }
    return &http->done;
}

/* --- close bookkeeping ---------------------------------------------------- */

static void maybe_free(hk_http_t *http)
{
    if (!http->torn_down || http->n_closing) return;
    hk_http_close_cb cb = http->close_cb;
    void *arg = http->close_arg;
    free(http->ca_file);
    free(http->user_agent);
    free(http->by_fd);
    free(http->pool);
    free(http);
    curl_global_cleanup();
    if (cb) cb(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    hk_http_t *http = h->data;
    http->n_closing--;
    maybe_free(http);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_ctx_t *ctx = hk_container_of((uv_poll_t *)h, sock_ctx_t, poll);
    hk_http_t *http = ctx->http;
    free(ctx);
    http->n_closing--;
    maybe_free(http);
}

static sock_ctx_t *sock_find(hk_http_t *http, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < http->by_fd_len ? http->by_fd[fd] : NULL;
}

static void sock_forget(hk_http_t *http, sock_ctx_t *ctx)
{
    hk_link_del(&ctx->link);
    if (sock_find(http, ctx->fd) == ctx) http->by_fd[ctx->fd] = NULL;
    /* uv_close stops the poll now (libuv forgets the fd before it may be
     * closed and reused); only the memory waits for the callback. */
    http->n_closing++;
    uv_close((uv_handle_t *)&ctx->poll, on_sock_closed);
}

static sock_ctx_t *sock_new(hk_http_t *http, curl_socket_t fd, int owned)
{
    if (fd < 0) return NULL;
    if ((size_t)fd >= http->by_fd_len) {
        size_t len = http->by_fd_len ? http->by_fd_len : 64;
        while (len <= (size_t)fd)
            len *= 2;
        sock_ctx_t **t = realloc(http->by_fd, len * sizeof *t);
        if (!t) return NULL;
        memset(t + http->by_fd_len, 0, (len - http->by_fd_len) * sizeof *t);
        http->by_fd = t;
        http->by_fd_len = len;
    }
    sock_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->fd = fd;
    ctx->http = http;
    ctx->owned = owned;
    if (uv_poll_init_socket(http->loop, &ctx->poll, fd) != 0) {
        free(ctx);
        return NULL;
    }
    hk_link_add(&http->socks, &ctx->link);
    http->by_fd[fd] = ctx;
    return ctx;
}

static void on_poll(uv_poll_t *poll, int status, int events);

/* Watches events on ctx; asking for what is watched already costs nothing
 * (uv_poll_start would drop the fd from epoll and add it back). */
static int sock_watch(sock_ctx_t *ctx, int events)
{
    if (events == ctx->events) return 0;
    int rc = events ? uv_poll_start(&ctx->poll, events, on_poll) : uv_poll_stop(&ctx->poll);
    ctx->events = rc == 0 ? events : 0;
    return rc;
}

/* --- finishing requests --------------------------------------------------- */

static void finish(hk_http_request_t *r, hk_outcome_t outcome, int status, const char *error)
{
    hk_http_t *http = r->http;
    list_remove(list_of(http, r), r);
    r->state = REQ_DONE;
    list_push(&http->done, r);

    if (error != r->error) snprintf(r->error, sizeof r->error, "%s", error);
    r->result.outcome = outcome;
    r->result.http_status = status;
    r->result.duration_ms =
        r->started_ns ? (uint32_t)((uv_hrtime() - r->started_ns) / 1000000u) : 0;
    if ((unsigned)outcome < HK_HTTP_OUTCOMES) http->stats.outcomes[outcome]++;
    if (r->started_ns) {
        size_t b = 0;
        while (b < HK_HTTP_DURATION_BUCKETS &&
               r->result.duration_ms > hk_http_duration_bounds_ms[b])
            b++;
        http->stats.duration_buckets[b]++;
        http->stats.duration_ms_sum += r->result.duration_ms;
    }
    r->result.error = r->error;
    static const uint8_t no_body[1];
    r->result.body = r->body ? r->body : no_body; /* callers may memcpy it unconditionally */
    r->result.body_len = r->body_len;
    r->result.body_truncated = r->body_truncated;
}

/* Keeps the easy handle of a finished request for the next one. Its
 * per-request options (pointers into the freed request among them) are all
 * set again before it runs again (setup_request). */
static void easy_release(hk_http_t *http, CURL *easy)
{
    if (!easy) return;
    if (!http->closing && http->n_pool < http->pool_cap) {
        http->pool[http->n_pool++] = easy;
        return;
    }
    curl_easy_cleanup(easy);
}

static void request_free(hk_http_request_t *r)
{
    easy_release(r->http, r->easy);
    free(r->body);
    free(r);
}

static void fill_slots(hk_http_t *http);

/* Runs the callbacks of finished requests, oldest first. Callbacks may start,
 * cancel or close; new finished requests join the list and run here too. */
static void drain_done(hk_http_t *http)
{
    if (http->draining) return;
    http->draining = 1;
    hk_http_request_t *r;
    while ((r = list_first(&http->done)) != NULL) {
        list_remove(&http->done, r);
        r->cb(r, &r->result, r->arg);
        request_free(r);
    }
    http->draining = 0;
}

static void on_idle(uv_idle_t *idle);

static void schedule_idle(hk_http_t *http)
{
    if (!http->torn_down) uv_idle_start(&http->idle, on_idle);
}

/* EMFILE or ENFILE when this process cannot open a file descriptor now,
 * else 0. Asked only after a transfer failed in a way that may mean it. */
static int fd_exhausted(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EMFILE || errno == ENFILE ? errno : 0;
}

/* One line when a burst of "no fd" failures starts, not one per failure. */
static void no_fd_seen(hk_http_t *http, int err)
{
    uint64_t now = uv_hrtime();
    if (http->no_fd_count == 0 || now - http->no_fd_last_ns > NO_FD_BURST_GAP_NS) {
        struct rlimit rl = {0};
        getrlimit(RLIMIT_NOFILE, &rl);
        hk_log(HK_LOG_WARN, "fd_exhausted",
               "where=deliver errno=%s nofile=%llu in_flight=%zu previous_burst=%llu",
               err == ENFILE ? "ENFILE" : "EMFILE", (unsigned long long)rl.rlim_cur,
               http->running.n, (unsigned long long)http->no_fd_count);
        http->no_fd_count = 0;
    }
    http->no_fd_count++;
    http->no_fd_last_ns = now;
}

/* A transfer reached its receiver: a burst of "no fd" failures is over once
 * none has come for a while (successes and failures interleave while the
 * descriptors are short). */
static void no_fd_over(hk_http_t *http)
{
    if (!http->no_fd_count || uv_hrtime() - http->no_fd_last_ns < NO_FD_QUIET_NS) return;
    hk_log(HK_LOG_INFO, "fd_recovered", "where=deliver failures=%llu",
           (unsigned long long)http->no_fd_count);
    http->no_fd_count = 0;
}

static void outcome_of(hk_http_request_t *r, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);

    struct curl_header *h;
    if (status && curl_easy_header(r->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        long s;
        if (hk_retry_after_parse(h->value, time(NULL), &s) == 0) r->result.retry_after_s = s;
    }

    if (code == CURLE_OK) {
        no_fd_over(r->http);
        if (status >= 200 && status <= 299) {
            finish(r, HK_OUTCOME_SUCCEEDED, (int)status, "");
        } else {
            snprintf(r->error, sizeof r->error, "HTTP %ld%s", status,
                     status >= 300 && status <= 399 ? " (redirects are not followed)" : "");
            finish(r, HK_OUTCOME_HTTP_ERROR, (int)status, r->error);
        }
        return;
    }
    const char *why = r->curl_error[0] ? r->curl_error : curl_easy_strerror(code);
    int no_fd = r->no_fd;
    /* A connect failure is the receiver's: on_open_socket opened the socket
     * (or says why not). The resolver opens its own (a socketpair per
     * lookup), and says only that the lookup failed. */
    if (!no_fd && (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_OUT_OF_MEMORY ||
                   code == CURLE_FAILED_INIT))
        no_fd = fd_exhausted();
    if (no_fd) {
        snprintf(r->error, sizeof r->error,
                 "no file descriptor free in hookd (%s): the receiver was not reached",
                 no_fd == ENFILE ? "ENFILE" : "EMFILE");
        r->result.no_fd = 1;
        no_fd_seen(r->http, no_fd);
        finish(r, HK_OUTCOME_NETWORK_ERROR, 0, r->error);
    } else if (r->refused && code == CURLE_COULDNT_CONNECT) {
        snprintf(r->error, sizeof r->error, "address %s refused by outbound policy",
                 r->refused_addr);
        finish(r, HK_OUTCOME_REFUSED, 0, r->error);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        finish(r, HK_OUTCOME_TIMED_OUT, (int)status, why);
    } else {
        finish(r, HK_OUTCOME_NETWORK_ERROR, (int)status, why);
    }
}

/* Collects every transfer curl has finished, then runs their callbacks.
 * Collecting first keeps a callback that cancels another finished request
 * from erasing that request's real result. */
static void collect(hk_http_t *http)
{
    CURLMsg *msg;
    int left;
    while (http->multi && (msg = curl_multi_info_read(http->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        void *priv = NULL;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        hk_http_request_t *r = priv;
        curl_multi_remove_handle(http->multi, r->easy);
        outcome_of(r, code);
    }
    fill_slots(http);
    drain_done(http);
}

/* --- curl -> libuv ---------------------------------------------------------- */

static void on_poll(uv_poll_t *poll, int status, int events)
{
    sock_ctx_t *ctx = hk_container_of(poll, sock_ctx_t, poll);
    hk_http_t *http = ctx->http;
    if (ctx->parked) {
        /* An idle connection became readable: the receiver closed it (or
         * sent what nobody asked for). curl finds that out when it next
         * looks at the connection; until then, stop listening. */
        sock_watch(ctx, 0);
        return;
    }
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(http->multi, ctx->fd, flags, &running);
    collect(http);
}

static void on_timer(uv_timer_t *timer)
{
    hk_http_t *http = hk_container_of(timer, hk_http_t, timer);
    int running;
    curl_multi_socket_action(http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(http);
}

/* CURLMOPT_TIMERFUNCTION. Never drives curl from here (curl forbids it): a
 * zero timeout fires on the next loop iteration instead. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hk_http_t *http = userp;
    if (http->torn_down) return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&http->timer);
    else
        uv_timer_start(&http->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear about a socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    hk_http_t *http = userp;
    sock_ctx_t *ctx = sock_find(http, fd);

    if (what == CURL_POLL_REMOVE) {
        if (!ctx) return 0;
        if (!ctx->owned) {
            /* Stop before curl closes the fd, so epoll never watches a stale fd. */
            sock_forget(http, ctx);
            return 0;
        }
        /* Back in curl's connection cache (or about to be closed, which
         * on_close_socket hears of). The next transfer on it sends at once
         * and then waits to read, so reading stays watched: no epoll_ctl
         * either way. Writability would fire at once: that stops now. */
        ctx->parked = 1;
        if (ctx->events & UV_WRITABLE) sock_watch(ctx, 0);
        return 0;
    }
    if (http->torn_down) return 0;
    if (!ctx && !(ctx = sock_new(http, fd, 0))) return -1;
    ctx->parked = 0;
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    return sock_watch(ctx, events) == 0 ? 0 : -1; /* no events: CURL_POLL_NONE */
}

/* CURLOPT_OPENSOCKETFUNCTION: the one place that sees the resolved address
 * before a connect, so the outbound policy is enforced here. The socket's
 * poll is made here too and lives as long as the socket. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *address)
{
    hk_http_request_t *r = clientp;
    hk_http_t *http = r->http;
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    if (hk_policy_check(&http->policy, &address->addr, address->addrlen) != 0) {
        r->refused = 1;
        hk_policy_addr_text(&address->addr, r->refused_addr);
        return CURL_SOCKET_BAD;
    }
    curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD) {
        if (errno == EMFILE || errno == ENFILE) r->no_fd = errno;
        return fd;
    }
    if (!sock_new(http, fd, 1)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the end of a socket on_open_socket made.
 * Its poll goes first, so that libuv never watches a closed (or reused)
 * fd number. curl keeps this callback with the connection, which may
 * outlive the request: its data is the hk_http_t. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    hk_http_t *http = clientp;
    sock_ctx_t *ctx = sock_find(http, fd);
    if (ctx) sock_forget(http, ctx);
    return close(fd);
}

/* CURLOPT_WRITEFUNCTION: keep the first body_keep bytes, swallow the rest so
 * the transfer completes and the connection stays reusable. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    hk_http_request_t *r = userp;
    size_t n = size * nmemb;
    size_t room = r->body_keep - r->body_len;
    size_t take = n < room ? n : room;
    if (take < n) r->body_truncated = 1;
    if (take == 0) return n;
    if (r->body_len + take > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + take)
            cap *= 2;
        if (cap > r->body_keep) cap = r->body_keep;
        uint8_t *b = realloc(r->body, cap);
        if (!b) {
            /* Out of memory for the kept copy only: report it truncated. */
            r->body_truncated = 1;
            return n;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, take);
    r->body_len += take;
    return n;
}

/* --- starting transfers ----------------------------------------------------- */

static int begin(hk_http_request_t *r)
{
    hk_http_t *http = r->http;
    list_remove(list_of(http, r), r);
    r->state = REQ_RUNNING;
    list_push(&http->running, r);
    r->started_ns = uv_hrtime();
    if (curl_multi_add_handle(http->multi, r->easy) != CURLM_OK) {
        finish(r, HK_OUTCOME_NETWORK_ERROR, 0, "could not start the transfer");
        return -1;
    }
    return 0;
}

/* Starts queued requests while below max_transfers, urgent ones first. */
static void fill_slots(hk_http_t *http)
{
    int failed = 0;
    while (!http->closing && http->running.n < http->max_transfers) {
        hk_http_request_t *r = list_first(&http->urgent_queue);
        if (!r) r = list_first(&http->queue);
        if (!r) break;
        if (begin(r) != 0) failed = 1;
    }
    if (failed) schedule_idle(http);
}

static void on_idle(uv_idle_t *idle)
{
    hk_http_t *http = hk_container_of(idle, hk_http_t, idle);
    fill_slots(http);
    drain_done(http);
    if (!hk_link_empty(&http->done.head)) return;
    uv_idle_stop(idle);
    if (!http->closing || http->torn_down || http->draining) return;

    /* Teardown, from the loop rather than from hk_http_close, which may run
     * inside a callback with curl state still on the stack above it. */
    http->torn_down = 1;
    while (http->n_pool)
        curl_easy_cleanup(http->pool[--http->n_pool]);
    curl_multi_cleanup(http->multi);
    http->multi = NULL;
    while (!hk_link_empty(&http->socks))
        sock_forget(http, hk_container_of(http->socks.next, sock_ctx_t, link));
    http->n_closing += 2;
    uv_close((uv_handle_t *)&http->timer, on_handle_closed);
    uv_close((uv_handle_t *)&http->idle, on_handle_closed);
}

/* curl would send "Expect: 100-continue" for a large body and wait a
 * second for an interim answer most receivers never send. */
static const char no_expect[] = "Expect:";

/* Room set_headers needs after the request: the list nodes and the lines.
 * Returns 0 or HK_EINVAL (a bad header). */
static int headers_size(const hk_http_req_t *req, size_t *size)
{
    size_t n = (req->n_headers + 1) * sizeof(struct curl_slist) + sizeof no_expect;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        if (!name || !*name || !value) return HK_EINVAL;
        if (strpbrk(name, ":\r\n \t") || strpbrk(value, "\r\n")) return HK_EINVAL;
        n += strlen(name) + strlen(value) + 3;
    }
    *size = n;
    return 0;
}

/* Lays the header list out in mem (headers_size bytes): one allocation with
 * the request rather than one per line and per node. */
static void set_headers(hk_http_request_t *r, const hk_http_req_t *req, char *mem)
{
    struct curl_slist *nodes = (struct curl_slist *)mem;
    char *text = mem + (req->n_headers + 1) * sizeof *nodes;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        size_t nl = strlen(name), vl = strlen(value);
        nodes[i].data = text;
        nodes[i].next = &nodes[i + 1];
        memcpy(text, name, nl);
        text += nl;
        /* curl sends "name;" as an empty header; "name:" would remove it. */
        if (vl) {
            memcpy(text, ": ", 2);
            memcpy(text + 2, value, vl);
            text += 2 + vl;
        } else {
            *text++ = ';';
        }
        *text++ = '\0';
    }
    memcpy(text, no_expect, sizeof no_expect);
    nodes[req->n_headers].data = text;
    nodes[req->n_headers].next = NULL;
    r->headers = nodes;
}

/* A new easy handle with the options every request shares. */
static CURL *easy_new(hk_http_t *http)
{
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    int ok = 1;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* The policy must judge the receiver's address, never a proxy's. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (http->ca_file) SET(CURLOPT_CAINFO, http->ca_file);
    if (http->user_agent) SET(CURLOPT_USERAGENT, http->user_agent);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    SET(CURLOPT_CLOSESOCKETDATA, (void *)http);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_POST, 1L);
#undef SET
    if (!ok) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

/* The options of this request, on a new or a pooled easy handle. Every
 * option a request sets is set here each time, so nothing of the handle's
 * last request remains. */
static int setup_request(hk_http_request_t *r, const hk_http_req_t *req)
{
    CURL *e = r->easy;
    int ok = 1;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_PRIVATE, (void *)r);
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_ERRORBUFFER, r->curl_error);
    SET(CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    SET(CURLOPT_OPENSOCKETDATA, (void *)r);
    SET(CURLOPT_WRITEDATA, (void *)r);
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (req->body_borrowed || req->body_len == 0)
        SET(CURLOPT_POSTFIELDS, req->body_len ? (const char *)req->body : "");
    else
        SET(CURLOPT_COPYPOSTFIELDS, (const char *)req->body);
#undef SET
    return ok ? 0 : HK_ENOMEM;
}

int hk_http_request_start(hk_http_t *http, const hk_http_req_t *req, hk_http_cb cb, void *arg,
                          hk_http_request_t **out)
{
    if (http->closing) return HK_ESHUTDOWN;
    if (!req->url || !*req->url || !cb || req->timeout_ms == 0 ||
        req->timeout_ms > MAX_TIMEOUT_MS || (req->body_len && !req->body))
        return HK_EINVAL;

    size_t hsize;
    int rc = headers_size(req, &hsize);
    if (rc) return rc;
    hk_http_request_t *r = malloc(sizeof *r + hsize);
    if (!r) return HK_ENOMEM;
    memset(r, 0, sizeof *r);
    r->http = http;
    r->cb = cb;
    r->arg = arg;
    r->urgent = req->urgent;
    r->body_keep = req->max_body_keep;
    r->state = REQ_QUEUED;
    r->result.retry_after_s = -1;
    set_headers(r, req, (char *)(r + 1));
    r->easy = http->n_pool ? http->pool[--http->n_pool] : easy_new(http);
    rc = HK_ENOMEM;
    if (!r->easy) goto fail;
    if ((rc = setup_request(r, req)) != 0) goto fail;

    list_push(list_of(http, r), r);
    if (out) *out = r;
    fill_slots(http);
    return 0;
fail:
    request_free(r);
    return rc;
}

void hk_http_request_cancel(hk_http_request_t *r)
{
    hk_http_t *http = r->http;
    if (r->state == REQ_DONE) return;
    if (r->state == REQ_RUNNING) {
        /* Removing an unfinished HTTP/1.1 transfer makes curl close its
         * connection now, which is what the receiver must see. */
        curl_multi_remove_handle(http->multi, r->easy);
    }
    finish(r, HK_OUTCOME_CANCELLED, 0, "cancelled");
    fill_slots(http);
    schedule_idle(http);
}

size_t hk_http_pending(const hk_http_t *http)
{
    return http->urgent_queue.n + http->queue.n + http->running.n + http->done.n;
}

void hk_http_stats(const hk_http_t *http, hk_http_stats_t *out)
{
    *out = http->stats;
}

void hk_http_set_policy(hk_http_t *http, const hk_policy_t *policy)
{
    http->policy = *policy;
}

int hk_http_new(uv_loop_t *loop, const hk_http_opts_t *opts, hk_http_t **out)
{
    hk_http_opts_t none = {0};
    if (!opts) opts = &none;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return HK_EIO;

    hk_http_t *http = calloc(1, sizeof *http);
    if (!http) goto nomem;
    http->loop = loop;
    hk_link_init(&http->urgent_queue.head);
    hk_link_init(&http->queue.head);
    hk_link_init(&http->running.head);
    hk_link_init(&http->done.head);
    hk_link_init(&http->socks);
    http->max_transfers = opts->max_transfers ? opts->max_transfers : DEFAULT_MAX_TRANSFERS;
    if (opts->policy)
        http->policy = *opts->policy;
    else
        hk_policy_init(&http->policy);
    if (opts->ca_file && !(http->ca_file = strdup(opts->ca_file))) goto nomem;
    if (opts->user_agent && !(http->user_agent = strdup(opts->user_agent))) goto nomem;
    /* As many idle easy handles as transfers may run: a steady stream of
     * requests then creates none. */
    http->pool_cap = http->max_transfers < POOL_MAX ? http->max_transfers : POOL_MAX;
    if (!(http->pool = calloc(http->pool_cap, sizeof *http->pool))) goto nomem;
    http->multi = curl_multi_init();
    if (!http->multi) goto nomem;

    curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, (void *)http);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, (void *)http);
    /* Keep as many idle connections as transfers may run, so a burst to one
     * receiver finds its connections again on the next burst. */
    curl_multi_setopt(http->multi, CURLMOPT_MAXCONNECTS, (long)http->max_transfers);
    curl_multi_setopt(http->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)(opts->max_host_connections ? opts->max_host_connections : 0));

    uv_timer_init(loop, &http->timer);
    uv_idle_init(loop, &http->idle);
    http->timer.data = http;
    http->idle.data = http;
    /* The idle handle never keeps the loop alive on its own; work does. */
    *out = http;
    return 0;
nomem:
    if (http) {
        free(http->pool);
        free(http->ca_file);
        free(http->user_agent);
        free(http);
    }
    curl_global_cleanup();
    return HK_ENOMEM;
}

void hk_http_close(hk_http_t *http, hk_http_close_cb cb, void *arg)
{
    if (http->closing) return;
    http->closing = 1;
    http->close_cb = cb;
    http->close_arg = arg;
    req_list_t *lists[] = {&http->urgent_queue, &http->queue, &http->running};
    for (size_t i = 0; i < 3; i++)
        while (!hk_link_empty(&lists[i]->head))
            hk_http_request_cancel(list_first(lists[i]));
    schedule_idle(http);
}
