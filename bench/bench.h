/* bench.h -- what the benchmark programs share: a hookd to measure, clocks, latency figures */
#ifndef HK_BENCH_H
#define HK_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A hookd started for a benchmark on a temporary socket and data dir. */
typedef struct {
    pid_t pid;
    char dir[256];
    char socket[300];
} hk_bench_hookd_t;

/* Starts the hookd binary at path (from $HOOKD_BIN when path is NULL) with
 * extra "--set" settings (NULL-terminated, may be NULL), waits until its
 * socket answers. Returns 0 or -1 (with a message on stderr). */
int hk_bench_hookd_start(const char *path, const char *const *sets, hk_bench_hookd_t *out);
/* SIGTERM, wait, remove the temporary dir. */
void hk_bench_hookd_stop(hk_bench_hookd_t *h);

/* Monotonic time in nanoseconds. */
uint64_t hk_bench_now_ns(void);

/* Latency samples in nanoseconds. */
typedef struct {
    uint64_t *ns;
    size_t n, cap;
} hk_bench_lat_t;

void hk_bench_lat_add(hk_bench_lat_t *lat, uint64_t ns);
/* The q-quantile (0..1) in microseconds; sorts the samples. */
double hk_bench_lat_quantile_us(hk_bench_lat_t *lat, double q);
void hk_bench_lat_free(hk_bench_lat_t *lat);

#endif
