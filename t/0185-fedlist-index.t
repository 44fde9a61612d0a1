#!/bin/sh
# fedlist index compiles the lists as tcprules compiles its rules
# (fedkit(7) List index): fedgate answers from the compiled form only, says once
# when the text is newer, broken or not compiled (file:line and the command
# to run), and never stops for a list, in pipe mode and in socket mode.
. "${0%/*}/lib.sh"
need systemd-socket-activate socat ss

D=$T/d
fedconf "$T/fed.conf" "$D" "tls = off"
mkdir -p "$D/state"
C="-c $T/fed.conf"
fl() { fedlist $C "$@"; }

# verdicts DOMAIN...: one MESSAGE from each through a pipe-mode fedgate;
# its verdict and reason per line in $T/v, its stderr in $T/err.
verdicts() {
	: >"$T/in"
	for _d in "$@"; do
		sipmsg -n 1 -f "sip:a@$_d" -r sip:bob@example.com >>"$T/in"
	done
	: >"$D/log"
	fedgate -n $C <"$T/in" >/dev/null 2>"$T/err"
	_rc=$?
	cut -f 3,6,7 "$D/log" >"$T/v"
	return $_rc
}
# warnings PATTERN: how many lines of $T/err match
warnings() { grep -c -e "$1" "$T/err"; }

# -- a list written by a script, never compiled -------------------------
printf 'evil.example\n.spam.example\n' >"$D/block"
verdicts evil.example evil.example x.spam.example good.example
ok $? "fedgate on an uncompiled block list: exit 0"
printf 'evil.example\trefuse\tblocked\nevil.example\trefuse\tblocked\nx.spam.example\trefuse\tblocked\ngood.example\taccept\tdiscovered\n' >"$T/want"
cmp_file "... decides from the text" "$T/want" "$T/v"
n=$(warnings "$D/block.idx: no index")
[ "$n" -eq 1 ]; ok $? "... and says once that there is no index ($n)"
grep_file "... naming the command to run" 'run `fedlist index`' "$T/err"

expect "fedlist index" fl index
[ -f "$D/block.idx" ]; ok $? "... writes block.idx"
[ ! -e "$D/allow.idx" ]; ok $? "... and no index for a list that does not exist"
verdicts evil.example x.spam.example good.example
ok $? "fedgate on the compiled list: exit 0"
[ ! -s "$T/err" ]; ok $? "... says nothing"
[ "$(cut -f 3 "$T/v" | tr '\n' ' ')" = "blocked blocked discovered " ]
ok $? "... and decides the same ($(cut -f 3 "$T/v" | tr '\n' ' '))"

# -- a bad hand edit ------------------------------------------------------
cp "$D/block.idx" "$T/good.idx"
printf 'new.example\nbad_line.example\n' >>"$D/block"
verdicts evil.example new.example evil.example
ok $? "a bad line by hand: fedgate still exits 0"
[ "$(cut -f 3 "$T/v" | tr '\n' ' ')" = "blocked discovered blocked " ]
ok $? "... answering from the last index, the edit not compiled ($(cut -f 3 "$T/v" | tr '\n' ' '))"
n=$(warnings "$D/block:4: ")
[ "$n" -eq 1 ]; ok $? "... warning once with file:line ($n)"
grep_file "... the problem, the index used and the command" \
    "block:4: \"bad_\.\.\.\": invalid character \"_\".*using the last index $D/block.idx.*run \`fedlist index\`" "$T/err"

expect_exit 2 "fedlist index refuses the bad line (exit 2)" fl index
grep_file "... naming file and line" "^fedlist: $D/block:4: \"bad_\.\.\.\": invalid character" "$T/err"
grep_file "... and the index kept" "not compiled; fedgate keeps using $D/block.idx" "$T/err"
cmp_file "... which is unchanged" "$T/good.idx" "$D/block.idx"
printf 'x_y.example\nok.example\na.example rate=0\n' >"$D/allow"
expect_exit 2 "index allow: two bad lines" fl index allow
grep_file "... the first named, the other counted" "allow:1: .*(and 1 more bad line)" "$T/err"
: >"$D/allow"

# fedlist check runs fedgate's code: the same decision, the same warning.
expect_exit 1 "fedlist check of a blocked partner: refused (exit 1)" fl check evil.example
grep_file "... blocked" "^evil.example	refuse	blocked	" "$T/out"
grep_file "... with fedgate's warning" "block:4: .*run \`fedlist index\`" "$T/err"

# -- socket mode (inetd style): every connection still served -----------
test_ports 2
GATE=$base UP=$((base + 1))
# Our server: it takes connections and reads (nothing reaches it here).
spawn socat -u "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr,fork" GOPEN:/dev/null
wait_for 10 listening "$UP"
spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" $C -u "127.0.0.1:$UP" 2>"$T/gate.err"
wait_for 10 listening "$GATE"; ok $? "socket-mode fedgate listening"
: >"$D/log"
for i in 1 2 3; do
	sipmsg -n 1 -f sip:a@evil.example -r sip:bob@example.com -c "s$i" >"$T/sin"
	{ cat "$T/sin"; sleep 0.5; } |
	    timeout 10 socat -t 2 - "TCP:127.0.0.1:$GATE" >"$T/got$i" 2>/dev/null
done
n=$(grep -l '^SIP/2.0 403 ' "$T/got1" "$T/got2" "$T/got3" | wc -l)
[ "$n" -eq 3 ]; ok $? "three connections, each answered 403 ($n)"
n=$(awk -F '\t' '$6 == "refuse" && $7 == "blocked"' "$D/log" | wc -l)
[ "$n" -eq 3 ]; ok $? "... logged refuse blocked ($n)"
wait_for 5 sh -c "[ \$(grep -c 'block:4: ' '$T/gate.err') -ge 3 ]"
n=$(grep -c "block:4: " "$T/gate.err")
[ "$n" -eq 3 ]; ok $? "... one warning per process, with file:line ($n)"
wait_for 5 sh -c "[ \$(grep -c 'Child [0-9]* died' '$T/gate.err') -ge 3 ]"
n=$(grep -c 'Child [0-9]* died with code 0' "$T/gate.err")
[ "$n" -eq 3 ]; ok $? "... and each fedgate exited 0 ($n)"
[ "$n" -eq 3 ] || diag "$(grep -v '^fedgate: .*block:4' "$T/gate.err" | tail -5)"
stop_all

# -- fixed: compiled, silent, the new entry in force ---------------------
sed -i '/^bad_line/d' "$D/block"
expect "fixed: fedlist index" fl index block
verdicts new.example evil.example
[ ! -s "$T/err" ]; ok $? "fedgate says nothing"
[ "$(cut -f 3 "$T/v" | tr '\n' ' ')" = "blocked blocked " ]
ok $? "... and the new entry blocks ($(cut -f 3 "$T/v" | tr '\n' ' '))"

# -- an edit while fedgate runs: told once --------------------------------
{ sipmsg -n 1 -f sip:a@evil.example -r sip:bob@example.com; sleep 1.2
  printf 'late_bad.example\n' >>"$D/block"; sleep 2.2
  sipmsg -n 1 -s 2 -f sip:a@evil.example -r sip:bob@example.com; } |
    fedgate -n $C >/dev/null 2>"$T/err"
ok $? "a running fedgate across a bad edit: exit 0"
n=$(warnings "block:4: ")
[ "$n" -eq 1 ]; ok $? "... warns once ($n)"
sed -i '/^late_bad/d' "$D/block"
fl index block

# -- no index and a bad line: fail-safe ------------------------------------
rm -f "$D/block.idx"
printf 'oops..example\n' >>"$D/block"
verdicts evil.example new.example good.example
ok $? "no index, a bad line: exit 0"
[ "$(cut -f 3 "$T/v" | tr '\n' ' ')" = "blocked blocked discovered " ]
ok $? "... every good line still blocks ($(cut -f 3 "$T/v" | tr '\n' ' '))"
grep_file "... said, with file:line" "block:4: .*no index to fall back on.*run \`fedlist index\`" "$T/err"
sed -i '/^oops/d' "$D/block"

# -- the watch list: a check, a bad line lifts no watch -------------------
printf 'watched.example\t2026-11-21T22:40:33.123Z\tmax_uris\n' >"$D/state/watch"
expect "index watch: a good watch list" fl index watch
printf 'other.example\tyesterday\toperator\n' >>"$D/state/watch"
expect_exit 2 "index watch: a bad line (exit 2)" fl index watch
grep_file "... named" "watch:2: bad time" "$T/err"
verdicts watched.example
[ "$(cut -f 2,3 "$T/v")" = "$(printf 'refuse\twatch')" ]
ok $? "... and the good lines still watch"

# A watch fedgate started, its line broken by hand: still in force once
# the store's own 5-second mark is over (state.h), as no bad file vouches
# for a watch's end.
cp "$T/fed.conf" "$T/w.conf" && echo "max_uris = 3" >>"$T/w.conf"
: >"$D/state/watch"
sipmsg -n 5 -f sip:h@harvest.example -r 'sip:u%d@example.com' >"$T/in" &&
fedgate -c "$T/w.conf" <"$T/in" >/dev/null 2>"$T/err" &&
grep -q '^harvest\.example	' "$D/state/watch"; ok $? "a harvester is watched"
sed -i 's/^\(harvest\.example\)	[^	]*/\1	not-a-time/' "$D/state/watch"
sleep 5.5
sipmsg -n 1 -s 50 -f sip:h@harvest.example -r 'sip:u%d@example.com' >"$T/in"
: >"$D/log"
fedgate -c "$T/w.conf" <"$T/in" >/dev/null 2>"$T/err"
ok $? "its line broken by hand: fedgate exits 0"
[ "$(cut -f 6,7 "$D/log")" = "$(printf 'refuse\twatch')" ]
ok $? "... and the watch stays in force ($(cut -f 6,7 "$D/log"))"
grep_file "... the bad line named" "watch:1: bad time" "$T/err"

expect_exit 2 "index of an unknown list: usage (exit 2)" fl index nosuch
expect_exit 2 "index with two arguments" fl index allow block

# -- the command is documented where an operator looks -------------------
given fedlist -h
grep_file "fedlist -h names index" "^  index \[allow|block|watch|all\]" "$T/given.out"
printf 'help\n' >"$T/in"
given fl <"$T/in"
grep_file "help at the prompt names index" "^index \[allow|block|watch|all\]" "$T/given.out"
need bash
out=$(bash -c ". '$TOP/completions/bash/fedlist'; COMP_WORDS=(fedlist ind); COMP_CWORD=1; _fedlist; printf '%s\n' \"\${COMPREPLY[@]}\"")
[ "$out" = index ]; ok $? "bash completes fedlist ind to index ($out)"
out=$(bash -c ". '$TOP/completions/bash/fedlist'; COMP_WORDS=(fedlist index bl); COMP_CWORD=2; _fedlist; printf '%s\n' \"\${COMPREPLY[@]}\"")
[ "$out" = block ]; ok $? "... and index bl to block ($out)"
grep -q 'index)' "$TOP/completions/zsh/_fedlist"; ok $? "zsh completes index's lists"
