#!/bin/sh
# The edge pool (fedkit(7) POOL): three pipe-mode fedgate "hosts", each
# with its own state_dir, lists and log, sharing one real redis-server on
# 127.0.0.1: distinct URIs exact pool-wide, one URI hash key, one watch
# list, one bucket, suspicion counted on one host and felt on another,
# each set against what hosts deciding alone would do; fedlist and
# fedstat over the pool; Redis killed and restarted under running
# fedgates (redis_down = local and refuse); a password, IPv6, a unix
# socket; bad redis values in fed.conf.
# Every redis-server and fedgate is stopped at exit; every wait bounded.
. "${0%/*}/lib.sh"
need redis-server redis-cli mdb_stat

test_ports 2
RP=$base PWP=$((base + 1))
R=$T/redis RPW=$T/redis-pw RS=$T/redis-sock
POOL="redis = 127.0.0.1:$RP"
stop_peers() {	# the fedgates reading the fifos first, then each Redis
	exec 7>&- 8>&-
	stop_all
	for d in "$R" "$RPW" "$RS"; do redis_stop "$d"; done
}
at_exit stop_peers

host() { gate_conf "$@"; }	# host NAME [FED.CONF-LINE...]: $T/NAME.conf, files in $T/NAME
count() {	# count VERDICT REASON LOG...: request lines with that verdict
	_v=$1 _r=$2; shift 2
	awk -F '\t' -v v="$_v" -v r="$_r" '$6 == v && $7 == r' "$@" | wc -l
}
verdict() {	# verdict LOG CALL-ID: "VERDICT REASON CODE" of that request
	awk -F '\t' -v c="$2" '$9 == c { print $6, $7, $8 }' "$1" 2>/dev/null
}
logged() {	# logged LOG CALL-ID: the request has its line
	[ -n "$(verdict "$1" "$2")" ]
}
local_uris() {	# local_uris HOST: distinct URIs in the host's own LMDB store
	mdb_stat -n -s uris "$T/$1/state/counters.mdb" 2>/dev/null |
	    awk '$1 == "Entries:" { print $2 }'
}
rcli() { redis-cli -h 127.0.0.1 -p "$RP" "$@"; }
# runall CONF-PREFIX: hosts PREFIX1..3 each read $T/PREFIXn.in, at once
runall() {
	_pids=
	for _i in 1 2 3; do
		fedgate -c "$T/$1$_i.conf" <"$T/$1$_i.in" >/dev/null \
		    2>"$T/$1$_i.err" & _pids="$_pids $!"
	done
	_rc=0
	for _p in $_pids; do wait "$_p" || _rc=1; done
	return $_rc
}

redis_start "$RP" "$R"
ok $? "redis-server answers on 127.0.0.1:$RP"

# ---- 1. a harvester over three hosts: 1,000 distinct URIs pool-wide ----
# 1,500 distinct URIs, 500 to each host, all three at once; the bucket
# out of the way (discovered_rate high).
for i in 1 2 3; do
	host "h$i" "$POOL" "discovered_rate = 1000000"
	host "l$i" "discovered_rate = 1000000"		# deciding alone
	sipmsg -n 500 -s $(((i - 1) * 500)) -f sip:p@harv.example \
	    -r 'sip:u%d@example.com' -c "h$i-" >"$T/h$i.in"
	cp "$T/h$i.in" "$T/l$i.in"
done
runall h; ok $? "three pooled fedgates on 1,500 URIs all exit 0"
H="$T/h1/log $T/h2/log $T/h3/log"
a=$(count accept discovered $H) w=$(count refuse watch $H)
[ "$a" -eq 1000 ]; ok $? "exactly 1,000 accepted pool-wide ($a)"
[ "$w" -eq 500 ]; ok $? "... and 500 refused watch ($w)"
n=$(cat $H | wc -l)
[ "$n" -eq 1500 ]; ok $? "one log line a request over the three hosts ($n)"
awk -F '\t' '$7 == "watch" && $8 != "403"' $H >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "every watch refusal is a 403"
for i in 1 2 3; do grep -v '^$' "$T/h$i.err"; done >"$T/errs"
[ ! -s "$T/errs" ]; ok $? "no host warned (Redis was there)"
u=$(( $(local_uris h1) + $(local_uris h2) + $(local_uris h3) ))
[ "$u" -eq 0 ]; ok $? "no host counted a URI in its own store ($u)"
runall l; ok $? "the same on three hosts deciding alone exits 0"
L="$T/l1/log $T/l2/log $T/l3/log"
a=$(count accept discovered $L) w=$(count refuse watch $L)
[ "$a" -eq 1500 ] && [ "$w" -eq 0 ]
ok $? "... where each counts its own 500: 1,500 accepted, none watched ($a, $w)"

# The same 1,000 URIs through every host at once count once: the URI
# hashes are keyed alike on every host (the pool's hash key).
for i in 1 2 3; do
	sipmsg -n 1000 -f sip:p@same.example -r 'sip:u%d@example.com' \
	    -c "s$i-" >"$T/h$i.in"
done
runall h; ok $? "three pooled fedgates on the same 1,000 URIs all exit 0"
a=$(awk -F '\t' '$3 == "same.example" && $6 == "accept"' $H | wc -l)
[ "$a" -eq 3000 ]; ok $? "... all 3,000 accepted, nobody watched ($a)"
sipmsg -n 1 -s 1000 -f sip:p@same.example -r 'sip:u%d@example.com' -c s3- >"$T/in" &&
fedgate -c "$T/h3.conf" <"$T/in" >/dev/null 2>"$T/err" &&
v=$(verdict "$T/h3/log" s3-1000@partner.example) &&
[ "$v" = "refuse watch 403" ]; ok $? "... and the 1,001st distinct URI is refused watch ($v)"

# ---- 9. fedstat over the three hosts' logs ----
fedstat "$T/h1/log" "$T/h2/log" "$T/h3/log" >"$T/stat" 2>"$T/err"
ok $? "fedstat reads the three hosts' logs"
# partner messages accepted limited refused uris ... state (10th)
awk -F '\t' '$1 == "harv.example" { print $2, $3, $4, $5, $6, $10 }' \
    "$T/stat" >"$T/got"
echo "1500 1000 0 500 1500 watch" >"$T/want"
cmp_file "... harv.example: 1,500 tried, 1,000 accepted, 500 refused, 1,500 distinct URIs, watch" \
    "$T/want" "$T/got"

# ---- 2. a watch through one host refuses on the others ----
for i in 1 2 3; do
	given fedlist -c "$T/h$i.conf" watch ls &&
	awk -F '\t' '$1 == "harv.example" { print $2 }' "$T/given.out" >"$T/got"
	echo watch >"$T/want"
	cmp_file "fedlist watch ls on host $i lists harv.example as watch" \
	    "$T/want" "$T/got"
done
# w.example: 1,001 distinct URIs through host 1 alone
sipmsg -n 1001 -f sip:p@w.example -r 'sip:u%d@example.com' -c w1- >"$T/in" &&
fedgate -c "$T/h1.conf" <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(verdict "$T/h1/log" w1-1000@partner.example)" = "refuse watch 403" ]
ok $? "host 1 watches w.example at its 1,001st URI"
# host 3 has never seen it: a URI host 1 accepted is refused there
sipmsg -n 1 -s 7 -f sip:p@w.example -r 'sip:u%d@example.com' -c w3- >"$T/in" &&
fedgate -c "$T/h3.conf" <"$T/in" >/dev/null 2>"$T/err" &&
v=$(verdict "$T/h3/log" w3-7@partner.example) &&
[ "$v" = "refuse watch 403" ]; ok $? "... and host 3 refuses it: $v"
fedgate -c "$T/l3.conf" <"$T/in" >/dev/null 2>"$T/err" &&
v=$(verdict "$T/l3/log" w3-7@partner.example) &&
[ "$v" = "accept discovered -" ]; ok $? "(a host deciding alone accepts it: $v)"
for i in 1 2 3; do
	given fedlist -c "$T/h$i.conf" watch ls && mv "$T/given.out" "$T/wls$i"
done
for i in 1 2 3; do awk -F '\t' '$1 == "w.example" { print $2 }' "$T/wls$i"; done >"$T/got"
printf 'watch\nwatch\nwatch\n' >"$T/want"
cmp_file "fedlist watch ls lists w.example as watch on every host" "$T/want" "$T/got"
expect_exit 1 "fedlist check w.example on host 2 exits 1" fedlist -c "$T/h2.conf" check w.example
cut -f 1-3 "$T/out" >"$T/got"
printf 'w.example\trefuse\twatch\n' >"$T/want"
cmp_file "... says refuse watch" "$T/want" "$T/got"
expect "fedlist watch clear w.example on host 2" fedlist -c "$T/h2.conf" watch clear w.example
given fedlist -c "$T/h1.conf" watch ls && {
	grep -q '^w\.example	' "$T/given.out"; [ $? -eq 1 ]
}
ok $? "... lifts it on host 1's list"
sipmsg -n 1 -s 8 -f sip:p@w.example -r 'sip:u%d@example.com' -c w3- >"$T/in" &&
fedgate -c "$T/h3.conf" <"$T/in" >/dev/null 2>"$T/err" &&
v=$(verdict "$T/h3/log" w3-8@partner.example) &&
[ "$v" = "accept discovered -" ]; ok $? "... and host 3 accepts it again: $v"
given fedlist -c "$T/h1.conf" check w.example &&
cut -f 1-3 "$T/given.out" >"$T/got"
printf 'w.example\taccept\tdiscovered\n' >"$T/want"
cmp_file "... and fedlist check on host 1 says accept" "$T/want" "$T/got"

# ---- 3. a burst over three hosts: one bucket ----
# 200 requests each to one URI, default discovered_rate (20, burst 20);
# the first sent before the clock starts, the last read after it stops.
for i in 1 2 3; do
	host "b$i" "$POOL"
	host "c$i"			# deciding alone
	sipmsg -n 200 -f sip:p@flood.example -r sip:bob@example.com \
	    -c "b$i-" >"$T/b$i.in"
	cp "$T/b$i.in" "$T/c$i.in"
done
t0=$(date +%s%N)
runall b; rc=$?
t1=$(date +%s%N)
ok $rc "three pooled fedgates on a burst of 600 all exit 0"
ms=$(( (t1 - t0) / 1000000 ))
B="$T/b1/log $T/b2/log $T/b3/log"
a=$(count accept discovered $B) l=$(count limit rate $B)
max=$(( 20 + 20 * ms / 1000 + 1 ))
[ "$a" -ge 20 ] && [ "$a" -le "$max" ]
ok $? "one bucket pool-wide: $a accepted in $ms ms (20 to $max)"
[ $((a + l)) -eq 600 ]; ok $? "... the rest limited rate ($l)"
t0=$(date +%s%N)
runall c; rc=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
a=$(count accept discovered "$T/c1/log" "$T/c2/log" "$T/c3/log")
max=$(( 60 + 60 * ms / 1000 + 3 ))
[ "$rc" -eq 0 ] && [ "$a" -ge 60 ] && [ "$a" -le "$max" ]
ok $? "(three hosts deciding alone: three buckets, $a accepted in $ms ms, 60 to $max)"

# ---- 4. suspicion counted on one host, felt on another ----
# 30 requests, each answered 404 by our server, through host 1 (rate
# high: all accepted); its response counts reach Redis in a batch (at
# the latest when it exits).
sipmsg -n 30 -f sip:p@susp.example -r 'sip:u%d@example.com' -R 404 -c s1- >"$T/in"
fedgate -c "$T/h1.conf" <"$T/in" >/dev/null 2>"$T/err"
ok $? "host 1 reads 30 requests answered 404"
o=$(awk -F '\t' '$3 == "susp.example" && $6 == "observe"' "$T/h1/log" | wc -l)
[ "$o" -eq 30 ]; ok $? "... and observes the 30 responses ($o)"
# host 2, which has seen none of them: suspicious_rate (1) applies
sipmsg -n 3 -s 100 -f sip:p@susp.example -r 'sip:u%d@example.com' -c s2- >"$T/in" &&
fedgate -c "$T/h2.conf" <"$T/in" >/dev/null 2>"$T/err" &&
s=$(count limit suspicious "$T/h2/log") &&
[ "$s" -ge 2 ]; ok $? "host 2 limits susp.example as suspicious ($s of 3)"
fedgate -c "$T/l2.conf" <"$T/in" >/dev/null 2>"$T/err"
a=$(awk -F '\t' '$3 == "susp.example" && $6 == "accept"' "$T/l2/log" | wc -l)
[ "$a" -eq 3 ]; ok $? "(a host deciding alone accepts all 3: $a)"
given fedlist -c "$T/h3.conf" watch ls &&
awk -F '\t' '$1 == "susp.example" { print $2 }' "$T/given.out" >"$T/got"
echo suspicious >"$T/want"
cmp_file "fedlist watch ls on host 3 lists susp.example as suspicious" "$T/want" "$T/got"

# ---- 5. Redis killed and restarted under running fedgates ----
# Host k decides on its own store while Redis is down (redis_down =
# local, the default), host r answers 503; both read a fifo the test
# writes one request at a time.
host k "$POOL"
host r "$POOL" "redis_down = refuse"
fifo_gate 7 "$T/k.conf" "$T/k.err" && kpid=$gate_pid &&
fifo_gate 8 "$T/r.conf" "$T/r.err" && rpid=$gate_pid
seq=0
send() {	# send k|r DOMAIN URI-INDEX: one request, Call-ID $id
	seq=$((seq + 1)) id=live$seq@partner.example
	if [ "$1" = k ]; then
		sipmsg -n 1 -s "$seq" -f "sip:p@$2" -r "sip:u$3@example.com" -c live >&7
	else
		sipmsg -n 1 -s "$seq" -f "sip:p@$2" -r "sip:u$3@example.com" -c live >&8
	fi
	wait_for 5 logged "$T/$1/log" "$id"
}
send k live.example 1; v=$(verdict "$T/k/log" "$id")
[ "$v" = "accept discovered -" ]; ok $? "host k, Redis up: accepted ($v)"
send r live.example 1; v=$(verdict "$T/r/log" "$id")
[ "$v" = "accept discovered -" ]; ok $? "host r, Redis up: accepted ($v)"
redis_stop "$R" KILL
! redis_answers "$RP" "$R"; ok $? "redis-server killed"
down_ok=0 down_r=0
for u in 2 3 4; do	# three new URIs, decided on k's own store
	send k live.example "$u"
	[ "$(verdict "$T/k/log" "$id")" = "accept discovered -" ] &&
	    down_ok=$((down_ok + 1))
	send r live.example "$u"
	[ "$(verdict "$T/r/log" "$id")" = "limit pool_down 503" ] &&
	    down_r=$((down_r + 1))
done
[ "$down_ok" -eq 3 ]; ok $? "Redis down, redis_down = local: decisions go on, accepted ($down_ok of 3)"
[ "$down_r" -eq 3 ]; ok $? "Redis down, redis_down = refuse: limit pool_down 503 ($down_r of 3)"
expect_exit 3 "fedlist watch ls while Redis is down fails" fedlist -c "$T/k.conf" watch ls
grep_file "... saying why" \
    "^fedlist: redis 127.0.0.1:$RP: .*(the pool's state cannot be read)\$" "$T/err"
[ ! -s "$T/out" ]; ok $? "... printing nothing"
expect_exit 1 "fedlist check with redis_down = refuse: exit 1" fedlist -c "$T/r.conf" check live.example
cut -f 1-4 "$T/out" >"$T/got"
printf 'live.example\tlimit\tpool_down\t503\n' >"$T/want"
cmp_file "... limit pool_down 503, as fedgate answers" "$T/want" "$T/got"
expect_exit 0 "fedlist check with redis_down = local: this host's own store, accept" \
    fedlist -c "$T/k.conf" check live.example
# The warning comes with the next input a process reads at the latest.
send k live.example 2; send r live.example 2
pat="^fedgate: redis 127.0.0.1:$RP: [^;]*[a-z][^;]*; "
wait_for 3 grep -q "$pat"'deciding on this host' "$T/k.err"
grep_file "host k says why and that it decides on its own store" \
    "${pat}deciding on this host's own store until it is back (redis_down = local)\$" "$T/k.err"
grep_file "host r says why and that it answers 503" \
    "${pat}answering 503 until it is back (redis_down = refuse)\$" "$T/r.err"
redis_start "$RP" "$R"
ok $? "redis-server restarted on the same port"
# The backoff is at most 8 s: one request each every 0.2 s (URI 2, which
# host k counted already) until both say Redis is back, at most 12 s.
t0=$(date +%s%N)
i=0
while [ "$i" -lt 60 ]; do
	grep -q 'back; deciding on the pool again' "$T/k.err" &&
	    grep -q 'back; deciding on the pool again' "$T/r.err" && break
	send k live.example 2; send r live.example 2
	sleep 0.2; i=$((i + 1))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep_file "host k says Redis is back (after $ms ms)" \
    "^fedgate: redis 127.0.0.1:$RP: back; deciding on the pool again\$" "$T/k.err"
grep_file "host r says Redis is back" \
    "^fedgate: redis 127.0.0.1:$RP: back; deciding on the pool again\$" "$T/r.err"
[ "$ms" -le 9000 ]; ok $? "... within the 8 s backoff ($ms ms)"
n=$(grep -c "deciding on this host's own store" "$T/k.err")
[ "$n" -eq 1 ]; ok $? "host k said the outage once ($n)"
# Pooled again: a watch set by another host refuses on k and r.
sipmsg -n 1001 -f sip:p@w5.example -r 'sip:u%d@example.com' -c w5- >"$T/in" &&
fedgate -c "$T/h2.conf" <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(verdict "$T/h2/log" w5-1000@partner.example)" = "refuse watch 403" ]
ok $? "host 2 watches w5.example"
send k w5.example 1; v=$(verdict "$T/k/log" "$id")
[ "$v" = "refuse watch 403" ]; ok $? "... and host k, pooled again, refuses it ($v)"
send r w5.example 1; v=$(verdict "$T/r/log" "$id")
[ "$v" = "refuse watch 403" ]; ok $? "... and so does host r ($v)"
send k live.example 9; v=$(verdict "$T/k/log" "$id")
[ "$v" = "accept discovered -" ]; ok $? "host k accepts a new URI of live.example ($v)"
c=$(rcli zcard '{fedkit}:u:live.example')
[ "$c" -ge 1 ]; ok $? "... counted in the restarted Redis ($c URIs)"
fifo_gate_end 7 "$kpid"; ok $? "host k exits 0 at end of input"
fifo_gate_end 8 "$rpid"; ok $? "host r exits 0 at end of input"
# k's own store holds exactly the three URIs of the outage (URI 2 sent
# again after it, 1 and 9 pooled); r's nothing.
u=$(local_uris k)
[ "$u" -eq 3 ]; ok $? "host k's own store counted the outage's 3 URIs, none pooled ($u)"
u=$(local_uris r)
[ "${u:-0}" -eq 0 ]; ok $? "host r's own store counted nothing (${u:-0})"

# ---- 5b. Redis restarted between two requests; a quiet pipe ----
# A connection Redis closed (its restart) is made again at once: the next
# request is pooled, not taken for an outage.  A pipe whose input is
# quiet still sends its response counts within a second or two.
host q "$POOL" "redis_down = refuse"
fifo_gate 7 "$T/q.conf" "$T/q.err"
sendq() {	# sendq DOMAIN URI-INDEX [sipmsg-ARG...]
	_d=$1 _u=$2; shift 2
	seq=$((seq + 1)) id=live$seq@partner.example
	sipmsg -n 1 -s "$seq" -f "sip:p@$_d" -r "sip:u$_u@example.com" -c live "$@" >&7
	wait_for 5 logged "$T/q/log" "$id"
}
sendq quiet.example 1; v=$(verdict "$T/q/log" "$id")
[ "$v" = "accept discovered -" ]; ok $? "host q, Redis up: accepted ($v)"
redis_stop "$R" && redis_start "$RP" "$R"
ok $? "redis-server restarted (TERM) between two requests"
# Host q answers 503 whenever the pool cannot decide (refuse): an accept
# is the restarted Redis's.
sendq quiet.example 2; v=$(verdict "$T/q/log" "$id")
[ "$v" = "accept discovered -" ]
ok $? "... the next request is pooled at once, not refused pool_down ($v)"
sendq quiet.example 3 -R 404
t0=$(date +%s%N)
wait_for 5 sh -c "redis-cli -h 127.0.0.1 -p $RP hlen '{fedkit}:r:quiet.example' | grep -qv '^0\$'"
ok $? "a response with nothing after it reaches Redis while the input is quiet ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
fifo_gate_end 7 "$gate_pid"; ok $? "host q exits 0 at end of input"

# ---- 5c. a full Redis is down too ----
# Under maxmemory with noeviction Redis refuses the script (OOM): an
# outage as configured, with Redis's words, never a stop.
rcli config set maxmemory 1 >/dev/null && rcli config set maxmemory-policy noeviction >/dev/null
ok $? "Redis made full (maxmemory 1 byte, noeviction)"
sipmsg -n 5 -f sip:p@full.example -r 'sip:u%d@example.com' -c full- >"$T/in"
fedgate -c "$T/k.conf" <"$T/in" >/dev/null 2>"$T/err"
ok $? "host k decides 5 requests on a full Redis: exit 0"
n=$(awk -F '\t' '$3 == "full.example" && $6 == "accept"' "$T/k/log" | wc -l)
[ "$n" -eq 5 ]; ok $? "... all accepted on its own store ($n of 5)"
grep_file "... saying Redis refused for memory" \
    "^fedgate: redis 127.0.0.1:$RP: OOM command not allowed.*; deciding on this host's own store" "$T/err"
rcli config set maxmemory 0 >/dev/null

# ---- 5d. fedgate -n on a pool ----
# A dry run pulls each partner from the pool into a private store and
# counts there: it decides as a real run would, and writes nothing to
# Redis.  dryp.example has 500 URIs in the pool; 700 more from the 400th
# (100 of them known) reach max_uris after 600.
host d "$POOL" "discovered_rate = 1000000"
sipmsg -n 500 -f sip:p@dryp.example -r 'sip:u%d@example.com' -c dp- >"$T/in"
fedgate -c "$T/d.conf" <"$T/in" >/dev/null 2>"$T/err"
ok $? "host d counts 500 URIs of dryp.example in the pool"
rcli --scan --pattern '*' | sort >"$T/keys.before"
sipmsg -n 700 -s 400 -f sip:p@dryp.example -r 'sip:u%d@example.com' -c dn- >"$T/in"
fedgate -n -c "$T/d.conf" <"$T/in" >/dev/null 2>"$T/err"
ok $? "fedgate -n on the pool: exit 0"
a=$(awk -F '\t' '$9 ~ /^dn-/ && $6 == "accept"' "$T/d/log" | wc -l)
w=$(awk -F '\t' '$9 ~ /^dn-/ && $7 == "watch"' "$T/d/log" | wc -l)
[ "$a" -eq 600 ] && [ "$w" -eq 100 ]
ok $? "... counts on from the pool's 500: 600 accepted, 100 refused watch ($a, $w)"
c=$(rcli zcard '{fedkit}:u:dryp.example')
[ "$c" -eq 500 ]; ok $? "... and the pool still holds 500 ($c)"
rcli --scan --pattern '*' | sort >"$T/keys.after"
cmp_file "... and no key was added" "$T/keys.before" "$T/keys.after"
rcli hexists '{fedkit}:watch' dryp.example >"$T/got"
echo 0 >"$T/want"
cmp_file "... nor a watch" "$T/want" "$T/got"

# ---- 6. redis_password ----
redis_start "$PWP" "$RPW" --requirepass s3cret-word --bind '127.0.0.1 ::1'
ok $? "redis-server with a password on 127.0.0.1:$PWP and [::1]:$PWP"
host p "redis = 127.0.0.1:$PWP" "redis_password = s3cret-word"
host q "redis = 127.0.0.1:$PWP" "redis_password = wrong-word"
host n "redis = 127.0.0.1:$PWP"
# right_password HOST DOMAIN DESC: one request of DOMAIN through HOST is
# accepted without a warning, and decided in the Redis with the password.
right_password() {
	sipmsg -n 1 -f "sip:p@$2" -c pw- >"$T/in.$1" &&
	    fedgate -c "$T/$1.conf" <"$T/in.$1" >/dev/null 2>"$T/err" &&
	    [ "$(verdict "$T/$1/log" pw-0@partner.example)" = "accept discovered -" ] &&
	    [ ! -s "$T/err" ]
	ok $? "$3: accepted, no warning"
	e=$(redis-cli -h 127.0.0.1 -p "$PWP" --no-auth-warning -a s3cret-word \
	    exists "{fedkit}:p:$2")
	[ "$e" = 1 ]; ok $? "... decided in that Redis ($e)"
}
right_password p pw.example "the right password"
cp "$T/in.p" "$T/in"
host p6 "redis = [::1]:$PWP" "redis_password = s3cret-word"
right_password p6 pw6.example "the right password over [::1]:$PWP"
fedgate -c "$T/q.conf" <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(verdict "$T/q/log" pw-0@partner.example)" = "accept discovered -" ]
ok $? "a wrong password: Redis is down, this host decides (accepted)"
grep_file "... saying AUTH failed" \
    "^fedgate: redis 127.0.0.1:$PWP: AUTH: WRONGPASS.*; deciding on this host's own store" "$T/err"
fedgate -c "$T/n.conf" <"$T/in" >/dev/null 2>"$T/err"
grep_file "no password: told the server wants one" \
    "^fedgate: redis 127.0.0.1:$PWP: .*NOAUTH.*; deciding on this host's own store" "$T/err"
expect_exit 3 "fedlist watch ls with a wrong password fails" fedlist -c "$T/q.conf" watch ls
grep_file "... saying why" "^fedlist: redis 127.0.0.1:$PWP: AUTH: WRONGPASS.*(the pool's state cannot be read)" "$T/err"

# ---- 7. a unix socket ----
redis_start 0 "$RS"
ok $? "redis-server on the unix socket $RS/redis.sock"
host s1 "redis = $RS/redis.sock" "discovered_rate = 1000000"
host s2 "redis = $RS/redis.sock"
sipmsg -n 1001 -f sip:p@sock.example -r 'sip:u%d@example.com' -c so- >"$T/in" &&
fedgate -c "$T/s1.conf" <"$T/in" >/dev/null 2>"$T/err" &&
a=$(count accept discovered "$T/s1/log") w=$(count refuse watch "$T/s1/log") &&
[ "$a" -eq 1000 ] && [ "$w" -eq 1 ] && [ ! -s "$T/err" ]
ok $? "through the socket: 1,000 accepted, the 1,001st watched, no warning ($a, $w)"
sipmsg -n 1 -f sip:p@sock.example -r 'sip:u%d@example.com' -c so2- >"$T/in" &&
fedgate -c "$T/s2.conf" <"$T/in" >/dev/null 2>"$T/err" &&
v=$(verdict "$T/s2/log" so2-0@partner.example) &&
[ "$v" = "refuse watch 403" ]; ok $? "... and another host on the socket refuses it ($v)"

# ---- 8. bad redis values in fed.conf ----
badconf() {	# badconf LINE PATTERN: every tool refuses it, naming file:line
	host badc "$1"
	fedgate -t -c "$T/badc.conf" >"$T/out" 2>"$T/err"; _rc=$?
	[ "$_rc" -eq 2 ] && grep -q "^fedgate: $T/badc.conf:7: $2" "$T/err"
	ok $? "fedgate -t: '$1' refused at fed.conf:7 (exit $_rc)"
	fedlist -c "$T/badc.conf" watch ls >"$T/out" 2>"$T/err"; _rc=$?
	[ "$_rc" -eq 2 ] && grep -q "^fedlist: $T/badc.conf:7: $2" "$T/err"
	ok $? "fedlist: the same (exit $_rc)"
	sipmsg -n 1 | fedgate -c "$T/badc.conf" >"$T/out" 2>"$T/err"; _rc=$?
	[ "$_rc" -eq 2 ] && grep -q "^fedgate: $T/badc.conf:7: $2" "$T/err" &&
	    [ ! -s "$T/badc/log" ]
	ok $? "fedgate in pipe mode: the same, nothing decided (exit $_rc)"
}
badconf "redis = nocolon" 'redis: "nocolon": expected HOST:PORT or the path of a unix socket$'
badconf "redis = host:0" 'redis: "host:0": the port must be 1-65535$'
badconf "redis = host:99999" 'redis: "host:99999": the port must be 1-65535$'
badconf "redis = [::1:6379" 'redis: "\[::1:6379": expected \[ADDRESS\]:PORT$'
badconf "redis_down = maybe" 'redis_down: "maybe" is not one of local, refuse$'
