# t/lib.sh: TAP helpers for the shell tests.  Source it first:
#   . "${0%/*}/lib.sh"
# Each script gets a scratch directory ($T), removed at exit unless
# FEDKIT_KEEP is set, and finds the tools under $FEDKIT_BUILD (the normal
# or the sanitizer build).

set -u
TOP=$(cd "${0%/*}/.." && pwd)
B=${FEDKIT_BUILD:-.}
case $B in /*) ;; *) B=$TOP/$B ;; esac
SHARED=${FEDKIT_SHARED:-$TOP/../shared}
case $SHARED in /*) ;; *) SHARED=$TOP/$SHARED ;; esac
PATH=$B/bin:$B/t/helper:$PATH
export PATH
unset FEDKIT_CONF
# A scratch directory or nothing: with an empty T every path below
# would land in /.
T=$(mktemp -d "${TMPDIR:-/tmp}/fedkit-t.XXXXXX") && [ -n "$T" ] && [ -d "$T" ] || {
	echo "t/lib.sh: cannot make a scratch directory under ${TMPDIR:-/tmp}" >&2
	exit 1
}
# Run as root (as CI runs), a socket-mode fedgate drops to `user =`
# (fedkit(7) SECURITY; fedkit by default, which `make deps` creates) once
# its files are open, and must still write the watch list beside the
# state: everything a test makes here stays writable for it, as
# /var/lib/fedkit is for fedkit on a real edge.
if [ "$(id -u)" -eq 0 ]; then
	chmod 1777 "$T" && umask 000
fi
_n=0 _failed=0 _cleanups= _spawned=

_t_exit() {
	rc=$?
	for c in $_cleanups; do "$c" || :; done
	stop $_spawned
	[ -n "${FEDKIT_KEEP:-}" ] || rm -rf "$T"
	echo "1..$_n"
	[ "$_failed" -eq 0 ] && [ "$_n" -gt 0 ] && [ "$rc" -eq 0 ]
}
trap '_t_exit' EXIT
trap 'exit 130' INT TERM

# fedconf FILE DIR [KEY=VALUE...]: write FILE, a fed.conf for a fedgate
# of our domain example.com keeping every file under DIR (made here):
# allow_list DIR/allow, block_list DIR/block, state_dir DIR/state,
# verdict_log DIR/log, edge_cache DIR/edges.  Each KEY=VALUE (or
# `KEY = VALUE`) sets KEY: in its default's place, or after them in the
# order given; KEY= leaves KEY out.  A key is written once, as fed.conf
# wants (fed.conf(5): a second setting of a key is an error).
fedconf() {
	_fc=$1 _fd=$2; shift 2
	mkdir -p "$_fd" &&
	printf '%s\n' "local_domains = example.com" "allow_list = $_fd/allow" \
	    "block_list = $_fd/block" "state_dir = $_fd/state" \
	    "verdict_log = $_fd/log" "edge_cache = $_fd/edges" "$@" |
	awk '{	k = $0; sub(/[ \t]*=.*/, "", k)
		v = $0; sub(/^[^=]*=[ \t]*/, "", v)
		if (!(k in val)) key[++n] = k
		val[k] = v }
	END {	for (i = 1; i <= n; i++)
			if (val[key[i]] != "") print key[i] " = " val[key[i]] }' >"$_fc"
}

# gate_conf NAME [KEY=VALUE...]: fedconf $T/NAME.conf $T/NAME, its lists
# there and empty: one of several fedgates a test runs side by side.
gate_conf() {
	_gc=$1; shift
	fedconf "$T/$_gc.conf" "$T/$_gc" "$@" &&
	    : >"$T/$_gc/allow" && : >"$T/$_gc/block"
}

# at_exit FUNC: run FUNC when the script ends (stop peers and the like).
at_exit() { _cleanups="$1 $_cleanups"; }

# Peers in the background.  spawn CMD...: run CMD in the background ($!
# is its pid); every one still running is stopped when the script ends,
# after the at_exit functions.  spawned PID...: count processes started
# otherwise (`... &`) among them: one reading a fifo, say (`spawn CMD
# <FIFO` would open the fifo in the script itself, which then waits for
# a writer that never comes).  stop PID...: stop those now: TERM, and
# CONT for one a test stopped (a stopped process would not even die of
# TERM), then wait for them.  stop_all: stop every one.
spawn() { "$@" & _spawned="$_spawned $!"; }
spawned() { _spawned="$_spawned $*"; }
stop() {
	for _p in "$@"; do kill "$_p" 2>/dev/null; kill -CONT "$_p" 2>/dev/null; done
	for _p in "$@"; do wait "$_p" 2>/dev/null; done
	_left=
	for _p in $_spawned; do
		case " $* " in *" $_p "*) ;; *) _left="$_left $_p" ;; esac
	done
	_spawned=$_left
}
# shellcheck disable=SC2086 # a list of pids, split on purpose
stop_all() { stop $_spawned; }

# fifo_gate FD CONF ERR [FEDGATE-ARG...]: a pipe-mode fedgate that stays
# up between the script's steps: it reads a fifo ($T/gateFD.fifo) the
# script writes on descriptor FD (3 to 9); its output dropped, its
# diagnostics in ERR, its pid in $gate_pid; stopped at exit.
# fifo_gate_end FD PID: close FD, so that the fedgate reaches the end of
# its input; returns its exit status.
fifo_gate() {
	_gf=$1 _gc=$2 _ge=$3; shift 3
	rm -f "$T/gate$_gf.fifo" && mkfifo "$T/gate$_gf.fifo" || return 1
	# Not the script's other descriptors: a second fifo_gate holding the
	# writing end of the first's fifo would keep its end of input away.
	fedgate -c "$_gc" "$@" <"$T/gate$_gf.fifo" >/dev/null 2>"$_ge" \
	    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	gate_pid=$!
	spawned "$gate_pid"
	eval "exec $_gf>\"\$T/gate$_gf.fifo\""
}
fifo_gate_end() {
	eval "exec $1>&-"
	wait "$2"
}

# dnsmasq_start NAME [ADDRESSES]: dnsmasq serving $T/dnsmasq.conf on
# ADDRESSES (127.0.0.1 by default) at a port picked at random, up to 8
# ports tried until fedq resolves NAME through it; sets dns_port (empty
# when none answered) and dns_pid.  Started with spawn; its log in
# $T/dnsmasq.log, its errors in $T/dnsmasq.err.
dnsmasq_start() {
	dns_port='' dns_pid=''
	for _try in 1 2 3 4 5 6 7 8; do
		_p=$(awk -v s="$$$_try" 'BEGIN { srand(s); print 20000 + int(rand() * 30000) }')
		spawn dnsmasq --keep-in-foreground --port="$_p" \
		    --listen-address="${2:-127.0.0.1}" \
		    --bind-interfaces --no-resolv --no-hosts --no-poll \
		    --conf-file="$T/dnsmasq.conf" --log-facility="$T/dnsmasq.log" \
		    --pid-file="$T/dnsmasq.pid" 2>"$T/dnsmasq.err"
		dns_pid=$!
		wait_for 5 fedq -T 100 -s "127.0.0.1:$_p" "$1" && { dns_port=$_p; return 0; }
		stop "$dns_pid"; dns_pid=
	done
	return 1
}

# Verdict logs with known answers, for fedstat.  verdict_line TIME PEER
# PARTNER METHOD URI VERDICT REASON CODE CALLID: one line of the verdict
# log (fedkit(7) FILE FORMATS).  suspect_answers TIME: 20 answers to
# susp.example's requests, 10 of them failures (suspicious by fedgate's
# rule), and 20 failed answers to friend.example's (allow-listed in the
# tests: not judged).
verdict_line() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
suspect_answers() {
	_i=0
	while [ "$_i" -lt 20 ]; do
		_st=200; [ $((_i % 2)) -eq 0 ] && _st=404
		verdict_line "$1" e5:5061 susp.example $_st - observe response - "s$_i"
		verdict_line "$1" e6:5061 friend.example 404 - observe response - "f$_i"
		_i=$((_i + 1))
	done
}

# test_ports N: set base to the first of N ports in a row that nothing
# uses (TCP or UDP, in any state), below the kernel's ephemeral range
# (32768 and up) so never one that a connection of an earlier test (t/0535
# makes 2,000) still holds.  Where the search starts depends on the pid:
# tests run at the same time start apart.  At most 50 tries.
test_ports() {
	need ss
	_tp_try=0
	while :; do
		base=$((20000 + (($$ + _tp_try * 397) % (12000 / $1)) * $1))
		_tp_busy=0 _tp_i=0
		while [ "$_tp_i" -lt "$1" ]; do
			ss -tuanH "sport = :$((base + _tp_i))" | grep -q . && _tp_busy=1
			_tp_i=$((_tp_i + 1))
		done
		{ [ "$_tp_busy" -eq 0 ] || [ "$_tp_try" -ge 50 ]; } && return 0
		_tp_try=$((_tp_try + 1))
	done
}

ok() {	# ok COND-EXIT-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"
	else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# expect DESC CMD...: the command must succeed (its output goes to $T/out,
# $T/err; shown when it fails).
expect() {
	_d=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then ok 0 "$_d"
	else _rc=$?; ok 1 "$_d"; diag "exit $_rc: $*"; diag "$(cat "$T/err")"; fi
}

# given CMD...: a set-up step, for the checks that follow it: CMD must
# succeed (its output goes to $T/given.out, $T/given.err); when it does
# not, a failing test names the step and shows why, so a broken set-up is
# never read as a pass or as the next check's failure.
given() {
	"$@" >"$T/given.out" 2>"$T/given.err" && return 0
	_rc=$?; ok 1 "set-up: $*"; diag "exit $_rc"; diag "$(cat "$T/given.err")"
	return "$_rc"
}

# expect_exit CODE DESC CMD...: the command must exit with CODE.
expect_exit() {
	_c=$1 _d=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; _rc=$?
	if [ "$_rc" -eq "$_c" ]; then ok 0 "$_d"
	else ok 1 "$_d"; diag "exit $_rc, want $_c: $*"; diag "$(cat "$T/err")"; fi
}

# test_cmp EXPECTED ACTUAL: as git's, a step of an &&-chain: the files
# must be identical, else their diff is shown and the step fails.
# cmp_file DESC EXPECTED ACTUAL: the same, reported as a test.
test_cmp() {
	cmp -s "$1" "$2" && return 0
	diag "$(diff -u "$1" "$2" | head -40)"
	return 1
}
cmp_file() {
	if test_cmp "$2" "$3"; then ok 0 "$1"; else ok 1 "$1"; fi
}

# grep_file DESC PATTERN FILE: FILE must contain a line matching PATTERN.
grep_file() {
	if grep -q -e "$2" "$3"; then ok 0 "$1"
	else ok 1 "$1"; diag "no line matches '$2' in:"; diag "$(head -20 "$3")"; fi
}

# need CMD...: fail loudly (never skip) when a peer or tool is missing.
need() {
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 && continue
		ok 1 "required program '$_c' is installed (run: make deps)"
		exit 1
	done
}

# wait_for SECONDS CMD...: poll CMD every 0.05 s, at most SECONDS.
# listening PORT, udp_listening PORT: a socket listens (TCP) or is bound
# (UDP) on that port.  ss exits 0 whether or not one matches: the grep
# decides, so `wait_for 10 listening "$PORT"` really waits.
listening() { ss -ltnH "sport = :$1" | grep -q .; }
udp_listening() { ss -lunH "sport = :$1" | grep -q .; }

# sipp_server CODE [SIPP-ARG...]: sipp plays our server on 127.0.0.1:$UAS
# over TCP, answering every MESSAGE with CODE (t/sipp/uas.xml), its
# output in $T/uas.out; started with spawn, and returns once it listens
# (at most 10 s).
sipp_server() {
	_code=$1; shift
	sed "s/@CODE@/$_code/" "$TOP/t/sipp/uas.xml" >"$T/uas.xml" &&
	spawn sipp -sf "$T/uas.xml" -t t1 -i 127.0.0.1 -p "$UAS" -nostdin "$@" \
	    >"$T/uas.out" 2>&1 &&
	wait_for 10 listening "$UAS"
}

# The tests' PKI, in the directory $P: EC P-256 keys, self-signed CAs and
# certificates they sign.  pki_key NAME; pki_ca NAME; pki_leaf NAME SAN
# [CA]: a certificate for NAME with those subjectAltNames, signed by CA
# (default ca), valid 30 days.
pki_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$P/$1.key" 2>/dev/null
}
pki_ca() {
	pki_key "$1" && openssl req -x509 -new -key "$P/$1.key" \
	    -out "$P/$1.pem" -days 30 -subj "/CN=$1" 2>/dev/null
}
pki_leaf() {
	pki_key "$1" && openssl req -new -key "$P/$1.key" -out "$P/$1.csr" \
	    -subj "/CN=$1" 2>/dev/null &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$2" >"$P/$1.ext" &&
	openssl x509 -req -in "$P/$1.csr" -CA "$P/${3:-ca}.pem" \
	    -CAkey "$P/${3:-ca}.key" -CAcreateserial -days 30 \
	    -extfile "$P/$1.ext" -out "$P/$1.pem" 2>/dev/null
}

wait_for() {
	_end=$(( $1 * 20 )); shift
	_i=0
	while [ "$_i" -lt "$_end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05; _i=$((_i + 1))
	done
	return 1
}

# A Redis for the edge pool's tests (fedkit(7) POOL), on loopback only,
# keeping nothing on disk.  redis_start PORT DIR [EXTRA-ARGS...]: a
# daemonized redis-server on 127.0.0.1:PORT (PORT 0: on the unix socket
# DIR/redis.sock only), its pidfile, log and working directory in DIR;
# returns once it answers PING (PONG, or NOAUTH under --requirepass),
# at most 10 s.  redis_stop DIR [SIGNAL]: stop it (TERM by default), at
# most 10 s; a test registers its own at_exit function calling it.
# Daemonized, so not the test's child: gone is no process, or a zombie
# the machine's init has not reaped yet.
redis_start() {
	_rp=$1 _rd=$2; shift 2
	mkdir -p "$_rd" || return 1
	rm -f "$_rd/redis.pid"
	if [ "$_rp" -eq 0 ]; then
		set -- --port 0 --unixsocket "$_rd/redis.sock" --unixsocketperm 700 "$@"
	else
		set -- --port "$_rp" "$@"
	fi
	# The daemon must not keep a test's descriptors (a fifo's writing
	# end would never see its reader reach end of input).
	redis-server --bind 127.0.0.1 --save '' --appendonly no \
	    --daemonize yes --pidfile "$_rd/redis.pid" \
	    --logfile "$_rd/redis.log" --dir "$_rd" "$@" \
	    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- || return 1
	wait_for 10 redis_answers "$_rp" "$_rd"
}
redis_answers() {	# redis_answers PORT DIR
	if [ "$1" -eq 0 ]; then
		redis-cli -s "$2/redis.sock" ping 2>&1
	else
		redis-cli -h 127.0.0.1 -p "$1" ping 2>&1
	fi | grep -q -e PONG -e NOAUTH
}
redis_gone() {	# redis_gone PID
	case $(ps -o stat= -p "$1" 2>/dev/null) in ''|Z*) return 0 ;; esac
	return 1
}
redis_stop() {
	[ -s "$1/redis.pid" ] || return 0
	_rpid=$(cat "$1/redis.pid")
	kill -"${2:-TERM}" "$_rpid" 2>/dev/null
	wait_for 10 redis_gone "$_rpid" || { kill -KILL "$_rpid" 2>/dev/null; :; }
	rm -f "$1/redis.pid"
}
