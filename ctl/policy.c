/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl policy: set and show authentication, idle strategy and rate limit. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define SL_CTL_MAX_RATE		100000000u	/* policy rate: as sluice-control's limit */

/* "key: value" lines, unaligned (scripts grep "auth: required"); rate_limit
 * in words: "N msgs/s per session" or "unlimited". */
static void
print_policy(json_t *obj)
{
	char key[200], val[512];
	const char *k;
	uint64_t u;
	json_t *m;

	json_object_foreach(obj, k, m) {
		sl_ctl_sanitize(key, sizeof(key), k);
		if (strcmp(k, "rate_limit") == 0 && sl_ctl_u64(m, &u) && u == 0)
			snprintf(val, sizeof(val), "unlimited");
		else if (strcmp(k, "rate_limit") == 0 && sl_ctl_u64(m, &u))
			snprintf(val, sizeof(val), "%llu msgs/s per session", (unsigned long long)u);
		else
			sl_ctl_fmt_val(val, sizeof(val), m);
		printf("%s: %s\n", key, val);
	}
}

/* "auth X idle Y rate N" (any of them, each once) into the request arguments @a. */
static int
policy_args(const struct sl_ctl_verb *v, const char *const *pos, json_t *a)
{
	static const char *const auths[] = { "open", "required", NULL };
	static const char *const idles[] = { "busy", "backoff", NULL };
	const char *auth = NULL, *idle = NULL, *rate = NULL;
	uint64_t rate_n = 0;

	for (int i = 0; i < 6 && pos[i] != NULL; i += 2) {
		const char **slot = strcmp(pos[i], "auth") == 0 ? &auth
				  : strcmp(pos[i], "idle") == 0 ? &idle
				  : strcmp(pos[i], "rate") == 0 ? &rate : NULL;

		if (slot == NULL || *slot != NULL)
			return sl_ctl_usage_err(v, "expected auth, idle or rate (each once), not '%s'",
						pos[i]);
		if (pos[i + 1] == NULL)
			return sl_ctl_usage_err(v, "%s needs a value", pos[i]);
		*slot = pos[i + 1];
	}
	if (auth != NULL && !sl_ctl_one_of(auth, auths))
		return sl_ctl_usage_err(v, "auth is open or required, not '%s'", auth);
	if (idle != NULL && !sl_ctl_one_of(idle, idles))
		return sl_ctl_usage_err(v, "idle is busy or backoff, not '%s'", idle);
	if (rate != NULL && (!sl_ctl_parse_u64(rate, &rate_n) || rate_n > SL_CTL_MAX_RATE))
		return sl_ctl_usage_err(v, "rate is 0 (unlimited) to %u publishes per second per "
					"session, not '%s'", SL_CTL_MAX_RATE, rate);
	if ((auth != NULL && json_object_set_new(a, "auth", json_string(auth)) < 0) ||
	    (idle != NULL && json_object_set_new(a, "idle", json_string(idle)) < 0) ||
	    (rate != NULL && json_object_set_new(a, "rate_limit",
						 json_integer((json_int_t)rate_n)) < 0))
		abort();
	return 0;
}

static int
cmd_policy_set(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *pos[6];
	struct sl_ctl_reply r;
	json_t *a;
	int rc;

	rc = sl_ctl_parse_args(c, v, argc, argv, NULL, pos, 2, 6);
	if (rc != 0)
		return rc;
	a = json_object();
	if (a == NULL)
		abort();
	rc = policy_args(v, pos, a);
	if (rc == 0)
		rc = sl_ctl_call(c, "policy.set", a, &r);
	json_decref(a);
	if (rc == 0 && !c->json && !c->quiet && json_object_size(r.result) > 0) {
		print_policy(r.result);
		c->quiet = true;	/* the policy was the message */
	}
	return sl_ctl_finish_change(c, rc, &r, "policy set");
}

static int
cmd_policy_show(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "policy.show", NULL, 0, print_policy);
}

const struct sl_ctl_verb sl_ctl_policy_verbs[] = {
	{ "policy", "set", "policy set [auth open|required] [idle busy|backoff] [rate N]",
	  "Set the authentication policy (required: clients must prove their key), the\n"
	  "dataplane's idle strategy (busy: spin, backoff: sleep when idle), the rate\n"
	  "limit (at most N publishes per second per session, 0 = unlimited, up to\n"
	  "100000000; publishes above it are refused with ERROR RATE_LIMITED), or any\n"
	  "combination, e.g. 'policy set auth required', 'policy set rate 1000' or\n"
	  "'policy set auth open idle backoff rate 0'.\n",
	  cmd_policy_set },
	{ "policy", "show", "policy show", "Show the policy.\n", cmd_policy_show },
	{ NULL, NULL, NULL, NULL, NULL },
};
