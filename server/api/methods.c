/* methods.c -- the method table: :path -> request type, least role, handler */
#include "api/methods.h"

#include "grpc/health/v1/health.pb-c.h"
#include "hookd/v1/webhooks.pb-c.h"

#define WEBHOOKS "/hookd.v1.Webhooks/"
#define DESC(type) (&hookd__v1__##type##__descriptor)

const hk_rpc_method_t hk_rpc_methods[] = {
    {"/grpc.health.v1.Health/Check", &grpc__health__v1__health_check_request__descriptor,
     HK_ROLE_NONE, hk_api_health_check},

    {WEBHOOKS "CreateWebhook", DESC(create_webhook_request), HK_ROLE_ADMIN, hk_api_create_webhook},
    {WEBHOOKS "GetWebhook", DESC(get_webhook_request), HK_ROLE_ADMIN, hk_api_get_webhook},
    {WEBHOOKS "ListWebhooks", DESC(list_webhooks_request), HK_ROLE_ADMIN, hk_api_list_webhooks},
    {WEBHOOKS "UpdateWebhook", DESC(update_webhook_request), HK_ROLE_ADMIN, hk_api_update_webhook},
    {WEBHOOKS "DeleteWebhook", DESC(delete_webhook_request), HK_ROLE_ADMIN, hk_api_delete_webhook},
    {WEBHOOKS "ListTriggerActions", DESC(list_trigger_actions_request), HK_ROLE_TRIGGER,
     hk_api_list_trigger_actions},

    {WEBHOOKS "TriggerEvent", DESC(trigger_event_request), HK_ROLE_TRIGGER, hk_api_trigger_event},
    {WEBHOOKS "ListDeliveries", DESC(list_deliveries_request), HK_ROLE_ADMIN,
     hk_api_list_deliveries},
    {WEBHOOKS "GetDelivery", DESC(get_delivery_request), HK_ROLE_ADMIN, hk_api_get_delivery},
    {WEBHOOKS "RedeliverDelivery", DESC(redeliver_delivery_request), HK_ROLE_ADMIN,
     hk_api_redeliver_delivery},
    {WEBHOOKS "CreateLoginLink", DESC(create_login_link_request), HK_ROLE_ADMIN,
     hk_api_create_login_link},
};

const size_t hk_rpc_method_count = sizeof hk_rpc_methods / sizeof hk_rpc_methods[0];
