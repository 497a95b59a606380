/* test_pbjson.c -- proto3 JSON for every hookd.v1 message: golden vectors, round trips, refusals */
#include <stdlib.h>

#include "api/pbjson.h"
#include "api/rpc.h"
#include "core/error.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "unit.h"

#define D(name) (&hookd__v1__##name##__descriptor)

static char err[512];

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *m = NULL;
    err[0] = '\0';
    int rc = hk_pbjson_decode(desc, (const uint8_t *)json, strlen(json), &m, err, sizeof err);
    if (rc != 0) fprintf(stderr, "  decode %s: %d %s\n", json, rc, err);
    return rc == 0 ? m : NULL;
}

static char *encode(const ProtobufCMessage *m)
{
    char *s = NULL;
    size_t len = 0;
    int rc = hk_pbjson_encode(m, &s, &len);
    if (rc != 0) fprintf(stderr, "  encode: %d\n", rc);
    if (rc == 0 && strlen(s) != len) {
        fprintf(stderr, "  encode: len %zu for %s\n", len, s);
        free(s);
        return NULL;
    }
    return rc == 0 ? s : NULL;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len + 1);
    protobuf_c_message_pack(m, buf);
    return buf;
}

/* One golden vector: input (any accepted spelling) decodes to the message
 * whose canonical encoding is output. */
typedef struct {
    const ProtobufCMessageDescriptor *desc;
    const char *input, *output;
} vector_t;

/* input -> output exactly; output -> itself; the binary forms of both
 * decodes are equal; the binary form unpacked by protobuf-c encodes to
 * output again. Returns 1 when all hold. */
static int golden(const vector_t *v)
{
    int ok = 0;
    char *a = NULL, *b = NULL, *c = NULL;
    uint8_t *pa = NULL, *pb = NULL;
    ProtobufCMessage *ma = decode(v->desc, v->input), *mb = NULL, *mc = NULL;
    size_t la, lb;
    if (!ma || !(a = encode(ma))) goto out;
    if (strcmp(a, v->output) != 0) {
        fprintf(stderr, "  %s\n    got  %s\n    want %s\n", v->input, a, v->output);
        goto out;
    }
    if (!(mb = decode(v->desc, v->output)) || !(b = encode(mb))) goto out;
    if (strcmp(b, v->output) != 0) {
        fprintf(stderr, "  re-encoded %s as %s\n", v->output, b);
        goto out;
    }
    pa = pack(ma, &la);
    pb = pack(mb, &lb);
    if (la != lb || memcmp(pa, pb, la) != 0) {
        fprintf(stderr, "  binary forms differ for %s\n", v->output);
        goto out;
    }
    mc = protobuf_c_message_unpack(v->desc, NULL, la, pa);
    if (!mc || !(c = encode(mc)) || strcmp(c, v->output) != 0) {
        fprintf(stderr, "  binary round trip of %s gave %s\n", v->output, c ? c : "(null)");
        goto out;
    }
    ok = 1;
out:
    free(a), free(b), free(c), free(pa), free(pb);
    protobuf_c_message_free_unpacked(ma, NULL);
    protobuf_c_message_free_unpacked(mb, NULL);
    protobuf_c_message_free_unpacked(mc, NULL);
    return ok;
}

static const vector_t vectors[] = {
    /* Webhook: every field, then every field at its default. */
    {D(webhook),
     "{\"id\":42,\"name\":\"Account sync\",\"application\":1,\"trigger_action\":\"AccountUpdated\","
     "\"url\":\"https://example.com/hook\",\"auth_method\":\"AUTH_METHOD_OAUTH\","
     "\"timeout_seconds\":\"15\",\"secret_key\":\"whsec_********\",\"asynchronous\":true,"
     "\"ignore_for_api\":true,\"active\":true,"
     "\"description\":\"Caf\\u00e9 \\\"q\\\" \\\\ a/b\\nnext\\t\\u0001\","
     "\"create_time\":1700000000000,\"update_time\":\"-9223372036854775808\"}",
     "{\"id\":\"42\",\"name\":\"Account sync\",\"application\":\"APPLICATION_ENTERPRISE\","
     "\"triggerAction\":\"AccountUpdated\",\"url\":\"https://example.com/hook\","
     "\"authMethod\":\"AUTH_METHOD_OAUTH\",\"timeoutSeconds\":15,\"secretKey\":\"whsec_********\","
     "\"asynchronous\":true,\"ignoreForApi\":true,\"active\":true,"
     "\"description\":\"Caf\xc3\xa9 \\\"q\\\" \\\\ a/b\\nnext\\t\\u0001\","
     "\"createTime\":\"1700000000000\",\"updateTime\":\"-9223372036854775808\"}"},
    {D(webhook),
     "{\"id\":\"0\",\"name\":\"\",\"application\":\"APPLICATION_UNSPECIFIED\",\"active\":false,"
     "\"timeoutSeconds\":0,\"description\":null,\"createTime\":\"-0\",\"updateTime\":0}",
     "{}"},
    /* An enum number the descriptor does not know stays a number. */
    {D(webhook), "{\"application\":7,\"authMethod\":-2}", "{\"application\":7,\"authMethod\":-2}"},
    {D(webhook), "{\"timeoutSeconds\":1e3,\"createTime\":-2.0,\"id\":\"007\"}",
     "{\"id\":\"7\",\"timeoutSeconds\":1000,\"createTime\":\"-2\"}"},
    {D(webhook), "{\"createTime\":\"9223372036854775807\",\"updateTime\":-9223372036854775808}",
     "{\"createTime\":\"9223372036854775807\",\"updateTime\":\"-9223372036854775808\"}"},

    /* CreateWebhookRequest: optional fields present with their zero value
     * are written; absent ones are not. */
    {D(create_webhook_request),
     "{\"name\":\"n\",\"application\":\"APPLICATION_ELITE\",\"triggerAction\":\"X\",\"url\":\"u\","
     "\"auth_method\":0,\"timeout_seconds\":0,\"secret_key\":\"s\",\"asynchronous\":true,"
     "\"ignoreForApi\":true,\"active\":false,\"description\":\"d\"}",
     "{\"name\":\"n\",\"application\":\"APPLICATION_ELITE\",\"triggerAction\":\"X\",\"url\":\"u\","
     "\"timeoutSeconds\":0,\"secretKey\":\"s\",\"asynchronous\":true,\"ignoreForApi\":true,"
     "\"active\":false,\"description\":\"d\"}"},
    {D(create_webhook_request), "{\"name\":\"n\",\"timeoutSeconds\":null,\"active\":null}",
     "{\"name\":\"n\"}"},

    /* GetWebhookRequest: a oneof member is present even at zero. */
    {D(get_webhook_request), "{\"id\":\"18446744073709551615\",\"reveal_secret\":true}",
     "{\"id\":\"18446744073709551615\",\"revealSecret\":true}"},
    {D(get_webhook_request), "{\"id\":0}", "{\"id\":\"0\"}"},
    {D(get_webhook_request), "{\"name\":\"Account sync\",\"revealSecret\":false}",
     "{\"name\":\"Account sync\"}"},
    {D(get_webhook_request), "{\"name\":\"\"}", "{\"name\":\"\"}"},

    {D(list_webhooks_request),
     "{\"application\":\"APPLICATION_ELITE\",\"trigger_action\":\"A\",\"active\":false,"
     "\"page_size\":1000,\"page_token\":\"abc\"}",
     "{\"application\":\"APPLICATION_ELITE\",\"triggerAction\":\"A\",\"active\":false,"
     "\"pageSize\":1000,\"pageToken\":\"abc\"}"},
    {D(list_webhooks_request), "{}", "{}"},

    {D(list_webhooks_response),
     "{\"webhooks\":[{\"id\":1,\"name\":\"a\"},{},{\"id\":\"2\",\"active\":true}],"
     "\"next_page_token\":\"t\"}",
     "{\"webhooks\":[{\"id\":\"1\",\"name\":\"a\"},{},{\"id\":\"2\",\"active\":true}],"
     "\"nextPageToken\":\"t\"}"},
    {D(list_webhooks_response), "{\"webhooks\":[],\"nextPageToken\":\"\"}", "{}"},

    /* UpdateWebhookRequest: every optional present at its zero value. */
    {D(update_webhook_request),
     "{\"name\":\"old\",\"new_name\":\"\",\"application\":0,\"trigger_action\":\"\",\"url\":\"\","
     "\"auth_method\":\"AUTH_METHOD_UNSPECIFIED\",\"timeout_seconds\":0,\"secret_key\":\"\","
     "\"asynchronous\":false,\"ignore_for_api\":false,\"active\":false,\"description\":\"\"}",
     "{\"name\":\"old\",\"newName\":\"\",\"application\":\"APPLICATION_UNSPECIFIED\","
     "\"triggerAction\":\"\",\"url\":\"\",\"authMethod\":\"AUTH_METHOD_UNSPECIFIED\","
     "\"timeoutSeconds\":0,\"secretKey\":\"\",\"asynchronous\":false,\"ignoreForApi\":false,"
     "\"active\":false,\"description\":\"\"}"},
    {D(update_webhook_request),
     "{\"id\":\"7\",\"newName\":\"new\",\"application\":\"APPLICATION_ENTERPRISE\","
     "\"authMethod\":1,\"timeoutSeconds\":600,\"asynchronous\":true,\"active\":true}",
     "{\"id\":\"7\",\"newName\":\"new\",\"application\":\"APPLICATION_ENTERPRISE\","
     "\"authMethod\":\"AUTH_METHOD_OAUTH\",\"timeoutSeconds\":600,\"asynchronous\":true,"
     "\"active\":true}"},
    {D(update_webhook_request), "{\"id\":\"7\"}", "{\"id\":\"7\"}"},

    {D(delete_webhook_request), "{\"name\":\"x\"}", "{\"name\":\"x\"}"},
    {D(delete_webhook_request), "{\"id\":\"3\"}", "{\"id\":\"3\"}"},
    {D(delete_webhook_request), "{}", "{}"},

    {D(trigger_action),
     "{\"application\":1,\"key\":\"AccountUpdated\",\"display_name\":\"Account Update\"}",
     "{\"application\":\"APPLICATION_ENTERPRISE\",\"key\":\"AccountUpdated\","
     "\"displayName\":\"Account Update\"}"},
    {D(list_trigger_actions_request), "{\"application\":\"APPLICATION_ELITE\"}",
     "{\"application\":\"APPLICATION_ELITE\"}"},
    {D(list_trigger_actions_response),
     "{\"trigger_actions\":[{\"application\":2,\"key\":\"K\",\"displayName\":\"N\"},{\"key\":\"L\"}"
     "]}",
     "{\"triggerActions\":[{\"application\":\"APPLICATION_ELITE\",\"key\":\"K\",\"displayName\":"
     "\"N\"},"
     "{\"key\":\"L\"}]}"},

    /* TriggerEventRequest: bytes in every base64 spelling. */
    {D(trigger_event_request),
     "{\"application\":\"APPLICATION_ENTERPRISE\",\"triggerAction\":\"A\","
     "\"payload\":\"eyJhIjoxfQ==\",\"origin\":\"ORIGIN_API\",\"event_id\":\"e1\"}",
     "{\"application\":\"APPLICATION_ENTERPRISE\",\"triggerAction\":\"A\","
     "\"payload\":\"eyJhIjoxfQ==\",\"origin\":\"ORIGIN_API\",\"eventId\":\"e1\"}"},
    {D(trigger_event_request), "{\"payload\":\"eyJhIjoxfQ\"}", "{\"payload\":\"eyJhIjoxfQ==\"}"},
    {D(trigger_event_request), "{\"payload\":\"_-8\"}", "{\"payload\":\"/+8=\"}"},
    {D(trigger_event_request), "{\"payload\":\"_-8=\"}", "{\"payload\":\"/+8=\"}"},
    {D(trigger_event_request), "{\"payload\":\"/+8\"}", "{\"payload\":\"/+8=\"}"},
    {D(trigger_event_request), "{\"payload\":\"\"}", "{}"},
    {D(trigger_event_request), "{\"payload\":\"AA\",\"origin\":1}",
     "{\"payload\":\"AA==\",\"origin\":\"ORIGIN_USER\"}"},

    {D(sync_result),
     "{\"webhook_id\":\"1\",\"webhook_name\":\"w\",\"outcome\":\"OUTCOME_HTTP_ERROR\","
     "\"http_status\":500,\"duration_ms\":12,\"error\":\"HTTP 500\",\"response_body\":\"_-8\","
     "\"response_truncated\":true,\"delivery_id\":9}",
     "{\"webhookId\":\"1\",\"webhookName\":\"w\",\"outcome\":\"OUTCOME_HTTP_ERROR\","
     "\"httpStatus\":500,\"durationMs\":12,\"error\":\"HTTP 500\",\"responseBody\":\"/+8=\","
     "\"responseTruncated\":true,\"deliveryId\":\"9\"}"},
    {D(queued_delivery), "{\"delivery_id\":3,\"webhook_id\":4,\"webhook_name\":\"q\"}",
     "{\"deliveryId\":\"3\",\"webhookId\":\"4\",\"webhookName\":\"q\"}"},
    {D(skipped_webhook), "{\"webhook_id\":7,\"webhook_name\":\"s\",\"reason\":\"ignore_for_api\"}",
     "{\"webhookId\":\"7\",\"webhookName\":\"s\",\"reason\":\"ignore_for_api\"}"},
    {D(trigger_event_response),
     "{\"event_id\":\"e\",\"results\":[{\"webhookId\":\"1\",\"outcome\":1,\"httpStatus\":204}],"
     "\"queued\":[{\"deliveryId\":\"2\"},{\"deliveryId\":\"3\",\"webhookName\":\"z\"}],"
     "\"duplicate\":true}",
     "{\"eventId\":\"e\",\"results\":[{\"webhookId\":\"1\",\"outcome\":\"OUTCOME_SUCCEEDED\","
     "\"httpStatus\":204}],\"queued\":[{\"deliveryId\":\"2\"},{\"deliveryId\":\"3\","
     "\"webhookName\":\"z\"}],\"duplicate\":true}"},

    {D(attempt),
     "{\"time\":\"1700000000123\",\"outcome\":\"OUTCOME_TIMED_OUT\",\"http_status\":0,"
     "\"duration_ms\":30000,\"error\":\"timed out\",\"response_body\":\"AA==\"}",
     "{\"time\":\"1700000000123\",\"outcome\":\"OUTCOME_TIMED_OUT\",\"durationMs\":30000,"
     "\"error\":\"timed out\",\"responseBody\":\"AA==\"}"},
    {D(delivery),
     "{\"id\":\"11\",\"webhook_id\":\"4\",\"webhook_name\":\"w\",\"event_id\":\"e\","
     "\"application\":2,\"trigger_action\":\"T\",\"origin\":\"ORIGIN_USER\",\"asynchronous\":true,"
     "\"state\":\"DELIVERY_STATE_PENDING\",\"create_time\":1,\"next_attempt_time\":\"2\","
     "\"attempt_count\":2,\"attempts\":[{\"time\":1,\"outcome\":\"OUTCOME_REFUSED\"},"
     "{\"outcome\":\"OUTCOME_CANCELLED\",\"error\":\"x\"}],\"payload\":\"e30\"}",
     "{\"id\":\"11\",\"webhookId\":\"4\",\"webhookName\":\"w\",\"eventId\":\"e\","
     "\"application\":\"APPLICATION_ELITE\",\"triggerAction\":\"T\",\"origin\":\"ORIGIN_USER\","
     "\"asynchronous\":true,\"state\":\"DELIVERY_STATE_PENDING\",\"createTime\":\"1\","
     "\"nextAttemptTime\":\"2\",\"attemptCount\":2,\"attempts\":[{\"time\":\"1\","
     "\"outcome\":\"OUTCOME_REFUSED\"},{\"outcome\":\"OUTCOME_CANCELLED\",\"error\":\"x\"}],"
     "\"payload\":\"e30=\"}"},
    {D(list_deliveries_request),
     "{\"webhook_id\":\"5\",\"webhook_name\":\"w\",\"state\":3,\"page_size\":10,\"page_token\":"
     "\"p\"}",
     "{\"webhookId\":\"5\",\"webhookName\":\"w\",\"state\":\"DELIVERY_STATE_FAILED\","
     "\"pageSize\":10,\"pageToken\":\"p\"}"},
    {D(list_deliveries_response),
     "{\"deliveries\":[{\"id\":\"1\"},{\"id\":\"2\",\"state\":\"DELIVERY_STATE_SUCCEEDED\"}],"
     "\"next_page_token\":\"n\"}",
     "{\"deliveries\":[{\"id\":\"1\"},{\"id\":\"2\",\"state\":\"DELIVERY_STATE_SUCCEEDED\"}],"
     "\"nextPageToken\":\"n\"}"},
    {D(get_delivery_request), "{\"id\":\"18446744073709551615\"}",
     "{\"id\":\"18446744073709551615\"}"},
    {D(redeliver_delivery_request), "{\"id\":1}", "{\"id\":\"1\"}"},
    {D(create_login_link_request), "{}", "{}"},
    {D(login_link),
     "{\"url\":\"http://127.0.0.1:8480/login?token=abc\",\"expire_time\":1700000300000}",
     "{\"url\":\"http://127.0.0.1:8480/login?token=abc\",\"expireTime\":\"1700000300000\"}"},
};

#define N_VECTORS (sizeof vectors / sizeof vectors[0])

TEST(golden_vectors)
{
    int failed = 0;
    for (size_t i = 0; i < N_VECTORS; i++)
        if (!golden(&vectors[i])) {
            fprintf(stderr, "  vector %zu (%s) failed\n", i, vectors[i].desc->name);
            failed++;
        }
    CHECK_INT(failed, 0);
}

static int has_vector(const ProtobufCMessageDescriptor *desc)
{
    for (size_t i = 0; i < N_VECTORS; i++)
        if (vectors[i].desc == desc) return 1;
    return 0;
}

/* Every request and response type of the service, and every message they
 * nest, has golden vectors. */
TEST(every_message_covered)
{
    const ProtobufCServiceDescriptor *svc = &hookd__v1__webhooks__descriptor;
    CHECK_INT(svc->n_methods, 11);
    for (unsigned i = 0; i < svc->n_methods; i++) {
        const ProtobufCMessageDescriptor *io[2] = {svc->methods[i].input, svc->methods[i].output};
        for (int k = 0; k < 2; k++) {
            if (!has_vector(io[k])) fprintf(stderr, "  no vector for %s\n", io[k]->name);
            CHECK(has_vector(io[k]));
            for (unsigned f = 0; f < io[k]->n_fields; f++)
                if (io[k]->fields[f].type == PROTOBUF_C_TYPE_MESSAGE)
                    CHECK(has_vector(io[k]->fields[f].descriptor));
        }
    }
}

TEST(encode_from_struct)
{
    Hookd__V1__Webhook w = HOOKD__V1__WEBHOOK__INIT;
    w.id = UINT64_MAX;
    w.name = "n\xe2\x80\xa8";
    w.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    w.create_time = INT64_MIN;
    w.update_time = INT64_MAX;
    char *s = encode(&w.base);
    CHECK(s != NULL);
    CHECK_STR(s, "{\"id\":\"18446744073709551615\",\"name\":\"n\xe2\x80\xa8\","
                 "\"application\":\"APPLICATION_ENTERPRISE\","
                 "\"createTime\":\"-9223372036854775808\",\"updateTime\":\"9223372036854775807\"}");
    free(s);

    Hookd__V1__Webhook empty = HOOKD__V1__WEBHOOK__INIT;
    s = encode(&empty.base);
    CHECK_STR(s, "{}");
    free(s);

    /* protobuf-c strings are C strings; one that is not UTF-8 cannot be JSON. */
    w.name = "bad \xff";
    char *out = NULL;
    size_t len;
    CHECK_INT(hk_pbjson_encode(&w.base, &out, &len), HK_EINVAL);
    CHECK(out == NULL);

    Hookd__V1__TriggerEventResponse r = HOOKD__V1__TRIGGER_EVENT_RESPONSE__INIT;
    Hookd__V1__QueuedDelivery q = HOOKD__V1__QUEUED_DELIVERY__INIT;
    q.delivery_id = 5;
    Hookd__V1__QueuedDelivery *qs[2] = {&q, &q};
    r.n_queued = 2;
    r.queued = qs;
    s = encode(&r.base);
    CHECK_STR(s, "{\"queued\":[{\"deliveryId\":\"5\"},{\"deliveryId\":\"5\"}]}");
    free(s);
}

/* Optional present and false, present and zero, and absent stay three
 * different things, through JSON and through the binary form. */
TEST(optional_presence)
{
    ProtobufCMessage *m = decode(D(update_webhook_request), "{\"id\":\"1\",\"active\":false}");
    CHECK(m != NULL);
    Hookd__V1__UpdateWebhookRequest *u = (Hookd__V1__UpdateWebhookRequest *)m;
    CHECK_INT(u->key_case, HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_ID);
    CHECK_INT(u->id, 1);
    CHECK(HK_HAS(u, active));
    CHECK_INT(u->active, 0);
    CHECK(!HK_HAS(u, asynchronous));
    CHECK(!HK_HAS(u, timeout_seconds));
    size_t len;
    uint8_t *buf = pack(m, &len);
    protobuf_c_message_free_unpacked(m, NULL);
    u = hookd__v1__update_webhook_request__unpack(NULL, len, buf);
    free(buf);
    CHECK(u != NULL);
    int has = HK_HAS(u, active) && !u->active && !HK_HAS(u, asynchronous);
    char *s = encode(&u->base);
    hookd__v1__update_webhook_request__free_unpacked(u, NULL);
    CHECK(has);
    CHECK_STR(s, "{\"id\":\"1\",\"active\":false}");
    free(s);

    m = decode(D(update_webhook_request), "{\"id\":\"1\"}");
    CHECK(m != NULL);
    u = (Hookd__V1__UpdateWebhookRequest *)m;
    has = HK_HAS(u, active);
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK(!has);

    m = decode(D(create_webhook_request), "{\"timeout_seconds\":0,\"active\":true}");
    CHECK(m != NULL);
    Hookd__V1__CreateWebhookRequest *c = (Hookd__V1__CreateWebhookRequest *)m;
    has = HK_HAS(c, timeout_seconds) && c->timeout_seconds == 0 && HK_HAS(c, active) && c->active;
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK(has);
}

TEST(camel_and_snake)
{
    ProtobufCMessage *a =
        decode(D(create_webhook_request),
               "{\"triggerAction\":\"A\",\"ignoreForApi\":true,\"timeoutSeconds\":9}");
    ProtobufCMessage *b =
        decode(D(create_webhook_request),
               "{\"trigger_action\":\"A\",\"ignore_for_api\":true,\"timeout_seconds\":9}");
    CHECK(a != NULL && b != NULL);
    Hookd__V1__CreateWebhookRequest *ca = (Hookd__V1__CreateWebhookRequest *)a;
    int same =
        strcmp(ca->trigger_action, "A") == 0 && ca->ignore_for_api && ca->timeout_seconds == 9;
    size_t la, lb;
    uint8_t *pa = pack(a, &la), *pb = pack(b, &lb);
    same = same && la == lb && memcmp(pa, pb, la) == 0;
    free(pa), free(pb);
    protobuf_c_message_free_unpacked(a, NULL);
    protobuf_c_message_free_unpacked(b, NULL);
    CHECK(same);
}

TEST(extremes_64bit)
{
    ProtobufCMessage *m = decode(D(webhook), "{\"id\":\"18446744073709551615\","
                                             "\"createTime\":\"-9223372036854775808\","
                                             "\"updateTime\":\"9223372036854775807\"}");
    CHECK(m != NULL);
    Hookd__V1__Webhook *w = (Hookd__V1__Webhook *)m;
    int ok = w->id == UINT64_MAX && w->create_time == INT64_MIN && w->update_time == INT64_MAX;
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK(ok);
    m = decode(D(webhook), "{\"createTime\":-9223372036854775808,\"id\":9223372036854775807}");
    CHECK(m != NULL);
    w = (Hookd__V1__Webhook *)m;
    ok = w->create_time == INT64_MIN && w->id == INT64_MAX;
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK(ok);
}

TEST(base64_variants)
{
    static const char *spellings[] = {"+/+/", "-_-_", "+/8=", "+/8", "-_8=", "-_8"};
    static const uint8_t want[][3] = {{0xfb, 0xff, 0xbf}, {0xfb, 0xff, 0xbf}, {0xfb, 0xff},
                                      {0xfb, 0xff},       {0xfb, 0xff},       {0xfb, 0xff}};
    for (size_t i = 0; i < 6; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"payload\":\"%s\"}", spellings[i]);
        ProtobufCMessage *m = decode(D(trigger_event_request), json);
        CHECK(m != NULL);
        Hookd__V1__TriggerEventRequest *t = (Hookd__V1__TriggerEventRequest *)m;
        size_t n = i < 2 ? 3 : 2;
        int ok = t->payload.len == n && memcmp(t->payload.data, want[i], n) == 0;
        protobuf_c_message_free_unpacked(m, NULL);
        CHECK(ok);
    }
}

/* Checks that json is refused as a desc with a message starting start and
 * containing has. */
static int refused(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                   const char *start, const char *has)
{
    ProtobufCMessage *m = (ProtobufCMessage *)1;
    err[0] = '\0';
    int rc = hk_pbjson_decode(desc, (const uint8_t *)json, len, &m, err, sizeof err);
    if (rc == HK_EINVAL && m == (ProtobufCMessage *)1 && strncmp(err, start, strlen(start)) == 0 &&
        strstr(err, has))
        return 1;
    fprintf(stderr, "  %s -> %d \"%s\" (want \"%s...%s\")\n", json, rc, err, start, has);
    if (rc == 0) protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

#define REFUSED(desc, json, start, has) CHECK(refused(desc, json, sizeof json - 1, start, has))

TEST(refuses_bad_json)
{
    REFUSED(D(webhook), "", "invalid JSON", "");
    REFUSED(D(webhook), "{\"name\":", "invalid JSON", "line 1");
    REFUSED(D(webhook), "{} x", "invalid JSON", "");
    REFUSED(D(webhook), "{\"name\":\"a\",\"name\":\"b\"}", "invalid JSON", "duplicate");
    REFUSED(D(webhook), "{\"name\":\"bad \xff\"}", "invalid JSON", "");
    REFUSED(D(webhook), "{\"name\":\"\\ud800\"}", "invalid JSON", "");
    REFUSED(D(webhook), "[]", "expected a JSON object", "");
    REFUSED(D(webhook), "null", "invalid JSON", "");
    REFUSED(D(webhook), "\"x\"", "invalid JSON", "");
    /* Past int64 jansson cannot hold a JSON number: such uint64s go as strings. */
    REFUSED(D(webhook), "{\"id\":18446744073709551615}", "invalid JSON", "integer");
}

TEST(refuses_wrong_types)
{
    REFUSED(D(create_webhook_request), "{\"trigger_action\":5}",
            "trigger_action: ", "expected a string");
    REFUSED(D(create_webhook_request), "{\"triggerAction\":[]}",
            "trigger_action: ", "expected a string");
    REFUSED(D(create_webhook_request), "{\"asynchronous\":\"true\"}",
            "asynchronous: ", "expected true or false");
    REFUSED(D(create_webhook_request), "{\"asynchronous\":1}", "asynchronous: ", "true or false");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":true}",
            "timeout_seconds: ", "expected an integer");
    REFUSED(D(create_webhook_request), "{\"application\":true}",
            "application: ", "expected an enum value name or number");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":{}}", "webhooks: ", "expected an array");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":[5]}", "webhooks[0]: ", "expected an object");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":[null]}", "webhooks[0]: ", "object");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":[{},{\"name\":1}]}",
            "webhooks[1].name: ", "expected a string");
    REFUSED(D(delivery), "{\"attempts\":[{\"outcome\":\"OUTCOME_X\"}]}",
            "attempts[0].outcome: ", "unknown value \"OUTCOME_X\" of hookd.v1.Outcome");
    REFUSED(D(trigger_event_request), "{\"payload\":5}", "payload: ", "expected a base64 string");
    REFUSED(D(trigger_event_response), "{\"results\":\"x\"}", "results: ", "expected an array");
}

TEST(refuses_unknown_fields)
{
    REFUSED(D(create_webhook_request), "{\"nmae\":\"x\"}",
            "nmae: ", "unknown field of hookd.v1.CreateWebhookRequest");
    REFUSED(D(create_webhook_request), "{\"TriggerAction\":\"x\"}",
            "TriggerAction: ", "unknown field");
    REFUSED(D(create_webhook_request), "{\"trigger-action\":\"x\"}",
            "trigger-action: ", "unknown field");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":[{\"bogus\":1}]}",
            "webhooks[0].bogus: ", "unknown field of hookd.v1.Webhook");
    /* An unknown field is refused even when null. */
    REFUSED(D(webhook), "{\"extra\":null}", "extra: ", "unknown field");
    /* Camel and snake spellings of one field are the same field. */
    REFUSED(D(create_webhook_request), "{\"triggerAction\":\"a\",\"trigger_action\":\"b\"}",
            "trigger_action: ", "given twice");
    REFUSED(D(update_webhook_request), "{\"new_name\":null,\"newName\":\"b\"}",
            "new_name: ", "given twice");
}

TEST(refuses_enum_values)
{
    REFUSED(D(create_webhook_request), "{\"application\":\"ENTERPRISE\"}",
            "application: ", "unknown value \"ENTERPRISE\" of hookd.v1.Application");
    REFUSED(D(create_webhook_request), "{\"application\":\"application_enterprise\"}",
            "application: ", "unknown value");
    REFUSED(D(create_webhook_request), "{\"application\":\"1\"}",
            "application: ", "unknown value \"1\"");
    REFUSED(D(create_webhook_request), "{\"application\":2147483648}",
            "application: ", "out of range");
    REFUSED(D(create_webhook_request), "{\"application\":-2147483649}",
            "application: ", "out of range");
    REFUSED(D(create_webhook_request), "{\"application\":1.5}",
            "application: ", "expected an integer");
}

TEST(refuses_base64)
{
    REFUSED(D(trigger_event_request), "{\"payload\":\"a\"}", "payload: ", "not valid base64");
    REFUSED(D(trigger_event_request), "{\"payload\":\"Zm9v YmE=\"}", "payload: ", "base64");
    REFUSED(D(trigger_event_request), "{\"payload\":\"Zh==\"}", "payload: ", "base64");
    REFUSED(D(trigger_event_request), "{\"payload\":\"+_8=\"}", "payload: ", "base64");
    REFUSED(D(trigger_event_request), "{\"payload\":\"eyJh=\"}", "payload: ", "base64");
    REFUSED(D(trigger_event_request), "{\"payload\":\"e30*\"}", "payload: ", "base64");
    REFUSED(D(sync_result), "{\"responseBody\":\"AA=\"}", "response_body: ", "base64");
}

TEST(refuses_numbers)
{
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":4294967296}",
            "timeout_seconds: ", "out of range for uint32");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\"4294967296\"}",
            "timeout_seconds: ", "out of range for uint32");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":-1}",
            "timeout_seconds: ", "out of range for uint32");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":1.5}",
            "timeout_seconds: ", "expected an integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":1e300}",
            "timeout_seconds: ", "not an exact integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\"1.0\"}",
            "timeout_seconds: ", "expected a decimal integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\"\"}",
            "timeout_seconds: ", "decimal integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\"+1\"}",
            "timeout_seconds: ", "decimal integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\" 1\"}",
            "timeout_seconds: ", "decimal integer");
    REFUSED(D(create_webhook_request), "{\"timeoutSeconds\":\"-\"}",
            "timeout_seconds: ", "decimal integer");
    REFUSED(D(get_webhook_request), "{\"id\":\"18446744073709551616\"}",
            "id: ", "out of range for uint64");
    REFUSED(D(get_webhook_request), "{\"id\":\"99999999999999999999\"}", "id: ", "out of range");
    REFUSED(D(get_webhook_request), "{\"id\":\"-1\"}", "id: ", "out of range for uint64");
    REFUSED(D(get_webhook_request), "{\"id\":-1}", "id: ", "out of range for uint64");
    REFUSED(D(webhook), "{\"createTime\":\"9223372036854775808\"}",
            "create_time: ", "out of range for int64");
    REFUSED(D(webhook), "{\"createTime\":\"-9223372036854775809\"}",
            "create_time: ", "out of range for int64");
    /* 2^53 + 1 as a JSON number is not the number its text says. */
    REFUSED(D(webhook), "{\"createTime\":9007199254740993.0}",
            "create_time: ", "not an exact integer");
}

TEST(refuses_strings)
{
    REFUSED(D(create_webhook_request), "{\"name\":\"a\\u0000b\"}", "name: ", "contains a NUL byte");
    REFUSED(D(list_webhooks_response), "{\"webhooks\":[{\"url\":\"\\u0000\"}]}",
            "webhooks[0].url: ", "NUL");
    REFUSED(D(create_webhook_request), "{\"application\":\"APPLICATION_ELITE\\u0000\"}",
            "application: ", "unknown value");
}

TEST(refuses_two_of_a_oneof)
{
    REFUSED(D(get_webhook_request), "{\"id\":\"1\",\"name\":\"x\"}",
            "name: ", "only one of id and name may be set");
    REFUSED(D(update_webhook_request), "{\"name\":\"x\",\"active\":true,\"id\":0}",
            "id: ", "only one of name and id may be set");
    REFUSED(D(delete_webhook_request), "{\"name\":\"\",\"id\":\"2\"}", "id: ", "only one of");
    /* null means not set, so it does not take the oneof. */
    ProtobufCMessage *m = decode(D(get_webhook_request), "{\"id\":null,\"name\":\"x\"}");
    CHECK(m != NULL);
    int ok =
        ((Hookd__V1__GetWebhookRequest *)m)->key_case == HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK(ok);
}

/* An error deep inside a message with strings, bytes, arrays and nested
 * messages already decoded frees them all (ASan proves it). */
TEST(error_frees_partial_message)
{
    REFUSED(D(delivery),
            "{\"webhookName\":\"w\",\"payload\":\"e30=\",\"attempts\":[{\"error\":\"x\","
            "\"responseBody\":\"AA==\"},{\"error\":\"y\",\"time\":\"z\"}]}",
            "attempts[1].time: ", "decimal integer");
    REFUSED(D(update_webhook_request), "{\"newName\":\"n\",\"url\":5}", "url: ", "string");
    REFUSED(D(get_webhook_request), "{\"name\":5}", "name: ", "string");
    REFUSED(D(trigger_event_response),
            "{\"eventId\":\"e\",\"results\":[{\"responseBody\":\"AA==\",\"webhookName\":\"n\"}],"
            "\"queued\":[{\"webhookName\":\"q\"},{\"deliveryId\":true}]}",
            "queued[1].delivery_id: ", "integer");
}

TEST(error_body)
{
    char *s = NULL;
    size_t len = 0;
    CHECK_INT(hk_pbjson_error("invalid_argument", "name: \"x\"\n\\ caf\xc3\xa9 \xff", &s, &len), 0);
    CHECK_STR(s, "{\"code\":\"invalid_argument\",\"message\":\"name: \\\"x\\\"\\n\\\\ caf\xc3\xa9 "
                 "\xef\xbf\xbd\"}");
    CHECK_INT(len, strlen(s));
    free(s);
    CHECK_INT(hk_pbjson_error("not_found", NULL, &s, &len), 0);
    CHECK_STR(s, "{\"code\":\"not_found\"}");
    free(s);
}

/* ---- a hand-made descriptor for what hookd.v1 lacks: recursion, float,
 * maps, well-known types and proto2 ------------------------------------- */

typedef struct node {
    ProtobufCMessage base;
    struct node *child;
    double ratio;
    size_t n_labels;
    ProtobufCMessage **labels;
    ProtobufCMessage *when;
    protobuf_c_boolean has_legacy;
    int32_t legacy;
    char *name;
} node_t;

typedef struct {
    ProtobufCMessage base;
    char *key, *value;
} entry_t;

typedef struct {
    ProtobufCMessage base;
    int64_t seconds;
} stamp_t;

static const ProtobufCMessageDescriptor node_desc, entry_desc, stamp_desc;

static void node_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(node_t));
    m->descriptor = &node_desc;
}

static void entry_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(entry_t));
    m->descriptor = &entry_desc;
}

static void stamp_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(stamp_t));
    m->descriptor = &stamp_desc;
}

static const ProtobufCFieldDescriptor node_fields[] = {
    {"child", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(node_t, child),
     &node_desc},
    {"ratio", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, offsetof(node_t, ratio)},
    {"labels", 3, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE, offsetof(node_t, n_labels),
     offsetof(node_t, labels), &entry_desc},
    {"when", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(node_t, when),
     &stamp_desc},
    {"legacy", 5, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32, offsetof(node_t, has_legacy),
     offsetof(node_t, legacy)},
    {"name", 6, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(node_t, name)},
};
static const unsigned node_by_name[] = {0, 2, 4, 5, 1, 3};
static const ProtobufCIntRange node_ranges[] = {{1, 0}, {0, 6}};
static const ProtobufCMessageDescriptor node_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                     "test.Node",
                                                     "Node",
                                                     "Node",
                                                     "test",
                                                     sizeof(node_t),
                                                     6,
                                                     node_fields,
                                                     node_by_name,
                                                     1,
                                                     node_ranges,
                                                     node_init};

static const ProtobufCFieldDescriptor entry_fields[] = {
    {"key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(entry_t, key)},
    {"value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(entry_t, value)},
};
static const unsigned entry_by_name[] = {0, 1};
static const ProtobufCIntRange entry_ranges[] = {{1, 0}, {0, 2}};
static const ProtobufCMessageDescriptor entry_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                      "test.Node.LabelsEntry",
                                                      "LabelsEntry",
                                                      "Entry",
                                                      "test",
                                                      sizeof(entry_t),
                                                      2,
                                                      entry_fields,
                                                      entry_by_name,
                                                      1,
                                                      entry_ranges,
                                                      entry_init};

static const ProtobufCFieldDescriptor stamp_fields[] = {
    {"seconds", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT64, 0, offsetof(stamp_t, seconds)},
};
static const unsigned stamp_by_name[] = {0};
static const ProtobufCIntRange stamp_ranges[] = {{1, 0}, {0, 1}};
static const ProtobufCMessageDescriptor stamp_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                      "google.protobuf.Timestamp",
                                                      "Timestamp",
                                                      "Stamp",
                                                      "google.protobuf",
                                                      sizeof(stamp_t),
                                                      1,
                                                      stamp_fields,
                                                      stamp_by_name,
                                                      1,
                                                      stamp_ranges,
                                                      stamp_init};

/* {"child":{"child":...{"name":"leaf"}}} with depth objects in all. */
static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 12 + 32), *p = s;
    for (int i = 1; i < depth; i++)
        p += sprintf(p, "{\"child\":");
    p += sprintf(p, "{\"name\":\"leaf\"}");
    for (int i = 1; i < depth; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

TEST(depth_limit)
{
    char *ok = nested(HK_PBJSON_MAX_DEPTH), *deep = nested(HK_PBJSON_MAX_DEPTH + 1);
    ProtobufCMessage *m = decode(&node_desc, ok);
    char *back = m ? encode(m) : NULL;
    int same = back && strcmp(back, ok) == 0;
    free(back);
    int refused_deep =
        refused(&node_desc, deep, strlen(deep), "child.child.child.", "nested deeper than 32");
    free(ok), free(deep);
    CHECK(m != NULL);
    CHECK(same);
    CHECK(refused_deep);
    /* One more level built in C cannot be encoded either. */
    node_t extra;
    node_init(&extra.base);
    node_t *last = (node_t *)m;
    while (last->child)
        last = last->child;
    last->child = &extra;
    char *s = NULL;
    size_t len;
    int rc = hk_pbjson_encode(m, &s, &len);
    last->child = NULL;
    protobuf_c_message_free_unpacked(m, NULL);
    CHECK_INT(rc, HK_EINVAL);
    CHECK(s == NULL);
}

TEST(refuses_unsupported)
{
    REFUSED(&node_desc, "{\"ratio\":1.5}", "ratio: ", "unsupported: float or double");
    REFUSED(&node_desc, "{\"labels\":[]}", "labels: ", "unsupported: map field");
    REFUSED(&node_desc, "{\"when\":{}}", "when: ", "unsupported: well-known type");
    REFUSED(&node_desc, "{\"legacy\":1}", "legacy: ", "unsupported: proto2");
    REFUSED(&node_desc, "{\"child\":{\"name\":\"x\",\"ratio\":null}}",
            "child.ratio: ", "unsupported");

    node_t n;
    node_init(&n.base);
    n.name = "x";
    char *s = encode(&n.base);
    CHECK_STR(s, "{\"name\":\"x\"}");
    free(s);
    s = NULL;
    size_t len;
    n.ratio = 0.5;
    CHECK_INT(hk_pbjson_encode(&n.base, &s, &len), HK_EINVAL);
    n.ratio = 0;
    stamp_t t;
    stamp_init(&t.base);
    n.when = &t.base;
    CHECK_INT(hk_pbjson_encode(&n.base, &s, &len), HK_EINVAL);
    n.when = NULL;
    n.has_legacy = 1;
    CHECK_INT(hk_pbjson_encode(&n.base, &s, &len), HK_EINVAL);
    CHECK(s == NULL);
}
