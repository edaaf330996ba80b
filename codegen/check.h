/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * check.h - what the parts of the checker share: the state of one walk
 * over a handler, the value types it infers, and the functions each part
 * offers the others.
 *
 * Element bodies are checked twice. The first pass has no method: it finds
 * everything that is wrong whatever the element is attached to (unknown
 * states, bad statements) and records which message fields it reads. The
 * second pass runs once per (method, element) of every chain, where the
 * message fields are known, and reports only what depends on them (unknown
 * fields, key types that do not match a field's type). Each mistake is so
 * reported once, at the place in the element that causes it.
 *
 * check_types.c  types, values, C names, lookups, the reporting rule
 * check_expr.c   expressions and built-ins
 * check_stmt.c   statements, scopes and the paths through a handler
 * check.c        elements, fields, chains, transport, the service
 */
#ifndef FLATRPC_GEN_CHECK_H
#define FLATRPC_GEN_CHECK_H

#include "spec.h"

#define MAX_BINDS		32

enum hkind { H_INIT, H_REQ, H_RESP };

struct vty {
	struct fr_type t;	/* TY_NONE: unknown, compatible with anything */
	int option;		/* result of get(map, key): needs Some/None */
	int lit;		/* a constant: ints fit any width, strings by length */
	size_t slen;
	uint64_t ival;
};

/* One walk over a handler, in one of the two passes. */
struct ck {
	struct fr_spec *spec;
	struct fr_diag *d;
	struct fr_element *el;
	struct fr_handler *h;
	enum hkind hk;
	struct fr_method *m;		/* NULL in the method-independent pass */
	enum fr_side side;		/* of the chain entry, with m */
	const struct fr_fields *fields;
	struct ck_bind {
		const char *name;
		unsigned id;		/* what the uses record (fr_expr bind) */
		struct vty t;
		int local;		/* assigned with `=`, not bound by Some(x) */
		int dep;		/* its type comes from a message field */
		int each;		/* bound by foreach */
		struct fr_loc loc;
	} binds[MAX_BINDS];
	int in_foreach;
	int nbinds;
	unsigned nids;			/* bindings numbered so far in the handler */
	/* locals whose block has ended, to say why a later use is unknown */
	struct { const char *name; struct fr_loc loc; } gone[MAX_BINDS];
	int ngone;
};

/* ---- check_types.c ---- */

/* Reports only in the pass the error belongs to (see above). */
void ck_err(struct ck *c, int needs_method, struct fr_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int ck_c_reserved(const char *name);
int ck_same_cname(const char *a, const char *b, int fold);
void ck_name(struct fr_diag *d, struct fr_loc loc, const char *what, const char *name);
const char *ck_vty_str(const struct vty *v, char *buf, size_t n);
int ck_compatible(const struct fr_type *want, const struct vty *v);
int ck_is_int(const struct vty *v);
const struct fr_field *ck_field(const struct fr_fields *fs, const char *name);
struct fr_state *ck_state(struct fr_element *el, const char *name);
/* The state that e names (NULL: none), recorded in e->st for the emitters. */
struct fr_state *ck_state_of(struct ck *c, const struct fr_expr *e);
struct fr_expr *ck_ir(const struct fr_expr *e);
/* n binding numbers for a node, kept across the passes */
unsigned *ck_ids(struct ck *c, unsigned *const *ids, unsigned n);
void ck_add_error_code(struct fr_spec *spec, struct fr_diag *d, const char *msg,
		       struct fr_loc loc);

/* ---- check_expr.c ---- */

struct vty ck_expr(struct ck *c, const struct fr_expr *e);
int ck_is_param(struct ck *c, const struct fr_expr *e);
int ck_depends(struct ck *c, const struct fr_expr *e);
int ck_need_int(struct ck *c, const struct fr_expr *e, const struct vty *v, const char *what);
void ck_note_read(struct ck *c, const struct fr_expr *name);
/* Reports a key k (of type kt) that does not fit map st. */
void ck_key(struct ck *c, const struct fr_state *st, const struct fr_expr *k,
	    const struct vty *kt);
struct fr_state *ck_vec_arg(struct ck *c, const struct fr_expr *e, const char *fn);

/* ---- check_stmt.c ---- */

void ck_handler(struct ck *c, struct fr_element *el, enum hkind hk, struct fr_method *m,
		enum fr_side side);
void ck_paths(struct ck *c, struct fr_element *el, const char *hname, const struct fr_handler *h);

#endif
