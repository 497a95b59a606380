/* methods.h -- the method table and the handlers it names: one entry, one function per RPC */
#ifndef HK_METHODS_H
#define HK_METHODS_H

#include <stddef.h>

#include "api/rpc.h"

/* Every RPC hookd serves; hk_rpc_find looks :path up here. */
extern const hk_rpc_method_t hk_rpc_methods[];
extern const size_t hk_rpc_method_count;

/* grpc.health.v1.Health/Check (health.c). */
void hk_api_health_check(hk_call_t *call, const ProtobufCMessage *request);

/* hookd.v1.Webhooks: the webhook CRUD and the catalog (webhooks.c). */
void hk_api_create_webhook(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_get_webhook(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_list_webhooks(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_update_webhook(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_delete_webhook(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_list_trigger_actions(hk_call_t *call, const ProtobufCMessage *request);

/* hookd.v1.Webhooks: the event path (trigger.c) and the delivery log
 * (deliveries.c). */
void hk_api_trigger_event(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_list_deliveries(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_get_delivery(hk_call_t *call, const ProtobufCMessage *request);
void hk_api_redeliver_delivery(hk_call_t *call, const ProtobufCMessage *request);

/* hookd.v1.Webhooks: the admin page's login link (login.c). */
void hk_api_create_login_link(hk_call_t *call, const ProtobufCMessage *request);

#endif
