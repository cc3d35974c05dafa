/* test_alloc.c -- unit tests for common/core/alloc.c: the abort-on-OOM path is
 * proved in a child process. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"

/* Under ASan a huge malloc() must return NULL, as libc's does, so that our
 * own out-of-memory path is what runs. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void
test_dup_functions_copy(void)
{
    char *a = hd_xstrdup("herald");
    char *b = hd_xstrndup("herald", 3);
    char *c = hd_xmemdup("ab\0cd", 5);
    char *d = hd_xasprintf("%s-%d", "x", 42);

    ASSERT_STR_EQ(a, "herald");
    ASSERT_STR_EQ(b, "her");
    ASSERT_MEM_EQ(c, "ab\0cd\0", 6);
    ASSERT_STR_EQ(d, "x-42");
    free(a);
    free(b);
    free(c);
    free(d);
}

static void
test_zero_sizes_return_memory(void)
{
    void *p = hd_xmalloc(0);
    void *q = hd_xcalloc(0, 0);

    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(q);
    free(p);
    free(q);
}

static void
test_oom_aborts(void)
{
    pid_t pid = fork();
    int status = 0;

    if (pid == 0) {
        /* Far beyond what ASan or the kernel will hand out. */
        volatile size_t huge = SIZE_MAX / 2;
        void *p;

        freopen("/dev/null", "w", stderr);
        p = hd_xmalloc(huge);
        (void)p;
        _exit(0);
    }
    ASSERT_TRUE(pid > 0);
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_INT_EQ(WTERMSIG(status), SIGABRT);
}

int
main(void)
{
    RUN_TEST(test_dup_functions_copy);
    RUN_TEST(test_zero_sizes_return_memory);
    RUN_TEST(test_oom_aborts);
    return UNIT_DONE();
}
