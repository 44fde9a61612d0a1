#!/bin/sh
# fedq against a real DNS server: dnsmasq on loopback with the SRV, NAPTR,
# A/AAAA and CNAME records written here; t/helper/dnsstub for SERVFAIL,
# REFUSED and silence.
. "${0%/*}/lib.sh"
# dnsmasq lives in /usr/sbin, outside a plain user's PATH.
PATH=$PATH:/usr/sbin
need dnsmasq awk

DM_PID=
stop_dnsmasq() { [ -z "$DM_PID" ] || { kill "$DM_PID"; wait "$DM_PID"; } 2>/dev/null; }
at_exit stop_dnsmasq
STUB_PIDS=
stop_stubs() { for p in $STUB_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
at_exit stop_stubs

# ---- the zone ----
{
	echo "local-ttl=300"
	echo "local=/test/"
	# Two weighted targets, a backup in another domain, a priority apart.
	echo "srv-host=_sipfederationtls._tcp.fab.test,sip1.fab.test,5061,10,60"
	echo "srv-host=_sipfederationtls._tcp.fab.test,sip2.fab.test,5061,10,40"
	echo "srv-host=_sipfederationtls._tcp.fab.test,backup.other.test,5062,20,0"
	echo "host-record=sip1.fab.test,192.0.2.1,2001:db8::1"
	echo "host-record=sip2.fab.test,192.0.2.2,60"
	echo "host-record=backup.other.test,198.51.100.7"
	# Weight 0 beside weight 100 (RFC 2782: chosen rarely, not never).
	echo "srv-host=_sipfederationtls._tcp.w0.test,zero.w0.test,5061,1,0"
	echo "srv-host=_sipfederationtls._tcp.w0.test,hundred.w0.test,5061,1,100"
	echo "host-record=zero.w0.test,192.0.2.20"
	echo "host-record=hundred.w0.test,192.0.2.21"
	# A domain without SRV, and one whose target is a CNAME.
	echo "host-record=nosrv.test,192.0.2.9"
	echo "srv-host=_sipfederationtls._tcp.alias.test,edge.alias.test,5061,0,0"
	echo "cname=edge.alias.test,real.alias.test"
	echo "host-record=real.alias.test,192.0.2.30,2001:db8::30"
	# NAPTR -> SRV -> A, the NAPTR order choosing TLS.
	echo "naptr-record=nap.test,20,10,s,SIP+D2U,,_sip._udp.nap.test"
	echo "naptr-record=nap.test,10,50,s,SIPS+D2T,,_sips._tcp.nap.test"
	echo "srv-host=_sips._tcp.nap.test,tls.nap.test,5061,0,0"
	echo "srv-host=_sip._udp.nap.test,udp.nap.test,5060,0,0"
	echo "host-record=tls.nap.test,192.0.2.40"
	echo "host-record=udp.nap.test,192.0.2.41"
	# No NAPTR, no SRV: the domain's own address (RFC 3263 4.2).
	echo "host-record=plain.test,192.0.2.50"
	# Another service.
	echo "srv-host=_sip._tcp.fab.test,tcp.fab.test,5060,0,0"
	echo "host-record=tcp.fab.test,192.0.2.60"
	# Short-lived, for the cache's expiry.
	echo "srv-host=_sipfederationtls._tcp.brief.test,sip.brief.test,5061,0,0"
	echo "host-record=sip.brief.test,192.0.2.70,1"
	# 40 targets: an answer too big for UDP, so c-ares asks again over TCP.
	awk 'BEGIN { for (i = 0; i < 40; i++) {
		printf "srv-host=_sipfederationtls._tcp.big.test,edge-number-%02d.big.test,5061,0,%d\n", i, i + 1
		printf "host-record=edge-number-%02d.big.test,10.2.0.%d\n", i, i } }'
	# 2,000 domains for the stdin test.
	awk 'BEGIN { for (i = 0; i < 2000; i++) {
		printf "srv-host=_sipfederationtls._tcp.d%d.many.test,sip.d%d.many.test,5061,0,0\n", i, i
		printf "host-record=sip.d%d.many.test,10.1.%d.%d\n", i, int(i / 256), i % 256 } }'
} >"$T/dnsmasq.conf"

PORT=
for try in 1 2 3 4 5 6 7 8; do
	p=$(awk -v s="$$$try" 'BEGIN { srand(s); print 20000 + int(rand() * 30000) }')
	dnsmasq --keep-in-foreground --port="$p" --listen-address=127.0.0.1,::1 \
	    --bind-interfaces --no-resolv --no-hosts --no-poll \
	    --conf-file="$T/dnsmasq.conf" --log-facility="$T/dnsmasq.log" \
	    --pid-file="$T/dnsmasq.pid" 2>"$T/dnsmasq.err" &
	DM_PID=$!
	if wait_for 5 fedq -T 100 -s "127.0.0.1:$p" fab.test; then PORT=$p; break; fi
	stop_dnsmasq; DM_PID=
done
[ -n "$PORT" ]; ok $? "dnsmasq serves the test zone on 127.0.0.1 (port ${PORT:-none})"
[ -n "$PORT" ] || { diag "$(cat "$T/dnsmasq.err" "$T/dnsmasq.log" 2>/dev/null)"; exit 1; }
S="-s 127.0.0.1:$PORT"

# ---- one domain, stable order ----
expect "fab.test: exit 0" fedq $S --sorted fab.test
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    fab.test 10 60 5061 sip1.fab.test 300 192.0.2.1,2001:db8::1 \
    fab.test 10 40 5061 sip2.fab.test 60 192.0.2.2 \
    fab.test 20 0 5062 backup.other.test 300 198.51.100.7 >"$T/want"
cmp_file "--sorted: priority, weight, target; ttl the least of SRV and addresses; a target in another domain" "$T/want" "$T/out"
[ ! -s "$T/err" ]; ok $? "... nothing on stderr"

expect "IPv6 server: -s [::1]:PORT" fedq -s "[::1]:$PORT" --sorted fab.test
cmp_file "... the same answer over IPv6" "$T/want" "$T/out"

expect "--json" fedq $S --sorted --json fab.test
cat >"$T/want" <<'EOT'
{"domain":"fab.test","priority":10,"weight":60,"port":5061,"target":"sip1.fab.test","ttl":300,"addresses":["192.0.2.1","2001:db8::1"]}
{"domain":"fab.test","priority":10,"weight":40,"port":5061,"target":"sip2.fab.test","ttl":60,"addresses":["192.0.2.2"]}
{"domain":"fab.test","priority":20,"weight":0,"port":5062,"target":"backup.other.test","ttl":300,"addresses":["198.51.100.7"]}
EOT
cmp_file "... one object a line" "$T/want" "$T/out"

expect "a CNAME target is followed" fedq $S alias.test
printf 'alias.test\t0\t0\t5061\tedge.alias.test\t300\t192.0.2.30,2001:db8::30\n' >"$T/want"
cmp_file "... to its addresses, A and AAAA" "$T/want" "$T/out"

expect "-t _sip._tcp asks that service" fedq $S -t _sip._tcp fab.test
printf 'fab.test\t0\t0\t5060\ttcp.fab.test\t300\t192.0.2.60\n' >"$T/want"
cmp_file "... and finds its target" "$T/want" "$T/out"

expect "an answer too big for UDP comes over TCP" fedq $S --sorted big.test
n=$(wc -l <"$T/out")
[ "$n" -eq 32 ]; ok $? "... 32 of its 40 targets kept, the most fedq keeps ($n)"
grep_file "... the heaviest first, with its address" "^big.test	0	40	5061	edge-number-39.big.test	300	10.2.0.39$" "$T/out"

# ---- failures: told apart, the others still print ----
expect_exit 1 "a domain without SRV among good ones: exit 1" fedq $S --sorted alias.test nosrv.test nx.test fab.test
n=$(cut -f 1 "$T/out" | sort -u | tr '\n' ' ')
[ "$n" = "alias.test fab.test " ]; ok $? "... both good domains answered ($n)"
grep_file "... no SRV record, in those words" "^fedq: nosrv.test: no _sipfederationtls._tcp record$" "$T/err"
grep_file "... NXDOMAIN is no such domain" "^fedq: nx.test: no such domain$" "$T/err"
expect_exit 1 "-t names the missing service" fedq $S -t _sips._tcp fab.test
grep_file "... in the message" "^fedq: fab.test: no _sips._tcp record$" "$T/err"

stub() {	# stub MODE: start dnsstub, set SP to its port
	rm -f "$T/stub.port"
	dnsstub "$1" "$T/stub.port" 60 &
	STUB_PIDS="$STUB_PIDS $!"
	wait_for 5 test -s "$T/stub.port"
	SP=$(cat "$T/stub.port")
}
stub servfail
expect_exit 1 "SERVFAIL: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as a server failure" "^fedq: fab.test: server failure (SERVFAIL)$" "$T/err"
stub refused
expect_exit 1 "REFUSED: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as refused" "^fedq: fab.test: query refused (REFUSED)$" "$T/err"
stub drop
expect_exit 1 "no answer at all: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as a timeout" "^fedq: fab.test: timeout$" "$T/err"

# ---- RFC 2782 order over 10,000 draws ----
# fab.test: sip1 (weight 60) and sip2 (40) at priority 10, backup at 20.
# Each answer's first line is sip1 with p = 0.6: over n = 10,000 draws the
# count is binomial, sd = sqrt(n p (1 - p)) = 49; we allow 5 sd (245),
# which a correct implementation misses once in ~1.7 million runs.
yes fab.test | head -n 10000 >"$T/fab10k"
fedq $S -P 16 - <"$T/fab10k" >"$T/draws" 2>"$T/err"; ok $? "10,000 lookups of fab.test: exit 0"
n=$(wc -l <"$T/draws")
[ "$n" -eq 30000 ]; ok $? "... 10,000 answers of 3 lines ($n lines)"
first=$(awk -F '\t' 'NR % 3 == 1 && $5 == "sip1.fab.test" { n++ } END { print n + 0 }' "$T/draws")
[ "$first" -ge 5755 ] && [ "$first" -le 6245 ]; ok $? "weight 60 of 100 first in 6,000 +- 245 of 10,000 ($first)"
bad=$(awk -F '\t' 'NR % 3 == 0 && $5 != "backup.other.test" { n++ } END { print n + 0 }' "$T/draws")
[ "$bad" -eq 0 ]; ok $? "priority 20 always after priority 10 ($bad out of place)"
bad=$(awk -F '\t' 'NR % 3 != 0 && $2 != 10 { n++ } END { print n + 0 }' "$T/draws")
[ "$bad" -eq 0 ]; ok $? "... and both priority-10 targets before it ($bad out of place)"
# w0.test: weights 0 and 100.  RFC 2782 puts the weight-0 target first in
# the running sum, so it is picked when the random number is 0: p = 1/101.
# Expected 99 of 10,000, sd 9.9; 5 sd: 50..148.  Never would be 0; a
# naive uniform choice ~5,000.
yes w0.test | head -n 10000 | fedq $S -P 16 - >"$T/draws" 2>"$T/err"
z=$(awk -F '\t' 'NR % 2 == 1 && $5 == "zero.w0.test" { n++ } END { print n + 0 }' "$T/draws")
[ "$z" -ge 50 ] && [ "$z" -le 148 ]; ok $? "weight 0 beside 100 is first about once in 101 ($z of 10,000; 50..148)"
fedq $S --sorted w0.test >"$T/out"
awk -F '\t' '{ print $5 }' "$T/out" | tr '\n' ' ' >"$T/got"
[ "$(cat "$T/got")" = "hundred.w0.test zero.w0.test " ]; ok $? "--sorted: heavier weight first ($(cat "$T/got"))"

# ---- RFC 3263 ----
expect "--rfc3263: NAPTR, then SRV, then addresses" fedq $S --rfc3263 nap.test
printf 'nap.test\t0\t0\t5061\ttls.nap.test\t300\t192.0.2.40\n' >"$T/want"
cmp_file "... the NAPTR with the lowest order (SIPS+D2T) wins" "$T/want" "$T/out"
expect "--rfc3263 without NAPTR: the SRV of the service" fedq $S --rfc3263 fab.test
[ "$(wc -l <"$T/out")" -eq 3 ]; ok $? "... its three targets"
expect "--rfc3263 without NAPTR or SRV: the domain's own address" fedq $S --rfc3263 plain.test
printf 'plain.test\t0\t0\t5061\tplain.test\t300\t192.0.2.50\n' >"$T/want"
cmp_file "... on 5061 for TLS" "$T/want" "$T/out"
expect "... on 5060 with -t _sip._udp" fedq $S --rfc3263 -t _sip._udp plain.test
grep_file "... port 5060" "^plain.test	0	0	5060	plain.test	" "$T/out"
expect_exit 1 "--rfc3263 on a name that does not exist" fedq $S --rfc3263 nx.test
grep_file "... no such domain" "^fedq: nx.test: no such domain$" "$T/err"

# ---- many domains from stdin ----
awk 'BEGIN { for (i = 0; i < 2000; i++) print "d" i ".many.test" }' >"$T/many"
fedq $S - <"$T/many" >"$T/out" 2>"$T/err"; ok $? "2,000 domains on stdin: exit 0"
n=$(cut -f 1 "$T/out" | sort -u | wc -l)
[ "$n" -eq 2000 ]; ok $? "... every one answered ($n)"
bad=$(awk -F '\t' '{ split($1, a, "."); d = substr(a[1], 2); if ($7 != "10.1." int(d / 256) "." d % 256) n++ } END { print n + 0 }' "$T/out")
[ "$bad" -eq 0 ]; ok $? "... each with its own address ($bad wrong)"

# ---- bad input: said, skipped, exit 2; the rest still resolved ----
printf 'fab.test\nbad_name!.test\n\n# a comment\n  alias.test  \n' >"$T/in"
fedq $S --sorted - <"$T/in" >"$T/out" 2>"$T/err"
[ $? -eq 2 ]; ok $? "a bad domain on stdin: exit 2"
grep_file "... named with its line" "^fedq: stdin:2: " "$T/err"
n=$(cut -f 1 "$T/out" | sort -u | tr '\n' ' ')
[ "$n" = "alias.test fab.test " ]; ok $? "... the good ones resolved, blanks and comments skipped ($n)"
head -c 3000 /dev/zero | tr '\0' a >"$T/in"; printf '\nfab.test\n' >>"$T/in"
fedq $S - <"$T/in" >"$T/out" 2>"$T/err"
[ $? -eq 2 ]; ok $? "an overlong line: exit 2"
grep_file "... said" "^fedq: stdin:1: line longer than" "$T/err"
[ "$(wc -l <"$T/out")" -eq 3 ]; ok $? "... and the next line still resolved"
printf 'fab.test\0evil.test\nalias.test\n' >"$T/in"
fedq $S - <"$T/in" >"$T/out" 2>"$T/err"
[ $? -eq 2 ]; ok $? "a NUL byte in a line: exit 2"
grep_file "... said, naming the line" "^fedq: stdin:1: a NUL byte in the line$" "$T/err"
[ "$(cut -f 1 "$T/out" | sort -u)" = alias.test ]; ok $? "... that line skipped whole, the next resolved"
expect_exit 2 "-t with a bad service" fedq $S -t sip.tcp fab.test
expect_exit 2 "-P 0" fedq $S -P 0 fab.test
expect_exit 2 "no domain at all" fedq $S
expect_exit 2 "--ca without --probe" fedq $S --ca /dev/null fab.test
expect_exit 2 "-s with something not an address" fedq -s not-an-address fab.test
grep_file "... said" "^fedq: -s not-an-address: " "$T/err"
expect_exit 2 "a missing -c file" fedq -c "$T/none.conf" $S fab.test

# ---- -w: the edge cache ----
C=$T/edges
now=$(date +%s)
expect "-w writes the edge cache" fedq $S -w "$C" fab.test alias.test
grep -v '^#' "$C" | cut -f 1-3,5 >"$T/got"
printf '%s\t%s\t%s\t%s\n' \
    alias.test edge.alias.test 5061 192.0.2.30,2001:db8::30 \
    fab.test backup.other.test 5062 198.51.100.7 \
    fab.test sip1.fab.test 5061 192.0.2.1,2001:db8::1 \
    fab.test sip2.fab.test 5061 192.0.2.2 >"$T/want"
cmp_file "... sorted by domain and target, addresses as the fifth field" "$T/want" "$T/got"
grep -v '^#' "$C" | cut -f 4 | grep -vc '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9][0-9][0-9]Z$' >"$T/n"
[ "$(cat "$T/n")" -eq 0 ]; ok $? "... expiry as RFC 3339 UTC with milliseconds"
exp=$(awk -F '\t' '$2 == "sip2.fab.test" { print $4 }' "$C")
e=$(date -u -d "$(echo "$exp" | sed 's/T/ /; s/\.[0-9]*Z$//')" +%s)
[ $((e - now)) -ge 58 ] && [ $((e - now)) -le 62 ]; ok $? "... now + the least TTL (60 s for sip2: $((e - now)))"
exp=$(awk -F '\t' '$2 == "sip1.fab.test" { print $4 }' "$C")
e=$(date -u -d "$(echo "$exp" | sed 's/T/ /; s/\.[0-9]*Z$//')" +%s)
[ $((e - now)) -ge 298 ] && [ $((e - now)) -le 302 ]; ok $? "... 300 s for sip1 ($((e - now)))"

# Merging: another domain's lines stay, an old line of a domain looked up
# again goes, an expired one goes, a failed domain keeps its lines.
later=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
old=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
{
	cat "$C"
	printf 'keep.test\tsip.keep.test\t5061\t%s\n' "$later"
	printf 'gone.test\tsip.gone.test\t5061\t%s\n' "$old"
	printf 'fab.test\tretired.fab.test\t5061\t%s\n' "$later"
	printf 'nosrv.test\tsip.nosrv.test\t5061\t%s\n' "$later"
} >"$T/edges.new"
mv "$T/edges.new" "$C"
expect_exit 1 "-w with a failed domain: exit 1" fedq $S -w "$C" fab.test nosrv.test
grep -q '^keep.test	sip.keep.test	5061	' "$C"; ok $? "... another domain's line stays"
grep -q '^gone.test' "$C"; [ $? -ne 0 ]; ok $? "... an expired line goes"
grep -q 'retired.fab.test' "$C"; [ $? -ne 0 ]; ok $? "... a domain looked up again loses its old lines"
grep -q '^nosrv.test	sip.nosrv.test' "$C"; ok $? "... a failed domain keeps its lines"
[ "$(grep -c '^fab.test	' "$C")" -eq 3 ]; ok $? "... and the fresh ones are there, once"
grep -v '^#' "$C" | sort -c -t "$(printf '\t')" -k 1,1 -k 2,2 2>/dev/null; ok $? "... still sorted"
ls "$T" | grep -q 'edges.tmp'; [ $? -ne 0 ]; ok $? "... no temporary file left"

expect "a record with TTL 1" fedq $S -w "$C" brief.test
grep -q '^brief.test' "$C"; ok $? "... is in the cache"
sleep 2
expect "a later -w" fedq $S -w "$C" alias.test
grep -q '^brief.test' "$C"; [ $? -ne 0 ]; ok $? "... drops it once expired"

cp "$C" "$T/edges.before"
printf 'fab.test\tsip.fab.test\tnot-a-port\t%s\n' "$later" >>"$C"
cp "$C" "$T/edges.bad"
expect_exit 3 "a cache that does not parse is not rewritten" fedq $S -w "$C" fab.test
grep_file "... the message names file and line" "edges:[0-9]*: bad port" "$T/err"
cmp_file "... and the file is untouched" "$T/edges.bad" "$C"
cp "$T/edges.before" "$C"

# ---- fedgate verifies the partner through the cache fedq wrote ----
need sipmsg
fedq $S -w "$C" fab.test >/dev/null 2>&1
mkdir -p "$T/g"
cat >"$T/g.conf" <<EOT
local_domains = example.com
allow_list = $T/g/allow
block_list = $T/g/block
state_dir = $T/g/state
verdict_log = $T/g/log
edge_cache = $C
verify = srv
EOT
: >"$T/g/allow"; : >"$T/g/block"
sipmsg -f sip:a@fab.test >"$T/in"
vcount() { awk -F '\t' -v v="$1" -v r="$2" '$6 == v && $7 == r { n++ } END { print n + 0 }' "$T/g/log"; }
fedgate -c "$T/g.conf" --peer sip2.fab.test <"$T/in" >/dev/null 2>"$T/err"
[ "$(vcount accept discovered)" -eq 1 ]; ok $? "fedgate verify = srv: the SRV target fedq found is verified"
fedgate -c "$T/g.conf" --peer '[2001:db8::1]:5061' <"$T/in" >/dev/null 2>"$T/err"
[ "$(vcount accept discovered)" -eq 2 ]; ok $? "... and so is a peer at one of its addresses (IPv6)"
fedgate -c "$T/g.conf" --peer backup.other.test <"$T/in" >/dev/null 2>"$T/err"
[ "$(vcount accept discovered)" -eq 3 ]; ok $? "... and the backup target in another domain"
fedgate -c "$T/g.conf" --peer sip.evil.test <"$T/in" >/dev/null 2>"$T/err"
[ "$(vcount refuse unverified)" -eq 1 ]; ok $? "... another peer is not"
