#!/bin/sh
# fedlist: every command against a scratch directory, through the real
# binary; check against a real fedgate; a running fedgate sees an edit.
. "${0%/*}/lib.sh"

D=$T/d
fedconf "$T/fed.conf" "$D" 'max_uris = 5' 'suspect_min_responses = 4'
C="-c $T/fed.conf"
fl() { fedlist $C "$@"; }

# ---- allow add / ls ----
expect "allow add with options and a comment" fl allow add Contoso.COM rate=50 max_uris=unlimited '# big partner'
expect "allow add with edge=" fl allow add fabrikam.example edge=SIP.fabrikam.example
expect "allow add a .suffix entry" fl allow add .aaa.example
cat >"$T/want" <<'EOF'
.aaa.example
contoso.com rate=50 max_uris=unlimited # big partner
fabrikam.example edge=sip.fabrikam.example
EOF
cmp_file "the allow list: normalized, in name order, options and comment kept" "$T/want" "$D/allow"
[ -f "$D/allow.idx" ]; ok $? "the index is written beside the list"
expect "allow ls" fl allow ls
printf '.aaa.example\t-\t-\t-\t-\ncontoso.com\t-\t50\tunlimited\tbig partner\nfabrikam.example\tsip.fabrikam.example\t-\t-\t-\n' >"$T/want"
cmp_file "allow ls: name, edge, rate, max_uris, comment" "$T/want" "$T/out"
expect "allow ls --json" fl allow ls --json
grep_file "... one JSON object a line" '^{"name":"contoso.com","edge":null,"rate":"50","max_uris":"unlimited","comment":"big partner","line":2}$' "$T/out"
expect "-j before the command works too" fl -j allow ls
cat >"$T/want" <<'EOF'
{"name":".aaa.example","edge":null,"rate":null,"max_uris":null,"comment":null,"line":1}
{"name":"contoso.com","edge":null,"rate":"50","max_uris":"unlimited","comment":"big partner","line":2}
{"name":"fabrikam.example","edge":"sip.fabrikam.example","rate":null,"max_uris":null,"comment":null,"line":3}
EOF
cmp_file "... three records" "$T/want" "$T/out"

# ---- the index agrees with the text ----
expect "listdb finds an added entry through the index" listidx -q -a "$D/allow" contoso.com
grep_file "... indexed, with its options" "^contoso.com	contoso.com	indexed	-	50	unlimited$" "$T/out"

# ---- update in place ----
expect "add of a listed name with a new option updates it" fl allow add contoso.com rate=80
grep_file "... same line, other options and comment kept" "^contoso.com rate=80 max_uris=unlimited # big partner$" "$D/allow"
[ "$(sed -n 2p "$D/allow")" = "contoso.com rate=80 max_uris=unlimited # big partner" ]; ok $? "... in its place (line 2)"
cp "$D/allow" "$T/before"
expect "add of a listed name as it is changes nothing" fl allow add contoso.com
cmp_file "... the file is the same" "$T/before" "$D/allow"

# ---- block add / ls, and stdin ----
expect "block add" fl block add spam.example '# seen in the log'
printf 'a.example\nb.example\n' | fl block add - >"$T/out" 2>"$T/err"
ok $? "two names on stdin: fedlist block add -"
expect "block ls" fl block ls
printf 'a.example\t-\nb.example\t-\nspam.example\tseen in the log\n' >"$T/want"
cmp_file "block ls: name and comment" "$T/want" "$T/out"
expect_exit 2 "block add with an option is refused" fl block add opt.example rate=5
grep_file "... the block list takes no options" "block list takes no options" "$T/err"

# ---- invalid names: clear message, nothing written ----
cp "$D/block" "$T/before"
expect_exit 2 "a bad label is refused" fl block add -bad.example
grep_file "... saying why" "starts with a hyphen" "$T/err"
long=$(printf 'a%.0s' $(seq 1 64))
expect_exit 2 "a 64-character label is refused" fl block add "$long.example"
grep_file "... saying why" "is 64 characters long" "$T/err"
name=$(printf 'abcdefghi.%.0s' $(seq 1 26))example
expect_exit 2 "a name over 253 characters is refused" fl block add "$name"
grep_file "... saying why" "at most 253" "$T/err"
expect_exit 2 "a non-ASCII name is refused" fl block add "café.example"
grep_file "... asking for punycode" "punycode" "$T/err"
printf 'good.example\nbad_.example\nalso-good.example\n' >"$T/in"
fedlist $C block add - <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "a batch with one bad line is refused (exit $rc)"
grep_file "... naming stdin and the line" "^fedlist: stdin:2: " "$T/err"
cmp_file "... and nothing of the batch is written" "$T/before" "$D/block"

# ---- a domain cannot be on both lists ----
expect_exit 2 "block add of an allow-listed domain is refused" fl block add contoso.com
grep_file "... naming both files" "contoso.com: on the allow list ($D/allow:2).*nothing written to $D/block" "$T/err"
expect_exit 2 "block add of a .suffix covering an allow-listed domain is refused" fl block add .example
grep_file "... naming the covered entry" "covers fabrikam.example, which is on the allow list ($D/allow:3)" "$T/err"
cp "$D/allow" "$T/before"
expect_exit 2 "allow add of a domain under a blocked .suffix is refused" sh -c "fedlist $C block add .evil.example && fedlist $C allow add www.evil.example"
grep_file "... naming both files" "www.evil.example: on the block list ($D/block:[0-9]*, as .evil.example).*nothing written to $D/allow" "$T/err"
cmp_file "... the allow list is unchanged" "$T/before" "$D/allow"
grep -q 'www.evil' "$D/allow"; [ $? -ne 0 ]; ok $? "... www.evil.example is not on the allow list"

# ---- rm: comments and unrelated lines survive ----
cat >"$D/block" <<'EOF'
# The block list, kept by hand and by fedlist.

zeta.example   # last
# about beta: ticket 42
beta.example
alpha.example
.evil.example
EOF
rm -f "$D/block.idx"
expect "block rm" fl block rm beta.example
cat >"$T/want" <<'EOF'
# The block list, kept by hand and by fedlist.

zeta.example   # last
# about beta: ticket 42
alpha.example
.evil.example
EOF
cmp_file "rm removes only the entry's line" "$T/want" "$D/block"
expect_exit 1 "rm of a name not listed exits 1" fl block rm nothere.example
grep_file "... saying so, naming the file" "nothere.example: not on the block list ($D/block)" "$T/err"
expect_exit 1 "rm of an exact name when only the .suffix is listed" fl block rm evil.example
grep_file "... hints at the other form" "not on the block list.*; .evil.example is" "$T/err"
expect "add to an unsorted list appends, in input order" sh -c "printf 'm2.example\nm1.example\n' | fedlist $C block add -"
[ "$(tail -2 "$D/block" | tr '\n' ' ')" = "m2.example m1.example " ]; ok $? "... at the end: $(tail -2 "$D/block" | tr '\n' ' ')"
head -5 "$D/block" >"$T/head"; head -5 "$T/want" >"$T/want5"
cmp_file "... the lines before are untouched" "$T/want5" "$T/head"
printf '# sorted\naa.example\n# about cc\ncc.example\n' >"$D/allow"
expect "add to a sorted list inserts in order" fl allow add bb.example
printf '# sorted\naa.example\nbb.example\n# about cc\ncc.example\n' >"$T/want"
cmp_file "... before the comment that belongs to the next entry" "$T/want" "$D/allow"

# ---- a malformed line already in a list ----
printf 'ok.example\nbad_line.example\nok2.example\nok.example\n' >"$D/allow"
cp "$D/allow" "$T/before"
expect_exit 2 "an add to a list with a bad line is refused" fl allow add new.example
grep_file "... naming file and line of the bad line" "^fedlist: $D/allow:2: \"bad_\.\.\.\": invalid character \"_\"" "$T/err"
grep_file "... and of a duplicate" "^fedlist: $D/allow:4: ok.example is listed twice (first on line 1)" "$T/err"
grep_file "... saying nothing was written" "nothing written" "$T/err"
cmp_file "... the file is left untouched" "$T/before" "$D/allow"
expect_exit 2 "allow ls of that list exits 2" fl allow ls
printf 'ok.example\t-\t-\t-\t-\nok2.example\t-\t-\t-\t-\n' >"$T/want"
cmp_file "... but prints the good entries" "$T/want" "$T/out"
grep_file "... and reports the bad line" "$D/allow:2:" "$T/err"
: >"$D/allow"

# ---- check: fedgate's own code ----
given fl allow add contoso.com
expect_exit 0 "check of a discovered partner: exit 0" fl check new.example
printf 'new.example\taccept\tdiscovered\t-\t-\n' >"$T/want"
cmp_file "... partner, verdict, reason, code, entry" "$T/want" "$T/out"
expect_exit 0 "check of an allow-listed partner" fl check Contoso.com
printf 'contoso.com\taccept\tallowlisted\t-\tallow:contoso.com\n' >"$T/want"
cmp_file "... names the entry" "$T/want" "$T/out"
expect_exit 1 "check of a partner under a blocked .suffix: exit 1" fl check sip:eve@www.evil.example
printf 'www.evil.example\trefuse\tblocked\t403\tblock:.evil.example\n' >"$T/want"
cmp_file "... names the .suffix entry that decided" "$T/want" "$T/out"
expect_exit 1 "check --json" fl check --json www.evil.example
grep_file "... as JSON" '^{"partner":"www.evil.example","verdict":"refuse","reason":"blocked","code":403,"rule":"blocked","list":"block","entry":".evil.example"}$' "$T/out"
# At the prompt (commands on standard input) -j and --peer are the
# command's own, also when it is refused.
printf 'check -j --peer\ncheck -j www.evil.example --peer\ncheck www.evil.example\n' >"$T/cmds"
expect_exit 2 "prompt: a --peer without its name refused, the commands after still run" \
    sh -c 'fedlist -c "$1" <"$2"' - "$T/fed.conf" "$T/cmds"
printf 'www.evil.example\trefuse\tblocked\t403\tblock:.evil.example\n' >"$T/want"
cmp_file "... and -j of a refused command does not outlive it" "$T/want" "$T/out"
expect_exit 1 "check of one of our own domains: spoof" fl check example.com
grep_file "... refuse spoof 403" "^example.com	refuse	spoof	403	-$" "$T/out"
expect_exit 2 "check of an invalid name: exit 2" fl check 'bad name'
expect_exit 2 "check of a URI with a line break: exit 2" fl check "$(printf 'sip:a@b.example\r\nVia: x')"
printf 'federation = open\nallow_list = %s\nblock_list = %s\n' "$D/allow" "$D/block" >"$T/nolocal.conf"
expect_exit 2 "check without local_domains: exit 2" fedlist -c "$T/nolocal.conf" check new.example
grep_file "... saying local_domains is needed" "local_domains is not set" "$T/err"
expect "list edits need no local_domains" fedlist -c "$T/nolocal.conf" block add x1.example
# The same answer as fedgate itself gives for a message from the partner.
for p in new.example contoso.com www.evil.example example.com; do
	g= c=
	sipmsg -n 1 -f "sip:check@$p" -r sip:postmaster@example.com >"$T/in" &&
	fedgate -n -c "$T/fed.conf" <"$T/in" >"$T/gate.out" 2>"$T/gate.err" &&
	g=$(tail -1 "$D/log" | cut -f 6,7) && {
		# 0 accepted, 1 refused: an answer either way
		fedlist $C check "$p" >"$T/check.out" 2>"$T/check.err"
		[ $? -le 1 ]
	} &&
	c=$(cut -f 2,3 "$T/check.out") &&
	[ "$g" = "$c" ]; ok $? "check $p says what fedgate -n decides ($c / $g)"
done
given fl allow add pinned.example edge=edge.pinned.example
expect_exit 1 "check of a partner pinned to its edge, without a peer: unverified" fl check pinned.example
grep_file "... refuse unverified 403" "^pinned.example	refuse	unverified	403	allow:pinned.example$" "$T/out"
expect_exit 0 "check --peer with the pinned edge: accept" fl check --peer edge.pinned.example pinned.example
grep_file "... allowlisted" "^pinned.example	accept	allowlisted	-	allow:pinned.example$" "$T/out"
expect_exit 1 "-p with another edge: unverified" fl -p other.example check pinned.example
printf 'federation = off\n' >>"$T/fed.conf"
expect_exit 1 "federation = off: check refuses everyone" fl check contoso.com
grep_file "... federation_off" "refuse	federation_off	403" "$T/out"
sed -i '/^federation = off$/d' "$T/fed.conf"

# ---- watch ls / clear, on state a real fedgate wrote ----
sipmsg -n 7 -f sip:h@harvest.example -r sip:u%d@example.com >"$T/in" &&
given fedgate -c "$T/fed.conf" -p edge1.harvest.example <"$T/in" &&
sipmsg -n 4 -f sip:n@near.example -r sip:u%d@example.com >"$T/in" &&
given fedgate -c "$T/fed.conf" <"$T/in" &&
sipmsg -n 4 -f sip:s@sus.example -r sip:u%d@example.com -R 404 >"$T/in" &&
given fedgate -c "$T/fed.conf" <"$T/in" &&
sipmsg -n 2 -f sip:q@quiet.example -r sip:u%d@example.com >"$T/in" &&
given fedgate -c "$T/fed.conf" <"$T/in"
expect "watch ls" fl watch ls
cut -f 1-5,7 "$T/out" >"$T/got"
printf 'harvest.example\twatch\t6\t0\t0\tedge1.harvest.example\nnear.example\tnear\t4\t0\t0\t-\nsus.example\tsuspicious\t4\t0\t4\t-\n' >"$T/want"
cmp_file "... watched, near-limit and suspicious partners with counts and peers" "$T/want" "$T/got"
grep_file "... since when, as in the log" "^harvest.example	watch	.*	20[0-9][0-9]-[0-9-]*T[0-9:]*\.[0-9][0-9][0-9]Z	" "$T/out"
expect "watch ls --json" fl watch ls --json
grep_file "... as JSON, peers as an array" '^{"partner":"harvest.example","state":"watch","uris":6,"max_uris":5,"ok":0,"fail":0,"since":"20.*","peers":\["edge1.harvest.example"\]}$' "$T/out"
expect_exit 1 "check of the watched partner: refuse watch" fl check harvest.example
grep_file "... refuse watch 403" "^harvest.example	refuse	watch	403	-$" "$T/out"
expect "watch clear" fl watch clear harvest.example
expect "watch ls after the clear" fl watch ls
grep -q harvest "$T/out"; [ $? -ne 0 ]; ok $? "... no longer lists it"
expect_exit 0 "check after the clear: accept" fl check harvest.example
expect_exit 1 "watch clear of a partner without state: exit 1" fl watch clear never.example
grep_file "... saying so" "never.example: no state to clear" "$T/err"
expect_exit 2 "watch clear of a bad name: exit 2" fl watch clear 'x..example'
rm -rf "$T/nostate"
sed "s|^state_dir = .*|state_dir = $T/nostate|" "$T/fed.conf" >"$T/ns.conf"
expect "watch ls without a state directory prints nothing" fedlist -c "$T/ns.conf" watch ls
[ ! -e "$T/nostate" ]; ok $? "... and creates nothing"

# ---- commands on stdin ----
printf 'block add s1.example\n# a comment line\n\nblock ls\nbogus\nallow ls\n' >"$T/in"
fedlist $C <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "commands on stdin: exit status is the worst ($rc)"
grep_file "... every command ran (block ls)" "^s1.example	-$" "$T/out"
grep_file "... the bad one reported" "bogus: unknown command" "$T/err"
printf 'block add -\n' >"$T/in"
fedlist $C <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "- is refused when stdin holds the commands ($rc)"
printf 'help\nquit\nblock add after.quit.example\n' >"$T/in"
fedlist $C <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
grep_file "help lists the commands" "^watch clear DOMAIN" "$T/out"
[ "$rc" -eq 0 ] && ! grep -q after.quit "$D/block"; ok $? "quit ends the commands ($rc)"

# ---- usage ----
expect_exit 2 "an unknown command: exit 2" fl frobnicate
expect_exit 2 "allow with no subcommand: exit 2" fl allow
expect_exit 2 "add without a name: exit 2" fl allow add
expect_exit 2 "rm with an option: exit 2" fl allow rm x.example rate=5
expect_exit 2 "a missing -c file: exit 2" fedlist -c "$T/none.conf" allow ls

# ---- a running fedgate sees an edit within a second ----
fifo_gate 7 "$T/fed.conf" "$T/live.err"
sipmsg -n 1 -s 1 -f sip:a@live.example >&7
wait_for 5 grep -q 'live.example.*accept' "$D/log"
ok $? "a running fedgate accepts live.example"
expect "fedlist block add live.example" fl block add live.example
sleep 1.2
sipmsg -n 1 -s 2 -f sip:a@live.example >&7
wait_for 5 grep -q 'live.example.*refuse	blocked' "$D/log"
ok $? "... the same process refuses it after the edit"
fifo_gate_end 7 "$gate_pid"; ok $? "... and exits 0"

# ---- review fixes (issue 4) ----
R=$T/r
mkdir -p "$R"
rconf() {	# rconf FILE ALLOW BLOCK [more lines]: a configuration in $R
	_f=$1 _a=$2 _b=$3; shift 3
	{ printf 'local_domains = example.com\nallow_list = %s\nblock_list = %s\n' "$_a" "$_b"
	  printf 'state_dir = %s/state\nverdict_log = %s/log\nedge_cache = %s/edges\n' "$R" "$R" "$R"
	  for _l in "$@"; do printf '%s\n' "$_l"; done; } >"$_f"
}

# The same file by two strings: refused, never a self-deadlock.
rconf "$R/dot.conf" "$R/same" "$R/./same"
expect_exit 3 "allow_list and block_list as /x/same and /x/./same: refused" timeout 10 fedlist -c "$R/dot.conf" block add x.example
grep_file "... saying they name the same file" "allow_list and block_list name the same file" "$T/err"
expect_exit 3 "... also for allow add" timeout 10 fedlist -c "$R/dot.conf" allow add x.example
printf 'old.example\n' >"$R/target"
ln -s "$R/target" "$R/link"
rconf "$R/ln.conf" "$R/target" "$R/link"
expect_exit 3 "block_list a symlink to allow_list: refused" timeout 10 fedlist -c "$R/ln.conf" block add y.example
grep_file "... saying they name the same file" "name the same file" "$T/err"
[ "$(cat "$R/target")" = "old.example" ]; ok $? "... and nothing is written"
rconf "$R/rel.conf" "$R/same" "same"
(cd "$R" && timeout 10 fedlist -c "$R/rel.conf" block add z.example >"$T/out" 2>"$T/err"); rc=$?
[ "$rc" -eq 3 ]; ok $? "block_list a relative path to allow_list: refused ($rc)"
grep_file "... saying they name the same file" "name the same file" "$T/err"

# check judges as fedgate on a TLS socket: verify = auto means srv.
rconf "$R/tls.conf" "$R/allow" "$R/block" "tls_cert = $R/no-such.crt" "tls_key = $R/no-such.key" "tls_ca = $R/no-such-ca.pem"
expect_exit 1 "check with TLS configured, an unknown edge: unverified" fedlist -c "$R/tls.conf" check -p edge.evil.example new.example
grep_file "... refuse unverified 403" "^new.example	refuse	unverified	403	-$" "$T/out"
rconf "$R/plain.conf" "$R/allow" "$R/block"
expect_exit 0 "... and without TLS (verify = none) the same check accepts" fedlist -c "$R/plain.conf" check -p edge.evil.example new.example
rconf "$R/tlsoff.conf" "$R/allow" "$R/block" "tls = off" "tls_cert = $R/no-such.crt"
expect_exit 0 "... as with tls = off" fedlist -c "$R/tlsoff.conf" check -p edge.evil.example new.example

# check: a state directory that cannot be used is a system error (3).
: >"$R/statefile"
sed "s|^state_dir = .*|state_dir = $R/statefile|" "$R/plain.conf" >"$R/badstate.conf"
expect_exit 3 "check with a state_dir that is a file: exit 3" fedlist -c "$R/badstate.conf" check new.example
expect_exit 2 "check of an argument that cannot be put in a request: still 2" fedlist -c "$R/plain.conf" check 'sip:a@b.example>'

# 64 words: the comment loop reads no word past the last.
words=$(seq 1 60 | tr '\n' ' ')
expect "allow add with 64 words (a 60-word comment)" fedlist -c "$R/plain.conf" allow add w64.example '#' $words
grep_file "... the comment has every word" "^w64.example # 1 2 3 .* 59 60$" "$R/allow"
expect_exit 2 "65 words: refused" fedlist -c "$R/plain.conf" allow add w65.example '#' $words 61
grep_file "... saying so" "too many words (at most 64)" "$T/err"

# A stale index is rebuilt even when the edit changes nothing.
printf 'a.example\nb.example\n' >"$R/block"
listidx "$R/block"
printf 'a.example\nb.example\nc.example\n' >"$R/block"
expect "block add of a listed name, index stale" fedlist -c "$R/plain.conf" block add a.example
expect "... the index is rebuilt" listidx -q "$R/block" c.example
grep_file "... and used (indexed)" "	indexed	" "$T/out"
i1=$(stat -c %i "$R/block.idx")
expect "the same add again" fedlist -c "$R/plain.conf" block add a.example
i2=$(stat -c %i "$R/block.idx")
[ "$i1" = "$i2" ]; ok $? "... leaves a fresh index alone ($i1 $i2)"
rm -f "$R/block.idx"
mkdir "$R/block.idx"
expect_exit 3 "an index that cannot be written after the text: exit 3" fedlist -c "$R/plain.conf" block add d.example
grep_file "... saying the text was written, the index not" "$R/block: text written, index not rebuilt: " "$T/err"
grep -q '^d.example$' "$R/block"; ok $? "... the text has the entry"
rmdir "$R/block.idx"

# Text: a header comment stays on top; CRLF files get CRLF lines.
printf '# header of the list\naa.example\n\n# about cc\ncc.example\n' >"$R/block"
expect "add of a new first entry to a sorted list with a header" fedlist -c "$R/plain.conf" block add 0a.example
printf '# header of the list\n0a.example\naa.example\n\n# about cc\ncc.example\n' >"$T/want"
cmp_file "... goes below the header, not above it" "$T/want" "$R/block"
expect "add before an entry with its own comment" fedlist -c "$R/plain.conf" block add bb.example
printf '# header of the list\n0a.example\naa.example\n\nbb.example\n# about cc\ncc.example\n' >"$T/want"
cmp_file "... goes above that comment (no blank line between)" "$T/want" "$R/block"
printf 'aa.example\r\ncc.example' >"$R/block"
expect "add to a CRLF list" fedlist -c "$R/plain.conf" block add bb.example dd.example
printf 'aa.example\r\nbb.example\r\ncc.example\r\ndd.example\r\n' >"$T/want"
cmp_file "... new lines end in CRLF" "$T/want" "$R/block"

# --json escapes bytes >= 0x80: always valid JSON.
printf 'j.example # caf\303\251 \377\n' >"$R/block"
expect "block ls --json of a comment with non-ASCII bytes" fedlist -c "$R/plain.conf" block ls --json
grep_file "... escaped as \\u00XX" '"comment":"caf\\u00c3\\u00a9 \\u00ff"' "$T/out"
LC_ALL=C grep -q "$(printf '[\200-\377]')" "$T/out"; [ $? -ne 0 ]; ok $? "... no raw byte >= 0x80 in the output"

# Lines from stdin: capped at 64 KiB, NUL bytes refused.
: >"$R/block"
{ echo ok1.example; head -c 70000 /dev/zero | tr '\0' a; echo; } >"$T/in"
fedlist -c "$R/plain.conf" block add - <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "a 70,000-byte line on stdin: exit 2 ($rc)"
grep_file "... stdin:2: line longer than 65536 bytes" "^fedlist: stdin:2: line longer than 65536 bytes" "$T/err"
[ ! -s "$R/block" ]; ok $? "... nothing written"
printf 'ok1.example\nnul.example\000evil.example\n' >"$T/in"
fedlist -c "$R/plain.conf" block add - <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "a NUL byte in a line on stdin: exit 2 ($rc)"
grep_file "... naming the line" "^fedlist: stdin:2: NUL byte" "$T/err"
[ ! -s "$R/block" ]; ok $? "... nothing written"
printf 'block add n1.example\000\nblock add n2.example\n' >"$T/in"
fedlist -c "$R/plain.conf" <"$T/in" >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 2 ]; ok $? "a NUL byte in a command on stdin: exit 2 ($rc)"
grep_file "... reported, not run" "^fedlist: stdin:1: NUL byte in the line: command not run" "$T/err"
[ "$(cat "$R/block")" = "n2.example" ]; ok $? "... the next command runs"

# help and usage mention - and several names.
printf 'help\n' >"$T/in"
given fedlist -c "$R/plain.conf" <"$T/in"
grep_file "help: add takes several names or -" "^block add DOMAIN\.\.\.|- " "$T/given.out"
grep_file "help: - reads names until end of input" "^- reads the names" "$T/given.out"
grep_file "help: the 64-word limit" "At most 64 words" "$T/given.out"
given fedlist -h
grep_file "-h: add domain...|-" "allow add domain\.\.\.|- " "$T/given.out"

# watch ls: a domain on both lists is blocked, not allowed (SPEC 1.5).
rconf "$R/w.conf" "$R/allow" "$R/block" "max_uris = 5"
: >"$R/allow"; : >"$R/block"
sipmsg -n 7 -f sip:h@both.example -r sip:u%d@example.com >"$T/in" &&
given fedgate -c "$R/w.conf" <"$T/in" &&
printf 'both.example\n' >"$R/allow" &&
given fedlist -c "$R/w.conf" index allow	# in force once compiled
expect "watch ls, the partner allow-listed since" fedlist -c "$R/w.conf" watch ls
grep -q '^both.example' "$T/out"; [ $? -ne 0 ]; ok $? "... an allowed partner is not watched"
printf 'both.example\n' >"$R/block" &&
given fedlist -c "$R/w.conf" index block
expect "watch ls, the partner on both lists (a hand edit)" fedlist -c "$R/w.conf" watch ls
grep_file "... is treated as blocked: watched" "^both.example	watch	" "$T/out"
expect "watch ls --json" fedlist -c "$R/w.conf" watch ls --json
grep_file "... max_uris is the limit in force" '"partner":"both.example","state":"watch","uris":6,"max_uris":5,' "$T/out"

# ---- the bash completion completes listed domains ----
need bash
given fl allow add control.example
out=$(bash -c ". '$TOP/completions/bash/fedlist'; COMP_WORDS=(fedlist -c '$T/fed.conf' allow rm con); COMP_CWORD=5; _fedlist; printf '%s\n' \"\${COMPREPLY[@]}\"" | sort | tr '\n' ' ')
[ "$out" = "contoso.com control.example " ]; ok $? "bash completes allow rm con to the listed domains ($out)"
out=$(bash -c ". '$TOP/completions/bash/fedlist'; COMP_WORDS=(fedlist -c '$T/fed.conf' block rm live); COMP_CWORD=5; _fedlist; printf '%s\n' \"\${COMPREPLY[@]}\"")
[ "$out" = "live.example" ]; ok $? "... and block rm to the block list's ($out)"
