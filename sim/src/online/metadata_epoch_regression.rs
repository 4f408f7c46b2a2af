//! **metadata-epoch-regression**: a broker that had applied the controller's whole metadata
//! log later applied it whole again and found an older world: a lower controller epoch, or a
//! partition whose leader epoch or partition epoch went back.
//!
//! Rule (KRaft; KIP-631): the metadata log is fsynced before anything in it is published, so
//! what a broker acted on is never taken back — not by a controller restart, not by a power
//! loss. A controller that forgets committed records restarts from an older state and hands
//! out epochs again, which is how two leaders come to share one epoch.

use std::collections::BTreeMap;

use super::{At, PartitionEpochs};
use crate::checker::Anomaly;
use crate::history::Tp;

pub const KIND: &str = "metadata-epoch-regression";

/// What one broker acted on after applying the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub metadata_offset: i64,
    pub controller_epoch: i32,
    /// Per partition: (leader epoch, partition epoch).
    pub partitions: BTreeMap<Tp, (i32, i32)>,
}

impl Image {
    pub fn new(
        metadata_offset: i64,
        controller_epoch: i32,
        partitions: &[PartitionEpochs],
    ) -> Self {
        let partitions = partitions
            .iter()
            .map(|p| (p.tp.clone(), (p.leader_epoch, p.partition_epoch)))
            .collect();
        Image {
            metadata_offset,
            controller_epoch,
            partitions,
        }
    }
}

/// Compares `broker`'s new image with its previous one.
pub fn check(broker: i32, previous: Option<&Image>, image: &Image, at: At) -> Vec<Anomaly> {
    let Some(previous) = previous else {
        return vec![];
    };
    let mut found = Vec::new();
    let seen = |what: String| {
        format!(
        "broker {broker} applied the metadata log to offset {} after offset {}: {what} (at {} ms, event {})",
        image.metadata_offset, previous.metadata_offset, at.time_ms, at.index
    )
    };
    if image.controller_epoch < previous.controller_epoch {
        found.push(Anomaly {
            kind: KIND.to_string(),
            tp: None,
            value: None,
            offset: None,
            description: seen(format!(
                "controller epoch {} after {}",
                image.controller_epoch, previous.controller_epoch
            )),
            events: vec![],
        });
    }
    for (tp, &(leader_epoch, partition_epoch)) in &image.partitions {
        let Some(&(old_leader_epoch, old_partition_epoch)) = previous.partitions.get(tp) else {
            continue;
        };
        if leader_epoch < old_leader_epoch || partition_epoch < old_partition_epoch {
            found.push(Anomaly {
                kind: KIND.to_string(),
                tp: Some(tp.clone()),
                value: None,
                offset: None,
                description: seen(format!(
                    "{tp} at leader epoch {leader_epoch} and partition epoch {partition_epoch}, after {old_leader_epoch} and {old_partition_epoch}"
                )),
                events: vec![],
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{PartitionEpochs, ReplicaEvent};

    fn image(broker: i32, offset: i64, controller_epoch: i32, epochs: (i32, i32)) -> ReplicaEvent {
        ReplicaEvent::MetadataImage {
            broker,
            metadata_offset: offset,
            controller_epoch,
            partitions: vec![PartitionEpochs {
                tp: tp(),
                leader: 1,
                leader_epoch: epochs.0,
                partition_epoch: epochs.1,
            }],
        }
    }

    #[test]
    fn online_metadata_epoch_regression_forgotten_log_is_reported() {
        // The controller lost its log: epoch 1 again, and the partition back at its bootstrap.
        let events = [image(1, 40, 2, (3, 7)), image(1, 12, 1, (0, 0))];
        let found = run(&events);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found
            .iter()
            .all(|(i, a)| *i == 1 && a.kind == "metadata-epoch-regression"));
        assert_eq!(found[0].1.tp, None);
        assert_eq!(found[1].1.tp, Some(tp()));
    }

    #[test]
    fn online_metadata_epoch_regression_partition_epoch_alone_is_reported() {
        let events = [image(1, 40, 2, (3, 7)), image(1, 41, 2, (3, 6))];
        assert_eq!(
            kinds(&events),
            vec![("metadata-epoch-regression".into(), None)]
        );
    }

    #[test]
    fn online_metadata_epoch_regression_growing_images_and_other_brokers_are_fine() {
        let events = [
            image(1, 40, 2, (3, 7)),
            // Broker 2 is behind broker 1: that is not a regression of broker 2's own view.
            image(2, 30, 2, (2, 5)),
            image(1, 55, 3, (4, 9)),
            image(2, 55, 3, (4, 9)),
        ];
        assert_eq!(kinds(&events), vec![]);
    }
}
