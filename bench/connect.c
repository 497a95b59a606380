/* connect.c -- the JSON API beside gRPC: GetWebhook as Connect JSON over HTTP/1.1 keep-alive and as
 * gRPC, each with 8 calls in flight, with hookd's CPU time per call
 *
 * usage: bench_connect [--seconds S]
 * Starts $HOOKD_BIN (default build/hookd) on a temporary socket. gRPC: one connection (libhookd)
 * with 8 calls in flight. Connect: 8 HTTP/1.1 keep-alive connections with one request each in
 * flight (HTTP/1.1 has no multiplexing), answers read with libhttp-parser. CPU per call is hookd's
 * utime + stime from /proc/<pid>/stat over the run, divided by the calls answered. */
#include <errno.h>
#include <getopt.h>
#include <http_parser.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hookd/client.h>

#include "bench.h"

#define INFLIGHT 8

/* hookd's CPU time so far, in microseconds. */
static double cpu_us(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static void report(const char *what, uint64_t done, uint64_t errors, uint64_t elapsed_ns,
                   double cpu, hk_bench_lat_t *lat)
{
    printf("%-38s %9.0f calls/s  p50 %7.1f us  p99 %7.1f us  hookd CPU %6.1f us/call  (%llu calls, "
           "%llu errors)\n",
           what, (double)done * 1e9 / (double)elapsed_ns, hk_bench_lat_quantile_us(lat, 0.50),
           hk_bench_lat_quantile_us(lat, 0.99), done ? cpu / (double)done : 0,
           (unsigned long long)done, (unsigned long long)errors);
    fflush(stdout);
}

/* ---- gRPC through libhookd ------------------------------------------------ */

static hk_client_call_t *start_get(hk_client_t *c, uint64_t id)
{
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    hk_client_call_t *call = NULL;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_ID;
    req.id = id;
    if (hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "GetWebhook", &req.base, 5000,
                             &call) != 0) {
        fprintf(stderr, "bench: call_start failed\n");
        exit(1);
    }
    return call;
}

static void run_grpc(hk_client_t *c, pid_t pid, uint64_t id, double seconds, int print)
{
    hk_client_call_t *calls[INFLIGHT];
    uint64_t started[INFLIGHT], done = 0, errors = 0;
    hk_bench_lat_t lat = {0};
    double cpu0 = cpu_us(pid);
    uint64_t t0 = hk_bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < INFLIGHT; i++) {
        started[i] = hk_bench_now_ns();
        calls[i] = start_get(c, id);
    }
    for (int next = 0;; next = (next + 1) % INFLIGHT) {
        hk_client_wait(c, calls[next]);
        uint64_t now = hk_bench_now_ns();
        if (hk_client_call_status(calls[next], NULL) != HK_STATUS_OK) errors++;
        hk_client_call_free(calls[next]);
        calls[next] = NULL;
        hk_bench_lat_add(&lat, now - started[next]);
        done++;
        if (now >= end) break;
        started[next] = now;
        calls[next] = start_get(c, id);
    }
    for (int i = 0; i < INFLIGHT; i++)
        if (calls[i]) {
            hk_client_wait(c, calls[i]);
            hk_client_call_free(calls[i]);
        }
    if (print)
        report("gRPC (HTTP/2), 1 connection x 8", done, errors, hk_bench_now_ns() - t0,
               cpu_us(pid) - cpu0, &lat);
    hk_bench_lat_free(&lat);
}

/* ---- Connect JSON over HTTP/1.1 keep-alive -------------------------------- */

typedef struct {
    int fd;
    http_parser parser;
    int complete, status;
    uint64_t started;
} h1_t;

static int on_complete(http_parser *p)
{
    h1_t *h = p->data;
    h->complete = 1;
    h->status = (int)p->status_code;
    return 0;
}

static const http_parser_settings settings = {.on_message_complete = on_complete};

static int h1_open(const char *socket_path, h1_t *h)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
    h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
    http_parser_init(&h->parser, HTTP_RESPONSE);
    h->parser.data = h;
    return 0;
}

static int h1_send(h1_t *h, const char *req, size_t len)
{
    h->complete = 0;
    h->started = hk_bench_now_ns();
    http_parser_init(&h->parser, HTTP_RESPONSE);
    h->parser.data = h;
    return write(h->fd, req, len) == (ssize_t)len ? 0 : -1;
}

static void run_connect(const char *socket_path, pid_t pid, uint64_t id, double seconds, int print)
{
    char body[64], req[512];
    int blen = snprintf(body, sizeof body, "{\"id\":\"%llu\"}", (unsigned long long)id);
    int rlen = snprintf(req, sizeof req,
                        "POST /hookd.v1.Webhooks/GetWebhook HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        blen, body);
    h1_t h[INFLIGHT];
    struct pollfd pfd[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++) {
        if (h1_open(socket_path, &h[i]) != 0 || h1_send(&h[i], req, (size_t)rlen) != 0) {
            perror("bench: connect");
            exit(1);
        }
        pfd[i] = (struct pollfd){.fd = h[i].fd, .events = POLLIN};
    }
    uint64_t done = 0, errors = 0, open = INFLIGHT;
    hk_bench_lat_t lat = {0};
    double cpu0 = cpu_us(pid);
    uint64_t t0 = hk_bench_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    char buf[16384];
    while (open > 0) {
        if (poll(pfd, INFLIGHT, 5000) <= 0) {
            fprintf(stderr, "bench: no answer in 5 s\n");
            exit(1);
        }
        for (int i = 0; i < INFLIGHT; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(h[i].fd, buf, sizeof buf);
            if (n <= 0 ||
                http_parser_execute(&h[i].parser, &settings, buf, (size_t)n) != (size_t)n) {
                fprintf(stderr, "bench: connection %d: %s\n", i,
                        n <= 0 ? "closed"
                               : http_errno_description(HTTP_PARSER_ERRNO(&h[i].parser)));
                exit(1);
            }
            if (!h[i].complete) continue;
            uint64_t now = hk_bench_now_ns();
            hk_bench_lat_add(&lat, now - h[i].started);
            done++;
            if (h[i].status != 200) errors++;
            if (now >= end) {
                pfd[i].fd = -1;
                open--;
                continue;
            }
            if (h1_send(&h[i], req, (size_t)rlen) != 0) {
                perror("bench: write");
                exit(1);
            }
        }
    }
    if (print)
        report("Connect JSON (HTTP/1.1), 8 connections", done, errors, hk_bench_now_ns() - t0,
               cpu_us(pid) - cpu0, &lat);
    for (int i = 0; i < INFLIGHT; i++)
        close(h[i].fd);
    hk_bench_lat_free(&lat);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"seconds", required_argument, NULL, 't'}, {0}};
    double seconds = 3;
    int c;
    while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        if (c != 't') {
            fprintf(stderr, "usage: bench_connect [--seconds S]\n");
            return 2;
        }
        seconds = atof(optarg);
    }
    hk_bench_hookd_t hookd = {0};
    hk_client_t *client;
    if (hk_bench_hookd_start(NULL, NULL, &hookd) != 0 || hk_client_open(hookd.socket, &client) != 0)
        return 1;
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *wh = NULL;
    req.name = "bench";
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = "AccountUpdated";
    req.url = "https://receiver.example.com/hook";
    if (hk_client_create_webhook(client, &req, 5000, &wh) != 0) {
        fprintf(stderr, "bench: CreateWebhook failed\n");
        return 1;
    }
    uint64_t id = wh->id;
    protobuf_c_message_free_unpacked(&wh->base, NULL);

    run_grpc(client, hookd.pid, id, seconds / 3, 0); /* warm-up */
    run_connect(hookd.socket, hookd.pid, id, seconds / 3, 0);
    printf("-- GetWebhook, 8 in flight, %.0f s each, same hookd (pid %d)\n", seconds,
           (int)hookd.pid);
    for (int round = 0; round < 2; round++) { /* interleaved: the machine's mood hits both */
        run_grpc(client, hookd.pid, id, seconds, 1);
        run_connect(hookd.socket, hookd.pid, id, seconds, 1);
    }
    hk_client_close(client);
    hk_bench_hookd_stop(&hookd);
    return 0;
}
