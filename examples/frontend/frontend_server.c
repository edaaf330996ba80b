/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * frontend-server - serves specs/frontend.anf and, from its handlers, calls
 * kv (specs/kv.anf) and ratelimited (specs/ratelimited.anf) on other hosts.
 *
 * One process, three services, one interface: the frontend's socket is
 * opened first, and the two clients share its AF_XDP sockets
 * (flatrpc_sock_opts.share), since a queue takes one AF_XDP socket. All three
 * specs are loaded on the interface, so each service's XDP sees its own
 * frames: the frontend's requests, and the backends' answers. lookup sends
 * both backend calls before it waits for either, so that the answers come
 * back interleaved, each to its own call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "frontend_stubs.h"
#include "kv_stubs.h"
#include "ratelimited_stubs.h"

struct backend {
	const char			*name;		/* "kv", in messages */
	const struct flatrpc_service_desc *svc;
	const char			*addr;		/* --kv, --rl as given */
	struct flatrpc_peer		peer;
	struct flatrpc_sock		*s;
	uint64_t			calls, failed;
};

struct server {
	struct ex_server	x;
	struct backend		kv, rl;
	uint64_t		n_lookup, n_store;
};

/* The backend's refusal or failure, in the words of its own spec. */
static void why(const struct backend *b, int err, uint8_t status, char *out, size_t cap)
{
	snprintf(out, cap, "%s", err == FLATRPC_E_ANF || err == FLATRPC_E_REMOTE ?
		 flatrpc_status_str(b->svc, status) : flatrpc_strerror(err));
}

/* Polls b's socket until call `id` completes, and copies its body. Other
 * services' frames that arrive meanwhile wait for their own sockets. */
static int await(struct backend *b, uint32_t id, void *resp, size_t *len, uint8_t *status)
{
	struct flatrpc_completion c[8];

	for (;;) {
		int n = flatrpc_poll(b->s, c, 8, -1);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (c[i].rpc_id != id)
				continue;
			*status = c[i].status;
			if (c[i].err)
				return c[i].err;
			if (c[i].len > *len)
				return FLATRPC_E_TOOBIG;
			memcpy(resp, c[i].body, c[i].len);
			*len = c[i].len;
			return 0;
		}
	}
}

static int send_encoded(struct backend *b, uint8_t method, const void *q, int n, uint32_t *id)
{
	b->calls++;
	return n < 0 ? n : flatrpc_send(b->s, &b->peer, method, q, (size_t)n, id);
}

static int handle_lookup(void *ctx, const struct frontend_lookup_req *req,
			 struct frontend_lookup_resp *resp)
{
	struct server *sv = ctx;
	struct kv_get_req kq = { .session_id = 1 };
	struct ratelimited_get_req rq = { 0 };
	uint8_t qk[KV_GET_REQ_MAX + 1], qr[RATELIMITED_GET_REQ_MAX + 1];
	uint8_t ak[KV_GET_RESP_MAX + 1], ar[RATELIMITED_GET_RESP_MAX + 1];
	size_t lk = sizeof(ak), lr = sizeof(ar);
	uint32_t idk = 0, idr = 0;
	uint8_t stk = 0, str = 0;
	int ek, er;

	sv->n_lookup++;
	strcpy(kq.username, req->username);
	strcpy(kq.key, req->key);
	strcpy(rq.username, req->username);
	strcpy(rq.key, req->key);
	/* both on the wire before either answer is awaited */
	ek = send_encoded(&sv->kv, KV_GET, qk, kv_get_req_encode(&kq, qk, sizeof(qk)), &idk);
	er = send_encoded(&sv->rl, RATELIMITED_GET, qr,
			  ratelimited_get_req_encode(&rq, qr, sizeof(qr)), &idr);
	if (!ek)
		ek = await(&sv->kv, idk, ak, &lk, &stk);
	if (!er)
		er = await(&sv->rl, idr, ar, &lr, &str);
	if (!ek) {
		struct kv_get_resp k;

		ek = kv_get_resp_decode(&k, ak, lk);
		if (!ek) {
			resp->kv_value.len = k.value.len;
			memcpy(resp->kv_value.data, k.value.data, k.value.len);
		}
	}
	if (!er) {
		struct ratelimited_get_resp r;

		er = ratelimited_get_resp_decode(&r, ar, lr);
		if (!er) {
			resp->rl_value.len = r.value.len;
			memcpy(resp->rl_value.data, r.value.data, r.value.len);
		}
	}
	if (ek) {
		sv->kv.failed++;
		why(&sv->kv, ek, stk, resp->kv_error, sizeof(resp->kv_error));
	}
	if (er) {
		sv->rl.failed++;
		why(&sv->rl, er, str, resp->rl_error, sizeof(resp->rl_error));
	}
	ex_log(&sv->x, "lookup %s %s kv=%s rl=%s", req->username, req->key,
	       ek ? resp->kv_error : "ok", er ? resp->rl_error : "ok");
	return 0;
}

/* The typed stubs, one backend after the other. */
static int handle_store(void *ctx, const struct frontend_store_req *req,
			struct frontend_store_resp *resp)
{
	struct server *sv = ctx;
	struct kv_set_req kq = { .session_id = 1 };
	struct kv_set_resp ka = { 0 };
	struct ratelimited_put_req rq = { 0 };
	struct ratelimited_put_resp ra = { 0 };
	uint8_t stk = 0, str = 0;
	int ek, er;

	sv->n_store++;
	strcpy(kq.username, req->username);
	strcpy(kq.key, req->key);
	kq.value.len = req->value.len;
	memcpy(kq.value.data, req->value.data, req->value.len);
	strcpy(rq.username, req->username);
	strcpy(rq.key, req->key);
	rq.value.len = req->value.len;
	memcpy(rq.value.data, req->value.data, req->value.len);
	sv->kv.calls++;
	ek = kv_set(sv->kv.s, &sv->kv.peer, &kq, &ka, &stk);
	sv->rl.calls++;
	er = ratelimited_put(sv->rl.s, &sv->rl.peer, &rq, &ra, &str);
	if (ek) {
		sv->kv.failed++;
		why(&sv->kv, ek, stk, resp->kv_error, sizeof(resp->kv_error));
	} else if (!ka.ok) {
		snprintf(resp->kv_error, sizeof(resp->kv_error), "full");
	}
	if (er) {
		sv->rl.failed++;
		why(&sv->rl, er, str, resp->rl_error, sizeof(resp->rl_error));
	} else if (!ra.ok) {
		snprintf(resp->rl_error, sizeof(resp->rl_error), "refused");
	}
	ex_log(&sv->x, "store %s %s kv=%s rl=%s", req->username, req->key,
	       resp->kv_error[0] ? resp->kv_error : "ok", resp->rl_error[0] ? resp->rl_error : "ok");
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --iface IFACE --kv ADDR --rl ADDR [--queue N] [--log FILE]\n"
		"\n"
		"Serves frontend.lookup and frontend.store on IFACE and calls kv and\n"
		"ratelimited at ADDR (an address or a name, optionally :PORT) from the same\n"
		"process and interface. All three specs are loaded on IFACE beforehand:\n"
		"  sudo flatrpc-load specs/frontend.anf IFACE\n"
		"  sudo flatrpc-load specs/kv.anf IFACE\n"
		"  sudo flatrpc-load specs/ratelimited.anf IFACE\n"
		"\n"
		"  --kv ADDR    the kv server\n"
		"  --rl ADDR    the ratelimited server\n"
		"  --log FILE   append `lookup|store USER KEY kv=R rl=R` per executed request\n"
		EX_SERVER_HELP
		"Stops on SIGINT or SIGTERM and prints\n"
		"  served lookup=N store=M kv_calls=A kv_failed=B rl_calls=C rl_failed=D\n"
		"\n"
		"Example:\n"
		"  frontend-server --iface eth0 --kv kv.example --rl 10.0.0.4:7448\n", prog);
}

static int own_opt(int c, const char *arg, void *ctx)
{
	struct server *sv = ctx;

	switch (c) {
	case 'K': sv->kv.addr = arg; break;
	case 'R': sv->rl.addr = arg; break;
	}
	return EX_GO_ON;
}

/* A client of b's service on the frontend's AF_XDP sockets. */
static int backend_open(struct server *sv, struct backend *b)
{
	struct flatrpc_sock_opts o = sv->x.so;
	int err;

	err = flatrpc_peer_parse(&b->peer, b->addr);
	if (err) {
		fprintf(stderr, "%s: --%s %s: %s\n", sv->x.name, b == &sv->kv ? "kv" : "rl",
			b->addr, flatrpc_strerror(err));
		return EX_USAGE;
	}
	o.share = sv->x.s;
	o.local_port = 0;
	b->s = flatrpc_sock_new(b->svc, &o, &err);
	if (!b->s) {
		fprintf(stderr, "%s: cannot call %s on %s: %s\n", sv->x.name, b->name,
			sv->x.so.ifname, flatrpc_strerror(err));
		if (err == FLATRPC_E_NOTLOADED)
			fprintf(stderr, "%s: load it there first: sudo flatrpc-load %s.anf %s\n",
				sv->x.name, b->svc->name, sv->x.so.ifname);
		return EX_FAIL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kv", required_argument, NULL, 'K' },
		{ "rl", required_argument, NULL, 'R' },
		{ 0 }
	};
	struct server sv = {
		.x.name = "frontend-server",
		.kv = { .name = "kv", .svc = &kv_service },
		.rl = { .name = "ratelimited", .svc = &ratelimited_service },
	};
	struct ex_opts own = { opts, "K:R:", own_opt, &sv };
	struct frontend_handlers h = { .lookup = handle_lookup, .store = handle_store };
	int rc, err;

	rc = ex_server_args(&sv.x, argc, argv, usage, &own);
	if (rc != EX_GO_ON)
		return rc;
	if (!sv.kv.addr || !sv.rl.addr) {
		usage(stderr, argv[0]);
		return EX_USAGE;
	}
	if (ex_server_open(&sv.x, &frontend_service, ", calling kv and ratelimited"))
		return EX_FAIL;
	rc = backend_open(&sv, &sv.kv);
	if (!rc)
		rc = backend_open(&sv, &sv.rl);
	if (rc) {
		flatrpc_sock_del(sv.kv.s);
		ex_server_close(&sv.x, 0);
		return rc;
	}
	err = frontend_serve(sv.x.s, &h, &sv, &ex_stop);
	printf("served lookup=%" PRIu64 " store=%" PRIu64 " kv_calls=%" PRIu64
	       " kv_failed=%" PRIu64 " rl_calls=%" PRIu64 " rl_failed=%" PRIu64 "\n",
	       sv.n_lookup, sv.n_store, sv.kv.calls, sv.kv.failed, sv.rl.calls, sv.rl.failed);
	flatrpc_sock_del(sv.rl.s);
	flatrpc_sock_del(sv.kv.s);
	return ex_server_close(&sv.x, err);
}
