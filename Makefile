# fedkit: build, test, install.  Plain GNU make; dependencies through pkg-config.
#
# B is the build root: the default build lands in the tree (lib/libfed.a,
# bin/fedgate ...); `make check` repeats the suite on a sanitizer build in
# B=.asan so both kinds of objects never mix.

VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/fedkit
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
# Where systemd looks for units, sysusers.d and tmpfiles.d entries under
# /usr and /usr/local alike; logrotate reads /etc/logrotate.d only.  The
# paths the tools use at run time (/etc/fedkit, /var/lib/fedkit,
# /var/log/fedkit: fedkit(7) FILES) are theirs and systemd's
# (StateDirectory=), not the prefix's.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
LOGROTATEDIR ?= /etc/logrotate.d
SHARED  ?= ../shared

B       ?= .
CC      ?= cc
PKG_CONFIG ?= pkg-config

CFLAGS  ?= -O2 -g
# Forced on every build: warnings are errors, and the hardening flags.
WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith
HARDEN   = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
SAN      =
ALL_CFLAGS  = $(WARN) $(HARDEN) -D_DEFAULT_SOURCE -D_GNU_SOURCE \
              -DFEDKIT_VERSION='"$(VERSION)"' -Ilib -I$(B)/lib $(SAN) $(CFLAGS)
ALL_LDFLAGS = $(HARDEN_LD) $(SAN) $(LDFLAGS)

SSL_CFLAGS  := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
SSL_LIBS    := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null)
ARES_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcares 2>/dev/null)
ARES_LIBS   := $(shell $(PKG_CONFIG) --libs libcares 2>/dev/null)
EDIT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libedit 2>/dev/null)
EDIT_LIBS   := $(shell $(PKG_CONFIG) --libs libedit 2>/dev/null)
# The partner store (lib/state.c): Debian's liblmdb-dev ships lmdb.pc.
LMDB_CFLAGS := $(shell $(PKG_CONFIG) --cflags lmdb 2>/dev/null)
LMDB_LIBS   := $(shell $(PKG_CONFIG) --libs lmdb 2>/dev/null || echo -llmdb)
# The edge pool's store (lib/statepool.c): Debian's libhiredis-dev.
HIREDIS_LIBS := $(shell $(PKG_CONFIG) --libs hiredis 2>/dev/null || echo -lhiredis)
STATE_LIBS = $(LMDB_LIBS) $(HIREDIS_LIBS)
# fedgate's system call filter (lib/sandbox.c): Debian's libseccomp-dev.
SECCOMP_LIBS := $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null || echo -lseccomp)

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(B)/%.o)
LIBFED   = $(B)/lib/libfed.a
TOOLS    = fedq fedlist fedgate fedstat
TOOL_BIN = $(TOOLS:%=$(B)/bin/%)
UNIT_SRC = $(sort $(wildcard t/unit/*.c))
UNIT_BIN = $(UNIT_SRC:t/unit/%.c=$(B)/t/unit/%.t)
HELPER_SRC = $(filter-out t/helper/preload_%.c,$(sort $(wildcard t/helper/*.c)))
HELPER_BIN = $(HELPER_SRC:t/helper/%.c=$(B)/t/helper/%)
PRELOAD_SRC = $(sort $(wildcard t/helper/preload_*.c))
PRELOAD_SO = $(PRELOAD_SRC:t/helper/%.c=$(B)/t/helper/%.so)
FUZZ_SRC = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_REPLAY = $(FUZZ_SRC:fuzz/fuzz_%.c=$(B)/fuzz/replay_%)

.PHONY: all deps check test test-asan demo bench fuzz install clean tests
.DEFAULT_GOAL := all

all: $(LIBFED) $(TOOL_BIN)

tests: all $(UNIT_BIN) $(HELPER_BIN) $(PRELOAD_SO) $(FUZZ_REPLAY)

$(B)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SSL_CFLAGS) $(ARES_CFLAGS) $(LMDB_CFLAGS) -c -o $@ $<

# lib/pool.lua, the pool's Redis script, as a C string (lib/statepool.c).
$(B)/lib/pool_lua.h: lib/pool.lua
	@mkdir -p $(@D)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' lib/pool.lua > $@.tmp
	mv $@.tmp $@
$(B)/lib/statepool.o analyze-gcc/lib/statepool.c analyze-cppcheck: \
    $(B)/lib/pool_lua.h

$(LIBFED): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

# Each tool links its own real dependencies, even before its issue lands.
$(B)/bin/fedq:    LIBS_TOOL = $(ARES_LIBS) $(SSL_LIBS)
$(B)/bin/fedlist: LIBS_TOOL = $(EDIT_LIBS)
# fedgate links OpenSSL once it speaks TLS (socket mode): loading libssl
# and libcrypto costs a process ~2 ms and ~1.7 MB of pages at start, which
# pipe mode and plain inetd connections need not pay (bench/gate).
$(B)/bin/fedgate: LIBS_TOOL = $(SECCOMP_LIBS)
$(B)/bin/fedstat: LIBS_TOOL =

$(B)/bin/%: bin/%.c $(LIBFED) lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(SSL_CFLAGS) $(ARES_CFLAGS) $(EDIT_CFLAGS) \
	    -o $@ $< $(ALL_LDFLAGS) $(LIBFED) $(STATE_LIBS) -Wl,--no-as-needed $(LIBS_TOOL)

$(B)/t/unit/%.t: t/unit/%.c t/tap.h $(LIBFED) lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -It -o $@ $< $(ALL_LDFLAGS) $(LIBFED) $(STATE_LIBS) $(ARES_LIBS) $(SSL_LIBS)

$(B)/t/helper/%: t/helper/%.c $(LIBFED) lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS) $(LIBFED) $(STATE_LIBS) $(ARES_LIBS) $(SSL_LIBS) $(SECCOMP_LIBS)

# LD_PRELOAD shims (t/0560), t/helper/preload_*.c: shared objects, built
# without the sanitizers (the test lets ASan's runtime come after them).
$(B)/t/helper/preload_%.so: t/helper/preload_%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -D_GNU_SOURCE -fPIC -shared $(CFLAGS) -o $@ $< -ldl

# The fuzz entry points, linked to a plain main() that feeds them files:
# `make check` replays the RFC corpora and saved crashers through them.
$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(LIBFED) lib/*.h fuzz/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ fuzz/replay.c $< $(ALL_LDFLAGS) $(LIBFED) $(STATE_LIBS) $(ARES_LIBS) $(SSL_LIBS)

deps:
	@sh .ci/deps

PROVE = prove --exec '' --timer
test: tests
	FEDKIT_BUILD=$(B) FEDKIT_SHARED=$(SHARED) $(PROVE) t/*.t $(UNIT_BIN)

ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
# Any sanitizer report fails the test that caused it.
test-asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) B=.asan SAN='$(ASAN_FLAGS)' CFLAGS='-O1 -g' test

# Static analysis: gcc's analyzer over every C file, with the build's own
# flags (warnings are errors), and cppcheck; any finding fails.  A false
# positive is silenced in place with its reason (`#pragma GCC diagnostic`
# around the statement, or a `cppcheck-suppress ID ; why` comment).
# cppcheck reads no system header, so it is told here what the compiler
# knows: _Noreturn (cppcheck 2.10 ignores it), the GNU and SSE2 code paths
# the x86-64 build compiles, OpenSSL's major version (tlssrv.c).  Its style
# checks are on except variableScope: declaring at the top of a function is
# the house style.
ANALYZE_CC ?= gcc
ANALYZE_SRC = $(LIB_SRC) $(sort $(wildcard bin/*.c)) $(HELPER_SRC) \
              $(PRELOAD_SRC) $(FUZZ_SRC) fuzz/replay.c
ANALYZE_GCC = $(ANALYZE_SRC:%=analyze-gcc/%)
CPPCHECK ?= cppcheck
CPPCHECK_FLAGS = --quiet --std=c11 --error-exitcode=1 --inline-suppr \
    --enable=warning,style,performance,portability --suppress=variableScope \
    -D_DEFAULT_SOURCE -D_GNU_SOURCE -D'_Noreturn=__attribute__((noreturn))' \
    -D__GNUC__ -D__SSE2__ -DOPENSSL_VERSION_MAJOR=3 -Ilib -I$(B)/lib
.PHONY: analyze analyze-cppcheck $(ANALYZE_GCC)
analyze: $(ANALYZE_GCC) analyze-cppcheck
$(ANALYZE_GCC): analyze-gcc/%:
	$(ANALYZE_CC) $(ALL_CFLAGS) $(SSL_CFLAGS) $(ARES_CFLAGS) $(LMDB_CFLAGS) \
	    $(EDIT_CFLAGS) -fanalyzer -c -o /dev/null $*
analyze-cppcheck:
	$(CPPCHECK) $(CPPCHECK_FLAGS) $(ANALYZE_SRC)

# The analysis first: a minute where the two suites take many, so a new
# finding fails check before they run.
check: deps
	$(MAKE) analyze
	$(MAKE) test
	$(MAKE) test-asan

# Like check, demo installs what the build needs first (the README's two
# commands are the whole set-up on a fresh machine).
demo: deps
	@$(MAKE) --no-print-directory all $(B)/t/helper/gensip
	@sh share/demo/run

bench: all tests
	@sh bench/run

FUZZ_CC ?= clang
FUZZ_BIN = $(FUZZ_SRC:fuzz/fuzz_%.c=fuzz/bin/fuzz_%)
fuzz: $(FUZZ_BIN)
fuzz/bin/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC) lib/*.h fuzz/*.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -g -O1 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Ilib \
	    -DFEDKIT_VERSION='"$(VERSION)"' \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(STATE_LIBS) $(ARES_LIBS) $(SSL_LIBS) $(SECCOMP_LIBS)

# The deployment files are written from share/ at install, the programs'
# installed paths put in for @BINDIR@, @SBINDIR@ and @SHAREDIR@.  The
# demo is not installed: it runs t/helper/gensip from a built tree
# (make demo).
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
            -e 's|@SHAREDIR@|$(SHAREDIR)|g'
# The pages name the default installation's paths; installed, they name
# the paths of this one.
MANSUBST = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
    -e 's|/usr/local/bin/|$(BINDIR)/|g' \
    -e 's|/usr/local/share/fedkit|$(SHAREDIR)|g' \
    -e 's|/usr/local/lib/systemd/system|$(SYSTEMDUNITDIR)|g' \
    -e 's|/usr/local/lib/sysusers.d|$(SYSUSERSDIR)|g' \
    -e 's|/usr/local/lib/tmpfiles.d|$(TMPFILESDIR)|g'
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SHAREDIR)/inetd $(DESTDIR)$(SHAREDIR)/xinetd \
	    $(DESTDIR)$(SHAREDIR)/tcpserver $(DESTDIR)$(SHAREDIR)/pool \
	    $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(LOGROTATEDIR) \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(B)/bin/fedq $(B)/bin/fedlist $(B)/bin/fedstat $(DESTDIR)$(BINDIR)
	install -m 755 $(B)/bin/fedgate $(DESTDIR)$(SBINDIR)
	set -e; for m in man/*.[1-8]; do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; \
	    $(MANSUBST) $$m >$$d; chmod 644 $$d; done
	install -m 644 share/fed.conf $(DESTDIR)$(SHAREDIR)
	set -e; gen() { $(SUBST) "$$1" >"$(DESTDIR)$$2"; chmod "$$3" "$(DESTDIR)$$2"; }; \
	for u in share/systemd/*; do \
	    gen $$u $(SYSTEMDUNITDIR)/$${u##*/} 644; done; \
	gen share/sysusers.d/fedkit.conf $(SYSUSERSDIR)/fedkit.conf 644; \
	gen share/tmpfiles.d/fedkit.conf $(TMPFILESDIR)/fedkit.conf 644; \
	gen share/logrotate/fedkit $(LOGROTATEDIR)/fedkit 644; \
	gen share/inetd/inetd.conf $(SHAREDIR)/inetd/inetd.conf 644; \
	gen share/xinetd/fedgate $(SHAREDIR)/xinetd/fedgate 644; \
	gen share/tcpserver/run $(SHAREDIR)/tcpserver/run 755; \
	for f in share/pool/*; do \
	    gen $$f $(SHAREDIR)/pool/$${f##*/} 644; done
	for c in completions/bash/*; do [ ! -f $$c ] || \
	    install -m 644 $$c $(DESTDIR)$(BASHCOMPDIR); done
	for c in completions/zsh/*; do [ ! -f $$c ] || \
	    install -m 644 $$c $(DESTDIR)$(ZSHCOMPDIR); done

clean:
	rm -rf .asan fuzz/bin lib/*.o lib/libfed.a t/unit/*.t t/helper/*[!.][!c] \
	    $(TOOL_BIN) fuzz/replay_* t/trash.*
