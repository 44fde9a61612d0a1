#!/bin/sh
# Least privilege (fedkit(7) SECURITY): started as root in socket mode,
# fedgate becomes `user =` once its files are open and confines its system
# calls with seccomp; a forbidden call kills it.  lib/sandbox.c directly
# (sandboxw), then fedgate on a loopback connection (sockrun) with an
# LD_PRELOAD shim standing in for code a partner smuggled in: it runs in
# fedgate's connect(2) to the upstream, after the switch.
. "${0%/*}/lib.sh"
need setpriv socat ss

if [ "$(id -u)" -ne 0 ]; then
	ok 1 "this test switches users: it needs root (CI runs as root)"
	exit 1
fi
SHIM=$B/t/helper/preload_shim.so
[ -f "$SHIM" ]; ok $? "the LD_PRELOAD shim is built ($SHIM)"
NUID=$(id -u nobody) NGID=$(id -g nobody)
# A sanitizer build's runtime must come first; the shim is plain C.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS

# Everything fedgate keeps, in a directory nobody owns, as /var/lib/fedkit
# is fedkit's on an edge; $T itself is root's (lib.sh lets others in).
D=$T/gate
mkdir -p "$D/state" && chown -R nobody "$D" && chmod 755 "$D"
ok $? "a state directory of nobody's"

# ---- lib/sandbox.c on its own --------------------------------------
cd "$D" || exit 1
expect "sandbox_drop_user to nobody, then sandbox_confine" sandboxw nobody none
grep_file "... runs as nobody's uid and gid" "^drop: 1 uid=$NUID gid=$NGID\$" "$T/out"
grep_file "... and is confined" "^confine: ok" "$T/out"
expect "a confined process still writes a file the afile way" sandboxw nobody file
grep_file "... (open, write, fsync, rename, unlink)" "^file: ok" "$T/out"
expect_exit 159 "a confined raw netlink socket (sock_diag) dies by SIGSYS" \
    sandboxw nobody netlink
expect "... the same call without the filter succeeds" sandboxw -n nobody netlink
grep_file "... (netlink: ok)" "^netlink: ok" "$T/out"
expect_exit 159 "a confined AF_PACKET socket dies by SIGSYS" sandboxw nobody packet
expect_exit 159 "a confined execve dies by SIGSYS" sandboxw nobody execve
expect_exit 3 "without the filter, root cannot be had back after the switch" \
    sandboxw -n nobody setuid
grep_file "... (setuid(0) fails)" "^setuid: Operation not permitted" "$T/out"
expect_exit 3 "a user that does not exist: refused" sandboxw fedkit-no-such-user none
grep_file "... saying so" "user fedkit-no-such-user: no such user" "$T/out"
expect_exit 3 "user root: refused" sandboxw root none
grep_file "... saying why" "user root: its uid is root's" "$T/out"
expect "not root: nothing changes (no such user is no error)" \
    setpriv --reuid "$NUID" --regid "$NGID" --clear-groups \
    sandboxw fedkit-no-such-user none
grep_file "... drop returns 0 and keeps the ids" "^drop: 0 uid=$NUID " "$T/out"
cd "$TOP" || exit 1

# ---- fedgate ---------------------------------------------------------
# Our server: socat takes whatever fedgate relays and answers nothing
# (the verdict log says what fedgate decided).  fedgate connects to it
# once it has switched users: that connect(2) is where the shim runs.
test_ports 1
UPS=$base
spawn socat -u "TCP-LISTEN:$UPS,bind=127.0.0.1,reuseaddr,fork" OPEN:/dev/null
wait_for 10 listening "$UPS"; ok $? "our server (socat) listens on 127.0.0.1:$UPS"
mkconf() {	# mkconf [KEY=VALUE...]: a fresh fed.conf, state and log in $D
	rm -rf "$D/state" "$D/log" "$D/shim" "$D/shim.ran" &&
	mkdir -p "$D/state" && chown nobody "$D/state" &&
	: >"$D/allow" && : >"$D/block" &&
	fedconf "$D/fed.conf" "$D" "tls = off" "upstream = 127.0.0.1:$UPS" "$@" &&
	chmod 644 "$D/fed.conf"
}
# gate CALL: one MESSAGE to fedgate on a loopback connection, the shim
# (in fedgate only, not in sockrun) making CALL; what the partner heard
# in $T/out, stderr in $T/err.
gate() {
	sipmsg -n 1 -f 'sip:alice@a.example' -r 'sip:u%d@example.com' |
	    sockrun -t 3 env LD_PRELOAD="$SHIM" FEDKIT_SHIM_CALL="$1" \
	    FEDKIT_SHIM_OUT="$D/shim" fedgate -c "$D/fed.conf" \
	    >"$T/out" 2>"$T/err"
}

mkconf "user = fedkit-no-such-user"
gate none; rc=$?
[ "$rc" -eq 3 ]; ok $? "socket mode as root, user does not exist: exit 3 ($rc)"
grep_file "... with fedgate: user ...: no such user" \
    "^fedgate: user fedkit-no-such-user: no such user" "$T/err"
[ ! -s "$T/out" ]; ok $? "... and the partner hears nothing"
[ ! -e "$D/shim" ]; ok $? "... and it never got to the connection (no upstream connect)"

mkconf "user = root"
gate none; rc=$?
[ "$rc" -eq 3 ]; ok $? "user = root: refused, exit 3 ($rc)"

mkconf "user = nobody"
gate none; rc=$?
[ "$rc" -eq 0 ]; ok $? "user = nobody: fedgate serves the connection ($rc)"
[ ! -s "$T/err" ] || ! grep -v '^sockrun:' "$T/err" | grep -q .; ok $? "... without a word on stderr"
grep_file "... relaying the request" "	accept	discovered	-	" "$D/log"
grep_file "... as nobody: real, effective, saved uid" \
    "^Uid:	$NUID	$NUID	$NUID	$NUID\$" "$D/shim"
grep_file "... and gid" "^Gid:	$NGID	$NGID	$NGID	$NGID\$" "$D/shim"
ng=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
gl=$(sed -n 's/^Groups:[	 ]*//p' "$D/shim" | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$gl" = "$ng" ]; ok $? "... with nobody's groups, root's dropped ($gl)"
grep_file "... no_new_privs set" "^NoNewPrivs:	1" "$D/shim"
grep_file "... and a seccomp filter in force" "^Seccomp:	2" "$D/shim"

mkconf "user = nobody"
gate netlink; rc=$?
[ "$rc" -eq 159 ]; ok $? "a forbidden call (netlink sock_diag socket) kills fedgate by SIGSYS ($rc)"
grep_file "... the shim made the call" "^calling netlink" "$D/shim"
! grep -q "^netlink: ok" "$D/shim"; ok $? "... which never returned"

mkconf "user = nobody" "seccomp = off"
gate netlink; rc=$?
[ "$rc" -eq 0 ]; ok $? "seccomp = off: the same call does not kill fedgate ($rc)"
grep_file "... which goes on relaying" "	accept	discovered	-	" "$D/log"
grep_file "... it succeeds" "^netlink: ok" "$D/shim"
grep_file "... no filter in force" "^Seccomp:	0" "$D/shim"
grep_file "... still as nobody" "^Uid:	$NUID	$NUID	$NUID	$NUID\$" "$D/shim"
grep_file "... and the request is relayed" "	accept	discovered	-	" "$D/log"

mkconf "user = nobody"
gate execve; rc=$?
[ "$rc" -eq 159 ]; ok $? "running a program from fedgate: SIGSYS ($rc)"
[ ! -e "$D/shim.ran" ]; ok $? "... the program never ran"
mkconf "user = nobody" "seccomp = off"
gate execve; rc=$?
[ -e "$D/shim.ran" ]; ok $? "seccomp = off: the same execve runs it (status $rc)"

# Not root (inetd's line runs fedgate as fedkit): no switch, no error,
# still confined.
mkconf "user = fedkit-no-such-user"
sipmsg -n 1 -f 'sip:alice@a.example' -r 'sip:u%d@example.com' |
    setpriv --reuid "$NUID" --regid "$NGID" --clear-groups \
    sockrun -t 3 env LD_PRELOAD="$SHIM" FEDKIT_SHIM_CALL=none \
    FEDKIT_SHIM_OUT="$D/shim" fedgate -c "$D/fed.conf" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ]; ok $? "not root: fedgate runs as it was started, user = unused ($rc)"
grep_file "... relaying the request" "	accept	discovered	-	" "$D/log"
grep_file "... confined all the same" "^Seccomp:	2" "$D/shim"

# ---- what a dropped fedgate re-reads and writes ----------------------
# One connection: a request; a block list edit; fed.conf's max_uris is
# lowered (a reload) and a harvest crosses it (the watch list, written
# by nobody); then federation = off in fed.conf.  Each edit is given
# more than the one second fedgate takes to see it.
mkconf "user = nobody"
msg() { sipmsg -n 1 -s "$1" -f "sip:alice@$2" -r "sip:$3@example.com"; }
{
	msg 1 b.example u1
	sleep 1.5
	fedlist -c "$D/fed.conf" block add b.example >/dev/null 2>&1
	printf 'max_uris = 2\n' >>"$D/fed.conf"
	sleep 1.5
	msg 2 b.example u2
	msg 3 c.example u3
	msg 4 c.example u4
	msg 5 c.example u5
	sleep 0.5
	printf 'federation = off\n' >>"$D/fed.conf"
	sleep 1.5
	msg 6 d.example u6
	sleep 0.5
} | sockrun -t 3 env LD_PRELOAD="$SHIM" FEDKIT_SHIM_CALL=none \
    FEDKIT_SHIM_OUT="$D/shim" fedgate -c "$D/fed.conf" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ]; ok $? "a long connection through the edits ends well ($rc)"
grep_file "... served as nobody" "^Uid:	$NUID	" "$D/shim"
verdicts=$(awk -F '\t' '{ printf "%s %s %s;", $3, $6, $7 }' "$D/log")
want="b.example accept discovered;b.example refuse blocked;c.example accept discovered;c.example accept discovered;c.example refuse watch;d.example refuse federation_off;"
[ "$verdicts" = "$want" ]; ok $? "the block list, fed.conf (twice) and the watch took effect as nobody"
[ "$verdicts" = "$want" ] || diag "got:  $verdicts" "want: $want" "$(cat "$T/err")"
grep_file "the watch list was written" "^c\.example	" "$D/state/watch"
[ "$(stat -c %U "$D/state/watch")" = nobody ]; ok $? "... by nobody, who owns it"

# ---- a secret file named as a list or as fed.conf --------------------
# Diagnostics quote at most a short, escaped prefix of a bad line: of a
# line of /etc/shadow, the user name, never a byte of the hash.
awk 'BEGIN {
	srand(42); a = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	split("root daemon alice bob", u, " ")
	for (i = 1; i <= 4; i++) {
		s = ""; h = ""
		for (j = 0; j < 16; j++) s = s substr(a, int(rand() * 64) + 1, 1)
		for (j = 0; j < 86; j++) h = h substr(a, int(rand() * 64) + 1, 1)
		printf "%s:$6$%s$%s:19000:0:99999:7:::\n", u[i], s, h
	}
}' >"$T/shadow"
chmod 600 "$T/shadow"
cut -d: -f2 "$T/shadow" | sed 's/^\$6\$//; s/\$/\n/' | sed '/^$/d' >"$T/secrets"
# leaks FILE: how many 6-byte pieces of a salt or hash FILE holds.
leaks() {
	n=0
	while read -r s; do
		i=1
		while [ "$i" -le $((${#s} - 5)) ]; do
			p=$(printf '%s' "$s" | cut -c "$i-$((i + 5))")
			grep -qF -e "$p" "$1" && n=$((n + 1))
			i=$((i + 6))
		done
	done <"$T/secrets"
	echo "$n"
}
n=$(leaks "$T/shadow"); [ "$n" -eq 64 ]; ok $? "the leak check finds the pieces in the file itself ($n)"
mkconf "user = nobody"
sed -i "s|^block_list = .*|block_list = $T/shadow|" "$D/fed.conf"
fedlist -c "$D/fed.conf" block ls >"$T/out" 2>"$T/err"
grep_file "fedlist on a list that is /etc/shadow: names the line" \
    "shadow:1: \"root:\.\.\.\": invalid character \":\"" "$T/err"
n=$(leaks "$T/err"); [ "$n" -eq 0 ]; ok $? "... and quotes no piece of a salt or hash ($n)"
sipmsg -n 1 | fedgate -c "$D/fed.conf" -n >/dev/null 2>"$T/err"
grep_file "fedgate (pipe mode) on it: names the line" "shadow:1: \"root:\.\.\.\"" "$T/err"
n=$(leaks "$T/err"); [ "$n" -eq 0 ]; ok $? "... and quotes no piece of a salt or hash ($n)"
sed -i "s|^block_list = .*|block_list = $D/block|" "$D/fed.conf"
printf 'watch_list = %s\n' "$T/shadow" >>"$D/fed.conf"
fedlist -c "$D/fed.conf" watch ls >"$T/out" 2>"$T/err"
grep_file "fedlist watch ls on a watch list that is /etc/shadow: names the line" \
    "shadow:1: " "$T/err"
n=$(leaks "$T/err"); [ "$n" -eq 0 ]; ok $? "... and quotes no piece of a salt or hash ($n)"
expect_exit 2 "fedgate -c /etc/shadow: refused" fedgate -c "$T/shadow"
grep_file "... naming the line" "shadow:1: expected \"key = value\", got \"root:\.\.\.\"" "$T/err"
n=$(leaks "$T/err"); [ "$n" -eq 0 ]; ok $? "... and quoting no piece of a salt or hash ($n)"

# -- links planted where a root tool would follow them ----------------------
mkconf
ln -s "$T/victim-store" "$D/state/counters.mdb"
sipmsg -n 1 | fedgate -c "$D/fed.conf" >/dev/null 2>"$T/err"
[ $? -eq 3 ] && [ ! -e "$T/victim-store" ]
ok $? "a planted counters.mdb link: fedgate refuses the store, nothing made through it"
grep_file "... and says why" "counters.mdb: a symbolic link" "$T/err"
fedlist -c "$D/fed.conf" watch ls >/dev/null 2>"$T/err"
[ ! -e "$T/victim-store" ]; ok $? "fedlist watch ls does not follow it either"
mkconf
ln -s "$T/victim-log" "$D/log"
sipmsg -n 1 | fedgate -c "$D/fed.conf" >/dev/null 2>"$T/err"
[ $? -gt 2 ] && [ ! -e "$T/victim-log" ]
ok $? "a planted verdict log link: fedgate appends nothing through it"
