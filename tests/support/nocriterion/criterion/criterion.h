/*
 * nocriterion/criterion/criterion.h — a small stand-in for the part of Criterion that the
 * threaded suites (test_shard.c, test_stress.c) and test_support.c use, for
 * ThreadSanitizer builds only.
 *
 * Why: Criterion's sandbox (BoxFort) places a shared "inheritable arena" at a random
 * address between 0x2000'0000'0000 and 0x7f00'0000'0000 and gives up when every probe
 * is already mapped; under TSan that whole range is reserved (shadow, meta and guard
 * mappings), so every Criterion binary aborts before its first test with "Could not
 * initialize inheritable arena" (Criterion issue #274, still open). With this header
 * first on the include path and no -lcriterion, the same sources build into a plain
 * program: each Test runs in its own fork()ed child (fresh globals, as under Criterion),
 * with its suite's .init/.fini, and a failed assertion prints file:line and the message
 * and ends that child with status 1. Exit status: 0 when every test passed.
 *
 * Build: every engine/src source, tests/support/test_support.c,
 * tests/support/nocriterion/nocriterion.c and the suite, all with -fsanitize=thread and
 * -Itests/support/nocriterion ahead of the other include directories; link -lm -lpthread
 * (no Criterion).
 */
#ifndef INV_NOCRITERION_H
#define INV_NOCRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct nocr_suite {
    const char *name;
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    struct nocr_suite *next;
} nocr_suite;

typedef struct nocr_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    struct nocr_test *next;
} nocr_test;

void nocr_register_suite(nocr_suite *s);
void nocr_register_test(nocr_test *t);
void nocr_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
void nocr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TestSuite(Suite, ...)                                                              \
    static nocr_suite nocr_suite_##Suite = {.name = #Suite, __VA_ARGS__};                  \
    __attribute__((constructor)) static void nocr_suite_reg_##Suite(void) {                \
        nocr_register_suite(&nocr_suite_##Suite);                                          \
    }

#define Test(Suite, Name, ...)                                                             \
    static void Suite##_##Name##_impl(void);                                               \
    static nocr_test nocr_test_##Suite##_##Name = {                                        \
        .suite = #Suite, .name = #Name, .fn = Suite##_##Name##_impl, __VA_ARGS__};        \
    __attribute__((constructor)) static void nocr_test_reg_##Suite##_##Name(void) {        \
        nocr_register_test(&nocr_test_##Suite##_##Name);                                   \
    }                                                                                      \
    static void Suite##_##Name##_impl(void)

/* The message, when given, is a format and its arguments; " " precedes it so that an
 * assertion without a message still has a (blank, non-empty) format. */
#define NOCR_CHECK(cond, expr, ...)                                                        \
    do {                                                                                   \
        if (!(cond)) nocr_fail(__FILE__, __LINE__, expr, " " __VA_ARGS__);                 \
    } while (0)

#define cr_assert(Cond, ...) NOCR_CHECK((Cond), #Cond, __VA_ARGS__)
#define cr_expect(Cond, ...) cr_assert(Cond, __VA_ARGS__)
#define cr_assert_not(Cond, ...) NOCR_CHECK(!(Cond), "!(" #Cond ")", __VA_ARGS__)
#define cr_assert_eq(A, B, ...) NOCR_CHECK((A) == (B), #A " == " #B, __VA_ARGS__)
#define cr_assert_neq(A, B, ...) NOCR_CHECK((A) != (B), #A " != " #B, __VA_ARGS__)
#define cr_assert_lt(A, B, ...) NOCR_CHECK((A) < (B), #A " < " #B, __VA_ARGS__)
#define cr_assert_leq(A, B, ...) NOCR_CHECK((A) <= (B), #A " <= " #B, __VA_ARGS__)
#define cr_assert_gt(A, B, ...) NOCR_CHECK((A) > (B), #A " > " #B, __VA_ARGS__)
#define cr_assert_geq(A, B, ...) NOCR_CHECK((A) >= (B), #A " >= " #B, __VA_ARGS__)
#define cr_assert_null(P, ...) NOCR_CHECK((P) == NULL, #P " == NULL", __VA_ARGS__)
#define cr_assert_not_null(P, ...) NOCR_CHECK((P) != NULL, #P " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(A, B, ...)                                                        \
    NOCR_CHECK(strcmp((A), (B)) == 0, #A " equals " #B, __VA_ARGS__)
#define cr_assert_str_neq(A, B, ...)                                                       \
    NOCR_CHECK(strcmp((A), (B)) != 0, #A " differs from " #B, __VA_ARGS__)
#define cr_assert_float_eq(A, B, Eps, ...)                                                 \
    NOCR_CHECK((A) - (B) <= (Eps) && (B) - (A) <= (Eps), #A " ~= " #B, __VA_ARGS__)
#define cr_log_info(...) nocr_log(__VA_ARGS__)
#define cr_skip_test(...)                                                                  \
    do {                                                                                   \
        nocr_log("skipped: " __VA_ARGS__);                                                 \
        return;                                                                            \
    } while (0)

#endif /* INV_NOCRITERION_H */
