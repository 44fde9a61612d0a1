#!/bin/sh
# An edge pool as share/pool sets it up (fedkit(7) POOL): haproxy, its
# configuration share/pool/haproxy.cfg (TCP mode, send-proxy-v2, health
# checks) with loopback addresses and ports put in, in front of three
# fedgate listeners ("hosts": each its own fed.conf, state_dir and log,
# with share/pool/fed.conf's lines), one redis-server (with a password)
# for all three.  sipp plays the partners and our internal server.  The
# rate and the distinct URIs are counted once for the pool; the partner's
# own address is the peer on every host; Redis killed mid-run, the hosts
# go on deciding on their own store and say so; started again, the pool
# is shared again; a host stopped, the others serve at once and haproxy
# takes it out; a worker whose Redis restarted between two connections
# decides in the pool.  Only 127.0.0.0/8 and ::1; every peer stopped at
# exit.
. "${0%/*}/lib.sh"
need haproxy redis-server redis-cli sipp systemd-socket-activate ss

# Ports below the kernel's ephemeral range, as every socket test takes
# them; the partner (sipp) is 127.0.0.2, haproxy reaches the hosts from
# 127.0.0.1: a peer of 127.0.0.2 in a host's log came from the header.
test_ports 3
G1=$base G2=$((base + 1)) G3=$((base + 2))
LB=$((base + 12000)) UAS=$((base + 12001)) RP=$((base + 12002))
PW=pool-test-secret
R=$T/redis
gates=
stop_redis() { redis_stop "$R"; }
at_exit stop_redis

redis_start "$RP" "$R" --requirepass "$PW"
ok $? "redis-server answers on 127.0.0.1:$RP (with a password)"
rcli() { redis-cli -h 127.0.0.1 -p "$RP" -a "$PW" --no-auth-warning "$@"; }

# -- three hosts: each its own files, share/pool/fed.conf's lines --------
# The example's Redis and balancer addresses become ours; max_uris is
# small so that a harvester is quick to catch.
sed -e "s/^redis = 10\.0\.0\.20:6379\$/redis = 127.0.0.1:$RP/" \
    -e "s/^redis_password = .*/redis_password = $PW/" \
    -e "s/^proxy_from = 10\.0\.0\.10\$/proxy_from = 127.0.0.1/" \
    "$TOP/share/pool/fed.conf" >"$T/pool.conf"
grep -q "^redis = 127.0.0.1:$RP\$" "$T/pool.conf" &&
    grep -q "^redis_password = $PW\$" "$T/pool.conf" &&
    grep -q '^redis_down = local$' "$T/pool.conf" &&
    grep -q '^proxy_protocol = on$' "$T/pool.conf" &&
    grep -q '^proxy_from = 127.0.0.1$' "$T/pool.conf"
ok $? "share/pool/fed.conf has redis, redis_password, redis_down, proxy_protocol, proxy_from"
for h in 1 2 3; do
	H=$T/h$h
	mkdir -p "$H/state"
	: >"$H/allow"; : >"$H/block"; : >"$H/edges"
	{
		echo "local_domains = example.com"
		echo "verdict_log = $H/v.log"
		echo "state_dir = $H/state"
		echo "allow_list = $H/allow"
		echo "block_list = $H/block"
		echo "edge_cache = $H/edges"
		echo "tls = off"
		echo "max_uris = 30"
		cat "$T/pool.conf"
	} >"$H/fed.conf"
	# Run as root, the listener drops to `user` (fedkit): its files
	# must stay its to write (t/lib.sh).
	chmod -R a+rwX "$H"
done

sipp_server 200; ok $? "sipp plays our server"

host() {	# host N: host N's fedgate listener (fedgate(8) Listener mode)
	eval "port=\$G$1"
	spawn systemd-socket-activate --inetd -l "127.0.0.1:$port" \
	    "$B/bin/fedgate" -c "$T/h$1/fed.conf" -u "127.0.0.1:$UAS" \
	    2>>"$T/h$1/err"
	gates="$gates $!"
}
host 1; host 2; host 3
wait_for 10 listening "$G1" && wait_for 10 listening "$G2" &&
    wait_for 10 listening "$G3"
ok $? "three fedgate listeners (systemd-socket-activate), one per host"

# -- haproxy: share/pool/haproxy.cfg on loopback ---------------------------
# What only a system's haproxy has (its user, its chroot) goes; the
# addresses become ours; the rest is the file as shipped.  Its log, on
# standard output, names each partner's address and the host it went to.
sed -e '/^[[:space:]]*\(chroot\|user\|group\)[[:space:]]/d' \
    -e "s/^\([[:space:]]*bind\) :5061\$/\1 127.0.0.1:$LB/" \
    -e "s/^\([[:space:]]*bind\) \[::\]:5061 /\1 [::1]:$LB /" \
    -e "s/ 10\.0\.0\.11:5061/ 127.0.0.1:$G1/" \
    -e "s/ 10\.0\.0\.12:5061/ 127.0.0.1:$G2/" \
    -e "s/ 10\.0\.0\.13:5061/ 127.0.0.1:$G3/" \
    "$TOP/share/pool/haproxy.cfg" >"$T/haproxy.cfg"
grep -q "send-proxy-v2" "$T/haproxy.cfg" &&
    [ "$(grep -c "server edge[123] 127.0.0.1:" "$T/haproxy.cfg")" -eq 3 ] &&
    grep -q "bind 127.0.0.1:$LB\$" "$T/haproxy.cfg" &&
    ! grep -v '^[[:space:]]*#' "$T/haproxy.cfg" | grep -q '10\.0\.0\.'
ok $? "share/pool/haproxy.cfg: three servers with send-proxy-v2, put on loopback"
haproxy -c -f "$T/haproxy.cfg" >"$T/hap.check" 2>&1
ok $? "haproxy accepts the configuration"
[ -s "$T/hap.check" ] && diag "$(cat "$T/hap.check")"
spawn haproxy -db -f "$T/haproxy.cfg" >"$T/hap.out" 2>&1
lb_pid=$!
wait_for 10 listening "$LB"; ok $? "haproxy listens on 127.0.0.1:$LB"

# A host's verdict-log lines for a partner, with a verdict (and reason).
lines() {	# lines HOST PARTNER [VERDICT [REASON]]
	awk -F '\t' -v p="$2" -v v="${3:-}" -v r="${4:-}" \
	    '$3 == p && (v == "" || $6 == v) && (r == "" || $7 == r)' \
	    "$T/h$1/v.log" 2>/dev/null
}
count() { lines "$@" | wc -l; }
pool_count() { echo $(( $(count 1 "$@") + $(count 2 "$@") + $(count 3 "$@") )); }
# partner FROM-DOMAIN USERS-FILE CALLS RATE: sipp as a partner's edge
# from 127.0.0.2, a connection per call (-t tn: haproxy spreads them),
# CALLS MESSAGEs at RATE a second; the messages it sent and got in
# $T/uac.msg.
# (TO: where it connects, the balancer by default.)
partner() {
	rm -f "$T/uac.msg"
	timeout 60 sipp -sf "$TOP/t/sipp/uac.xml" -key from "$1" -inf "$2" \
	    -t tn -i 127.0.0.2 "127.0.0.1:${TO:-$LB}" -m "$3" -r "$4" -l "$3" \
	    -nostdin -timeout 30s -max_socket 1000 -trace_msg -message_file "$T/uac.msg" \
	    >"$T/uac.out" 2>&1
}
printf 'SEQUENTIAL\nbob;\n' >"$T/bob"

# -- a burst over the balancer: one bucket for the pool -----------------
# A partner with three edges (127.0.0.2-4), each on a connection of its
# own: haproxy gives each connection to the host with the fewest, one
# each.  Each sends 50 MESSAGEs at once (300 a second).  Each host alone
# would let its bucket's burst (20) through and 20 a second more: three
# hosts counting on their own, at least 60 in the first second.  The pool
# lets 20 and 20 a second through in all, counted from its first
# decision to its last.
edge() {	# edge N: the partner's edge 127.0.0.N, one connection
	timeout 60 sipp -sf "$TOP/t/sipp/uac.xml" -key from flood.example \
	    -inf "$T/bob" -t t1 -i "127.0.0.$1" -p "$UAS" "127.0.0.1:$LB" \
	    -m 50 -r 300 -l 50 -nostdin -timeout 30s -max_socket 100 \
	    >"$T/edge$1.out" 2>&1
}
t0=$(date +%s%N)
spawn edge 2; e2=$!
spawn edge 3; e3=$!
spawn edge 4; e4=$!
wait "$e2"; wait "$e3"; wait "$e4"
t1=$(date +%s%N)
decided() { lines "$1" "$2" | awk -F '\t' '$6 == "accept" || $6 == "limit"' | wc -l; }
n1=$(decided 1 flood.example) n2=$(decided 2 flood.example) n3=$(decided 3 flood.example)
[ $((n1 + n2 + n3)) -eq 150 ]
ok $? "150 MESSAGEs from three edges through the balancer: each decided once ($n1 + $n2 + $n3)"
n=$(cat "$T"/edge[234].out | grep -c 'Successful call.* 50 *$')
[ "$n" -eq 3 ]; ok $? "... and each answered ($n edges of 3 got their 50 answers)"
[ "$n1" -ge 20 ] && [ "$n2" -ge 20 ] && [ "$n3" -ge 20 ]
ok $? "each host got at least a bucket's burst of them (20): $n1, $n2, $n3"
# From the first decision to the last, 20 + 20 a second (and one for the
# millisecond the log's times are cut to).
cat "$T"/h[123]/v.log | awk -F '\t' '$3 == "flood.example" && ($6 == "accept" || $6 == "limit") { print $1 }' |
    sort >"$T/times"
span=$(awk 'function ms(t) { split(substr(t, 12, 12), a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
    NR == 1 { f = ms($1) } { l = ms($1) } END { printf "%d", l - f + 1 }' "$T/times")
a1=$(count 1 flood.example accept) a2=$(count 2 flood.example accept) a3=$(count 3 flood.example accept)
acc=$((a1 + a2 + a3))
max=$(( 20 + 20 * span / 1000 + 1 ))
[ "$acc" -le "$max" ] && [ "$acc" -ge 20 ]
ok $? "the pool let $acc through ($a1 + $a2 + $a3) in $span ms: 20 to $max, one bucket"
# Three buckets would have let at least a burst through on each host.
[ "$max" -lt $(( 20 * 3 )) ]
ok $? "... fewer than three hosts' own buckets would have ($max < 60; the burst took $(( (t1 - t0) / 1000000 )) ms)"

# -- a harvester: max_uris distinct URIs pool-wide, then watch ----------
# 45 distinct users at 15 a second (under the rate): 30 (max_uris) are
# let through over the three hosts, the 31st starts a watch in the pool,
# and every host refuses the rest.
{ echo SEQUENTIAL; i=1; while [ "$i" -le 45 ]; do echo "u$i;"; i=$((i + 1)); done; } >"$T/users45"
partner harv.example "$T/users45" 45 15
acc=$(pool_count harv.example accept) wat=$(pool_count harv.example refuse watch)
[ "$acc" -eq 30 ]; ok $? "a harvester's 45 URIs through the balancer: exactly max_uris (30) accepted pool-wide ($acc)"
[ "$wat" -eq 15 ]; ok $? "... and the other 15 refused watch ($wat)"
w=0
for h in 1 2 3; do [ "$(count "$h" harv.example refuse watch)" -gt 0 ] && w=$((w + 1)); done
[ "$w" -eq 3 ]; ok $? "... on every host ($w of 3): the pool's watch"
[ "$(rcli hexists '{fedkit}:watch' harv.example)" = 1 ]
ok $? "the watch is in Redis ({fedkit}:watch)"
fedlist -c "$T/h2/fed.conf" watch ls >"$T/wls" 2>"$T/wls.err"
awk -F '\t' '$1 == "harv.example" { f = 1 } END { exit !f }' "$T/wls"
ok $? "fedlist watch ls on a host lists it ($(head -n 2 "$T/wls" | tr '\t\n' ' '))"

# -- the partner's own address on every host ----------------------------
# Every peer in the hosts' logs is a partner's own address and port
# (127.0.0.2-4), as haproxy logged that connection (when it ended),
# never haproxy's own (127.0.0.1): the harvester's 45 connections are 45
# peers.
cat "$T"/h[123]/v.log | awk -F '\t' '{ print $2 }' | sort -u >"$T/peers"
n=$(wc -l <"$T/peers")
[ "$n" -gt 0 ] && ! grep -qv '^127\.0\.0\.[234]:[0-9][0-9]*$' "$T/peers"
ok $? "every host logs partners' own addresses, 127.0.0.2-4:PORT, never haproxy's ($n peers)"
unlogged() {
	awk '$1 ~ /^127\.0\.0\.[234]:/ { print $1 }' "$T/hap.out" | sort -u >"$T/hap.peers"
	comm -23 "$T/peers" "$T/hap.peers" | wc -l
}
all_logged() { [ "$(unlogged)" -eq 0 ]; }
wait_for 5 all_logged
ok $? "... each one the address haproxy logged for that connection ($(unlogged) not)"
n=$(cat "$T"/h[123]/v.log | awk -F '\t' '$3 == "harv.example" && $6 != "observe" { print $2 }' | sort -u | wc -l)
[ "$n" -eq 45 ]; ok $? "... a peer for each of the harvester's connections ($n of 45)"
w=0
for h in 1 2 3; do grep -q '	127\.0\.0\.2:' "$T/h$h/v.log" && w=$((w + 1)); done
[ "$w" -eq 3 ]; ok $? "... on each of the three hosts ($w of 3)"

# -- Redis killed mid-run: each host on its own store, and says so ------
# 60 MESSAGEs at 15 a second, Redis killed (-9) after 1.5 s.
spawn partner calm.example "$T/bob" 60 15
sipp_pid=$!
sleep 1.5
before=$(pool_count calm.example accept)
redis_stop "$R" KILL
wait "$sipp_pid"
acc=$(pool_count calm.example accept)
[ "$acc" -eq 60 ] && [ "$before" -gt 0 ] && [ "$before" -lt 60 ]
ok $? "redis-server killed after $before of 60 MESSAGEs: all 60 accepted (redis_down = local: $acc)"
n=$(grep -c '^SIP/2.0 200' "$T/uac.msg")
[ "$n" -eq 60 ]; ok $? "... and answered 200 ($n)"
warn="^fedgate: redis 127.0.0.1:$RP: .*; deciding on this host's own store until it is back (redis_down = local)\$"
w=0
for h in 1 2 3; do grep -q "$warn" "$T/h$h/err" && w=$((w + 1)); done
[ "$w" -eq 3 ]; ok $? "every host said so on stderr ($w of 3)"
diag "$(grep -h "^fedgate: redis" "$T"/h[123]/err | sort | uniq -c)"

# -- Redis started again (empty: it keeps nothing): shared again -------
# A process tries Redis again at most 8 s after its last try (fedkit(7)
# POOL, When Redis is down): by then each has its next try due.
redis_start "$RP" "$R" --requirepass "$PW"
ok $? "redis-server started again"
sleep 8
partner harv2.example "$T/users45" 45 15
acc=$(pool_count harv2.example accept) wat=$(pool_count harv2.example refuse watch)
[ "$acc" -eq 30 ] && [ "$wat" -eq 15 ]
ok $? "a harvester's 45 URIs after: exactly max_uris (30) accepted pool-wide again ($acc; $wat refused watch)"
back="^fedgate: redis 127.0.0.1:$RP: back; deciding on the pool again\$"
w=0
for h in 1 2 3; do grep -q "$back" "$T/h$h/err" && w=$((w + 1)); done
[ "$w" -eq 3 ]; ok $? "every host said Redis is back ($w of 3)"
diag "$(grep -h "^fedgate: redis" "$T"/h[123]/err | sort | uniq -c)"

# -- a host stops: redispatched at once, then taken out of turn --------
# Before the health check notices (3 failures 2 s apart), a connection
# the stopped host refuses is tried on another (retries, redispatch).
g3=${gates##* }
stop "$g3"
gates=${gates% $g3}
partner calm2.example "$T/bob" 12 15
a1=$(count 1 calm2.example accept) a2=$(count 2 calm2.example accept)
[ $((a1 + a2)) -eq 12 ] && [ "$(grep -c '^SIP/2.0 200' "$T/uac.msg")" -eq 12 ] &&
    [ "$(count 3 calm2.example)" -eq 0 ]
ok $? "host 3 stopped: at once, the other two hosts serve the partner ($a1 + $a2 of 12 answered)"
# haproxy's log: a retried connection's retry count is +N, redispatched.
n=$(grep -c ' [0-9]*/[0-9]*/[0-9]*/[0-9]*/+[1-9][0-9]* ' "$T/hap.out")
! grep -q 'edge3 is DOWN' "$T/hap.out" && [ "$n" -gt 0 ]
ok $? "... before haproxy took host 3 out: redispatched ($n connections)"
wait_for 15 grep -q 'edge3 is DOWN' "$T/hap.out"
ok $? "haproxy's health check takes host 3 out ($(grep -m 1 -o 'Server fedgate/edge3 is DOWN.*' "$T/hap.out" | cut -c 1-60))"
! grep -q -e 'edge[12] is DOWN' "$T/hap.out"
ok $? "hosts 1 and 2 were never taken out: the checks (PROXY LOCAL) pass"

# -- Redis restarted between two connections of one worker -------------
# Host 3 started again (haproxy takes it back), then haproxy stopped: no
# health check reaches the host from here on.  A partner straight to it
# (not through the balancer: served as itself), two connections one
# after the other, served by the listener's one worker; Redis restarted
# in between.  The worker's connection to the Redis that was is gone:
# the second connection is decided in the pool all the same, the Redis
# being there.
host 3
wait_for 10 listening "$G3" && wait_for 15 grep -q 'edge3 is UP' "$T/hap.out"
ok $? "host 3 started again: haproxy's health check takes it back"
stop "$lb_pid"
g3=${gates##* }
TO=$G3 partner again.example "$T/bob" 1 1
[ "$(count 3 again.example accept)" -eq 1 ] &&
    [ "$(rcli exists '{fedkit}:p:again.example')" = 1 ]
ok $? "a partner's first connection straight to host 3: accepted, in the pool"
said=$(grep -c '^fedgate: redis' "$T/h3/err")
redis_stop "$R" && redis_start "$RP" "$R" --requirepass "$PW"
ok $? "redis-server restarted (empty)"
sleep 0.3
TO=$G3 partner again.example "$T/bob" 1 1
n=$(pgrep -P "$g3" | wc -l)
[ "$(count 3 again.example accept)" -eq 2 ] && [ "$n" -eq 1 ]
ok $? "... its second: accepted, by the listener's one worker ($n)"
[ "$(rcli exists '{fedkit}:p:again.example')" = 1 ] &&
    [ "$(grep -c '^fedgate: redis' "$T/h3/err")" -eq "$said" ]
ok $? "... decided in the pool, Redis being there ($(grep '^fedgate: redis' "$T/h3/err" | sed -n "$((said + 1))p"))"
# A worker connects to Redis again under its seccomp filter (fedkit(7)
# SECURITY: set once its first connection began).
sleep 0.3
TO=$G3 partner again3.example "$T/bob" 1 1
n=$(pgrep -P "$g3" | wc -l)
[ "$(count 3 again3.example accept)" -eq 1 ] && [ "$n" -eq 1 ] &&
    [ "$(rcli exists '{fedkit}:p:again3.example')" = 1 ]
ok $? "a third connection, the same worker ($n): in the pool, connected anew under seccomp"

# The hosts stopped, their workers gone (a sanitizer build reports at
# exit): nothing said but the pool's news.
kids=
for g in $gates; do kids="$kids $(pgrep -P "$g")"; done
# shellcheck disable=SC2086 # a list of pids
stop $gates
gone() { for k in $kids; do kill -0 "$k" 2>/dev/null && return 1; done; return 0; }
wait_for 10 gone; ok $? "the hosts stopped, their workers with them"
! grep -v -e '^Listening on ' -e '^Communication attempt ' -e '^Execing ' \
    -e "^fedgate: redis 127.0.0.1:$RP: " "$T"/h[123]/err
ok $? "no other diagnostic from the hosts"
