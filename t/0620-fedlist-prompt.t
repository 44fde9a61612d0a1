#!/bin/sh
# fedlist's prompt, driven through a pseudo-terminal (tmux): completion of
# commands and listed domains, history kept across two runs, an error
# that leaves the prompt alive, ^C that cancels a line (not the prompt).
. "${0%/*}/lib.sh"
need tmux

D=$T/d
fedconf "$T/fed.conf" "$D"
printf 'contoso.com\ncontrol.example\nfabrikam.example\n' >"$D/allow"
HIST=$T/history
# One tmux server (socket) per run: a server being killed may still hold
# its socket when the next one starts.
run=0
SOCK=fedtest-$$-$run
tm() { tmux -L "$SOCK" "$@"; }
stop_tmux() { tm kill-server 2>/dev/null; }
at_exit stop_tmux

# start: a fresh fedlist prompt in a 120x30 terminal.  The pane's shell
# shares fedlist's process group, so ^C reaches it too: it traps INT to
# outlive the ^C cases (a dash would die of it and close the pane; an
# interactive shell puts fedlist in a group of its own).
start() {
	tm kill-server 2>/dev/null
	run=$((run + 1))
	SOCK=fedtest-$$-$run
	tm new-session -d -x 120 -y 30 \
	    "trap : INT; env FEDLIST_HISTORY='$HIST' TERM=xterm '$B/bin/fedlist' -c '$T/fed.conf'; echo EXITED \$?; sleep 30"
	wait_for 5 screen_has '^fedlist>'
}
screen() { tm capture-pane -p -S -100 | sed "s/ *$//"; }
screen_has() { screen | grep -q -e "$1"; }
# The last prompt line: what is being edited now.
cur() { screen | grep '^fedlist>' | tail -1; }
cur_is() { [ "$(cur)" = "$1" ]; }
# completes LINE DESC KEY...: typing KEYs leaves LINE on the prompt.
completes() {
	_cl=$1 _cd=$2; shift 2
	tm send-keys "$@"
	wait_for 3 cur_is "$_cl"; ok $? "$_cd [$(cur)]"
}

start; ok $? "the prompt appears on a terminal"

# ---- completion ----
completes 'fedlist> allow' "Tab completes a command (al -> allow)" 'al' Tab
completes 'fedlist> allow rm' "... a subcommand (r -> rm)" 'r' Tab
completes 'fedlist> allow rm fabrikam.example' \
    "... a listed domain (fa -> fabrikam.example)" 'fa' Tab
tm send-keys C-u 'allow rm cont' Tab Tab
wait_for 3 screen_has 'contoso.com *control.example'; ok $? "... two candidates are both shown"
completes 'fedlist> allow rm control.example' "... and the rest completes" 'ro' Tab
tm send-keys Enter
wait_for 3 screen_has 'allow: 1 removed'; ok $? "the completed command runs"
grep -q control "$D/allow"; [ $? -ne 0 ]; ok $? "... and removed control.example"

# ---- errors keep the prompt ----
tm send-keys 'frobnicate' Enter
wait_for 3 screen_has 'fedlist: frobnicate: unknown command'; ok $? "an unknown command is reported"
tm send-keys 'block add bad_name.example' Enter
wait_for 3 screen_has 'invalid character'; ok $? "an invalid name is reported"
tm send-keys 'block add good.example' Enter
wait_for 3 screen_has 'block: 1 added'; ok $? "... and the prompt goes on taking commands"
grep -q '^good.example$' "$D/block"; ok $? "... which take effect"
tm send-keys 'help' Enter
wait_for 3 screen_has '^watch clear DOMAIN'; ok $? "help lists the commands"
tm send-keys 'check contoso.com' Enter
wait_for 3 screen_has 'contoso.com: accept, rule allowlisted, by the entry contoso.com'
ok $? "check prints a human line on a terminal"
# Keys typed before fedlist reads the names would reach the terminal in
# the prompt's raw mode (no line ends, ^D a mere byte): type them after.
tm send-keys 'block add -' Enter
sleep 0.5
tm send-keys 'dash1.example' Enter
wait_for 3 screen_has '^dash1.example$'
tm send-keys 'dash2.example' Enter
wait_for 3 screen_has '^dash2.example$'
tm send-keys C-d
wait_for 3 screen_has 'block: 2 added'; ok $? "- at the prompt reads names until ^D"
grep -q '^dash2.example$' "$D/block"; ok $? "... which take effect"
tm send-keys 'block rm dash1.example' Enter
wait_for 3 screen_has 'block: 1 removed'; ok $? "... and the prompt goes on after the ^D"
tm send-keys 'quit' Enter
wait_for 3 screen_has '^EXITED 0'; ok $? "quit leaves with exit 0"

# ---- history across two runs ----
[ -s "$HIST" ]; ok $? "the history file is written"
start; ok $? "a second run"
tm send-keys Up
wait_for 3 cur_is 'fedlist> quit'; ok $? "Up recalls the last command of the first run ($(cur))"
tm send-keys Up Up Up Up
wait_for 3 cur_is 'fedlist> help'; ok $? "... and the ones before ($(cur))"
tm send-keys C-u C-d
wait_for 3 screen_has '^EXITED 0'; ok $? "end of input (C-d) leaves too"

# ---- ^C: the line is cancelled, the prompt stays ----
# alive: fedlist still runs in the pane (the shell's child).
alive() { pgrep -x -P "$(tm list-panes -F '#{pane_pid}')" fedlist >/dev/null; }
nprompts() { screen | grep -c '^fedlist>'; }
start; ok $? "a third run"
tm send-keys 'block add ctrlc.example'
wait_for 3 cur_is 'fedlist> block add ctrlc.example'; ok $? "a line typed"
tm send-keys C-c
wait_for 3 cur_is 'fedlist>'; ok $? "^C gives a fresh prompt ($(cur))"
screen_has '^fedlist> block add ctrlc.example^C$'; ok $? "... below the cancelled line, marked ^C"
grep -q ctrlc "$D/block"; [ $? -ne 0 ]; ok $? "... which was not run"
screen_has '^EXITED'; [ $? -ne 0 ] && alive; ok $? "... and fedlist still runs"
tm send-keys 'block add afterc.example' Enter
wait_for 3 screen_has 'block: 1 added'; ok $? "the next command works"
grep -q '^afterc.example$' "$D/block"; ok $? "... and takes effect"
n=$(nprompts)
tm send-keys C-c
wait_for 3 screen_has '^fedlist> ^C$'; ok $? "^C on an empty line"
wait_for 3 eval '[ "$(nprompts)" -gt "$n" ] && cur_is fedlist\>'
ok $? "... gives a fresh prompt too ($(cur))"
alive; ok $? "... and fedlist still runs"
tm send-keys 'block add -' Enter
sleep 0.5
tm send-keys 'halfway.example' Enter
wait_for 3 screen_has '^halfway.example$'
tm send-keys C-c
wait_for 3 screen_has 'fedlist: stdin: interrupted: nothing written'
ok $? "^C while - reads names stops the command"
grep -q halfway "$D/block"; [ $? -ne 0 ]; ok $? "... which writes nothing"
wait_for 3 cur_is 'fedlist>'; ok $? "... and the prompt is back ($(cur))"
tm send-keys 'block add -' Enter
sleep 0.5
tm send-keys 'second.example' Enter
wait_for 3 screen_has '^second.example$'
tm send-keys C-d
wait_for 3 grep -q '^second.example$' "$D/block"; ok $? "... and the next - reads afresh"
grep -q ctrlc "$HIST"; [ $? -ne 0 ] && grep -q afterc "$HIST"
ok $? "a cancelled line is not kept in the history"
tm send-keys C-u C-d
wait_for 3 screen_has '^EXITED 0'; ok $? "then ^D on an empty line leaves with exit 0"
