/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * check.c - the checker's entry: elements (parameters, state, annotations),
 * fields, chains, transport properties and the service. check.h says how
 * element bodies are checked, in two passes.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flatrpc_abi.h"

#define FR_DEFAULT_TIMEOUT_US	10000
#define FR_DEFAULT_RETRIES	3

_Static_assert(FR_M_RELIABLE == FLATRPC_M_RELIABLE && FR_M_INORDER == FLATRPC_M_INORDER,
	       "codegen mirrors the ABI's method flags");

static int state_type_ok(const struct fr_type *t)
{
	return fr_type_is_fixed_int(t->kind) || t->kind == TY_STRING;
}

#define FR_MAX_MAP_ENTRIES (1u << 24)

/* Annotations are hints: @size is honoured on maps, everything else is
 * said to be ignored, where it is written. */
static void check_annots(struct ck *c, struct fr_state *st)
{
	const struct fr_annot *size = NULL, *full = NULL;

	for (unsigned i = 0; i < st->nannots; i++) {
		const struct fr_annot *a = &st->annots[i];
		const char *arg = a->nargs == 1 && a->args[0]->kind == E_NAME ? a->args[0]->s : "";
		if (!strcmp(a->name, "size")) {
			if (size) {
				fr_error(c->d, a->loc, "duplicate @size (first on line %d)",
					 size->loc.line);
				continue;
			}
			size = a;
			if (a->nargs != 1 || a->args[0]->kind != E_INT || !a->args[0]->ival ||
			    a->args[0]->ival > FR_MAX_MAP_ENTRIES) {
				fr_error(c->d, a->loc, "@size takes one integer, the most entries "
					 "the map holds: 1..%u", FR_MAX_MAP_ENTRIES);
				continue;
			}
			if (st->type.kind == TY_MAP)
				st->max_entries = (unsigned)a->args[0]->ival;
			else if (st->type.kind == TY_VEC)
				fr_warn(c->d, a->loc, "@size is ignored on Vec '%s': the N of "
					"Vec<T, N> is its size", st->name);
			else
				fr_warn(c->d, a->loc, "@size is ignored on scalar state '%s': it "
					"is one slot", st->name);
		} else if (!strcmp(a->name, "full")) {
			/* what a set() of a new key does once the map is full */
			if (full) {
				fr_error(c->d, a->loc, "duplicate @full (first on line %d)",
					 full->loc.line);
				continue;
			}
			full = a;
			if (strcmp(arg, "evict") && strcmp(arg, "refuse")) {
				fr_error(c->d, a->loc, "@full takes evict (drop the least recently "
					 "used key) or refuse (answer the request state_full)");
				continue;
			}
			if (st->type.kind == TY_MAP)
				st->full_refuse = !strcmp(arg, "refuse");
			else
				fr_warn(c->d, a->loc, "@full is ignored on %s '%s': it cannot fill",
					st->type.kind == TY_VEC ? "Vec" : "scalar state", st->name);
		} else if (!strcmp(a->name, "consistency")) {
			fr_warn(c->d, a->loc, "@consistency(%s) is ignored: state '%s' is one "
				"BPF map on this host, shared by all its CPUs, and not replicated "
				"to other hosts", arg, st->name);
		} else if (!strcmp(a->name, "combiner")) {
			fr_warn(c->d, a->loc, "@combiner(%s) is ignored: state '%s' is not "
				"replicated, so there are no copies to combine", arg, st->name);
		} else if (!strcmp(a->name, "persistence")) {
			fr_warn(c->d, a->loc, "@persistence is ignored: state '%s' is a map "
				"pinned by name, which outlives reloads of the program but not a "
				"reboot", st->name);
		} else {
			fr_warn(c->d, a->loc, "unknown annotation @%s is ignored (known: @size, @full, "
				"@consistency, @combiner, @persistence)", a->name);
		}
	}
}

/* Unlike a state's hints, an element's annotations are constraints: a
 * misspelt @enforce ignored with a warning would put a policy on the
 * caller's host, so every mistake here is an error. */
static void check_elem_annots(struct ck *c, struct fr_element *el)
{
	const struct fr_annot *enforce = NULL, *place = NULL;

	for (unsigned i = 0; i < el->nannots; i++) {
		const struct fr_annot *a = &el->annots[i];
		const char *arg = a->nargs == 1 && a->args[0]->kind == E_NAME ? a->args[0]->s : "";
		const struct fr_annot **seen = !strcmp(a->name, "enforce") ? &enforce :
					       !strcmp(a->name, "place") ? &place : NULL;
		if (!seen) {
			fr_error(c->d, a->loc, "unknown element annotation @%s (known: @enforce, "
				 "@place(client), @place(server))", a->name);
			continue;
		}
		if (*seen) {
			fr_error(c->d, a->loc, "duplicate @%s (first on line %d)", a->name,
				 (*seen)->loc.line);
			continue;
		}
		*seen = a;
		if (seen == &enforce) {
			if (a->nargs)
				fr_error(c->d, a->loc, "@enforce takes no arguments");
			el->enforce = 1;
		} else if (!strcmp(arg, "network")) {
			fr_error(c->d, a->loc, "@place(network) is not built yet: elements run "
				 "on the client host or the server host; use @place(server)");
		} else if (strcmp(arg, "client") && strcmp(arg, "server")) {
			fr_error(c->d, a->loc, "@place takes client or server");
		} else {
			el->place = strcmp(arg, "client") ? FR_SERVER : FR_CLIENT;
		}
	}
	if (enforce && el->place == FR_CLIENT)
		fr_error(c->d, place->loc, "element '%s' cannot be @place(client) and @enforce: "
			 "an enforced element never runs on the caller's side", el->name);
}

static int check_arg_value(struct ck *c, const struct fr_eparam *prm, const struct fr_expr *v,
			   const char *elname);

static void check_element(struct ck *c, struct fr_element *el)
{
	char b[64];

	check_elem_annots(c, el);
	for (unsigned i = 0; i < el->nparams; i++) {
		struct fr_eparam *prm = &el->params[i];
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(el->params[j].name, prm->name))
				fr_error(c->d, prm->loc, "duplicate parameter '%s'", prm->name);
		if (ck_state(el, prm->name))
			fr_error(c->d, prm->loc, "parameter '%s' has the name of a state of "
				 "element '%s'", prm->name, el->name);
		if (!fr_type_is_fixed_int(prm->type.kind))
			fr_error(c->d, prm->type.loc, "element parameters are integers or bool, "
				 "not %s", fr_type_str(&prm->type, b, sizeof(b)));
		else if (prm->deflt)
			check_arg_value(c, prm, prm->deflt, el->name);
	}

	for (unsigned i = 0; i < el->nstates; i++) {
		struct fr_state *st = &el->states[i];
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(el->states[j].name, st->name))
				fr_error(c->d, st->loc, "duplicate state '%s' in element '%s'",
					 st->name, el->name);
			else if (ck_same_cname(el->states[j].name, st->name, 0))
				fr_error(c->d, st->loc, "state '%s' and state '%s' on line %d are "
					 "the same name in C", st->name, el->states[j].name,
					 el->states[j].loc.line);
		}
		ck_name(c->d, st->loc, "state", st->name);
		check_annots(c, st);
		if (st->type.kind == TY_VEC) {
			/* slot N holds the length, in a slot of type T: N <= 64 fits */
			if (!fr_type_is_fixed_int(st->type.val->kind))
				fr_error(c->d, st->type.val->loc, "Vec elements must be integers "
					 "or bool, not %s", fr_type_str(st->type.val, b, sizeof(b)));
			continue;
		}
		if (st->type.kind != TY_MAP) {
			/* a scalar: one array slot; strings would need a copy per read */
			if (!fr_type_is_fixed_int(st->type.kind))
				fr_error(c->d, st->type.loc, "state '%s' must be an integer, bool "
					 "or Map<K, V>, not %s", st->name,
					 fr_type_str(&st->type, b, sizeof(b)));
			continue;
		}
		if (!state_type_ok(st->type.key))
			fr_error(c->d, st->type.key->loc, "map keys must be integers, bool or "
				 "string<N>, not %s", fr_type_str(st->type.key, b, sizeof(b)));
		if (st->type.val->kind == TY_TUPLE) {
			for (unsigned k = 0; k < st->type.val->n; k++)
				if (!fr_type_is_fixed_int(st->type.val->elems[k].kind))
					fr_error(c->d, st->type.val->elems[k].loc, "tuple elements "
						 "must be integers or bool, not %s",
						 fr_type_str(&st->type.val->elems[k], b, sizeof(b)));
		} else if (!state_type_ok(st->type.val)) {
			fr_error(c->d, st->type.val->loc, "map values must be integers, bool, "
				 "string<N> or a tuple of integers, not %s",
				 fr_type_str(st->type.val, b, sizeof(b)));
		}
	}
	if (!el->req.present)
		fr_error(c->d, el->loc, "element '%s' has no req(rpc)", el->name);
	ck_handler(c, el, H_INIT, NULL, FR_SERVER);
	ck_handler(c, el, H_REQ, NULL, FR_SERVER);
	ck_handler(c, el, H_RESP, NULL, FR_SERVER);
	c->el = el;
	c->m = NULL;
	ck_paths(c, el, "req", &el->req);
	ck_paths(c, el, "resp", &el->resp);
}

static void check_fields(struct fr_diag *d, const struct fr_fields *fs,
			 const struct fr_fields *before, const char *what)
{
	char b[64];

	for (unsigned i = 0; i < fs->n; i++) {
		const struct fr_field *f = &fs->v[i];
		const struct fr_field *dup = ck_field(before, f->name);
		for (unsigned j = 0; !dup && j < i; j++)
			if (!strcmp(fs->v[j].name, f->name))
				dup = &fs->v[j];
		if (dup)
			fr_error(d, f->loc, "duplicate field '%s' in %s%s", f->name, what,
				 dup->is_meta && !f->is_meta ? " (already in metadata)" : "");
		const struct fr_field *alias = NULL;
		for (unsigned j = 0; !dup && before && !alias && j < before->n; j++)
			if (ck_same_cname(before->v[j].name, f->name, 0))
				alias = &before->v[j];
		for (unsigned j = 0; !dup && !alias && j < i; j++)
			if (ck_same_cname(fs->v[j].name, f->name, 0))
				alias = &fs->v[j];
		if (alias)
			fr_error(d, f->loc, "field '%s' and field '%s' on line %d are the same "
				 "name in C", f->name, alias->name, alias->loc.line);
		ck_name(d, f->loc, "field", f->name);
		if (ck_c_reserved(f->name))
			fr_error(d, f->loc, "field name '%s' is reserved in C", f->name);
		if (f->type.kind == TY_MAP || f->type.kind == TY_VEC || f->type.kind == TY_TUPLE ||
		    f->type.kind == TY_NONE)
			fr_error(d, f->type.loc, "field '%s' cannot have type %s", f->name,
				 fr_type_str(&f->type, b, sizeof(b)));
	}
}

static const struct fr_param *param(const struct fr_prop *p, const char *key)
{
	for (unsigned i = 0; i < p->nparams; i++)
		if (!strcmp(p->params[i].key, key))
			return &p->params[i];
	return NULL;
}

static void check_transport(struct fr_diag *d, struct fr_method *m)
{
	static const struct { const char *name; const char *params[3]; } known[] = {
		{ "lossy", { "timeout" } },
		{ "reliable", { "timeout", "retries" } },
		{ "inorder", { "strategy" } },
		{ "priority", { "level" } },
	};
	const struct fr_prop *lossy = NULL, *reliable = NULL, *inorder = NULL, *prio = NULL;

	m->timeout_us = FR_DEFAULT_TIMEOUT_US;
	m->retries = 0;
	m->flags = 0;
	m->priority = 0;
	for (unsigned i = 0; i < m->nprops; i++) {
		const struct fr_prop *p = &m->props[i];
		size_t k;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(known[k].name, p->name))
				break;
		if (k == sizeof(known) / sizeof(known[0])) {
			fr_error(d, p->loc, "unknown transport property '%s' (expected lossy, "
				 "reliable, inorder or priority)", p->name);
			continue;
		}
		const struct fr_prop **slot = k == 0 ? &lossy : k == 1 ? &reliable :
					      k == 2 ? &inorder : &prio;
		if (*slot) {
			fr_error(d, p->loc, "duplicate transport property '%s'", p->name);
			continue;
		}
		*slot = p;
		for (unsigned j = 0; j < p->nparams; j++) {
			const struct fr_param *pa = &p->params[j];
			int ok = 0;
			for (int q = 0; q < 3 && known[k].params[q]; q++)
				ok |= !strcmp(known[k].params[q], pa->key);
			if (!ok) {
				fr_error(d, pa->loc, "unknown parameter '%s' of %s (expected %s%s%s)",
					 pa->key, p->name, known[k].params[0],
					 known[k].params[1] ? " or " : "",
					 known[k].params[1] ? known[k].params[1] : "");
				continue;
			}
			if (param(p, pa->key) != pa)
				fr_error(d, pa->loc, "duplicate parameter '%s'", pa->key);
			int want_str = !strcmp(pa->key, "strategy");
			if (want_str != pa->is_str)
				fr_error(d, pa->vloc, "parameter '%s' takes %s", pa->key,
					 want_str ? "a quoted string" : "an integer");
		}
	}
	if (lossy && reliable)
		fr_error(d, reliable->loc, "a method is either lossy or reliable, not both");

	const struct fr_prop *tp = reliable ? reliable : lossy;
	const struct fr_param *pa;
	if (tp && (pa = param(tp, "timeout")) && !pa->is_str) {
		if (pa->ival == 0 || pa->ival > 60000000)
			fr_error(d, pa->vloc, "timeout is in microseconds: 1..60000000");
		else
			m->timeout_us = (uint32_t)pa->ival;
	}
	if (reliable) {
		m->flags |= FLATRPC_M_RELIABLE;
		m->retries = FR_DEFAULT_RETRIES;
		if ((pa = param(reliable, "retries")) && !pa->is_str) {
			if (pa->ival > 255)
				fr_error(d, pa->vloc, "retries must be 0..255");
			else
				m->retries = (unsigned)pa->ival;
		}
	}
	if (inorder) {
		const char *strategy = "hold-forever";
		if ((pa = param(inorder, "strategy")) && pa->is_str) {
			strategy = pa->s;
			if (strcmp(strategy, "hold-forever") && strcmp(strategy, "drop") &&
			    strcmp(strategy, "none")) {
				fr_error(d, pa->vloc, "unknown inorder strategy '%s' (expected "
					 "\"hold-forever\", \"drop\" or \"none\")", strategy);
				strategy = "none";
			}
		}
		if (strcmp(strategy, "none"))
			m->flags |= FLATRPC_M_INORDER;
		/* The kernel tells "drop" from "hold-forever" by this bit alone. */
		if (!strcmp(strategy, "drop"))
			m->flags |= FLATRPC_M_INORDER_DROP;
		if (!strcmp(strategy, "hold-forever") && !reliable)
			fr_error(d, inorder->loc, "inorder(strategy=\"hold-forever\") needs "
				 "reliable: without retransmission one lost message stalls "
				 "the stream forever");
	}
	if (prio && (pa = param(prio, "level")) && !pa->is_str) {
		if (pa->ival > FLATRPC_PRIO_MAX)
			fr_error(d, pa->vloc, "priority level must be 0..%d", FLATRPC_PRIO_MAX);
		else
			m->priority = (unsigned)pa->ival;
	}
}

static const char *param_list(const struct fr_element *el, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < el->nparams && o < n; i++)
		o += snprintf(buf + o, n - o, "%s%s", i ? ", " : "", el->params[i].name);
	return buf;
}

/* An argument is a constant that fits its parameter's type. */
static int check_arg_value(struct ck *c, const struct fr_eparam *prm, const struct fr_expr *v,
			   const char *elname)
{
	char a[64];
	struct vty vt = { .lit = 1 };

	if (v->kind != E_INT && v->kind != E_BOOL) {
		fr_error(c->d, v->loc, "argument '%s' of element '%s' must be an integer or "
			 "bool constant: it is compiled into the element", prm->name, elname);
		return 0;
	}
	vt.t.kind = v->kind == E_INT ? TY_U64 : TY_BOOL;
	vt.ival = v->ival;
	if (!ck_compatible(&prm->type, &vt)) {
		fr_error(c->d, v->loc, "%llu does not fit argument '%s' of element '%s', "
			 "a %s", (unsigned long long)v->ival, prm->name, elname,
			 fr_type_str(&prm->type, a, sizeof(a)));
		return 0;
	}
	return 1;
}

static void check_chain_args(struct ck *c, struct fr_chain_ref *r)
{
	const struct fr_element *el = r->elem;
	char list[256];

	for (unsigned k = 0; k < r->nargs; k++) {
		const struct fr_carg *a = &r->args[k];
		if (!a->key) {
			fr_error(c->d, a->loc, "arguments are given by name, as in %s(%s=...)",
				 r->name, el->nparams ? el->params[0].name : "name");
			continue;
		}
		const struct fr_eparam *prm = fr_elem_param(el, a->key);
		if (!prm) {
			if (el->nparams)
				fr_error(c->d, a->loc, "element '%s' has no parameter '%s' (it has "
					 "%s)", r->name, a->key, param_list(el, list, sizeof(list)));
			else
				fr_error(c->d, a->loc, "element '%s' takes no arguments", r->name);
			continue;
		}
		int dup = 0;
		for (unsigned q = 0; q < k; q++)
			dup |= r->args[q].key && !strcmp(r->args[q].key, a->key);
		if (dup) {
			fr_error(c->d, a->loc, "argument '%s' is given twice", a->key);
			continue;
		}
		check_arg_value(c, prm, a->value, r->name);
	}
	r->pvals = fr_arena_alloc(&c->spec->arena, (el->nparams + 1) * sizeof(*r->pvals));
	for (unsigned i = 0; i < el->nparams; i++) {
		const struct fr_eparam *prm = &el->params[i];
		int given = 0;
		r->pvals[i] = prm->deflt;
		for (unsigned k = 0; k < r->nargs; k++)
			if (r->args[k].key && !strcmp(r->args[k].key, prm->name)) {
				if (!given)
					r->pvals[i] = r->args[k].value;
				given = 1;
			}
		if (!given && !prm->deflt)
			fr_error(c->d, r->loc, "element '%s' needs argument '%s' (%s, no default)",
				 r->name, prm->name, fr_type_str(&prm->type, list, sizeof(list)));
	}
}

static void check_service(struct ck *c, struct fr_service *svc)
{
	struct fr_spec *spec = c->spec;
	struct fr_diag *d = c->d;

	if (!svc->has_port)
		svc->port = FLATRPC_DEFAULT_PORT;
	check_fields(d, &svc->meta, NULL, "metadata");
	if (svc->nmethods == 0)
		fr_error(d, svc->loc, "service '%s' has no methods", svc->name);
	if (svc->nmethods > FLATRPC_MAX_METHODS)
		fr_error(d, svc->methods[FLATRPC_MAX_METHODS].loc,
			 "more than %d methods", FLATRPC_MAX_METHODS);

	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		m->id = i;
		for (unsigned j = 0; j < i; j++) {
			const struct fr_method *o = &svc->methods[j];
			if (!strcmp(o->name, m->name)) {
				fr_error(d, m->loc, "duplicate method '%s'", m->name);
				break;
			}
			if (ck_same_cname(o->name, m->name, 1)) {
				fr_error(d, m->loc, "method '%s' and method '%s' on line %d are the "
					 "same name in C", m->name, o->name, o->loc.line);
				break;
			}
		}
		ck_name(d, m->loc, "method", m->name);

		/* the metadata goes first in every request */
		struct fr_fields own = m->req;
		char what[128];
		snprintf(what, sizeof(what), "the request of method '%s'", m->name);
		check_fields(d, &own, &svc->meta, what);
		snprintf(what, sizeof(what), "the response of method '%s'", m->name);
		check_fields(d, &m->resp, NULL, what);
		m->req.n = svc->meta.n + own.n;
		m->req.cap = m->req.n;
		m->req.v = fr_arena_alloc(&spec->arena, (m->req.n + 1) * sizeof(*m->req.v));
		if (svc->meta.n)
			memcpy(m->req.v, svc->meta.v, svc->meta.n * sizeof(*m->req.v));
		if (own.n)
			memcpy(m->req.v + svc->meta.n, own.v, own.n * sizeof(*m->req.v));

		for (unsigned j = 0; j < m->nchain; j++) {
			struct fr_chain_ref *r = &m->chain[j];
			r->elem = fr_spec_element(spec, r->name);
			if (!r->elem)
				fr_error(d, r->loc, "unknown element '%s' in the chain of method '%s'",
					 r->name, m->name);
			else
				check_chain_args(c, r);
			for (unsigned k = 0; k < j; k++)
				if (!strcmp(m->chain[k].name, r->name)) {
					/* client: entries come first whatever the
					 * order of the lines: point at the later one */
					const struct fr_chain_ref *o = &m->chain[k];
					int later = o->loc.line > r->loc.line ||
						    (o->loc.line == r->loc.line && o->loc.col > r->loc.col);
					fr_error(d, later ? o->loc : r->loc, "element '%s' appears "
						 "twice in the chains of method '%s'", r->name, m->name);
					break;
				}
		}
		/* before anything reads a side: the flags below, the second pass */
		fr_place_method(spec, m, d);
		check_transport(d, m);
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].side == FR_CLIENT && m->chain[j].elem &&
			    m->chain[j].elem->req.present)
				m->flags |= FLATRPC_M_CLIENT_ANF;
		for (unsigned j = 0; j < m->nchain; j++)
			if (m->chain[j].side == FR_SERVER && m->chain[j].elem &&
			    m->chain[j].elem->forwards)
				m->flags |= FLATRPC_M_FORWARD;
	}

	/* each Map state of a used element has its slot of state_limits */
	for (unsigned i = 0; i < svc->nmethods; i++)
		for (unsigned j = 0; j < svc->methods[i].nchain; j++)
			if (svc->methods[i].chain[j].elem)
				svc->methods[i].chain[j].elem->used = 1;
	int nmaps = 0;
	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned j = 0; j < spec->elems[i]->nstates; j++) {
			struct fr_state *st = &spec->elems[i]->states[j];
			int is_map = spec->elems[i]->used && st->type.kind == TY_MAP;
			st->map_index = is_map ? nmaps++ : -1;
			if (st->map_index == FLATRPC_MAX_STATES)
				fr_error(d, st->loc, "more than %d Map states in the elements "
					 "of service '%s'", FLATRPC_MAX_STATES, svc->name);
		}

	/* fr_anf_<method>_<element>_req is one function per pair */
	for (unsigned i = 0; i < svc->nmethods; i++)
		for (unsigned j = 0; j < svc->methods[i].nchain; j++) {
			char x[80], y[80];
			const struct fr_chain_ref *r = &svc->methods[i].chain[j];
			snprintf(x, sizeof(x), "%s_%s", svc->methods[i].name, r->name);
			for (unsigned k = 0; k < i; k++)
				for (unsigned q = 0; q < svc->methods[k].nchain; q++) {
					snprintf(y, sizeof(y), "%s_%s", svc->methods[k].name,
						 svc->methods[k].chain[q].name);
					if (ck_same_cname(x, y, 0))
						fr_error(d, r->loc, "element '%s' in method '%s' and "
							 "element '%s' in method '%s' would share the "
							 "function fr_anf_%s_req", r->name,
							 svc->methods[i].name,
							 svc->methods[k].chain[q].name,
							 svc->methods[k].name,
							 fr_cname(y, sizeof(y), x));
				}
		}

	/* per-method pass: field-dependent checks and error numbering, in
	 * method, chain and body order */
	for (unsigned i = 0; i < svc->nmethods; i++) {
		struct fr_method *m = &svc->methods[i];
		for (unsigned j = 0; j < m->nchain; j++) {
			if (!m->chain[j].elem)
				continue;
			ck_handler(c, m->chain[j].elem, H_REQ, m, m->chain[j].side);
			ck_handler(c, m->chain[j].elem, H_RESP, m, m->chain[j].side);
		}
	}
}

/* fr_<element>_<state> must be unique across elements: element 'a-b' with
 * state 'c' and element 'a' with state 'b_c' would share one pinned map. */
static void check_map_names(struct fr_spec *spec, struct fr_diag *d)
{
	char x[80], y[80];

	for (unsigned i = 0; i < spec->nelems; i++)
		for (unsigned si = 0; si < spec->elems[i]->nstates; si++) {
			const struct fr_state *a = &spec->elems[i]->states[si];
			snprintf(x, sizeof(x), "%s_%s", spec->elems[i]->name, a->name);
			for (unsigned j = 0; j < i; j++)
				for (unsigned sj = 0; sj < spec->elems[j]->nstates; sj++) {
					const struct fr_state *b = &spec->elems[j]->states[sj];
					snprintf(y, sizeof(y), "%s_%s", spec->elems[j]->name, b->name);
					if (ck_same_cname(x, y, 0) && !ck_same_cname(spec->elems[i]->name,
									       spec->elems[j]->name, 0))
						fr_error(d, a->loc, "state '%s' of element '%s' and state "
							 "'%s' of element '%s' would share the map "
							 "fr_%s", a->name, spec->elems[i]->name, b->name,
							 spec->elems[j]->name,
							 fr_cname(y, sizeof(y), x));
				}
		}
}

void fr_check(struct fr_spec *spec, struct fr_diag *d)
{
	struct ck c = { .spec = spec, .d = d };

	for (unsigned i = 0; i < spec->nelems; i++) {
		struct fr_element *el = spec->elems[i];
		for (unsigned j = 0; j < i; j++) {
			const struct fr_element *o = spec->elems[j];
			if (!strcmp(o->name, el->name)) {
				fr_error(d, el->loc, "duplicate element '%s'", el->name);
				break;
			}
			if (ck_same_cname(o->name, el->name, 0)) {
				fr_error(d, el->loc, "element '%s' and element '%s' on line %d are "
					 "the same name in C", el->name, o->name, o->loc.line);
				break;
			}
		}
		ck_name(d, el->loc, "element", el->name);
		check_element(&c, el);
	}
	if (!spec->svc) {
		struct fr_loc loc = { spec->srcs, 1, 1 };
		fr_error(d, loc, "no service defined (expected `service NAME:`)");
		return;
	}
	ck_name(d, spec->svc->loc, "service", spec->svc->name);
	check_map_names(spec, d);
	check_service(&c, spec->svc);
}
