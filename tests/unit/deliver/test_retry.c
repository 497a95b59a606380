/* test_retry.c -- the retry policy: schedule and jitter bounds, Retry-After bounds and parsing */
#include "core/error.h"
#include "deliver/retry.h"
#include "unit.h"

#include <limits.h>
#include <stdint.h>
#include <time.h>

static const uint32_t SCHED[] = {0, 5000, 300000, 1800000};
#define N_SCHED 4
#define RND_LOW 0    /* -20 % */
#define RND_MID 200  /* the schedule's own value */
#define RND_HIGH 400 /* +20 % */

static uint64_t delay(unsigned attempts, int status, long retry_after, uint32_t max_s, uint32_t rnd)
{
    uint64_t d = 0;
    if (hk_retry_delay_ms(SCHED, N_SCHED, attempts, status, retry_after, max_s, rnd, &d) != 0)
        return UINT64_MAX;
    return d;
}

TEST(schedule_and_jitter_bounds)
{
    CHECK_INT(delay(0, 0, -1, 3600, RND_MID), 0); /* at once stays at once */
    CHECK_INT(delay(1, 500, -1, 3600, RND_MID), 5000);
    CHECK_INT(delay(1, 500, -1, 3600, RND_LOW), 4000);
    CHECK_INT(delay(1, 500, -1, 3600, RND_HIGH), 6000);
    CHECK_INT(delay(2, 0, -1, 3600, RND_LOW), 240000);
    CHECK_INT(delay(3, 0, -1, 3600, RND_HIGH), 2160000);
    /* Any random number lands within ±20 %. */
    for (uint32_t r = 0; r < 5000; r += 7) {
        uint64_t d = delay(1, 500, -1, 3600, r * 2654435761u);
        CHECK(d >= 4000 && d <= 6000);
    }
    CHECK_INT(delay(4, 500, -1, 3600, RND_MID), UINT64_MAX); /* schedule run out */
    uint64_t d;
    CHECK_INT(hk_retry_delay_ms(SCHED, N_SCHED, 4, 500, -1, 3600, 0, &d), HK_ENOTFOUND);
}

TEST(jitter_random_spreads)
{
    /* The whole ±20 % range is used, not a corner of it. */
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t d = delay(1, 500, -1, 3600, hk_retry_random());
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    CHECK(lo >= 4000 && lo < 4050);
    CHECK(hi <= 6000 && hi > 5950);
    CHECK(sum / 20000 > 4900 && sum / 20000 < 5100);
}

TEST(retry_after_within_bounds)
{
    /* 429 and 503 ask for more time: honoured. */
    CHECK_INT(delay(1, 429, 20, 3600, RND_MID), 20000);
    CHECK_INT(delay(1, 503, 20, 3600, RND_HIGH), 20000);
    /* Never sooner than the schedule says. */
    CHECK_INT(delay(1, 503, 1, 3600, RND_MID), 5000);
    CHECK_INT(delay(1, 429, 0, 3600, RND_LOW), 4000);
    /* Capped at retry_after_max... */
    CHECK_INT(delay(1, 429, 7200, 3600, RND_MID), 3600000);
    CHECK_INT(delay(1, 429, LONG_MAX, 60, RND_MID), 60000);
    /* ...but a cap below the schedule does not shorten the schedule. */
    CHECK_INT(delay(2, 429, 7200, 3, RND_MID), 300000);
    /* Other statuses and no header: the schedule alone. */
    CHECK_INT(delay(1, 500, 20, 3600, RND_MID), 5000);
    CHECK_INT(delay(1, 200, 20, 3600, RND_MID), 5000);
    CHECK_INT(delay(1, 429, -1, 3600, RND_MID), 5000);
}

TEST(parse_retry_after)
{
    long s = -7;
    time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK_INT(hk_retry_after_parse("120", now, &s), 0);
    CHECK_INT(s, 120);
    CHECK_INT(hk_retry_after_parse(" 0 ", now, &s), 0);
    CHECK_INT(s, 0);
    CHECK_INT(hk_retry_after_parse("99999999999999999999999", now, &s), 0);
    CHECK_INT(s, 9223372036854775807LL);
    CHECK_INT(hk_retry_after_parse("Wed, 21 Oct 2015 07:30:00 GMT", now, &s), 0);
    CHECK_INT(s, 120);
    CHECK_INT(hk_retry_after_parse("Wednesday, 21-Oct-15 07:29:00 GMT", now, &s), 0);
    CHECK_INT(s, 60);
    CHECK_INT(hk_retry_after_parse("Wed Oct 21 07:28:30 2015", now, &s), 0);
    CHECK_INT(s, 30);
    CHECK_INT(hk_retry_after_parse("Tue, 20 Oct 2015 07:28:00 GMT", now, &s), 0);
    CHECK_INT(s, 0); /* in the past: at once */
    CHECK_INT(hk_retry_after_parse("", now, &s), HK_EINVAL);
    CHECK_INT(hk_retry_after_parse("12s", now, &s), HK_EINVAL);
    CHECK_INT(hk_retry_after_parse("-5", now, &s), HK_EINVAL);
    CHECK_INT(hk_retry_after_parse("soon", now, &s), HK_EINVAL);
}
