//! The random nemesis: a `[nemesis]` table turned into a schedule of fault actions, each with
//! its recovery, drawn from one random stream and kept within the declared failure model.
//!
//! The schedule is a pure function of (nemesis, cluster shape, duration, random stream): it is
//! computed once before the safety phase and merged into the scripted timeline, so every
//! random fault is applied through `super::apply::apply` like a scripted one and a run stays a
//! function of (scenario, seed, build).
//!
//! Guarantee (failure model `within`, SIMULATION.md): at every moment, counting only random
//! faults, at most RF−1 replicas of any partition are unavailable (killed, powered off,
//! paused, partitioned or silently dead), and at most min.insync.replicas−1 of them count as
//! having lost unsynced data. The schedule counts a powered-off broker as having lost unsynced
//! data from the power loss until `replica.lag.time.max.ms` after its restart. That alone is
//! not enough: a restarted broker may stay behind far longer (its partitions leaderless, its
//! leader cut off), and a second power loss meanwhile can take the last copy of committed
//! data. So the runner checks again when a drawn power loss fires: while another broker that
//! lost power does not yet hold every committed offset again (as the online model sees it),
//! the power loss is applied as a kill, and `nemesis.power_loss_as_kill` counts it. A draw
//! that would break the model is skipped, not redrawn.
//!
//! The controller (`targets = ["brokers", "controller"]`) is drawn like a broker for the kinds
//! a controller process can suffer ([`CONTROLLER_KINDS`]). Its failure model: the controller
//! hosts no replica, so its own unavailability (killed, shut down, powered off, paused or cut
//! off) never counts against any partition's RF−1 — while it is gone nobody is elected and
//! ISRs cannot change, which costs availability, never data. Its power loss is inside the
//! model because it fsyncs every metadata record before publishing it: a controller that then
//! forgets anything a broker acted on is a bug the checkers must name, not an allowed loss.
//! Like any node it has at most one random fault at a time.

use rand::Rng;

use crate::cluster::assignments;
use crate::scenario::configs::{int_or_default, Scope};
use crate::scenario::{FailureModel, FaultKind, Nemesis, Scenario};

/// The fault kinds a nemesis may draw, by their scenario names.
pub const NEMESIS_KINDS: &[&str] = &[
    "kill",
    "shutdown",
    "power-loss",
    "partition",
    "pause",
    "silent-death",
    "slow-link",
    "drop-response",
];

/// The kinds the nemesis may draw for the controller: process and network faults (the
/// broker-only kinds act on produce responses, links to clients or broker logs).
pub const CONTROLLER_KINDS: &[&str] = &["kill", "shutdown", "power-loss", "partition", "pause"];

/// The kinds the nemesis may draw for a group member: its process and its network.
pub const CLIENT_KINDS: &[&str] = &["kill", "partition", "pause"];

/// The action that ends a random fault of `kind` on its broker.
pub fn recovery(kind: &FaultKind) -> FaultKind {
    match kind {
        FaultKind::Kill | FaultKind::Shutdown | FaultKind::PowerLoss | FaultKind::SilentDeath => {
            FaultKind::Restart
        }
        FaultKind::Pause => FaultKind::Resume,
        _ => FaultKind::Heal,
    }
}

/// Whether a fault of `kind` makes its broker's replicas unavailable while it lasts.
pub fn makes_unavailable(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Kill
            | FaultKind::Shutdown
            | FaultKind::PowerLoss
            | FaultKind::Pause
            | FaultKind::Partition { .. }
            | FaultKind::SilentDeath
    )
}

/// What the failure model needs to know about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Broker ids, in order.
    pub brokers: Vec<i32>,
    /// Every partition of every topic.
    pub partitions: Vec<PartitionShape>,
    /// How long a restarted broker still counts as having lost unsynced data.
    pub replica_lag_time_max_ms: u64,
    /// The controller's node id, when the nemesis may draw it.
    pub controller: Option<i32>,
    /// The group members' target ids (`CLIENT_ID_BASE` + process), when the nemesis may
    /// draw them. They host no replica, so they never count against the failure model.
    pub clients: Vec<i32>,
}

/// One partition's replicas and its min.insync.replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionShape {
    pub replicas: Vec<i32>,
    pub min_insync_replicas: u32,
}

impl Shape {
    /// The scenario's cluster: the static placement, min.insync.replicas from the topic's
    /// config or else `[broker]` (default 1), `replica.lag.time.max.ms` from `[broker]`.
    pub fn of(scenario: &Scenario) -> Shape {
        let broker_min_isr = int_or_default(&scenario.broker, Scope::Broker, "min.insync.replicas");
        let mut partitions = Vec::new();
        for (topic, assignment) in scenario.topics.iter().zip(assignments(scenario)) {
            let min_isr = match topic.config.contains_key("min.insync.replicas") {
                true => int_or_default(&topic.config, Scope::Topic, "min.insync.replicas"),
                false => broker_min_isr,
            };
            partitions.extend(
                assignment
                    .replicas
                    .into_iter()
                    .map(|replicas| PartitionShape {
                        replicas,
                        min_insync_replicas: min_isr.clamp(1, i64::from(u32::MAX)) as u32,
                    }),
            );
        }
        Shape {
            brokers: (1..=scenario.cluster.brokers as i32).collect(),
            partitions,
            replica_lag_time_max_ms: int_or_default(
                &scenario.broker,
                Scope::Broker,
                "replica.lag.time.max.ms",
            )
            .max(0) as u64,
            controller: scenario
                .nemesis
                .as_ref()
                .is_some_and(|n| n.controller)
                .then_some(crate::cluster::CONTROLLER_ID),
            clients: match scenario.nemesis.as_ref().is_some_and(|n| n.clients) {
                true => group_members(scenario),
                false => Vec::new(),
            },
        }
    }
}

/// The target ids of every group-consumer client, in process order.
fn group_members(scenario: &Scenario) -> Vec<i32> {
    let mut process = 0i32;
    let mut members = Vec::new();
    for workload in &scenario.workloads {
        for _ in 0..workload.clients {
            if workload.kind == crate::scenario::WorkloadKind::GroupConsumer {
                members.push(crate::cluster::CLIENT_ID_BASE + process);
            }
            process += 1;
        }
    }
    members
}

/// One action of the schedule: at `at_ms` after the safety phase began, apply `kind` to
/// `broker`.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisAction {
    pub at_ms: u64,
    pub kind: FaultKind,
    pub broker: i32,
}

/// A random fault schedule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    /// Fault starts and recoveries in time order; a recovery due at or after the end of the
    /// safety phase is left to the heal phase.
    pub actions: Vec<NemesisAction>,
    /// Draws made (one per fault start time before the end of the safety phase).
    pub drawn: u64,
    /// Draws skipped because they would break the failure model or every broker was busy.
    pub skipped: u64,
}

/// One random fault as the model tracks it.
#[derive(Debug, Clone)]
struct Window {
    broker: i32,
    start_ms: u64,
    /// When the recovery action is due.
    end_ms: u64,
    unavailable: bool,
    /// For a power loss: until when the broker counts as having lost unsynced data.
    data_lost_until_ms: Option<u64>,
}

impl Window {
    fn unavailable_at(&self, t: u64) -> bool {
        self.unavailable && self.start_ms <= t && t < self.end_ms
    }

    fn data_lost_at(&self, t: u64) -> bool {
        self.data_lost_until_ms
            .is_some_and(|until| self.start_ms <= t && t < until)
    }
}

/// Draw the schedule for a safety phase of `duration_ms`. Fault start times are a Poisson
/// process with mean gap `interval_ms`; each draw picks a kind by weight, a broker with no
/// random fault in progress, and a recovery delay uniformly in `recover_after_ms`.
pub fn schedule(
    nemesis: &Nemesis,
    shape: &Shape,
    duration_ms: u64,
    rng: &mut impl Rng,
) -> Schedule {
    let mut out = Schedule::default();
    let mut windows: Vec<Window> = Vec::new();
    let mut t = 0u64;
    loop {
        t = t.saturating_add(exponential_gap_ms(nemesis.interval_ms, rng));
        if t >= duration_ms {
            break;
        }
        out.drawn += 1;
        let kind = pick_kind(&nemesis.kinds, rng);
        let (low, high) = nemesis.recover_after_ms;
        let delay_ms = rng.gen_range(low..=high);
        let controller = shape
            .controller
            .filter(|_| CONTROLLER_KINDS.contains(&kind.name()));
        let clients = shape
            .clients
            .iter()
            .copied()
            .filter(|_| CLIENT_KINDS.contains(&kind.name()));
        let free: Vec<i32> = shape
            .brokers
            .iter()
            .copied()
            .chain(controller)
            .chain(clients)
            .filter(|b| !windows.iter().any(|w| w.broker == *b && t < w.end_ms))
            .collect();
        if free.is_empty() {
            out.skipped += 1;
            continue;
        }
        let broker = free[rng.gen_range(0..free.len())];
        let end_ms = t + delay_ms;
        let window = Window {
            broker,
            start_ms: t,
            end_ms,
            unavailable: makes_unavailable(&kind),
            data_lost_until_ms: (kind == FaultKind::PowerLoss)
                .then_some(end_ms + shape.replica_lag_time_max_ms),
        };
        if nemesis.failure_model == FailureModel::Within && !within_model(&windows, &window, shape)
        {
            out.skipped += 1;
            continue;
        }
        out.actions.push(NemesisAction {
            at_ms: t,
            kind: kind.clone(),
            broker,
        });
        if end_ms < duration_ms {
            out.actions.push(NemesisAction {
                at_ms: end_ms,
                kind: recovery(&kind),
                broker,
            });
        }
        windows.push(window);
    }
    // Stable: of two actions at one instant, the one drawn first (a recovery) goes first.
    out.actions.sort_by_key(|a| a.at_ms);
    out
}

/// Whether adding `new` keeps every partition within the model. Every earlier window started
/// at or before `new`, so the most faults in force at once over `new`'s life are those in
/// force when it starts: checking that instant is exact.
fn within_model(windows: &[Window], new: &Window, shape: &Shape) -> bool {
    let t = new.start_ms;
    shape
        .partitions
        .iter()
        .filter(|p| p.replicas.contains(&new.broker))
        .all(|partition| {
            let others = |counts: fn(&Window, u64) -> bool| {
                windows
                    .iter()
                    .filter(|w| w.broker != new.broker && partition.replicas.contains(&w.broker))
                    .filter(|w| counts(w, t))
                    .map(|w| w.broker)
                    .collect::<std::collections::BTreeSet<i32>>()
                    .len()
            };
            let replication_factor = partition.replicas.len();
            let unavailable_ok =
                !new.unavailable || others(Window::unavailable_at) + 1 < replication_factor;
            let data_lost_ok = new.data_lost_until_ms.is_none()
                || others(Window::data_lost_at) + 1 < partition.min_insync_replicas as usize;
            unavailable_ok && data_lost_ok
        })
}

/// An exponentially distributed gap with the given mean, at least 1 ms.
fn exponential_gap_ms(mean_ms: u64, rng: &mut impl Rng) -> u64 {
    let u: f64 = rng.gen();
    let gap = -(1.0 - u).ln() * mean_ms as f64;
    (gap.round() as u64).max(1)
}

fn pick_kind(kinds: &[(FaultKind, u32)], rng: &mut impl Rng) -> FaultKind {
    let total: u64 = kinds.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut ticket = rng.gen_range(0..total);
    for (kind, weight) in kinds {
        if ticket < u64::from(*weight) {
            return kind.clone();
        }
        ticket -= u64::from(*weight);
    }
    unreachable!("the ticket is below the total weight")
}

/// How many replicas of each partition are unavailable, and how many count as having lost
/// unsynced data, at time `t` under `schedule` — recomputed from the actions alone, so tests
/// can check the model independently of the generator's own bookkeeping.
pub fn exposure_at(schedule: &Schedule, shape: &Shape, t: u64) -> Vec<(usize, usize)> {
    use std::collections::BTreeMap;
    // broker → (unavailable now, data lost now)
    let mut state: BTreeMap<i32, (bool, Option<u64>)> = BTreeMap::new();
    for action in schedule.actions.iter().filter(|a| a.at_ms <= t) {
        let entry = state.entry(action.broker).or_insert((false, None));
        match &action.kind {
            FaultKind::Restart => {
                entry.0 = false;
                if entry.1 == Some(u64::MAX) {
                    entry.1 = Some(action.at_ms + shape.replica_lag_time_max_ms);
                }
            }
            FaultKind::Resume | FaultKind::Heal => entry.0 = false,
            kind => {
                entry.0 = makes_unavailable(kind);
                if *kind == FaultKind::PowerLoss {
                    entry.1 = Some(u64::MAX);
                }
            }
        }
    }
    shape
        .partitions
        .iter()
        .map(|p| {
            let of = |b: &i32| state.get(b).copied().unwrap_or((false, None));
            let unavailable = p.replicas.iter().filter(|b| of(b).0).count();
            let lost = p
                .replicas
                .iter()
                .filter(|b| of(b).1.is_some_and(|until| t < until))
                .count();
            (unavailable, lost)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn all_kinds() -> Vec<(FaultKind, u32)> {
        vec![
            (FaultKind::Kill, 1),
            (FaultKind::PowerLoss, 1),
            (
                FaultKind::Partition {
                    direction: crate::scenario::Direction::Both,
                },
                1,
            ),
            (FaultKind::Pause, 1),
            (FaultKind::SlowLink { delay_ms: 100 }, 1),
            (FaultKind::DropResponse { count: 1 }, 1),
        ]
    }

    fn nemesis(model: FailureModel) -> Nemesis {
        Nemesis {
            interval_ms: 500,
            kinds: all_kinds(),
            recover_after_ms: (1_000, 6_000),
            failure_model: model,
            controller: false,
            clients: false,
        }
    }

    /// Three brokers, RF 3 partitions placed round robin, min ISR 2.
    fn shape(brokers: i32, replication_factor: i32, min_isr: u32) -> Shape {
        Shape {
            brokers: (1..=brokers).collect(),
            partitions: (0..3)
                .map(|p| PartitionShape {
                    replicas: (0..replication_factor)
                        .map(|i| (p + i) % brokers + 1)
                        .collect(),
                    min_insync_replicas: min_isr,
                })
                .collect(),
            replica_lag_time_max_ms: 2_000,
            controller: None,
            clients: Vec::new(),
        }
    }

    fn draw(nemesis: &Nemesis, shape: &Shape, seed: u64) -> Schedule {
        schedule(nemesis, shape, 60_000, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    /// The worst exposure of any partition at any action time (exposure only changes then).
    fn worst(schedule: &Schedule, shape: &Shape) -> (usize, usize) {
        schedule
            .actions
            .iter()
            .flat_map(|a| exposure_at(schedule, shape, a.at_ms))
            .fold((0, 0), |(u, l), (u2, l2)| (u.max(u2), l.max(l2)))
    }

    #[test]
    fn within_never_exceeds_the_model() {
        for (brokers, rf, min_isr) in [(3, 3, 2), (5, 3, 2), (5, 5, 3), (3, 2, 1), (4, 3, 3)] {
            let shape = shape(brokers, rf, min_isr);
            for seed in 0..200 {
                let schedule = draw(&nemesis(FailureModel::Within), &shape, seed);
                let (unavailable, lost) = worst(&schedule, &shape);
                assert!(
                    unavailable < rf as usize,
                    "seed {seed}: {unavailable} of {rf} replicas unavailable"
                );
                assert!(
                    lost < min_isr as usize,
                    "seed {seed}: {lost} replicas lost data with min ISR {min_isr}"
                );
            }
        }
    }

    #[test]
    fn within_still_fires_faults_and_skips_some() {
        let shape = shape(3, 3, 2);
        let (mut fired, mut skipped) = (0, 0);
        for seed in 0..50 {
            let schedule = draw(&nemesis(FailureModel::Within), &shape, seed);
            fired += schedule.drawn - schedule.skipped;
            skipped += schedule.skipped;
        }
        assert!(fired > 500, "fired {fired}");
        assert!(
            skipped > 0,
            "a 500 ms interval must hit the model sometimes"
        );
    }

    #[test]
    fn outside_may_exceed_the_model() {
        let shape = shape(3, 3, 2);
        let exceeded = (0..50).any(|seed| {
            let schedule = draw(&nemesis(FailureModel::Outside), &shape, seed);
            let (unavailable, lost) = worst(&schedule, &shape);
            unavailable >= 3 || lost >= 2
        });
        assert!(exceeded);
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule() {
        let shape = shape(3, 3, 2);
        let nemesis = nemesis(FailureModel::Within);
        for seed in [0, 1, 7, 12345] {
            assert_eq!(draw(&nemesis, &shape, seed), draw(&nemesis, &shape, seed));
        }
        assert_ne!(draw(&nemesis, &shape, 1), draw(&nemesis, &shape, 2));
    }

    #[test]
    fn replication_factor_one_skips_every_unavailable_draw() {
        let shape = shape(3, 1, 1);
        let schedule = draw(&nemesis(FailureModel::Within), &shape, 3);
        assert!(schedule.skipped > 0);
        assert!(schedule
            .actions
            .iter()
            .all(|a| !makes_unavailable(&a.kind) && a.kind != FaultKind::PowerLoss));
    }

    #[test]
    fn every_fault_is_recovered_before_the_end_or_left_to_heal() {
        let shape = shape(3, 3, 2);
        let schedule = draw(&nemesis(FailureModel::Within), &shape, 9);
        for (i, start) in schedule.actions.iter().enumerate() {
            if matches!(
                start.kind,
                FaultKind::Restart | FaultKind::Resume | FaultKind::Heal
            ) {
                continue;
            }
            let ended = schedule.actions[i + 1..]
                .iter()
                .find(|a| a.broker == start.broker)
                .map(|a| (a.kind.clone(), a.at_ms - start.at_ms));
            if let Some((kind, after_ms)) = ended {
                assert_eq!(kind, recovery(&start.kind));
                assert!((1_000..=6_000).contains(&after_ms), "{after_ms}");
            }
        }
        assert!(schedule
            .actions
            .windows(2)
            .all(|w| w[0].at_ms <= w[1].at_ms));
    }

    #[test]
    fn the_controller_is_drawn_for_its_kinds_only_and_never_counts_against_replicas() {
        let controller = crate::cluster::CONTROLLER_ID;
        let mut with = shape(3, 3, 2);
        with.controller = Some(controller);
        let nemesis = nemesis(FailureModel::Within);
        let mut drawn = 0;
        for seed in 0..100 {
            let schedule = draw(&nemesis, &with, seed);
            for action in schedule.actions.iter().filter(|a| a.broker == controller) {
                let kind = action.kind.name();
                let recovery = ["restart", "resume", "heal"].contains(&kind);
                assert!(recovery || CONTROLLER_KINDS.contains(&kind), "{kind}");
                drawn += !recovery as u32;
            }
            // The model over the brokers holds as before: the controller is no replica.
            let (unavailable, lost) = worst(&schedule, &with);
            assert!(unavailable < 3 && lost < 2, "seed {seed}");
        }
        assert!(drawn > 50, "the controller was drawn {drawn} times");
        let without = draw(&nemesis, &shape(3, 3, 2), 5);
        assert!(without.actions.iter().all(|a| a.broker != controller));
    }

    #[test]
    fn weights_bias_the_kinds_drawn() {
        let shape = shape(5, 3, 2);
        let mut nemesis = nemesis(FailureModel::Outside);
        nemesis.kinds = vec![(FaultKind::Pause, 9), (FaultKind::Kill, 1)];
        let schedule = draw(&nemesis, &shape, 4);
        let count = |k: FaultKind| schedule.actions.iter().filter(|a| a.kind == k).count();
        assert!(count(FaultKind::Pause) > 3 * count(FaultKind::Kill));
    }
}
