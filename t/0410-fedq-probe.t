#!/bin/sh
# fedq --probe: TLS to each target found, against `openssl s_server` peers
# on loopback holding certificates made here by a test CA: good, wrong
# name, expired, untrusted, a sip: URI, CN only, a wildcard, sip: URIs
# with a user part or a port, an IP SAN beside the CN; a silent peer.
# The name rule is fedgate's (lib/tlsname.c, RFC 5922 7.1-7.2).
. "${0%/*}/lib.sh"
PATH=$PATH:/usr/sbin
need dnsmasq openssl awk

# ---- the CAs and certificates ----
mkdir -p "$T/ca"
cd "$T/ca" || exit 1
mkca() {	# mkca NAME: a self-signed CA and its `openssl ca` files
	mkdir -p "$1/new"
	: >"$1/index.txt"
	echo 01 >"$1/serial"
	cat >"$1/ca.cnf" <<EOT
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = $T/ca/$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = pol
copy_extensions = copy
unique_subject = no
[ pol ]
commonName = supplied
EOT
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" \
	    -out "$1/ca.pem" -subj "/CN=fedkit test $1" -days 30 2>/dev/null
}
mkcert() {	# mkcert NAME CA CN SAN|- START END
	if [ "$4" = - ]; then
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
		    -subj "/CN=$3" 2>/dev/null
	else
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
		    -subj "/CN=$3" -addext "subjectAltName=$4" 2>/dev/null
	fi
	openssl ca -batch -config "$2/ca.cnf" -cert "$2/ca.pem" -keyfile "$2/ca.key" \
	    -in "$1.csr" -out "$1.pem" -startdate "$5" -enddate "$6" >"$1.log" 2>&1
}
start=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
end=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
mkca root && mkca other
mkcert good root good.probe.test DNS:good.probe.test "$start" "$end"
mkcert wrong root wrong.probe.test DNS:somebody.else.test "$start" "$end"
mkcert expired root expired.probe.test DNS:expired.probe.test 20200101000000Z 20200201000000Z
mkcert untrusted other untrusted.probe.test DNS:untrusted.probe.test "$start" "$end"
mkcert uri root x.invalid URI:sip:uri.probe.test "$start" "$end"
mkcert cn root cn.probe.test - "$start" "$end"
mkcert wild root wild.probe.test 'DNS:*.probe.test' "$start" "$end"
mkcert userat root userat.probe.test URI:sip:edge@userat.probe.test "$start" "$end"
mkcert port root port.probe.test URI:sip:port.probe.test:5061 "$start" "$end"
mkcert ipcn root ipcn.probe.test IP:127.0.0.1 "$start" "$end"
CERTS="good wrong expired untrusted uri cn wild userat port ipcn"
n=0
for c in $CERTS; do [ -s "$c.pem" ] && n=$((n + 1)); done
[ "$n" -eq 10 ]; r=$?; ok $r "the test CAs made 10 certificates ($n)"
[ $r -eq 0 ] || diag "$(cat ./*.log)"
openssl x509 -in expired.pem -noout -checkend 0 >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "... the expired one has expired"
cd "$TOP" || exit 1

# ---- one s_server per certificate ----
SEED=$$
serve() {	# serve NAME: sets PORT_NAME
	for try in 1 2 3 4 5 6 7 8; do
		SEED=$((SEED + 1))
		p=$(awk -v s="$SEED" 'BEGIN { srand(s); print 20000 + int(rand() * 30000) }')
		# The certificate is chosen by SNI: NAME's own for the SNI
		# NAME.probe.test; without it, good's server presents the
		# wrong certificate, so its "name ok" proves SNI was sent.
		first=$1; [ "$1" = good ] && first=wrong
		spawn openssl s_server -accept "127.0.0.1:$p" -cert "$T/ca/$first.pem" \
		    -key "$T/ca/$first.key" -servername "$1.probe.test" \
		    -cert2 "$T/ca/$1.pem" -key2 "$T/ca/$1.key" \
		    -www >"$T/s_$1.out" 2>&1 </dev/null
		pid=$!
		if wait_for 5 grep -q ACCEPT "$T/s_$1.out"; then
			eval "PORT_$1=$p PID_$1=$pid"
			return 0
		fi
		stop "$pid"
	done
	return 1
}
for c in $CERTS silent; do
	[ "$c" = silent ] && cp "$T/ca/good.pem" "$T/ca/silent.pem" && cp "$T/ca/good.key" "$T/ca/silent.key"
	serve "$c"; r=$?; ok $r "s_server with the $c certificate listens on 127.0.0.1"
	[ $r -eq 0 ] || diag "$(cat "$T/s_$c.out")"
done
# A silent peer: the stopped s_server's socket still completes TCP
# connections (the kernel's backlog), but nothing answers the ClientHello.
# (stop, at exit, continues it.)
kill -STOP "$PID_silent"
# A port nobody listens on, checked: a connection to it is refused now.
closed=
for try in 1 2 3 4 5 6 7 8; do
	p=$(awk -v s="$$$try" 'BEGIN { srand(s); print 50000 + int(rand() * 10000) }')
	if ! ss -Htln "sport = :$p" | grep -q . &&
	    openssl s_client -connect "127.0.0.1:$p" </dev/null 2>&1 | grep -q 'refused'; then
		closed=$p; break
	fi
done
[ -n "$closed" ]; ok $? "a closed port found and checked free (${closed:-none})"
{
	echo "local-ttl=300"
	echo "local=/test/"
	for c in $CERTS silent; do
		eval "p=\$PORT_$c"
		echo "srv-host=_sipfederationtls._tcp.$c.test,$c.probe.test,$p,0,0"
		echo "host-record=$c.probe.test,127.0.0.1"
	done
	echo "srv-host=_sipfederationtls._tcp.closed.test,closed.probe.test,$closed,0,0"
	echo "host-record=closed.probe.test,127.0.0.1"
	echo "srv-host=_sipfederationtls._tcp.noaddr.test,noaddr.probe.test,5061,0,0"
	echo "host-record=somewhere.probe.test,127.0.0.1"
} >"$T/dnsmasq.conf"
dnsmasq_start good.test
PORT=$dns_port
[ -n "$PORT" ]; ok $? "dnsmasq serves the probe zone (port ${PORT:-none})"
[ -n "$PORT" ] || exit 1
S="-s 127.0.0.1:$PORT"
CA=$T/ca/root/ca.pem

# probe DOMAIN: fedq --probe, its one line's columns 8.. in $T/cols
probe() {
	fedq $S --probe --ca "$CA" "$1" >"$T/out" 2>"$T/err"
	_rc=$?
	cut -f 8- "$T/out" >"$T/cols"
	return $_rc
}

probe good.test; ok $? "a good certificate: exit 0"
cut -f 1-3 "$T/cols" >"$T/got"
printf 'ok\tok\t29\n' >"$T/want"
awk -F '\t' '{ print $1 "\t" $2 "\t" ($3 >= 29 && $3 <= 30 ? 29 : $3) }' "$T/cols" >"$T/got"
cmp_file "... chain ok, name ok, 29-30 days left" "$T/want" "$T/got"
[ "$(cut -f 4 "$T/cols")" = "-" ]; ok $? "... and no complaint"
[ "$(cut -f 5 "$T/out")" = "good.probe.test" ]; ok $? "... the line is the SRV line with probe columns added"
openssl s_client -connect "127.0.0.1:$PORT_good" -noservername </dev/null 2>/dev/null |
    grep -q '^subject=CN *= *wrong.probe.test'
ok $? "... its server presents another certificate without SNI: fedq sent the target as SNI"

probe wrong.test; [ $? -eq 1 ]; ok $? "a certificate for another name: exit 1"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tfail')" ]; ok $? "... chain ok, name fail ($(cut -f 1-2 "$T/cols" | tr '\t' ' '))"

probe expired.test; [ $? -eq 1 ]; ok $? "an expired certificate: exit 1"
awk -F '\t' '$1 == "fail" && $2 == "ok" && $3 < 0 && $4 == "certificate has expired" { f = 1 } END { exit !f }' "$T/cols"
ok $? "... chain fail (certificate has expired), name ok, negative days ($(tr '\t' ' ' <"$T/cols"))"

probe untrusted.test; [ $? -eq 1 ]; ok $? "a certificate from another CA: exit 1"
awk -F '\t' '$1 == "fail" && $2 == "ok" && $3 >= 29 && $4 ~ /issuer/ { f = 1 } END { exit !f }' "$T/cols"
ok $? "... chain fail (no issuer), name ok ($(tr '\t' ' ' <"$T/cols"))"
fedq $S --probe --ca "$T/ca/other/ca.pem" untrusted.test >"$T/out" 2>&1
ok $? "... trusted with --ca naming its own CA"

probe uri.test; ok $? "a sip: URI subjectAltName names the target (RFC 5922)"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tok')" ]; ok $? "... chain and name ok"
probe cn.test; [ $? -eq 1 ]; ok $? "no subjectAltName at all: the CN does not count (fedgate never uses it)"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tfail')" ]; ok $? "... chain ok, name fail ($(cut -f 1-2 "$T/cols" | tr '\t' ' '))"
probe wild.test; [ $? -eq 1 ]; ok $? "a wildcard does not name a SIP domain (RFC 5922 7.2)"
[ "$(cut -f 2 "$T/cols")" = "fail" ]; ok $? "... name fail"
probe userat.test; [ $? -eq 1 ]; ok $? "a sip:user@host URI does not name the host (RFC 5922 7.1)"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tfail')" ]; ok $? "... chain ok, name fail"
probe port.test; [ $? -eq 1 ]; ok $? "a sip:host:port URI does not name the host"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tfail')" ]; ok $? "... chain ok, name fail"
probe ipcn.test; [ $? -eq 1 ]; ok $? "an IP subjectAltName beside a matching CN: no name"
[ "$(cut -f 1-2 "$T/cols")" = "$(printf 'ok\tfail')" ]; ok $? "... chain ok, name fail"

t0=$(date +%s)
probe silent.test; rc=$?
t1=$(date +%s)
[ "$rc" -eq 1 ]; ok $? "a peer that accepts but never answers the handshake: exit 1"
grep -q "	-	-	-	TLS handshake: timeout$" "$T/out"; ok $? "... told as a handshake timeout ($(cut -f 8- "$T/out" | tr '\t' ' '))"
[ $((t1 - t0)) -ge 4 ] && [ $((t1 - t0)) -le 8 ]; ok $? "... within the 5-second bound ($((t1 - t0)) s)"

probe closed.test; [ $? -eq 1 ]; ok $? "nobody listening: exit 1"
grep -q "	-	-	-	connect: Connection refused$" "$T/out"; ok $? "... told on the line ($(cut -f 8- "$T/out" | tr '\t' ' '))"
probe noaddr.test; [ $? -eq 1 ]; ok $? "a target without address: exit 1"
grep -q "	-	-	-	no address$" "$T/out"; ok $? "... told on the line"

fedq $S --probe --ca "$CA" --sorted good.test wrong.test >"$T/out" 2>"$T/err"
[ $? -eq 1 ]; ok $? "good and wrong together: exit 1"
[ "$(cut -f 1 "$T/out" | sort | tr '\n' ' ')" = "good.test wrong.test " ]; ok $? "... both reported"

fedq $S --probe --ca "$CA" --json good.test >"$T/out" 2>"$T/err"
grep -q '"connected":true,"chain_ok":true,"name_ok":true,"days":\(29\|30\),"error":""}$' "$T/out"
ok $? "--json carries the probe ($(cat "$T/out"))"

expect_exit 2 "--ca with a missing file" fedq $S --probe --ca "$T/none.pem" good.test
grep_file "... said" "none.pem" "$T/err"
