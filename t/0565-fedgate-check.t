#!/bin/sh
# fedgate -t (fedgate(8) Checking a configuration): a good set-up passes
# with exit 0; each problem alone gives exit 2 and its own line; several
# at once are all told; the check creates nothing.  openssl makes the TLS
# files, sipp plays our internal server answering OPTIONS, socat a server
# that is silent or speaks no SIP; 127.0.0.1 only, every peer stopped at
# exit, every wait bounded.
. "${0%/*}/lib.sh"
need openssl sipp socat ss

test_ports 5
UAS=$base DEAD=$((base + 1)) SILENT=$((base + 2)) HTTP=$((base + 3))

# The TLS files: a CA, our certificate from it (valid a year, and one
# valid 3 days), an expired one, a key that is not ours, a CA file whose
# one block is no certificate.
P=$T/pki
mkdir -p "$P"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$1.key" 2>/dev/null; }
cert() {	# cert NAME DAYS: signed by the test CA (DAYS -1: expired)
	key "$1" && openssl req -new -key "$P/$1.key" -out "$P/$1.csr" \
	    -subj /CN=edge.example.com 2>/dev/null &&
	openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
	    -CAcreateserial -days "$2" -out "$P/$1.pem" 2>/dev/null
}
key ca && openssl req -x509 -new -key "$P/ca.key" -out "$P/ca.pem" \
    -days 30 -subj /CN=fedkit-test-ca 2>/dev/null &&
cert edge 365 && cert soon 3 && cert old -1 && key other
ok $? "openssl made a CA, certificates and a stray key"
printf -- '-----BEGIN CERTIFICATE-----\nZmVka2l0IHRlc3Q6IG5vIGNlcnRpZmljYXRl\n-----END CERTIFICATE-----\n' \
    >"$P/bad-ca.pem"

# Our server: sipp answers every OPTIONS 200.  A silent one (reads, never
# answers) and one that speaks HTTP, from socat.
cat >"$T/options.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="our server answers OPTIONS">
  <recv request="OPTIONS"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]o[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
EOF
spawn sipp -sf "$T/options.xml" -t t1 -i 127.0.0.1 -p "$UAS" -nostdin \
    >"$T/uas.out" 2>&1
spawn socat -u "TCP-LISTEN:$SILENT,bind=127.0.0.1,reuseaddr,fork" OPEN:/dev/null
# It reads the request line first, as a server does: closing with the
# OPTIONS unread would reset the connection, racing fedgate's read.
printf '#!/bin/sh\nread -r line\nprintf "HTTP/1.1 400 Bad Request\\r\\n\\r\\n"\n' >"$T/http.sh" &&
    chmod +x "$T/http.sh"
spawn socat "TCP-LISTEN:$HTTP,bind=127.0.0.1,reuseaddr,fork" "EXEC:$T/http.sh"
wait_for 10 listening "$UAS" && wait_for 10 listening "$SILENT" &&
    wait_for 10 listening "$HTTP"
ok $? "sipp and socat listen on 127.0.0.1"

# good [LINE...]: a complete, good set-up under $T/d (made afresh), the
# lines given appended to fed.conf.  A later key would be "given twice":
# tests that change one write the file with `conf` below instead.
D=$T/d
setup() {
	rm -rf "$D" && mkdir -p "$D/state" || return 1
	printf '# partners\ncontoso.com edge=edge.contoso.com\n' >"$D/allow"
	printf 'spam.example\n' >"$D/block"
	printf 'contoso.com\tedge.contoso.com\t5061\t%s\n' \
	    $(( $(date +%s) + 86400 )) >"$D/edges"
}
conf() {	# conf [KEY=VALUE...]: fed.conf with these values over the good ones
	fedconf "$T/fed.conf" "$D" "tls_cert=$P/edge.pem" "tls_key=$P/edge.key" \
	    "tls_ca=$P/ca.pem" "upstream=127.0.0.1:$UAS" "upstream_timeout=1s" "$@"
	# The lists compiled, as fedlist leaves them (fedkit(7) List index).
	# Not checked: a fed.conf fedgate -t is to refuse stops it too.
	fedlist -c "$T/fed.conf" index >/dev/null 2>&1
	return 0
}
C=$T/fed.conf

# check CODE DESC [ARGS...]: fedgate -t -c $C ARGS must exit CODE.
check() {
	_c=$1 _d=$2; shift 2
	expect_exit "$_c" "$_d" fedgate -t -c "$C" "$@"
}

setup && conf
check 0 "a good set-up passes"
grep_file "... and says so, naming the file" "^fedgate: $C: configuration OK\$" "$T/err"
grep_file "... the upstream answered OPTIONS" \
    "^fedgate: upstream 127.0.0.1:$UAS: answers OPTIONS: \"SIP/2.0 200 OK\"\$" "$T/err"
[ ! -s "$T/out" ]; ok $? "... nothing on standard output"
printf 'fedgate: %s\n' "$C: configuration OK" \
    "upstream 127.0.0.1:$UAS: answers OPTIONS: \"SIP/2.0 200 OK\"" >"$T/want"
sort "$T/want" -o "$T/want" && sort "$T/err" >"$T/got"
cmp_file "... and only those two lines" "$T/want" "$T/got"

conf "upstream=127.0.0.1:$DEAD"
check 0 "-u overrides fed.conf's upstream" -u "127.0.0.1:$UAS"
expect_exit 2 "-t with -n is a usage error" fedgate -t -n -c "$C"
grep_file "... with the usage" "^usage: fedgate" "$T/err"

# Each problem alone: exit 2, its line, one problem counted.
one() {	# one DESC PATTERN: the last check found exactly this
	grep_file "$1: told" "$2" "$T/err"
	grep_file "$1: one problem counted" \
	    "^fedgate: $C: configuration test failed: 1 problem\$" "$T/err"
}

setup && conf && echo "max_uris = many" >>"$C"
line=$(grep -c '' "$C")
check 2 "a bad fed.conf line fails"
one "bad fed.conf line" "^fedgate: $C:$line: max_uris: "

expect_exit 2 "a missing fed.conf fails" fedgate -t -c "$T/no.conf"
grep_file "missing fed.conf: told" "^fedgate: $T/no.conf: No such file or directory\$" "$T/err"
grep_file "missing fed.conf: one problem counted" \
    "^fedgate: $T/no.conf: configuration test failed: 1 problem\$" "$T/err"

setup && conf "upstream="
check 2 "no upstream, from -u or fed.conf, fails"
one "no upstream" "^fedgate: $C: no upstream: socket mode needs our internal server"

setup && conf "local_domains="
check 2 "no local_domains fails"
one "no local_domains" "^fedgate: $C: local_domains is not set"

setup && conf && printf 'ok.example\nbad..example\n' >"$D/block"
check 2 "a bad block list line fails"
one "bad list line" "^fedgate: $D/block:2: "

setup && conf "tls_cert=$P/missing.pem"
check 2 "a missing certificate fails"
one "missing certificate" "^fedgate: TLS: $P/missing.pem: No such file or directory\$"

setup && conf "tls_key=$P/other.key"
check 2 "a key that does not match the certificate fails"
one "key not matching" "^fedgate: TLS: $P/other.key: .*key values mismatch"

setup && conf "tls_ca=$P/bad-ca.pem"
check 2 "a CA file whose block is no certificate fails"
one "bad CA file" "^fedgate: TLS: $P/bad-ca.pem: "

setup && conf "tls_cert=$P/old.pem" "tls_key=$P/old.key"
check 2 "an expired certificate fails"
one "expired certificate" "^fedgate: TLS: $P/old.pem: the certificate expired on 20[0-9-]* "

setup && conf "upstream=127.0.0.1:$DEAD"
check 2 "an upstream that does not listen fails"
one "upstream not listening" \
    "^fedgate: upstream 127.0.0.1:$DEAD: connect: Connection refused\$"

# socat forks a shell for each connection: on a loaded machine that can
# take more than the 1 s the other cases wait.
setup && conf "upstream=127.0.0.1:$HTTP" "upstream_timeout=5s"
check 2 "an upstream that answers other than SIP fails"
one "upstream not SIP" \
    "^fedgate: upstream 127.0.0.1:$HTTP: answered OPTIONS with something other than SIP: \"HTTP/1.1 400 Bad Request\"\$"

setup && conf && chmod 0555 "$D/state"
check 2 "a state_dir fedgate's user cannot write fails"
one "unwritable state dir" \
    "^fedgate: state_dir $D/state: .* cannot write in it: Permission denied\$"

setup && conf "state_dir=$D/no/such/state"
check 2 "a state_dir that cannot be made fails"
one "state dir not makeable" "^fedgate: state_dir $D/no/such/state: missing, and "

setup && conf && rm "$D/edges"
check 2 "no edge cache with verify = srv (TLS) fails"
one "no edge cache" "^fedgate: $D/edges: no edge cache: with verify = srv"

setup && conf "tls=off" "tls_cert=" "tls_key=" "tls_ca=" && rm "$D/edges"
check 0 "no edge cache without TLS (verify none) passes"

setup && conf "tls_cert=" "tls_key="
check 2 "TLS on without a certificate fails"
one "TLS without files" "^fedgate: $C: tls is on, but tls_cert and tls_key are not set"

setup && conf "verdict_log=$D/nodir/log"
check 2 "a verdict log in a missing directory fails"
one "log directory" "^fedgate: verdict_log's directory $D/nodir: No such file or directory\$"

setup && conf && printf 'contoso.com\tx\tbad\n' >"$D/watch-bad" &&
    echo "watch_list = $D/watch-bad" >>"$C"
check 2 "a bad watch list line fails"
one "bad watch list line" "^fedgate: $D/watch-bad:1: "

# Run as root the files are checked as `user`: a directory root may write
# but fedkit may not is a problem.
if [ "$(id -u)" -eq 0 ]; then
	setup && conf && chmod 0755 "$D/state"
	check 2 "as root, state_dir is checked as user fedkit"
	one "as user" "^fedgate: state_dir $D/state: fedkit cannot write in it"
else
	echo "ok $((_n + 1)) # SKIP checked as user fedkit: only root can switch"
	_n=$((_n + 1))
fi

# Warnings: exit 0, told, counted.
setup && conf "tls_cert=$P/soon.pem" "tls_key=$P/soon.key"
check 0 "a certificate expiring in 3 days passes"
grep_file "... with a warning" \
    "^fedgate: warning: TLS: $P/soon.pem: the certificate expires in [23] days" "$T/err"
grep_file "... counted" "^fedgate: $C: configuration OK, 1 warning\$" "$T/err"

setup && conf && rm -f "$D/allow.idx"
check 0 "a list not compiled passes"
grep_file "... with a warning naming fedlist index" \
    "^fedgate: warning: $D/allow.idx: no index: .*run \`fedlist index\`" "$T/err"
printf 'fabrikam.com\n' >>"$D/block"
check 0 "a list changed since it was compiled passes"
grep_file "... with a warning" "^fedgate: warning: $D/block.*fedlist index" "$T/err"

setup && conf && echo contoso.com >>"$D/block"
check 0 "a domain on both lists passes"
grep_file "... with a warning naming both lines" \
    "^fedgate: warning: $D/allow:2: contoso.com is on the block list too ($D/block:2)" "$T/err"

setup && conf "upstream=127.0.0.1:$SILENT"
check 0 "an upstream that never answers OPTIONS passes"
grep_file "... with a warning" \
    "^fedgate: warning: upstream 127.0.0.1:$SILENT: connected, but no answer to OPTIONS within upstream_timeout (1 s)\$" "$T/err"

# Several problems at once: every one told, in order, and counted.
setup && conf "tls_cert=$P/missing.pem" "upstream=127.0.0.1:$DEAD" &&
    printf 'max_uris = many\nmethods = INVITE,\001\n' >>"$C" &&
    printf 'bad..example\n' >>"$D/allow" && chmod 0555 "$D/state"
n=$(grep -c '' "$C")
check 2 "several problems fail"
for pat in "^fedgate: $C:$((n - 1)): max_uris: " \
    "^fedgate: $C:$n: control character" \
    "^fedgate: TLS: $P/missing.pem: No such file" \
    "^fedgate: $D/allow:3: " \
    "^fedgate: state_dir $D/state: .* cannot write in it" \
    "^fedgate: upstream 127.0.0.1:$DEAD: connect: Connection refused" \
    "^fedgate: $C: configuration test failed: 6 problems\$"; do
	grep_file "... told: $pat" "$pat" "$T/err"
done
[ "$(grep -c . "$T/err")" -eq 7 ]; ok $? "... six problems and the verdict, nothing else"

# An edge pool's Redis (fedkit(7) POOL): reached as fedgate's user, or
# down: a warning with redis_down = local, a problem with refuse.
REDIS=$((base + 4))
spawn redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no \
    --requirepass s3cret >"$T/redis.log" 2>&1
wait_for 10 sh -c "redis-cli -p $REDIS -a s3cret --no-auth-warning ping | grep -q PONG"
ok $? "redis-server on 127.0.0.1:$REDIS"
setup && conf "redis=127.0.0.1:$REDIS" "redis_password=s3cret"
check 0 "a pool whose Redis answers passes"
grep_file "... and says so" \
    "^fedgate: redis 127.0.0.1:$REDIS: reached, the pool's script loaded\$" "$T/err"
setup && conf "redis=127.0.0.1:$REDIS" "redis_password=wrong"
check 0 "a wrong redis_password with redis_down = local passes"
grep_file "... with a warning naming AUTH" \
    "^fedgate: warning: redis 127.0.0.1:$REDIS: AUTH: .*each host would count on its own" "$T/err"
setup && conf "redis=127.0.0.1:$DEAD" "redis_down=refuse"
check 2 "a pool whose Redis is down, redis_down = refuse, fails"
one "... with its one problem" \
    "^fedgate: redis 127.0.0.1:$DEAD: Connection refused: every request needing state would be answered 503 (redis_down = refuse)\$"
setup && conf "redis=localhost"
check 2 "redis = localhost (no port) fails"
grep_file "... at its line" "^fedgate: $C:[0-9]*: redis: .*HOST:PORT" "$T/err"

# -t creates nothing: not the state directory it would make, not the
# log, no lock or index beside a list; nothing is changed.
setup && conf "state_dir=$D/new-state" && find "$D" | sort >"$T/before" &&
    touch "$T/mark"
check 0 "a set-up whose state_dir and log fedgate would make passes"
find "$D" | sort >"$T/after"
cmp_file "-t created nothing" "$T/before" "$T/after"
[ -z "$(find "$D" -newer "$T/mark")" ]; ok $? "... and changed nothing"
