# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# obs.sh - the figures (docs/observability.md): flatrpc-load --status -j,
# flatrpc-stat, and a real Prometheus server scraping flatrpc-stat --listen.
# Sourced by run.sh after lib.sh. test_status_json and test_stat_live need
# step_server_start; test_prometheus starts a kv-server of its own, since
# kv-bench sets the same keys again.

STAT=${STAT:-$BUILD/flatrpc-stat}
KV_BENCH=${KV_BENCH:-$BUILD/kv-bench}

status_j() { # NS IFACE: flatrpc-load --status -j, checked to be one JSON object
	local out
	out=$(ip netns exec "$1" "$LOADER" --status -j "$2") || { fail "--status -j $2"; return 1; }
	jq -e 'type == "object"' >/dev/null <<<"$out" || { fail "--status -j $2 is not JSON: $out"; return 1; }
	echo "$out"
}

# jdelta BEFORE AFTER EXPR: how much the number EXPR picks moved
jdelta() {
	echo $(( $(jq -r "$3" <<<"$2") - $(jq -r "$3" <<<"$1") ))
}

test_status_json() {
	need "$LOADER" "$KV_CLIENT" "$STAT"
	local n=5 c0 c1 s0 s1 i rc set='.methods[] | select(.name == "set")' k out
	c0=$(status_j "$NS_C" "$IF_C")
	s0=$(status_j "$NS_S" "$IF_S")
	# the documented top-level keys, all there
	for k in interface loaded attached ifindex present service spec_hash spec port mode \
		 kernel_figures auth \
		 xdp tc library_figures methods drops xdp_time; do
		jq -e "has(\"$k\")" >/dev/null <<<"$c0" || fail "--status -j has no key $k"
	done
	expect_eq "$(jq -r '[.service, .loaded, .attached, .library_figures] | join(" ")' <<<"$s0")" \
		"kv true true true" "server's service, loaded, attached, library figures"
	for i in $(seq $n); do
		expect_eq "$(kv --user Kevin --session 80 set "j$i" v)" ok "Kevin's set j$i"
	done
	rc=0; kv --user Peter --session 81 set j x >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 3 "Peter's set: denied"
	c1=$(status_j "$NS_C" "$IF_C")
	s1=$(status_j "$NS_S" "$IF_S")

	expect_eq "$(jdelta "$c0" "$c1" "$set | .answered.ok")" $n "client: sets answered ok"
	expect_eq "$(jdelta "$c0" "$c1" "$set | .answered.firewall // 0")" 1 \
		"client: sets answered 'firewall' (the ANF's error)"
	expect_eq "$(jdelta "$c0" "$c1" "$set | .call_latency.count")" $(( n + 1 )) \
		"client: set latencies recorded"
	expect_eq "$(jdelta "$c0" "$c1" "$set | .kernel.rx_resp")" $(( n + 1 )) \
		"client XDP: set answers delivered"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .served")" $n "server: sets the handler ran"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .handler_time.count")" $n "server: handler times"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .kernel.rx_req")" $n "server XDP: sets delivered"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .kernel.anf_err")" 1 "server XDP: firewall denials"
	expect_ge "$(jdelta "$s0" "$s1" '.xdp_time.count')" $(( n + 1 )) "server: XDP times recorded"
	# per element: the firewall let Kevin's sets through and stopped
	# Peter's, so the session tracker after it ran for Kevin's only
	local fw='.elements[] | select(.method == "set" and .element == "firewall" and .hook == "req")'
	local tr='.elements[] | select(.method == "set" and .element == "session-tracker" and .hook == "req")'
	expect_eq "$(jdelta "$s0" "$s1" "$fw | .passed")" $n "server: firewall passed sets"
	expect_eq "$(jdelta "$s0" "$s1" "$fw | .errors.firewall // 0")" 1 "server: firewall's errors"
	expect_eq "$(jdelta "$s0" "$s1" "$tr | .passed")" $n "server: session tracker passed sets"
	expect_eq "$(jdelta "$s0" "$s1" "[$tr | .errors[]] | add // 0")" 0 "server: session tracker's errors"
	# a histogram's buckets add up to its count, and its p50 lies in them
	for k in "$set | .call_latency" "$set | .handler_time" ".xdp_time"; do
		out=$(jq -r "$k | [.count, ([.buckets[][2]] | add // 0)] | join(\" \")" <<<"$c1")
		expect_eq "${out% *}" "${out#* }" "$k: count = sum of the buckets"
	done
	jq -e "$set | .call_latency.p50_ns > 0 and .call_latency.p50_ns <= .call_latency.p99_ns" \
		>/dev/null <<<"$c1" || fail "client set latency p50 > 0 and <= p99"
	# flatrpc-stat -j reads the same figures
	out=$(ip netns exec "$NS_S" "$STAT" -j "$IF_S") || fail "flatrpc-stat -j"
	expect_eq "$(jq -r "$set | .served" <<<"$out")" "$(jq -r "$set | .served" <<<"$s1")" \
		"flatrpc-stat -j and --status -j: sets served"
	# and nothing loaded is said in JSON too, with exit 3
	rc=0; out=$(in_c "$LOADER" --status -j lo) || rc=$?
	expect_eq "$rc" 3 "--status -j on an interface without FlatRPC: exit code"
	expect_eq "$(jq -r .loaded <<<"$out")" false "--status -j without FlatRPC: loaded"
	rc=0; "$STAT" --prometheus lo >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 3 "flatrpc-stat on an interface without FlatRPC: exit code"
}

# The live view in a terminal of 80 columns, one screen over sets made
# all the while: every method of the service has a row, the client's shows the
# sets' rate and latency, the server's the requests it served, and no line
# is wider than 80.
test_stat_live() {
	need "$STAT" "$KV_CLIENT"
	local out wide rc i cpid spid load iv=2
	# a call takes far longer under TCG (scaled runs): a longer screen
	[ "$SELFTEST_SCALE" -ge 100 ] || iv=20
	# sets all the while the screens are taken, so some fall inside them
	rm -f "$WORK/live.stop"
	( i=0; while [ ! -e "$WORK/live.stop" ]; do
		i=$((i + 1)); kv --user Kevin --session 82 set "live$i" v >/dev/null || true
	  done ) &
	load=$!
	timeout $(( iv * 3 )) "$STAT" --count 1 --interval $iv "$IF_C" >"$WORK/live.client" & cpid=$!
	timeout $(( iv * 3 )) "$STAT" --count 1 --interval $iv "$IF_S" >"$WORK/live.server" & spid=$!
	rc=0; wait $cpid || rc=$?
	wait $spid || rc=$?
	# its last set ends before the next test counts anything
	touch "$WORK/live.stop"
	wait $load || true
	expect_eq "$rc" 0 "flatrpc-stat --count 1 on both ends: exit status"
	for i in client server; do
		out=$(sed 's/\x1b\[[HJ]//g' "$WORK/live.$i")
		sed 's/^/    | /' <<<"$out"
		grep -q '^METHOD ' <<<"$out" || fail "$i: no header line in: $out"
		grep -q '^get ' <<<"$out" || fail "$i: no row for get in: $out"
		grep -q '^set ' <<<"$out" || fail "$i: no row for set in: $out"
		wide=$(awk 'length($0) > 80' <<<"$out")
		expect_eq "$wide" "" "$i: lines over 80 columns"
	done
	# columns: METHOD CALLS/s ERR/s RETX/s SERVE/s P50 P99 XDPRX/s
	holds "$(awk '$1 == "set" { print $2 }' "$WORK/live.client") > 0" ||
		fail "client: no set calls per second"
	holds "$(awk '$1 == "set" { print $6 }' "$WORK/live.client") > 0" ||
		fail "client: no set p50"
	holds "$(awk '$1 == "set" { print $5 }' "$WORK/live.server") > 0" ||
		fail "server: no sets served per second"
	rc=0; "$STAT" --count 0 "$IF_S" >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 2 "flatrpc-stat --count 0: usage exit code"
}

# flatrpc-load --figures off: the kernel records no XDP time and no element
# verdicts (its counters go on, and so does the library); on again, it does.
test_figures_off() {
	need "$LOADER" "$KV_CLIENT" "$SPEC"
	local s0 s1 s2 set='.methods[] | select(.name == "set")' i
	local fw='.elements[] | select(.method == "set" and .element == "firewall" and .hook == "req")'
	in_s "$LOADER" -q --figures off "$SPEC" "$IF_S" || fail "load with --figures off"
	s0=$(status_j "$NS_S" "$IF_S")
	expect_eq "$(jq .kernel_figures <<<"$s0")" false "--status -j: kernel_figures after --figures off"
	for i in 1 2 3; do
		expect_eq "$(kv --user Kevin --session 84 set "off$i" v)" ok "Kevin's set off$i"
	done
	s1=$(status_j "$NS_S" "$IF_S")
	expect_eq "$(jdelta "$s0" "$s1" '.xdp_time.count')" 0 "XDP times with --figures off"
	expect_eq "$(jdelta "$s0" "$s1" "$fw | .passed")" 0 "firewall verdicts with --figures off"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .kernel.rx_req")" 3 "kernel's sets delivered, figures off"
	expect_eq "$(jdelta "$s0" "$s1" "$set | .served")" 3 "library's sets served, figures off"
	in_s "$LOADER" -q "$SPEC" "$IF_S" || fail "load with the figures on again"
	expect_eq "$(kv --user Kevin --session 84 set on v)" ok "Kevin's set, figures on"
	s2=$(status_j "$NS_S" "$IF_S")
	expect_eq "$(jq .kernel_figures <<<"$s2")" true "--status -j: kernel_figures, on again"
	expect_ge "$(jdelta "$s1" "$s2" '.xdp_time.count')" 1 "XDP times with the figures on again"
	expect_eq "$(jdelta "$s1" "$s2" "$fw | .passed")" 1 "firewall verdicts with the figures on again"
	local rc=0
	in_s "$LOADER" --figures maybe "$SPEC" "$IF_S" 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "--figures maybe: usage exit code"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# prom_value PORT QUERY [TIME]: the first sample's value of an instant query
# through Prometheus's HTTP API, or nothing
prom_value() {
	local a=(--data-urlencode "query=$2")
	[ -n "${3:-}" ] && a+=(--data-urlencode "time=$3")
	curl -sf --max-time 10 --get "http://127.0.0.1:$1/api/v1/query" "${a[@]}" |
		jq -r '.data.result[0].value[1] // empty'
}

# a float comparison: awk exits 0 when the expression holds
holds() { awk "BEGIN { exit !($1) }"; }

# A real Prometheus server (Debian's, /usr/bin/prometheus) scrapes
# flatrpc-stat --listen on both ends, once a second, during a KV load by
# kv-bench; through its HTTP API the call count and rate, the firewall's
# denials and the drops it scraped must be what the client and the kernel
# counted, and a histogram's p50 must agree with kv-bench's own. Prometheus
# only runs on the host: scripts/vm-test.sh leaves this test out, and says so.
test_prometheus() {
	need "$STAT" "$KV_BENCH" "$LOADER" "$ST/send_malformed.py" /usr/bin/prometheus /usr/bin/promtool
	local d=$WORK/prometheus pc ps pp i n mac t0 t1 tb0 tb1 out c_end s_end rc
	local calls='sum(flatrpc_client_calls_total{side="client"}) + sum(flatrpc_timeouts_total{side="client"}) + sum(flatrpc_overloaded_total{side="client"})'
	local denied='sum(flatrpc_client_calls_total{side="client",status="firewall"})'
	local anf='sum(flatrpc_kernel_anf_err_total{side="server"})'
	mkdir -p "$d"
	pc=$(free_port); ps=$(free_port); pp=$(free_port)
	while [ "$ps" == "$pc" ]; do ps=$(free_port); done
	while [ "$pp" == "$pc" ] || [ "$pp" == "$ps" ]; do pp=$(free_port); done
	# flatrpc-stat reads pins only: it runs outside the namespaces, where
	# Prometheus reaches it on 127.0.0.1; topo_teardown kills what *.pid names
	"$STAT" --listen 127.0.0.1:$pc "$IF_C" 2>"$d/stat-client.err" &
	echo $! >"$WORK/stat-client.pid"
	"$STAT" --listen 127.0.0.1:$ps "$IF_S" 2>"$d/stat-server.err" &
	echo $! >"$WORK/stat-server.pid"
	# expanded now: the trap runs when the test's locals are gone
	trap "kill \$(cat $WORK/prometheus.pid $WORK/stat-client.pid $WORK/stat-server.pid $WORK/prom.pid 2>/dev/null) 2>/dev/null || true
	      rm -f $WORK/prometheus.pid $WORK/stat-client.pid $WORK/stat-server.pid; rm -rf $d" EXIT
	for i in $(seq 50); do
		curl -sf -o "$d/metrics.client" "http://127.0.0.1:$pc/metrics" &&
			curl -sf -o "$d/metrics.server" "http://127.0.0.1:$ps/metrics" && break
		sleep 0.1
	done
	[ -s "$d/metrics.server" ] || fail "flatrpc-stat --listen never answered: $(cat "$d"/stat-*.err)"
	promtool check metrics <"$d/metrics.client" || fail "promtool check metrics: client's"
	promtool check metrics <"$d/metrics.server" || fail "promtool check metrics: server's"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ps/nothing")" 404 \
		"flatrpc-stat --listen: another path"

	cat >"$d/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 900ms
	scrape_configs:
	  - job_name: flatrpc
	    static_configs:
	      - targets: ['127.0.0.1:$pc']
	        labels: {side: client}
	      - targets: ['127.0.0.1:$ps']
	        labels: {side: server}
	EOF
	promtool check config "$d/prometheus.yml" >/dev/null || fail "promtool check config"
	/usr/bin/prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
		--web.listen-address=127.0.0.1:$pp --log.level=warn 2>"$d/prometheus.log" &
	echo $! >"$WORK/prometheus.pid"
	for i in $(seq 300); do
		[ "$(prom_value $pp 'sum(up{job="flatrpc"})')" == 2 ] && break
		kill -0 "$(cat "$WORK/prometheus.pid")" 2>/dev/null ||
			{ fail "prometheus exited: $(tail -5 "$d/prometheus.log")"; return 1; }
		sleep 0.1
	done
	expect_eq "$(prom_value $pp 'sum(up{job="flatrpc"})')" 2 "targets Prometheus scrapes up"
	slow_server_start prom
	sleep 1.2	# a scrape of the state before the load
	t0=$(date +%s.%N)
	mac=$(in_s cat /sys/class/net/"$IF_S"/address)

	# the denials and drops first, the calls then: a few seconds of them,
	# long enough for Prometheus's rate() in their middle
	for i in 1 2 3; do
		rc=0; kv --user Peter --session 83 set p$i x >/dev/null 2>&1 || rc=$?
		expect_eq "$rc" 3 "Peter's set $i: denied"
	done
	in_r "$ST/send_malformed.py" "$IF_R1" "$mac" $IP_C $IP_S truncated 3
	in_r "$ST/send_malformed.py" "$IF_R1" "$mac" $IP_C $IP_S bad_magic 2
	n=$(scaled 200000)
	tb0=$(date +%s.%N)
	in_c timeout 300 "$KV_BENCH" client --proto flatrpc --server $IP_S --iface "$IF_C" \
		--count "$n" --warmup 1000 --outstanding 4 --late-ok >"$d/bench.out" 2>"$d/bench.err" ||
		fail "kv-bench: $(cat "$d/bench.err")"
	tb1=$(date +%s.%N)
	t1=$(date +%s.%N)
	slow_server_stop prom
	out=$(cat "$d/bench.out")
	say "kv-bench: $out"

	# the last state, once Prometheus has scraped it
	c_end=$(status_j "$NS_C" "$IF_C")
	s_end=$(status_j "$NS_S" "$IF_S")
	local want_calls
	want_calls=$(jq '[.methods[] | (.answered | add) + .timeouts + .overloaded] | add' <<<"$c_end")
	for i in $(seq 100); do
		[ "$(prom_value $pp "$calls")" == "$want_calls" ] && break
		sleep 0.1
	done
	sleep 1.2	# and one more scrape: nothing moves any more
	local tq
	tq=$(date +%s.%N)
	local dc dd da
	dc=$(awk -v a="$(prom_value $pp "$calls" "$tq")" -v b="$(prom_value $pp "$calls" "$t0")" \
		'BEGIN { print a - b }')
	expect_eq "$dc" $(( n + 1000 + 3 )) "calls Prometheus scraped over the load (kv-bench's, warmup included, and Peter's 3)"
	expect_eq "$(prom_value $pp "$calls" "$tq")" "$want_calls" "calls: Prometheus = the client library's count"
	dd=$(awk -v a="$(prom_value $pp "$denied" "$tq")" -v b="$(prom_value $pp "$denied" "$t0")" \
		'BEGIN { print a - (b == "" ? 0 : b) }')
	expect_eq "$dd" 3 "firewall denials the client saw, through Prometheus"
	da=$(awk -v a="$(prom_value $pp "$anf" "$tq")" -v b="$(prom_value $pp "$anf" "$t0")" \
		'BEGIN { print a - b }')
	expect_eq "$da" 3 "firewall denials the server's XDP counted, through Prometheus"
	expect_eq "$(prom_value $pp "$anf" "$tq")" \
		"$(jq '[.methods[].kernel.anf_err] | add' <<<"$s_end")" "ANF errors: Prometheus = the kernel's"
	local fwq='sum(flatrpc_element_verdicts_total{side="server",element="firewall",hook="req",verdict="error",status="firewall"})'
	expect_eq "$(awk -v a="$(prom_value $pp "$fwq" "$tq")" -v b="$(prom_value $pp "$fwq" "$t0")" \
		'BEGIN { print a - b }')" 3 "the firewall element's denials, through Prometheus"
	local r
	for r in truncated bad_magic; do
		expect_eq "$(prom_value $pp "flatrpc_drops_total{side=\"server\",reason=\"$r\"}" "$tq")" \
			"$(jq ".drops.$r" <<<"$s_end")" "drops[$r]: Prometheus = the kernel's"
	done
	expect_eq "$(awk -v a="$(prom_value $pp 'flatrpc_drops_total{side="server",reason="truncated"}' "$tq")" \
		-v b="$(prom_value $pp 'flatrpc_drops_total{side="server",reason="truncated"}' "$t0")" \
		'BEGIN { print a - b }')" 3 "truncated drops over the load, through Prometheus"

	# The rate: Prometheus's rate() over the seconds of kv-bench's calls,
	# which end when it ends, against kv-bench's own calls per second over
	# its measured calls. Both are averages of a load that is not steady on
	# 2 shared cores, and rate() extrapolates from 1 s scrapes: within 30%.
	local win rate bench_rate
	win=$(awk -v a="$tb0" -v b="$tb1" 'BEGIN { w = int(b - a); print w < 2 ? 2 : w }')
	rate=$(prom_value $pp "sum(rate(flatrpc_client_calls_total{side=\"client\"}[${win}s]))" "$tb1")
	bench_rate=$(sed -n 's/.* rate_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
	say "call rate: Prometheus $rate/s over the last ${win}s of the load, kv-bench $bench_rate/s"
	holds "$rate > 0.7 * $bench_rate && $rate < 1.3 * $bench_rate" ||
		fail "Prometheus's call rate $rate/s is not within 30% of kv-bench's $bench_rate/s"

	# The p50 of the gets' latency histogram over the load (its warmup
	# in) against kv-bench's p50 of the measured gets: a bucket is 12.5%
	# wide, and the library times a call from flatrpc_send() to the answer
	# while kv-bench times it around the stub: within 15% + 2 us.
	local q p50 bench_p50
	q="histogram_quantile(0.5, sum by (le) (flatrpc_client_call_duration_seconds_bucket{side=\"client\",method=\"get\"} @ $tq - flatrpc_client_call_duration_seconds_bucket{side=\"client\",method=\"get\"} @ $(printf '%.3f' "$t0")))"
	p50=$(prom_value $pp "$q" "$tq")
	bench_p50=$(sed -n 's/.* get_p50_us=\([0-9.]*\).*/\1/p' <<<"$out")
	p50=$(awk -v s="$p50" 'BEGIN { printf "%.2f", s * 1e6 }')
	say "get p50: histogram through Prometheus $p50 us, kv-bench $bench_p50 us"
	holds "$p50 > 0 && ($p50 - $bench_p50 < 0.15 * $bench_p50 + 2) && ($bench_p50 - $p50 < 0.15 * $bench_p50 + 2)" ||
		fail "histogram p50 $p50 us is not within 15% + 2 us of kv-bench's $bench_p50 us"
	# the server's and XDP's histograms were scraped too
	local hc xc
	hc=$(prom_value $pp 'sum(flatrpc_server_handler_duration_seconds_count{side="server"})' "$tq")
	xc=$(prom_value $pp 'flatrpc_xdp_duration_seconds_count{side="server"}' "$tq")
	say "scraped: $hc handler times at the server, $xc XDP times"
	expect_ge "${hc%.*}" "$n" "server handler times scraped"
	expect_ge "${xc%.*}" "$n" "server XDP times scraped"
}
