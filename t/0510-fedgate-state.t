#!/bin/sh
# fedgate's shared state: 8 processes on one partner, kill -9 mid-stream,
# list edits seen by a running fedgate, an unknown state version.
. "${0%/*}/lib.sh"

D=$T/g
fedconf "$T/fed.conf" "$D"
: >"$D/allow"; : >"$D/block"

# ---- 8 processes, one partner, one state directory ----
i=0
while [ "$i" -lt 8 ]; do
	# 125 distinct URIs each, disjoint, each sent twice: 2,000 requests
	# to 1,000 URIs in all, exactly max_uris.
	{ sipmsg -n 125 -s $((i * 125)) -f sip:p@shared.example -r sip:u%d@example.com
	  sipmsg -n 125 -s $((i * 125)) -f sip:p@shared.example -r sip:u%d@example.com -c d
	} >"$T/in$i"
	i=$((i + 1))
done
t0=$(date +%s%N)
pids=
i=0
while [ "$i" -lt 8 ]; do
	fedgate -c "$T/fed.conf" <"$T/in$i" >"$T/out$i" 2>"$T/err$i" & pids="$pids $!"
	i=$((i + 1))
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
t1=$(date +%s%N)
ok $rc "8 concurrent fedgate processes all exit 0"
ms=$(( (t1 - t0) / 1000000 ))
a=$(awk -F '\t' '$6 == "accept"' "$D/log" | wc -l)
max=$(( 20 * ms / 1000 + 20 + 1 ))
[ "$a" -le "$max" ]; ok $? "admitted $a in $ms ms: within rate x time + burst ($max)"
[ "$a" -ge 20 ]; ok $? "... and at least the burst ($a)"
n=$(wc -l <"$D/log")
[ "$n" -eq 2000 ]; ok $? "the log has one line per request ($n of 2000)"
bad=$(awk -F '\t' 'NF != 9 || $1 !~ /^20[0-9][0-9]-.*Z$/' "$D/log" | wc -l)
[ "$bad" -eq 0 ]; ok $? "every log line is whole ($bad are not)"
w=$(awk -F '\t' '$7 == "watch"' "$D/log" | wc -l)
[ "$w" -eq 0 ]; ok $? "exactly max_uris distinct URIs: nobody watched ($w)"
u=$(mdb_stat -n -s uris "$D/state/counters.mdb" | awk '$1 == "Entries:" { print $2 }')
[ "$u" -eq 1000 ]; ok $? "the distinct-URI count is exact: 1000 ($u)"
sipmsg -n 1 -s 5000 -f sip:p@shared.example -r sip:u%d@example.com >"$T/in" &&
fedgate -c "$T/fed.conf" <"$T/in" >/dev/null &&
w=$(awk -F '\t' '$7 == "watch"' "$D/log" | wc -l) &&
[ "$w" -eq 1 ]; ok $? "the next new URI crosses max_uris: watch"

# ---- kill -9 in mid-stream, 20 times ----
sipmsg -n 4000 -f sip:p@crash.example -r sip:c%d@example.com -R 404 >"$T/big"
i=0 bad=0
while [ "$i" -lt 20 ]; do
	fedgate -c "$T/fed.conf" <"$T/big" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$(( (i * 37) % 9 + 1 ))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# LMDB's own tools must read the store whole after every kill.
	if ! mdb_stat -n -a "$D/state/counters.mdb" >/dev/null 2>&1 ||
	    ! mdb_dump -n -s partners "$D/state/counters.mdb" >/dev/null 2>&1; then
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
[ "$bad" -eq 0 ]; ok $? "after 20 kill -9: the store always reads whole ($bad bad)"
# Every URI a logged request counted is in the store: the store commits
# before the log line that reports it (it may count a few more: a process
# killed between the two).  crash.example tries 4,000 URIs, so it is
# watched by now: the store keeps its count, shown by fedlist watch ls.
logged=$(awk -F '\t' '$3 == "crash.example" && ($6 == "accept" || $6 == "limit") { print $5 }' \
    "$D/log" | sort -u | wc -l)
stored=
fedlist -c "$T/fed.conf" watch ls >"$T/wls" 2>"$T/wls.err" &&
stored=$(awk -F '\t' '$1 == "crash.example" { print $3 }' "$T/wls") &&
[ "$logged" -gt 0 ] && [ "$logged" -le "${stored:-0}" ]
ok $? "every URI the log reports is counted in the store ($logged logged, ${stored:-none} counted)"
sipmsg -n 1 -s 9999 -f sip:p@crash.example -r sip:c%d@example.com >"$T/in"
expect "a fedgate after the kills still works" fedgate -c "$T/fed.conf" <"$T/in"
tail -1 "$D/log" | grep -q 'crash.example'; ok $? "... and decides"

# ---- a list edit is seen by a running fedgate within a second ----
fifo_gate 7 "$T/fed.conf" "$T/live.err"
sipmsg -n 1 -s 1 -f sip:a@later.example >&7
wait_for 5 grep -q 'later.example.*accept' "$D/log"
ok $? "a running fedgate accepts later.example"
echo "later.example" >"$D/block.new" && mv "$D/block.new" "$D/block"
sleep 1.2
sipmsg -n 1 -s 2 -f sip:a@later.example >&7
wait_for 5 grep -q 'later.example.*refuse	blocked' "$D/log"
ok $? "after the block list changes, the same process refuses it within a second"
cp "$T/fed.conf" "$T/off.conf" && echo "federation = off" >>"$T/off.conf"
cp "$T/fed.conf" "$T/fed.conf.orig"
mv "$T/off.conf" "$T/fed.conf"
sleep 1.2
sipmsg -n 1 -s 3 -f sip:a@other.example >&7
wait_for 5 grep -q 'other.example.*refuse	federation_off' "$D/log"
ok $? "after fed.conf changes to federation = off, the same process refuses everyone"
printf 'federation = sideways\n' >>"$T/fed.conf"
sleep 1.2
sipmsg -n 1 -s 4 -f sip:a@other.example >&7
wait_for 5 grep -q 'federation_off.*c4@' "$D/log"
ok $? "a bad edit of fed.conf keeps the running configuration"
fifo_gate_end 7 "$gate_pid"; ok $? "... and exits 0 at end of input"
grep_file "... and says so, naming file and line" "fed.conf:[0-9]*:.*keeping the running configuration" "$T/live.err"
mv "$T/fed.conf.orig" "$T/fed.conf"

# ---- an unknown state version is refused ----
echo "fedkit-state 9" >"$D/state/format"
sipmsg -n 1 -f sip:a@x.example >"$T/in"
fedgate -c "$T/fed.conf" <"$T/in" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" -eq 3 ]; ok $? "a state directory of version 9 is refused (exit $rc)"
grep_file "... saying which version it found" "version 9" "$T/err"
