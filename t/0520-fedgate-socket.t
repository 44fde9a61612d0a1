#!/bin/sh
# fedgate in socket mode over TCP: systemd-socket-activate runs one fedgate
# per connection (Accept=yes, inetd style), sipp plays the partner and our
# internal server.  Everything listens on 127.0.0.1 only; every peer is
# stopped at exit and every wait is bounded.
. "${0%/*}/lib.sh"
need sipp systemd-socket-activate socat ss

test_ports 3
GATE=$base UAS=$((base + 1)) DEAD=$((base + 2))

mkconf() {	# mkconf [KEY=VALUE...]: a fresh fed.conf, state and log
	rm -rf "$T/state" "$T/v.log" "$T/uas.msg" && mkdir "$T/state" &&
	: >"$T/allow" && : >"$T/block" &&
	fedconf "$T/fed.conf" "$T" "verdict_log = $T/v.log" "$@"
}

start_uas() {	# start_uas CODE [TRANSPORT]: our server answering every MESSAGE so
	sed "s/@CODE@/$1/" "$TOP/t/sipp/uas.xml" >"$T/uas.xml"
	spawn sipp -sf "$T/uas.xml" -t "${2:-t1}" -i 127.0.0.1 -p "$UAS" \
	    -nostdin -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1
	if [ "${2:-t1}" = u1 ]; then
		wait_for 10 udp_listening "$UAS"
	else
		wait_for 10 listening "$UAS"
	fi
}

start_gate() {	# start_gate [ARGS...]: fedgate behind a socket activator
	spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" "$@" 2>"$T/gate.err"
	wait_for 10 listening "$GATE"
}

users() {	# users N PREFIX: sipp's injection file of N distinct users
	echo SEQUENTIAL
	i=1
	while [ "$i" -le "$1" ]; do echo "$2$i;"; i=$((i + 1)); done
}

uac() {		# uac FROM-DOMAIN CALLS RATE USERS-FILE [TRANSPORT]
	rm -f "$T/uac.msg"
	timeout 120 sipp -sf "$TOP/t/sipp/uac.xml" -key from "$1" \
	    -inf "$4" -t "${5:-t1}" -i 127.0.0.1 "127.0.0.1:$GATE" -m "$2" -r "$3" \
	    -nostdin -timeout 60s -trace_msg -message_file "$T/uac.msg" \
	    >"$T/uac.out" 2>&1
}

count() {	# count VERDICT REASON: lines of the verdict log
	awk -F '\t' -v v="$1" -v r="$2" '$6 == v && $7 == r' "$T/v.log" | wc -l
}

# -- legitimate traffic passes end to end, with our Fed-Trust only ------
mkconf "tls = off" &&
users 50 bob >"$T/u50" &&
start_uas 200 &&
start_gate -u "127.0.0.1:$UAS" &&
uac partner.example 50 15 "$T/u50"
ok $? "sipp partner: 50 MESSAGEs answered, no failed call"
[ "$(count accept discovered)" -eq 50 ]; ok $? "50 requests accepted"
[ "$(count observe response)" -eq 50 ]; ok $? "50 answers of our server observed"
n=$(grep -c '^Fed-Trust: source=discovered; verified=no; partner=partner.example; peer="127.0.0.1:[0-9]*"' "$T/uas.msg")
[ "$n" -eq 50 ]; ok $? "our server saw fedgate's Fed-Trust on all 50 ($n)"
! grep -q 'forged.example' "$T/uas.msg"; ok $? "the partner's forged Fed-Trust never reached our server"
awk -F '\t' '$2 !~ /^127\.0\.0\.1:[0-9]+$/ { exit 1 }' "$T/v.log"
ok $? "the log names the peer by address:port"
stop_all

# -- a flood gets 503 beyond the bucket ---------------------------------
# (the bucket is under test here, not the connection's bound on refusals:
# t/0555)
mkconf "tls = off" "max_refusals = 100000" &&
start_uas 200 &&
start_gate -u "127.0.0.1:$UAS" &&
t0=$(date +%s) &&
uac flood.example 200 400 "$T/u50"
ok $? "sipp flooder: every call got an answer"
t1=$(date +%s)
acc=$(count accept discovered) lim=$(count limit rate)
most=$((20 + 20 * (t1 - t0 + 1)))
[ "$acc" -ge 20 ] && [ "$acc" -le "$most" ] && [ $((acc + lim)) -eq 200 ]
ok $? "flood: $acc accepted (20..$most in $((t1 - t0 + 1)) s), $lim limited"
n=$(grep -c '^MESSAGE sip:' "$T/uas.msg")
[ "$n" -eq "$acc" ]; ok $? "our server got exactly the accepted ones ($n)"
[ "$(awk -F '\t' '$6 == "limit" && $8 != "503"' "$T/v.log" | wc -l)" -eq 0 ]
ok $? "every limited request was answered 503"
stop_all

# -- a blocked domain never reaches our server --------------------------
mkconf "tls = off" &&
echo spam.example >"$T/block" &&
start_uas 200 &&
start_gate -u "127.0.0.1:$UAS" &&
uac spam.example 10 50 "$T/u50"
ok $? "sipp spammer: every call got an answer"
[ "$(count refuse blocked)" -eq 10 ]; ok $? "10 refused as blocked"
[ "$(awk -F '\t' '$7 == "blocked" && $8 != "403"' "$T/v.log" | wc -l)" -eq 0 ]
ok $? "each with a 403"
! grep -q '^MESSAGE' "$T/uas.msg" 2>/dev/null; ok $? "our server saw none of them"
stop_all

# -- a harvester answered 404 becomes suspicious, then watched ----------
mkconf "tls = off" "discovered_rate = 1000" "max_refusals = 100000" &&
users 1200 u >"$T/u1200" &&
start_uas 404 &&
start_gate -u "127.0.0.1:$UAS" &&
uac harvest.example 1200 300 "$T/u1200"
ok $? "sipp harvester: every call got an answer"
s=$(count limit suspicious) w=$(count refuse watch)
[ "$s" -gt 0 ]; ok $? "its 404s made it suspicious ($s limited so)"
[ "$w" -ge 1 ]; ok $? "its 1,001st address put it on the watch list ($w refused)"
grep -q '^harvest\.example	' "$T/state/watch"
ok $? "the watch list file names it"
n=
"$B/bin/fedlist" -c "$T/fed.conf" watch ls >"$T/wls" 2>"$T/wls.err" &&
n=$(awk -F '\t' '$1 == "harvest.example" { print $2 " " $3 }' "$T/wls") &&
[ "$n" = "both 1001" ]; ok $? "fedlist watch ls: watched and suspicious, at the 1,001 URIs tried ($n)"
stop_all

# -- our server down: the partner gets 503, fedgate ends cleanly --------
mkconf "tls = off" &&
start_gate -u "127.0.0.1:$DEAD" &&
uac partner.example 1 10 "$T/u50"
ok $? "sipp partner: its request was answered"
grep -q '^SIP/2.0 503' "$T/uac.msg"; ok $? "the partner got 503"
n=$(awk -F '\t' '$6 == "accept" && $8 == "503"' "$T/v.log" | wc -l)
[ "$n" -eq 1 ]; ok $? "the decision is logged: accept, answered 503 by fedgate ($n)"
wait_for 5 grep -q "upstream 127.0.0.1:$DEAD: connect" "$T/gate.err"
ok $? "fedgate says why on stderr (not on the connection)"
"$B/bin/fedstat" "$T/v.log" >"$T/st.out" 2>"$T/st.err" &&
    awk -F '\t' '$1 == "partner.example" && $3 == 1 { f = 1 } END { exit !f }' "$T/st.out"
ok $? "fedstat reads that line and counts it accepted: $(cat "$T/st.err")"
stop_all

# -- slowloris: half a message is cut at message_timeout ----------------
t0=0 t1=0
mkconf "tls = off" "message_timeout = 2s" &&
start_uas 200 &&
start_gate -u "127.0.0.1:$UAS" &&
mkfifo "$T/slow" && {
	{ printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1'
	  sleep 12; } >"$T/slow" &
	writer=$!
	t0=$(date +%s)
	timeout 20 socat -t 1 - "TCP:127.0.0.1:$GATE" <"$T/slow" >/dev/null 2>&1
	t1=$(date +%s)
	kill "$writer" 2>/dev/null
	[ $((t1 - t0)) -lt 10 ]
}
ok $? "the connection was closed at the deadline ($((t1 - t0)) s)"
grep -q 'refuse	malformed' "$T/v.log"; ok $? "and logged refuse malformed"
# A message too large, and one without Content-Length: the rest of the
# stream cannot be framed; the partner gets 513 / 400, then the close.
{ printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig\r\nFrom: <sip:a@partner.example>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: big@x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 100000\r\n\r\n'
  sleep 3; } | timeout 10 socat -t 5 - "TCP:127.0.0.1:$GATE" >"$T/got" 2>/dev/null
grep -q '^SIP/2.0 513' "$T/got"; ok $? "a body over max_message is answered 513 before the close"
{ printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKnocl\r\nFrom: <sip:a@partner.example>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: nocl@x\r\nCSeq: 1 MESSAGE\r\n\r\nhello'
  sleep 3; } | timeout 10 socat -t 5 - "TCP:127.0.0.1:$GATE" >"$T/got" 2>/dev/null
grep -q '^SIP/2.0 400' "$T/got"; ok $? "a message without Content-Length is answered 400 before the close"
n=$(awk -F '\t' '$7 == "malformed" && $3 == "partner.example" && ($8 == "513" || $8 == "400")' "$T/v.log" | wc -l)
[ "$n" -eq 2 ]; ok $? "both logged refuse malformed with the partner and the code ($n)"
# A keep-alive ping gets its pong (RFC 5626).
printf '\r\n\r\n' | timeout 10 socat -t 2 - "TCP:127.0.0.1:$GATE" >"$T/pong" 2>/dev/null
printf '\r\n' >"$T/pong.want"
cmp_file "a CRLFCRLF ping is answered with CRLF" "$T/pong.want" "$T/pong"
stop_all

# -- misuse is refused with a message -----------------------------------
mkconf &&
start_uas 200 &&
start_gate -u "127.0.0.1:$UAS" && {
	echo | timeout 10 socat -t 1 - "TCP:127.0.0.1:$GATE" >/dev/null 2>&1
	wait_for 5 grep -q 'socket mode without TLS' "$T/gate.err"
}
ok $? "a socket without TLS and without tls = off is refused"
stop_all
mkconf "tls = off" &&
spawn systemd-socket-activate --inetd -l "127.0.0.1:$GATE" "$B/bin/fedgate" \
    -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err" &&
act=$! &&
wait_for 10 listening "$GATE" && {
	echo | timeout 10 socat -t 1 - "TCP:127.0.0.1:$GATE" >/dev/null 2>&1
	# (Our server is gone: the child says so; the listener goes on.)
	kill -0 "$act" && listening "$GATE" &&
	! grep -q 'listening socket' "$T/gate.err"
}
ok $? "a listening socket on stdin (Accept=no) is kept: fedgate listens (t/0545)"
stop_all

# -- UDP: inetd `dgram wait`, datagram by datagram ----------------------
mkconf "tls = off" "idle_timeout = 3s" "max_message = 4096" "max_line = 2048" &&
echo spam.example >"$T/block" &&
start_uas 200 u1 &&
spawn systemd-socket-activate --datagram --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err" &&
act=$! &&
wait_for 10 udp_listening "$GATE" &&
uac partner.example 20 10 "$T/u50" u1
ok $? "UDP: sipp partner's 20 MESSAGEs all answered"
[ "$(count accept discovered)" -eq 20 ]; ok $? "UDP: 20 accepted"
[ "$(count observe response)" -eq 20 ]; ok $? "UDP: our server's 20 answers observed and sent back"
n=$(grep -c '^Fed-Trust: source=discovered; verified=no; partner=partner.example; peer="127.0.0.1:' "$T/uas.msg")
[ "$n" -eq 20 ]; ok $? "UDP: our server saw Fed-Trust on all 20 ($n)"
n=$(grep -c '^Via: SIP/2.0/UDP 127.0.0.1:[0-9]*;branch=z9hG4bKfg' "$T/uas.msg")
[ "$n" -ge 20 ]; ok $? "UDP: each relayed with fedgate's Via on top ($n)"
! grep -q 'z9hG4bKfg' "$T/uac.msg"; ok $? "UDP: the partner never sees fedgate's Via"
# Hostile datagrams: random bytes, a header section without end, a
# request over max_message (here 4 KiB): logged, never fatal.
# (Each from a file read whole: socat sends one datagram per read.)
head -c 3000 /dev/urandom >"$T/dg1"
printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n' >"$T/dg2"
{ printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nX: '; head -c 5000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$T/dg3"
for f in dg1 dg2 dg3; do
	socat -u -b 65000 "OPEN:$T/$f" "UDP:127.0.0.1:$GATE"
done
uac spam.example 5 10 "$T/u50" u1
ok $? "UDP: the blocked partner's requests were answered"
[ "$(count refuse blocked)" -eq 5 ]; ok $? "UDP: 5 refused as blocked"
grep -q '^SIP/2.0 403' "$T/uac.msg"; ok $? "UDP: with 403 sent back to the sender"
n=$(count refuse malformed)
[ "$n" -eq 3 ]; ok $? "UDP: the 3 hostile datagrams were logged refuse malformed ($n), and fedgate went on"
# Nothing more comes: after idle_timeout fedgate exits (and with it the
# activator, which ran it in place).
i=0
while kill -0 "$act" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
! kill -0 "$act" 2>/dev/null; ok $? "UDP: fedgate ends after idle_timeout"
stop_all
