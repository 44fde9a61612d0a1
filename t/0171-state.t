#!/bin/sh
# The partner store shared by many processes (lib/state, LMDB): exact
# counts under concurrency, a kill -9 at any moment, the bounds, every
# legal domain, URI expiry, suspicion, dry run and the format check.
# The store is looked at from outside only (mdb_stat, mdb_dump, statew):
# never by opening its files in a process that has it open.
. "${0%/*}/lib.sh"

need mdb_stat mdb_dump timeout

# run_all N CMD...: N copies of CMD at once (a `%` in an argument is the
# copy's number); fails if any failed.  Output of copy I in $T/run.I.
run_all() {
	_k=$1; shift
	rm -f "$T"/run.*
	_pids= _i=1
	while [ "$_i" -le "$_k" ]; do
		_args=
		for _a in "$@"; do
			case $_a in
			*%*) _a=${_a%%\%*}$_i${_a#*\%} ;;
			esac
			_args="$_args $_a"
		done
		# shellcheck disable=SC2086 # no argument holds a blank
		$_args >"$T/run.$_i" 2>&1 &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	_rc=0
	for _p in $_pids; do wait "$_p" || _rc=1; done
	[ "$_rc" -eq 0 ] || diag "$(cat "$T"/run.*)"
	return "$_rc"
}

# sum WORD FILE...: the sum of the numbers after WORD in statew's output.
sum() {
	_w=$1; shift
	awk -v w="$_w" '$1 == w { s += $2 } END { print s + 0 }' "$@"
}

# entries DIR DB: the entries of one table, read by mdb_stat.
entries() {
	mdb_stat -n -s "$2" "$1/counters.mdb" | awk '/Entries:/ { print $2 }'
}

# doms PREFIX FROM TO: PREFIXFROM.example,...,PREFIXTO.example
doms() { seq -f "$1%g.example" -s, "$2" "$3"; }

# ---- 1. exact counts across processes ----
d=$T/st
expect "a new state_dir" statew "$d" count
grep_file "... holds nothing" '^partners 0 peers 0 uris 0$' "$T/out"
[ -f "$d/format" ] && [ -f "$d/counters.mdb" ] && [ -f "$d/counters.mdb-lock" ]
ok $? "format, counters.mdb and counters.mdb-lock are made"
expect_exit 2 "a bad command line is a usage error" statew "$d" decide x

run_all 8 statew -l 2 "$d" decide contoso.com edge% w% 125 0 1000
ok $? "8 processes at once, each deciding its own 125 URIs twice"
n=$(sum discovered "$T"/run.*) w=$(sum watch "$T"/run.*)
[ "$n" -eq 2000 ] && [ "$w" -eq 0 ]
ok $? "all 2000 requests accepted, none watched ($n, $w)"
n=$(entries "$d" uris)
[ "$n" = 1000 ]; ok $? "exactly 1000 distinct URIs in the store ($n)"
expect "walk" statew "$d" walk
grep_file "the partner holds 1000, not watched" \
    '^contoso.com 1000 0 0 0 0$' "$T/out"
expect "one more new URI" statew -v "$d" decide contoso.com edge1 one-more \
    1 0 1000
grep_file "... crosses max_uris: watch, watch_now" \
    '^contoso.com 0 watch watch_now$' "$T/out"
grep_file "... once" '^watch_now 1$' "$T/out"
expect "walk" statew "$d" walk
grep_file "watched at 1001; its URIs dropped" '^contoso.com 1001 0 0 1 0$' \
    "$T/out"
n=$(entries "$d" uris)
[ "$n" = 0 ]; ok $? "nothing more stored for a watched partner ($n URIs)"
expect "the peers it came from" statew "$d" view contoso.com
n=$(grep -c '^peer edge[1-8]$' "$T/out")
[ "$n" -eq 4 ]; ok $? "the newest 4 of its 8 peers are listed ($n)"

run_all 8 statew "$d" decide fabrikam.com edge% same 100 0 1000
ok $? "8 processes deciding the same 100 URIs"
n=$(entries "$d" uris)
[ "$n" = 100 ]; ok $? "each is counted once ($n)"

# Tokens: 8 processes spend one partner's bucket (20/s, burst 20) for
# about a second.  At most the burst plus 20 a second in the window
# between the first and the last decision, in integers.
run_all 8 statew -T 1000 -l 100000000 "$d" decide tailspin.com edge% same \
    1 20 1000
ok $? "8 processes taking tokens for a second"
a=$(sum discovered "$T"/run.*) r=$(sum rate "$T"/run.*)
first=$(awk '$1 == "first_ms" { print $2 }' "$T"/run.* | sort -n | head -1)
last=$(awk '$1 == "last_ms" { print $2 }' "$T"/run.* | sort -n | tail -1)
span=$((last - first))
diag "accepted $a, limited $r in $span ms"
[ "$((a * 1000))" -le "$((20 * span + 20 * 1000))" ]
ok $? "accepted <= 20 * t + 20 ($a in $span ms)"
[ "$a" -ge 20 ] && [ "$r" -gt 0 ]
ok $? "at least the burst was accepted, and the rest limited ($a, $r)"

# ---- 2. kill -9 at any moment ----
k=$T/kill
expect "a store for the kills" statew "$k" decide seed.example e s 100 0 100000
prev=100 torn=0 back=0 skew=0 i=0
while [ "$i" -lt 20 ]; do
	statew -T 10000 "$k" decide "$(doms "k$i-" 1 50)" e k 20000 0 100000 \
	    >/dev/null 2>&1 &
	pid=$!
	# 10 to 190 ms: some kills land in state_open, most mid-decision.
	sleep "$(printf '0.%03d' $((10 + (i * 37) % 19 * 10)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if mdb_stat -n -a "$k/counters.mdb" >/dev/null 2>"$T/err" &&
	    mdb_dump -n -s partners "$k/counters.mdb" >/dev/null 2>>"$T/err" &&
	    mdb_dump -n -s uris "$k/counters.mdb" >/dev/null 2>>"$T/err"; then
		c=$(entries "$k" uris)
		[ "$c" -ge "$prev" ] || back=$((back + 1))
		prev=$c
		# One transaction a decision: the records' counts and the
		# URI table always agree.
		s=$(statew "$k" walk | awk '{ s += $2 } END { print s + 0 }')
		[ "$s" = "$c" ] || { skew=$((skew + 1)); diag "walk $s, table $c"; }
	else
		torn=$((torn + 1))
		diag "$(cat "$T/err")"
	fi
	i=$((i + 1))
done
[ "$torn" -eq 0 ]
ok $? "after 20 kill -9: the store always reads whole ($torn bad)"
[ "$back" -eq 0 ]; ok $? "the URI count never went back ($back times)"
[ "$skew" -eq 0 ]; ok $? "records and URI table always agree ($skew times)"
[ "$prev" -gt 100 ]; ok $? "the killed processes made progress ($prev URIs)"
# Four writers killed at once: one of them holds the write lock.
pids= i=1
while [ "$i" -le 4 ]; do
	statew -T 10000 "$k" decide "four$i.example" e f 1000000 0 100000 \
	    >/dev/null 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
sleep 0.2
for p in $pids; do kill -9 "$p" 2>/dev/null; done
for p in $pids; do wait "$p" 2>/dev/null; done
expect "after killing 4 writers at once, a new process still decides" \
    timeout 20 statew "$k" decide after.example e a 1 0 100000
grep_file "... and accepts" '^discovered 1$' "$T/out"
expect "and the store reads whole" mdb_stat -n -a "$k/counters.mdb"

# ---- 3. max_partners: 50 held, whatever comes ----
# The idle index counts whole seconds: -t moves statew's clock on, so
# the partners touched later are younger by seconds, never tied.
b=$T/bounds
expect "50 partners" statew -P 50 -c "$b" decide "$(doms p 1 50)" edge \
    u 1 20 100
grep_file "... all accepted" '^discovered 50$' "$T/out"
expect "2 s later, 10 of them again" statew -P 50 -t 2000 "$b" decide \
    "$(doms p 1 10)" edge u 1 20 100
grep_file "... accepted" '^discovered 10$' "$T/out"
expect "2 s later, 10 new ones" statew -P 50 -t 4000 -c "$b" decide \
    "$(doms n 1 10)" edge u 1 20 100
grep_file "... accepted" '^discovered 10$' "$T/out"
grep_file "... never more than 50 held" '^held_max 50$' "$T/out"
expect "walk" statew "$b" walk
n=$(wc -l <"$T/out")
t10=$(grep -c -E '^p([1-9]|10)\.example ' "$T/out")
new=$(grep -c '^n[0-9]*\.example ' "$T/out")
old=$(grep -c -E '^p(1[1-9]|[2-4][0-9]|50)\.example ' "$T/out")
[ "$n" -eq 50 ] && [ "$t10" -eq 10 ] && [ "$new" -eq 10 ] && [ "$old" -eq 30 ]
ok $? "the 10 dropped were among the 40 untouched ($n held:\
 $t10 touched, $new new, $old untouched)"
expect "140 more" statew -P 50 -t 6000 -c "$b" decide "$(doms q 1 140)" edge \
    u 1 20 100
grep_file "... all accepted" '^discovered 140$' "$T/out"
grep_file "... 200 partners in all, never more than 50 held" '^held_max 50$' \
    "$T/out"
expect "count" statew "$b" count
grep_file "... 50 partners" '^partners 50 ' "$T/out"

b=$T/bounds2
expect "5 watched partners" statew -P 50 "$b" decide "$(doms w 1 5)" edge \
    u 1 20 0
grep_file "... watched at their first URI (max_uris 0)" '^watch_now 5$' "$T/out"
expect "5 more" statew -P 50 "$b" decide "$(doms s 1 5)" edge u 1 20 100
expect "... made suspicious" statew -P 50 "$b" respond "$(doms s 1 5)" 0 20
expect "2 s later, 40 plain ones" statew -P 50 -t 2000 "$b" decide \
    "$(doms f 1 40)" edge u 1 20 100
expect "2 s later, 60 new ones" statew -P 50 -t 4000 -c "$b" decide \
    "$(doms g 1 60)" edge u 1 20 100
grep_file "... all accepted" '^discovered 60$' "$T/out"
grep_file "... never more than 50 held" '^held_max 50$' "$T/out"
expect "walk" statew "$b" walk
w=$(grep -c -E '^w[1-5]\.example [0-9]+ [0-9]+ [0-9]+ 1 0$' "$T/out")
s=$(grep -c -E '^s[1-5]\.example [0-9]+ [0-9]+ [0-9]+ 0 1$' "$T/out")
f=$(grep -c '^f' "$T/out")
[ "$w" -eq 5 ] && [ "$s" -eq 5 ] && [ "$f" -eq 0 ]
ok $? "the oldest, watched or suspicious, were never dropped ($w watched,\
 $s suspicious, $f plain left)"

b=$T/bounds3
expect "25 watched" statew -P 50 "$b" decide "$(doms x 1 25)" edge u 1 20 0
expect "25 suspicious" statew -P 50 "$b" decide "$(doms y 1 25)" edge u 1 20 100
expect "..." statew -P 50 "$b" respond "$(doms y 1 25)" 0 20
expect "a new partner when all 50 are watched or suspicious" \
    statew -P 50 -t 2000 -v "$b" decide z1.example edge u 1 20 100
grep_file "... is refused: new_partners" '^z1.example 0 new_partners$' "$T/out"
expect "count" statew "$b" count
grep_file "... and gets no state" '^partners 50 ' "$T/out"
expect "an operator clears one" statew "$b" clear x1.example
grep_file "..." '^cleared 1$' "$T/out"
expect "the new partner again" statew -P 50 -t 3000 "$b" decide z1.example \
    edge u 1 20 100
grep_file "... has room now" '^discovered 1$' "$T/out"

# ---- 4. max_new_partners per peer ----
n=$T/newp
expect "6 new domains from one peer" statew -N 5 -p 60 -v "$n" decide \
    "$(doms a 1 6)" edgeA u 1 20 100
grep_file "... 5 accepted" '^discovered 5$' "$T/out"
grep_file "... the 6th refused: new_partners" '^a6.example 0 new_partners$' \
    "$T/out"
expect "count" statew "$n" count
grep_file "... which got no state" '^partners 5 ' "$T/out"
expect "a known partner from that peer" statew -N 5 -p 60 "$n" decide \
    a1.example edgeA v 1 20 100
grep_file "... is decided as usual" '^discovered 1$' "$T/out"
expect "a new domain from another peer" statew -N 5 -p 60 "$n" decide \
    b1.example edgeB u 1 20 100
grep_file "... is accepted" '^discovered 1$' "$T/out"
expect "two ports of one host (one peer_key)" statew -N 5 -p 60 -K 192.0.2.9 \
    "$n" decide "$(doms c 1 5)" 192.0.2.9:5061 u 1 20 100
expect "..." statew -N 5 -p 60 -K 192.0.2.9 "$n" decide c6.example \
    192.0.2.9:5062 u 1 20 100
grep_file "... share one count" '^new_partners 1$' "$T/out"
expect "after report_period (60 s on its clock)" \
    statew -N 5 -p 60 -t 60100 "$n" decide a6.example edgeA u 1 20 100
grep_file "... the first peer may bring new ones again" '^discovered 1$' \
    "$T/out"

# ---- 5. every legal domain ----
l63=$(printf '%063d' 0 | tr 0 a)
d253=$l63.$l63.$l63.$(printf '%061d' 0 | tr 0 b)
d254=${d253}c
[ "${#d253}" -eq 253 ] && [ "${#d254}" -eq 254 ]
ok $? "a 253-octet domain of 63-octet labels, and one of 254"
dd=$T/long
expect "a 253-octet domain is decided" statew "$dd" decide "$d253" edge \
    u 1 20 100
grep_file "... and accepted" '^discovered 1$' "$T/out"
expect "... responses counted" statew "$dd" respond "$d253" 2 1
expect "... listed" statew "$dd" walk
grep_file "... whole" "^$d253 1 2 1 0 0\$" "$T/out"
expect "... viewed" statew "$dd" view "$d253"
grep_file "... with its peer" '^peer edge$' "$T/out"
expect "... cleared" statew "$dd" clear "$d253"
grep_file "... it had state" '^cleared 1$' "$T/out"
expect "count" statew "$dd" count
grep_file "... it is gone" '^partners 0 peers 1 uris 0$' "$T/out"
expect_exit 1 "a 254-octet domain is an error" statew "$dd" decide "$d254" \
    edge u 1 20 100
grep_file "... saying why" 'longer than 253' "$T/err"
expect "a response for it" statew "$dd" respond "$d254" 1 1
expect "clearing it" statew "$dd" clear "$d254"
grep_file "... had no state" '^cleared 0$' "$T/out"
expect "count" statew "$dd" count
grep_file "... and none was made" '^partners 0 ' "$T/out"

# ---- 6. URI expiry (report_period 12 s: slots of 1 s) ----
e=$T/expiry
expect "5 URIs" statew -p 12 "$e" decide e.example edge old 5 0 100
expect "6 s later, 4 more" statew -p 12 -t 6000 "$e" decide e.example edge \
    mid 4 0 100
expect "12 s later, one more" statew -p 12 -t 12000 "$e" decide e.example \
    edge new1 1 0 100
expect "walk" statew "$e" walk
grep_file "a period after the first, within a slot more: all 10 count" \
    '^e.example 10 ' "$T/out"
expect "14 s later, one more" statew -p 12 -t 14000 "$e" decide e.example \
    edge new2 1 0 100
expect "walk" statew "$e" walk
grep_file "the 5 first seen more than a period and a slot ago are gone" \
    '^e.example 6 ' "$T/out"
n=$(entries "$e" uris)
[ "$n" = 6 ]; ok $? "... from the store too ($n)"
expect "an expired URI is new again" statew -p 12 -t 14000 "$e" decide \
    e.example edge old 1 0 6
grep_file "... and crosses max_uris 6" '^watch_now 1$' "$T/out"
expect "a tick two periods later" statew -p 12 -t 40000 "$e" tick
expect "count" statew "$e" count
grep_file "... swept the idle partner and peer" '^partners 0 peers 0 uris 0$' \
    "$T/out"

# ---- 7. responses and suspicion ----
r=$T/resp
walked() {	# walked DESC PATTERN: statew walk, and a line of it matches
	expect "walk" statew "$r" walk
	grep_file "$1" "$2" "$T/out"
}
expect "a store" statew "$r" decide s.example edge u 1 20 100
expect "responses for a partner without state" statew "$r" respond \
    nobody.example 3 30
expect "view" statew "$r" view nobody.example
grep_file "... make none" '^none$' "$T/out"
expect "count" statew "$r" count
grep_file "... really" '^partners 1 ' "$T/out"
expect "19 failures" statew "$r" respond s.example 0 19
walked "... not suspicious yet (suspect_min 20)" '^s.example 1 0 19 0 0$'
expect "one more" statew "$r" respond s.example 0 1
walked "... suspicious" '^s.example 1 0 20 0 1$'
expect "5 requests at once" statew -l 5 "$r" decide s.example edge u 1 20 100
grep_file "... one accepted (burst capped to suspicious_rate)" \
    '^discovered 1$' "$T/out"
grep_file "... 4 limited as suspicious" '^suspicious 4$' "$T/out"
expect "20 successes" statew "$r" respond s.example 20 0
walked "... a share of 0.5: still suspicious" '^s.example 1 20 20 0 1$'
expect "the 21st" statew "$r" respond s.example 1 0
walked "... no longer" '^s.example 1 21 20 0 0$'

# ---- 8. dry run ----
mkdir "$T/drytmp" || exit 1
expect "dry run on a state_dir that does not exist" env TMPDIR="$T/drytmp" \
    statew -n "$T/none/st" decide a.example edge u 1 20 100
grep_file "... decides" '^discovered 1$' "$T/out"
[ ! -e "$T/none" ] && [ -z "$(ls -A "$T/drytmp")" ]
ok $? "... and creates nothing, here or under TMPDIR"

y=$T/dry
expect "a partner at 999 URIs" statew "$y" decide big.example edge u 999 0 1000
grep_file "..." '^discovered 999$' "$T/out"
sleep 0.05	# a write after this would show in the mtimes
mdb_stat -n -e -a "$y/counters.mdb" | grep -v -i reader >"$T/stat.before"
stat -c '%n %y %s' "$y/counters.mdb" "$y/format" >"$T/mtime.before"
stat -c '%y' "$y/counters.mdb-lock" >"$T/lock.before"
expect "dry run: its 999 URIs" env TMPDIR="$T/drytmp" statew -n "$y" decide \
    big.example edge u 999 0 1000
grep_file "... are all known: accepted" '^discovered 999$' "$T/out"
expect "dry run: 2 new URIs" env TMPDIR="$T/drytmp" statew -n -v "$y" decide \
    big.example edge new 2 0 1000
grep_file "... the first is accepted" '^big.example 0 discovered$' "$T/out"
grep_file "... the second crosses max_uris" '^big.example 1 watch watch_now$' \
    "$T/out"
expect "dry run: 40 failures" env TMPDIR="$T/drytmp" statew -n "$y" \
    respond big.example 0 40
expect "dry run: walk" env TMPDIR="$T/drytmp" statew -n "$y" walk
grep_file "... reads the real store" '^big.example 999 0 0 0 0$' "$T/out"
mdb_stat -n -e -a "$y/counters.mdb" | grep -v -i reader >"$T/stat.after"
stat -c '%n %y %s' "$y/counters.mdb" "$y/format" >"$T/mtime.after"
cmp_file "the store is unchanged (mdb_stat: last transaction, entries)" \
    "$T/stat.before" "$T/stat.after"
cmp_file "counters.mdb and format were not written (mtimes)" \
    "$T/mtime.before" "$T/mtime.after"
# A read-only LMDB reader takes a slot in the lock file's reader table, so
# its mtime may move; that is no change to the store.
stat -c '%y' "$y/counters.mdb-lock" >"$T/lock.after"
cmp -s "$T/lock.before" "$T/lock.after" ||
    diag "counters.mdb-lock's mtime moved (a reader slot)"
[ -z "$(ls -A "$T/drytmp")" ]; ok $? "the dry runs left nothing under TMPDIR"
expect "walk" statew "$y" walk
grep_file "... the real partner still has 999 URIs, no watch" \
    '^big.example 999 0 0 0 0$' "$T/out"

# ---- 9. the format file ----
mkdir -p "$T/v1/partners" "$T/v9" || exit 1
echo "fedkit-state 1" >"$T/v1/format"
echo "fedkit-state 9" >"$T/v9/format"
expect_exit 1 "a state_dir of version 1 (a file per partner) is refused" \
    statew "$T/v1" count
grep_file "... naming version 1" 'state format version 1' "$T/err"
grep_file "... and what to do" "move $T/v1 aside" "$T/err"
[ ! -e "$T/v1/counters.mdb" ]; ok $? "... making no store"
expect_exit 1 "a state_dir of version 9 is refused" statew "$T/v9" count
grep_file "... naming version 9" \
    'state format version 9, this fedkit reads version 2' "$T/err"
