/* trigger.c -- a product tells hookd that something happened, and prints what the receivers said.
 *
 * Copy this into a product. Build it against an installed libhookd:
 *
 *     cc -o trigger trigger.c $(pkg-config --cflags --libs hookd)
 *
 * Run it (the socket comes from HOOKD_SOCKET, else hookd's default path):
 *
 *     ./trigger enterprise AccountUpdated '{"accountId": 42}'
 */
#include <hookd/client.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s enterprise|elite TRIGGER_ACTION JSON\n", argv[0]);
        return 2;
    }

    /* One client per thread; keep it for the life of the process: it keeps
     * its connection and reconnects by itself if hookd restarts. */
    hk_client_t *client;
    if (hk_client_open(NULL, &client) != 0) {
        fprintf(stderr, "cannot find hookd's socket (set HOOKD_SOCKET)\n");
        return 1;
    }

    Hookd__V1__TriggerEventRequest req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    req.application = strcmp(argv[1], "elite") == 0
                          ? HOOKD__V1__APPLICATION__APPLICATION_ELITE
                          : HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = argv[2];
    req.payload.data = (uint8_t *)argv[3];
    req.payload.len = strlen(argv[3]);
    req.origin = HOOKD__V1__ORIGIN__ORIGIN_USER;

    /* Synchronous webhooks answer within their own timeout (15 s by default):
     * give the call a little longer than the slowest of them. */
    Hookd__V1__TriggerEventResponse *resp;
    int rc = hk_client_trigger_event(client, &req, 20000, &resp);
    if (rc != 0) {
        const char *message;
        int code = hk_client_last_status(client, &message);
        fprintf(stderr, "TriggerEvent failed: %s: %s\n", hk_client_status_name(code), message);
        hk_client_close(client);
        return 1;
    }

    printf("event %s%s\n", resp->event_id, resp->duplicate ? " (seen before: first answer)" : "");
    for (size_t i = 0; i < resp->n_results; i++) {
        const Hookd__V1__SyncResult *r = resp->results[i];
        const ProtobufCEnumValue *outcome =
            protobuf_c_enum_descriptor_get_value(&hookd__v1__outcome__descriptor, r->outcome);
        printf("  %s: %s, HTTP %u in %u ms%s%s\n", r->webhook_name, outcome ? outcome->name : "?",
               r->http_status, r->duration_ms, r->error[0] ? ", " : "", r->error);
    }
    for (size_t i = 0; i < resp->n_queued; i++)
        printf("  %s: queued as delivery %llu\n", resp->queued[i]->webhook_name,
               (unsigned long long)resp->queued[i]->delivery_id);
    if (resp->n_results + resp->n_queued == 0)
        printf("  no active webhook for this trigger action\n");

    protobuf_c_message_free_unpacked(&resp->base, NULL);
    hk_client_close(client);
    return 0;
}
