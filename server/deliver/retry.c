/* retry.c -- the retry policy: the schedule's delays with jitter, and a receiver's Retry-After */
#include "deliver/retry.h"

#include <curl/curl.h>
#include <limits.h>
#include <string.h>

#include "core/crypto.h"
#include "core/error.h"

int hk_retry_delay_ms(const uint32_t *schedule_ms, unsigned schedule_len, unsigned attempts,
                      int http_status, long retry_after_s, uint32_t retry_after_max_s, uint32_t rnd,
                      uint64_t *delay_ms)
{
    if (attempts >= schedule_len) return HK_ENOTFOUND;
    uint64_t base = schedule_ms[attempts];
    /* ±20 %: 0.8 base plus 0..0.4 base, in 1/1000 steps. */
    uint64_t delay = base * 8 / 10 + base * (rnd % 401) / 1000;
    if ((http_status == 429 || http_status == 503) && retry_after_s >= 0) {
        uint64_t cap = (uint64_t)retry_after_max_s * 1000;
        uint64_t asked = (uint64_t)retry_after_s > UINT64_MAX / 1000
                             ? UINT64_MAX
                             : (uint64_t)retry_after_s * 1000;
        uint64_t honoured = asked < cap ? asked : cap;
        if (honoured > delay) delay = honoured;
    }
    *delay_ms = delay;
    return 0;
}

uint32_t hk_retry_random(void)
{
    static uint64_t x;
    while (x == 0)
        hk_crypto_random(&x, sizeof x);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (uint32_t)((x * 2685821657736338717ull) >> 32);
}

/* ---- Retry-After ------------------------------------------------------------------ */

int hk_retry_after_parse(const char *value, time_t now, long *seconds)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 64) return HK_EINVAL;

    if (value[0] >= '0' && value[0] <= '9') {
        long s = 0;
        for (size_t i = 0; i < len; i++) {
            if (value[i] < '0' || value[i] > '9') return HK_EINVAL;
            int d = value[i] - '0';
            s = s > (LONG_MAX - d) / 10 ? LONG_MAX : s * 10 + d;
        }
        *seconds = s;
        return 0;
    }
    /* An HTTP-date starts with a day name; curl_getdate knows the three
     * forms RFC 9110 requires recipients to accept. */
    char buf[65];
    memcpy(buf, value, len);
    buf[len] = '\0';
    time_t t = curl_getdate(buf, NULL);
    if (t == -1) return HK_EINVAL;
    *seconds = t > now ? (long)(t - now) : 0;
    return 0;
}
