#!/bin/sh
# Under inetd fds 0, 1 and 2 are all the partner's connection: whatever
# fedgate has to say goes to syslog, and the partner hears nothing but
# SIP.  Each case below makes fedgate warn (or fail) once, under a real
# openbsd-inetd, with a syslog socket of the test's own at /dev/log (in a
# private mount namespace: the machine's /dev is untouched) so the test
# also sees that no warning was lost.
. "${0%/*}/lib.sh"
need inetd sipp python3 unshare mount ss

test_ports 3
GATE=$base UAS=$((base + 1)) DEAD=$((base + 2))

# -- the peers: our server (sipp) and a syslog socket -----------------------
printf 'SEQUENTIAL\nbob;\n' >"$T/users"
sipp_server 200; ok $? "sipp plays our server on 127.0.0.1:$UAS"

mkdir "$T/dev" || exit 1
cat >"$T/syslogd.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
end = time.time() + 300
with open(sys.argv[2], "ab", buffering=0) as out:
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        out.write(d.rstrip(b"\0\n") + b"\n")
EOF
: >"$T/syslog"
spawn timeout 300 python3 "$T/syslogd.py" "$T/dev/log" "$T/syslog"
wait_for 10 test -S "$T/dev/log"; ok $? "a syslog socket listens"

# The partner: sends SIP, optionally waits, sends more, and keeps all it
# hears until fedgate closes the connection (bounded).  Then checks the
# bytes are SIP messages and CRLF keep-alives only, nothing else.
cat >"$T/partner.py" <<'EOF'
import os, socket, sys, time
port, out, pause = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
def msg(n, dom):
    return ("MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKd%d\r\n"
            "From: <sip:alice@%s>;tag=a%d\r\nTo: <sip:bob@example.com>\r\n"
            "Call-ID: diag-%d-%d@partner\r\nCSeq: 1 MESSAGE\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" %
            (n, dom, n, n, os.getpid())).encode()
dom = sys.argv[4] if len(sys.argv) > 4 else "partner.example"
s = socket.create_connection(("127.0.0.1", port), timeout=20)
got = b""
s.sendall(msg(1, dom))
end = time.time() + pause
s.settimeout(0.2)
while time.time() < end:
    try:
        d = s.recv(65536)
        if not d:
            break
        got += d
    except socket.timeout:
        pass
try:
    s.sendall(msg(2, dom))
except OSError:
    pass
s.settimeout(20)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError:
    pass
open(out, "wb").write(got)
EOF
cat >"$T/onlysip.py" <<'EOF'
import re, sys
b = open(sys.argv[1], "rb").read()
n = 0
while b:
    if b.startswith(b"\r\n"):
        b = b[2:]
        continue
    h, sep, rest = b.partition(b"\r\n\r\n")
    if not sep:
        sys.exit("not SIP: %r" % b[:80])
    lines = h.split(b"\r\n")
    if not re.match(rb"SIP/2\.0 [1-6]\d\d [ -~]*$", lines[0]):
        sys.exit("not a SIP status line: %r" % lines[0][:80])
    cl = 0
    for l in lines[1:]:
        m = re.match(rb"(?i)(content-length|l)\s*:\s*(\d+)$", l)
        if m:
            cl = int(m.group(2))
        elif not re.match(rb"[!-9;-~]+\s*:", l):
            sys.exit("not a SIP header: %r" % l[:80])
    b = rest[cl:]
    n += 1
print(n)
EOF

# run_case NAME PAUSE [DOMAIN]: one connection through inetd; fedgate's
# conf is $T/fed.conf, its upstream $UP.
UP=127.0.0.1:$UAS
run_case() {
	: >"$T/syslog"
	printf '127.0.0.1:%s\tstream\ttcp\tnowait\troot\t%s\tfedgate -c %s -u %s\n' \
	    "$GATE" "$B/bin/fedgate" "$T/fed.conf" "$UP" >"$T/inetd.conf"
	# /dev in the namespace: the test's directory with the machine's
	# null, zero and random devices bound in, and its own log socket.
	timeout 60 unshare -m sh -c '
		d=$1; shift
		for n in null zero urandom random; do
			: >"$d/$n" && mount --bind "/dev/$n" "$d/$n" || exit 1
		done
		mount --rbind "$d" /dev || exit 1
		exec "$@"' sh "$T/dev" inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1 &
	inetd_pid=$!
	wait_for 10 listening "$GATE" || diag "inetd: $(cat "$T/inetd.out")"
	timeout 40 python3 "$T/partner.py" "$GATE" "$T/heard" "$2" ${3:-}
	n=$(python3 "$T/onlysip.py" "$T/heard" 2>"$T/onlysip.err")
	ok $? "$1: the partner hears nothing but SIP (${n:-?} responses)"
	[ -s "$T/onlysip.err" ] && diag "$(cat "$T/onlysip.err")"
	kill "$inetd_pid" 2>/dev/null
	wait "$inetd_pid" 2>/dev/null
	wait_for 10 sh -c "! ss -ltnH 'sport = :$GATE' | grep -q ."
}
# said NAME PATTERN: syslog got a fedgate line matching PATTERN.
said() {
	wait_for 5 grep -q "fedgate\[[0-9]*\]: .*$2" "$T/syslog"
	_rc=$?
	ok $_rc "$1: syslog has it: $2"
	[ $_rc -eq 0 ] || diag "syslog: $(cat "$T/syslog")"
}
conf() {	# conf LINE...: fed.conf over a fresh directory $T/s
	rm -rf "$T/s"; mkdir "$T/s" "$T/s/state"
	fedconf "$T/fed.conf" "$T/s" "tls = off" "idle_timeout = 2s" "$@"
}

# -- verify = srv and no edge cache ---------------------------------------
conf "verify = srv"
run_case "no edge cache" 0
said "no edge cache" "no edge cache (write it with fedq -w)"
grep -q '^SIP/2.0 403' "$T/heard"; ok $? "no edge cache: the partner got its 403"

# -- a bad line in the watch list ------------------------------------------
conf
printf 'not a domain!\t1\tx\n' >"$T/s/state/watch"
run_case "bad watch list line" 0
said "bad watch list line" "line skipped"
grep -q '^SIP/2.0 200' "$T/heard"; ok $? "bad watch list line: MESSAGE relayed, 200"

# -- an unreadable state store ---------------------------------------------
conf
"$B/bin/fedgate" -c "$T/fed.conf" </dev/null >/dev/null 2>&1	# makes the store
# made by root: the state is fedgate's user's, as tmpfiles.d would have it
[ "$(id -u)" -ne 0 ] || chown -R fedkit "$T/s"
head -c 8192 /dev/urandom >"$T/s/state/counters.mdb"
run_case "unreadable store" 0
said "unreadable store" "was unreadable"

# -- a domain on both lists ------------------------------------------------
conf
echo partner.example >"$T/s/allow"
echo partner.example >"$T/s/block"
run_case "on both lists" 0
said "on both lists" "on both the allow list"
grep -q '^SIP/2.0 403' "$T/heard"; ok $? "on both lists: refused as blocked (403)"

# -- a bad edit of the block list while a connection is open ---------------
conf
echo blocked.example >"$T/s/block"
given fedlist -c "$T/fed.conf" index
# The edit comes once fedgate runs; the compiled list stays in force
# (fedkit(7) List index).
( wait_for 10 test -s "$T/s/log" && printf 'bad domain!\n' >>"$T/s/block" ) &
run_case "bad block list edit" 2.5
said "bad block list edit" "using the last index .*block.idx, from before this edit"

# -- a bad edit of fed.conf while a connection is open ---------------------
conf
( wait_for 10 test -s "$T/s/log" && echo "rate_nonsense = 1" >>"$T/fed.conf" ) &
run_case "bad fed.conf edit" 2.5
said "bad fed.conf edit" "keeping the running configuration"

# -- our server is down ----------------------------------------------------
conf
UP=127.0.0.1:$DEAD
run_case "upstream down" 0
UP=127.0.0.1:$UAS
grep -q '^SIP/2.0 503' "$T/heard"; ok $? "upstream down: the partner got 503"
said "upstream down" "127.0.0.1:$DEAD"

# -- fedgate cannot start: no local_domains --------------------------------
conf
sed -i '/^local_domains/d' "$T/fed.conf"
run_case "no local_domains" 0
said "no local_domains" "local_domains is not set"
[ ! -s "$T/heard" ]; ok $? "no local_domains: the connection closed, silent"

# -- a bad option in inetd.conf -------------------------------------------
conf
UP="127.0.0.1:$UAS -Z"
run_case "bad option" 0
UP=127.0.0.1:$UAS
said "bad option" "usage"
[ ! -s "$T/heard" ]; ok $? "bad option: the connection closed, silent"
