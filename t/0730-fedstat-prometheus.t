#!/bin/sh
# fedstat --prometheus: the Prometheus text format read back by a real
# parser (Debian's python3-prometheus-client), on a log with known
# answers, on a generated log and on the log of a real fedgate run, each
# against an independent count; -o writes the file whole (node_exporter's
# textfile collector); usage errors.
. "${0%/*}/lib.sh"

# Debian's module lives in /usr/bin/python3's path, which a python3
# earlier in PATH (pyenv, a venv) may not search.
PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client.parser' >/dev/null 2>&1; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	ok 1 "python3-prometheus-client is installed (run: make deps)"
	exit 1
fi

# check.py FILE LOG: parse FILE with prometheus_client and print one
# line a sample, `name{label=value,...} value`, labels sorted, sorted;
# fail on anything node_exporter's textfile collector would refuse.
cat >"$T/check.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
want = {
    "fedkit_decisions": "counter",
    "fedkit_accepted_upstream_down": "counter",
    "fedkit_log_lines": "counter",
    "fedkit_log_lines_malformed": "counter",
    "fedkit_partners": "gauge",
    "fedkit_partners_near_uri_limit": "gauge",
    "fedkit_log_newest_line_timestamp_seconds": "gauge",
}
out, seen = [], set()
for fam in text_string_to_metric_families(text):
    assert fam.name in want, "unknown family " + fam.name
    assert fam.name not in seen, "family twice: " + fam.name
    seen.add(fam.name)
    assert fam.type == want[fam.name], (fam.name, fam.type)
    assert fam.documentation, "no HELP for " + fam.name
    for s in fam.samples:
        assert s.timestamp is None, "a timestamp (the textfile collector refuses them)"
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        v = s.value
        out.append("%s{%s} %s" % (s.name, labels, int(v) if v == int(v) else v))
missing = set(want) - seen - {"fedkit_log_newest_line_timestamp_seconds"}
assert not missing, missing
for l in sorted(out):
    print(l)
EOF
# sample NAME LABELS: the value of one sample in $T/samples.
sample() {
	awk -v k="$1{$2}" '$1 == k { print $2 }' "$T/samples"
}
# parsed DESC FILE: parse FILE into $T/samples.
parsed() {
	if "$PY" "$T/check.py" "$2" >"$T/samples" 2>"$T/perr"; then ok 0 "$1"
	else ok 1 "$1"; diag "$(cat "$T/perr")"; fi
}
# An independent count of every verdict and reason of a log, as
# samples: the 18 pairs of fedkit(7), zeros included.
count_decisions() {
	awk -F '\t' 'BEGIN {
		n = split("accept allowlisted,accept discovered,limit rate," \
		    "limit suspicious,limit pool_down,refuse watch,refuse new_partners," \
		    "refuse blocked,refuse not_allowed,refuse unverified," \
		    "refuse malformed,refuse method,refuse scanner,refuse spoof," \
		    "refuse not_local,refuse federation_off,refuse flood," \
		    "observe response", pairs, ",")
		for (i = 1; i <= n; i++) c[pairs[i]] = 0
	}
	NF == 9 && ($6 " " $7) in c { c[$6 " " $7]++ }
	END { for (p in c) { split(p, f, " ")
		printf "fedkit_decisions_total{reason=%s,verdict=%s} %d\n", f[2], f[1], c[p] } }' "$@" | sort
}

D=$T/s
fedconf "$T/fed.conf" "$D"
printf 'friend.example\nown.example max_uris=10\n' >"$D/allow"
printf 'listed.example\n' >"$D/block"

T1=2026-11-22T00:00:00.000Z T2=2026-11-22T01:00:00.000Z
{
	verdict_line $T1 e1:5061 good.example INVITE alice@example.com accept discovered - c1
	verdict_line $T1 e1:5061 good.example 200 - observe response - c1
	verdict_line $T2 e2:5061 good.example MESSAGE bob@example.com accept discovered - c2
	verdict_line $T1 e3:5061 bad.example OPTIONS x1@example.com refuse watch 403 c3
	verdict_line $T1 e3:5061 bad.example OPTIONS x2@example.com limit rate 503 c4
	verdict_line $T2 e3:5061 bad.example OPTIONS x2@example.com limit suspicious 503 c5
	verdict_line $T2 e3:5061 bad.example 404 - observe response - c5
	verdict_line $T2 e4:5061 spam.example MESSAGE bob@example.com refuse blocked 403 c6
	echo "garbage"
	verdict_line $T2 - - REGISTER - refuse malformed - -
	verdict_line $T2 e9:5061 up.example MESSAGE a@example.com accept discovered 503 u1
	verdict_line $T2 e9:5061 up.example MESSAGE b@example.com accept discovered 503 u2
	verdict_line $T2 e7:5061 listed.example MESSAGE a@example.com accept discovered - l1
	verdict_line $T2 e8:5061 scan.example OPTIONS 100@example.com refuse scanner 403 s1
	verdict_line $T2 e8:5061 flood.example - - refuse flood - f1
} >"$D/log"
suspect_answers "$T2" >>"$D/log"
# 8 distinct URIs of an allow-listed partner held to max_uris=10: near.
i=0
while [ "$i" -lt 8 ]; do
	verdict_line $T2 e8:5061 own.example MESSAGE "u$i@example.com" accept allowlisted - "o$i"
	i=$((i + 1))
done >>"$D/log"
lines=$(wc -l <"$D/log")

expect "fedstat --prometheus reads a log with a malformed line" \
    fedstat -c "$T/fed.conf" --prometheus
cp "$T/out" "$T/known.prom"
grep_file "... the malformed line is reported as ever" "$D/log:9: 1 field" "$T/err"
parsed "... prints what prometheus_client parses, each family typed and documented, no timestamps" "$T/known.prom"

awk -v n="$lines" '$1 ~ /^fedkit_decisions_total/ { s += $2 } END { exit s != n - 1 }' "$T/samples"
ok $? "the decisions sum to the $lines lines read but the malformed one"
[ "$(sample fedkit_log_lines_total '')" = "$lines" ] &&
    [ "$(sample fedkit_log_lines_malformed_total '')" = 1 ]
ok $? "... fedkit_log_lines_total is $lines, fedkit_log_lines_malformed_total 1"
grep '^fedkit_decisions_total' "$T/samples" >"$T/got"
count_decisions "$D/log" >"$T/want"
cmp_file "every verdict and reason (18, zeros included) agrees with an awk count" "$T/want" "$T/got"
{
	sample fedkit_decisions_total reason=discovered,verdict=accept
	sample fedkit_decisions_total reason=allowlisted,verdict=accept
	sample fedkit_decisions_total reason=response,verdict=observe
	sample fedkit_decisions_total reason=flood,verdict=refuse
	sample fedkit_decisions_total reason=new_partners,verdict=refuse
	sample fedkit_accepted_upstream_down_total ''
} >"$T/got"
printf '5\n8\n42\n1\n0\n2\n' >"$T/want"
cmp_file "... exact values: 5 discovered, 8 allowlisted, 42 responses, 1 flood, 0 new_partners; 2 accepted but answered 503 by fedgate" "$T/want" "$T/got"

grep '^fedkit_partners' "$T/samples" >"$T/got"
cat >"$T/want" <<'EOF'
fedkit_partners_near_uri_limit{} 1
fedkit_partners{state=blocked} 2
fedkit_partners{state=near} 1
fedkit_partners{state=ok} 6
fedkit_partners{state=suspicious} 1
fedkit_partners{state=watch} 1
EOF
cmp_file "the partner gauges: spam and listed blocked, bad watched, susp suspicious, own near (its entry's max_uris), the rest ok" "$T/want" "$T/got"
# The same states as fedstat's own table.
given fedstat -c "$T/fed.conf" && mv "$T/given.out" "$T/tsv"
cut -f10 "$T/tsv" | sort | uniq -c | awk '{ printf "fedkit_partners{state=%s} %d\n", $2, $1 }' >"$T/want"
grep '^fedkit_partners{' "$T/samples" | grep -v ' 0$' >"$T/got"
cmp_file "... state for state what the table shows" "$T/want" "$T/got"
[ "$(sample fedkit_log_newest_line_timestamp_seconds '')" = "$(date -u -d 2026-11-22T01:00:00Z +%s)" ]
ok $? "fedkit_log_newest_line_timestamp_seconds is the time of the newest line"

expect "--since counts only the later lines" fedstat -c "$T/fed.conf" --prometheus --since 2026-11-22T00:30:00Z
"$PY" "$T/check.py" "$T/out" >"$T/samples"
t1=$(grep -c "^$T1" "$D/log")
awk -v n="$((lines - 1 - t1))" '$1 ~ /^fedkit_decisions_total/ { s += $2 } END { exit s != n }' "$T/samples"
ok $? "... the decisions sum to the $((lines - 1 - t1)) lines since, of $(sample fedkit_log_lines_total '') read"

# A generated log, many partners: the same checks by counting.
genlog -n 20000 -p 300 -u 3000 -s 7 >"$T/gen.log"
expect "a generated log of 20000 lines" fedstat -c "$T/fed.conf" --prometheus "$T/gen.log"
parsed "... parsed" "$T/out"
awk '$1 ~ /^fedkit_decisions_total/ { s += $2 } END { exit s != 20000 }' "$T/samples"
ok $? "... the decisions sum to 20000"
grep '^fedkit_decisions_total' "$T/samples" >"$T/got"
count_decisions "$T/gen.log" >"$T/want"
cmp_file "... and agree with an awk count" "$T/want" "$T/got"
given fedstat -c "$T/fed.conf" "$T/gen.log" && mv "$T/given.out" "$T/tsv"
cut -f10 "$T/tsv" | sort | uniq -c | awk '{ printf "fedkit_partners{state=%s} %d\n", $2, $1 }' >"$T/want"
grep '^fedkit_partners{' "$T/samples" | grep -v ' 0$' >"$T/got"
cmp_file "... the state gauges are the table's states ($(wc -l <"$T/tsv") partners)" "$T/want" "$T/got"

# A real fedgate run: the demo traffic.
G=$T/g
mkdir -p "$G"
sed "s|@DIR@|$G|g" "$TOP/share/demo/fed.conf" >"$T/demo.conf"
cp "$TOP/share/demo/allow" "$TOP/share/demo/block" "$G/"
gensip --demo >"$T/demo.sip"
fedlist -c "$T/demo.conf" index >/dev/null	# compiled, as share/demo/run does
expect "fedgate decides the demo traffic" sh -c "fedgate -c '$T/demo.conf' <'$T/demo.sip' >/dev/null"
expect "fedstat --prometheus reads its log" fedstat -c "$T/demo.conf" --prometheus
[ ! -s "$T/err" ]; ok $? "... without a complaint"
parsed "... parsed" "$T/out"
n=$(wc -l <"$G/verdicts.log")
awk -v n="$n" '$1 ~ /^fedkit_decisions_total/ { s += $2 } END { exit s != n }' "$T/samples"
ok $? "... the decisions sum to the $n lines fedgate wrote"
grep '^fedkit_decisions_total' "$T/samples" >"$T/got"
count_decisions "$G/verdicts.log" >"$T/want"
cmp_file "... and agree with an awk count" "$T/want" "$T/got"
{
	sample fedkit_partners state=watch
	sample fedkit_partners state=blocked
	sample fedkit_partners state=suspicious
} >"$T/got"
printf '1\n1\n1\n' >"$T/want"
cmp_file "... the harvester watched, spam blocked, the scanner suspicious" "$T/want" "$T/got"

# ---- -o: the textfile collector's file ----
TF=$T/textfile
mkdir -p "$TF"
expect "-o writes the file" fedstat -c "$T/fed.conf" --prometheus -o "$TF/fedkit.prom"
[ ! -s "$T/out" ]; ok $? "... and prints nothing"
cmp_file "... the same text as on standard output" "$T/known.prom" "$TF/fedkit.prom"
[ "$(stat -c %a "$TF/fedkit.prom")" = 644 ]
ok $? "... a new file is mode 0644 (the collector runs as another user)"
ls -A "$TF" | grep -v -x -e fedkit.prom -e fedkit.prom.lock >"$T/got"
[ ! -s "$T/got" ]; ok $? "... no temporary file left (only fedkit.prom and its lock, which the collector ignores)"
ino=$(stat -c %i "$TF/fedkit.prom")
expect "-o again" fedstat -c "$T/fed.conf" --prometheus -o "$TF/fedkit.prom" "$T/gen.log"
[ "$(stat -c %i "$TF/fedkit.prom")" != "$ino" ]
ok $? "... the file is replaced (renamed over), not rewritten in place"

# A reader never sees half a file: read it while it is rewritten 30
# times, alternately from two logs (bounded: 30 runs, 30 s).
cat >"$T/reader.py" <<'EOF'
import os, sys, time
from prometheus_client.parser import text_string_to_metric_families
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline:
    text = open(path).read()
    reads += 1
    names = [f.name for f in text_string_to_metric_families(text)]
    if not text.endswith("\n") or "fedkit_log_newest_line_timestamp_seconds" not in names:
        bad += 1
print(reads, bad)
EOF
"$PY" "$T/reader.py" "$TF/fedkit.prom" "$T/stop" >"$T/reads" 2>&1 &
reader=$!
i=0
while [ "$i" -lt 30 ]; do
	[ $((i % 2)) -eq 0 ] && log=$D/log || log=$T/gen.log
	fedstat -c "$T/fed.conf" --prometheus -o "$TF/fedkit.prom" "$log" 2>/dev/null || break
	i=$((i + 1))
done
touch "$T/stop"
wait "$reader"
read -r reads bad <"$T/reads"
[ "$i" -eq 30 ] && [ "${reads:-0}" -gt 0 ] && [ "${bad:-1}" -eq 0 ]
ok $? "a reader parsing the file during 30 rewrites always saw it whole ($reads reads, ${bad:-?} bad)"

cp "$TF/fedkit.prom" "$T/before"
expect_exit 2 "a log that cannot be read: input error" \
    fedstat -c "$T/fed.conf" --prometheus -o "$TF/fedkit.prom" "$D/log" "$T/nothere"
grep_file "... saying the metrics were not written" "metrics not written" "$T/err"
cmp_file "... and the file keeps its last contents (no counter seems to reset)" "$T/before" "$TF/fedkit.prom"
expect_exit 3 "-o in a directory that does not exist: system error" \
    fedstat -c "$T/fed.conf" --prometheus -o "$T/nodir/fedkit.prom"
grep_file "... naming it" "nodir/fedkit.prom" "$T/err"

# An empty log: every series at zero, no newest time.
: >"$T/empty.log"
expect "an empty log" fedstat -c "$T/fed.conf" --prometheus "$T/empty.log"
parsed "... parsed" "$T/out"
[ "$(sample fedkit_log_lines_total '')" = 0 ] &&
    [ "$(grep -c '^fedkit_decisions_total.* 0$' "$T/samples")" -eq 18 ] &&
    ! grep -q newest_line "$T/samples"
ok $? "... 18 zero decisions, 0 lines, no newest-line time"

# usage errors
expect_exit 2 "--prometheus --json: usage error" fedstat -c "$T/fed.conf" --prometheus --json
expect_exit 2 "--prometheus --by peer: usage error" fedstat -c "$T/fed.conf" --prometheus --by peer
expect_exit 2 "--prometheus -f: usage error" fedstat -c "$T/fed.conf" --prometheus -f
expect_exit 2 "--prometheus --suggest: usage error" fedstat -c "$T/fed.conf" --prometheus --suggest
expect_exit 2 "-o without --prometheus: usage error" fedstat -c "$T/fed.conf" -o "$T/x.prom"
[ ! -e "$T/x.prom" ]; ok $? "... and writes nothing"
expect "-h shows --prometheus" fedstat -h
grep_file "... with its line" "^  --prometheus " "$T/out"
