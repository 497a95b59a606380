/* test_wire.c -- string fields checked in their wire bytes: NUL and bad UTF-8 refused */
#include "api/wire.h"
#include "core/error.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "unit.h"

#include <stdlib.h>

/* A TriggerEventRequest with event_id = the n bytes at id, packed as a client would. */
static size_t pack_trigger(const char *id, size_t n, uint8_t *out)
{
    /* protobuf-c packs C strings, so the field is written by hand: tag 5, wire type 2. */
    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.trigger_action = "AccountUpdated";
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    size_t len = hookd__v1__trigger_event_request__pack(&req, out);
    out[len++] = (5 << 3) | 2;
    out[len++] = (uint8_t)n;
    memcpy(out + len, id, n);
    return len + n;
}

TEST(nul_refused_naming_the_field)
{
    uint8_t buf[256];
    char err[128] = "";
    size_t len = pack_trigger("order-42\0created", 16, buf);
    CHECK_INT(hk_wire_check_strings(&hookd__v1__trigger_event_request__descriptor, buf, len, err,
                                    sizeof err),
              HK_EINVAL);
    CHECK_STR(err, "event_id: contains a NUL byte");
}

TEST(clean_strings_pass)
{
    uint8_t buf[256];
    char err[128] = "";
    size_t len = pack_trigger("order-42-created", 16, buf);
    CHECK_INT(hk_wire_check_strings(&hookd__v1__trigger_event_request__descriptor, buf, len, err,
                                    sizeof err),
              0);
    len = pack_trigger("caf\xc3\xa9", 5, buf);
    CHECK_INT(hk_wire_check_strings(&hookd__v1__trigger_event_request__descriptor, buf, len, err,
                                    sizeof err),
              0);
}

TEST(bad_utf8_refused)
{
    uint8_t buf[256];
    char err[128] = "";
    size_t len = pack_trigger("caf\xc3", 4, buf);
    CHECK_INT(hk_wire_check_strings(&hookd__v1__trigger_event_request__descriptor, buf, len, err,
                                    sizeof err),
              HK_EINVAL);
    CHECK_STR(err, "event_id: is not valid UTF-8");
}

TEST(bytes_fields_may_hold_nul)
{
    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.trigger_action = "AccountUpdated";
    req.payload.data = (uint8_t *)"{\"a\":\"\0\"}";
    req.payload.len = 9;
    uint8_t buf[256];
    size_t len = hookd__v1__trigger_event_request__pack(&req, buf);
    CHECK_INT(
        hk_wire_check_strings(&hookd__v1__trigger_event_request__descriptor, buf, len, NULL, 0), 0);
}

TEST(nested_messages_checked)
{
    /* ListWebhooksResponse{webhooks: [Webhook{name: "a\0b"}]}: field 1 holds field 2. */
    uint8_t inner[] = {(2 << 3) | 2, 3, 'a', 0, 'b'};
    uint8_t buf[16] = {(1 << 3) | 2, sizeof inner};
    memcpy(buf + 2, inner, sizeof inner);
    char err[128] = "";
    CHECK_INT(hk_wire_check_strings(&hookd__v1__list_webhooks_response__descriptor, buf,
                                    2 + sizeof inner, err, sizeof err),
              HK_EINVAL);
    CHECK_STR(err, "webhooks.name: contains a NUL byte");
}

TEST(malformed_left_to_unpack)
{
    const uint8_t cut[] = {(5 << 3) | 2, 40, 'x'}; /* length past the end */
    const uint8_t group[] = {(5 << 3) | 3, 0};     /* a group */
    const uint8_t varint[] = {0x08, 0xff, 0xff};   /* varint cut short */
    const ProtobufCMessageDescriptor *d = &hookd__v1__trigger_event_request__descriptor;
    CHECK_INT(hk_wire_check_strings(d, cut, sizeof cut, NULL, 0), 0);
    CHECK_INT(hk_wire_check_strings(d, group, sizeof group, NULL, 0), 0);
    CHECK_INT(hk_wire_check_strings(d, varint, sizeof varint, NULL, 0), 0);
    CHECK_INT(hk_wire_check_strings(d, NULL, 0, NULL, 0), 0);
}
