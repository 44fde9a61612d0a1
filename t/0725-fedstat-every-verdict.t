#!/bin/sh
# One log, one reader: fedgate writes every kind of verdict line that
# fedkit(7) documents (each verdict with each of its reasons, in each code
# form of the man page's table) into one log, and fedstat reads that log
# without a diagnostic, its counts (the table and --prometheus) agreeing
# with an awk count of the lines.  The set of kinds is taken from
# fedkit(7) itself: a reason or code form added there without a case here
# fails this test.  Pipe mode makes most lines; socket mode (fedgate on a
# real TCP connection over 127.0.0.1, t/helper/sockrun; socat as our
# server) the ones only a connection can: our server down, a response
# forged on the partner's side, a connection refused too often, a body
# over max_message.
. "${0%/*}/lib.sh"
need socat ss

test_ports 2
UP=$base DEAD=$((base + 1))
LOG=$T/v.log

# The log exists before any fedgate runs, writable by every one of them:
# a socket-mode fedgate started as root serves as `user` (fedkit), the
# pipe-mode ones stay root, and all append to this one file.
: >"$LOG"
chmod 0666 "$LOG"
printf 'friend.example\n' >"$T/allow"
printf 'spam.example\n' >"$T/block"
# Compiled, as `fedlist index` does: fedgate warns of a list that is not.
listidx -a "$T/allow" && listidx "$T/block"
: >"$T/edges"

# mkconf NAME [LINE...]: $T/NAME.conf, its own state, the one log.
mkconf() {
	_name=$1; shift
	mkdir -p "$T/$_name.state" &&
	fedconf "$T/$_name.conf" "$T" "verdict_log = $LOG" \
	    "state_dir = $T/$_name.state" "$@"
}

# pipe NAME DESC [FEDGATE-ARG...] <INPUT: fedgate in pipe mode must decide
# all of INPUT (exit 0) without a diagnostic.
pipe() {
	_name=$1 _d=$2; shift 2
	fedgate -c "$T/$_name.conf" "$@" >/dev/null 2>"$T/err"
	_rc=$?
	[ "$_rc" -eq 0 ] && [ ! -s "$T/err" ]
	ok $? "$_d"
	[ "$_rc" -eq 0 ] || diag "exit $_rc"
	[ -s "$T/err" ] && diag "$(head -5 "$T/err")"
	return 0
}

# ---- pipe mode: the rules of the order, each once ----------------------
mkconf open
{
	sipmsg -c allow -f sip:a@friend.example
	sipmsg -c disc -f sip:a@partner.example -R 200
	sipmsg -c spoof -f sip:mallory@example.com
	sipmsg -c notlocal -f sip:a@partner.example -r sip:bob@elsewhere.example
	sipmsg -c blocked -f sip:a@spam.example
	sipmsg -c method -f sip:a@partner.example -m REGISTER -r sip:example.com
	sipmsg -c scanner -f sip:a@scan.example -a friendly-scanner
	# malformed, each code the parser chooses (fedkit(7) rule 1):
	# (To names a plain address: a To that does not parse leaves no
	# response to build, code -.)
	sipmsg -c m400 -f sip:a@partner.example -t sip:bob@example.com \
	    -r 'sip:bob@example.com;x=%G1'
	# (sipmsg takes URIs up to 1023 bytes: the long user is put in after.)
	sipmsg -c m414 -f sip:a@partner.example -t sip:bob@example.com \
	    -r sip:LONG@example.com | sed "1s/LONG/$(printf '%01100d' 0)/"
	sipmsg -c m416 -f sip:a@partner.example -r tel:+15551234567
	sipmsg -c m505 -f sip:a@partner.example | sed '1s|SIP/2\.0|SIP/3.0|'
	sipmsg -c mnone -f sip:a@partner.example | sed '/^Via:/d'
	# rate: 40 at once from a partner with no answers; the bucket holds
	# 20 (they are one read of fedgate's, judged at one instant).
	sipmsg -c rate -n 40 -f sip:a@burst.example
	# suspicious: 25 requests each answered 404; after 20 failures the
	# partner's bucket holds 1 a second, and it had spent its 20.
	sipmsg -c susp -n 25 -f sip:a@probe.example -R 404
} >"$T/open.sip"
pipe open "pipe mode: the open federation's rules" <"$T/open.sip"

mkconf off "federation = off"
sipmsg -c off -f sip:a@partner.example >"$T/off.sip"
pipe off "pipe mode: federation = off" <"$T/off.sip"

mkconf allowlist "federation = allowlist"
sipmsg -c notallowed -f sip:a@partner.example >"$T/allowlist.sip"
pipe allowlist "pipe mode: federation = allowlist" <"$T/allowlist.sip"

# An empty edge cache: nobody is verified.
mkconf verify "verify = srv"
sipmsg -c unverified -f sip:a@partner.example >"$T/verify.sip"
pipe verify "pipe mode: verify = srv, the peer not an edge" \
    --peer 198.51.100.1 <"$T/verify.sip"

# The fourth distinct address crosses max_uris = 3 (watch), and from then
# on the partner is watched.
mkconf watch "max_uris = 3"
sipmsg -c watch -n 5 -f sip:a@harvest.example >"$T/watch.sip"
pipe watch "pipe mode: max_uris = 3" <"$T/watch.sip"

# One peer brings a third new partner domain: refused new_partners.
mkconf newp "max_new_partners = 2"
sipmsg -c newp -n 3 -f 'sip:a@minted%d.example' >"$T/newp.sip"
pipe newp "pipe mode: max_new_partners = 2" --peer edge.minter.example \
    <"$T/newp.sip"

# An ACK is judged but never answered: its code is -, whatever refused
# it (kept out of the kinds compared with the table below).
sipmsg -c ack -m ACK -f sip:a@spam.example >"$T/ack.sip"
pipe open "pipe mode: an ACK from a blocked partner" <"$T/ack.sip"

# Unframeable input (no Content-Length): logged refuse malformed -, and
# the stream ends with exit 2, after what came before it was decided.
{
	sipmsg -c before -f sip:a@partner.example
	sipmsg -c noframe -f sip:a@partner.example | sed '/^Content-Length:/d'
} >"$T/noframe.sip"
expect_exit 2 "pipe mode: an unframeable stream ends with exit 2" \
    fedgate -c "$T/open.conf" <"$T/noframe.sip"
grep_file "... saying why" "Content-Length" "$T/err"

# ---- socket mode -------------------------------------------------------
# sock NAME DESC UPSTREAM-PORT <INPUT: one connection to a fedgate in
# socket mode; its answers land in $T/NAME.out.
sock() {
	sockrun -t 20 fedgate -c "$T/$1.conf" -u "127.0.0.1:$3" \
	    >"$T/$1.out" 2>"$T/$1.err"
	_rc=$?
	[ "$_rc" -lt 125 ]
	ok $? "$2"
	[ "$_rc" -lt 125 ] || diag "$(cat "$T/$1.err")"
	return 0
}

# Our server down (nothing listens on $DEAD): a request policy accepts is
# answered 503 by fedgate itself, one connection each.
mkconf down "tls = off"
! ss -ltnH "sport = :$DEAD" | grep -q .
ok $? "nothing listens on 127.0.0.1:$DEAD"
sipmsg -c downallow -f sip:a@friend.example >"$T/down1.sip"
sock down "socket mode, our server down: an allow-listed partner" "$DEAD" \
    <"$T/down1.sip"
grep_file "... hears 503" "^SIP/2.0 503 " "$T/down.out"
sipmsg -c downdisc -f sip:a@partner.example >"$T/down2.sip"
sock down "socket mode, our server down: a discovered partner" "$DEAD" \
    <"$T/down2.sip"
grep_file "... hears 503" "^SIP/2.0 503 " "$T/down.out"

# An edge pool whose Redis is down (nothing listens on $DEAD), with
# redis_down = refuse: limited, 503, and said once on stderr.
mkconf pooldown "redis = 127.0.0.1:$DEAD" "redis_down = refuse"
sipmsg -c pooldown -f sip:a@partner.example >"$T/pooldown.sip"
fedgate -c "$T/pooldown.conf" <"$T/pooldown.sip" >/dev/null 2>"$T/err"
ok $? "pipe mode, the pool's Redis down, redis_down = refuse: exit 0"
grep_file "... and says so, with why" \
    "redis 127.0.0.1:$DEAD: Connection refused; answering 503" "$T/err"

# Our server up (socat, reading and dropping what it gets).
spawn socat -u "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr,fork" OPEN:/dev/null
wait_for 10 sh -c "ss -ltnH 'sport = :$UP' | grep -q ."
ok $? "socat plays our server on 127.0.0.1:$UP"

# From the partner's side: a response to nothing we sent (From not ours,
# a forgery: refuse spoof) and its answer to our server's request (From
# ours: observe).
mkconf resp "tls = off" "upstream_timeout = 2s"
{
	printf 'SIP/2.0 404 Not Found\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKforged\r\n'
	printf 'From: <sip:x@victim.example>;tag=f\r\nTo: <sip:y@example.com>;tag=t\r\n'
	printf 'Call-ID: forged@victim.example\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n'
	printf 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKours\r\n'
	printf 'From: <sip:bob@example.com>;tag=f\r\nTo: <sip:a@partner.example>;tag=t\r\n'
	printf 'Call-ID: ours@example.com\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n'
} >"$T/resp.sip"
sock resp "socket mode: responses from the partner's side" "$UP" <"$T/resp.sip"
awk -F '\t' '$9 == "forged@victim.example" { print $3, $4, $6, $7, $8 }
	$9 == "ours@example.com" { print $3, $4, $6, $7, $8 }' "$LOG" >"$T/got"
printf 'victim.example 404 refuse spoof -\npartner.example 200 observe response -\n' >"$T/want"
cmp_file "... the forgery refused, the partner's answer observed" "$T/want" "$T/got"

# A connection whose requests keep being refused is cut: the request past
# max_refusals is logged refuse flood, unanswered.
mkconf flood "tls = off" "max_refusals = 3" "upstream_timeout = 2s"
sipmsg -c flood -n 6 -f sip:a@spam.example >"$T/flood.sip"
sock flood "socket mode: max_refusals = 3" "$UP" <"$T/flood.sip"
n=$(grep -c '^SIP/2.0 403 ' "$T/flood.out")
[ "$n" -eq 3 ]; ok $? "... three answered 403, then the connection closed ($n)"

# A head whole, its body over max_message: answered 513, closed.
mkconf big "tls = off" "upstream_timeout = 2s"
sipmsg -c big -f sip:a@partner.example |
    sed 's/^Content-Length: 0/Content-Length: 70000/' >"$T/big.sip"
sock big "socket mode: a body over max_message" "$UP" <"$T/big.sip"
grep_file "... answered 513" "^SIP/2.0 513 " "$T/big.out"
stop_all

# ---- the kinds: fedkit(7)'s table against the log ----------------------
# The table of the Verdict log section, one `verdict reason code` a line,
# each code of a list on its own line.
awk '/^Each reason belongs to one verdict/ { t = 1; next }
	t && /^\.El/ { exit }
	t && /^\.It / && !/Sy/ {
		sub(/^\.It /, ""); n = split($0, f, / Ta /)
		if (n != 3) { print "bad row: " $0; next }
		k = split(f[3], c, /, */)
		for (i = 1; i <= k; i++) print f[1], f[2], c[i]
	}' "$TOP/man/fedkit.7" | sort -u >"$T/kinds.man"
[ "$(wc -l <"$T/kinds.man")" -ge 17 ] && ! grep -q '^bad row' "$T/kinds.man"
ok $? "fedkit(7)'s table parses: $(wc -l <"$T/kinds.man") kinds"
# Every reason the policy library names is in the table.
sed -n 's/^[[:space:]]*\[REASON_[A-Z_]*\] = "\([a-z_]*\)",.*/\1/p' \
    "$TOP/lib/policy.c" | sort -u >"$T/reasons.lib"
awk '{ print $2 }' "$T/kinds.man" | sort -u >"$T/reasons.man"
[ -s "$T/reasons.lib" ]; ok $? "lib/policy.c names its reasons"
cmp_file "every reason of lib/policy.c is in fedkit(7)'s table" \
    "$T/reasons.lib" "$T/reasons.man"

awk -F '\t' '$4 != "ACK" { print $6, $7, $8 }' "$LOG" | sort -u >"$T/kinds.log"
cmp_file "the log holds every kind of line fedkit(7) lists, and no other" \
    "$T/kinds.man" "$T/kinds.log"
diag "kinds covered (verdict reason code):" "$(tr '\n' ',' <"$T/kinds.log")"
n=$(awk -F '\t' '$4 == "ACK" && $8 != "-"' "$LOG" | wc -l)
m=$(awk -F '\t' '$4 == "ACK"' "$LOG" | wc -l)
[ "$n" -eq 0 ] && [ "$m" -ge 1 ]
ok $? "an ACK's line has code - ($m ACK lines)"
awk -F '\t' 'NF != 9' "$LOG" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "every line has nine fields"

# ---- fedstat reads it all ----------------------------------------------
expect "fedstat reads the log" fedstat -c "$T/open.conf" "$LOG"
[ ! -s "$T/err" ]; ok $? "... without a diagnostic"
[ -s "$T/err" ] && diag "$(head -5 "$T/err")"
cp "$T/out" "$T/table"
# The same columns counted by awk (as t/0700-fedstat.t counts them).
awk -F '\t' '{ p = $3; m[p]++
	if ($6 == "observe") { if ($4 ~ /^2/) k[p]++; else if ($4 ~ /^(403|404|410|484|485|604)$/) f[p]++; next }
	n[p, $6]++; if ($5 != "-" && !((p, $5) in s)) { s[p, $5] = 1; u[p]++ } }
	END { for (p in m) printf "%s %d %d %d %d %d %d %d\n", p, m[p], n[p, "accept"],
	    n[p, "limit"], n[p, "refuse"], u[p], k[p], f[p] }' "$LOG" | sort >"$T/want"
awk -F '\t' '{ print $1, $2, $3, $4, $5, $6, $7, $8 }' "$T/table" | sort >"$T/got"
cmp_file "... every partner's counts agree with an awk count" "$T/want" "$T/got"

expect "fedstat --prometheus reads the log" fedstat -c "$T/open.conf" --prometheus "$LOG"
[ ! -s "$T/err" ]; ok $? "... without a diagnostic"
cp "$T/out" "$T/prom"
awk -F '\t' '{ n[$6 " " $7]++ } END { for (k in n) print k, n[k] }' "$LOG" |
    sort >"$T/want"
sed -n 's/^fedkit_decisions_total{verdict="\([a-z_]*\)",reason="\([a-z_]*\)"} \([0-9]*\)$/\1 \2 \3/p' \
    "$T/prom" | awk '$3 > 0' | sort >"$T/got"
cmp_file "... fedkit_decisions_total by verdict and reason agrees with awk" \
    "$T/want" "$T/got"
lines=$(wc -l <"$LOG")
up=$(awk -F '\t' '$6 == "accept" && $8 == "503"' "$LOG" | wc -l)
grep -q "^fedkit_log_lines_total $lines\$" "$T/prom" &&
    grep -q '^fedkit_log_lines_malformed_total 0$' "$T/prom" &&
    grep -q "^fedkit_accepted_upstream_down_total $up\$" "$T/prom"
ok $? "... $lines lines read, none malformed, $up accepted with our server down"
