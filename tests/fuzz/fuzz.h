/* fuzz.h -- what the libFuzzer harnesses share: a scratch directory, quiet logs, input as text */
#ifndef HK_FUZZ_H
#define HK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, defined by each harness (LLVMFuzzerInitialize
 * where it has one-time setup). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One-time setup every harness runs first: logs below ERROR are dropped (a
 * fuzzer makes millions of calls), SIGPIPE is ignored (as hookd's main does),
 * and a scratch directory is made under $TMPDIR, else /dev/shm, else /tmp;
 * it is removed with everything in it when the process exits. Returns its
 * path; aborts when it cannot be made. */
const char *hk_fuzz_init(void);

/* A malloc'd NUL-terminated copy of data (NULs inside stay: C string APIs see
 * the part before the first one). Aborts when out of memory. */
char *hk_fuzz_text(const uint8_t *data, size_t size);

/* Writes size bytes to path (created 0600, truncated). Aborts on failure. */
void hk_fuzz_write_file(const char *path, const uint8_t *data, size_t size);

/* Removes dir and everything in it (nothing when it does not exist). */
void hk_fuzz_rmtree(const char *dir);

#endif
