#!/bin/sh
# fedgate on a listening socket (fedgate(8) Listener mode): systemd's
# Accept=no, here systemd-socket-activate --inetd without -a, hands it the
# socket; it sets up TLS once, drops to `user`, and hands connections to
# workers it forks, each serving up to connections_per_process of them.
# openssl s_client plays the partners, sipp our internal server.  Only
# 127.0.0.1; every peer stopped at exit.
. "${0%/*}/lib.sh"
need openssl sipp systemd-socket-activate socat ss
if [ "$(id -u)" -ne 0 ]; then
	ok 1 "this test checks the switch to user: it needs root (CI runs as root)"
	exit 1
fi

test_ports 2
GATE=$base UAS=$((base + 1))
NUID=$(id -u nobody)
gate_pid=

# -- the test PKI (as t/0540) ----------------------------------------------
P=$T/pki
mkdir -p "$P"
pki_ca ca && pki_leaf gate "DNS:gate.example.com" ca &&
pki_leaf partner "DNS:edge.partner.example,URI:sip:partner.example" ca &&
pki_leaf other "DNS:edge.other.example" ca &&
chmod 600 "$P/gate.key"
ok $? "openssl made a test CA and certificates (the gate's key root's only)"

# Everything fedgate keeps, in a directory nobody owns.
D=$T/gate
mkconf() {	# mkconf [KEY=VALUE...]: state and log afresh in $D, nobody's
	rm -rf "$D" && mkdir -p "$D/state" && chown -R nobody "$D" &&
	chmod 755 "$D" && : >"$T/allow" && : >"$T/block" &&
	fedconf "$T/fed.conf" "$T" "verdict_log = $D/v.log" "state_dir = $D/state" \
	    "tls_cert = $P/gate.pem" "tls_key = $P/gate.key" "tls_ca = $P/ca.pem" \
	    "user = nobody" "$@" &&
	chmod 644 "$T/fed.conf"
}
{ echo "partner.example edge.partner.example 5061 2099-01-01T00:00:00.000Z"
  echo "other.example edge.other.example 5061 2099-01-01T00:00:00.000Z"; } >"$T/edges"
chmod 755 "$T"
chmod 644 "$T/edges"

sipp_server 200; ok $? "sipp plays our server"

start_gate() {	# no -a: fedgate gets the listening socket itself
	spawn systemd-socket-activate --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
	gate_pid=$!
	wait_for 10 listening "$GATE"
}
stop_gate() { stop "$gate_pid"; gate_pid=; }
kids() { pgrep -P "$gate_pid" 2>/dev/null; }	# the listener's children
nkids() { kids | wc -l; }

calls=0
msg() {	# msg ID FROM-DOMAIN: one MESSAGE as a partner's edge sends it
	printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKl%s\r\nFrom: <sip:alice@%s>;tag=%s\r\nTo: <sip:bob@example.com>\r\nCall-ID: lst-%s@partner\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
	    "$1" "$2" "$1" "$1"
}
# partner OUT [HOLD]: one MESSAGE over TLS, the answer in OUT; the
# connection is kept until the answer is in (at most 15 s), then HOLD s
# more (default 0), then closed (-no_ign_eof: -quiet would wait for the
# server to close).  Its status says nothing: look at OUT.
CERT=partner FROM=partner.example
partner() {
	: >"$1"
	calls=$((calls + 1))
	# A Call-ID of its own even in a subshell (calls is the parent's
	# there): our server ignores a call it has seen.
	{ msg "$$.${1##*/}.$calls" "$FROM"
	  i=0
	  while ! grep -q '^SIP/2.0' "$1" && [ "$i" -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	  done
	  [ -n "${2:-}" ] && sleep "$2"; } | timeout 30 openssl s_client \
	    -connect "127.0.0.1:$GATE" -cert "$P/$CERT.pem" -key "$P/$CERT.key" \
	    -CAfile "$P/ca.pem" -verify_return_error -quiet -no_ign_eof \
	    >"$1" 2>/dev/null
	return 0
}
# The launcher's own lines (systemd-socket-activate) are no diagnostics.
diags() {
	grep -v -e '^Listening on ' -e '^Communication attempt ' -e '^Execing ' \
	    "$T/gate.err"
}
answered() { grep -q '^SIP/2.0 200' "$1"; }
# Connections the listener's workers serve now.
served() { ss -tnH state established "sport = :$GATE" | wc -l; }
count() { awk -F '\t' -v v="$1" '$6 == v' "$D/v.log" 2>/dev/null | wc -l; }

# -- one after another ------------------------------------------------------
mkconf
start_gate; ok $? "fedgate listens on the socket systemd-socket-activate hands it"
n=0 i=0
while [ "$i" -lt 20 ]; do
	partner "$T/got"; answered "$T/got" && n=$((n + 1))
	i=$((i + 1))
done
[ "$n" -eq 20 ]; ok $? "20 partners one after another: all answered 200 ($n)"
[ "$(count accept)" -eq 20 ]; ok $? "20 accepts logged ($(count accept))"
awk -F '\t' '$2 != "edge.partner.example" { exit 1 }' "$D/v.log"
ok $? "the peer in the log is the certificate's name"
[ "$(stat -c %u "$D/v.log")" -eq "$NUID" ]; ok $? "the verdict log is nobody's"
grep '^Uid:' "/proc/$gate_pid/status" >"$T/uid"
grep -q "^Uid:	$NUID	$NUID	$NUID	$NUID\$" "$T/uid"
ok $? "the listener runs as nobody ($(cat "$T/uid"))"
[ "$(basename "$(readlink "/proc/$gate_pid/exe")")" = fedgate ]
ok $? "the listener is fedgate itself (systemd-socket-activate exec'd it)"
[ "$(nkids)" -eq 1 ]
ok $? "one worker served the 20, one after another ($(nkids))"
w1=$(kids)

# -- a worker's next connection is a new partner's ------------------------------
# Partners with other certificates in turn on the same worker: each
# connection's names are its own, nothing of the one before.
: >"$T/want"
n=0
for who in other partner other partner; do
	if [ "$who" = other ]; then
		CERT=other FROM=other.example
	else
		CERT=partner FROM=partner.example
	fi
	partner "$T/got.$who"
	answered "$T/got.$who" && n=$((n + 1))
	printf 'edge.%s.example\t%s\n' "$who" "$FROM" >>"$T/want"
done
CERT=partner FROM=partner.example
[ "$n" -eq 4 ]; ok $? "4 partners with two certificates in turn: all answered ($n)"
awk -F '\t' '$6 == "accept" { print $2 "\t" $3 }' "$D/v.log" | tail -n 4 >"$T/have"
cmp -s "$T/want" "$T/have"
ok $? "the log names each connection's own certificate: $(tr '\n\t' ', ' <"$T/have")"
[ "$(kids)" = "$w1" ]; ok $? "... all served by the same worker ($w1)"
# A handshake that fails costs the worker nothing: it serves the next one.
timeout 10 openssl s_client -connect "127.0.0.1:$GATE" -CAfile "$P/ca.pem" \
    -quiet -no_ign_eof </dev/null >"$T/nocert" 2>&1
partner "$T/got"; answered "$T/got"
ok $? "after a partner with no certificate, the next one is answered"
[ "$(kids)" = "$w1" ]; ok $? "... by the same worker ($(kids))"
wait_for 5 grep -q 'no certificate\|certificate' "$T/gate.err"
ok $? "the refused handshake is said: $(grep -i certificate "$T/gate.err" | head -n 1)"
: >"$T/gate.err"
# An edit of fed.conf is in force for the worker's next connection.
cp "$T/fed.conf" "$T/fed.conf.ok"
echo "methods = OPTIONS" >>"$T/fed.conf"
partner "$T/got"
grep -q '^SIP/2.0 405' "$T/got"
ok $? "fed.conf changed between two connections: the next is refused 405 ($(head -n 1 "$T/got" | tr -d '\r'))"
cp "$T/fed.conf.ok" "$T/fed.conf"
touch -d '+2 seconds' "$T/fed.conf"
partner "$T/got"; answered "$T/got"
ok $? "... and changed back, answered again"

# -- at once ----------------------------------------------------------------
i=0 bg=
while [ "$i" -lt 10 ]; do
	partner "$T/got.$i" 3 &
	bg="$bg $!"
	i=$((i + 1))
done
wait_for 15 sh -c "[ \$(pgrep -P $gate_pid | wc -l) -ge 10 ]"
ok $? "10 partners at once: 10 children ($(nkids))"
for k in $(kids); do grep '^Uid:' "/proc/$k/status"; done >"$T/kuid"
[ -s "$T/kuid" ] && ! grep -qv "^Uid:	$NUID	$NUID	$NUID	$NUID\$" "$T/kuid"
ok $? "every child runs as nobody"
for p in $bg; do wait "$p"; done
n=0 i=0
while [ "$i" -lt 10 ]; do
	answered "$T/got.$i" && n=$((n + 1))
	i=$((i + 1))
done
[ "$n" -eq 10 ]; ok $? "10 partners at once: all answered 200 ($n)"
[ "$(count accept)" -eq 36 ]; ok $? "36 accepts logged in all ($(count accept))"
[ "$(nkids)" -le 10 ]; ok $? "the workers stay for the next connections ($(nkids))"
# Idle 10 s, all but 4 spares end.
wait_for 15 sh -c "[ \$(pgrep -P $gate_pid | wc -l) -le 4 ]"
ok $? "idle workers end, 4 spares aside ($(nkids) left)"

# -- a child killed -----------------------------------------------------------
partner "$T/held" 20 &
held=$!
wait_for 10 answered "$T/held"; ok $? "a held connection is answered"
k=$(kids | tr "\n" " ")
[ -n "$k" ] && kill -9 $k
wait "$held" 2>/dev/null
partner "$T/got"; answered "$T/got"
ok $? "with its child killed -9 (pid $k), the next partner is still answered"
kill -0 "$gate_pid"; ok $? "... and the listener is still there"
! diags; ok $? "no diagnostic so far"
stop_gate

# -- the per-source limit -----------------------------------------------------
mkconf "max_connections_per_source = 3"
start_gate
bg=
for i in 1 2 3; do
	partner "$T/h.$i" 20 &
	bg="$bg $!"
done
all3() { answered "$T/h.1" && answered "$T/h.2" && answered "$T/h.3"; }
wait_for 15 all3
ok $? "3 connections from 127.0.0.1 held, all answered ($(nkids) children)"
partner "$T/got4"
! answered "$T/got4"; ok $? "the 4th from the same address is refused"
wait_for 12 grep -q 'refused: max_connections_per_source (3)' "$T/gate.err"
ok $? "... and the listener says so: $(diags | head -n 1)"
for p in $bg; do kill "$p" 2>/dev/null; done
for p in $bg; do wait "$p" 2>/dev/null; done
wait_for 5 sh -c "[ \$(ss -tnH state established 'sport = :$GATE' | wc -l) -eq 0 ]"
partner "$T/got"; answered "$T/got"
ok $? "once they are gone, the address is served again"

# -- SIGTERM -------------------------------------------------------------------
partner "$T/late" 3 &
late=$!
wait_for 10 answered "$T/late"
k=$(kids | tr "\n" " ")
kill -TERM "$gate_pid"
i=0
while kill -0 "$gate_pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
! kill -0 "$gate_pid" 2>/dev/null; ok $? "SIGTERM ends the listener (within 5 s)"
wait "$gate_pid"; rc=$?
[ "$rc" -eq 0 ]; ok $? "... with exit 0 ($rc)"
gate_pid=
! ss -ltnH "sport = :$GATE" | grep -q .; ok $? "... and nobody listens any more"
wait "$late"
answered "$T/late"; ok $? "the connection it had finishes"
i=0
while [ -n "$k" ] && kill -0 $k 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
! { [ -n "$k" ] && kill -0 $k 2>/dev/null; }; ok $? "... and its child ends with it (pid $k)"

# -- one process per connection ------------------------------------------------
mkconf "connections_per_process = 1"
start_gate
n=0 i=0 seen=
while [ "$i" -lt 3 ]; do
	partner "$T/pp.$i" 1 &
	p=$!
	wait_for 10 answered "$T/pp.$i"
	seen="$seen $(kids)"
	wait "$p"
	answered "$T/pp.$i" && n=$((n + 1))
	i=$((i + 1))
done
[ "$n" -eq 3 ]; ok $? "connections_per_process = 1: 3 partners answered ($n)"
[ "$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" -eq 3 ]
ok $? "... each by a process of its own ($seen)"
wait_for 5 sh -c "[ \$(pgrep -P $gate_pid | wc -l) -eq 0 ]"
ok $? "... which ends with its connection ($(nkids) left)"
stop_gate

# -- plain TCP ------------------------------------------------------------------
mkconf "tls = off"
start_gate
n=0 i=0
while [ "$i" -lt 5 ]; do
	calls=$((calls + 1))
	: >"$T/got"
	{ msg "$$.plain.$calls" partner.example
	  wait_for 10 answered "$T/got"; } |
	    timeout 15 socat -t 1 - "TCP:127.0.0.1:$GATE" >"$T/got" 2>/dev/null
	answered "$T/got" && n=$((n + 1))
	i=$((i + 1))
done
[ "$n" -eq 5 ]; ok $? "plain TCP (tls = off): 5 partners answered 200 ($n)"
[ "$(count accept)" -eq 5 ]; ok $? "5 accepts logged"
awk -F '\t' '$2 !~ /^127\.0\.0\.1:[0-9]+$/ { exit 1 }' "$D/v.log"
ok $? "the peer in the log is the address"
stop_gate
! diags; ok $? "no diagnostic"
