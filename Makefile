# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make            build libtcspan (static + shared) and tcspan
# make deps       install the Debian 12 packages the build, tests and demo need
# make check      deps, build, unit + BPF + integration tests (as root)
# make demo       bring up configs/demo.yaml, show mirrored traffic, tear down
# make bench      measurements side by side (root); QUICK=1 for a short run
# make fuzz       libFuzzer over parse + validate + plan, FUZZ_SECONDS=600
# make install    PREFIX=/usr/local DESTDIR=   (make uninstall: the same files)
# make clean      remove build/
# V=1             show the commands

.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCDIR	?= $(PREFIX)/include
PCDIR	?= $(LIBDIR)/pkgconfig
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
VERSION	:= $(shell sed -n 's/^\#define TCSPAN_VERSION "\(.*\)"/\1/p' lib/tcspan.h)

BUILD	:= build
# make check SANITIZE=1: everything built with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-asan/, and every test run on it.
ifeq ($(SANITIZE),1)
BUILD	:= build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
endif
CC	?= gcc
CLANG	?= clang
BPFTOOL	?= bpftool
PKGS	:= libnl-3.0 libnl-route-3.0 libbpf yaml-0.1

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian 12 packages: build, BPF toolchain, tests, demo.
DEB_PKGS := build-essential pkg-config clang llvm libnl-3-dev libnl-route-3-dev \
	    libbpf-dev libelf-dev zlib1g-dev libyaml-dev bpftool iproute2 \
	    tcpdump jq valgrind iputils-ping procps systemd groff-base man-db \
	    bash-completion python3-yaml python3-kubernetes libclang-rt-14-dev time \
	    libpcap-dev

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libpcap is the command line's alone (tap captures with it), not the library's.
PCAP_LIBS  = $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)

CFLAGS	?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		   -Wmissing-prototypes -fPIC -MMD -MP \
		   -I$(BUILD)/bpf -Ilib -Ibpf $(PKG_CFLAGS)
LDLIBS	+= $(PKG_LIBS) -pthread
ifeq ($(SANITIZE),1)
override CFLAGS += $(SAN_FLAGS)
override LDFLAGS += $(SAN_FLAGS)
endif

LIB_SRCS  := $(wildcard lib/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_SRCS  := $(wildcard cmd/*.c)
CMD_OBJS  := $(CMD_SRCS:%.c=$(BUILD)/%.o)
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:%.bpf.c=$(BUILD)/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:%.c=$(BUILD)/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

SONAME	  := libtcspan.so.0
REALNAME  := libtcspan.so.$(VERSION)
LIB_A	  := $(BUILD)/libtcspan.a
LIB_SO	  := $(BUILD)/$(SONAME)
LIB_MAP	  := lib/libtcspan.map
TCSPAN	  := $(BUILD)/tcspan
PC	  := $(BUILD)/tcspan.pc
UNIT	  := $(BUILD)/tcspan@.service

all: $(LIB_A) $(LIB_SO) $(TCSPAN) $(PC) $(UNIT)

# ---- BPF: objects, then skeletons that the library embeds -----------------
ARCH_INC := -I/usr/include/$(shell $(CC) -dumpmachine)
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -Wall -Werror $(ARCH_INC) -Ibpf -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tcspan_$(subst -,_,$*) > $@

# Library objects may include any skeleton.
$(LIB_OBJS): $(BPF_SKELS)

# ---- C ---------------------------------------------------------------------
$(BUILD)/%.o: %.c | $(BUILD)/lib $(BUILD)/cmd $(BUILD)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The library exports what tcspan.h marks TCSPAN_API and nothing else:
# hidden by default, and a version script that names the public symbols.
$(LIB_OBJS): override CFLAGS += -fvisibility=hidden

$(LIB_SO): $(LIB_OBJS) $(LIB_MAP)
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(LIB_MAP) \
		$(LDFLAGS) $(LIB_OBJS) -o $@ $(LDLIBS)

# tcspan.pc and the unit hold installation paths: remade when they change.
PATHS := $(PREFIX) $(SBINDIR) $(LIBDIR) $(INCDIR) $(SYSCONFDIR)
$(BUILD)/paths: FORCE | $(BUILD)/lib
	$(Q)echo '$(PATHS)' | cmp -s - $@ || echo '$(PATHS)' > $@

$(PC): lib/tcspan.pc.in lib/tcspan.h $(BUILD)/paths
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(UNIT): cmd/tcspan@.service.in $(BUILD)/paths
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

$(TCSPAN): $(CMD_OBJS) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(PCAP_LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIB_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Test tools: one source each, run by the integration tests; those that
# drive the library link it.
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_A) | $(BUILD)/tests/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB_A) -o $@ $(LDLIBS)

# Benchmarks: they load tcspan's BPF programs, through the library where
# it loads them, or from the embedded skeletons.
$(BUILD)/tests/bench/%: tests/bench/%.c $(BPF_SKELS) $(LIB_A) | $(BUILD)/tests/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB_A) -o $@ $(LDLIBS)

$(BUILD)/lib $(BUILD)/cmd $(BUILD)/bpf $(BUILD)/tests/unit $(BUILD)/tests/tools \
$(BUILD)/tests/bench:
	$(Q)mkdir -p $@

# ---- set-up, tests, demo ---------------------------------------------------
deps:
	@missing=; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

unit: $(UNIT_BINS)

tools: $(TOOL_BINS)

check: deps
	$(Q)$(MAKE) --no-print-directory all unit tools $(BENCH_BINS) $(FUZZ_BIN)
	$(Q)TCSPAN_SANITIZE=$(SANITIZE) tests/run $(BUILD)

# Figures in tables and in $(BUILD)/bench-*.json; never asserted by tests.
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS) $(BUILD)/tests/tools/live_frames \
		$(BUILD)/tests/tools/read_floor
	$(Q)$(BUILD)/tests/bench/program_cost $(if $(QUICK),--quick) \
		--json $(BUILD)/bench-programs.json
	$(Q)tests/bench/data_plane.sh $(TCSPAN) $(BUILD)/tests/tools/live_frames \
		$(if $(QUICK),--quick) --json $(BUILD)/bench-data-plane.json
	$(Q)tests/bench/control_plane.sh $(TCSPAN) $(BUILD)/tests/tools/read_floor \
		$(if $(QUICK),--quick) \
		--json $(BUILD)/bench-control-plane.json

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo $(TCSPAN) configs/demo.yaml

INSTALLED = $(SBINDIR)/tcspan $(LIBDIR)/libtcspan.a $(LIBDIR)/$(REALNAME) \
	    $(LIBDIR)/$(SONAME) $(LIBDIR)/libtcspan.so $(INCDIR)/tcspan.h \
	    $(PCDIR)/tcspan.pc $(MANDIR)/man8/tcspan.8 $(MANDIR)/man5/tcspan.yaml.5 \
	    $(BASHCOMPDIR)/tcspan $(UNITDIR)/tcspan@.service

install: all
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(UNITDIR)
	$(Q)install -m 0755 $(TCSPAN) $(DESTDIR)$(SBINDIR)/tcspan
	$(Q)install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libtcspan.a
	$(Q)install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	$(Q)ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libtcspan.so
	$(Q)install -m 0644 lib/tcspan.h $(DESTDIR)$(INCDIR)/tcspan.h
	$(Q)install -m 0644 $(PC) $(DESTDIR)$(PCDIR)/tcspan.pc
	$(Q)install -m 0644 cmd/tcspan.8 $(DESTDIR)$(MANDIR)/man8/tcspan.8
	$(Q)install -m 0644 cmd/tcspan.yaml.5 $(DESTDIR)$(MANDIR)/man5/tcspan.yaml.5
	$(Q)install -m 0644 cmd/tcspan.bash $(DESTDIR)$(BASHCOMPDIR)/tcspan
	$(Q)install -m 0644 $(UNIT) $(DESTDIR)$(UNITDIR)/tcspan@.service

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))

clean:
	rm -rf $(BUILD)

# ---- fuzzing: parse + validate + plan under libFuzzer -----------------------
# make fuzz       build $(FUZZ_BIN) and run it FUZZ_SECONDS (600) over
#                 $(BUILD)/fuzz/corpus, which grows from run to run; crashes
#                 are written to $(BUILD)/fuzz/artifacts/
FUZZ_CC		?= clang-14
FUZZ_SECONDS	?= 600
FUZZ_FLAGS	:= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	:= -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		   -Wno-gnu-variable-sized-type-not-at-end -MMD -MP \
		   -I$(BUILD)/bpf -Ilib -Ibpf $(PKG_CFLAGS)
FUZZ_BIN	:= $(BUILD)/fuzz/fuzz_topology
FUZZ_LIB	:= $(BUILD)/fuzz/libtcspan.a
FUZZ_LIB_OBJS	:= $(LIB_SRCS:lib/%.c=$(BUILD)/fuzz/lib/%.o)
FUZZ_SEEDS	 = configs/*.yaml tests/unit/good/*.yaml tests/unit/bad/*.yaml

# The library instrumented; the archive lets the linker take only what
# parse, validate and plan reach.
$(BUILD)/fuzz/lib/%.o: lib/%.c $(BPF_SKELS) | $(BUILD)/fuzz/lib
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fuzz/fuzz_topology.o: tests/fuzz/fuzz_topology.c $(BPF_SKELS) | $(BUILD)/fuzz/lib
	$(call msg,FUZZCC,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BIN): $(BUILD)/fuzz/fuzz_topology.o $(FUZZ_LIB)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -o $@ $(PKG_LIBS)

$(BUILD)/fuzz/lib:
	$(Q)mkdir -p $@

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/seeds $(BUILD)/fuzz/artifacts
	$(Q)for f in $(FUZZ_SEEDS); do cp "$$f" "$(BUILD)/fuzz/seeds/$$(echo "$$f" | tr / _)"; done
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 \
		-timeout=10 -dict=tests/fuzz/yaml.dict -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/ \
		$(BUILD)/fuzz/corpus $(BUILD)/fuzz/seeds

FORCE:
.PHONY: fuzz all deps unit tools check bench demo install uninstall clean FORCE
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)

-include $(wildcard $(BUILD)/fuzz/lib/*.d $(BUILD)/fuzz/*.d)
-include $(wildcard $(BUILD)/*/*.d $(BUILD)/tests/unit/*.d $(BUILD)/tests/tools/*.d \
	     $(BUILD)/tests/bench/*.d)
