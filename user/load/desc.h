/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * desc.h - what flatrpc-load and the status tools know of a loaded spec:
 * its names and tables, as the compiler wrote them into the object's
 * .rodata.desc section (codegen/emit_init.c). The loader reads them from
 * the object it is about to load and pins the section's map as "desc", so
 * that --status and flatrpc-stat read them back for any spec, with no copy
 * of it built into the tools.
 */
#ifndef FLATRPC_DESC_H
#define FLATRPC_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "flatrpc_abi.h"	/* struct flatrpc_init_entry */

struct bpf_object;

/* A slot of the elem_verdicts map: one hook of one entry of a method's chain. */
struct flatrpc_elem_slot {
	unsigned int	slot;
	unsigned int	method;
	unsigned int	position;	/* in the method's chain, client: entries first */
	const char	*element;
	const char	*hook;		/* "req", "client_req" (sending library) or "resp" */
};

struct flatrpc_desc {
	const char			*service;
	__u64				spec_hash;
	const char			*spec_path;	/* the spec's file name */
	__u16				port;		/* the spec's */
	const char *const		*methods;	/* names by method id */
	unsigned int			n_methods;
	const char *const		*states;	/* Map state pins by state_limits
							 * slot, NULL-terminated */
	const char *const		*errors;	/* ANF error names, errors[code - 1] */
	unsigned int			n_errors;
	const struct flatrpc_elem_slot	*elems;		/* NULL-terminated by element */
	const struct flatrpc_init_entry	*init;
	unsigned int			n_init;
};

/* The section and the version of its text that this build reads. */
#define FLATRPC_DESC_SECTION	".rodata.desc"
#define FLATRPC_DESC_VERSION	1

/*
 * Parses a description (len bytes, NUL bytes at the end allowed). Returns
 * a new desc, or NULL with why (why_len bytes) saying what is wrong.
 */
struct flatrpc_desc *flatrpc_desc_parse(const char *text, size_t len, char *why, size_t why_len);
/* The description of an opened object, from its section's initial value. */
struct flatrpc_desc *flatrpc_desc_of_object(struct bpf_object *obj, char *why, size_t why_len);
/* The description a load pinned in pin_dir; NULL when there is none. */
struct flatrpc_desc *flatrpc_desc_of_pin(const char *pin_dir);
void flatrpc_desc_free(struct flatrpc_desc *d);

/*
 * The services loaded on an interface: the directories of if_dir
 * (<bpffs>/flatrpc/<ifname>) other than its entry point's pins and the
 * stages of commands at work. Up to max names into names (NULL: count
 * only); returns how many there are.
 */
int flatrpc_services_of(const char *if_dir, char (*names)[256], int max);

#endif
