#!/bin/sh
# fedstat -f: follow the log across three rotations while a writer
# appends, a truncation, a line cut by rotation, kill -9 and --resume
# (with a rotation while it is down); every line counted exactly once,
# checked against fedstat on a copy of everything written.  And the
# redrawn table on a terminal; bad resume files; kill -9 while a rotated
# file is still read, two rotations while down, kill -9 inside an
# over-long line (positions are line starts); -f on a FIFO, /dev/zero,
# and a log replaced by a FIFO.
. "${0%/*}/lib.sh"
need script timeout

D=$T/f
fedconf "$T/fed.conf" "$D"
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
# follow N: fedstat -f resuming from $R on $LOG, in the background (pid
# $FPID), its output in $T/outN, $T/errN.  crash: kill -9 it.
follow() {
	fedstat -f -c "$T/fed.conf" --resume "$R" "$LOG" >"$T/out$1" 2>"$T/err$1" &
	FPID=$!
}
crash() { kill -9 "$FPID"; wait "$FPID" 2>/dev/null; FPID=; }

write 0 100
follow 1
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
crash
write 3200 500
mv "$LOG" "$LOG.5"
write 3700 500
follow 2
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
given fedstat -c "$T/fed.conf" "$ALL" && mv "$T/given.out" "$T/want"
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
gl=$(grep -n '^group' "$T/bad.resume" | head -1 | cut -d: -f1)
sed -i "${gl}s/^group\t\([^\t]*\)\t[0-9]*/group\t\1\tmany/" "$T/bad.resume"
expect_exit 2 "a damaged resume file is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$T/bad.resume" "$LOG"
grep_file "... naming file and line" "bad.resume:$gl: not a saved tally line" "$T/err"
cp "$R" "$T/bad.resume"
sed -i "${gl}s/^group\t[^\t]*/group\tp\x01.example/" "$T/bad.resume"
expect_exit 2 "a name with a raw control byte is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$T/bad.resume" "$LOG"
grep_file "... naming the line" "bad.resume:$gl: not a saved tally line" "$T/err"
expect_exit 2 "a resume file of another log is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$R" "$T/all"
grep_file "... saying so" "resume:2: saved for another log" "$T/err"
echo "fedstat-resume 1" >"$T/v1.resume"
expect_exit 2 "a resume file of another version is refused" timeout 10 fedstat -f -c "$T/fed.conf" --resume "$T/v1.resume" "$LOG"
grep_file "... saying so" "v1.resume:1: not a fedstat resume file of version 2" "$T/err"

# ---- kill -9 while a rotated file is still read; two rotations while
# down; kill -9 inside an over-long line ----
mkdir -p "$D/b"
LOG=$D/b/log R=$T/resume2 ALL=$T/all2
: >"$ALL"
# chunk7 FIRST: 50 lines through fd 7 (a writer holding a rotated file)
chunk7() {
	genlog -n 50 -i "$1" -u 0 -p 7 -d 1000 >"$T/chunk" || return 1
	cat "$T/chunk" >>"$ALL"
	cat "$T/chunk" >&7
}
# old_saved FILE: the resume file holds FILE's end as a rotated file's
old_saved() {
	grep "^old	[0-9]*	$(stat -c %i "$1")	$(stat -c %s "$1")	" "$R"
}
write 0 100
follow 3
wait_for 20 caught_up; ok $? "a second log: read and saved"
exec 7>>"$LOG"
mv "$LOG" "$LOG.1"
write 100 100
chunk7 200
wait_for 20 old_saved "$LOG.1"; ok $? "the position in a rotated file still read is saved"
wait_for 20 caught_up; ok $? "... with the new file's"
crash
chunk7 250
exec 7>&-
write 300 100
# two rotations while down (logrotate: log.1 -> log.2, log -> log.1)
mv "$LOG.1" "$LOG.2"; mv "$LOG" "$LOG.1"
sleep 0.1
write 400 100
sleep 0.1
mv "$LOG.2" "$LOG.3"; mv "$LOG.1" "$LOG.2"; mv "$LOG" "$LOG.1"
write 500 100
follow 4
wait_for 20 caught_up; ok $? "after kill -9 and two rotations, --resume catches up"
# an over-long line, cut when killed
head -c 5000 /dev/zero | tr '\0' y >>"$LOG"
skip_saved() { [ "$(sed -n 4p "$R" | cut -f8)" = 1 ]; }
wait_for 20 skip_saved; ok $? "inside an over-long line, the saved position is its start, marked"
off=$(sed -n 4p "$R" | cut -f4) size=$(stat -c %s "$LOG")
[ "$off" -eq $((size - 5000)) ]; ok $? "... the offset of its first byte ($off)"
crash
printf 'yyy\n' >>"$LOG"
write 600 100
follow 5
wait_for 20 caught_up; ok $? "resumed inside the long line, it catches up"
kill -TERM "$FPID"; wait "$FPID"; rc=$?; FPID=
[ "$rc" -eq 0 ]; ok $? "SIGTERM: exit 0"
awk -F '\t' 'NF == 13' "$T/out5" >"$T/final"
given fedstat -c "$T/fed.conf" "$ALL" && mv "$T/given.out" "$T/want"
total=$(wc -l <"$ALL")
[ "$total" -eq 700 ]; ok $? "700 lines written ($total)"
cmp_file "every line counted exactly once across kill -9, a rotated file, two rotations while down" "$T/want" "$T/final"
cat "$T/err3" "$T/err4" "$T/err5" >"$T/errs"
printf 'fedstat: %s:101: line too long\nfedstat: 1 malformed line of 701 skipped\n' "$LOG" >"$T/want"
cat "$T/err4" "$T/err5" >"$T/got"
cmp_file "no loss reported, the long line reported once and counted once" "$T/want" "$T/got"
[ ! -s "$T/err3" ]; ok $? "the first run had nothing to say"

# ---- -f refuses what it cannot follow; a stop is bounded ----
mkfifo "$T/fifo"
expect_exit 2 "-f on a FIFO: input error" timeout 10 fedstat -f -c "$T/fed.conf" "$T/fifo"
expect_exit 2 "-f on /dev/zero: input error, at once" timeout 10 fedstat -f -c "$T/fed.conf" /dev/zero
# the log replaced by a FIFO while followed: an error, not a hang
mkdir -p "$D/c"; printf '' >"$D/c/log"
timeout -s KILL 20 fedstat -f -c "$T/fed.conf" "$D/c/log" >"$T/out6" 2>"$T/err6" &
FPID=$!
sleep 0.5
mv "$D/c/log" "$D/c/log.1"; mkfifo "$D/c/log"
wait "$FPID"; rc=$?; FPID=
[ "$rc" -eq 3 ]; ok $? "the log replaced by a FIFO while followed: exit 3, no hang ($rc)"
grep_file "... saying why" "not a regular file" "$T/err6"

# ---- the saved file gone while down: said so, the new log read whole ----
rm -f "$D/b/log" "$D/b/log".*
LOG=$D/b/log
genlog -n 50 -i 700 -u 0 -p 7 -d 1000 >"$LOG"
timeout -s INT 5 fedstat -f -c "$T/fed.conf" --resume "$R" "$LOG" >"$T/out7" 2>"$T/err7"
grep_file "the saved file gone: a warning names the loss" "1 file of the log (saved in $R.*not counted" "$T/err7"
sum=$(awk -F '\t' 'NF == 13 { s += $2 } END { print s + 0 }' "$T/out7")
[ "$sum" -eq 750 ]; ok $? "... the tally goes on: 700 saved + 50 new lines ($sum)"
