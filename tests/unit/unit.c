/* unit.c -- the unit-test runner: runs the registered tests, prints one line each */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 512

static struct {
    const char *name;
    hk_test_fn fn;
} tests[MAX_TESTS];
static int n_tests, failed_now;
static char tmpdir[256];

void hk_test_register(const char *name, hk_test_fn fn)
{
    if (n_tests == MAX_TESTS) abort();
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

void hk_test_failed(const char *file, int line, const char *what)
{
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
    failed_now = 1;
}

static void remove_tmpdir(void)
{
    if (!tmpdir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

const char *hk_test_tmpdir(void)
{
    remove_tmpdir();
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/hk-unit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        abort();
    }
    return tmpdir;
}

static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int ran = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        if (!wanted(argc, argv, tests[i].name)) continue;
        failed_now = 0;
        tests[i].fn();
        remove_tmpdir();
        printf("%s %s\n", failed_now ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        ran++;
        failed += failed_now;
    }
    printf("%d tests, %d failed\n", ran, failed);
    if (ran == 0) return 1; /* a name that matches nothing is a mistake, not a pass */
    return failed ? 1 : 0;
}
