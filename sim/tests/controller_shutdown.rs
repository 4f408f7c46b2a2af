//! The controller's clean shutdown (the `shutdown` fault, SIGTERM) makes every record it
//! published durable before it exits. The planted bug `controller-publish-before-fsync` leaves
//! records published but unsynced for up to one tick; the moment the leader applies an ISR
//! shrink, the controller is stopped and loses power 1 ms later. After a shutdown nothing the
//! brokers applied is lost; after a kill the power loss takes the unsynced records, and the
//! brokers find their metadata went back (`metadata-epoch-regression`), so the test can fail.

use kafkasim_sim::run::run_seed;
use kafkasim_sim::scenario::parse;

fn scenario(stop: &str) -> String {
    format!(
        r#"
[scenario]
name = "controller-stop-then-power-loss"
why = "test"
seeds = 1
duration = "12s"

[cluster]
brokers = 3

[broker]
"min.insync.replicas" = 2
"broker.session.timeout.ms" = 3000
"broker.heartbeat.interval.ms" = 500
"replica.lag.time.max.ms" = 2000

[model]
controller = true
power_loss_keep_probability = 0.0
planted_bugs = ["controller-publish-before-fsync"]

[[topic]]
name = "t"
partitions = 2
replication_factor = 3

[[workload]]
kind = "producer"
topic = "t"
rate = "200/s"
config = {{ acks = "all", "request.timeout.ms" = 3000, "delivery.timeout.ms" = 30000 }}

[[fault]]
at = "2s"
actions = [{{ do = "kill", target = "broker(3)" }}]

[[fault]]
when = "isr_size(t/0) < 3"
actions = [
  {{ do = "{stop}", target = "controller" }},
  {{ do = "power-loss", target = "controller", after = "1ms" }},
  {{ do = "restart", target = "controller", after = "500ms" }},
]

[expect]
verdict = "valid"
allow = ["duplicate", "nonmonotonic-send"]
"#
    )
}

/// The run's anomaly kinds and effects, on a fresh thread as runs need.
fn run(stop: &str, seed: u64) -> (Vec<String>, std::collections::BTreeMap<String, u64>) {
    let scenario = parse("controller-stop.toml", &scenario(stop)).expect("valid");
    std::thread::spawn(move || {
        let data = run_seed(&scenario, seed);
        let kinds = data.anomalies.iter().map(|a| a.kind.clone()).collect();
        (kinds, data.effects)
    })
    .join()
    .expect("the run finished")
}

#[test]
fn a_controller_shutdown_makes_what_it_published_durable() {
    for seed in [1, 2] {
        let (anomalies, effects) = run("shutdown", seed);
        assert_eq!(
            effects.get("controller.shutdown.clean"),
            Some(&1),
            "seed {seed}: {effects:?}"
        );
        assert!(
            !anomalies.iter().any(|k| k == "metadata-epoch-regression"),
            "seed {seed}: {anomalies:?}"
        );
        let (anomalies, effects) = run("kill", seed);
        assert_eq!(effects.get("controller.shutdown.clean"), None);
        assert!(
            anomalies.iter().any(|k| k == "metadata-epoch-regression"),
            "seed {seed}: a kill leaves the published records to the power loss: {anomalies:?}"
        );
    }
}
