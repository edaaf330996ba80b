// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * spec_adapter.c - wraps one spec's skeleton as a struct flatrpc_loader.
 *
 * Compiled once per spec with -I build/gen/<svc> and
 * -DFLATRPC_LOADER_SYM=flatrpc_loader_<svc>; every copy has the same static
 * names, so nothing but the loader symbol may be global.
 */
#include "flatrpc_abi.h"
#include "loader.h"
#include "flatrpc.skel.h"
#include "init.h"

#ifndef FLATRPC_LOADER_SYM
#error "build with -DFLATRPC_LOADER_SYM=flatrpc_loader_<service>"
#endif

static void *adapter_open(const struct bpf_object_open_opts *opts)
{
	return flatrpc_bpf__open_opts(opts);
}

static struct bpf_object *adapter_obj(void *skel)
{
	return ((struct flatrpc_bpf *)skel)->obj;
}

/* The spec's own port, when the generator states it; else the ABI default. */
#ifndef FLATRPC_SPEC_PORT
#define FLATRPC_SPEC_PORT FLATRPC_DEFAULT_PORT
#endif

/* 0 asks for the spec's port, so flatrpc-load need not know it. */
static void adapter_set_port(void *skel, __u16 port)
{
	((struct flatrpc_bpf *)skel)->rodata->flatrpc_port = port ? port : FLATRPC_SPEC_PORT;
}

static void adapter_set_figures(void *skel, bool on)
{
	((struct flatrpc_bpf *)skel)->rodata->flatrpc_figures = on;
}

static int adapter_load(void *skel)
{
	return flatrpc_bpf__load(skel);
}

static void adapter_destroy(void *skel)
{
	flatrpc_bpf__destroy(skel);
}

static const char *const method_names[] = FLATRPC_SPEC_METHODS;
static const char *const state_names[] = FLATRPC_SPEC_STATES;
static const char *const error_names[] = FLATRPC_SPEC_ERRORS;
static const struct flatrpc_elem_slot elem_slots[] = FLATRPC_SPEC_ELEMENTS;

const struct flatrpc_loader FLATRPC_LOADER_SYM = {
	.service	= FLATRPC_SPEC_SERVICE,
	.spec_hash	= FLATRPC_SPEC_HASH,
	.spec_path	= FLATRPC_SPEC_FILE,
	.methods	= method_names,
	.n_methods	= sizeof(method_names) / sizeof(method_names[0]),
	.states		= state_names,
	.errors		= error_names,
	.n_errors	= sizeof(error_names) / sizeof(error_names[0]) - 1,
	.elems		= elem_slots,
	.init		= flatrpc_init_table,
	.n_init		= FLATRPC_INIT_COUNT,
	.open		= adapter_open,
	.obj		= adapter_obj,
	.set_port	= adapter_set_port,
	.set_figures	= adapter_set_figures,
	.load		= adapter_load,
	.destroy	= adapter_destroy,
};
