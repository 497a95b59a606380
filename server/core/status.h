/* status.h -- gRPC status codes (the enum libhookd installs) and their names */
#ifndef HK_STATUS_H
#define HK_STATUS_H

#include <hookd/status.h> /* HK_STATUS_OK ... HK_STATUS_UNAUTHENTICATED */

/* "NOT_FOUND" for HK_STATUS_NOT_FOUND; "UNKNOWN" for codes out of range.
 * The one table of names: libhookd's hk_client_status_name uses it too. */
const char *hk_status_name(int status);

#endif
