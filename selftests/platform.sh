# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# platform.sh - what a new user does, sourced by run.sh: install FlatRPC,
# write a spec that is not in the tree, build a server and a client
# against the installed pkg-config only, load the spec (compiled at load
# time) and call it. Then the ways a load-time compile can go wrong.

# The user's own spec: an orders service with an element of its own that
# blocks listed users, and the installed library's metrics element.
write_orders_app() { # DIR PORT
	local d=$1 port=$2
	mkdir -p "$d"
	cat >"$d/blocklist.anf" <<'EOF'
# refuses the users listed in init()
element blocklist:
  state:
    @full(refuse)
    blocked: Map<string<16>, u8>

  init():
    set(blocked, 'mallory', 1)

  req(rpc):
    match get(blocked, get(rpc, 'username')):
      Some(b) =>
        send(err('blocked'), Up)
      None =>
        send(rpc, Down)

  resp(rpc):
    send(rpc, Up)
EOF
	cat >"$d/orders.anf" <<EOF
import "blocklist.anf"
import "elements/metrics.anf"

service orders:
  port: $port
  metadata:
    username: string<16>

  method place:
    request:
      item: u32
      quantity: u32
    response:
      order: u64
    server: blocklist() -> metrics()
    transport: reliable(timeout=20000, retries=8)
EOF
	cat >"$d/orders_server.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "orders_stubs.h"

static volatile int stop;
static void on_term(int sig) { stop = 1; }

static int place(void *ctx, const struct orders_place_req *req, struct orders_place_resp *resp)
{
	resp->order = (uint64_t)req->item * 1000 + req->quantity;
	(*(unsigned *)ctx)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct flatrpc_sock_opts o = { .ifname = argv[1] };
	struct orders_handlers h = { .place = place };
	unsigned served = 0;
	int err;
	struct flatrpc_sock *s = flatrpc_sock_new(&orders_service, &o, &err);

	if (!s) {
		fprintf(stderr, "orders-server: %s\n", flatrpc_strerror(err));
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("serving\n");
	fflush(stdout);
	err = orders_serve(s, &h, &served, &stop);
	printf("served %u\n", served);
	flatrpc_sock_del(s);
	return err < 0;
}
EOF
	cat >"$d/orders_client.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "orders_stubs.h"

/* orders-client IFACE SERVER USER ITEM QTY: prints the order, or the denial */
int main(int argc, char **argv)
{
	struct flatrpc_sock_opts o = { .ifname = argv[1] };
	struct orders_place_req req = { .item = atoi(argv[4]), .quantity = atoi(argv[5]) };
	struct orders_place_resp resp;
	struct flatrpc_peer peer = { 0 };
	uint8_t status = 0;
	int err;
	struct flatrpc_sock *s = flatrpc_sock_new(&orders_service, &o, &err);

	if (!s || flatrpc_peer_parse(&peer, argv[2])) {
		fprintf(stderr, "orders-client: %s\n", s ? "bad server" : flatrpc_strerror(err));
		return 1;
	}
	snprintf(req.username, sizeof(req.username), "%s", argv[3]);
	err = orders_place(s, &peer, &req, &resp, &status);
	if (err == FLATRPC_E_ANF)
		printf("denied %s\n", flatrpc_status_str(&orders_service, status));
	else if (err)
		printf("error %s\n", flatrpc_strerror(err));
	else
		printf("order %llu\n", (unsigned long long)resp.order);
	flatrpc_sock_del(s);
	return err ? 2 : 0;
}
EOF
}

# The same app as a second service, NAME instead of orders, and a server
# that serves both from one process and one set of AF_XDP sockets (a queue
# takes one socket, so two servers on one interface cannot both bind it).
write_second_app() { # DIR PORT NAME
	local d=$1 f
	write_orders_app "$d" "$2"
	for f in orders.anf orders_client.c; do
		sed "s/orders/$3/g" "$d/$f" >"$d/${f/orders/$3}"
	done
	cat >"$d/both_server.c" <<EOF
#include <signal.h>
#include <stdio.h>
#include "orders_stubs.h"
#include "$3_stubs.h"

static volatile int stop;
static void on_term(int sig) { stop = 1; }

static int place(void *ctx, const struct orders_place_req *req, struct orders_place_resp *resp)
{
	resp->order = (uint64_t)req->item * 1000 + req->quantity;
	(*(unsigned *)ctx)++;
	return 0;
}

static int place2(void *ctx, const struct $3_place_req *req, struct $3_place_resp *resp)
{
	resp->order = (uint64_t)req->item * 100000 + req->quantity;
	(*(unsigned *)ctx)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct flatrpc_sock_opts o = { .ifname = argv[1] };
	struct orders_handlers h = { .place = place };
	struct $3_handlers h2 = { .place = place2 };
	unsigned served = 0, served2 = 0;
	struct flatrpc_sock *s, *s2;
	int err;

	s = flatrpc_sock_new(&orders_service, &o, &err);
	if (!s) {
		fprintf(stderr, "both-server: orders: %s\\n", flatrpc_strerror(err));
		return 1;
	}
	o.share = s;
	s2 = flatrpc_sock_new(&$3_service, &o, &err);
	if (!s2 || (err = $3_serve_also(s2, &h2, &served2))) {
		fprintf(stderr, "both-server: $3: %s\\n", flatrpc_strerror(err));
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("serving\\n");
	fflush(stdout);
	err = orders_serve(s, &h, &served, &stop);
	printf("served %u %u\\n", served, served2);
	flatrpc_sock_del(s);
	flatrpc_sock_del(s2);
	return err < 0;
}
EOF
}

test_user_spec() {
	local dest=$WORK/dest prefix=/usr/local app=$WORK/app cache=$WORK/cache-new out pc
	local gen load srv h
	trap 'kill -TERM $(cat "$WORK/orders.pid" 2>/dev/null) 2>/dev/null; wait 2>/dev/null
	      in_c "$LOADER" --unload "$IF_C" >/dev/null 2>&1; in_s "$LOADER" --unload "$IF_S" >/dev/null 2>&1
	      true' EXIT
	# install, as a user would, into a staging root
	make -s -C "$ROOT" install DESTDIR="$dest" >"$WORK/install.log" 2>&1 ||
		{ fail "make install: $(tail -5 "$WORK/install.log")"; return 1; }
	gen=$dest$prefix/bin/flatrpc-gen
	load=$dest$prefix/sbin/flatrpc-load
	need "$gen" "$load" "$dest$prefix/lib/pkgconfig/libflatrpc-user.pc" || return 1
	export PKG_CONFIG_PATH=$dest$prefix/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
	export FLATRPC_IMPORT_PATH=$dest$prefix/share/flatrpc
	export LD_LIBRARY_PATH=$dest$prefix/lib
	pc=$(pkg-config --cflags --libs libflatrpc-user) || { fail "pkg-config libflatrpc-user"; return 1; }

	write_orders_app "$app" 7600
	"$gen" --check "$app/orders.anf" || { fail "the new spec does not check"; return 1; }
	"$gen" --emit-dir "$app/gen" "$app/orders.anf" || { fail "flatrpc-gen --emit-dir"; return 1; }
	local p
	for p in server client; do
		# shellcheck disable=SC2086 # pkg-config's words
		cc -std=gnu11 -Wall -I"$app/gen" "$app/orders_$p.c" "$app/gen/orders_stubs.c" $pc \
			-o "$app/orders-$p" 2>"$WORK/cc.log" || { fail "build orders-$p: $(cat "$WORK/cc.log")"; return 1; }
	done
	"$load" --keygen "$FLATRPC_KEY_DIR/orders.key" >/dev/null || { fail "keygen"; return 1; }

	# the first load compiles; the second finds it in the cache
	out=$(FLATRPC_CACHE_DIR=$cache in_s "$load" "$app/orders.anf" "$IF_S" 2>&1) ||
		{ fail "load orders on $IF_S: $out"; return 1; }
	expect_eq "$(count_lines -c '^compiling .*orders.anf (service orders) with clang' <<<"$out")" 1 \
		"the first load compiles the spec"
	out=$(FLATRPC_CACHE_DIR=$cache in_c "$load" "$app/orders.anf" "$IF_C" 2>&1) ||
		{ fail "load orders on $IF_C: $out"; return 1; }
	expect_eq "$(count_lines -c '^compiling' <<<"$out")" 0 "the second load compiles nothing"
	expect_eq "$(find "$cache" -name 'orders-*.bpf.o' | wc -l)" 1 "objects in the cache"

	# not through in_s: $! must be the server itself, for its exit status
	ip netns exec "$NS_S" "$app/orders-server" "$IF_S" >"$WORK/orders.out" 2>"$WORK/orders.err" &
	echo $! >"$WORK/orders.pid"
	local i rc=1
	for i in $(seq 20); do
		if out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" kevin 7 3 2>&1); then
			rc=0
			break
		fi
		sleep 0.2
	done
	expect_eq "$rc:$out" "0:order 7003" "kevin's order through the user's own spec" || return 1
	out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" mallory 1 1 2>&1) || true
	expect_eq "$out" "denied blocked" "mallory, blocked by the spec's own element in XDP"

	# --status knows the spec it never had built in
	local js
	js=$(in_s "$load" --status -j "$IF_S") || { fail "--status -j $IF_S"; return 1; }
	expect_eq "$(jq -r '.service + " " + .spec' <<<"$js")" "orders orders.anf" "service and spec in --status"
	expect_eq "$(jq -r '[.methods[].name] | join(",")' <<<"$js")" "place" "method names in --status"
	expect_eq "$(jq '[.elements[] | select(.element == "blocklist" and .hook == "req")][0] |
		.passed, .errors.blocked' <<<"$js" | tr '\n' ' ')" "1 1 " \
		"blocklist's verdicts by name in --status (kevin passed, mallory blocked)"

	# an object built ahead of time loads where there is no clang
	"$gen" --object "$app/orders.bpf.o" "$app/orders.anf" || { fail "flatrpc-gen --object"; return 1; }
	out=$(FLATRPC_CLANG=/nonexistent/clang in_s "$load" --object "$app/orders.bpf.o" \
		"$app/orders.anf" "$IF_S" 2>&1) || { fail "load --object: $out"; return 1; }
	out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" kevin 8 1 2>&1)
	expect_eq "$out" "order 8001" "an order after the --object reload"

	# a changed spec with no clang: a plain error, and the old load serves on
	write_orders_app "$app/v2" 7601
	if out=$(FLATRPC_CACHE_DIR=$cache FLATRPC_CLANG=/nonexistent/clang in_s "$load" \
		"$app/v2/orders.anf" "$IF_S" 2>&1); then
		fail "a load without clang succeeded"
		return 1
	fi
	expect_eq "$(count_lines -c 'cannot run /nonexistent/clang: No such file or directory.*install it' <<<"$out")" 1 \
		"no clang is said in plain words"
	# the object of another version of the spec is refused
	if out=$(in_s "$load" --object "$app/orders.bpf.o" "$app/v2/orders.anf" "$IF_S" 2>&1); then
		fail "an object of another spec loaded"
		return 1
	fi
	expect_eq "$(count_lines -c 'was built from another spec' <<<"$out")" 1 "a mismatched --object is refused"
	# a cache that others can write is not used
	mkdir -p "$WORK/cache-open" && chmod 0777 "$WORK/cache-open"
	if out=$(FLATRPC_CACHE_DIR=$WORK/cache-open in_s "$load" "$app/orders.anf" "$IF_S" 2>&1); then
		fail "a world-writable cache was used"
		return 1
	fi
	expect_eq "$(count_lines -c 'refusing .*cache-open' <<<"$out")" 1 "a world-writable cache is refused"
	out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" kevin 9 2 2>&1)
	expect_eq "$out" "order 9002" "the load before the failed ones still serves"

	kill -TERM "$(cat "$WORK/orders.pid")"
	local src=0
	wait "$(cat "$WORK/orders.pid")" || src=$?
	expect_eq "$src" 0 "orders-server exit status ($(cat "$WORK/orders.err"))"
	rm -f "$WORK/orders.pid"
	expect_eq "$(cat "$WORK/orders.out" | tail -1)" "served 3" "orders served"

	# A second service beside the first, served by one process with it
	# (flatrpc_sock_opts.share, <svc>_serve_also); then the first is
	# unloaded, and the second keeps serving.
	local app2=$WORK/app2
	write_second_app "$app2" 7602 invoices
	"$gen" --emit-dir "$app2/gen" "$app2/invoices.anf" || { fail "flatrpc-gen --emit-dir invoices"; return 1; }
	# shellcheck disable=SC2086 # pkg-config's words
	cc -std=gnu11 -Wall -I"$app/gen" -I"$app2/gen" "$app2/both_server.c" "$app/gen/orders_stubs.c" \
		"$app2/gen/invoices_stubs.c" $pc -o "$app2/both-server" 2>"$WORK/cc.log" &&
	cc -std=gnu11 -Wall -I"$app2/gen" "$app2/invoices_client.c" "$app2/gen/invoices_stubs.c" $pc \
		-o "$app2/invoices-client" 2>>"$WORK/cc.log" || { fail "build the second app: $(cat "$WORK/cc.log")"; return 1; }
	"$load" --keygen "$FLATRPC_KEY_DIR/invoices.key" >/dev/null || { fail "keygen invoices"; return 1; }
	for h in in_s:$IF_S in_c:$IF_C; do
		out=$(FLATRPC_CACHE_DIR=$cache ${h%%:*} "$load" "$app2/invoices.anf" "${h#*:}" 2>&1) ||
			{ fail "load invoices beside orders on ${h#*:}: $out"; return 1; }
	done
	expect_eq "$(in_s "$load" --status -j "$IF_S" | jq -c '.services')" '["invoices","orders"]' \
		"both services on $IF_S"
	ip netns exec "$NS_S" "$app2/both-server" "$IF_S" >"$WORK/orders.out" 2>"$WORK/orders.err" &
	echo $! >"$WORK/orders.pid"
	rc=1
	for i in $(seq 20); do
		if out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" kevin 1 1 2>&1); then
			rc=0
			break
		fi
		sleep 0.2
	done
	expect_eq "$rc:$out" "0:order 1001" "an order from the server of both ($(cat "$WORK/orders.err"))" || return 1
	expect_eq "$(in_c "$app2/invoices-client" "$IF_C" "$IP_S" kevin 2 3 2>&1)" "order 200003" \
		"an invoice from the same process"
	expect_eq "$(in_c "$app2/invoices-client" "$IF_C" "$IP_S" mallory 2 3 2>&1 || true)" "denied blocked" \
		"mallory, blocked by invoices' own chain"
	in_s "$load" -q --unload --service orders "$IF_S" || fail "unload orders beside invoices"
	expect_eq "$(in_s "$load" --status -j "$IF_S" | jq -r '.service')" invoices "invoices alone on $IF_S"
	for i in 1 2 3 4 5; do
		out=$(in_c "$app2/invoices-client" "$IF_C" "$IP_S" kevin 3 "$i" 2>&1) || true
		expect_eq "$out" "order 30000$i" "invoice $i after orders was unloaded"
	done
	out=$(in_c "$app/orders-client" "$IF_C" "$IP_S" kevin 1 2 2>&1) || true
	expect_eq "${out%%:*}" "error timeout" "an order after orders was unloaded"
	kill -TERM "$(cat "$WORK/orders.pid")"
	src=0
	wait "$(cat "$WORK/orders.pid")" || src=$?
	rm -f "$WORK/orders.pid"
	expect_eq "$src:$(tail -1 "$WORK/orders.out")" "0:served 1 6" "the server of both ($(cat "$WORK/orders.err"))"
	say "one process served orders and invoices, then invoices alone: $(tail -1 "$WORK/orders.out")"
	in_c "$load" --unload "$IF_C" >/dev/null && in_s "$load" --unload "$IF_S" >/dev/null ||
		fail "unload orders"
	trap - EXIT
}
