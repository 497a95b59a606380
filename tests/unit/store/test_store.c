/* test_store.c -- the LMDB store: webhooks, their indexes, sealed secrets, limits */
#define _GNU_SOURCE /* memmem */
#include "core/crypto.h"
#include "core/error.h"
#include "store/store.h"
#include "unit.h"

#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_MAP (16u << 20)

static const char *SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

static hk_webhook_t hook(const char *name, int app, const char *action)
{
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = app;
    wh.trigger_action = (char *)action;
    wh.url = (char *)"https://receiver.example/hook";
    wh.auth_method = HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH;
    wh.timeout_seconds = 15;
    wh.secret_key = (char *)SECRET;
    wh.active = 1;
    wh.description = (char *)"a test webhook";
    return wh;
}

static int create(hk_store_t *s, const char *name, int app, const char *action, uint64_t *id)
{
    hk_webhook_t wh = hook(name, app, action);
    int err = hk_store_webhook_create(s, &wh);
    if (id) *id = wh.id;
    return err;
}

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* The whole of a file, in a heap buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
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

TEST(find_case_insensitive)
{
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    uint64_t id = 0, id2 = 0;
    CHECK_INT(hk_store_open(hk_test_tmpdir(), SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "My Hook", 1, "AccountUpdated", &id), 0);
    CHECK_INT(create(s, u8"\u00c9cole \u03a9 \u0414", 1, "AccountUpdated", &id2), 0);

    CHECK_INT(hk_store_webhook_find(s, "my hook", &got), 0);
    CHECK_INT(got->id, id);
    CHECK_STR(got->name, "My Hook"); /* stored as given */
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_find(s, "MY HOOK", &got), 0);
    CHECK_INT(got->id, id);
    hk_webhook_free(got);
    /* "école ω д" finds "École Ω Д": Latin-1, Greek and Cyrillic fold too. */
    CHECK_INT(hk_store_webhook_find(s, u8"\u00e9COLE \u03c9 \u0434", &got), 0);
    CHECK_INT(got->id, id2);
    hk_webhook_free(got);

    /* Simple folds only: long s is s, final sigma is sigma, Ÿ is ÿ; but ß is
     * not "ss" (a full folding), and unfolded blocks compare as bytes. */
    CHECK_INT(create(s, u8"Ma\u017f \u03c2 \u0178", 1, "A", NULL), 0);
    CHECK_INT(hk_store_webhook_find(s, u8"MAS \u03a3 \u00ff", &got), 0);
    hk_webhook_free(got);
    CHECK_INT(create(s, u8"stra\u00dfe", 1, "A", NULL), 0);
    CHECK_INT(create(s, "STRASSE", 1, "A", NULL), 0);
    CHECK_INT(create(s, u8"\u1e00", 1, "A", NULL), 0); /* U+1E00, Latin Ext. Additional */
    CHECK_INT(create(s, u8"\u1e01", 1, "A", NULL), 0); /* its lower case: distinct */
    /* Invalid UTF-8 is kept as bytes, never read past the end. */
    CHECK_INT(create(s, "bad \xc3", 1, "A", NULL), 0);
    CHECK_INT(hk_store_webhook_find(s, "BAD \xc3", &got), 0);
    hk_webhook_free(got);

    CHECK_INT(hk_store_webhook_find(s, "My Hook ", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "nobody", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, "", &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_find(s, NULL, &got), HK_ENOTFOUND);

    /* Taken in any letter case, and a failed create assigns nothing. */
    hk_webhook_t dup = hook("MY HOOK", 2, "Other");
    CHECK_INT(hk_store_webhook_create(s, &dup), HK_EEXIST);
    CHECK_INT(dup.id, 0);
    CHECK_INT(dup.create_time, 0);
    CHECK_INT(create(s, u8"\u00e9cole \u03c9 \u0434", 2, "X", NULL), HK_EEXIST);
    /* ...and the refused creates did not spend ids. */
    uint64_t id3 = 0, n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(create(s, "third", 1, "AccountUpdated", &id3), 0);
    CHECK_INT(id3, n + 1);
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

struct collect {
    uint64_t ids[512];
    size_t n, stop_at;
    int bad;
    int app;
    const char *action;
};

static int collect_fn(hk_webhook_t *wh, void *arg)
{
    struct collect *c = arg;
    if (c->n && wh->id <= c->ids[c->n - 1]) c->bad = 1; /* not ascending */
    if (c->app && (int)wh->application != c->app) c->bad = 1;
    if (c->action && strcmp(wh->trigger_action, c->action) != 0) c->bad = 1;
    if (strcmp(wh->secret_key, SECRET) != 0) c->bad = 1;
    if (c->n < 512) c->ids[c->n] = wh->id;
    c->n++;
    hk_webhook_free(wh);
    return c->stop_at && c->n == c->stop_at;
}

static const char *const actions[] = {"AccountUpdated", "BookingCreated", "Account"};

/* 150 webhooks: id i has application 1 + i % 2 and action actions[i % 3]. */
static int fill(hk_store_t *s)
{
    char name[32];
    for (int i = 1; i <= 150; i++) {
        uint64_t id;
        snprintf(name, sizeof name, "hook-%03d", i);
        if (create(s, name, 1 + i % 2, actions[i % 3], &id) || id != (uint64_t)i) return -1;
    }
    return 0;
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

TEST(persistence)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(fill(s), 0);
    hk_webhook_t wh = hook("Renamed", 2, "Elsewhere");
    wh.id = 10;
    CHECK_INT(hk_store_webhook_update(s, &wh), 0);
    hk_store_close(s);

    /* A map size of 0 means the default, and never less than the data. */
    CHECK_INT(hk_store_open(dir, 0, &s), 0);
    uint64_t n = 0;
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, 150);
    CHECK_INT(hk_store_webhook_find(s, "renamed", &got), 0);
    CHECK_INT(got->id, 10);
    CHECK_STR(got->secret_key, SECRET);
    hk_webhook_free(got);
    CHECK_INT(hk_store_webhook_find(s, "hook-010", &got), HK_ENOTFOUND);
    struct collect m = {0};
    CHECK_INT(hk_store_webhook_match(s, 2, "Elsewhere", collect_fn, &m), 0);
    CHECK_INT(m.n, 1);
    uint64_t id = 0;
    CHECK_INT(create(s, "after reopen", 1, "AccountUpdated", &id), 0);
    CHECK_INT(id, 151);
    hk_store_close(s);
}

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

TEST(creates_dirs)
{
    char dir[512];
    struct stat st;
    hk_store_t *s = NULL;
    snprintf(dir, sizeof dir, "%s/a/b/data", hk_test_tmpdir());
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_store_close(s);
    CHECK_INT(stat(dir, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK_INT(hk_store_open("", SMALL_MAP, &s), HK_EINVAL);
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    fclose(f);
    return n == len ? chmod(path, mode) : -1;
}

TEST(key_file_refused)
{
    const char *dir = hk_test_tmpdir();
    const char *key = path_in(dir, "secret.key");
    hk_store_t *s = NULL;
    uint8_t good[HK_SEAL_KEY_BYTES], other[HK_SEAL_KEY_BYTES];
    size_t len = 0;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "keyed", 1, "AccountUpdated", NULL), 0);
    hk_store_close(s);
    char *k = slurp(key, &len);
    CHECK(k != NULL && len == sizeof good);
    memcpy(good, k, sizeof good);
    free(k);

    /* Readable by others. */
    CHECK_INT(chmod(key, 0640), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    CHECK_INT(chmod(key, 0604), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    /* Stricter than 0600 is fine. */
    CHECK_INT(chmod(key, 0400), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_store_close(s);
    /* Wrong size. */
    CHECK_INT(write_file(key, good, 16, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ECORRUPT);
    /* Another key: the store's secrets would not open. */
    memcpy(other, good, sizeof other);
    other[0] ^= 1;
    CHECK_INT(write_file(key, other, sizeof other, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ECORRUPT);
    /* Missing while the store exists: not silently replaced. */
    CHECK_INT(unlink(key), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);
    CHECK(access(key, F_OK) != 0);
    /* A symlink is not followed. */
    CHECK_INT(write_file(path_in(dir, "elsewhere.key"), good, sizeof good, 0600), 0);
    CHECK_INT(symlink("elsewhere.key", key), 0);
    CHECK(hk_store_open(dir, SMALL_MAP, &s) != 0);
    CHECK_INT(unlink(key), 0);
    /* The right key back: all is well. */
    CHECK_INT(write_file(key, good, sizeof good, 0600), 0);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, "keyed", &got), 0);
    CHECK_STR(got->secret_key, SECRET);
    hk_webhook_free(got);
    hk_store_close(s);
}

TEST(map_full)
{
    const char *dir = hk_test_tmpdir();
    const size_t map = 256u << 10;
    hk_store_t *s = NULL;
    char name[32], desc[501];
    uint64_t made = 0, n = 0, id = 0;
    int err = 0;
    memset(desc, 'd', 500);
    desc[500] = '\0';
    CHECK_INT(hk_store_open(dir, map, &s), 0);
    for (int i = 1; i <= 100000; i++) {
        snprintf(name, sizeof name, "filler-%06d", i);
        hk_webhook_t wh = hook(name, 1 + i % 2, actions[i % 3]);
        wh.description = desc;
        if ((err = hk_store_webhook_create(s, &wh)) != 0) break;
        made++;
    }
    CHECK_INT(err, HK_EFULL);
    CHECK(made > 10);
    /* The failed txn left nothing: same count, no half-written index entry. */
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, made);
    snprintf(name, sizeof name, "filler-%06d", (int)made + 1);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, name, &got), HK_ENOTFOUND);
    CHECK_INT(hk_store_webhook_get(s, made + 1, &got), HK_ENOTFOUND);
    /* Still usable: reads work, and deletes free room for a write. */
    CHECK_INT(hk_store_webhook_get(s, made, &got), 0);
    hk_webhook_free(got);
    hk_store_close(s);

    /* Reopens at the same size with everything intact. */
    CHECK_INT(hk_store_open(dir, map, &s), 0);
    CHECK_INT(hk_store_webhook_count(s, &n), 0);
    CHECK_INT(n, made);
    for (uint64_t i = 1; i <= made; i++) {
        snprintf(name, sizeof name, "filler-%06d", (int)i);
        CHECK_INT(hk_store_webhook_find(s, name, &got), 0);
        CHECK_INT(got->id, i);
        CHECK_STR(got->secret_key, SECRET);
        CHECK(strcmp(got->description, desc) == 0);
        hk_webhook_free(got);
    }
    struct collect m = {0};
    CHECK_INT(hk_store_webhook_match(s, 1, "AccountUpdated", collect_fn, &m), 0);
    CHECK(m.n > 0 && !m.bad);
    hk_store_close(s);

    /* A larger map takes more; the failed create spent no id. */
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "after growth", 1, "AccountUpdated", &id), 0);
    CHECK_INT(id, made + 1);
    hk_store_close(s);
}

/* Opens the environment behind the store's back (the store closed). */
static int raw_open(const char *dir, MDB_env **env, MDB_txn **txn, const char *db, MDB_dbi *dbi)
{
    if (mdb_env_create(env)) return -1;
    mdb_env_set_maxdbs(*env, 16);
    mdb_env_set_mapsize(*env, SMALL_MAP);
    if (mdb_env_open(*env, dir, 0, 0600) || mdb_txn_begin(*env, NULL, 0, txn) ||
        mdb_dbi_open(*txn, db, 0, dbi)) {
        mdb_env_close(*env);
        return -1;
    }
    return 0;
}

TEST(newer_schema_refused)
{
    const char *dir = hk_test_tmpdir();
    hk_store_t *s = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    CHECK_INT(create(s, "kept", 1, "AccountUpdated", NULL), 0);
    hk_store_close(s);

    CHECK_INT(raw_open(dir, &env, &txn, "meta", &meta), 0);
    uint8_t v2[4] = {0, 0, 0, 2};
    MDB_val k = {6, (void *)"schema"}, v = {4, v2};
    CHECK_INT(mdb_put(txn, meta, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), HK_ESTATE);

    /* Back to 1, and the data is untouched by the refusal. */
    CHECK_INT(raw_open(dir, &env, &txn, "meta", &meta), 0);
    v2[3] = 1;
    CHECK_INT(mdb_put(txn, meta, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_INT(hk_store_open(dir, SMALL_MAP, &s), 0);
    hk_webhook_t *got = NULL;
    CHECK_INT(hk_store_webhook_find(s, "kept", &got), 0);
    hk_webhook_free(got);
    hk_store_close(s);
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
