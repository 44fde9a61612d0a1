#!/bin/sh
# Every tool answers -h and -V as the shared contract says, --version as
# -V, and a bad option is a usage error (exit 2) with the usage on stderr.
. "${0%/*}/lib.sh"

for tool in fedq fedlist fedgate fedstat; do
	expect "$tool -V exits 0" "$tool" -V
	grep_file "$tool -V names the tool and version" "^$tool [0-9]" "$T/out"
	expect "$tool -h exits 0" "$tool" -h
	grep_file "$tool -h prints its usage on stdout" "^usage: $tool" "$T/out"
	expect_exit 2 "$tool with an unknown option exits 2" "$tool" -Z
	grep_file "$tool prints its usage on stderr for a bad option" "^usage: $tool" "$T/err"
done

# --version: the long form of -V, with the same output, and named in the
# usage.
for tool in fedq fedlist fedgate fedstat; do
	expect "$tool --version exits 0" "$tool" --version
	mv "$T/out" "$T/long" &&
	"$tool" -V >"$T/short" &&
	test_cmp "$T/short" "$T/long"
	ok $? "$tool --version prints what -V prints"
	[ ! -s "$T/err" ]; ok $? "... and nothing on stderr"
	"$tool" -h >"$T/usage" &&
	grep -q -e '^ *-V, --version' "$T/usage"
	ok $? "$tool -h names --version"
done

# The tools link their real dependencies from the start (fedgate links
# OpenSSL with TLS, in socket mode: see the Makefile).
for pair in fedq:libcares fedq:libssl fedlist:libedit; do
	tool=${pair%%:*} lib=${pair#*:}
	readelf -d "$B/bin/$tool" > "$T/dyn" 2>&1
	grep_file "$tool links $lib" "NEEDED.*$lib" "$T/dyn"
done
fedq -V >"$T/v" && grep -q '^c-ares [0-9]' "$T/v"
ok $? "fedq -V reports the c-ares version"
