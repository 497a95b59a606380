/* fs.h -- small filesystem helpers shared by the daemon and the store */
#ifndef HK_FS_H
#define HK_FS_H

#include <sys/types.h>

/* mkdir -p: creates every missing level of path, the last one with `mode`,
 * the ones above it with `parent_mode`. 0 when path is (now) a directory;
 * HK_EINVAL for an empty or over-long path; HK_EIO when a level cannot be made. */
int hk_fs_mkdirs(const char *path, mode_t parent_mode, mode_t mode);

#endif
