/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * place.c - the side of each element of a chain: line.
 *
 * The pass only writes fr_chain_ref.side (and why, for --placement); the
 * chain keeps its order, so what follows sees exactly what the same spec
 * written with client: and server: lines gives. The rules, first match
 * wins (docs/spec-language.md, Placement):
 *
 *   1. @place(server) / @place(client): the author's word;
 *   2. @enforce: never on the caller's side;
 *   3. forward(): only the server's XDP has a route to change;
 *   4. req() can refuse with send(err(...), Up), or rewrites a request
 *      field: policy against the caller, who could skip it at home;
 *   5. state of any kind: each client host would have its own copy;
 *   6. otherwise the client, if that strips metadata from the wire;
 *      else the server, where nothing can be bypassed.
 *
 * Then the order: the client part runs before the server part, so every
 * element after one on the server goes to the server too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec.h"

static const struct fr_stmt *find_stmt(const struct fr_block *b, const char *param,
				       int (*is)(const struct fr_stmt *, const char *))
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct fr_stmt *s = b->v[i], *hit = is(s, param) ? s : NULL;
		for (unsigned j = 0; !hit && j < s->narms; j++)
			hit = find_stmt(&s->arms[j].body, param, is);
		if (!hit && s->kind == S_FOREACH)
			hit = find_stmt(&s->body, param, is);
		if (hit)
			return hit;
	}
	return NULL;
}

/* send(err('m'), Up) */
static int is_refusal(const struct fr_stmt *s, const char *param)
{
	return s->kind == S_SEND && s->e && s->e->nargs == 2 && s->e->args[0]->kind == E_CALL &&
	       !strcmp(s->e->args[0]->s, "err") && s->e->args[0]->nargs == 1 &&
	       s->e->args[0]->args[0]->kind == E_STR;
}

/* set(rpc, 'field', value) */
static int is_rewrite(const struct fr_stmt *s, const char *param)
{
	return s->kind == S_SET && s->e && s->e->nargs == 3 && s->e->args[0]->kind == E_NAME &&
	       !strcmp(s->e->args[0]->s, param) && s->e->args[1]->kind == E_STR;
}

static const char *why(struct fr_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *why(struct fr_spec *spec, const char *fmt, ...)
{
	char b[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	return fr_arena_strndup(&spec->arena, b, strlen(b));
}

/* Rules 1 to 5: the side they force, with r->why set; -1: none does. */
static int forced_side(struct fr_spec *spec, struct fr_chain_ref *r)
{
	const struct fr_element *el = r->elem;
	const char *param = el->req.param ? el->req.param : "rpc";
	const struct fr_stmt *s;

	if (el->place >= 0) {
		r->why = el->place == FR_CLIENT ? "@place(client)" : "@place(server)";
		return el->place;
	}
	if (el->enforce) {
		r->why = "@enforce: policy against the caller";
		return FR_SERVER;
	}
	if (el->forwards) {
		r->why = "forward() changes the route, which only the server's XDP can";
		return FR_SERVER;
	}
	if ((s = find_stmt(&el->req.body, param, is_refusal))) {
		r->why = why(spec, "can refuse the caller with err('%s'): policy against the "
			     "caller", s->e->args[0]->args[0]->s);
		return FR_SERVER;
	}
	if ((s = find_stmt(&el->req.body, param, is_rewrite))) {
		r->why = why(spec, "rewrites request field '%s': the server must not take the "
			     "caller's word for it", s->e->args[1]->s);
		return FR_SERVER;
	}
	if (el->nstates) {
		char names[160] = "";
		for (unsigned i = 0; i < el->nstates; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? ", " : "", el->states[i].name);
		r->why = why(spec, "state shared across clients: %s", names);
		return FR_SERVER;
	}
	return -1;
}

/* The order rule over the whole chain: 1 if it moved an element. */
static int keep_order(struct fr_spec *spec, struct fr_method *m, struct fr_diag *d)
{
	const struct fr_chain_ref *srv = NULL;
	int moved = 0;

	for (unsigned j = 0; j < m->nchain; j++) {
		struct fr_chain_ref *r = &m->chain[j];
		if (r->side == FR_SERVER) {
			if (!srv)
				srv = r;
			continue;
		}
		if (!srv)
			continue;
		if (r->elem && r->elem->place == FR_CLIENT) {
			fr_error(d, r->loc, "element '%s' is @place(client) but comes after '%s', "
				 "which runs on the server (%s); the client part of a chain runs "
				 "first: move '%s' before it, or write client:/server:", r->name,
				 srv->name, srv->why, r->name);
			r->side = FR_SERVER;
			continue;
		}
		r->side = FR_SERVER;
		r->why = why(spec, "after %s, which runs on the server: the client part runs "
			     "first", srv->name);
		moved = 1;
	}
	return moved;
}

/* The metadata bytes that r's element keeps off the wire where it stands;
 * their names go to names. */
static unsigned bytes_saved(const struct fr_method *m, const struct fr_chain_ref *r,
			    char *names, size_t n)
{
	unsigned bytes = 0;

	names[0] = 0;
	for (unsigned i = 0; i < r->elem->req_reads.n; i++)
		for (unsigned k = 0; k < m->req.n; k++) {
			const struct fr_field *f = &m->req.v[k];
			if (strcmp(f->name, r->elem->req_reads.v[i]) || !fr_field_stripped(m, f))
				continue;
			bytes += fr_type_size(&f->type);
			snprintf(names + strlen(names), n - strlen(names), "%s%s",
				 names[0] ? ", " : "", f->name);
		}
	return bytes;
}

/* An explicit side wins, but one against its element's author is said. */
static void warn_explicit(struct fr_method *m, struct fr_diag *d)
{
	for (unsigned j = 0; j < m->nchain; j++) {
		const struct fr_chain_ref *r = &m->chain[j];
		if (!r->elem)
			continue;
		if (r->side == FR_CLIENT && (r->elem->enforce || r->elem->place == FR_SERVER))
			fr_warn(d, r->loc, "element '%s' is %s, but method '%s' puts it in "
				"client:; the explicit side wins, so the caller's host runs it "
				"and could skip it", r->name,
				r->elem->enforce ? "@enforce" : "@place(server)", m->name);
		else if (r->side == FR_SERVER && r->elem->place == FR_CLIENT)
			fr_warn(d, r->loc, "element '%s' is @place(client), but method '%s' "
				"puts it in server:; the explicit side wins", r->name, m->name);
	}
}

void fr_place_method(struct fr_spec *spec, struct fr_method *m, struct fr_diag *d)
{
	char names[160];

	if (!m->chain_loc.line) {
		warn_explicit(m, d);
		return;
	}
	/* both chain: and a side: an error already, and nothing to place */
	if (m->side_loc[FR_CLIENT].line || m->side_loc[FR_SERVER].line)
		return;
	/* the side rules 1 to 5 force, per entry; -1: free */
	int *forced = fr_arena_alloc(&spec->arena, (m->nchain + 1) * sizeof(*forced));
	for (unsigned j = 0; j < m->nchain; j++) {
		struct fr_chain_ref *r = &m->chain[j];
		forced[j] = r->elem ? forced_side(spec, r) : FR_SERVER;
		if (!r->elem)
			r->why = "unknown element";
		r->side = forced[j] < 0 ? FR_CLIENT : (enum fr_side)forced[j];
	}
	/* Free elements only ever move to the server, and each move can only
	 * take stripped bytes away from the others: this ends. */
	for (int moved = 1; moved;) {
		moved = keep_order(spec, m, d);
		for (unsigned j = 0; j < m->nchain; j++) {
			struct fr_chain_ref *r = &m->chain[j];
			if (forced[j] >= 0 || r->side != FR_CLIENT ||
			    bytes_saved(m, r, names, sizeof(names)))
				continue;
			r->side = FR_SERVER;
			r->why = "saves no bytes on the client, where every metadata field it "
				 "reads crosses the wire anyway: the server, where nothing can "
				 "be bypassed";
			moved = 1;
		}
	}
	for (unsigned j = 0; j < m->nchain; j++) {
		struct fr_chain_ref *r = &m->chain[j];
		unsigned b;
		if (forced[j] < 0 && r->side == FR_CLIENT &&
		    (b = bytes_saved(m, r, names, sizeof(names))))
			r->why = why(spec, "no state, no policy, and %u byte%s less on the wire: "
				     "strips %s", b, b == 1 ? "" : "s", names);
	}
}

void fr_print_placement(const struct fr_spec *spec, FILE *out)
{
	const struct fr_service *svc = spec->svc;

	for (unsigned i = 0; i < svc->nmethods; i++)
		for (unsigned j = 0; j < svc->methods[i].nchain; j++) {
			const struct fr_chain_ref *r = &svc->methods[i].chain[j];
			const char *side = r->side == FR_CLIENT ? "client" : "server";
			fprintf(out, "%s: %s -> %s (", svc->methods[i].name, r->name, side);
			if (r->placed)
				fprintf(out, "%s)\n", r->why);
			else
				fprintf(out, "explicit %s:)\n", side);
		}
}
