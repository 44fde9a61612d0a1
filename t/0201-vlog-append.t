#!/bin/sh
# The verdict log: eight processes appending at once never tear, mix or
# lose a line, because each line is one write(2) on an O_APPEND descriptor.
. "${0%/*}/lib.sh"
need vlogw

log=$T/verdicts.log
N=2000

umask 022
pids=
for w in 1 2 3 4 5 6 7 8; do
	vlogw "$log" "$N" "W$w" 2>"$T/err.$w" & pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
ok $rc "eight writers of $N lines each all succeeded"
[ "$rc" -eq 0 ] || diag "$(cat "$T"/err.*)"

mode=$(stat -c %a "$log")
[ "$mode" = 640 ]; ok $? "the log is created 0640 ($mode)"
lines=$(($(wc -l <"$log")))
[ "$lines" -eq $((8 * N)) ]; ok $? "the log has $((8 * N)) lines ($lines)"
awk 'length($0) > 4095 || length($0) < 500 { bad++ } END { exit bad > 0 }' \
    "$log"
ok $? "every line is between 500 bytes and VLOG_LINE_MAX"
expect "every line parses into 9 fields" vlogw --check "$log"
grep_file "vlogw --check counted $((8 * N)) good lines" "^$((8 * N))\$" "$T/out"
for w in 1 2 3 4 5 6 7 8; do
	n=$(grep -o "\[W$w:[0-9]*\]" "$log" | sort -u | wc -l)
	[ "$n" -eq "$N" ]; ok $? "writer W$w: all $N of its lines are there ($n)"
done

# Diagnostic only: how often one writer's line follows another's.
sw=$(grep -o '^[^	]*	[^	]*	W[0-9]' "$log" | awk '{ w = substr($0, length($0)) } w != p { n++ } { p = w } END { print n - 1 }')
diag "writer switches in the log: $sw"

# The checker itself notices a torn line and a bad one.
head -n 1 "$log" | head -c 300 >"$T/torn"
expect_exit 1 "a line cut short is found" vlogw --check "$T/torn"
grep_file "... and named" "torn:1: " "$T/err"
printf '2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\tacept\tdiscovered\t-\tc\n' \
    >"$T/bad"
expect_exit 1 "a line with a bad field is found" vlogw --check "$T/bad"
grep_file "... naming the field" 'bad:1: field 6 (verdict): unknown verdict "acept"' "$T/err"
