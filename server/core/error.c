/* error.c -- hookd's error codes, and the one place they become gRPC statuses */
#include "core/error.h"
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *hk_strerror(int err)
{
    switch (err) {
    case HK_OK: return "ok";
    case HK_ENOMEM: return "out of memory";
    case HK_EINVAL: return "invalid argument";
    case HK_ENOTFOUND: return "not found";
    case HK_EEXIST: return "already exists";
    case HK_EFULL: return "store full";
    case HK_EIO: return "the disk or the system failed (I/O error)";
    case HK_ECORRUPT: return "stored record is corrupt";
    case HK_ETOOBIG: return "too large";
    case HK_EPERM: return "permission denied";
    case HK_ESTATE: return "not allowed in the current state";
    case HK_ECANCELED: return "cancelled";
    case HK_ETIMEDOUT: return "deadline exceeded";
    case HK_ESHUTDOWN: return "shutting down";
    case HK_EBUSY: return "too much work in flight";
    case HK_EADDRINUSE: return "another server answers on the socket";
    case HK_ENOSPC: return "no space left on the disk";
    }
    return "unknown error";
}

int hk_error_status(int err)
{
    switch (err) {
    case HK_OK: return HK_STATUS_OK;
    case HK_EINVAL: return HK_STATUS_INVALID_ARGUMENT;
    case HK_ENOTFOUND: return HK_STATUS_NOT_FOUND;
    case HK_EEXIST: return HK_STATUS_ALREADY_EXISTS;
    case HK_EFULL:
    case HK_ENOSPC:
    case HK_ETOOBIG:
    case HK_EBUSY: return HK_STATUS_RESOURCE_EXHAUSTED;
    case HK_EPERM: return HK_STATUS_PERMISSION_DENIED;
    case HK_ESTATE: return HK_STATUS_FAILED_PRECONDITION;
    case HK_ECANCELED: return HK_STATUS_CANCELLED;
    case HK_ETIMEDOUT: return HK_STATUS_DEADLINE_EXCEEDED;
    case HK_ESHUTDOWN:
    /* The disk failed a write or a sync: nothing of the call was written,
     * and a retry later may well succeed. */
    case HK_EIO: return HK_STATUS_UNAVAILABLE;
    }
    return HK_STATUS_INTERNAL;
}

int hk_error_invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return HK_EINVAL;
}
