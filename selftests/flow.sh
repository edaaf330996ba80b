# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# flow.sh - priority, congestion and flow-control selftests (docs/transport.md).
# Sourced by run.sh after lib.sh; needs specs/kv.anf loaded on both ends
# (test_load) and no other kv-server on the server's queue.

# slow_server_start NAME ARGS...: a kv-server of its own, with its log in
# $WORK/NAME.log; ready once it answers a get.
slow_server_start() {
	local name=$1 i rc
	shift
	: >"$WORK/$name.log"
	ip netns exec "$NS_S" "$KV_SERVER" --iface "$IF_S" --log "$WORK/$name.log" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	echo $! >"$WORK/$name.pid"
	for i in $(seq 20); do
		kill -0 "$(cat "$WORK/$name.pid")" 2>/dev/null ||
			fail "kv-server $* exited: $(cat "$WORK/$name.err")"
		rc=0; kv --user probe --session 1 get ready-probe >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && return 0
	done
	fail "kv-server $* never answered"
}

slow_server_stop() {
	local pid rc=0
	pid=$(cat "$WORK/$1.pid")
	kill -TERM "$pid" 2>/dev/null || fail "kv-server ($1) died before the end"
	wait "$pid" || rc=$?
	rm -f "$WORK/$1.pid"
	expect_eq "$rc" 0 "kv-server ($1) exit status"
}

# status_col IFACE-NS IFACE METHOD COLUMN: a method's counter from --status
status_col() {
	ip netns exec "$1" "$LOADER" --status "$2" |
		awk -v m="$3" -v c="$4" '
			/^ *method / { for (i = 1; i <= NF; i++) if ($i == c) col = i }
			col && $1 == m { print $col; found = 1 }
			END { if (!found) print 0 }'
}

# A flood of low-priority gets against a slow server does not delay a set
# (priority 4): between a set's arrival in the library's queues and its run,
# no get runs (overtaken_max=0; the get already running when it reached the
# RX ring is the only one it can wait for). bypassed > 0 and the log show the
# gets really were queued ahead of sets. Every frame of a set carries DSCP
# CS4 (TOS 0x80), every frame of a get CS0, in both directions, seen from
# the router.
test_priority() {
	need "$KV_SERVER" "$KV_CLIENT"
	local pcap=$WORK/prio.pcap out line n i
	# one FlatRPC header after UDP's 8 bytes; TOS at ip[1]
	local m=$(( 8 + FR_HDR_OFF_METHOD ))
	local is_set="udp[$m] = $(kv_method set)" is_get="udp[$m] = $(kv_method get)"

	# not through in_r: $! must be tcpdump itself, not a subshell
	# --immediate-mode: with the default buffer timeout, frames still in
	# the kernel's current capture block when tcpdump is stopped are never
	# written (seen under TCG: an empty capture after 200 calls)
	ip netns exec "$NS_R" tcpdump -i "$IF_R1" --immediate-mode -U -w "$pcap" "udp port $FR_DEFAULT_PORT" \
		2>"$WORK/tcpdump.err" &
	echo $! >"$WORK/tcpdump.pid"
	for i in $(seq 50); do
		grep -q 'listening on' "$WORK/tcpdump.err" && break
		sleep 0.1
	done
	grep -q 'listening on' "$WORK/tcpdump.err" || fail "tcpdump did not start: $(cat "$WORK/tcpdump.err")"

	# 50 us per request and 100 gets outstanding: the queue stays under
	# the gets' 20 ms timeout, so the flood is answered, just late.
	slow_server_start prio --delay-us 50
	out=$(timeout "$T_LOAD" ip netns exec "$NS_C" "$KV_CLIENT" --iface "$IF_C" --server $IP_S \
		--user Kevin --session 41 load --count "$(scaled 2000)" --set-ratio 5 \
		--outstanding 100) || true
	line=$(parse_load "$out")
	say "$line"
	slow_server_stop prio
	# let tcpdump write the last frames it has before stopping it
	sleep 0.5
	kill -INT "$(cat "$WORK/tcpdump.pid")"
	wait "$(cat "$WORK/tcpdump.pid")" || true

	expect_eq "$(field failed "$line")" 0 "failed calls"
	# every set ran, once (a loaded machine may still time a few out at
	# the client: not what this test is about)
	expect_eq "$(count_lines -c '^set ' "$WORK/prio.log")" "$(field set_tx "$line")" "sets executed"
	expect_eq "$(grep '^applied set keys:' "$WORK/prio.out" | sed -n 's/.*repeated=\([0-9]*\).*/\1/p')" 0 \
		"duplicate executions"
	line=$(grep '^priority level=4 ' "$WORK/prio.out") ||
		fail "no priority line for level 4 in: $(cat "$WORK/prio.out")"
	say "server: $line"
	expect_eq "$(field overtaken_max "$line")" 0 "gets run between a set's arrival and its run"
	expect_gt "$(field bypassed "$line")" 0 "queued gets that sets went ahead of"
	# the same from the log: a set with index i ran before gets sent before it
	n=$(awk '$1 == "get" || $1 == "set" { split($4, k, "-"); print $1, k[2] }' "$WORK/prio.log" |
		awk '$1 == "set" { s[NR] = $2 } $1 == "get" { g[NR] = $2 }
		     END { for (a in s) for (b in g) if (b + 0 > a + 0 && g[b] + 0 < s[a] + 0) { n++; break }
			   print n + 0 }')
	say "sets that ran before a get sent earlier: $n"
	expect_gt "$n" 0 "sets reordered ahead of earlier gets in the server log"

	n=$(tcpdump -r "$pcap" -nn "$is_set" 2>/dev/null | wc -l)
	expect_gt "$n" 0 "set frames captured at the router"
	expect_eq "$(tcpdump -r "$pcap" -nn "$is_set and (ip[1] & 0xfc) != 0x80" 2>/dev/null | wc -l)" 0 \
		"set frames without DSCP CS4"
	expect_eq "$(tcpdump -r "$pcap" -nn "$is_set and src host $IP_S and (ip[1] & 0xfc) = 0x80" \
		2>/dev/null | wc -l | awk '{ print ($1 > 0) }')" 1 "set responses with DSCP CS4"
	expect_gt "$(tcpdump -r "$pcap" -nn "$is_get" 2>/dev/null | wc -l)" 0 "get frames captured"
	expect_eq "$(tcpdump -r "$pcap" -nn "$is_get and (ip[1] & 0xfc) != 0" 2>/dev/null | wc -l)" 0 \
		"get frames not CS0"
}

# A slow server with a small backlog threshold: XDP answers ACK BUSY instead
# of letting requests pile up, the client backs off, and every set (reliable)
# completes, executed once, with nothing dropped at the server's AF_XDP ring.
test_busy() {
	need "$KV_SERVER" "$KV_CLIENT"
	local out line st busy0 ack0 busy1 ack1 n
	busy0=$(status_col "$NS_S" "$IF_S" set busy)
	ack0=$(status_col "$NS_C" "$IF_C" set rx_ack)
	n=$(scaled 2000)

	slow_server_start busy --delay-us 200 --busy-at 16
	out=$(timeout "$T_LOAD" ip netns exec "$NS_C" "$KV_CLIENT" --iface "$IF_C" --server $IP_S \
		--user Kevin --session 42 load --count "$n" --set-ratio 100 --outstanding 128) || true
	line=$(parse_load "$out")
	say "$line"
	slow_server_stop busy
	st=$(grep '^transport ' "$WORK/busy.out") || fail "no transport line in: $(cat "$WORK/busy.out")"
	say "server: $st"
	busy1=$(status_col "$NS_S" "$IF_S" set busy)
	ack1=$(status_col "$NS_C" "$IF_C" set rx_ack)
	say "BUSY sent by the server's XDP: $((busy1 - busy0)), ACKs reaching the client: $((ack1 - ack0))"

	expect_eq "$(field set_ok "$line")" "$n" "sets completed"
	expect_eq "$(field timeouts "$line")" 0 "timed-out calls"
	expect_eq "$(field failed "$line")" 0 "failed calls"
	expect_gt "$((busy1 - busy0))" 0 "BUSY answers from the server's XDP"
	expect_gt "$((ack1 - ack0))" 0 "ACKs delivered to the client"
	expect_eq "$(field xsk_rx_dropped "$st")" 0 "requests dropped at the server's AF_XDP ring"
	expect_eq "$(field xsk_rx_ring_full "$st")" 0 "server RX ring full"
	expect_eq "$(count_lines -c '^set ' "$WORK/busy.log")" "$n" "sets executed"
	expect_eq "$(grep '^applied set keys:' "$WORK/busy.out" | sed -n 's/.*repeated=\([0-9]*\).*/\1/p')" 0 \
		"duplicate executions"
}
