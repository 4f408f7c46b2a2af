//! The controller node (with `[model] controller = true`): its settings from the scenario's
//! Kafka configs and `[model]` switches, and the node that runs it.

use std::sync::Arc;

use kafkasim::server::TopicAssignment;
use madsim::runtime::Handle;

use super::clock::RunClock;
use super::{controller_addr, node_env, BrokerNode, CONTROLLER_ID};
use crate::scenario::{ConfigValue, Configs, Scenario};
use crate::trace::RunTrace;

/// The controller's settings from the scenario's Kafka configs and `[model]` switches.
fn controller_config(scenario: &Scenario) -> kafkasim::controller::ControllerConfig {
    use crate::scenario::configs::{int_or_default, value_or_default, Scope};
    use kafkasim::controller::{AlterPartitionMode, ControllerConfig};
    use kafkasim::replication::TruncationRule;
    let unclean = |configs: &Configs| {
        matches!(
            value_or_default(configs, Scope::Topic, "unclean.leader.election.enable"),
            ConfigValue::Bool(true)
        )
    };
    let topic_unclean = scenario
        .topics
        .iter()
        .filter(|t| t.config.contains_key("unclean.leader.election.enable"))
        .map(|t| (t.name.clone(), unclean(&t.config)))
        .collect();
    ControllerConfig {
        unclean_leader_election_enable: unclean(&scenario.broker),
        topic_unclean_leader_election_enable: topic_unclean,
        min_insync_replicas: int_or_default(&scenario.broker, Scope::Topic, "min.insync.replicas")
            as i32,
        broker_session_timeout_ms: int_or_default(
            &scenario.broker,
            Scope::Broker,
            "broker.session.timeout.ms",
        ) as u64,
        // Kafka 0.10 had neither AlterPartition's checks nor fencing of restarted brokers.
        alter_partition: match scenario.model.truncation {
            TruncationRule::LeaderEpoch => AlterPartitionMode::Kip497,
            TruncationRule::HighWatermark => AlterPartitionMode::Legacy,
        },
        fence_restarted_brokers: scenario.model.fences_restarted_brokers(),
        eligible_leader_replicas: scenario.model.eligible_leader_replicas,
        planted: scenario.model.planted_bugs,
    }
}

/// Create the controller node; it replays (or creates) its metadata log and serves.
pub(super) fn start_controller(
    scenario: &Scenario,
    topics: &[TopicAssignment],
    trace: &Arc<RunTrace>,
    clock: RunClock,
) -> BrokerNode {
    let (env, disk, faults, clock_offset_ms) = node_env(scenario, CONTROLLER_ID, trace, clock);
    let config = kafkasim::controller::node::ControllerNodeConfig {
        listen: controller_addr(),
        controller: controller_config(scenario),
        topics: topics.to_vec(),
    };
    let node = Handle::current()
        .create_node()
        .name("controller")
        .ip(controller_addr().ip())
        .init(move || {
            let env = env.clone();
            let config = config.clone();
            async move {
                // madsim's ctrl-c is the SIGTERM, as for a broker (see `start`).
                let sigterm = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                match kafkasim::controller::node::run(env, config, sigterm).await {
                    Ok(()) => Handle::current().kill("controller"),
                    Err(error) => tracing::error!(%error, "controller stopped"),
                }
            }
        })
        .build();
    BrokerNode::running(CONTROLLER_ID, node, disk, faults, clock_offset_ms)
}
