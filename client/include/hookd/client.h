/* client.h -- libhookd: the C client of hookd (gRPC over HTTP/2 on a Unix socket) */
#ifndef HOOKD_CLIENT_H
#define HOOKD_CLIENT_H

/*
 * libhookd talks to a running hookd through its Unix socket: real gRPC
 * (HTTP/2 cleartext, prior knowledge) on libnghttp2, messages encoded with
 * protobuf-c. The generated types and service stubs of hookd.v1 come with it
 * (<hookd/v1/webhooks.pb-c.h>).
 *
 * Threads: an hk_client_t and its calls belong to one thread at a time; the
 * library keeps no global state and takes no locks, so use one client per
 * thread (or serialize access yourself).
 *
 * Errors: every function that can fail returns 0 on success or a negated
 * gRPC status code (-HK_STATUS_NOT_FOUND, ...). Local failures map to the
 * status gRPC clients use for them: hookd not reachable or the connection
 * lost: UNAVAILABLE; the deadline passed: DEADLINE_EXCEEDED; out of memory:
 * RESOURCE_EXHAUSTED; a bad argument: INVALID_ARGUMENT; an answer that is not
 * valid gRPC: INTERNAL.
 *
 * Deadlines are relative, in milliseconds: deadline_ms > 0 is the time the
 * call may take from its start; 0 means the client's default deadline
 * (hk_client_set_default_deadline, initially 30 s); HK_CLIENT_NO_DEADLINE
 * means none. The deadline is sent to hookd (grpc-timeout) and enforced here:
 * when it passes, the call ends with DEADLINE_EXCEEDED and its stream is reset.
 *
 * Link: pkg-config --cflags --libs hookd
 */

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <hookd/status.h>
#include <hookd/v1/webhooks.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "NOT_FOUND" for HK_STATUS_NOT_FOUND (or -HK_STATUS_NOT_FOUND: the sign is
 * ignored); "UNKNOWN" for a code gRPC does not define. A static string. */
const char *hk_client_status_name(int status);

#define HK_CLIENT_NO_DEADLINE (-1)

/* Where hookd listens when neither an argument nor HOOKD_SOCKET says. */
#define HK_CLIENT_ROOT_SOCKET "/var/lib/hookd/hookd.sock" /* uid 0 */
#define HK_CLIENT_USER_SOCKET ".hookd/hookd.sock"         /* under $HOME, others */

typedef struct hk_client hk_client_t;
typedef struct hk_client_call hk_client_call_t;

/* ---- the client -------------------------------------------------------- */

/* Creates a client for the hookd listening on socket_path; when socket_path
 * is NULL or empty, on $HOOKD_SOCKET when set and not empty, else on hookd's
 * default (HK_CLIENT_ROOT_SOCKET for root, $HOME/HK_CLIENT_USER_SOCKET for
 * others). Nothing is connected yet: the first call (or hk_client_connect)
 * connects, and a call after hookd restarted or closed the connection
 * reconnects on its own. One connection carries every call of the client.
 * On success *out owns the client; free it with hk_client_close.
 * Errors: -HK_STATUS_INVALID_ARGUMENT (path too long for a Unix socket, or no
 * home directory to find the default), -HK_STATUS_RESOURCE_EXHAUSTED. */
int hk_client_open(const char *socket_path, hk_client_t **out);

/* Cancels the calls still in flight (they end CANCELLED; their handles stay
 * valid until hk_client_call_free), closes the connection and frees the
 * client. NULL is a no-op. */
void hk_client_close(hk_client_t *client);

/* The socket path the client uses. Owned by the client. */
const char *hk_client_socket_path(const hk_client_t *client);

/* Connects now, if not connected, and waits until hookd's HTTP/2 settings
 * arrive: a cheap "is hookd there" check. Calls do this on their own.
 * Errors: -HK_STATUS_UNAVAILABLE (nothing listens there, or it is not
 * hookd), -HK_STATUS_DEADLINE_EXCEEDED. The message is in
 * hk_client_last_status. */
int hk_client_connect(hk_client_t *client, int deadline_ms);

/* Sets the deadline that deadline_ms == 0 means, and the one the generated
 * service stubs use (they have no deadline argument). deadline_ms > 0, or
 * HK_CLIENT_NO_DEADLINE. Errors: -HK_STATUS_INVALID_ARGUMENT. */
int hk_client_set_default_deadline(hk_client_t *client, int deadline_ms);

/* The status of the last synchronous operation on the client (hk_client_unary,
 * the typed helpers, the service stubs, hk_client_connect): returns its code
 * (HK_STATUS_OK, HK_STATUS_NOT_FOUND, ..., never negative) and, when message
 * is not NULL, sets *message to its text ("" when none; owned by the client,
 * valid until its next call). */
int hk_client_last_status(const hk_client_t *client, const char **message);

/* Counters, for logs and tests. */
typedef struct hk_client_stats {
    uint64_t connects; /* connections opened so far */
    uint64_t calls;    /* calls started so far (a transparent retry is not counted) */
    uint64_t retries;  /* calls sent again because hookd refused them unprocessed (GOAWAY) */
    unsigned pending;  /* calls started and not yet finished */
} hk_client_stats_t;
void hk_client_stats(const hk_client_t *client, hk_client_stats_t *out);

/* ---- asynchronous calls: start many, then wait ------------------------- */

/* Starts the unary call service/method (method: the RPC's name, e.g.
 * "CreateWebhook") with request, whose type must be the method's input type.
 * The request is encoded at once; the caller keeps ownership of it and may
 * free it on return. The call proceeds while the client waits (hk_client_wait
 * on it or on any other call of the client), many calls at once on one
 * connection. On success *out is a call handle the caller owns (free it with
 * hk_client_call_free), even when the call has already failed (e.g. hookd is
 * not there: the call is done with UNAVAILABLE).
 * Errors (no call is made, *out is NULL): -HK_STATUS_INVALID_ARGUMENT (unknown
 * method, wrong request type, bad deadline), -HK_STATUS_RESOURCE_EXHAUSTED. */
int hk_client_call_start(hk_client_t *client, const ProtobufCServiceDescriptor *service,
                         const char *method, const ProtobufCMessage *request, int deadline_ms,
                         hk_client_call_t **out);

/* Runs the connection until call is done; with call NULL, until every call of
 * the client is done. Other calls progress meanwhile. Returns the call's
 * result (0 or its negated status code; with call NULL, 0). Does not block
 * past the deadlines of the calls it waits for. */
int hk_client_wait(hk_client_t *client, hk_client_call_t *call);

/* 1 when the call has finished (successfully or not), else 0. */
int hk_client_call_done(const hk_client_call_t *call);

/* The status of a finished call: returns its code (HK_STATUS_OK, ..., never
 * negative; HK_STATUS_UNKNOWN while it is still running) and, when message is
 * not NULL, sets *message to hookd's grpc-message, percent-decoded, or the
 * library's own text ("" when none; owned by the call). */
int hk_client_call_status(const hk_client_call_t *call, const char **message);

/* Takes the decoded response out of a call that finished with HK_STATUS_OK:
 * a message of the method's output type, which the caller now owns and frees
 * with protobuf_c_message_free_unpacked(msg, NULL). NULL when the call failed,
 * is not done, or the response was already taken. */
ProtobufCMessage *hk_client_call_take_response(hk_client_call_t *call);

/* Frees a call. A call still in flight is cancelled first (its stream is
 * reset). NULL is a no-op. */
void hk_client_call_free(hk_client_call_t *call);

/* ---- synchronous calls ------------------------------------------------- */

/* Starts a call, waits for it and returns its result: 0 with *response set to
 * a message the caller owns (protobuf_c_message_free_unpacked(msg, NULL)), or
 * a negated status code with *response NULL. The status and its message are
 * then also in hk_client_last_status. */
int hk_client_unary(hk_client_t *client, const ProtobufCServiceDescriptor *service,
                    const char *method, const ProtobufCMessage *request, int deadline_ms,
                    ProtobufCMessage **response);

/* Typed hk_client_unary for each RPC of hookd.v1.Webhooks: the same contract,
 * with the method's own request and response types. */
int hk_client_create_webhook(hk_client_t *client, const Hookd__V1__CreateWebhookRequest *request,
                             int deadline_ms, Hookd__V1__Webhook **response);
int hk_client_get_webhook(hk_client_t *client, const Hookd__V1__GetWebhookRequest *request,
                          int deadline_ms, Hookd__V1__Webhook **response);
int hk_client_list_webhooks(hk_client_t *client, const Hookd__V1__ListWebhooksRequest *request,
                            int deadline_ms, Hookd__V1__ListWebhooksResponse **response);
int hk_client_update_webhook(hk_client_t *client, const Hookd__V1__UpdateWebhookRequest *request,
                             int deadline_ms, Hookd__V1__Webhook **response);
int hk_client_delete_webhook(hk_client_t *client, const Hookd__V1__DeleteWebhookRequest *request,
                             int deadline_ms, Hookd__V1__Webhook **response);
int hk_client_list_trigger_actions(hk_client_t *client,
                                   const Hookd__V1__ListTriggerActionsRequest *request,
                                   int deadline_ms,
                                   Hookd__V1__ListTriggerActionsResponse **response);
int hk_client_trigger_event(hk_client_t *client, const Hookd__V1__TriggerEventRequest *request,
                            int deadline_ms, Hookd__V1__TriggerEventResponse **response);
int hk_client_list_deliveries(hk_client_t *client, const Hookd__V1__ListDeliveriesRequest *request,
                              int deadline_ms, Hookd__V1__ListDeliveriesResponse **response);
int hk_client_get_delivery(hk_client_t *client, const Hookd__V1__GetDeliveryRequest *request,
                           int deadline_ms, Hookd__V1__Delivery **response);
int hk_client_redeliver_delivery(hk_client_t *client,
                                 const Hookd__V1__RedeliverDeliveryRequest *request,
                                 int deadline_ms, Hookd__V1__Delivery **response);

/* ---- the generated service stubs ---------------------------------------- */

/* The hookd.v1.Webhooks service of the client, for protobuf-c's generated
 * stubs:
 *
 *     hookd__v1__webhooks__get_webhook(hk_client_service(client), &req, done, arg);
 *
 * Each stub runs its call synchronously (with the client's default deadline)
 * and calls the closure before returning: with the decoded response, which
 * the library frees when the closure returns (copy what you keep), or with
 * NULL when the call failed; hk_client_last_status then says why. The service
 * belongs to the client: it is valid until hk_client_close, and
 * protobuf_c_service_destroy on it does nothing. */
ProtobufCService *hk_client_service(hk_client_t *client);

#ifdef __cplusplus
}
#endif

#endif
