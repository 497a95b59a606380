/* test_prune.c -- pruning deliveries by age and by count */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
TEST(prune_by_age_and_count)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t ids[20];
    /* create times 0..19 s; id 3 pending (never pruned) */
    for (int i = 0; i < 20; i++) {
        ids[i] = put(s, wid, i == 3 ? PENDING : HK_DELIVERY_SUCCEEDED, 0, i * 1000);
        CHECK(ids[i]);
    }
    hk_attempt_t a = attempt(1, 200);
    CHECK_INT(hk_outbox_attempt_record(s, ids[0], &a, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    CHECK_INT(hk_outbox_batch_commit(s), 0);

    size_t pruned = 0;
    int more = 0;
    /* Older than 10 s at now = 15 s: ids 0..4 but the pending one, 2 a call. */
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(more, 1);
    CHECK_INT(state_of(s, ids[0]), -1);
    CHECK_INT(state_of(s, ids[2]), HK_DELIVERY_SUCCEEDED);
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(hk_outbox_prune(s, 15000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(pruned, 0);
    CHECK_INT(more, 0);
    /* Nothing old enough, nothing beyond the count: no batch at all. */
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    CHECK_INT(hk_outbox_prune(s, 1000, 10000, 1000, 1000, 2, &pruned, &more), 0);
    CHECK_INT(hk_outbox_batch_gen(s), 0);
    CHECK_INT(state_of(s, ids[3]), PENDING);
    CHECK_INT(state_of(s, ids[4]), -1);
    CHECK_INT(state_of(s, ids[5]), HK_DELIVERY_SUCCEEDED);
    /* The attempts went with it. */
    hk_delivery_t *d = NULL;
    CHECK_INT(hk_outbox_delivery_get(s, ids[0], 1, &d), HK_ENOTFOUND);

    /* By count: 16 left (15 finished + 1 pending); keep 10 -> 6 oldest finished go. */
    for (int i = 0; i < 5; i++)
        CHECK_INT(hk_outbox_prune(s, 15000, 1000000, 10, 1000, 4, &pruned, &more), 0);
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.deliveries, 10);
    CHECK_INT(state_of(s, ids[3]), PENDING);
    CHECK_INT(state_of(s, ids[10]), -1);
    CHECK_INT(state_of(s, ids[11]), HK_DELIVERY_SUCCEEDED);
    hk_store_close(s);
}

/* Entries in table db of the closed store in dir (-1: could not read). */
static long raw_entries(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    if (raw_open(dir, &env, &txn, db, &dbi)) return -1;
    long n = mdb_stat(txn, dbi, &st) ? -1 : (long)st.ms_entries;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* The deliveries of one event share one stored body, which goes with the
 * last of them. */
TEST(one_body_per_event)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = open_store(dir, SMALL_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1);
    uint64_t a = put(s, wid, HK_DELIVERY_SUCCEEDED, 0, 0);
    uint64_t b = put(s, wid, HK_DELIVERY_SUCCEEDED, 0, 0);
    uint64_t c = put(s, wid, PENDING, 0, 0);
    CHECK(a && b && c);
    CHECK_INT(hk_outbox_batch_commit(s), 0);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 1);
    CHECK_INT(raw_entries(dir, "deliveries"), 3);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    size_t pruned = 0;
    int more = 0;
    CHECK_INT(hk_outbox_prune(s, 20000, 10000, 1000, 1000, 10, &pruned, &more), 0);
    CHECK_INT(pruned, 2);
    CHECK_INT(state_of(s, a), -1);
    /* The body stays for c, whole. */
    uint8_t *body = NULL;
    size_t len = 0, data_len = 0;
    CHECK_INT(hk_outbox_body_get(s, c, &body, &len, &data_len), 0);
    CHECK_INT(len, sizeof BODY - 1);
    CHECK_INT(data_len, DATA_LEN);
    CHECK(memcmp(body, BODY, len) == 0);
    free(body);
    hk_attempt_t at = attempt(1, 200);
    CHECK_INT(write_attempt(s, c, &at, HK_DELIVERY_SUCCEEDED, 0, NULL), 0);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 1);

    s = open_store(dir, SMALL_MAP);
    CHECK(s);
    CHECK_INT(hk_outbox_prune(s, 20000, 10000, 1000, 1000, 10, &pruned, &more), 0);
    CHECK_INT(pruned, 1);
    CHECK_INT(hk_outbox_body_get(s, c, &body, &len, &data_len), HK_ENOTFOUND);
    hk_store_close(s);
    CHECK_INT(raw_entries(dir, "bodies"), 0);
    CHECK_INT(raw_entries(dir, "deliveries"), 0);
}

/* ---- by bytes: a full store heals ----------------------------------------------------- */

#define BIG_MAP (4u << 20)
#define BIG 16384 /* a 16 KB event, as in the audit */

static uint8_t *big_body(size_t *len)
{
    /* {"data":<BIG bytes of a JSON string>} : the data is the last part, and each
     * body differs (the store keeps one copy of identical bodies of one event). */
    static unsigned seq;
    size_t n = BIG + 10;
    uint8_t *b = malloc(n);
    if (!b) return NULL;
    memcpy(b, "{\"data\":\"", 9);
    memset(b + 9, 'x', BIG - 2);
    snprintf((char *)b + 9, 12, "%010u", ++seq);
    b[9 + 10] = 'x';
    memcpy(b + 9 + BIG - 2, "\"}", 2);
    *len = 9 + BIG;
    return b;
}

/* One 16 KB delivery of webhook wid in state, in a write of its own. */
static int put_big(hk_store_t *s, uint64_t wid, int state, uint64_t *id)
{
    size_t len = 0;
    uint8_t *body = big_body(&len);
    if (!body) return HK_ENOMEM;
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = *id = hk_outbox_delivery_id(s);
    d.webhook_id = wid;
    d.webhook_name = (char *)"hook";
    d.event_id = (char *)"evt_1";
    d.application = 1;
    d.trigger_action = (char *)"AccountUpdated";
    d.asynchronous = 1;
    d.state = state;
    d.create_time = 1000;
    int err = write_put(s, &d, body, len, BIG - 1, NULL);
    free(body);
    return err;
}

TEST(prune_by_bytes_keeps_headroom)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), BIG_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), first = 0, id = 0;
    hk_store_usage_t u;
    /* 600 finished 16 KB deliveries (9.6 MB) through a 4 MiB map: never
     * refused, as the oldest go to make room. */
    for (int i = 0; i < 600; i++) {
        CHECK_INT(put_big(s, wid, HK_DELIVERY_SUCCEEDED, &id), 0);
        if (!first) first = id;
        CHECK_INT(hk_store_usage(s, &u), 0);
        CHECK(u.used <= u.trigger + BIG * 2);
    }
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK_INT(u.map, BIG_MAP);
    CHECK_INT(u.refused, 0);
    CHECK(u.pruned_for_space > 300);
    CHECK(u.used > u.prune / 2);
    CHECK_INT(state_of(s, first), -1);                 /* the oldest went */
    CHECK_INT(state_of(s, id), HK_DELIVERY_SUCCEEDED); /* the newest stay */
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK(st.deliveries < 250 && st.deliveries > 100);
    hk_store_close(s);
}

/* A refusal described when the store is not over a mark (any more): pruning
 * made room since, or the write was too large; either way the caller is told
 * to retry once, then what to change. */
TEST(a_refusal_under_the_marks_says_retry)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), BIG_MAP);
    CHECK(s);
    char why[512];
    CHECK_INT(hk_store_describe(s, HK_EFULL, why, sizeof why), 0);
    CHECK(strncmp(why, "the delivery store is full (", 28) == 0);
    CHECK(strstr(why, " MiB now): "));
    CHECK(strstr(why, "pruning may have made room since, so retry"));
    CHECK(strstr(why, "raise store_map_bytes"));
    hk_store_close(s);
}

/* Refused, and why, when only pending deliveries fill it. */
static int full_of_pending(hk_store_t *s, uint64_t wid, int *accepted)
{
    uint64_t id;
    int err = 0;
    for (*accepted = 0; *accepted < 1000 && !err; (*accepted)++)
        err = put_big(s, wid, PENDING, &id);
    (*accepted)--;
    return err;
}

TEST(full_of_pending_refuses_triggers_not_admin)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), BIG_MAP);
    CHECK(s);
    uint64_t wid = webhook(s, "a", 1), id, first = hk_outbox_delivery_id(s) + 1;
    int accepted = 0;
    CHECK_INT(full_of_pending(s, wid, &accepted), HK_EFULL);
    CHECK_INT(state_of(s, first), PENDING);
    CHECK(accepted > 100 && accepted < 250);
    hk_store_usage_t u;
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK(u.used <= u.admin);
    CHECK(u.refused >= 1);
    CHECK_INT(u.pruned_for_space, 0); /* pending ones are never pruned */
    hk_outbox_stats_t st;
    CHECK_INT(hk_outbox_stats(s, &st), 0);
    CHECK_INT(st.pending, accepted);

    char why[512];
    CHECK_INT(hk_store_describe(s, HK_EFULL, why, sizeof why), 0);
    CHECK(strncmp(why, "the delivery store is full (", 28) == 0);
    CHECK(strstr(why, " of 4.0 MiB): "));
    CHECK(strstr(why, "pending"));
    CHECK_INT(hk_store_describe(s, HK_ENOSPC, why, sizeof why), 0);
    CHECK(strstr(why, "disk holding the store is full"));
    CHECK_INT(hk_store_describe(s, HK_ENOTFOUND, why, sizeof why), HK_EINVAL);

    /* Still refused a moment later: nothing may go. */
    CHECK_INT(put_big(s, wid, PENDING, &id), HK_EFULL);
    /* Webhook writes keep their reserve... */
    uint64_t other = webhook(s, "b", 1);
    CHECK(other);
    CHECK_INT(set_active(s, other, 0), 0);
    /* ...and a delete always goes: it cancels the pending deliveries, which
     * then are finished, and pruned to make room. */
    CHECK_INT(hk_store_webhook_delete(s, wid, NULL), 0);
    CHECK_INT(state_of(s, first + 5), HK_DELIVERY_CANCELLED);
    /* Half as many again within 4 s: the writer heals at its own pace. */
    int ok = 0;
    for (int i = 0; i < 160 && ok < accepted / 2; i++)
        if (put_big(s, other, PENDING, &id) == 0)
            ok++;
        else
            usleep(50000);
    CHECK(ok >= accepted / 2);
    CHECK_INT(hk_store_usage(s, &u), 0);
    CHECK(u.pruned_for_space > 0);
    hk_store_close(s);
}
