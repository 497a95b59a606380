/* fuzz.c -- what the libFuzzer harnesses share: a scratch directory, quiet logs, input as text */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static char scratch[256];
static pid_t scratch_owner;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

void hk_fuzz_rmtree(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0) return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void)
{
    /* Only the process that made it (libFuzzer -fork children share it). */
    if (scratch[0] && getpid() == scratch_owner) hk_fuzz_rmtree(scratch);
}

const char *hk_fuzz_init(void)
{
    if (scratch[0]) return scratch;
    hk_log_set_level(HK_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/hk-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch)) {
        perror("hk_fuzz_init: mkdtemp");
        abort();
    }
    scratch_owner = getpid();
    atexit(remove_scratch);
    return scratch;
}

char *hk_fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void hk_fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) abort();
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n <= 0) abort();
        data += n;
        size -= (size_t)n;
    }
    close(fd);
}
