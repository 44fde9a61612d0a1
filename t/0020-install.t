#!/bin/sh
# make install into a DESTDIR, with PREFIX=/usr and with a prefix of our
# own: the tools, pages and deployment files land under the prefix (or in
# /etc/logrotate.d), the deployment files name the installed programs and
# no path outside the prefix or the system's /etc, /var, /run; each file
# parses with the program that reads it (systemd-analyze verify,
# systemd-sysusers, systemd-tmpfiles, logrotate); the log is rotated by
# rename; the installed fedgate@.service's own command line serves a
# partner under systemd-socket-activate, our server taken from fed.conf;
# the installed tcpserver run script serves it as user fedkit.
. "${0%/*}/lib.sh"
unset MAKEFLAGS MFLAGS MAKELEVEL
need systemd-analyze systemd-sysusers systemd-tmpfiles logrotate \
    systemd-socket-activate tcpserver sipp ss stat
if [ "$(id -u)" -ne 0 ]; then
	ok 1 "this test makes files owned by fedkit and checks the switch to it: it needs root (CI runs as root)"
	exit 1
fi
id fedkit >/dev/null 2>&1; ok $? "user fedkit exists (run: make deps)"
# systemd's own unit files, for systemd-analyze --root: the installed
# units need its targets (sysinit.target, sockets.target ...).
HOSTUNITS=/usr/lib/systemd/system
[ -d "$HOSTUNITS" ] || HOSTUNITS=/lib/systemd/system

test_ports 2
GATE=$base UAS=$((base + 1))

# Our server (sipp answering 200) and a fed.conf that names it: the
# installed command lines give no -u.
mkdir "$T/s" "$T/s/state" && : >"$T/s/allow" && : >"$T/s/block" &&
fedconf "$T/fed.conf" "$T/s" "verdict_log = $T/s/v.log" "tls = off" \
    "upstream = 127.0.0.1:$UAS"
printf 'SEQUENTIAL\nbob;\n' >"$T/users"
sipp_server 200 -trace_msg -message_file "$T/uas.msg"; ok $? "sipp plays our server on 127.0.0.1:$UAS"

# partner NAME [VERIFIED]: one MESSAGE through whatever listens on $GATE,
# accepted, relayed to our server with Fed-Trust (verified=VERIFIED, no
# by default) and answered 200.
partner() {
	rm -f "$T/s/v.log" "$T/uac.msg"
	: >"$T/uas.msg"
	wait_for 10 listening "$GATE"; ok $? "$1 listens on 127.0.0.1:$GATE"
	timeout 60 sipp -sf "$TOP/t/sipp/uac.xml" -key from partner.example \
	    -inf "$T/users" -t t1 -i 127.0.0.1 "127.0.0.1:$GATE" -m 1 -r 1 \
	    -nostdin -timeout 30s -trace_msg -message_file "$T/uac.msg" \
	    >"$T/uac.out" 2>&1
	grep -q '^SIP/2.0 200' "$T/uac.msg" 2>/dev/null
	ok $? "$1: the partner's MESSAGE was answered 200"
	n=$(awk -F '\t' '$6 == "accept" && $7 == "discovered"' "$T/s/v.log" 2>/dev/null | wc -l)
	[ "$n" -eq 1 ]; ok $? "$1: fedgate logged it accepted ($n)"
	n=$(grep -c "^Fed-Trust: source=discovered; verified=${2:-no}; partner=partner.example" "$T/uas.msg")
	[ "$n" -eq 1 ]; ok $? "$1: our server, named only in fed.conf, got it with Fed-Trust ($n)"
	[ "$n" -eq 1 ] || diag "fedgate:" "$(cat "$T/gate.err" 2>/dev/null)" \
	    "sipp:" "$(grep -v -e '^ *$' -e '|' -e '^---' "$T/uac.out" | tail -5)"
}

# check_install NAME PREFIX: install under $T/NAME with PREFIX and check
# everything that lands there.
check_install() {
	name=$1 prefix=$2 D=$T/$1
	r=$D$prefix units=$prefix/lib/systemd/system
	# -o all: the build under test is installed as it is; install
	# rebuilds nothing (it would, without the sanitizer flags of a
	# sanitizer build, were a source newer).
	expect "$name: make install PREFIX=$prefix into a scratch DESTDIR" \
	    make -s -C "$TOP" -o all B="$B" DESTDIR="$D" PREFIX="$prefix" install
	for f in bin/fedq bin/fedlist bin/fedstat sbin/fedgate \
	    share/fedkit/tcpserver/run; do
		[ -x "$r/$f" ]; ok $? "$name: $f is installed and executable"
	done
	for f in share/man/man1/fedq.1 share/man/man1/fedlist.1 \
	    share/man/man1/fedstat.1 share/man/man5/fed.conf.5 \
	    share/man/man7/fedkit.7 share/man/man8/fedgate.8 \
	    share/fedkit/fed.conf share/fedkit/inetd/inetd.conf \
	    share/fedkit/xinetd/fedgate \
	    lib/systemd/system/fedgate.socket lib/systemd/system/fedgate@.service \
	    lib/systemd/system/fedgate-listener.socket \
	    lib/systemd/system/fedgate-listener.service \
	    lib/systemd/system/fedkit-edges.service \
	    lib/systemd/system/fedkit-edges.timer \
	    lib/sysusers.d/fedkit.conf lib/tmpfiles.d/fedkit.conf \
	    share/bash-completion/completions/fedq \
	    share/bash-completion/completions/fedlist \
	    share/bash-completion/completions/fedstat \
	    share/bash-completion/completions/fedgate \
	    share/zsh/vendor-completions/_fedq share/zsh/vendor-completions/_fedlist \
	    share/zsh/vendor-completions/_fedstat share/zsh/vendor-completions/_fedgate; do
		[ -f "$r/$f" ]; ok $? "$name: $f is installed"
	done
	[ -f "$D/etc/logrotate.d/fedkit" ]
	ok $? "$name: /etc/logrotate.d/fedkit is installed (logrotate reads no other place)"
	[ ! -e "$r/share/fedkit/demo" ]
	ok $? "$name: the demo, which needs the source tree's t/helper/gensip, is not installed"
	expect "$name: the installed fedgate runs" "$r/sbin/fedgate" -V

	# What the deployment files run: the installed programs, no -u.
	sbin=$prefix/sbin/fedgate
	n=$(grep -lx "ExecStart=$sbin -c /etc/fedkit/fed.conf" \
	    "$D$units/fedgate@.service" "$D$units/fedgate-listener.service" | wc -l)
	[ "$n" -eq 2 ]; ok $? "$name: both fedgate units run $sbin with fed.conf, no -u ($n)"
	grep -qx "ExecStart=$prefix/bin/fedq -w /var/lib/fedkit/edges -" \
	    "$D$units/fedkit-edges.service" &&
	    grep -qx 'StandardInput=file:/etc/fedkit/partners' "$D$units/fedkit-edges.service" &&
	    grep -qx 'ConditionFileNotEmpty=/etc/fedkit/partners' "$D$units/fedkit-edges.service"
	ok $? "$name: fedkit-edges.service runs $prefix/bin/fedq -w on /etc/fedkit/partners"
	n=$(grep -c "^sip.*	$sbin	fedgate -c /etc/fedkit/fed.conf\$" "$r/share/fedkit/inetd/inetd.conf")
	[ "$n" -eq 2 ]; ok $? "$name: inetd.conf's two lines run $sbin ($n)"
	grep -Eqx "[[:space:]]*server[[:space:]]*= $sbin" "$r/share/fedkit/xinetd/fedgate"
	ok $? "$name: xinetd/fedgate runs $sbin"
	grep -q "^exec tcpserver .* $sbin -c /etc/fedkit/fed.conf\$" "$r/share/fedkit/tcpserver/run"
	ok $? "$name: tcpserver/run runs $sbin"
	! grep -rEn '@(BINDIR|SBINDIR|SHAREDIR)@' "$D" --exclude-dir=bin \
	    --exclude-dir=sbin >"$T/left"
	ok $? "$name: no @BINDIR@, @SBINDIR@, @SHAREDIR@ is left in an installed file"
	[ -s "$T/left" ] && diag "$(head -5 "$T/left")"

	# Every absolute path any installed text names (the programs apart):
	# under the prefix, or /etc, /var, /run, or /bin/sh and /dev/null.
	find "$D" -type f ! -path "$r/bin/*" ! -path "$r/sbin/*" | sort |
	while read -r f; do
		grep -oE '(^|[^A-Za-z0-9_.~$@-])/(usr|opt|bin|sbin|lib|lib64|home|srv|root|tmp|nonexistent|etc|var|run|dev|proc|sys)(/[A-Za-z0-9_.@+-]*)*' "$f" |
		    sed 's|^[^/]||' | sort -u |
		    grep -v -e "^$prefix/" -e '^/etc/' -e '^/var/' -e '^/run/' \
		        -e '^/bin/sh$' -e '^/dev/null$' | sed "s|^|${f#"$D"}: |"
	done >"$T/outside"
	[ ! -s "$T/outside" ]; ok $? "$name: no installed file names a path outside $prefix, /etc, /var, /run"
	[ -s "$T/outside" ] && diag "$(head -20 "$T/outside")"

	# The units verify as systemd would load them from this root (its
	# own units copied in for the targets they name); verify checks that
	# each ExecStart program exists in the root.  It only warns about a
	# setting it cannot parse, so its output must be empty too.
	# Under a prefix where systemd does not look (not /usr, /usr/local),
	# the operator copies them to /etc/systemd/system (fedkit(7)
	# DEPLOYMENT).
	sr=$T/$name.root
	cp -a "$D" "$sr" && mkdir -p "$sr/lib/systemd" &&
	    cp -a "$HOSTUNITS" "$sr/lib/systemd/system"
	at=$units
	case $prefix in
	/usr|/usr/local) ;;
	*) at=/etc/systemd/system
	   mkdir -p "$sr$at" && cp -p "$D$units"/* "$sr$at/" ;;
	esac
	expect "$name: systemd-analyze verify accepts the six installed units in $at" \
	    env SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --root="$sr" \
	    "$at/fedgate.socket" "$at/fedgate@.service" \
	    "$at/fedgate-listener.socket" "$at/fedgate-listener.service" \
	    "$at/fedkit-edges.timer" "$at/fedkit-edges.service"
	[ ! -s "$T/err" ]; ok $? "$name: ... with no complaint about any setting"
	[ -s "$T/err" ] && diag "$(cat "$T/err")"

	# sysusers.d and tmpfiles.d applied to that root: the user, then its
	# directories, its own and closed to others.
	expect "$name: systemd-sysusers makes the user from the installed entry" \
	    systemd-sysusers --root="$sr" "$sr$prefix/lib/sysusers.d/fedkit.conf"
	pw=$(grep '^fedkit:' "$sr/etc/passwd")
	case $pw in fedkit:x:*:*:*:/var/lib/fedkit:*nologin) rc=0 ;; *) rc=1 ;; esac
	ok $rc "$name: fedkit is a system user without login ($pw)"
	uid=$(echo "$pw" | cut -d: -f3) gid=$(echo "$pw" | cut -d: -f4)
	expect "$name: systemd-tmpfiles --create applies the installed entry" \
	    systemd-tmpfiles --create --root="$sr" "$sr$prefix/lib/tmpfiles.d/fedkit.conf"
	for d in var/lib/fedkit var/log/fedkit; do
		got=$(stat -c '%F %a %u %g' "$sr/$d" 2>/dev/null)
		[ "$got" = "directory 750 $uid $gid" ]
		ok $? "$name: /$d is fedkit's, mode 0750 ($got)"
	done

	# logrotate parses the entry (-d: a dry run, its state file here).
	expect "$name: logrotate -d accepts /etc/logrotate.d/fedkit" \
	    logrotate -d -s "$T/$name.lrstate" "$D/etc/logrotate.d/fedkit"
	! grep -qi 'error' "$T/err"; ok $? "$name: ... without an error"
	grep -qi 'error' "$T/err" && diag "$(grep -i error "$T/err")"

	# The installed command line of fedgate@.service, its program taken
	# from DESTDIR and its fed.conf from this test, under
	# systemd-socket-activate as fedgate.socket would start it.
	cmd=$(sed -n 's/^ExecStart=//p' "$D$units/fedgate@.service" |
	    sed "s|^$prefix/|$r/|; s| /etc/fedkit/fed.conf| $T/fed.conf|")
	# shellcheck disable=SC2086 # the unit's command line, split as systemd would
	spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" $cmd 2>"$T/gate.err"
	act=$!
	partner "$name: fedgate@.service's command ($cmd)"
	stop "$act"
}

check_install usr /usr
check_install opt /opt/fedkit

# -- fedkit-edges.service's command fills the edge cache ----------------
# Its installed command line, its program from DESTDIR and its cache
# here, asking dnsmasq on 127.0.0.1 (-s) for partner.example, whose edge
# is 127.0.0.1, with the partner list on standard input as the unit's
# StandardInput= gives it; then the installed fedgate, with verify = srv,
# finds the partner verified.
PATH=$PATH:/usr/sbin	# dnsmasq's place, outside a plain user's PATH
need dnsmasq
{
	echo "local=/example/"
	echo "local-ttl=300"
	echo "srv-host=_sipfederationtls._tcp.partner.example,sip.partner.example,5061,0,0"
	echo "host-record=sip.partner.example,127.0.0.1"
} >"$T/dnsmasq.conf"
dnsmasq_start partner.example
DNS=$dns_port
[ -n "$DNS" ]; ok $? "dnsmasq serves partner.example on 127.0.0.1 (port ${DNS:-none})"
printf '# partners whose edges we keep\n\npartner.example\n' >"$T/partners"
units=$T/usr/usr/lib/systemd/system
# shellcheck disable=SC2046 # the unit's command line, split as systemd would
set -- $(sed -n 's/^ExecStart=//p' "$units/fedkit-edges.service" |
    sed "s|^/usr/|$T/usr/usr/|; s| /var/lib/fedkit/edges | $T/s/edges |")
prog=$1; shift
expect "fedkit-edges.service's command ($prog -s 127.0.0.1:$DNS $*) runs on the partner list" \
    "$prog" -s "127.0.0.1:$DNS" "$@" <"$T/partners"
grep_file "... and writes partner.example's edge into the cache" \
    '^partner\.example	sip\.partner\.example	5061	[^	]*	127\.0\.0\.1$' "$T/s/edges"
stop "$dns_pid"
echo "verify = srv" >>"$T/fed.conf"	# edge_cache is $T/s/edges already
cmd=$(sed -n 's/^ExecStart=//p' "$units/fedgate@.service" |
    sed "s|^/usr/|$T/usr/usr/|; s| /etc/fedkit/fed.conf| $T/fed.conf|")
# shellcheck disable=SC2086 # the unit's command line, split as systemd would
spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" $cmd 2>"$T/gate.err"
act=$!
partner "fedgate@.service's command, verify = srv" yes
stop "$act"

# -- the verdict log is rotated by rename --------------------------------
# The installed entry, pointed at a directory of fedkit's here.
L=$T/lr/log
mkdir -p "$L" && chown fedkit:fedkit "$L" && chmod 750 "$L"
sed "s|/var/log/fedkit/|$L/|" "$T/usr/etc/logrotate.d/fedkit" >"$T/lr/conf"
chmod 644 "$T/lr/conf"	# as installed: logrotate ignores a writable one
line='2026-12-07T01:00:00.000Z	-	partner.example	MESSAGE	bob@example.com	accept	discovered	-	c1'
rot() {	# rot: one line as fedgate writes it, then a forced rotation
	printf '%s\n' "$line" >>"$L/verdicts.log"
	chown fedkit:fedkit "$L/verdicts.log"
	logrotate -f -s "$T/lr/state" "$T/lr/conf" >"$T/lr/out" 2>&1
}
printf '%s\n' "$line" >"$L/verdicts.log"
ino=$(stat -c %i "$L/verdicts.log")
rot; ok $? "logrotate rotates the verdict log"
[ -s "$T/lr/out" ] && diag "$(cat "$T/lr/out")"
[ "$(stat -c %i "$L/verdicts.log.1" 2>/dev/null)" = "$ino" ]
ok $? "by rename: verdicts.log.1 is the very file fedgate had open (inode $ino)"
got=$(stat -c '%s %a %U %G' "$L/verdicts.log" 2>/dev/null)
[ "$got" = "0 640 fedkit fedkit" ]; ok $? "a new empty verdicts.log, fedkit's, mode 0640 ($got)"
rot; ok $? "a second rotation"
[ -f "$L/verdicts.log.2.gz" ] && cut -c1 "$L/verdicts.log.1" | grep -qx 2
ok $? "the older one is compressed, the newest rotated one stays text for fedstat --resume"

# -- the installed tcpserver run script: tcpserver as fedkit -------------
sed -e "s|-RHl0 0 5061|-RHl0 127.0.0.1 $GATE|" \
    -e "s|-c /etc/fedkit/fed.conf|-c $T/fed.conf|" \
    -e "s|/etc/fedkit/tcp.cdb|$T/none.cdb|" \
    "$T/usr/usr/share/fedkit/tcpserver/run" >"$T/run"
sed -i "s|/usr/sbin/fedgate|$T/usr/usr/sbin/fedgate|" "$T/run"
grep -q "tcpserver .* 127.0.0.1 $GATE $T/usr/usr/sbin/fedgate -c $T/fed.conf" "$T/run"
ok $? "the installed tcpserver run script was pointed at the test"
spawn sh "$T/run" >"$T/gate.err" 2>&1
server=$!
partner "tcpserver/run (verify = srv still)" yes
u=$(ps -o user= -p "$server")
[ "$u" = fedkit ]; ok $? "tcpserver, started as root, serves as fedkit ($u)"
stop_all
