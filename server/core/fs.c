/* fs.c -- small filesystem helpers shared by the daemon and the store */
#include "core/fs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

int hk_fs_mkdirs(const char *path, mode_t parent_mode, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return HK_EINVAL;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, parent_mode) != 0 && errno != EEXIST) return HK_EIO;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return HK_EIO;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : HK_EIO;
}
