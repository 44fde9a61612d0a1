#!/bin/sh
# fedgate speaks TLS on its socket (SPEC 1.4): a test CA made here with
# openssl; openssl s_client plays the partner (Debian's sipp has no TLS),
# sipp our internal server; systemd-socket-activate runs one fedgate per
# connection.  Only 127.0.0.1; every peer stopped at exit.
. "${0%/*}/lib.sh"
need openssl sipp systemd-socket-activate socat ss

test_ports 2
GATE=$base UAS=$((base + 1))

# -- the test PKI ---------------------------------------------------------
P=$T/pki
mkdir -p "$P/db"
: >"$P/db/index"
echo 1000 >"$P/db/serial"
cat >"$P/ca.cnf" <<EOF
[ca]
default_ca = c
[c]
database = $P/db/index
serial = $P/db/serial
new_certs_dir = $P/db
default_md = sha256
default_crl_days = 30
policy = p
[p]
commonName = supplied
EOF
signed() {	# signed NAME SAN START END: issued by `openssl ca` (dated, revocable)
	pki_key "$1" && openssl req -new -key "$P/$1.key" -out "$P/$1.csr" \
	    -subj "/CN=$1" 2>/dev/null &&
	printf 'subjectAltName=%s\n' "$2" >"$P/$1.ext" &&
	openssl ca -batch -config "$P/ca.cnf" -cert "$P/ca.pem" -keyfile "$P/ca.key" \
	    -in "$P/$1.csr" -out "$P/$1.pem" -startdate "$3" -enddate "$4" \
	    -extfile "$P/$1.ext" 2>/dev/null
}
pki_ca ca && pki_ca other &&
pki_leaf gate "DNS:gate.example.com" ca &&
pki_leaf partner "DNS:edge.partner.example,URI:sip:partner.example" ca &&
pki_leaf wrong "DNS:elsewhere.example" ca &&
pki_leaf second "DNS:www.partner.example,DNS:edge.partner.example" ca &&
pki_leaf untrusted "DNS:edge.partner.example" other &&
pki_leaf nonames "IP:127.0.0.1" ca &&
signed expired "DNS:edge.partner.example" 20200101000000Z 20200201000000Z &&
signed revoked "DNS:edge.partner.example" 20250101000000Z 20990101000000Z &&
openssl ca -config "$P/ca.cnf" -cert "$P/ca.pem" -keyfile "$P/ca.key" \
    -revoke "$P/revoked.pem" 2>/dev/null &&
openssl ca -gencrl -config "$P/ca.cnf" -cert "$P/ca.pem" -keyfile "$P/ca.key" \
    -out "$P/crl.pem" 2>/dev/null
ok $? "openssl made a test CA, partner certificates and a CRL"

mkconf() {	# mkconf [KEY=VALUE...]: a fresh fed.conf, state and log
	rm -rf "$T/state" "$T/v.log" && mkdir "$T/state" &&
	: >"$T/allow" && : >"$T/block" &&
	fedconf "$T/fed.conf" "$T" "verdict_log = $T/v.log" \
	    "tls_cert = $P/gate.pem" "tls_key = $P/gate.key" "tls_ca = $P/ca.pem" "$@"
}
# The edge cache fedq -w writes: partner.example's edge is edge.partner.example.
echo "partner.example edge.partner.example 5061 2099-01-01T00:00:00.000Z" >"$T/edges"

sipp_server 200 -trace_msg -message_file "$T/uas.msg"; ok $? "sipp plays our server"

start_gate() {
	spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
	gate_pid=$!
	wait_for 10 listening "$GATE"
}
stop_gate() { stop "$gate_pid"; }

calls=0
msgs() {	# msgs N FROM-DOMAIN: N MESSAGEs as a partner's edge sends them
	i=1
	while [ "$i" -le "$1" ]; do
		printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKt%s\r\nFrom: <sip:alice@%s>;tag=%s\r\nTo: <sip:bob@example.com>\r\nCall-ID: tls-%s@partner\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nFed-Trust: source=allowlisted; verified=yes; partner=forged.example\r\nContent-Length: 0\r\n\r\n' \
		    "$calls.$i" "$2" "$i" "$calls.$i"
		i=$((i + 1))
	done
}
partner() {	# partner CERT N FROM [ANSWERS]: N MESSAGEs over TLS; replies in $T/got
	: >"$T/uas.msg"
	: >"$T/got"
	calls=$((calls + 1))	# new Call-IDs: our server has seen the old
	want=${4:-$2}
	# Keep the connection open until the answers are in (at most 15 s:
	# a loaded machine is slow), or, when none are due, long enough for
	# fedgate to finish the handshake it refuses.
	{ msgs "$2" "$3"
	  if [ "$want" -eq 0 ]; then sleep 2; else
		i=0
		while [ "$(grep -c '^SIP/2.0' "$T/got")" -lt "$want" ] && [ "$i" -lt 150 ]; do
			sleep 0.1; i=$((i + 1))
		done
	  fi; } | timeout 20 openssl s_client \
	    -connect "127.0.0.1:$GATE" ${1:+-cert "$P/$1.pem" -key "$P/$1.key"} \
	    -CAfile "$P/ca.pem" -verify_return_error -quiet -no_ign_eof >"$T/got" 2>"$T/s_client.err"
}
# session CERT N FROM [ANSWERS [KEY=VALUE...]]: a fresh fed.conf (with
# those keys), a fedgate, and one partner connection.
session() {
	_sc=$1 _sn=$2 _sf=$3 _sa=${4:-$2}; shift 3; [ $# -eq 0 ] || shift
	mkconf "$@" && start_gate && partner "$_sc" "$_sn" "$_sf" "$_sa"
}
count() { awk -F '\t' -v v="$1" -v r="$2" '$6 == v && $7 == r' "$T/v.log" 2>/dev/null | wc -l; }

# -- a partner whose certificate names its SRV target ---------------------
session partner 3 partner.example
n=$(grep -c '^SIP/2.0 200' "$T/got")
[ "$n" -eq 3 ]; ok $? "a verified partner's 3 MESSAGEs are answered 200 by our server ($n)"
[ "$(count accept discovered)" -eq 3 ]; ok $? "logged accept discovered"
awk -F '\t' '$2 != "edge.partner.example" { exit 1 }' "$T/v.log"
ok $? "the peer in the log is the certificate's name"
n=$(grep -c '^Fed-Trust: source=discovered; verified=yes; partner=partner.example; peer="edge.partner.example"' "$T/uas.msg")
[ "$n" -eq 3 ]; ok $? "our server saw Fed-Trust verified=yes ($n)"
! grep -q forged.example "$T/uas.msg"; ok $? "and never the partner's forged Fed-Trust"
stop_gate

# -- the name that verifies need not be the first --------------------------
session second 1 partner.example
grep -q '^SIP/2.0 200' "$T/got"; ok $? "a certificate whose second name is the edge is verified"
awk -F '\t' '$2 != "www.partner.example" { exit 1 }' "$T/v.log"
ok $? "the log names the peer by the certificate's first name"
stop_gate

# -- a certificate for another name: unverified ---------------------------
session wrong 2 partner.example
n=$(grep -c '^SIP/2.0 403' "$T/got")
[ "$n" -eq 2 ]; ok $? "a certificate naming another host: 403 ($n)"
[ "$(count refuse unverified)" -eq 2 ]; ok $? "logged refuse unverified"
! grep -q '^MESSAGE' "$T/uas.msg"; ok $? "nothing reached our server"
stop_gate

# -- handshakes that must fail ---------------------------------------------
mkconf
start_gate
for c in expired:'certificate has expired' untrusted:'unable to get local issuer' \
    :'did not return a certificate' nonames:'names no domain'; do
	cert=${c%%:*} why=${c#*:}
	partner "$cert" 1 partner.example 0
	wait_for 5 grep -q "$why" "$T/gate.err"
	ok $? "${cert:-no certificate}: the handshake fails: $why"
	! grep -q '^SIP/2.0' "$T/got"; ok $? "${cert:-no certificate}: no SIP answer"
done
! grep -q '^MESSAGE' "$T/uas.msg"; ok $? "none of them reached our server"
[ ! -s "$T/v.log" ]; ok $? "and none was logged as a SIP decision"
# Plaintext to the TLS socket.
{ msgs 1 partner.example; sleep 1; } | timeout 10 socat -t 1 - "TCP:127.0.0.1:$GATE" >"$T/got" 2>/dev/null
wait_for 5 grep -q 'wrong version number' "$T/gate.err"
ok $? "plaintext SIP to the TLS socket is refused"
! grep -q '^SIP/2.0' "$T/got"; ok $? "and gets no SIP answer"
stop_gate

# -- a CRL: the revoked certificate fails, the others still pass ------------
session revoked 1 partner.example 0 "tls_crl = $P/crl.pem"
wait_for 5 grep -q 'certificate revoked' "$T/gate.err"
rc=$?
ok $rc "a revoked certificate fails the handshake (tls_crl)"
[ "$rc" -eq 0 ] || diag "$(tail -5 "$T/gate.err")" "$(tail -3 "$T/s_client.err")"
partner partner 1 partner.example
grep -q '^SIP/2.0 200' "$T/got"
rc=$?
ok $rc "a good one still passes with the CRL loaded"
[ "$rc" -eq 0 ] || diag "$(tail -5 "$T/gate.err")" "$(tail -3 "$T/s_client.err")"
stop_gate

# -- configuration mistakes say what to do ---------------------------------
mkconf
sed -i "s|^tls_ca = .*|tls_ca = $T/missing.pem|" "$T/fed.conf"
start_gate
partner partner 1 partner.example 0
wait_for 5 grep -q "missing.pem" "$T/gate.err"
ok $? "an unreadable tls_ca is named in the message"
stop_gate

# -- tls_ca as a bundle, a hashed directory; what tls_crl may hold -------------
# fedgate reads a CA certificate only when a handshake needs it (lazy, so
# a bundle of 144 costs no 31 ms per connection): the partner's issuer
# must still be found among many, in a file or in a directory made by
# `openssl rehash`, and an issuer that is not there must still fail.
for i in 1 2 3; do pki_ca "filler$i"; done
cat "$P/filler1.pem" "$P/filler2.pem" "$P/ca.pem" "$P/filler3.pem" >"$P/bundle.pem"
mkdir "$P/hashed" && cp "$P/filler1.pem" "$P/filler2.pem" "$P/ca.pem" "$P/hashed/" &&
openssl rehash "$P/hashed" 2>/dev/null
ok $? "a bundle of 4 CA certificates and a hashed directory of 3"
for where in bundle.pem hashed; do
	mkconf
	sed -i "s|^tls_ca = .*|tls_ca = $P/$where|" "$T/fed.conf"
	: >"$T/gate.err"
	start_gate
	partner partner 1 partner.example
	grep -q '^SIP/2.0 200' "$T/got"
	rc=$?
	ok $rc "tls_ca = $where: the partner's issuer is found, the partner verified"
	[ "$rc" -eq 0 ] || diag "$(tail -5 "$T/gate.err")" "$(tail -3 "$T/s_client.err")"
	partner untrusted 1 partner.example 0
	wait_for 10 grep -q 'unable to get local issuer' "$T/gate.err"
	ok $? "tls_ca = $where: a certificate from another CA still fails"
	stop_gate
done
# A certificate in tls_crl is not trusted for being there (only CRLs are
# taken from it), and a tls_ca without a certificate is refused, named.
cat "$P/crl.pem" "$P/other.pem" >"$P/crl-and-cert.pem"
mkconf "tls_crl = $P/crl-and-cert.pem"
: >"$T/gate.err"
start_gate
partner untrusted 1 partner.example 0
wait_for 10 grep -q 'unable to get local issuer' "$T/gate.err"
ok $? "a CA certificate in the tls_crl file is not a trust anchor"
partner revoked 1 partner.example 0
wait_for 10 grep -q 'certificate revoked' "$T/gate.err"
ok $? "and the CRL beside it is still applied"
stop_gate
mkconf
sed -i "s|^tls_ca = .*|tls_ca = $P/crl.pem|" "$T/fed.conf"
: >"$T/gate.err"
start_gate
partner partner 1 partner.example 0
wait_for 10 grep -q "crl.pem: unusable" "$T/gate.err"
ok $? "a tls_ca with no certificate in it is refused, named"
stop_gate

# -- a TLS handshake flood is bounded like any other (fedkit(7)) -------------
# The handshake must be whole within message_timeout, counted from its
# start, however the partner paces it: a partial ClientHello trickled a
# byte a second (slowloris for TLS) is cut at the timeout, with a
# diagnostic; garbage instead of a ClientHello is refused at once; and a
# crowd of half-open handshakes holds one small process each, for no
# longer, while a real partner still gets in.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# held TAG SECS [BYTES]: a peer that sends BYTES (default: a TLS record
# header announcing a 512-byte ClientHello) then one byte a second for
# SECS seconds; $T/TAG.end gets the time (ms) its connection ended.
held() {
	rm -f "$T/$1.end"
	{ printf "${3:-\\026\\003\\001\\002\\000}"
	  i=0
	  while [ "$i" -lt "$2" ]; do printf '\001'; sleep 1; i=$((i + 1)); done
	} 2>/dev/null | { socat - "TCP:127.0.0.1:$GATE" >/dev/null 2>&1; now_ms >"$T/$1.end"; } &
}
ended() { [ -s "$T/$1.end" ]; }
fedgates() { pgrep -P "$gate_pid" | wc -l; }	# the activator's children

mkconf "message_timeout = 2s"
: >"$T/gate.err"
start_gate
t0=$(now_ms)
held slow 20
wait_for 15 ended slow
t1=$(cat "$T/slow.end" 2>/dev/null || now_ms)
el=$((t1 - t0))
[ "$el" -ge 1900 ] && [ "$el" -lt 8000 ]
ok $? "a ClientHello trickled a byte a second is cut at message_timeout = 2s (${el} ms; the peer would go on 20 s)"
grep -q 'TLS handshake: not complete within 2000 ms' "$T/gate.err"
ok $? "and fedgate says so: TLS handshake: not complete within 2000 ms"

# Garbage, under the default message_timeout (10 s): closed long before.
stop_gate
mkconf
start_gate
for g in http:'GET / HTTP/1.1\r\nHost: gate.example.com\r\n\r\n':'http request' \
    huge:'\026\003\001\377\377':'packet length too long' \
    zeros:'\000\000\000\000\000\000\000\000':'wrong version number'; do
	tag=${g%%:*} rest=${g#*:}
	bytes=${rest%:*} why=${rest##*:}
	: >"$T/gate.err"
	t0=$(now_ms)
	held "$tag" 12 "$bytes"
	wait_for 15 ended "$tag"
	t1=$(cat "$T/$tag.end" 2>/dev/null || now_ms)
	el=$((t1 - t0))
	[ "$el" -lt 5000 ]
	ok $? "$tag instead of a ClientHello: closed at once (${el} ms; message_timeout 10 s, the peer 12 s)"
	grep -q "TLS handshake: .*$why" "$T/gate.err"
	ok $? "$tag: the diagnostic says why ($why)"
done

# 12 half-open handshakes at once, each held by its peer for 20 s, under
# message_timeout = 5s (long enough for all 12 processes to be up at once
# on a loaded machine).
stop_gate
mkconf "message_timeout = 5s"
: >"$T/gate.err"
start_gate
t0=$(now_ms)
i=1
while [ "$i" -le 12 ]; do held "flood$i" 20; i=$((i + 1)); done
wait_for 5 sh -c "[ \$(pgrep -P $gate_pid | wc -l) -ge 12 ]"
n=$(fedgates)
[ "$n" -ge 12 ]; ok $? "12 half-open handshakes hold 12 fedgate processes ($n)"
# What each holds: its private memory (the libraries are shared) and the
# CPU it spent (set-up and one poll), read from /proc while they wait.
maxkb=0 maxticks=0
for c in $(pgrep -P "$gate_pid"); do
	kb=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$c/smaps_rollup" 2>/dev/null)
	ticks=$(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null)
	[ "${kb:-0}" -gt "$maxkb" ] && maxkb=$kb
	[ "${ticks:-0}" -gt "$maxticks" ] && maxticks=$ticks
done
if ldd "$B/bin/fedgate" 2>/dev/null | grep -q 'libasan'; then
	echo "ok $((_n + 1)) # SKIP memory per half-open handshake: a sanitizer build's shadow memory is no measure (${maxkb} kB)"
	_n=$((_n + 1))
else
	[ "$maxkb" -gt 0 ] && [ "$maxkb" -lt 4096 ]
	ok $? "each half-open handshake holds under 4 MB of private memory (at most ${maxkb} kB)"
fi
hz=$(getconf CLK_TCK)
[ "$maxticks" -lt "$hz" ]
ok $? "and has spent under 1 s of CPU (at most $maxticks ticks of 1/$hz s)"
partner partner 1 partner.example
grep -q '^SIP/2.0 200' "$T/got"
ok $? "meanwhile a real partner completes its handshake and is answered"
i=1 all=0
while [ "$i" -le 12 ]; do
	wait_for 15 ended "flood$i" && all=$((all + 1))
	i=$((i + 1))
done
last=$(cat "$T"/flood*.end 2>/dev/null | sort -n | tail -1)
el=$(( ${last:-$(now_ms)} - t0 ))
[ "$all" -eq 12 ] && [ "$el" -lt 16000 ]
ok $? "all 12 are cut at the timeout, not held to the peers' 20 s ($all in ${el} ms)"
n=$(grep -c 'TLS handshake: not complete within 5000 ms' "$T/gate.err")
[ "$n" -eq 12 ]; ok $? "each with its diagnostic ($n)"
wait_for 5 sh -c "[ \$(pgrep -P $gate_pid | wc -l) -eq 0 ]"
ok $? "and no fedgate process is left"
stop_gate
stop_all
