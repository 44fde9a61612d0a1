#!/bin/sh
# fedlist's prompt, driven through a pseudo-terminal (tmux): completion of
# commands and listed domains, history kept across two runs, an error
# that leaves the prompt alive.
. "${0%/*}/lib.sh"
need tmux

D=$T/d
scratch_conf "$D"
printf 'contoso.com\ncontrol.example\nfabrikam.example\n' >"$D/allow"
HIST=$T/history
# One tmux server (socket) per run: a server being killed may still hold
# its socket when the next one starts.
run=0
SOCK=fedtest-$$-$run
tm() { tmux -L "$SOCK" "$@"; }
stop_tmux() { tm kill-server 2>/dev/null; }
at_exit stop_tmux

# start: a fresh fedlist prompt in a 120x30 terminal.
start() {
	tm kill-server 2>/dev/null
	run=$((run + 1))
	SOCK=fedtest-$$-$run
	tm new-session -d -x 120 -y 30 \
	    "env FEDLIST_HISTORY='$HIST' TERM=xterm '$B/bin/fedlist' -c '$T/fed.conf'; echo EXITED \$?; sleep 30"
	wait_for 5 screen_has '^fedlist>'
}
screen() { tm capture-pane -p -S -100 | sed "s/ *$//"; }
screen_has() { screen | grep -q -e "$1"; }
# The last prompt line: what is being edited now.
cur() { screen | grep '^fedlist>' | tail -1; }
cur_is() { [ "$(cur)" = "$1" ]; }

start; ok $? "the prompt appears on a terminal"

# ---- completion ----
tm send-keys 'al' Tab
wait_for 3 cur_is 'fedlist> allow'; ok $? "Tab completes a command (al -> allow) [$(cur)]"
tm send-keys 'r' Tab
wait_for 3 cur_is 'fedlist> allow rm'; ok $? "... a subcommand (r -> rm) [$(cur)]"
tm send-keys 'fa' Tab
wait_for 3 cur_is 'fedlist> allow rm fabrikam.example'; ok $? "... a listed domain (fa -> fabrikam.example) [$(cur)]"
tm send-keys C-u 'allow rm cont' Tab Tab
wait_for 3 screen_has 'contoso.com *control.example'; ok $? "... two candidates are both shown"
tm send-keys 'ro' Tab
wait_for 3 cur_is 'fedlist> allow rm control.example'; ok $? "... and the rest completes ($(cur))"
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
