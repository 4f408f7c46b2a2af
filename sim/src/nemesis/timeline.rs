//! The safety phase's fault timeline: the scenario's scripted `at` steps merged with the
//! `[nemesis]`'s random schedule, each action with the time it fires at.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::{Action, Scenario, Trigger};

/// Every action of an `at` step with the simulated time (ms after the safety phase began) it
/// fires at, in time order; actions of one step keep their order.
pub fn timeline(scenario: &Scenario) -> Vec<(u64, Action)> {
    let mut actions: Vec<(u64, Action)> = scenario
        .faults
        .iter()
        .flat_map(|step| {
            let at_ms = match step.trigger {
                Trigger::At(at_ms) => Some(at_ms),
                Trigger::When(_) => None,
            };
            step.actions
                .iter()
                .filter_map(move |a| Some((at_ms? + a.after_ms, a.clone())))
        })
        .collect();
    actions.sort_by_key(|(at, _)| *at);
    actions
}

/// Seeds the nemesis's own random stream, apart from the supervisor's, so that adding a
/// `[nemesis]` changes nothing else a run draws ("nemesis!" in ASCII).
pub const NEMESIS_STREAM: u64 = 0x6e65_6d65_7369_7321;

/// A fault action with the time it fires at and whether the nemesis drew it.
pub type TimedAction = (u64, Action, bool);

/// The nemesis's counts for the report's effects, by effect name.
pub type NemesisCounts = [(&'static str, u64); 2];

/// The scripted timeline merged with the `[nemesis]` schedule (if any), each action marked
/// random or not; at one instant scripted actions go first. Also the nemesis's counts for
/// the report's effects. Without a `[nemesis]` this is `timeline` and draws nothing.
pub fn timeline_with_nemesis(scenario: &Scenario, seed: u64) -> (Vec<TimedAction>, NemesisCounts) {
    let mut steps: Vec<TimedAction> = timeline(scenario)
        .into_iter()
        .map(|(at, action)| (at, action, false))
        .collect();
    let Some(nemesis) = &scenario.nemesis else {
        return (steps, [("nemesis.drawn", 0), ("nemesis.skipped", 0)]);
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ NEMESIS_STREAM);
    let shape = super::schedule::Shape::of(scenario);
    let schedule = super::schedule::schedule(nemesis, &shape, scenario.duration_ms, &mut rng);
    steps.extend(schedule.actions.into_iter().map(|a| {
        let target = match a.broker {
            crate::cluster::CONTROLLER_ID => crate::scenario::Target::Controller,
            id if id >= crate::cluster::CLIENT_ID_BASE => {
                crate::scenario::Target::Client((id - crate::cluster::CLIENT_ID_BASE) as u32)
            }
            broker => crate::scenario::Target::Broker(broker),
        };
        let action = Action {
            kind: a.kind,
            target,
            after_ms: 0,
        };
        (a.at_ms, action, true)
    }));
    steps.sort_by_key(|(at, _, random)| (*at, *random));
    let counts = [
        ("nemesis.drawn", schedule.drawn),
        ("nemesis.skipped", schedule.skipped),
    ];
    (steps, counts)
}
