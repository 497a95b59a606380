/* diskfault.c -- LD_PRELOAD shim for test_store_full.py: fails hookd's writes or syncs of data.mdb
 * on demand */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* While the file named by HK_DISKFAULT exists and holds "<errno> write",
 * "<errno> meta" or "<errno> sync", writes of data pages (past the two meta
 * pages), writes of the meta pages (after which LMDB gives the environment
 * up) or syncs of data.mdb fail with that errno. */
static int fault(int fd, const char *kind)
{
    const char *ctl = getenv("HK_DISKFAULT");
    char link[64], path[512], what[16] = "";
    int e = 0;
    if (!ctl) return 0;
    FILE *f = fopen(ctl, "r");
    if (!f) return 0;
    if (fscanf(f, "%d %15s", &e, what) != 2) e = 0;
    fclose(f);
    if (!e || strcmp(what, kind) != 0) return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 8) return 0;
    path[n] = 0;
    if (strcmp(path + n - 8, "data.mdb") != 0) return 0;
    return e;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    int e = fault(fd, off >= 8192 ? "write" : "meta");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    if (!real) real = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    int e = fault(fd, lseek(fd, 0, SEEK_CUR) >= 8192 ? "write" : "meta");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, iov, cnt);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int e = fault(fd, "sync");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int e = fault(fd, "sync");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}
