#!/bin/sh
# fedgate in socket mode counts only our server's answers, for the partner
# whose request each answers (fedkit(7)): responses forged on the
# partner's side are refused and dropped, a partner's genuine answers to
# our server pass uncounted; and fedgate's own lateness never cuts a
# partner.  systemd-socket-activate runs fedgate as in t/0520; sipp or a
# small python3 server plays our server, python3 the partner, so bytes
# and timing are exact.  Everything on 127.0.0.1; every wait is bounded.
. "${0%/*}/lib.sh"
need sipp systemd-socket-activate ss python3

test_ports 2
GATE=$base UAS=$((base + 1))
# The fedgate a check stopped (a child of the activator, not ours to
# stop) must not stay stopped: a stopped one would not even die of
# SIGTERM.  (stop continues the peers we started.)
cont_stalled() {
	[ -s "$T/stalled" ] || return 0
	kill -CONT "$(cat "$T/stalled")" 2>/dev/null
	rm -f "$T/stalled"
}
at_exit cont_stalled

mkconf() {	# mkconf [KEY=VALUE...]: a fresh fed.conf, state and log
	rm -rf "$T/state" "$T/v.log" "$T/uas.msg" "$T/ups.log" &&
	mkdir "$T/state" && : >"$T/allow" && : >"$T/block" &&
	fedconf "$T/fed.conf" "$T" "verdict_log = $T/v.log" "tls = off" "$@"
}

# start_uas CODE [TRANSPORT [FROM-DOMAIN]]: sipp as our server, answering
# every MESSAGE with CODE; with FROM-DOMAIN its answers carry a From of
# that domain instead of the request's.
start_uas() {
	sed "s/@CODE@/$1/" "$TOP/t/sipp/uas.xml" >"$T/uas.xml"
	if [ -n "${3:-}" ]; then
		sed "s/\[last_From:\]/From: <sip:nobody@$3>;tag=other/" \
		    "$T/uas.xml" >"$T/uas2.xml" && mv "$T/uas2.xml" "$T/uas.xml"
	fi
	spawn sipp -sf "$T/uas.xml" -t "${2:-t1}" -i 127.0.0.1 -p "$UAS" -nostdin \
	    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1
	if [ "${2:-t1}" = u1 ]; then
		wait_for 10 udp_listening "$UAS"
	else
		wait_for 10 listening "$UAS"
	fi
}

start_gate() {	# start_gate: fedgate behind a socket activator, one a connection
	spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
	    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
	act=$!
	wait_for 10 listening "$GATE"
}

count() {	# count VERDICT REASON [PARTNER]: lines of the verdict log
	awk -F '\t' -v v="$1" -v r="$2" -v p="${3:-}" \
	    '$6 == v && $7 == r && (p == "" || $3 == p)' "$T/v.log" 2>/dev/null |
	    wc -l
}
logged() { [ "$(count "$1" "$2" "${4:-}")" -ge "$3" ]; }	# VERDICT REASON N [PARTNER]

# -- the partner: exact bytes, exact order, bounded waits ----------------
cat >"$T/peer.py" <<'EOF'
# peer.py PORT MODE [ARGS]: a federation partner of fedgate on 127.0.0.1.
# Prints the status code of each answer it waits for, one a line.
import os, signal, socket, sys, time

PORT = int(sys.argv[1])
MODE = sys.argv[2]
ARGS = sys.argv[3:]


def request(tag, frm, user, transport="TCP", body="hello"):
    return ("MESSAGE sip:%s@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bK%s\r\n"
            "From: <sip:alice@%s>;tag=%s\r\n"
            "To: <sip:%s@example.com>\r\n"
            "Call-ID: %s@%s\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: %d\r\n\r\n%s" % (user, transport, tag, frm,
            tag, user, tag, frm, len(body), body)).encode()


def forged(i, transport="TCP"):
    # A 404 "answering" a request nobody sent, naming victim.test.
    return ("SIP/2.0 404 Not Found\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:9;branch=z9hG4bKforged%d\r\n"
            "From: <sip:x@victim.test>;tag=f%d\r\n"
            "To: <sip:y%d@example.com>;tag=t%d\r\n"
            "Call-ID: forged%d@victim.test\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Content-Length: 0\r\n\r\n" % (transport, i, i, i, i, i)).encode()


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return ""


def answer(head, code):
    # Our answer to our server's request: its headers copied back.
    lines = [l for l in head.split("\r\n")[1:]
             if l.split(":")[0].strip().lower() in
             ("via", "from", "to", "call-id", "cseq")]
    lines = [l + ";tag=partner" if l.lower().startswith("to:") else l
             for l in lines]
    return ("SIP/2.0 %d Answer\r\n%s\r\nContent-Length: 0\r\n\r\n" %
            (code, "\r\n".join(lines))).encode()


class Stream:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.buf = b""
        self.codes = []

    def send(self, b):
        self.s.sendall(b)

    def frame(self):
        self.buf = self.buf.lstrip(b"\r\n")
        i = self.buf.find(b"\r\n\r\n")
        if i < 0:
            return None
        head = self.buf[:i].decode("latin-1")
        n = int(header(head, "content-length") or header(head, "l") or 0)
        if len(self.buf) < i + 4 + n:
            return None
        self.buf = self.buf[i + 4 + n:]
        return head

    def pump(self, want, answer_code=None, secs=10):
        # Read until `want` final responses came (requests from our
        # server are answered with answer_code); at most secs seconds.
        # Returns how many requests were answered.
        answered = 0
        end = time.monotonic() + secs
        while len(self.codes) < want or (answer_code and answered <
                                          answer_code[1]):
            head = self.frame()
            if head is None:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.s.settimeout(left)
                try:
                    d = self.s.recv(65536)
                except socket.timeout:
                    break
                if not d:
                    break
                self.buf += d
                continue
            if head.startswith("SIP/2.0 "):
                code = int(head.split()[1])
                if code >= 200:
                    self.codes.append(code)
            elif answer_code:
                self.send(answer(head, answer_code[0]))
                answered += 1
        return answered


def burst(st, tag, frm):
    # 1.2 s on, 15 requests at once from frm; their codes in st.codes.
    time.sleep(1.2)
    st.codes = []
    st.send(b"".join(request("%s%d" % (tag, i), frm, "bob%d" % i)
                     for i in range(1, 16)))
    st.pump(15)


def fedgate_of(act):
    # The fedgate the activator started for our connection: its child.
    for _ in range(100):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == act:
                return int(d)
        time.sleep(0.05)
    sys.exit("peer.py: no fedgate under the activator")


if MODE == "forge":
    # victim.test has sent one request (so it has state); then 25
    # forged 404s naming it; then a burst of its requests.
    st = Stream()
    st.send(request("v0", "victim.test", "bob0"))
    st.pump(1)
    st.send(b"".join(forged(i) for i in range(25)))
    burst(st, "v", "victim.test")
elif MODE == "harvest":
    # One request at a time to distinct users, each answered first.
    st = Stream()
    for i in range(int(ARGS[0])):
        st.send(request("h%d" % i, "harvest.example", "u%d" % i))
        st.pump(i + 1)
elif MODE == "answer":
    # One request (partner.example gets state), then our answers to
    # the N requests of our server, 404 each, then a burst.
    st = Stream()
    st.send(request("a0", "partner.example", "bob0"))
    n = st.pump(1, (404, int(ARGS[0])))
    sys.stderr.write("answered %d requests of our server\n" % n)
    burst(st, "a", "partner.example")
elif MODE == "stall":
    # Half a request; fedgate stopped while the rest, five more whole
    # ones and half of a seventh wait in the socket, for longer than
    # message_timeout; then the seventh's end, and an eighth.
    act, pidfile = int(ARGS[0]), ARGS[1]
    msgs = [request("s%d" % i, "partner.example", "bob%d" % i)
            for i in range(8)]
    st = Stream()
    st.send(msgs[0][:60])
    time.sleep(0.5)
    pid = fedgate_of(act)
    with open(pidfile, "w") as f:
        f.write("%d\n" % pid)
    os.kill(pid, signal.SIGSTOP)
    try:
        st.send(msgs[0][60:] + b"".join(msgs[1:6]) + msgs[6][:80])
        time.sleep(3)
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(0.3)
    st.send(msgs[6][80:])
    st.pump(7)
    st.send(msgs[7])
    st.pump(8)
elif MODE == "flood":
    # N requests of 1 KB as fast as they go, while reading the answers.
    import threading
    n = int(ARGS[0])
    st = Stream()
    msgs = b"".join(request("f%d" % i, "partner.example", "bob%d" % i,
                            body="x" * 1000) for i in range(n))
    t = threading.Thread(target=st.send, args=(msgs,), daemon=True)
    t.start()
    st.pump(n, secs=60)
elif MODE == "udp":
    # 25 forged 404s naming victim.test, then harvest.example's
    # requests one at a time.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    for i in range(25):
        s.sendto(forged(i, "UDP"), ("127.0.0.1", PORT))
    codes = []
    for i in range(int(ARGS[0])):
        s.sendto(request("d%d" % i, "harvest.example", "u%d" % i, "UDP"),
                 ("127.0.0.1", PORT))
        end = time.monotonic() + 3
        while time.monotonic() < end:
            s.settimeout(end - time.monotonic())
            try:
                d = s.recv(65536).decode("latin-1")
            except socket.timeout:
                break
            if d.startswith("SIP/2.0 ") and int(d.split()[1]) >= 200:
                codes.append(int(d.split()[1]))
                break
    for c in codes:
        print(c)
    sys.exit(0)
else:
    sys.exit("peer.py: unknown mode " + MODE)
for c in st.codes:
    print(c)
EOF

# -- our server, when it must send requests of its own --------------------
cat >"$T/ups.py" <<'EOF'
# ups.py PORT LOG N: our server on 127.0.0.1:PORT.  On each connection it
# sends N MESSAGEs to users of partner.example, answers every request 200
# and writes the start line of every message it gets to LOG.  It ends
# after 60 s at the latest.
import selectors, socket, sys, time

PORT, LOG, N = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", PORT))
ls.listen(8)
sel.register(ls, selectors.EVENT_READ)
log = open(LOG, "a")
bufs = {}


def ours(k):
    return ("MESSAGE sip:carol%d@partner.example SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKup%d\r\n"
            "From: <sip:alice@example.com>;tag=u%d\r\n"
            "To: <sip:carol%d@partner.example>\r\n"
            "Call-ID: up%d@example.com\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n" % (k, PORT, k, k, k, k)).encode()


def answer(head):
    lines = [l for l in head.split("\r\n")[1:]
             if l.split(":")[0].strip().lower() in
             ("via", "from", "to", "call-id", "cseq")]
    return ("SIP/2.0 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n" %
            "\r\n".join(lines)).encode()


end = time.monotonic() + 60
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.5):
        if key.fileobj is ls:
            c, _ = ls.accept()
            bufs[c] = b""
            sel.register(c, selectors.EVENT_READ)
            c.sendall(b"".join(ours(k) for k in range(N)))
            continue
        c = key.fileobj
        d = c.recv(65536)
        if not d:
            sel.unregister(c)
            c.close()
            del bufs[c]
            continue
        b = bufs[c] + d
        while True:
            b = b.lstrip(b"\r\n")
            i = b.find(b"\r\n\r\n")
            if i < 0:
                break
            head = b[:i].decode("latin-1")
            n = 0
            for l in head.split("\r\n")[1:]:
                k, _, v = l.partition(":")
                if k.strip().lower() in ("content-length", "l"):
                    n = int(v.strip())
            if len(b) < i + 4 + n:
                break
            b = b[i + 4 + n:]
            log.write(head.split("\r\n")[0] + "\n")
            log.flush()
            if not head.startswith("SIP/2.0"):
                c.sendall(answer(head))
        bufs[c] = b
EOF

# -- (1) forged responses from the partner's side count for nobody -------
mkconf
start_uas 200
start_gate
timeout 60 python3 "$T/peer.py" "$GATE" forge >"$T/codes" 2>"$T/peer.err"
ok $? "partner: one request, 25 forged 404s, a burst of 15"
wait_for 5 logged refuse spoof 25 victim.test
n=$(awk -F '\t' '$6 == "refuse" && $7 == "spoof" && $3 == "victim.test" && $4 == "404" && $8 == "-"' "$T/v.log" | wc -l)
[ "$n" -eq 25 ]; ok $? "the 25 forged 404s are logged refuse spoof, method 404, no answer ($n)"
! grep -q 'forged' "$T/uas.msg"; ok $? "none of them reached our server"
n=$(grep -c '^200$' "$T/codes")
[ "$n" -eq 15 ]; ok $? "victim.test's burst of 15 was answered by our server, all 200 ($n)"
wait_for 5 logged accept discovered 16 victim.test
n=$(count accept discovered victim.test) l=$(awk -F '\t' '$6 == "limit"' "$T/v.log" | wc -l)
[ "$n" -eq 16 ] && [ "$l" -eq 0 ]; ok $? "victim.test is not suspicious: 16 accepted, $l limited"
stop_all

# -- (2) our server's answers count for the partner whose request they answer
mkconf "discovered_rate = 1000"
start_uas 404 t1 other.example
start_gate
timeout 60 python3 "$T/peer.py" "$GATE" harvest 35 >"$T/codes" 2>"$T/peer.err"
ok $? "partner: 35 requests to distinct users, one at a time"
n=$(head -20 "$T/codes" | grep -c '^404$')
[ "$n" -eq 20 ]; ok $? "the first 20 got our server's 404 ($n)"
n=$(sed -n '26,35p' "$T/codes" | grep -c '^503$')
[ "$n" -ge 8 ]; ok $? "from the 26th on, 503 at suspicious_rate, 1/s ($n of 10)"
wait_for 5 logged limit suspicious 10 harvest.example
n=$(count limit suspicious harvest.example)
[ "$n" -ge 10 ]; ok $? "logged limit suspicious for harvest.example ($n)"
a=$(count accept discovered harvest.example) o=$(count observe response harvest.example)
[ "$o" -eq "$a" ] && [ "$a" -ge 20 ]
ok $? "each of our server's answers is logged for harvest.example, not the From's domain ($o of $a)"
! grep -q 'other\.example' "$T/v.log"; ok $? "other.example, the From of the answers, counts for nothing"
stop_all

# -- (3) a partner's genuine answers to our server pass, uncounted -------
mkconf
: >"$T/ups.log"
spawn python3 "$T/ups.py" "$UAS" "$T/ups.log" 25 2>"$T/ups.err"
wait_for 10 listening "$UAS"
start_gate
timeout 60 python3 "$T/peer.py" "$GATE" answer 25 >"$T/codes" 2>"$T/peer.err"
ok $? "partner: one request, 404 to our server's 25, a burst of 15"
grep -q 'answered 25 requests' "$T/peer.err"; ok $? "the partner got our server's 25 requests"
wait_for 5 sh -c "[ \$(grep -c '^SIP/2.0 404' '$T/ups.log') -eq 25 ]"
ok $? "our server got the partner's 25 answers"
n=$(awk -F '\t' '$6 == "observe" && $4 == "404" && $3 == "partner.example"' "$T/v.log" | wc -l)
[ "$n" -eq 25 ]; ok $? "each logged observe for partner.example ($n)"
n=$(grep -c '^200$' "$T/codes")
[ "$n" -eq 15 ]; ok $? "and none counted: the partner's burst of 15 all answered 200 ($n)"
[ "$(awk -F '\t' '$6 == "limit" || $6 == "refuse"' "$T/v.log" | wc -l)" -eq 0 ]
ok $? "nothing limited or refused"
stop_all

# -- (4) fedgate stopped longer than message_timeout: nothing is cut -----
mkconf "message_timeout = 2s"
start_uas 200
start_gate
timeout 60 python3 "$T/peer.py" "$GATE" stall "$act" "$T/stalled" >"$T/codes" 2>"$T/peer.err"
ok $? "partner: 8 requests, fedgate stopped 3 s while they wait"
[ -s "$T/stalled" ]; ok $? "the partner's fedgate was stopped and continued ($(cat "$T/stalled" 2>/dev/null))"
cont_stalled
n=$(grep -c '^200$' "$T/codes")
[ "$n" -eq 8 ]; ok $? "all 8 answered by our server over the same connection ($n)"
wait_for 5 logged accept discovered 8
[ "$(count refuse malformed)" -eq 0 ]; ok $? "nothing logged refuse malformed"
! grep -q 'message_timeout' "$T/gate.err"; ok $? "fedgate did not cut the partner"
n=$(grep -c '^MESSAGE sip:' "$T/uas.msg")
[ "$n" -eq 8 ]; ok $? "our server got the 8 ($n)"
stop_all

# -- (5) our server stopped: fedgate holds the partner back, never cuts --
# Our server does not read: once the kernel's buffers and fedgate's are
# full (a few MB on loopback; the partner sends 8), fedgate stops reading
# the partner, most likely with half a message in hand, and our server
# stays stopped 3 s more, longer than message_timeout.  The gap in the
# accepted requests' times shows that fedgate did stop that long.
mkconf "message_timeout = 2s"
echo partner.example >"$T/allow"	# no limits: every request is relayed
: >"$T/ups.log"
spawn python3 "$T/ups.py" "$UAS" "$T/ups.log" 0 2>"$T/ups.err"
ups=$!
wait_for 10 listening "$UAS"
start_gate
kill -STOP "$ups"
timeout 90 python3 "$T/peer.py" "$GATE" flood 8000 >"$T/codes" 2>"$T/peer.err" &
peer=$!
# Once fedgate holds the partner back its log stops growing; then 3 s more.
i=0 last=-1
while [ "$i" -lt 60 ]; do
	n=$(cat "$T/v.log" 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] && [ "$n" -eq "$last" ] && break
	last=$n; sleep 1; i=$((i + 1))
done
sleep 3
kill -CONT "$ups"
wait "$peer"
ok $? "partner: 8,000 requests of 1 KB while our server is stopped"
n=$(grep -c '^200$' "$T/codes")
[ "$n" -eq 8000 ]; ok $? "all 8,000 answered by our server over the same connection ($n)"
wait_for 10 logged accept allowlisted 8000
gap=$(awk -F '\t' '$6 == "accept" {
	split(substr($1, 12, 12), t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
	if (n++ && s - last > gap) gap = s - last; last = s }
	END { printf "%d", gap * 1000 }' "$T/v.log")
[ "$gap" -ge 2000 ]; ok $? "fedgate stopped reading the partner for longer than message_timeout (${gap} ms)"
[ "$(count refuse malformed)" -eq 0 ]; ok $? "and did not cut it: nothing logged refuse malformed"
stop_all

# -- (6) UDP: the same rules, datagram by datagram -----------------------
mkconf "discovered_rate = 1000" "idle_timeout = 3s"
start_uas 404 u1 other.example
spawn systemd-socket-activate --datagram --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
wait_for 10 udp_listening "$GATE"
timeout 60 python3 "$T/peer.py" "$GATE" udp 35 >"$T/codes" 2>"$T/peer.err"
ok $? "UDP partner: 25 forged 404s, then 35 requests one at a time"
n=$(awk -F '\t' '$6 == "refuse" && $7 == "spoof" && $3 == "victim.test" && $4 == "404"' "$T/v.log" | wc -l)
[ "$n" -eq 25 ]; ok $? "UDP: the forged ones are logged refuse spoof ($n)"
! grep -q 'forged' "$T/uas.msg"; ok $? "UDP: none reached our server"
n=$(head -20 "$T/codes" | grep -c '^404$')
[ "$n" -eq 20 ]; ok $? "UDP: the first 20 got our server's 404 ($n)"
n=$(sed -n '26,35p' "$T/codes" | grep -c '^503$')
[ "$n" -ge 8 ]; ok $? "UDP: from the 26th on, 503 at suspicious_rate, 1/s ($n of 10)"
a=$(count accept discovered harvest.example) o=$(count observe response harvest.example)
[ "$o" -eq "$a" ] && [ "$(count limit suspicious harvest.example)" -ge 9 ]
ok $? "UDP: our server's answers counted for harvest.example ($o of $a)"
stop_all
