/* SPDX-License-Identifier: BSD-3-Clause */
/* What every unit test shares: the CHECK macro and a seeded PRNG. */

#ifndef SLUICE_TESTS_CHECK_H
#define SLUICE_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

/* Failed checks so far; a test's main returns 1 when it is not 0. */
static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);              \
		}                                                                        \
	} while (0)

/* CHECK(a == b) for integers, printing both values when they differ. */
#define CHECK_EQ(a, b)                                                                   \
	do {                                                                             \
		long long a_ = (long long)(a), b_ = (long long)(b);                      \
		if (a_ != b_) {                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);                     \
			__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);              \
		}                                                                        \
	} while (0)

/* xorshift64*: a fixed seed keeps failures reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* main's exit status: 0 when every check passed, 1 otherwise. */
static inline int
check_result(const char *test)
{
	if (failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", test, failures);
		return 1;
	}
	printf("%s: ok\n", test);
	return 0;
}

#endif /* SLUICE_TESTS_CHECK_H */
