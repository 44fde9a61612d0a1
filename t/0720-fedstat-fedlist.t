#!/bin/sh
# The pipeline of issue 5, end to end on a log fedgate produced: fedgate
# decides the demo traffic (gensip --demo), `fedstat --suggest | fedlist
# block add -` blocks what fedstat suggests, then the block list holds
# exactly the suggested domains besides what it held, `fedlist check`
# refuses them as blocked, fedgate refuses their traffic, and fedstat
# shows them blocked and suggests nothing more.
. "${0%/*}/lib.sh"

G=$T/g
mkdir -p "$G"
sed "s|@DIR@|$G|g" "$TOP/share/demo/fed.conf" >"$T/demo.conf"
cp "$TOP/share/demo/allow" "$TOP/share/demo/block" "$G/"
gensip --demo >"$T/demo.sip"
expect "fedgate decides the demo traffic" fedgate -c "$T/demo.conf" <"$T/demo.sip"
expect "fedlist block ls before" fedlist -c "$T/demo.conf" block ls
cut -f1 "$T/out" | sort >"$T/before"
expect "fedstat --suggest" fedstat -c "$T/demo.conf" --suggest
sort "$T/out" >"$T/suggested"
[ -s "$T/suggested" ]; ok $? "... suggests something ($(tr '\n' ' ' <"$T/suggested"))"
printf 'harvest.example\nscan.example\n' >"$T/want"
cmp_file "... the harvester and the scanner" "$T/want" "$T/suggested"
comm -12 "$T/before" "$T/suggested" >"$T/both"
[ ! -s "$T/both" ]; ok $? "... none of them blocked already"

# (Piped as a user would; each side's exit status checked.)
{ fedstat -c "$T/demo.conf" --suggest 2>"$T/suggest.err"; echo $? >"$T/suggest.rc"; } |
    fedlist -c "$T/demo.conf" block add - >"$T/out" 2>"$T/err" &&
    [ "$(cat "$T/suggest.rc")" -eq 0 ]
ok $? "fedstat --suggest | fedlist block add -"
expect "fedlist block ls after" fedlist -c "$T/demo.conf" block ls
cut -f1 "$T/out" | sort >"$T/after"
sort -u "$T/before" "$T/suggested" >"$T/want"
cmp_file "the block list holds exactly what it held and the suggested domains" "$T/want" "$T/after"

while read -r d; do
	expect_exit 1 "fedlist check $d: refused" fedlist -c "$T/demo.conf" check "$d"
	grep_file "... as blocked, by the block list" "^$d	refuse	blocked	403	block:$d$" "$T/out"
done <"$T/suggested"
expect_exit 0 "fedlist check fabrikam.example: still accepted" fedlist -c "$T/demo.conf" check fabrikam.example

# fedgate now refuses their traffic (a dry run: state unchanged)
n1=$(wc -l <"$G/verdicts.log")
expect "fedgate -n on the same traffic" sh -c "fedgate -n -c '$T/demo.conf' <'$T/demo.sip' >/dev/null"
tail -n +$((n1 + 1)) "$G/verdicts.log" >"$T/run2"
awk -F '\t' 'NR == FNR { s[$1] = 1; next } ($3 in s) && $6 != "observe" { print $3, $6, $7 }' \
    "$T/suggested" "$T/run2" | sort -u >"$T/got"
printf 'harvest.example refuse blocked\nscan.example refuse blocked\n' >"$T/want"
cmp_file "fedgate's second run: every request of both refused as blocked" "$T/want" "$T/got"
expect "fedstat --suggest again" fedstat -c "$T/demo.conf" --suggest
[ ! -s "$T/out" ]; ok $? "... suggests nothing: both are blocked now"
expect "fedstat table" fedstat -c "$T/demo.conf"
awk -F '\t' 'NR == FNR { s[$1] = 1; next } ($1 in s) { print $1, $10 }' "$T/suggested" "$T/out" >"$T/got"
printf 'harvest.example blocked\nscan.example blocked\n' | sort >"$T/want"
sort "$T/got" >"$T/got2"
cmp_file "... and shows them blocked" "$T/want" "$T/got2"
