#!/bin/sh
# fedgate in pipe mode: what a Request-URI (or Route) of one of our own
# hosts may carry and still be relayed, fedkit(7) rule not_local:
# escaped URI parameters are the parameters (RFC 3261 19.1.4), only the
# SIP ports and transports, and the code for a non-SIP Request-URI.
. "${0%/*}/lib.sh"

need fedgate sipmsg

# .corp.example.com is local, as in the security review that found the
# leaks; the rate is lifted so that only the rule under test decides.
fedconf "$T/fed.conf" "$T/s" "local_domains = example.com .corp.example.com" \
    "discovered_rate = 10000" &&
: >"$T/s/allow" && : >"$T/s/block"
: >"$T/relayed"
: >"$T/all"
n_accepted=0 n_refused=0 n_malformed=0

# judge NAME RURI [sipmsg args...]: one request from a partner to RURI
# (To stays a plain URI of ours unless -t is given) through fedgate, alone.
# Sets $v to the log line's "verdict reason code", $uri to its uri field,
# $passed to the requests that reached stdout; the request is kept in
# $T/NAME.in and appended to $T/all.
judge() {
	_name=$1 _r=$2; shift 2
	sipmsg -c "$_name-" -f sip:alice@partner.example -r "$_r" \
	    -t sip:bob@example.com "$@" >"$T/$_name.in" || return 1
	cat "$T/$_name.in" >>"$T/all"
	: >"$T/s/log"
	: >"$T/replies"
	fedgate -c "$T/fed.conf" -r "$T/replies" <"$T/$_name.in" \
	    >"$T/out" 2>"$T/err"
	_rc=$?
	[ "$_rc" -eq 0 ] || diag "fedgate: exit $_rc" "$(cat "$T/err")"
	v=$(awk -F '\t' '{ print $6, $7, $8 }' "$T/s/log")
	uri=$(awk -F '\t' '{ print $5 }' "$T/s/log")
	passed=$(grep -c '^MESSAGE ' "$T/out")
	return "$_rc"
}

# refused NAME RURI DESC [sipmsg args...]: logged refuse not_local 404,
# answered 404, nothing relayed.
refused() {
	rn=$1 ru=$2 rd=$3; shift 3
	n_refused=$((n_refused + 1))
	judge "$rn" "$ru" "$@" && [ "$v" = "refuse not_local 404" ] &&
	    [ "$passed" -eq 0 ] && [ ! -s "$T/out" ] &&
	    grep -q '^SIP/2.0 404 Not Found' "$T/replies"
	ok $? "$rd: refuse not_local 404, nothing relayed (log: $v)"
}

# accepted NAME RURI DESC [sipmsg args...]: logged accept discovered,
# relayed byte for byte, nothing answered.
accepted() {
	rn=$1 ru=$2 rd=$3; shift 3
	n_accepted=$((n_accepted + 1))
	judge "$rn" "$ru" "$@" && [ "$v" = "accept discovered -" ] &&
	    cmp -s "$T/$rn.in" "$T/out" && [ ! -s "$T/replies" ]
	r_ok=$?
	ok $r_ok "$rd: accept discovered, relayed as read (log: $v)"
	[ "$r_ok" -eq 0 ] && cat "$T/$rn.in" >>"$T/relayed"
}

# malformed NAME RURI CODE PHRASE DESC: logged refuse malformed CODE,
# answered CODE PHRASE, nothing relayed.
malformed() {
	rn=$1 ru=$2 rc=$3 rp=$4 rd=$5
	n_malformed=$((n_malformed + 1))
	judge "$rn" "$ru" && [ "$v" = "refuse malformed $rc" ] &&
	    [ "$passed" -eq 0 ] && grep -q "^SIP/2.0 $rc $rp" "$T/replies"
	ok $? "$rd: refuse malformed $rc, answered '$rc $rp', none relayed ($v)"
}

# ---- the baseline: a plain request to our domain passes ----
accepted plain "sip:bob@example.com" "a plain Request-URI"

# ---- maddr, escaped or not, in every case (RFC 3261 19.1.4) ----
refused maddr "sip:bob@example.com;maddr=evil.example.org" "maddr"
refused m61 "sip:bob@example.com;m%61ddr=evil.example.org" \
    "m%61ddr (the reported case)"
refused 6D "sip:bob@example.com;%6Daddr=evil.example.org" "%6Daddr"
refused 6d "sip:bob@example.com;%6daddr=evil.example.org" "%6daddr"
refused MADDR "sip:bob@example.com;MADDR=evil.example.org" "MADDR"
refused allesc "sip:bob@example.com;%4D%41%44%44%52=evil.example.org" \
    "%4D%41%44%44%52, every byte escaped"
refused valesc "sip:bob@example.com;maddr=%65vil%2Eexample%2Eorg" \
    "maddr with its value escaped"
refused mlr "sip:bob@example.com;lr;mAdDr=192.0.2.66" \
    "mAdDr after another parameter"
grep -q '	bob@example.com	refuse	not_local	404	mlr-0@partner.example$' \
    "$T/s/log"
ok $? "the log names the Request-URI as user@host, without parameters"
accepted maddrx "sip:bob@example.com;m%61ddrx=1" \
    "m%61ddrx is another parameter"

# ---- invalid escapes never pass unchecked ----
malformed badG "sip:bob@example.com;maddr=%G1" 400 "Bad Request" \
    "maddr=%G1, an invalid escape"
malformed bad6 "sip:bob@example.com;m%6" 400 "Bad Request" \
    "a truncated escape %6"
malformed badname "sip:bob@example.com;m%6Gddr=evil.example.org" 400 \
    "Bad Request" "an invalid escape in a parameter name"

# ---- ports: only the SIP ports, or none ----
accepted p0 "sip:x@db01.corp.example.com" "a local host, no port"
accepted p5060 "sip:x@db01.corp.example.com:5060" "port 5060"
accepted p5061 "sip:x@db01.corp.example.com:5061" "port 5061"
refused p5432 "sip:x@db01.corp.example.com:5432" "port 5432"
refused p5432tcp "sip:x@db01.corp.example.com:5432;transport=tcp" \
    "port 5432 with transport=tcp (the reported case)"
refused p5080 "sip:bob@example.com:5080" "port 5080 on our domain itself"

# ---- transports: only SIP's ----
accepted tcp "sip:x@db01.corp.example.com;transport=tcp" "transport=tcp"
accepted TLS "sip:x@db01.corp.example.com:5061;transport=TLS" \
    "transport=TLS on 5061"
accepted wss "sip:x@db01.corp.example.com;transport=wss" "transport=wss"
refused xdb "sip:x@db01.corp.example.com;transport=x-db" "transport=x-db"
refused xdbesc "sip:x@db01.corp.example.com;transport=x%2Ddb" \
    "transport=x%2Ddb (escaped value)"
refused trxdb "sip:x@db01.corp.example.com;tr%61nsport=x-db" \
    "tr%61nsport=x-db (escaped name)"
accepted tcpesc "sip:x@db01.corp.example.com;tr%61nsport=t%63p" \
    "tr%61nsport=t%63p is transport=tcp"
refused twice "sip:x@db01.corp.example.com;transport=tcp;transport=x-db" \
    "a second transport"

# ---- the same rules for Route URIs of our hosts ----
refused rmaddr "sip:bob@example.com" "a local Route with m%61ddr" \
    -H 'Route: <sip:edge.corp.example.com;lr;m%61ddr=evil.example.org>'
refused rport "sip:bob@example.com" "a local Route on port 5432" \
    -H 'Route: <sip:db01.corp.example.com:5432;lr>'
refused rtrans "sip:bob@example.com" "a local Route with transport=x-db" \
    -H 'Route: <sip:edge.corp.example.com;lr;transport=x-db>'
refused rbad "sip:bob@example.com" "a local Route with maddr=%G1" \
    -H 'Route: <sip:edge.corp.example.com;lr;maddr=%G1>'
accepted rok "sip:bob@example.com" "a local Route on 5061 with transport=tls" \
    -H 'Route: <sip:edge.corp.example.com:5061;transport=tls;lr>'

# ---- the To URI, counted in place of a Request-URI without user ----
accepted touri "sip:example.com" "a Request-URI without user, To escaped" \
    -t 'sip:b%6Fb@example.com'
[ "$uri" = "bob@example.com" ]
ok $? "the To URI's user is counted unescaped: b%6Fb is bob ($uri)"

# ---- a non-SIP Request-URI: 416 Unsupported URI Scheme ----
malformed tel "tel:+15551234" 416 "Unsupported URI Scheme" \
    "a tel: Request-URI"
malformed http "http://example.com/" 416 "Unsupported URI Scheme" \
    "an http: Request-URI"

# ---- everything in one stream: exactly the accepted requests pass ----
: >"$T/s/log"
fedgate -c "$T/fed.conf" -r "$T/replies" <"$T/all" >"$T/out" 2>"$T/err"
ok $? "the whole stream in one run: exit 0"
cmp_file "... stdout is exactly the accepted requests, in order" \
    "$T/relayed" "$T/out"
n=$(grep -c '	refuse	not_local	404	' "$T/s/log")
[ "$n" -eq "$n_refused" ]
ok $? "... $n_refused not_local refusals in the log ($n)"
n=$(grep -c '	accept	discovered	-	' "$T/s/log")
[ "$n" -eq "$n_accepted" ]; ok $? "... $n_accepted accepted ($n)"
n=$(grep -c '	refuse	malformed	' "$T/s/log")
[ "$n" -eq "$n_malformed" ]; ok $? "... $n_malformed malformed ($n)"
n=$(grep -c '^SIP/2.0 ' "$T/replies")
[ "$n" -eq $((n_refused + n_malformed)) ]
ok $? "... and as many answers as refusals ($n)"
