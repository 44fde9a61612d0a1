#!/bin/sh
# fedgate on a stream it cannot frame any further (fedgate(8)): one
# `refuse malformed` line in the verdict log, with no partner, no Call-ID
# and code -, and why on standard error (the verdict log has no field for
# it: fedkit(7) Verdict log), in pipe mode and in socket mode.
. "${0%/*}/lib.sh"
need systemd-socket-activate socat ss

test_ports 2
GATE=$base UP=$((base + 1))
LONG=$(head -c 9000 /dev/zero | tr '\0' a)	# over max_line's 8192

# log_tail DIR: the last line of DIR's verdict log, without its time.
log_tail() { tail -n 1 "$1/log" | cut -f 2-; }

# -- pipe mode: the byte where it went wrong, and why ----------------------
fedconf "$T/fed.conf" "$T/s" &&
sipmsg -n 1 -f sip:a@partner.example >"$T/first" &&
{ cat "$T/first"; sipmsg -n 1 -s 1 -f sip:a@partner.example -H "X-Long: $LONG"; } >"$T/in"
expect_exit 2 "pipe mode: a header line over max_line ends the run with exit 2" \
    sh -c 'fedgate -c "$1" <"$2"' - "$T/fed.conf" "$T/in"
printf 'fedgate: stdin: byte %s: header line too long; the rest of the stream cannot be read\n' \
    "$(wc -c <"$T/first")" >"$T/err.want"
cmp_file "... saying where and why on standard error" "$T/err.want" "$T/err"
printf -- '-\t-\t-\t-\trefuse\tmalformed\t-\t-\n' >"$T/line.want"
log_tail "$T/s" >"$T/line"
cmp_file "... and logging refuse malformed, code -, with no partner" \
    "$T/line.want" "$T/line"

head -c 100 "$T/first" >"$T/in"
expect_exit 2 "pipe mode: a message cut short at the end: exit 2" \
    sh -c 'fedgate -c "$1" <"$2"' - "$T/fed.conf" "$T/in"
echo 'fedgate: stdin: byte 0: message cut short at end of input' >"$T/err.want"
cmp_file "... saying where and why on standard error" "$T/err.want" "$T/err"
log_tail "$T/s" >"$T/line"
cmp_file "... and logging refuse malformed, code -, with no partner" \
    "$T/line.want" "$T/line"

# -- socket mode: the peer, and why (our server: a socat that hears all) ---------------------------------------
# (a store of its own: run as root, fedgate drops to `user =` here)
fedconf "$T/fed.conf" "$T/k" "tls = off" &&
spawn socat -u "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr,fork" OPEN:/dev/null &&
wait_for 10 listening "$UP" &&
spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UP" 2>"$T/gate.err" &&
wait_for 10 listening "$GATE" &&
sipmsg -n 1 -f sip:a@partner.example -H "X-Long: $LONG" >"$T/in" &&
timeout 10 socat -t 5 - "TCP:127.0.0.1:$GATE" <"$T/in" >"$T/got" 2>/dev/null &&
wait_for 5 grep -q 'header line too long' "$T/gate.err"
ok $? "socket mode: a header line over max_line closes the connection"
grep_file "... saying why, for the peer, on standard error" \
    '^fedgate: 127\.0\.0\.1:[0-9]*: partner: header line too long; closing$' \
    "$T/gate.err"
printf -- '-\t-\t-\trefuse\tmalformed\t-\t-\n' >"$T/line.want"
log_tail "$T/k" | cut -f 2- >"$T/line"
cmp_file "... and logging refuse malformed, code -, with no partner" \
    "$T/line.want" "$T/line"
log_tail "$T/k" | cut -f 1 | grep -q '^127\.0\.0\.1:[0-9]*$'
ok $? "... under the peer's address"
stop_all
