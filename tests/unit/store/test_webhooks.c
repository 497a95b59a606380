/* test_webhooks.c -- webhooks in the store: create, get, update, delete, list, match, visitors */
#include "core/error.h"
#include "storetest.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
struct bare {
    uint64_t ids[512];
    size_t n;
    int bad;
};

static int bare_fn(hk_webhook_t *wh, void *arg)
{
    struct bare *b = arg;
    if (!wh->secret_key || wh->secret_key[0]) b->bad = 1; /* no secret at all */
    if (!wh->name || !wh->name[0] || !wh->url || !wh->url[0]) b->bad = 1;
    if (b->n < 512) b->ids[b->n] = wh->id;
    b->n++;
    hk_webhook_free(wh);
    return 0;
}

/* A visitor that calls back into the store, reads and writes. */
static int reenter_fn(hk_webhook_t *wh, void *arg)
{
    hk_store_t *s = arg;
    hk_webhook_t *again = NULL;
    int bad = hk_store_webhook_get(s, wh->id, &again) != 0;
    hk_webhook_free(again);
    char *was = wh->description; /* put back before the free: the literal is not ours */
    wh->description = (char *)"visited";
    bad |= hk_store_webhook_update(s, wh) != 0;
    wh->description = was;
    hk_webhook_free(wh);
    return bad;
}

TEST(create_get)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);

    hk_webhook_t wh = hook("Account sync", 1, "AccountUpdated");
    wh.asynchronous = 1;
    wh.timeout_seconds = 42;
    CHECK_INT(hk_store_webhook_create(s, &wh), 0);
    CHECK_INT(wh.id, 1);
    CHECK(wh.create_time > 1600000000000LL);
    CHECK_INT(wh.update_time, wh.create_time);
    CHECK_STR(wh.secret_key, SECRET); /* the caller's own string, untouched */

    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_get(s, 1, &got), 0);
    CHECK_INT(got->id, 1);
    CHECK_STR(got->name, "Account sync");
    CHECK_INT(got->application, 1);
    CHECK_STR(got->trigger_action, "AccountUpdated");
    CHECK_STR(got->url, "https://receiver.example/hook");
    CHECK_INT(got->auth_method, 1);
    CHECK_INT(got->timeout_seconds, 42);
    CHECK_STR(got->secret_key, SECRET);
    CHECK(got->asynchronous);
    CHECK(!got->ignore_for_api);
    CHECK(got->active);
    CHECK_STR(got->description, "a test webhook");
    CHECK_INT(got->create_time, wh.create_time);
    hk_webhook_free(got);

    uint64_t id2 = 0, n = 0;
    CHECK_INT(create(s, "Second", 2, "BookingCreated", &id2), 0);
    CHECK_INT(id2, 2);
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 2);
    CHECK_INT(hk_store_webhook_get(s, 3, &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_get(s, 0, &got), HK_ENOTFOUND);
    hk_store_close(s);
}

TEST(no_secret)
{
    hk_store_t *s = NULL;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    hk_webhook_t wh = hook("bare", 1, "AccountUpdated");
    wh.secret_key = (char *)"";
    CHECK_INT(hk_store_webhook_create(s, &wh), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_get(s, wh.id, &got), 0);
    CHECK_STR(got->secret_key, "");
    /* set_secret gives a store record a new heap secret hk_webhook_free frees. */
    CHECK_INT(hk_webhook_set_secret(got, "whsec_********"), 0);
    CHECK_STR(got->secret_key, "whsec_********");
    CHECK_INT(hk_webhook_set_secret(got, NULL), 0);
    CHECK_STR(got->secret_key, "");
    hk_webhook_free(got);
    hk_webhook_free(NULL);
    hk_store_close(s);
}

TEST(invalid_keys)
{
    hk_store_t *s = NULL;
    char big[600];
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "", 1, "AccountUpdated", NULL), HK_EINVAL);
    CHECK_INT(create(s, "x", 0, "AccountUpdated", NULL), HK_EINVAL);
    CHECK_INT(create(s, "x", 1, "", NULL), HK_EINVAL);
    memset(big, 'n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT(create(s, big, 1, "AccountUpdated", NULL), HK_EINVAL);
    CHECK_INT(create(s, "x", 1, big, NULL), HK_EINVAL);
    /* Unset optional strings are fine. */
    hk_webhook_t wh = hook("sparse", 1, "AccountUpdated");
    wh.url = NULL;
    wh.description = NULL;
    wh.secret_key = NULL;
    CHECK_INT(hk_store_webhook_create(s, &wh), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_get(s, wh.id, &got), 0);
    CHECK_STR(got->url, "");
    CHECK_STR(got->secret_key, "");
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_delete(s, wh.id, NULL), 0);
    uint64_t n = 9;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 0);
    hk_store_close(s);
}

TEST(update)
{
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    uint64_t a = 0, b = 0;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "Alpha", 1, "AccountUpdated", &a), 0);
    CHECK_INT(create(s, "Beta", 1, "AccountUpdated", &b), 0);
    CHECK_INT(hk_store_webhook_get(s, a, &got), 0);
    int64_t created = got->create_time;
    hk_webhook_free(got);
    usleep(2000);

    /* Rename: same id, old name gone, new name found, create_time kept. */
    hk_webhook_t wh = hook("Gamma", 1, "AccountUpdated");
    wh.id = a;
    wh.create_time = 12345; /* ignored: the stored one is kept */
    wh.description = (char *)"renamed";
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    CHECK_INT(wh.create_time, created);
    CHECK(wh.update_time > created);
    CHECK_INT(hk_store_webhook_find(s, "alpha", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "gamma", &got), 0);
    CHECK_INT(got->id, a);
    CHECK_STR(got->description, "renamed");
    CHECK_INT(got->create_time, created);
    CHECK_INT(got->update_time, wh.update_time);
    hk_webhook_free(got);
    /* The old name is free again. */
    uint64_t c = 0;
    CHECK_INT(create(s, "ALPHA", 2, "Other", &c), 0);

    /* Another letter case of its own name. */
    wh.name = (char *)"GAMMA";
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    CHECK_INT(hk_store_webhook_find(s, "gamma", &got), 0);
    CHECK_INT(got->id, a);
    CHECK_STR(got->name, "GAMMA");
    hk_webhook_free(got);

    /* Another webhook's name, in any case: refused, nothing changes. */
    wh.name = (char *)"beta";
    wh.description = (char *)"should not stick";
    CHECK_INT(hk_store_webhook_update(s, &wh), HK_EEXIST);
    CHECK_INT(hk_store_webhook_get(s, a, &got), 0);
    CHECK_STR(got->name, "GAMMA");
    CHECK_STR(got->description, "renamed");
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_find(s, "beta", &got), 0);
    CHECK_INT(got->id, b);
    hk_webhook_free(got);

    /* An empty secret keeps the stored one; a new one replaces it. */
    wh.name = (char *)"GAMMA";
    wh.secret_key = (char *)"";
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    CHECK_INT(hk_store_webhook_get(s, a, &got), 0);
    CHECK_STR(got->secret_key, SECRET);
    hk_webhook_free(got);
    wh.secret_key = (char *)"a-brand-new-secret-value";
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    CHECK_INT(hk_store_webhook_get(s, a, &got), 0);
    CHECK_STR(got->secret_key, "a-brand-new-secret-value");
    hk_webhook_free(got);

    /* Unknown id. */
    hk_webhook_t ghost = hook("Ghost", 1, "AccountUpdated");
    ghost.id = 999;
    CHECK_INT(hk_store_webhook_update(s, &ghost), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "ghost", &got), HK_ENOTFOUND);
    uint64_t n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 3);
    hk_store_close(s);
}

TEST(list_paging)
{
    hk_store_t *s = NULL;
    struct collect c = {0};
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);

    /* Page 1: the visitor stops at 100. */
    c.stop_at = 100;
    CHECK_INT(hk_store_webhook_list(s, 0, 0, NULL, collect_fn, &c), 0);
    CHECK_INT(c.n, 100);
    CHECK(!c.bad);
    CHECK_INT(c.ids[0], 1);
    CHECK_INT(c.ids[99], 100);
    /* Page 2 from the last id. */
    struct collect c2 = {0};
    CHECK_INT(hk_store_webhook_list(s, c.ids[99], 0, NULL, collect_fn, &c2), 0);
    CHECK_INT(c2.n, 50);
    CHECK(!c2.bad);
    CHECK_INT(c2.ids[0], 101);
    CHECK_INT(c2.ids[49], 150);
    struct collect c3 = {0};
    CHECK_INT(hk_store_webhook_list(s, 150, 0, NULL, collect_fn, &c3), 0);
    CHECK_INT(c3.n, 0);
    CHECK_INT(hk_store_webhook_list(s, UINT64_MAX, 0, NULL, collect_fn, &c3), 0);
    CHECK_INT(c3.n, 0);

    /* Filters: each expected count computed from fill's pattern. */
    for (int app = 0; app <= 2; app++) {
        for (int a = -1; a < 3; a++) {
            for (uint64_t after = 0; after <= 120; after += 60) {
                struct collect f = {.app = app, .action = a < 0 ? NULL : actions[a]};
                size_t want = 0;
                for (int i = (int)after + 1; i <= 150; i++)
                    want += (!app || 1 + i % 2 == app) && (a < 0 || i % 3 == a);
                CHECK_INT(hk_store_webhook_list(s, after, app, f.action, collect_fn, &f), 0);
                CHECK(!f.bad);
                CHECK_INT(f.n, want);
                if (f.n) CHECK((int64_t)f.ids[0] > (int64_t)after);
            }
        }
    }
    /* An empty action means any; an unknown one matches nothing. */
    struct collect e = {0};
    CHECK_INT(hk_store_webhook_list(s, 0, 0, "", collect_fn, &e), 0);
    CHECK_INT(e.n, 150);
    struct collect u = {0};
    CHECK_INT(hk_store_webhook_list(s, 0, 1, "NoSuchAction", collect_fn, &u), 0);
    CHECK_INT(u.n, 0);
    CHECK_INT(hk_store_webhook_list(s, 0, 0, "NoSuchAction", collect_fn, &u), 0);
    CHECK_INT(u.n, 0);
    hk_store_close(s);
}

TEST(match)
{
    hk_store_t *s = NULL;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);
    for (int app = 1; app <= 2; app++) {
        for (int a = 0; a < 3; a++) {
            struct collect m = {.app = app, .action = actions[a]};
            size_t want = 0;
            for (int i = 1; i <= 150; i++)
                want += 1 + i % 2 == app && i % 3 == a;
            CHECK_INT(hk_store_webhook_match(s, app, actions[a], collect_fn, &m), 0);
            CHECK(!m.bad);
            CHECK_INT(m.n, want);
        }
    }
    /* "Account" is a prefix of "AccountUpdated": the ranges must not overlap. */
    struct collect p = {.app = 2, .action = "Account"};
    CHECK_INT(hk_store_webhook_match(s, 2, "Account", collect_fn, &p), 0);
    CHECK(!p.bad);
    CHECK_INT(p.n, 25);

    /* Inactive webhooks still match; a moved trigger action moves the entry. */
    hk_webhook_t *wh = NULL;
    CHECK_INT(hk_store_webhook_get(s, 4, &wh), 0); /* app 1, BookingCreated */
    wh->active = 0;
    free(wh->trigger_action);
    wh->trigger_action = strdup("Moved");
    CHECK_INT(hk_store_webhook_update(s, wh), 0);
    hk_webhook_free(wh);
    struct collect mv = {0};
    CHECK_INT(hk_store_webhook_match(s, 1, "Moved", collect_fn, &mv), 0);
    CHECK_INT(mv.n, 1);
    CHECK_INT(mv.ids[0], 4);
    struct collect old = {0};
    CHECK_INT(hk_store_webhook_match(s, 1, "BookingCreated", collect_fn, &old), 0);
    CHECK_INT(old.n, 24);
    for (size_t i = 0; i < old.n; i++)
        CHECK(old.ids[i] != 4);

    /* Deleted webhooks leave the index. */
    CHECK_INT(hk_store_webhook_delete(s, 4, NULL), 0);
    struct collect gone = {0};
    CHECK_INT(hk_store_webhook_match(s, 1, "Moved", collect_fn, &gone), 0);
    CHECK_INT(gone.n, 0);
    struct collect none = {0};
    CHECK_INT(hk_store_webhook_match(s, 0, "Moved", collect_fn, &none), 0);
    CHECK_INT(hk_store_webhook_match(s, 1, "", collect_fn, &none), 0);
    CHECK_INT(none.n, 0);
    hk_store_close(s);
}

TEST(match_bare)
{
    hk_store_t *s = NULL;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);
    for (int app = 1; app <= 2; app++) {
        for (int a = 0; a < 3; a++) {
            struct collect m = {.app = app, .action = actions[a]};
            struct bare b = {0};
            CHECK_INT(hk_store_webhook_match(s, app, actions[a], collect_fn, &m), 0);
            CHECK_INT(hk_store_webhook_match_bare(s, app, actions[a], bare_fn, &b), 0);
            CHECK(!m.bad);
            CHECK(!b.bad);
            CHECK_INT(b.n, m.n);
            for (size_t i = 0; i < m.n; i++)
                CHECK_INT(b.ids[i], m.ids[i]);
        }
    }
    /* The secret is still there for whoever reads the record whole. */
    hk_webhook_t *wh = NULL;
    CHECK_INT(hk_store_webhook_get(s, 7, &wh), 0);
    CHECK_STR(wh->secret_key, SECRET);
    hk_webhook_free(wh);
    struct bare none = {0};
    CHECK_INT(hk_store_webhook_match_bare(s, 1, "NoSuchAction", bare_fn, &none), 0);
    CHECK_INT(none.n, 0);
    hk_store_close(s);
}

TEST(visitor_reenters)
{
    hk_store_t *s = NULL;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);
    CHECK_INT(hk_store_webhook_list(s, 0, 0, NULL, reenter_fn, s), 0);
    CHECK_INT(hk_store_webhook_match(s, 1, "Account", reenter_fn, s), 0);
    for (uint64_t id = 1; id <= 150; id++) {
        hk_webhook_t *wh = NULL;
        CHECK_INT(hk_store_webhook_get(s, id, &wh), 0);
        CHECK_STR(wh->description, "visited");
        hk_webhook_free(wh);
    }
    hk_store_close(s);
}

TEST(delete)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    hk_webhook_t *old = NULL, *got = NULL;
    uint64_t a = 0, b = 0, c = 0, n = 0;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "One", 1, "AccountUpdated", &a), 0);
    CHECK_INT(create(s, "Two", 1, "AccountUpdated", &b), 0);

    CHECK_INT(hk_store_webhook_delete(s, b, &old), 0);
    CHECK_INT(old->id, b);
    CHECK_STR(old->name, "Two");
    CHECK_STR(old->secret_key, SECRET);
    hk_webhook_free(old);
    CHECK_INT(hk_store_webhook_get(s, b, &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "two", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_delete(s, b, &old), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_delete(s, 777, NULL), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 1);

    /* The name is free again; the id is not, even after a reopen. */
    hk_store_close(s);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "TWO", 1, "AccountUpdated", &c), 0);
    CHECK_INT(c, b + 1);
    CHECK_INT(hk_store_webhook_delete(s, c, NULL), 0);
    hk_store_close(s);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "Three", 1, "AccountUpdated", &c), 0);
    CHECK_INT(c, b + 2);
    CHECK_INT(hk_store_webhook_get(s, a, &got), 0);
    hk_webhook_free(got);
    hk_store_close(s);
}
