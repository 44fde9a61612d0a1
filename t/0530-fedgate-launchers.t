#!/bin/sh
# The deployment files in share/ work as shipped: the systemd units pass
# systemd-analyze, and inetd, xinetd, tcpserver and the units' own
# command line each run fedgate for a sipp partner on 127.0.0.1.  Each
# launcher's file is the shipped one with only ports, paths and the user
# changed (by sed, shown in the diagnostics on failure).
. "${0%/*}/lib.sh"
need sipp systemd-socket-activate systemd-analyze inetd tcpserver ss
XINETD=$(command -v xinetd || echo /opt/fedkit-test/xinetd/usr/sbin/xinetd)
[ -x "$XINETD" ]; ok $? "xinetd is at hand ($XINETD; run: make deps)"

base=$((20000 + ($$ % 9000) * 3 + 1))
GATE=$base UAS=$((base + 1))
FEDGATE=$B/bin/fedgate
pids=
stop_all() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	pids=
}
at_exit stop_all

{
	echo "local_domains = example.com"
	echo "verdict_log = $T/v.log"
	echo "state_dir = $T/state"
	echo "allow_list = $T/allow"
	echo "block_list = $T/block"
	echo "tls = off"
	echo "idle_timeout = 3s"	# the UDP fedgate ends soon after its test
} >"$T/fed.conf"
mkdir "$T/state"
printf 'SEQUENTIAL\nbob;\n' >"$T/users"
sed "s/@CODE@/200/" "$TOP/t/sipp/uas.xml" >"$T/uas.xml"
me=$(id -un)
# The command every file runs, pointed at this build and this test.
fix_cmd="s|/usr/local/sbin/fedgate|$FEDGATE|; s|-c /etc/fedkit/fed.conf|-c $T/fed.conf -u 127.0.0.1:$UAS|"

sipp -sf "$T/uas.xml" -t t1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1 &
pids="$pids $!"
wait_for 10 ss -ltnH "sport = :$UAS"; ok $? "sipp plays our server on 127.0.0.1:$UAS"

# partner NAME [TRANSPORT]: 10 MESSAGEs through the launcher on $GATE;
# each must be accepted and answered by our server, with Fed-Trust.
partner() {
	rm -f "$T/v.log"
	: >"$T/uas.msg"
	if [ "${2:-t1}" = u1 ]; then
		wait_for 10 ss -lunH "sport = :$GATE"
	else
		wait_for 10 ss -ltnH "sport = :$GATE"
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

# -- systemd: the units verify, and their command runs -------------------
mkdir "$T/units"
sed "s|/usr/local/sbin/fedgate|$FEDGATE|" "$TOP/share/systemd/fedgate@.service" \
    >"$T/units/fedgate@.service"
cp "$TOP/share/systemd/fedgate.socket" "$T/units/"
expect "systemd-analyze verify accepts fedgate.socket and fedgate@.service" \
    systemd-analyze verify --man=no "$T/units/fedgate.socket" "$T/units/fedgate@.service"
systemd-analyze security --offline=yes "$T/units/fedgate@.service" >"$T/sec" 2>&1
level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/sec")
awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'
ok $? "the service is hardened: systemd's exposure level ${level:-?} <= 2.0"
grep -q '^Accept=yes' "$T/units/fedgate.socket"; ok $? "fedgate.socket accepts (one fedgate per connection)"
cmd=$(sed -n 's/^ExecStart=//p' "$T/units/fedgate@.service" | sed "$fix_cmd")
# shellcheck disable=SC2086 # the unit's command line, split as systemd would
systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" $cmd 2>"$T/act.err" &
pids="$pids $!"
partner "the units' command (systemd-socket-activate)"
stop_all
pids=
sipp -sf "$T/uas.xml" -t t1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1 &
pids="$pids $!"
wait_for 10 ss -ltnH "sport = :$UAS"

# -- inetd (openbsd-inetd), the shipped lines ----------------------------
grep -v '^#' "$TOP/share/inetd/inetd.conf" | sed -e "$fix_cmd" \
    -e "s|^sip-tls	|127.0.0.1:$GATE	|; s|^sip	|127.0.0.1:$GATE	|" \
    -e "s|	fedkit	|	$me	|" >"$T/inetd.conf"
inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1 &
inetd_pid=$!
pids="$pids $inetd_pid"
partner "inetd (stream tcp nowait)"
# The UDP line: sipp's UAS answers over UDP on the same port number.
kill "$inetd_pid" 2>/dev/null
wait "$inetd_pid" 2>/dev/null
stop_all
sipp -sf "$T/uas.xml" -t u1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1 &
pids="$pids $!"
wait_for 10 ss -lunH "sport = :$UAS"
inetd -d "$T/inetd.conf" >"$T/inetd.out" 2>&1 &
pids="$pids $!"
partner "inetd (dgram udp wait)" u1
stop_all
sipp -sf "$T/uas.xml" -t t1 -i 127.0.0.1 -p "$UAS" -nostdin \
    -trace_msg -message_file "$T/uas.msg" >"$T/uas.out" 2>&1 &
pids="$pids $!"
wait_for 10 ss -ltnH "sport = :$UAS"

# -- xinetd, the shipped service -----------------------------------------
{
	printf 'defaults\n{\n\tinstances = 16\n}\n'
	grep -v '^#' "$TOP/share/xinetd/fedgate" | sed -e "$fix_cmd" \
	    -e "s|= 5061|= $GATE|; s|= fedkit|= $me|" \
	    -e "s|^{|{\n\tbind\t\t= 127.0.0.1|"
} >"$T/xinetd.conf"
"$XINETD" -dontfork -f "$T/xinetd.conf" -pidfile "$T/xinetd.pid" \
    -filelog "$T/xinetd.log" >"$T/xinetd.out" 2>&1 &
pids="$pids $!"
# xinetd binds its port before it is ready to serve it.
wait_for 10 grep -q 'Started working' "$T/xinetd.log"
partner "xinetd"
kill "$!" 2>/dev/null
wait "$!" 2>/dev/null

# -- tcpserver, the shipped run script -----------------------------------
sed -e "$fix_cmd" -e "s|-RHl0 0 5061|-RHl0 127.0.0.1 $GATE|" \
    "$TOP/share/tcpserver/run" >"$T/run"
grep -q "tcpserver .* 127.0.0.1 $GATE $FEDGATE" "$T/run"
ok $? "the tcpserver run script was pointed at the test"
sh "$T/run" >"$T/tcpserver.out" 2>&1 &
pids="$pids $!"
partner "tcpserver"
stop_all
