/* test_methods.c -- the method table: one entry per RPC of the proto, the right types and roles */
#include "api/methods.h"
#include "grpc/health/v1/health.pb-c.h"
#include "hookd/v1/webhooks.pb-c.h"
#include "unit.h"

/* The table must follow the proto: adding an RPC without its entry fails here. */
TEST(every_rpc_has_an_entry)
{
    const ProtobufCServiceDescriptor *svc = &hookd__v1__webhooks__descriptor;
    CHECK_INT(hk_rpc_method_count, svc->n_methods + 1); /* + health */
    for (unsigned i = 0; i < svc->n_methods; i++) {
        char path[128];
        snprintf(path, sizeof path, "/hookd.v1.Webhooks/%s", svc->methods[i].name);
        const hk_rpc_method_t *m = hk_rpc_find(path);
        if (!m) fprintf(stderr, "  no entry for %s\n", path);
        CHECK(m != NULL);
        CHECK(m->request == svc->methods[i].input);
        CHECK(m->handler != NULL);
    }
    const hk_rpc_method_t *h = hk_rpc_find("/grpc.health.v1.Health/Check");
    CHECK(h != NULL);
    CHECK(h->request == &grpc__health__v1__health_check_request__descriptor);
}

TEST(least_roles)
{
    static const struct {
        const char *name;
        hk_role_t role;
    } want[] = {
        {"CreateWebhook", HK_ROLE_ADMIN},   {"GetWebhook", HK_ROLE_ADMIN},
        {"ListWebhooks", HK_ROLE_ADMIN},    {"UpdateWebhook", HK_ROLE_ADMIN},
        {"DeleteWebhook", HK_ROLE_ADMIN},   {"ListDeliveries", HK_ROLE_ADMIN},
        {"GetDelivery", HK_ROLE_ADMIN},     {"RedeliverDelivery", HK_ROLE_ADMIN},
        {"TriggerEvent", HK_ROLE_TRIGGER},  {"ListTriggerActions", HK_ROLE_TRIGGER},
        {"CreateLoginLink", HK_ROLE_ADMIN},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/hookd.v1.Webhooks/%s", want[i].name);
        const hk_rpc_method_t *m = hk_rpc_find(path);
        CHECK(m != NULL);
        CHECK_INT(m->role, want[i].role);
    }
    CHECK_INT(hk_rpc_find("/grpc.health.v1.Health/Check")->role, HK_ROLE_NONE);
}

TEST(find_is_exact)
{
    CHECK(hk_rpc_find(NULL) == NULL);
    CHECK(hk_rpc_find("") == NULL);
    CHECK(hk_rpc_find("/hookd.v1.Webhooks/") == NULL);
    CHECK(hk_rpc_find("/hookd.v1.Webhooks/GetWebhookX") == NULL);
    CHECK(hk_rpc_find("/hookd.v1.Webhooks/getwebhook") == NULL);
    CHECK(hk_rpc_find("hookd.v1.Webhooks/GetWebhook") == NULL);
    CHECK(hk_rpc_find("/hookd.v1.Webhooks/GetWebhook") != NULL);
}
