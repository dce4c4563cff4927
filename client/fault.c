/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only loss injection in libsluice's UDP transport (built only with
 * -Dfault_injection=true): the probabilities come from the environment,
 * read once per process; each thread draws from its own seeded stream.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fault.h"

static double fault_tx_p, fault_rx_p;
static uint64_t fault_seed = 1;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t fault_threads;
static __thread uint64_t fault_rng;
static __thread int fault_rng_set;

static double
env_prob(const char *name)
{
	const char *v = getenv(name);
	char *end;
	double p;

	if (v == NULL || *v == '\0')
		return 0;
	p = strtod(v, &end);
	if (end == v || *end || !(p >= 0 && p <= 1)) {
		fprintf(stderr, "libsluice: %s='%s' ignored: want a probability 0..1\n", name, v);
		return 0;
	}
	return p;
}

static void
fault_init(void)
{
	const char *s = getenv("SLUICE_FAULT_SEED");

	fault_tx_p = env_prob("SLUICE_FAULT_CLIENT_TX_LOSS");
	fault_rx_p = env_prob("SLUICE_FAULT_CLIENT_RX_LOSS");
	if (s)
		fault_seed = strtoull(s, NULL, 0);
	if (fault_tx_p > 0 || fault_rx_p > 0)
		fprintf(stderr, "libsluice: FAULT INJECTION BUILD: losing %.4f of sent and %.4f "
			"of received datagrams (seed %llu); not for production\n", fault_tx_p,
			fault_rx_p, (unsigned long long)fault_seed);
}

static bool
fault_draw(double p)
{
	uint64_t z;

	if (p <= 0)
		return false;
	if (!fault_rng_set) {
		/* Threads get distinct streams, all fixed by the one seed. */
		fault_rng = fault_seed * 2 + 0x5eed + 7919 * fault_threads++;
		fault_rng_set = 1;
	}
	z = (fault_rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53 < p;
}

bool
sl_cl_fault_tx_lose(void)
{
	pthread_once(&fault_once, fault_init);
	return fault_draw(fault_tx_p);
}

bool
sl_cl_fault_rx_lose(void)
{
	pthread_once(&fault_once, fault_init);
	return fault_draw(fault_rx_p);
}
