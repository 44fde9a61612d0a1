#!/bin/sh
# fedlist under contention: two editors at once lose nothing and never
# deadlock; kill -9 in the middle of a large rewrite leaves the old list
# or the new one, whole.
. "${0%/*}/lib.sh"

D=$T/d
fedconf "$T/fed.conf" "$D"
C="-c $T/fed.conf"

# cmds LIST PREFIX: 1,000 one-line add commands, each its own rewrite.
cmds() {
	awk -v l="$1" -v p="$2" 'BEGIN { for (i = 0; i < 1000; i++)
	    printf "%s add %s%d.example\n", l, p, i }'
}

# ---- two processes, the same list, 1,000 adds each ----
cmds block a >"$T/a"; cmds block b >"$T/b"
fedlist $C <"$T/a" >/dev/null 2>"$T/ea" & p1=$!
fedlist $C <"$T/b" >/dev/null 2>"$T/eb" & p2=$!
wait "$p1"; r1=$?; wait "$p2"; r2=$?
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]; ok $? "two fedlist processes adding to the block list both exit 0 ($r1 $r2)"
n=$(grep -c '\.example$' "$D/block")
[ "$n" -eq 2000 ]; ok $? "... the list ends with all 2,000 ($n)"
n=$(sort -u "$D/block" | wc -l)
[ "$n" -eq 2000 ]; ok $? "... each once ($n distinct lines)"
expect "... and it parses" fedlist $C block ls
listidx -q "$D/block" a0.example a999.example b0.example b999.example >"$T/out"
ok $? "the index finds entries of both writers"
n=$(grep -c '	indexed	' "$T/out")
[ "$n" -eq 4 ]; ok $? "... through the index, not a parse ($n of 4)"
# fedgate itself agrees: every one of them is blocked.
awk 'BEGIN { for (i = 0; i < 1000; i += 37) { print "a" i; print "b" i } }' |
while read -r d; do sipmsg -n 1 -f "sip:x@$d.example"; done >"$T/in"
fedgate -n -c "$T/fed.conf" <"$T/in" >/dev/null 2>"$T/err" &&
want=$(grep -c '^MESSAGE' "$T/in") &&
n=$(awk -F '\t' '$7 == "blocked"' "$D/log" | wc -l) &&
[ "$n" -eq "$want" ]; ok $? "fedgate refuses every sampled entry as blocked ($n of $want)"

# ---- two processes, one on each list: locks taken in one order ----
cmds allow c >"$T/cmd.c"; cmds block d >"$T/cmd.d"
fedlist $C <"$T/cmd.c" >/dev/null 2>"$T/ec" & p1=$!
fedlist $C <"$T/cmd.d" >/dev/null 2>"$T/ed" & p2=$!
# Bounded: a deadlock would hang here; give it 120 s.
i=0
while [ "$i" -lt 1200 ] && { kill -0 "$p1" 2>/dev/null || kill -0 "$p2" 2>/dev/null; }; do
	sleep 0.1; i=$((i + 1))
done
kill -0 "$p1" 2>/dev/null || kill -0 "$p2" 2>/dev/null
[ $? -ne 0 ]; ok $? "one editor on each list at once: no deadlock"
kill "$p1" "$p2" 2>/dev/null
wait "$p1"; r1=$?; wait "$p2"; r2=$?
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]; ok $? "... both exit 0 ($r1 $r2)"
n=$(grep -c '^c[0-9]*\.example$' "$D/allow")
[ "$n" -eq 1000 ]; ok $? "... the allow list has its 1,000 ($n)"
n=$(grep -c '^d[0-9]*\.example$' "$D/block")
[ "$n" -eq 1000 ]; ok $? "... the block list its 1,000 more ($n)"

# ---- two processes racing to put one domain on both lists ----
i=0 both=0
while [ "$i" -lt 20 ]; do
	fedlist $C allow add "race$i.example" >/dev/null 2>&1 &
	fedlist $C block add "race$i.example" >/dev/null 2>&1 &
	wait
	a=$(grep -c "^race$i\.example\$" "$D/allow")
	b=$(grep -c "^race$i\.example\$" "$D/block")
	[ $((a + b)) -eq 1 ] || both=$((both + 1))
	i=$((i + 1))
done
[ "$both" -eq 0 ]; ok $? "20 races to add a domain to both lists: always exactly one wins ($both bad)"

# ---- kill -9 during a large rewrite, 20 times ----
rm -f "$D"/allow* "$D"/block*
listidx -g 200000 -S >"$D/block"
listidx "$D/block"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "k%d.kill.example\n", i }' >"$T/batch"
cp "$D/block" "$T/old"
# The new list, made once the ordinary way.
mkdir -p "$T/n"
sed "s|$D|$T/n|g" "$T/fed.conf" >"$T/n.conf"
cp "$T/old" "$T/n/block"
t0=$(date +%s%N)
fedlist -c "$T/n.conf" block add - <"$T/batch"
t1=$(date +%s%N)
# How long the edit takes here (a sanitizer build is several times
# slower): the kills below are spread over 0 to 120% of it.
dur=$(( (t1 - t0) / 1000000 )); [ "$dur" -ge 50 ] || dur=50
cp "$T/n/block" "$T/new"
! cmp -s "$T/old" "$T/new"; ok $? "the batch changes the list"
# At least 20 kills; more (at most 60) until one has landed mid-rewrite:
# both outcomes seen, or a killed writer's temporary file found.
i=0 bad=0 olds=0 news=0 mids=0
while [ "$i" -lt 60 ]; do
	if [ "$i" -ge 20 ] && { [ "$mids" -gt 0 ] ||
	    { [ "$olds" -gt 0 ] && [ "$news" -gt 0 ]; }; }; then
		break
	fi
	cp "$T/old" "$D/block"
	listidx "$D/block"
	fedlist $C block add - <"$T/batch" >/dev/null 2>&1 &
	pid=$!
	# 10 ms to 120% of the edit's time: before, during and after the
	# rewrite.
	ms=$(( 10 + (i * 37 % 100) * dur * 12 / 1000 ))
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	n=$(ls "$D" | grep -c '\.tmp\.')
	[ "$n" -gt 0 ] && mids=$((mids + 1))
	if cmp -s "$D/block" "$T/old"; then olds=$((olds + 1))
	elif cmp -s "$D/block" "$T/new"; then news=$((news + 1))
	else bad=$((bad + 1)); fi
	i=$((i + 1))
done
[ "$bad" -eq 0 ]; ok $? "after $i kill -9: the list is always the old or the new one, whole ($olds old, $news new, $bad other)"
[ "$mids" -gt 0 ] || { [ "$olds" -gt 0 ] && [ "$news" -gt 0 ]; }
ok $? "... and some kill landed mid-rewrite ($mids left a temporary file; $olds old, $news new)"
expect "... and it parses" fedlist $C block ls
sipmsg -n 1 -f sip:x@k5.kill.example >"$T/in" &&
given fedgate -n -c "$T/fed.conf" <"$T/in"
v=$(tail -1 "$D/log" | cut -f 7)
if cmp -s "$D/block" "$T/new"; then w=blocked; else w=discovered; fi
[ "$v" = "$w" ]; ok $? "fedgate's answer agrees with the text left ($v)"
expect "the next edit succeeds" fedlist $C block add after.kill.example
n=$(ls "$D" | grep -c '\.tmp\.')
[ "$n" -eq 0 ]; ok $? "... and removes the temporary files of killed writers ($n left)"
expect "... its index is fresh" listidx -q "$D/block" after.kill.example
grep_file "... (indexed)" "	indexed	" "$T/out"
