#!/bin/sh
# The one write path: concurrent read-modify-write loses no update, and
# kill -9 at any moment leaves the old or the new file, whole.
. "${0%/*}/lib.sh"

f=$T/counter
expect_exit 1 "reading a missing file fails" afilew --check "$T/missing"
grep_file "... naming the file and the reason" "missing: No such file" "$T/err"

# Four writers, 100 increments each, at once: the lock serializes them.
pids=
for i in 1 2 3 4; do afilew "$f" 100 50 & pids="$pids $!"; done
rc=0
for p in $pids; do wait "$p" || rc=1; done
ok $rc "four concurrent writers all succeeded"
expect "the file is whole" afilew --check "$f"
grep_file "no update was lost: 400 increments" '^400$' "$T/out"
n=$(ls "$T" | grep -c 'tmp\.')
[ "$n" -eq 0 ]; ok $? "no temporary file is left behind ($n)"

# kill -9 a writer of a large file 20 times at varying moments: from 1
# to 9 times a step of 10 ms, or of half what one rewrite takes here if
# that is longer (a sanitizer build on a busy machine: some 0.5 s).
big=$T/big
t0=$(date +%s%N)
afilew "$big" 1 20000 >/dev/null
step=$(( ($(date +%s%N) - t0) / 2000000 ))
[ "$step" -ge 10 ] || step=10
[ "$step" -le 300 ] || step=300
prev=1 torn=0 back=0
i=0
while [ "$i" -lt 20 ]; do
	afilew "$big" 1000000 20000 &
	pid=$!
	ms=$(( ((i * 37) % 9 + 1) * step ))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if c=$(afilew --check "$big" 2>/dev/null); then
		[ "$c" -ge "$prev" ] || back=$((back + 1))
		prev=$c
	else
		torn=$((torn + 1))
	fi
	i=$((i + 1))
done
[ "$torn" -eq 0 ]; ok $? "after 20 kill -9: never a torn file ($torn torn)"
[ "$back" -eq 0 ]; ok $? "the counter never went back ($back times)"
[ "$prev" -gt 1 ]; ok $? "the writers made progress between kills (counter $prev)"
expect "a writer after the kills still works" afilew "$big" 1 20000
n=$(ls "$T" | grep -c 'big\.tmp\.')
[ "$n" -eq 0 ]; ok $? "the next writer removed the killed writers' temporary files ($n left)"

# A planted PATH.lock symbolic link is never followed (fedkit(7)): not
# to create its target, not to lock it.  fedlist, the way an operator
# runs it.
ld=$T/lists
mkdir -p "$ld"
printf 'local_domains = example.com\nallow_list = %s/allow\nblock_list = %s/block\nstate_dir = %s/state\n' \
    "$ld" "$ld" "$ld" >"$T/lock.conf"
ln -s "$T/victim" "$ld/block.lock"
expect_exit 3 "fedlist refuses a symlinked block.lock" \
    fedlist -c "$T/lock.conf" block add x.com
[ ! -e "$T/victim" ]; ok $? "the link's target was not created"
grep_file "... and the error names the lock" "block\.lock: a symbolic link" "$T/err"
[ ! -e "$ld/block" ]; ok $? "... and the list was not written"
: >"$T/victim2"
ln -sf "$T/victim2" "$ld/block.lock"
expect_exit 3 "a link to an existing file is refused too" \
    fedlist -c "$T/lock.conf" block add x.com
[ ! -s "$T/victim2" ]; ok $? "... and that file is left as it was"
rm -f "$ld/block.lock"
expect "with the link gone the same edit works" \
    fedlist -c "$T/lock.conf" block add x.com
grep_file "... and lands in the list" '^x\.com$' "$ld/block"
[ ! -L "$ld/block.lock" ] && [ -f "$ld/block.lock" ]; ok $? "... under a plain lock file of its own"
