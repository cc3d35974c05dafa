/* unit.h -- the whole unit-test framework: assertions that print both
 * values, RUN_TEST, and a closing "N passed, N failed" line.
 *
 * A failed assertion prints file, line, both expressions and both values,
 * marks the running test failed and returns from the test function. The
 * binary exits 1 if any test failed. Each test ends by proving cleanup
 * (zeroed structs; leaks are caught by LeakSanitizer in the asan build). */
#ifndef HD_UNIT_H
#define HD_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed;
static int unit_failed;
static int unit_cur_failed;

#define UNIT_FAIL_(...)                                                        \
    do {                                                                       \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        unit_cur_failed = 1;                                                   \
        return;                                                                \
    } while (0)

#define ASSERT_TRUE(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            UNIT_FAIL_("expected true: %s", #c);                               \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            UNIT_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);              \
    } while (0)

#define ASSERT_INT_NE(a, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ == b_)                                                          \
            UNIT_FAIL_("%s != %s: both %lld", #a, #b, a_);                     \
    } while (0)

#define ASSERT_INT_LE(a, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (!(a_ <= b_))                                                       \
            UNIT_FAIL_("%s <= %s: %lld > %lld", #a, #b, a_, b_);               \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                   \
            UNIT_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b,                   \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                       \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (h_ == NULL || strstr(h_, n_) == NULL)                              \
            UNIT_FAIL_("%s contains %s: \"%s\" lacks \"%s\"", #hay, #needle,   \
                       h_ ? h_ : "(null)", n_);                                \
    } while (0)

#define ASSERT_STR_LACKS(hay, needle)                                          \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (h_ != NULL && strstr(h_, n_) != NULL)                              \
            UNIT_FAIL_("%s lacks %s: \"%s\" has \"%s\"", #hay, #needle, h_,    \
                       n_);                                                    \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                 \
    do {                                                                       \
        if (memcmp((a), (b), (n)) != 0)                                        \
            UNIT_FAIL_("%s == %s: %zu bytes differ", #a, #b, (size_t)(n));     \
    } while (0)

#define ASSERT_NULL(p)                                                         \
    do {                                                                       \
        if ((p) != NULL)                                                       \
            UNIT_FAIL_("%s is not NULL", #p);                                  \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                     \
    do {                                                                       \
        if ((p) == NULL)                                                       \
            UNIT_FAIL_("%s is NULL", #p);                                      \
    } while (0)

#define RUN_TEST(fn)                                                           \
    do {                                                                       \
        unit_cur_failed = 0;                                                   \
        fn();                                                                  \
        if (unit_cur_failed) {                                                 \
            unit_failed++;                                                     \
            printf("not ok - %s\n", #fn);                                      \
        } else {                                                               \
            unit_passed++;                                                     \
            printf("ok - %s\n", #fn);                                          \
        }                                                                      \
        fflush(stdout);                                                        \
    } while (0)

#define UNIT_DONE()                                                            \
    (printf("%d passed, %d failed\n", unit_passed, unit_failed),               \
     unit_failed ? 1 : 0)

#endif
