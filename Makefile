# bedup: whole-file deduplication for btrfs, as a toolkit of small filters.
# GNU make. Every program lives in cmd/NAME/ (NAME.c plus a man page) and
# links lib/libbedup.a; adding a program needs no change here.

# The one version of bedup: every program's --version prints it (through
# -DBD_VERSION), the wrapper asks a stage for it, debian/changelog repeats
# it (a test checks that the two agree).
VERSION = 0.1

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
COMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=

CC      ?= cc
PKGS     = libbtrfsutil libxxhash
CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
BD_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra $(WERROR) \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -Ilib -DBD_VERSION='"$(VERSION)"' \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
BD_LIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SANITIZE),1)
CFLAGS  = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Debian packages the build and the tests need (make deps installs them).
DEB_DEPS = build-essential btrfs-progs libbtrfsutil-dev libxxhash-dev pkg-config \
	bats bats-support bats-assert mandoc xxhash strace util-linux e2fsprogs \
	shellcheck bash-completion openssl \
	debhelper dpkg-dev fakeroot lintian systemd man-db jq

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:.c=.o)
CMDS    = $(notdir $(patsubst %/,%,$(wildcard cmd/bedup-*/)))
BINS    = $(foreach c,$(CMDS),cmd/$(c)/$(c))
SCRIPTS = $(wildcard cmd/bedup/bedup)
MAN1    = $(wildcard cmd/*/*.1)
MAN5    = $(wildcard cmd/*/*.5)
MAN7    = $(wildcard cmd/*/*.7)
MAN8    = $(wildcard cmd/*/*.8)
MANS    = $(MAN1) $(MAN5) $(MAN7) $(MAN8)
TESTBINS = tests/recio bench/mkcorpus bench/manifest

.PHONY: all check test deps demo bench bench-scale install uninstall clean lint-man fuzz deb

all: $(BINS) $(TESTBINS)

# Rebuild everything when the flags change (e.g. SANITIZE=1 after a
# plain build) or the version, so a sanitizer run never tests stale objects.
.build-flags: FORCE
	@echo '$(CC) $(CFLAGS) $(LDFLAGS) $(VERSION)' | cmp -s - $@ || \
		echo '$(CC) $(CFLAGS) $(LDFLAGS) $(VERSION)' >$@
FORCE:

lib/%.o: lib/%.c $(wildcard lib/*.h) .build-flags
	$(CC) $(BD_CFLAGS) $(CFLAGS) -c -o $@ $<

lib/libbedup.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

.SECONDEXPANSION:
$(BINS): %: $$(wildcard $$(dir $$@)*.c $$(dir $$@)*.h) lib/libbedup.a lib/bedup.h .build-flags
	$(CC) $(BD_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) lib/libbedup.a $(BD_LIBS)

# test and benchmark instruments: built like the programs, so that a
# SANITIZE=1 library links with them
tests/recio bench/mkcorpus bench/manifest: %: %.c lib/libbedup.a lib/bedup.h .build-flags
	$(CC) $(BD_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< lib/libbedup.a $(BD_LIBS) -lm

# Installs what is missing, so that "make check" works on a fresh Debian.
# apt-get's output goes to DEPS_LOG, shown (its end) when it fails.
DEPS_LOG ?= $(or $(TMPDIR),/tmp)/bedup-deps.log
deps:
	@missing=$$(for p in $(DEB_DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing "(apt-get's output: $(DEPS_LOG))"; \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends $$missing; } >'$(DEPS_LOG)' 2>&1 || \
		{ tail -n 15 '$(DEPS_LOG)' >&2; echo "make deps: apt-get failed (all of it: $(DEPS_LOG))" >&2; exit 1; }; \
	fi

# check: deps first, then a fresh make so that pkg-config is asked only
# once the -dev packages are there.
check: deps
	$(MAKE) all
	$(MAKE) test

test: lint-man
	bats --tap tests

lint-man:
	@for m in $(MANS); do mandoc -Tlint -W warning $$m || exit 1; done; \
	echo "mandoc -Tlint: $(words $(MANS)) pages clean"

# the demo's story, without the compiler's lines (its errors still show)
demo: deps
	@$(MAKE) -s --no-print-directory all
	@sh contrib/demo.sh

bench:
	@if [ -x bench/run ]; then bench/run; else echo "make bench: no benchmarks yet"; fi

# millions of files (bench/scale: SIZES, SEED, TOOLS, BENCH_DIR); not in CI
bench-scale:
	bench/scale

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BINS) $(SCRIPTS) $(DESTDIR)$(BINDIR)
	$(foreach n,1 5 7 8,$(if $(MAN$(n)),install -d $(DESTDIR)$(MANDIR)/man$(n) && \
		install -m 644 $(MAN$(n)) $(DESTDIR)$(MANDIR)/man$(n);))
	install -d $(DESTDIR)$(COMPDIR) $(DESTDIR)$(UNITDIR)
	install -m 644 contrib/bedup.bash-completion $(DESTDIR)$(COMPDIR)/bedup
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/bedup.service >$(DESTDIR)$(UNITDIR)/bedup.service
	install -m 644 contrib/bedup.timer $(DESTDIR)$(UNITDIR)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(CMDS) $(notdir $(SCRIPTS)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(DESTDIR)$(COMPDIR)/bedup $(DESTDIR)$(UNITDIR)/bedup.service \
		$(DESTDIR)$(UNITDIR)/bedup.timer

# deb: bedup_VERSION_ARCH.deb (and .changes, .buildinfo) in DEB_OUT, as
# dpkg-buildpackage makes them beside the tree. It builds a copy of the
# tree in DEB_OUT, so that its "debian/rules clean" leaves this tree's
# build (and the tests running on it) alone, with none of this make's
# variables (make check SANITIZE=1 must not package an ASan build); then
# lintian checks the .deb and the .changes.
DEB_OUT ?= ..
DEB_UNSET = $(foreach v,MAKEFLAGS MFLAGS MAKELEVEL SANITIZE VERSION WERROR CFLAGS LDFLAGS \
	PREFIX BINDIR MANDIR UNITDIR COMPDIR DESTDIR,-u $(v))
deb:
	@d='$(DEB_OUT)/bedup-$(VERSION)'; rm -rf "$$d" && mkdir -p "$$d" && \
	tar -cf - --exclude=./.git --exclude=./tests/log --exclude='*.img' \
		--exclude=./fuzz/work --exclude=./fuzz/crashes --exclude=./debian/bedup . | \
		tar -xf - -C "$$d" && \
	( cd "$$d" && env $(DEB_UNSET) dpkg-buildpackage -us -uc -b ) \
		>'$(DEB_OUT)/bedup-build.log' 2>&1 || \
		{ tail -40 '$(DEB_OUT)/bedup-build.log' >&2; exit 1; }; \
	rm -rf "$$d"
	lintian --fail-on error,warning $(DEB_OUT)/bedup_$(VERSION)_*.changes $(DEB_OUT)/bedup_$(VERSION)_*.deb

# Fuzzing (clang, libFuzzer): each fuzz/NAME.c target runs FUZZTIME
# seconds from fuzz/corpus/NAME; crashes land in fuzz/crashes/.
FUZZTIME ?= 60
FUZZ_SRC  = $(wildcard fuzz/*.c)
FUZZ_BINS = $(FUZZ_SRC:.c=.fuzz)
fuzz/%.fuzz: fuzz/%.c fuzz/stage.h $(wildcard cmd/*/*.c cmd/*/*.h) $(LIB_SRC) lib/bedup.h
	clang -g -O1 -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -DBD_VERSION='"$(VERSION)"' \
		$(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(BD_LIBS)

fuzz: $(FUZZ_BINS)
	@mkdir -p fuzz/crashes
	@for f in $(FUZZ_BINS); do n=$$(basename $$f .fuzz); mkdir -p fuzz/corpus/$$n fuzz/work/$$n; \
		echo "fuzz: $$n for $(FUZZTIME)s"; \
		$$f -max_total_time=$(FUZZTIME) -artifact_prefix=fuzz/crashes/$$n- \
			-print_final_stats=1 fuzz/work/$$n fuzz/corpus/$$n >fuzz/work/$$n.log 2>&1; st=$$?; \
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|Done' fuzz/work/$$n.log; \
		[ $$st -eq 0 ] || { echo "fuzz: $$n failed (exit $$st): fuzz/work/$$n.log, fuzz/crashes/"; exit 1; }; \
	done

clean:
	rm -f lib/*.o lib/libbedup.a $(BINS) $(TESTBINS) $(FUZZ_BINS) .build-flags
	rm -rf fuzz/work
