//! A clean shutdown (the `shutdown` fault, SIGTERM) leaves nothing to lose: every log is
//! flushed and closed and the clean-shutdown marker is durable before the process exits, so a
//! power loss right after discards no byte and the restart is still clean. The same schedule
//! with a kill instead leaves dirty pages for the power loss to discard and no marker.

use std::collections::BTreeMap;

use kafkasim_sim::run::run_seed;
use kafkasim_sim::scenario::parse;

fn scenario(stop: &str) -> String {
    format!(
        r#"
[scenario]
name = "stop-then-power-loss"
why = "test"
seeds = 1
duration = "10s"

[cluster]
brokers = 3

[broker]
"min.insync.replicas" = 2
"broker.session.timeout.ms" = 3000
"broker.heartbeat.interval.ms" = 500

[model]
controller = true
eligible_leader_replicas = true

[[topic]]
name = "t"
partitions = 3
replication_factor = 3

[[workload]]
kind = "producer"
topic = "t"
rate = "200/s"
config = {{ acks = "all", "request.timeout.ms" = 3000, "delivery.timeout.ms" = 30000 }}

[[fault]]
at = "4s"
actions = [
  {{ do = "{stop}", target = "broker(1)" }},
  {{ do = "power-loss", target = "broker(1)", after = "1s" }},
  {{ do = "restart", target = "broker(1)", after = "2s" }},
]

[expect]
verdict = "valid"
allow = ["duplicate", "nonmonotonic-send"]
"#
    )
}

/// The run's effects, on a fresh thread as runs need.
fn effects(stop: &str, seed: u64) -> BTreeMap<String, u64> {
    let scenario = parse("stop-then-power-loss.toml", &scenario(stop)).expect("valid");
    std::thread::spawn(move || run_seed(&scenario, seed).effects)
        .join()
        .expect("the run finished")
}

#[test]
fn a_power_loss_after_a_clean_shutdown_discards_nothing_and_the_restart_is_clean() {
    for seed in [1, 2] {
        let clean = effects("shutdown", seed);
        assert_eq!(
            clean.get("disk.power_losses"),
            Some(&1),
            "seed {seed}: {clean:?}"
        );
        assert_eq!(
            clean.get("shutdown.clean"),
            Some(&1),
            "seed {seed}: {clean:?}"
        );
        assert_eq!(
            clean.get("disk.bytes_discarded"),
            None,
            "seed {seed}: {clean:?}"
        );
        assert_eq!(clean.get("disk.files_lost"), None, "seed {seed}: {clean:?}");
        assert_eq!(
            clean.get("startup.after_clean_shutdown"),
            Some(&1),
            "seed {seed}: {clean:?}"
        );
        // Leadership moved at the signal, not at the session's expiry.
        assert!(clean.contains_key("control.elections.controlled_shutdown"));

        let killed = effects("kill", seed);
        assert_eq!(
            killed.get("disk.power_losses"),
            Some(&1),
            "seed {seed}: {killed:?}"
        );
        assert!(
            killed.get("disk.bytes_discarded").is_some_and(|&b| b > 0),
            "seed {seed}: {killed:?}"
        );
        assert_eq!(killed.get("startup.after_clean_shutdown"), None);
        assert!(!killed.contains_key("control.elections.controlled_shutdown"));
    }
}
