#!/bin/sh
# End to end, as an operator's day goes (issue 13): dnsmasq serves the
# partners' SRV and A records, `fedq -w` fills the edge cache, fedgate
# listens under systemd-socket-activate in listener mode (fedgate(8),
# Listener mode) with TLS from a test CA and verify = srv, and a second
# fedgate serves a plaintext UDP socket with the same lists, state and
# log.  openssl s_client plays the partners over TLS, sipp our internal
# server (TCP and UDP, its message trace and its own counts telling what
# reached it),
# svwar (sipvicious) a scanner, sipp a harvester, s_client a flooder;
# then fedstat --suggest feeds fedlist block add, and fedlist watch clear
# lifts a watch.  Every step is checked from the verdict log (fedkit(7),
# FILE FORMATS) and from what our server got.  Only 127.0.0.1; every
# peer stopped at exit; every wait bounded.
. "${0%/*}/lib.sh"
# dnsmasq lives in /usr/sbin, outside a plain user's PATH.
PATH=$PATH:/usr/sbin
need openssl sipp systemd-socket-activate socat ss dnsmasq svwar fedq fedlist fedstat

# Five ports: the TLS gate and the UDP gate share a number, as our
# server's TCP and UDP sides do.
test_ports 5
GATE=$base UAS=$((base + 1)) DNSP=$((base + 2)) SVP=$((base + 3)) HVP=$((base + 4))

# -- the test PKI (as t/0540) -------------------------------------------------
P=$T/pki
mkdir -p "$P"
pki_ca ca &&
pki_leaf gate "DNS:gate.example.com" &&
pki_leaf partner "DNS:edge.partner.example" &&
pki_leaf flood "DNS:edge.flood.example" &&
pki_leaf harvest "DNS:edge.harvest.example" &&
pki_leaf other "DNS:edge.other.example" &&
chmod 600 "$P/gate.key"
ok $? "openssl made a test CA and certificates for the gate and 4 partners"

# -- DNS: the partners' SRV records, their edges on 127.0.0.1 -----------------
# (other.example has none: its certificate is good, its edge unknown.)
{
	echo "local-ttl=300"
	# Authoritative for the partners' zone: AAAA is answered empty, not
	# REFUSED.
	echo "local=/example/"
	for d in partner flood harvest; do
		echo "srv-host=_sipfederationtls._tcp.$d.example,edge.$d.example,5061,0,0"
		echo "host-record=edge.$d.example,127.0.0.1"
	done
} >"$T/dnsmasq.conf"
spawn dnsmasq --keep-in-foreground --port="$DNSP" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --no-poll \
    --conf-file="$T/dnsmasq.conf" --log-facility="$T/dnsmasq.log" \
    --pid-file="$T/dnsmasq.pid" 2>"$T/dnsmasq.err"
wait_for 10 fedq -T 200 -s "127.0.0.1:$DNSP" partner.example
ok $? "dnsmasq serves the partners' SRV records on 127.0.0.1:$DNSP"

# -- what fedgate keeps, in a directory its user owns ---------------------------
D=$T/gate
mkdir -p "$D/state"
if [ "$(id -u)" -eq 0 ]; then
	# As CI runs: fedgate reads its key as root and drops to nobody.
	chown -R nobody "$D" && chmod 755 "$D" "$T"
	USER_LINE="user = nobody"
else
	USER_LINE=
fi
conf() {	# conf FILE LINE...: a fed.conf of the shared files, and LINEs
	_f=$1; shift
	# Harvesting shows after 10 addresses (max_uris).
	fedconf "$_f" "$T" "upstream = 127.0.0.1:$UAS" "verdict_log = $D/v.log" \
	    "state_dir = $D/state" "verify = srv" "max_uris = 10" \
	    ${USER_LINE:+"$USER_LINE"} "$@" &&
	chmod 644 "$_f"
}
conf "$T/fed.conf" "tls_cert = $P/gate.pem" "tls_key = $P/gate.key" "tls_ca = $P/ca.pem"
conf "$T/udp.conf" "tls = off"
: >"$T/allow"
: >"$T/block"

# -- fedq -w fills the edge cache -------------------------------------------------
expect "fedq -w writes the edge cache from DNS" \
    fedq -s "127.0.0.1:$DNSP" -w "$T/edges" partner.example flood.example harvest.example
chmod 644 "$T/edges"
awk -F '\t' '/^#/ { next } $2 == "edge." substr($1, 1, index($1, ".") - 1) ".example" &&
    $3 == 5061 && $5 == "127.0.0.1" { n++ } END { exit n != 3 }' "$T/edges"
ok $? "... one line per partner: its edge, port 5061, address 127.0.0.1"

# -- our server: sipp on TCP and UDP, tracing what it gets -------------------------
# Each keeps its messages (-trace_msg) and its own counts (-trace_counts:
# SCENARIO_PID_counts.csv in its working directory, every second).
sed "s/@CODE@/200/" "$TOP/t/sipp/uas.xml" >"$T/uas-tcp.xml"
cp "$T/uas-tcp.xml" "$T/uas-udp.xml"
(cd "$T" && exec sipp -sf uas-tcp.xml -t t1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas-tcp.msg" -trace_counts -fd 1 \
    >"$T/uas-tcp.out" 2>&1) &
spawned $!
(cd "$T" && exec sipp -sf uas-udp.xml -t u1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas-udp.msg" -trace_counts -fd 1 \
    >"$T/uas-udp.out" 2>&1) &
spawned $!
wait_for 10 listening "$UAS" && wait_for 10 udp_listening "$UAS"
ok $? "sipp plays our server on TCP and UDP $UAS"

# -- the gates --------------------------------------------------------------------
# No -a: at the first connection systemd-socket-activate runs fedgate in
# its place with the listening socket, and fedgate is the listener.
spawn systemd-socket-activate --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/fed.conf" 2>"$T/tls-gate.err"
tls_gate=$!
wait_for 10 listening "$GATE"
ok $? "systemd-socket-activate holds TCP $GATE for fedgate with TLS (listener mode)"
spawn systemd-socket-activate --datagram --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/udp.conf" 2>"$T/udp-gate.err"
udp_gate=$!
wait_for 10 udp_listening "$GATE"
ok $? "... and UDP $GATE for a second fedgate, plaintext (tls = off)"

# -- helpers ------------------------------------------------------------------------
n_msgs=0
msgs() {	# msgs FROM-DOMAIN USER...: one MESSAGE to each USER, as an edge sends them
	_from=$1; shift
	for _u; do
		n_msgs=$((n_msgs + 1))
		printf 'MESSAGE sip:%s@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKe2e%s.%s\r\nFrom: <sip:alice@%s>;tag=e%s\r\nTo: <sip:%s@example.com>\r\nCall-ID: e2e-%s-%s@%s\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
		    "$_u" "$$" "$n_msgs" "$_from" "$n_msgs" "$_u" "$$" "$n_msgs" "$_from"
	done
}
# tls CERT OUT N: send $T/msgs over one TLS connection with CERT's
# certificate, keep it open until N answers are in (30 s at most, less if
# the gate closes it), then close it; the answers go to OUT.
tls() {
	: >"$2"
	rm -f "$2.done"
	{ cat "$T/msgs"
	  _i=0
	  while [ "$(grep -c '^SIP/2.0 ' "$2")" -lt "$3" ] && [ "$_i" -lt 300 ] &&
	      [ ! -e "$2.done" ]; do
		sleep 0.1; _i=$((_i + 1))
	  done; } | { timeout 60 openssl s_client -connect "127.0.0.1:$GATE" \
	    -cert "$P/$1.pem" -key "$P/$1.key" -CAfile "$P/ca.pem" \
	    -verify_return_error -quiet -no_ign_eof >"$2" 2>"$2.err"
	    : >"$2.done"; }
	return 0
}
answers() { grep -c "^SIP/2.0 $2" "$1"; }	# answers OUT CODE
count() {	# count PARTNER VERDICT REASON [CODE]: lines of the verdict log
	awk -F '\t' -v p="$1" -v v="$2" -v r="$3" -v c="${4:-}" \
	    '$3 == p && $6 == v && $7 == r && (c == "" || $8 == c)' "$D/v.log" 2>/dev/null | wc -l
}
# got FILE: the Call-IDs of the MESSAGEs our server received, per its trace.
got() {
	tr -d '\r' <"$1" 2>/dev/null | awk '/^MESSAGE sip:/ { m = 1 } /^SIP\/2\.0 / { m = 0 }
	    m && /^Call-ID:/ { print $2; m = 0 }'
}
got_n() { got "$T/uas-tcp.msg" | wc -l; }
got_udp_n() { got "$T/uas-udp.msg" | wc -l; }
# sipp_count NAME COLUMN: the last count sipp NAME (uas-tcp, uas-udp) wrote.
sipp_count() {
	awk -F ';' -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i; next }
	    c { v = $c } END { print v + 0 }' "$T/$1"_*_counts.csv 2>/dev/null
}
sipp_got() { [ "$(sipp_count "$1" 0_MESSAGE_Recv)" -eq "$2" ]; }
# has_got N [udp]: our server's trace holds N MESSAGEs (for wait_for: it
# may write them a moment after the answer left).
has_got() {
	if [ "${2:-}" = udp ]; then [ "$(got_udp_n)" -eq "$1" ]
	else [ "$(got_n)" -eq "$1" ]; fi
}
users() {	# users N PREFIX: sipp's injection file of N distinct users
	echo SEQUENTIAL
	_i=1
	while [ "$_i" -le "$1" ]; do echo "$2$_i;"; _i=$((_i + 1)); done
}
harvester() {	# harvester USERS-FILE CALLS: sipp as harvest.example over UDP
	timeout 120 sipp -sf "$TOP/t/sipp/uac.xml" -key from harvest.example \
	    -inf "$1" -t u1 -i 127.0.0.1 -p "$HVP" "127.0.0.1:$GATE" -m "$2" -r 10 -nr \
	    -nostdin -timeout 60s -trace_msg -message_file "$T/harvest.msg" \
	    >"$T/harvest.out" 2>&1
}

# -- a partner over TLS exchanges MESSAGEs with our server --------------------------------
msgs partner.example bob1 bob2 bob3 bob4 bob5 >"$T/msgs"
tls partner "$T/p1" 5
[ "$(answers "$T/p1" 200)" -eq 5 ]
ok $? "partner.example over TLS: 5 MESSAGEs, 5 answers 200 from our server ($(answers "$T/p1" 200))"
[ "$(count partner.example accept discovered -)" -eq 5 ]
ok $? "... 5 lines accept discovered in the verdict log"
awk -F '\t' '$3 == "partner.example" && $2 != "edge.partner.example" { exit 1 }' "$D/v.log"
ok $? "... the peer logged is the certificate's name, edge.partner.example"
[ "$(basename "$(readlink "/proc/$tls_gate/exe")")" = fedgate ] &&
[ "$(pgrep -P "$tls_gate" | wc -l)" -ge 1 ]
ok $? "... served by a worker of the listener, fedgate itself (pid $tls_gate)"
wait_for 5 has_got 5
n=$(grep -c '^Fed-Trust: source=discovered; verified=yes; partner=partner.example; peer="edge.partner.example"' "$T/uas-tcp.msg")
[ "$n" -eq 5 ]; ok $? "... our server got all 5, verified against the edge cache fedq wrote ($n)"

# A good certificate whose name is no edge of the domain: unverified.
msgs other.example bob1 >"$T/msgs"
tls other "$T/o1" 1
[ "$(answers "$T/o1" 403)" -eq 1 ] && [ "$(count other.example refuse unverified 403)" -eq 1 ]
ok $? "other.example, no SRV edge in DNS: refused unverified 403"
[ "$(got_n)" -eq 5 ]; ok $? "... our server did not get it ($(got_n) MESSAGEs in all)"

# -- scanners against the plaintext UDP socket ------------------------------------------
# udp FILE OUT: FILE as one datagram from 127.0.0.1:$SVP; the answer in
# OUT, waited for 30 s at most.
udp() {
	: >"$2"
	{ cat "$1"
	  _i=0
	  while ! grep -q '^SIP/2.0 ' "$2" && [ "$_i" -lt 300 ]; do
		sleep 0.1; _i=$((_i + 1))
	  done; } | timeout 60 socat -b 65000 - "UDP:127.0.0.1:$GATE,bind=127.0.0.1:$SVP" \
	    >"$2" 2>/dev/null
	return 0
}
# A scanner's OPTIONS with a partner's From is refused by its User-Agent
# (rule 7: svwar's own, friendly-scanner).  (It also wakes the UDP
# gate, which systemd-socket-activate starts at the first datagram.)
printf 'OPTIONS sip:100@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%s;branch=z9hG4bKscan%s\r\nFrom: "100"<sip:100@scan.example>;tag=s%s\r\nTo: "100"<sip:100@example.com>\r\nCall-ID: e2e-scan-%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n' \
    "$SVP" "$$" "$$" "$$" >"$T/scan.dg"
udp "$T/scan.dg" "$T/scan.out"
grep -q '^SIP/2.0 403' "$T/scan.out" && [ "$(count scan.example refuse scanner 403)" -eq 1 ]
ok $? "a scanner's OPTIONS with a partner's From: refused scanner 403 (its User-Agent)"

# svwar itself sends From and Request-URI in one domain, --domain's:
# ours, so fedkit(7)'s order of decision stops it at rule 3 (spoof: a
# From of our own domain), before its User-Agent (rule 7) or its
# addresses (rule 11) are looked at.  Its first probe, for a random
# extension, gets 403, and svwar gives up: nothing to learn.
svwar_lines() {	# svwar_lines [REASON]: the verdict lines of svwar's port
	awk -F '\t' -v p="127.0.0.1:$SVP" -v r="${1:-}" '$2 == p && $3 != "scan.example" &&
	    (r == "" || ($6 == "refuse" && $7 == r && $8 == "403"))' "$D/v.log" | wc -l
}
timeout 60 svwar -e 100-119 --domain example.com -b 127.0.0.1 -P "$SVP" \
    -p "$GATE" 127.0.0.1 >"$T/svwar.out" 2>&1
sv=$(svwar_lines) sv_spoof=$(svwar_lines spoof)
[ "$sv" -ge 1 ] && [ "$sv" -eq "$sv_spoof" ]
ok $? "svwar: its $sv request(s) all refused spoof 403"
grep -q 'Set --force' "$T/svwar.out"
ok $? "... and svwar gives up: $(grep -m 1 'ERROR' "$T/svwar.out")"
# Forced, it goes on past its first probe, until an answer shows every
# extension gets the same: no extension stands out.
timeout 60 svwar -e 100-119 --force --domain example.com -b 127.0.0.1 -P "$SVP" \
    -p "$GATE" 127.0.0.1 >"$T/svwar2.out" 2>&1
sv2=$(svwar_lines) sv2_spoof=$(svwar_lines spoof)
[ "$sv2" -gt "$sv" ] && [ "$sv2" -eq "$sv2_spoof" ]
ok $? "svwar --force: $((sv2 - sv)) more requests, all refused spoof 403, and it stops"
! grep -q 'exists' "$T/svwar2.out" && grep -q 'found nothing' "$T/svwar2.out"
ok $? "... and svwar found no extension"
[ "$(got_udp_n)" -eq 0 ]; ok $? "... our server got none of them ($(got_udp_n))"

# -- a flooder over TLS is limited --------------------------------------------------------
# 100 MESSAGEs on one connection: the bucket holds discovered_rate (20),
# refilled at 20 a second; every request over it gets 503.
i=0 to=
while [ "$i" -lt 100 ]; do to="$to bob"; i=$((i + 1)); done
msgs flood.example $to >"$T/msgs"
before=$(got_n)
t0=$(date +%s)
tls flood "$T/f1" 100
t1=$(date +%s)
acc=$(count flood.example accept discovered -) lim=$(count flood.example limit rate 503)
most=$((20 + 20 * (t1 - t0 + 1)))
[ "$acc" -ge 20 ] && [ "$acc" -le "$most" ] && [ "$lim" -ge 1 ] && [ $((acc + lim)) -eq 100 ]
ok $? "flood.example: 100 MESSAGEs, $acc accepted (20..$most in $((t1 - t0 + 1)) s), $lim limited 503"
[ "$(answers "$T/f1" 200)" -eq "$acc" ] && [ "$(answers "$T/f1" 503)" -eq "$lim" ] &&
[ "$(grep -c '^Retry-After: 1' "$T/f1")" -eq "$lim" ]
ok $? "... the flooder got $acc answers 200 and $lim answers 503 with Retry-After: 1"
wait_for 5 has_got $((before + acc))
ok $? "... our server got exactly the $acc accepted ($(($(got_n) - before)))"

# -- a harvester over UDP is watched ---------------------------------------------------------
# 14 addresses: max_uris (10) are accepted, the 11th is refused and
# starts the watch, the rest are refused as watched.  Its peer is an
# address: verified against the addresses fedq cached for its edge.
users 14 h >"$T/u14"
harvester "$T/u14" 14
ok $? "sipp harvester: 14 MESSAGEs over UDP, each answered"
[ "$(count harvest.example accept discovered -)" -eq 10 ] &&
[ "$(count harvest.example refuse watch 403)" -eq 4 ]
ok $? "harvest.example: 10 accepted, 4 refused watch 403"
wait_for 5 has_got 10 udp
n=$(grep -c '^Fed-Trust: source=discovered; verified=yes; partner=harvest.example; peer="127.0.0.1:' "$T/uas-udp.msg")
[ "$(got_udp_n)" -eq 10 ] && [ "$n" -eq 10 ]
ok $? "... our server got the 10 accepted, verified by address ($(got_udp_n), $n)"
fedlist -c "$T/fed.conf" watch ls >"$T/wls" 2>"$T/wls.err" &&
awk -F '\t' '$1 == "harvest.example" && $2 == "watch" { f = 1 } END { exit !f }' "$T/wls"
ok $? "fedlist watch ls: harvest.example is watched"

# -- fedstat --suggest | fedlist block add - -------------------------------------------------
fedstat -c "$T/fed.conf" --suggest >"$T/suggest" 2>"$T/suggest.err"
printf 'harvest.example\n' >"$T/suggest.want"
cmp_file "fedstat --suggest names the harvester only (not the flooder, nor the partners)" \
    "$T/suggest.want" "$T/suggest"
# (Piped as a user would; each side's exit status checked.)
{ fedstat -c "$T/fed.conf" --suggest 2>>"$T/suggest.err"; echo $? >"$T/suggest.rc"; } |
    fedlist -c "$T/fed.conf" block add - 2>"$T/block.err" &&
    [ "$(cat "$T/suggest.rc")" -eq 0 ]
ok $? "fedstat --suggest | fedlist block add -"
fedlist -c "$T/fed.conf" block ls >"$T/bls" 2>"$T/bls.err" &&
[ "$(cut -f1 "$T/bls")" = harvest.example ]
ok $? "... the block list holds harvest.example"
# Running fedgates check the lists at most once a second (fedgate(8)).
sleep 1.1
users 1 h >"$T/u1"
harvester "$T/u1" 1
[ "$(count harvest.example refuse blocked 403)" -eq 1 ] && grep -q '^SIP/2.0 403' "$T/harvest.msg"
ok $? "the harvester's next request (UDP) is refused blocked 403"
msgs harvest.example h1 >"$T/msgs"
tls harvest "$T/h1" 1
[ "$(answers "$T/h1" 403)" -eq 1 ] && [ "$(count harvest.example refuse blocked 403)" -eq 2 ]
ok $? "... and so is its next connection, over TLS"
[ "$(got_udp_n)" -eq 10 ] && ! got "$T/uas-tcp.msg" | grep -q '@harvest\.example$'
ok $? "... our server got nothing more from it"

# -- fedlist watch clear lifts a watch ------------------------------------------------------------
# partner.example syncs its directory: 7 new addresses after its 5; the
# 6th new one is over max_uris and starts its watch.
msgs partner.example s1 s2 s3 s4 s5 s6 s7 >"$T/msgs"
tls partner "$T/p2" 7
[ "$(answers "$T/p2" 200)" -eq 5 ] && [ "$(answers "$T/p2" 403)" -eq 2 ] &&
[ "$(count partner.example refuse watch 403)" -eq 2 ]
ok $? "partner.example tries 12 addresses: the 11th and 12th refused watch"
msgs partner.example bob1 >"$T/msgs"
tls partner "$T/p3" 1
[ "$(answers "$T/p3" 403)" -eq 1 ] && [ "$(count partner.example refuse watch 403)" -eq 3 ]
ok $? "... watched, even for an address it used before"
expect "fedlist watch clear partner.example" fedlist -c "$T/fed.conf" watch clear partner.example
fedlist -c "$T/fed.conf" watch ls >"$T/wls" 2>"$T/wls.err"
! grep -q '^partner\.example	watch' "$T/wls" && grep -q '^harvest\.example	watch' "$T/wls"
ok $? "... its watch is gone, the harvester's stays"
# fedgate sees a lifted watch within a second (fedlist(1)).
sleep 1.1
before=$(got_n)
msgs partner.example bob1 >"$T/msgs"
tls partner "$T/p4" 1
[ "$(answers "$T/p4" 200)" -eq 1 ] && [ "$(count partner.example accept discovered -)" -eq 11 ]
ok $? "partner.example's next MESSAGE is accepted, and our server answers 200"
wait_for 5 has_got $((before + 1)); ok $? "... our server got it"

# -- the whole day, from the log and our server's side ----------------------------------------
# sipp's own counts, by transport: TLS peers are names, UDP ones addresses.
acc_tcp=$(awk -F '\t' '$6 == "accept" && $8 == "-" && $2 !~ /^127\.0\.0\.1:/' "$D/v.log" | wc -l)
acc_udp=$(awk -F '\t' '$6 == "accept" && $8 == "-" && $2 ~ /^127\.0\.0\.1:/' "$D/v.log" | wc -l)
wait_for 5 sipp_got uas-tcp "$acc_tcp" && wait_for 5 sipp_got uas-udp "$acc_udp"
ok $? "sipp counts $(sipp_count uas-tcp 0_MESSAGE_Recv) MESSAGEs over TCP and $(sipp_count uas-udp 0_MESSAGE_Recv) over UDP: the $acc_tcp and $acc_udp accepted"
[ "$(sipp_count uas-tcp 0_MESSAGE_Unexp)" -eq 0 ] && [ "$(sipp_count uas-udp 0_MESSAGE_Unexp)" -eq 0 ] &&
[ "$(sipp_count uas-tcp 0_MESSAGE_Retrans)" -eq 0 ] && [ "$(sipp_count uas-udp 0_MESSAGE_Retrans)" -eq 0 ]
ok $? "... none unexpected, none retransmitted"
# And by Call-ID, from its message trace.
awk -F '\t' '$6 == "accept" && $8 == "-" { print $9 }' "$D/v.log" | sort >"$T/accepted"
{ got "$T/uas-tcp.msg"; got "$T/uas-udp.msg"; } | sort >"$T/received"
cmp_file "our server received exactly the accepted MESSAGEs ($(wc -l <"$T/accepted")), none refused or limited" \
    "$T/accepted" "$T/received"
expect "fedstat reads the whole verdict log" fedstat -c "$T/fed.conf"
[ ! -s "$T/err" ]; ok $? "... without a complaint"
awk -F '\t' '$1 == "harvest.example" && $10 == "blocked" { h = 1 }
    $1 == "flood.example" && $4 > 0 { f = 1 } END { exit !(h && f) }' "$T/out"
ok $? "... harvest.example blocked, flood.example with its limited requests"
kill -0 "$tls_gate" 2>/dev/null && kill -0 "$udp_gate" 2>/dev/null
ok $? "both gates are still up"
for g in tls-gate udp-gate; do
	grep -v -e '^Listening on ' -e '^Communication attempt ' -e '^Execing ' \
	    "$T/$g.err" >"$T/$g.diag"
done
! grep -q . "$T/tls-gate.diag" && ! grep -q . "$T/udp-gate.diag"
ok $? "neither gate said anything ($(cat "$T/tls-gate.diag" "$T/udp-gate.diag" | wc -l) lines)"
[ -s "$T/tls-gate.diag" ] && diag "$(head -n 5 "$T/tls-gate.diag")"
[ -s "$T/udp-gate.diag" ] && diag "$(head -n 5 "$T/udp-gate.diag")"
stop_all
