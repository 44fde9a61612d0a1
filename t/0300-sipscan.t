#!/bin/sh
# t/0300-sipscan.t: lib/sip's stream framing seen through sipscan and gensip.
. "${0%/*}/lib.sh"

need gensip sipscan awk

crlf() { printf '%s\r\n' "$@"; }

# A whole generated stream frames into exactly what was generated.
gensip -s 7 -n 10000 >"$T/s.sip"
size=$(wc -c <"$T/s.sip" | tr -d ' ')
expect 'sipscan --count reads a 10,000-message stream' sipscan --count "$T/s.sip"
echo "messages 10000 bytes $size malformed 0 keepalives 0" >"$T/want"
sed 's/ parse_seconds [0-9.]*$//' "$T/out" >"$T/counts"
cmp_file '10,000 messages, every byte, none malformed' "$T/want" "$T/counts"
grep_file 'the time spent parsing is reported' ' parse_seconds [0-9]*\.[0-9]*$' "$T/out"
awk -v s="$size" 'BEGIN { exit !(s / 10000 >= 400 && s / 10000 <= 1200) }'
ok $? "gensip messages average 400-1200 bytes ($size bytes)"

gensip -s 7 -n 10000 >"$T/s2.sip"
cmp_file 'gensip is deterministic for a seed' "$T/s.sip" "$T/s2.sip"

# The listing: one line per message, requests all to our domain.
expect 'sipscan lists the stream' sipscan "$T/s.sip"
mv "$T/out" "$T/list"
awk -F '\t' 'NF != 7 || ($1 != "req" && $1 != "resp") { bad++ }
    $1 == "req" && $3 !~ /@example\.com$/ { bad++ }
    END { exit !(NR == 10000 && bad == 0) }' "$T/list"
ok $? 'one 7-field line per message; every Request-URI in example.com'
awk -F '\t' '$1 == "req" { r[$2]++ } $1 == "resp" { s[$2]++ }
    END { exit !(r["MESSAGE"] && r["INVITE"] && r["OPTIONS"] && \
        r["SUBSCRIBE"] && r["NOTIFY"] && s[200] && s[180] && s[404]) }' \
    "$T/list"
ok $? 'the mix has MESSAGE INVITE OPTIONS SUBSCRIBE NOTIFY, 200 180 404'
expect 'the same stream through a pipe' sh -c 'cat "$1" | sipscan' sh "$T/s.sip"
cmp_file 'a pipe lists exactly what the file does' "$T/list" "$T/out"

# Cut at a message boundary: a shorter clean stream (the first 100
# messages of a seed are the same whatever -n says).
gensip -s 7 -n 100 >"$T/p.sip"
psize=$(wc -c <"$T/p.sip" | tr -d ' ')
cmp -s -n "$psize" "$T/p.sip" "$T/s.sip"
ok $? 'gensip -n 100 is a prefix of gensip -n 10000'
expect 'a stream cut between messages scans cleanly' sipscan --count "$T/p.sip"
grep_file 'it holds the 100 messages' "^messages 100 bytes $psize malformed 0 " "$T/out"

# Cut inside a message: what came before is reported, then the broken tail
# is an input error (exit 2), not silently dropped.
cut=$((psize + 123))
head -c "$cut" "$T/s.sip" >"$T/cut.sip"
expect_exit 2 'a stream cut inside a message exits 2' sipscan --count "$T/cut.sip"
grep_file 'the complete messages before the cut are counted' \
    "^messages 100 bytes $cut malformed 0 " "$T/out"
grep_file 'the truncated tail is reported with its offset' \
    "^sipscan: $T/cut.sip: byte $psize: incomplete message at end of input (123 bytes)\$" \
    "$T/err"

# Keep-alives between and after messages are counted, not messages.
{ crlf '' ''; gensip -s 3 -n 2; crlf '' ''; gensip -s 4 -n 1; crlf ''; } \
    >"$T/ka.sip"
expect 'CRLF keep-alives frame cleanly' sipscan --count "$T/ka.sip"
awk '{ exit !($2 == 3 && $6 == 0 && $8 >= 3) }' "$T/out"
ok $? "3 messages and the keep-alives: $(cat "$T/out")"

# A well-framed but invalid message is reported and skipped.
{
	gensip -s 5 -n 1
	crlf 'MESSAGE sip:alice.smith@example.com SIP/2.0' \
	    'Via: SIP/2.0/TLS sip1.contoso.example:5061;branch=z9hG4bKbad1' \
	    'Max-Forwards: 70' \
	    'From: <sip:eve@contoso.example>;tag=1' \
	    'To: <sip:alice.smith@example.com>' \
	    'Call-ID: bad1@contoso.example' \
	    'CSeq: 1 INVITE' \
	    'Content-Type: text/plain' \
	    'Content-Length: 2' '' ''
	gensip -s 6 -n 1
} >"$T/mal.sip"
expect 'a malformed message does not end the stream' sipscan "$T/mal.sip"
awk -F '\t' 'NR == 2 && $1 == "malformed" && NF == 2 { m++ }
    (NR == 1 || NR == 3) && ($1 == "req" || $1 == "resp") { g++ }
    END { exit !(NR == 3 && m == 1 && g == 2) }' "$T/out"
ok $? "it is listed as malformed between two good ones: $(sed -n 2p "$T/out")"

# The demo capture: five partners, counts as share/demo/README says.
gensip --demo >"$T/demo.sip"
gensip --demo >"$T/demo2.sip"
cmp_file 'gensip --demo is deterministic' "$T/demo.sip" "$T/demo2.sip"
expect 'sipscan --summary of the demo capture' sipscan --summary "$T/demo.sip"
mv "$T/out" "$T/summary"
awk 'NR > 1 { print $1, $2, $4 }' "$T/summary" >"$T/got"
cat >"$T/want" <<'WANT'
harvest.example 1500 1500
flood.example 300 1
fabrikam.example 60 20
scan.example 40 20
spam.example 5 5
WANT
cmp_file 'partners by requests, with their distinct URIs' "$T/want" "$T/got"
grep_file 'harvest.example got almost only 404s' \
    '^harvest.example  *1500  *1500  *1500  *20  *1480 ' "$T/summary"
grep_file 'fabrikam.example was answered 2xx' \
    '^fabrikam.example  *60  *75  *20  *60  *0  *INVITE,MESSAGE,SUBSCRIBE ' \
    "$T/summary"
grep_file 'the scanner is seen by its User-Agent and REGISTER' \
    '^scan.example .*REGISTER.*friendly-scanner' "$T/summary"
expect 'sipscan lists the demo capture' sipscan "$T/demo.sip"
awk -F '\t' '$1 == "req" && $3 !~ /(^|@)example\.com$/ { bad++ }
    $1 == "req" { n++ } END { exit !(n == 1905 && bad == 0) }' "$T/out"
ok $? 'the demo has 1,905 requests, every one to example.com'

# A hostile Content-Length: framing fails at once, the 10 MB never read.
{
	gensip -s 8 -n 2
	crlf 'MESSAGE sip:alice.smith@example.com SIP/2.0' \
	    'Via: SIP/2.0/TLS sip1.evil.example:5061;branch=z9hG4bKhuge' \
	    'Max-Forwards: 70' \
	    'From: <sip:eve@evil.example>;tag=1' \
	    'To: <sip:alice.smith@example.com>' \
	    'Call-ID: huge@evil.example' \
	    'CSeq: 1 MESSAGE' \
	    'Content-Type: text/plain' \
	    'Content-Length: 10485760' ''
	head -c 10485760 /dev/zero | tr '\0' x
} >"$T/huge.sip"
good=$(gensip -s 8 -n 2 | wc -c | tr -d ' ')
expect_exit 2 'a 10 MB Content-Length ends the stream with exit 2' \
    sh -c 'sipscan --count <"$1"' sh "$T/huge.sip"
grep_file 'the error names stdin and the offending byte' \
    "^sipscan: stdin: byte $good: ." "$T/err"
awk '{ exit !($2 == 2 && $4 <= 2 * 1048576) }' "$T/out"
ok $? "the two messages before it counted, at most 2 MiB read: $(cat "$T/out")"

# Usage errors.
expect_exit 2 'sipscan rejects an unknown option' sipscan --bogus
expect_exit 2 'sipscan rejects a missing file' sipscan "$T/nonexistent"
expect_exit 2 'gensip rejects a bad count' gensip -n 12x
expect_exit 2 'gensip rejects an unknown mix kind' gensip -m bogus=1

# gensip -p N draws From domains from p0..p(N-1).example; -u N targets N users.
n=
gensip -s 3 -n 2000 -p 7 -u 5 >"$T/pu.sip" &&
n=$(grep -o '^From: [^;]*@p[0-9]*\.example' "$T/pu.sip" | sed 's/.*@//' | sort -u | wc -l) &&
[ "$n" -eq 7 ]; ok $? "gensip -p 7: seven partner domains ($n)"
n=$(grep -o '^[A-Z]* sip:[^ ]*@example.com' "$T/pu.sip" | sed 's/^[A-Z]* //' | sort -u | wc -l)
[ "$n" -eq 5 ]; ok $? "gensip -u 5: five target users ($n)"
expect_exit 2 "gensip -p with --demo is refused" gensip --demo -p 3
