//! The state-change hook of `when` fault steps, as an observer: right after the online model
//! took in an observation, the armed predicates are evaluated on it; a step that fires pauses
//! the targets of its immediate actions there and then, is recorded, and goes to the
//! supervisor over a channel.

use std::collections::BTreeMap;

use kafkasim::env::Observation;
use madsim::task::NodeId;
use tokio::sync::mpsc::UnboundedSender;

use super::observer::{Observer, Record};
use super::online::SharedOnline;
use crate::history::Tp;
use crate::nemesis::when::{View, WhenWatch};
use crate::scenario::{FaultStep, Trigger};

/// A `when` step whose predicate just turned true.
#[derive(Debug, Clone)]
pub struct WhenFired {
    /// Index among the scenario's `[[fault]]` steps.
    pub step: usize,
    pub time_ms: u64,
    /// The brokers the hook paused on the spot: the targets of the step's immediate actions
    /// (`minority` and `majority` are left to the supervisor's random stream).
    pub paused: Vec<i32>,
}

/// What the hook needs to fire `when` steps on the spot.
pub struct WhenHook {
    pub(super) watch: WhenWatch,
    pub(super) steps: Vec<FaultStep>,
    /// Every partition's replicas in assignment order, for partition targets.
    pub(super) replicas: BTreeMap<Tp, Vec<i32>>,
    /// Each broker's madsim node, to pause it (a NodeHandle would be stale after a restart).
    pub(super) nodes: BTreeMap<i32, NodeId>,
    /// Where fired steps go; the supervisor applies their actions.
    pub(super) fired: UnboundedSender<WhenFired>,
    /// The online model the predicates are evaluated on.
    pub(super) online: SharedOnline,
}

impl Observer for WhenHook {
    /// Evaluates the armed `when` steps after an observation; a step that fires pauses the
    /// targets of its immediate actions at once, is recorded, and goes to the supervisor.
    fn observe(
        &mut self,
        _broker: i32,
        time_ms: u64,
        _observation: &Observation<'_>,
        records: &mut Vec<Record>,
    ) {
        let model = self.online.lock().unwrap();
        let view = View {
            online: &model.checker,
            replicas: &self.replicas,
        };
        // `all` names the brokers; the controller is paused only when a step names it.
        let brokers: Vec<i32> = self
            .nodes
            .keys()
            .copied()
            .filter(|&id| id != crate::cluster::CONTROLLER_ID)
            .collect();
        for step in self.watch.poll(&view) {
            let mut paused: Vec<i32> = self.steps[step]
                .actions
                .iter()
                .filter(|action| action.after_ms == 0)
                .flat_map(|action| view.resolve(&action.target, &brokers))
                .filter(|id| self.nodes.contains_key(id))
                .collect();
            paused.sort();
            paused.dedup();
            let handle = madsim::runtime::Handle::current();
            for id in &paused {
                handle.pause(self.nodes[id]);
            }
            let Trigger::When(predicate) = &self.steps[step].trigger else {
                unreachable!("only when steps are armed");
            };
            let record = format!(
                "{time_ms} step {step} when {} paused {paused:?}",
                predicate.text
            );
            records.push(("when", record.into_bytes()));
            // The supervisor outlives the safety phase, so a send fails only once the run is
            // over.
            let _ = self.fired.send(WhenFired {
                step,
                time_ms,
                paused,
            });
        }
    }
}
