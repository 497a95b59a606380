/* trigger.c -- TriggerEvent figures: durable accept rate, sync overhead, matching cost, delivery
 * rate
 *
 * usage: bench_trigger MODE [--url URL] [--seconds S] [--callers N] [--inflight N] [--events N]
 *                          [--webhooks N]
 *   accept   async TriggerEvent answers/s with --callers threads, each on its own connection
 *            with --inflight calls in flight (default 1); every answer means the deliveries
 *            are fsynced
 *   fsync    the same number of events written one synced store transaction each
 *            (hk_store directly, no RPC): what group commit is measured against
 *   sync     TriggerEvent round trip to one synchronous webhook at URL, beside plain
 *            HTTP requests to URL from this process (the receiver's own time), p50/p99
 *   match    TriggerEvent cost with --webhooks configured (one matching, synchronous)
 *   deliver  --events async events to one webhook at URL; prints accepted/s and, when
 *            --status-url points at nginx's stub_status, delivered/s end to end
 * Starts $HOOKD_BIN on a temporary socket (settings via --set K=V, repeatable). */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hookd/client.h>

#include "bench.h"
#include "core/crypto.h"
#include "store/webhooks.h"

#define MAX_CALLERS 256

static const char *socket_path, *url = "http://127.0.0.1:18080/hook", *status_url;
static double seconds = 3;
static pid_t hookd_pid;
static long last_done; /* events answered by the last run_callers */
static int callers = 1, inflight = 1;
static long events = 20000, webhooks = 100000;

static hk_client_t *open_client(void)
{
    hk_client_t *c;
    if (hk_client_open(socket_path, &c) != 0) exit(1);
    return c;
}

static void die_status(hk_client_t *c, const char *what)
{
    const char *msg;
    int st = hk_client_last_status(c, &msg);
    fprintf(stderr, "bench: %s: %s: %s\n", what, hk_client_status_name(st), msg);
    exit(1);
}

static void create(hk_client_t *c, const char *name, const char *action, const char *to, int async)
{
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *wh = NULL;
    req.name = (char *)name;
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = (char *)action;
    req.url = (char *)to;
    req.asynchronous = async;
    if (hk_client_create_webhook(c, &req, 30000, &wh) != 0) die_status(c, "CreateWebhook");
    protobuf_c_message_free_unpacked(&wh->base, NULL);
}

static void event_request(Hookd__V1__TriggerEventRequest *req, const char *action)
{
    static const char payload[] = "{\"account\":{\"id\":42,\"name\":\"Grand Hall\"}}";
    hookd__v1__trigger_event_request__init(req);
    req->application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req->trigger_action = (char *)action;
    req->payload.data = (uint8_t *)payload;
    req->payload.len = sizeof payload - 1;
    req->origin = HOOKD__V1__ORIGIN__ORIGIN_USER;
}

/* 0 when the event was taken and every synchronous webhook succeeded. */
static int event_ok(Hookd__V1__TriggerEventResponse *resp)
{
    int ok = 1;
    for (size_t i = 0; i < resp->n_results; i++)
        if (resp->results[i]->outcome != HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED) ok = 0;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ok ? 0 : -1;
}

static int trigger(hk_client_t *c, const char *action)
{
    Hookd__V1__TriggerEventRequest req;
    Hookd__V1__TriggerEventResponse *resp = NULL;
    event_request(&req, action);
    int rc = hk_client_trigger_event(c, &req, 30000, &resp);
    return rc != 0 ? rc : event_ok(resp);
}

/* ---- callers: threads, each with its own connection ------------------------ */

typedef struct {
    pthread_t thread;
    hk_client_t *client;
    uint64_t until_ns;
    long quota; /* events to send, or -1: until until_ns */
    long done, errors;
    hk_bench_lat_t lat;
} caller_t;

#define MAX_INFLIGHT 256

/* inflight calls on the caller's one connection: the oldest is awaited,
 * then replaced, so the connection always has that many in flight. */
static void *caller_pipelined(caller_t *c)
{
    hk_client_call_t *ring[MAX_INFLIGHT] = {0};
    uint64_t started[MAX_INFLIGHT];
    Hookd__V1__TriggerEventRequest req;
    long sent = 0;
    event_request(&req, "AccountUpdated");
    for (int i = 0;; i = (i + 1) % inflight) {
        if (ring[i]) {
            if (hk_client_wait(c->client, ring[i]) == 0) {
                ProtobufCMessage *resp = hk_client_call_take_response(ring[i]);
                if (!resp || event_ok((Hookd__V1__TriggerEventResponse *)resp) != 0) c->errors++;
            } else {
                c->errors++;
            }
            hk_bench_lat_add(&c->lat, hk_bench_now_ns() - started[i]);
            hk_client_call_free(ring[i]);
            ring[i] = NULL;
            c->done++;
        }
        int more = c->quota < 0 ? hk_bench_now_ns() < c->until_ns : sent < c->quota;
        if (more) {
            started[i] = hk_bench_now_ns();
            if (hk_client_call_start(c->client, &hookd__v1__webhooks__descriptor, "TriggerEvent",
                                     &req.base, 30000, &ring[i]) != 0)
                die_status(c->client, "TriggerEvent");
            sent++;
        }
        int any = 0;
        for (int j = 0; j < inflight; j++)
            any |= ring[j] != NULL;
        if (!more && !any) break;
    }
    return NULL;
}

static void *caller_main(void *arg)
{
    caller_t *c = arg;
    if (inflight > 1) return caller_pipelined(c);
    while (c->quota < 0 ? hk_bench_now_ns() < c->until_ns : c->done < c->quota) {
        uint64_t t = hk_bench_now_ns();
        if (trigger(c->client, "AccountUpdated") != 0) c->errors++;
        hk_bench_lat_add(&c->lat, hk_bench_now_ns() - t);
        c->done++;
    }
    return NULL;
}

/* Runs n callers for the time or the event count; prints and returns events/s. */
static double run_callers(int n, long total, const char *label)
{
    static caller_t cs[MAX_CALLERS];
    hk_bench_lat_t all = {0};
    long done = 0, errors = 0;
    uint64_t t0 = hk_bench_now_ns();
    for (int i = 0; i < n; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].client = open_client();
        cs[i].until_ns = t0 + (uint64_t)(seconds * 1e9);
        cs[i].quota = total < 0 ? -1 : total / n + (i < total % n);
        pthread_create(&cs[i].thread, NULL, caller_main, &cs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(cs[i].thread, NULL);
        done += cs[i].done;
        errors += cs[i].errors;
        for (size_t j = 0; j < cs[i].lat.n; j++)
            hk_bench_lat_add(&all, cs[i].lat.ns[j]);
        hk_bench_lat_free(&cs[i].lat);
        hk_client_close(cs[i].client);
    }
    last_done = done;
    double elapsed = (double)(hk_bench_now_ns() - t0) / 1e9, rate = (double)done / elapsed;
    char who[32];
    if (inflight > 1)
        snprintf(who, sizeof who, "%dx%d", n, inflight);
    else
        snprintf(who, sizeof who, "%d", n);
    printf("%-28s callers %-5s %9.0f events/s  p50 %8.1f us  p99 %8.1f us  (%ld events, %ld "
           "errors)\n",
           label, who, rate, hk_bench_lat_quantile_us(&all, .5),
           hk_bench_lat_quantile_us(&all, .99), done, errors);
    fflush(stdout);
    hk_bench_lat_free(&all);
    return rate;
}

/* ---- modes ----------------------------------------------------------------- */

/* hookd's write_bytes (/proc/<pid>/io): what it made the disk write. */
static long long write_bytes(void)
{
    char path[64], line[128];
    long long v = -1;
    snprintf(path, sizeof path, "/proc/%d/io", (int)hookd_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %lld", &v) == 1) break;
    fclose(f);
    return v;
}

/* CPU time so far, user + system, in seconds, of hookd (all threads: "stat")
 * or of its loop thread (the main one: "task/<pid>/stat"). */
static double cpu_seconds(int loop_only)
{
    char path[96], buf[1024];
    if (loop_only)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)hookd_pid, (int)hookd_pid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)hookd_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The machine's idle time so far (idle + iowait, all CPUs) and its total,
 * in ticks (/proc/stat's first line). */
static int machine_ticks(double *idle, double *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8) return -1;
    *idle = (double)(v[3] + v[4]);
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += (double)v[i];
    return 0;
}

static void mode_accept(void)
{
    hk_client_t *c = open_client();
    create(c, "accept", "AccountUpdated", url, 1);
    hk_client_close(c);
    long long before = write_bytes();
    run_callers(callers, -1, "async TriggerEvent");
    long long after = write_bytes();
    if (before >= 0 && after >= 0 && last_done > 0)
        printf("%-28s %9.0f bytes written to disk per event (/proc/%d/io write_bytes)\n", "",
               (double)(after - before) / (double)last_done, (int)hookd_pid);
}

static void mode_fsync(void)
{
    char dir[] = "/tmp/hk-bench-fsync-XXXXXX";
    hk_store_t *store;
    if (!mkdtemp(dir) || hk_crypto_init() != 0 || hk_store_open(dir, 0, &store) != 0) exit(1);
    uint64_t t0 = hk_bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    long n = 0;
    hk_bench_lat_t lat = {0};
    while (hk_bench_now_ns() < end) {
        char name[32];
        snprintf(name, sizeof name, "e%ld", n++);
        Hookd__V1__Webhook wh = HOOKD__V1__WEBHOOK__INIT;
        wh.name = name;
        wh.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
        wh.trigger_action = "AccountUpdated";
        wh.url = "https://receiver.example.com/";
        wh.secret_key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        uint64_t t = hk_bench_now_ns();
        if (hk_store_webhook_create(store, &wh) != 0) exit(1);
        hk_bench_lat_add(&lat, hk_bench_now_ns() - t);
    }
    double rate = (double)n * 1e9 / (double)(hk_bench_now_ns() - t0);
    printf("%-28s callers 1   %9.0f events/s  p50 %8.1f us  p99 %8.1f us  (%ld events)\n",
           "one fsync per event (store)", rate, hk_bench_lat_quantile_us(&lat, .5),
           hk_bench_lat_quantile_us(&lat, .99), n);
    hk_bench_lat_free(&lat);
    hk_store_close(store);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p, (void)u;
    return s * n;
}

static void direct_http(hk_bench_lat_t *lat, uint64_t until)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"data\":{}}");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    while (hk_bench_now_ns() < until) {
        uint64_t t = hk_bench_now_ns();
        if (curl_easy_perform(h) != CURLE_OK) exit(1);
        hk_bench_lat_add(lat, hk_bench_now_ns() - t);
    }
    curl_easy_cleanup(h);
}

static void sequential(hk_client_t *c, const char *action, hk_bench_lat_t *lat, long *errors)
{
    uint64_t end = hk_bench_now_ns() + (uint64_t)(seconds * 1e9);
    while (hk_bench_now_ns() < end) {
        uint64_t t = hk_bench_now_ns();
        if (trigger(c, action) != 0) ++*errors;
        hk_bench_lat_add(lat, hk_bench_now_ns() - t);
    }
}

static void mode_sync(void)
{
    hk_client_t *c = open_client();
    hk_bench_lat_t rpc = {0}, http = {0};
    long errors = 0;
    create(c, "sync", "AccountUpdated", url, 0);
    sequential(c, "AccountUpdated", &rpc, &errors); /* warm-up */
    hk_bench_lat_free(&rpc);
    sequential(c, "AccountUpdated", &rpc, &errors);
    direct_http(&http, hk_bench_now_ns() + (uint64_t)(seconds * 1e9));
    double r50 = hk_bench_lat_quantile_us(&rpc, .5), r99 = hk_bench_lat_quantile_us(&rpc, .99);
    double h50 = hk_bench_lat_quantile_us(&http, .5), h99 = hk_bench_lat_quantile_us(&http, .99);
    printf("sync TriggerEvent round trip   p50 %8.1f us  p99 %8.1f us  (%zu calls, %ld errors)\n",
           r50, r99, rpc.n, errors);
    printf("receiver alone (libcurl)       p50 %8.1f us  p99 %8.1f us  (%zu requests)\n", h50, h99,
           http.n);
    printf("sync overhead (difference)     p50 %8.1f us  p99 %8.1f us\n", r50 - h50, r99 - h99);
    hk_bench_lat_free(&rpc);
    hk_bench_lat_free(&http);
    hk_client_close(c);
}

static void mode_match(void)
{
    hk_client_t *c = open_client();
    char name[64], action[64];
    hk_bench_lat_t lat = {0};
    long errors = 0;
    uint64_t t0 = hk_bench_now_ns();
    create(c, "match-target", "AccountUpdated", url, 0);
    /* Unrelated webhooks: other actions of the same application, all active,
     * created 32 calls at a time. */
    enum { WINDOW = 32 };
    hk_client_call_t *ring[WINDOW] = {0};
    for (long i = 1; i < webhooks + WINDOW; i++) {
        hk_client_call_t **slot = &ring[i % WINDOW];
        if (*slot) {
            if (hk_client_wait(c, *slot) != 0) die_status(c, "CreateWebhook");
            hk_client_call_free(*slot);
            *slot = NULL;
        }
        if (i >= webhooks) continue;
        Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
        snprintf(name, sizeof name, "other-%ld", i);
        snprintf(action, sizeof action, "%s", i % 2 ? "ContactUpdated" : "EventCreated");
        req.name = name;
        req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
        req.trigger_action = action;
        req.url = "https://receiver.example.com/other";
        if (hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "CreateWebhook", &req.base,
                                 30000, slot) != 0)
            die_status(c, "CreateWebhook");
    }
    double setup = (double)(hk_bench_now_ns() - t0) / 1e9;
    sequential(c, "AccountUpdated", &lat, &errors); /* warm-up */
    hk_bench_lat_free(&lat);
    sequential(c, "AccountUpdated", &lat, &errors);
    printf("match: %6ld webhooks (1 matching)  p50 %8.1f us  p99 %8.1f us  (%zu calls, %ld errors; "
           "setup %.1f s)\n",
           webhooks, hk_bench_lat_quantile_us(&lat, .5), hk_bench_lat_quantile_us(&lat, .99), lat.n,
           errors, setup);
    hk_bench_lat_free(&lat);
    hk_client_close(c);
}

static long nginx_requests(void)
{
    /* stub_status: "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n..." */
    char cmd[512], buf[512];
    snprintf(cmd, sizeof cmd, "curl -s '%s'", status_url);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    buf[n] = '\0';
    long a, h, r;
    const char *line = strstr(buf, "requests\n");
    if (!line || sscanf(line + 9, "%ld %ld %ld", &a, &h, &r) != 3) return -1;
    return r;
}

static void mode_deliver(void)
{
    hk_client_t *c = open_client();
    create(c, "deliver", "AccountUpdated", url, 1);
    hk_client_close(c);
    long before = status_url ? nginx_requests() : -1;
    double cpu0 = cpu_seconds(0), loop0 = cpu_seconds(1), idle0 = 0, all0 = 0, idle1 = 0, all1 = 0;
    int ticks = machine_ticks(&idle0, &all0) == 0;
    uint64_t t0 = hk_bench_now_ns();
    run_callers(callers, events, "async TriggerEvent (deliver)");
    if (!status_url) return;
    /* Each stub_status read is itself one request; count only ours. */
    long polls = 1, got = 0;
    uint64_t deadline = t0 + 300ull * 1000000000ull;
    while (hk_bench_now_ns() < deadline) {
        got = nginx_requests() - before - polls++;
        if (got >= events) break;
        usleep(2000);
    }
    double elapsed = (double)(hk_bench_now_ns() - t0) / 1e9;
    double cpu1 = cpu_seconds(0), loop1 = cpu_seconds(1);
    ticks = ticks && machine_ticks(&idle1, &all1) == 0 && all1 > all0;
    printf("delivered end to end        %ld of %ld events in %.2f s: %9.0f deliveries/s\n", got,
           events, elapsed, (double)got / elapsed);
    if (cpu0 >= 0 && cpu1 >= 0 && got > 0)
        printf("%-28s %9.1f us of hookd CPU per event, accepted and delivered "
               "(/proc/%d/stat, all threads)\n",
               "", (cpu1 - cpu0) * 1e6 / (double)got, (int)hookd_pid);
    /* The loop is one thread (DESIGN): near 100 % busy, it is the bound. */
    if (loop0 >= 0 && loop1 >= 0 && got > 0)
        printf("%-28s %9.1f us of it on the loop thread, busy %.0f %% of the run; machine %.0f %% "
               "idle\n",
               "", (loop1 - loop0) * 1e6 / (double)got, 100 * (loop1 - loop0) / elapsed,
               ticks ? 100 * (idle1 - idle0) / (all1 - all0) : -1.0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"seconds", required_argument, NULL, 't'},
                                         {"callers", required_argument, NULL, 'c'},
                                         {"events", required_argument, NULL, 'n'},
                                         {"webhooks", required_argument, NULL, 'w'},
                                         {"set", required_argument, NULL, 'o'},
                                         {"status-url", required_argument, NULL, 'S'},
                                         {"inflight", required_argument, NULL, 'i'},
                                         {0}};
    const char *sets[32] = {0};
    int n_sets = 0, c;
    if (argc < 2) goto usage;
    const char *mode = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 't': seconds = atof(optarg); break;
        case 'c': callers = atoi(optarg); break;
        case 'i': inflight = atoi(optarg); break;
        case 'n': events = atol(optarg); break;
        case 'w': webhooks = atol(optarg); break;
        case 'S': status_url = optarg; break;
        case 'o':
            if (n_sets < 31) sets[n_sets++] = optarg;
            break;
        default: goto usage;
        }
    }
    if (callers < 1 || callers > MAX_CALLERS || inflight < 1 || inflight > MAX_INFLIGHT) goto usage;
    if (strcmp(mode, "fsync") == 0) {
        mode_fsync();
        return 0;
    }

    hk_bench_hookd_t hookd;
    if (hk_bench_hookd_start(NULL, sets, &hookd) != 0) return 1;
    socket_path = hookd.socket;
    hookd_pid = hookd.pid;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(mode, "accept") == 0)
        mode_accept();
    else if (strcmp(mode, "sync") == 0)
        mode_sync();
    else if (strcmp(mode, "match") == 0)
        mode_match();
    else if (strcmp(mode, "deliver") == 0)
        mode_deliver();
    else {
        hk_bench_hookd_stop(&hookd);
        goto usage;
    }
    hk_bench_hookd_stop(&hookd);
    curl_global_cleanup();
    return 0;
usage:
    fprintf(stderr,
            "usage: bench_trigger accept|fsync|sync|match|deliver [--url URL] [--seconds S] "
            "[--callers N] [--inflight N] [--events N] [--webhooks N] [--status-url URL] "
            "[--set K=V]\n");
    return 2;
}
