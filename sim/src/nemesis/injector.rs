//! The safety phase's fault injector: it applies the timeline's actions at their times and
//! `when` steps the moment the state-change hook hands them over, resolving each action's
//! target when it fires, and keeps the random faults within the failure model.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use madsim::runtime::Handle;
use rand_chacha::ChaCha8Rng;

use super::timeline::TimedAction;
use crate::cluster::clock::RunClock;
use crate::cluster::{FiredFault, SimCluster};
use crate::scenario::{Action, FailureModel, Scenario, Trigger};
use crate::trace::RunTrace;

/// The safety phase's fault injector: applies `at` steps at their times and `when` steps the
/// moment the state-change hook hands them over, until the phase ends and every scheduled
/// action is applied.
pub struct Nemesis<'a> {
    cluster: &'a mut SimCluster,
    trace: &'a RunTrace,
    rng: &'a mut ChaCha8Rng,
    faults: Vec<FiredFault>,
    restarts: u64,
    /// Brokers that lost power and do not yet hold every committed offset again: until they
    /// do, they count against the failure model's "at most min.insync.replicas - 1 losing
    /// unsynced data at once".
    lossy: BTreeSet<i32>,
    /// The `[nemesis]` keeps its faults within the failure model.
    within_model: bool,
    /// The smallest min.insync.replicas of any partition.
    min_insync_replicas: usize,
}

/// An action waiting for its time; `why` says which `when` step scheduled it, if one did.
struct Scheduled {
    action: Action,
    why: Option<String>,
    /// Drawn by the `[nemesis]` rather than scripted.
    random: bool,
}

impl<'a> Nemesis<'a> {
    /// The injector of one run, before any fault.
    pub fn new(
        scenario: &Scenario,
        cluster: &'a mut SimCluster,
        trace: &'a RunTrace,
        rng: &'a mut ChaCha8Rng,
    ) -> Nemesis<'a> {
        Nemesis {
            cluster,
            trace,
            rng,
            faults: Vec::new(),
            restarts: 0,
            lossy: BTreeSet::new(),
            within_model: scenario
                .nemesis
                .as_ref()
                .is_some_and(|n| n.failure_model == FailureModel::Within),
            min_insync_replicas: super::schedule::Shape::of(scenario)
                .partitions
                .iter()
                .map(|p| p.min_insync_replicas as usize)
                .min()
                .unwrap_or(1),
        }
    }

    /// The faults fired, in order, and how many restarts they made.
    pub fn finish(self) -> (Vec<FiredFault>, u64) {
        (self.faults, self.restarts)
    }

    /// Applies the timeline's `steps` (times after `startup`, when the safety phase begins)
    /// and the `when` steps the hook sends over `when_rx`, until the phase ends.
    pub async fn run(
        &mut self,
        scenario: &Scenario,
        clock: RunClock,
        startup: Duration,
        mut when_rx: tokio::sync::mpsc::UnboundedReceiver<crate::trace::WhenFired>,
        steps: Vec<TimedAction>,
    ) {
        let startup_ms = startup.as_millis() as u64;
        let safety_end = startup_ms + scenario.duration_ms;
        // Keyed by (time, order of scheduling), so equal times keep the timeline's order.
        let mut schedule: BTreeMap<(u64, u64), Scheduled> = BTreeMap::new();
        for (at_ms, action, random) in steps {
            let order = schedule.len() as u64;
            let scheduled = Scheduled {
                action,
                why: None,
                random,
            };
            schedule.insert((at_ms + startup_ms, order), scheduled);
        }
        let mut order = schedule.len() as u64;
        let mut armed = scenario
            .faults
            .iter()
            .any(|step| matches!(step.trigger, Trigger::When(_)));
        loop {
            let now = clock.now_ms();
            if armed && now >= safety_end {
                // Disarm first: the hook runs under the trace's lock, so once this returns no
                // step can fire any more and the drain below sees every step that did.
                armed = false;
                self.trace.disarm_when();
                while let Ok(fired) = when_rx.try_recv() {
                    self.fire_when(scenario, fired, clock, &mut schedule, &mut order);
                }
            }
            let next = schedule.keys().next().map(|(at, _)| *at);
            match next {
                Some(at) if at <= now => {
                    let (_, scheduled) = schedule.pop_first().expect("an entry is due");
                    let why = scheduled.why.as_deref();
                    self.apply(&scheduled.action, why, scheduled.random);
                    continue;
                }
                None if now >= safety_end => return,
                _ => {}
            }
            let mut wake = next.unwrap_or(safety_end);
            if armed {
                wake = wake.min(safety_end);
            }
            tokio::select! {
                biased;
                Some(fired) = when_rx.recv(), if armed => {
                    self.fire_when(scenario, fired, clock, &mut schedule, &mut order);
                }
                _ = tokio::time::sleep(Duration::from_millis(wake - now)) => {}
            }
        }
    }

    /// Applies a fired `when` step's immediate actions now and schedules its delayed ones,
    /// then resumes every broker the hook paused that is still meant to run.
    fn fire_when(
        &mut self,
        scenario: &Scenario,
        fired: crate::trace::WhenFired,
        clock: RunClock,
        schedule: &mut BTreeMap<(u64, u64), Scheduled>,
        order: &mut u64,
    ) {
        let step = &scenario.faults[fired.step];
        let Trigger::When(predicate) = &step.trigger else {
            unreachable!("only when steps fire from the hook");
        };
        let why = format!("when {}", predicate.text);
        let now = clock.now_ms();
        for action in &step.actions {
            if action.after_ms == 0 {
                self.apply(action, Some(&why), false);
            } else {
                let scheduled = Scheduled {
                    action: action.clone(),
                    why: Some(why.clone()),
                    random: false,
                };
                schedule.insert((now + action.after_ms, *order), scheduled);
                *order += 1;
            }
        }
        let node_ids = self.cluster.node_ids();
        for id in fired.paused {
            let broker = self.cluster.node(id);
            // A process running its clean shutdown must run to finish it.
            if (broker.alive || broker.stopping) && !broker.paused {
                Handle::current().resume(node_ids[&id]);
            }
        }
    }

    fn apply(&mut self, action: &Action, why: Option<&str>, random: bool) {
        use crate::scenario::FaultKind;
        for id in self.cluster.resolve(&action.target, self.rng) {
            self.restarts += matches!(
                action.kind,
                FaultKind::Restart | FaultKind::RestartEmptyDisk
            ) as u64;
            let mut kind = action.kind.clone();
            let mut note = why.map(|why| format!("step fired {why}"));
            if random && kind == FaultKind::PowerLoss {
                if let Some(other) = self.unrepaired_loss(id) {
                    // The schedule cannot see replication; at the moment of firing, a second
                    // power loss while `other` has not re-replicated what it lost could take
                    // the last copy of committed data: outside the model, so it is a kill.
                    kind = FaultKind::Kill;
                    note = Some(format!(
                        "drawn as power-loss; applied as a kill: broker {other} lost power and                          does not hold every committed offset again yet"
                    ));
                    self.trace.effect("nemesis.power_loss_as_kill", 1);
                }
            }
            if kind == FaultKind::PowerLoss {
                self.lossy.insert(id);
            }
            let mut fired = super::apply::apply(self.cluster, &kind, id, self.rng);
            if let Some(note) = note {
                fired.detail = format!("{} ({note})", fired.detail);
            }
            fired.random = random;
            self.faults.push(fired);
        }
    }

    /// Another broker whose power loss is not yet repaired (it does not hold every committed
    /// offset again), if the random faults must stay within the failure model and one is.
    fn unrepaired_loss(&mut self, broker: i32) -> Option<i32> {
        let within = self.within_model;
        let cluster = &*self.cluster;
        self.lossy
            .retain(|&b| !cluster.holds_every_committed_prefix(b));
        let others = self.lossy.iter().filter(|&&b| b != broker);
        // min.insync.replicas - 1 of them may have lost data at once; the scenarios that
        // draw power losses within the model use min.insync.replicas 2, so one.
        let allowed = self.min_insync_replicas.saturating_sub(1);
        let count = others.clone().count();
        (within && count >= allowed)
            .then(|| others.copied().next())
            .flatten()
    }
}
