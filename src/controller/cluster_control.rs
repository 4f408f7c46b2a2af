//! Broker registration, heartbeats and fencing: the controller's share of Kafka's
//! `ClusterControlManager` (and the broker-driven re-elections it triggers).
//!
//! # Rules followed
//! - A broker whose session expired (no heartbeat for `broker_session_timeout_ms`), or that
//!   asked for a controlled shutdown, is fenced; leadership moves off it first.
//! - A new incarnation of a known broker registers fenced (`fence_restarted_brokers`) and is
//!   unfenced by a heartbeat that reports it caught up; without the switch it is unfenced at
//!   once and the partitions it led get a new leader epoch.
//! - With eligible leader replicas (KIP-966), a broker that registers a new incarnation after
//!   an unclean shutdown (every restart here: nothing writes a clean-shutdown marker yet)
//!   leaves every ISR and ELR, so a last replica standing that lost its unflushed tail cannot
//!   lead again on its own word. Such a broker joins the partition's last known ELR instead
//!   (while the ISR is below the minimum): it may hold committed offsets the others lost.
//!
//! # Invariants asserted here
//! - A fenced broker leads no partition: fencing moves every leadership off the broker before
//!   the fence record, and with `fence_restarted_brokers` a restarted broker (registered
//!   fenced) leads nothing after the batch that registers it.
//! - Session times only move forward: a registration or heartbeat never renews a broker's
//!   session at a time before its last renewal.

use std::collections::BTreeMap;

use super::controller::Batch;
use super::elections::{Reelect, RETRY_OFFLINE};
use super::records::{ChangeReason, Endpoint, MetadataRecord, RegisterBroker, ReplicaLogEnd};
use super::state::{MetadataState, PartitionState};
use super::{Controller, ControllerError};

impl Controller {
    /// A registering broker's hosted replicas' log ends (volatile; no records). Ignored from
    /// an incarnation older than the one registered: that process is gone.
    pub fn report_log_ends(&mut self, broker_id: i32, incarnation: u64, ends: &[ReplicaLogEnd]) {
        let known = self.state.broker(broker_id).map(|b| b.incarnation);
        if known.is_some_and(|known| incarnation < known) {
            return;
        }
        self.log_ends
            .retain(|(_, _, broker), _| *broker != broker_id);
        for end in ends {
            let key = (end.topic.clone(), end.partition, broker_id);
            self.log_ends.insert(key, (end.last_epoch, end.end_offset));
        }
    }

    /// A broker (re)registers. A known broker with a greater incarnation restarted: with
    /// `fence_restarted_brokers` it stays fenced, leaves its ISRs (last member kept) and loses
    /// leadership until a caught-up heartbeat; without, it is unfenced at once and partitions
    /// it led are re-elected with a new leader epoch. A brand-new broker is unfenced at once.
    /// With `eligible_leader_replicas`, a restart after an unclean shutdown first removes the
    /// broker from every ISR and ELR. The shutdown was clean when the broker reports, as the
    /// incarnation its clean-shutdown marker named (`previous_incarnation`, KIP-966's previous
    /// broker epoch), the incarnation registered last; anything else — no marker, or a marker
    /// from an older incarnation — is unclean.
    pub fn register_broker(
        &mut self,
        broker_id: i32,
        incarnation: u64,
        endpoint: Endpoint,
        now_ms: u64,
        previous_incarnation: Option<u64>,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let known = self.state.broker(broker_id).cloned();
        if let Some(known) = &known {
            if incarnation < known.incarnation {
                return Err(ControllerError::StaleBrokerEpoch {
                    broker_id,
                    incarnation,
                });
            }
            if incarnation == known.incarnation {
                if known.endpoint != endpoint {
                    return Err(ControllerError::DuplicateBrokerRegistration(broker_id));
                }
                renew_session(&mut self.last_heartbeat_ms, broker_id, now_ms);
                return Ok(Vec::new());
            }
        }
        renew_session(&mut self.last_heartbeat_ms, broker_id, now_ms);
        self.shutting_down.remove(&broker_id);
        let clean_shutdown = known
            .as_ref()
            .is_some_and(|known| previous_incarnation == Some(known.incarnation));
        let registration = RegisterBroker {
            broker_id,
            incarnation,
            endpoint,
        };
        batch.push(MetadataRecord::RegisterBroker(registration));
        if known.is_some() && self.config.eligible_leader_replicas && !clean_shutdown {
            self.remove_unclean(&mut batch, broker_id);
        }
        if known.is_some() && self.config.fence_restarted_brokers {
            let reason = ChangeReason::BrokerRestarted;
            self.move_off(&mut batch, broker_id, reason);
            assert_leads_nothing(&batch.scratch, broker_id);
        } else {
            self.unfence(&mut batch, broker_id);
            if known.is_some() {
                self.reelect_led_by(&mut batch, broker_id);
            }
        }
        Ok(self.finish(batch))
    }

    /// A broker's heartbeat keeps its session alive. A fenced broker not shutting down is
    /// unfenced when it reports `caught_up` (always, when `fence_restarted_brokers` is off),
    /// and leaderless partitions it can lead get it as leader.
    pub fn heartbeat(
        &mut self,
        broker_id: i32,
        incarnation: u64,
        now_ms: u64,
        caught_up: bool,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let broker = self.state.broker(broker_id);
        let broker = broker.ok_or(ControllerError::BrokerIdNotRegistered(broker_id))?;
        if broker.incarnation != incarnation {
            return Err(ControllerError::StaleBrokerEpoch {
                broker_id,
                incarnation,
            });
        }
        renew_session(&mut self.last_heartbeat_ms, broker_id, now_ms);
        let may_unfence = caught_up || !self.config.fence_restarted_brokers;
        if broker.fenced && may_unfence && !self.shutting_down.contains(&broker_id) {
            self.unfence(&mut batch, broker_id);
        } else if !broker.fenced && self.config.eligible_leader_replicas {
            // Unclean recovery may have been waiting for this broker's log end (reported at a
            // re-registration, say after a controller fail-over): offline partitions it hosts
            // try again. Nothing changes, and no record is written, if they still cannot.
            self.retry_offline(&mut batch, broker_id);
        }
        Ok(self.finish(batch))
    }

    /// Fences every unfenced broker silent for `broker_session_timeout_ms` or more, in id
    /// order, moving leadership off it first.
    pub fn tick(&mut self, now_ms: u64) -> Vec<MetadataRecord> {
        let mut batch = self.begin();
        let timeout_ms = self.config.broker_session_timeout_ms;
        let mut expired = Vec::new();
        for broker_id in self.state.unfenced_brokers() {
            let last_ms = *self.last_heartbeat_ms.entry(broker_id).or_insert(now_ms);
            if now_ms.saturating_sub(last_ms) >= timeout_ms {
                expired.push(broker_id);
            }
        }
        for broker_id in expired {
            self.fence(&mut batch, broker_id, ChangeReason::BrokerFenced);
        }
        self.finish(batch)
    }

    /// Controlled shutdown: leadership moves to other live ISR members and the broker leaves
    /// ISRs (last member kept), then it is fenced. Later heartbeats from this incarnation keep
    /// its session but never unfence it; a new registration ends the shutdown.
    pub fn controlled_shutdown(
        &mut self,
        broker_id: i32,
    ) -> Result<Vec<MetadataRecord>, ControllerError> {
        let mut batch = self.begin();
        let broker = self.state.broker(broker_id);
        let broker = broker.ok_or(ControllerError::BrokerIdNotRegistered(broker_id))?;
        self.shutting_down.insert(broker_id);
        if !broker.fenced {
            self.fence(&mut batch, broker_id, ChangeReason::ControlledShutdown);
        }
        Ok(self.finish(batch))
    }

    /// Whether `broker_id` may lead or join an ISR in `state`.
    pub(super) fn eligible(&self, state: &MetadataState, broker_id: i32) -> bool {
        state.is_unfenced(broker_id) && !self.shutting_down.contains(&broker_id)
    }

    /// Leadership and ISR membership move off `broker_id`, then it is fenced.
    pub(super) fn fence(&self, batch: &mut Batch, broker_id: i32, reason: ChangeReason) {
        self.move_off(batch, broker_id, reason);
        batch.push(MetadataRecord::FenceBroker { broker_id });
        assert_leads_nothing(&batch.scratch, broker_id);
    }

    /// Every partition `broker_id` leads or is in the ISR of is re-elected without it.
    pub(super) fn move_off(&self, batch: &mut Batch, broker_id: i32, reason: ChangeReason) {
        let step = Reelect {
            leaving: Some(broker_id),
            unclean_shutdown: false,
            force: false,
            reason,
        };
        self.reelect_where(batch, |p| p.in_isr(broker_id), step);
    }

    /// KIP-966: a broker back from an unclean shutdown may have lost its unflushed tail, so it
    /// leaves every ISR (even as the last member) and every ELR, and partitions re-elect.
    pub(super) fn remove_unclean(&self, batch: &mut Batch, broker_id: i32) {
        let step = Reelect {
            leaving: Some(broker_id),
            unclean_shutdown: true,
            force: false,
            reason: ChangeReason::BrokerRestarted,
        };
        let touched = |p: &PartitionState| p.in_isr(broker_id) || p.in_elr(broker_id);
        self.reelect_where(batch, touched, step);
    }

    /// Unfences `broker_id`; leaderless partitions then elect whoever is eligible.
    pub(super) fn unfence(&self, batch: &mut Batch, broker_id: i32) {
        batch.push(MetadataRecord::UnfenceBroker { broker_id });
        self.reelect_where(batch, |p| p.leader == -1, RETRY_OFFLINE);
    }

    /// Offline partitions hosted on `broker_id` re-elect.
    pub(super) fn retry_offline(&self, batch: &mut Batch, broker_id: i32) {
        let hosted_offline = |p: &PartitionState| p.leader == -1 && p.replicas.contains(&broker_id);
        self.reelect_where(batch, hosted_offline, RETRY_OFFLINE);
    }

    /// Partitions led by a restarted broker's previous incarnation get a new leader epoch
    /// (possibly the same leader), so followers reconcile their logs with the new process.
    pub(super) fn reelect_led_by(&self, batch: &mut Batch, broker_id: i32) {
        let step = Reelect {
            leaving: None,
            unclean_shutdown: false,
            force: true,
            reason: ChangeReason::BrokerRestarted,
        };
        self.reelect_where(batch, |p| p.leader == broker_id, step);
    }
}

/// A fenced (or restarted and not yet unfenced) broker leads no partition: leadership was
/// moved off it first.
fn assert_leads_nothing(state: &MetadataState, broker_id: i32) {
    let led = state.partitions().find(|(_, _, p)| p.leader == broker_id);
    assert!(
        led.is_none(),
        "broker {broker_id} still leads {led:?} after leadership moved off it"
    );
}

/// Starts `broker_id`'s session afresh at `now_ms`, which is never before its last renewal.
fn renew_session(sessions: &mut BTreeMap<i32, u64>, broker_id: i32, now_ms: u64) {
    let last_ms = sessions.get(&broker_id).copied();
    assert!(
        last_ms.is_none_or(|last_ms| last_ms <= now_ms),
        "broker {broker_id}'s session goes back from {last_ms:?} ms to {now_ms} ms"
    );
    sessions.insert(broker_id, now_ms);
}
