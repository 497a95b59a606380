/* retry.h -- the retry policy: the schedule's delays with jitter, and a receiver's Retry-After */
#ifndef HK_RETRY_H
#define HK_RETRY_H

#include <stdint.h>
#include <time.h>

/* The delay before the next attempt of a delivery that has had `attempts`
 * attempts, the last answered with http_status (0: none) and Retry-After
 * retry_after_s (-1: none): schedule_ms[attempts] with ±20 % jitter (rnd, a
 * uniform 32-bit random number, picks the point in the range), and on 429 or
 * 503 at least the Retry-After, itself capped at retry_after_max_s (never
 * below the schedule's delay). Returns 0 with *delay_ms set, or HK_ENOTFOUND
 * when the schedule has no further attempt (the delivery has failed). */
int hk_retry_delay_ms(const uint32_t *schedule_ms, unsigned schedule_len, unsigned attempts,
                      int http_status, long retry_after_s, uint32_t retry_after_max_s, uint32_t rnd,
                      uint64_t *delay_ms);

/* A random number for hk_retry_delay_ms: jitter needs spread, not secrecy,
 * so a xorshift generator (seeded once from the system) spares a getrandom
 * call per attempt. Loop thread only. */
uint32_t hk_retry_random(void);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", also the obsolete RFC 850 and asctime
 * forms), relative to now. Returns 0 with *seconds set (a past date gives 0,
 * huge values are capped at LONG_MAX) or HK_EINVAL. */
int hk_retry_after_parse(const char *value, time_t now, long *seconds);

#endif
