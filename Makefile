# FlatRPC top-level build. `make help` lists the targets.
# Every rule lives here; each part only lists its sources.

# bench/specs/: FlatRPC variants of specs/kv.anf that the benchmark compares.
# specs/placed.anf is not here: it has no example programs; test_placement
# holds it to its client:/server: form and test-proto checks its .proto.
SPECS    ?= specs/kv.anf specs/ratelimited.anf specs/tiered.anf specs/blob.anf specs/balanced.anf specs/tracked.anf \
            specs/frontend.anf \
            $(wildcard bench/specs/*.anf)
BUILD    ?= build
# where `make install` puts everything; flatrpc-gen and flatrpc-load also
# look for the element library's imports under $(PREFIX)/share/flatrpc
PREFIX   ?= /usr/local
V        ?= 0
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Iinclude -I$(BUILD)
BPF_CFLAGS := -O2 -g -target bpf -Wall -Wno-unused-function -Iinclude -Ikern \
	      -I/usr/include/$(ARCH)-linux-gnu
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
LIBXDP_LIBS := $(shell pkg-config --libs libxdp 2>/dev/null || echo -lxdp)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean builtins-doc install test test-unit test-proto test-gateway test-bpf test-selftests test-bench-smoke test-vm demo bench help install-deps \
	fuzz fuzz-smoke fuzz-gateway

# ---- codegen ---------------------------------------------------------------
GEN_LIB_SRCS := $(filter-out codegen/main.c,$(wildcard codegen/*.c))
GEN_LIB_OBJS := $(GEN_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
GEN          := $(BUILD)/flatrpc-gen
# the kernel side that flatrpc-gen --object and flatrpc-load compile specs
# with, carried inside them (codegen/object.h)
BPF_SOURCES  := kern/flatrpc.bpf.c $(sort $(wildcard kern/*.h include/*.h))
GEN_LIB_OBJS += $(BUILD)/obj/bpf_sources.o

# ---- per-spec generated code -----------------------------------------------
# service name = spec file name without .anf; everything for it lands in
# $(BUILD)/gen/<service>/ and is never committed.
SERVICES := $(basename $(notdir $(SPECS)))
spec_of   = $(filter %/$(1).anf,$(SPECS))

# ---- library -----------------------------------------------------------------
LIB_SRCS := $(wildcard user/lib/*.c)
LIB_PIC_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/pic/%.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_VERSION := 0.1.0
LIB_A  := $(BUILD)/libflatrpc-user.a
LIB_SO := $(BUILD)/libflatrpc-user.so

LOAD := $(BUILD)/flatrpc-load
STAT := $(BUILD)/flatrpc-stat

# The examples, one row each: service:binary prefix. Each has a server
# and a client, examples/<service>/<prefix>_{server,client}.c, built when
# its spec is in SPECS (kv always is).
EXAMPLE_TABLE := kv:kv ratelimited:rl tiered:tiered blob:blob balanced:balanced tracked:tracked \
		 frontend:frontend
# The services an example's programs call besides their own, one row
# each: service:callee,callee. They link those services' stubs too, and
# are built when every one of those specs is in SPECS.
EXAMPLE_CALLS := frontend:kv,ratelimited
comma := ,
callees = $(subst $(comma), ,$(call col2,$(filter $(1):%,$(EXAMPLE_CALLS))))
# col1, col2: the fields of a table row "a:b"
col1 = $(word 1,$(subst :, ,$(1)))
col2 = $(word 2,$(subst :, ,$(1)))
EXAMPLE_ROWS := $(foreach e,$(EXAMPLE_TABLE),$(if $(filter-out $(SERVICES),$(call col1,$(e)) \
		  $(call callees,$(call col1,$(e)))),,$(e)))
EXAMPLES := $(foreach e,$(EXAMPLE_ROWS),$(BUILD)/$(call col2,$(e))-server $(BUILD)/$(call col2,$(e))-client)
BENCHES  := $(BUILD)/kv-bench

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(wildcard tests/bpf/test_*.c))
# The BPF table tests that run another service's object than kv's, one row
# each: test:service (test_bpf_<test>.c). Each is built only when its spec
# is in SPECS: the element library's test needs ratelimited, the
# load-balancer and header-rewrite rows balanced, the client: rows tracked.
BPF_TEST_TABLE := elements:ratelimited lb:balanced client:tracked
BPF_TESTS := $(filter-out $(foreach t,$(BPF_TEST_TABLE),$(if $(filter $(call col2,$(t)),$(SERVICES)),,\
	       $(BUILD)/tests/test_bpf_$(call col1,$(t)))),$(BPF_TESTS))
SELFTEST_BPF := $(patsubst selftests/bpf/%.bpf.c,$(BUILD)/selftests/%.bpf.o,$(wildcard selftests/bpf/*.bpf.c))

all: $(GEN) $(foreach s,$(SERVICES),$(BUILD)/gen/$(s)/flatrpc.bpf.o) $(LIB_A) $(LIB_SO) \
     $(BUILD)/libflatrpc-user.pc $(LOAD) $(STAT) $(EXAMPLES) $(BENCHES) $(UNIT_TESTS) $(BPF_TESTS) \
     $(SELFTEST_BPF) $(BUILD)/py/flatrpc_abi.py

help:
	@echo 'make             build everything into $(BUILD)/ (SPECS="$(SPECS)")'
	@echo 'make test        unit tests, the .proto check, BPF table tests and netns selftests (root)'
	@echo 'make test-proto  protoc accepts flatrpc-gen --proto of every spec'
	@echo 'make test-gateway  every spec'"'"'s gateway glue compiles against protoc-c'"'"'s code'
	@echo 'make fuzz-gateway  libFuzzer over the gRPC gateway'"'"'s decoding (FUZZ_SECONDS)'
	@echo 'make test-vm     the same BPF and netns tests under virtme-ng on Debian 6.1'
	@echo 'make demo        the KV demo in two network namespaces (root)'
	@echo 'make bench       the KV benchmark against UDP sockets (root)'
	@echo 'make install     tools, library, headers, man pages under $$(DESTDIR)$$(PREFIX) (/usr/local)'
	@echo 'make install-deps  apt/pip packages for Debian 12'
	@echo 'make builtins-doc  the built-in table of docs/spec-language.md and the fuzz dictionary from the registry'
	@echo 'make V=1         show full commands'

install-deps:
	scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/pic/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/bpf_sources.c: scripts/embed-sources.sh $(BPF_SOURCES)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-sources.sh $(BPF_SOURCES) > $@

$(BUILD)/obj/bpf_sources.o: $(BUILD)/bpf_sources.c codegen/object.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Icodegen -c $< -o $@

$(BUILD)/libflatrpc-spec.a: $(GEN_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(GEN): $(BUILD)/obj/codegen/main.o $(BUILD)/libflatrpc-spec.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

# The built-in table of docs/spec-language.md and the built-ins of the fuzz
# dictionary, rewritten from the registry in codegen/builtins.c; test_parser
# fails while they differ from it.
builtins-doc: $(GEN)
	$(Q)$(GEN) --list-builtins > $(BUILD)/builtins.md
	$(Q)awk -v t=$(BUILD)/builtins.md '/^\| built-in \| type \| BPF C \|$$/ { \
		while ((getline l < t) > 0) print l; skip = 1; next } \
		skip && /^\|/ { next } { skip = 0; print }' docs/spec-language.md > $(BUILD)/spec-language.md
	$(Q)cat $(BUILD)/spec-language.md > docs/spec-language.md
	$(Q)sed -n '1,/^# built-ins, from flatrpc-gen --list-builtins=dict/p' codegen/fuzz/anf.dict \
		> $(BUILD)/anf.dict
	$(Q)$(GEN) --list-builtins=dict >> $(BUILD)/anf.dict
	$(Q)cat $(BUILD)/anf.dict > codegen/fuzz/anf.dict

# flatrpc-gen --emit-dir writes: <svc>.abi.h anf.bpf.h init.h <svc>_stubs.h <svc>_stubs.c
define SPEC_RULES
$(BUILD)/gen/$(1)/.stamp: $(call spec_of,$(1)) $(wildcard specs/elements/*.anf) $(GEN)
	$$(call msg,GEN,$(BUILD)/gen/$(1))
	$(Q)mkdir -p $(BUILD)/gen/$(1)
	$(Q)$(GEN) --emit-dir $(BUILD)/gen/$(1) $(call spec_of,$(1))
	$(Q)touch $$@

# built as flatrpc-load would build it at load time (codegen/object.c)
$(BUILD)/gen/$(1)/flatrpc.bpf.o: $(BUILD)/gen/$(1)/.stamp $(GEN)
	$$(call msg,BPF,$$@)
	$(Q)FLATRPC_CLANG=$(CLANG) $(GEN) --object $$@ $(call spec_of,$(1))

$(BUILD)/gen/$(1)/flatrpc.skel.h: $(BUILD)/gen/$(1)/flatrpc.bpf.o
	$$(call msg,SKEL,$$@)
	$(Q)$(BPFTOOL) gen skeleton $$< name flatrpc_bpf > $$@

$(BUILD)/obj/gen/$(1)/stubs.o: $(BUILD)/gen/$(1)/.stamp
	$$(call msg,CC,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/gen/$(1) -c $(BUILD)/gen/$(1)/$(1)_stubs.c -o $$@
endef
$(foreach s,$(SERVICES),$(eval $(call SPEC_RULES,$(s))))

# ---- libflatrpc-user -----------------------------------------------------------
$(LIB_A): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_PIC_OBJS) user/lib/libflatrpc-user.map
	$(call msg,LINK,$@)
	$(Q)$(CC) -shared -Wl,-soname,libflatrpc-user.so.0 \
		-Wl,--version-script=user/lib/libflatrpc-user.map \
		$(LIB_PIC_OBJS) -o $@ $(LIBXDP_LIBS) $(LIBBPF_LIBS)

# PREFIX is compiled into the import path (codegen/parser.c) and written
# into the .pc: a stamp that changes with it rebuilds both.
$(BUILD)/prefix.stamp: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' >$@
.PHONY: FORCE
$(BUILD)/obj/codegen/parser.o: CFLAGS += -DFLATRPC_SHARE_DIR='"$(PREFIX)/share/flatrpc"'
$(BUILD)/obj/codegen/parser.o $(BUILD)/libflatrpc-user.pc: $(BUILD)/prefix.stamp

$(BUILD)/libflatrpc-user.pc: user/lib/libflatrpc-user.pc.in
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIB_VERSION)|' $< > $@

# ---- flatrpc-load ----------------------------------------------------------------
LOAD_SRCS := $(wildcard user/load/*.c)
LOAD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LOAD_SRCS))
# the library for flatrpc_status_str(), so that a status has one name everywhere
# the interface's entry point is the same for every spec: a skeleton
$(BUILD)/dispatch.bpf.o: kern/dispatch.bpf.c kern/ports.h include/flatrpc_abi.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/dispatch.skel.h: $(BUILD)/dispatch.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name flatrpc_dispatch_bpf > $@
$(BUILD)/obj/user/load/dispatch.o: $(BUILD)/dispatch.skel.h
$(LOAD): $(LOAD_OBJS) $(BUILD)/libflatrpc-spec.a $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LIBXDP_LIBS) $(LIBBPF_LIBS)

# ---- flatrpc-stat ----------------------------------------------------------------
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
$(BUILD)/obj/user/stat/%.o: CFLAGS += -Iuser/load $(MHD_CFLAGS)
$(STAT): $(BUILD)/obj/user/stat/flatrpc-stat.o $(BUILD)/obj/user/load/metrics.o $(BUILD)/obj/user/load/desc.o $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(MHD_LIBS) $(LIBXDP_LIBS) $(LIBBPF_LIBS) -lm

# ---- examples and benchmarks ----------------------------------------------------
$(BUILD)/obj/user/load/%.o: CFLAGS += -Icodegen -Iuser/load
# every example links the shared set-up (examples/common.[ch])
$(BUILD)/obj/examples/%.o: CFLAGS += -Iexamples
EX_COMMON := $(BUILD)/obj/examples/common.o
$(BUILD)/obj/bench/%.o: CFLAGS += -I$(BUILD)/gen/kv
# Explicit object names: prerequisites on a pattern rule without a recipe
# are ignored, and these objects include generated headers.
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/*.c)): $(BUILD)/gen/kv/.stamp

# one set of rules per example row; tracked's server keeps values in the
# KV example's store
$(BUILD)/obj/examples/tracked/%.o: CFLAGS += -Iexamples/kv
define EXAMPLE_RULES
$(BUILD)/obj/examples/$(1)/%.o: CFLAGS += $(foreach c,$(1) $(call callees,$(1)),-I$(BUILD)/gen/$(c))
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard examples/$(1)/*.c)): \
	$(foreach c,$(1) $(call callees,$(1)),$(BUILD)/gen/$(c)/.stamp)
$(BUILD)/$(2)-%: $(BUILD)/obj/examples/$(1)/$(2)_%.o \
	$(foreach c,$(1) $(call callees,$(1)),$(BUILD)/obj/gen/$(c)/stubs.o) $(EX_COMMON) $(LIB_A)
	$$(call msg,LINK,$$@)
	$(Q)$$(CC) $$(CFLAGS) $$^ -o $$@ $$(LIBXDP_LIBS) $$(LIBBPF_LIBS) -lm
endef
$(foreach e,$(EXAMPLE_ROWS),$(eval $(call EXAMPLE_RULES,$(call col1,$(e)),$(call col2,$(e)))))

$(BUILD)/kv-bench: $(BUILD)/obj/bench/kv_bench.o $(BUILD)/obj/gen/kv/stubs.o $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LIBXDP_LIBS) $(LIBBPF_LIBS) -lm

# ---- gRPC gateway (docs/grpc.md) ------------------------------------------------
# One gateway per row, built when its spec is in SPECS: flatrpc-gen --proto
# and protoc-c give the messages, flatrpc-gen --gateway the glue to the
# typed stubs, gateway/ the HTTP/2 server. Generated code lands in
# $(BUILD)/gen/<service>/gw/, never in the tree.
GATEWAY_TABLE := kv
GATEWAY_SVCS := $(filter $(GATEWAY_TABLE),$(SERVICES))
GATEWAYS := $(foreach s,$(GATEWAY_SVCS),$(BUILD)/flatrpc-gateway-$(s))
PROTOBUF_C_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)
NGHTTP2_LIBS := $(shell pkg-config --libs libnghttp2 2>/dev/null || echo -lnghttp2)
GW_GEN := $(BUILD)/gen/gateway
# where protobuf's own descriptor.proto is (libprotobuf-dev)
PROTO_INCLUDE ?= /usr/include
GW_PB := health reflection google/protobuf/descriptor
GW_OBJS := $(BUILD)/obj/gateway/gateway.o $(BUILD)/obj/gateway/reflect.o \
	$(patsubst %,$(BUILD)/obj/gen/gateway/%.pb-c.o,$(GW_PB))
GW_PB_H := $(patsubst %,$(GW_GEN)/%.pb-c.h,$(GW_PB))
all: $(GATEWAYS)

$(GW_GEN)/%.pb-c.c $(GW_GEN)/%.pb-c.h &: gateway/%.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(GW_GEN)
	$(Q)protoc-c --c_out=$(GW_GEN) -Igateway $<
# reflection reads the descriptor set with protoc-c's code for protobuf's
# own descriptor.proto, made here like the others
$(GW_GEN)/google/protobuf/descriptor.pb-c.c $(GW_GEN)/google/protobuf/descriptor.pb-c.h &: \
		$(PROTO_INCLUDE)/google/protobuf/descriptor.proto
	$(call msg,PROTOC,$@)
	$(Q)mkdir -p $(GW_GEN)
	$(Q)protoc-c --c_out=$(GW_GEN) -I$(PROTO_INCLUDE) google/protobuf/descriptor.proto
# The generic protos under the names clients know them by (grpc/health/v1/
# health.proto, ...), for the descriptor sets; v1 reflection is v1alpha's
# file in another package (gateway/reflection.proto says why).
GW_DESC_PROTOS := grpc/health/v1/health.proto grpc/reflection/v1alpha/reflection.proto \
	grpc/reflection/v1/reflection.proto
$(GW_GEN)/proto/grpc/health/v1/health.proto: gateway/health.proto
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@
$(GW_GEN)/proto/grpc/reflection/v1alpha/reflection.proto: gateway/reflection.proto
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@
$(GW_GEN)/proto/grpc/reflection/v1/reflection.proto: gateway/reflection.proto
	$(Q)mkdir -p $(@D)
	$(Q)sed 's/^package grpc\.reflection\.v1alpha;$$/package grpc.reflection.v1;/' $< > $@.tmp
	$(Q)grep -qx 'package grpc.reflection.v1;' $@.tmp || \
		{ echo "$<: no 'package grpc.reflection.v1alpha;' line to rename" >&2; exit 1; }
	$(Q)mv $@.tmp $@
$(BUILD)/obj/gateway/%.o: CFLAGS += -Igateway -I$(GW_GEN)
$(BUILD)/obj/gateway/gateway.o $(BUILD)/obj/gateway/reflect.o: $(GW_PB_H)
$(BUILD)/obj/gen/gateway/%.pb-c.o: $(GW_GEN)/%.pb-c.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -I$(GW_GEN) -c $< -o $@

# $(2): the .proto's package, which names protoc-c's files
define GATEWAY_RULES
$(BUILD)/gen/$(1)/gw/$(2).proto: $(BUILD)/gen/$(1)/.stamp
	$$(call msg,GEN,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(GEN) --proto $(call spec_of,$(1)) > $$@
$(BUILD)/gen/$(1)/gw/$(2).pb-c.c $(BUILD)/gen/$(1)/gw/$(2).pb-c.h &: $(BUILD)/gen/$(1)/gw/$(2).proto
	$$(call msg,PROTOC,$$@)
	$(Q)protoc-c --c_out=$(BUILD)/gen/$(1)/gw -I$(BUILD)/gen/$(1)/gw $$<
# reflection's answers: protoc's own descriptors of what the gateway serves
$(BUILD)/gen/$(1)/gw/$(2).desc: $(BUILD)/gen/$(1)/gw/$(2).proto \
		$(addprefix $(GW_GEN)/proto/,$(GW_DESC_PROTOS))
	$$(call msg,PROTOC,$$@)
	$(Q)protoc --descriptor_set_out=$$@ --include_imports -I$(BUILD)/gen/$(1)/gw \
		-I$(GW_GEN)/proto $(2).proto $(GW_DESC_PROTOS)
$(BUILD)/gen/$(1)/gw/$(1)_desc.c: $(BUILD)/gen/$(1)/gw/$(2).desc
	$$(call msg,GEN,$$@)
	$(Q){ echo '/* generated from $(2).desc by the Makefile (xxd -i); do not edit */'; \
	  echo '#include "gateway.h"'; \
	  echo 'const unsigned char fr_gw_descriptor_set[] = {'; \
	  xxd -i < $$<; \
	  echo '};'; \
	  echo 'const size_t fr_gw_descriptor_set_len = sizeof(fr_gw_descriptor_set);'; \
	} > $$@.tmp && mv $$@.tmp $$@
$(BUILD)/gen/$(1)/gw/$(1)_gateway.c: $(BUILD)/gen/$(1)/.stamp
	$$(call msg,GEN,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(GEN) --gateway $(call spec_of,$(1)) > $$@
$(BUILD)/obj/gen/$(1)/gw/%.o: $(BUILD)/gen/$(1)/gw/%.c $(BUILD)/gen/$(1)/gw/$(2).pb-c.h
	$$(call msg,CC,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/gen/$(1) -I$(BUILD)/gen/$(1)/gw -Igateway -c $$< -o $$@
$(BUILD)/flatrpc-gateway-$(1): $(BUILD)/obj/gateway/main.o $(BUILD)/obj/gen/$(1)/gw/$(1)_gateway.o \
		$(BUILD)/obj/gen/$(1)/gw/$(1)_desc.o $(BUILD)/obj/gen/$(1)/gw/$(2).pb-c.o $(BUILD)/obj/gen/$(1)/stubs.o $(GW_OBJS) $(LIB_A)
	$$(call msg,LINK,$$@)
	$(Q)$$(CC) $$(CFLAGS) $$^ -o $$@ $(NGHTTP2_LIBS) $(PROTOBUF_C_LIBS) $$(LIBXDP_LIBS) $$(LIBBPF_LIBS)
endef
$(foreach s,$(GATEWAY_SVCS),$(eval $(call GATEWAY_RULES,$(s),$(subst -,_,$(s)))))

# ---- tests -----------------------------------------------------------------------
# Every service's generated headers have the same names (flatrpc.skel.h,
# init.h), so a test sees exactly one service's directory: kv, unless its
# object sets TEST_SVC. Expanded when the recipe runs, so the override holds.
TEST_SVC = kv
$(BUILD)/obj/tests/%.o: CFLAGS += -Icodegen -Iuser/lib -Iuser/load -I$(BUILD)/gen/$(TEST_SVC)
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/*.c)): $(BUILD)/gen/kv/.stamp
$(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(foreach t,$(BPF_TEST_TABLE),\
	tests/bpf/test_bpf_$(call col1,$(t)).c),$(wildcard tests/bpf/*.c))): \
	$(BUILD)/gen/kv/flatrpc.skel.h
define BPF_TEST_RULES
$(BUILD)/obj/tests/bpf/test_bpf_$(1).o: TEST_SVC = $(2)
$(BUILD)/obj/tests/bpf/test_bpf_$(1).o: $(BUILD)/gen/$(2)/flatrpc.skel.h
endef
$(foreach t,$(BPF_TEST_TABLE),$(eval $(call BPF_TEST_RULES,$(call col1,$(t)),$(call col2,$(t)))))
# it encodes and decodes with the generated stubs, which call into the library
$(BUILD)/tests/test_bpf_client: $(BUILD)/obj/gen/tracked/stubs.o $(LIB_A)
$(BUILD)/tests/test_bpf_client: LIBBPF_LIBS := $(LIBXDP_LIBS) $(LIBBPF_LIBS)

# the gateway without sockets, on kv's generated glue
$(BUILD)/obj/tests/unit/test_gateway.o: CFLAGS += -Igateway -I$(BUILD)/gen/kv/gw
$(BUILD)/obj/tests/unit/test_gateway.o: $(BUILD)/gen/kv/gw/kv.pb-c.h
$(BUILD)/obj/tests/unit/test_gateway.o: CFLAGS += -I$(GW_GEN)
$(BUILD)/obj/tests/unit/test_gateway.o: $(GW_PB_H)
$(BUILD)/tests/test_gateway: $(BUILD)/obj/gen/kv/gw/kv_gateway.o $(BUILD)/obj/gen/kv/gw/kv.pb-c.o \
	$(BUILD)/obj/gen/kv/gw/kv_desc.o \
	$(BUILD)/obj/gen/kv/stubs.o $(GW_OBJS)
$(BUILD)/tests/test_gateway: LIBBPF_LIBS := $(NGHTTP2_LIBS) $(PROTOBUF_C_LIBS) $(LIBBPF_LIBS)

# the figures' writers, on figures made by hand (it names the specs itself)
$(BUILD)/tests/test_metrics: $(BUILD)/obj/user/load/metrics.o $(BUILD)/obj/user/load/desc.o
# the compiler's description through the loader's parser
$(BUILD)/tests/test_desc: $(BUILD)/obj/user/load/desc.o
# unit tests link the pure modules only: no root, no sockets
# (objects first: an extra one, as test_metrics has, calls into the archives)
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(BUILD)/libflatrpc-spec.a $(LIB_A)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.a,$^) $(filter %.a,$^) -o $@ $(CMOCKA_LIBS) \
		$(LIBXDP_LIBS) $(LIBBPF_LIBS) -lm

# the object already depends on the skeleton of its own service
$(BUILD)/tests/test_bpf_%: $(BUILD)/obj/tests/bpf/test_bpf_%.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(CMOCKA_LIBS) $(LIBBPF_LIBS)

# The scripts' view of the ABI header and the impair maps (selftests/abi_py.c).
$(BUILD)/abi-py: selftests/abi_py.c include/flatrpc_abi.h selftests/bpf/impair.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iselftests $< -o $@

$(BUILD)/py/flatrpc_abi.py: $(BUILD)/abi-py
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$< >$@

$(BUILD)/selftests/%.bpf.o: selftests/bpf/%.bpf.c include/flatrpc_abi.h selftests/bpf/impair.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

test: test-unit test-proto test-gateway test-bpf test-selftests test-bench-smoke fuzz-smoke

test-unit: $(UNIT_TESTS)
	scripts/run-unit-tests.sh $(UNIT_TESTS)

# protoc, not a parser of ours, says whether flatrpc-gen --proto is right
test-proto: $(GEN)
	scripts/check-proto.sh $(GEN) $(wildcard specs/*.anf) $(wildcard bench/specs/*.anf)

# protoc-c, not emit_gateway.c, owns the protobuf-c names: every built
# spec's gateway glue must compile against its output
test-gateway: all
	scripts/check-gateway.sh $(GEN) $(BUILD) $(SPECS)

test-bpf: $(BPF_TESTS)
	scripts/run-bpf-tests.sh $(BPF_TESTS)

test-selftests: all
	selftests/run.sh

# the report must find every table's figures in the smoke output, so that
# neither the benchmark nor the page generator can rot unseen
test-bench-smoke: all
	bench/run.sh --smoke >$(BUILD)/bench-smoke.txt || { cat $(BUILD)/bench-smoke.txt; exit 1; }
	cat $(BUILD)/bench-smoke.txt
	@# the gateway comparison needs grpc-bench, as the main run's gRPC rows do
	if [ -x $(BUILD)/grpc-bench ]; then \
		bench/run.sh --gateway --smoke >$(BUILD)/bench-gw-smoke.txt || \
			{ cat $(BUILD)/bench-gw-smoke.txt; exit 1; }; \
	else \
		echo '# gateway: n/a: no $(BUILD)/grpc-bench (make bench-tools)' >$(BUILD)/bench-gw-smoke.txt; \
	fi
	cat $(BUILD)/bench-gw-smoke.txt
	mkdir -p $(BUILD)/bench-smoke
	cp docs/benchmarks.md $(BUILD)/bench-smoke/benchmarks.md
	bench/report.py $(BUILD)/bench-smoke.txt --gateway $(BUILD)/bench-gw-smoke.txt \
		--png-dir $(BUILD)/bench-smoke --doc $(BUILD)/bench-smoke/benchmarks.md --strict

# ---- fuzzing the compiler (clang libFuzzer + ASan + UBSan) ------------------------
# `make fuzz FUZZ_SECONDS=N` for a long run; fuzz-smoke is the short one in `test`.
# New inputs collect in $(BUILD)/fuzz/corpus; specs/ and codegen/fuzz/regress/
# are read-only seeds. A crash leaves crash-* in $(BUILD)/fuzz/.
FUZZ_SECONDS ?= 600
FUZZ := $(BUILD)/fuzz/fuzz_spec
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -Iinclude -Icodegen

$(FUZZ): codegen/fuzz/fuzz_spec.c $(GEN_LIB_SRCS) $(BUILD)/bpf_sources.c $(wildcard codegen/*.h) include/flatrpc_abi.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_FLAGS) codegen/fuzz/fuzz_spec.c $(GEN_LIB_SRCS) $(BUILD)/bpf_sources.c -o $@

# imports are off in the fuzzer, so one seed carries the kv spec whole
$(BUILD)/fuzz/seeds/kv-whole.anf: specs/kv.anf $(wildcard specs/elements/*.anf)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) $(BUILD)/fuzz/corpus
	$(Q)cat $(wildcard specs/elements/*.anf) specs/kv.anf | grep -v '^import ' > $@

fuzz: $(FUZZ) $(BUILD)/fuzz/seeds/kv-whole.anf
	cd $(BUILD)/fuzz && ./fuzz_spec -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 -dict=$(CURDIR)/codegen/fuzz/anf.dict \
		corpus seeds $(CURDIR)/specs $(CURDIR)/codegen/fuzz/regress

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30
	$(MAKE) --no-print-directory fuzz-gateway FUZZ_SECONDS=15

# The gRPC gateway's decoding (gateway/fuzz_gateway.c): HTTP/2, kv's
# request protobuf, FlatRPC response bodies; corpus in $(BUILD)/fuzz/gw-corpus.
FUZZ_GW := $(BUILD)/fuzz/fuzz_gateway
FUZZ_GW_SRCS := gateway/fuzz_gateway.c gateway/gateway.c gateway/reflect.c \
	$(patsubst %,$(GW_GEN)/%.pb-c.c,$(GW_PB)) $(BUILD)/gen/kv/gw/kv_desc.c \
	$(BUILD)/gen/kv/gw/kv_gateway.c $(BUILD)/gen/kv/gw/kv.pb-c.c $(BUILD)/gen/kv/kv_stubs.c
$(FUZZ_GW): $(FUZZ_GW_SRCS) gateway/gateway.h $(LIB_A)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)/gw-corpus
	$(Q)$(CLANG) $(FUZZ_FLAGS) -Igateway -I$(GW_GEN) -I$(BUILD)/gen/kv -I$(BUILD)/gen/kv/gw \
		$(FUZZ_GW_SRCS) $(LIB_A) -o $@ $(NGHTTP2_LIBS) $(PROTOBUF_C_LIBS) $(LIBXDP_LIBS) $(LIBBPF_LIBS)

fuzz-gateway: $(FUZZ_GW)
	cd $(BUILD)/fuzz && ./fuzz_gateway -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 gw-corpus

test-vm: all
	scripts/vm-test.sh

demo: all
	scripts/demo.sh

bench: all
	bench/run.sh

# The tools, the library and its headers, the element library and the man
# pages, under $(DESTDIR)$(PREFIX). `make uninstall` removes what this put.
MAN_PAGES := $(wildcard docs/man/*.[1-8])
# flatrpc_anf_*.h: what generated stubs with client: elements include
PUBLIC_HEADERS := include/flatrpc.h include/flatrpc_abi.h include/flatrpc_siphash.h \
		  include/flatrpc_anf_user.h include/flatrpc_anf_bytes.h
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(GEN) $(STAT) $(GATEWAYS) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(LOAD) $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so.$(LIB_VERSION)
	ln -sf libflatrpc-user.so.$(LIB_VERSION) $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so.0
	ln -sf libflatrpc-user.so.0 $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so
	install -m 644 $(BUILD)/libflatrpc-user.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/share/flatrpc/elements
	install -m 644 specs/elements/*.anf $(DESTDIR)$(PREFIX)/share/flatrpc/elements/
	for m in $(MAN_PAGES); do \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$${m##*.} && \
		install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/ || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(GEN) $(STAT) $(GATEWAYS))) \
	      $(DESTDIR)$(PREFIX)/sbin/$(notdir $(LOAD)) \
	      $(DESTDIR)$(PREFIX)/lib/$(notdir $(LIB_A)) \
	      $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so.$(LIB_VERSION) \
	      $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so.0 $(DESTDIR)$(PREFIX)/lib/libflatrpc-user.so \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/libflatrpc-user.pc \
	      $(addprefix $(DESTDIR)$(PREFIX)/include/,$(notdir $(PUBLIC_HEADERS))) \
	      $(foreach m,$(MAN_PAGES),$(DESTDIR)$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -rf $(DESTDIR)$(PREFIX)/share/flatrpc

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- benchmark extras --------------------------------------------------------------
# Not in `all`: hdr-parse needs libnghttp2-dev, which only the benchmark uses.
# make bench and the smoke run build them first.
.PHONY: bench-tools
BENCH_TOOLS := $(BUILD)/hdr-parse $(BUILD)/bench/hdr_fields.bpf.o
# the benchmark's own BPF programs (header fields, TCP loss, the AF_XDP echo)
$(BUILD)/bench/%.bpf.o: bench/%.bpf.c include/flatrpc_abi.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bench-tools: $(BENCH_TOOLS)
bench test-bench-smoke: bench-tools


$(BUILD)/hdr-parse: $(BUILD)/obj/bench/hdr_parse.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lnghttp2 $(LIBBPF_LIBS)

# TCP loss for the head-of-line run (FlatRPC's comes from selftests/bpf/impair.bpf.c).
bench-tools: $(BUILD)/bench/tcp_loss.bpf.o

# Raw AF_XDP echo, the latency floor; it finds its XDP object beside itself.
bench-tools: $(BUILD)/xdp-echo $(BUILD)/bench/xdp_echo.bpf.o


$(BUILD)/obj/bench/xdp_echo.o: bench/cpu_acct.h
$(BUILD)/xdp-echo: $(BUILD)/obj/bench/xdp_echo.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LIBXDP_LIBS) $(LIBBPF_LIBS)

# The HTTP/2 baseline: nghttp2 on one h2c connection, as plain as gRPC is not.
bench-tools: $(BUILD)/h2-bench
$(BUILD)/obj/bench/h2_bench.o: bench/cpu_acct.h
$(BUILD)/h2-bench: $(BUILD)/obj/bench/h2_bench.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lnghttp2

# gRPC C++ baseline: also not in `all` (libgrpc++ is slow to compile against).
# protoc writes the generated code into $(BUILD)/bench/gen, never into bench/.
GRPC_GEN := $(BUILD)/bench/gen
GRPC_CXXFLAGS := -O2 -g -std=c++17 -Wall -I$(GRPC_GEN) -Ibench \
		 $(shell pkg-config --cflags grpc++ protobuf 2>/dev/null)
GRPC_LIBS := $(shell pkg-config --libs grpc++ protobuf 2>/dev/null || echo -lgrpc++ -lprotobuf)
bench-tools: $(BUILD)/grpc-bench

$(GRPC_GEN)/kv.pb.cc $(GRPC_GEN)/kv.grpc.pb.cc &: bench/kv.proto
	$(call msg,PROTOC,$<)
	$(Q)mkdir -p $(GRPC_GEN)
	$(Q)protoc -Ibench --cpp_out=$(GRPC_GEN) --grpc_out=$(GRPC_GEN) \
		--plugin=protoc-gen-grpc=$(shell command -v grpc_cpp_plugin) $<

# The gateway's kv.Kv (flatrpc-gen --proto specs/kv.anf), for grpc-bench
# --kv-proto: under another file name, as protobuf's registry holds one
# kv.proto per process and bench/kv.proto is that already.
$(GRPC_GEN)/flatrpc_kv.proto: $(BUILD)/gen/kv/gw/kv.proto
	$(Q)mkdir -p $(@D)
	$(Q)cp $< $@
$(GRPC_GEN)/flatrpc_kv.pb.cc $(GRPC_GEN)/flatrpc_kv.grpc.pb.cc &: $(GRPC_GEN)/flatrpc_kv.proto
	$(call msg,PROTOC,$<)
	$(Q)protoc -I$(GRPC_GEN) --cpp_out=$(GRPC_GEN) --grpc_out=$(GRPC_GEN) \
		--plugin=protoc-gen-grpc=$(shell command -v grpc_cpp_plugin) $<

$(BUILD)/obj/bench/%.pb.o: $(GRPC_GEN)/%.pb.cc
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(GRPC_CXXFLAGS) -c $< -o $@

$(BUILD)/obj/bench/grpc_bench.o: bench/grpc_bench.cc $(GRPC_GEN)/kv.grpc.pb.cc \
		$(GRPC_GEN)/flatrpc_kv.grpc.pb.cc bench/kv_store_shim.h bench/cpu_acct.h
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(GRPC_CXXFLAGS) -c $< -o $@

$(BUILD)/grpc-bench: $(BUILD)/obj/bench/grpc_bench.o $(BUILD)/obj/bench/kv.pb.o \
		     $(BUILD)/obj/bench/kv.grpc.pb.o $(BUILD)/obj/bench/flatrpc_kv.pb.o \
		     $(BUILD)/obj/bench/flatrpc_kv.grpc.pb.o $(BUILD)/obj/bench/kv_store_shim.o
	$(call msg,LINK,$@)
	$(Q)$(CXX) $^ -o $@ $(GRPC_LIBS)

# The gRPC series of the header-parsing figure, beside hdr-parse's nghttp2 and XDP ones.
bench-tools: $(BUILD)/grpc-md
$(BUILD)/obj/bench/grpc_md.o: bench/grpc_md.cc $(GRPC_GEN)/kv.grpc.pb.cc
	$(call msg,CXX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) $(GRPC_CXXFLAGS) -c $< -o $@

$(BUILD)/grpc-md: $(BUILD)/obj/bench/grpc_md.o $(BUILD)/obj/bench/kv.pb.o $(BUILD)/obj/bench/kv.grpc.pb.o
	$(call msg,LINK,$@)
	$(Q)$(CXX) $^ -o $@ $(GRPC_LIBS)

# FlatRPC variants of the KV service (bench/specs/*.anf, in SPECS so that
# flatrpc-load carries them). They declare the same `service kv` with other
# chains and transports, so kv-server and kv-bench compile unchanged against
# each variant's generated stubs: $(BUILD)/bench/<variant>/kv-{server,bench}.
BENCH_VARIANTS := $(filter $(basename $(notdir $(wildcard bench/specs/*.anf))),$(SERVICES))
define BENCH_VARIANT_RULES
$(BUILD)/obj/variants/$(1)/kv_bench.o: bench/kv_bench.c bench/cpu_acct.h $(BUILD)/gen/$(1)/.stamp
$(BUILD)/obj/variants/$(1)/kv_server.o: examples/kv/kv_server.c $(BUILD)/gen/$(1)/.stamp
$(BUILD)/obj/variants/$(1)/kv_stubs.o: $(BUILD)/gen/$(1)/.stamp
	$$(call msg,CC,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/gen/$(1) -MMD -MP -c $(BUILD)/gen/$(1)/kv_stubs.c -o $$@
$(BUILD)/obj/variants/$(1)/kv_bench.o $(BUILD)/obj/variants/$(1)/kv_server.o:
	$$(call msg,CC,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/gen/$(1) -Iexamples -Iexamples/kv -MMD -MP -c $$< -o $$@
$(BUILD)/bench/$(1)/kv-%: $(BUILD)/obj/variants/$(1)/kv_%.o $(BUILD)/obj/variants/$(1)/kv_stubs.o $(EX_COMMON) $(LIB_A)
	$$(call msg,LINK,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(CC) $(CFLAGS) $$^ -o $$@ $(LIBXDP_LIBS) $(LIBBPF_LIBS) -lm
endef
$(foreach v,$(BENCH_VARIANTS),$(eval $(call BENCH_VARIANT_RULES,$(v))))
all: $(foreach v,$(BENCH_VARIANTS),$(BUILD)/bench/$(v)/kv-server $(BUILD)/bench/$(v)/kv-bench)

# docs/benchmarks.md tables (between their markers) and docs/*.png from a
# saved `bench/run.sh` output, no rerun.
BENCH_RESULTS ?= bench/results/layered-bench.txt
# bench/run.sh --gateway's, a run of its own
BENCH_GW_RESULTS ?= bench/results/gateway-bench.txt
.PHONY: bench-report
bench-report:
	bench/report.py $(BENCH_RESULTS) --gateway $(BENCH_GW_RESULTS) --png-dir docs --doc docs/benchmarks.md
