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

# kill -9 a writer of a large file 20 times at varying moments.
big=$T/big
afilew "$big" 1 20000 >/dev/null
prev=1 torn=0 back=0
i=0
while [ "$i" -lt 20 ]; do
	afilew "$big" 1000000 20000 &
	pid=$!
	sleep "0.0$(( (i * 37) % 9 + 1 ))"
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
