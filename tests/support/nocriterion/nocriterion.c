/* nocriterion.c — the runner behind nocriterion/criterion/criterion.h (see there). */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static nocr_suite *suites;
static nocr_test *tests_head, **tests_tail = &tests_head;

void nocr_register_suite(nocr_suite *s) {
    s->next = suites;
    suites = s;
}

void nocr_register_test(nocr_test *t) { /* constructors run in file order: keep it */
    t->next = NULL;
    *tests_tail = t;
    tests_tail = &t->next;
}

void nocr_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
    fprintf(stderr, "[FAIL] %s:%d: %s\n", file, line, expr);
    if (fmt[0] != '\0' && fmt[1] != '\0') { /* fmt is " " + the caller's format */
        va_list ap;
        va_start(ap, fmt);
        fputs("[----]  ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fflush(stderr);
    _exit(1);
}

void nocr_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("[----] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const nocr_suite *suite_of(const char *name) {
    for (const nocr_suite *s = suites; s != NULL; s = s->next)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}

/* Run one test in a child; @return 1 if it passed. */
static int run_one(const nocr_test *t) {
    const nocr_suite *s = suite_of(t->suite);
    void (*init)(void) = t->init ? t->init : s ? s->init : NULL;
    void (*fini)(void) = t->fini ? t->fini : s ? s->fini : NULL;
    double timeout = t->timeout > 0 ? t->timeout : s && s->timeout > 0 ? s->timeout : 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        if (timeout > 0) alarm((unsigned)timeout + 1u);
        if (init) init();
        t->fn();
        if (fini) fini();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "[FAIL] %s::%s: killed by signal %d%s\n", t->suite, t->name,
                WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    return 0;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) /* Criterion-style: --filter suite/name; others ignored */
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
    unsigned run = 0, passed = 0;
    for (const nocr_test *t = tests_head; t != NULL; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (t->disabled || (filter != NULL && strstr(full, filter) == NULL)) continue;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int ok = run_one(t);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        fprintf(stderr, "[%s] %s::%s: (%.2fs)\n", ok ? "PASS" : "FAIL", t->suite, t->name, secs);
        run++;
        passed += (unsigned)ok;
    }
    fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u\n", run, passed,
            run - passed);
    return passed == run ? 0 : 1;
}
