#!/bin/sh
# fedstat -f: follow the log across three rotations while a writer
# appends, a truncation, a line cut by rotation, kill -9 and --resume
# (with a rotation while it is down); every line counted exactly once,
# checked against fedstat on a copy of everything written.  And the
# redrawn table on a terminal.
. "${0%/*}/lib.sh"
need script timeout

D=$T/f
mkdir -p "$D"
cat >"$T/fed.conf" <<EOF
local_domains = example.com
allow_list = $D/allow
block_list = $D/block
state_dir = $D/state
verdict_log = $D/log
edge_cache = $D/edges
EOF
: >"$D/allow"; : >"$D/block"
LOG=$D/log R=$T/resume ALL=$T/all
: >"$ALL"

# write FIRST COUNT [SLEEP]: lines FIRST.. in chunks of 50, each appended
# with one write to the log and to the copy.  Every request has a URI
# of its own (-u 0), so a line counted twice shows in messages and not
# in URIs, and a lost one in both.
write() {
	_i=$1 _end=$(($1 + $2))
	while [ "$_i" -lt "$_end" ]; do
		genlog -n 50 -i "$_i" -u 0 -p 7 -d 1000 >"$T/chunk" || return 1
		cat "$T/chunk" >>"$ALL"
		cat "$T/chunk" >>"$LOG"
		_i=$((_i + 50))
		[ -z "${3:-}" ] || sleep "$3"
	done
}

# caught_up: the saved position is the end of the file the path names.
caught_up() {
	[ -f "$R" ] || return 1
	_pos=$(sed -n 4p "$R")
	_ino=$(echo "$_pos" | cut -f3) _off=$(echo "$_pos" | cut -f4)
	[ "$_ino" = "$(stat -c %i "$LOG")" ] && [ "$_off" = "$(stat -c %s "$LOG")" ]
}

FPID=
stop_fedstat() { [ -z "$FPID" ] || kill -9 "$FPID" 2>/dev/null; }
at_exit stop_fedstat

write 0 100
fedstat -f -c "$T/fed.conf" --resume "$R" "$LOG" >"$T/out1" 2>"$T/err1" &
FPID=$!
wait_for 20 caught_up; ok $? "fedstat -f reads the log and saves its position"

# ---- three rotations while a writer appends ----
# (and a fourth, with kill -9 and a fifth while down, and a sixth under
# a writer that keeps the rotated file open, below)
write 100 2000 0.1 &
WPID=$!
for n in 1 2 3; do
	sleep 1
	mv "$LOG" "$LOG.$n"
done
wait "$WPID"; ok $? "the writer wrote 2,000 lines across three rotations"
wait_for 20 caught_up; ok $? "fedstat -f caught up with the newest file"

# ---- truncation ----
: >"$LOG"
write 2100 1000
wait_for 20 caught_up; ok $? "... and with the log truncated and written again"

write 3100 100
wait_for 20 caught_up; ok $? "... and with 100 lines more"

# ---- kill -9, a rotation while down, --resume ----
kill -9 "$FPID"; wait "$FPID" 2>/dev/null; FPID=
write 3200 500
mv "$LOG" "$LOG.5"
write 3700 500
fedstat -f -c "$T/fed.conf" --resume "$R" "$LOG" >"$T/out2" 2>"$T/err2" &
FPID=$!
wait_for 20 caught_up; ok $? "after kill -9, fedstat -f --resume catches up"

# ---- a writer that holds the rotated file, and a line it cuts ----
exec 7>>"$LOG"
mv "$LOG" "$LOG.6"
write 4200 100
wait_for 20 caught_up; ok $? "after one more rotation, it reads the new file"
genlog -n 50 -i 4300 -u 0 -p 7 -d 1000 >"$T/chunk"
cat "$T/chunk" >>"$ALL"
cat "$T/chunk" >&7
printf '2026-11-22T00:00:00.000Z\tcut' >&7
exec 7>&-
n6=$(wc -l <"$LOG.6")
# SIGTERM: it reads what was written before, saves, prints the table.
kill -TERM "$FPID"; wait "$FPID"; rc=$?; FPID=
[ "$rc" -eq 0 ]; ok $? "SIGTERM stops it with exit 0"
printf 'fedstat: %s:%d: line cut by rotation\nfedstat: 1 malformed line of 4351 skipped\n' \
    "$LOG" $((n6 + 1)) >"$T/want"
cmp_file "the line cut in the rotated file is reported with file and line, and counted" "$T/want" "$T/err2"

# Lines of 13 fields are the table printed at exit; 5 fields a change.
awk -F '\t' 'NF == 13' "$T/out2" >"$T/final"
fedstat -c "$T/fed.conf" "$ALL" >"$T/want"
total=$(wc -l <"$ALL")
[ "$total" -eq 4350 ]; ok $? "4,350 lines written ($total)"
cmp_file "every line counted exactly once: the table equals fedstat on a copy" "$T/want" "$T/final"
sum=$(awk -F '\t' '{ s += $2 } END { print s + 0 }' "$T/final")
[ "$sum" -eq "$total" ]; ok $? "messages add up to the lines written ($sum)"

# State changes, piped: each partner turns `watch` once, and the resumed
# run does not announce it again.
cat "$T/out1" "$T/out2" | awk -F '\t' 'NF == 5 && $4 == "watch"' >"$T/changes"
n=$(wc -l <"$T/changes") u=$(cut -f2 "$T/changes" | sort -u | wc -l)
[ "$n" -eq 7 ] && [ "$u" -eq 7 ]; ok $? "7 partners each announced ok -> watch once ($n lines)"
grep -q '^2026-11-22T[0-9:.]*Z	p[0-6].example	ok	watch	[0-9.]*$' "$T/changes"
ok $? "... as time, partner, old state, new state, score"

# ---- a terminal: the table redrawn in place ----
timeout -s KILL 20 script -qfc "timeout -s INT 3 fedstat -f -c '$T/fed.conf' '$LOG'" /dev/null >"$T/tty" 2>&1
grep -q "$(printf '\033\\[H')" "$T/tty"; ok $? "on a terminal: the screen is redrawn from the top"
n=$(grep -c "fedstat -f $LOG" "$T/tty")
[ "$n" -ge 2 ]; ok $? "... about once a second ($n redraws in 3 s)"
grep_file "... with the table" "^partner  *messages" "$T/tty"

# ---- a bad resume file is refused, naming the line ----
cp "$R" "$T/bad.resume"
sed -i '6s/^group\t\([^\t]*\)\t[0-9]*/group\t\1\tmany/' "$T/bad.resume"
expect_exit 2 "a damaged resume file is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$T/bad.resume" "$LOG"
grep_file "... naming file and line" "bad.resume:6: not a saved tally line" "$T/err"
expect_exit 2 "a resume file of another log is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$R" "$T/all"
grep_file "... saying so" "resume:2: saved for another log" "$T/err"
echo "fedstat-resume 2" >"$T/v2.resume"
expect_exit 2 "a resume file of another version is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$T/v2.resume" "$LOG"
grep_file "... saying so" "v2.resume:1: not a fedstat resume file of version 1" "$T/err"
