/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* main.c - the flatrpc-gen command line; all the work is in libflatrpc-spec. */
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "object.h"
#include "spec.h"

static const char usage_line[] =
	"usage: flatrpc-gen [-I DIR]... [--check | --layout | --placement | --proto |\n"
	"                   --gateway | --emit-dir DIR | --object FILE] SPEC.anf\n"
	"       flatrpc-gen --list-builtins[=dict]\n";

static void help(FILE *out)
{
	fputs(usage_line, out);
	fputs("\n"
	      "Compiles a FlatRPC/AppNet spec (.anf).\n"
	      "\n"
	      "  --check          parse and check only (the default)\n"
	      "  --layout         print the wire layout of every method\n"
	      "  --placement      print where each element of each method runs,\n"
	      "                   client or server, and why (a chain: line is\n"
	      "                   placed by the compiler)\n"
	      "  --proto          print the equivalent proto3 file (package, service,\n"
	      "                   messages) for gRPC clients of a gateway\n"
	      "  --gateway        print the C glue of the spec's gRPC gateway: protobuf-c\n"
	      "                   messages (protoc-c on the --proto output) to and from\n"
	      "                   the typed stubs; link it with gateway/ (docs/grpc.md)\n"
	      "  --emit-dir DIR   write <svc>.abi.h, anf.bpf.h, init.h, <svc>_stubs.h\n"
	      "                   and <svc>_stubs.c into DIR\n"
	      "  --object FILE    compile the spec's BPF object into FILE with clang\n"
	      "                   ($FLATRPC_CLANG or clang), for flatrpc-load --object\n"
	      "                   on a host without clang\n"
	      "  --list-builtins  print the table of built-in functions that\n"
	      "                   docs/spec-language.md holds; =dict: their tokens\n"
	      "                   for codegen/fuzz/anf.dict\n"
	      "  -I DIR           look for imports in DIR too, after the importing\n"
	      "                   file's directory; then in $FLATRPC_IMPORT_PATH\n"
	      "                   (DIR:DIR...) and the installed element library\n"
	      "  --help           this text\n"
	      "\n"
	      "Errors are printed as FILE:LINE:COL: error: MESSAGE.\n"
	      "Exit status: 0 ok, 1 errors in the spec (or the object could not be\n"
	      "built), 2 usage error.\n"
	      "\n"
	      "Example:\n"
	      "  flatrpc-gen --emit-dir build/gen/kv specs/kv.anf\n"
	      "  flatrpc-gen --placement specs/tracked.anf\n"
	      "  flatrpc-gen --proto specs/kv.anf > kv.proto\n"
	      "  flatrpc-gen --gateway specs/kv.anf > kv_gateway.c\n"
	      "  flatrpc-gen --object kv.bpf.o specs/kv.anf\n", out);
}

int main(int argc, char **argv)
{
	enum { CHECK, LAYOUT, PLACEMENT, PROTO, GATEWAY, EMIT, OBJECT } mode = CHECK;
	const char *dir = NULL, *spec_path = NULL;
	int nmodes = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			help(stdout);
			return 0;
		} else if (!strcmp(a, "--list-builtins") || !strcmp(a, "--list-builtins=dict")) {
			/* test_parser holds the doc and the dictionary to this output */
			struct fr_buf b = { 0 };
			if (a[15])
				fr_builtins_dict(&b);
			else
				fr_builtins_doc(&b);
			fputs(b.p, stdout);
			fr_buf_free(&b);
			return 0;
		} else if (!strcmp(a, "--check")) {
			mode = CHECK;
			nmodes++;
		} else if (!strcmp(a, "--layout")) {
			mode = LAYOUT;
			nmodes++;
		} else if (!strcmp(a, "--placement")) {
			mode = PLACEMENT;
			nmodes++;
		} else if (!strcmp(a, "--proto")) {
			mode = PROTO;
			nmodes++;
		} else if (!strcmp(a, "--gateway")) {
			mode = GATEWAY;
			nmodes++;
		} else if (!strcmp(a, "--emit-dir") || !strncmp(a, "--emit-dir=", 11)) {
			mode = EMIT;
			nmodes++;
			if (a[10] == '=') {
				dir = a + 11;
			} else if (i + 1 < argc) {
				dir = argv[++i];
			} else {
				fprintf(stderr, "flatrpc-gen: --emit-dir needs a directory\n%s",
					usage_line);
				return 2;
			}
		} else if (!strcmp(a, "--object") || !strncmp(a, "--object=", 9)) {
			mode = OBJECT;
			nmodes++;
			if (a[8] == '=') {
				dir = a + 9;
			} else if (i + 1 < argc) {
				dir = argv[++i];
			} else {
				fprintf(stderr, "flatrpc-gen: --object needs a file name\n%s",
					usage_line);
				return 2;
			}
		} else if (!strncmp(a, "-I", 2)) {
			const char *d = a[2] ? a + 2 : i + 1 < argc ? argv[++i] : NULL;

			if (!d || !*d) {
				fprintf(stderr, "flatrpc-gen: -I needs a directory\n%s", usage_line);
				return 2;
			}
			if (fr_import_path_add(d)) {
				fprintf(stderr, "flatrpc-gen: too many -I directories\n");
				return 2;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "flatrpc-gen: unknown option '%s'\n%s", a, usage_line);
			return 2;
		} else if (spec_path) {
			fprintf(stderr, "flatrpc-gen: one spec at a time ('%s' and '%s')\n%s",
				spec_path, a, usage_line);
			return 2;
		} else {
			spec_path = a;
		}
	}
	if (nmodes > 1) {
		fprintf(stderr, "flatrpc-gen: choose one of --check, --layout, --placement, --proto, --gateway, --emit-dir, --object\n%s",
			usage_line);
		return 2;
	}
	if (!spec_path || ((mode == EMIT || mode == OBJECT) && !*dir)) {
		fprintf(stderr, "flatrpc-gen: no spec given\n%s", usage_line);
		return 2;
	}

	struct fr_diag d = { .out = stderr };
	int read_err;
	struct fr_spec *spec = fr_spec_load_file(spec_path, &d, &read_err);
	int rc = 0;

	if (read_err) {
		fprintf(stderr, "flatrpc-gen: error: cannot read %s: %s\n", spec_path,
			strerror(-read_err));
		rc = 1;
	} else if (d.n_errors) {
		fprintf(stderr, "%d error%s\n", d.n_errors, d.n_errors == 1 ? "" : "s");
		rc = 1;
	} else if (mode == LAYOUT) {
		fr_print_layout(spec, stdout);
	} else if (mode == PLACEMENT) {
		fr_print_placement(spec, stdout);
	} else if (mode == PROTO || mode == GATEWAY) {
		/* nothing on stdout unless the whole file is right */
		struct fr_buf b = { 0 };
		int n = mode == PROTO ? fr_emit_proto(spec, &b, &d) : fr_emit_gateway(spec, &b, &d);
		if (n) {
			fprintf(stderr, "%d error%s\n", n, n == 1 ? "" : "s");
			rc = 1;
		} else {
			fputs(b.p, stdout);
		}
		fr_buf_free(&b);
	} else if (mode == EMIT) {
		rc = fr_emit_dir(spec, dir, stderr) ? 1 : 0;
	} else if (mode == OBJECT) {
		rc = fr_build_object(spec, dir, stderr) ? 1 : 0;
	}
	fr_spec_free(spec);
	return rc;
}
