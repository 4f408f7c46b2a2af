//! Incremental fetch sessions (KIP-227): the broker remembers which partitions a fetcher asked
//! for, so later requests name only what changed and responses carry only partitions with
//! something new.
//!
//! Pure: [`FetchSessionCache::begin`] turns a request's session fields and partitions into a
//! [`FetchContext`] (which partitions to read, in session order), and
//! [`FetchSessionCache::finish`] turns what was read into the partitions to send, updating the
//! session. Time (`now_ms`, monotonic) and new session ids come from the caller.
//!
//! The rules, as Kafka's `FetchManager.newContext` and `FetchSession`:
//! - epoch 0 (`INITIAL_EPOCH`) is a full request: any session it names is closed, and a new one
//!   is created with the request's partitions (if a slot is free or one can be evicted); the
//!   response carries its id (0 if none could be made). Epoch -1 (`FINAL_EPOCH`) closes the
//!   named session and is served without one.
//! - any other epoch is incremental: an unknown session id is FETCH_SESSION_ID_NOT_FOUND, an
//!   epoch other than the session's next one INVALID_FETCH_SESSION_EPOCH, a session made with
//!   topic ids asked without them (Fetch v12 or older), or the reverse,
//!   FETCH_SESSION_TOPIC_ID_ERROR. Otherwise the request's partitions are added or updated, its
//!   `forgotten_topics_data` removed, the epoch advances (wrapping to 1), and a session left
//!   empty is closed.
//! - an incremental response holds a partition only if it has records, an error, or a high
//!   watermark, last stable offset or log start offset other than the one last sent; a
//!   partition that returned records moves to the end of the session, so every partition gets
//!   its turn at the response's byte budget.
//! - eviction when the cache is full (`max.incremental.fetch.session.cache.slots`): the least
//!   recently used session if it has been idle longer than [`EVICTION_MS`]; otherwise the
//!   least valuable session — ordered by (privileged, partitions, id), followers being
//!   privileged — if it has existed longer than [`EVICTION_MS`] (a client's session may only
//!   displace another client's) and is worth less than the new one.
//!
//! Invariants (asserted): no session has id 0; every session's epoch is at least 1; a session
//! never holds one partition twice; the cache never holds more sessions than its slots.

use std::collections::BTreeMap;

use crate::protocol::codes::ErrorCode;

/// A Fetch with this session id is not part of a session (`INVALID_SESSION_ID`).
pub const INVALID_SESSION_ID: i32 = 0;
/// The epoch of a full request that creates a session.
pub const INITIAL_EPOCH: i32 = 0;
/// The epoch that closes a session.
pub const FINAL_EPOCH: i32 = -1;
/// How long a session is protected from eviction by a newer one, since its creation or its
/// last use (Kafka's `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`).
pub const EVICTION_MS: u64 = 120_000;

/// A partition as a session tracks it: (topic id, or 0 without ids; topic name; index).
pub type SessionKey = (u128, String, i32);

/// What a request says about one partition to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedPartition {
    pub key: SessionKey,
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    pub current_leader_epoch: i32,
    /// The fetcher's own log start offset (followers report it; -1 otherwise).
    pub log_start_offset: i64,
}

/// One partition of a session: what to read next and what the fetcher was last told.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CachedPartition {
    request: RequestedPartition,
    /// The high watermark last sent (-1: resend, e.g. after an error).
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

/// What was read for one partition, as the response reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPartition {
    pub key: SessionKey,
    pub error_code: ErrorCode,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub record_bytes: usize,
}

#[derive(Debug, Clone)]
struct FetchSession {
    /// The epoch the next incremental request must carry.
    epoch: i32,
    /// Whether a follower (replica id ≥ 0) made it: such sessions are evicted last.
    privileged: bool,
    /// Whether it was made with topic ids (Fetch v13+); later requests must agree.
    uses_topic_ids: bool,
    created_ms: u64,
    last_used_ms: u64,
    /// The partitions by position in session order: the order they are read (and their byte
    /// budget spent). Positions only grow; a partition moved to the end gets a new one.
    partitions: BTreeMap<u64, CachedPartition>,
    /// Each partition's position in `partitions`.
    positions: BTreeMap<SessionKey, u64>,
    /// The next unused position.
    next_position: u64,
}

impl FetchSession {
    fn new(request: SessionRequest, now_ms: u64) -> Self {
        FetchSession {
            epoch: next_epoch(INITIAL_EPOCH),
            privileged: request.privileged,
            uses_topic_ids: request.uses_topic_ids,
            created_ms: now_ms,
            last_used_ms: now_ms,
            partitions: BTreeMap::new(),
            positions: BTreeMap::new(),
            next_position: 0,
        }
    }

    fn len(&self) -> usize {
        self.partitions.len()
    }

    fn get_mut(&mut self, key: &SessionKey) -> Option<&mut CachedPartition> {
        let position = self.positions.get(key)?;
        self.partitions.get_mut(position)
    }

    /// The session's key for the partition `key` names. A partition named by topic id is the
    /// same partition whatever name the id resolved to when it joined (none, if the id was
    /// unknown then), as Kafka's `TopicIdPartition` resolution.
    fn held_key(&self, key: &SessionKey) -> Option<SessionKey> {
        if self.positions.contains_key(key) {
            return Some(key.clone());
        }
        if key.0 == 0 {
            return None;
        }
        (self.positions.range((key.0, String::new(), i32::MIN)..))
            .take_while(|((id, _, _), _)| *id == key.0)
            .find(|((_, _, partition), _)| *partition == key.2)
            .map(|(held, _)| held.clone())
    }

    /// Add a partition at the end, or update its request where it is.
    fn upsert(&mut self, request: RequestedPartition) {
        if let Some(held) = self.held_key(&request.key) {
            let position = self.positions.remove(&held).expect("held");
            self.positions.insert(request.key.clone(), position);
            let cached = self.partitions.get_mut(&position).expect("indexed");
            cached.request = request;
            return;
        }
        self.push(CachedPartition {
            request,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
        });
    }

    fn push(&mut self, cached: CachedPartition) {
        let position = self.next_position;
        self.next_position += 1;
        self.positions.insert(cached.request.key.clone(), position);
        self.partitions.insert(position, cached);
    }

    fn remove(&mut self, key: &SessionKey) -> Option<CachedPartition> {
        let held = self.held_key(key)?;
        let position = self.positions.remove(&held)?;
        self.partitions.remove(&position)
    }

    fn requests(&self) -> Vec<RequestedPartition> {
        self.partitions
            .values()
            .map(|p| p.request.clone())
            .collect()
    }

    /// Kafka's `EvictableKey`: (privileged, size, id), lower is evicted first.
    fn worth(&self, id: i32) -> (bool, usize, i32) {
        (self.privileged, self.len(), id)
    }

    fn check_invariants(&self, id: i32) {
        assert_ne!(id, INVALID_SESSION_ID, "a fetch session has id 0");
        assert!(self.epoch >= 1, "session {id} at epoch {}", self.epoch);
        assert_eq!(
            self.positions.len(),
            self.partitions.len(),
            "session {id}: a partition held twice or an index out of step"
        );
        assert!(self.last_used_ms >= self.created_ms);
    }
}

/// The session fields of a Fetch request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRequest {
    pub session_id: i32,
    pub epoch: i32,
    /// Fetch v13 or later: partitions are named by topic id.
    pub uses_topic_ids: bool,
    /// A follower's fetch (replica id ≥ 0).
    pub privileged: bool,
}

/// How one request is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchContext {
    /// Serve exactly these partitions; the response names no session.
    Sessionless(Vec<RequestedPartition>),
    /// Serve these partitions and create a session with them when answering.
    Full(Vec<RequestedPartition>),
    /// Serve the session's partitions (in session order) and answer incrementally.
    Incremental {
        session_id: i32,
        partitions: Vec<RequestedPartition>,
    },
    /// Answer with this top-level error and no partitions.
    Error(ErrorCode),
}

impl FetchContext {
    /// The partitions to read, in order.
    pub fn partitions(&self) -> &[RequestedPartition] {
        match self {
            FetchContext::Sessionless(p) | FetchContext::Full(p) => p,
            FetchContext::Incremental { partitions, .. } => partitions,
            FetchContext::Error(_) => &[],
        }
    }
}

/// Every fetch session of one broker.
#[derive(Debug)]
pub struct FetchSessionCache {
    /// `max.incremental.fetch.session.cache.slots`: at most this many sessions.
    slots: usize,
    sessions: BTreeMap<i32, FetchSession>,
}

impl FetchSessionCache {
    pub fn new(slots: usize) -> Self {
        FetchSessionCache {
            slots,
            sessions: BTreeMap::new(),
        }
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Decide how a request is served, updating the session it names.
    pub fn begin(
        &mut self,
        request: SessionRequest,
        partitions: Vec<RequestedPartition>,
        forgotten: &[SessionKey],
        now_ms: u64,
    ) -> FetchContext {
        if request.epoch == INITIAL_EPOCH || request.epoch == FINAL_EPOCH {
            if request.session_id != INVALID_SESSION_ID {
                self.sessions.remove(&request.session_id);
            }
            return match request.epoch {
                INITIAL_EPOCH => FetchContext::Full(dedup(partitions)),
                _ => FetchContext::Sessionless(dedup(partitions)),
            };
        }
        let Some(session) = self.sessions.get_mut(&request.session_id) else {
            return FetchContext::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.epoch != request.epoch {
            return FetchContext::Error(ErrorCode::INVALID_FETCH_SESSION_EPOCH);
        }
        if session.uses_topic_ids != request.uses_topic_ids {
            return FetchContext::Error(ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR);
        }
        for partition in partitions {
            session.upsert(partition);
        }
        for key in forgotten {
            session.remove(key);
        }
        if session.len() == 0 {
            self.sessions.remove(&request.session_id);
            return FetchContext::Sessionless(Vec::new());
        }
        session.epoch = next_epoch(session.epoch);
        session.last_used_ms = now_ms;
        session.check_invariants(request.session_id);
        FetchContext::Incremental {
            session_id: request.session_id,
            partitions: session.requests(),
        }
    }

    /// After a full request was read: create its session if there is room (evicting one if
    /// Kafka's rule allows). Returns the new session's id, or 0 if none was created.
    pub fn create(
        &mut self,
        request: SessionRequest,
        partitions: &[RequestedPartition],
        read: &[ReadPartition],
        now_ms: u64,
        mut new_id: impl FnMut() -> i32,
    ) -> i32 {
        let worth = (request.privileged, partitions.len());
        if self.sessions.len() >= self.slots && !self.evict_one(worth, now_ms) {
            return INVALID_SESSION_ID;
        }
        let id = loop {
            let id = new_id();
            if id > 0 && !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let mut session = FetchSession::new(request, now_ms);
        for p in partitions {
            session.upsert(p.clone());
        }
        for r in read {
            if let Some(cached) = session.get_mut(&r.key) {
                remember(cached, r);
            }
        }
        session.check_invariants(id);
        self.sessions.insert(id, session);
        assert!(
            self.sessions.len() <= self.slots,
            "fetch session cache overfull"
        );
        id
    }

    /// After an incremental request was read: the keys of the partitions to send (those with
    /// something new), in read order. Partitions that returned records move to the session's
    /// end. A session evicted meanwhile sends everything read.
    pub fn finish(&mut self, session_id: i32, read: &[ReadPartition]) -> Vec<SessionKey> {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return read.iter().map(|r| r.key.clone()).collect();
        };
        let mut send = Vec::new();
        let mut to_end = Vec::new();
        for r in read {
            let Some(cached) = session.get_mut(&r.key) else {
                // Forgotten by a later request while this one waited: nothing to say.
                continue;
            };
            let changed = r.record_bytes > 0
                || r.error_code != ErrorCode::NONE
                || cached.high_watermark != r.high_watermark
                || cached.last_stable_offset != r.last_stable_offset
                || cached.log_start_offset != r.log_start_offset;
            remember(cached, r);
            if changed {
                send.push(r.key.clone());
            }
            if r.record_bytes > 0 {
                to_end.push(r.key.clone());
            }
        }
        for key in to_end {
            if let Some(moved) = session.remove(&key) {
                session.push(moved);
            }
        }
        session.check_invariants(session_id);
        send
    }

    /// Make room for a session worth `worth` (privileged, partitions): evict the least
    /// recently used session if it is stale, else the least valuable evictable one if the
    /// new one is worth at least as much. Returns whether one was evicted.
    fn evict_one(&mut self, worth: (bool, usize), now_ms: u64) -> bool {
        let stale = (self.sessions.iter())
            .min_by_key(|(&id, s)| (s.last_used_ms, id))
            .filter(|(_, s)| now_ms.saturating_sub(s.last_used_ms) > EVICTION_MS)
            .map(|(&id, _)| id);
        let victim = stale.or_else(|| {
            let privileged = worth.0;
            (self.sessions.iter())
                .filter(|(_, s)| {
                    let old = s.last_used_ms.saturating_sub(s.created_ms) > EVICTION_MS;
                    // Kafka's `evictableByPrivileged` also holds young client sessions.
                    old || (privileged && !s.privileged)
                })
                .map(|(&id, s)| s.worth(id))
                .min()
                .filter(|&(p, size, _)| (worth.0, worth.1) >= (p, size))
                .map(|(_, _, id)| id)
        });
        match victim {
            Some(id) => {
                self.sessions.remove(&id);
                true
            }
            None => false,
        }
    }
}

/// Record what the fetcher was told about a partition; after an error, forget the high
/// watermark so the partition is sent again once the error clears.
fn remember(cached: &mut CachedPartition, read: &ReadPartition) {
    cached.high_watermark = if read.error_code == ErrorCode::NONE {
        read.high_watermark
    } else {
        -1
    };
    cached.last_stable_offset = read.last_stable_offset;
    cached.log_start_offset = read.log_start_offset;
}

/// The epoch after `epoch`: +1, wrapping from i32::MAX to 1 (0 and -1 are reserved).
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// A full request naming one partition twice keeps the last mention, at the first's place.
fn dedup(partitions: Vec<RequestedPartition>) -> Vec<RequestedPartition> {
    let mut at: BTreeMap<SessionKey, usize> = BTreeMap::new();
    let mut out: Vec<RequestedPartition> = Vec::with_capacity(partitions.len());
    for p in partitions {
        match at.get(&p.key) {
            Some(&i) => out[i] = p,
            None => {
                at.insert(p.key.clone(), out.len());
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
