/* test_events.c -- seen event ids: recorded, re-recorded, pruned */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
TEST(event_ids)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    int64_t t;
    uint8_t *data = NULL;
    size_t len;
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_put(s, "evt_1", 1000, (const uint8_t *)"first", 5), 0);
    /* Seen before its write commits: a repeat in the same batch is caught. */
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    CHECK_INT(t, 1000);
    CHECK_INT(len, 5);
    CHECK(memcmp(data, "first", 5) == 0);
    free(data);
    CHECK_INT(hk_outbox_event_put(s, "evt_2", 5000, (const uint8_t *)"", 0), 0);
    CHECK_INT(hk_outbox_event_put(s, "", 1, NULL, 0), HK_EINVAL);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    free(data);
    /* Re-recorded later: its old time no longer prunes it. */
    CHECK_INT(hk_outbox_event_put(s, "evt_1", 9000, (const uint8_t *)"again", 5), 0);
    size_t pruned;
    int more;
    /* window 3 s at now 8 s: evt_2 (5 s) is expired, evt_1 (9 s) is not */
    CHECK_INT(hk_outbox_prune(s, 8001, 1000000, 1000, 3000, 16, &pruned, &more), 0);
    CHECK_INT(pruned, 1);
    CHECK_INT(hk_outbox_event_get(s, "evt_2", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), 0);
    CHECK_INT(t, 9000);
    free(data);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.events, 1);

    /* Within the window but beyond the count: the oldest ids go. */
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "n%d", i);
        CHECK_INT(hk_outbox_event_put(s, id, 10000 + i, (const uint8_t *)"x", 1), 0);
    }
    CHECK_INT(hk_outbox_prune(s, 10010, 1000000, 3, 1000000, 16, &pruned, &more), 0);
    CHECK_INT(pruned, 3);
    CHECK_INT(hk_outbox_event_get(s, "n1", &t, &data, &len), HK_ENOTFOUND);
    CHECK_INT(hk_outbox_event_get(s, "n2", &t, &data, &len), 0);
    free(data);
    CHECK_INT(hk_outbox_event_get(s, "evt_1", &t, &data, &len), HK_ENOTFOUND); /* 9 s: oldest */
    hk_store_close(s);
}
