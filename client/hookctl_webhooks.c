/* hookctl_webhooks.c -- the webhook commands: list, show, create, edit, (de)activate, delete,
 * actions */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hookctl.h"

/* Option values of the webhook commands (any byte getopt does not use). */
enum {
    OPT_APPLICATION = 'a',
    OPT_TRIGGER = 't',
    OPT_STATUS = 's',
    OPT_NAME = 'n',
    OPT_URL = 'u',
    OPT_TIMEOUT = 'T',
    OPT_SECRET = 'k',
    OPT_ASYNC = 'A',
    OPT_SYNC = 'S',
    OPT_IGNORE = 'i',
    OPT_NO_IGNORE = 'I',
    OPT_INACTIVE = 'x',
    OPT_ACTIVE = 'y',
    OPT_DESCRIPTION = 'd',
    OPT_AUTH_METHOD = 'm',
    OPT_REVEAL = 'r',
};

#define MAX_PAGES 100000

static int print_webhook(hk_ctl_t *ctl, const Hookd__V1__Webhook *w)
{
    if (ctl->json) {
        hk_json_message(stdout, &w->base, 0);
        putchar('\n');
    } else {
        hk_print_webhook(stdout, w, hk_ctl_action_name(ctl, w->application, w->trigger_action));
    }
    return 0;
}

/* An RPC on one webhook, by name (name set) or by id. Returns the client's
 * result (0 or a negative status). */
typedef int (*keyed_fn)(hk_ctl_t *ctl, uint64_t id, const char *name, void *data);

/* Runs fn on the webhook arg names: the webhook of that name, else, when
 * arg is a number and no webhook has that name, the webhook of that id.
 * Returns 0 or the exit code after printing why. */
static int on_webhook(hk_ctl_t *ctl, const char *arg, keyed_fn fn, void *data)
{
    unsigned long long id;
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    int rc = fn(ctl, 0, arg, data);
    if (rc == -HK_STATUS_NOT_FOUND && hk_args_uint(arg, 1, UINT64_MAX, &id) == 0)
        rc = fn(ctl, id, NULL, data);
    return rc ? hk_ctl_fail(ctl) : 0;
}

static int no_arguments(hk_ctl_t *ctl, int argc, char **argv, int first)
{
    if (first < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first]);
    return 0;
}

/* The one NAME argument of show, edit, activate, deactivate, delete. */
static int name_argument(hk_ctl_t *ctl, int argc, char **argv, int first, const char **name)
{
    *name = NULL; /* defined on the error path too */
    if (first >= argc) return hk_ctl_usage(ctl, "missing the webhook NAME (or ID)");
    if (first + 1 < argc) return hk_ctl_usage(ctl, "unexpected argument '%s'", argv[first + 1]);
    *name = argv[first];
    return 0;
}

static int bad_value(hk_ctl_t *ctl, const char *option, const char *want, const char *arg)
{
    hk_ctl_usage(ctl, "%s wants %s, not '%s'", option, want, arg);
    return -1;
}

/* ---- list ------------------------------------------------------------------ */

static int list_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    Hookd__V1__ListWebhooksRequest *req = data;
    int v;
    switch (opt) {
    case OPT_APPLICATION:
        if (hk_args_application(arg, &v) != 0)
            return bad_value(ctl, "--application", "enterprise or elite", arg);
        req->application = v;
        return 0;
    case OPT_TRIGGER: req->trigger_action = (char *)arg; return 0;
    case OPT_STATUS:
        if (hk_args_status(arg, &v) != 0)
            return bad_value(ctl, "--status", "active or inactive", arg);
        req->_active_case = HOOKD__V1__LIST_WEBHOOKS_REQUEST___ACTIVE_ACTIVE;
        req->active = v;
        return 0;
    }
    return -1;
}

static int run_list(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"application", required_argument, NULL, OPT_APPLICATION},
        {"trigger", required_argument, NULL, OPT_TRIGGER},
        {"status", required_argument, NULL, OPT_STATUS},
        HK_CTL_WIDE_OPTION,
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__ListWebhooksRequest req = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, list_option, &req, &first, &rc) != 0) return rc;
    if ((rc = no_arguments(ctl, argc, argv, first)) != 0) return rc;
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;

    /* Every page, kept until printed: the table is sized to all of them. */
    Hookd__V1__ListWebhooksResponse **pages = NULL;
    const ProtobufCMessage **items = NULL;
    size_t npages = 0, nitems = 0;
    rc = 0;
    req.page_size = 1000;
    for (;;) {
        Hookd__V1__ListWebhooksResponse *resp, **p;
        if (hk_client_list_webhooks(ctl->client, &req, HK_CTL_DEADLINE_MS, &resp) != 0) {
            rc = hk_ctl_fail(ctl);
            goto out;
        }
        p = realloc(pages, (npages + 1) * sizeof *pages);
        const ProtobufCMessage **q =
            realloc(items, (nitems + resp->n_webhooks + 1) * sizeof *items);
        if (p) pages = p;
        if (q) items = q;
        if (!p || !q) {
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            fprintf(stderr, "hookctl: out of memory\n");
            rc = HK_CTL_EXIT_FAILED;
            goto out;
        }
        pages[npages++] = resp;
        for (size_t i = 0; i < resp->n_webhooks; i++)
            items[nitems++] = &resp->webhooks[i]->base;
        if (!resp->next_page_token[0] || npages == MAX_PAGES) break;
        req.page_token = resp->next_page_token;
    }

    if (ctl->json) {
        hk_json_list(stdout, "webhooks", items, nitems, NULL);
    } else {
        static const char *const headers[] = {"NAME", "APPLICATION", "TRIGGER ACTION", "ENDPOINT",
                                              "STATUS"};
        hk_table_t *t = hk_table_new(5, headers);
        for (size_t i = 0; t && i < nitems; i++) {
            const Hookd__V1__Webhook *w = (const Hookd__V1__Webhook *)items[i];
            const char *row[] = {w->name, hk_print_application(w->application),
                                 hk_ctl_action_name(ctl, w->application, w->trigger_action), w->url,
                                 w->active ? "Active" : "Inactive"};
            if (hk_table_add(t, row) != 0) {
                hk_table_free(t);
                t = NULL;
            }
        }
        if (!t) {
            fprintf(stderr, "hookctl: out of memory\n");
            rc = HK_CTL_EXIT_FAILED;
            goto out;
        }
        hk_table_print_fit(t, stdout, hk_ctl_width(ctl), 3); /* the URL gives way */
        hk_table_free(t);
    }
out:
    for (size_t i = 0; i < npages; i++)
        protobuf_c_message_free_unpacked(&pages[i]->base, NULL);
    free(pages);
    free(items);
    return rc;
}

const hk_ctl_command_t hk_cmd_list = {
    "list",
    run_list,
    "[--application enterprise|elite] [--trigger ACTION] [--status active|inactive] [--wide] "
    "[--json]",
    "list the webhooks: name, application, trigger action, endpoint, status",
    "  --application APP  only webhooks of enterprise or elite\n"
    "  --trigger ACTION   only webhooks of this trigger action (its key, e.g. AccountUpdated)\n"
    "  --status STATUS    only active or only inactive webhooks\n"
    "  --wide             never cut a long URL to the terminal's width\n",
};

/* ---- show ------------------------------------------------------------------ */

static int show_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    (void)ctl, (void)arg;
    if (opt != OPT_REVEAL) return -1;
    ((Hookd__V1__GetWebhookRequest *)data)->reveal_secret = 1;
    return 0;
}

typedef struct {
    Hookd__V1__GetWebhookRequest req;
    Hookd__V1__Webhook *w;
} show_t;

static int get_keyed(hk_ctl_t *ctl, uint64_t id, const char *name, void *data)
{
    show_t *a = data;
    a->req.key_case =
        name ? HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME : HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_ID;
    if (name)
        a->req.name = (char *)name;
    else
        a->req.id = id;
    return hk_client_get_webhook(ctl->client, &a->req, HK_CTL_DEADLINE_MS, &a->w);
}

static int run_show(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reveal-secret", no_argument, NULL, OPT_REVEAL},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    show_t a = {HOOKD__V1__GET_WEBHOOK_REQUEST__INIT, NULL};
    const char *name;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, show_option, &a.req, &first, &rc) != 0) return rc;
    if ((rc = name_argument(ctl, argc, argv, first, &name)) != 0) return rc;
    if ((rc = on_webhook(ctl, name, get_keyed, &a)) != 0) return rc;
    print_webhook(ctl, a.w);
    protobuf_c_message_free_unpacked(&a.w->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_show = {
    "show",
    run_show,
    "NAME|ID [--reveal-secret] [--json]",
    "show a webhook's details: every field, the secret key masked",
    "  --reveal-secret    show the secret key in clear\n"
    "An Inactive webhook shows since when, and why when hookd deactivated it\n"
    "(the receiver answered 410 Gone).\n",
};

/* ---- create ---------------------------------------------------------------- */

static int create_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    Hookd__V1__CreateWebhookRequest *req = data;
    unsigned long long n;
    int v;
    switch (opt) {
    case OPT_APPLICATION:
        if (hk_args_application(arg, &v) != 0)
            return bad_value(ctl, "--application", "enterprise or elite", arg);
        req->application = v;
        return 0;
    case OPT_TRIGGER: req->trigger_action = (char *)arg; return 0;
    case OPT_NAME: req->name = (char *)arg; return 0;
    case OPT_URL: req->url = (char *)arg; return 0;
    case OPT_TIMEOUT:
        if (hk_args_uint(arg, 0, UINT32_MAX, &n) != 0)
            return bad_value(ctl, "--timeout", "a number of seconds", arg);
        req->_timeout_seconds_case =
            HOOKD__V1__CREATE_WEBHOOK_REQUEST___TIMEOUT_SECONDS_TIMEOUT_SECONDS;
        req->timeout_seconds = (uint32_t)n;
        return 0;
    case OPT_SECRET: req->secret_key = (char *)arg; return 0;
    case OPT_ASYNC: req->asynchronous = 1; return 0;
    case OPT_IGNORE: req->ignore_for_api = 1; return 0;
    case OPT_INACTIVE:
        req->_active_case = HOOKD__V1__CREATE_WEBHOOK_REQUEST___ACTIVE_ACTIVE;
        req->active = 0;
        return 0;
    case OPT_DESCRIPTION: req->description = (char *)arg; return 0;
    }
    return -1;
}

static int run_create(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"application", required_argument, NULL, OPT_APPLICATION},
        {"trigger", required_argument, NULL, OPT_TRIGGER},
        {"name", required_argument, NULL, OPT_NAME},
        {"url", required_argument, NULL, OPT_URL},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"async", no_argument, NULL, OPT_ASYNC},
        {"ignore-for-api", no_argument, NULL, OPT_IGNORE},
        {"inactive", no_argument, NULL, OPT_INACTIVE},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *w;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, create_option, &req, &first, &rc) != 0) return rc;
    if ((rc = no_arguments(ctl, argc, argv, first)) != 0) return rc;
    if (req.application == HOOKD__V1__APPLICATION__APPLICATION_UNSPECIFIED)
        return hk_ctl_usage(ctl, "--application is required");
    if (!req.trigger_action[0]) return hk_ctl_usage(ctl, "--trigger is required");
    if (!req.name[0]) return hk_ctl_usage(ctl, "--name is required");
    if (!req.url[0]) return hk_ctl_usage(ctl, "--url is required");
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    if (hk_client_create_webhook(ctl->client, &req, HK_CTL_DEADLINE_MS, &w) != 0)
        return hk_ctl_fail(ctl);
    print_webhook(ctl, w);
    protobuf_c_message_free_unpacked(&w->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_create = {
    "create",
    run_create,
    "--application enterprise|elite --trigger ACTION --name NAME --url URL [--timeout S] "
    "[--secret KEY] [--async] [--ignore-for-api] [--inactive] [--description TEXT] [--json]",
    "create a webhook; prints it with its secret key",
    "  --application APP  the product: enterprise or elite (cannot be changed later)\n"
    "  --trigger ACTION   the trigger action that fires it (see `hookctl actions`)\n"
    "  --name NAME        a unique name\n"
    "  --url URL          the Web Service URL that receives the POST (https)\n"
    "  --timeout S        seconds to wait for the receiver's answer (default 15, 1-600)\n"
    "  --secret KEY       the secret key (default: generated, whsec_...)\n"
    "  --async            asynchronous: queued, does not block the product (default: sync)\n"
    "  --ignore-for-api   not fired by events that API calls caused\n"
    "  --inactive         create it inactive\n"
    "  --description TEXT a description\n",
};

/* ---- edit, activate, deactivate ------------------------------------------------ */

typedef struct {
    Hookd__V1__UpdateWebhookRequest *req;
    Hookd__V1__Webhook *w;
} update_t;

static int update_keyed(hk_ctl_t *ctl, uint64_t id, const char *name, void *data)
{
    update_t *u = data;
    u->req->key_case = name ? HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_NAME
                            : HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_ID;
    if (name)
        u->req->name = (char *)name;
    else
        u->req->id = id;
    return hk_client_update_webhook(ctl->client, u->req, HK_CTL_DEADLINE_MS, &u->w);
}

static int update(hk_ctl_t *ctl, const char *name, Hookd__V1__UpdateWebhookRequest *req,
                  Hookd__V1__Webhook **w)
{
    update_t u = {req, NULL};
    int rc = on_webhook(ctl, name, update_keyed, &u);
    *w = u.w;
    return rc;
}

static int edit_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    Hookd__V1__UpdateWebhookRequest *req = data;
    unsigned long long n;
    int v;
    switch (opt) {
    case OPT_NAME:
        req->_new_name_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___NEW_NAME_NEW_NAME;
        req->new_name = (char *)arg;
        return 0;
    case OPT_TRIGGER:
        req->_trigger_action_case =
            HOOKD__V1__UPDATE_WEBHOOK_REQUEST___TRIGGER_ACTION_TRIGGER_ACTION;
        req->trigger_action = (char *)arg;
        return 0;
    case OPT_URL:
        req->_url_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___URL_URL;
        req->url = (char *)arg;
        return 0;
    case OPT_TIMEOUT:
        if (hk_args_uint(arg, 0, UINT32_MAX, &n) != 0)
            return bad_value(ctl, "--timeout", "a number of seconds", arg);
        req->_timeout_seconds_case =
            HOOKD__V1__UPDATE_WEBHOOK_REQUEST___TIMEOUT_SECONDS_TIMEOUT_SECONDS;
        req->timeout_seconds = (uint32_t)n;
        return 0;
    case OPT_SECRET:
        req->_secret_key_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___SECRET_KEY_SECRET_KEY;
        req->secret_key = (char *)arg;
        return 0;
    case OPT_ASYNC:
    case OPT_SYNC:
        req->_asynchronous_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___ASYNCHRONOUS_ASYNCHRONOUS;
        req->asynchronous = opt == OPT_ASYNC;
        return 0;
    case OPT_IGNORE:
    case OPT_NO_IGNORE:
        req->_ignore_for_api_case =
            HOOKD__V1__UPDATE_WEBHOOK_REQUEST___IGNORE_FOR_API_IGNORE_FOR_API;
        req->ignore_for_api = opt == OPT_IGNORE;
        return 0;
    case OPT_ACTIVE:
    case OPT_INACTIVE:
        req->_active_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___ACTIVE_ACTIVE;
        req->active = opt == OPT_ACTIVE;
        return 0;
    case OPT_DESCRIPTION:
        req->_description_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___DESCRIPTION_DESCRIPTION;
        req->description = (char *)arg;
        return 0;
    /* Immutable, as on the page: sent as asked, so that hookd itself refuses a
     * change with FAILED_PRECONDITION and says why. */
    case OPT_APPLICATION:
        if (hk_args_application(arg, &v) != 0)
            return bad_value(ctl, "--application", "enterprise or elite", arg);
        req->_application_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___APPLICATION_APPLICATION;
        req->application = v;
        return 0;
    case OPT_AUTH_METHOD:
        if (hk_args_auth_method(arg, &v) != 0)
            return bad_value(ctl, "--auth-method", "oauth (the only method)", arg);
        req->_auth_method_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___AUTH_METHOD_AUTH_METHOD;
        req->auth_method = v;
        return 0;
    }
    return -1;
}

static int run_edit(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"trigger", required_argument, NULL, OPT_TRIGGER},
        {"url", required_argument, NULL, OPT_URL},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"async", no_argument, NULL, OPT_ASYNC},
        {"sync", no_argument, NULL, OPT_SYNC},
        {"ignore-for-api", no_argument, NULL, OPT_IGNORE},
        {"no-ignore-for-api", no_argument, NULL, OPT_NO_IGNORE},
        {"active", no_argument, NULL, OPT_ACTIVE},
        {"inactive", no_argument, NULL, OPT_INACTIVE},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {"application", required_argument, NULL, OPT_APPLICATION},
        {"auth-method", required_argument, NULL, OPT_AUTH_METHOD},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__UpdateWebhookRequest req = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *w;
    const char *name;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, edit_option, &req, &first, &rc) != 0) return rc;
    if ((rc = name_argument(ctl, argc, argv, first, &name)) != 0) return rc;
    if ((rc = update(ctl, name, &req, &w)) != 0) return rc;
    print_webhook(ctl, w);
    protobuf_c_message_free_unpacked(&w->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_edit = {
    "edit",
    run_edit,
    "NAME|ID [--name NEW] [--trigger ACTION] [--url URL] [--timeout S] [--secret KEY] "
    "[--async|--sync] [--ignore-for-api|--no-ignore-for-api] [--active|--inactive] "
    "[--description TEXT] [--json]",
    "change a webhook; only the fields named change",
    "  --name NEW             rename it\n"
    "  --trigger ACTION       the trigger action that fires it\n"
    "  --url URL              the Web Service URL\n"
    "  --timeout S            seconds to wait for the receiver (1-600)\n"
    "  --secret KEY           a new secret key ('' generates one)\n"
    "  --async, --sync        asynchronous or synchronous\n"
    "  --ignore-for-api, --no-ignore-for-api\n"
    "                         whether events caused by API calls fire it\n"
    "  --active, --inactive   Status: Active or Inactive\n"
    "  --description TEXT     the description\n"
    "The application and the authentication method cannot be edited: hookd refuses\n"
    "--application and --auth-method with another value (FAILED_PRECONDITION).\n",
};

static int set_active(hk_ctl_t *ctl, int argc, char **argv, int active)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__UpdateWebhookRequest req = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    Hookd__V1__Webhook *w;
    const char *name;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if ((rc = name_argument(ctl, argc, argv, first, &name)) != 0) return rc;
    req._active_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___ACTIVE_ACTIVE;
    req.active = active;
    if ((rc = update(ctl, name, &req, &w)) != 0) return rc;
    if (ctl->json) {
        print_webhook(ctl, w);
    } else {
        fputs("Webhook \"", stdout);
        hk_print_safe(stdout, w->name);
        printf("\" is now %s.\n", w->active ? "Active" : "Inactive");
    }
    protobuf_c_message_free_unpacked(&w->base, NULL);
    return 0;
}

static int run_activate(hk_ctl_t *ctl, int argc, char **argv)
{
    return set_active(ctl, argc, argv, 1);
}

static int run_deactivate(hk_ctl_t *ctl, int argc, char **argv)
{
    return set_active(ctl, argc, argv, 0);
}

const hk_ctl_command_t hk_cmd_activate = {
    "activate",
    run_activate,
    "NAME|ID [--json]",
    "make a webhook Active: trigger actions fire it again",
    "",
};

const hk_ctl_command_t hk_cmd_deactivate = {
    "deactivate",
    run_deactivate,
    "NAME|ID [--json]",
    "make a webhook Inactive: trigger actions no longer fire it",
    "",
};

/* ---- delete ---------------------------------------------------------------- */

static int delete_keyed(hk_ctl_t *ctl, uint64_t id, const char *name, void *data)
{
    Hookd__V1__DeleteWebhookRequest req = HOOKD__V1__DELETE_WEBHOOK_REQUEST__INIT;
    req.key_case = name ? HOOKD__V1__DELETE_WEBHOOK_REQUEST__KEY_NAME
                        : HOOKD__V1__DELETE_WEBHOOK_REQUEST__KEY_ID;
    if (name)
        req.name = (char *)name;
    else
        req.id = id;
    return hk_client_delete_webhook(ctl->client, &req, HK_CTL_DEADLINE_MS,
                                    (Hookd__V1__Webhook **)data);
}

static int run_delete(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {HK_CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    Hookd__V1__Webhook *w = NULL;
    const char *name;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, NULL, NULL, &first, &rc) != 0) return rc;
    if ((rc = name_argument(ctl, argc, argv, first, &name)) != 0) return rc;
    if ((rc = on_webhook(ctl, name, delete_keyed, &w)) != 0) return rc;
    if (ctl->json) {
        print_webhook(ctl, w);
    } else {
        fputs("Deleted webhook \"", stdout);
        hk_print_safe(stdout, w->name);
        printf("\" (id %" PRIu64 ", ", w->id);
        hk_print_safe(stdout, w->trigger_action);
        fputs(", ", stdout);
        hk_print_safe(stdout, w->url);
        fputs(").\n", stdout);
    }
    protobuf_c_message_free_unpacked(&w->base, NULL);
    return 0;
}

const hk_ctl_command_t hk_cmd_delete = {
    "delete",
    run_delete,
    "NAME|ID [--json]",
    "delete a webhook at once (no confirmation); its pending deliveries are cancelled",
    "",
};

/* ---- actions --------------------------------------------------------------- */

static int actions_option(hk_ctl_t *ctl, int opt, const char *arg, void *data)
{
    int v;
    if (opt != OPT_APPLICATION) return -1;
    if (hk_args_application(arg, &v) != 0)
        return bad_value(ctl, "--application", "enterprise or elite", arg);
    ((Hookd__V1__ListTriggerActionsRequest *)data)->application = v;
    return 0;
}

static int run_actions(hk_ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"application", required_argument, NULL, OPT_APPLICATION},
        HK_CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    Hookd__V1__ListTriggerActionsRequest req = HOOKD__V1__LIST_TRIGGER_ACTIONS_REQUEST__INIT;
    Hookd__V1__ListTriggerActionsResponse *resp;
    int first, rc;
    if (hk_ctl_parse(ctl, argc, argv, opts, actions_option, &req, &first, &rc) != 0) return rc;
    if ((rc = no_arguments(ctl, argc, argv, first)) != 0) return rc;
    if (!hk_ctl_client(ctl)) return HK_CTL_EXIT_FAILED;
    if (hk_client_list_trigger_actions(ctl->client, &req, HK_CTL_DEADLINE_MS, &resp) != 0)
        return hk_ctl_fail(ctl);
    if (ctl->json) {
        hk_json_list(stdout, "trigger_actions",
                     (const ProtobufCMessage *const *)resp->trigger_actions,
                     resp->n_trigger_actions, NULL);
    } else {
        static const char *const headers[] = {"APPLICATION", "TRIGGER ACTION", "DISPLAY NAME"};
        hk_table_t *t = hk_table_new(3, headers);
        for (size_t i = 0; t && i < resp->n_trigger_actions; i++) {
            const Hookd__V1__TriggerAction *a = resp->trigger_actions[i];
            const char *row[] = {hk_print_application(a->application), a->key, a->display_name};
            if (hk_table_add(t, row) != 0) {
                hk_table_free(t);
                t = NULL;
            }
        }
        if (t)
            hk_table_print(t, stdout);
        else
            fprintf(stderr, "hookctl: out of memory\n");
        rc = t ? 0 : HK_CTL_EXIT_FAILED;
        hk_table_free(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

const hk_ctl_command_t hk_cmd_actions = {
    "actions",
    run_actions,
    "[--application enterprise|elite] [--json]",
    "list the trigger actions a webhook can use",
    "  --application APP  only the trigger actions of enterprise or elite\n",
};
