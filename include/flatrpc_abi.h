/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flatrpc_abi.h - the one header shared by kern/, user/ and generated code.
 *
 * Everything that crosses the kernel/user boundary or the wire is defined
 * here exactly once: the FlatRPC header, drop reasons (which double as
 * metric keys), counters, pinned map names and the in-order state key.
 * Never copy a struct from this file; include it.
 */
#ifndef FLATRPC_ABI_H
#define FLATRPC_ABI_H

#ifdef __bpf__
#include <linux/types.h>
#else
#include <linux/types.h>
#include <stddef.h>
#endif

#define FLATRPC_MAGIC		0xF1	/* 'F' nibble + wire version 1 */
#define FLATRPC_DEFAULT_PORT	7447
#define FLATRPC_MAX_METHODS	64
#define FLATRPC_MAX_QUEUES	64
#define FLATRPC_MAX_ERRORS	127	/* ANF error codes are 1..127 */
/* An ANF chain's verdict besides 0 (pass on) and an error code: send the
 * request on to the IPv4 address the ANF chose (the spec's forward()). */
#define FLATRPC_ANF_FORWARD	0x100

/* Method properties, from the spec's transport chain (generated tables). */
#define FLATRPC_M_RELIABLE	0x1	/* retransmit on timeout, dedup at server */
#define FLATRPC_M_INORDER	0x2	/* per-(client, method) sequence numbers */
/* With FLATRPC_M_INORDER: strategy "drop". Late requests are discarded
 * (seq_late) and an ahead one is delivered, skipping the gap. Without it an
 * in-order method is "hold-forever" (see FLATRPC_F_AHEAD). */
#define FLATRPC_M_INORDER_DROP	0x4
/* The method has client: elements with a req(): the sending library runs
 * them before the request goes out and strips the metadata only they read,
 * in user space from the code flatrpc-gen put into the stubs (registered
 * as struct flatrpc_client_anfs), or else through the pinned
 * FLATRPC_PIN_PROG_CLIENT program (docs/placement.md). */
#define FLATRPC_M_CLIENT_ANF	0x8
/* A server: element of the method's chain can forward() it: the answer
 * comes from the backend that got it, so the caller cannot require it to
 * come from the host it called (only from the port; the tag still holds). */
#define FLATRPC_M_FORWARD	0x10

/*
 * Method priority, from the spec's priority(level=N): 0 (default, lowest)
 * to 7. The receiving library runs queued requests of a higher level first,
 * and every frame of the method carries DSCP class selector CS<level>, so
 * that the network can honour it too.
 */
#define FLATRPC_PRIO_LEVELS	8
#define FLATRPC_PRIO_MAX	(FLATRPC_PRIO_LEVELS - 1)
/* The IPv4 TOS byte of a level: DSCP = 8 * level (CS0..CS7), ECN bits 0. */
#define FLATRPC_PRIO_TOS(level)	((__u8)(((level) & FLATRPC_PRIO_MAX) << 5))

/* Low two bits of flatrpc_hdr.flags. */
enum flatrpc_kind {
	FLATRPC_REQ  = 0,
	FLATRPC_RESP = 1,
	FLATRPC_ERR  = 2,	/* a response whose status says why */
	FLATRPC_ACK  = 3,	/* no response yet: status is an enum flatrpc_ack */
};

/* Status of a FLATRPC_ACK. It echoes the request's rpc_id and method, never
 * carries a body, and does not complete the call. */
enum flatrpc_ack {
	/* The request arrived and waits in the server library (queued or held
	 * for its turn): the sender stops retransmitting for one RTO. */
	FLATRPC_ACK_PENDING	= 1,
	/* The receiver's backlog is above its threshold; the request was not
	 * delivered. Sent by the receiver's XDP. The sender shrinks its window
	 * and sends the request again later, without spending a retry. */
	FLATRPC_ACK_BUSY	= 2,
	/* The request was signed for an epoch the receiver does not hold (a
	 * HELLO, or a stale one): it was not delivered. The ACK's body is a
	 * struct flatrpc_epoch_body with the receiver's current epoch; the
	 * sender signs the request for it and sends it again at once, without
	 * spending a retry. Sent by the receiver's XDP (docs/security.md). */
	FLATRPC_ACK_EPOCH	= 3,
};
#define FLATRPC_KIND_MASK	0x03
/* Opens an in-order (client, method) stream, or restarts it after the
 * sender gave up on a message: the receiver creates its state, or moves it
 * forward past the gap. Never backwards, so a stale duplicate cannot rewind
 * it. Set on a stream's first message and on those in flight when one of
 * them was abandoned, and on their retransmissions. */
#define FLATRPC_F_FIRST		0x04
/* Set by the sender on a retransmission; informational only. */
#define FLATRPC_F_RETX		0x08
/* Set by the receiver's XDP program: this request was already delivered.
 * The library must answer it from its response cache and never execute it. */
#define FLATRPC_F_DUP		0x10
/* Set by the receiver's XDP program on a request of a hold-forever stream
 * that arrived ahead of the expected sequence, by less than
 * FLATRPC_HOLD_WINDOW. Its ANFs have run; `seqs` was not advanced. The
 * library holds it and executes it once the gap before it is filled, then
 * moves `seqs` past what it executed. If an ANF denied it, `status` carries
 * the ANF's error code and the library answers FLATRPC_ERR in its turn
 * instead of executing it (an XDP reply would leave a gap in the stream). */
#define FLATRPC_F_AHEAD		0x20
/* One fragment of a message whose body exceeds FLATRPC_FRAG_CHUNK: a
 * struct flatrpc_frag follows the header and counts in `len`. Every
 * fragment repeats the header (rpc_id, method, seq); the first one carries
 * the body's start, so all ANF-read fields (docs/transport.md). */
#define FLATRPC_F_FRAG		0x40

/* How far ahead of the expected sequence a hold-forever request is still
 * delivered (and held by the library); further ahead it is dropped as
 * seq_ahead and retransmitted. A power of two: the library indexes its
 * hold slots by seq % FLATRPC_HOLD_WINDOW. */
#define FLATRPC_HOLD_WINDOW	64

/*
 * On the wire after Ethernet/IPv4/UDP. Header fields are big-endian so that
 * tcpdump/tshark read them naturally; the per-method body that follows uses
 * little-endian fixed offsets (see the generated <service>.abi.h).
 */
struct flatrpc_hdr {
	__u8	magic;		/* FLATRPC_MAGIC */
	__u8	flags;		/* enum flatrpc_kind | FLATRPC_F_* */
	__u8	method;		/* method id, assigned by flatrpc-gen */
	__u8	status;		/* 0, or an error code when kind == FLATRPC_ERR; in a
				 * request, FLATRPC_EPOCH_HINT of the epoch it is
				 * signed for */
	__be32	rpc_id;		/* unique per client socket; echoed in the response */
	__be16	seq;		/* per (client, method) sequence, in-order methods only */
	__be16	len;		/* body bytes after this header */
} __attribute__((packed));
_Static_assert(sizeof(struct flatrpc_hdr) == 12, "flatrpc_hdr is 12 bytes on the wire");

/*
 * Multi-packet messages. Every fragment but the last carries exactly
 * FLATRPC_FRAG_CHUNK body bytes, so a fragment's offset is index * CHUNK
 * whatever order they arrive in. 1400 keeps a fragment's IP packet (20 + 8 +
 * 12 + 4 + 1400) under a 1500-byte MTU; a body of at most CHUNK bytes goes
 * unfragmented with the plain 12-byte header.
 */
#define FLATRPC_FRAG_CHUNK	1400
#define FLATRPC_FRAG_MAX	64	/* fragments per message: a u64 bitmap */
#define FLATRPC_MSG_MAX		(FLATRPC_FRAG_CHUNK * FLATRPC_FRAG_MAX)

struct flatrpc_frag {
	__be16	index;		/* 0 .. count - 1 */
	__be16	count;		/* 2 .. FLATRPC_FRAG_MAX */
} __attribute__((packed));
_Static_assert(sizeof(struct flatrpc_frag) == 4, "fragment extension is 4 bytes");

/*
 * A peer address in map keys, 16 bytes for both families so one map serves
 * both: an IPv6 address as is, an IPv4 one IPv4-mapped (::ffff:a.b.c.d).
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FLATRPC_V4MAPPED_WORD	0xffff0000u	/* 00 00 ff ff on the wire */
#else
#define FLATRPC_V4MAPPED_WORD	0x0000ffffu
#endif
#define FLATRPC_ADDR_V4MAPPED(k, v4) do {				\
	(k)[0] = 0;							\
	(k)[1] = 0;							\
	(k)[2] = FLATRPC_V4MAPPED_WORD;					\
	(k)[3] = (v4);							\
} while (0)

/*
 * The ANF verdict of a first fragment, for the later ones: XDP records a
 * first fragment it denied or dropped under (sender, rpc_id, kind), and
 * drops that message's later fragments as frag_denied. An accepted first
 * fragment deletes the record (a retransmission may pass where the
 * original was dropped).
 */
struct flatrpc_frag_key {
	__be32	addr[4];	/* sender, FLATRPC_ADDR form */
	__be16	port;
	__u8	kind;		/* FLATRPC_REQ, or FLATRPC_RESP for responses */
	__u8	pad;
	__be32	rpc_id;
};
_Static_assert(sizeof(struct flatrpc_frag_key) == 24, "no hidden padding");

/* Status codes of FLATRPC_ERR responses. 1..127 are the spec's ANF errors,
 * numbered by flatrpc-gen in the generated error table. */
enum flatrpc_status {
	FLATRPC_ST_OK		= 0,
	FLATRPC_ST_NO_METHOD	= 128,	/* server has no handler */
	FLATRPC_ST_BAD_REQUEST	= 129,	/* body failed to decode */
	FLATRPC_ST_APP		= 130,	/* handler returned an error */
	/* An ANF's set() found its @full(refuse) map full (docs/spec-language.md).
	 * The chain returns it like an ANF error code. */
	FLATRPC_ST_STATE_FULL	= 131,
};

/* A chain's return value that answers the request with an ERR of that status. */
#define FLATRPC_ANF_IS_ERR(ret) \
	(((ret) > 0 && (ret) <= FLATRPC_MAX_ERRORS) || (ret) == FLATRPC_ST_STATE_FULL)

/*
 * Drop reasons, named and counted per reason in the pinned "drops" map.
 * Append only: the numbers are map keys that tools read.
 */
#define FLATRPC_DROP_REASONS(X)						\
	X(NONE,		"none")						\
	X(TRUNCATED,	"truncated")	/* shorter than the headers */	\
	X(BAD_MAGIC,	"bad_magic")	/* not FlatRPC v1 */		\
	X(BAD_LEN,	"bad_length")	/* IP/UDP/FlatRPC lengths disagree */ \
	X(UNKNOWN_METHOD, "unknown_method")				\
	X(SHORT_BODY,	"short_body")	/* body < method's fixed layout */ \
	X(BAD_KIND,	"bad_kind")	/* ACK or unknown kind */	\
	X(SEQ_AHEAD,	"seq_ahead")	/* beyond the hold window: wait for retransmission */ \
	X(SEQ_NOSTATE,	"seq_nostate")	/* in-order, no stream and not FIRST */ \
	X(NO_SOCKET,	"no_socket")	/* no AF_XDP socket on this queue */ \
	X(IP_FRAG,	"ip_fragment")	/* fragmented or optioned IPv4 */ \
	X(SEQ_LATE,	"seq_late")	/* inorder "drop": older than expected */ \
	X(FRAG_BAD,	"frag_bad")	/* fragment index/count out of range */ \
	X(FRAG_DENIED,	"frag_denied")	/* first fragment was denied or dropped */ \
	X(IP6_EXT,	"ipv6_ext_header") /* IPv6 with any extension header */ \
	X(FWD_IP6,	"forward_ipv6")	/* forward() of an IPv6 request: IPv4 only */ \
	X(FWD_FAILED,	"forward_failed") /* forward(): no route to the backend (kern/forward.h) */ \
	X(NOT_CLIENT_REQ, "not_client_request") /* the client: program got no request built for it */ \
	X(BAD_TAG,	"bad_tag")	/* the message tag is not that of a live key (docs/security.md) */ \
	X(NOT_LOCAL,	"not_local")	/* the destination address is not this host's (kern/local.h) */ \
	X(EPOCH_HELLO,	"epoch_hello")	/* a request that asks for the epoch: answered ACK EPOCH, not run */ \
	X(STALE_EPOCH,	"stale_epoch")	/* signed for an epoch no longer live: answered ACK EPOCH, not run */

enum flatrpc_drop {
#define FLATRPC_X_ENUM(n, s) FLATRPC_DROP_##n,
	FLATRPC_DROP_REASONS(FLATRPC_X_ENUM)
#undef FLATRPC_X_ENUM
	FLATRPC_DROP__MAX
};

/*
 * Per-method counters of the kernel programs: a per-CPU array keyed by
 * method id, summed by tools. X(field, help): the field is also the JSON
 * key of `flatrpc-load --status -j` and, as flatrpc_kernel_<field>_total,
 * the Prometheus name (docs/observability.md). Append only.
 */
#define FLATRPC_METHOD_STATS(X)						\
	X(rx_req,	"requests delivered to the local socket")	\
	X(rx_resp,	"responses (errors included) delivered to the local socket") \
	X(anf_err,	"requests answered with an ANF error, in XDP or by the client: program") \
	X(dup,		"retransmitted requests marked DUP")		\
	X(tx_stack,	"FlatRPC messages leaving through the kernel stack (TC)") \
	X(busy,		"requests refused with ACK BUSY by this XDP")	\
	X(rx_ack,	"ACKs delivered to the local socket")		\
	X(client_pass,	"requests the client: program let through")	\
	X(seq_pushed,	"in-order streams a new one pushed out of its host's share (FLATRPC_SEQ_PER_HOST)")

struct flatrpc_method_stats {
#define FLATRPC_X_FIELD(f, help) __u64 f;
	FLATRPC_METHOD_STATS(FLATRPC_X_FIELD)
#undef FLATRPC_X_FIELD
};

/*
 * Latency histograms (docs/observability.md), log-linear: 8 buckets per
 * power of two, so a bucket is at most 12.5% wide, from 1 ns to 2^36 ns
 * (69 s; slower ones count in the last bucket). Bucket i holds the values
 * v with flatrpc_hist_upper(i - 1) < v <= flatrpc_hist_upper(i), in ns.
 * Counts only add, so histograms of CPUs and processes merge by adding
 * them bucket by bucket. The same code computes a bucket in BPF and in
 * the library.
 */
#define FLATRPC_HIST_SUB_BITS	3
#define FLATRPC_HIST_SUB	(1u << FLATRPC_HIST_SUB_BITS)
#define FLATRPC_HIST_BUCKETS	(FLATRPC_HIST_SUB * 34)

struct flatrpc_hist {
	__u64	count;
	__u64	sum_ns;
	__u64	bucket[FLATRPC_HIST_BUCKETS];
};

/* Highest set bit + 1 (0 for 0), without a loop or a builtin BPF lacks. */
static inline __u32 flatrpc_fls64(__u64 x)
{
	__u32 n = 0;

	if (x >> 32) { n += 32; x >>= 32; }
	if (x >> 16) { n += 16; x >>= 16; }
	if (x >> 8) { n += 8; x >>= 8; }
	if (x >> 4) { n += 4; x >>= 4; }
	if (x >> 2) { n += 2; x >>= 2; }
	if (x >> 1) { n += 1; x >>= 1; }
	return n + (__u32)x;
}

/* Buckets are closed above, (lower, upper], so that each bucket's upper
 * bound is a round figure for Prometheus's `le`: v - 1 is bucketed. */
static inline __u32 flatrpc_hist_bucket(__u64 ns)
{
	__u64 x = ns ? ns - 1 : 0;
	__u32 e, i;

	if (x < FLATRPC_HIST_SUB)
		return (__u32)x;
	e = flatrpc_fls64(x) - 1;
	i = (e - FLATRPC_HIST_SUB_BITS + 1) * FLATRPC_HIST_SUB +
	    (__u32)((x >> (e - FLATRPC_HIST_SUB_BITS)) & (FLATRPC_HIST_SUB - 1));
	return i < FLATRPC_HIST_BUCKETS ? i : FLATRPC_HIST_BUCKETS - 1;
}

/* The largest value, in ns, that bucket i holds. */
static inline __u64 flatrpc_hist_upper(__u32 i)
{
	__u32 e = i / FLATRPC_HIST_SUB + FLATRPC_HIST_SUB_BITS - 1;

	if (i < FLATRPC_HIST_SUB)
		return i + 1;
	return (__u64)(FLATRPC_HIST_SUB + 1 + i % FLATRPC_HIST_SUB) << (e - FLATRPC_HIST_SUB_BITS);
}

/*
 * What the library counts per method, in the pinned `obs` array (one entry
 * per method id, BPF_F_MMAPABLE): every process of the host that uses the
 * interface maps it and adds with atomic increments, so counting costs no
 * syscall and the processes' figures are one sum. X(field, help) as for
 * FLATRPC_METHOD_STATS; Prometheus: flatrpc_<field>_total. Append only.
 */
#define FLATRPC_CALL_COUNTERS(X)					\
	X(retransmits,	"client: requests sent again after a timeout")	\
	X(timeouts,	"client: calls ended without an answer (FLATRPC_E_TIMEOUT)") \
	X(busy,		"client: ACK BUSY received (the request is sent again later)") \
	X(pending,	"client: ACK PENDING received (the server holds the request)") \
	X(overloaded,	"client: lossy calls refused by a busy server (FLATRPC_E_OVERLOADED)") \
	X(served,	"server: requests the handler ran")		\
	X(served_err,	"server: requests the handler answered with an error")

struct flatrpc_method_obs {
	/* client: calls answered, by the answer's status (0: ok, else the
	 * ERR status: an ANF error of the spec or a FLATRPC_ST_*) */
	__u64	answered[256];
#define FLATRPC_X_FIELD(f, help) __u64 f;
	FLATRPC_CALL_COUNTERS(FLATRPC_X_FIELD)
#undef FLATRPC_X_FIELD
	struct flatrpc_hist call;	/* client: send to answer, answered calls */
	struct flatrpc_hist handler;	/* server: the handler's run */
};

/*
 * The receiving library's backlog, one entry per RX queue, in an mmap-able
 * array (`load`, BPF_F_MMAPABLE): the library stores into it with plain
 * writes, so publishing costs no syscall; XDP reads it per request. Above
 * busy_at, XDP answers requests with ACK BUSY instead of queueing them.
 * busy_at == 0: no server library on the queue, never BUSY.
 */
struct flatrpc_load {
	__u32	backlog;	/* requests taken from the RX ring and not yet run */
	__u32	busy_at;	/* threshold, set by the library */
};

/*
 * In-order receive state (docs/transport.md, docs/security.md "State that
 * fills"). `seqs` holds one stream per (client, port, method). A client host
 * owns at most FLATRPC_SEQ_PER_HOST streams of a method, listed in its
 * `seq_hosts` entry: its next new stream pushes out its own least recently
 * used one, never another host's.
 */
#define FLATRPC_SEQ_PER_HOST	16
/* a power of two: XDP masks a slot index with it for the verifier */
_Static_assert((FLATRPC_SEQ_PER_HOST & (FLATRPC_SEQ_PER_HOST - 1)) == 0, "power of two");

struct flatrpc_seq_key {
	__be32	addr[4];	/* client, FLATRPC_ADDR form */
	__be16	port;
	__u8	method;
	__u8	pad;
};
_Static_assert(sizeof(struct flatrpc_seq_key) == 20, "no hidden padding");

struct flatrpc_seq_state {
	__u16	expected;	/* next sequence number to deliver */
	__u16	pad;
	__u32	used;		/* when it last delivered, in jiffies (any clock that
				 * only goes forward); 0: never, the first to go */
};

struct flatrpc_seq_host_key {
	__be32	addr[4];	/* client, FLATRPC_ADDR form */
	__u8	method;
	__u8	pad[3];
};
_Static_assert(sizeof(struct flatrpc_seq_host_key) == 20, "no hidden padding");

/* A slot holds FLATRPC_SEQ_SLOT(port) (port in network order), 0 if free. */
#define FLATRPC_SEQ_SLOT(port)	(0x10000u | (__u16)(port))
#define FLATRPC_SEQ_SLOT_PORT(v) ((__be16)((v) & 0xffffu))
struct flatrpc_seq_host {
	__u32	slot[FLATRPC_SEQ_PER_HOST];
};

/*
 * Message authentication (docs/security.md). Unless the spec says
 * `auth: none`, every FlatRPC frame ends in a FLATRPC_TAG_LEN-byte tag that
 * follows the body and is not counted in flatrpc_hdr.len (the UDP length
 * counts it). The tag is SipHash-2-4 (flatrpc_siphash.h), keyed with the
 * service's key, of struct flatrpc_tag_pseudo followed by the frame's
 * FlatRPC header and body (fragment extension included), stored
 * little-endian. Receivers check it in XDP before anything else looks at
 * the frame. The destination address is left out so that a forward()ed
 * request keeps its tag; the source is in, so a frame cannot be passed off
 * as another peer's.
 */
#define FLATRPC_TAG_LEN		8

struct flatrpc_tag_pseudo {
	__be32	saddr[4];	/* sender, FLATRPC_ADDR form */
	__be16	sport;
	__be16	dport;
	__u32	epoch;		/* a request's: the receiver's epoch it is meant
				 * for (0: a HELLO, or a FLATRPC_M_FORWARD method);
				 * 0 in every answer */
};
_Static_assert(sizeof(struct flatrpc_tag_pseudo) == 24, "three SipHash words");

/* The live keys of a service, in the one-entry, mmap-able `auth_keys` map:
 * flatrpc-load writes it from the key file, XDP verifies with it and the
 * library signs with key[0]. Two keys are live during a rotation. */
#define FLATRPC_KEYS_MAX	2
struct flatrpc_keys {
	__u32	on;		/* 1: frames carry tags (the spec's auth) */
	__u32	count;		/* live keys, 1..FLATRPC_KEYS_MAX (0 while on == 0) */
	__u64	key[FLATRPC_KEYS_MAX][2];	/* key[0] signs and verifies, key[1] verifies */
	/* The receiver's live epochs, FLATRPC_EPOCHS(cur, prev): one word, so
	 * that XDP never reads half a rotation. Written by flatrpc-load at
	 * each load and by the server library when it rotates. */
	__u64	epochs;
};

/*
 * Epochs keep a captured request from running again (docs/security.md,
 * Replay). A request is signed for the receiver's current epoch, or the
 * previous one during a rotation; others are not delivered. A load picks a
 * random epoch and no previous one, so nothing captured before it runs;
 * the server library rotates (cur + 1) before its response cache forgets
 * a request that a live epoch would still admit. The low byte, the hint a
 * request carries in its status, is never 0: hint 0 is a HELLO.
 */
#define FLATRPC_EPOCHS(cur, prev)	((__u64)(__u32)(cur) | (__u64)(__u32)(prev) << 32)
#define FLATRPC_EPOCH_CUR(e)		((__u32)(e))
#define FLATRPC_EPOCH_PREV(e)		((__u32)((e) >> 32))
#define FLATRPC_EPOCH_HINT(epoch)	((__u8)(epoch))
static inline __u32 flatrpc_epoch_next(__u32 e)
{
	e++;
	return FLATRPC_EPOCH_HINT(e) ? e : e + 1;
}

/* The body of an ACK EPOCH. */
struct flatrpc_epoch_body {
	__be32	epoch;		/* the receiver's current epoch */
};

/*
 * What happened to the inserts into each ANF Map state, in `state_limits`
 * (an array indexed by the state's number, FLATRPC_SPEC_STATES order in the
 * generated init.h). Shared by all CPUs, not per CPU: `live` must be one
 * number. Inserts of new keys only; updates of present keys are not counted.
 */
#define FLATRPC_MAX_STATES	64	/* Map states of one service */
struct flatrpc_state_limits {
	__u64	inserted;	/* new keys stored */
	__u64	evicted;	/* @full(evict): stored into a full map, pushing out the
				 * least recently used key (a lower bound: see
				 * docs/spec-language.md) */
	__u64	refused;	/* @full(refuse): not stored, request answered
				 * FLATRPC_ST_STATE_FULL */
	__s64	live;		/* entries, as counted here; the loader sets it at load */
	__s64	max;		/* the map's max_entries, set by the loader */
};

/*
 * What each ANF element decided, counted per run in `elem_verdicts` (a
 * per-CPU array the generated anf.bpf.h defines, sized for the spec):
 * FLATRPC_ELEM_VERDICTS keys per (method, chain entry, hook) slot, the
 * slots listed by FLATRPC_SPEC_ELEMENTS in the generated init.h. The
 * verdict is 0 for passed on, the ERR status for an error (the spec's
 * error codes 1..127, FLATRPC_ST_STATE_FULL), FLATRPC_ELEM_FORWARDED for
 * forward(). Elements after a denial do not run and count nothing.
 */
#define FLATRPC_ELEM_VERDICTS	256
#define FLATRPC_ELEM_FORWARDED	255
#define FLATRPC_ELEM_VERDICT(rc) \
	((rc) == FLATRPC_ANF_FORWARD ? FLATRPC_ELEM_FORWARDED : (__u32)(rc) & 0xff)

/*
 * What the client: elements that the sending library runs in user space
 * decided, in `client_verdicts`, an array of __u64 (BPF_F_MMAPABLE, sized
 * for the spec by the generated anf.bpf.h) that every process of the host
 * maps and adds to with atomics; the kernel never touches it. Per method
 * the requests they let through and the ones they answered with an error
 * (what `stats` counts as client_pass and anf_err for the client program),
 * then FLATRPC_ELEM_VERDICTS keys per elem_verdicts slot.
 */
#define FLATRPC_CV_PASS(m)		((m) * 2)
#define FLATRPC_CV_ERR(m)		((m) * 2 + 1)
#define FLATRPC_CV_ELEM(slot, v)	(2 * FLATRPC_MAX_METHODS + (slot) * FLATRPC_ELEM_VERDICTS + (v))
#define FLATRPC_CV_ENTRIES(slots)	FLATRPC_CV_ELEM(slots, 0)

/* One map update produced by an element's init(), emitted by flatrpc-gen
 * into init.h: the loader seeds the BPF maps with it, and the library the
 * state of the client: elements it runs. */
struct flatrpc_init_entry {
	const char	*map;		/* BPF map name in the object */
	const void	*key;
	__u32		key_size;
	const void	*value;
	__u32		value_size;
};

/* Pinned objects, under <bpffs>/flatrpc/<ifname>/. */
#define FLATRPC_PIN_SUBDIR	"flatrpc"
#define FLATRPC_PIN_XSKS	"xsks"
#define FLATRPC_PIN_STATS	"stats"
#define FLATRPC_PIN_DROPS	"drops"
#define FLATRPC_PIN_SEQS	"seqs"
#define FLATRPC_PIN_SEQ_HOSTS	"seq_hosts"
#define FLATRPC_PIN_META	"meta"
#define FLATRPC_PIN_FRAGS	"frag_verdicts"
#define FLATRPC_PIN_LOAD	"load"
#define FLATRPC_PIN_KEYS	"auth_keys"
#define FLATRPC_PIN_STATE_LIMITS "state_limits"
#define FLATRPC_PIN_OBS		"obs"		/* struct flatrpc_method_obs by method */
#define FLATRPC_PIN_XDP_TIME	"xdp_time"	/* per-CPU struct flatrpc_hist, XDP run time */
#define FLATRPC_PIN_ELEM_VERDICTS "elem_verdicts"	/* per-CPU, FLATRPC_ELEM_VERDICT by slot */
/* the object's .rodata.desc (user/load/desc.h): the spec's names for the
 * status tools; at most FLATRPC_DESC_MAX bytes */
#define FLATRPC_PIN_DESC	"desc"
#define FLATRPC_DESC_MAX	65536
#define FLATRPC_PIN_CLIENT_VERDICTS "client_verdicts"	/* FLATRPC_CV_*, added by the library */
#define FLATRPC_PIN_PROG_XDP	"prog_xdp"
#define FLATRPC_PIN_PROG_TC	"prog_tc"
/* Never attached: the library runs it with BPF_PROG_TEST_RUN per request of
 * a FLATRPC_M_CLIENT_ANF method. */
#define FLATRPC_PIN_PROG_CLIENT	"prog_client"

/*
 * The interface's own pins, beside its services' directories
 * (<bpffs>/flatrpc/<ifname>/<service>/): the XDP entry point that every
 * FlatRPC frame of the interface passes first, and the program array it
 * tail-calls into, indexed by the UDP port of each loaded service
 * (kern/dispatch.bpf.c, docs/loading.md).
 */
#define FLATRPC_PIN_PROG_DISPATCH "prog_dispatch"
#define FLATRPC_PIN_DISPATCH	"dispatch"
#define FLATRPC_DISPATCH_PORTS	65536

/* What flatrpc-load records about an attachment (a one-entry array). */
struct flatrpc_meta {
	__u64	spec_hash;	/* identifies the compiled spec */
	char	service[32];
	__u32	ifindex;
	__u16	port;		/* UDP port of the service */
	__u8	xdp_mode;	/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	__u8	created_clsact;	/* 1 if flatrpc-load created the clsact qdisc */
	__u8	figures;	/* 1: XDP time and element verdicts recorded
				 * (flatrpc-load --figures, docs/observability.md) */
	__u8	pad[7];
};

#endif /* FLATRPC_ABI_H */
