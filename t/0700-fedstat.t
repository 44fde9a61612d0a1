#!/bin/sh
# fedstat on logs with known answers: the table, states, score, order,
# --since, --by peer, --top, --json, --suggest, malformed lines, usage
# errors; and on the log of a real fedgate run (the demo traffic), against
# fedgate's own state files and an independent count.
. "${0%/*}/lib.sh"
need python3

D=$T/s
fedconf "$T/fed.conf" "$D"
printf 'friend.example\n' >"$D/allow"
printf 'listed.example\n' >"$D/block"

T1=2026-11-22T00:00:00.000Z T2=2026-11-22T01:00:00.000Z
{
	verdict_line $T1 e1:5061 good.example INVITE alice@example.com accept discovered - c1
	verdict_line $T1 e1:5061 good.example 200 - observe response - c1
	verdict_line $T2 e2:5061 good.example MESSAGE bob@example.com accept discovered - c2
	verdict_line $T2 e2:5061 good.example 200 - observe response - c2
	verdict_line $T1 e3:5061 bad.example OPTIONS x1@example.com refuse watch 403 c3
	verdict_line $T1 e3:5061 bad.example OPTIONS x2@example.com limit rate 503 c4
	verdict_line $T2 e3:5061 bad.example OPTIONS x2@example.com limit suspicious 503 c5
	verdict_line $T2 e3:5061 bad.example 404 - observe response - c5
	verdict_line $T2 e4:5061 spam.example MESSAGE bob@example.com refuse blocked 403 c6
	echo "garbage"
	verdict_line $T2 - - REGISTER - refuse malformed - -
} >"$D/log"
suspect_answers "$T2" >>"$D/log"
verdict_line $T2 e7:5061 listed.example MESSAGE a@example.com accept discovered - l1 >>"$D/log"

# Scores: refused + limited / 2 + failures x failure share + 100 x
# distinct URIs / max_uris (fedstat(1)); the allow-listed partner's
# failures count in its score, never in its state.
cat >"$T/expect" <<'EOF'
friend.example	20	0	0	0	0	0	20	1.000	ok	20.0	1	e6:5061
susp.example	20	0	0	0	0	10	10	0.500	suspicious	5.0	1	e5:5061
bad.example	4	0	2	1	2	0	1	1.000	watch	3.2	1	e3:5061
spam.example	1	0	0	1	1	0	0	-	blocked	1.1	1	e4:5061
-	1	0	0	1	0	0	0	-	ok	1.0	0	-
good.example	4	2	0	0	2	2	0	0.000	ok	0.2	2	e1:5061,e2:5061
listed.example	1	1	0	0	1	0	0	-	blocked	0.1	1	e7:5061
EOF
expect "fedstat reads a log with a malformed line" fedstat -c "$T/fed.conf"
cmp_file "the table (TSV off a terminal) is the known answer" "$T/expect" "$T/out"
grep_file "the malformed line is reported with file and line" \
    "^fedstat: $D/log:10: 1 field, want 9" "$T/err"
grep_file "... and counted in a summary" "1 malformed line of 52 skipped" "$T/err"

expect "an explicit log and stdin read alike" sh -c \
    "fedstat -c '$T/fed.conf' - <'$D/log'"
cmp_file "... the same table" "$T/expect" "$T/out"
grep_file "... the malformed line of stdin named" "stdin:10:" "$T/err"

expect "two logs add up" fedstat -c "$T/fed.conf" "$D/log" "$D/log"
awk -F '\t' '$1 == "bad.example" { print $2, $4, $5, $6 }' "$T/out" >"$T/got"
echo "8 4 2 2" >"$T/want"
cmp_file "... counts double, distinct URIs do not" "$T/want" "$T/got"

expect "--top 2" fedstat -c "$T/fed.conf" --top 2
head -2 "$T/expect" >"$T/want"
cmp_file "... the two highest scores" "$T/want" "$T/out"

expect "--since an RFC 3339 time" fedstat -c "$T/fed.conf" --since 2026-11-22T00:30:00Z
awk -F '\t' '$1 == "good.example" { print $2, $3, $7, $13 }' "$T/out" >"$T/got"
echo "2 1 1 e2:5061" >"$T/want"
cmp_file "... counts only the later lines" "$T/want" "$T/got"
# --since a duration, on a log written relative to now (not the clock of
# the day the test was written): 2 h, 50 min and 10 min ago.
ago() { date -u -d "@$(( $(date +%s) - $1 ))" +%Y-%m-%dT%H:%M:%S.000Z; }
{
	verdict_line "$(ago 7200)" e1:5061 old.example MESSAGE a@example.com accept discovered - n1
	verdict_line "$(ago 3000)" e1:5061 mid.example MESSAGE b@example.com accept discovered - n2
	verdict_line "$(ago 600)" e1:5061 new.example MESSAGE c@example.com accept discovered - n3
} >"$T/now.log"
expect "--since a duration" fedstat -c "$T/fed.conf" --since 1h "$T/now.log"
cut -f1 "$T/out" | sort >"$T/got"
printf 'mid.example\nnew.example\n' >"$T/want"
cmp_file "... the lines of the last hour only" "$T/want" "$T/got"
expect "--since 30m" fedstat -c "$T/fed.conf" --since 30m "$T/now.log"
cut -f1 "$T/out" >"$T/got"
echo new.example >"$T/want"
cmp_file "... the last half hour only" "$T/want" "$T/got"

expect "--by peer" fedstat -c "$T/fed.conf" --by peer
grep_file "... a row per peer, with its partners" \
    "^e3:5061	4	0	2	1	2	0	1	1.000	watch	3.2	1	bad.example$" "$T/out"

expect "--json" fedstat -c "$T/fed.conf" --json
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 7, len(rows)
b = rows[2]
assert b["partner"] == "bad.example" and b["state"] == "watch", b
assert b["fail_share"] == 1.0 and b["uris"] == 2 and b["peers"] == ["e3:5061"], b
assert b["score"] == 3.2 and b["limited"] == 2, b
assert rows[3]["fail_share"] is None
' "$T/out"
ok $? "... one JSON object a line, parsed by python3, with the known values"

expect "--suggest" fedstat -c "$T/fed.conf" --suggest
printf 'susp.example\nbad.example\n' >"$T/want"
cmp_file "... watched and suspicious, not allow-listed, not blocked" "$T/want" "$T/out"

# an allow list entry's own max_uris: near at 80% of it
printf 'friend.example\nown.example max_uris=10\n' >"$D/allow"
i=0
while [ "$i" -lt 8 ]; do
	verdict_line $T2 e8:5061 own.example MESSAGE "u$i@example.com" accept allowlisted - "o$i"
	verdict_line $T2 e8:5061 free.example MESSAGE "u$i@example.com" accept allowlisted - "o$i"
	i=$((i + 1))
done >"$T/own.log"
expect "allow-listed partners" fedstat -c "$T/fed.conf" "$T/own.log"
awk -F '\t' '{ print $1, $6, $10, $11 }' "$T/out" >"$T/got"
printf 'own.example 8 near 80.0\nfree.example 8 ok 0.8\n' >"$T/want"
cmp_file "... held to their entry's max_uris only; an old allowlisted line of a partner no longer listed does not exempt it" "$T/want" "$T/got"
printf 'friend.example\n' >"$D/allow"
# The log's word on allow-listing counts only when the lists are unread.
mkdir -p "$T/adir"; sed "s|^allow_list = .*|allow_list = $T/adir|" "$T/fed.conf" >"$T/nolist.conf"
expect "lists unreadable" fedstat -c "$T/nolist.conf" "$T/own.log"
grep_file "... said so" "lists not consulted" "$T/err"
awk -F '\t' '$1 == "free.example" { print $6, $10, $11 }' "$T/out" >"$T/got"
echo "8 ok 0.0" >"$T/want"
cmp_file "... then the allowlisted lines say it is allow-listed" "$T/want" "$T/got"
# --suggest: a partner whose old lines say allowlisted, now off the list
{
	verdict_line $T1 e9:5061 was.example MESSAGE a@example.com accept allowlisted - w1
	verdict_line $T2 e9:5061 was.example MESSAGE b@example.com refuse watch 403 w2
} >"$T/was.log"
expect "--suggest, a partner taken off the allow list" fedstat -c "$T/fed.conf" --suggest "$T/was.log"
echo was.example >"$T/want"
cmp_file "... is suggested: the list, not its old log line, decides" "$T/want" "$T/out"

# a `limit suspicious` line older than report_period (60m) no longer
# makes a partner suspicious; a `refuse watch` line keeps it watched
{
	verdict_line 2026-11-22T00:00:00.000Z e1:5061 was-s.example OPTIONS a@example.com limit suspicious 503 x1
	verdict_line 2026-11-22T00:00:00.000Z e1:5061 was-w.example OPTIONS a@example.com refuse watch 403 x2
	verdict_line 2026-11-22T02:00:00.000Z e1:5061 other.example OPTIONS a@example.com accept discovered - x3
} >"$T/age.log"
i=0
while [ "$i" -lt 20 ]; do
	verdict_line 2026-11-22T00:00:00.000Z e1:5061 was-r.example 404 - observe response - "r$i"
	i=$((i + 1))
done >>"$T/age.log"
expect "old verdicts" fedstat -c "$T/fed.conf" "$T/age.log"
awk -F '\t' '{ print $1, $8, $10 }' "$T/out" | sort >"$T/got"
printf 'other.example 0 ok\nwas-r.example 20 ok\nwas-s.example 0 ok\nwas-w.example 0 watch\n' >"$T/want"
cmp_file "... suspicion (a limit line, responses) ages out after report_period and the failures still count; watch stays" "$T/want" "$T/got"

# escaped names reach JSON intact
verdict_line $T1 'x\x2dy:1' 'we\\ird\x22.example' MESSAGE 'a\x20b@example.com' accept discovered - c9 >"$T/esc.log"
expect "escaped values" fedstat -c "$T/fed.conf" --json "$T/esc.log"
python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["partner"] == "we\\\\ird\\x22.example", r
assert r["peers"] == ["x\\x2dy:1"], r
' "$T/out"
ok $? "... kept as logged (escaped), valid JSON"

# a cut last line (a killed writer) is malformed, not counted
printf '%s\t-\tcut.example\tMESSAGE\ta@example.com\taccept\tdiscovered\t-\tc1' $T1 >"$T/cut.log"
expect "a last line without newline" fedstat -c "$T/fed.conf" "$T/cut.log"
[ ! -s "$T/out" ]; ok $? "... is not counted"
grep_file "... and is reported" "cut.log:1: last line has no newline" "$T/err"

# hostile input: a long line, binary bytes
{ head -c 10000 /dev/zero | tr '\0' 'x'; echo; printf '\001\377\n'; verdict_line $T1 - ok.example 200 - observe response - c; } >"$T/junk.log"
expect "junk lines are skipped" fedstat -c "$T/fed.conf" "$T/junk.log"
grep_file "... the long one reported" "junk.log:1: line too long" "$T/err"
grep_file "... the binary one reported" "junk.log:2: .*raw byte" "$T/err"
grep_file "... the good one counted" "^ok.example	1	" "$T/out"

# usage errors
expect_exit 2 "--by other: usage error" fedstat -c "$T/fed.conf" --by other
expect_exit 2 "--top 0: usage error" fedstat -c "$T/fed.conf" --top 0
expect_exit 2 "--since junk: usage error" fedstat -c "$T/fed.conf" --since yesterday
expect_exit 2 "--resume without -f: usage error" fedstat -c "$T/fed.conf" --resume "$T/r"
expect_exit 2 "--suggest --json: usage error" fedstat -c "$T/fed.conf" --suggest --json
expect_exit 2 "-f on two logs: usage error" fedstat -c "$T/fed.conf" -f a b
printf 'max_uris = lots\n' >"$T/bad.conf"
expect_exit 2 "a bad fed.conf: usage error" fedstat -c "$T/bad.conf"
grep_file "... naming file and line" "bad.conf:1:" "$T/err"
expect_exit 2 "a missing log: input error" fedstat -c "$T/fed.conf" "$T/nothere"
grep_file "... naming it" "nothere: No such file" "$T/err"
expect_exit 2 "-f on a device: input error" timeout 10 fedstat -f -c "$T/fed.conf" /dev/null
mkfifo "$T/fifo"
expect_exit 2 "-f on a FIFO: input error" timeout 10 fedstat -f -c "$T/fed.conf" "$T/fifo"
grep_file "... saying why" "fifo: not a regular file" "$T/err"
expect_exit 2 "-f on /dev/zero: input error, at once" timeout 10 fedstat -f -c "$T/fed.conf" /dev/zero

# ---- a real fedgate run: the demo traffic ----
G=$T/g
mkdir -p "$G"
sed "s|@DIR@|$G|g" "$TOP/share/demo/fed.conf" >"$T/demo.conf"
cp "$TOP/share/demo/allow" "$TOP/share/demo/block" "$G/"
gensip --demo >"$T/demo.sip"
fedlist -c "$T/demo.conf" index >/dev/null	# compiled, as share/demo/run does
expect "fedgate decides the demo traffic" sh -c "fedgate -c '$T/demo.conf' <'$T/demo.sip' >/dev/null"
expect "fedstat reads its log" fedstat -c "$T/demo.conf"
[ ! -s "$T/err" ]; ok $? "... without a complaint"
cp "$T/out" "$T/demo.tsv"
# An independent count of the same columns, straight from the log.
awk -F '\t' '{ p = $3; m[p]++
	if ($6 == "observe") { if ($4 ~ /^2/) k[p]++; else if ($4 ~ /^(403|404|410|484|485|604)$/) f[p]++; next }
	n[p, $6]++; if (!((p, $5) in s)) { s[p, $5] = 1; u[p]++ } }
	END { for (p in m) printf "%s %d %d %d %d %d %d %d\n", p, m[p], n[p, "accept"],
	    n[p, "limit"], n[p, "refuse"], u[p], k[p], f[p] }' "$G/verdicts.log" | sort >"$T/want"
awk -F '\t' '{ print $1, $2, $3, $4, $5, $6, $7, $8 }' "$T/demo.tsv" | sort >"$T/got"
cmp_file "every count agrees with an awk count of the log" "$T/want" "$T/got"
# (The rate bucket runs on the wall clock, so the split between accepted
# and limited, hence the order below the harvester, depends on speed.)
awk -F '\t' '{ print $1, $10 }' "$T/demo.tsv" | sort >"$T/got"
cat >"$T/want" <<'EOF'
fabrikam.example ok
flood.example ok
harvest.example watch
scan.example suspicious
spam.example blocked
EOF
cmp_file "states: harvester watched, spam blocked, scanner suspicious" "$T/want" "$T/got"
head -1 "$T/demo.tsv" | cut -f1 >"$T/got"
echo harvest.example >"$T/want"
cmp_file "... the harvester scores highest" "$T/want" "$T/got"
grep -q '^harvest\.example	' "$G/state/watch"
ok $? "fedgate's state agrees: harvest.example is on the watch list"
su= lu=
fedlist -c "$T/demo.conf" watch ls >"$T/wls" 2>"$T/wls.err" &&
su=$(awk -F '\t' '$1 == "harvest.example" { print $3 }' "$T/wls") &&
lu=$(awk -F '\t' '$1 == "harvest.example" { print $6 }' "$T/demo.tsv") &&
[ "$su" -ge 1000 ] && [ "$lu" -ge "$su" ]
ok $? "fedgate counted $su distinct URIs; fedstat's count of what it tried is $lu"
expect "--suggest on the demo" fedstat -c "$T/demo.conf" --suggest
printf 'harvest.example\nscan.example\n' >"$T/want"
cmp_file "... the harvester and the scanner" "$T/want" "$T/out"

# ---- the demo prints fedstat's table ----
expect "share/demo/run works with fedstat" env B="$B" sh "$TOP/share/demo/run"
grep_file "... the harvester's row" "^harvest.example	3000	[0-9]*	[0-9]*	[0-9]*	1500	20	1480	0.987	watch	" "$T/out"
grep_file "... and the suggestions" "^  scan.example$" "$T/out"
grep_file "... and fedlist watch ls: the harvester watched and suspicious" "^  harvest.example	both	1001	" "$T/out"
# What the demo prints is the same on every run (share/demo/README) but
# for the split the wall clock decides: the flooder's and the
# harvester's accepted and limited counts.  The flooder's is checked
# against the verdict log's own times: 20 (the bucket's burst) and one
# more for every 50 ms its burst took.
cp "$T/out" "$T/demo1"
expect "the demo again, its scratch directory kept" \
    env B="$B" TMPDIR="$T" FEDKIT_DEMO_KEEP=1 sh "$TOP/share/demo/run"
sed '$d' "$T/out" | sed '$d' >"$T/demo2"
dd=$(sed -n 's/^The scratch directory is kept: //p' "$T/out")
norm() {	# the rows of flood.example and harvest.example without their split
	awk -F '\t' -v OFS='\t' '$1 ~ /^(flood|harvest)\.example$/ && NF > 10 {
		$3 = $4 = $5 = $11 = "*" } { print }' "$1"
}
norm "$T/demo1" >"$T/want"
norm "$T/demo2" >"$T/got"
cmp_file "... prints the same, but for the rate limit's split" "$T/want" "$T/got"
[ -n "$dd" ] && awk -F '\t' '$3 == "flood.example" && $6 != "observe" {
	t = $1; sub(/Z$/, "", t); split(t, a, /[T:]/)
	ms = ((a[2] * 60 + a[3]) * 60 + a[4]) * 1000
	if (first == "") first = ms; last = ms
	if ($6 == "accept") n++ }
	END { span = last - first; if (span < 0) span += 86400000
	printf "%d %d\n", n, span
	exit !(n >= 20 && n <= 20 + int(span / 50) + 1) }' "$dd/verdicts.log" >"$T/flood"
ok $? "... the flood's 20, plus one a 50 ms of its burst: $(cat "$T/flood") (accepted, ms)"
