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

static void print_trigger(const Hookd__V1__TriggerEventResponse *r, int origin)
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
    if (r->n_skipped) {
        static const char *const headers[] = {"WEBHOOK", "REASON"};
        hk_table_t *t = hk_table_new(2, headers);
        for (size_t i = 0; t && i < r->n_skipped; i++) {
            const Hookd__V1__SkippedWebhook *k = r->skipped[i];
            const char *why = strcmp(k->reason, "ignore_for_api") == 0
                                  ? "Ignore for API: the event came from an API call"
                                  : k->reason;
            const char *row[] = {k->webhook_name, why};
            if (hk_table_add(t, row) != 0) break;
        }
        if (t) {
            fputs("\nSkipped:\n", stdout);
            hk_table_print(t, stdout);
        }
        hk_table_free(t);
    }
    if (!r->n_results && !r->n_queued && !r->n_skipped)
        fputs("No active webhook has this trigger action.\n", stdout);
    else if (!r->n_results && !r->n_queued)
        printf("\nNothing was sent: every active webhook of this trigger action has Ignore for "
               "API%s.\n",
               origin == HOOKD__V1__ORIGIN__ORIGIN_API ? " and the event came from an API call"
                                                       : "");
}

/* The synchronous receivers that did not answer 2xx. */
static size_t sync_failures(const Hookd__V1__TriggerEventResponse *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_results; i++)
        if (r->results[i]->outcome != HOOKD__V1__OUTCOME__OUTCOME_SUCCEEDED) n++;
    return n;
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
        print_trigger(resp, a.req.origin);
    }
    /* The caller of a synchronous webhook waits for its answer because it
     * matters: a failed one makes the exit status say so. */
    size_t failed = sync_failures(resp);
    rc = 0;
    if (failed) {
        fprintf(stderr, "hookctl trigger: %zu of %zu synchronous receivers failed\n", failed,
                resp->n_results);
        rc = HK_CTL_EXIT_RECEIVER;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
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
    "                     (listed as Skipped)\n"
    "  --event-id ID      idempotency key: the same ID again returns the first answer\n"
    "Exit status 3 when hookd answered but a synchronous receiver failed (not 2xx,\n"
    "timed out, unreachable); the table shows which and why.\n",
};

/* ---- deliveries ------------------------------------------------------------ */

/* Whether webhook id is Active, asked of hookd once per webhook: a pending
 * delivery of an Inactive one is parked until it is activated. */
typedef struct {
    uint64_t id;
    int active; /* 1, 0, or -1: unknown (gone, or hookd would not say) */
} active_t;

typedef struct {
    active_t *items;
    size_t n, cap;
} actives_t;

static int webhook_active(hk_ctl_t *ctl, actives_t *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].id == id) return c->items[i].active;
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *w;
    int active = -1;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_ID;
    req.id = id;
    if (hk_client_get_webhook(ctl->client, &req, HK_CTL_DEADLINE_MS, &w) == 0) {
        active = w->active ? 1 : 0;
        protobuf_c_message_free_unpacked(&w->base, NULL);
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        active_t *p = realloc(c->items, cap * sizeof *p);
        if (!p) return active;
        c->items = p;
        c->cap = cap;
    }
    c->items[c->n++] = (active_t){id, active};
    return active;
}

/* What the newest attempt got: "503", or the outcome when no answer came
 * ("timed_out"); "-" before the first attempt. */
static const char *last_result(const Hookd__V1__Delivery *d, char *buf, size_t len)
{
    if (d->last_outcome == HOOKD__V1__OUTCOME__OUTCOME_UNSPECIFIED) return "-";
    if (d->last_http_status) {
        snprintf(buf, len, "%u", d->last_http_status);
        return buf;
    }
    return hk_print_enum(&hookd__v1__outcome__descriptor, d->last_outcome, buf, len);
}

/* When the next attempt comes, or why it waits. */
static const char *next_attempt(hk_ctl_t *ctl, actives_t *c, const Hookd__V1__Delivery *d,
                                char *buf, size_t len)
{
    if (d->state != HOOKD__V1__DELIVERY_STATE__DELIVERY_STATE_PENDING) return "-";
    if (webhook_active(ctl, c, d->webhook_id) == 0) return "parked: webhook inactive";
    return hk_print_time(d->next_attempt_time, buf, len);
}

static int deliveries_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    int v;
    if (opt != OPT_STATE) return -1;
    if (hk_args_delivery_state(arg, &v) != 0)
        return bad_value(ctl, "--state", "pending, succeeded, failed or cancelled", arg);
    ((Hookd__V1__ListDeliveriesRequest *)data)->state = v;
    return 0;
}

/* The fields only GetDelivery fills: left out of a list, where an empty
 * "attempts" would read as "none were made". */
static const char *const list_omit[] = {"attempts", "payload", NULL};

static int run_deliveries(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, OPT_STATE},
        HK_CTL_WIDE_OPTION,
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__ListDeliveriesRequest req = HOOKD__V1__LIST_DELIVERIES_REQUEST__INIT;
    Hookd__V1__ListDeliveriesResponse *resp;
    actives_t actives = {0};
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
                     resp->n_deliveries, list_omit);
    } else {
        static const char *const headers[] = {"ID",           "WEBHOOK",  "TRIGGER ACTION",
                                              "STATE",        "ATTEMPTS", "LAST STATUS",
                                              "NEXT ATTEMPT", "CREATED",  "LAST ERROR"};
        hk_table_t *t = hk_table_new(9, headers);
        for (size_t i = 0; t && i < resp->n_deliveries; i++) {
            const Hookd__V1__Delivery *d = resp->deliveries[i];
            char id[24], attempts[16], state[32], created[32], last[32], next[32];
            snprintf(id, sizeof id, "%" PRIu64, d->id);
            snprintf(attempts, sizeof attempts, "%u", d->attempt_count);
            const char *row[] = {id,
                                 d->webhook_name,
                                 d->trigger_action,
                                 hk_print_enum(&hookd__v1__delivery_state__descriptor, d->state,
                                               state, sizeof state),
                                 attempts,
                                 last_result(d, last, sizeof last),
                                 next_attempt(ctl, &actives, d, next, sizeof next),
                                 hk_print_time(d->create_time, created, sizeof created),
                                 *d->last_error ? d->last_error : "-"};
            if (hk_table_add(t, row) != 0) break;
        }
        if (t) hk_table_print_fit(t, stdout, hk_ctl_width(ctl), 8); /* the error gives way */
        hk_table_free(t);
        if (resp->next_page_token[0])
            printf("(the newest %zu shown; use --state or NAME to narrow)\n", resp->n_deliveries);
    }
    free(actives.items);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_deliveries = {
    "deliveries",
    run_deliveries,
    "[NAME] [--state pending|succeeded|failed|cancelled] [--wide] [--json]",
    "show the delivery log, newest first: why each failed and when the next try is",
    "  --state STATE      only deliveries in this state\n"
    "  --wide             never cut the last error to the terminal's width\n"
    "LAST STATUS is the newest attempt's HTTP status, or its outcome when no answer\n"
    "came (timed_out, network_error, refused); NEXT ATTEMPT is when a pending\n"
    "delivery is tried again, or \"parked: webhook inactive\" while its webhook is\n"
    "Inactive. `hookctl delivery ID` shows every attempt.\n",
};

/* ---- delivery -------------------------------------------------------------- */

static int delivery_id_argument(hk_ctl_t *ctl, int argc, char **argv, int first, uint64_t *id)
{
    unsigned long long v;
    if (first >= argc) return hk_ctl_usage(ctl, "missing the delivery ID");
    if (first + 1 < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first + 1]);
    if (hk_args_uint(argv[first], 1, UINT64_MAX, &v) != 0)
        return hk_ctl_usage(ctl, "ID wants a delivery id (a number), not '%s'", argv[first]);
    *id = v;
    return 0;
}

static void print_delivery(hk_ctl_t *ctl, const Hookd__V1__Delivery *d)
{
    char buf[256], word[32];
    actives_t actives = {0};
    snprintf(buf, sizeof buf, "%" PRIu64, d->id);
    hk_print_field(stdout, "Delivery", buf);
    snprintf(buf, sizeof buf, "%s (id %" PRIu64 ")", d->webhook_name, d->webhook_id);
    hk_print_field(stdout, "Webhook", buf);
    hk_print_field(stdout, "Event", d->event_id);
    hk_print_field(stdout, "Application", hk_print_application(d->application));
    hk_print_field(stdout, "Trigger Action", d->trigger_action);
    hk_print_field(stdout, "Origin",
                   hk_print_enum(&hookd__v1__origin__descriptor, d->origin, word, sizeof word));
    hk_print_field(stdout, "Asynchronous", d->asynchronous ? "Yes" : "No");
    hk_print_field(
        stdout, "State",
        hk_print_enum(&hookd__v1__delivery_state__descriptor, d->state, word, sizeof word));
    hk_print_field(stdout, "Created", hk_print_time(d->create_time, buf, sizeof buf));
    hk_print_field(stdout, "Next Attempt", next_attempt(ctl, &actives, d, buf, sizeof buf));
    snprintf(buf, sizeof buf, "%u", d->attempt_count);
    hk_print_field(stdout, "Attempts", buf);
    char *payload = malloc(d->payload.len + 1);
    if (payload) {
        memcpy(payload, d->payload.data, d->payload.len);
        payload[d->payload.len] = '\0';
        hk_print_field(stdout, "Payload", payload);
        free(payload);
    }
    for (size_t i = 0; i < d->n_attempts; i++) {
        const Hookd__V1__Attempt *a = d->attempts[i];
        printf("\nAttempt %zu\n", i + 1);
        hk_print_field(stdout, "  Time", hk_print_time(a->time, buf, sizeof buf));
        hk_print_field(
            stdout, "  Outcome",
            hk_print_enum(&hookd__v1__outcome__descriptor, a->outcome, word, sizeof word));
        snprintf(buf, sizeof buf, "%u", a->http_status);
        hk_print_field(stdout, "  HTTP Status", a->http_status ? buf : "-");
        snprintf(buf, sizeof buf, "%u ms", a->duration_ms);
        hk_print_field(stdout, "  Duration", buf);
        hk_print_field(stdout, "  Error", a->error);
        char *body = malloc(a->response_body.len + 1);
        if (body) {
            memcpy(body, a->response_body.data, a->response_body.len);
            body[a->response_body.len] = '\0';
            /* A NUL in the answer ends what is shown. */
            hk_print_field(stdout, "  Response", body);
            free(body);
        }
    }
    free(actives.items);
}

static int run_delivery(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__GetDeliveryRequest req = HOOKD__V1__GET_DELIVERY_REQUEST__INIT;
    Hookd__V1__Delivery *d;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if ((rc = delivery_id_argument(ctl, argc, argv, first, &req.id)) != 0) return rc;
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    if (hk_client_get_delivery(ctl->client, &req, HK_CTL_DEADLINE_MS, &d) != 0)
        return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_message(stdout, &d->base, 0);
        putchar('\n');
    } else {
        print_delivery(ctl, d);
    }
    protobuf_c_message_free_unpacked(&d->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_delivery = {
    "delivery",
    run_delivery,
    "ID [--json]",
    "show one delivery: its event, payload and every attempt with status, duration, "
    "error and response",
    "",
};

/* ---- redeliver ------------------------------------------------------------- */

static int run_redeliver(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__RedeliverDeliveryRequest req = HOOKD__V1__REDELIVER_DELIVERY_REQUEST__INIT;
    Hookd__V1__Delivery *d;
    actives_t actives = {0};
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if ((rc = delivery_id_argument(ctl, argc, argv, first, &req.id)) != 0) return rc;
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    if (hk_client_redeliver_delivery(ctl->client, &req, HK_CTL_DEADLINE_MS, &d) != 0)
        return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_message_omit(stdout, &d->base, 0, list_omit);
        putchar('\n');
    } else {
        printf("Queued delivery %" PRIu64 " to webhook \"", d->id);
        hk_print_safe(stdout, d->webhook_name);
        printf("\" (a new delivery of event ");
        hk_print_safe(stdout, d->event_id);
        printf(").\n");
    }
    if (webhook_active(ctl, &actives, d->webhook_id) == 0) {
        fputs("hookctl redeliver: warning: webhook \"", stderr);
        hk_print_safe(stderr, d->webhook_name);
        fprintf(stderr,
                "\" is Inactive: the delivery waits until it is activated "
                "(hookctl activate %" PRIu64 ")\n",
                d->webhook_id);
    }
    free(actives.items);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_redeliver = {
    "redeliver",
    run_redeliver,
    "ID [--json]",
    "deliver a delivery's event again to its webhook (queued, asynchronous)",
    "A warning on stderr says when the webhook is Inactive: the new delivery then\n"
    "waits until it is activated.\n",
};
