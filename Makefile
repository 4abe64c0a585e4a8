# sbx — see README.md.  `make` builds ./sbx; `make check` installs what the
# tests need (scripts/deps) and runs every test.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	-DSBX_VERSION='"$(VERSION)"' -DSBX_PROFILE_DIR='"$(DATADIR)/sbx/profiles"' $(WARN)
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now
# Libraries join through pkg-config as the code comes to need each one.
PKGS := yajl libcap libseccomp
PKG_CFLAGS := $(if $(PKGS),$(shell pkg-config --cflags $(PKGS) mount libarchive nettle))
PKG_LIBS := $(if $(PKGS),$(shell pkg-config --libs $(PKGS)))
# libarchive and nettle (the image commands) and libmount (where statmount
# cannot say where cgroup2 is) are loaded with dlopen when needed (see
# runtime/dynlib.h): their headers come through pkg-config, their
# libraries stay out of every `sbx run`.
# yajl, libcap and libseccomp are linked statically into sbx where Debian
# ships their archives: every shared library costs each `sbx run` its
# loading and relocation (~0.1 ms for these three; docs/benchmarks.md).
# STATIC_LIBS=0 links them as shared libraries (distribution packages);
# the sources of sbx are there to relink against another libseccomp, as
# its LGPL asks.
STATIC_LIBS ?= 1
PKG_LIBDIR := $(shell pkg-config --variable=libdir libseccomp)
STATIC_ARCHIVES := $(PKG_LIBDIR)/libyajl_s.a $(PKG_LIBDIR)/libcap.a $(PKG_LIBDIR)/libseccomp.a
SBX_LIBS := $(if $(and $(filter 1,$(STATIC_LIBS)),$(filter $(words $(STATIC_ARCHIVES)),$(words \
	$(wildcard $(STATIC_ARCHIVES))))),$(STATIC_ARCHIVES),$(PKG_LIBS))

SRCS := $(wildcard runtime/*.c)
LIB_SRCS := $(filter-out runtime/main.c runtime/cli_image.c,$(SRCS))
HDRS := $(wildcard runtime/*.h)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all clean check check-unit check-integration check-engines check-vm check-mutants check-fuzz fuzz deps asan install helper bench

all: sbx

sbx: $(SRCS) $(HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(SRCS) $(LDFLAGS_ALL) $(LDFLAGS) $(SBX_LIBS)

sbx-asan: $(SRCS) $(HDRS)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(PKG_CFLAGS) -o $@ $(SRCS) $(LDFLAGS_ALL) $(PKG_LIBS)

# The probe runs inside minimal test rootfs, so it is static.
tests/helper/sbx-probe: tests/helper/probe.c
	$(CC) -std=gnu11 -O2 $(WARN) -static -o $@ $<

tests/unit/run-unit: tests/unit/*.c tests/unit/*.h $(LIB_SRCS) $(HDRS)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SAN) $(PKG_CFLAGS) -Iruntime -o $@ tests/unit/*.c $(LIB_SRCS) $(PKG_LIBS)

tests/escape/escape-probe: tests/escape/escape-probe.c
	$(CC) -std=gnu11 -O2 $(WARN) -static -pthread -o $@ $<

# The workloads of the VM's limit tests (tests/vm/), static for the same reason.
tests/vm/sbx-hog: tests/vm/hog.c
	$(CC) -std=gnu11 -O2 $(WARN) -static -o $@ $<

# The syscall loop of `make bench` (scripts/bench.d/30-filter.sh) runs in
# the busybox bench rootfs: static too.
tests/bench/syscall_loop: tests/bench/syscall_loop.c
	$(CC) -std=gnu11 -O2 $(WARN) -static -o $@ $<

# What the kernel's constant-action bitmap makes of sbx's stacked filters.
tests/bench/bitmap-check: tests/bench/bitmap_check.c $(LIB_SRCS) $(HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Iruntime -o $@ $< $(LIB_SRCS) $(LDFLAGS_ALL) $(PKG_LIBS)

helper: tests/helper/sbx-probe tests/escape/escape-probe tests/vm/sbx-hog

deps:
	scripts/deps

check-unit: tests/unit/run-unit
	tests/unit/run-unit

check-integration: sbx helper
	tests/run-integration

# Only the engine suite (also part of check-integration): podman and
# containerd with ./sbx in their runtime slot.  ENGINE_RUNTIME=$(command -v
# runc) runs it against runc, as it was calibrated.
ENGINE_RUNTIME ?= $(CURDIR)/sbx
check-engines: sbx
	cd tests/engines && SBX_ENGINE_RUNTIME=$(ENGINE_RUNTIME) PYTHONDONTWRITEBYTECODE=1 \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider -rfEs

# The cgroup v2 limits in a qemu (TCG) VM with Debian's cloud kernel.
check-vm: sbx helper
	tests/vm/run

# libFuzzer targets for the parsers of untrusted input.  `make fuzz` runs
# each for FUZZ_SECONDS (default 300); `make check` for 20.
FUZZ_SECONDS ?= 300
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
tests/fuzz/fuzz-profile: tests/fuzz/fuzz_profile.c $(LIB_SRCS) $(HDRS)
	clang -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -Iruntime -DSBX_PROFILE_DIR='"/nonexistent"' -DSBX_VERSION='"fuzz"' \
		$(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_profile.c $(LIB_SRCS) $(PKG_LIBS)

tests/fuzz/fuzz-layer: tests/fuzz/fuzz_layer.c $(LIB_SRCS) $(HDRS)
	clang -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -Iruntime -DSBX_PROFILE_DIR='"/nonexistent"' -DSBX_VERSION='"fuzz"' \
		$(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_layer.c $(LIB_SRCS) $(PKG_LIBS)

tests/fuzz/fuzz-oci: tests/fuzz/fuzz_oci.c $(LIB_SRCS) $(HDRS)
	clang -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -Iruntime -DSBX_PROFILE_DIR='"/nonexistent"' -DSBX_VERSION='"fuzz"' \
		$(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_oci.c $(LIB_SRCS) $(PKG_LIBS)

tests/fuzz/fuzz-seccomp-oci: tests/fuzz/fuzz_seccomp_oci.c $(LIB_SRCS) $(HDRS)
	clang -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -Iruntime -DSBX_PROFILE_DIR='"/nonexistent"' -DSBX_VERSION='"fuzz"' \
		$(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_seccomp_oci.c $(LIB_SRCS) $(PKG_LIBS)

tests/fuzz/fuzz-oci-config: tests/fuzz/fuzz_oci_config.c $(LIB_SRCS) $(HDRS)
	clang -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -Iruntime -DSBX_PROFILE_DIR='"/nonexistent"' -DSBX_VERSION='"fuzz"' \
		$(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_oci_config.c $(LIB_SRCS) $(PKG_LIBS)

fuzz: tests/fuzz/fuzz-profile tests/fuzz/fuzz-layer tests/fuzz/fuzz-oci tests/fuzz/fuzz-seccomp-oci tests/fuzz/fuzz-oci-config
	mkdir -p tests/fuzz/work-profile tests/fuzz/work-layer tests/fuzz/work-oci tests/fuzz/work-seccomp-oci \
		tests/fuzz/work-oci-config
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		tests/fuzz/fuzz-profile -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		tests/fuzz/work-profile tests/fuzz/corpus-profile
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		tests/fuzz/fuzz-layer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		tests/fuzz/work-layer tests/fuzz/corpus-layer
	tests/fuzz/fuzz-oci -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -dict=tests/fuzz/oci.dict \
		tests/fuzz/work-oci tests/fuzz/corpus-oci
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		tests/fuzz/fuzz-seccomp-oci -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		tests/fuzz/work-seccomp-oci tests/fuzz/corpus-profile
	tests/fuzz/fuzz-oci-config -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -dict=tests/fuzz/oci-config.dict \
		tests/fuzz/work-oci-config tests/fuzz/corpus-oci-config

check-fuzz:
	$(MAKE) fuzz FUZZ_SECONDS=20

# Weakened builds that the isolation tests must catch.
check-mutants: sbx helper
	tests/mutants/run

# sbx against bubblewrap, crun, runc and runsc (scripts/bench): tables on
# stdout, docs/benchmarks.md and docs/bench/*.svg.  Never part of check.
# BENCH_RUNS=10 for a quick look; `make bench BENCH_SECTIONS="1 6"` for some.
bench: sbx helper
	scripts/bench $(BENCH_SECTIONS)

check: deps
	$(MAKE) check-unit
	$(MAKE) check-integration
	$(MAKE) check-vm
	$(MAKE) check-mutants
	$(MAKE) check-fuzz

# The whole suite again against a binary built with ASan and UBSan.
asan: deps sbx-asan helper tests/unit/run-unit
	tests/unit/run-unit
	SBX=$(CURDIR)/sbx-asan tests/run-integration

install: sbx
	install -D -m 0755 sbx $(DESTDIR)$(BINDIR)/sbx
	install -D -m 0644 runtime/sbx.1 $(DESTDIR)$(MANDIR)/man1/sbx.1
	install -d $(DESTDIR)$(DATADIR)/sbx/profiles
	for f in profiles/*.json; do [ -e "$$f" ] || continue; \
		install -m 0644 "$$f" $(DESTDIR)$(DATADIR)/sbx/profiles/; done

clean:
	rm -f sbx sbx-asan tests/helper/sbx-probe tests/escape/escape-probe tests/vm/sbx-hog tests/unit/run-unit tests/fuzz/fuzz-profile
	rm -f tests/fuzz/fuzz-layer tests/fuzz/fuzz-oci tests/fuzz/fuzz-seccomp-oci tests/fuzz/fuzz-oci-config
	rm -rf tests/fuzz/work-profile tests/fuzz/work-layer tests/fuzz/work-oci tests/fuzz/work-seccomp-oci \
		tests/fuzz/work-oci-config
	rm -f tests/bench/syscall_loop tests/bench/bitmap-check
