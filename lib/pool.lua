#!lua
-- pool.lua: the partner state of an edge pool, kept in Redis (fedkit(7) POOL).
--
-- One script, loaded once (SCRIPT LOAD) and run by its SHA (EVALSHA): a
-- decision is one call, and Redis runs a script whole, so the processes of
-- every host in the pool decide one after another, never in between.  It
-- does what the local store's decide_in (state.c) does, with the same
-- arithmetic (staterec.c); t/unit/0262 runs both stores on the same
-- requests and compares every decision.
--
-- Keys, all under one hash tag ({fedkit}) so that they live on one node:
--   P   ..p:DOMAIN   hash t (GCRA tat, us), r (its rate), n (distinct URIs
--                    when last counted), s (suspicious since, ms), l (last
--                    seen, ms), o (first seen of its oldest URI, ms)
--   U   ..u:DOMAIN   sorted set: keyed hash of a URI -> first seen, ms
--   R   ..r:DOMAIN   hash o<slot>, f<slot>: responses per report_period/12
--   PE  ..e:DOMAIN   sorted set: peer -> last seen, ms (the newest 4)
--   N   ..n:PEER     hash w (window start, ms), c (new partners in it)
--   ..idle, ..held   sorted sets: partner -> last seen, s (held: watched
--                    or suspicious, never dropped to make room)
--   ..peers          sorted set: peer -> last seen, s
--   ..watch          hash: watched partner -> since, ms (the pool's watch
--                    list: every host sees a watch the moment it starts)
-- A partner's keys expire report_period after it was last seen; a watch
-- lasts until it is cleared or watch_expire passes.

local cmd = ARGV[1]
local pre = ARGV[2]
local SLOTS = 12
local PEERS = 4
local URIS_MAX = 100000
local SLACK = 1000000

local function num(v)
	if v == false or v == nil then return 0 end
	return tonumber(v) or 0
end

-- ---- GCRA, as staterec.c ----

local function interval(rate)
	if rate == 0 then rate = 1 end
	local t = math.floor(1000000 / rate)
	if t < 1 then t = 1 end
	return t
end

local function tat_at(tat, oldrate, now, rate)
	local t = interval(rate)
	local tau = (rate > 0 and rate - 1 or 0) * t
	if tat == 0 then return now end
	if oldrate ~= 0 and oldrate ~= rate then
		local to = interval(oldrate)
		local tauo = (oldrate - 1) * to
		local credit = now + tauo + to - math.max(tat, now)
		local cn = credit / to * t
		if cn < 0 then cn = 0 end
		if cn > tau + t then cn = tau + t end
		-- C truncates toward zero; cn is not negative here
		tat = now + tau + t - math.floor(cn)
	end
	if tat < now then tat = now end
	if tat > now + tau + t + SLACK then tat = now + tau + t end
	return tat
end

-- ---- responses ----

local function slot_ms(period)
	local len = math.floor(period * 1000 / SLOTS)
	if len < 1 then len = 1 end
	return len
end

-- Successes and failures within the report period.
local function responses(R, now, period)
	local cur = math.floor(now / slot_ms(period))
	local all = redis.call('HGETALL', R)
	local ok, fail = 0, 0
	for i = 1, #all, 2 do
		local n = tonumber(string.sub(all[i], 2))
		if n ~= nil and cur - n >= 0 and cur - n < SLOTS then
			if string.sub(all[i], 1, 1) == 'o' then
				ok = ok + num(all[i + 1])
			else
				fail = fail + num(all[i + 1])
			end
		end
	end
	return ok, fail
end

-- policy_suspicious, in millionths
local function suspicious(ok, fail, min, share_u)
	if ok + fail < min or ok + fail == 0 then return false end
	return fail * 1000000 >= share_u * (ok + fail)
end

-- ---- partners ----

local function keys_of(domain)
	return pre .. 'p:' .. domain, pre .. 'u:' .. domain,
	    pre .. 'r:' .. domain, pre .. 'e:' .. domain
end

local function partner_del(domain)
	local P, U, R, PE = keys_of(domain)
	redis.call('DEL', P, U, R, PE)
	redis.call('ZREM', pre .. 'idle', domain)
	redis.call('ZREM', pre .. 'held', domain)
end

-- Make room: the partner idle longest goes (held ones never do).
local function evict_one()
	local old = redis.call('ZRANGE', pre .. 'idle', 0, 0)
	if #old == 0 then return false end
	partner_del(old[1])
	return true
end

local function partners()
	return redis.call('ZCARD', pre .. 'idle') +
	    redis.call('ZCARD', pre .. 'held')
end

-- Keep the index entry (idle or held) and the keys' lifetime.
local function touch(domain, held, now, period)
	local P, U, R, PE = keys_of(domain)
	local s = math.floor(now / 1000)
	if held then
		redis.call('ZADD', pre .. 'held', s, domain)
		redis.call('ZREM', pre .. 'idle', domain)
	else
		redis.call('ZADD', pre .. 'idle', s, domain)
		redis.call('ZREM', pre .. 'held', domain)
	end
	local ms = period * 1000
	redis.call('PEXPIRE', P, ms)
	redis.call('PEXPIRE', U, ms)
	redis.call('PEXPIRE', R, ms)
	redis.call('PEXPIRE', PE, ms)
end

-- ---- the decision ----
-- One request: a (now domain h discovered uris_limited max_uris rate
-- file_watched peer peer_key) and c, the configuration (period
-- max_partners max_new smin sshare_u srate wexpire).  A dry run
-- (fedgate -n, fedlist check) never comes here: it pulls the partner
-- into a private store of its own (pull, below) and decides there.
-- Returns {watched, distinct_uris, uri_new, suspicious, token,
--          new_refused, watch_now, uri_cap}.
local function decide(a, c)
	local now = tonumber(a[1])
	local domain = a[2]
	local h = a[3]
	local discovered = a[4] == '1'
	local uris_limited = a[5] == '1'
	local max_uris = tonumber(a[6])
	local qrate = tonumber(a[7])
	local file_watched = a[8] == '1'
	local peer = a[9]
	local peer_key = a[10]
	local period = tonumber(c[1])
	local max_partners = tonumber(c[2])
	local max_new = tonumber(c[3])
	local smin = tonumber(c[4])
	local sshare = tonumber(c[5])
	local srate = tonumber(c[6])
	local wexpire = tonumber(c[7])
	local P, U, R, PE = keys_of(domain)
	local W = pre .. 'watch'
	local fresh = false

	-- The pool's watch: lapsed after watch_expire, the partner starts
	-- again, as after a clear.
	local wsince = redis.call('HGET', W, domain)
	local pool_watched = wsince ~= false
	local was_watched = pool_watched
	if pool_watched and wexpire > 0 and
	    now - num(wsince) >= wexpire * 1000 then
		pool_watched = false
		redis.call('HDEL', W, domain)
		redis.call('DEL', U, R)
		redis.call('HSET', P, 'n', 0, 's', 0, 'o', 0)
	end
	local watched = file_watched or pool_watched

	local rec = redis.call('HMGET', P, 't', 'r', 'n', 's', 'l', 'o')
	local tat, rrate, n, susp, last, oldest = num(rec[1]), num(rec[2]),
	    num(rec[3]), num(rec[4]), num(rec[5]), num(rec[6])
	if rec[5] == false then
		if watched then
			-- nothing is kept for a watched partner
			return {1, 0, 1, 0, 1, 0, 0, 0}
		end
		-- The peer's quota first, then room; the quota is spent
		-- only on a partner that gets state.
		local counted = discovered and peer_key ~= ''
		local N = pre .. 'n:' .. peer_key
		local w, c = 0, 0
		local refused = false
		if counted then
			local pr = redis.call('HMGET', N, 'w', 'c')
			w, c = num(pr[1]), num(pr[2])
			if now - w >= period * 1000 or now < w then
				w, c = now, 0
			end
			refused = c >= max_new
		end
		if not refused and partners() >= max_partners then
			refused = not evict_one()
		end
		if refused then
			return {0, 0, 1, 0, 1, 1, 0, 0}
		end
		if counted then
			local PK = pre .. 'peers'
			if redis.call('ZSCORE', PK, peer_key) == false and
			    redis.call('ZCARD', PK) >= max_partners then
				local o = redis.call('ZPOPMIN', PK)
				if #o > 0 then
					redis.call('DEL', pre .. 'n:' .. o[1])
				end
			end
			redis.call('HSET', N, 'w', w, 'c', c + 1)
			redis.call('PEXPIRE', N, period * 1000)
			redis.call('ZADD', PK, math.floor(now / 1000), peer_key)
		end
		fresh = true
	end

	if not watched and n > 0 and
	    oldest < now - period * 1000 - math.floor(period * 1000 / SLOTS) then
		-- as uris_expire: only once the oldest is a slot past due, so
		-- a set is walked a dozen times a period, not every request
		local cut = now - period * 1000
		redis.call('ZREMRANGEBYSCORE', U, '-inf', '(' .. cut)
		n = redis.call('ZCARD', U)
		local first = redis.call('ZRANGE', U, 0, 0, 'WITHSCORES')
		oldest = #first == 2 and tonumber(first[2]) or 0
	end
	-- Under an allow entry's own max_uris a partner is watched while it
	-- is over that limit, so raising the limit lifts it (policy.c's
	-- policy_watch_holds: the local engine's formula, fact for fact).
	local fw = watched and (discovered or (uris_limited and n >= max_uris))
	local uri_new = false
	if uris_limited and not fw then
		uri_new = redis.call('ZSCORE', U, h) == false
	end
	local fs = false
	if discovered then
		local ok, fail = responses(R, now, period)
		fs = suspicious(ok, fail, smin, sshare)
	end
	local rate = fs and srate or qrate
	local T = interval(rate)
	local tau = (rate > 0 and rate - 1 or 0) * T
	local nowu = now * 1000
	-- suspicion began or ended: the bucket changes rate now
	if not (rate == 0 or tat == 0 or
	    (rrate == rate and tat <= nowu + tau + T + SLACK)) then
		tat = tat_at(tat, rrate, nowu, rate)
		rrate = rate
	end
	local token = rate == 0 or tat_at(tat, rrate, nowu, rate) - nowu <= tau

	-- policy_decide's rules from `watch` on (policy.c)
	local refuse_watch, watch_now, accept = false, false, false
	if uris_limited and fw then
		refuse_watch = true
	elseif uris_limited and uri_new and n >= max_uris then
		refuse_watch, watch_now = true, true
	elseif rate > 0 and not token then
		accept = false
	else
		accept = true
	end

	local cap = false
	local n0 = n
	if uris_limited and uri_new and (not refuse_watch or watch_now) then
		if n >= URIS_MAX then
			-- what cannot be counted cannot be let in
			cap, accept, refuse_watch = true, false, true
			watch_now = not watched
		else
			redis.call('ZADD', U, now, h)
			if n == 0 or now < oldest then oldest = now end
			n = n + 1
		end
	end
	local facts = {fw and 1 or 0, n0, uri_new and 1 or 0, fs and 1 or 0,
	    token and 1 or 0, 0, watch_now and 1 or 0, cap and 1 or 0}
	if watch_now then
		redis.call('HSET', W, domain, now)
		pool_watched = true
		-- nothing more is kept for a watched discovered partner: the
		-- count it was watched at stays (`fedlist watch ls`)
		if discovered then
			redis.call('DEL', U)
			oldest = 0
		end
	end
	if accept and rate > 0 then
		tat = tat_at(tat, rrate, nowu, rate) + T
		rrate = rate
	end
	local snew = susp
	if fs ~= (susp ~= 0) then snew = fs and now or 0 end
	local held_before = susp ~= 0 or was_watched
	local held = snew ~= 0 or pool_watched
	if peer ~= '' then
		local seen = redis.call('ZSCORE', PE, peer)
		if seen == false or now - num(seen) >= 60000 then
			redis.call('ZADD', PE, now, peer)
			redis.call('ZREMRANGEBYRANK', PE, 0, -(PEERS + 1))
		end
	end
	local newlast = last
	if fresh or math.floor(last / 1000) ~= math.floor(now / 1000) then
		newlast = now
	end
	local counted_n = n
	if fresh or tat ~= num(rec[1]) or rrate ~= num(rec[2]) or
	    counted_n ~= num(rec[3]) or snew ~= susp or newlast ~= last or
	    oldest ~= num(rec[6]) then
		redis.call('HSET', P, 't', tat, 'r', rrate, 'n', counted_n,
		    's', snew, 'l', newlast, 'o', oldest)
	end
	if fresh or newlast ~= last or held ~= held_before then
		touch(domain, held, newlast, period)
	end
	return facts
end

-- ---- responses, batched (at most one call a second a process) ----
-- ARGV: cmd pre period suspect_min suspect_share_u, then for each:
--       domain now ok fail.  A response never creates a partner.
local function respond()
	local period = tonumber(ARGV[3])
	local smin = tonumber(ARGV[4])
	local sshare = tonumber(ARGV[5])
	local i = 6
	while i + 3 <= #ARGV do
		local domain, now = ARGV[i], tonumber(ARGV[i + 1])
		local nok, nfail = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
		local P, U, R = keys_of(domain)
		local rec = redis.call('HMGET', P, 's', 'l')
		if rec[2] ~= false then
			local slot = math.floor(now / slot_ms(period))
			if nok > 0 then redis.call('HINCRBY', R, 'o' .. slot, nok) end
			if nfail > 0 then redis.call('HINCRBY', R, 'f' .. slot, nfail) end
			redis.call('PEXPIRE', R, period * 1000)
			-- old slots go
			if redis.call('HLEN', R) > 2 * (SLOTS + 1) then
				local all = redis.call('HKEYS', R)
				for _, k in ipairs(all) do
					local sn = tonumber(string.sub(k, 2))
					if sn == nil or slot - sn >= SLOTS then
						redis.call('HDEL', R, k)
					end
				end
			end
			local ok, fail = responses(R, now, period)
			local was = num(rec[1])
			local s = was
			if suspicious(ok, fail, smin, sshare) ~= (was ~= 0) then
				s = was ~= 0 and 0 or now
			end
			-- another host may have seen it later than this batch
			local last = num(rec[2])
			local l = math.max(last, now)
			if s ~= was or l ~= last then
				redis.call('HSET', P, 's', s, 'l', l)
			end
			-- the index and the keys' lifetime move by the second
			if (s ~= 0) ~= (was ~= 0) or
			    math.floor(l / 1000) ~= math.floor(last / 1000) then
				touch(domain, s ~= 0 or redis.call('HEXISTS',
				    pre .. 'watch', domain) == 1, l, period)
			end
		end
		i = i + 4
	end
	return 0
end

-- A partner's record as the C side reads it: {found, t, r, n, s, l, o,
-- watch since (0: none, or lapsed after wexpire s)}.
local function record(domain, wexpire)
	local P = keys_of(domain)
	local rec = redis.call('HMGET', P, 't', 'r', 'n', 's', 'l', 'o')
	local w = redis.call('HGET', pre .. 'watch', domain)
	local now = tonumber(ARGV[3])
	if w ~= false and wexpire > 0 and now - num(w) >= wexpire * 1000 then
		w = false
	end
	return {rec[5] ~= false and 1 or 0, num(rec[1]), num(rec[2]),
	    num(rec[3]), num(rec[4]), num(rec[5]), num(rec[6]), num(w)}
end

-- A dry run's copy of one partner (and its peer's count of new
-- partners), to decide on privately: ARGV cmd pre now period domain
-- peer_key watch_expire.  Returns {found, t, r, n, s, l, o, watch since,
-- {slot, ok, fail ...}, {URI hash, first seen ...}, {peer, ms ...},
-- {window, count}}.
local function pull()
	local now, period = tonumber(ARGV[3]), tonumber(ARGV[4])
	local domain, peer_key, wexpire = ARGV[5], ARGV[6], tonumber(ARGV[7])
	local P, U, R, PE = keys_of(domain)
	local out = record(domain, wexpire)
	local cur = math.floor(now / slot_ms(period))
	local by, slots = {}, {}
	local all = redis.call('HGETALL', R)
	for i = 1, #all, 2 do
		local n = tonumber(string.sub(all[i], 2))
		if n ~= nil and cur - n >= 0 and cur - n < SLOTS then
			by[n] = by[n] or {0, 0}
			local k = string.sub(all[i], 1, 1) == 'o' and 1 or 2
			by[n][k] = num(all[i + 1])
		end
	end
	for n, c in pairs(by) do
		slots[#slots + 1] = n
		slots[#slots + 1] = c[1]
		slots[#slots + 1] = c[2]
	end
	local nq = {0, 0}
	if peer_key ~= '' then
		local q = redis.call('HMGET', pre .. 'n:' .. peer_key, 'w', 'c')
		nq = {num(q[1]), num(q[2])}
	end
	out[9] = slots
	out[10] = redis.call('ZRANGE', U, 0, -1, 'WITHSCORES')
	out[11] = redis.call('ZREVRANGE', PE, 0, PEERS - 1, 'WITHSCORES')
	out[12] = nq
	return out
end

-- ---- listing ----
-- ARGV: cmd pre now period domain.  Returns {found, t, r, n, s, l,
-- watch since, ok, fail, peer, ms, peer, ms, ...}.
local function view()
	local now = tonumber(ARGV[3])
	local period = tonumber(ARGV[4])
	local domain = ARGV[5]
	local P, U, R, PE = keys_of(domain)
	local out = record(domain, 0)
	if out[1] == 0 and out[8] == 0 then return {0} end
	local ok, fail = responses(R, now, period)
	out[9], out[10] = ok, fail
	out[11] = redis.call('ZREVRANGE', PE, 0, PEERS - 1, 'WITHSCORES')
	return out
end

-- Every partner with state or a watch, in no order.
local function names()
	local out = redis.call('ZRANGE', pre .. 'idle', 0, -1)
	for _, d in ipairs(redis.call('ZRANGE', pre .. 'held', 0, -1)) do
		out[#out + 1] = d
	end
	for _, d in ipairs(redis.call('HKEYS', pre .. 'watch')) do
		out[#out + 1] = d
	end
	return out
end

-- `fedlist watch clear`: 1 if the partner had state (seen within
-- report_period, as the local store keeps it) or a watch.
-- ARGV: cmd pre now period domain.
local function clear()
	local domain = ARGV[5]
	local now, period = tonumber(ARGV[3]), tonumber(ARGV[4])
	local P = keys_of(domain)
	local last = redis.call('HGET', P, 'l')
	local had = redis.call('HDEL', pre .. 'watch', domain)
	if last ~= false and num(last) >= now - period * 1000 then
		had = had + 1
	end
	partner_del(domain)
	return had > 0 and 1 or 0
end

-- Partners and peers idle for report_period leave the indexes (their
-- keys have expired already), a bounded number a call.
-- ARGV: cmd pre now period.  Returns {partners, peers, watched}.
local function sweep()
	local now = tonumber(ARGV[3])
	local period = tonumber(ARGV[4])
	local cut = '(' .. math.floor((now - period * 1000) / 1000)
	for _, z in ipairs({'idle', 'held'}) do
		local old = redis.call('ZRANGEBYSCORE', pre .. z, '-inf', cut,
		    'LIMIT', 0, 1000)
		for _, d in ipairs(old) do partner_del(d) end
	end
	local oldp = redis.call('ZRANGEBYSCORE', pre .. 'peers', '-inf', cut,
	    'LIMIT', 0, 1000)
	for _, p in ipairs(oldp) do
		redis.call('DEL', pre .. 'n:' .. p)
		redis.call('ZREM', pre .. 'peers', p)
	end
	return {partners(), redis.call('ZCARD', pre .. 'peers'),
	    redis.call('HLEN', pre .. 'watch')}
end

-- ARGV: cmd pre, the configuration (7), then a request's 10 fields:
-- one decision.  decide_many: cmd pre count, the configuration, then
-- count requests: the decisions of one read, in order, in one call.
local function args(from, n)
	local t = {}
	for i = 0, n - 1 do t[i + 1] = ARGV[from + i] end
	return t
end

if cmd == 'decide' then return decide(args(10, 10), args(3, 7))
elseif cmd == 'decide_many' then
	local conf = args(4, 7)
	local out = {}
	for i = 0, tonumber(ARGV[3]) - 1 do
		out[i + 1] = decide(args(11 + 10 * i, 10), conf)
	end
	return out
elseif cmd == 'pull' then return pull()
elseif cmd == 'respond' then return respond()
elseif cmd == 'view' then return view()
elseif cmd == 'names' then return names()
elseif cmd == 'clear' then return clear()
elseif cmd == 'sweep' then return sweep()
end
return redis.error_reply('pool.lua: unknown command ' .. tostring(cmd))
