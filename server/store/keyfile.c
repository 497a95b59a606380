/* keyfile.c -- the key that seals webhook secrets: "<dir>/secret.key" */
#include "store/keyfile.h"
#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "secret.key"

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? HK_EINVAL : 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Creates the key file whole or not at all: written and synced under a
 * temporary name, then linked into place (link refuses an existing name, so
 * two hookds starting together agree on one key). HK_EEXIST: another won. */
static int key_create(const char *dir, const char *path, uint8_t key[HK_SEAL_KEY_BYTES])
{
    char tmp[PATH_MAX];
    char suffix[64];
    int fd = -1, err = HK_EIO;
    snprintf(suffix, sizeof suffix, KEY_FILE ".%ld.tmp", (long)getpid());
    if (path_join(tmp, sizeof tmp, dir, suffix)) return HK_EINVAL;
    unlink(tmp); /* left by a crash of a process that had our pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) goto out;
    hk_crypto_random(key, HK_SEAL_KEY_BYTES);
    if (write_all(fd, key, HK_SEAL_KEY_BYTES) || fsync(fd)) goto out;
    if (link(tmp, path) != 0) {
        err = errno == EEXIST ? HK_EEXIST : HK_EIO;
        goto out;
    }
    fsync_dir(dir);
    err = 0;
out:
    if (err == HK_EIO) hk_log(HK_LOG_ERROR, "store_key_create", "errno=%d", errno);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (err) hk_crypto_wipe(key, HK_SEAL_KEY_BYTES);
    return err;
}

/* Refuses a key file that others could read or that is not exactly one key
 * long. */
int hk_keyfile_load(const char *dir, int may_create, uint8_t key[HK_SEAL_KEY_BYTES])
{
    char path[PATH_MAX], q[PATH_MAX + 8];
    struct stat st;
    int fd = -1, err;
    if (path_join(path, sizeof path, dir, KEY_FILE)) return HK_EINVAL;

    for (int tries = 0; tries < 2; tries++) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || errno != ENOENT) break;
        if (!may_create) {
            hk_log(HK_LOG_ERROR, "store_key_missing",
                   "path=%s why=\"the store has sealed "
                   "secrets but no key file\"",
                   hk_log_quote(path, q, sizeof q));
            return HK_ESTATE;
        }
        err = key_create(dir, path, key);
        if (err == 0) {
            hk_log(HK_LOG_INFO, "store_key_created", "path=%s", hk_log_quote(path, q, sizeof q));
            return 0;
        }
        if (err != HK_EEXIST) return err;
    }
    err = HK_EIO;
    if (fd < 0) {
        hk_log(HK_LOG_ERROR, "store_key_open", "path=%s errno=%d", hk_log_quote(path, q, sizeof q),
               errno);
        goto out;
    }
    if (fstat(fd, &st) != 0) goto out;
    err = HK_ESTATE;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        hk_log(HK_LOG_ERROR, "store_key_mode",
               "path=%s mode=%04o why=\"must be a file of mode "
               "0600 or stricter\"",
               hk_log_quote(path, q, sizeof q), (unsigned)(st.st_mode & 07777));
        goto out;
    }
    err = HK_ECORRUPT;
    if (st.st_size != HK_SEAL_KEY_BYTES) {
        hk_log(HK_LOG_ERROR, "store_key_size", "path=%s size=%lld expected=%d",
               hk_log_quote(path, q, sizeof q), (long long)st.st_size, HK_SEAL_KEY_BYTES);
        goto out;
    }
    size_t got = 0;
    while (got < HK_SEAL_KEY_BYTES) {
        ssize_t n = read(fd, key + got, HK_SEAL_KEY_BYTES - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    err = got == HK_SEAL_KEY_BYTES ? 0 : HK_EIO;
out:
    if (fd >= 0) close(fd);
    if (err) hk_crypto_wipe(key, HK_SEAL_KEY_BYTES);
    return err;
}
