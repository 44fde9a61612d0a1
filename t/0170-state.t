#!/bin/sh
# Partner state shared by concurrent processes: no update is lost, and a
# kill -9 at any moment leaves a partner file that reads whole.
. "${0%/*}/lib.sh"

d=$T/state
expect "a new state directory is made on first use" statew "$d" check example.com
grep_file "... where a partner starts empty" '^uris 0$' "$T/out"
[ -f "$d/format" ] && [ -d "$d/partners" ] && [ -f "$d/locks/00" ] &&
    [ -f "$d/locks/ff" ]
ok $? "format, partners/ and locks/00..ff are in place"
expect_exit 1 "an invalid partner name is refused" statew "$d" check 'a/../b'
grep_file "... with a message" 'partner domain' "$T/err"

# run_all N CMD...: N copies of CMD at once (a `%` in an argument is the
# copy's number); fails if any failed.  Output of copy I in $T/run.I.
run_all() {
	_k=$1; shift
	_pids= _i=1
	while [ "$_i" -le "$_k" ]; do
		_args=
		for _a in "$@"; do
			case $_a in
			*%*) _a=${_a%%\%*}$_i${_a#*\%} ;;
			esac
			_args="$_args $_a"
		done
		# shellcheck disable=SC2086 # no argument holds a blank
		$_args >"$T/run.$_i" 2>&1 &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	_rc=0
	for _p in $_pids; do wait "$_p" || _rc=1; done
	[ "$_rc" -eq 0 ] || diag "$(cat "$T"/run.*)"
	return "$_rc"
}

# Eight writers, 200 distinct URIs each, one lock and one write per URI.
run_all 8 statew "$d" addurls contoso.com w% 200
ok $? "eight concurrent writers of distinct URIs all succeeded"
expect "the partner file reads whole" statew "$d" check contoso.com
grep_file "no URI was lost: 1600" '^uris 1600$' "$T/out"
n=$(grep -c "^uri	" "$d/partners/contoso.com")
[ "$n" -eq 1600 ]; ok $? "the file holds 1600 uri lines ($n)"
n=$(cut -f2 "$d/partners/contoso.com" | grep -c '^w3-')
[ "$n" -eq 200 ]; ok $? "200 of them from writer 3 ($n)"

# Eight writers of the same 100 URIs: each is counted once.
run_all 8 statew "$d" addurls fabrikam.com same 100
ok $? "eight concurrent writers of the same URIs all succeeded"
expect "the partner file reads whole" statew "$d" check fabrikam.com
grep_file "every URI counted once: 100" '^uris 100$' "$T/out"

# Eight takers, 10 tries each, from a bucket of 20 that never refills
# (rate 0): exactly 20 tokens in all, never one more.
run_all 8 statew "$d" take tailspin.com 10 0 20
ok $? "eight concurrent token takers all succeeded"
n=$(cat "$T"/run.[1-8] | awk '{ s += $1 } END { print s + 0 }')
[ "$n" -eq 20 ]; ok $? "exactly the burst of 20 tokens was taken ($n)"

# Response counts from eight processes add up (each writes at exit).
run_all 8 statew "$d" respond contoso.com 3 1
ok $? "eight processes noting responses all succeeded"
expect "walk reads every partner" statew "$d" walk
grep_file "responses add up: 24 and 8" '^contoso.com 1600 24 8$' "$T/out"
grep_file "walk lists every partner" '^tailspin.com 0 0 0$' "$T/out"

# kill -9 a writer of a large file 20 times at varying moments.
k=$T/kill
expect "a partner with 20000 URIs" statew "$k" fill big.example seed 20000
prev=20000 torn=0 back=0 i=0
while [ "$i" -lt 20 ]; do
	statew "$k" addurls big.example "k$i" 1000000 2>/dev/null &
	pid=$!
	sleep "0.0$(( (i * 37) % 9 + 1 ))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if out=$(statew "$k" check big.example 2>"$T/err"); then
		c=${out#uris }
		[ "$c" -ge "$prev" ] || back=$((back + 1))
		prev=$c
	else
		torn=$((torn + 1))
		diag "$(cat "$T/err")"
	fi
	i=$((i + 1))
done
[ "$torn" -eq 0 ]; ok $? "after 20 kill -9: the file always reads ($torn bad)"
[ "$back" -eq 0 ]; ok $? "the URI count never went back ($back times)"
[ "$prev" -gt 20000 ]; ok $? "the writers made progress between kills ($prev)"
left=$(ls "$k/partners" | grep -c '\.tmp\.')
diag "the kills left $left temporary files"
: >"$k/partners/big.example.tmp.AbCd12"	# at least one, surely
expect "a sweep after the kills" statew "$k" sweep
n=$(ls "$k/partners" | grep -c '\.tmp\.')
[ "$n" -eq 0 ]; ok $? "the sweep removed every temporary file ($n left)"
expect "the partner file, recently changed, is kept and reads" \
    statew "$k" check big.example
grep_file "... with every URI" "^uris $prev\$" "$T/out"
expect "a writer after the kills still works" \
    statew "$k" addurls big.example after 1
