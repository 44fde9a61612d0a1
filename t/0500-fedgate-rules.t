#!/bin/sh
# fedgate in pipe mode: one test per rule of SPEC 1, through the real
# binary, on traffic generated here (t/helper/sipmsg).
. "${0%/*}/lib.sh"

# Each case NAME has its configuration in $T/NAME.conf, its files in
# $T/NAME (gate_conf).

# gate NAME [fedgate args]: run fedgate on $T/in, output in $T/out.
gate() {
	_name=$1; shift
	fedgate -c "$T/$_name.conf" "$@" <"$T/in" >"$T/out" 2>"$T/err"
}

# entries NAME DB: how many entries a sub-database of NAME's partner
# store holds, as LMDB's own mdb_stat counts them (0 if no store).
entries() {
	[ -e "$T/$1/state/counters.mdb" ] || { echo 0; return; }
	mdb_stat -n -s "$2" "$T/$1/state/counters.mdb" |
	    awk '$1 == "Entries:" { print $2 }'
}

# count NAME VERDICT [REASON]: lines of the log with that verdict (and reason).
count() {
	awk -F '\t' -v v="$2" -v r="${3:-}" \
	    '$6 == v && (r == "" || $7 == r) { n++ } END { print n + 0 }' \
	    "$T/$1/log"
}

# ---- set-up errors ----
printf 'federation = open\n' >"$T/nolocal.conf"
: >"$T/in"
expect_exit 2 "no local_domains: refused at start" fedgate -c "$T/nolocal.conf"
grep_file "... saying local_domains is needed" "local_domains is not set" "$T/err"
expect_exit 2 "a stray argument is a usage error" fedgate -c "$T/nolocal.conf" extra
expect_exit 0 "-h prints usage and exits 0" fedgate -h
grep_file "... mentioning --peer" "--peer" "$T/out"

# ---- accepted bytes pass unchanged ----
gate_conf pass
sipmsg -n 10 -f sip:bob@fabrikam.example -R 200 >"$T/in"
gate pass; ok $? "ten requests with answers: exit 0"
cmp_file "accepted requests and responses on stdout are the input, byte for byte" "$T/in" "$T/out"
[ "$(count pass accept discovered)" -eq 10 ]; ok $? "ten accept lines (discovered)"
[ "$(count pass observe response)" -eq 10 ]; ok $? "ten observe lines"
bad=$(awk -F '\t' 'NF != 9' "$T/pass/log" | wc -l)
[ "$bad" -eq 0 ]; ok $? "every log line has 9 fields ($bad do not)"
grep_file "log: time, peer -, partner, method, uri, verdict" \
    "^20[0-9-]*T[0-9:.]*Z	-	fabrikam.example	MESSAGE	user0@example.com	accept	discovered	-	c0@partner.example$" \
    "$T/pass/log"
grep_file "observe line: status code as method, uri -" \
    "	fabrikam.example	200	-	observe	response	-	c0@partner.example$" "$T/pass/log"

# Keep-alives (RFC 5626) pass too.
{ printf '\r\n\r\n'; sipmsg -n 1 -f sip:bob@fabrikam.example; printf '\r\n'; } >"$T/in"
gate pass
cmp_file "CRLF keep-alives pass through with the requests" "$T/in" "$T/out"

# ---- the rate: 20 a second, burst 20 ----
gate_conf rate
sipmsg -n 100 -f sip:x@flood.example -r sip:bob@example.com -m MESSAGE >"$T/in"
gate rate -r "$T/rate/replies"; ok $? "a burst of 100: exit 0"
a=$(count rate accept) l=$(count rate limit rate)
[ "$a" -ge 20 ] && [ "$a" -le 21 ]; ok $? "a burst of 100 admits 20 +- 1 ($a)"
[ $((a + l)) -eq 100 ]; ok $? "... and answers 503 (rate) to the rest ($l)"
n=$(grep -c '^MESSAGE ' "$T/out")
[ "$n" -eq "$a" ]; ok $? "only the admitted requests reach stdout ($n)"
n=$(grep -c '^SIP/2.0 503 Service Unavailable' "$T/rate/replies")
[ "$n" -eq "$l" ]; ok $? "each limited request got a 503 ($n)"
n=$(grep -c '^Retry-After: ' "$T/rate/replies")
[ "$n" -eq "$l" ]; ok $? "... with Retry-After ($n)"
grep_file "limited lines carry code 503" "	limit	rate	503	" "$T/rate/log"

gate_conf allowed
echo "bigpartner.example" >"$T/allowed/allow"
sipmsg -n 100 -f sip:x@bigpartner.example -r sip:bob@example.com >"$T/in"
gate allowed
[ "$(count allowed accept allowlisted)" -eq 100 ]; ok $? "an allow-listed burst of 100 is all accepted"
cmp_file "... and passes whole" "$T/in" "$T/out"

gate_conf ownrate
echo "capped.example rate=5 max_uris=3" >"$T/ownrate/allow"
sipmsg -n 10 -f sip:x@capped.example -r sip:bob@example.com >"$T/in"
gate ownrate
a=$(count ownrate accept allowlisted)
[ "$a" -ge 5 ] && [ "$a" -le 6 ]; ok $? "an allow entry's own rate=5 admits 5 +- 1 of 10 ($a)"
sipmsg -n 4 -s 100 -f sip:x@capped.example -r sip:u%d@example.com >"$T/in"
gate ownrate
grep_file "its own max_uris=3: the 4th distinct URI is refused (watch)" "	u102@example.com	refuse	watch	403	" "$T/ownrate/log"
grep -q "	u101@example.com	refuse	watch" "$T/ownrate/log"
[ $? -ne 0 ]; ok $? "... and the 3rd is not"

# ---- distinct URIs: the 1,000th passes the watch step, the 1,001st not ----
gate_conf harvest
sipmsg -n 1000 -f sip:probe@harvest.example -r sip:u%d@example.com -m OPTIONS >"$T/in"
gate harvest; ok $? "1,000 distinct URIs: exit 0"
[ "$(count harvest refuse watch)" -eq 0 ]; ok $? "... none refused as watch (the 1,000th is not)"
[ $(( $(count harvest accept) + $(count harvest limit) )) -eq 1000 ]; ok $? "... all accepted or rate-limited"
sipmsg -n 1 -s 1000 -f sip:probe@harvest.example -r sip:u%d@example.com -m OPTIONS >"$T/in"
gate harvest
[ "$(count harvest refuse watch)" -eq 1 ]; ok $? "the 1,001st distinct URI is refused (watch), in a later process"
grep_file "... with 403" "	refuse	watch	403	" "$T/harvest/log"
sipmsg -n 1 -s 5 -f sip:probe@harvest.example -r sip:u%d@example.com -m OPTIONS >"$T/in"
gate harvest
[ "$(count harvest refuse watch)" -eq 2 ]; ok $? "once watched, even a known URI is refused"
grep_file "the watch list file names it" '^harvest\.example	20[0-9-]*T[0-9:.]*Z	max_uris$' "$T/harvest/state/watch"
n=$(entries harvest uris)
[ "$n" -eq 0 ]; ok $? "nothing more is kept for a watched partner: no URIs in the store ($n)"
given fedlist -c "$T/harvest.conf" watch ls
grep_file "fedlist watch ls shows it watched at the 1,001 URIs it tried" '^harvest\.example	watch	1001	' "$T/given.out"
grep_file "the state directory is versioned" '^fedkit-state 2$' "$T/harvest/state/format"
echo "harvest.example" >"$T/harvest/allow"
gate harvest
[ "$(count harvest accept allowlisted)" -eq 1 ]; ok $? "allow-listing lifts the watch"

# A scanner's Request-URI without a user counts the To URI.
gate_conf touri
sipmsg -n 3 -f sip:s@scan2.example -r sip:example.com -t sip:ext%d@example.com -m OPTIONS >"$T/in"
gate touri
n=$(awk -F '\t' '$6 != "observe" { print $5 }' "$T/touri/log" | sort -u | wc -l)
[ "$n" -eq 3 ]; ok $? "a Request-URI without user counts the To URI ($n distinct)"

# ---- suspicion from responses ----
gate_conf sus
sipmsg -n 19 -f sip:p@sus.example -r sip:u%d@example.com -R 404 >"$T/in"
gate sus
sipmsg -n 5 -s 100 -f sip:p@sus.example -r sip:u%d@example.com >"$T/in"
gate sus
[ "$(count sus limit suspicious)" -eq 0 ]; ok $? "19 failures of 19 responses: not yet suspicious"
sipmsg -n 1 -s 200 -f sip:p@sus.example -r sip:u%d@example.com -R 404 >"$T/in"
sipmsg -n 3 -s 300 -f sip:p@sus.example -r sip:u%d@example.com >>"$T/in"
gate sus
s=$(count sus limit suspicious)
[ "$s" -ge 2 ]; ok $? "the 20th failure makes it suspicious: its 503s say so ($s)"
given fedlist -c "$T/sus.conf" watch ls
grep_file "fedlist watch ls shows it suspicious" '^sus\.example	suspicious	' "$T/given.out"
sipmsg -n 21 -s 400 -f sip:p@sus.example -m OPTIONS -r sip:u%d@example.com -R 200 >"$T/in"
gate sus
sleep 1.1
before=$(count sus limit suspicious)
sipmsg -n 3 -s 500 -f sip:p@sus.example -r sip:u%d@example.com >"$T/in"
gate sus
[ "$(count sus limit suspicious)" -eq "$before" ]; ok $? "21 successes bring the share under 0.5: no longer suspicious"
fedlist -c "$T/sus.conf" watch ls >"$T/wls" 2>&1 &&
! grep -q '^sus\.example' "$T/wls"
ok $? "... and fedlist watch ls no longer lists it"

# ---- modes ----
gate_conf off "federation = off"
sipmsg -n 3 -f sip:a@fabrikam.example >"$T/in"
gate off
[ "$(count off refuse federation_off)" -eq 3 ]; ok $? "federation = off refuses everyone"
[ ! -s "$T/out" ]; ok $? "... and passes nothing"

gate_conf al "federation = allowlist"
echo ".friends.example" >"$T/al/allow"
{ sipmsg -n 2 -f sip:a@sub.friends.example; sipmsg -n 2 -f sip:a@stranger.example; } >"$T/in"
gate al
[ "$(count al accept allowlisted)" -eq 2 ]; ok $? "allowlist mode: a .suffix entry admits a subdomain"
[ "$(count al refuse not_allowed)" -eq 2 ]; ok $? "allowlist mode: an unlisted domain is refused (not_allowed)"

gate_conf both
echo "both.example" >"$T/both/allow"
echo "both.example" >"$T/both/block"
sipmsg -n 2 -f sip:a@both.example >"$T/in"
gate both
[ "$(count both refuse blocked)" -eq 2 ]; ok $? "on both lists: blocked (block beats allow)"
grep_file "... and fedgate warns, naming both files" "both the allow list.*and the block list" "$T/err"
n=$(grep -c 'both the allow list' "$T/err")
[ "$n" -eq 1 ]; ok $? "... once ($n)"
gate_conf blk "federation = allowlist"
echo ".spam.example" >"$T/blk/block"
sipmsg -n 1 -f sip:a@x.spam.example >"$T/in"
gate blk
[ "$(count blk refuse blocked)" -eq 1 ]; ok $? "the block list wins in allowlist mode too"

# ---- methods, scanners, spoofing, relaying ----
gate_conf misc
sipmsg -m REGISTER -f sip:100@scan.example -r sip:example.com >"$T/in"
gate misc -r "$T/misc/replies"
[ "$(count misc refuse method)" -eq 1 ]; ok $? "REGISTER is refused (method)"
grep_file "... with 405 and an Allow header" '^Allow: INVITE, ACK, BYE' "$T/misc/replies"
sipmsg -m OPTIONS -a "friendly-scanner" -f sip:100@scan.example >"$T/in"
gate misc
[ "$(count misc refuse scanner)" -eq 1 ]; ok $? "User-Agent friendly-scanner is refused (scanner)"
sipmsg -a "Mozilla SIPVicious/0.3" -f sip:100@scan.example >"$T/in"
gate misc
[ "$(count misc refuse scanner)" -eq 2 ]; ok $? "... case-insensitively, anywhere in the header"
sipmsg -f sip:ceo@example.com >"$T/in"
gate misc
[ "$(count misc refuse spoof)" -eq 1 ]; ok $? "a From in our own domain is refused (spoof)"
sipmsg -f sip:x@192.0.2.7 >"$T/in"
gate misc
[ "$(count misc refuse spoof)" -eq 2 ]; ok $? "a From with an IP literal is refused (spoof)"
sipmsg -f sip:a@partner.example -r sip:bob@elsewhere.example >"$T/in"
gate misc
[ "$(count misc refuse not_local)" -eq 1 ]; ok $? "a Request-URI outside local_domains is refused (not_local)"
sipmsg -f sip:a@partner.example -r 'sip:bob@example.com;maddr=198.51.100.1' >"$T/in"
gate misc
[ "$(count misc refuse not_local)" -eq 2 ]; ok $? "a maddr in the Request-URI is refused (not_local)"
sipmsg -f sip:a@partner.example -H 'Route: <sip:relay.elsewhere.example;lr>' >"$T/in"
gate misc
[ "$(count misc refuse not_local)" -eq 3 ]; ok $? "a foreign Route header is refused (not_local)"
sipmsg -f sip:a@partner.example -H 'Route: <sip:edge.example.com;lr>' >"$T/in"
gate_conf misc2 "local_domains = example.com, .example.com"
gate misc2
[ "$(count misc2 accept)" -eq 1 ]; ok $? "a Route through our own domain is fine"
sipmsg -m ACK -f sip:ceo@example.com >"$T/in"
gate misc -r "$T/misc/ackreplies"
grep_file "an ACK is judged (spoof) ..." "	ACK	user0@example.com	refuse	spoof	-	" "$T/misc/log"
[ ! -s "$T/misc/ackreplies" ]; ok $? "... but never answered"

# The responses fedgate builds (RFC 3261 8.2.6).
sipmsg -f sip:ceo@example.com -H 'Via: SIP/2.0/TLS second.example:5061;branch=z9hG4bKtwo' >"$T/in"
gate misc -r "$T/misc/r403"
grep_file "a 403 for the spoof" '^SIP/2.0 403 Forbidden' "$T/misc/r403"
n=$(grep -c '^Via: ' "$T/misc/r403")
[ "$n" -eq 2 ]; ok $? "... copying both Vias ($n)"
grep_file "... a To tag added" '^To: <sip:user0@example.com>;tag=' "$T/misc/r403"
grep_file "... Call-ID copied" '^Call-ID: c0@partner.example' "$T/misc/r403"
grep_file "... CSeq copied" '^CSeq: 1 MESSAGE' "$T/misc/r403"

# ---- malformed input ----
gate_conf mal
{
	sipmsg -n 1 -s 1 -f sip:a@partner.example
	printf 'MESSAGE sip:u@example.com SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKx\r\nFrom: <sip:a@partner.example>;tag=1\r\nTo: <sip:u@example.com>\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n'
	sipmsg -n 1 -s 2 -f sip:a@partner.example
} >"$T/in"
gate mal; ok $? "a malformed message in the middle: exit 0"
[ "$(count mal refuse malformed)" -eq 1 ]; ok $? "... logged refuse malformed"
grep_file "... with code - (no Call-ID: no response can be built)" "	refuse	malformed	-	" "$T/mal/log"
[ "$(count mal accept)" -eq 2 ]; ok $? "... and reading goes on"
printf 'MESSAGE sip:u@example.com SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKx\r\nFrom: <sip:a@partner.example>;tag=1\r\nTo: <sip:u@example.com>\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n' >"$T/in"
gate mal -r "$T/mal/replies"
grep_file "a CSeq method mismatch gets 400" "	refuse	malformed	400	q$" "$T/mal/log"
grep_file "... and the 400 is built" '^SIP/2.0 400 ' "$T/mal/replies"
{ sipmsg -n 1 -f sip:a@partner.example; printf 'MESSAGE sip:u@example.com SIP/2.0\r\nCall-ID: x\r\n\r\nhello'; } >"$T/in"
gate mal; rc=$?
[ "$rc" -eq 2 ]; ok $? "no Content-Length on a stream: exit 2 ($rc)"
grep_file "... saying where and why" "stdin: byte [0-9]*: Content-Length missing" "$T/err"
[ "$(grep -c '^MESSAGE' "$T/out")" -eq 1 ]; ok $? "... after passing what came before"
head -c 300 "$T/in" >"$T/in2"; mv "$T/in2" "$T/in"
gate mal; rc=$?
[ "$rc" -eq 2 ]; ok $? "a message cut short at the end: exit 2 ($rc)"

# Hostile bytes never break the log: a tab and a newline in the Call-ID
# are impossible on the wire, but a high byte in the From user is not.
printf 'MESSAGE sip:u@example.com SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKy\r\nFrom: <sip:\351vil@partner.example>;tag=1\r\nTo: <sip:u@example.com>\r\nCall-ID: \377\376\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n' >"$T/in"
gate mal
bad=$(LC_ALL=C grep -c '[^ -~	]' "$T/mal/log")
[ "$bad" -eq 0 ]; ok $? "the log stays printable ASCII whatever the partner sends ($bad bad lines)"

# ---- dry run ----
gate_conf dry
sipmsg -n 30 -f sip:a@partner.example -r sip:u%d@example.com >"$T/in"
gate dry -n; ok $? "-n: exit 0"
[ ! -e "$T/dry/state" ]; ok $? "-n creates nothing under state_dir"
a=$(count dry accept)
[ "$a" -ge 20 ] && [ "$a" -le 21 ]; ok $? "-n still decides with state evolving in memory ($a accepted)"

# ---- verification (SPEC 1.3) against the edge cache ----
gate_conf ver "verify = srv"
exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
old=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
cat >"$T/ver/edges" <<EOT
# domain target port expires [addresses]
fabrikam.example	sip.fabrikam.example	5061	$exp	192.0.2.10,2001:db8::10
stale.example	sip.stale.example	5061	$old
EOT
sipmsg -f sip:a@fabrikam.example >"$T/in"
gate ver --peer sip.fabrikam.example
[ "$(count ver accept discovered)" -eq 1 ]; ok $? "verify = srv: a peer named as the domain's SRV target is verified"
gate ver --peer SIP.Fabrikam.Example.
[ "$(count ver accept discovered)" -eq 2 ]; ok $? "... in any case, with a trailing dot"
gate ver --peer 192.0.2.10:5061
[ "$(count ver accept discovered)" -eq 3 ]; ok $? "... or by one of the target's addresses, port or not"
gate ver --peer '[2001:db8::10]:5061'
[ "$(count ver accept discovered)" -eq 4 ]; ok $? "... IPv6 in brackets too"
gate ver --peer sip.evil.example
[ "$(count ver refuse unverified)" -eq 1 ]; ok $? "another peer is refused (unverified)"
gate ver
[ "$(count ver refuse unverified)" -eq 2 ]; ok $? "no peer at all is unverified"
sipmsg -f sip:a@stale.example >"$T/in"
gate ver --peer sip.stale.example
[ "$(count ver refuse unverified)" -eq 3 ]; ok $? "an expired edge cache entry verifies nothing"
gate_conf pin
echo "pinned.example edge=sip.pinned.example" >"$T/pin/allow"
sipmsg -f sip:a@pinned.example >"$T/in"
gate pin --peer sip.pinned.example
[ "$(count pin accept allowlisted)" -eq 1 ]; ok $? "edge= pins the partner's edge: that peer passes"
gate pin --peer sip.other.example
[ "$(count pin refuse unverified)" -eq 1 ]; ok $? "... any other peer is unverified, even with verify = none"
gate_conf noedges "verify = srv"
rm -f "$T/noedges/edges"
sipmsg -f sip:a@fabrikam.example >"$T/in"
gate noedges --peer sip.fabrikam.example
[ "$(count noedges refuse unverified)" -eq 1 ]; ok $? "verify = srv without an edge cache: unverified"
grep_file "... with a warning naming the cache" "noedges/edges: no edge cache" "$T/err"

# ---- hostile shapes found in review ----
gate_conf long
U=$(head -c 1000 /dev/zero | tr '\0' a)
sipmsg -n 300 -f sip:x@long.example -r "sip:${U}%d@example.com" >"$T/in"
gate long
n=$(entries long uris)
[ "$n" -eq 300 ]; ok $? "300 distinct 1,000-byte URIs count as 300 ($n)"
sz=$(du -k "$T/long/state/counters.mdb" | cut -f1)
[ "$sz" -lt 200 ]; ok $? "... but the store stays small: URIs are kept as 16-byte hashes ($sz KB)"

gate_conf respalone
sipmsg -n 50 -f sip:x@r%d.example -R 404 | awk 'BEGIN { RS = "\r\n\r\n"; ORS = "\r\n\r\n" } /^SIP\/2.0/' >"$T/in"
gate respalone
n=$(entries respalone partners)
[ "$n" -eq 0 ]; ok $? "responses alone create no partner state ($n partners)"
[ "$(count respalone observe)" -eq 50 ]; ok $? "... though each is logged"

gate_conf raise
echo "big.example max_uris=3" >"$T/raise/allow"
sipmsg -n 4 -f sip:x@big.example -r sip:u%d@example.com >"$T/in"
gate raise
[ "$(count raise refuse watch)" -eq 1 ]; ok $? "an entry's own max_uris=3: the 4th URI puts it on the watch list"
echo "big.example max_uris=5000" >"$T/raise/allow"
sipmsg -n 1 -f sip:x@big.example -r sip:u%d@example.com >"$T/in"
gate raise
[ "$(count raise accept allowlisted)" -eq 4 ]; ok $? "raising the entry's max_uris lifts the watch"

# A watch line the store has no count for (written by hand, or the store
# lost): under an allow entry's own max_uris fedgate refuses the partner,
# and fedlist watch ls says so too.
gate_conf handmark &&
echo "marked.example max_uris=5" >"$T/handmark/allow" &&
mkdir -p "$T/handmark/state" &&
printf 'marked.example\t2026-11-22T01:00:00.000Z\tmax_uris\n' \
    >"$T/handmark/state/watch" &&
sipmsg -n 1 -f sip:x@marked.example -r sip:u%d@example.com >"$T/in" &&
gate handmark
[ "$(count handmark refuse watch)" -eq 1 ]; ok $? "a hand-made watch line, no count in the store: refused (watch)"
given fedlist -c "$T/handmark.conf" watch ls
grep_file "... and fedlist watch ls shows it watched" '^marked\.example	watch	' "$T/given.out"

gate_conf exact "suspect_fail_share = 0.035" "suspect_min_responses = 200" "discovered_rate = 1000"
{ sipmsg -n 193 -f sip:x@ex.example -r sip:u%d@example.com -R 200
  sipmsg -n 7 -s 500 -f sip:x@ex.example -r sip:u%d@example.com -R 404
  sipmsg -n 3 -s 900 -f sip:x@ex.example -r sip:u%d@example.com; } >"$T/in"
gate exact
[ "$(count exact limit suspicious)" -ge 2 ]; ok $? "7 failures of 200 is exactly a share of 0.035: suspicious"

# ---- hostile or odd input as a whole ----
gate_conf odd
: >"$T/in"
gate odd; rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$T/out" ]; ok $? "empty input: exit 0, nothing out ($rc)"
head -c 20000 /dev/urandom >"$T/in"
gate odd; rc=$?
[ "$rc" -eq 2 ]; ok $? "20 KB of random bytes: exit 2, no crash ($rc)"
grep_file "... saying why" "stdin: byte 0:" "$T/err"
{ printf 'MESSAGE sip:u@example.com SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKz\r\nFrom: <sip:a@partner.example>;tag=1\r\nTo: <sip:u@example.com>\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\nContent-Length: 70000\r\n\r\n'
  head -c 70000 /dev/zero | tr '\0' x; } >"$T/in"
gate odd; rc=$?
[ "$rc" -eq 2 ]; ok $? "a body over max_message: exit 2 ($rc)"
grep_file "... message too large" "message too large" "$T/err"
{ printf 'MESSAGE sip:u@example.com SIP/2.0\r\n'; head -c 100000 /dev/zero | tr '\0' 'X'; } >"$T/in"
gate odd; rc=$?
[ "$rc" -eq 2 ]; ok $? "a 100 KB header line without end: exit 2 ($rc)"
sipmsg -n 1 -f sip:a@partner.example >"$T/in"
fedgate -c "$T/odd.conf" -u 127.0.0.1:5060 <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 0 ] && cmp -s "$T/in" "$T/out"; ok $? "-u is accepted and unused in pipe mode ($rc)"

# A bad edge cache is reported once, not on every request.
gate_conf badedge "verify = srv"
echo "fabrikam.example sip.fabrikam.example notaport 2030-01-01T00:00:00.000Z" >"$T/badedge/edges"
fifo_gate 8 "$T/badedge.conf" "$T/berr" --peer sip.fabrikam.example
sipmsg -n 1 -s 1 -f sip:a@fabrikam.example >&8
sleep 1.2
sipmsg -n 1 -s 2 -f sip:a@fabrikam.example >&8
fifo_gate_end 8 "$gate_pid"
[ "$(count badedge refuse unverified)" -eq 2 ]; ok $? "a bad edge cache verifies nobody"
n=$(grep -c 'bad port' "$T/berr")
[ "$n" -eq 1 ]; ok $? "... and is reported once, naming file and line ($n times)"
grep_file "... file:line" "badedge/edges:1: bad port" "$T/berr"
