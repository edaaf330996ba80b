/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * spec.h - internals of flatrpc-gen: lexer, AST, checker, layout, emitters.
 *
 * The pipeline is  source -> tokens -> AST (per file, imports merged into
 * one struct fr_spec) -> checker (names, types, transport) -> layout (per
 * method and direction) -> emitters (text buffers). Every stage reports
 * through struct fr_diag and keeps going, so one run shows many errors.
 *
 * The checker writes what it resolves into the AST: the built-in, state,
 * element parameter or binding each name stands for, the used elements
 * and the Map states' slots. The emitters read that and look no name up;
 * what they still work out is the C width of each value, since one
 * element's body is shared by every method that chains it.
 *
 * All AST memory comes from the spec's arena and is released at once by
 * fr_spec_free(); nodes are never freed one by one.
 */
#ifndef FLATRPC_GEN_SPEC_H
#define FLATRPC_GEN_SPEC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- buffers and arena --------------------------------------------------- */

struct fr_buf {
	char	*p;
	size_t	len, cap;
};
void fr_buf_printf(struct fr_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fr_buf_put(struct fr_buf *b, const char *s, size_t n);
/* s as a C string literal, quotes included */
void fr_buf_cstring(struct fr_buf *b, const char *s);
void fr_buf_free(struct fr_buf *b);
/* Appends the whole file to b: 0, or -errno (b freed). */
int fr_read_file(const char *path, struct fr_buf *b);

struct fr_arena {
	struct fr_arena_blk *head;
};
void *fr_arena_alloc(struct fr_arena *a, size_t n);	/* zeroed; aborts on OOM */
char *fr_arena_strndup(struct fr_arena *a, const char *s, size_t n);
void fr_arena_free(struct fr_arena *a);

/* ---- sources and diagnostics ------------------------------------------- */

struct fr_src {
	const char	*name;		/* as shown in diagnostics */
	const char	*text;		/* NUL-terminated */
	size_t		len;
	struct fr_src	*next;
};

struct fr_loc {
	const struct fr_src *src;
	int line, col;			/* 1-based; col counts bytes */
};

struct fr_diag {
	FILE	*out;			/* NULL: count only */
	int	n_errors;
	int	n_warnings;		/* printed like errors; never fail a build */
};
void fr_error(struct fr_diag *d, struct fr_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fr_verror(struct fr_diag *d, struct fr_loc loc, const char *fmt, va_list ap);
void fr_warn(struct fr_diag *d, struct fr_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- lexer ---------------------------------------------------------------- */

enum fr_tok_kind {
	T_EOF, T_NEWLINE, T_INDENT, T_DEDENT,
	T_IDENT, T_INT, T_STRING,
	T_FLOAT,	/* 0.25: only for randomf() comparisons; text holds it */
	T_LPAREN, T_RPAREN, T_COMMA, T_COLON, T_DOT,
	T_LT, T_GT, T_LE, T_GE, T_EQ, T_EQEQ, T_NE,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
	T_AT,		/* @ of a state annotation */
	T_ARROW,	/* -> */
	T_FATARROW,	/* => */
	T_ERROR,	/* an invalid character; already reported */
};
const char *fr_tok_name(enum fr_tok_kind k);

struct fr_tok {
	enum fr_tok_kind kind;
	struct fr_loc	loc;
	const char	*text;		/* IDENT: name; STRING: decoded value */
	size_t		len;
	uint64_t	ival;		/* INT */
};

struct fr_toks {
	struct fr_tok	*v;
	size_t		n;
};
/* Always ends with NEWLINE? DEDENT* EOF. Errors go to d; tokens are still
 * produced so the parser can go on. Token text lives in arena a. */
int fr_lex(const struct fr_src *src, struct fr_arena *a, struct fr_diag *d,
	   struct fr_toks *out);

/* ---- AST -------------------------------------------------------------------- */

enum fr_type_kind {
	TY_NONE = 0,		/* unknown/erroneous: compatible with everything */
	TY_U8, TY_U16, TY_U32, TY_U64, TY_I64, TY_BOOL,
	TY_STRING, TY_BYTES,
	TY_MAP,
	TY_VEC,			/* Vec<T, N>: val is T, n is N; state only */
	TY_TUPLE,		/* (T, ...): elems[0..n-1]; map values only */
};

struct fr_type {
	enum fr_type_kind kind;
	unsigned	n;		/* string<N>/bytes<N> */
	struct fr_type	*key, *val;	/* Map<K, V> */
	struct fr_type	*elems;		/* TY_TUPLE */
	struct fr_loc	loc;
};

struct fr_field {
	const char	*name;
	struct fr_type	type;
	struct fr_loc	loc;
	int		is_meta;	/* from the service's metadata: */
};

struct fr_fields {
	struct fr_field	*v;
	unsigned	n, cap;
};

enum fr_expr_kind {
	E_INT, E_STR, E_NAME, E_CALL, E_ADD, E_SUB,
	E_BOOL,		/* true / false: ival 0 or 1 */
	E_CMP,		/* args[0] op args[1]; op is T_EQEQ, T_NE, T_LT, T_LE, T_GT, T_GE */
	E_AND, E_OR,	/* args[0], args[1] */
	E_TUPLE,	/* (a, b, ...): args; only on the right of (x, y) = ... */
	E_MUL, E_DIV, E_MOD,	/* args[0], args[1] */
	E_FLOAT,	/* fval; only compared with randomf() */
};

struct fr_state;
struct fr_builtin;
struct fr_eparam;
struct fr_expr {
	enum fr_expr_kind kind;
	struct fr_loc	loc;
	const char	*s;		/* NAME / CALL name / STR value */
	size_t		slen;		/* STR length */
	uint64_t	ival;
	struct fr_expr	**args;		/* CALL args; operators: args[0], args[1] */
	unsigned	nargs;
	enum fr_tok_kind op;		/* E_CMP */
	double		fval;		/* E_FLOAT */
	/* Resolved by the checker, read by the emitters, which so never look
	 * a name up again. Set in a spec without errors: */
	const struct fr_builtin *bi;	/* E_CALL: the built-in it calls, if any */
	struct fr_state	*st;		/* E_NAME: the state it names */
	const struct fr_eparam *prm;	/* E_NAME: the element parameter it names */
	unsigned	bind;		/* E_NAME: the binding it reads (numbered in its
					 * handler from 1, as in fr_arm and fr_stmt); 0: none */
};

enum fr_stmt_kind {
	S_MATCH, S_SEND, S_SET, S_CALL, S_PASS,
	S_ASSIGN,	/* names[0] = e, or (names...) = e (an E_TUPLE) */
	S_FOREACH,	/* foreach names[0] in e: body */
	S_FORWARD,	/* forward(rpc, ipv4): e is the call */
};
enum fr_arm_kind { A_SOME, A_NONE, A_CONST, A_WILD };

struct fr_stmt;
struct fr_block {
	struct fr_stmt	**v;
	unsigned	n, cap;
};

struct fr_arm {
	enum fr_arm_kind kind;
	struct fr_loc	loc;
	const char	*bind;		/* A_SOME binder; NULL with a tuple pattern */
	const char	**binds;	/* Some((a, b)): one name per tuple element */
	unsigned	nbinds;
	struct fr_expr	*value;		/* A_CONST */
	struct fr_block	body;
	unsigned	bind_id;	/* the checker's: Some(x)'s binding */
	unsigned	*bind_ids;	/* ... and one per name of Some((a, b)) */
};

struct fr_stmt {
	enum fr_stmt_kind kind;
	struct fr_loc	loc;
	struct fr_expr	*e;		/* MATCH scrutinee; SEND/SET/CALL: the call */
	struct fr_arm	*arms;
	unsigned	narms, armcap;
	const char	**names;	/* ASSIGN: the names on the left */
	struct fr_loc	*nlocs;
	unsigned	nnames;
	struct fr_block	body;		/* FOREACH */
	/* the checker's: ASSIGN, the binding each name writes (a new one where
	 * it declares the local); FOREACH, [0] is the loop name's */
	unsigned	*bind_ids;
	unsigned	err_code;	/* the checker's: SEND of err('m'), m's code */
};

/* @name(arg, ...) before a state; args are constants or bare names */
struct fr_annot {
	const char	*name;
	struct fr_loc	loc;
	struct fr_expr	**args;
	unsigned	nargs;
};

struct fr_state {
	const char	*name;
	struct fr_type	type;		/* TY_MAP */
	struct fr_loc	loc;
	struct fr_element *elem;
	struct fr_annot	*annots;
	unsigned	nannots;
	unsigned	max_entries;	/* a map's @size(N); 0: the default */
	int		full_refuse;	/* a map's @full(refuse); else it evicts (LRU) */
	/* filled by the checker: a Map state's number in state_limits and
	 * FLATRPC_SPEC_STATES, its place among the Map states of the used
	 * elements in spec order; -1 for other states */
	int		map_index;
};

struct fr_handler {
	int		present;
	struct fr_loc	loc;
	const char	*param;		/* "rpc" in req(rpc) */
	struct fr_block	body;
};

/* Fields an element reads through get(rpc, 'f'), per handler. */
struct fr_reads {
	const char	**v;
	struct fr_loc	*loc;
	unsigned	n, cap;
};

/* element e(name: type [= default], ...): a constant per chain entry */
struct fr_eparam {
	const char	*name;
	struct fr_loc	loc;
	struct fr_type	type;
	struct fr_expr	*deflt;		/* NULL: the chain must give it */
};

struct fr_element {
	const char	*name;
	struct fr_loc	loc;
	struct fr_eparam *params;
	unsigned	nparams;
	struct fr_state	*states;
	unsigned	nstates, scap;
	struct fr_handler init, req, resp;
	struct fr_reads	req_reads, resp_reads;	/* filled by the checker */
	unsigned	forwards;	/* req() can forward(): filled by the checker */
	/* some method chains it, so its state becomes maps and init data:
	 * filled by the checker */
	int		used;
	/* @enforce, @place(...) before `element`: constraints on where a
	 * chain: places it (docs/spec-language.md, Placement) */
	struct fr_annot	*annots;
	unsigned	nannots;
	int		enforce;	/* must not run on the caller's side */
	int		place;		/* -1: no @place; else an enum fr_side */
};

/* name=value in a chain: e(rate=1000) */
struct fr_carg {
	const char	*key;		/* NULL: given without a name (an error) */
	struct fr_loc	loc;
	struct fr_expr	*value;
};

/* Where a chain entry runs: client: elements on the sending host before the
 * wire (their fields can be stripped), server: elements in XDP at the server. */
enum fr_side { FR_CLIENT, FR_SERVER };

struct fr_chain_ref {
	const char	*name;
	struct fr_loc	loc;
	enum fr_side	side;
	/* from a chain: line, so the placement pass chose side, and why (the
	 * --placement line); an explicit client:/server: entry has NULL */
	int		placed;
	const char	*why;
	unsigned	nargs;
	struct fr_element *elem;	/* resolved by the checker */
	struct fr_carg	*args;
	/* the checker's: the value of each parameter of elem here, the
	 * argument or the default (NULL only in a spec with errors) */
	const struct fr_expr **pvals;
};

struct fr_param {
	const char	*key;
	struct fr_loc	loc;
	int		is_str;
	const char	*s;
	uint64_t	ival;
	struct fr_loc	vloc;
};

struct fr_prop {
	const char	*name;
	struct fr_loc	loc;
	struct fr_param	*params;
	unsigned	nparams, pcap;
};

struct fr_slot {
	struct fr_field	*f;
	int		fixed;		/* in the fixed part */
	int		anf_read;
	int		stripped;	/* metadata only client: elements read */
	unsigned	off;		/* fixed: offset in the body */
	unsigned	size;		/* fixed: bytes; var: max payload bytes */
	const char	*readers;	/* "firewall, session-tracker" or "-" */
};

struct fr_layout {
	struct fr_slot	*v;		/* fixed slots in offset order, then var */
	unsigned	n;
	unsigned	fixed;		/* bytes of the fixed part, as the client builds it */
	unsigned	strip;		/* of those, the stripped fields' bytes: the
					 * last ones, cut before the wire */
	unsigned	max;		/* largest encoded body */
};

struct fr_method {
	const char	*name;
	struct fr_loc	loc;
	unsigned	id;
	struct fr_fields req, resp;	/* req includes the metadata first */
	struct fr_chain_ref *chain;
	unsigned	nchain, ccap;
	/* client: entries first, then server:, each in `->` order */
	struct fr_loc	side_loc[2];	/* of client: and server:, line 0 if absent */
	struct fr_loc	chain_loc;	/* of chain:, line 0 if absent */
	struct fr_prop	*props;
	unsigned	nprops, prcap;
	/* derived by the checker */
	unsigned	flags;		/* FLATRPC_M_* */
	uint32_t	timeout_us;
	unsigned	retries;
	unsigned	priority;	/* 0..FLATRPC_PRIO_MAX */
	/* derived by layout */
	struct fr_layout lreq, lresp;
};

struct fr_service {
	const char	*name;
	struct fr_loc	loc;
	uint16_t	port;
	int		has_port;
	/* auth: none - frames carry no tag (docs/security.md) */
	int		auth_none, has_auth;
	struct fr_fields meta;
	struct fr_method *methods;
	unsigned	nmethods, mcap;
};

struct fr_error_code {
	const char	*msg;
	unsigned	code;
};

struct fr_spec {
	struct fr_arena	arena;
	struct fr_src	*srcs;		/* every file read, for diagnostics */
	const char	*main_name;	/* the spec's basename, for banners */
	struct fr_element **elems;
	unsigned	nelems, ecap;
	struct fr_service *svc;		/* the (single) service */
	struct fr_error_code *errs;
	unsigned	nerrs, errcap;
	uint64_t	hash;
};

/* ---- parser / driver -------------------------------------------------------- */

/* Parses one buffer into spec; imports are resolved relative to the
 * source's name (read from disk) unless follow_imports is 0. */
int fr_parse_src(struct fr_spec *spec, const struct fr_src *src,
		 struct fr_diag *d, int follow_imports);
struct fr_src *fr_spec_add_src(struct fr_spec *spec, const char *name,
			       const char *text, size_t len);
/* A directory to look for imports in after the importing file's own
 * (flatrpc-gen -I); FLATRPC_IMPORT_PATH and the installed element library
 * come after it. The string is kept, not copied. */
int fr_import_path_add(const char *dir);

/* Whole pipeline up to layout and hash. Returns the spec (never NULL) and
 * the number of errors in d->n_errors. read_err: -errno if the main file
 * cannot be read. */
struct fr_spec *fr_spec_load_file(const char *path, struct fr_diag *d, int *read_err);
struct fr_spec *fr_spec_load_string(const char *name, const char *text,
				    struct fr_diag *d);
/* The same on len bytes of text (text[len] must be NUL); follow_imports 0
 * leaves import lines unresolved, for callers that must not touch disk. */
struct fr_spec *fr_spec_load_buf(const char *name, const char *text, size_t len,
				 int follow_imports, struct fr_diag *d);
void fr_spec_free(struct fr_spec *spec);

/* ---- checker and layout ----------------------------------------------------- */

void fr_check(struct fr_spec *spec, struct fr_diag *d);
/* Chooses the side of every entry of a chain: line (place.c); the checker
 * calls it once the entries' elements are resolved and checked. */
void fr_place_method(struct fr_spec *spec, struct fr_method *m, struct fr_diag *d);
/* One line per (method, element): the side and the reason. */
void fr_print_placement(const struct fr_spec *spec, FILE *out);
void fr_layout(struct fr_spec *spec);
/* Errors for bodies that cannot travel (fragment limits). */
void fr_layout_check(const struct fr_spec *spec, struct fr_diag *d);
/* Whether the request's field f stays on the client host, with the sides
 * m's chain has now (the placement pass asks before layout runs). */
int fr_field_stripped(const struct fr_method *m, const struct fr_field *f);
const struct fr_slot *fr_layout_find(const struct fr_layout *l, const char *field);
int fr_type_is_fixed_int(enum fr_type_kind k);
unsigned fr_type_size(const struct fr_type *t);
const char *fr_type_str(const struct fr_type *t, char *buf, size_t n);
struct fr_element *fr_spec_element(const struct fr_spec *spec, const char *name);
unsigned fr_spec_error_code(const struct fr_spec *spec, const char *msg);

/* ---- emitters ------------------------------------------------------------------- */

/* C identifier from a spec name: '-' -> '_' (lower), or upper-cased. */
const char *fr_cname(char *buf, size_t n, const char *name);
const char *fr_cname_upper(char *buf, size_t n, const char *name);

void fr_emit_abi(const struct fr_spec *spec, uint64_t hash, struct fr_buf *b);
void fr_emit_bpf(const struct fr_spec *spec, struct fr_buf *b);
void fr_emit_init(const struct fr_spec *spec, struct fr_buf *b);
/* A walk over the tables a loader needs, in the order their ids follow:
 * methods by id, ANF errors by code - 1, elem_verdicts slots, Map states by
 * their state_limits slot, init() entries as bytes. Every printer of them
 * (init.h, desc.h) is one of these. */
struct fr_tables {
	void (*method)(void *ctx, const char *name);
	void (*error)(void *ctx, const char *msg);
	void (*elem)(void *ctx, unsigned slot, unsigned method, unsigned pos, const char *element,
		     const char *hook);
	void (*state)(void *ctx, const char *pin);
	void (*init)(void *ctx, const char *map, const char *comment, const unsigned char *key,
		     unsigned key_size, const unsigned char *value, unsigned value_size);
};
void fr_spec_tables(const struct fr_spec *spec, const struct fr_tables *t, void *ctx);
/* The object's description (desc.h, parsed by user/load/desc.c). */
#define FR_DESC_VERSION 1
void fr_desc_text(const struct fr_spec *spec, uint64_t hash, struct fr_buf *b);
void fr_emit_desc(const struct fr_spec *spec, struct fr_buf *b);
void fr_emit_stubs_h(const struct fr_spec *spec, struct fr_buf *b);
void fr_emit_stubs_c(const struct fr_spec *spec, struct fr_buf *b);
/* appended to <svc>_stubs.c: the client: elements for the sending library */
void fr_emit_client_user(const struct fr_spec *spec, struct fr_buf *b);
/* FNV-1a 64 over abi (with hash 0) + anf.bpf.h + init.h. */
uint64_t fr_spec_compute_hash(const struct fr_spec *spec);
/* Writes all files into dir; returns 0 or -errno (reported to diag). */
int fr_emit_dir(const struct fr_spec *spec, const char *dir, FILE *diag);
void fr_print_layout(const struct fr_spec *spec, FILE *out);

/* The .proto of a spec (flatrpc-gen --proto), and the gRPC names a gateway
 * must match: package = fr_proto_ident(service); service and rpc =
 * fr_proto_pascal(name); messages <Rpc>Request, <Rpc>Response; fields
 * fr_proto_ident(field), numbered from 1 in the request's order (metadata
 * first); a metadata field arrives as gRPC header fr_proto_header(). Names
 * that collide once mapped are errors in d, and then b holds nothing:
 * returns their number. */
int fr_emit_proto(const struct fr_spec *spec, struct fr_buf *b, struct fr_diag *d);
/* The gRPC gateway's per-spec C (flatrpc-gen --gateway, docs/grpc.md): it
 * includes <svc>_stubs.h, protoc-c's <package>.pb-c.h of the --proto
 * output and gateway/gateway.h, and defines fr_gw_spec. Returns the
 * number of errors (those of the .proto), 0 with b filled. */
int fr_emit_gateway(const struct fr_spec *spec, struct fr_buf *b, struct fr_diag *d);
/* bytes of v as a protobuf varint (layout.c's gRPC cost, the gateway's bound) */
unsigned fr_varint_len(uint64_t v);
const char *fr_proto_ident(char *buf, size_t n, const char *name);	/* '-' -> '_' */
const char *fr_proto_pascal(char *buf, size_t n, const char *name);	/* get-user -> GetUser */
const char *fr_proto_header(char *buf, size_t n, const struct fr_field *f);

/* A method's request in bytes on the wire, [0] at most, [1] typically;
 * the assumptions are in fr_print_layout()'s notes. */
struct fr_cost {
	unsigned pb[2];		/* the protobuf message alone */
	unsigned headers[2];	/* HTTP/2 HEADERS frame, frame header included */
	unsigned grpc[2];	/* the whole gRPC/HTTP/2/TCP/IP/Ethernet frame */
	unsigned flatrpc[2];	/* the whole FlatRPC frame */
};
#define FR_ETH_IP		34	/* Ethernet 14 + IPv4 20, no options */
#define FR_TCP			20
#define FR_UDP			8
#define FR_FLATRPC_HDR		12
#define FR_H2_FRAME_HDR		9
#define FR_GRPC_PREFIX		5	/* compressed flag + u32 length */
#define FR_GRPC_INDEXED_HDRS	6	/* :method :scheme :path :authority content-type te */
void fr_request_cost(const struct fr_method *m, struct fr_cost *c);

void fr_emit_banner(const struct fr_spec *spec, struct fr_buf *b);
const char *fr_error_ident(const struct fr_spec *spec, unsigned code, char *buf, size_t n);
const char *fr_bpf_int_type(enum fr_type_kind k);
#define FR_MAX_INIT_BYTES 4096
/* foreach is unrolled, so a Vec's bound is the copies of its body */
#define FR_MAX_VEC 64
/* mirrors FLATRPC_M_* without pulling the ABI header into every module */
#define FR_M_RELIABLE 0x1
#define FR_M_INORDER 0x2

int fr_is_randomf(const struct fr_expr *e);
/* The C operator of E_ADD..E_MOD: '+' ... '%'; 0 for other kinds. */
int fr_arith_op(enum fr_expr_kind k);
const struct fr_eparam *fr_elem_param(const struct fr_element *el, const char *name);
uint64_t fr_fnv1a64(uint64_t h, const void *p, size_t n);
#define FR_FNV_OFFSET 0xcbf29ce484222325ULL
/* The counters of one element's runs in `elem_verdicts`: the slot of a
 * method's chain entry pos and hook (req or resp), FLATRPC_ELEM_VERDICTS
 * keys each, and how many slots the service has. */
unsigned fr_elem_slot(const struct fr_spec *spec, unsigned method, unsigned pos, int resp);
unsigned fr_elem_slots(const struct fr_spec *spec);
/* The state's BPF map, fr_<element>_<state>: its C name and its pin name. */
const char *fr_state_map_name(char *buf, size_t n, const struct fr_state *st);

#endif
