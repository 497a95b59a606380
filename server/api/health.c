/* health.c -- grpc.health.v1.Health/Check: SERVING while hookd runs, NOT_SERVING while it stops */
#include <string.h>

#include "api/api.h"
#include "api/methods.h"
#include "core/status.h"
#include "grpc/health/v1/health.pb-c.h"

/* The services a health check may name: "" is the server as a whole. */
static const char *const services[] = {"", "hookd.v1.Webhooks"};

void hk_api_health_check(hk_call_t *call, const ProtobufCMessage *request)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)request;
    const hk_api_t *api = hk_api_of(call);
    int known = 0;

    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(req->service, services[i]) == 0) known = 1;
    if (!known) {
        /* The health spec: an unknown service is NOT_FOUND, not a status. */
        hk_rpc_fail(call, HK_STATUS_NOT_FOUND, "unknown service %.100s",
                    strspn(req->service, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-/") == strlen(req->service)
                        ? req->service
                        : "(not a service name)");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = api->stopping
                      ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    hk_rpc_reply(call, &resp.base);
}
