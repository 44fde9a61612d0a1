#!/bin/sh
# The verdict log rotated under a running fedgate (logrotate's way: rename,
# then a new file): a connection that outlives the rotation, and a pipe,
# write their next lines to the new file; one removed for good is made
# again.  systemd-socket-activate runs fedgate on plain TCP, socat holds
# the partner's connection open, sipp plays our server; 127.0.0.1 only.
. "${0%/*}/lib.sh"
need sipp systemd-socket-activate socat ss

test_ports 2
GATE=$base UAS=$((base + 1))

mkdir -p "$T/state" "$T/log"
chmod 777 "$T/log" "$T/state"
fedconf "$T/fed.conf" "$T" "verdict_log = $T/log/v.log" "tls = off"
: >"$T/allow"
: >"$T/block"

msg() {	# msg N: one MESSAGE, its own Call-ID
	printf 'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bKrot%s\r\nFrom: <sip:alice@partner.example>;tag=%s\r\nTo: <sip:bob@example.com>\r\nCall-ID: rot-%s-%s@partner\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n' \
	    "$1" "$1" "$$" "$1"
}
lines() {	# lines LOG N: accept lines of request N
	awk -F '\t' -v id="rot-$$-$2@partner" '$6 == "accept" && $9 == id' \
	    "$1" 2>/dev/null | wc -l
}
has() { [ "$(lines "$1" "$2")" -eq 1 ]; }

sipp_server 200; ok $? "sipp plays our server"
spawn systemd-socket-activate -a --inetd -l "127.0.0.1:$GATE" \
    "$B/bin/fedgate" -c "$T/fed.conf" -u "127.0.0.1:$UAS" 2>"$T/gate.err"
wait_for 10 listening "$GATE"; ok $? "fedgate behind systemd-socket-activate"

# -- one connection across two rotations --------------------------------
mkfifo "$T/in"
timeout 60 socat -t 5 - "TCP:127.0.0.1:$GATE" <"$T/in" >"$T/out" 2>/dev/null &
conn=$!
exec 3>"$T/in"
msg 1 >&3
wait_for 10 has "$T/log/v.log" 1; ok $? "the first request is logged"
mv "$T/log/v.log" "$T/log/v.log.1"
: >"$T/log/v.log"
chmod 666 "$T/log/v.log"
sleep 1.5
msg 2 >&3
wait_for 10 has "$T/log/v.log" 2
ok $? "renamed and replaced: the same connection's next line is in the new file"
! has "$T/log/v.log.1" 2; ok $? "... and not in the renamed one"
# Renamed and not replaced: fedgate waits for the new file rather than
# making one that logrotate's `create` would then fail on.
mv "$T/log/v.log" "$T/log/v.log.2"
sleep 1.5
msg 3 >&3
wait_for 10 has "$T/log/v.log.2" 3
ok $? "renamed, no new file yet: the line goes on to the renamed file"
[ ! -e "$T/log/v.log" ]; ok $? "... and fedgate made no file in logrotate's place"
# Removed for good (the renamed file unlinked too): made again.
rm -f "$T/log/v.log.2"
sleep 1.5
msg 4 >&3
wait_for 10 has "$T/log/v.log" 4
ok $? "removed for good: the log is made again and the line is in it"
exec 3>&-
wait "$conn"
n=$(grep -c '^SIP/2.0 200' "$T/out")
[ "$n" -eq 4 ]; ok $? "the partner had its 4 answers on one connection ($n)"
! grep -v -e '^Listening on ' -e '^Communication attempt ' \
    -e '^Connection from ' -e '^Spawned ' -e '^Child .* died' -e '^Execing ' \
    "$T/gate.err"
ok $? "no diagnostic"

# -- pipe mode ----------------------------------------------------------
rm -f "$T/log/"*
mkfifo "$T/pin"
"$B/bin/fedgate" -c "$T/fed.conf" -p 192.0.2.1:5061 <"$T/pin" >/dev/null \
    2>"$T/pipe.err" &
pg=$!
spawned "$pg"
exec 4>"$T/pin"
msg 11 >&4
wait_for 10 has "$T/log/v.log" 11; ok $? "pipe mode: the first line is logged"
mv "$T/log/v.log" "$T/log/v.log.1"
: >"$T/log/v.log"
sleep 1.5
msg 12 >&4
wait_for 10 has "$T/log/v.log" 12
ok $? "pipe mode: after the rotation the next line is in the new file"
exec 4>&-
wait "$pg"; rc=$?
[ "$rc" -eq 0 ]; ok $? "pipe mode ends with 0 ($rc)"
[ ! -s "$T/pipe.err" ]; ok $? "... and no diagnostic"
