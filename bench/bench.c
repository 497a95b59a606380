/* bench.c -- what the benchmark programs share: a hookd to measure, clocks, latency figures */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t hk_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int socket_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

int hk_bench_hookd_start(const char *path, const char *const *sets, hk_bench_hookd_t *out)
{
    memset(out, 0, sizeof *out);
    if (!path) path = getenv("HOOKD_BIN");
    if (!path) path = "build/hookd";
    snprintf(out->dir, sizeof out->dir, "/tmp/hk-bench-XXXXXX");
    if (!mkdtemp(out->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(out->socket, sizeof out->socket, "%s/hookd.sock", out->dir);

    char data[300], log[300];
    snprintf(data, sizeof data, "%s/data", out->dir);
    snprintf(log, sizeof log, "%s/hookd.log", out->dir);
    const char *argv[80] = {path, "--socket", out->socket, "--data", data, "--log-level", "warn"};
    int argc = 7;
    for (int i = 0; sets && sets[i] && argc < 76; i++) {
        argv[argc++] = "--set";
        argv[argc++] = sets[i];
    }
    argv[argc] = NULL;

    out->pid = fork();
    if (out->pid < 0) return -1;
    if (out->pid == 0) {
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(127);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        if (socket_answers(out->socket)) return 0;
        int st;
        if (waitpid(out->pid, &st, WNOHANG) == out->pid) {
            fprintf(stderr, "bench: %s exited at start; see %s\n", path, log);
            out->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench: hookd did not answer on %s\n", out->socket);
    hk_bench_hookd_stop(out);
    return -1;
}

void hk_bench_hookd_stop(hk_bench_hookd_t *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
    if (h->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
        if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", h->dir);
        h->dir[0] = '\0';
    }
}

void hk_bench_lat_add(hk_bench_lat_t *lat, uint64_t ns)
{
    if (lat->n == lat->cap) {
        lat->cap = lat->cap ? lat->cap * 2 : 4096;
        lat->ns = realloc(lat->ns, lat->cap * sizeof *lat->ns);
        if (!lat->ns) abort();
    }
    lat->ns[lat->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double hk_bench_lat_quantile_us(hk_bench_lat_t *lat, double q)
{
    if (lat->n == 0) return 0;
    qsort(lat->ns, lat->n, sizeof *lat->ns, cmp_u64);
    size_t i = (size_t)(q * (double)(lat->n - 1) + 0.5);
    return (double)lat->ns[i] / 1000.0;
}

void hk_bench_lat_free(hk_bench_lat_t *lat)
{
    free(lat->ns);
    memset(lat, 0, sizeof *lat);
}
