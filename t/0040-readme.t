#!/bin/sh
# Every pipeline of the README runs as printed: each `  $ command` line
# of README is run, in order, in one shell, from a scratch copy of the
# tree's layout (bin/ and t/helper/ of $FEDKIT_BUILD), and where the
# README shows a command's output (the indented lines under it, up to a
# blank line or the next command) its stdout must be exactly that.  The
# README's /tmp paths become this test's own directory and its ports
# (dnsmasq's 5353, fedgate's 5061, the idle 5060) ports of this test, so
# two runs never collide; the README itself is not changed.
. "${0%/*}/lib.sh"
need dnsmasq systemd-socket-activate socat ss timeout

test_ports 3
DNS=$base GATE=$((base + 1)) DEAD=$((base + 2))
W=$T/w R=$T/r
mkdir -p "$W/t" "$R"
ln -s "$B/bin" "$W/bin" && ln -s "$B/t/helper" "$W/t/helper"
ok $? "a scratch tree: bin/ and t/helper/ of $B"

# Whatever the README started is stopped, even when a step failed: a
# process whose command line names this test's directory, and no other
# (a pid of a process that ended may since name another).
ours_kill() {
	tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$W" &&
	    kill "$1" 2>/dev/null
	return 0
}
stop_readme() {
	for p in $(cat "$R/bg" "$W"/*.pid 2>/dev/null); do ours_kill "$p"; done
	return 0
}
at_exit stop_readme

for p in "$DNS" "$GATE" "$DEAD"; do
	! ss -ltnuH "sport = :$p" | grep -q .
	ok $? "port $p is free"
done

# The commands and their shown output: $R/cmd.N, $R/exp.N.
subst() {
	sed -e "s|/tmp/|$W/|g" \
	    -e "s|--port=5353|--port=$DNS|g" \
	    -e "s|127\\.0\\.0\\.1:5353|127.0.0.1:$DNS|g" \
	    -e "s|127\\.0\\.0\\.1:5061|127.0.0.1:$GATE|g" \
	    -e "s|127\\.0\\.0\\.1:5060|127.0.0.1:$DEAD|g"
}
awk -v R="$R" '
	/^  \$ / { n++; out = 1; print substr($0, 5) > (R "/cmd." n)
		print NR > (R "/line." n); next }
	out && /^  [^ ]/ { print substr($0, 3) > (R "/exp." n); next }
	{ out = 0 }
	END { print n + 0 > (R "/count") }' "$TOP/README"
n=$(cat "$R/count")
[ "$n" -ge 10 ]; ok $? "README has its pipelines ($n commands)"
i=1
while [ "$i" -le "$n" ]; do
	subst <"$R/cmd.$i" >"$R/c.$i" && mv "$R/c.$i" "$R/cmd.$i"
	[ -f "$R/exp.$i" ] && subst <"$R/exp.$i" >"$R/e.$i" &&
	    mv "$R/e.$i" "$R/exp.$i"
	i=$((i + 1))
done
# None is left with a path or port of the README's own (the SRV data's
# 5061s are data, not ports of this machine).
sed "s|$W||g" "$R"/cmd.* | grep -e '/tmp/' -e '127\.0\.0\.1:50[56][01]' \
    -e '127\.0\.0\.1:5353' -e 'port=5353' >"$T/left"
[ ! -s "$T/left" ]; ok $? "every /tmp path and port of the README is the test's"
[ -s "$T/left" ] && diag "$(cat "$T/left")"

# One shell runs them all: each command's stdout, stderr and exit status
# in $R; the pids of what they put in the background, or of daemons that
# left a pid file, in $R/bg.
{
	echo 'cd "$1" || exit 3'
	i=1
	while [ "$i" -le "$n" ]; do
		echo "{ $(cat "$R/cmd.$i")"
		echo "} >\"\$2/out.$i\" 2>\"\$2/err.$i\"; echo \$? >\"\$2/rc.$i\""
		if grep -Eq '(^|[^&>])&([^&>]|$)' "$R/cmd.$i"; then
			echo "echo \$! >>\"\$2/bg\""
		fi
		# A daemon's pid file (dnsmasq's) may go with the daemon.
		echo "cat ./*.pid >>\"\$2/bg\" 2>/dev/null || :"
		i=$((i + 1))
	done
} >"$R/run.sh"
timeout 120 sh "$R/run.sh" "$W" "$R" >"$T/run.out" 2>&1
rc=$?
[ "$rc" -eq 0 ]; ok $? "the README's commands ran to the end in one shell (exit $rc)"
[ "$rc" -eq 0 ] || diag "$(cat "$T/run.out")"

# What the README starts it stops itself: dnsmasq by its pid file, the
# socket activator by `kill $!`.
gone() { ! { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$W"; }; }
started=$(sort -u "$R/bg" 2>/dev/null)
[ -n "$started" ]; ok $? "the README started servers of its own"
for p in $started; do
	wait_for 5 gone "$p"
	ok $? "... and its own kill stopped pid $p"
done

# Exit 1 is an answer (fedkit(7) EXIT STATUS: a policy or lookup "no",
# as `fedlist check` of a refused partner gives); 2 and up are errors.
i=1
while [ "$i" -le "$n" ]; do
	# The description is one line, without the backslashes TAP's echo
	# would take for escapes.
	c=$(head -1 "$R/cmd.$i" | tr -d '\\' | cut -c1-72)
	rc=$(cat "$R/rc.$i" 2>/dev/null || echo none)
	{ [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && [ ! -s "$R/err.$i" ]
	ok $? "README line $(cat "$R/line.$i") runs with no diagnostic: $c"
	if [ "$rc" != 0 ] && [ "$rc" != 1 ] || [ -s "$R/err.$i" ]; then
		diag "exit $rc"
		[ -f "$R/err.$i" ] && diag "$(head -5 "$R/err.$i")"
	fi
	if [ -f "$R/exp.$i" ]; then
		cmp_file "... its output is as printed" "$R/exp.$i" "$R/out.$i"
	fi
	i=$((i + 1))
done

# The layout names the one file that owns each concern: every library
# file is there, and every file named there exists.
for f in "$TOP"/lib/*.c "$TOP"/lib/*.lua; do
	f=${f##*/}
	grep -q "^ *$f  *[^ ]" "$TOP/README"
	ok $? "README's layout says what lib/$f is for"
done
sed -n '/^  lib\//,/^  [a-z]*\//p' "$TOP/README" |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[a-z]+\.(c|lua)$/) print $i }' |
    while read -r f; do [ -f "$TOP/lib/$f" ] || echo "$f"; done >"$T/gone"
[ ! -s "$T/gone" ]; ok $? "every lib/ file the layout names exists"
if [ -s "$T/gone" ]; then diag "$(cat "$T/gone")"; fi
