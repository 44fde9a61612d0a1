#!/bin/sh
# fedq against a real DNS server: dnsmasq on loopback with the SRV, NAPTR,
# A/AAAA and CNAME records written here; t/helper/dnsstub for SERVFAIL,
# REFUSED and silence.
. "${0%/*}/lib.sh"
# dnsmasq lives in /usr/sbin, outside a plain user's PATH.
PATH=$PATH:/usr/sbin
need dnsmasq awk

STUB_PIDS=
stop_stubs() { for p in $STUB_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
at_exit stop_stubs

stub() {	# stub MODE: start dnsstub, set SP to its port
	rm -f "$T/stub.port"
	dnsstub "$1" "$T/stub.port" 300 &
	STUB_PIDS="$STUB_PIDS $!"
	wait_for 5 test -s "$T/stub.port"
	SP=$(cat "$T/stub.port")
}
# A dead forwarder for dead.test: its names' address lookups fail.
stub servfail
DEAD=$SP
# A silent one: the lookups it is asked never end but in a timeout.
stub drop
SILENT=$SP

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
	# Targets a partner's DNS may hold but the edge cache may not: an
	# underscore, a label starting with a hyphen, beside a good one.
	echo "srv-host=_sipfederationtls._tcp.evil.test,edge_1.evil.test,5061,0,0"
	echo "srv-host=_sipfederationtls._tcp.evil.test,-x.evil.test,5061,0,0"
	echo "srv-host=_sipfederationtls._tcp.evil.test,good.evil.test,5061,0,0"
	echo "host-record=good.evil.test,192.0.2.80"
	echo "srv-host=_sipfederationtls._tcp.allbad.test,edge_1.allbad.test,5061,0,0"
	# A target whose address lookup fails (its zone's server is dead).
	echo "srv-host=_sipfederationtls._tcp.af.test,sip.dead.test,5061,0,0"
	echo "server=/dead.test/127.0.0.1#$DEAD"
	# Partners whose DNS fails one address family.  Outside local=/test/
	# and without an upstream, dnsmasq answers REFUSED a query it holds
	# no record for (the README's dnsmasq does so for AAAA): here AAAA
	# for v4only.example and A for v6only.example.
	echo "srv-host=_sipfederationtls._tcp.v4only.example,edge.v4only.example,5061,0,0"
	echo "host-record=edge.v4only.example,192.0.2.90"
	echo "srv-host=_sipfederationtls._tcp.v6only.example,edge.v6only.example,5061,0,0"
	echo "host-record=edge.v6only.example,2001:db8::91"
	# AAAA forwarded to the SERVFAIL stub, or to the silent one.
	echo "srv-host=_sipfederationtls._tcp.sf6.example,edge.sf6.example,5061,0,0"
	echo "host-record=edge.sf6.example,192.0.2.93"
	echo "server=/sf6.example/127.0.0.1#$DEAD"
	echo "srv-host=_sipfederationtls._tcp.slow6.example,edge.slow6.example,5061,0,0"
	echo "host-record=edge.slow6.example,192.0.2.94"
	echo "server=/slow6.example/127.0.0.1#$SILENT"
	# One target with its A addresses only, one with no address at all.
	echo "srv-host=_sipfederationtls._tcp.mixed.example,edge.v4only.example,5061,0,0"
	echo "srv-host=_sipfederationtls._tcp.mixed.example,sip.dead.test,5061,1,0"
	# 2,000 domains for the stdin test.
	awk 'BEGIN { for (i = 0; i < 2000; i++) {
		printf "srv-host=_sipfederationtls._tcp.d%d.many.test,sip.d%d.many.test,5061,0,0\n", i, i
		printf "host-record=sip.d%d.many.test,10.1.%d.%d\n", i, int(i / 256), i % 256 } }'
} >"$T/dnsmasq.conf"

dnsmasq_start fab.test 127.0.0.1,::1
PORT=$dns_port
[ -n "$PORT" ]; ok $? "dnsmasq serves the test zone on 127.0.0.1 (port ${PORT:-none})"
[ -n "$PORT" ] || { diag "$(cat "$T/dnsmasq.err" "$T/dnsmasq.log" 2>/dev/null)"; exit 1; }
S="-s 127.0.0.1:$PORT"

# ---- one domain, stable order ----
expect "fab.test: exit 0" fedq $S --sorted fab.test
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    fab.test 10 60 5061 sip1.fab.test 300 192.0.2.1,2001:db8::1 \
    fab.test 10 40 5061 sip2.fab.test 60 192.0.2.2 \
    fab.test 20 0 5062 backup.other.test 300 198.51.100.7 >"$T/want"
cp "$T/want" "$T/fab.want"	# fab.test's three targets, in that order
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

stub servfail
expect_exit 1 "SERVFAIL: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as a server failure" "^fedq: fab.test: server failure (SERVFAIL)$" "$T/err"
stub refused
expect_exit 1 "REFUSED: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as refused" "^fedq: fab.test: query refused (REFUSED)$" "$T/err"
stub drop
expect_exit 1 "no answer at all: exit 1" fedq -T 100 -s "127.0.0.1:$SP" fab.test
grep_file "... told as a timeout" "^fedq: fab.test: timeout$" "$T/err"

# A UDP answer bigger than fedq's 4 KB read slots, without TC (a broken
# server): it must never be parsed cut short.  fedq marks such a datagram
# truncated (MSG_TRUNC) so it is asked again over TCP; c-ares 1.18 also
# does so for any answer over the EDNS size it asked for (1232).
need perl
cat >"$T/bigudp.pl" <<'EOP'
# bigudp.pl PORTFILE SECONDS: a DNS server on 127.0.0.1 (UDP and TCP, one
# port) whose UDP answer to an SRV query is one datagram of ~6 KB without
# the TC bit (bigger than fedq's 4 KB slots: a broken server, or a path
# that ignores EDNS), and whose TCP answer is a small, whole one.  A and
# AAAA get an empty answer.  Exits after SECONDS.
use strict; use warnings;
use IO::Socket::INET; use IO::Select;
my ($portfile, $secs) = @ARGV;
my $tcp = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Proto => 'tcp', Listen => 8, ReuseAddr => 1) or die "tcp: $!";
my $port = $tcp->sockport;
my $udp = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
    Proto => 'udp') or die "udp: $!";
open(my $pf, '>', "$portfile.tmp") or die; print $pf "$port\n"; close $pf;
rename("$portfile.tmp", $portfile);
sub name { join('', map { chr(length $_) . $_ } split /\./, $_[0]) . "\0" }
sub answer {
	my ($q, $n) = @_;
	return undef if length($q) < 12;
	my $off = 12;
	while ($off < length($q) && (my $l = ord(substr($q, $off, 1))) != 0) { $off += 1 + $l }
	my $qtype = unpack('n', substr($q, $off + 1, 2));
	my $question = substr($q, 12, $off + 5 - 12);
	my $an = '';
	my $count = 0;
	if ($qtype == 33) {
		for my $i (1 .. $n) {
			my $t = sprintf('t%02d-%s.trunc.test', $i, 'a' x 55);
			$t = "sip$i.trunc.test" if $n <= 2;
			my $rd = pack('nnn', 0, $i, 5061) . name($t);
			$an .= pack('nnnNn', 0xc00c, 33, 1, 60, length $rd) . $rd;
			$count++;
		}
	}
	return substr($q, 0, 2) . pack('nnnnn', 0x8580, 1, $count, 0, 0) . $question . $an;
}
my $sel = IO::Select->new($tcp, $udp);
my $end = time + $secs;
while (time < $end) {
	for my $s ($sel->can_read(0.2)) {
		if ($s == $udp) {
			my $q; my $from = $udp->recv($q, 4096) // next;
			my $a = answer($q, 60) // next;
			$udp->send($a, 0, $from);
		} elsif ($s == $tcp) {
			my $c = $tcp->accept or next;
			$sel->add($c);
		} else {
			my $len; my $got = sysread($s, $len, 2);
			if (!$got || $got < 2) { $sel->remove($s); close $s; next }
			my $q = ''; my $want = unpack('n', $len);
			while (length($q) < $want) { my $b; my $r = sysread($s, $b, $want - length $q); last unless $r; $q .= $b }
			my $a = answer($q, 2) // next;
			syswrite($s, pack('n', length $a) . $a);
		}
	}
}
EOP
rm -f "$T/big.port"
perl "$T/bigudp.pl" "$T/big.port" 60 &
STUB_PIDS="$STUB_PIDS $!"
wait_for 5 test -s "$T/big.port"
BP=$(cat "$T/big.port")
expect "a 5 KB UDP answer without TC: asked again over TCP, exit 0" fedq -T 300 -s "127.0.0.1:$BP" --sorted trunc.test
printf 'trunc.test\t0\t2\t5061\tsip2.trunc.test\t60\t-\ntrunc.test\t0\t1\t5061\tsip1.trunc.test\t60\t-\n' >"$T/want"
cmp_file "... the TCP answer, whole, is the one printed" "$T/want" "$T/out"

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
yes w0.test | head -n 10000 >"$T/w0"
fedq $S -P 16 - <"$T/w0" >"$T/draws" 2>"$T/err"; ok $? "10,000 lookups of w0.test: exit 0"
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
# (In RFC 2782's order: by weight at random within a priority.)
sort -t '	' -k 2,2n -k 3,3nr "$T/out" >"$T/got"
cmp_file "... its three targets" "$T/fab.want" "$T/got"
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

# A reader that goes away: an error on stdout (exit 3), not SIGPIPE.
# 2,000 lines (~100 KB) overflow the pipe, so a write after head left
# is certain to fail.
{ fedq $S - <"$T/many" 2>"$T/err"; echo $? >"$T/rc"; } | head -n 1 >/dev/null
[ "$(cat "$T/rc")" -eq 3 ]; ok $? "a closed stdout: exit 3, not killed by SIGPIPE ($(cat "$T/rc"))"
grep_file "... said" "^fedq: stdout: Broken pipe$" "$T/err"

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
sort -t '	' -k 2,2n -k 3,3nr "$T/out" >"$T/got"
cmp_file "... and the next line still resolved" "$T/fab.want" "$T/got"
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
printf 'bad.test\tedge_1.bad.test\t5061\t%s\n' "$later" >>"$C"
expect "a cache with bad lines is rewritten without them" fedq $S -w "$C" alias.test
grep_file "... each told, naming file and line" "edges:[0-9]*: bad port \"not-a-port\" (dropped)$" "$T/err"
grep_file "... the other too" "edges:[0-9]*: \"edge_\.\.\.\": invalid character \"_\"" "$T/err"
grep -q 'not-a-port\|edge_1' "$C"; [ $? -ne 0 ]; ok $? "... both gone from the file"
grep -v '^#' "$T/edges.before" | cut -f 1-3 >"$T/want"
grep -v '^#' "$C" | cut -f 1-3 >"$T/got"
cmp_file "... the good lines kept" "$T/want" "$T/got"
cp "$T/edges.before" "$C"

# ---- SRV targets that are no domain never reach the cache ----
expect "targets with '_' or a leading '-' are skipped: exit 0 (one is left)" fedq $S -w "$C" evil.test
printf 'evil.test\t0\t0\t5061\tgood.evil.test\t300\t192.0.2.80\n' >"$T/want"
cmp_file "... only the good target printed" "$T/want" "$T/out"
grep_file "... the bad one told, naming domain and target" '^fedq: evil.test: target skipped: "edge_\.\.\.": invalid character "_"' "$T/err"
grep_file "... and the other" '^fedq: evil.test: target skipped: "-x.evil.test": label' "$T/err"
grep -q 'edge_1\|-x.evil' "$C"; [ $? -ne 0 ]; ok $? "... neither is in the cache"
grep -q '^evil.test	good.evil.test	5061	' "$C"; ok $? "... the good one is"
expect "... and a later -w reads the cache back without complaint" fedq $S -w "$C" alias.test
[ ! -s "$T/err" ]; ok $? "... nothing on stderr"
expect_exit 1 "a domain whose every target is skipped: exit 1" fedq $S -w "$C" allbad.test
grep_file "... said" "^fedq: allbad.test: no usable target" "$T/err"
[ ! -s "$T/out" ]; ok $? "... nothing printed"
grep -q '^allbad.test' "$C"; [ $? -ne 0 ]; ok $? "... nothing cached"

# ---- one address family failing keeps the target with the other's ----
expect "A answers, AAAA REFUSED (dnsmasq without an upstream): exit 0" fedq $S v4only.example
printf 'v4only.example\t0\t0\t5061\tedge.v4only.example\t300\t192.0.2.90\n' >"$T/want"
cmp_file "... the target kept with its A address" "$T/want" "$T/out"
printf 'fedq: v4only.example: edge.v4only.example: AAAA: query refused (REFUSED); kept with its A addresses\n' >"$T/want"
cmp_file "... one warning line, naming domain, target, family and why" "$T/want" "$T/err"
expect "AAAA answers, A REFUSED: exit 0" fedq $S --json v6only.example
printf '{"domain":"v6only.example","priority":0,"weight":0,"port":5061,"target":"edge.v6only.example","ttl":300,"addresses":["2001:db8::91"]}\n' >"$T/want"
cmp_file "... the target kept with its AAAA addresses" "$T/want" "$T/out"
grep_file "... said" "^fedq: v6only.example: edge.v6only.example: A: query refused (REFUSED); kept with its AAAA addresses$" "$T/err"
expect "A answers, AAAA SERVFAIL: exit 0" fedq -T 200 $S sf6.example
grep_file "... kept with its A address" "^sf6.example	0	0	5061	edge.sf6.example	300	192.0.2.93$" "$T/out"
grep_file "... said as a server failure" "^fedq: sf6.example: edge.sf6.example: AAAA: server failure (SERVFAIL); kept with its A addresses$" "$T/err"
expect "A answers, AAAA never does: exit 0" fedq -T 100 $S slow6.example
grep_file "... kept with its A address" "^slow6.example	0	0	5061	edge.slow6.example	300	192.0.2.94$" "$T/out"
grep_file "... said as a timeout" "^fedq: slow6.example: edge.slow6.example: AAAA: timeout; kept with its A addresses$" "$T/err"
expect "-w with a target kept on its A addresses" fedq $S -w "$C" v4only.example
grep -q '^v4only.example	edge.v4only.example	5061	[^	]*	192.0.2.90$' "$C"; ok $? "... cached with them"

# ---- a failed address lookup that leaves no address fails the domain;
# -w keeps its old lines ----
printf 'af.test\tsip.dead.test\t5061\t%s\t192.0.2.99\n' "$later" >>"$C"
expect_exit 1 "a target whose A and AAAA lookups both fail (SERVFAIL upstream): exit 1" fedq -T 200 $S -w "$C" af.test
grep_file "... told, naming domain and target" "^fedq: af.test: sip.dead.test: addresses: server failure (SERVFAIL)$" "$T/err"
[ "$(wc -l <"$T/err")" -eq 1 ]; ok $? "... in one line"
[ ! -s "$T/out" ]; ok $? "... nothing printed for it"
grep -q '^af.test	sip.dead.test	5061	.*	192.0.2.99$' "$C"; ok $? "... its cached line, with its address, is kept"
expect_exit 1 "one target kept on its A addresses, another with none: the domain fails, exit 1" fedq -T 200 $S -w "$C" mixed.example
grep_file "... the target without addresses told" "^fedq: mixed.example: sip.dead.test: addresses: server failure (SERVFAIL)$" "$T/err"
grep -q 'kept' "$T/err"; [ $? -ne 0 ]; ok $? "... nothing said kept, as nothing is"
[ ! -s "$T/out" ]; ok $? "... nothing printed"
grep -q '^mixed.example' "$C"; [ $? -ne 0 ]; ok $? "... nothing cached"

# ---- fedgate verifies the partner through the cache fedq wrote ----
need sipmsg
given fedq $S -w "$C" fab.test
gate_conf g "edge_cache = $C" "verify = srv"
sipmsg -f sip:a@fab.test >"$T/in"
vcount() { awk -F '\t' -v v="$1" -v r="$2" '$6 == v && $7 == r { n++ } END { print n + 0 }' "$T/g/log"; }
fedgate -c "$T/g.conf" --peer sip2.fab.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount accept discovered)" -eq 1 ]; ok $? "fedgate verify = srv: the SRV target fedq found is verified"
fedgate -c "$T/g.conf" --peer '[2001:db8::1]:5061' <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount accept discovered)" -eq 2 ]; ok $? "... and so is a peer at one of its addresses (IPv6)"
fedgate -c "$T/g.conf" --peer backup.other.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount accept discovered)" -eq 3 ]; ok $? "... and the backup target in another domain"
fedgate -c "$T/g.conf" --peer sip.evil.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount refuse unverified)" -eq 1 ]; ok $? "... another peer is not"

# The round trip of a partner whose DNS names a target no cache can hold:
# fedq skips it, and fedgate still reads the cache and verifies the rest.
given fedq $S -w "$C" evil.test
sipmsg -f sip:a@evil.test >"$T/in" &&
fedgate -c "$T/g.conf" --peer good.evil.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount accept discovered)" -eq 4 ]; ok $? "fedgate verifies evil.test's good target from the cache"
[ ! -s "$T/err" ]; ok $? "... and finds no fault in the cache ($(head -c 200 "$T/err"))"
fedgate -c "$T/g.conf" --peer edge_1.evil.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount refuse unverified)" -eq 2 ]; ok $? "... the skipped target is not verified"
# A hand-edited bad line costs only itself.
printf 'evil.test\tedge_1.evil.test\t5061\t%s\n' "$later" >>"$C"
fedgate -c "$T/g.conf" --peer good.evil.test <"$T/in" >/dev/null 2>"$T/err" &&
[ "$(vcount accept discovered)" -eq 5 ]; ok $? "a bad line in the cache: the other lines still verify"
grep_file "... the bad line told with file and line" "edges:[0-9]*: \"edge_\.\.\.\": invalid character .*line skipped" "$T/err"
