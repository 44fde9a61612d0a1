#!/bin/sh
# listdb: a 1,000,000-entry block list searched through its index finds
# and misses as the parsed list does, in small private memory; a text
# changed since its index answers only once compiled (fedkit(7) LISTS).
. "${0%/*}/lib.sh"

now_ms() { date +%s%3N; }

b=$T/block
t0=$(now_ms)
listidx -g 1000000 >"$b"
ok $? "a 1,000,000-entry block list generated"
t1=$(now_ms)
expect "its index built" listidx "$b"
t2=$(now_ms)
diag "generated in $((t1 - t0)) ms, indexed in $((t2 - t1)) ms"
n=$(wc -c <"$b.idx" | tr -d ' ')
tb=$(wc -c <"$b" | tr -d ' ')
[ "$n" -eq $((80 + 4 * 1000000 + tb)) ]
ok $? "the index holds 1,000,000 offsets and the text's $tb bytes ($n bytes)"

# Known entries: the generator makes line 1 a .suffix entry, line 2 an
# exact one; .invalid is never generated.
suffix=$(sed -n 1p "$b")
exact=$(sed -n 2p "$b")
mid=$(sed -n 500000p "$b")
case $suffix in .*) ok 0 "line 1 is a .suffix entry ($suffix)" ;;
*) ok 1 "line 1 is a .suffix entry ($suffix)" ;; esac
case $mid in .*) midq=x$mid ;; *) midq=$mid ;; esac

printf '%s\t%s\tindexed\t-\t-\t-\n' "$exact" "$exact" \
    "sub.x$suffix" "$suffix" "$midq" "${mid% *}" >"$T/expect"
expect "listidx -q finds known entries" \
    listidx -q -m -t "$b" "$exact" "sub.x$suffix" "$midq"
grep -v '^mem\|^time' "$T/out" >"$T/found"
cmp_file "... exact, under a .suffix, in the middle, all indexed" \
    "$T/expect" "$T/found"
mem=$(sed -n 's/^mem\t//p' "$T/out")
tim=$(sed -n 's/^time\t//p' "$T/out")
diag "memory: $mem" "time in process: $tim"

expect_exit 1 "listidx -q misses an absent domain (exit 1)" \
    listidx -q "$b" absent.invalid "x.$exact"
printf 'absent.invalid\t-\nx.%s\t-\n' "$exact" >"$T/expect"
cmp_file "... absent, and under an exact entry" "$T/expect" "$T/out"

# Private memory after open and lookups: Private_Dirty + Private_Clean of
# smaps_rollup, which counts the libc and binary pages only this process
# maps, and would count every page of a mapped list (pread maps none).
kb=$(printf '%s\n' "$mem" | sed -n 's/^private_kb=\([0-9]*\).*/\1/p')
base=$(printf '%s\n' "$mem" | sed -n 's/.*baseline_private_kb=\([0-9]*\).*/\1/p')
case $mem in
*sanitizer=1*)
	# The sanitizers' shadow memory dwarfs the figure: the normal
	# build asserts it; here it is only shown, not counted.
	diag "private memory in a sanitizer build: $kb kB (not asserted)" ;;
*)
	[ -n "$kb" ] && [ "$kb" -lt 1024 ]
	ok $? "private memory after open and lookups under 1024 kB ($kb kB, $base kB before opening)" ;;
esac
us=$(printf '%s\n' "$tim" | awk -F'[=\t]' '{ print $2 + $4 }')
[ -n "$us" ] && [ "$us" -lt 50000 ]
ok $? "open and three lookups in far less than a parse ($us us)"

# The same answers as the parsed list, for a sample of entries, names
# under them, and misses.
awk 'NR % 9973 == 1 { n = $1; sub(/^\./, "", n); print n; print "zz." n;
    print n "x" }' "$b" >"$T/sample"
listidx -q "$b" $(cat "$T/sample") >"$T/ix"
listidx -q -p "$b" $(cat "$T/sample") >"$T/px"
sed 's/\tindexed\t/\tparsed\t/' "$T/ix" >"$T/ix2"
cmp_file "indexed and parsed agree on $(wc -l <"$T/sample") queries" \
    "$T/px" "$T/ix2"

# A line appended after indexing: the index stays in use until compiled.
echo "Extra.Example." >>"$b"
expect_exit 1 "an appended line is not seen before the index is rebuilt" \
    listidx -q "$b" extra.example
expect "... while the compiled entries answer" listidx -q "$b" "$exact"
expect "reindexed" listidx "$b"
expect "... then" listidx -q "$b" extra.example
grep_file "... found through the new index" \
    "^extra.example	extra.example	indexed	" "$T/out"

# An allow list's options come from the matched line.
a=$T/allow
listidx -a -g 1000 >"$a"
ok $? "an allow list generated"
expect "its index built" listidx -a "$a"
line=$(sed -n 1p "$a")
name=${line%% *}
rate=$(printf '%s\n' "$line" | sed -n 's/.* rate=\([0-9]*\).*/\1/p')
edge=$(printf '%s\n' "$line" | sed -n 's/.* edge=\([^ ]*\).*/\1/p')
printf 'im%s\t%s\tindexed\t%s\t%s\tunlimited\n' "$name" "$name" "$edge" \
    "$rate" >"$T/expect"
expect "an allow-listed domain" listidx -q -a "$a" "im$name"
cmp_file "... with edge=, rate= and max_uris= from its line" \
    "$T/expect" "$T/out"
