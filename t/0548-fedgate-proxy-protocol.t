#!/bin/sh
# fedgate behind a load balancer: haproxy (TCP mode, send-proxy-v2 and
# send-proxy) in front of fedgate's listener; the PROXY protocol header
# gives the partner's own address, believed only from proxy_from.  socat
# and openssl s_client play partners from 127.0.0.2 and ::1, sipp our
# server.  Only 127.0.0.0/8 and ::1; every peer stopped at exit.
. "${0%/*}/lib.sh"
need haproxy openssl sipp systemd-socket-activate socat ss

test_ports 3
GATE=$base UAS=$((base + 1)) LB2=$((base + 2))
LB1=$((base + 12000)) LB2T=$((base + 12001)) SRC=$((base + 12002))

# -- the test PKI: our edge, a partner ----------------------------------
P=$T/pki
mkdir -p "$P"
pki_ca ca &&
pki_leaf gate "DNS:gate.example.com" && pki_leaf partner "DNS:edge.partner.example" &&
chmod 644 "$P"/*.pem "$P"/*.key
ok $? "openssl made a test CA and certificates"

D=$T/gate
mkconf() {	# mkconf [KEY=VALUE...]: state and log afresh in $D
	rm -rf "$D" && mkdir -p "$D/state" && chmod 777 "$D" "$D/state" &&
	: >"$T/allow" && : >"$T/block" &&
	fedconf "$T/fed.conf" "$T" "verdict_log = $D/v.log" "state_dir = $D/state" \
	    "proxy_protocol = on" "proxy_from = 127.0.0.1 ::1/128" "$@"
}
echo "partner.example edge.partner.example 5061 2099-01-01T00:00:00.000Z" >"$T/edges"
chmod 755 "$T"; chmod 644 "$T/edges"

sipp_server 200; ok $? "sipp plays our server"

start_gate() {	# fedgate's listener on 127.0.0.1:GATE (fedgate(8) Listener mode)
	spawn systemd-socket-activate --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
	gate_pid=$!
	wait_for 10 listening "$GATE"
}
stop_gate() { stop "$gate_pid"; gate_pid=; }

# haproxy: v2 on LB2 (IPv4 and ::1), v1 on LB1, v2 for TLS on LB2T.
cat >"$T/haproxy.cfg" <<CFG
global
	maxconn 256
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend v2
	bind 127.0.0.1:$LB2
	bind [::1]:$LB2 v6only
	default_backend gate_v2
frontend v2tls
	bind 127.0.0.1:$LB2T
	default_backend gate_v2
frontend v1
	bind 127.0.0.1:$LB1
	default_backend gate_v1
backend gate_v2
	server g 127.0.0.1:$GATE send-proxy-v2
backend gate_v1
	server g 127.0.0.1:$GATE send-proxy
CFG
haproxy -c -f "$T/haproxy.cfg" >"$T/hap.check" 2>&1; ok $? "haproxy accepts its configuration"
spawn haproxy -db -f "$T/haproxy.cfg" >"$T/hap.out" 2>&1
lb_pid=$!
wait_for 10 listening "$LB2" && wait_for 10 listening "$LB1"
ok $? "haproxy listens"

calls=0
msg() {	# msg FROM-DOMAIN: one MESSAGE, Call-ID $calls (our server
	# ignores a Call-ID it has seen: the caller counts, in the parent shell)
	printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5061;branch=z9hG4bKpp%s.%s\r\nFrom: <sip:alice@%s>;tag=%s\r\nTo: <sip:bob@example.com>\r\nCall-ID: pp-%s-%s@partner\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
	    "$$" "$calls" "$1" "$calls" "$$" "$calls"
}
# send ADDRESS OUT [DATA]: a partner's plain connection, one MESSAGE (or
# DATA), until its answer is in (at most 10 s).
send() {
	: >"$2"
	calls=$((calls + 1))
	{ if [ -n "${3:-}" ]; then printf '%s' "$3"; else msg partner.example; fi
	  i=0
	  while ! grep -q '^SIP/2.0' "$2" && [ "$i" -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	  done; } | timeout 20 socat -t 1 - "$1" >"$2" 2>/dev/null
	return 0
}
answered() { grep -q '^SIP/2.0 200' "$1"; }
peer_of_last() { awk -F '\t' '$6 == "accept" { p = $2 } END { print p }' "$D/v.log" 2>/dev/null; }
diags() {
	grep -v -e '^Listening on ' -e '^Communication attempt ' -e '^Execing ' \
	    "$T/gate.err"
}

# -- plain TCP through haproxy ------------------------------------------
mkconf "tls = off"
start_gate; ok $? "fedgate listens behind haproxy"
send "TCP:127.0.0.1:$LB2,bind=127.0.0.2:$SRC,reuseaddr" "$T/got"
answered "$T/got"; ok $? "send-proxy-v2: the partner is answered 200 through haproxy"
[ "$(peer_of_last)" = "127.0.0.2:$SRC" ]
ok $? "the log names the partner's own address and port, not haproxy's ($(peer_of_last))"
send "TCP:127.0.0.1:$LB1,bind=127.0.0.2:$((SRC + 1)),reuseaddr" "$T/got"
answered "$T/got" && [ "$(peer_of_last)" = "127.0.0.2:$((SRC + 1))" ]
ok $? "send-proxy (v1): the same ($(peer_of_last))"
send "TCP6:[::1]:$LB2,bind=[::1]:$((SRC + 2)),reuseaddr" "$T/got"
answered "$T/got" && [ "$(peer_of_last)" = "[::1]:$((SRC + 2))" ]
ok $? "a partner on IPv6 (::1): its address in the log ($(peer_of_last))"

# A partner connecting straight to fedgate, from an address not in
# proxy_from: no header is read, its own address is the peer.
send "TCP:127.0.0.1:$GATE,bind=127.0.0.3:$((SRC + 3)),reuseaddr" "$T/got"
answered "$T/got" && [ "$(peer_of_last)" = "127.0.0.3:$((SRC + 3))" ]
ok $? "a direct partner (not a balancer) is served as itself ($(peer_of_last))"
# ... and one that forges a header is not believed: the header is SIP
# garbage to fedgate, and nobody is logged under the forged address.
calls=$((calls + 1))
send "TCP:127.0.0.1:$GATE,bind=127.0.0.3:$((SRC + 4)),reuseaddr" "$T/got" \
    "$(printf 'PROXY TCP4 192.0.2.66 127.0.0.1 5555 5061\r\n'; msg partner.example)"
! grep -q '192\.0\.2\.66' "$D/v.log"; ok $? "a forged PROXY header from a partner is not believed"
! answered "$T/got"; ok $? "... and its request is not relayed ($(head -n 1 "$T/got" | tr -d '\r'))"
# From a listed balancer, a connection without a header is closed.
send "TCP:127.0.0.1:$GATE,bind=127.0.0.1:$((SRC + 5)),reuseaddr" "$T/got"
! grep -q '^SIP/2.0' "$T/got"; ok $? "a balancer's connection without a header is closed unanswered"
wait_for 5 grep -q 'no PROXY protocol header' "$T/gate.err"
ok $? "... and said: $(grep -m 1 'PROXY' "$T/gate.err")"
: >"$T/gate.err"

# The per-source limit does not count the balancer: 4 partners held open
# through haproxy at once with max_connections_per_source = 2.
stop_gate
mkconf "tls = off" "max_connections_per_source = 2"
start_gate
bg= i=1
while [ "$i" -le 4 ]; do
	calls=$((calls + 1))
	( : >"$T/h.$i"
	  { msg partner.example; sleep 3; } |
	      timeout 20 socat -t 1 - "TCP:127.0.0.1:$LB2,bind=127.0.0.2:$((SRC + 10 + i)),reuseaddr" \
	      >"$T/h.$i" 2>/dev/null ) &
	bg="$bg $!"
	i=$((i + 1))
done
all4() { answered "$T/h.1" && answered "$T/h.2" && answered "$T/h.3" && answered "$T/h.4"; }
wait_for 15 all4; ok $? "4 partners at once through one balancer, per-source limit 2: all answered"
for p in $bg; do wait "$p"; done
! grep -q 'max_connections_per_source' "$T/gate.err"; ok $? "... and no refusal said"
stop_gate

# -- TLS through haproxy: the header before the handshake --------------
mkconf "tls_cert = $P/gate.pem" "tls_key = $P/gate.key" "tls_ca = $P/ca.pem"
start_gate
: >"$T/got"
calls=$((calls + 1))
{ msg partner.example
  i=0
  while ! grep -q '^SIP/2.0' "$T/got" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; } |
    timeout 20 openssl s_client -connect "127.0.0.1:$LB2T" -cert "$P/partner.pem" \
    -key "$P/partner.key" -CAfile "$P/ca.pem" -verify_return_error -quiet -no_ign_eof \
    >"$T/got" 2>"$T/s_client.err"
answered "$T/got"; ok $? "TLS through haproxy (send-proxy-v2): the partner is answered 200"
[ "$(peer_of_last)" = edge.partner.example ]
ok $? "... and known by its certificate ($(peer_of_last))"
stop_gate
! diags; ok $? "no diagnostic"

# -- fed.conf checks ------------------------------------------------------
printf 'local_domains = example.com\nproxy_protocol = on\n' >"$T/bad.conf"
expect_exit 2 "proxy_protocol = on without proxy_from: a usage error" \
    fedgate -c "$T/bad.conf" -p x </dev/null
grep_file "... naming what is missing" "proxy_protocol = on needs proxy_from" "$T/err"
printf 'local_domains = example.com\nproxy_from = 10.0.0.0/33\n' >"$T/bad.conf"
expect_exit 2 "a bad proxy_from: a usage error" fedgate -c "$T/bad.conf" -p x </dev/null
grep_file "... with file:line" "bad.conf:2: .*10.0.0.0/33" "$T/err"
