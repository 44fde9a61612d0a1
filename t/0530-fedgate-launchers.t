#!/bin/sh
# The deployment files in share/ work as shipped: the systemd units pass
# systemd-analyze, and inetd, xinetd, tcpserver and the units' own
# command line each run fedgate for a sipp partner on 127.0.0.1.  Each
# launcher's file is the shipped one with only ports, paths and the user
# changed (by sed, shown in the diagnostics on failure).
#
# Their limits hold without a flood shutting the service (fedgate(8),
# Deployment): a burst of 300 empty connections, more than
# openbsd-inetd's default 256 a minute and xinetd's default 50 a second,
# leaves inetd, xinetd and tcpserver answering the next request;
# xinetd's per_source refuses the 33rd connection from one address while
# another address is served; a tcprules rule refuses one address.
. "${0%/*}/lib.sh"
need sipp systemd-socket-activate systemd-analyze inetd tcpserver tcprules ss man
XINETD=$(command -v xinetd || echo /opt/fedkit-test/xinetd/usr/sbin/xinetd)
[ -x "$XINETD" ]; ok $? "xinetd is at hand ($XINETD; run: make deps)"

test_ports 2
GATE=$base UAS=$((base + 1))
FEDGATE=$B/bin/fedgate
# The read end of the FIFO that holds connflood's connections open.
hold_release() {
	[ -n "${hold_pid:-}" ] || return 0
	exec 8>&-
	wait "$hold_pid" 2>/dev/null
	hold_pid=
}
at_exit hold_release

# idle_timeout: the UDP fedgate ends soon after its test.
fedconf "$T/fed.conf" "$T" "verdict_log = $T/v.log" "tls = off" "idle_timeout = 3s"
mkdir "$T/state"
printf 'SEQUENTIAL\nbob;\n' >"$T/users"
sed "s/@CODE@/200/" "$TOP/t/sipp/uas.xml" >"$T/uas.xml"
me=$(id -un)
# The command every file runs, pointed at this build and this test.
fix_cmd="s|@SBINDIR@/fedgate|$FEDGATE|; s|-c /etc/fedkit/fed.conf|-c $T/fed.conf -u 127.0.0.1:$UAS|"

sipp_server 200 -trace_msg -message_file "$T/uas.msg"; ok $? "sipp plays our server on 127.0.0.1:$UAS"

# partner NAME [TRANSPORT]: 10 MESSAGEs through the launcher on $GATE;
# each must be accepted and answered by our server, with Fed-Trust.
partner() {
	rm -f "$T/v.log"
	: >"$T/uas.msg"
	if [ "${2:-t1}" = u1 ]; then
		wait_for 10 udp_listening "$GATE"
	else
		wait_for 10 listening "$GATE"
	fi
	ok $? "$1 listens on 127.0.0.1:$GATE"
	timeout 60 sipp -sf "$TOP/t/sipp/uac.xml" -key from partner.example \
	    -inf "$T/users" -t "${2:-t1}" -i 127.0.0.1 "127.0.0.1:$GATE" \
	    -m 10 -r 10 -nostdin -timeout 30s >"$T/uac.out" 2>&1
	rc=$?
	ok $rc "$1: sipp's 10 MESSAGEs were answered"
	if [ "$rc" -ne 0 ]; then
		diag "sipp exit $rc:" "$(grep -v -e '^ *$' -e '|' -e '^---' "$T/uac.out" | tail -8)"
		for f in "$T"/*.out "$T"/*.log "$T"/*.err; do
			[ -s "$f" ] && diag "$f:" "$(tail -5 "$f")"
		done
	fi
	n=$(awk -F '\t' '$6 == "accept" && $2 ~ /^127\.0\.0\.1:[0-9]+$/' "$T/v.log" 2>/dev/null | wc -l)
	[ "$n" -eq 10 ]; ok $? "$1: fedgate accepted 10, naming the peer by address ($n)"
	n=$(grep -c '^Fed-Trust: source=discovered' "$T/uas.msg")
	[ "$n" -eq 10 ]; ok $? "$1: our server got all 10 with Fed-Trust ($n)"
}

# request NAME SOURCE [SECONDS]: one MESSAGE (a partner never seen
# before) from SOURCE through the launcher on $GATE, answered within
# SECONDS (10); connflood's summary in $T/one.
msgno=1000
request() {
	msgno=$((msgno + 1))
	sipmsg -n 1 -s "$msgno" -c one -f 'sip:alice@p%d.partner.example' >"$T/one.sip"
	connflood -n 1 -s "$2" -f "$T/one.sip" -t "${3:-10}" 127.0.0.1 "$GATE" >"$T/one" 2>&1
}
# one_from NAME SOURCE SUMMARY DESC: one request from SOURCE; connflood's
# summary ($T/one) must be "connections 1 SUMMARY".
one_from() {
	request "$1" "$2"
	grep -q "^connections 1 $3" "$T/one"
	ok $? "$1: $4 ($(cat "$T/one"))"
}

# burst NAME: 300 connections that send nothing, in a few seconds (at
# most 100 opening at once), then a real request must be answered.  The
# launcher takes it at once (inetd would refuse it then, were it over
# its limit), but it may wait for the CPU behind 300 fedgates starting
# (seconds on a sanitizer build), hence the longer wait.
burst() {
	connflood -n 300 -p 100 -t 30 127.0.0.1 "$GATE" >"$T/burst" 2>&1
	grep -q '^connections 300 answered 300 ' "$T/burst"
	ok $? "$1: 300 empty connections in a burst were all accepted ($(cat "$T/burst"))"
	request "$1" 127.0.0.1 60
	grep -q '^connections 1 answered 1 .* 200:1$' "$T/one"
	ok $? "$1: after the burst a partner's request is still answered, by our server ($(cat "$T/one"))"
}

# hold N SOURCE: N connections from SOURCE, each with a request answered,
# then held open (fedgate waiting on each) until hold_release.
hold() {
	sipmsg -n "$1" -s 2000 -c held -f 'sip:alice@p%d.partner.example' >"$T/held.sip"
	rm -f "$T/hold" "$T/held"
	mkfifo "$T/hold"
	connflood -H -n "$1" -s "$2" -f "$T/held.sip" -t 40 127.0.0.1 "$GATE" \
	    <"$T/hold" >"$T/held" 2>&1 &
	hold_pid=$!
	exec 8>"$T/hold"
	wait_for 20 grep -q '^connections' "$T/held"
}

# -- systemd: the units verify, and their command runs -------------------
mkdir "$T/units"
sed "s|@SBINDIR@/fedgate|$FEDGATE|" "$TOP/share/systemd/fedgate@.service" \
    >"$T/units/fedgate@.service"
cp "$TOP/share/systemd/fedgate.socket" "$T/units/"
# As installed (t/lib.sh may run with umask 000): systemd warns about
# a world-writable unit.
chmod 644 "$T/units/fedgate.socket" "$T/units/fedgate@.service"
expect "systemd-analyze verify accepts fedgate.socket and fedgate@.service" \
    systemd-analyze verify --man=no "$T/units/fedgate.socket" "$T/units/fedgate@.service"
# verify only warns about a value it cannot parse (and ignores it).
[ ! -s "$T/err" ]; ok $? "systemd-analyze verify has no complaint about any setting"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
# The listener's pair (fedgate(8) Listener mode, run by t/0545).
sed "s|@SBINDIR@/fedgate|$FEDGATE|" \
    "$TOP/share/systemd/fedgate-listener.service" \
    >"$T/units/fedgate-listener.service"
cp "$TOP/share/systemd/fedgate-listener.socket" "$T/units/"
chmod 644 "$T/units/fedgate-listener.socket" "$T/units/fedgate-listener.service"
expect "systemd-analyze verify accepts fedgate-listener.socket and .service" \
    systemd-analyze verify --man=no "$T/units/fedgate-listener.socket" \
    "$T/units/fedgate-listener.service"
[ ! -s "$T/err" ]; ok $? "... with no complaint about any setting"
[ -s "$T/err" ] && diag "$(cat "$T/err")"
grep -qx 'Accept=no' "$T/units/fedgate-listener.socket" &&
    grep -qx 'StandardInput=socket' "$T/units/fedgate-listener.service"
ok $? "fedgate-listener.socket hands fedgate the listening socket (Accept=no, StandardInput=socket)"
# systemd is not PID 1 here, so fedgate.socket itself cannot be started
# and flooded as shipped: its limits are checked against systemd 252's
# own systemd.socket(5) on this machine, and its command is run below by
# systemd-socket-activate, which knows none of those settings.
MANWIDTH=200 man systemd.socket 2>/dev/null | col -b | tr -s ' \t\n' '   ' >"$T/socket.5"
unit_has() { grep -qx "$1" "$T/units/fedgate.socket"; }
man_says() { grep -qF "$1" "$T/socket.5"; }
unit_has 'TriggerLimitBurst=0' && unit_has 'TriggerLimitIntervalSec=0' &&
    man_says 'Set either to 0 to disable any form of trigger rate limiting' &&
    man_says 'the socket unit is placed into a failure mode, and will not be connectible anymore until restarted'
ok $? "fedgate.socket turns the trigger limit off, which would fail the socket for good (systemd.socket(5))"
unit_has 'MaxConnections=512' &&
    man_says 'they will be refused until at least one existing connection is terminated'
ok $? "fedgate.socket: MaxConnections=512 refuses only the connections over it"
unit_has 'MaxConnectionsPerSource=32' &&
    man_says 'The maximum number of connections for a service per source IP address'
ok $? "fedgate.socket: MaxConnectionsPerSource=32"
somaxconn=$(cat /proc/sys/net/core/somaxconn)
unit_has 'Backlog=512' && man_says 'silently capped by the "net.core.somaxconn" sysctl' &&
    [ "$somaxconn" -ge 512 ]
ok $? "fedgate.socket: Backlog=512, not capped by somaxconn ($somaxconn)"
unit_has 'DeferAcceptSec=5s' && man_says 'the kernel will ignore initial ACK packets without any data'
ok $? "fedgate.socket: DeferAcceptSec=5s (a connection that sends nothing starts nothing)"
# The same two numbers in every launcher that has them.
grep -q '^exec tcpserver -c 512 ' "$TOP/share/tcpserver/run" &&
    grep -Eq '^[[:space:]]*instances[[:space:]]*= 512$' "$TOP/share/xinetd/fedgate" &&
    grep -Eq '^[[:space:]]*per_source[[:space:]]*= 32$' "$TOP/share/xinetd/fedgate"
ok $? "tcpserver and xinetd have the socket unit's limits (512 at once, 32 per source)"
systemd-analyze security --offline=yes "$T/units/fedgate@.service" >"$T/sec" 2>&1
level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/sec")
awk -v l="${level:-99}" 'BEGIN { exit !(l <= 1.2) }'
ok $? "the service is hardened: systemd's exposure level ${level:-?} <= 1.2"
grep -q '^Accept=yes' "$T/units/fedgate.socket"; ok $? "fedgate.socket accepts (one fedgate per connection)"
cmd=$(sed -n 's/^ExecStart=//p' "$T/units/fedgate@.service" | sed "$fix_cmd")
# shellcheck disable=SC2086 # the unit's command line, split as systemd would
spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" $cmd 2>"$T/act.err"
partner "the units' command (systemd-socket-activate)"
stop_all
sipp_server 200 -trace_msg -message_file "$T/uas.msg"

# -- inetd (openbsd-inetd), the shipped lines ----------------------------
grep -v '^#' "$TOP/share/inetd/inetd.conf" | sed -e "$fix_cmd" \
    -e "s|^sip-tls	|127.0.0.1:$GATE	|; s|^sip	|127.0.0.1:$GATE	|" \
    -e "s|	fedkit	|	$me	|" >"$T/inetd.conf"
spawn inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1
inetd_pid=$!
partner "inetd (stream tcp nowait)"
# 10 + 300 + 1 connections within a minute: the shipped nowait.N must
# be above them all (openbsd-inetd's default 256 would refuse the last).
burst "inetd (stream tcp nowait)"
# The UDP line: sipp's UAS answers over UDP on the same port number.
stop "$inetd_pid"
stop_all
spawn sipp -sf "$T/uas.xml" -t u1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1
wait_for 10 udp_listening "$UAS"
spawn inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1
partner "inetd (dgram udp wait)" u1
stop_all
sipp_server 200 -trace_msg -message_file "$T/uas.msg"

# -- xinetd, the shipped service -----------------------------------------
{
	printf 'defaults\n{\n\tinstances = 16\n\tlog_type = FILE %s\n}\n' "$T/xinetd.svc"
	grep -v '^#' "$TOP/share/xinetd/fedgate" | sed -e "$fix_cmd" \
	    -e "s|= 5061|= $GATE|; s|= fedkit|= $me|" \
	    -e "s|^{|{\n\tbind\t\t= 127.0.0.1|"
} >"$T/xinetd.conf"
spawn "$XINETD" -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" \
    -filelog "$T/xinetd.log" >"$T/xinetd.out" 2>&1
xinetd_pid=$!
# xinetd binds its port before it is ready to serve it.
wait_for 10 grep -q 'Started working' "$T/xinetd.log"
partner "xinetd"
burst "xinetd"
hold 32 127.0.0.1
grep -q '^connections 32 answered 32 .* 200:32$' "$T/held"
ok $? "xinetd: 32 connections from 127.0.0.1 answered and held open ($(cat "$T/held"))"
one_from xinetd 127.0.0.1 'answered 0 closed 1 ' \
    "per_source refuses the 33rd connection from 127.0.0.1"
one_from xinetd 127.0.0.2 'answered 1 .* 200:1$' "meanwhile 127.0.0.2 is served"
grep_file "xinetd logs the refusal with the source (log_on_failure HOST)" \
    'FAIL: fedgate per_source_limit from=127.0.0.1' "$T/xinetd.svc"
hold_release
stop "$xinetd_pid"

# -- tcpserver, the shipped run script -----------------------------------
# With a tcprules file that denies 127.0.0.2 and allows the rest.
printf '127.0.0.2:deny\n:allow\n' |
    tcprules "$T/tcp.cdb" "$T/tcp.tmp"; ok $? "tcprules compiles a per-source rule"
sed -e "$fix_cmd" -e "s|-RHl0 0 5061|-RHl0 127.0.0.1 $GATE|" \
    -e "s|/etc/fedkit/tcp.cdb|$T/tcp.cdb|" \
    "$TOP/share/tcpserver/run" >"$T/run"
grep -q "tcpserver .* 127.0.0.1 $GATE $FEDGATE" "$T/run" && grep -q "$T/tcp.cdb" "$T/run"
ok $? "the tcpserver run script was pointed at the test"
spawn sh "$T/run" >"$T/tcpserver.out" 2>&1
partner "tcpserver"
burst "tcpserver"
one_from tcpserver 127.0.0.2 'answered 0 closed 1 ' "the tcprules rule refuses 127.0.0.2"
one_from tcpserver 127.0.0.3 'answered 1 .* 200:1$' "127.0.0.3 is served"
stop_all
