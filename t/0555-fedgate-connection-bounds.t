#!/bin/sh
# What one connection can make fedgate do is bounded (fedkit(7)
# SECURITY): a connection whose requests keep being refused is closed
# after max_refusals of them (one `refuse flood` line says so), so it
# cannot fill the disk with verdict lines; and keep-alive pings do not
# hold a connection open past idle_timeout.  fedgate runs under
# systemd-socket-activate (inetd contract), our server is sipp.
. "${0%/*}/lib.sh"
need systemd-socket-activate sipp python3 ss

test_ports 2
GATE=$base UAS=$((base + 1))

sipp_server 200; ok $? "sipp plays our server on 127.0.0.1:$UAS"

# fresh_conf [FED.CONF LINE...]: fed.conf over a fresh $T/s.  As shipped:
# fedgate started as root serves as an unprivileged user that owns its
# state and log (tmpfiles.d in a real install).
fresh_conf() {
	_user=
	[ "$(id -u)" -ne 0 ] || _user="user = nobody"
	rm -rf "$T/s" &&
	fedconf "$T/fed.conf" "$T/s" "tls = off" "$@" ${_user:+"$_user"} &&
	mkdir -p "$T/s/state" || return 1
	[ -z "$_user" ] || { chmod 755 "$T" && chown -R nobody "$T/s"; }
}
start_gate() {	# start_gate [FED.CONF LINE...]
	fresh_conf "$@" || return 1
	spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" \
	    2>"$T/gate.err"
	gate_pid=$!
	wait_for 10 listening "$GATE"
}
stop_gate() {
	stop "$gate_pid"
	wait_for 10 sh -c "! ss -ltnH 'sport = :$GATE' | grep -q ."
}

# The partner, as a script of steps: `send METHODxN` sends N requests at
# once, `ping N` N CRLFCRLF pings a half second apart, `sleep S`; all the
# while it reads, until fedgate closes (25 s at most), and prints when the
# connection ended.
cat >"$T/partner.py" <<'EOF'
import os, socket, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
steps = sys.argv[3:]
seq = 0
def req(method):
    global seq
    seq += 1
    return ("%s sip:bob@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKb%d.%d\r\n"
            "From: <sip:alice@partner.example>;tag=a%d\r\n"
            "To: <sip:bob@example.com>\r\nCall-ID: b-%d-%d@partner\r\n"
            "CSeq: 1 %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" %
            (method, os.getpid(), seq, seq, os.getpid(), seq, method)).encode()
s = socket.create_connection(("127.0.0.1", port), timeout=20)
t0 = time.time()
def send():
    try:
        i = 0
        while i < len(steps):
            what, arg = steps[i], steps[i + 1]
            i += 2
            if what == "send":
                m, n = arg.split("x")
                s.sendall(b"".join(req(m) for _ in range(int(n))))
            elif what == "ping":
                for _ in range(int(arg)):
                    s.sendall(b"\r\n\r\n")
                    time.sleep(0.5)
            elif what == "sleep":
                time.sleep(float(arg))
    except OSError:
        pass
threading.Thread(target=send, daemon=True).start()
got = bytearray()
s.settimeout(25)
try:
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        got.extend(d)
except OSError:
    pass
open(out, "wb").write(bytes(got))
print("%.2f" % (time.time() - t0))
EOF
count() { awk -F '\t' -v v="$1" -v r="$2" '$6 == v && $7 == r' "$T/s/log" | wc -l; }

# -- a REGISTER flood on one connection -----------------------------------
start_gate
t=$(timeout 40 python3 "$T/partner.py" "$GATE" "$T/heard" send REGISTERx30000)
n405=$(grep -c '^SIP/2.0 405' "$T/heard")
[ "$n405" -eq 100 ]; ok $? "30,000 REGISTERs: the first 100 (max_refusals) answered 405 ($n405)"
[ "$(count refuse method)" -eq 100 ]; ok $? "100 lines refuse method ($(count refuse method))"
[ "$(count refuse flood)" -eq 1 ]; ok $? "then one line refuse flood ($(count refuse flood))"
awk -F '\t' '$7 == "flood" && $4 == "REGISTER" && $8 == "-"' "$T/s/log" | grep -q .
ok $? "the flood line is the 101st REGISTER's, unanswered (code -)"
[ "$(wc -l <"$T/s/log")" -eq 101 ]; ok $? "nothing else was logged ($(wc -l <"$T/s/log") lines)"
sz=$(wc -c <"$T/s/log")
[ "$sz" -lt $((101 * 4096)) ]; ok $? "the log grew $sz bytes, under 101 lines of 4 kB"
awk "BEGIN { exit !($t < 5) }"; ok $? "and the connection was closed at once (${t} s)"
wait_for 5 grep -q 'max_refusals' "$T/gate.err"
ok $? "a diagnostic says why: $(grep -o "partner: .*max_refusals.*" "$T/gate.err" | head -1)"
expect "fedstat reads the flood line" "$B/bin/fedstat" "$T/s/log"
grep -q 'partner.example' "$T/out"; ok $? "fedstat's table has the partner"
stop_gate

# -- the bucket refills: refusals spread out are not a flood ---------------
start_gate "max_refusals = 4"
t=$(timeout 40 python3 "$T/partner.py" "$GATE" "$T/heard" send REGISTERx4 \
    sleep 2.8 send REGISTERx1 sleep 0.3 send MESSAGEx1 sleep 0.5 send REGISTERx9)
# 4 at once fill the bucket; one drains from it every 10 s / 4 = 2.5 s.
[ "$(count refuse method)" -eq 5 ]; ok $? "max_refusals = 4: 4 at once, and one more 2.8 s later ($(count refuse method))"
[ "$(count accept discovered)" -eq 1 ]; ok $? "an accepted MESSAGE in between"
grep -q '^SIP/2.0 200' "$T/heard"; ok $? "answered by our server"
[ "$(count refuse flood)" -eq 1 ]; ok $? "the burst after it is cut ($(count refuse flood) flood line)"
stop_gate

# -- max_refusals is a fed.conf key with a lower bound ---------------------
fedconf "$T/fed.conf" "$T/s" "max_refusals = 0"
expect_exit 2 "max_refusals = 0 is refused" "$B/bin/fedgate" -c "$T/fed.conf" </dev/null
grep -q 'max_refusals' "$T/err"; ok $? "naming the key"

# -- pings do not hold a connection open -----------------------------------
start_gate "idle_timeout = 2s"
t=$(timeout 40 python3 "$T/partner.py" "$GATE" "$T/heard" ping 16)
awk "BEGIN { exit !($t >= 1.5 && $t < 4.5) }"
ok $? "a connection that only pings is closed at idle_timeout (${t} s, 8 s of pings)"
grep -q "$(printf '^\r$')" "$T/heard"; ok $? "its pings were answered (RFC 5626 pongs)"
stop_gate

start_gate "idle_timeout = 2s"
t=$(timeout 40 python3 "$T/partner.py" "$GATE" "$T/heard" send MESSAGEx1 \
    ping 2 send MESSAGEx1 ping 2 send MESSAGEx1 ping 2 send MESSAGEx1)
n=$(grep -c '^SIP/2.0 200' "$T/heard")
[ "$n" -eq 4 ]; ok $? "requests every second keep a connection open past idle_timeout ($n of 4 answered)"
awk "BEGIN { exit !($t >= 4.5) }"; ok $? "closed only after the last one went idle (${t} s)"
stop_gate

# -- UDP: one process serves every source; its refusals are bounded too ----
need inetd
start_gate_udp() {
	fresh_conf "idle_timeout = 5s" || return 1
	printf '127.0.0.1:%s\tdgram\tudp\twait\troot\t%s\tfedgate -c %s -u 127.0.0.1:%s\n' \
	    "$GATE" "$B/bin/fedgate" "$T/fed.conf" "$UAS" >"$T/inetd.conf"
	inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1 &
	inetd_pid=$!
	wait_for 10 udp_listening "$GATE"
}
cat >"$T/udpflood.py" <<'PY'
import os, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
def req(i):
    return ("REGISTER sip:example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKu%d.%d\r\n"
            "From: <sip:alice@partner.example>;tag=a%d\r\n"
            "To: <sip:alice@partner.example>\r\nCall-ID: u-%d-%d@partner\r\n"
            "CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" %
            (os.getpid(), i, i, os.getpid(), i)).encode()
s.sendall(req(0))			# the first datagram starts fedgate
s.settimeout(10)
got = 1 if s.recv(65536).startswith(b"SIP/2.0 405") else 0
for i in range(1, n):
    s.send(req(i))
s.settimeout(1)
try:
    while True:
        if s.recv(65536).startswith(b"SIP/2.0 405"):
            got += 1
except socket.timeout:
    pass
print(got)
PY
start_gate_udp
n=$(timeout 30 python3 "$T/udpflood.py" "$GATE" 3000)
[ "${n:-0}" -ge 100 ] && [ "$n" -le 130 ]
ok $? "UDP: 3,000 REGISTERs at once: about max_refusals (100) answered 405 ($n)"
wait_for 5 test "$(count refuse flood)" -ge 1
f=$(count refuse flood) m=$(count refuse method)
[ "$f" -ge 1 ] && [ "$f" -le 3 ]; ok $? "UDP: a flood line a burst ($f)"
[ "$m" -eq "$n" ]; ok $? "UDP: every answered REGISTER logged, nothing more ($m lines refuse method)"
kill "$inetd_pid" 2>/dev/null; wait "$inetd_pid" 2>/dev/null
