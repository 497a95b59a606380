/* storetest.c -- what the store's unit tests share: stores, webhooks, deliveries */
#include "storetest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const char *const actions[3] = {"AccountUpdated", "BookingCreated", "Account"};

struct heard heard;

hk_webhook_t hook(const char *name, int app, const char *action)
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

int create(hk_store_t *s, const char *name, int app, const char *action, uint64_t *id)
{
    hk_webhook_t wh = hook(name, app, action);
    int err = hk_store_webhook_create(s, &wh);
    if (id) *id = wh.id;
    return err;
}

char *path_in(const char *dir, const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* The whole of a file, in a heap buffer. */
char *slurp(const char *path, size_t *len)
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

int collect_fn(hk_webhook_t *wh, void *arg)
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

/* 150 webhooks: id i has application 1 + i % 2 and action actions[i % 3]. */
int fill(hk_store_t *s)
{
    char name[32];
    for (int i = 1; i <= 150; i++) {
        uint64_t id;
        snprintf(name, sizeof name, "hook-%03d", i);
        if (create(s, name, 1 + i % 2, actions[i % 3], &id) || id != (uint64_t)i) return -1;
    }
    return 0;
}

int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    fclose(f);
    return n == len ? chmod(path, mode) : -1;
}

/* Opens the environment behind the store's back (the store closed). */
int raw_open(const char *dir, MDB_env **env, MDB_txn **txn, const char *db, MDB_dbi *dbi)
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

int corrupt_delivery(const char *dir, uint64_t id)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t k[8], junk[] = {2, 0, 0,    0,    0,    0,    0,
                            0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* V2, no body, a broken varint */
    for (int i = 7; i >= 0; i--, id >>= 8)
        k[i] = (uint8_t)id;
    if (raw_open(dir, &env, &txn, "deliveries", &dbi)) return -1;
    MDB_val key = {8, k}, v = {sizeof junk, junk};
    int rc = mdb_put(txn, dbi, &key, &v, 0);
    rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    mdb_env_close(env);
    return rc ? -1 : 0;
}

static void heard_gathered(void *arg)
{
    (void)arg;
    heard.opened++;
}

/* On the writer thread: read by the test after a drain (a mutex between). */
static void heard_finished(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&heard.done, 1, __ATOMIC_SEQ_CST);
}

hk_store_t *open_store(const char *dir, size_t map)
{
    hk_store_t *s = NULL;
    if (hk_store_open(dir, map, &s) != 0) return NULL;
    memset(&heard, 0, sizeof heard);
    hk_store_hooks_t hooks = {.gathered = heard_gathered, .finished = heard_finished};
    hk_store_set_hooks(s, &hooks);
    return s;
}

uint64_t due_added(hk_store_t *s)
{
    hk_store_write_stats_t st;
    hk_store_write_stats(s, &st);
    return st.due_added;
}

uint64_t webhook(hk_store_t *s, const char *name, int active)
{
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = (char *)name;
    wh.application = 1;
    wh.trigger_action = (char *)"AccountUpdated";
    wh.url = (char *)"https://receiver.example/hook";
    wh.auth_method = 1;
    wh.timeout_seconds = 15;
    wh.secret_key = (char *)SECRET;
    wh.asynchronous = 1;
    wh.active = active;
    wh.description = (char *)"";
    return hk_store_webhook_create(s, &wh) == 0 ? wh.id : 0;
}

int set_active(hk_store_t *s, uint64_t id, int active)
{
    hk_webhook_t *wh = NULL;
    int err = hk_store_webhook_get(s, id, &wh);
    if (err) return err;
    wh->active = active;
    err = hk_store_webhook_update(s, wh);
    hk_webhook_free(wh);
    return err;
}

/* Puts a delivery of webhook wid in state, due at next; returns its id. */
uint64_t put(hk_store_t *s, uint64_t wid, int state, int64_t next, int64_t created)
{
    hk_delivery_t d = HOOKD__V1__DELIVERY__INIT;
    d.id = hk_outbox_delivery_id(s);
    d.webhook_id = wid;
    d.webhook_name = (char *)"hook";
    d.event_id = (char *)"evt_1";
    d.application = 1;
    d.trigger_action = (char *)"AccountUpdated";
    d.origin = 1;
    d.asynchronous = 1;
    d.state = state;
    d.create_time = created;
    d.next_attempt_time = next;
    return hk_outbox_delivery_put(s, &d, (const uint8_t *)BODY, sizeof BODY - 1, DATA_LEN, NULL) ==
                   0
               ? d.id
               : 0;
}

hk_attempt_t attempt(int outcome, int status)
{
    hk_attempt_t a = HOOKD__V1__ATTEMPT__INIT;
    a.time = 1000;
    a.outcome = outcome;
    a.http_status = status;
    a.duration_ms = 12;
    a.error = (char *)(status == 200 ? "" : "HTTP 500");
    return a;
}

size_t take_all(hk_store_t *s, int64_t now, hk_outbox_due_t *out, size_t max, int64_t *next)
{
    size_t n = 0;
    if (hk_outbox_due_take(s, now, NULL, NULL, out, max, &n, next) != 0) return 999;
    return n;
}

int state_of(hk_store_t *s, uint64_t id)
{
    hk_delivery_t *d = NULL;
    if (hk_outbox_delivery_get(s, id, 0, &d) != 0) return -1;
    int st = d->state;
    hk_delivery_free(d);
    return st;
}

/* ---- writes waited for ------------------------------------------------------------- */

typedef struct {
    hk_store_write_t w;
    const hk_delivery_t *d;
    const uint8_t *body;
    size_t len, data_len;
    const hk_attempt_t *a;
    uint64_t id;
    int state;
    int64_t next;
    int *active;
} wop_t;

static int put_run(hk_store_t *s, hk_store_write_t *w)
{
    wop_t *o = hk_container_of(w, wop_t, w);
    return hk_outbox_delivery_put(s, o->d, o->body, o->len, o->data_len, o->a);
}

static int attempt_run(hk_store_t *s, hk_store_write_t *w)
{
    wop_t *o = hk_container_of(w, wop_t, w);
    return hk_outbox_attempt_record(s, o->id, o->a, o->state, o->next, o->active);
}

int write_put(hk_store_t *s, const hk_delivery_t *d, const uint8_t *body, size_t len,
              size_t data_len, const hk_attempt_t *a)
{
    wop_t o = {
        .w = {.run = put_run}, .d = d, .body = body, .len = len, .data_len = data_len, .a = a};
    return hk_store_run(s, &o.w);
}

int write_attempt(hk_store_t *s, uint64_t id, const hk_attempt_t *a, int state, int64_t next,
                  int *active)
{
    wop_t o = {.w = {.run = attempt_run},
               .id = id,
               .a = a,
               .state = state,
               .next = next,
               .active = active};
    return hk_store_run(s, &o.w);
}
