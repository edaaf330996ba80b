/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * reflect.c - gRPC server reflection from the gateway's descriptor set
 * (docs/grpc.md, Reflection): no sockets, no HTTP/2, only bytes in and out,
 * so that the unit tests and the fuzzer reach it without a connection.
 *
 * The set is what `protoc --descriptor_set_out --include_imports` wrote
 * at build time for the spec's .proto, health and reflection; the answers
 * carry each file's bytes exactly as protoc serialized them, cut out of the
 * set rather than packed again, so a client sees protoc's own output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reflection.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

#define REFL_MSG_MAX	200

struct refl_file {
	const uint8_t	*pb;		/* the FileDescriptorProto inside the set */
	size_t		len;
	Google__Protobuf__FileDescriptorProto *fd;
	unsigned	*deps;		/* indexes of its imports */
	unsigned	ndeps;
};

enum refl_kind { SYM_MESSAGE, SYM_OTHER };

struct refl_sym {
	char		*name;		/* fully qualified, no leading dot */
	unsigned	file;
	enum refl_kind	kind;
};

struct refl_ext {
	const char	*extendee;	/* fully qualified, no leading dot */
	int32_t		number;
	unsigned	file;
};

struct fr_gw_refl {
	struct refl_file *files;
	unsigned	nfiles;
	struct refl_sym	*syms;
	unsigned	nsyms, capsyms;
	struct refl_ext	*exts;
	unsigned	nexts, capexts;
	const char	**services;
	unsigned	nservices, capservices;
};

static int grow(void **p, unsigned *cap, unsigned n, size_t size)
{
	void *q;

	if (n < *cap)
		return 0;
	q = realloc(*p, (size_t)(*cap ? *cap * 2 : 16) * size);
	if (!q)
		return -1;
	*p = q;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

static char *qualify(const char *scope, const char *name)
{
	size_t a = scope ? strlen(scope) : 0, b = strlen(name);
	char *s = malloc(a + b + 2);

	if (!s)
		return NULL;
	if (a) {
		memcpy(s, scope, a);
		s[a++] = '.';
	}
	memcpy(s + a, name, b + 1);
	return s;
}

/* Adds scope.name and returns it (owned by the index), or NULL. */
static const char *add_sym(struct fr_gw_refl *r, const char *scope, const char *name,
			   unsigned file, enum refl_kind kind)
{
	char *s;

	if (grow((void **)&r->syms, &r->capsyms, r->nsyms, sizeof(*r->syms)))
		return NULL;
	s = qualify(scope, name);
	if (!s)
		return NULL;
	r->syms[r->nsyms++] = (struct refl_sym){ .name = s, .file = file, .kind = kind };
	return s;
}

static int add_enum(struct fr_gw_refl *r, const char *scope,
		    const Google__Protobuf__EnumDescriptorProto *e, unsigned file)
{
	if (!add_sym(r, scope, e->name, file, SYM_OTHER))
		return -1;
	/* protobuf puts enum values beside their enum, in its enclosing scope */
	for (size_t i = 0; i < e->n_value; i++)
		if (!add_sym(r, scope, e->value[i]->name, file, SYM_OTHER))
			return -1;
	return 0;
}

static int add_fields(struct fr_gw_refl *r, const char *scope,
		      Google__Protobuf__FieldDescriptorProto *const *f, size_t n, unsigned file,
		      int extensions)
{
	for (size_t i = 0; i < n; i++) {
		if (!add_sym(r, scope, f[i]->name, file, SYM_OTHER))
			return -1;
		if (!extensions || !f[i]->extendee)
			continue;
		if (grow((void **)&r->exts, &r->capexts, r->nexts, sizeof(*r->exts)))
			return -1;
		r->exts[r->nexts++] = (struct refl_ext){
			.extendee = f[i]->extendee + (f[i]->extendee[0] == '.'),
			.number = f[i]->number, .file = file,
		};
	}
	return 0;
}

static int add_message(struct fr_gw_refl *r, const char *scope,
		       const Google__Protobuf__DescriptorProto *m, unsigned file)
{
	const char *me = add_sym(r, scope, m->name, file, SYM_MESSAGE);

	if (!me || add_fields(r, me, m->field, m->n_field, file, 0) ||
	    add_fields(r, me, m->extension, m->n_extension, file, 1))
		return -1;
	for (size_t i = 0; i < m->n_oneof_decl; i++)
		if (!add_sym(r, me, m->oneof_decl[i]->name, file, SYM_OTHER))
			return -1;
	for (size_t i = 0; i < m->n_nested_type; i++)
		if (add_message(r, me, m->nested_type[i], file))
			return -1;
	for (size_t i = 0; i < m->n_enum_type; i++)
		if (add_enum(r, me, m->enum_type[i], file))
			return -1;
	return 0;
}

static int add_file(struct fr_gw_refl *r, unsigned file)
{
	const Google__Protobuf__FileDescriptorProto *fd = r->files[file].fd;
	const char *pkg = fd->package && fd->package[0] ? fd->package : NULL;

	for (size_t i = 0; i < fd->n_message_type; i++)
		if (add_message(r, pkg, fd->message_type[i], file))
			return -1;
	for (size_t i = 0; i < fd->n_enum_type; i++)
		if (add_enum(r, pkg, fd->enum_type[i], file))
			return -1;
	if (add_fields(r, pkg, fd->extension, fd->n_extension, file, 1))
		return -1;
	for (size_t i = 0; i < fd->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];
		const char *sv = add_sym(r, pkg, s->name, file, SYM_OTHER);

		if (!sv || grow((void **)&r->services, &r->capservices, r->nservices,
				sizeof(*r->services)))
			return -1;
		r->services[r->nservices++] = sv;
		for (size_t j = 0; j < s->n_method; j++)
			if (!add_sym(r, sv, s->method[j]->name, file, SYM_OTHER))
				return -1;
	}
	return 0;
}

static int file_named(const struct fr_gw_refl *r, const char *name)
{
	for (unsigned i = 0; i < r->nfiles; i++)
		if (!strcmp(r->files[i].fd->name, name))
			return (int)i;
	return -1;
}

/* One varint of a protobuf: its value, or -1 when it runs off the end. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return -1;
		*v |= (uint64_t)(**p & 0x7f) << shift;
		if (!(*(*p)++ & 0x80))
			return 0;
	}
	return -1;
}

void fr_gw_refl_free(struct fr_gw_refl *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nfiles; i++) {
		if (r->files[i].fd)
			google__protobuf__file_descriptor_proto__free_unpacked(r->files[i].fd, NULL);
		free(r->files[i].deps);
	}
	for (unsigned i = 0; i < r->nsyms; i++)
		free(r->syms[i].name);
	free(r->files);
	free(r->syms);
	free(r->exts);
	free(r->services);
	free(r);
}

struct fr_gw_refl *fr_gw_refl_new(const uint8_t *set, size_t n, char *err, size_t errn)
{
	struct fr_gw_refl *r = calloc(1, sizeof(*r));
	const uint8_t *p = set, *end = set + n;
	unsigned cap = 0;

	if (!r)
		goto nomem;
	/* FileDescriptorSet is `repeated FileDescriptorProto file = 1` alone:
	 * walking its length-delimited records gives each file's own bytes */
	while (p < end) {
		uint64_t tag, len;
		struct refl_file *f;

		if (varint(&p, end, &tag) || tag != (1 << 3 | 2) || varint(&p, end, &len) ||
		    len > (uint64_t)(end - p)) {
			snprintf(err, errn, "the descriptor set is not a FileDescriptorSet");
			goto fail;
		}
		if (grow((void **)&r->files, &cap, r->nfiles, sizeof(*r->files)))
			goto nomem;
		f = &r->files[r->nfiles];
		*f = (struct refl_file){ .pb = p, .len = (size_t)len };
		f->fd = google__protobuf__file_descriptor_proto__unpack(NULL, f->len, f->pb);
		if (!f->fd || !f->fd->name) {
			snprintf(err, errn, "file %u of the descriptor set does not decode", r->nfiles);
			goto fail;
		}
		r->nfiles++;
		p += len;
	}
	for (unsigned i = 0; i < r->nfiles; i++) {
		struct refl_file *f = &r->files[i];

		f->deps = calloc(f->fd->n_dependency + 1, sizeof(*f->deps));
		if (!f->deps)
			goto nomem;
		for (size_t j = 0; j < f->fd->n_dependency; j++) {
			int d = file_named(r, f->fd->dependency[j]);

			/* --include_imports puts every import in the set */
			if (d < 0) {
				snprintf(err, errn, "%s imports %s, which the descriptor set lacks",
					 f->fd->name, f->fd->dependency[j]);
				goto fail;
			}
			f->deps[f->ndeps++] = (unsigned)d;
		}
		if (add_file(r, i))
			goto nomem;
	}
	return r;
nomem:
	snprintf(err, errn, "out of memory reading the descriptor set");
fail:
	fr_gw_refl_free(r);
	return NULL;
}

/* ---- answers ---------------------------------------------------------------- */

struct answer {
	ProtobufCBinaryData *files;
	size_t		nfiles;
	uint8_t		*seen;		/* per file of the set: in files already */
};

/* The file first, then what it imports, each once: a client builds its
 * pool from one answer without asking again. */
static void with_deps(const struct fr_gw_refl *r, unsigned f, struct answer *a)
{
	if (a->seen[f])
		return;
	a->seen[f] = 1;
	a->files[a->nfiles++] = (ProtobufCBinaryData){ .len = r->files[f].len,
						       .data = (uint8_t *)r->files[f].pb };
	for (unsigned i = 0; i < r->files[f].ndeps; i++)
		with_deps(r, r->files[f].deps[i], a);
}

static const struct refl_sym *find_sym(const struct fr_gw_refl *r, const char *name)
{
	if (name[0] == '.')
		name++;
	for (unsigned i = 0; i < r->nsyms; i++)
		if (!strcmp(r->syms[i].name, name))
			return &r->syms[i];
	return NULL;
}

ssize_t fr_gw_reflect(const struct fr_gw_refl *r, const uint8_t *req, size_t n, uint8_t **out)
{
	Grpc__Reflection__V1alpha__ServerReflectionRequest *q;
	Grpc__Reflection__V1alpha__ServerReflectionResponse a =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__FileDescriptorResponse fdr =
		GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__ListServiceResponse lsr =
		GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__ExtensionNumberResponse enr =
		GRPC__REFLECTION__V1ALPHA__EXTENSION_NUMBER_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__ErrorResponse er =
		GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__ServiceResponse *svcs = NULL, **svcp = NULL;
	struct answer files = { 0 };
	int32_t *nums = NULL;
	const struct refl_sym *s;
	char msg[REFL_MSG_MAX];
	ssize_t len = -1;
	int f = -1;

	*out = NULL;
	q = grpc__reflection__v1alpha__server_reflection_request__unpack(NULL, n, req);
	if (!q)
		return -1;
	len = -2;	/* until the answer is packed: out of memory */
	a.valid_host = q->host;
	a.original_request = q;
	files.files = calloc(r->nfiles + 1, sizeof(*files.files));
	files.seen = calloc(r->nfiles + 1, 1);
	if (!files.files || !files.seen)
		goto done;

	switch (q->message_request_case) {
	case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		svcs = calloc(r->nservices + 1, sizeof(*svcs));
		svcp = calloc(r->nservices + 1, sizeof(*svcp));
		if (!svcs || !svcp)
			goto done;
		for (unsigned i = 0; i < r->nservices; i++) {
			grpc__reflection__v1alpha__service_response__init(&svcs[i]);
			svcs[i].name = (char *)r->services[i];
			svcp[i] = &svcs[i];
		}
		lsr.n_service = r->nservices;
		lsr.service = svcp;
		a.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
		a.list_services_response = &lsr;
		break;
	case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		f = file_named(r, q->file_by_filename);
		if (f < 0)
			snprintf(msg, sizeof(msg), "no file '%.150s'", q->file_by_filename);
		break;
	case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		s = find_sym(r, q->file_containing_symbol);
		if (s)
			f = (int)s->file;
		else
			snprintf(msg, sizeof(msg), "no symbol '%.150s'", q->file_containing_symbol);
		break;
	case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION: {
		const Grpc__Reflection__V1alpha__ExtensionRequest *e = q->file_containing_extension;
		const char *type = e->containing_type + (e->containing_type[0] == '.');

		for (unsigned i = 0; i < r->nexts && f < 0; i++)
			if (r->exts[i].number == e->extension_number &&
			    !strcmp(r->exts[i].extendee, type))
				f = (int)r->exts[i].file;
		if (f < 0)
			snprintf(msg, sizeof(msg), "no extension %d of '%.150s'",
				 e->extension_number, type);
		break;
	}
	case GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		s = find_sym(r, q->all_extension_numbers_of_type);
		if (!s || s->kind != SYM_MESSAGE) {
			snprintf(msg, sizeof(msg), "no message type '%.150s'",
				 q->all_extension_numbers_of_type);
			break;
		}
		nums = calloc(r->nexts + 1, sizeof(*nums));
		if (!nums)
			goto done;
		for (unsigned i = 0; i < r->nexts; i++)
			if (!strcmp(r->exts[i].extendee, s->name))
				nums[enr.n_extension_number++] = r->exts[i].number;
		enr.base_type_name = s->name;
		enr.extension_number = nums;
		a.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
		a.all_extension_numbers_response = &enr;
		break;
	default:
		snprintf(msg, sizeof(msg), "the request asks nothing the gateway knows");
		er.error_code = FR_GW_UNIMPLEMENTED;
		break;
	}
	if (f >= 0) {
		with_deps(r, (unsigned)f, &files);
		fdr.n_file_descriptor_proto = files.nfiles;
		fdr.file_descriptor_proto = files.files;
		a.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
		a.file_descriptor_response = &fdr;
	} else if (a.message_response_case ==
		   GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE__NOT_SET) {
		/* the protocol's answer to a name it does not know: the stream
		 * goes on, this one request failed */
		if (!er.error_code)
			er.error_code = FR_GW_NOT_FOUND;
		er.error_message = msg;
		a.message_response_case = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
		a.error_response = &er;
	}
	*out = malloc(grpc__reflection__v1alpha__server_reflection_response__get_packed_size(&a) + 1);
	if (*out)
		len = (ssize_t)grpc__reflection__v1alpha__server_reflection_response__pack(&a, *out);
done:
	free(svcs);
	free(svcp);
	free(nums);
	free(files.files);
	free(files.seen);
	grpc__reflection__v1alpha__server_reflection_request__free_unpacked(q, NULL);
	return len;
}
