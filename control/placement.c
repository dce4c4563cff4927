/* SPDX-License-Identifier: BSD-3-Clause */
/* Scale-out: topic placement in etcd, written by compare-and-swap; a topic's move from this pair to another and back. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <common/policy.h>
#include <common/proto.h>

#include "etcd.h"
#include "placement.h"
#include "rpc.h"

#define TICK_NS (100ull * 1000000)	 /* placement work, when etcd answers */
#define RETRY_NS (1000ull * 1000000)	 /* ... after it did not */
#define MAX_OUT 64			 /* moves out of this pair in flight */
#define CAS_TRIES 3			 /* an inbox edited by two sources at once */
#define ADDR_LEN 24

struct sl_place {
	struct sl_ctl *ctl;
	struct sl_etcd *etcd;
	char pair[SL_CNC_PAIR_LEN];
	char addr[ADDR_LEN];
	int registered;	 /* the service key is written */
	size_t sweep_at; /* state topics before it were checked since start */
	int swept;	 /* ... all of them */
	uint64_t next_ns;
	char out[MAX_OUT][SL_CNC_NAME_LEN]; /* topics moving out: marked once etcd says so */
	unsigned n_out;
};

/* ---- keys and values ---- */

static void
key_placement(char *k, size_t n, const char *topic)
{
	snprintf(k, n, "/sluice/placement/%.208s", topic);
}

static void
key_pair(char *k, size_t n, const char *pair, const char *what)
{
	snprintf(k, n, "/sluice/pairs/%.64s/%.16s", pair, what);
}

/* Read @key as a JSON object into *@v (NULL when absent). 0, -ENOENT, or
 * an etcd error; -EPROTO for a value that is not an object. */
static int
read_json(struct sl_place *p, const char *key, struct sl_etcd_kv *kv, json_t **v)
{
	int rc = sl_etcd_get(p->etcd, key, kv);

	*v = NULL;
	if (rc < 0)
		return rc;
	*v = json_loadb(kv->value, kv->len, 0, NULL);
	if (!json_is_object(*v)) {
		json_decref(*v);
		*v = NULL;
		return -EPROTO;
	}
	return 0;
}

/* CAS @v (an object, stolen) at @key against @mod_rev (0: absent). 1, 0, or an error. */
static int
cas_json(struct sl_place *p, const char *key, int64_t mod_rev, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = s ? sl_etcd_cas(p->etcd, key, mod_rev, s, strlen(s), NULL) : -ENOMEM;

	free(s);
	json_decref(v);
	return rc;
}

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static uint32_t
epoch_of(const json_t *o)
{
	json_int_t e = json_integer_value(json_object_get(o, "epoch"));

	return e > 0 && e < UINT32_MAX ? (uint32_t)e : 0;
}

/* The settings a topic carries to the pair it moves to (topic.create's arguments). */
static json_t *
spec_json(const struct sl_state_topic *t)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:s}", "durability",
			      sl_durability_name(t->durability), "retain_mb", (json_int_t)t->retain_mb,
			      "retain_s", (json_int_t)t->retain_s, "capacity_mb",
			      (json_int_t)t->capacity_mb, "encryption",
			      sl_cnc_enc_name(t->encryption));

	if (o != NULL && t->max_message != 0)
		json_object_set_new(o, "max_message", json_integer(t->max_message));
	return o;
}

/* ---- the local state ---- */

/* Set (@pair not NULL) or clear the moved mark of state topic @name, saved
 * and sent to the dataplane (TOPIC_UPDATE). 0 or -errno (logged). */
static int
mark(struct sl_place *p, const char *name, const char *pair, const char *addr, uint32_t epoch)
{
	struct sl_req r = { .ctl = p->ctl };
	struct sl_cnc_cmd c[1];
	struct sl_state_topic *t;
	struct sl_state next;
	size_t n;

	if (sl_req_draft(&r, &next))
		return -ENOMEM;
	t = sl_state_topic_find(&next, name);
	if (t == NULL || t->partitions != 0) {
		sl_state_fini(&next);
		return -ENOENT;
	}
	memset(&t->moved, 0, sizeof(t->moved));
	if (pair != NULL) {
		snprintf(t->moved.pair, sizeof(t->moved.pair), "%s", pair);
		snprintf(t->moved.addr, sizeof(t->moved.addr), "%s", addr);
		t->moved.epoch = epoch;
	}
	n = sl_state_topic_cmds(t, SL_CNC_TOPIC_UPDATE, c, 1);
	if (sl_req_commit(&r, &next, c, n)) {
		sl_ctl_log(p->ctl, 1, "topic %s: moved mark not applied: %s", name, r.err);
		return -EIO;
	}
	if (r.ticket > 0)
		sl_sync_ticket_forget(p->ctl->sync, r.ticket);
	if (pair != NULL)
		sl_ctl_log(p->ctl, 0, "topic %s: now owned by pair %s (%s), epoch %u: clients are "
			   "told SL_E_MOVED", name, pair, addr, epoch);
	else
		sl_ctl_log(p->ctl, 0, "topic %s: owned by this pair again", name);
	return 0;
}

static int
out_add(struct sl_place *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->n_out; i++)
		if (strcmp(p->out[i], name) == 0)
			return 0;
	if (p->n_out == MAX_OUT)
		return -ENOSPC;
	snprintf(p->out[p->n_out++], SL_CNC_NAME_LEN, "%s", name);
	return 0;
}

/* ---- inboxes ---- */

/* Add (@add) or remove @name in @pair's inbox. 0 or an error. */
static int
inbox_edit(struct sl_place *p, const char *pair, const char *name, int add)
{
	char key[128];
	struct sl_etcd_kv kv;
	json_t *v, *a, *e;
	int tries, rc;
	size_t i;

	key_pair(key, sizeof(key), pair, "inbox");
	for (tries = 0; tries < CAS_TRIES; tries++) {
		rc = read_json(p, key, &kv, &v);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (v == NULL)
			v = json_pack("{s:[]}", "topics");
		a = json_object_get(v, "topics");
		if (!json_is_array(a)) {
			json_object_set_new(v, "topics", json_array());
			a = json_object_get(v, "topics");
		}
		json_array_foreach(a, i, e)
			if (strcmp(json_string_value(e) ? json_string_value(e) : "", name) == 0)
				break;
		if (add == (i < json_array_size(a))) {
			json_decref(v);
			return 0; /* already as asked */
		}
		if (add)
			json_array_append_new(a, json_string(name));
		else
			json_array_remove(a, i);
		rc = cas_json(p, key, kv.create_rev ? kv.mod_rev : 0, v);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return -EAGAIN;
}

/* ---- the tick ---- */

/*
 * Topic @name of this pair's inbox. Placement moving it here: create it
 * (once), and once the dataplane has it, take the placement (CAS to this
 * pair, epoch + 1); then it leaves the inbox. 0 or an etcd error.
 */
static int
take(struct sl_place *p, const char *name)
{
	char key[SL_CNC_NAME_LEN + 32];
	struct sl_etcd_kv kv;
	const struct sl_state_topic *t;
	json_t *v, *nv;
	int rc;

	key_placement(key, sizeof(key), name);
	rc = read_json(p, key, &kv, &v);
	if (rc < 0 && rc != -ENOENT && rc != -EPROTO)
		return rc;
	if (v == NULL || strcmp(str_of(v, "moving_to"), p->pair) != 0 ||
	    strcmp(str_of(v, "pair"), p->pair) == 0) {
		json_decref(v);
		return inbox_edit(p, p->pair, name, 0); /* cancelled, or taken already */
	}
	t = sl_state_topic_find(&p->ctl->state, name);
	if (t == NULL) {
		struct sl_req r = { .ctl = p->ctl };
		json_t *args = json_deep_copy(json_object_get(v, "spec"));

		if (!json_is_object(args)) {
			json_decref(args);
			args = json_object();
		}
		json_object_set_new(args, "name", json_string(name));
		r.args = args;
		if (sl_rpc_topic_create(&r) < 0)
			sl_ctl_log(p->ctl, 1, "topic %s moving here: not created: %s", name, r.err);
		else
			sl_ctl_log(p->ctl, 0, "topic %s moving here from pair %s: created", name,
				   str_of(v, "pair"));
		if (r.ticket > 0)
			sl_sync_ticket_forget(p->ctl->sync, r.ticket);
		json_decref(r.res);
		json_decref(args);
		json_decref(v);
		return 0; /* taken once the dataplane has it */
	}
	/* Clients are sent here from the moment the CAS lands: only once
	 * the dataplane serves the topic. */
	if (!sl_rpc_topic_live(p->ctl, name)) {
		json_decref(v);
		return 0;
	}
	nv = json_pack("{s:s, s:s, s:I, s:s}", "pair", p->pair, "addr", p->addr, "epoch",
		       (json_int_t)epoch_of(v) + 1, "from", str_of(v, "pair"));
	rc = cas_json(p, key, kv.mod_rev, nv);
	if (rc == 1) {
		sl_ctl_log(p->ctl, 0, "topic %s: placement now pair %s, epoch %u", name, p->pair,
			   epoch_of(v) + 1);
		if (t->moved.pair[0] != '\0')
			mark(p, name, NULL, NULL, 0); /* moved back here */
		rc = inbox_edit(p, p->pair, name, 0);
	}
	json_decref(v);
	return rc < 0 ? rc : 0;
}

static int
tick_inbox(struct sl_place *p)
{
	char key[128], names[MAX_OUT][SL_CNC_NAME_LEN];
	struct sl_etcd_kv kv;
	const json_t *e;
	unsigned n = 0, i;
	json_t *v;
	size_t k;
	int rc;

	key_pair(key, sizeof(key), p->pair, "inbox");
	rc = read_json(p, key, &kv, &v);
	if (rc == -ENOENT || rc == -EPROTO)
		return 0;
	if (rc < 0)
		return rc;
	json_array_foreach(json_object_get(v, "topics"), k, e)
		if (json_string_value(e) != NULL && n < MAX_OUT)
			snprintf(names[n++], SL_CNC_NAME_LEN, "%s", json_string_value(e));
	json_decref(v);
	for (i = 0; i < n && rc == 0; i++)
		rc = take(p, names[i]);
	return rc;
}

/* A topic moving out: marked moved once etcd names another pair; dropped
 * from the list when the move was cancelled. 1 when done with it, 0 not
 * yet, or an etcd error. */
static int
check_out(struct sl_place *p, const char *name)
{
	char key[SL_CNC_NAME_LEN + 32];
	struct sl_etcd_kv kv;
	const char *owner;
	json_t *v;
	int rc;

	key_placement(key, sizeof(key), name);
	rc = read_json(p, key, &kv, &v);
	if (rc == -ENOENT) {
		/* Created while etcd did not answer: placed here now. */
		rc = cas_json(p, key, 0, json_pack("{s:s, s:s, s:i}", "pair", p->pair, "addr",
						   p->addr, "epoch", 1));
		return rc < 0 ? rc : 1;
	}
	if (rc == -EPROTO)
		return 1;
	if (rc < 0)
		return rc;
	owner = str_of(v, "pair");
	rc = 0;
	if (owner[0] != '\0' && strcmp(owner, p->pair) != 0) {
		mark(p, name, owner, str_of(v, "addr"), epoch_of(v));
		rc = 1;
	} else if (str_of(v, "moving_to")[0] == '\0') {
		rc = 1; /* still ours, no move under way */
	}
	json_decref(v);
	return rc;
}

static int
tick_out(struct sl_place *p)
{
	unsigned i = 0;
	int rc;

	while (i < p->n_out) {
		rc = check_out(p, p->out[i]);
		if (rc < 0)
			return rc;
		if (rc == 1)
			memmove(p->out[i], p->out[--p->n_out], SL_CNC_NAME_LEN);
		else
			i++;
	}
	return 0;
}

/* After a restart: every topic this pair holds and has not marked is
 * checked once (a move may have finished while it was down), MAX_OUT at
 * a time through the list of moves out. */
static void
sweep(struct sl_place *p)
{
	const struct sl_state *st = &p->ctl->state;

	while (p->sweep_at < st->n_topics && p->n_out < MAX_OUT) {
		const struct sl_state_topic *t = &st->topics[p->sweep_at++];

		if (t->partitions == 0 && t->moved.pair[0] == '\0')
			out_add(p, t->name);
	}
	p->swept = p->sweep_at >= st->n_topics;
}

void
sl_place_tick(struct sl_place *p, uint64_t now_ns)
{
	char key[128], val[64];
	int rc = 0;

	if (now_ns < p->next_ns)
		return;
	if (!p->registered) {
		key_pair(key, sizeof(key), p->pair, "service");
		snprintf(val, sizeof(val), "{\"addr\":\"%s\"}", p->addr);
		rc = sl_etcd_put(p->etcd, key, val, strlen(val), 0);
		p->registered = rc == 0;
		if (rc == 0)
			sl_ctl_log(p->ctl, 0, "pair %s: service address %s registered for placement",
				   p->pair, p->addr);
	}
	if (rc == 0 && !p->swept)
		sweep(p);
	if (rc == 0)
		rc = tick_inbox(p);
	if (rc == 0)
		rc = tick_out(p);
	p->next_ns = now_ns + (rc < 0 ? RETRY_NS : TICK_NS);
}

/* ---- topic.create ---- */

int
sl_place_create_check(struct sl_req *r, const char *name)
{
	struct sl_place *p = r->ctl->place;
	char key[SL_CNC_NAME_LEN + 32];
	struct sl_etcd_kv kv;
	json_t *v;
	int refused;

	if (p == NULL || name == NULL)
		return 0;
	key_placement(key, sizeof(key), name);
	if (read_json(p, key, &kv, &v) < 0)
		return 0;
	refused = strcmp(str_of(v, "pair"), p->pair) != 0 &&
		  strcmp(str_of(v, "moving_to"), p->pair) != 0;
	if (refused)
		sl_req_fail(r, "exists", "topic '%.200s' is placed on pair %.32s (%.32s): create or "
			    "use it there, or move it here (sluicectl topic move %.200s --to %.32s "
			    "on that pair)", name, str_of(v, "pair"), str_of(v, "addr"), name, p->pair);
	json_decref(v);
	return refused;
}

void
sl_place_created(struct sl_req *r, const char *name)
{
	struct sl_place *p = r->ctl->place;
	char key[SL_CNC_NAME_LEN + 32];
	const char *what;
	int rc;

	if (p == NULL || r->res == NULL)
		return;
	key_placement(key, sizeof(key), name);
	rc = cas_json(p, key, 0, json_pack("{s:s, s:s, s:i}", "pair", p->pair, "addr", p->addr,
					   "epoch", 1));
	what = rc == 1 ? "recorded" : rc == 0 ? "kept" : "not recorded";
	if (rc < 0)
		sl_ctl_log(r->ctl, 1, "topic %s: placement not recorded in etcd: %s", name,
			   sl_etcd_errmsg(p->etcd));
	json_object_set_new(r->res, "placement", json_string(what));
}

/* ---- topic.move and topic.placement ---- */

/* topic.move's checks of what etcd holds; 0 or -1 with @r answered. */
static int
move_check(struct sl_req *r, const char *name, const char *to, const json_t *v)
{
	struct sl_place *p = r->ctl->place;
	const char *owner = v ? str_of(v, "pair") : p->pair;
	const char *moving = v ? str_of(v, "moving_to") : "";

	if (strcmp(owner, p->pair) != 0)
		return sl_req_fail(r, "invalid", "topic '%.200s' is placed on pair %.32s, not this "
				   "pair (%.32s): move it from there", name, owner, p->pair);
	if (moving[0] != '\0' && strcmp(moving, to) != 0)
		return sl_req_fail(r, "invalid", "topic '%.200s' is moving to pair %.32s already",
				   name, moving);
	return 0;
}

/* {"pair","addr","epoch","moving_to"?} of the placement @v, or null. */
static json_t *
placement_res(const char *name, const json_t *v, const struct sl_state_topic *t)
{
	json_t *o = json_pack("{s:s, s:O?}", "name", name, "placement", v);

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "local", json_string(t == NULL ? "absent" :
						    t->moved.pair[0] ? "moved" : "owned"));
	if (t != NULL && t->moved.pair[0])
		json_object_set_new(o, "moved", json_pack("{s:s, s:s, s:I}", "pair", t->moved.pair,
							  "addr", t->moved.addr, "epoch",
							  (json_int_t)t->moved.epoch));
	return o;
}

int
sl_rpc_topic_move(struct sl_req *r)
{
	static const char *const ok[] = { "name", "to", NULL };
	struct sl_place *p = r->ctl->place;
	char key[SL_CNC_NAME_LEN + 32];
	const struct sl_state_topic *t;
	struct sl_etcd_kv kv;
	const char *name, *to;
	json_t *v = NULL, *nv;
	int rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name) ||
	    sl_req_arg_str(r, "to", 1, &to))
		return -1;
	if (p == NULL)
		return sl_req_fail(r, "invalid", "this sluice-control keeps no placement: start it "
				   "with --etcd, --pair and --advertise (docs/SCALEOUT.md)");
	t = sl_state_topic_find(&r->ctl->state, name);
	if (t == NULL)
		return sl_req_fail(r, "not_found", "no topic '%.200s' on this pair", name);
	if (t->partitions != 0)
		return sl_req_fail(r, "invalid", "topic '%.200s' is partitioned: partitioned topics "
				   "do not move (docs/SCALEOUT.md)", name);
	if (t->moved.pair[0] != '\0')
		return sl_req_fail(r, "invalid", "topic '%.200s' moved to pair %.32s already", name,
				   t->moved.pair);
	if (strcmp(to, p->pair) == 0 || strlen(to) >= SL_CNC_PAIR_LEN)
		return sl_req_fail(r, "invalid", "pair '%.32s' is this pair, or not a pair name", to);
	key_pair(key, sizeof(key), to, "service");
	rc = sl_etcd_get(p->etcd, key, &kv);
	if (rc == -ENOENT)
		return sl_req_fail(r, "not_found", "pair '%.32s' is unknown: no sluice-control with "
				   "--pair %.32s --advertise has registered in etcd", to, to);
	key_placement(key, sizeof(key), name);
	if (rc == 0)
		rc = read_json(p, key, &kv, &v);
	if (rc < 0 && rc != -ENOENT)
		return sl_req_fail(r, "internal", "etcd: %s", sl_etcd_errmsg(p->etcd));
	if (move_check(r, name, to, v) < 0) {
		json_decref(v);
		return -1;
	}
	/* Owner stays this pair until the target takes it (placement.h). */
	nv = json_pack("{s:s, s:s, s:I, s:s, s:o}", "pair", p->pair, "addr", p->addr, "epoch",
		       (json_int_t)(v ? epoch_of(v) : 1), "moving_to", to, "spec", spec_json(t));
	json_decref(v);
	rc = cas_json(p, key, rc == 0 ? kv.mod_rev : 0, nv);
	if (rc == 0)
		return sl_req_fail(r, "internal", "topic '%.200s': its placement changed meanwhile: "
				   "try again", name);
	if (rc == 1)
		rc = inbox_edit(p, to, name, 1);
	if (rc < 0)
		return sl_req_fail(r, "internal", "etcd: %s", sl_etcd_errmsg(p->etcd));
	if (out_add(p, name) < 0)
		return sl_req_fail(r, "internal", "too many moves under way (%d)", MAX_OUT);
	p->next_ns = 0; /* look at once */
	r->res = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "from", p->pair, "to", to,
			   "state", "moving");
	return 0;
}

int
sl_rpc_topic_placement(struct sl_req *r)
{
	static const char *const ok[] = { "name", NULL };
	struct sl_place *p = r->ctl->place;
	char key[SL_CNC_NAME_LEN + 32];
	struct sl_etcd_kv kv;
	const char *name;
	json_t *v = NULL;
	int rc;

	if (sl_req_args_only(r, ok) || sl_req_arg_str(r, "name", 1, &name))
		return -1;
	if (p == NULL)
		return sl_req_fail(r, "invalid", "this sluice-control keeps no placement: start it "
				   "with --etcd, --pair and --advertise (docs/SCALEOUT.md)");
	key_placement(key, sizeof(key), name);
	rc = read_json(p, key, &kv, &v);
	if (rc < 0 && rc != -ENOENT)
		return sl_req_fail(r, "internal", "etcd: %s", sl_etcd_errmsg(p->etcd));
	r->res = placement_res(name, v, sl_state_topic_find(&r->ctl->state, name));
	json_decref(v);
	return r->res ? 0 : sl_req_fail(r, "internal", "out of memory");
}

/* ---- life ---- */

int
sl_place_open(struct sl_place **out, struct sl_ctl *ctl, const char *etcd, const char *pair,
	      const char *advertise, char *err, size_t errlen)
{
	struct sl_place *p;
	char host[ADDR_LEN];
	uint8_t a[4];
	char *colon;
	int rc;

	snprintf(host, sizeof(host), "%s", advertise);
	colon = strrchr(host, ':');
	if (strlen(advertise) >= sizeof(host) || colon == NULL || atoi(colon + 1) <= 0 ||
	    atoi(colon + 1) > 65535 || (*colon = '\0', inet_pton(AF_INET, host, a) != 1)) {
		snprintf(err, errlen, "--advertise %s: give the pair's service address as IP:PORT",
			 advertise);
		return -EINVAL;
	}
	if (strlen(pair) >= SL_CNC_PAIR_LEN) {
		snprintf(err, errlen, "--pair %s: at most %d characters for scale-out", pair,
			 SL_CNC_PAIR_LEN - 1);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	rc = sl_etcd_open(&p->etcd, etcd, 0, 0);
	if (rc < 0) {
		snprintf(err, errlen, "--etcd %s: not a list of http(s):// URLs", etcd);
		free(p);
		return rc;
	}
	p->ctl = ctl;
	snprintf(p->pair, sizeof(p->pair), "%s", pair);
	snprintf(p->addr, sizeof(p->addr), "%s", advertise);
	*out = p;
	return 0;
}

void
sl_place_close(struct sl_place *p)
{
	if (p == NULL)
		return;
	sl_etcd_close(p->etcd);
	free(p);
}
