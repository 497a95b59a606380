/* service.c -- synchronous calls: hk_client_unary, the typed helpers, the ProtobufCService */
#include <stdlib.h>

#include "client_int.h"

int hk_client_unary(hk_client_t *c, const ProtobufCServiceDescriptor *service, const char *method,
                    const ProtobufCMessage *request, int deadline_ms, ProtobufCMessage **response)
{
    hk_client_call_t *call;
    *response = NULL;
    int rc = hk_client_call_start(c, service, method, request, deadline_ms, &call);
    if (rc != 0) {
        hkc_last_status_set(c, -rc,
                            rc == -HK_STATUS_INVALID_ARGUMENT
                                ? "invalid call: unknown method, wrong request type or bad deadline"
                                : "out of memory");
        return rc;
    }
    hk_client_wait(c, call);
    const char *msg;
    int code = hk_client_call_status(call, &msg);
    hkc_last_status_set(c, code, msg);
    if (code == HK_STATUS_OK) *response = hk_client_call_take_response(call);
    hk_client_call_free(call);
    return -code;
}

/* One typed helper per RPC: the method's name and its own types, nothing else. */
#define HK_RPC(fn, Method, Request, Response)                                                      \
    int hk_client_##fn(hk_client_t *c, const Request *request, int deadline_ms,                    \
                       Response **response)                                                        \
    {                                                                                              \
        return hk_client_unary(c, &hookd__v1__webhooks__descriptor, Method, &request->base,        \
                               deadline_ms, (ProtobufCMessage **)response);                        \
    }

HK_RPC(create_webhook, "CreateWebhook", Hookd__V1__CreateWebhookRequest, Hookd__V1__Webhook)
HK_RPC(get_webhook, "GetWebhook", Hookd__V1__GetWebhookRequest, Hookd__V1__Webhook)
HK_RPC(list_webhooks, "ListWebhooks", Hookd__V1__ListWebhooksRequest,
       Hookd__V1__ListWebhooksResponse)
HK_RPC(update_webhook, "UpdateWebhook", Hookd__V1__UpdateWebhookRequest, Hookd__V1__Webhook)
HK_RPC(delete_webhook, "DeleteWebhook", Hookd__V1__DeleteWebhookRequest, Hookd__V1__Webhook)
HK_RPC(list_trigger_actions, "ListTriggerActions", Hookd__V1__ListTriggerActionsRequest,
       Hookd__V1__ListTriggerActionsResponse)
HK_RPC(trigger_event, "TriggerEvent", Hookd__V1__TriggerEventRequest,
       Hookd__V1__TriggerEventResponse)
HK_RPC(list_deliveries, "ListDeliveries", Hookd__V1__ListDeliveriesRequest,
       Hookd__V1__ListDeliveriesResponse)
HK_RPC(get_delivery, "GetDelivery", Hookd__V1__GetDeliveryRequest, Hookd__V1__Delivery)
HK_RPC(redeliver_delivery, "RedeliverDelivery", Hookd__V1__RedeliverDeliveryRequest,
       Hookd__V1__Delivery)

/* The generated stubs call invoke with the method's index in the service. */
static void service_invoke(ProtobufCService *service, unsigned method_index,
                           const ProtobufCMessage *input, ProtobufCClosure closure,
                           void *closure_data)
{
    hk_client_t *c = hk_container_of(service, hk_client_t, service);
    ProtobufCMessage *response = NULL;
    if (method_index >= service->descriptor->n_methods) {
        hkc_last_status_set(c, HK_STATUS_UNIMPLEMENTED, "no such method in the service");
    } else {
        hk_client_unary(c, service->descriptor, service->descriptor->methods[method_index].name,
                        input, 0, &response);
    }
    closure(response, closure_data);
    if (response) protobuf_c_message_free_unpacked(response, NULL);
}

/* The service belongs to the client: hk_client_close frees it. */
static void service_destroy(ProtobufCService *service)
{
    (void)service;
}

void hkc_service_init(hk_client_t *c)
{
    c->service.descriptor = &hookd__v1__webhooks__descriptor;
    c->service.invoke = service_invoke;
    c->service.destroy = service_destroy;
}

ProtobufCService *hk_client_service(hk_client_t *c)
{
    return &c->service;
}
