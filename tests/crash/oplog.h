/* oplog.h -- the record format the crash shim writes and the crash checker reads */
#ifndef HK_OPLOG_H
#define HK_OPLOG_H

#include <stdint.h>

/* The log is a sequence of records, each a header, then path_len bytes of
 * path (relative to the watched data directory), then path2_len bytes of a
 * second path (rename, link), then data_len bytes of data (writes). Every
 * number is in host byte order: the log is read on the machine it was
 * written on. seq counts records from 1 with no gaps, in the order they
 * were appended (under one mutex). */
#define HK_OPLOG_MAGIC 0x6b636f70u /* "pock" */

typedef enum {
    HK_OP_OPEN = 1,   /* path opened as fd (flags: the open flags; aux: 1 if it existed) */
    HK_OP_WRITE,      /* data_len bytes at off through fd (write, pwrite, writev, pwritev) */
    HK_OP_TRUNC,      /* fd truncated to off */
    HK_OP_SYNC_BEGIN, /* fsync/fdatasync(fd) called (flags: HK_SYNC_*) */
    HK_OP_SYNC_END,   /* it returned (aux: the seq of its SYNC_BEGIN; res: its result) */
    HK_OP_RANGE,      /* sync_file_range(fd, off, data_len, flags): not a barrier */
    HK_OP_MSYNC,      /* msync of some mapping: not attributable to a file */
    HK_OP_RENAME,     /* path renamed to path2 */
    HK_OP_LINK,       /* path linked as path2 */
    HK_OP_UNLINK,     /* path unlinked */
    HK_OP_CLOSE       /* fd closed */
} hk_op_kind_t;

#define HK_SYNC_FSYNC 1
#define HK_SYNC_FDATASYNC 2

typedef struct {
    uint32_t magic;
    uint32_t kind;
    uint64_t seq;
    int32_t fd;
    int32_t res;    /* the call's result (0 / -1, or bytes for writes) */
    uint32_t flags; /* open flags, or HK_SYNC_* */
    uint32_t path_len;
    uint32_t path2_len;
    uint32_t pad;
    uint64_t off;
    uint64_t data_len;
    uint64_t aux;
} hk_oprec_t;

#endif
