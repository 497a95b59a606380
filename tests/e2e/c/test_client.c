/* test_client.c -- libhookd end to end: every call path against the real hookd */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hookd/client.h>

#include "unit.h"

/* ---- one hookd on a temporary socket and data dir -------------------------------- */

static struct {
    pid_t pid;
    char dir[200];
    char socket[256];
} hookd;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kill_leftover(void)
{
    if (hookd.pid > 0) {
        kill(hookd.pid, SIGCONT);
        kill(hookd.pid, SIGKILL);
        waitpid(hookd.pid, NULL, 0);
        hookd.pid = 0;
    }
}

static int can_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return 0;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* Starts hookd on <dir>/hookd.sock with its data in <dir>/data and waits until
 * it accepts connections. Returns 0 or -1. */
static int hookd_start(const char *dir)
{
    char path[300];
    const char *bin = getenv("HOOKD_BIN");
    if (!bin) {
        fprintf(stderr, "  HOOKD_BIN is not set\n");
        return -1;
    }
    kill_leftover(); /* a test that failed half-way */
    if (dir != hookd.dir) snprintf(hookd.dir, sizeof hookd.dir, "%s", dir);
    snprintf(hookd.socket, sizeof hookd.socket, "%s/hookd.sock", dir);
    snprintf(path, sizeof path, "%s/hookd.conf", dir);
    FILE *f = fopen(path, "a");
    if (f) fclose(f);

    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char data[300], log[300];
        snprintf(data, sizeof data, "%s/data", dir);
        snprintf(log, sizeof log, "%s/hookd.log", dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, "hookd", "--socket", hookd.socket, "--data", data, "--config", path,
              (char *)NULL);
        _exit(127);
    }
    hookd.pid = pid;
    for (long long end = now_ms() + 15000; now_ms() < end; usleep(20000)) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            char cmd[400];
            fprintf(stderr, "  hookd exited at start; its log:\n");
            snprintf(cmd, sizeof cmd, "sed 's/^/    /' '%s/hookd.log' >&2", dir);
            if (system(cmd) != 0) fprintf(stderr, "    (no log)\n");
            hookd.pid = 0;
            return -1;
        }
        if (can_connect(hookd.socket)) return 0;
    }
    fprintf(stderr, "  hookd did not start\n");
    return -1;
}

/* Stops hookd with sig and returns its exit code (128 + signal when killed),
 * or -1 when it does not stop within 20 s. */
static int hookd_stop(int sig)
{
    int status;
    if (hookd.pid <= 0) return -1;
    kill(hookd.pid, sig);
    for (long long end = now_ms() + 20000; now_ms() < end; usleep(10000)) {
        if (waitpid(hookd.pid, &status, WNOHANG) == hookd.pid) {
            hookd.pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    kill_leftover();
    return -1;
}

__attribute__((destructor)) static void cleanup(void)
{
    kill_leftover();
}

/* ---- helpers -------------------------------------------------------------------- */

static const char *last_message(hk_client_t *c)
{
    const char *m;
    hk_client_last_status(c, &m);
    return m;
}

static int create(hk_client_t *c, const char *name, Hookd__V1__Webhook **out)
{
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.name = (char *)name;
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = "AccountUpdated";
    req.url = "https://example.com/hook";
    Hookd__V1__Webhook *w = NULL;
    int rc = hk_client_create_webhook(c, &req, 0, &w);
    if (out)
        *out = w;
    else if (w)
        protobuf_c_message_free_unpacked(&w->base, NULL);
    return rc;
}

static int get_by_name(hk_client_t *c, const char *name, int deadline_ms, Hookd__V1__Webhook **out)
{
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    req.name = (char *)name;
    Hookd__V1__Webhook *w = NULL;
    int rc = hk_client_get_webhook(c, &req, deadline_ms, &w);
    if (out)
        *out = w;
    else if (w)
        protobuf_c_message_free_unpacked(&w->base, NULL);
    return rc;
}

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

/* ---- tests ---------------------------------------------------------------------- */

TEST(status_names)
{
    CHECK_STR(hk_client_status_name(HK_STATUS_OK), "OK");
    CHECK_STR(hk_client_status_name(HK_STATUS_NOT_FOUND), "NOT_FOUND");
    CHECK_STR(hk_client_status_name(-HK_STATUS_NOT_FOUND), "NOT_FOUND");
    CHECK_STR(hk_client_status_name(HK_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
    CHECK_STR(hk_client_status_name(17), "UNKNOWN");
    CHECK_INT(HK_STATUS_FAILED_PRECONDITION, 9);
    CHECK_INT(HK_STATUS_UNAVAILABLE, 14);
}

TEST(socket_path)
{
    hk_client_t *c;
    char want[300], longpath[200];

    CHECK_INT(hk_client_open("/tmp/explicit.sock", &c), 0);
    CHECK_STR(hk_client_socket_path(c), "/tmp/explicit.sock");
    hk_client_close(c);

    setenv("HOOKD_SOCKET", "/tmp/from-env.sock", 1);
    CHECK_INT(hk_client_open(NULL, &c), 0);
    CHECK_STR(hk_client_socket_path(c), "/tmp/from-env.sock");
    hk_client_close(c);
    CHECK_INT(hk_client_open("", &c), 0); /* empty: as NULL */
    CHECK_STR(hk_client_socket_path(c), "/tmp/from-env.sock");
    hk_client_close(c);

    unsetenv("HOOKD_SOCKET");
    const char *home = getenv("HOME");
    char saved_home[256];
    snprintf(saved_home, sizeof saved_home, "%s", home ? home : "");
    setenv("HOME", "/home/product", 1);
    CHECK_INT(hk_client_open(NULL, &c), 0);
    if (getuid() == 0)
        snprintf(want, sizeof want, "%s", "/var/lib/hookd/hookd.sock");
    else
        snprintf(want, sizeof want, "%s", "/home/product/.hookd/hookd.sock");
    CHECK_STR(hk_client_socket_path(c), want);
    hk_client_close(c);
    if (home) setenv("HOME", saved_home, 1);

    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    c = (hk_client_t *)1;
    CHECK_INT(hk_client_open(longpath, &c), -HK_STATUS_INVALID_ARGUMENT);
    CHECK(c == NULL);
}

TEST(every_rpc)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);
    CHECK_INT(hk_client_connect(c, 5000), 0);
    CHECK_INT(hk_client_last_status(c, NULL), HK_STATUS_OK);

    /* CreateWebhook: defaults filled in, a generated secret returned once. */
    Hookd__V1__Webhook *w;
    CHECK_INT(create(c, "orders", &w), 0);
    CHECK(w->id > 0);
    CHECK_STR(w->name, "orders");
    CHECK_INT(w->application, HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE);
    CHECK_INT(w->auth_method, HOOKD__V1__AUTH_METHOD__AUTH_METHOD_OAUTH);
    CHECK_INT(w->timeout_seconds, 15);
    CHECK(w->active);
    CHECK(!w->asynchronous);
    CHECK(strncmp(w->secret_key, "whsec_", 6) == 0 && strlen(w->secret_key) > 20);
    uint64_t id = w->id;
    char secret[128];
    snprintf(secret, sizeof secret, "%s", w->secret_key);
    FREE(w);

    /* GetWebhook by id and by name, the secret masked unless asked for. */
    Hookd__V1__GetWebhookRequest get = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    get.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_ID;
    get.id = id;
    CHECK_INT(hk_client_get_webhook(c, &get, 5000, &w), 0);
    CHECK_STR(w->name, "orders");
    CHECK(strcmp(w->secret_key, secret) != 0);
    FREE(w);
    get.reveal_secret = 1;
    CHECK_INT(hk_client_get_webhook(c, &get, 5000, &w), 0);
    CHECK_STR(w->secret_key, secret);
    FREE(w);
    CHECK_INT(get_by_name(c, "ORDERS", 5000, &w), 0); /* names compare case-insensitively */
    CHECK_INT(w->id, id);
    FREE(w);

    /* ListWebhooks with a filter that matches and one that does not. */
    Hookd__V1__ListWebhooksRequest list = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    Hookd__V1__ListWebhooksResponse *lr;
    CHECK_INT(hk_client_list_webhooks(c, &list, 5000, &lr), 0);
    CHECK_INT(lr->n_webhooks, 1);
    CHECK_STR(lr->webhooks[0]->name, "orders");
    FREE(lr);
    list._active_case = HOOKD__V1__LIST_WEBHOOKS_REQUEST___ACTIVE_ACTIVE;
    list.active = 0;
    CHECK_INT(hk_client_list_webhooks(c, &list, 5000, &lr), 0);
    CHECK_INT(lr->n_webhooks, 0);
    FREE(lr);

    /* UpdateWebhook: only the fields present change. */
    Hookd__V1__UpdateWebhookRequest up = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    up.key_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_ID;
    up.id = id;
    up._new_name_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___NEW_NAME_NEW_NAME;
    up.new_name = "orders-v2";
    up._timeout_seconds_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___TIMEOUT_SECONDS_TIMEOUT_SECONDS;
    up.timeout_seconds = 42;
    CHECK_INT(hk_client_update_webhook(c, &up, 5000, &w), 0);
    CHECK_STR(w->name, "orders-v2");
    CHECK_INT(w->timeout_seconds, 42);
    CHECK_INT(w->id, id);
    CHECK_STR(w->url, "https://example.com/hook");
    FREE(w);

    /* ListTriggerActions: the catalog. */
    Hookd__V1__ListTriggerActionsRequest la = HOOKD__V1__LIST_TRIGGER_ACTIONS_REQUEST__INIT;
    la.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    Hookd__V1__ListTriggerActionsResponse *lar;
    CHECK_INT(hk_client_list_trigger_actions(c, &la, 5000, &lar), 0);
    int found = 0;
    for (size_t i = 0; i < lar->n_trigger_actions; i++) {
        CHECK_INT(lar->trigger_actions[i]->application,
                  HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE);
        if (strcmp(lar->trigger_actions[i]->key, "AccountUpdated") == 0) found = 1;
    }
    FREE(lar);
    CHECK(found);

    /* The delivery RPCs, through the same path. */
    Hookd__V1__TriggerEventRequest te = HOOKD__V1__TRIGGER_EVENT_REQUEST__INIT;
    te.application = HOOKD__V1__APPLICATION__APPLICATION_ELITE;
    te.trigger_action = "AccountUpdated";
    te.payload.data = (uint8_t *)"{}";
    te.payload.len = 2;
    Hookd__V1__TriggerEventResponse *ter;
    int rc = hk_client_trigger_event(c, &te, 5000, &ter);
    CHECK_INT(rc, 0);
    CHECK_INT(ter->n_results + ter->n_queued, 0); /* no Elite webhook */
    CHECK(ter->event_id && *ter->event_id);
    FREE(ter);
    Hookd__V1__ListDeliveriesRequest ld = HOOKD__V1__LIST_DELIVERIES_REQUEST__INIT;
    Hookd__V1__ListDeliveriesResponse *ldr;
    rc = hk_client_list_deliveries(c, &ld, 5000, &ldr);
    CHECK_INT(rc, 0);
    FREE(ldr);
    Hookd__V1__GetDeliveryRequest gd = HOOKD__V1__GET_DELIVERY_REQUEST__INIT;
    gd.id = 999999;
    Hookd__V1__Delivery *d;
    rc = hk_client_get_delivery(c, &gd, 5000, &d);
    CHECK_INT(rc, -HK_STATUS_NOT_FOUND);
    CHECK(*last_message(c) != '\0');
    Hookd__V1__RedeliverDeliveryRequest rd = HOOKD__V1__REDELIVER_DELIVERY_REQUEST__INIT;
    rd.id = 999999;
    rc = hk_client_redeliver_delivery(c, &rd, 5000, &d);
    CHECK_INT(rc, -HK_STATUS_NOT_FOUND);
    CHECK(d == NULL);

    /* DeleteWebhook returns the webhook as it was; then it is gone. */
    Hookd__V1__DeleteWebhookRequest del = HOOKD__V1__DELETE_WEBHOOK_REQUEST__INIT;
    del.key_case = HOOKD__V1__DELETE_WEBHOOK_REQUEST__KEY_NAME;
    del.name = "orders-v2";
    CHECK_INT(hk_client_delete_webhook(c, &del, 5000, &w), 0);
    CHECK_INT(w->id, id);
    FREE(w);
    CHECK_INT(get_by_name(c, "orders-v2", 5000, NULL), -HK_STATUS_NOT_FOUND);

    /* All of it on one connection. */
    hk_client_stats_t st;
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 1);
    CHECK_INT(st.pending, 0);
    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

TEST(errors)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    const char *msg;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);

    /* NOT_FOUND names what was looked for. */
    Hookd__V1__Webhook *w = (Hookd__V1__Webhook *)1;
    CHECK_INT(get_by_name(c, "no-such-hook", 5000, &w), -HK_STATUS_NOT_FOUND);
    CHECK(w == NULL);
    CHECK_INT(hk_client_last_status(c, &msg), HK_STATUS_NOT_FOUND);
    CHECK(strstr(msg, "no-such-hook") != NULL);
    /* grpc-message travels percent-encoded: UTF-8 and '%' come back as sent. */
    CHECK_INT(get_by_name(c, "n\xc3\xb6-such 100%", 5000, NULL), -HK_STATUS_NOT_FOUND);
    CHECK(strstr(last_message(c), "n\xc3\xb6-such 100%") != NULL);

    /* INVALID_ARGUMENT names the field. */
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.name = "bad-url";
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = "AccountUpdated";
    req.url = "ftp://example.com/";
    CHECK_INT(hk_client_create_webhook(c, &req, 5000, &w), -HK_STATUS_INVALID_ARGUMENT);
    CHECK_INT(hk_client_last_status(c, &msg), HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(msg, "url") != NULL);
    req.url = "https://example.com/";
    req._timeout_seconds_case = HOOKD__V1__CREATE_WEBHOOK_REQUEST___TIMEOUT_SECONDS_TIMEOUT_SECONDS;
    req.timeout_seconds = 601;
    CHECK_INT(hk_client_create_webhook(c, &req, 5000, &w), -HK_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(last_message(c), "timeout_seconds") != NULL);

    /* ALREADY_EXISTS: names are unique, case-insensitively. */
    CHECK_INT(create(c, "dup", NULL), 0);
    CHECK_INT(create(c, "DUP", NULL), -HK_STATUS_ALREADY_EXISTS);

    /* FAILED_PRECONDITION: the application cannot change. */
    Hookd__V1__UpdateWebhookRequest up = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__INIT;
    up.key_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST__KEY_NAME;
    up.name = "dup";
    up._application_case = HOOKD__V1__UPDATE_WEBHOOK_REQUEST___APPLICATION_APPLICATION;
    up.application = HOOKD__V1__APPLICATION__APPLICATION_ELITE;
    CHECK_INT(hk_client_update_webhook(c, &up, 5000, &w), -HK_STATUS_FAILED_PRECONDITION);
    CHECK(strstr(last_message(c), "application") != NULL);

    /* The call API's own checks: no call is made. */
    hk_client_call_t *call = (hk_client_call_t *)1;
    Hookd__V1__GetWebhookRequest get = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "NoSuchMethod", &get.base,
                                   0, &call),
              -HK_STATUS_INVALID_ARGUMENT);
    CHECK(call == NULL);
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "CreateWebhook", &get.base,
                                   0, &call),
              -HK_STATUS_INVALID_ARGUMENT); /* wrong request type */
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "GetWebhook", &get.base, -5,
                                   &call),
              -HK_STATUS_INVALID_ARGUMENT);
    CHECK_INT(hk_client_set_default_deadline(c, 0), -HK_STATUS_INVALID_ARGUMENT);

    /* An error leaves the connection fit for the next call. */
    CHECK_INT(get_by_name(c, "dup", 5000, NULL), 0);
    hk_client_stats_t st;
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 1);
    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

TEST(deadline)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);
    CHECK_INT(create(c, "slow", NULL), 0);

    /* hookd frozen: nothing answers, the deadline is enforced here. */
    CHECK_INT(kill(hookd.pid, SIGSTOP), 0);
    long long t0 = now_ms();
    int rc = get_by_name(c, "slow", 300, NULL);
    long long took = now_ms() - t0;
    int rc_tiny = get_by_name(c, "slow", 1, NULL);
    long long took_tiny = now_ms() - t0 - took;

    /* A deadline that passes before anyone waits: the wait must notice it
     * rather than block on a poll with nothing left to wake it (alarm turns
     * such a hang into a failure). */
    Hookd__V1__GetWebhookRequest req = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    req.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    req.name = "slow";
    hk_client_call_t *late = NULL;
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "GetWebhook", &req.base, 1,
                                   &late),
              0);
    usleep(20000);
    alarm(10);
    int rc_late = hk_client_wait(c, late);
    alarm(0);
    hk_client_call_free(late);
    kill(hookd.pid, SIGCONT);
    CHECK_INT(rc_late, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(rc, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(hk_client_last_status(c, NULL), HK_STATUS_DEADLINE_EXCEEDED);
    CHECK(took >= 290 && took < 2000);
    CHECK_INT(rc_tiny, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK(took_tiny < 500);

    /* The expired streams were reset; the connection goes on. */
    CHECK_INT(get_by_name(c, "slow", 5000, NULL), 0);
    hk_client_stats_t st;
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 1);

    /* The default deadline applies when a call names none. */
    CHECK_INT(hk_client_set_default_deadline(c, 200), 0);
    CHECK_INT(kill(hookd.pid, SIGSTOP), 0);
    rc = get_by_name(c, "slow", 0, NULL);
    kill(hookd.pid, SIGCONT);
    CHECK_INT(rc, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(hk_client_set_default_deadline(c, HK_CLIENT_NO_DEADLINE), 0);
    CHECK_INT(get_by_name(c, "slow", 0, NULL), 0);

    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

TEST(unavailable)
{
    const char *dir = hk_test_tmpdir();
    char path[300];
    hk_client_t *c;
    const char *msg;

    /* Nothing at that path. */
    snprintf(path, sizeof path, "%s/absent.sock", dir);
    CHECK_INT(hk_client_open(path, &c), 0);
    CHECK_INT(hk_client_connect(c, 1000), -HK_STATUS_UNAVAILABLE);
    CHECK_INT(create(c, "x", NULL), -HK_STATUS_UNAVAILABLE);
    CHECK_INT(hk_client_last_status(c, &msg), HK_STATUS_UNAVAILABLE);
    CHECK(strstr(msg, path) != NULL);

    /* The asynchronous API: the call exists and is done with UNAVAILABLE. */
    Hookd__V1__ListWebhooksRequest list = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    hk_client_call_t *call;
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "ListWebhooks", &list.base,
                                   1000, &call),
              0);
    CHECK(hk_client_call_done(call));
    CHECK_INT(hk_client_wait(c, call), -HK_STATUS_UNAVAILABLE);
    CHECK_INT(hk_client_call_status(call, &msg), HK_STATUS_UNAVAILABLE);
    CHECK(hk_client_call_take_response(call) == NULL);
    hk_client_call_free(call);
    hk_client_close(c);

    /* A stale socket file: bound once, nobody listening. */
    snprintf(path, sizeof path, "%s/stale.sock", dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    close(fd);
    CHECK_INT(hk_client_open(path, &c), 0);
    CHECK_INT(create(c, "x", NULL), -HK_STATUS_UNAVAILABLE);
    hk_client_close(c);

    /* Something listens but never speaks HTTP/2: the deadline ends the wait. */
    snprintf(path, sizeof path, "%s/mute.sock", dir);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0);
    CHECK_INT(hk_client_open(path, &c), 0);
    long long t0 = now_ms();
    int rc = hk_client_connect(c, 200);
    int rc_call = get_by_name(c, "x", 200, NULL);
    long long took = now_ms() - t0;
    hk_client_close(c);
    close(fd);
    CHECK_INT(rc, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK_INT(rc_call, -HK_STATUS_DEADLINE_EXCEEDED);
    CHECK(took >= 390 && took < 3000);
}

TEST(restart)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    hk_client_stats_t st;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);
    CHECK_INT(create(c, "survivor", NULL), 0);

    /* A graceful restart between calls: the same client goes on. */
    CHECK_INT(hookd_stop(SIGTERM), 0);
    CHECK(hookd_start(hookd.dir) == 0);
    CHECK_INT(get_by_name(c, "survivor", 5000, NULL), 0);
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 2);

    /* A crash: hookd killed, then back. */
    CHECK_INT(hookd_stop(SIGKILL), 128 + SIGKILL);
    CHECK_INT(get_by_name(c, "survivor", 5000, NULL), -HK_STATUS_UNAVAILABLE);
    CHECK(hookd_start(hookd.dir) == 0);
    CHECK_INT(get_by_name(c, "survivor", 5000, NULL), 0);
    CHECK_INT(create(c, "after-crash", NULL), 0);
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 3);

    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

TEST(hundred_in_flight)
{
    enum { N = 100 };
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    hk_client_call_t *calls[N];
    char names[N][16];
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);

    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ENTERPRISE;
    req.trigger_action = "OrderCreated";
    req.url = "https://example.com/orders";
    /* The connection up first; then hookd held still, so that no answer can
     * come while the calls start (a loaded machine would let some in). */
    Hookd__V1__ListWebhooksRequest list = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    list.page_size = 1000;
    Hookd__V1__ListWebhooksResponse *lr;
    CHECK_INT(hk_client_list_webhooks(c, &list, 5000, &lr), 0);
    CHECK_INT(lr->n_webhooks, 0);
    FREE(lr);
    CHECK_INT(kill(hookd.pid, SIGSTOP), 0);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "hook-%03d", i);
        req.name = names[i];
        CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "CreateWebhook",
                                       &req.base, 10000, &calls[i]),
                  0);
    }
    hk_client_stats_t st;
    hk_client_stats(c, &st);
    CHECK_INT(st.pending, N); /* all started, none waited for */
    CHECK_INT(st.calls, N + 1);
    CHECK_INT(kill(hookd.pid, SIGCONT), 0);

    /* Wait for the last one first: the others progress meanwhile. */
    CHECK_INT(hk_client_wait(c, calls[N - 1]), 0);
    CHECK_INT(hk_client_wait(c, NULL), 0);
    for (int i = 0; i < N; i++) {
        CHECK(hk_client_call_done(calls[i]));
        CHECK_INT(hk_client_call_status(calls[i], NULL), HK_STATUS_OK);
        Hookd__V1__Webhook *w = (Hookd__V1__Webhook *)hk_client_call_take_response(calls[i]);
        CHECK(w != NULL);
        CHECK_STR(w->name, names[i]);
        CHECK(hk_client_call_take_response(calls[i]) == NULL); /* taken once */
        FREE(w);
        hk_client_call_free(calls[i]);
    }
    hk_client_stats(c, &st);
    CHECK_INT(st.connects, 1);
    CHECK_INT(st.pending, 0);

    CHECK_INT(hk_client_list_webhooks(c, &list, 5000, &lr), 0);
    CHECK_INT(lr->n_webhooks, N);
    FREE(lr);
    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

TEST(cancel)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    const char *msg;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);
    CHECK_INT(create(c, "kept", NULL), 0);

    /* Freed while in flight: the stream is reset, the connection goes on. */
    CHECK_INT(kill(hookd.pid, SIGSTOP), 0);
    Hookd__V1__GetWebhookRequest get = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    get.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    get.name = "kept";
    hk_client_call_t *call, *orphan;
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "GetWebhook", &get.base,
                                   5000, &call),
              0);
    CHECK(!hk_client_call_done(call));
    CHECK_INT(hk_client_call_status(call, NULL), HK_STATUS_UNKNOWN);
    hk_client_call_free(call);
    kill(hookd.pid, SIGCONT);
    CHECK_INT(get_by_name(c, "kept", 5000, NULL), 0);

    /* Closing the client cancels what is in flight; the handle stays valid. */
    CHECK_INT(kill(hookd.pid, SIGSTOP), 0);
    CHECK_INT(hk_client_call_start(c, &hookd__v1__webhooks__descriptor, "GetWebhook", &get.base,
                                   5000, &orphan),
              0);
    hk_client_close(c);
    kill(hookd.pid, SIGCONT);
    CHECK(hk_client_call_done(orphan));
    CHECK_INT(hk_client_call_status(orphan, &msg), HK_STATUS_CANCELLED);
    hk_client_call_free(orphan);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}

/* ---- a scripted HTTP/2 peer: hookd refusing streams it did not process ------------ */

/* hookd cannot be made to refuse a stream on cue, so a forked child plays its
 * part with raw frames: it answers what the script says and checks nothing. */

static int read_full(int fd, uint8_t *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t r = read(fd, buf + off, n - off);
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return 0;
}

static void write_frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const void *payload,
                        size_t len)
{
    uint8_t h[9] = {(uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len,
                    type,
                    flags,
                    (uint8_t)(stream >> 24),
                    (uint8_t)(stream >> 16),
                    (uint8_t)(stream >> 8),
                    (uint8_t)stream};
    if (write(fd, h, 9) != 9 || (len && write(fd, payload, len) != (ssize_t)len)) _exit(3);
}

/* Reads frames (after the client preface, when preface is set) until the
 * HEADERS of a new stream; returns its id, or -1 at EOF. */
static int32_t await_request(int fd, int preface)
{
    uint8_t buf[16384 + 9];
    if (preface && read_full(fd, buf, 24) != 0) return -1;
    for (;;) {
        if (read_full(fd, buf, 9) != 0) return -1;
        size_t len = (size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2];
        uint8_t type = buf[3];
        int32_t stream = (int32_t)((uint32_t)(buf[5] & 0x7f) << 24 | (uint32_t)buf[6] << 16 |
                                   (uint32_t)buf[7] << 8 | buf[8]);
        if (len > 16384 || read_full(fd, buf, len) != 0) return -1;
        if (type == 0x1) return stream;
    }
}

/* A trailers-only answer: :status 200, content-type application/grpc,
 * grpc-status 5 and a percent-encoded grpc-message, in literal HPACK. */
static void answer_not_found(int fd, int32_t stream, const char *encoded_message)
{
    uint8_t block[256];
    size_t n = 0, mlen = strlen(encoded_message);
    block[n++] = 0x88;                    /* :status: 200 (static index 8) */
    block[n++] = 0x0f, block[n++] = 0x10; /* content-type (static 31), not indexed */
    block[n++] = 16;
    memcpy(block + n, "application/grpc", 16), n += 16;
    block[n++] = 0x00, block[n++] = 11; /* a new name, not indexed */
    memcpy(block + n, "grpc-status", 11), n += 11;
    block[n++] = 1, block[n++] = '5';
    block[n++] = 0x00, block[n++] = 12;
    memcpy(block + n, "grpc-message", 12), n += 12;
    block[n++] = (uint8_t)mlen;
    memcpy(block + n, encoded_message, mlen), n += mlen;
    write_frame(fd, 0x1, 0x4 | 0x1, (uint32_t)stream, block, n); /* END_HEADERS|END_STREAM */
}

static void send_settings(int fd)
{
    write_frame(fd, 0x4, 0, 0, NULL, 0);   /* our SETTINGS: defaults */
    write_frame(fd, 0x4, 0x1, 0, NULL, 0); /* ACK of the client's */
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The peer's script: goaway == 0: RST_STREAM(REFUSED_STREAM) on the first
 * request, then answer the retry on the same connection; goaway == 1: GOAWAY
 * (nothing processed) and close, then answer on a second connection. */
static pid_t fake_peer(int lfd, int goaway)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = accept(lfd, NULL, NULL);
    int32_t id = await_request(fd, 1);
    if (id < 0) _exit(4);
    send_settings(fd);
    if (!goaway) {
        uint8_t refused[4] = {0, 0, 0, 0x7};
        write_frame(fd, 0x3, 0, (uint32_t)id, refused, 4);
        if ((id = await_request(fd, 0)) < 0) _exit(5);
        answer_not_found(fd, id, "retried%20on%20the%20same%20connection");
    } else {
        uint8_t go[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* last stream 0, NO_ERROR */
        write_frame(fd, 0x7, 0, 0, go, 8);
        close(fd);
        fd = accept(lfd, NULL, NULL);
        if ((id = await_request(fd, 1)) < 0) _exit(6);
        send_settings(fd);
        answer_not_found(fd, id, "retried%20on%20a%20new%20connection");
    }
    uint8_t drain[256];
    while (read(fd, drain, sizeof drain) > 0)
        continue; /* until the client closes */
    _exit(0);
}

static void refused_case(int goaway, const char *want)
{
    char path[300];
    const char *msg;
    hk_client_stats_t st;
    int status;
    snprintf(path, sizeof path, "%s/peer.sock", hk_test_tmpdir());
    int lfd = listen_on(path);
    CHECK(lfd >= 0);
    pid_t peer = fake_peer(lfd, goaway);
    close(lfd);
    CHECK(peer > 0);

    hk_client_t *c;
    CHECK_INT(hk_client_open(path, &c), 0);
    int rc = get_by_name(c, "anything", 5000, NULL);
    int code = hk_client_last_status(c, &msg);
    hk_client_stats(c, &st);
    int same_message = strcmp(msg, want) == 0;
    hk_client_close(c);
    /* The peer ends when the client goes; one that still waits failed. */
    long long end = now_ms() + 5000;
    while (waitpid(peer, &status, WNOHANG) == 0) {
        if (now_ms() > end) {
            kill(peer, SIGKILL);
            waitpid(peer, &status, 0);
            break;
        }
        usleep(10000);
    }
    CHECK_INT(rc, -HK_STATUS_NOT_FOUND);
    CHECK_INT(code, HK_STATUS_NOT_FOUND);
    CHECK(same_message); /* percent-decoded, from the trailers-only answer */
    CHECK_INT(st.retries, 1);
    CHECK_INT(st.calls, 1);
    CHECK_INT(st.connects, goaway ? 2 : 1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(refused_stream_is_retried)
{
    refused_case(0, "retried on the same connection");
}

TEST(goaway_unprocessed_is_retried)
{
    refused_case(1, "retried on a new connection");
}

/* ---- the protobuf-c generated stubs through hk_client_service --------------------- */

typedef struct {
    int calls;
    int got;
    char name[64];
    uint32_t timeout;
    size_t count;
} stub_result_t;

static void on_webhook(const Hookd__V1__Webhook *w, void *data)
{
    stub_result_t *r = data;
    r->calls++;
    r->got = w != NULL;
    if (w) {
        snprintf(r->name, sizeof r->name, "%s", w->name);
        r->timeout = w->timeout_seconds;
    }
}

static void on_list(const Hookd__V1__ListWebhooksResponse *l, void *data)
{
    stub_result_t *r = data;
    r->calls++;
    r->got = l != NULL;
    r->count = l ? l->n_webhooks : 0;
}

TEST(generated_stubs)
{
    CHECK(hookd_start(hk_test_tmpdir()) == 0);
    hk_client_t *c;
    CHECK_INT(hk_client_open(hookd.socket, &c), 0);
    ProtobufCService *svc = hk_client_service(c);
    CHECK(svc->descriptor == &hookd__v1__webhooks__descriptor);

    stub_result_t r = {0};
    Hookd__V1__CreateWebhookRequest req = HOOKD__V1__CREATE_WEBHOOK_REQUEST__INIT;
    req.name = "stubbed";
    req.application = HOOKD__V1__APPLICATION__APPLICATION_ELITE;
    req.trigger_action = "ContractSigned";
    req.url = "https://example.com/contracts";
    req._timeout_seconds_case = HOOKD__V1__CREATE_WEBHOOK_REQUEST___TIMEOUT_SECONDS_TIMEOUT_SECONDS;
    req.timeout_seconds = 20;
    hookd__v1__webhooks__create_webhook(svc, &req, on_webhook, &r);
    CHECK_INT(r.calls, 1); /* the closure ran before the stub returned */
    CHECK(r.got);
    CHECK_STR(r.name, "stubbed");
    CHECK_INT(r.timeout, 20);
    CHECK_INT(hk_client_last_status(c, NULL), HK_STATUS_OK);

    memset(&r, 0, sizeof r);
    Hookd__V1__GetWebhookRequest get = HOOKD__V1__GET_WEBHOOK_REQUEST__INIT;
    get.key_case = HOOKD__V1__GET_WEBHOOK_REQUEST__KEY_NAME;
    get.name = "stubbed";
    hookd__v1__webhooks__get_webhook(svc, &get, on_webhook, &r);
    CHECK_INT(r.calls, 1);
    CHECK_STR(r.name, "stubbed");

    /* A failure: the closure gets NULL, the status says why. */
    memset(&r, 0, sizeof r);
    get.name = "missing";
    hookd__v1__webhooks__get_webhook(svc, &get, on_webhook, &r);
    CHECK_INT(r.calls, 1);
    CHECK(!r.got);
    const char *msg;
    CHECK_INT(hk_client_last_status(c, &msg), HK_STATUS_NOT_FOUND);
    CHECK(strstr(msg, "missing") != NULL);

    memset(&r, 0, sizeof r);
    Hookd__V1__ListWebhooksRequest list = HOOKD__V1__LIST_WEBHOOKS_REQUEST__INIT;
    hookd__v1__webhooks__list_webhooks(svc, &list, on_list, &r);
    CHECK_INT(r.calls, 1);
    CHECK(r.got);
    CHECK_INT(r.count, 1);

    protobuf_c_service_destroy(svc); /* the client owns it: a no-op */
    hk_client_close(c);
    CHECK_INT(hookd_stop(SIGTERM), 0);
}
