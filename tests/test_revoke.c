/* SPDX-License-Identifier: BSD-3-Clause */
/* Revocation sweeps on a real worker: revoked subscribers get an ERROR and stop, revoked sessions end; a pattern subscription carries its session's encryption to the main lcore. */

#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_ring_elem.h>

#include "authz_cmd.h"
#include "check.h"
#include "dp_harness.h"
#include "worker_internal.h"

static struct sl_dp dp;
static struct rte_ring *rx, *tx;
static struct sl_authz_builder b;
static struct sl_authz *tables[16];
static unsigned n_tables;
static uint32_t gen;

#define MAX_REPLIES 16

static struct sl_error errs[MAX_REPLIES];
static unsigned n_errs, n_delivers;

static void
take(void *arg, const struct sl_frame *f, unsigned dgram)
{
	(void)arg;
	(void)dgram;
	if (f->hdr->type == SL_FT_DELIVER)
		n_delivers++;
	if (f->hdr->type == SL_FT_ERROR && n_errs < MAX_REPLIES && f->len >= sizeof(errs[0]))
		memcpy(&errs[n_errs++], f->hdr, sizeof(errs[0]));
}

static void
apply(struct sl_cnc_cmd c)
{
	CHECK(cmd_apply(&b, c) == 0);
}

/* Publish the builder's table to the worker, as the main lcore does. */
static const struct sl_authz *
publish(void)
{
	struct sl_authz *a = sl_authz_build(&b, &dp.route);

	CHECK(a != NULL && n_tables < 16);
	tables[n_tables++] = a;
	__atomic_store_n(&dp.authz, a, __ATOMIC_RELEASE);
	return a;
}

/* Run round @round of a sweep on the worker; collect what it sent. Returns
 * 1 when it acknowledged that round of that sweep on the slow ring. */
static int
sweep(uint8_t round)
{
	struct sl_handoff h = { .kind = SL_HO_AUTHZ_SWEEP, .topic = ++gen, .code = round }, ack;
	int acked = 0;

	n_errs = 0;
	n_delivers = 0;
	CHECK(rte_ring_enqueue_elem(dp.workers[0]->in, &h, sizeof(h)) == 0);
	CHECK(harness_recv(&dp, tx, 3, take, NULL) >= 0);
	while (rte_ring_dequeue_elem(dp.slow, &ack, sizeof(ack)) == 0)
		if (ack.kind == SL_HO_AUTHZ_SWEPT)
			acked = ack.topic == gen && ack.code == round && ack.src_worker == 0;
	return acked;
}

static struct sl_session *
open_session(uint16_t uid, uint16_t serial)
{
	struct sl_worker *w = dp.workers[0];
	struct sl_session *s = NULL;

	CHECK(sl_session_open(&w->sessions, HARNESS_CLIENT_IP, htons(HARNESS_CLIENT_PORT), &s) == 0);
	if (s == NULL)
		return NULL;
	s->transport = SL_TRANSPORT_UDP;
	s->auth = SL_SESSION_AUTH_OK;
	s->uid = uid;
	s->user_epoch = serial;
	s->last_seen = rte_get_tsc_cycles();
	return s;
}

static int
session_alive(void)
{
	return sl_session_find_addr(&dp.workers[0]->sessions, HARNESS_CLIENT_IP,
				    htons(HARNESS_CLIENT_PORT)) != NULL;
}

static void
subscribe(uint32_t topic, const struct sl_session *s, uint32_t req_id)
{
	struct sl_sub sub;

	memset(&sub, 0, sizeof(sub));
	sub.session = s->id;
	sub.peer.udp.transport = SL_TRANSPORT_UDP;
	memcpy(sub.peer.udp.mac, harness_client_mac, 6);
	sub.peer.udp.ip = HARNESS_CLIENT_IP;
	sub.peer.udp.port = htons(HARNESS_CLIENT_PORT);
	sub.peer.udp.port_id = dp.ports[0].port_id;
	sub.req_id = req_id;
	sub.credit = UINT64_MAX;
	CHECK(sl_route_sub_add_user(&dp.route, topic, &sub,
				    SL_AUTHZ_SUB_USER(s->uid, s->user_epoch)) == 0);
}

static uint64_t
ctr(enum sl_ctr c)
{
	return sl_ctr_read(&dp.workers[0]->ctr.ctr[c]);
}

/* A right revoked: that subscription gets SL_E_DENIED and ends, the others
 * and the session stay. Then the user removed: its last subscription gets
 * SL_E_AUTH_FAILED, and the session ends in round 2. */
static void
test_revoke_and_remove(uint32_t t_a, uint32_t t_b)
{
	const struct sl_authz *a;
	struct sl_session *s;
	uint64_t subs0 = ctr(SL_CTR_subs_revoked), sess0 = ctr(SL_CTR_sessions_revoked);

	apply(cmd_user(1, "alice", 1, -1));
	apply(cmd_acl(1, "r.>", SL_PERM_SUB));
	a = publish();
	s = open_session(1, a->users[1].epoch);
	if (s == NULL)
		return;
	subscribe(t_a, s, 71);
	subscribe(t_b, s, 72);
	/* Nothing revoked: a sweep changes nothing. */
	CHECK(sweep(1) && n_errs == 0);
	CHECK(sl_route_state(&dp.route, t_a)->n_subs == 1 && sl_route_state(&dp.route, t_b)->n_subs == 1);

	/* sub taken away on r.a, kept on r.b. */
	apply(cmd_acl(1, "r.>", 0));
	apply(cmd_acl(1, "r.b", SL_PERM_SUB));
	publish();
	CHECK(sweep(1));
	CHECK(n_errs == 1);
	CHECK(errs[0].code == SL_E_DENIED && errs[0].frame_type == SL_FT_SUBSCRIBE &&
	      errs[0].detail == t_a && errs[0].req_id == 71 && errs[0].h.session == s->id);
	CHECK(sl_route_state(&dp.route, t_a)->n_subs == 0);
	CHECK(sl_route_state(&dp.route, t_b)->n_subs == 1);
	CHECK(ctr(SL_CTR_subs_revoked) == subs0 + 1);
	CHECK(sweep(2) && n_errs == 0 && session_alive());

	/* The user removed. */
	apply((struct sl_cnc_cmd){ .type = SL_CNC_USER_DELETE, .u.user.uid = 1 });
	publish();
	CHECK(sweep(1));
	CHECK(n_errs == 1);
	CHECK(errs[0].code == SL_E_AUTH_FAILED && errs[0].frame_type == SL_FT_SUBSCRIBE &&
	      errs[0].detail == t_b && errs[0].req_id == 72);
	CHECK(sl_route_state(&dp.route, t_b)->n_subs == 0);
	CHECK(session_alive()); /* round 2 ends it */
	CHECK(sweep(2) && !session_alive());
	CHECK(ctr(SL_CTR_sessions_revoked) == sess0 + 1);
	CHECK(ctr(SL_CTR_subs_revoked) == subs0 + 2);
}

/* Rolling a key over keeps the sessions of both keys; retiring the older
 * key ends the sessions proved with it, and their subscriptions. */
static void
test_rollover(uint32_t t_a)
{
	const struct sl_authz *a;
	struct sl_session *s;
	uint16_t old;

	apply(cmd_user(2, "bob", 3, -1));
	apply(cmd_acl(2, "r.a", SL_PERM_SUB));
	a = publish();
	old = a->users[2].epoch;
	s = open_session(2, old);
	if (s == NULL)
		return;
	subscribe(t_a, s, 81);
	apply(cmd_user(2, "bob", 4, 3)); /* key-add: new key 4, old key 3 second */
	publish();
	CHECK(sweep(1) && n_errs == 0 && sl_route_state(&dp.route, t_a)->n_subs == 1);
	CHECK(sweep(2) && session_alive());
	apply(cmd_user(2, "bob", 4, -1)); /* key-retire */
	publish();
	CHECK(sweep(1) && n_errs == 1 && errs[0].code == SL_E_AUTH_FAILED && errs[0].req_id == 81);
	CHECK(sl_route_state(&dp.route, t_a)->n_subs == 0);
	CHECK(sweep(2) && !session_alive());
}

/* Open mode: nothing is revoked. */
static void
test_open(uint32_t t_a)
{
	struct sl_cnc_cmd c = { .type = SL_CNC_AUTH_MODE, .u.value = 0 };
	struct sl_session *s;

	apply(c);
	publish();
	s = open_session(0, 0);
	if (s == NULL)
		return;
	s->auth = SL_SESSION_AUTH_NONE;
	subscribe(t_a, s, 91);
	CHECK(sweep(1) && n_errs == 0 && sl_route_state(&dp.route, t_a)->n_subs == 1);
	CHECK(sweep(2) && session_alive());
	/* Required again: the anonymous subscriber and session go. */
	c.u.value = 1;
	apply(c);
	publish();
	CHECK(sweep(1) && n_errs == 1 && errs[0].code == SL_E_AUTH_REQUIRED);
	CHECK(sweep(2) && !session_alive());
}

/* Hand what the worker put on the slow-path ring to @fn, then free it. */
static void
slow_drain(void (*fn)(const struct sl_handoff *h, void *arg), void *arg)
{
	struct sl_handoff h;

	while (rte_ring_dequeue_elem(dp.slow, &h, sizeof(h)) == 0) {
		if (fn)
			fn(&h, arg);
		rte_pktmbuf_free(h.m);
	}
}

struct psub_seen {
	uint32_t session;
	int n;
	uint32_t flags;
};

static void
psub_seen(const struct sl_handoff *h, void *arg)
{
	struct psub_seen *p = arg;

	if (h->kind == SL_HO_PSUB && h->session == p->session) {
		p->n++;
		p->flags = h->flags;
	}
}

/* A PSUBSCRIBE from an unencrypted UDP session reaches the main lcore
 * flagged SL_HO_F_CLEAR, so that its pattern never reaches a topic whose
 * policy requires encryption (test_psub: what the main lcore does then). */
static void
test_psub_clear(void)
{
	struct sl_worker *w = dp.workers[0];
	uint16_t port = HARNESS_CLIENT_PORT + 1;
	struct psub_seen seen = { 0 };
	struct sl_session *s = NULL;
	uint64_t f[64];
	int n;

	CHECK(sl_session_open(&w->sessions, HARNESS_CLIENT_IP, htons(port), &s) == 0);
	if (s == NULL)
		return;
	s->transport = SL_TRANSPORT_UDP;
	s->auth = SL_SESSION_AUTH_NONE; /* open mode: the harness's table */
	s->version = SL_PROTO_VERSION;
	s->last_seen = rte_get_tsc_cycles();
	seen.session = s->id;
	n = sl_proto_put_psubscribe(f, sizeof(f), s->id, 5, "r.*", 3, 0);
	CHECK(n > 0 && harness_send_from(&dp, rx, port, f, (uint32_t)n) == 0);
	harness_rx_port = port;
	n_errs = 0;
	CHECK(harness_recv(&dp, tx, 3, take, NULL) >= 0);
	harness_rx_port = HARNESS_CLIENT_PORT;
	CHECK(n_errs == 0);
	slow_drain(psub_seen, &seen);
	CHECK(seen.n == 1 && (seen.flags & SL_HO_F_CLEAR));
	sl_worker_session_close(w, s);
	slow_drain(NULL, NULL);
}

int
main(int argc, char **argv)
{
	uint32_t t_a, t_b;
	unsigned i;
	int rc;

	(void)argc;
	(void)argv;
	rc = harness_start("test_revoke", &dp, &rx, &tx);
	if (rc)
		return rc;
	t_a = harness_topic(&dp, "r.a");
	t_b = harness_topic(&dp, "r.b");
	CHECK(t_a != 0 && t_b != 0);
	test_psub_clear(); /* before any table: open mode */
	sl_authz_builder_init(&b, 1);
	test_revoke_and_remove(t_a, t_b);
	test_rollover(t_a);
	test_open(t_a);
	harness_stop(&dp);
	for (i = 0; i < n_tables; i++)
		sl_authz_free(tables[i]);
	sl_authz_builder_fini(&b);
	return check_result("test_revoke");
}
