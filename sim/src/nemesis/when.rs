//! `when` fault steps: predicates evaluated on observed state, pure functions over the online
//! checkers' independent model (never the brokers' own variables); their targets are resolved
//! by `super::target`, as every other step's are.
//!
//! Before anything is observed the cluster is taken to be as it starts in this build: the
//! first replica of each partition leads at epoch 0 with every replica in sync, and every log
//! is empty. A `when` step fires once, on the first false→true edge of its predicate; its value
//! before the first observation is evaluated on that empty model, so a predicate that already
//! holds at the start must first turn false.

use std::collections::BTreeMap;

use super::target::{partition_target, PartitionView};
use crate::history::Tp;
use crate::online::OnlineChecker;
use crate::scenario::{Comparison, FaultStep, Operand, Predicate, Target, Trigger};

/// The observed cluster as predicates and targets see it.
pub struct View<'a> {
    pub online: &'a OnlineChecker,
    /// Every partition's replicas in assignment order.
    pub replicas: &'a BTreeMap<Tp, Vec<i32>>,
}

impl View<'_> {
    fn replicas_of(&self, tp: &Tp) -> &[i32] {
        self.replicas.get(tp).map_or(&[], Vec::as_slice)
    }

    /// The latest elected leader, else the first replica.
    pub fn leader(&self, tp: &Tp) -> Option<i32> {
        self.online
            .partition(tp)
            .and_then(|partition| partition.latest_election)
            .map(|election| election.leader)
            .or_else(|| self.replicas_of(tp).first().copied())
    }

    fn isr(&self, tp: &Tp) -> Vec<i32> {
        let isr = self
            .online
            .partition(tp)
            .map(|partition| partition.isr.clone())
            .unwrap_or_default();
        partition_target(
            &Target::Isr {
                topic: tp.topic.clone(),
                partition: tp.partition,
            },
            self.replicas_of(tp),
            None,
            &isr,
        )
        .unwrap_or_default()
    }

    /// The brokers a target names now; empty for `minority` and `majority`, which the
    /// supervisor draws from its own random stream.
    pub fn resolve(&self, target: &Target, brokers: &[i32]) -> Vec<i32> {
        let partition = |tp: &Tp| {
            let observed = self.online.partition(tp);
            PartitionView {
                replicas: self.replicas_of(tp).to_vec(),
                leader: observed
                    .and_then(|partition| partition.latest_election)
                    .map(|election| election.leader),
                isr: observed.map(|p| p.isr.clone()).unwrap_or_default(),
            }
        };
        super::target::resolve(target, brokers, partition, None)
    }

    /// The value of one operand; `None` when its replica cannot be named.
    fn value(&self, operand: &Operand) -> Option<i64> {
        let replica_log = |topic: &str, partition: i32, replica: &Target| {
            let tp = Tp::new(topic, partition);
            let broker = *self.resolve(replica, &[]).first()?;
            let log = self
                .online
                .partition(&tp)
                .and_then(|model| model.replicas.get(&broker));
            Some(log.cloned().unwrap_or_default())
        };
        Some(match operand {
            Operand::Int(value) => *value,
            Operand::Broker(id) => i64::from(*id),
            Operand::LogEndOffset {
                topic,
                partition,
                replica,
            } => replica_log(topic, *partition, replica)?.log_end_offset,
            Operand::HighWatermark {
                topic,
                partition,
                replica,
            } => replica_log(topic, *partition, replica)?.high_watermark,
            Operand::IsrSize { topic, partition } => {
                self.isr(&Tp::new(topic.clone(), *partition)).len() as i64
            }
            Operand::LeaderEpoch { topic, partition } => self
                .online
                .partition(&Tp::new(topic.clone(), *partition))
                .and_then(|model| model.latest_election)
                .map_or(0, |election| i64::from(election.leader_epoch)),
            Operand::Leader { topic, partition } => {
                i64::from(self.leader(&Tp::new(topic.clone(), *partition))?)
            }
        })
    }

    fn holds(&self, comparison: &Comparison) -> bool {
        match (self.value(&comparison.left), self.value(&comparison.right)) {
            (Some(left), Some(right)) => comparison.op.holds(left, right),
            _ => false,
        }
    }

    /// Whether every comparison of the predicate holds now.
    pub fn evaluate(&self, predicate: &Predicate) -> bool {
        predicate.comparisons.iter().all(|c| self.holds(c))
    }
}

/// One `when` step waiting for its edge.
#[derive(Debug, Clone)]
struct Armed {
    /// Index of the step among the scenario's `[[fault]]` steps.
    step: usize,
    predicate: Predicate,
    /// The predicate's value at the last evaluation.
    was_true: bool,
}

/// Every `when` step not yet fired, edge-triggered and one-shot.
#[derive(Debug, Clone, Default)]
pub struct WhenWatch {
    armed: Vec<Armed>,
}

impl WhenWatch {
    /// Arms every `when` step of `steps`, taking each predicate's value on `view` as its
    /// value before the first observation.
    pub fn new(steps: &[FaultStep], view: &View<'_>) -> WhenWatch {
        let armed = steps
            .iter()
            .enumerate()
            .filter_map(|(step, fault)| match &fault.trigger {
                Trigger::When(predicate) => Some(Armed {
                    step,
                    was_true: view.evaluate(predicate),
                    predicate: predicate.clone(),
                }),
                Trigger::At(_) => None,
            })
            .collect();
        WhenWatch { armed }
    }

    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// Evaluates every armed step on `view`; returns the steps whose predicate just turned
    /// true, in step order, and disarms them.
    pub fn poll(&mut self, view: &View<'_>) -> Vec<usize> {
        let mut fired = Vec::new();
        for armed in &mut self.armed {
            let now = view.evaluate(&armed.predicate);
            if now && !armed.was_true {
                fired.push(armed.step);
            }
            armed.was_true = now;
        }
        self.armed.retain(|armed| !fired.contains(&armed.step));
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::testing::*;
    use crate::online::ReplicaEvent;
    use crate::scenario::predicate::parse_predicate;
    use crate::scenario::{Action, Configs, FaultKind, Topic};

    fn predicate(text: &str) -> Predicate {
        let topics = vec![Topic {
            name: "t".into(),
            partitions: 1,
            replication_factor: 3,
            placement: None,
            config: Configs::new(),
        }];
        parse_predicate(text, 3, &topics).unwrap()
    }

    fn replicas() -> BTreeMap<Tp, Vec<i32>> {
        BTreeMap::from([(tp(), vec![1, 2, 3])])
    }

    fn when_step(text: &str) -> FaultStep {
        FaultStep {
            trigger: Trigger::When(predicate(text)),
            actions: vec![Action {
                kind: FaultKind::Kill,
                target: Target::Broker(2),
                after_ms: 0,
            }],
        }
    }

    fn observe(online: &mut OnlineChecker, events: &[ReplicaEvent]) {
        for event in events {
            online.observe(0, event);
        }
    }

    #[test]
    fn when_targets_follow_the_observed_leader() {
        let follower = |index| Target::Follower {
            topic: "t".into(),
            partition: 0,
            index,
        };
        let replicas = [1, 2, 3];
        // Nothing observed: the first replica leads, followers in replica order.
        assert_eq!(
            partition_target(&follower(1), &replicas, None, &[]),
            Some(vec![2])
        );
        // Broker 2 leads: followers are 1 and 3.
        assert_eq!(
            partition_target(&follower(1), &replicas, Some(2), &[]),
            Some(vec![1])
        );
        assert_eq!(
            partition_target(&follower(2), &replicas, Some(2), &[]),
            Some(vec![3])
        );
        let isr = Target::Isr {
            topic: "t".into(),
            partition: 0,
        };
        assert_eq!(
            partition_target(&isr, &replicas, Some(2), &[3, 2]),
            Some(vec![2, 3])
        );
        assert_eq!(
            partition_target(&isr, &replicas, None, &[]),
            Some(vec![1, 2, 3])
        );
        assert_eq!(partition_target(&Target::All, &replicas, None, &[]), None);
    }

    #[test]
    fn when_predicates_evaluate_on_the_online_model() {
        let replicas = replicas();
        let mut online = OnlineChecker::new();
        observe(
            &mut online,
            &[
                elected(1, 0, &[1, 2, 3], true),
                appended(1, 0, 4, 0, 7),
                appended(2, 0, 4, 0, 7),
                high_watermark(1, 0),
            ],
        );
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        let ahead = predicate("leo(t/0, follower(t/0, 1)) > hw(t/0, leader(t/0))");
        assert!(view.evaluate(&ahead));
        assert!(!view.evaluate(&predicate("leo(t/0, broker(3)) > 0")));
        assert!(view.evaluate(&predicate("isr_size(t/0) == 3 && leader_epoch(t/0) == 0")));
        assert!(view.evaluate(&predicate("leader(t/0) == broker(1)")));
        assert!(!view.evaluate(&predicate("leader(t/0) != broker(1)")));
        assert!(!view.evaluate(&predicate("isr_size(t/0) == 3 && leo(t/0, broker(1)) < 5")));
    }

    #[test]
    fn when_steps_fire_once_on_the_first_false_to_true_edge() {
        let replicas = replicas();
        let steps = vec![
            when_step("isr_size(t/0) < 3"),
            when_step("leo(t/0, broker(2)) >= 5"),
        ];
        let mut online = OnlineChecker::new();
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        let mut watch = WhenWatch::new(&steps, &view);
        assert!(watch.poll(&view).is_empty());

        observe(&mut online, &[elected(1, 0, &[1, 2], true)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert_eq!(watch.poll(&view), vec![0], "the ISR shrank: false→true");
        assert!(watch.poll(&view).is_empty(), "still true: no new edge");

        observe(&mut online, &[appended(2, 0, 4, 0, 7)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert_eq!(watch.poll(&view), vec![1]);
        assert!(watch.is_empty());

        observe(&mut online, &[truncated(2, 0), appended(2, 0, 9, 0, 7)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert!(
            watch.poll(&view).is_empty(),
            "a fired step never fires again"
        );
    }

    #[test]
    fn when_a_predicate_true_at_the_start_must_first_turn_false() {
        let replicas = replicas();
        let steps = vec![when_step("leader(t/0) == broker(1)")];
        let mut online = OnlineChecker::new();
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        let mut watch = WhenWatch::new(&steps, &view);
        observe(&mut online, &[elected(1, 0, &[1, 2, 3], true)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert!(watch.poll(&view).is_empty());
        observe(&mut online, &[elected(2, 1, &[2, 3], true)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert!(watch.poll(&view).is_empty());
        observe(&mut online, &[elected(1, 2, &[1, 2, 3], true)]);
        let view = View {
            online: &online,
            replicas: &replicas,
        };
        assert_eq!(watch.poll(&view), vec![0]);
    }
}
