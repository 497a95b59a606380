/* error.h -- hookd's error codes, and the one place they become gRPC statuses */
#ifndef HK_ERROR_H
#define HK_ERROR_H

#include <stddef.h>

/* Every hookd function that can fail returns 0 or one of these. Library
 * errors (MDB_*, CURLcode, nghttp2, errno) are converted at the module that
 * owns the library. */
enum {
    HK_OK = 0,
    HK_ENOMEM = -1,      /* out of memory */
    HK_EINVAL = -2,      /* a value breaks a rule */
    HK_ENOTFOUND = -3,   /* no such webhook / delivery / record */
    HK_EEXIST = -4,      /* the name (or key) is taken */
    HK_EFULL = -5,       /* the store's map is full; nothing was written */
    HK_EIO = -6,         /* the disk or the OS failed */
    HK_ECORRUPT = -7,    /* a stored record does not decode */
    HK_ETOOBIG = -8,     /* a message, payload or header over its limit */
    HK_EPERM = -9,       /* the caller may not do this */
    HK_ESTATE = -10,     /* refused in the current state (failed precondition) */
    HK_ECANCELED = -11,  /* the caller went away */
    HK_ETIMEDOUT = -12,  /* a deadline passed */
    HK_ESHUTDOWN = -13,  /* hookd is stopping */
    HK_EBUSY = -14,      /* a limit on work in flight was reached */
    HK_EADDRINUSE = -15, /* another live server answers on the socket */
    HK_ENOSPC = -16      /* the disk holding the store is full (ENOSPC, EDQUOT) */
};

/* A short English description of err ("not found"); never NULL. */
const char *hk_strerror(int err);

/* Writes the printf-style reason into err (size errlen; either may be
 * NULL/0) and returns HK_EINVAL, so a checker can `return hk_error_invalid(...)`. */
int hk_error_invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The gRPC status (HK_STATUS_*) that answers a call failing with err. */
int hk_error_status(int err);

#endif
