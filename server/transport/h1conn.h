/* h1conn.h -- the HTTP/1.1 side of a connection: requests one at a time, timeouts, answers */
#ifndef HK_H1CONN_H
#define HK_H1CONN_H

#include <stddef.h>
#include <stdint.h>

#include "transport/conn.h"

/* Makes conn an HTTP/1.1 connection (conn.c found no HTTP/2 preface).
 * Returns 0 or HK_ENOMEM. */
int hk_h1conn_start(hk_conn_t *conn);

/* Bytes read from the socket (copied). May answer, dispatch or close. */
void hk_h1conn_read(hk_conn_t *conn, const uint8_t *data, size_t len);

/* Writes the answer of the connection's current call: http_status,
 * content_type and body (copied). The next request is taken from the loop,
 * later; a request that did not keep the connection closes it once the
 * answer is written. */
void hk_h1conn_answer(hk_call_t *call, int http_status, const char *content_type,
                      const uint8_t *body, size_t len);

/* hk_server_stop: close now when idle, else after the current answer. */
void hk_h1conn_goaway(hk_conn_t *conn);

/* After a write completed: resumes reading and parsing held back by
 * backpressure. */
void hk_h1conn_pump(hk_conn_t *conn);

/* hk_conn_drop for an HTTP/1.1 connection: 408 and close when a request's
 * headers are under way, else close. */
void hk_h1conn_expire(hk_conn_t *conn, const char *reason);

/* conn_close: stops the timers and frees the HTTP/1.1 state (from the loop). */
void hk_h1conn_close(hk_conn_t *conn);

#endif
