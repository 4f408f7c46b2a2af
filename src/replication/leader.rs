//! The leader side of one partition's replication state, as pure decisions.
//!
//! This is the part of Kafka's `Partition` and `ReplicaManager` that decides, on the leader,
//! which replicas are in sync, where the high watermark (HW) stands, and whether an acks=all
//! produce may be appended or acknowledged. It does no I/O and holds no clock: callers feed it
//! events (a local append, a follower's fetch, a controller's answer) with the monotonic time in
//! milliseconds, and it returns what changed. The async partition actor owns one of these.
//!
//! What it guarantees, checked by assertions after every change:
//! - `0 <= high_watermark <= log_end_offset` of the leader, and no event moves the HW back
//!   (the partition actor checks the same across events);
//! - the leader's log end offset never moves back, and no follower's known log end offset is
//!   past it, nor is the offset where this leader epoch began;
//! - the leader is in the committed ISR and in the maximal ISR;
//! - every ISR member is one of the partition's replicas, with no duplicates;
//! - a change is pending only under KIP-497 (the legacy rule applies changes at once);
//! - an acks=all produce is answered only once the HW has passed its batch.
//!
//! The rules, with the Kafka behaviour each follows:
//! - **HW** = the minimum log end offset over the ISR the rule counts: under
//!   [`IsrRule::Kip497`] the *maximal* ISR (committed ISR plus a pending expansion, and still
//!   including followers whose removal the controller has not acknowledged); under
//!   [`IsrRule::Legacy`] the ISR, which changes at once. A follower whose log end offset is not
//!   yet known (no fetch since this leader was elected) holds the HW where it is. The HW only
//!   moves up. With [`PartitionConfig::strict_min_isr`] (KIP-966) it does not move at all while
//!   the committed ISR is smaller than the effective minimum ISR.
//! - **Effective minimum ISR** = `min(min.insync.replicas, replication factor)`, as Kafka's
//!   `effectiveMinIsr`.
//! - **Caught up** (Kafka's `Replica.updateFetchState`): on a fetch at `fetch_offset`, the
//!   follower's `last_caught_up_time_ms` becomes the time of this fetch if `fetch_offset` reaches
//!   the leader's current log end offset; otherwise the time of the *previous* fetch if
//!   `fetch_offset` reaches the leader's log end offset as it was at that previous fetch (the
//!   follower has fetched everything that existed then). It never moves back.
//! - **Out of sync** (Kafka's `isCaughtUp` negated): a follower whose log end offset differs from
//!   the leader's and whose last caught-up time is more than `replica.lag.time.max.ms` ago.
//! - **ISR expansion** (Kafka's `isFollowerInSync`): a follower outside the ISR whose log end
//!   offset reaches both the HW and the offset where this leader epoch began, and that the
//!   leader's metadata does not show as ineligible (fenced, or shutting down: KIP-841's
//!   `isReplicaIsrEligible`). A fenced follower is not even proposed, so it never counts in the
//!   maximal ISR, and the leader does not send the controller proposals it must refuse.
//! - While a change is pending at the controller (KIP-497), no other change is proposed, as
//!   Kafka's `isInflight` check.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::protocol::ErrorCode;

/// Produce `acks` value meaning "wait for the whole ISR" on the wire.
pub const ACKS_ALL: i16 = -1;

/// How ISR changes take effect on the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsrRule {
    /// KIP-497 (AlterPartition): a shrink takes effect only once the controller commits it; an
    /// expansion counts for the HW at once; the HW is computed over the maximal ISR.
    Kip497,
    /// Before KIP-497: the leader applies every ISR change at once, and the controller's
    /// acknowledgement only records the new partition epoch.
    Legacy,
}

/// The per-partition configuration the leader decides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionConfig {
    /// The assigned replicas, in replica order (the preferred leader first).
    pub replicas: Vec<i32>,
    /// `min.insync.replicas`: how many in-sync replicas an acks=all write needs.
    pub min_insync_replicas: usize,
    /// `replica.lag.time.max.ms`: how long a follower may go without catching up before it is
    /// proposed for removal from the ISR.
    pub replica_lag_time_max_ms: u64,
    /// KIP-966: the HW does not advance while the committed ISR is below the effective minimum.
    pub strict_min_isr: bool,
    /// Whether ISR changes wait for the controller (KIP-497) or apply at once.
    pub isr_rule: IsrRule,
    /// TEST-ONLY: admit a follower to the ISR one offset early (see [`crate::planted`]).
    pub planted_isr_admit_one_early: bool,
    /// TEST-ONLY: append acks=all produces without the min ISR check (see [`crate::planted`]).
    pub planted_skip_min_isr_check: bool,
    /// TEST-ONLY: a follower fetch that moves nothing sets the HW back by one (see
    /// [`crate::planted`]).
    pub planted_high_watermark_regress: bool,
}

impl PartitionConfig {
    /// `min(min.insync.replicas, replication factor)`, as Kafka's `effectiveMinIsr`: a topic
    /// with fewer replicas than `min.insync.replicas` still accepts acks=all writes.
    pub fn effective_min_isr(&self) -> usize {
        self.min_insync_replicas.min(self.replicas.len())
    }
}

/// The HW before and after one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwUpdate {
    /// The HW before the event.
    pub previous: i64,
    /// The HW after the event; never below `previous`.
    pub high_watermark: i64,
}

impl HwUpdate {
    /// Whether the HW moved, so that waiting fetches and produces should be re-checked.
    pub fn advanced(&self) -> bool {
        self.high_watermark > self.previous
    }
}

/// Whether a proposed ISR change adds or removes replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsrChangeKind {
    /// One caught-up follower joins the ISR.
    Expand,
    /// Followers out of sync for longer than `replica.lag.time.max.ms` leave the ISR.
    Shrink,
}

/// An ISR change the leader asks the controller to record (an AlterPartition request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    /// Whether replicas are added or removed.
    pub kind: IsrChangeKind,
    /// The full ISR the leader proposes.
    pub new_isr: Vec<i32>,
    /// The leader's epoch, so the controller can fence a deposed leader.
    pub leader_epoch: i32,
    /// The partition epoch this change is based on, so the controller can reject a stale one.
    pub partition_epoch: i32,
}

/// What a follower's fetch changed on the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The HW before and after the fetch; the fetch response carries `high_watermark`.
    pub hw_update: HwUpdate,
    /// An ISR expansion to send to the controller, when the fetch brought a follower in sync.
    pub isr_change: Option<IsrChange>,
}

/// The state of an acks=all produce waiting for its batch to be replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcksAll {
    /// The HW has not yet passed the batch; keep waiting (until the request times out).
    Pending,
    /// The HW passed the batch and the ISR holds at least the minimum: acknowledge.
    Done,
    /// The HW passed the batch but the ISR is now below the minimum: the batch was appended but
    /// cannot be acknowledged as durable (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    NotEnoughReplicasAfterAppend,
}

impl AcksAll {
    /// The Kafka error code for a completed produce, or `None` while it is still pending.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            AcksAll::Pending => None,
            AcksAll::Done => Some(ErrorCode::NONE),
            AcksAll::NotEnoughReplicasAfterAppend => {
                Some(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
            }
        }
    }
}

/// Why the leader refused a produce or a follower's fetch. Each maps to one Kafka error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// acks=all while the committed ISR is below the effective minimum (NOT_ENOUGH_REPLICAS);
    /// nothing was appended.
    #[error("not enough replicas: {in_sync} in sync, {required} required")]
    NotEnoughReplicas {
        /// The size of the committed ISR.
        in_sync: usize,
        /// The effective minimum ISR.
        required: usize,
    },
    /// An `acks` value other than -1, 0 or 1 (INVALID_REQUIRED_ACKS).
    #[error("invalid required acks {0}")]
    InvalidRequiredAcks(i16),
    /// A fetch from a broker that is not a follower of this partition (NOT_LEADER_OR_FOLLOWER).
    #[error("broker {0} is not a follower of this partition")]
    UnknownReplica(i32),
    /// A follower fetch offset below zero or past the leader's log end (OFFSET_OUT_OF_RANGE).
    #[error("fetch offset {fetch_offset} out of range [0, {log_end_offset}]")]
    FetchOffsetOutOfRange {
        /// The offset the follower asked for.
        fetch_offset: i64,
        /// The leader's log end offset at the time.
        log_end_offset: i64,
    },
}

impl Error {
    /// The Kafka error code to answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotEnoughReplicas { .. } => ErrorCode::NOT_ENOUGH_REPLICAS,
            Error::InvalidRequiredAcks(_) => ErrorCode::INVALID_REQUIRED_ACKS,
            Error::UnknownReplica(_) => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            Error::FetchOffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
        }
    }
}

/// What the leader knows about one follower (Kafka's `ReplicaState`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FollowerState {
    /// The follower's log end offset, as its last fetch offset; `None` until it fetches from
    /// this leader, which holds the HW back for an ISR member.
    log_end_offset: Option<i64>,
    /// The last time the follower had everything the leader had; drives ISR shrinking.
    last_caught_up_time_ms: u64,
    /// When the follower last fetched; the candidate caught-up time for its next fetch.
    last_fetch_time_ms: u64,
    /// The leader's log end offset at the follower's last fetch; `None` before any fetch.
    last_fetch_leader_log_end_offset: Option<i64>,
    /// The follower's log start offset as its last fetch reported it; `None` before a fetch
    /// that reported one.
    log_start_offset: Option<i64>,
}

/// The leader's replication state of one partition for one leader epoch.
#[derive(Debug, Clone)]
pub struct LeaderState {
    /// The partition's configuration.
    config: PartitionConfig,
    /// This broker, the leader.
    leader_id: i32,
    /// The epoch this broker leads in.
    leader_epoch: i32,
    /// The controller's version of the partition state, sent with ISR changes.
    partition_epoch: i32,
    /// The leader's log end offset when this epoch began: a follower must reach it to join.
    leader_epoch_start_offset: i64,
    /// The ISR as the controller last committed it (under Legacy, as the leader applied it).
    isr: Vec<i32>,
    /// A change sent to the controller and not yet answered (KIP-497 only).
    pending: Option<IsrChange>,
    /// Per follower (every replica but the leader), what the leader knows of it.
    followers: BTreeMap<i32, FollowerState>,
    /// The leader's own log end offset.
    log_end_offset: i64,
    /// The high watermark: offsets below it are committed.
    high_watermark: i64,
}

impl LeaderState {
    /// Becomes leader of a partition in `leader_epoch` with the controller's `isr`, the local
    /// log's end offset and the HW it recovered, at monotonic time `now_ms`.
    ///
    /// As Kafka on election, followers in the ISR count as caught up now (so they get a full
    /// `replica.lag.time.max.ms` to fetch) and the others as never caught up; no follower's log
    /// end offset is known yet. The partition epoch starts at 0; see
    /// [`LeaderState::with_partition_epoch`].
    pub fn new(
        config: PartitionConfig,
        leader_id: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
        log_end_offset: i64,
        high_watermark: i64,
        now_ms: u64,
    ) -> Self {
        assert!(
            config.min_insync_replicas >= 1,
            "min.insync.replicas must be at least 1"
        );
        assert!(
            config.replicas.contains(&leader_id),
            "leader {leader_id} is not a replica of {:?}",
            config.replicas
        );
        assert!(
            0 <= high_watermark && high_watermark <= log_end_offset,
            "high watermark {high_watermark} outside [0, {log_end_offset}]"
        );
        let followers = config
            .replicas
            .iter()
            .filter(|&&id| id != leader_id)
            .map(|&id| {
                let state = FollowerState {
                    log_end_offset: None,
                    last_caught_up_time_ms: if isr.contains(&id) { now_ms } else { 0 },
                    last_fetch_time_ms: 0,
                    last_fetch_leader_log_end_offset: None,
                    log_start_offset: None,
                };
                (id, state)
            })
            .collect();
        let state = LeaderState {
            config,
            leader_id,
            leader_epoch,
            partition_epoch: 0,
            leader_epoch_start_offset: log_end_offset,
            isr,
            pending: None,
            followers,
            log_end_offset,
            high_watermark,
        };
        state.check_invariants();
        state
    }

    /// Sets the partition epoch the controller published with this leadership, which every
    /// ISR change is based on.
    pub fn with_partition_epoch(mut self, partition_epoch: i32) -> Self {
        self.partition_epoch = partition_epoch;
        self
    }

    /// The leader's own log grew to `new_log_end_offset` (a local append). With no follower
    /// in the counted ISR, this alone advances the HW.
    pub fn on_append(&mut self, new_log_end_offset: i64) -> HwUpdate {
        assert!(
            new_log_end_offset >= self.log_end_offset,
            "leader log end offset went back from {} to {new_log_end_offset}",
            self.log_end_offset
        );
        self.log_end_offset = new_log_end_offset;
        self.advance_high_watermark()
    }

    /// A follower fetched at `fetch_offset` (its log end offset) at `now_ms`: records it, and
    /// may advance the HW and propose adding the follower to the ISR. `eligible` is false when
    /// the leader's metadata shows the follower fenced or shutting down: it is then not
    /// proposed for the ISR (KIP-841).
    pub fn on_follower_fetch(
        &mut self,
        follower: i32,
        fetch_offset: i64,
        now_ms: u64,
        eligible: bool,
    ) -> Result<FetchOutcome, Error> {
        if !self.followers.contains_key(&follower) {
            return Err(Error::UnknownReplica(follower));
        }
        if fetch_offset < 0 || fetch_offset > self.log_end_offset {
            return Err(Error::FetchOffsetOutOfRange {
                fetch_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let leader_log_end_offset = self.log_end_offset;
        let state = self.followers.get_mut(&follower).expect("checked above");
        update_fetch_state(state, fetch_offset, leader_log_end_offset, now_ms);
        let isr_change = eligible.then(|| self.maybe_expand_isr(follower)).flatten();
        let hw_update = self.advance_high_watermark();
        // The planted bug: a fetch that moved nothing leaves the HW one short. Nothing here
        // notices; the partition actor's check that a leader's HW never moves back does.
        let regress = self.config.planted_high_watermark_regress && !hw_update.advanced();
        if regress && self.high_watermark > 0 {
            self.high_watermark -= 1;
        }
        Ok(FetchOutcome {
            hw_update,
            isr_change,
        })
    }

    /// Whether an acks=all produce whose batch ends at `last_offset` may be answered: once the
    /// HW is past the batch, `Done` if the maximal ISR still holds the effective minimum, else
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (Kafka's `checkEnoughReplicasReachOffset`).
    ///
    /// Under `strict_min_isr` the HW does not pass the batch while the ISR is below the
    /// minimum, so such a produce stays `Pending` until the ISR recovers or the request times
    /// out — as in Kafka, where it then answers REQUEST_TIMED_OUT.
    pub fn check_acks_all(&self, last_offset: i64) -> AcksAll {
        assert!(
            last_offset < self.log_end_offset,
            "waiting for offset {last_offset} that was never appended (log end {})",
            self.log_end_offset
        );
        let acks = if self.high_watermark <= last_offset {
            AcksAll::Pending
        } else if self.maximal_isr().len() >= self.config.effective_min_isr() {
            AcksAll::Done
        } else {
            AcksAll::NotEnoughReplicasAfterAppend
        };
        assert!(
            acks == AcksAll::Pending || self.high_watermark > last_offset,
            "acks=all answered {acks:?} for offset {last_offset} below the high watermark {}",
            self.high_watermark
        );
        acks
    }

    /// Whether a produce with `acks` may be appended: acks=all is refused with
    /// NOT_ENOUGH_REPLICAS while the committed ISR is below the effective minimum.
    pub fn check_produce_allowed(&self, acks: i16) -> Result<(), Error> {
        match acks {
            ACKS_ALL => {
                let required = self.config.effective_min_isr();
                if self.isr.len() < required && !self.config.planted_skip_min_isr_check {
                    return Err(Error::NotEnoughReplicas {
                        in_sync: self.isr.len(),
                        required,
                    });
                }
                Ok(())
            }
            0 | 1 => Ok(()),
            other => Err(Error::InvalidRequiredAcks(other)),
        }
    }

    /// Proposes removing every ISR follower out of sync for more than
    /// `replica.lag.time.max.ms` at `now_ms`. Under KIP-497 the change is pending until
    /// [`LeaderState::on_isr_change_committed`]; under Legacy it applies at once, which may
    /// advance the HW (read [`LeaderState::high_watermark`] after). `None` while another change
    /// is pending or when every follower is in sync.
    pub fn maybe_shrink_isr(&mut self, now_ms: u64) -> Option<IsrChange> {
        if self.pending.is_some() {
            return None;
        }
        let out_of_sync: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|&id| id != self.leader_id && self.is_out_of_sync(id, now_ms))
            .collect();
        if out_of_sync.is_empty() {
            return None;
        }
        let new_isr = self
            .isr
            .iter()
            .copied()
            .filter(|id| !out_of_sync.contains(id))
            .collect();
        Some(self.propose(IsrChangeKind::Shrink, new_isr))
    }

    /// The controller committed `new_isr` at `partition_epoch` (KIP-497's AlterPartition
    /// response, or a Legacy write's acknowledgement). The committed ISR becomes `new_isr` and
    /// any pending change ends. A `partition_epoch` not newer than the current one is stale and
    /// ignored. Returns the HW change: committing a shrink may let the HW advance.
    pub fn on_isr_change_committed(&mut self, new_isr: Vec<i32>, partition_epoch: i32) -> HwUpdate {
        if partition_epoch <= self.partition_epoch {
            return self.unchanged();
        }
        self.partition_epoch = partition_epoch;
        self.isr = new_isr;
        self.pending = None;
        self.check_invariants();
        self.advance_high_watermark()
    }

    /// The controller refused the pending change (a stale partition epoch, a fenced broker).
    /// Under KIP-497 the leader falls back to the committed ISR; a refused expansion leaves the
    /// maximal ISR, which may let the HW advance. Under Legacy nothing was pending: no-op.
    pub fn on_isr_change_rejected(&mut self) -> HwUpdate {
        self.pending = None;
        self.check_invariants();
        self.advance_high_watermark()
    }

    /// A follower's fetch reported its log start offset (Fetch's `log_start_offset`; a
    /// negative value reports nothing).
    pub fn on_follower_log_start(&mut self, follower: i32, log_start_offset: i64) {
        if let Some(state) = self.followers.get_mut(&follower) {
            if log_start_offset >= 0 {
                state.log_start_offset = Some(log_start_offset);
            }
        }
    }

    /// Kafka's low watermark for DeleteRecords: the least log start offset over this leader
    /// (`own_log_start_offset`) and the followers in the ISR, or `None` while an ISR follower
    /// has not reported one since this leadership began.
    pub fn low_watermark(&self, own_log_start_offset: i64) -> Option<i64> {
        let mut low = own_log_start_offset;
        for id in self.isr.iter().filter(|&&id| id != self.leader_id) {
            low = low.min(self.followers.get(id)?.log_start_offset?);
        }
        Some(low)
    }

    /// The high watermark: offsets below it are committed and readable by consumers.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The ISR as committed by the controller (under Legacy: as the leader applied it). This is
    /// what NOT_ENOUGH_REPLICAS and the strict minimum ISR look at.
    pub fn isr(&self) -> &[i32] {
        &self.isr
    }

    /// The committed ISR plus the replicas a pending change may add, without removing those a
    /// pending shrink would drop: the ISR the HW and acks=all count under KIP-497. Equal to
    /// [`LeaderState::isr`] when nothing is pending.
    pub fn maximal_isr(&self) -> Vec<i32> {
        let mut maximal = self.isr.clone();
        if let Some(change) = &self.pending {
            for &id in &change.new_isr {
                if !maximal.contains(&id) {
                    maximal.push(id);
                }
            }
        }
        maximal
    }

    /// The ISR change sent to the controller and not yet answered, if any (KIP-497 only).
    pub fn pending_isr_change(&self) -> Option<&IsrChange> {
        self.pending.as_ref()
    }

    /// The leader's own log end offset.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// A follower's log end offset as of its last fetch; `None` before its first fetch from
    /// this leader or for a broker that is not a follower.
    pub fn follower_log_end_offset(&self, follower: i32) -> Option<i64> {
        self.followers.get(&follower)?.log_end_offset
    }

    /// This broker's id.
    pub fn leader_id(&self) -> i32 {
        self.leader_id
    }

    /// The epoch this broker leads in.
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The latest partition epoch the controller published or committed.
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// The partition's configuration.
    pub fn config(&self) -> &PartitionConfig {
        &self.config
    }

    /// A dynamic `min.insync.replicas` change (AlterConfigs): acks=all produces and the
    /// strict minimum ISR use it from now on, and a HW the old minimum held back advances
    /// at once.
    pub fn set_min_insync_replicas(&mut self, min_insync_replicas: usize) -> HwUpdate {
        assert!(
            min_insync_replicas >= 1,
            "min.insync.replicas must be at least 1"
        );
        self.config.min_insync_replicas = min_insync_replicas;
        self.advance_high_watermark()
    }

    /// Builds an ISR change; under Legacy applies it at once, under KIP-497 marks it pending.
    fn propose(&mut self, kind: IsrChangeKind, new_isr: Vec<i32>) -> IsrChange {
        let change = IsrChange {
            kind,
            new_isr,
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
        };
        match self.config.isr_rule {
            IsrRule::Kip497 => self.pending = Some(change.clone()),
            IsrRule::Legacy => {
                self.isr = change.new_isr.clone();
                self.advance_high_watermark();
            }
        }
        self.check_invariants();
        change
    }

    /// Proposes adding `follower` when it is outside the ISR and has reached both the HW and
    /// the start of this leader epoch (Kafka's `isFollowerInSync`).
    fn maybe_expand_isr(&mut self, follower: i32) -> Option<IsrChange> {
        if self.pending.is_some() || self.isr.contains(&follower) {
            return None;
        }
        let log_end_offset = self.followers[&follower].log_end_offset?;
        // The planted bug admits a follower one offset short of the HW.
        let high_watermark = match self.config.planted_isr_admit_one_early {
            true => self.high_watermark - 1,
            false => self.high_watermark,
        };
        let in_sync =
            log_end_offset >= high_watermark && log_end_offset >= self.leader_epoch_start_offset;
        if !in_sync {
            return None;
        }
        let mut new_isr = self.isr.clone();
        new_isr.push(follower);
        Some(self.propose(IsrChangeKind::Expand, new_isr))
    }

    /// Kafka's `!isCaughtUp`: behind the leader's log end and not caught up within the lag time.
    fn is_out_of_sync(&self, follower: i32, now_ms: u64) -> bool {
        let state = &self.followers[&follower];
        let behind = state.log_end_offset != Some(self.log_end_offset);
        let lag_ms = now_ms.saturating_sub(state.last_caught_up_time_ms);
        behind && lag_ms > self.config.replica_lag_time_max_ms
    }

    /// Raises the HW to the minimum log end offset over the counted ISR, if that is higher and
    /// the strict minimum ISR allows it.
    fn advance_high_watermark(&mut self) -> HwUpdate {
        let previous = self.high_watermark;
        if let Some(candidate) = self.high_watermark_candidate() {
            if candidate > self.high_watermark {
                self.high_watermark = candidate;
            }
        }
        assert!(self.high_watermark >= previous, "high watermark went back");
        self.check_invariants();
        HwUpdate {
            previous,
            high_watermark: self.high_watermark,
        }
    }

    /// The minimum log end offset over the ISR the HW counts, or `None` when the HW must stay
    /// (a member's log end offset is unknown, or the strict minimum ISR is not met).
    fn high_watermark_candidate(&self) -> Option<i64> {
        if self.config.strict_min_isr && self.isr.len() < self.config.effective_min_isr() {
            return None;
        }
        let counted = match self.config.isr_rule {
            IsrRule::Kip497 => self.maximal_isr(),
            IsrRule::Legacy => self.isr.clone(),
        };
        let mut candidate = self.log_end_offset;
        for id in counted.into_iter().filter(|&id| id != self.leader_id) {
            candidate = candidate.min(self.followers[&id].log_end_offset?);
        }
        Some(candidate)
    }

    /// An [`HwUpdate`] for an event that did not move the HW.
    fn unchanged(&self) -> HwUpdate {
        HwUpdate {
            previous: self.high_watermark,
            high_watermark: self.high_watermark,
        }
    }

    /// Asserts the invariants every event must leave in place.
    fn check_invariants(&self) {
        assert!(
            0 <= self.high_watermark && self.high_watermark <= self.log_end_offset,
            "high watermark {} outside [0, log end offset {}]",
            self.high_watermark,
            self.log_end_offset
        );
        check_isr(&self.isr, self.leader_id, &self.config.replicas);
        check_isr(&self.maximal_isr(), self.leader_id, &self.config.replicas);
        assert!(
            self.leader_epoch_start_offset <= self.log_end_offset,
            "leader epoch {} starts at {}, past the log end offset {}",
            self.leader_epoch,
            self.leader_epoch_start_offset,
            self.log_end_offset
        );
        assert!(
            self.pending.is_none() || self.config.isr_rule == IsrRule::Kip497,
            "an ISR change is pending under the legacy rule, which applies changes at once"
        );
        for (id, follower) in &self.followers {
            assert!(
                follower.log_end_offset.unwrap_or(0) <= self.log_end_offset,
                "follower {id} log end offset {:?} past the leader's {}",
                follower.log_end_offset,
                self.log_end_offset
            );
        }
    }
}

/// Asserts that `isr` holds the leader, only replicas, and no replica twice.
fn check_isr(isr: &[i32], leader_id: i32, replicas: &[i32]) {
    assert!(
        isr.contains(&leader_id),
        "leader {leader_id} not in ISR {isr:?}"
    );
    for (i, id) in isr.iter().enumerate() {
        assert!(replicas.contains(id), "ISR {isr:?} holds non-replica {id}");
        assert!(!isr[..i].contains(id), "ISR {isr:?} holds {id} twice");
    }
}

/// Records a fetch at `fetch_offset` (Kafka's `Replica.updateFetchState`): the follower is
/// caught up as of now if it reached the leader's current log end, or as of its previous fetch
/// if it reached what the leader had then.
fn update_fetch_state(
    state: &mut FollowerState,
    fetch_offset: i64,
    leader_log_end_offset: i64,
    now_ms: u64,
) {
    if fetch_offset >= leader_log_end_offset {
        state.last_caught_up_time_ms = state.last_caught_up_time_ms.max(now_ms);
    } else if state
        .last_fetch_leader_log_end_offset
        .is_some_and(|previous| fetch_offset >= previous)
    {
        state.last_caught_up_time_ms = state.last_caught_up_time_ms.max(state.last_fetch_time_ms);
    }
    state.log_end_offset = Some(fetch_offset);
    state.last_fetch_leader_log_end_offset = Some(leader_log_end_offset);
    state.last_fetch_time_ms = now_ms;
}
