#!/bin/sh
# fedgate's partner state stays bounded and usable (fedkit(7), STATE):
# every legal domain, the caps on partners and on new partners a peer may
# bring, minted domains, the plain-text watch list, an old state
# directory, and files left usable by fedgate's user when root edits.
. "${0%/*}/lib.sh"

need mdb_stat setpriv

# gate NAME [fedgate args]: fedgate on $T/in.
gate() {
	_m=$1; shift
	fedgate -c "$T/$_m.conf" "$@" <"$T/in" >"$T/out" 2>"$T/err"
}
count() {
	awk -F '\t' -v v="$2" -v r="${3:-}" \
	    '$6 == v && (r == "" || $7 == r) { n++ } END { print n + 0 }' \
	    "$T/$1/log"
}
entries() {
	mdb_stat -n -s "$2" "$T/$1/state/counters.mdb" |
	    awk '$1 == "Entries:" { print $2 }'
}

# ---- every legal domain: 253 octets ----
gate_conf long
L63=$(printf '%063d' 0 | tr 0 a)
D253="$L63.$L63.$L63.$(printf '%061d' 0 | tr 0 b)"
[ ${#D253} -eq 253 ]; ok $? "the test domain has 253 octets (${#D253})"
sipmsg -n 3 -f "sip:p@$D253" -r 'sip:u%d@example.com' -R 404 >"$T/in"
gate long; ok $? "a 253-octet From domain: exit 0"
[ "$(count long accept discovered)" -eq 3 ]; ok $? "... its requests are accepted"
[ "$(awk -F '\t' -v d="$D253" '$3 == d' "$T/long/log" | wc -l)" -eq 6 ]
ok $? "... and logged under its whole name (requests and responses)"
[ "$(entries long partners)" -eq 1 ]; ok $? "... with state in the store"
expect "fedlist check knows it" fedlist -c "$T/long.conf" check "$D253"
sipmsg -n 1 -f "sip:p@x$D253" >"$T/in"
gate long; ok $? "a 254-octet one: exit 0, no crash"
[ "$(count long refuse spoof)" -eq 1 ]; ok $? "... refused: no partner domain"

# ---- new partners a peer may bring (max_new_partners) ----
gate_conf newp "max_new_partners = 5"
sipmsg -n 8 -f 'sip:x@m%d.example' >"$T/in"
gate newp --peer 192.0.2.66:5061; ok $? "8 new domains over one peer: exit 0"
[ "$(count newp accept discovered)" -eq 5 ]; ok $? "... the first 5 are accepted"
grep -c '	refuse	new_partners	403	' "$T/newp/log" >"$T/got"
echo 3 >"$T/want"
cmp_file "... the other 3 are refused new_partners, 403" "$T/want" "$T/got"
sipmsg -n 1 -s 100 -f 'sip:x@m0.example' >"$T/in"
gate newp --peer 192.0.2.66:5061
[ "$(count newp accept discovered)" -eq 6 ]; ok $? "a partner it already brought still passes"
sipmsg -n 1 -f 'sip:x@other%d.example' >"$T/in"
gate newp --peer 192.0.2.66:40000
[ "$(count newp refuse new_partners)" -eq 4 ]; ok $? "another port of the same host counts as the same peer"
sipmsg -n 1 -f 'sip:x@partner.example' >"$T/in"
gate newp --peer 198.51.100.7:5061
[ "$(count newp accept discovered)" -eq 7 ]; ok $? "another peer may still bring a new partner"
[ "$(entries newp partners)" -eq 6 ]; ok $? "refused domains got no state ($(entries newp partners) partners)"
fedlist -c "$T/newp.conf" check -p 192.0.2.66:5061 brandnew.example >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q '^brandnew\.example	refuse	new_partners	403	' "$T/out"
ok $? "fedlist check says so for that peer, by fedgate's code"
fedlist -c "$T/newp.conf" check -p 198.51.100.9:5061 brandnew.example >"$T/out" 2>"$T/err" &&
grep -q '^brandnew\.example	accept	discovered	' "$T/out"
ok $? "... and accepts it from another peer"
[ "$(entries newp partners)" -eq 6 ]; ok $? "... changing nothing in the store"

# ---- a running fedgate takes up a changed max_new_partners ----
gate_conf live "max_new_partners = 1"
fifo_gate 7 "$T/live.conf" "$T/live.err" --peer 192.0.2.77:5061
sipmsg -n 2 -f 'sip:x@live%d.example' >&7
wait_for 5 grep -q 'live1.example.*refuse	new_partners' "$T/live/log"
ok $? "max_new_partners = 1: the second new domain is refused"
sed 's/^max_new_partners = 1$/max_new_partners = 5/' "$T/live.conf" >"$T/live.new" &&
    mv "$T/live.new" "$T/live.conf"
sleep 1.2
sipmsg -n 1 -s 2 -f 'sip:x@live%d.example' >&7
wait_for 5 grep -q 'live2.example.*accept	discovered' "$T/live/log"
ok $? "raised to 5 in fed.conf: the same process accepts the next one"
fifo_gate_end 7 "$gate_pid"; ok $? "... and exits 0 at end of input"

# ---- the total cap (max_partners) ----
gate_conf cap "max_partners = 20"
i=0
while [ "$i" -lt 30 ]; do
	sipmsg -n 1 -f "sip:x@c$i.example" >"$T/in"
	gate cap --peer "192.0.2.$i:5061" || break
	i=$((i + 1))
done
[ "$i" -eq 30 ]; ok $? "30 partners over 30 peers: every run exits 0"
n=$(entries cap partners)
[ "$n" -le 20 ]; ok $? "never more than max_partners held ($n)"
[ "$(count cap accept discovered)" -eq 30 ]; ok $? "... the oldest made room: all 30 accepted"

# ---- minted domains over one peer ----
gate_conf mint
sipmsg -n 20000 -f 'sip:x@mint%d.example' >"$T/in"
gate mint --peer 192.0.2.99:5061; ok $? "20,000 minted domains over one peer: exit 0"
a=$(count mint accept discovered) r=$(count mint refuse new_partners)
[ "$a" -eq 1000 ] && [ "$r" -eq 19000 ]
ok $? "max_new_partners (1,000) admits 1,000, refuses 19,000 new_partners ($a, $r)"
kb=$(du -k "$T/mint/state/counters.mdb" | cut -f1)
[ "$kb" -lt 4096 ]; ok $? "the store stays small ($kb KB)"
sipmsg -n 1 -f 'sip:alice@partner.example' >"$T/in"
gate mint --peer 198.51.100.7:5061
[ "$(tail -1 "$T/mint/log" | cut -f 6,7)" = "$(printf 'accept\tdiscovered')" ]
ok $? "a legitimate partner from another edge is still accepted"

# ---- the watch list is a plain-text file ----
gate_conf w "max_uris = 3"
sipmsg -n 4 -f 'sip:h@harvest.example' -r 'sip:u%d@example.com' >"$T/in"
gate w
[ "$(count w refuse watch)" -eq 1 ]; ok $? "the 4th distinct URI: watch"
grep_file "fedgate wrote the watch list" '^harvest\.example	20[-0-9]*T[0-9:.]*Z	max_uris$' "$T/w/state/watch"
printf 'hand.example\t2026-01-01T00:00:00.000Z\toperator\n' >>"$T/w/state/watch"
sipmsg -n 1 -f 'sip:h@hand.example' >"$T/in"
gate w
[ "$(tail -1 "$T/w/log" | cut -f 6,7)" = "$(printf 'refuse\twatch')" ]
ok $? "a line an operator adds by hand is a watch"
grep -v '^harvest' "$T/w/state/watch" >"$T/wl" && cat "$T/wl" >"$T/w/state/watch"
sleep 5.5	# the store's own mark of a new watch lasts 5 s (state.h)
sipmsg -n 1 -s 50 -f 'sip:h@harvest.example' -r 'sip:u%d@example.com' >"$T/in"
gate w
[ "$(tail -1 "$T/w/log" | cut -f 6,7)" = "$(printf 'accept\tdiscovered')" ]
ok $? "a line removed by hand lifts the watch"
printf 'bad line here\n' >>"$T/w/state/watch"
gate w; ok $? "a bad line in the watch list does not stop fedgate"
grep_file "... it names file and line" 'watch:[0-9]*:' "$T/err"

# ---- a store left unreadable (an operating-system crash between flushes) ----
head -c 65536 /dev/urandom | dd of="$T/w/state/counters.mdb" conv=notrunc 2>/dev/null
sipmsg -n 1 -s 70 -f 'sip:h@hand.example' -r 'sip:u%d@example.com' >"$T/in"
gate w; ok $? "an unreadable store: fedgate goes on (exit 0)"
grep_file "... saying it was moved aside" 'counters.mdb was unreadable.*moved aside' "$T/err"
ls "$T/w/state"/counters.mdb.bad-* >/dev/null 2>&1; ok $? "... where it can be looked at"
[ "$(tail -1 "$T/w/log" | cut -f 6,7)" = "$(printf 'refuse\twatch')" ]
ok $? "... and the watch list, a file of its own, still holds"
mdb_stat -n -a "$T/w/state/counters.mdb" >/dev/null; ok $? "... on a fresh store"

# ---- an old (version 1) state directory ----
gate_conf old
mkdir -p "$T/old/state/partners" "$T/old/state/locks"
echo 'fedkit-state 1' >"$T/old/state/format"
sipmsg -n 1 >"$T/in"
gate old
[ $? -eq 3 ]; ok $? "a version 1 state directory is refused (exit 3)"
grep_file "... saying what it is and what to do" 'version 1 (a file per partner).*move' "$T/err"

# ---- root leaves files fedgate's user can use ----
if [ "$(id -u)" -ne 0 ]; then
	ok 1 "ownership: this part needs root (CI runs as root)"
else
	gate_conf own "max_uris = 2"
	sipmsg -n 3 -f 'sip:h@own.example' -r 'sip:u%d@example.com' >"$T/in"
	chown -R 4242:4242 "$T/own" && chmod 755 "$T" &&
	    setpriv --reuid 4242 --regid 4242 --clear-groups \
	    fedgate -c "$T/own.conf" <"$T/in" >/dev/null 2>"$T/err"
	ok $? "fedgate as uid 4242 watches a harvester"
	expect "fedlist watch clear as root" fedlist -c "$T/own.conf" watch clear own.example
	bad=$(find "$T/own" ! -uid 4242 | wc -l)
	[ "$bad" -eq 0 ]; ok $? "every file under the state directory is still 4242's ($bad are not)"
	find "$T/own" ! -uid 4242 | sed 's/^/# /'
	sipmsg -n 1 -s 10 -f 'sip:h@own.example' -r 'sip:u%d@example.com' >"$T/in"
	setpriv --reuid 4242 --regid 4242 --clear-groups \
	    fedgate -c "$T/own.conf" <"$T/in" >/dev/null 2>"$T/err"
	ok $? "fedgate as 4242 goes on after root's clear"
	[ "$(tail -1 "$T/own/log" | cut -f 6,7)" = "$(printf 'accept\tdiscovered')" ]
	ok $? "... and the cleared partner is accepted again"
	gate_conf fresh
	fedlist -c "$T/fresh.conf" watch clear nobody.example >"$T/out" 2>&1
	[ $? -eq 1 ] && [ ! -e "$T/fresh/state" ]
	ok $? "fedlist watch clear as root creates no state directory (fedgate's user makes it)"
fi

