# Makefile -- builds common/ once as libherald.a and links one binary per
# service and per tool against it.
#
#   make            debug build of every binary (build/debug/bin/)
#   make release    optimised build (build/release/bin/)
#   make asan       AddressSanitizer + UBSan build (build/asan/bin/)
#   make test       installs what is missing, builds asan, runs unit and
#                   integration tests and a short smoke of every fuzz
#                   harness, prints "N passed, N failed"
#   make unit       unit tests only (BUILD=asan by default)
#   make itest      integration tests only
#   make run        installs what is missing, builds release, starts the
#                   local stack (PostgreSQL, herald-devkafka, every service)
#   make lint       clang-format check and the getenv()/banned-call greps
#   make deploy-check  validates docker-compose.yml and deploy/k8s/
#   make config-doc    builds release and regenerates docs/configuration.md
#                      from every binary's --help
#   make fuzz          builds the libFuzzer harnesses (tests/fuzz/, clang,
#                      ASan + UBSan, build/fuzz/) and runs each FUZZ_S
#                      seconds (default 60) on a copy of its seed corpus
#
# Each build mode has its own directory, so flags never mix. V=1 shows the
# full commands.

BUILD    ?= debug
O        := build/$(BUILD)
SERVICES := $(notdir $(patsubst %/main.c,%,$(wildcard services/*/main.c)))
TOOLS    := $(notdir $(wildcard tools/*))
# A tool's binary is herald-<dir>, except the operator's CLI (tools/ctl),
# which is heraldctl.
tool_bin = $(if $(filter ctl,$(1)),heraldctl,herald-$(1))

PKGS := libmicrohttpd libwebsockets rdkafka libpq jansson libcurl openssl \
        libnghttp2 msgpack
# libev (herald-hub's epoll loop, through libwebsockets' libev event-lib
# plugin) ships no pkg-config file.
EXTRA_LIBS := -lev

CSTD := -std=c17 -D_GNU_SOURCE
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings \
        -Wcast-qual -Wpointer-arith -Wundef -fno-common
WERROR ?= 1
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(BUILD),debug)
OPT := -O0 -g3
else ifeq ($(BUILD),release)
OPT := -O2 -g -DNDEBUG
else ifeq ($(BUILD),asan)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
       -fno-omit-frame-pointer
else ifeq ($(BUILD),tsan)
OPT := -O1 -g -fsanitize=thread
else ifeq ($(BUILD),fuzz)
CC  := clang
OPT := -O1 -g -fsanitize=address,undefined,fuzzer-no-link \
       -fno-sanitize-recover=all -fno-omit-frame-pointer
else
$(error unknown BUILD=$(BUILD): use debug, release, asan, tsan or fuzz)
endif

# Library headers are system headers: their warnings are not ours.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -I. -Icommon -I$(O)/gen $(PKG_CFLAGS)
CFLAGS   += $(CSTD) $(WARN) $(OPT) -pthread
LDFLAGS  += $(filter -fsanitize=%,$(OPT)) -pthread -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) $(EXTRA_LIBS) -lm

ifneq ($(V),1)
Q = @
QUIET_CC = @printf '  CC      %s\n' $@;
QUIET_LD = @printf '  LD      %s\n' $@;
QUIET_AR = @printf '  AR      %s\n' $@;
QUIET_GEN = @printf '  GEN     %s\n' $@;
endif

COMMON_SRC := $(wildcard common/*/*.c)
COMMON_OBJ := $(patsubst %.c,$(O)/%.o,$(COMMON_SRC)) $(O)/gen/migrations_data.o \
              $(O)/gen/console_assets.o
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
SVC_BINS   := $(SERVICES:%=$(O)/bin/herald-%)
TOOL_BINS  := $(foreach t,$(TOOLS),$(O)/bin/$(call tool_bin,$(t)))
BENCH_SRC  := $(wildcard bench/*.c)
# a bench client of several modules: bench/<name>/*.c (with a main.c)
BENCH_DIRS := $(patsubst bench/%/main.c,%,$(wildcard bench/*/main.c))
BENCH_BINS := $(patsubst bench/%.c,$(O)/bin/%,$(BENCH_SRC)) \
              $(BENCH_DIRS:%=$(O)/bin/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
ALL_SRC    := $(COMMON_SRC) $(wildcard services/*/*.c tools/*/*.c \
                services/*/*/*.c tools/*/*/*.c) \
              $(UNIT_SRC) $(wildcard tests/unit/support/*.c) $(BENCH_SRC) \
              $(wildcard bench/*/*.c) \
              $(FUZZ_SRC)
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
CONSOLE_ASSETS := $(sort $(wildcard services/api/console/*))

.PHONY: all release asan tsan test unit itest run lint format deploy-check \
        clean bench deps config-doc fuzz fuzz-build FORCE
all: $(SVC_BINS) $(TOOL_BINS) $(BENCH_BINS) $(UNIT_BINS)

release asan tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=$@ all

$(O)/libherald.a: $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(QUIET_AR)$(AR) rcs $@ $^

# The SQL migrations are compiled into libherald.a, so a binary never
# depends on a path at run time. migrations.list changes when the set of
# files does (a removed or renamed migration re-embeds too).
$(O)/gen/migrations.list: FORCE
	@mkdir -p $(@D)
	@echo "$(MIGRATIONS)" | cmp -s - $@ || echo "$(MIGRATIONS)" > $@

$(O)/gen/migrations_data.c: $(MIGRATIONS) $(O)/gen/migrations.list scripts/embed-migrations.sh
	@mkdir -p $(@D)
	$(QUIET_GEN)sh scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

# herald-api's console files, embedded the same way (in the library, so
# the unit tests that link herald-api's modules find them too).
$(O)/gen/console.list: FORCE
	@mkdir -p $(@D)
	@echo "$(CONSOLE_ASSETS)" | cmp -s - $@ || echo "$(CONSOLE_ASSETS)" > $@

$(O)/gen/console_assets.c: $(CONSOLE_ASSETS) $(O)/gen/console.list scripts/embed-assets.sh
	@mkdir -p $(@D)
	$(QUIET_GEN)sh scripts/embed-assets.sh $(CONSOLE_ASSETS) > $@.tmp && mv $@.tmp $@

FORCE:

# A service's or a tool's sources: its folder and its subfolders (one
# level: tools/sim/net/, tools/sim/providers/, ...).
src_of = $(wildcard $(1)/*.c $(1)/*/*.c)

# One link rule per service and per tool: every .c it has + the lib.
define bin_rule
$(O)/bin/$(3): $$(patsubst %.c,$(O)/%.o,$$(call src_of,$(1)/$(2))) $(O)/libherald.a
	@mkdir -p $$(@D)
	$$(QUIET_LD)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call bin_rule,services,$(s),herald-$(s))))
$(foreach t,$(TOOLS),$(eval $(call bin_rule,tools,$(t),$(call tool_bin,$(t)))))
$(foreach b,$(BENCH_DIRS),$(eval $(call bin_rule,bench,$(b),$(b))))

# Unit tests may link one service's modules: tests/unit/test_<pfx>_*.c links
# every .c of that service (subfolders included) except main.c, with <pfx>
# from this table.
SUPPORT_OBJ := $(patsubst %.c,$(O)/%.o,$(wildcard tests/unit/support/*.c))
UDIR_api   := services/api
UDIR_hub   := services/hub
UDIR_relay := services/relay
UDIR_fcm   := services/worker-fcm
UDIR_apns  := services/worker-apns
UDIR_hms   := services/worker-hms
UDIR_sim   := tools/sim
UDIR_ctl   := tools/ctl
udir = $(UDIR_$(word 1,$(subst _, ,$(1))))
svc_objs = $(if $(call udir,$(1)),$(patsubst %.c,$(O)/%.o,$(filter-out $(call udir,$(1))/main.c,$(call src_of,$(call udir,$(1))))))

.SECONDEXPANSION:
# (subst rather than patsubst: a % in a pattern rule's prerequisites is the stem.)
$(O)/tests/%: $(O)/tests/unit/%.o $$(call svc_objs,$$(subst test_,,$$*)) $(SUPPORT_OBJ) $(O)/libherald.a
	@mkdir -p $(@D)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fuzz harnesses: tests/fuzz/fuzz_<pfx>_*.c links the service's modules
# as a unit test does (fuzz_auth_*, fuzz_proto_* link the library only).
$(O)/fuzz/%: $(O)/tests/fuzz/%.o $$(call svc_objs,$$(subst fuzz_,,$$*)) $(O)/libherald.a
	@mkdir -p $(@D)
	$(QUIET_LD)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(O)/bin/%: $(O)/bench/%.o $(O)/libherald.a
	@mkdir -p $(@D)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/gen/%.o: $(O)/gen/%.c
	$(QUIET_CC)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

deps:
	$(Q)sh scripts/deps.sh

test:
	$(Q)sh scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory BUILD=asan all
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)sh scripts/test.sh

unit:
	$(Q)$(MAKE) --no-print-directory BUILD=asan all
	$(Q)HERALD_TEST_ONLY=unit sh scripts/test.sh

itest:
	$(Q)$(MAKE) --no-print-directory BUILD=asan all
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)HERALD_TEST_ONLY=integration sh scripts/test.sh $(T)

run:
	$(Q)sh scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)exec sh scripts/run.sh

bench:
	$(Q)$(MAKE) --no-print-directory BUILD=release all

lint:
	$(Q)sh scripts/lint.sh

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')

deploy-check:
	$(Q)sh scripts/deploy-check.sh

FUZZ_S ?= 60
fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=fuzz $(patsubst tests/fuzz/%.c,build/fuzz/fuzz/%,$(FUZZ_SRC))

fuzz: fuzz-build
	$(Q)sh scripts/fuzz.sh $(FUZZ_S)

config-doc:
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)sh scripts/gen-config-doc.sh build/release/bin

clean:
	rm -rf build

.SECONDARY:
-include $(patsubst %.c,$(O)/%.d,$(ALL_SRC))
