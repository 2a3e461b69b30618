# berth: `make` builds build/bin/berth, build/bin/berthd and the drivers;
# `make check` installs what the tests need (as root), builds and runs every test.
# `make check SANITIZE=1` does the same under AddressSanitizer + UBSan.

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?= 0
FUZZ ?= 0
FUZZ_SECONDS ?= 60
VERSION := 0.1.0

CC ?= cc
BUILD := build
MODE := $(if $(filter 1,$(FUZZ)),fuzz,$(if $(filter 1,$(SANITIZE)),san,std))
OBJ := $(BUILD)/obj-$(MODE)
BIN := $(BUILD)/bin
DRVDIR := $(BUILD)/lib/berth/drivers

GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPPFLAGS += -D_GNU_SOURCE -Icore/include -I. -I/usr/include/libnl3 -DBERTH_VERSION='"$(VERSION)"' \
	-DBERTH_GIT_COMMIT='"$(GIT_COMMIT)"'
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -fPIC -pthread
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifeq ($(MODE),san)
CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
ifeq ($(MODE),fuzz)
CC := clang
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
endif
LDFLAGS += -pthread

LIBS_BERTH := -ljansson -lcrypto -lssl -lcurl -lssh2 -ldl
LIBS_NET := -lnl-route-3 -lnl-3 -lldns
LIBS_BERTHD := -ljansson -lssl -lcrypto -lhttp_parser -larchive -lseccomp $(LIBS_NET) -lnftables
LIBS_TEST := -lcmocka
# berthd as machines run it (berthd-static): every library linked in, so a host needs nothing.
LIBS_BERTHD_STATIC := -ljansson $(LIBS_NET) -lssl -lcrypto -lhttp_parser -larchive -lseccomp -lnettle -lacl \
	-llzma -lzstd -llz4 -lbz2 -lz -lm -pthread -ldl

COMMON_SRC := $(wildcard core/common/*.c)
CERTS_SRC := $(wildcard certs/*.c)
LIB_SRC := $(wildcard core/lib/*.c)
CLI_SRC := $(wildcard core/cli/*.c)
AGENT_MAIN := runtime-agent/main.c
AGENT_STATIC_SRC := $(wildcard runtime-agent/static/*.c)
# Sources with a replacement under runtime-agent/static/ in berthd-static (a library Debian
# ships no static archive of).
AGENT_DYNAMIC_SRC := runtime-agent/network/nft_lib.c
AGENT_SRC := $(filter-out $(AGENT_MAIN) $(AGENT_STATIC_SRC),$(shell find runtime-agent -name '*.c' | sort))
DRIVERS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard drivers/*/*.c)))))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

LIBCOMMON := $(OBJ)/libcommon.a
LIBCERTS := $(OBJ)/libcerts.a
LIBBERTH := $(OBJ)/libberth.a
LIBAGENT := $(OBJ)/libberthd.a
MODESTAMP := $(BUILD)/.mode-stamp
BERTHD_STATIC := $(BUILD)/lib/berth/berthd-static

.PHONY: all check unit integration deps demo install uninstall clean fuzz fuzz-build bench format
all: $(BIN)/berth $(BIN)/berthd $(patsubst %,$(DRVDIR)/%.so,$(DRIVERS)) $(BERTHD_STATIC)

# Relink whenever SANITIZE flips, since binaries share one output directory.
$(MODESTAMP): FORCE
	@mkdir -p $(BUILD)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(MODE)" ]; then echo $(MODE) > $@; fi
FORCE:

$(OBJ)/%.o: %.c $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(call objs,$(COMMON_SRC))
$(LIBCERTS): $(call objs,$(CERTS_SRC))
$(LIBBERTH): $(call objs,$(LIB_SRC))
$(LIBAGENT): $(call objs,$(AGENT_SRC))
$(OBJ)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/berth: $(call objs,$(CLI_SRC)) $(LIBBERTH) $(LIBCERTS) $(LIBCOMMON) $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS_BERTH)

$(BIN)/berthd: $(call objs,$(AGENT_MAIN)) $(LIBAGENT) $(LIBCOMMON) $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS_BERTHD)

# The berthd berth installs on machines: linked with -static and stripped. A static binary
# cannot carry the sanitizers' runtimes, so outside the std mode it has objects of its own.
STATIC_CC ?= cc
STATIC_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Werror -pthread
STATIC_OBJ := $(if $(filter std,$(MODE)),$(OBJ),$(BUILD)/obj-static)
$(BUILD)/obj-static/%.o: %.c
	@mkdir -p $(dir $@)
	$(STATIC_CC) $(CPPFLAGS) $(STATIC_CFLAGS) -MMD -MP -c $< -o $@

# glibc warns that getaddrinfo & co. would load NSS modules at run time; berthd resolves
# numeric addresses only, so the warnings stay in $@.log unless the link fails.
$(BERTHD_STATIC): $(patsubst %.c,$(STATIC_OBJ)/%.o,$(AGENT_MAIN) \
		$(filter-out $(AGENT_DYNAMIC_SRC),$(AGENT_SRC)) $(COMMON_SRC) \
		$(AGENT_STATIC_SRC))
	@mkdir -p $(dir $@)
	$(STATIC_CC) -static -o $@.tmp $^ $(LIBS_BERTHD_STATIC) 2>$@.log || \
		{ cat $@.log >&2; rm -f $@.tmp; exit 1; }
	strip $@.tmp
	mv -f $@.tmp $@

.SECONDEXPANSION:
$(DRVDIR)/%.so: $$(call objs,$$(wildcard drivers/%/*.c)) $(LIBCOMMON) $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $(filter %.o %.a,$^) -ljansson -lcurl

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(LIBBERTH) $(LIBAGENT) $(LIBCERTS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBS_BERTH) $(LIBS_BERTHD) $(LIBS_TEST)

# The local driver: local.so, its supervisor berth-local (started detached by the driver, so
# it is a program of its own) and the machine image it boots, all under lib/berth/.
LOCAL_SRC := $(wildcard drivers/local/*.c)
# berth-local links berthd's netlink module (and the log it writes to) for the host-only
# network, so that local.so itself never loads libnl.
LOCAL_SUP_SRC := $(wildcard drivers/local/supervisor/*.c) drivers/local/run.c drivers/local/cgroup.c \
	runtime-agent/network/netlink.c runtime-agent/log.c
LOCAL_HELPER := $(BUILD)/lib/berth/berth-local
LOCAL_IMAGE := $(BUILD)/lib/berth/machine-rootfs.tar.gz
all: $(LOCAL_HELPER) $(LOCAL_IMAGE)

$(DRVDIR)/local.so: $(call objs,$(LOCAL_SRC)) $(LIBCOMMON) $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $(filter %.o %.a,$^) -ljansson

$(LOCAL_HELPER): $(call objs,$(LOCAL_SUP_SRC)) $(LIBCOMMON) $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) -ljansson -lnl-route-3 -lnl-3 -larchive

$(LOCAL_IMAGE): drivers/local/mkimage.sh $(shell find drivers/local/rootfs -type f)
	drivers/local/mkimage.sh $@

# Test-only drivers that must fail to load (wrong ABI, no descriptor).
TESTDRV := $(BUILD)/tests/drivers
$(TESTDRV)/%.so: tests/drivers/%.c $(MODESTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ $<
TESTDRV_SO := $(patsubst tests/drivers/%.c,$(TESTDRV)/%.so,$(wildcard tests/drivers/*.c))

deps:
	@tests/deps.sh check

check: deps
	$(MAKE) all $(UNIT_BIN) $(TESTDRV_SO)
	tests/run.sh

demo:
	@tests/deps.sh demo
	$(MAKE) all
	tests/demo.sh

# libFuzzer targets for every parser that takes outside input, each run for FUZZ_SECONDS.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
$(BUILD)/fuzz/%: $(OBJ)/tests/fuzz/%.o $(LIBAGENT) $(LIBBERTH) $(LIBCERTS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.o %.a,$^) $(LIBS_BERTH) \
		$(LIBS_BERTHD) -pthread

fuzz:
	@tests/deps.sh fuzz
	$(MAKE) FUZZ=1 fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-build: $(FUZZ_BIN)

bench:
	@tests/deps.sh bench
	$(MAKE) all
	tests/bench/run.sh
	tests/bench/ssh.sh
	tests/bench/local.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/berth/drivers
	install -m 0755 $(BIN)/berth $(BIN)/berthd $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(DRVDIR)/*.so $(DESTDIR)$(PREFIX)/lib/berth/drivers/
	install -m 0755 $(BERTHD_STATIC) $(DESTDIR)$(PREFIX)/lib/berth/berthd-static
	install -m 0755 $(LOCAL_HELPER) $(DESTDIR)$(PREFIX)/lib/berth/
	install -m 0644 $(LOCAL_IMAGE) $(DESTDIR)$(PREFIX)/lib/berth/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/berth $(DESTDIR)$(PREFIX)/bin/berthd
	rm -rf $(DESTDIR)$(PREFIX)/lib/berth

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
