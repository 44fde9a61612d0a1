#!/bin/sh
# Every option a tool's usage names is offered by its bash and zsh
# completions, and the bash completion loads and answers.
. "${0%/*}/lib.sh"
need bash

for tool in fedgate fedlist fedstat fedq; do
	cb=$TOP/completions/bash/$tool cz=$TOP/completions/zsh/_$tool
	[ -f "$cb" ] && [ -f "$cz" ]; ok $? "$tool has bash and zsh completions"
	"$tool" -h >"$T/usage" 2>&1
	# Options as the usage lists them: -x and --long.
	grep -o -e '--[a-z][a-z-]*' -e '\[-[a-zA-Z]*\]' -e ' -[a-zA-Z]\b' "$T/usage" |
	    sed 's/^ //; s/^\[-\(.*\)\]$/\1/' | while read -r o; do
		case $o in
		--*) echo "$o" ;;
		*) echo "$o" | sed 's/./-& /g' | tr ' ' '\n' | grep -v '^-$' | grep . ;;
		esac
	done | sort -u >"$T/opts"
	[ -s "$T/opts" ]; ok $? "$tool -h lists options ($(wc -l <"$T/opts"))"
	missing=
	while read -r o; do
		grep -q -e "$o" "$cb" || missing="$missing bash:$o"
		grep -q -e "$o" "$cz" || grep -q -e "{.*${o#-}" "$cz" || missing="$missing zsh:$o"
	done <"$T/opts"
	[ -z "$missing" ]; ok $? "$tool: every option of -h is completed${missing:+ (missing:$missing)}"
	# The bash completion loads and completes the tool's first long
	# option from its first letters.
	long=$(grep -e '^--[a-z]' "$T/opts" | head -1)
	if [ -n "$long" ]; then
		pre=$(printf '%.4s' "$long")
		out=$(bash -c ". '$cb'; COMP_WORDS=($tool $pre); COMP_CWORD=1; _$tool; printf '%s\n' \"\${COMPREPLY[@]}\"")
		printf '%s\n' "$out" | grep -qx -e "$long"
		ok $? "bash completes $tool $pre to $long ($out)"
	fi
done

# --version, the long -V every tool takes, is completed too.
for tool in fedgate fedlist fedstat fedq; do
	cb=$TOP/completions/bash/$tool cz=$TOP/completions/zsh/_$tool
	out=$(bash -c ". '$cb'; COMP_WORDS=($tool --vers); COMP_CWORD=1; _$tool; printf '%s\n' \"\${COMPREPLY[@]}\"")
	[ "$out" = --version ]; ok $? "bash completes $tool --vers to --version ($out)"
	grep -q -e '{-V,--version}' "$cz"; ok $? "zsh offers $tool --version"
done
