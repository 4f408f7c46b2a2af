//! Turns a broker's replica observations into the online checkers' events.

use kafkasim::env::Observation;

use crate::history::Tp;
use crate::online::{PartitionEpochs, ReplicaEvent};

fn tp((topic, partition): (&str, i32)) -> Tp {
    Tp::new(topic, partition)
}

/// The online model's events for one observation by `broker` (a log start move is also a
/// retention deletion below it).
pub fn events(broker: i32, observation: &Observation<'_>) -> Vec<ReplicaEvent> {
    match *observation {
        Observation::Appended { .. }
        | Observation::Truncated { .. }
        | Observation::HighWatermark { .. }
        | Observation::LogStart { .. }
        | Observation::Recovered { .. } => log_events(broker, observation),
        Observation::LeaderElected { .. }
        | Observation::IsrChanged { .. }
        | Observation::IsrProposed { .. }
        | Observation::IsrCommitted { .. } => leadership_events(broker, observation),
        Observation::LatestOffsetListed { .. }
        | Observation::AcksAllAcknowledged { .. }
        | Observation::ClientFetchServed { .. }
        | Observation::ClientAppended { .. } => client_events(broker, observation),
        Observation::Restarted
        | Observation::Incarnation { .. }
        | Observation::MetadataImage { .. } => process_events(broker, observation),
    }
}

/// A replica's own log.
fn log_events(broker: i32, observation: &Observation<'_>) -> Vec<ReplicaEvent> {
    match *observation {
        Observation::Appended {
            tp: t,
            base_offset,
            last_offset,
            leader_epoch,
            crc,
        } => vec![ReplicaEvent::Appended {
            broker,
            tp: tp(t),
            base_offset,
            last_offset,
            leader_epoch,
            batch_crc: crc,
        }],
        Observation::Truncated {
            tp: t,
            offset,
            reason,
        } => {
            vec![ReplicaEvent::Truncated {
                broker,
                tp: tp(t),
                offset,
                reason: reason.to_string(),
            }]
        }
        Observation::HighWatermark {
            tp: t,
            high_watermark,
        } => {
            vec![ReplicaEvent::HighWatermark {
                broker,
                tp: tp(t),
                high_watermark,
            }]
        }
        Observation::LogStart {
            tp: t,
            log_start_offset,
        } => vec![
            ReplicaEvent::RetentionDeleted {
                broker,
                tp: tp(t),
                below_offset: log_start_offset,
            },
            ReplicaEvent::LogStart {
                broker,
                tp: tp(t),
                log_start_offset,
            },
        ],
        // The harness scans the recovered log on disk itself (see `RunTrace::observe`).
        Observation::Recovered { .. } => vec![],
        _ => unreachable!("not a log observation"),
    }
}

/// Leadership and the ISR.
fn leadership_events(broker: i32, observation: &Observation<'_>) -> Vec<ReplicaEvent> {
    match *observation {
        Observation::LeaderElected {
            tp: t,
            leader_epoch,
            isr,
            clean,
        } => vec![ReplicaEvent::LeaderElected {
            tp: tp(t),
            leader: broker,
            leader_epoch,
            isr: isr.to_vec(),
            clean,
        }],
        Observation::IsrChanged {
            tp: t,
            leader_epoch,
            isr,
        } => vec![ReplicaEvent::IsrChanged {
            tp: tp(t),
            leader: broker,
            leader_epoch,
            isr: isr.to_vec(),
        }],
        Observation::IsrProposed {
            tp: t,
            leader_epoch,
            isr,
        } => vec![ReplicaEvent::IsrProposed {
            tp: tp(t),
            leader: broker,
            leader_epoch,
            isr: isr.to_vec(),
        }],
        Observation::IsrCommitted {
            tp: t,
            leader,
            leader_epoch,
            partition_epoch,
            isr,
            incarnations,
            clean,
        } => vec![ReplicaEvent::IsrCommitted {
            tp: tp(t),
            leader,
            leader_epoch,
            partition_epoch,
            isr: isr.to_vec(),
            incarnations: incarnations.to_vec(),
            clean,
        }],
        _ => unreachable!("not a leadership observation"),
    }
}

/// What clients were told.
fn client_events(broker: i32, observation: &Observation<'_>) -> Vec<ReplicaEvent> {
    match *observation {
        Observation::LatestOffsetListed { tp: t, offset } => {
            vec![ReplicaEvent::LatestOffsetListed {
                broker,
                tp: tp(t),
                offset,
            }]
        }
        Observation::AcksAllAcknowledged {
            tp: t,
            last_offset,
            min_insync_replicas,
        } => {
            vec![ReplicaEvent::AcksAllAcknowledged {
                tp: tp(t),
                last_offset,
                leader: broker,
                min_insync_replicas,
            }]
        }
        Observation::ClientFetchServed {
            tp: t,
            first,
            last,
            high_watermark,
        } => {
            vec![ReplicaEvent::ClientFetchServed {
                broker,
                tp: tp(t),
                offsets: (first, last),
                high_watermark,
            }]
        }
        Observation::ClientAppended {
            tp: t,
            acks,
            base_offset,
            last_offset,
            min_insync_replicas,
        } => vec![ReplicaEvent::ClientAppended {
            broker,
            tp: tp(t),
            acks,
            offsets: (base_offset, last_offset),
            min_insync_replicas,
        }],
        _ => unreachable!("not a client observation"),
    }
}

/// The process and its metadata image.
fn process_events(broker: i32, observation: &Observation<'_>) -> Vec<ReplicaEvent> {
    match *observation {
        Observation::Restarted => vec![ReplicaEvent::BrokerRestarted { broker }],
        Observation::Incarnation { incarnation } => vec![ReplicaEvent::Incarnation {
            broker,
            incarnation,
        }],
        Observation::MetadataImage {
            metadata_offset,
            controller_epoch,
            partitions,
        } => vec![ReplicaEvent::MetadataImage {
            broker,
            metadata_offset,
            controller_epoch,
            partitions: partitions
                .iter()
                .map(|p| PartitionEpochs {
                    tp: tp(p.tp),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                })
                .collect(),
        }],
        _ => unreachable!("not a process observation"),
    }
}
