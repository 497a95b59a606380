/* rpc.c -- unary RPC rate and latency: GetWebhook over the socket with 1, 8 and 64 calls in flight
 *
 * usage: bench_rpc [--seconds S] [--socket PATH]
 * Without --socket it starts $HOOKD_BIN (default build/hookd) on a temporary
 * socket. One connection (libhookd) carries every call; the loop keeps N calls
 * in flight, starting a new one as each finishes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hookd/client.h>

#include "bench.h"

#define MAX_INFLIGHT 64

static hk_client_t *client;

static uint64_t create_webhook(void)
{
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *wh = NULL;
    req.name = "bench";
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = "AccountUpdated";
    req.url = "https://receiver.example.com/hook";
    if (hk_client_create_webhook(client, &req, 5000, &wh) != 0) {
        const char *msg;
        int st = hk_client_last_status(client, &msg);
        fprintf(stderr, "bench: CreateWebhook: %s: %s\n", hk_client_status_name(st), msg);
        exit(1);
    }
    uint64_t id = wh->id;
    protobuf_c_message_free_unpacked(&wh->base, NULL);
    return id;
}

static hk_client_call_t *start_get(uint64_t id)
{
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    hk_client_call_t *call = NULL;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_ID;
    req.id = id;
    if (hk_client_call_start(client, &hookd__v1__webhooks__descriptor, "GetWebhook", &req.base,
                             5000, &call) != 0) {
        fprintf(stderr, "bench: call_start failed\n");
        exit(1);
    }
    return call;
}

static void run(uint64_t id, int inflight, double seconds, int print)
{
    hk_client_call_t *calls[MAX_INFLIGHT];
    uint64_t started[MAX_INFLIGHT];
    hk_bench_lat_t lat = {0};
    uint64_t errors = 0, done = 0;
    uint64_t t0 = hk_bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);

    for (int i = 0; i < inflight; i++) {
        started[i] = hk_bench_now_ns();
        calls[i] = start_get(id);
    }
    for (int next = 0;; next = (next + 1) % inflight) {
        /* Wait for the oldest; the ones that finished meanwhile are harvested
         * on their turn, so the ring stays in start order. */
        hk_client_wait(client, calls[next]);
        uint64_t now = hk_bench_now_ns();
        if (hk_client_call_status(calls[next], NULL) != HK_STATUS_OK) errors++;
        hk_client_call_free(calls[next]);
        hk_bench_lat_add(&lat, now - started[next]);
        done++;
        if (now >= end) {
            calls[next] = NULL;
            break;
        }
        started[next] = now;
        calls[next] = start_get(id);
    }
    uint64_t elapsed = hk_bench_now_ns() - t0;
    for (int i = 0; i < inflight; i++)
        hk_client_call_free(calls[i]);

    if (print)
        printf(
            "GetWebhook  in-flight %-3d  %9.0f calls/s  p50 %7.1f us  p99 %7.1f us  (%llu calls, "
            "%llu errors)\n",
            inflight, (double)done * 1e9 / (double)elapsed, hk_bench_lat_quantile_us(&lat, 0.50),
            hk_bench_lat_quantile_us(&lat, 0.99), (unsigned long long)done,
            (unsigned long long)errors);
    fflush(stdout);
    hk_bench_lat_free(&lat);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 't'}, {"socket", required_argument, NULL, 's'}, {0}};
    double seconds = 3;
    const char *socket_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "t:s:", opts, NULL)) != -1) {
        if (c == 't')
            seconds = atof(optarg);
        else if (c == 's')
            socket_path = optarg;
        else {
            fprintf(stderr, "usage: bench_rpc [--seconds S] [--socket PATH]\n");
            return 2;
        }
    }

    hk_bench_hookd_t hookd = {0};
    if (!socket_path) {
        if (hk_bench_hookd_start(NULL, NULL, &hookd) != 0) return 1;
        socket_path = hookd.socket;
    }
    if (hk_client_open(socket_path, &client) != 0) return 1;

    uint64_t id = create_webhook();
    run(id, 8, seconds / 3, 0); /* warm-up: page in the store, grow the buffers */
    printf("-- unary RPC over %s, one connection, %.0f s each\n", socket_path, seconds);
    const int levels[] = {1, 8, 64};
    for (int i = 0; i < 3; i++)
        run(id, levels[i], seconds, 1);

    hk_client_close(client);
    hk_bench_hookd_stop(&hookd);
    return 0;
}
