//! CreatePartitions: grow a topic to `count` partitions, as Kafka's controller
//! (`ReplicationControlManager.createPartitions`) checks the request: a topic named twice is
//! INVALID_REQUEST for each, a missing one UNKNOWN_TOPIC_OR_PARTITION, a count not above the
//! current one (or above kafkasim's bound) INVALID_PARTITIONS, and manual assignments of the
//! wrong number, with an empty or repeated replica list, an unknown broker, or a replication
//! factor unlike the topic's INVALID_REPLICA_ASSIGNMENT; `validate_only` only checks.
//!
//! Placement: with a controller the request is forwarded to it, as CreateTopics is: it places
//! the new partitions over the cluster with the topic's replication factor (or as assigned),
//! and every broker opens its replicas when it applies the records. Without one (the static
//! cluster map, each broker's own) the broker that receives the request hosts every new
//! partition, so a new partition's replica must be that broker: a topic with more than one
//! replica per partition, or an assignment naming another broker, is
//! INVALID_REPLICA_ASSIGNMENT with a message saying so. The grown topic is persisted with the
//! broker's run-time topics.

use std::collections::BTreeSet;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::describe_configs::Rejection;
use super::str_bytes;
use crate::protocol::codes::ErrorCode;
use crate::server::{Broker, TopicAssignment};

/// A bound on partitions per topic, as CreateTopics has.
const PARTITIONS_MAX: i32 = 10_000;

pub async fn handle(broker: &Broker, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    if broker.config.controller.is_some() {
        return forward(broker, request).await;
    }
    let mut seen = BTreeSet::new();
    let duplicated: BTreeSet<String> = request
        .topics
        .iter()
        .map(|t| t.name.0.to_string())
        .filter(|name| !seen.insert(name.clone()))
        .collect();
    let brokers: Vec<i32> = broker.config.brokers.iter().map(|b| b.node_id).collect();
    let mut response = CreatePartitionsResponse::default();
    for topic in &request.topics {
        let name = topic.name.0.as_str();
        let assignments: Option<Vec<Vec<i32>>> = topic.assignments.as_ref().map(|a| {
            a.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let result = if duplicated.contains(name) {
            Err((
                ErrorCode::INVALID_REQUEST,
                "Duplicate topic in request.".to_string(),
            ))
        } else {
            broker
                .topic(name)
                .ok_or_else(|| {
                    (
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        format!("The topic '{name}' does not exist."),
                    )
                })
                .and_then(|existing| {
                    let placement = Placement {
                        node_id: broker.config.node_id,
                        brokers: &brokers,
                    };
                    placement.new_partitions(&existing, topic.count, assignments.as_deref())
                })
                .and_then(|replicas| {
                    if request.validate_only {
                        return Ok(());
                    }
                    match broker.add_partitions(name, replicas) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err((
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                            format!("The topic '{name}' does not exist."),
                        )),
                        Err(error) => Err((ErrorCode::KAFKA_STORAGE_ERROR, error.to_string())),
                    }
                })
        };
        let mut out = CreatePartitionsTopicResult::default();
        out.name = topic.name.clone();
        out.error_message = None;
        if let Err((code, message)) = result {
            out.error_code = code.code();
            out.error_message = Some(str_bytes(&message));
        }
        response.results.push(out);
    }
    response
}

/// With a controller, it decides (placement over the whole cluster, any replication factor)
/// and the brokers open the new partitions when they apply its records.
async fn forward(broker: &Broker, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let topics: Vec<_> = request.topics.iter().map(|t| t.name.clone()).collect();
    match crate::server::controller_link::forward_create_partitions(broker, request).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = CreatePartitionsResponse::default();
            for name in topics {
                let mut out = CreatePartitionsTopicResult::default();
                out.name = name;
                out.error_code = ErrorCode::REQUEST_TIMED_OUT.code();
                out.error_message = Some(str_bytes(&format!(
                    "the controller did not answer: {error}"
                )));
                response.results.push(out);
            }
            response
        }
    }
}

/// Where new partitions may go.
struct Placement<'a> {
    /// The broker that received the request, which hosts every new partition.
    node_id: i32,
    /// Every broker of the cluster.
    brokers: &'a [i32],
}

impl Placement<'_> {
    /// The replicas of each partition to add to `topic` so it has `count`, or why not.
    fn new_partitions(
        &self,
        topic: &TopicAssignment,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
    ) -> Result<Vec<Vec<i32>>, Rejection> {
        let current = topic.replicas.len() as i32;
        if count == current {
            return Err(invalid_partitions(format!(
                "Topic already has {current} partitions."
            )));
        }
        if count < current {
            return Err(invalid_partitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested \
                 {count}."
            )));
        }
        if count > PARTITIONS_MAX {
            return Err(invalid_partitions(format!(
                "The total number of partitions, {count}, exceeds the limit of {PARTITIONS_MAX}."
            )));
        }
        let additional = (count - current) as usize;
        let replication_factor = topic.replicas.first().map_or(1, Vec::len);
        let replicas = match assignments {
            Some(assignments) => {
                self.check_assignments(assignments, additional, replication_factor)?;
                assignments.to_vec()
            }
            // As many replicas as the topic's partitions have, all of them here.
            None => vec![vec![self.node_id; replication_factor]; additional],
        };
        self.check_placeable(&replicas)?;
        Ok(replicas)
    }

    fn check_assignments(
        &self,
        assignments: &[Vec<i32>],
        additional: usize,
        replication_factor: usize,
    ) -> Result<(), Rejection> {
        if assignments.len() != additional {
            return Err(invalid_assignment(format!(
                "Attempted to add {additional} additional partition(s), but only {} \
                 assignment(s) were specified.",
                assignments.len()
            )));
        }
        for replicas in assignments {
            if replicas.is_empty() {
                return Err(invalid_assignment(
                    "The manual partition assignment includes an empty replica list.".into(),
                ));
            }
            let mut seen = BTreeSet::new();
            for &id in replicas {
                if !seen.insert(id) {
                    return Err(invalid_assignment(format!(
                        "The manual partition assignment includes the broker {id} more than \
                         once."
                    )));
                }
                if !self.brokers.contains(&id) {
                    return Err(invalid_assignment(format!(
                        "The manual partition assignment includes broker {id}, but no broker \
                         with that ID is registered."
                    )));
                }
            }
            if replicas.len() != replication_factor {
                return Err(invalid_assignment(format!(
                    "The manual partition assignment includes a partition with {} replica(s), \
                     but this is not consistent with previous partitions, which have \
                     {replication_factor} replica(s).",
                    replicas.len()
                )));
            }
        }
        Ok(())
    }

    /// kafkasim's own limit: every new replica is the receiving broker.
    fn check_placeable(&self, replicas: &[Vec<i32>]) -> Result<(), Rejection> {
        if replicas.iter().all(|r| r == &[self.node_id]) {
            return Ok(());
        }
        Err(invalid_assignment(format!(
            "kafkasim adds partitions on the receiving broker only (broker {}, one replica \
             each): topics are not yet created through the controller",
            self.node_id
        )))
    }
}

fn invalid_partitions(message: String) -> Rejection {
    (ErrorCode::INVALID_PARTITIONS, message)
}

fn invalid_assignment(message: String) -> Rejection {
    (ErrorCode::INVALID_REPLICA_ASSIGNMENT, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(replicas: Vec<Vec<i32>>) -> TopicAssignment {
        TopicAssignment {
            name: "t".into(),
            replicas,
            configs: Default::default(),
        }
    }

    const PLACEMENT: Placement = Placement {
        node_id: 1,
        brokers: &[1, 2, 3],
    };

    #[test]
    fn new_partitions_go_to_the_receiving_broker() {
        let grown = PLACEMENT.new_partitions(&topic(vec![vec![1]]), 3, None);
        assert_eq!(grown, Ok(vec![vec![1], vec![1]]));
        let assigned = PLACEMENT.new_partitions(&topic(vec![vec![2]]), 2, Some(&[vec![1]]));
        assert_eq!(assigned, Ok(vec![vec![1]]));
    }

    #[test]
    fn kafkas_codes_for_impossible_counts_and_assignments() {
        let code = |replicas: Vec<Vec<i32>>, count: i32, assignments: Option<&[Vec<i32>]>| {
            PLACEMENT
                .new_partitions(&topic(replicas), count, assignments)
                .unwrap_err()
                .0
        };
        let one = || vec![vec![1], vec![1]];
        assert_eq!(code(one(), 2, None), ErrorCode::INVALID_PARTITIONS);
        assert_eq!(code(one(), 1, None), ErrorCode::INVALID_PARTITIONS);
        assert_eq!(code(one(), -5, None), ErrorCode::INVALID_PARTITIONS);
        assert_eq!(code(one(), i32::MAX, None), ErrorCode::INVALID_PARTITIONS);
        let bad = ErrorCode::INVALID_REPLICA_ASSIGNMENT;
        assert_eq!(code(one(), 4, Some(&[vec![1]])), bad, "too few assignments");
        assert_eq!(code(one(), 3, Some(&[vec![]])), bad, "empty");
        assert_eq!(code(one(), 3, Some(&[vec![1, 1]])), bad, "repeated");
        assert_eq!(code(one(), 3, Some(&[vec![9]])), bad, "unknown broker");
        assert_eq!(
            code(one(), 3, Some(&[vec![1, 2]])),
            bad,
            "replication factor"
        );
        assert_eq!(code(one(), 3, Some(&[vec![2]])), bad, "another broker");
        assert_eq!(code(vec![vec![1, 2]], 2, None), bad, "replicated topic");
    }
}
