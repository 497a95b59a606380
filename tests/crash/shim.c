/* shim.c -- LD_PRELOAD library logging every file operation inside one directory, for crash states
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "oplog.h"

/* Environment: HK_CRASH_DIR (absolute; the directory whose files are
 * watched, spelled as the program spells it), HK_CRASH_LOG (the log,
 * appended to; "<log>.count" holds the number of records so far as one
 * 8-byte word, kept up to date through a shared mapping). Without both the
 * shim only passes calls on.
 *
 * What is logged: opens of paths inside the directory (and only the fds
 * they return are followed), then every write, truncate, sync, close on
 * them, and renames, links and unlinks naming such paths. A write is logged
 * after it returned, with the bytes it wrote; a sync is logged when called
 * (SYNC_BEGIN) and when it returned (SYNC_END), so a reader knows which
 * writes it surely covers: those logged before its SYNC_BEGIN. Records are
 * appended under one mutex with write(2), so threads may call in at once;
 * fds the shim does not follow never take the mutex (signal handlers
 * writing to a pipe stay safe). Not followed: dup'ed fds, writes through a
 * mapping (MDB_WRITEMAP), O_APPEND offsets. */

#define MAX_FDS 65536

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];
static size_t dir_len;
static int log_fd = -1;
static volatile uint64_t *counter;
static uint64_t seq;
static unsigned char followed[MAX_FDS]; /* 1: followed */

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_msync)(void *, size_t, int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_close)(int);

#define RESOLVE(name) (*(void **)&real_##name = dlsym(RTLD_NEXT, #name))

static void init(void)
{
    RESOLVE(open);
    RESOLVE(openat);
    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(writev);
    RESOLVE(pwritev);
    RESOLVE(pwritev2);
    RESOLVE(ftruncate);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    RESOLVE(msync);
    RESOLVE(sync_file_range);
    RESOLVE(rename);
    RESOLVE(renameat);
    RESOLVE(link);
    RESOLVE(linkat);
    RESOLVE(unlink);
    RESOLVE(unlinkat);
    RESOLVE(close);

    const char *d = getenv("HK_CRASH_DIR"), *l = getenv("HK_CRASH_LOG");
    if (!d || d[0] != '/' || !l || strlen(d) >= sizeof dir) return;
    snprintf(dir, sizeof dir, "%s", d);
    dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir[--dir_len] = 0;

    char cpath[PATH_MAX];
    if (snprintf(cpath, sizeof cpath, "%s.count", l) >= (int)sizeof cpath) return;
    int cfd = real_open(cpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (cfd < 0 || real_ftruncate(cfd, sizeof(uint64_t)) != 0) return;
    void *m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    real_close(cfd);
    if (m == MAP_FAILED) return;
    counter = m;
    log_fd = real_open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return;
    seq = *counter;
}

__attribute__((constructor)) static void shim_init(void)
{
    pthread_once(&once, init);
}

static int ready(void)
{
    pthread_once(&once, init);
    return log_fd >= 0;
}

static int is_followed(int fd)
{
    return fd >= 0 && fd < MAX_FDS && __atomic_load_n(&followed[fd], __ATOMIC_ACQUIRE);
}

static void log_bytes(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = real_write(log_fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) abort(); /* a log with a hole would make every state a lie */
        c += w;
        n -= (size_t)w;
    }
}

/* Appends one record (mutex held); data comes from iov (iovcnt pieces),
 * data_len bytes of it. Returns its seq. */
static uint64_t append(hk_oprec_t *r, const char *path, const char *path2, const struct iovec *iov,
                       int iovcnt)
{
    r->magic = HK_OPLOG_MAGIC;
    r->seq = ++seq;
    r->path_len = path ? (uint32_t)strlen(path) : 0;
    r->path2_len = path2 ? (uint32_t)strlen(path2) : 0;
    log_bytes(r, sizeof *r);
    if (r->path_len) log_bytes(path, r->path_len);
    if (r->path2_len) log_bytes(path2, r->path2_len);
    uint64_t left = r->data_len;
    for (int i = 0; i < iovcnt && left > 0; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;
        log_bytes(iov[i].iov_base, n);
        left -= n;
    }
    __atomic_store_n(counter, r->seq, __ATOMIC_RELEASE);
    return r->seq;
}

static uint64_t record(hk_oprec_t *r, const char *path, const char *path2, const struct iovec *iov,
                       int iovcnt)
{
    int saved = errno;
    pthread_mutex_lock(&mu);
    uint64_t s = append(r, path, path2, iov, iovcnt);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return s;
}

/* The path relative to the watched directory when it lies inside it
 * (returns 1), else 0. out gets the relative path, or the absolute one. */
static int inside(int dirfd, const char *path, char *out, size_t n)
{
    char abs[PATH_MAX * 2];
    if (!path) return 0;
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base)) return 0;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t l = readlink(link, base, sizeof base - 1);
            if (l < 0) return 0;
            base[l] = 0;
        }
        snprintf(abs, sizeof abs, "%s/%s", base, path);
    }
    int in = strncmp(abs, dir, dir_len) == 0 && abs[dir_len] == '/' && abs[dir_len + 1];
    const char *rel = in ? abs + dir_len + 1 : abs;
    while (in && *rel == '/')
        rel++;
    if (snprintf(out, n, "%s", rel) >= (int)n) return 0; /* too long to follow */
    return in;
}

static int follow_open(int dirfd, const char *path, int flags, int fd, int existed)
{
    char rel[PATH_MAX];
    if (fd < 0 || fd >= MAX_FDS || !inside(dirfd, path, rel, sizeof rel)) return fd;
    int saved = errno;
    pthread_mutex_lock(&mu);
    __atomic_store_n(&followed[fd], 1, __ATOMIC_RELEASE);
    hk_oprec_t r = {.kind = HK_OP_OPEN, .fd = fd, .res = fd, .flags = (uint32_t)flags};
    r.aux = (uint64_t)existed;
    append(&r, rel, NULL, NULL, 0);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return fd;
}

static int existed_at(int dirfd, const char *path, int flags)
{
    struct stat st;
    if (!(flags & O_CREAT)) return 1;
    return fstatat(dirfd, path, &st, 0) == 0;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    if (!ready()) return real_openat(dirfd, path, flags, mode);
    int existed = existed_at(dirfd, path, flags);
    int fd = real_openat(dirfd, path, flags, mode);
    return follow_open(dirfd, path, flags, fd, existed);
}

#define MODE_ARG(flags, mode)                                                                      \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    return do_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    return do_openat(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    return do_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    return do_openat(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    return do_openat(AT_FDCWD, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
    return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

static void log_write(int fd, off_t off, ssize_t n, const struct iovec *iov, int iovcnt)
{
    if (n <= 0) return;
    hk_oprec_t r = {.kind = HK_OP_WRITE, .fd = fd, .res = (int32_t)n};
    r.off = (uint64_t)off;
    r.data_len = (uint64_t)n;
    record(&r, NULL, NULL, iov, iovcnt);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (!ready() || !is_followed(fd)) {
        pthread_once(&once, init);
        return real_write(fd, buf, len);
    }
    off_t off = lseek(fd, 0, SEEK_CUR);
    ssize_t n = real_write(fd, buf, len);
    struct iovec iov = {(void *)buf, len};
    log_write(fd, off, n, &iov, 1);
    return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (!ready() || !is_followed(fd)) return real_pwrite(fd, buf, len, off);
    ssize_t n = real_pwrite(fd, buf, len, off);
    struct iovec iov = {(void *)buf, len};
    log_write(fd, off, n, &iov, 1);
    return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (!ready() || !is_followed(fd)) return real_writev(fd, iov, iovcnt);
    off_t off = lseek(fd, 0, SEEK_CUR);
    ssize_t n = real_writev(fd, iov, iovcnt);
    log_write(fd, off, n, iov, iovcnt);
    return n;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (!ready() || !is_followed(fd)) return real_pwritev(fd, iov, iovcnt, off);
    ssize_t n = real_pwritev(fd, iov, iovcnt, off);
    log_write(fd, off, n, iov, iovcnt);
    return n;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return pwritev(fd, iov, iovcnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    if (!ready() || !is_followed(fd)) return real_pwritev2(fd, iov, iovcnt, off, flags);
    if (off == -1) off = lseek(fd, 0, SEEK_CUR);
    ssize_t n = real_pwritev2(fd, iov, iovcnt, off, flags);
    hk_oprec_t r = {.kind = HK_OP_WRITE, .fd = fd, .res = (int32_t)n};
    /* RWF_DSYNC / RWF_SYNC make this one write durable, as O_DSYNC does. */
    r.flags = (flags & (RWF_DSYNC | RWF_SYNC)) ? O_DSYNC : 0;
    r.off = (uint64_t)off;
    r.data_len = n > 0 ? (uint64_t)n : 0;
    if (n > 0) record(&r, NULL, NULL, iov, iovcnt);
    return n;
}

int ftruncate(int fd, off_t len)
{
    if (!ready() || !is_followed(fd)) return real_ftruncate(fd, len);
    int rc = real_ftruncate(fd, len);
    if (rc == 0) {
        hk_oprec_t r = {.kind = HK_OP_TRUNC, .fd = fd};
        r.off = (uint64_t)len;
        record(&r, NULL, NULL, NULL, 0);
    }
    return rc;
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

static int do_sync(int fd, int how)
{
    hk_oprec_t b = {.kind = HK_OP_SYNC_BEGIN, .fd = fd, .flags = (uint32_t)how};
    uint64_t begin = record(&b, NULL, NULL, NULL, 0);
    int rc = how == HK_SYNC_FSYNC ? real_fsync(fd) : real_fdatasync(fd);
    int saved = errno;
    hk_oprec_t e = {.kind = HK_OP_SYNC_END, .fd = fd, .res = rc, .flags = (uint32_t)how};
    e.aux = begin;
    record(&e, NULL, NULL, NULL, 0);
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    if (!ready() || !is_followed(fd)) return real_fsync(fd);
    return do_sync(fd, HK_SYNC_FSYNC);
}

int fdatasync(int fd)
{
    if (!ready() || !is_followed(fd)) return real_fdatasync(fd);
    return do_sync(fd, HK_SYNC_FDATASYNC);
}

int msync(void *addr, size_t len, int flags)
{
    if (!ready()) return real_msync(addr, len, flags);
    int rc = real_msync(addr, len, flags);
    hk_oprec_t r = {.kind = HK_OP_MSYNC, .fd = -1, .res = rc, .flags = (uint32_t)flags};
    r.off = (uint64_t)(uintptr_t)addr;
    r.aux = len;
    record(&r, NULL, NULL, NULL, 0);
    return rc;
}

int sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
    if (!ready() || !is_followed(fd)) return real_sync_file_range(fd, off, len, flags);
    int rc = real_sync_file_range(fd, off, len, flags);
    hk_oprec_t r = {.kind = HK_OP_RANGE, .fd = fd, .res = rc, .flags = flags};
    r.off = (uint64_t)off;
    r.aux = (uint64_t)len;
    record(&r, NULL, NULL, NULL, 0);
    return rc;
}

static void log_paths(int kind, int fd1, const char *p1, int fd2, const char *p2, int rc)
{
    char r1[PATH_MAX], r2[PATH_MAX];
    int in1 = inside(fd1, p1, r1, sizeof r1);
    int in2 = p2 ? inside(fd2, p2, r2, sizeof r2) : 0;
    if (rc != 0 || (!in1 && !in2)) return;
    hk_oprec_t r = {.kind = (uint32_t)kind, .fd = -1};
    record(&r, r1, p2 ? r2 : NULL, NULL, 0);
}

int rename(const char *from, const char *to)
{
    if (!ready()) return real_rename(from, to);
    int rc = real_rename(from, to);
    log_paths(HK_OP_RENAME, AT_FDCWD, from, AT_FDCWD, to, rc);
    return rc;
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
    if (!ready()) return real_renameat(fd1, from, fd2, to);
    int rc = real_renameat(fd1, from, fd2, to);
    log_paths(HK_OP_RENAME, fd1, from, fd2, to, rc);
    return rc;
}

int link(const char *from, const char *to)
{
    if (!ready()) return real_link(from, to);
    int rc = real_link(from, to);
    log_paths(HK_OP_LINK, AT_FDCWD, from, AT_FDCWD, to, rc);
    return rc;
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
    if (!ready()) return real_linkat(fd1, from, fd2, to, flags);
    int rc = real_linkat(fd1, from, fd2, to, flags);
    log_paths(HK_OP_LINK, fd1, from, fd2, to, rc);
    return rc;
}

int unlink(const char *path)
{
    if (!ready()) return real_unlink(path);
    int rc = real_unlink(path);
    log_paths(HK_OP_UNLINK, AT_FDCWD, path, AT_FDCWD, NULL, rc);
    return rc;
}

int unlinkat(int dirfd, const char *path, int flags)
{
    if (!ready()) return real_unlinkat(dirfd, path, flags);
    int rc = real_unlinkat(dirfd, path, flags);
    log_paths(HK_OP_UNLINK, dirfd, path, dirfd, NULL, rc);
    return rc;
}

int close(int fd)
{
    if (!ready() || !is_followed(fd)) return real_close(fd);
    /* Held across the call: the fd number may be handed out again as soon
     * as close returns, and its new open must not be forgotten here. */
    pthread_mutex_lock(&mu);
    int rc = real_close(fd);
    int saved = errno;
    __atomic_store_n(&followed[fd], 0, __ATOMIC_RELEASE);
    hk_oprec_t r = {.kind = HK_OP_CLOSE, .fd = fd, .res = rc};
    append(&r, NULL, NULL, NULL, 0);
    pthread_mutex_unlock(&mu);
    errno = saved;
    return rc;
}
