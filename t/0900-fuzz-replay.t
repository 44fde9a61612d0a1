#!/bin/sh
# Replay the RFC torture corpora and every saved crasher through the fuzz
# entry points (built without libFuzzer, with the sanitizers in the ASan run).
# The whole-pipeline targets (pipe, relay) make their scratch state
# directory under TMPDIR: here, under this test's scratch directory.
. "${0%/*}/lib.sh"

corpus=$(ls "$SHARED"/corpus/rfc4475/*.sip "$SHARED"/corpus/rfc5118/*.sip 2>/dev/null)
n=$(printf '%s\n' $corpus | grep -c .)
[ "$n" -eq 61 ]; ok $? "the RFC corpora hold 61 messages ($n found under $SHARED)"

for r in "$B"/fuzz/replay_*; do
	[ -x "$r" ] || continue
	name=${r##*/replay_}
	set -- $corpus
	for c in "$TOP"/fuzz/crashers/"$name"-* "$TOP"/fuzz/seeds/"$name"/*; do
		[ -f "$c" ] && set -- "$@" "$c"
	done
	expect "fuzz target $name replays $# inputs without a crash" \
	    env TMPDIR="$T" "$r" "$@"
	grep_file "fuzz target $name ran every input" "^$#\$" "$T/out"
done
[ -n "$(ls "$B"/fuzz/replay_* 2>/dev/null)" ]; ok $? "fuzz replay programs were built"

# The whole-pipeline targets: built, seeded (the demo traffic, the RFC
# corpora, hostile peers), and tidy (their scratch world goes at exit).
for name in pipe relay; do
	s=$(ls "$TOP/fuzz/seeds/$name" 2>/dev/null | grep -c .)
	[ -x "$B/fuzz/replay_$name" ] && [ "$s" -ge 20 ]
	ok $? "fuzz target $name was built and has seeds ($s)"
done
[ -z "$(ls -d "$T"/fedkit-fuzz.* 2>/dev/null)" ]
ok $? "the whole-pipeline targets removed their scratch state directories"
