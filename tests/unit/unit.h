/* unit.h -- the unit-test runner: TEST(name) { CHECK(...); } and nothing more */
#ifndef HK_UNIT_H
#define HK_UNIT_H

#include <stdio.h>
#include <string.h>

typedef void (*hk_test_fn)(void);

void hk_test_register(const char *name, hk_test_fn fn);
void hk_test_failed(const char *file, int line, const char *what);
/* A fresh empty directory under $TMPDIR for this test; removed at exit. */
const char *hk_test_tmpdir(void);

/* Defines a test; the runner runs every test, or only those named on its
 * command line (`unit_store_store put_get`). */
#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        hk_test_register(#name, test_##name);                                                      \
    }                                                                                              \
    static void test_##name(void)

/* Fails the test (and returns from it) when cond is false. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            hk_test_failed(__FILE__, __LINE__, #cond);                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            char m_[256];                                                                          \
            snprintf(m_, sizeof m_, "%s == %s (%lld != %lld)", #a, #b, a_, b_);                    \
            hk_test_failed(__FILE__, __LINE__, m_);                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            char m_[1024];                                                                         \
            snprintf(m_, sizeof m_, "%.200s == %.200s (\"%.250s\" != \"%.250s\")", #a, #b,         \
                     a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                      \
            hk_test_failed(__FILE__, __LINE__, m_);                                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
