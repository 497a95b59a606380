/* test_record.c -- the webhook record at rest: sealed secrets, tampering, active flag */
#define _GNU_SOURCE /* memmem */
#include "core/crypto.h"
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
TEST(secret_at_rest)
{
    const char *dir = hk_test_tmpdir();
    const char *secret = "very-distinctive-secret-ZQXJ-4711";
    hk_store_t *s = NULL;
    struct stat st;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_webhook_t wh = hook("Distinctive-Name-QWERTY", 1, "AccountUpdated");
    wh.secret_key = (char *)secret;
    CHECK_INT(hk_store_webhook_create(s, &wh), 0);
    /* Updated too, so both the first and the rewritten record are on disk. */
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_get(s, wh.id, &got), 0);
    CHECK_STR(got->secret_key, secret);
    hk_webhook_free(got);
    hk_store_close(s);

    size_t len = 0;
    char *data = slurp(path_in(dir, "data.mdb"), &len);
    CHECK(data != NULL);
    int name_there = memmem(data, len, "Distinctive-Name-QWERTY", 23) != NULL;
    int secret_there = memmem(data, len, secret, strlen(secret)) != NULL;
    int whsec_there = memmem(data, len, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 32) != NULL;
    free(data);
    CHECK(name_there); /* the search works on this file */
    CHECK(!secret_there);
    CHECK(!whsec_there);

    CHECK_INT(stat(path_in(dir, "secret.key"), &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_INT(st.st_size, HK_SEAL_KEY_BYTES);
    CHECK_INT(stat(dir, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
}

/* A record whose bytes were changed, or whose sealed secret was moved from
 * another record, is HK_ECORRUPT, never a wrong secret. */
TEST(tampered_record)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi hooks;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "first", 1, "AccountUpdated", NULL), 0);
    hk_webhook_t wh = hook("second", 1, "AccountUpdated");
    wh.secret_key = (char *)"the-second-secret-value";
    CHECK_INT(hk_store_webhook_create(s, &wh), 0);
    CHECK_INT(create(s, "third", 1, "AccountUpdated", NULL), 0);
    hk_store_close(s);

    CHECK_INT(raw_open(dir, &env, &txn, "webhooks", &hooks), 0);
    uint8_t id1[8] = {0, 0, 0, 0, 0, 0, 0, 1}, id2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t id3[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    MDB_val k1 = {8, id1}, k2 = {8, id2}, k3 = {8, id3}, v1, v2, v3;
    CHECK_INT(mdb_get(txn, hooks, &k1, &v1), 0);
    CHECK_INT(mdb_get(txn, hooks, &k2, &v2), 0);
    CHECK_INT(mdb_get(txn, hooks, &k3, &v3), 0);
    /* 1: its last byte (the secretbox) flipped. */
    uint8_t r1[1024], r3[1024];
    CHECK(v1.mv_size < sizeof r1 && v3.mv_size < sizeof r3);
    memcpy(r1, v1.mv_data, v1.mv_size);
    r1[v1.mv_size - 1] ^= 0x80;
    /* 3: record 2's sealed secret (its tail) grafted onto record 3's message. */
    size_t sealed2 = 8 + strlen("the-second-secret-value") + HK_SEAL_OVERHEAD;
    size_t sealed3 = 8 + strlen(SECRET) + HK_SEAL_OVERHEAD;
    size_t head3 = v3.mv_size - sealed3 - 4;
    memcpy(r3, v3.mv_data, head3);
    r3[head3] = 0;
    r3[head3 + 1] = 0;
    r3[head3 + 2] = 0;
    r3[head3 + 3] = (uint8_t)sealed2;
    memcpy(r3 + head3 + 4, (uint8_t *)v2.mv_data + v2.mv_size - sealed2, sealed2);
    MDB_val n1 = {v1.mv_size, r1}, n3 = {head3 + 4 + sealed2, r3};
    CHECK_INT(mdb_put(txn, hooks, &k1, &n1, 0), 0);
    CHECK_INT(mdb_put(txn, hooks, &k3, &n3, 0), 0);
    /* 2: cut short. */
    uint8_t r2[4] = {1, 0, 0, 0};
    MDB_val n2 = {sizeof r2, r2};
    CHECK_INT(mdb_put(txn, hooks, &k2, &n2, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(hk_store_webhook_get(s, 1, &got), HK_ECORRUPT);
    CHECK_INT(hk_store_webhook_get(s, 2, &got), HK_ECORRUPT);
    CHECK_INT(hk_store_webhook_get(s, 3, &got), HK_ECORRUPT);
    CHECK_INT(hk_store_webhook_find(s, "third", &got), HK_ECORRUPT);
    struct collect c = {0};
    CHECK_INT(hk_store_webhook_list(s, 0, 0, NULL, collect_fn, &c), HK_ECORRUPT);
    /* Said, not guessed at: delete cannot find its index entries either. */
    CHECK_INT(hk_store_webhook_delete(s, 2, NULL), HK_ECORRUPT);
    hk_store_close(s);
}

/* Whether a webhook exists and is active is remembered between writes:
 * every admin write must make the outbox look again, for each webhook,
 * however many share a slot of what is remembered. */
TEST(active_flag_follows_admin_writes)
{
    hk_store_t *s = open_store(hk_test_tmpdir(), SMALL_MAP);
    CHECK(s);
    enum { N = 150 };
    uint64_t wid[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "w%d", i);
        CHECK((wid[i] = webhook(s, name, 1)) != 0);
    }
    hk_outbox_due_t due[2 * N];
    int64_t next;
    for (int round = 0; round < 3; round++) {
        /* Every other webhook inactive in round 1, every third deleted in 2. */
        for (int i = 0; i < N; i++) {
            if (round == 1 && i % 2) CHECK_INT(set_active(s, wid[i], 0), 0);
            if (round == 2 && i % 2) CHECK_INT(set_active(s, wid[i], 1), 0);
            if (round == 2 && i % 3 == 0) CHECK_INT(hk_store_webhook_delete(s, wid[i], NULL), 0);
        }
        size_t want = 0;
        for (int i = 0; i < N; i++) {
            int gone = round == 2 && i % 3 == 0, off = round == 1 && i % 2;
            hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
            d.id = hk_outbox_delivery_id(s);
            d.webhook_id = wid[i];
            d.webhook_name = (char *)"hook";
            d.event_id = (char *)"evt_1";
            d.state = PENDING;
            d.next_attempt_time = 10;
            int err = write_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL);
            CHECK_INT(err, gone ? HK_ENOTFOUND : 0);
            want += !gone && !off;
        }
        /* Reactivated: every pending delivery is due again, the one parked
         * in round 1 and the one taken in round 0 (still in flight). */
        if (round == 2)
            for (int i = 0; i < N; i++)
                want += 2 * (i % 2 && i % 3 != 0);
        CHECK_INT(hk_outbox_batch_commit(s), 0);
        CHECK_INT(take_all(s, 100, due, 2 * N, &next), want);
    }
    hk_store_close(s);
}
