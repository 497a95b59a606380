/* webhooks.c -- the webhook RPCs: create, get, list, update, delete, and the trigger-action catalog
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/methods.h"
#include "api/validate.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "core/status.h"
#include "deliver/attempt.h"
#include "store/batch.h"
#include "store/webhooks.h"

#define LIST_REPLY_MAX (4u << 20)

#define OAUTH HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH
#define KEY_ID 1 /* the `key` oneof of Get/Update/DeleteWebhookRequest */
#define KEY_NAME 2

/* What a masked secret looks like: callers still see whether it is a
 * Standard Webhooks key. */
static char *mask_of(const char *secret)
{
    return (char *)(secret && strncmp(secret, HK_SECRET_PREFIX, strlen(HK_SECRET_PREFIX)) == 0
                        ? HK_SECRET_PREFIX "********"
                        : "********");
}

/* Replies with wh, its secret masked unless reveal. wh keeps its own secret
 * pointer (the store's copy frees it). */
static void reply_webhook(hk_call_t *call, hk_webhook_t *wh, int reveal)
{
    char *secret = wh->secret_key;
    if (!reveal) wh->secret_key = mask_of(secret);
    hk_rpc_reply(call, &wh->base);
    wh->secret_key = secret;
}

static unsigned long long id_of(const hk_webhook_t *wh)
{
    return (unsigned long long)wh->id;
}

/* Finds the webhook a request's `key` names. On failure finishes the call
 * (INVALID_ARGUMENT, NOT_FOUND, ...) and returns nonzero. */
static int find_webhook(hk_call_t *call, int key_case, uint64_t id, const char *name,
                        hk_webhook_t **out)
{
    hk_store_t *store = hk_api_of(call)->store;
    char what[160];
    int rc;

    if (key_case == KEY_ID) {
        rc = hk_store_webhook_get(store, id, out);
        snprintf(what, sizeof what, "webhook %llu", (unsigned long long)id);
    } else if (key_case == KEY_NAME) {
        /* A string that could not be a name names no webhook; not echoing
         * it keeps arbitrary bytes out of the status message. */
        if (hk_validate_name("name", name, NULL, 0) != 0) {
            rc = HK_ENOTFOUND;
            snprintf(what, sizeof what, "webhook");
        } else {
            rc = hk_store_webhook_find(store, name, out);
            snprintf(what, sizeof what, "webhook named %s", name);
        }
    } else {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "id or name is required");
        return -1;
    }
    if (rc != 0) hk_rpc_fail_err(call, rc, what);
    return rc;
}

static void log_change(const char *event, const hk_webhook_t *wh, const char *extra)
{
    char name[256];
    hk_log(HK_LOG_INFO, event, "id=%llu name=%s application=%s trigger_action=%s%s", id_of(wh),
           hk_log_quote(wh->name, name, sizeof name), hk_application_name(wh->application),
           wh->trigger_action, extra ? extra : "");
}

static void fail_name_taken(hk_call_t *call, const char *field, const char *name)
{
    hk_rpc_fail(call, HK_STATUS_ALREADY_EXISTS, "%s: a webhook named %s already exists", field,
                name);
}

/* --- writes ------------------------------------------------------------------- */

/* A webhook write: run by the store's writer thread (store/batch.h), the
 * call answered from its callback once the batch holding it is committed
 * and synced. What the writer reads is the write's own (copies), never the
 * request's, which is freed when the handler returns. */
typedef struct admin admin_t;
struct admin {
    hk_store_write_t w;
    hk_call_t *call;
    hk_webhook_t *wh;  /* create: the new webhook; update: the result */
    hk_webhook_t *old; /* delete: the record as it was */
    uint64_t id;
    Hookd__V1__UpdateWebhookRequest *req; /* update: the fields to change */
    char secret[HK_SECRET_MAX];           /* update: the new secret, if any */
    char changed[200];
    int reveal;
};

static void admin_free(admin_t *a)
{
    hk_webhook_free(a->wh);
    hk_webhook_free(a->old);
    if (a->req) hookd__v1__update_webhook_request__free_unpacked(a->req, NULL);
    explicit_bzero(a->secret, sizeof a->secret);
    free(a);
}

/* A heap copy of wh that hk_webhook_free frees. */
static hk_webhook_t *webhook_dup(const hk_webhook_t *wh)
{
    size_t n = hookd__v1__webhook__get_packed_size(wh);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return NULL;
    hookd__v1__webhook__pack(wh, buf);
    hk_webhook_t *copy = hookd__v1__webhook__unpack(NULL, n, buf);
    explicit_bzero(buf, n);
    free(buf);
    return copy;
}

/* --- CreateWebhook ------------------------------------------------------------ */

static int create_run(hk_store_t *store, hk_store_write_t *w)
{
    return hk_store_webhook_create(store, hk_container_of(w, admin_t, w)->wh);
}

static void on_created(hk_store_write_t *w, int rc)
{
    admin_t *a = hk_container_of(w, admin_t, w);
    if (rc == HK_EEXIST)
        fail_name_taken(a->call, "name", a->wh->name);
    else if (rc != 0)
        hk_rpc_fail_err(a->call, rc, "create webhook");
    else {
        log_change("webhook_created", a->wh, NULL);
        reply_webhook(a->call, a->wh, 1);
    }
    admin_free(a);
}

void hk_api_create_webhook(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__CreateWebhookRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    const hk_config_t *cfg = api->config;
    char err[512], secret[HK_SECRET_MAX];
    uint32_t timeout =
        HK_HAS(req, timeout_seconds) ? req->timeout_seconds : HK_WEBHOOK_TIMEOUT_DEFAULT;

    if (hk_validate_application(req->application, err, sizeof err) ||
        hk_validate_trigger_action(cfg->catalog, req->application, req->trigger_action, err,
                                   sizeof err) ||
        hk_validate_name("name", req->name, err, sizeof err) ||
        hk_validate_url(req->url, cfg->allow_http, err, sizeof err) ||
        hk_validate_auth_method(req->auth_method, err, sizeof err) ||
        hk_validate_timeout(timeout, err, sizeof err) ||
        (*req->secret_key && hk_validate_secret(req->secret_key, err, sizeof err)) ||
        hk_validate_description(req->description, err, sizeof err)) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err);
        return;
    }

    if (*req->secret_key)
        snprintf(secret, sizeof secret, "%s", req->secret_key);
    else
        hk_crypto_secret_generate(secret);

    /* The record borrows the request's strings; the write gets a copy. */
    hk_webhook_t wh = HOOKD__V1__WEBHOOK__INIT;
    wh.name = req->name;
    wh.application = req->application;
    wh.trigger_action = req->trigger_action;
    wh.url = req->url;
    wh.auth_method = OAUTH;
    wh.timeout_seconds = timeout;
    wh.secret_key = secret;
    wh.asynchronous = req->asynchronous;
    wh.ignore_for_api = req->ignore_for_api;
    wh.active = HK_HAS(req, active) ? req->active : 1;
    wh.description = req->description;

    admin_t *a = calloc(1, sizeof *a);
    if (!a || !(a->wh = webhook_dup(&wh))) {
        hk_rpc_fail_err(call, HK_ENOMEM, "create webhook");
        free(a);
    } else {
        a->call = call;
        a->w.run = create_run;
        a->w.done = on_created;
        hk_store_submit(api->store, &a->w);
    }
    explicit_bzero(secret, sizeof secret);
}

/* --- GetWebhook ----------------------------------------------------------------- */

void hk_api_get_webhook(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__GetWebhookRequest *req = (const void *)request;
    hk_webhook_t *wh;
    if (find_webhook(call, req->key_case, req->id, req->name, &wh) != 0) return;
    reply_webhook(call, wh, req->reveal_secret);
    hk_webhook_free(wh);
}

/* --- ListWebhooks --------------------------------------------------------------- */

typedef struct {
    hk_webhook_t **items;
    size_t n, want;
    size_t bytes, max_bytes; /* packed size so far, and the most one answer may carry */
    int more;
    int filter_active, active;
} page_t;

static int collect(hk_webhook_t *wh, void *arg)
{
    page_t *page = arg;
    if (page->filter_active && !wh->active != !page->active) {
        hk_webhook_free(wh);
        return 0;
    }
    /* An upper bound of its share of the answer: the real secret is longer
     * than its mask, and 8 bytes cover the field's tag and length. */
    size_t size = hookd__v1__webhook__get_packed_size(wh) + 8;
    if (page->n == page->want || (page->n > 0 && page->bytes + size > page->max_bytes)) {
        /* A match that does not fit: there is a next page. */
        page->more = 1;
        hk_webhook_free(wh);
        return 1;
    }
    page->items[page->n++] = wh;
    page->bytes += size;
    return 0;
}

void hk_api_list_webhooks(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__ListWebhooksRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    char err[512], token[32] = "";
    uint64_t after;
    page_t page = {0};

    if (req->application != 0 && hk_validate_application(req->application, err, sizeof err)) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err);
        return;
    }
    /* A filter longer than any catalog key matches nothing; refusing it
     * keeps oversized keys away from the store's index. */
    if (strlen(req->trigger_action) > 100) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "trigger_action: must be at most 100 bytes");
        return;
    }
    if (hk_rpc_page_token_parse(req->page_token, &after) != 0) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT,
                    "page_token: is not a token from a previous ListWebhooks answer");
        return;
    }
    page.want = hk_rpc_page_size(req->page_size);
    /* A page ends early rather than outgrow what a stock client accepts
     * (4 MiB by default) or hookd's own message limit. */
    page.max_bytes = api->config->max_message_bytes < LIST_REPLY_MAX
                         ? api->config->max_message_bytes
                         : LIST_REPLY_MAX;
    page.max_bytes -= page.max_bytes / 16;
    page.filter_active = HK_HAS(req, active);
    page.active = page.filter_active && req->active;
    page.items = calloc(page.want, sizeof *page.items);
    char **secrets = calloc(page.want, sizeof *secrets);
    if (!page.items || !secrets) {
        hk_rpc_fail_err(call, HK_ENOMEM, "list webhooks");
        goto out;
    }

    int rc =
        hk_store_webhook_list(api->store, after, req->application,
                              *req->trigger_action ? req->trigger_action : NULL, collect, &page);
    if (rc != 0) {
        hk_rpc_fail_err(call, rc, "list webhooks");
        goto out;
    }
    if (page.more) snprintf(token, sizeof token, "%llu", id_of(page.items[page.n - 1]));

    for (size_t i = 0; i < page.n; i++) {
        secrets[i] = page.items[i]->secret_key;
        page.items[i]->secret_key = mask_of(secrets[i]);
    }
    Hookd__V1__ListWebhooksResponse resp = HOOKD__V1__LIST_WEBHOOKS_RESPONSE__INIT;
    resp.n_webhooks = page.n;
    resp.webhooks = page.items;
    resp.next_page_token = token;
    hk_rpc_reply(call, &resp.base);
    for (size_t i = 0; i < page.n; i++)
        page.items[i]->secret_key = secrets[i];

out:
    for (size_t i = 0; i < page.n; i++)
        hk_webhook_free(page.items[i]);
    free(page.items);
    free(secrets);
}

/* --- UpdateWebhook -------------------------------------------------------------- */

/* Appends ",field" to a log list of changed fields. */
static void note(char *list, size_t n, const char *field)
{
    size_t len = strlen(list);
    snprintf(list + len, n - len, "%s%s", len ? "," : "", field);
}

static int str_changed(const char *a, const char *b)
{
    return strcmp(a, b) != 0;
}

/* upd = cur with the request's present fields swapped in (it owns nothing:
 * pointers into cur, req and secret, the new secret when secret_key is
 * present); changed lists the fields that differ ("" when none). */
static void merge(const hk_webhook_t *cur, const Hookd__V1__UpdateWebhookRequest *req, char *secret,
                  hk_webhook_t *upd, char *changed, size_t changed_len)
{
    *upd = *cur;
    changed[0] = 0;
    upd->auth_method = cur->auth_method ? (int)cur->auth_method : OAUTH;
    if (HK_HAS(req, new_name) && str_changed(req->new_name, cur->name)) {
        upd->name = req->new_name;
        note(changed, changed_len, "name");
    }
    if (HK_HAS(req, trigger_action) && str_changed(req->trigger_action, cur->trigger_action)) {
        upd->trigger_action = req->trigger_action;
        note(changed, changed_len, "trigger_action");
    }
    if (HK_HAS(req, url) && str_changed(req->url, cur->url)) {
        upd->url = req->url;
        note(changed, changed_len, "url");
    }
    if (HK_HAS(req, timeout_seconds) && req->timeout_seconds != cur->timeout_seconds) {
        upd->timeout_seconds = req->timeout_seconds;
        note(changed, changed_len, "timeout_seconds");
    }
    if (HK_HAS(req, secret_key) && str_changed(secret, cur->secret_key)) {
        upd->secret_key = secret;
        note(changed, changed_len, "secret_key");
    }
    if (HK_HAS(req, asynchronous) && !req->asynchronous != !cur->asynchronous) {
        upd->asynchronous = req->asynchronous;
        note(changed, changed_len, "asynchronous");
    }
    if (HK_HAS(req, ignore_for_api) && !req->ignore_for_api != !cur->ignore_for_api) {
        upd->ignore_for_api = req->ignore_for_api;
        note(changed, changed_len, "ignore_for_api");
    }
    if (HK_HAS(req, active) && !req->active != !cur->active) {
        upd->active = req->active;
        /* A reason hookd gave (410 Gone) goes with the state it explained. */
        upd->deactivated_reason = (char *)"";
        upd->deactivate_time = req->active ? 0 : hk_attempt_now_ms();
        note(changed, changed_len, "active");
    }
    if (HK_HAS(req, description) && str_changed(req->description, cur->description)) {
        upd->description = req->description;
        note(changed, changed_len, "description");
    }
}

/* On the writer thread: the record read anew, merged, written. */
static int update_run(hk_store_t *store, hk_store_write_t *w)
{
    admin_t *a = hk_container_of(w, admin_t, w);
    hk_webhook_t *cur = NULL, upd;
    int rc = hk_store_webhook_get(store, a->id, &cur);
    if (rc) return rc;
    merge(cur, a->req, a->secret, &upd, a->changed, sizeof a->changed);
    a->reveal = upd.secret_key == a->secret;
    /* Changed back meanwhile to what was asked: written all the same (the
     * update_time says the call happened). */
    if ((rc = hk_store_webhook_update(store, &upd)) == 0 && !(a->wh = webhook_dup(&upd)))
        rc = HK_ENOMEM;
    hk_webhook_free(cur);
    return rc;
}

static void on_updated(hk_store_write_t *w, int rc)
{
    admin_t *a = hk_container_of(w, admin_t, w);
    if (rc == HK_EEXIST)
        fail_name_taken(a->call, "new_name", a->req->new_name);
    else if (rc != 0)
        hk_rpc_fail_err(a->call, rc, "update webhook");
    else {
        char extra[240];
        snprintf(extra, sizeof extra, " changed=%s", a->changed);
        log_change("webhook_updated", a->wh, extra);
        reply_webhook(a->call, a->wh, a->reveal);
    }
    admin_free(a);
}

void hk_api_update_webhook(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__UpdateWebhookRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    const hk_config_t *cfg = api->config;
    char err[512], secret[HK_SECRET_MAX] = "", changed[200] = "";
    hk_webhook_t *cur;

    if (find_webhook(call, req->key_case, req->id, req->name, &cur) != 0) return;

    /* The admin page does not let these be edited: naming the current value
     * is harmless, another value changes nothing. */
    int cur_auth = cur->auth_method ? (int)cur->auth_method : OAUTH;
    int req_auth = HK_HAS(req, auth_method) && req->auth_method ? (int)req->auth_method : OAUTH;
    if (HK_HAS(req, application) && req->application != cur->application) {
        hk_rpc_fail(call, HK_STATUS_FAILED_PRECONDITION, "application cannot be changed");
        goto out;
    }
    if (HK_HAS(req, auth_method) && req_auth != cur_auth) {
        hk_rpc_fail(call, HK_STATUS_FAILED_PRECONDITION, "auth_method cannot be changed");
        goto out;
    }

    if ((HK_HAS(req, new_name) && hk_validate_name("new_name", req->new_name, err, sizeof err)) ||
        (HK_HAS(req, trigger_action) &&
         hk_validate_trigger_action(cfg->catalog, cur->application, req->trigger_action, err,
                                    sizeof err)) ||
        (HK_HAS(req, url) && hk_validate_url(req->url, cfg->allow_http, err, sizeof err)) ||
        (HK_HAS(req, timeout_seconds) &&
         hk_validate_timeout(req->timeout_seconds, err, sizeof err)) ||
        (HK_HAS(req, secret_key) && *req->secret_key &&
         hk_validate_secret(req->secret_key, err, sizeof err)) ||
        (HK_HAS(req, description) && hk_validate_description(req->description, err, sizeof err))) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err);
        goto out;
    }

    if (HK_HAS(req, secret_key)) {
        if (*req->secret_key)
            snprintf(secret, sizeof secret, "%s", req->secret_key);
        else
            hk_crypto_secret_generate(secret);
    }
    hk_webhook_t upd;
    merge(cur, req, secret, &upd, changed, sizeof changed);
    if (!changed[0]) {
        /* Nothing differs: no write, update_time stays. */
        reply_webhook(call, cur, 0);
        goto out;
    }
    /* The writer merges the request into the record as it is then: an
     * update committed meanwhile is not undone. */
    size_t n = hookd__v1__update_webhook_request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    admin_t *a = calloc(1, sizeof *a);
    if (buf) hookd__v1__update_webhook_request__pack(req, buf);
    if (a && buf) a->req = hookd__v1__update_webhook_request__unpack(NULL, n, buf);
    if (buf) explicit_bzero(buf, n);
    free(buf);
    if (!a || !a->req) {
        hk_rpc_fail_err(call, HK_ENOMEM, "update webhook");
        if (a) admin_free(a);
        goto out;
    }
    a->call = call;
    a->id = cur->id;
    memcpy(a->secret, secret, sizeof secret);
    a->w.run = update_run;
    a->w.done = on_updated;
    hk_store_submit(api->store, &a->w);

out:
    explicit_bzero(secret, sizeof secret);
    hk_webhook_free(cur);
}

/* --- DeleteWebhook -------------------------------------------------------------- */

static int delete_run(hk_store_t *store, hk_store_write_t *w)
{
    admin_t *a = hk_container_of(w, admin_t, w);
    return hk_store_webhook_delete(store, a->id, &a->old);
}

static void on_deleted(hk_store_write_t *w, int rc)
{
    admin_t *a = hk_container_of(w, admin_t, w);
    char what[64];
    if (rc != 0) {
        snprintf(what, sizeof what, "delete webhook %llu", (unsigned long long)a->id);
        hk_rpc_fail_err(a->call, rc, what);
    } else {
        hk_webhook_t *gone = a->old ? a->old : a->wh;
        log_change("webhook_deleted", gone, NULL);
        reply_webhook(a->call, gone, 0);
    }
    admin_free(a);
}

void hk_api_delete_webhook(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__DeleteWebhookRequest *req = (const void *)request;
    hk_api_t *api = hk_api_of(call);
    hk_webhook_t *cur;

    if (find_webhook(call, req->key_case, req->id, req->name, &cur) != 0) return;
    admin_t *a = calloc(1, sizeof *a);
    if (!a) {
        hk_rpc_fail_err(call, HK_ENOMEM, "delete webhook");
    } else {
        a->call = call;
        a->id = cur->id;
        a->wh = cur; /* answers if the record cannot be returned */
        cur = NULL;
        a->w.run = delete_run;
        a->w.done = on_deleted;
        hk_store_submit(api->store, &a->w);
    }
    hk_webhook_free(cur);
}

/* --- ListTriggerActions --------------------------------------------------------- */

void hk_api_list_trigger_actions(hk_call_t *call, const ProtobufCMessage *request)
{
    const Hookd__V1__ListTriggerActionsRequest *req = (const void *)request;
    const hk_catalog_t *catalog = hk_api_of(call)->config->catalog;
    char err[256];
    size_t n, count = 0;

    if (req->application != 0 && hk_validate_application(req->application, err, sizeof err)) {
        hk_rpc_fail(call, HK_STATUS_INVALID_ARGUMENT, "%s", err);
        return;
    }
    const hk_trigger_action_t *all = hk_catalog_list(catalog, &n);
    Hookd__V1__TriggerAction *actions = calloc(n ? n : 1, sizeof *actions);
    Hookd__V1__TriggerAction **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!actions || !ptrs) {
        hk_rpc_fail_err(call, HK_ENOMEM, "list trigger actions");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (req->application != 0 && all[i].application != (int)req->application) continue;
        Hookd__V1__TriggerAction *a = &actions[count];
        hookd__v1__trigger_action__init(a);
        a->application = all[i].application;
        a->key = (char *)all[i].key;
        a->display_name = (char *)all[i].display_name;
        ptrs[count++] = a;
    }
    Hookd__V1__ListTriggerActionsResponse resp = HOOKD__V1__LIST_TRIGGER_ACTIONS_RESPONSE__INIT;
    resp.n_trigger_actions = count;
    resp.trigger_actions = ptrs;
    hk_rpc_reply(call, &resp.base);

out:
    free(actions);
    free(ptrs);
}
