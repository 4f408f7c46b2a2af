//! Fault targets resolved to node ids: the one resolver used by scripted steps when they
//! fire, by `when` predicates' operands, by the state-change hook that pauses a fired step's
//! targets, and by the random nemesis (whose targets are plain brokers and the controller).
//!
//! Partition targets are resolved from the leader and ISR the online model last observed
//! (never the brokers' own variables); before any observation the first replica leads and
//! every replica is in sync.

use rand::RngCore;

use crate::cluster::CONTROLLER_ID;
use crate::history::Tp;
use crate::scenario::Target;

/// A partition as targets see it.
#[derive(Debug, Clone, Default)]
pub struct PartitionView {
    /// Its replicas in assignment order.
    pub replicas: Vec<i32>,
    /// The latest elected leader observed, if any.
    pub leader: Option<i32>,
    /// The latest ISR observed (empty before any).
    pub isr: Vec<i32>,
}

/// The brokers `target` names now. `brokers` are every broker (what `all` names);
/// `partition` gives a partition's observed state; `minority` and `majority` draw their
/// brokers from `rng`, the run's own random stream, and name nobody without one (the
/// state-change hook leaves them to the supervisor).
pub fn resolve(
    target: &Target,
    brokers: &[i32],
    partition: impl FnOnce(&Tp) -> PartitionView,
    rng: Option<&mut dyn RngCore>,
) -> Vec<i32> {
    match target {
        Target::Broker(id) => vec![*id],
        Target::All => brokers.to_vec(),
        Target::Controller => vec![CONTROLLER_ID],
        Target::Client(index) => vec![crate::cluster::CLIENT_ID_BASE + *index as i32],
        Target::Leader { .. } | Target::Follower { .. } | Target::Isr { .. } => {
            let tp = target_partition(target).expect("a partition target");
            let view = partition(&tp);
            partition_target(target, &view.replicas, view.leader, &view.isr).unwrap_or_default()
        }
        Target::Minority | Target::Majority => {
            use rand::seq::SliceRandom;
            let Some(rng) = rng else {
                return Vec::new();
            };
            let mut ids = brokers.to_vec();
            ids.shuffle(rng);
            ids.truncate(target.size(brokers.len() as u32) as usize);
            ids.sort();
            ids
        }
    }
}

/// The brokers a partition target names, given the partition's replicas in assignment order,
/// its latest elected leader and its latest ISR (empty when none was observed). `None` for
/// targets that are not about one partition.
///
/// `leader(t/p)` is the latest leader, else the first replica; `follower(t/p, i)` the i-th
/// (1-based) replica in assignment order once the leader is left out; `isr(t/p)` every broker
/// of the latest ISR, else every replica.
pub fn partition_target(
    target: &Target,
    replicas: &[i32],
    leader: Option<i32>,
    isr: &[i32],
) -> Option<Vec<i32>> {
    let leader = leader.or_else(|| replicas.first().copied());
    match target {
        Target::Leader { .. } => Some(leader.into_iter().collect()),
        Target::Follower { index, .. } => Some(
            replicas
                .iter()
                .copied()
                .filter(|replica| Some(*replica) != leader)
                .nth(index.saturating_sub(1))
                .into_iter()
                .collect(),
        ),
        Target::Isr { .. } => {
            let mut brokers = if isr.is_empty() {
                replicas.to_vec()
            } else {
                isr.to_vec()
            };
            brokers.sort();
            brokers.dedup();
            Some(brokers)
        }
        _ => None,
    }
}

/// The partition a target is about, if it is about one.
pub fn target_partition(target: &Target) -> Option<Tp> {
    match target {
        Target::Leader { topic, partition }
        | Target::Isr { topic, partition }
        | Target::Follower {
            topic, partition, ..
        } => Some(Tp::new(topic.clone(), *partition)),
        _ => None,
    }
}
