/* test_webhooks.c -- the webhook RPCs driven through hk_rpc_dispatch against a temporary store */
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "core/config.h"
#include "core/error.h"
#include "core/status.h"
#include "deliver/commit.h"
#include "fake_call.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "unit.h"

#define PATH(m) ("/hookd.v1.Webhooks/" m)
#define ENTERPRISE HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE
#define ELITE HOOKD__V1__APPLICATION__APPLICATION_ELITE

/* A config, a store and the loop its writes are answered on: all the
 * webhook RPCs need. */
typedef struct {
    hk_config_t config;
    hk_api_t api;
    uid_t admin;
    uv_loop_t loop;
} rig_t;

static int rig_open(rig_t *r)
{
    memset(r, 0, sizeof *r);
    if (hk_config_defaults(&r->config) != 0) return -1;
    r->api.config = &r->config;
    r->admin = getuid(); /* hookd's own uid is an admin */
    uv_loop_init(&r->loop);
    if (hk_store_open(hk_test_tmpdir(), 64u << 20, &r->api.store)) return -1;
    return hk_commit_new(&r->loop, r->api.store, &r->api.commit);
}

static void rig_close(rig_t *r)
{
    hk_commit_close(r->api.commit, NULL, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    hk_store_close(r->api.store);
    hk_config_free(&r->config);
    uv_loop_close(&r->loop);
}

/* A call, answered: writes are answered from the loop once committed. */
static void rig_call(fake_answer_t *a, hk_api_t *api, const char *path, uid_t uid,
                     const ProtobufCMessage *msg)
{
    rig_t *r = hk_container_of(api, rig_t, api);
    fake_call(a, api, path, uid, msg);
    for (int i = 0; i < 5000 && a->call; i++)
        uv_run(&r->loop, UV_RUN_ONCE);
}

static uint64_t stored_count(rig_t *r)
{
    uint64_t n = UINT64_MAX;
    if (hk_store_webhook_count(r->api.store, &n) != 0) return UINT64_MAX;
    return n;
}

/* CreateWebhook with the fields the admin page requires. */
static void create(rig_t *r, fake_answer_t *a, const char *name, const char *action,
                   const char *url)
{
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.name = (char *)name;
    req.application = ENTERPRISE;
    req.trigger_action = (char *)action;
    req.url = (char *)url;
    rig_call(a, &r->api, PATH("CreateWebhook"), r->admin, &req.base);
}

/* Creates a webhook and returns its id (0 when that failed). */
static uint64_t create_id(rig_t *r, const char *name, const char *action)
{
    fake_answer_t a;
    create(r, &a, name, action, "https://receiver.example/hook");
    Hookd__V1__Webhook *wh = (void *)fake_answer_unpack(&a, &hookd__v1__webhook__descriptor);
    uint64_t id = wh ? wh->id : 0;
    if (wh) protobuf_c_message_free_unpacked(&wh->base, NULL);
    fake_answer_free(&a);
    return id;
}

static Hookd__V1__Webhook *get_by_name(rig_t *r, fake_answer_t *a, const char *name, int reveal)
{
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    req.name = (char *)name;
    req.reveal_secret = reveal;
    rig_call(a, &r->api, PATH("GetWebhook"), r->admin, &req.base);
    return (void *)fake_answer_unpack(a, &hookd__v1__webhook__descriptor);
}

TEST(create_stores_and_answers_with_the_secret)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    create(&r, &a, "Orders", "AccountUpdated", "https://receiver.example/hook");
    CHECK(a.call == NULL); /* answered at once: CRUD syncs inline */
    CHECK_INT(a.status, HK_STATUS_OK);
    Hookd__V1__Webhook *wh = (void *)fake_answer_unpack(&a, &hookd__v1__webhook__descriptor);
    CHECK(wh != NULL);
    CHECK(wh->id != 0);
    CHECK_STR(wh->name, "Orders");
    /* Defaults the caller did not set: active, 15 s, OAuth, generated key. */
    CHECK(wh->active);
    CHECK_INT(wh->timeout_seconds, 15);
    CHECK_INT(wh->auth_method, HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH);
    CHECK(strncmp(wh->secret_key, "whsec_", 6) == 0 && strlen(wh->secret_key) > 40);

    /* What the store holds is what was answered. */
    hk_webhook_t *st = NULL;
    CHECK_INT(hk_store_webhook_find(r.api.store, "orders", &st), 0);
    CHECK_INT(st->id, wh->id);
    CHECK_STR(st->url, "https://receiver.example/hook");
    CHECK_STR(st->secret_key, wh->secret_key);
    CHECK_INT(stored_count(&r), 1);
    hk_webhook_free(st);
    protobuf_c_message_free_unpacked(&wh->base, NULL);
    fake_answer_free(&a);
    rig_close(&r);
}

TEST(create_refusals_store_nothing)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    create(&r, &a, "", "AccountUpdated", "https://receiver.example/hook");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "name") != NULL);
    create(&r, &a, "A", "NoSuchAction", "https://receiver.example/hook");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "trigger_action") != NULL);
    create(&r, &a, "A", "AccountUpdated", "http://receiver.example/hook");
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "url") != NULL);
    CHECK_INT(stored_count(&r), 0);

    /* A name is taken case-insensitively. */
    CHECK(create_id(&r, "Orders", "AccountUpdated") != 0);
    create(&r, &a, "ORDERS", "AccountCreated", "https://receiver.example/other");
    CHECK_INT(a.status, HK_STATUS_ALREADY_EXISTS);
    CHECK_INT(stored_count(&r), 1);

    /* A caller who is not an admin: refused before anything is read. */
    uid_t other = r.admin == 4242 ? 4243 : 4242;
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.name = (char *)"Intruder";
    req.application = ENTERPRISE;
    req.trigger_action = (char *)"AccountUpdated";
    req.url = (char *)"https://receiver.example/hook";
    rig_call(&a, &r.api, PATH("CreateWebhook"), other, &req.base);
    CHECK_INT(a.status, HK_STATUS_PERMISSION_DENIED);
    CHECK_INT(stored_count(&r), 1);
    rig_close(&r);
}

TEST(get_masks_unless_revealed)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    uint64_t id = create_id(&r, "Orders", "AccountUpdated");
    CHECK(id != 0);
    Hookd__V1__Webhook *wh = get_by_name(&r, &a, "orders", 0);
    CHECK(wh != NULL);
    CHECK_INT(wh->id, id);
    CHECK_STR(wh->secret_key, "whsec_********");
    protobuf_c_message_free_unpacked(&wh->base, NULL);
    fake_answer_free(&a);

    wh = get_by_name(&r, &a, "Orders", 1);
    CHECK(wh != NULL);
    hk_webhook_t *st = NULL;
    CHECK_INT(hk_store_webhook_get(r.api.store, id, &st), 0);
    CHECK_STR(wh->secret_key, st->secret_key);
    hk_webhook_free(st);
    protobuf_c_message_free_unpacked(&wh->base, NULL);
    fake_answer_free(&a);

    CHECK(get_by_name(&r, &a, "Nobody", 0) == NULL);
    CHECK_INT(a.status, HK_STATUS_NOT_FOUND);
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    rig_call(&a, &r.api, PATH("GetWebhook"), r.admin, &req.base); /* neither id nor name */
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    rig_close(&r);
}

TEST(list_pages_and_filters)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    uint64_t id1 = create_id(&r, "One", "AccountUpdated");
    uint64_t id2 = create_id(&r, "Two", "AccountCreated");
    uint64_t id3 = create_id(&r, "Three", "AccountUpdated");
    CHECK(id1 && id2 && id3);

    Hookd__V1__ListWebhooksRequest req = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    req.page_size = 2;
    rig_call(&a, &r.api, PATH("ListWebhooks"), r.admin, &req.base);
    Hookd__V1__ListWebhooksResponse *resp =
        (void *)fake_answer_unpack(&a, &hookd__v1__list_webhooks_response__descriptor);
    CHECK(resp != NULL);
    CHECK_INT(resp->n_webhooks, 2);
    CHECK_INT(resp->webhooks[0]->id, id1);
    CHECK_INT(resp->webhooks[1]->id, id2);
    CHECK_STR(resp->webhooks[0]->secret_key, "whsec_********");
    CHECK(*resp->next_page_token);
    char token[32];
    snprintf(token, sizeof token, "%s", resp->next_page_token);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);

    req.page_token = token;
    rig_call(&a, &r.api, PATH("ListWebhooks"), r.admin, &req.base);
    resp = (void *)fake_answer_unpack(&a, &hookd__v1__list_webhooks_response__descriptor);
    CHECK(resp != NULL);
    CHECK_INT(resp->n_webhooks, 1);
    CHECK_INT(resp->webhooks[0]->id, id3);
    CHECK_STR(resp->next_page_token, "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);

    /* Filtered by trigger action. */
    Hookd__V1__ListWebhooksRequest f = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    f.application = ENTERPRISE;
    f.trigger_action = (char *)"AccountCreated";
    rig_call(&a, &r.api, PATH("ListWebhooks"), r.admin, &f.base);
    resp = (void *)fake_answer_unpack(&a, &hookd__v1__list_webhooks_response__descriptor);
    CHECK(resp != NULL);
    CHECK_INT(resp->n_webhooks, 1);
    CHECK_INT(resp->webhooks[0]->id, id2);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);

    req.page_token = (char *)"not-a-token";
    rig_call(&a, &r.api, PATH("ListWebhooks"), r.admin, &req.base);
    CHECK_INT(a.status, HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(a.message, "page_token") != NULL);
    rig_close(&r);
}

TEST(update_changes_only_present_fields)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    uint64_t id = create_id(&r, "Orders", "AccountUpdated");
    CHECK(id && create_id(&r, "Taken", "AccountUpdated"));
    hk_webhook_t *before = NULL;
    CHECK_INT(hk_store_webhook_get(r.api.store, id, &before), 0);

    Hookd__V1__UpdateWebhookRequest req = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    req.key_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_ID;
    req.id = id;
    req._active_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___ACTIVE_ACTIVE;
    req.active = 0;
    req._url_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___URL_URL;
    req.url = (char *)"https://receiver.example/v2";
    rig_call(&a, &r.api, PATH("UpdateWebhook"), r.admin, &req.base);
    CHECK_INT(a.status, HK_STATUS_OK);
    fake_answer_free(&a);
    hk_webhook_t *after = NULL;
    CHECK_INT(hk_store_webhook_get(r.api.store, id, &after), 0);
    CHECK(!after->active);
    CHECK_STR(after->url, "https://receiver.example/v2");
    CHECK_STR(after->name, before->name);
    CHECK_STR(after->secret_key, before->secret_key);
    CHECK_INT(after->timeout_seconds, before->timeout_seconds);
    hk_webhook_free(after);

    /* Refused changes leave the record as it was. */
    Hookd__V1__UpdateWebhookRequest bad = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    bad.key_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_NAME;
    bad.name = (char *)"orders";
    bad._application_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___APPLICATION_APPLICATION;
    bad.application = ELITE;
    bad._url_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___URL_URL;
    bad.url = (char *)"https://receiver.example/v3";
    rig_call(&a, &r.api, PATH("UpdateWebhook"), r.admin, &bad.base);
    CHECK_INT(a.status, HK_STATUS_FAILED_PRECONDITION);
    bad._application_case = 0;
    bad._new_name_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___NEW_NAME_NEW_NAME;
    bad.new_name = (char *)"TAKEN";
    rig_call(&a, &r.api, PATH("UpdateWebhook"), r.admin, &bad.base);
    CHECK_INT(a.status, HK_STATUS_ALREADY_EXISTS);
    CHECK_INT(hk_store_webhook_get(r.api.store, id, &after), 0);
    CHECK_STR(after->url, "https://receiver.example/v2");
    CHECK_STR(after->name, "Orders");
    CHECK_INT(after->application, ENTERPRISE);
    hk_webhook_free(after);
    hk_webhook_free(before);
    rig_close(&r);
}

TEST(delete_removes_it)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    uint64_t id = create_id(&r, "Orders", "AccountUpdated");
    CHECK(id != 0);
    Hookd__V1__DeleteWebhookRequest req = HOOKD__V1__DELETE_WEBHOOK_REQUEST__INIT;
    req.key_case = HOOKD__V1__DELETE_WEBHOOK_REQUEST__KEY_ID;
    req.id = id;
    rig_call(&a, &r.api, PATH("DeleteWebhook"), r.admin, &req.base);
    Hookd__V1__Webhook *wh = (void *)fake_answer_unpack(&a, &hookd__v1__webhook__descriptor);
    CHECK(wh != NULL);
    CHECK_INT(wh->id, id);
    CHECK_STR(wh->secret_key, "whsec_********"); /* the answer masks it too */
    protobuf_c_message_free_unpacked(&wh->base, NULL);
    fake_answer_free(&a);
    hk_webhook_t *st = NULL;
    CHECK_INT(hk_store_webhook_get(r.api.store, id, &st), HK_ENOTFOUND);
    CHECK_INT(stored_count(&r), 0);
    rig_call(&a, &r.api, PATH("DeleteWebhook"), r.admin, &req.base);
    CHECK_INT(a.status, HK_STATUS_NOT_FOUND);
    rig_close(&r);
}

TEST(trigger_actions_of_an_application)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    Hookd__V1__ListTriggerActionsRequest req = HOOKD__V1__LIST_TRIGGER_ACTIONS_REQUEST__INIT;
    req.application = ELITE;
    rig_call(&a, &r.api, PATH("ListTriggerActions"), r.admin, &req.base);
    Hookd__V1__ListTriggerActionsResponse *resp =
        (void *)fake_answer_unpack(&a, &hookd__v1__list_trigger_actions_response__descriptor);
    CHECK(resp != NULL);
    CHECK(resp->n_trigger_actions > 0);
    int found = 0;
    for (size_t i = 0; i < resp->n_trigger_actions; i++) {
        CHECK_INT(resp->trigger_actions[i]->application, ELITE);
        if (strcmp(resp->trigger_actions[i]->key, "AccountUpdated") == 0) {
            CHECK_STR(resp->trigger_actions[i]->display_name, "Account Update");
            found = 1;
        }
    }
    CHECK(found);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fake_answer_free(&a);
    rig_close(&r);
}

TEST(unknown_method)
{
    rig_t r;
    fake_answer_t a;
    CHECK_INT(rig_open(&r), 0);
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    rig_call(&a, &r.api, PATH("NoSuchMethod"), r.admin, &req.base);
    CHECK_INT(a.status, HK_STATUS_UNIMPLEMENTED);
    rig_close(&r);
}
