#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Check the transport invariants of one kv-client load run from three
independent records, none of them the library's own claims:

  --results  kv-client's per-call results, in completion order:
             index method rpc_id err sent_ns done_ns
  --log      kv-server's execution log, in execution order:
             get|set USER SESSION key-INDEX
  --ids      the router's per-RPC records (maptool.py impair-ids):
             kind method rpc_id seen dropped duplicated retx_seen first_ns

Prints one summary line, then each violated invariant with a few examples;
exits 1 if any invariant is violated or the run was too mild to test them
(no lost lossy call, no duplicated request or response, no retransmission).
"""
import argparse
import bisect
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi  # noqa: E402

REQ, RESP, ERR = abi.REQ, abi.RESP, abi.ERR
ACK_EPOCH = abi.IMPAIR_REC_ACK_EPOCH


def error_codes(header):
    text = open(header).read()
    return {name: int(v) for name, v in
            re.findall(r'(FLATRPC_E_\w+)\s*=\s*(-?\d+)', text)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--ids-full", type=int, default=0)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--session", required=True)
    ap.add_argument("--lossy", type=int, default=0, help="method id of the lossy method")
    ap.add_argument("--inorder", type=int, default=1,
                    help="method id of the reliable, in-order method")
    ap.add_argument("--header", required=True, help="include/flatrpc.h")
    a = ap.parse_args()
    codes = error_codes(a.header)
    E_TIMEOUT = codes["FLATRPC_E_TIMEOUT"]
    # a busy server may refuse a lossy call outright; never a reliable one
    lossy_ok = {0, E_TIMEOUT, codes.get("FLATRPC_E_OVERLOADED", E_TIMEOUT)}
    reliable_ok = {0, E_TIMEOUT}

    bad = collections.defaultdict(list)

    # ---- client results ---------------------------------------------------
    res = {}          # index -> (method, rpc_id, err, position)
    sent = {}         # index -> client clock at send
    by_id = {}
    for pos, line in enumerate(open(a.results)):
        idx, method, rpc_id, err, sent_ns, _done = (int(x) for x in line.split())
        if idx in res:
            bad["a call completed more than once"].append("index %d" % idx)
            continue
        res[idx] = (method, rpc_id, err, pos)
        sent[idx] = sent_ns
        if rpc_id in by_id:
            bad["two calls with one RPC ID"].append("rpc_id %d" % rpc_id)
        by_id[rpc_id] = idx
    missing = [i for i in range(a.count) if i not in res]
    if missing:
        bad["a call never completed"] += ["index %d" % i for i in missing]
    for i, (m, rid, err, _) in res.items():
        allowed = lossy_ok if m == a.lossy else reliable_ok
        if err not in allowed:
            bad["a call ended with an error other than a timeout"].append(
                "index %d method %d err %d" % (i, m, err))

    # ---- router records ---------------------------------------------------
    rec = {}          # (kind, method, rpc_id) -> [seen, dropped, duplicated, retx, first_ns]
    for line in open(a.ids):
        k, m, rid, *v = (int(x) for x in line.split())
        rec[(k, m, rid)] = v
    if a.ids_full:
        bad["router records lost (impair_ids full)"].append("%d frames" % a.ids_full)

    def resp_delivered(m, rid):
        """Copies of the answer (RESP or ERR) the router let through."""
        n = 0
        for kind in (RESP, ERR):
            v = rec.get((kind, m, rid))
            if v:
                n += v[0] - v[1] + v[2]
        return n

    # ---- server execution log ---------------------------------------------
    execs = collections.Counter()     # (method, index) -> executions
    order = []                        # in-order method's indexes, execution order
    names = {"get": a.lossy, "set": a.inorder}
    for line in open(a.log):
        f = line.split()
        if len(f) != 4 or f[1] != a.user or f[2] != a.session or f[0] not in names:
            continue
        if not f[3].startswith("key-"):
            bad["unexpected key in the server log"].append(f[3])
            continue
        idx = int(f[3][4:])
        execs[(names[f[0]], idx)] += 1
        if names[f[0]] == a.inorder:
            order.append(idx)

    lost_lossy = []
    for i, (m, rid, err, pos) in sorted(res.items()):
        req = rec.get((REQ, m, rid))
        if req is None:
            bad["a request the router never saw"].append("index %d rpc_id %d" % (i, rid))
            continue
        seen, dropped, dups, retx, _first = req
        n_exec = execs[(m, i)]
        if m == a.lossy:
            # Lossy: never retried, so the router saw the client's one copy,
            # and one more for each ACK EPOCH that reached the client (the
            # request was not taken: a HELLO, or a stale epoch).
            ack = rec.get((ACK_EPOCH, m, rid))
            resent = ack[0] - ack[1] + ack[2] if ack else 0
            if seen > 1 + resent or retx:
                bad["a lossy call was retried"].append(
                    "index %d rpc_id %d seen %d retx %d epoch acks %d" %
                    (i, rid, seen, retx, resent))
            # No per-RPC state anywhere, so a copy the network made may run
            # again; nothing else may.
            if n_exec > seen - dropped + dups:
                bad["a lossy request ran more often than the network delivered it"].append(
                    "index %d ran %d, delivered %d" % (i, n_exec, seen - dropped + dups))
            # Lost at the router, so its timeout is the transport's due.
            # (Not checked: that a call whose answer got through succeeds;
            # under TCG an answer can arrive after the timeout, which is a
            # matter of speed. tests/unit/test_faults.c checks it in
            # simulated time.)
            if dropped or resp_delivered(m, rid) == 0:
                lost_lossy.append(i)
        else:
            # Reliable: at most once, and exactly once when it succeeded.
            if n_exec > 1:
                bad["a reliable request ran more than once"].append(
                    "index %d ran %d times" % (i, n_exec))
            if err == 0 and n_exec != 1:
                bad["a completed reliable call did not run exactly once"].append(
                    "index %d ran %d times" % (i, n_exec))
    for (m, i), n in execs.items():
        if i not in res:
            bad["the server ran a call the client never made"].append("index %d" % i)

    # In order: the in-order method's requests ran in the order sent (the
    # client sends in index order; a given-up call may leave a gap).
    for prev, cur in zip(order, order[1:]):
        if cur <= prev:
            bad["in-order requests ran out of order"].append("%d after %d" % (cur, prev))

    # "A lost lossy message delays no other RPC", by completion order: no
    # latency bound is asserted. For a lossy call X that lost its request or
    # every copy of its answer, its witnesses are the later lossy calls that
    # succeeded, whose request crossed the router after X's and whose answer
    # crossed it back in the first half of X's wait (from X's request at the
    # router to the report of X's timeout; the router and the client read
    # the same CLOCK_MONOTONIC). A transport that held later calls behind X
    # would report every witness after X's timeout; without that, each
    # witness's answer was on its last hop for half of X's timeout (10 ms
    # for kv's get), so one of 5 or more being reported before X is a
    # matter of the last hop only, even under TCG. Witnesses are lossy calls
    # only (the in-order method may keep the window full behind its own gap,
    # which is not X's doing), and are timed at the router, not from the
    # send call: a congestion window that shrank after the loss delays
    # their sending, which is rate control, not waiting for X.
    checked = 0
    done_at = {}
    for line in open(a.results):
        f = line.split()
        done_at[int(f[0])] = int(f[5])
    def answer_at(m, rid):
        t = [rec[(k, m, rid)][4] for k in (RESP, ERR) if (k, m, rid) in rec]
        return min(t) if t else None

    back = sorted((answer_at(m, rid), rec[(REQ, m, rid)][4], i)
                  for i, (m, rid, err, _) in res.items()
                  if m == a.lossy and err == 0 and (REQ, m, rid) in rec
                  and answer_at(m, rid) is not None)
    times = [t for t, _, _ in back]
    for x in lost_lossy:
        px = res[x][3]
        tx = rec[(REQ, a.lossy, res[x][1])][4]
        half = (tx + done_at[x]) // 2
        lo, hi = bisect.bisect_right(times, tx), bisect.bisect_left(times, half)
        wit = [i for _, treq, i in back[lo:hi] if i > x and treq > tx]
        if len(wit) < 5:
            continue
        checked += 1
        if all(res[y][3] > px for y in wit):
            bad["a lost lossy call delayed later calls"].append(
                "index %d (%d witnesses)" % (x, len(wit)))

    # ---- the run must have exercised what it checks --------------------------
    dup_req = sum(1 for (k, m, rid), v in rec.items() if k == REQ and v[2] and rid in by_id)
    dup_resp = sum(1 for (k, m, rid), v in rec.items() if k != REQ and v[2] and rid in by_id)
    retx = sum(v[3] for (k, m, rid), v in rec.items() if k == REQ and rid in by_id)
    ok = sum(1 for v in res.values() if v[2] == 0)
    timeouts = sum(1 for v in res.values() if v[2] == E_TIMEOUT)
    print("invariants: calls=%d ok=%d timeouts=%d lost_lossy=%d (%d with witnesses) "
          "dup_requests=%d dup_responses=%d retransmissions=%d inorder_executed=%d" %
          (len(res), ok, timeouts, len(lost_lossy), checked, dup_req, dup_resp, retx,
           len(order)))
    for what, n in (("lost lossy calls", len(lost_lossy)),
                    ("lost lossy calls with witnesses", checked),
                    ("duplicated requests", dup_req),
                    ("duplicated responses", dup_resp), ("retransmissions", retx),
                    ("in-order executions", len(order))):
        if n == 0:
            bad["the run was too mild: no " + what].append("")
    for what, ex in bad.items():
        print("VIOLATED: %s (%d): %s" % (what, len(ex), ", ".join(ex[:5])))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
