--[[
invbench_redis.lua — the Redis 7 + Lua baseline that invbench runs against invd.

One script, loaded once with SCRIPT LOAD and called with EVALSHA; ARGV[1] names the
operation ('R' reserve, 'C' commit, 'L' release, 'A' availability, 'X' expire due).
The client (bench/invbench/ib_redis.c) pipelines these calls over hiredis exactly as the
invd client pipelines its RPCs: one EVALSHA per operation, same connections, same depth.

Why this is a fair, idiomatic Redis design
  * One round trip per operation. Redis runs one script at a time on its single command
    thread, so a script is atomic: no WATCH/MULTI retry loop, no lock, no Redlock. This is
    what Redis's own documentation and the usual "flash sale with Redis" designs
    recommend, and it is the fastest correct way to do check-and-take in Redis.
  * Stock is one hash per SKU (ib:c:<sku>) whose fields are the cells of that SKU, keyed
    by node index: h<node> on_hand, r<node> reserved, s<node> safety (absent when 0), and
    lim, the per-customer purchase limit of a limited SKU. One key per SKU instead of one
    per cell: far fewer keys (each costs ~70 B of dict entry and robj in Redis), the
    cells a line looks at are one hash lookup away, several candidate cells are read with
    one HMGET, and an exact availability total is one HGETALL. Node and SKU ids are the
    scenario's dense indices, as a deployment that interns ids in its catalogue would
    keep them; invd interns them the same way inside.
  * Keys: every key a call starts from is passed in KEYS by the client, built from the
    same indices the script derives them from (ib:o:<order id>, ib:exp, ib:c:<sku>,
    ib:l:<sku>). Expiry and commit/release reach the stock hashes of a stored allocation
    by deriving ib:c:<sku> from it; that is fine on one Redis instance, which is what this
    baseline is (one invd node against one Redis node). On Redis Cluster every key would
    need one hash tag, i.e. the whole data set on one shard — no faster than this.
  * Redis 7 replicates and logs the effects of a script (effect replication is the only
    mode in 7), so calling TIME inside a script is allowed and the AOF holds plain
    HINCRBY/HSET/ZADD commands. A refused reserve writes nothing, so it costs no AOF
    write and no fsync, just as a refused reserve costs invd no WAL record.

The same guarantees as invd
  * Idempotency by order id: a repeated reserve returns the stored outcome (OK with the
    stored allocation) and takes nothing more; the same id with a different basket is
    CONFLICT (the client sends a 64-bit signature of the content, as invd hashes it).
    Finished reservations stay as tombstones for the idempotency window (PEXPIRE 1 h).
  * Per line, check and take at the candidate nodes in the nearest-first order the
    client computed (up to 8 shipping nodes holding the SKU, or only the pickup node),
    split across nodes if one does not cover the line. All or nothing: every line is
    checked first and stock is taken only if all lines are covered, so a refused order
    changes nothing (no rollback needed: nothing else runs between check and take).
  * Purchase limits: per limited SKU, units HELD or COMMITTED per customer are counted in
    ib:l:<sku>; a reserve past the limit is LIMIT_EXCEEDED; release and expiry give the
    units back.
  * TTL expiry without a reaper: a HELD reservation is in the sorted set ib:exp scored by
    expires_at (ms, from redis.call('TIME')). Each reserve first expires up to
    EXPIRE_PER_RESERVE due reservations; 'X' expires up to a given number on demand; a
    commit or release of a reservation past its time expires it first (commit then
    answers EXPIRED), as invd does.
  * Commit: HELD -> COMMITTED, on_hand -= qty and reserved -= qty at every allocated
    cell. Commit of a RELEASED / EXPIRED order: ALREADY_RELEASED / EXPIRED. Release:
    HELD -> RELEASED, reserved -= qty; release of a COMMITTED order: ALREADY_COMMITTED.
    Status numbers are libinvclient's INVC_* codes.

What it does NOT do that invd does
  * No parcel-minimising multi-line routing: each line is filled nearest-first on its
    own (invd first looks for one node covering every line, then a bounded greedy cover
    by cost), no per-kind cost weights, priorities or max_parcels / max_distance_km.
  * No node capacity per day, no node status (pause/close), no PICKUP alternatives, no
    per-line shortfall report, no Extend/Adjust/Return, no sold-out fast path.
  * The candidate lists come from the client, which holds the node coordinates and the
    stock layout; invd keeps its own geo index on the server.
  * An allocation is bounded to ALLOC_MAX pieces (the harness's result size); an order
    needing more is refused as INSUFFICIENT_STOCK.

Replies (flat arrays, first element the INVC_* status):
  R: {status, sku, node, qty, sku, node, qty, ...}   (allocation on OK)
     {INSUFFICIENT_STOCK, line, shortfall} | {LIMIT_EXCEEDED, line} | {CONFLICT}
  C, L: {status}
  A: {OK, on_hand, reserved, available}   totals over every node of the SKU
  X: {OK, expired}

Calls:
  R  KEYS: ib:o:<id>, ib:exp, ib:c:<sku_1..L>, ib:l:<sku_1..L>
     ARGV: 'R', id, customer, signature, ttl_ms, L, then per line: sku, qty, n, node_1..n
  C  KEYS: ib:o:<id>, ib:exp              ARGV: 'C', id
  L  KEYS: ib:o:<id>, ib:exp              ARGV: 'L', id
  A  KEYS: ib:c:<sku>                      ARGV: 'A'
  X  KEYS: ib:exp                          ARGV: 'X', max
]]

local OK, INVALID_ARGUMENT, NOT_FOUND, CONFLICT = 0, 1, 2, 3
local INSUFFICIENT_STOCK, LIMIT_EXCEEDED, EXPIRED = 4, 5, 7
local ALREADY_RELEASED, ALREADY_COMMITTED = 8, 9

local HELD, COMMITTED, RELEASED, EXPIRED_STATE = 0, 1, 2, 3

-- Due reservations a reserve expires before its own work: bounded work per call.
local EXPIRE_PER_RESERVE = 8
-- Most reservations one 'X' call expires (keeps a single script short).
local EXPIRE_CALL_MAX = 10000
-- Finished reservations answer retries this long, then Redis drops them.
local IDEMPOTENCY_WINDOW_MS = 3600000
-- Lines per order and candidates per line the client may send (bench/scenario.h, ib_redis.c).
local LINES_MAX = 5
local CANDIDATES_MAX = 8
-- Allocation pieces per reservation (IB_ALLOC_MAX in ib_backend.h).
local ALLOC_MAX = 32

-- Answer of commit / release on a finished reservation, by its state.
local ANSWER_FINISHED = {
  C = {[COMMITTED] = OK, [RELEASED] = ALREADY_RELEASED, [EXPIRED_STATE] = EXPIRED},
  L = {[COMMITTED] = ALREADY_COMMITTED, [RELEASED] = OK, [EXPIRED_STATE] = OK},
}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function stock_key(sku) return 'ib:c:' .. sku end
local function limit_key(sku) return 'ib:l:' .. sku end
local function order_key(id) return 'ib:o:' .. id end

-- End a HELD reservation: give back (or, committing, consume) its units, give back its
-- purchase-limit units unless committed, and keep it as a tombstone for the window.
-- rec = HMGET of 'st', 'cu', 'a', 'lm', 'e'.
local function finish(key, id, expiry_key, rec, to_state)
  local alloc = cmsgpack.unpack(rec[3])
  for i = 1, #alloc, 3 do
    local k, node, qty = stock_key(alloc[i]), alloc[i + 1], alloc[i + 2]
    redis.call('HINCRBY', k, 'r' .. node, -qty)
    if to_state == COMMITTED then redis.call('HINCRBY', k, 'h' .. node, -qty) end
  end
  if to_state ~= COMMITTED and rec[4] then
    local limited, customer = cmsgpack.unpack(rec[4]), rec[2]
    for i = 1, #limited, 2 do
      local lk = limit_key(limited[i])
      if redis.call('HINCRBY', lk, customer, -limited[i + 1]) <= 0 then
        redis.call('HDEL', lk, customer)
      end
    end
  end
  redis.call('HSET', key, 'st', to_state)
  redis.call('ZREM', expiry_key, id)
  redis.call('PEXPIRE', key, IDEMPOTENCY_WINDOW_MS)
end

local function load(key)
  return redis.call('HMGET', key, 'st', 'cu', 'a', 'lm', 'e')
end

-- Expire up to `max` HELD reservations whose time has come. Returns how many.
local function expire_due(expiry_key, now, max)
  local due = redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now, 'LIMIT', 0, max)
  local expired = 0
  for i = 1, #due do
    local id = due[i]
    local key = order_key(id)
    local rec = load(key)
    if rec[1] and tonumber(rec[1]) == HELD then
      finish(key, id, expiry_key, rec, EXPIRED_STATE)
      expired = expired + 1
    else
      redis.call('ZREM', expiry_key, id) -- stale entry: nothing held any more
    end
  end
  return expired
end

-- Available units of a cell from HMGET values h, r, s starting at vals[off].
local function cell_available(vals, off)
  local h = vals[off]
  if not h then return 0 end
  return tonumber(h) - tonumber(vals[off + 1] or 0) - tonumber(vals[off + 2] or 0)
end

-- Plan to take up to `need` units at `node` (its ARGV string): the allocation piece goes
-- to `plan` (numbers, for the reply and the stored reservation), the write to `takes`
-- (stock key, field, units; field names are built from strings, never from numbers,
-- which Lua would format with sprintf). Returns what is still needed.
local function plan_take(plan, takes, stock, sku, node, available, need)
  if available <= 0 then return need end
  local take = available < need and available or need
  local n = #plan
  plan[n + 1], plan[n + 2], plan[n + 3] = sku, tonumber(node), take
  n = #takes
  takes[n + 1], takes[n + 2], takes[n + 3] = stock, 'r' .. node, take
  return need - take
end

-- Check one line at its candidates, nearest first, adding pieces to `plan` and `takes`.
-- Returns the shortfall (0: covered) and the line's purchase limit (nil: none).
local function line_check(plan, takes, stock, sku, qty, first, n)
  local head, need = nil, qty
  if n >= 1 then
    local node = ARGV[first]
    head = redis.call('HMGET', stock, 'lim', 'h' .. node, 'r' .. node, 's' .. node)
    need = plan_take(plan, takes, stock, sku, node, cell_available(head, 2), need)
  else
    head = redis.call('HMGET', stock, 'lim')
  end
  if need > 0 and n >= 2 then -- the nearest did not cover it: read the rest at once
    local rest_fields = {}
    for j = 2, n do
      local node = ARGV[first + j - 1]
      rest_fields[#rest_fields + 1] = 'h' .. node
      rest_fields[#rest_fields + 1] = 'r' .. node
      rest_fields[#rest_fields + 1] = 's' .. node
    end
    local rest = redis.call('HMGET', stock, unpack(rest_fields))
    for j = 2, n do
      if need == 0 then break end
      local available = cell_available(rest, 3 * j - 5)
      need = plan_take(plan, takes, stock, sku, ARGV[first + j - 1], available, need)
    end
  end
  return need, head[1] and tonumber(head[1]) or nil
end

local function reserve(expiry_key)
  local key, id, customer, signature = KEYS[1], ARGV[2], ARGV[3], ARGV[4]
  local ttl, line_count = tonumber(ARGV[5]), tonumber(ARGV[6])
  if not ttl or not line_count or line_count < 1 or line_count > LINES_MAX
      or #KEYS ~= 2 + 2 * line_count then
    return {INVALID_ARGUMENT}
  end
  local now = now_ms()
  expire_due(expiry_key, now, EXPIRE_PER_RESERVE)
  local old = redis.call('HMGET', key, 'sig', 'a')
  if old[1] then -- a retry: the stored outcome
    if old[1] ~= signature then return {CONFLICT} end
    local alloc = cmsgpack.unpack(old[2])
    table.insert(alloc, 1, OK)
    return alloc
  end
  local plan, takes, limited, pos = {}, {}, {}, 7 -- limited: line, sku, qty triples
  for line = 1, line_count do
    local sku, qty, n = tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2])
    if not sku or not qty or qty < 1 or not n or n < 0 or n > CANDIDATES_MAX then
      return {INVALID_ARGUMENT}
    end
    local short, limit = line_check(plan, takes, KEYS[2 + line], sku, qty, pos + 3, n)
    if limit then
      local held = tonumber(redis.call('HGET', KEYS[2 + line_count + line], customer) or 0)
      if held + qty > limit then return {LIMIT_EXCEEDED, line - 1} end
      limited[#limited + 1] = line
      limited[#limited + 1] = sku
      limited[#limited + 1] = qty
    end
    if short > 0 or #plan > 3 * ALLOC_MAX then return {INSUFFICIENT_STOCK, line - 1, short} end
    pos = pos + 3 + n
  end
  -- Every line is covered: take.
  for i = 1, #takes, 3 do
    redis.call('HINCRBY', takes[i], takes[i + 1], takes[i + 2])
  end
  local limited_units = {} -- sku, qty pairs: what release and expiry give back
  for i = 1, #limited, 3 do
    local line, sku, qty = limited[i], limited[i + 1], limited[i + 2]
    redis.call('HINCRBY', KEYS[2 + line_count + line], customer, qty)
    limited_units[#limited_units + 1] = sku
    limited_units[#limited_units + 1] = qty
  end
  local expires_at = now + ttl
  redis.call('HSET', key, 'st', HELD, 'sig', signature, 'cu', customer,
             'a', cmsgpack.pack(plan), 'e', expires_at)
  if #limited_units > 0 then redis.call('HSET', key, 'lm', cmsgpack.pack(limited_units)) end
  redis.call('ZADD', expiry_key, expires_at, id)
  table.insert(plan, 1, OK)
  return plan
end

-- Commit ('C') or release ('L').
local function settle(op, expiry_key)
  local key, id = KEYS[1], ARGV[2]
  local rec = load(key)
  if not rec[1] then return {NOT_FOUND} end
  local state = tonumber(rec[1])
  if state == HELD and tonumber(rec[5]) <= now_ms() then
    finish(key, id, expiry_key, rec, EXPIRED_STATE)
    return {ANSWER_FINISHED[op][EXPIRED_STATE]}
  end
  if state == HELD then
    finish(key, id, expiry_key, rec, op == 'C' and COMMITTED or RELEASED)
    return {OK}
  end
  return {ANSWER_FINISHED[op][state]}
end

-- Exact totals over every cell of the SKU.
local function availability(stock)
  local all = redis.call('HGETALL', stock)
  local on_hand, reserved, safety = 0, 0, 0
  for i = 1, #all, 2 do
    local kind, v = string.byte(all[i], 1), tonumber(all[i + 1])
    if kind == 104 then on_hand = on_hand + v          -- 'h'
    elseif kind == 114 then reserved = reserved + v    -- 'r'
    elseif kind == 115 then safety = safety + v end    -- 's' ('lim' starts with 'l')
  end
  return {OK, on_hand, reserved, on_hand - reserved - safety}
end

local op = ARGV[1]
if op == 'R' then return reserve(KEYS[2]) end
if op == 'C' or op == 'L' then return settle(op, KEYS[2]) end
if op == 'A' then return availability(KEYS[1]) end
if op == 'X' then
  local max = tonumber(ARGV[2]) or 0
  if max < 1 or max > EXPIRE_CALL_MAX then return {INVALID_ARGUMENT} end
  return {OK, expire_due(KEYS[1], now_ms(), max)}
end
return {INVALID_ARGUMENT}
