/* hookctl_events.c -- the event commands: trigger, deliveries, redeliver */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hookctl.h"

enum {
    OPT_APPLICATION = 'a',
    OPT_ACTION = 'c',
    OPT_PAYLOAD = 'p',
    OPT_ORIGIN = 'o',
    OPT_EVENT_ID = 'e',
    OPT_STATE = 'z',
};

#define MAX_DELIVERIES 1000 /* the newest; `--json` shows the same */

static int bad_value(hk_ctl_t *ctl, const char *option, const char *want, const char *arg)
{
    hk_ctl_usage(ctl, "%s wants %s, not '%s'", option, want, arg);
    return -1;
}

/* ---- trigger --------------------------------------------------------------- */

typedef struct {
    Hookd__V1__TriggerEventRequest req;
    const char *payload; /* the --payload argument */
} trigger_args_t;

static int trigger_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    trigger_args_t *a = data;
    int v;
    switch (opt) {
    case OPT_APPLICATION:
        if (hk_args_application(arg, &v) != 0)
            return bad_value(ctl, "--application", "enterprise or elite", arg);
        a->req.application = v;
        return 0;
    case OPT_ACTION: a->req.trigger_action = (char *)arg; return 0;
    case OPT_PAYLOAD: a->payload = arg; return 0;
    case OPT_ORIGIN:
        if (hk_args_origin(arg, &v) != 0) return bad_value(ctl, "--origin", "user or api", arg);
        a->req.origin = v;
        return 0;
    case OPT_EVENT_ID: a->req.event_id = (char *)arg; return 0;
    }
    return -1;
}

static void print_trigger(const Hookd__V1__TriggerEventResponse *r)
{
    char word[64], http[16], ms[24], id[24];
    fputs("Event ", stdout);
    hk_print_safe(stdout, r->event_id);
    fputs(r->duplicate ? " (seen before: this is its first answer)\n" : "\n", stdout);
    if (r->n_results) {
        static const char *const headers[] = {"WEBHOOK",  "OUTCOME",  "HTTP",
                                              "DURATION", "DELIVERY", "ERROR"};
        hk_table_t *t = hk_table_new(6, headers);
        for (size_t i = 0; t && i < r->n_results; i++) {
            const Hookd__V1__SyncResult *s = r->results[i];
            snprintf(http, sizeof http, "%u", s->http_status);
            snprintf(ms, sizeof ms, "%u ms", s->duration_ms);
            snprintf(id, sizeof id, "%" PRIu64, s->delivery_id);
            const char *row[] = {
                s->webhook_name,
                hk_print_enum(&hookd__v1__outcome__descriptor, s->outcome, word, sizeof word),
                s->http_status ? http : "-",
                ms,
                s->delivery_id ? id : "-",
                s->error[0] ? s->error : "-"};
            if (hk_table_add(t, row) != 0) break;
        }
        if (t) {
            fputs("\nSynchronous:\n", stdout);
            hk_table_print(t, stdout);
        }
        hk_table_free(t);
    }
    if (r->n_queued) {
        static const char *const headers[] = {"WEBHOOK", "DELIVERY"};
        hk_table_t *t = hk_table_new(2, headers);
        for (size_t i = 0; t && i < r->n_queued; i++) {
            snprintf(id, sizeof id, "%" PRIu64, r->queued[i]->delivery_id);
            const char *row[] = {r->queued[i]->webhook_name, id};
            if (hk_table_add(t, row) != 0) break;
        }
        if (t) {
            fputs("\nQueued (asynchronous):\n", stdout);
            hk_table_print(t, stdout);
        }
        hk_table_free(t);
    }
    if (!r->n_results && !r->n_queued)
        fputs("No active webhook has this trigger action.\n", stdout);
}

static int run_trigger(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"application", required_argument, NULL, OPT_APPLICATION},
        {"action", required_argument, NULL, OPT_ACTION},
        {"payload", required_argument, NULL, OPT_PAYLOAD},
        {"origin", required_argument, NULL, OPT_ORIGIN},
        {"event-id", required_argument, NULL, OPT_EVENT_ID},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    trigger_args_t a = {.req = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT, .payload = "{}"};
    Hookd__V1__TriggerEventResponse *resp;
    char *payload;
    size_t len;
    int first, rc;
    a.req.origin = HOOKD__V1__ORIGIN__ORIGIN_USER;
    if (hk_ctl_parse(ctl, argc, argv, opts, trigger_option, &a, &first, &rc) != 0) return rc;
    if (first < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first]);
    if (a.req.application == HOOKD__V1__APPLICATION__APPLICATION_UNSPECIFIED)
        return hk_ctl_usage(ctl, "--application is required");
    if (!a.req.trigger_action[0]) return hk_ctl_usage(ctl, "--action is required");
    if (hk_args_payload(a.payload, &payload, &len) != 0) return HK_CTL_EXIT_USAGE;
    if (!hk_ctl_client(ctl)) {
        free(payload);
        return HK_CTL_EXIT_FAILED;
    }
    a.req.payload.data = (uint8_t *)payload;
    a.req.payload.len = len;
    rc = hk_client_trigger_event(ctl->client, &a.req, HK_CTL_TRIGGER_DEADLINE_MS, &resp);
    free(payload);
    if (rc != 0) return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_message(stdout, &resp->base, 0);
        putchar('\n');
    } else {
        print_trigger(resp);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_trigger = {
    "trigger",
    run_trigger,
    "--application enterprise|elite --action KEY [--payload JSON|@FILE] [--origin user|api] "
    "[--event-id ID] [--json]",
    "fire a trigger action, as a product does; shows what the receivers answered",
    "  --application APP  the product the event comes from: enterprise or elite\n"
    "  --action KEY       the trigger action, e.g. AccountUpdated\n"
    "  --payload JSON     the event's data (default {}); @FILE reads a file, @- stdin\n"
    "  --origin ORIGIN    user (default) or api: api skips webhooks with Ignore for API\n"
    "  --event-id ID      idempotency key: the same ID again returns the first answer\n",
};

/* ---- deliveries ------------------------------------------------------------ */

static int deliveries_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    int v;
    if (opt != OPT_STATE) return -1;
    if (hk_args_delivery_state(arg, &v) != 0)
        return bad_value(ctl, "--state", "pending, succeeded, failed or cancelled", arg);
    ((Hookd__V1__ListDeliveriesRequest *)data)->state = v;
    return 0;
}

static int run_deliveries(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, OPT_STATE},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__ListDeliveriesRequest req = HOOKD__V1__LIST_DELIVERIES_REQUEST__INIT;
    Hookd__V1__ListDeliveriesResponse *resp;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, deliveries_option, &req, &first, &rc) != 0) return rc;
    if (first + 1 < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first + 1]);
    if (first < argc) req.webhook_name = argv[first];
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    req.page_size = MAX_DELIVERIES;
    if (hk_client_list_deliveries(ctl->client, &req, HK_CTL_DEADLINE_MS, &resp) != 0)
        return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_list(stdout, "deliveries", (const ProtobufCMessage *const *)resp->deliveries,
                     resp->n_deliveries);
    } else {
        static const char *const headers[] = {"ID",    "WEBHOOK",  "TRIGGER ACTION",
                                              "STATE", "ATTEMPTS", "CREATED"};
        hk_table_t *t = hk_table_new(6, headers);
        for (size_t i = 0; t && i < resp->n_deliveries; i++) {
            const Hookd__V1__Delivery *d = resp->deliveries[i];
            char id[24], attempts[16], state[32], created[32];
            snprintf(id, sizeof id, "%" PRIu64, d->id);
            snprintf(attempts, sizeof attempts, "%u", d->attempt_count);
            const char *row[] = {id,
                                 d->webhook_name,
                                 d->trigger_action,
                                 hk_print_enum(&hookd__v1__delivery_state__descriptor, d->state,
                                               state, sizeof state),
                                 attempts,
                                 hk_print_time(d->create_time, created, sizeof created)};
            if (hk_table_add(t, row) != 0) break;
        }
        if (t) hk_table_print(t, stdout);
        hk_table_free(t);
        if (resp->next_page_token[0])
            printf("(the newest %zu shown; use --state or NAME to narrow)\n", resp->n_deliveries);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_deliveries = {
    "deliveries",
    run_deliveries,
    "[NAME] [--state pending|succeeded|failed|cancelled] [--json]",
    "show the delivery log, newest first: of every webhook, or of webhook NAME",
    "  --state STATE      only deliveries in this state\n",
};

/* ---- redeliver ------------------------------------------------------------- */

static int run_redeliver(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__RedeliverDeliveryRequest req = HOOKD__V1__REDELIVER_DELIVERY_REQUEST__INIT;
    Hookd__V1__Delivery *d;
    unsigned long long id;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if (first >= argc) return hk_ctl_usage(ctl, "missing the delivery ID");
    if (first + 1 < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first + 1]);
    if (hk_args_uint(argv[first], 1, UINT64_MAX, &id) != 0)
        return hk_ctl_usage(ctl, "ID wants a delivery id (a number), not '%s'", argv[first]);
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    req.id = id;
    if (hk_client_redeliver_delivery(ctl->client, &req, HK_CTL_DEADLINE_MS, &d) != 0)
        return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_message(stdout, &d->base, 0);
        putchar('\n');
    } else {
        printf("Queued delivery %" PRIu64 " to webhook \"", d->id);
        hk_print_safe(stdout, d->webhook_name);
        printf("\" (a new delivery of event ");
        hk_print_safe(stdout, d->event_id);
        printf(").\n");
    }
    protobuf_c_message_free_unpacked(&d->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_redeliver = {
    "redeliver",
    run_redeliver,
    "ID [--json]",
    "deliver a delivery's event again to its webhook (queued, asynchronous)",
    "",
};
