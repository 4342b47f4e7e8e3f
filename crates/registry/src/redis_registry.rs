//! The Redis registry for many hosts.
//!
//! Every operation is one Lua script (atomic on the server), keys under one prefix; after a Redis
//! restart the workers' next heartbeats rebuild it, their running calls counted as busy.
//!
//! Keys (`P` is the prefix): `P workers` (zset worker → registration expiry), `P w:<id>` (hash:
//! url, host, slots, busy, draining), `P held:<id>` (zset reservation → deadline), `P calls:<id>` (set: the confirmed ones), `P free` (zset
//! worker → free slots, eligible workers only), `P deadlines` (zset reservation → deadline),
//! `P r:<id>` (hash: worker, campaign, client), `P count` and `P quota` (hashes:
//! `campaign:<id>` and `client:<id>` → slots), `P drained_hosts` (set).

use crate::{
    Capacity, Claimant, QuotaScope, Refusal, Registry, RegistryError, Reservation, Result,
    WorkerInfo, check,
};
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

/// Shared by every script: freeing a reservation, recomputing a worker's free slots, and pruning
/// what lapsed (workers past their TTL with all they held, reservations past their deadline).
const PRELUDE: &str = r#"
local p = KEYS[1]
local function free_of(wid)
  local h = redis.call('HMGET', p..'w:'..wid, 'slots', 'busy', 'draining', 'host')
  if not h[1] then return nil end
  if h[3] == '1' or redis.call('SISMEMBER', p..'drained_hosts', h[4]) == 1 then return nil end
  -- The worker's own count of its calls covers the confirmed reservations once it has heard of
  -- them; reservations not yet confirmed come on top.
  local confirmed = redis.call('SCARD', p..'calls:'..wid)
  local unconfirmed = redis.call('ZCARD', p..'held:'..wid) - confirmed
  local used = math.max(tonumber(h[2]), confirmed) + unconfirmed
  return math.max(tonumber(h[1]) - used, 0)
end
local function refresh(wid)
  local f = free_of(wid)
  if f == nil then redis.call('ZREM', p..'free', wid) else redis.call('ZADD', p..'free', f, wid) end
end
-- Frees a reservation; returns its worker and whether it had been confirmed.
local function drop_res(rid)
  local r = redis.call('HMGET', p..'r:'..rid, 'worker', 'campaign', 'client', 'confirmed')
  if not r[1] then return false end
  redis.call('ZREM', p..'held:'..r[1], rid)
  if r[4] == '1' then redis.call('SREM', p..'calls:'..r[1], rid) end
  redis.call('ZREM', p..'deadlines', rid)
  if r[2] and r[2] ~= '' then redis.call('HINCRBY', p..'count', 'campaign:'..r[2], -1) end
  if r[3] and r[3] ~= '' then redis.call('HINCRBY', p..'count', 'client:'..r[3], -1) end
  redis.call('DEL', p..'r:'..rid)
  return r[1], r[4] == '1'
end
-- After an unconfirmed reservation is freed: one slot more, exactly, unless the worker is not
-- eligible (no score) or was over-full (score 0: recompute).
local function freed_one(wid, confirmed)
  local score = redis.call('ZSCORE', p..'free', wid)
  if confirmed or not score or tonumber(score) == 0 then refresh(wid) else redis.call('ZINCRBY', p..'free', 1, wid) end
end
local function drop_worker(wid)
  for _, rid in ipairs(redis.call('ZRANGE', p..'held:'..wid, 0, -1)) do drop_res(rid) end
  redis.call('DEL', p..'held:'..wid, p..'calls:'..wid, p..'w:'..wid)
  redis.call('ZREM', p..'workers', wid)
  redis.call('ZREM', p..'free', wid)
end
local function prune(now)
  for _, wid in ipairs(redis.call('ZRANGEBYSCORE', p..'workers', '-inf', now)) do drop_worker(wid) end
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', p..'deadlines', '-inf', now)) do
    local wid, confirmed = drop_res(rid)
    if wid then freed_one(wid, confirmed) end
  end
end
"#;

const HEARTBEAT: &str = r#"
local wid, url, host, slots, busy, expires, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
redis.call('HSET', p..'w:'..wid, 'url', url, 'host', host, 'slots', slots, 'busy', busy)
redis.call('HSETNX', p..'w:'..wid, 'draining', '0')
redis.call('ZADD', p..'workers', expires, wid)
prune(now)
refresh(wid)
return 1
"#;

const DEREGISTER: &str = r#"
drop_worker(ARGV[1])
return 1
"#;

const RESERVE: &str = r#"
local now, ttl, rid, campaign, client = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
prune(now)
if redis.call('EXISTS', p..'r:'..rid) == 1 then return {'duplicate'} end
local quota = redis.call('HMGET', p..'quota', 'campaign:'..campaign, 'client:'..client)
if quota[1] or quota[2] then
  local held = redis.call('HMGET', p..'count', 'campaign:'..campaign, 'client:'..client)
  if campaign ~= '' and quota[1] and tonumber(held[1] or '0') >= tonumber(quota[1]) then
    return {'refused', 'campaign_quota'}
  end
  if client ~= '' and quota[2] and tonumber(held[2] or '0') >= tonumber(quota[2]) then
    return {'refused', 'client_quota'}
  end
end
local top = redis.call('ZREVRANGEBYSCORE', p..'free', '+inf', 1, 'LIMIT', 0, 1)
if #top == 0 then return {'refused', 'no_capacity'} end
local wid = top[1]
redis.call('ZADD', p..'held:'..wid, now + ttl, rid)
redis.call('ZADD', p..'deadlines', now + ttl, rid)
redis.call('HSET', p..'r:'..rid, 'worker', wid, 'campaign', campaign, 'client', client)
if campaign ~= '' then redis.call('HINCRBY', p..'count', 'campaign:'..campaign, 1) end
if client ~= '' then redis.call('HINCRBY', p..'count', 'client:'..client, 1) end
-- An unconfirmed reservation uses exactly one more slot, and the worker had at least one free.
redis.call('ZINCRBY', p..'free', -1, wid)
return {'ok', wid, redis.call('HGET', p..'w:'..wid, 'url')}
"#;

const CONFIRM: &str = r#"
local now, untl, rid = ARGV[1], ARGV[2], ARGV[3]
prune(now)
local wid = redis.call('HGET', p..'r:'..rid, 'worker')
if not wid then return 0 end
redis.call('ZADD', p..'held:'..wid, untl, rid)
redis.call('SADD', p..'calls:'..wid, rid)
redis.call('HSET', p..'r:'..rid, 'confirmed', '1')
redis.call('ZADD', p..'deadlines', untl, rid)
refresh(wid)
return 1
"#;

const RELEASE: &str = r#"
local wid, confirmed = drop_res(ARGV[1])
if not wid then return 0 end
freed_one(wid, confirmed)
return 1
"#;

const DRAIN_WORKER: &str = r#"
if redis.call('EXISTS', p..'w:'..ARGV[1]) == 1 then
  redis.call('HSET', p..'w:'..ARGV[1], 'draining', ARGV[2])
  refresh(ARGV[1])
end
return 1
"#;

const DRAIN_HOST: &str = r#"
if ARGV[2] == '1' then redis.call('SADD', p..'drained_hosts', ARGV[1]) else redis.call('SREM', p..'drained_hosts', ARGV[1]) end
for _, wid in ipairs(redis.call('ZRANGE', p..'workers', 0, -1)) do
  if redis.call('HGET', p..'w:'..wid, 'host') == ARGV[1] then refresh(wid) end
end
return 1
"#;

const SET_QUOTA: &str = r#"
local field = ARGV[1]..':'..ARGV[2]
if ARGV[3] == '' then redis.call('HDEL', p..'quota', field) else redis.call('HSET', p..'quota', field, ARGV[3]) end
return 1
"#;

const CAPACITY: &str = r#"
prune(ARGV[1])
local workers, slots, free, draining = 0, 0, 0, 0
for _, wid in ipairs(redis.call('ZRANGE', p..'workers', 0, -1)) do
  workers = workers + 1
  slots = slots + tonumber(redis.call('HGET', p..'w:'..wid, 'slots') or '0')
  local f = free_of(wid)
  if f == nil then draining = draining + 1 else free = free + f end
end
return {workers, slots, free, draining}
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// The registry in Redis, shared by every host.
#[derive(Clone)]
pub struct RedisRegistry {
    connection: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

struct Scripts {
    heartbeat: Script,
    deregister: Script,
    reserve: Script,
    confirm: Script,
    release: Script,
    drain_worker: Script,
    drain_host: Script,
    set_quota: Script,
    capacity: Script,
}

impl std::fmt::Debug for RedisRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRegistry")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: redis::RedisError) -> RegistryError {
    RegistryError::Unavailable(error.to_string())
}

impl RedisRegistry {
    /// Connects to `url` (`redis://host:port/db`), reconnecting by itself after a Redis restart;
    /// every key starts with `prefix` (e.g. `vox:reg:`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| RegistryError::Invalid {
            field: "REDIS_URL",
            message: e.to_string(),
        })?;
        let connection = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            scripts: std::sync::Arc::new(Scripts {
                heartbeat: script(HEARTBEAT),
                deregister: script(DEREGISTER),
                reserve: script(RESERVE),
                confirm: script(CONFIRM),
                release: script(RELEASE),
                drain_worker: script(DRAIN_WORKER),
                drain_host: script(DRAIN_HOST),
                set_quota: script(SET_QUOTA),
                capacity: script(CAPACITY),
            }),
        })
    }

    async fn run<T: redis::FromRedisValue>(&self, script: &Script, args: &[String]) -> Result<T> {
        let mut invocation = script.key(&self.prefix);
        for arg in args {
            invocation.arg(arg);
        }
        let mut connection = self.connection.clone();
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)
    }
}

fn flag(on: bool) -> String {
    if on { "1" } else { "0" }.to_owned()
}

#[async_trait]
impl Registry for RedisRegistry {
    async fn heartbeat(&self, worker: &WorkerInfo, ttl_ms: u64, now_ms: u64) -> Result<()> {
        check(worker)?;
        let args = [
            worker.worker_id.clone(),
            worker.url.clone(),
            worker.host.clone(),
            worker.slots.to_string(),
            worker.busy.to_string(),
            now_ms.saturating_add(ttl_ms).to_string(),
            now_ms.to_string(),
        ];
        self.run::<i64>(&self.scripts.heartbeat, &args).await?;
        Ok(())
    }

    async fn deregister(&self, worker_id: &str) -> Result<()> {
        self.run::<i64>(&self.scripts.deregister, &[worker_id.to_owned()])
            .await?;
        Ok(())
    }

    async fn reserve(
        &self,
        id: &str,
        claimant: &Claimant,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<std::result::Result<Reservation, Refusal>> {
        let args = [
            now_ms.to_string(),
            ttl_ms.to_string(),
            id.to_owned(),
            claimant.campaign.clone().unwrap_or_default(),
            claimant.client.clone().unwrap_or_default(),
        ];
        let answer: Vec<String> = self.run(&self.scripts.reserve, &args).await?;
        match answer
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["ok", worker, url] => Ok(Ok(Reservation {
                id: id.to_owned(),
                worker_id: (*worker).to_owned(),
                url: (*url).to_owned(),
            })),
            ["refused", "campaign_quota"] => Ok(Err(Refusal::CampaignQuota)),
            ["refused", "client_quota"] => Ok(Err(Refusal::ClientQuota)),
            ["refused", _] => Ok(Err(Refusal::NoCapacity)),
            ["duplicate"] => Err(RegistryError::Invalid {
                field: "id",
                message: format!("reservation {id} exists already"),
            }),
            other => Err(RegistryError::Unavailable(format!(
                "the reserve script answered {other:?}"
            ))),
        }
    }

    async fn confirm(&self, id: &str, until_ms: u64, now_ms: u64) -> Result<bool> {
        let args = [now_ms.to_string(), until_ms.to_string(), id.to_owned()];
        Ok(self.run::<i64>(&self.scripts.confirm, &args).await? == 1)
    }

    async fn release(&self, id: &str) -> Result<bool> {
        Ok(self
            .run::<i64>(&self.scripts.release, &[id.to_owned()])
            .await?
            == 1)
    }

    async fn drain_worker(&self, worker_id: &str, draining: bool) -> Result<()> {
        let args = [worker_id.to_owned(), flag(draining)];
        self.run::<i64>(&self.scripts.drain_worker, &args).await?;
        Ok(())
    }

    async fn drain_host(&self, host: &str, draining: bool) -> Result<()> {
        let args = [host.to_owned(), flag(draining)];
        self.run::<i64>(&self.scripts.drain_host, &args).await?;
        Ok(())
    }

    async fn set_quota(&self, scope: &QuotaScope, slots: Option<u32>) -> Result<()> {
        let (kind, id) = match scope {
            QuotaScope::Campaign(id) => ("campaign", id),
            QuotaScope::Client(id) => ("client", id),
        };
        let args = [
            kind.to_owned(),
            id.clone(),
            slots.map(|n| n.to_string()).unwrap_or_default(),
        ];
        self.run::<i64>(&self.scripts.set_quota, &args).await?;
        Ok(())
    }

    async fn capacity(&self, now_ms: u64) -> Result<Capacity> {
        let totals: Vec<u32> = self
            .run(&self.scripts.capacity, &[now_ms.to_string()])
            .await?;
        match totals.as_slice() {
            [workers, slots, free, draining] => Ok(Capacity {
                workers: *workers,
                slots: *slots,
                free: *free,
                draining: *draining,
            }),
            other => Err(RegistryError::Unavailable(format!(
                "the capacity script answered {other:?}"
            ))),
        }
    }
}
