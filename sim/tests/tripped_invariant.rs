//! A broken invariant stops the run at the step it breaks. With the planted bug
//! `leader-high-watermark-regress` a leader moves its high watermark back by one on a follower
//! fetch that moves nothing; no checker is involved: the partition actor's assertion that a
//! leader's high watermark never moves back within its epoch panics, and the runner turns the
//! panic into an `unknown` verdict that carries the assertion's message. Without the plant the
//! same scenario is valid, so the test fails if the assertion goes away or states less.

use kafkasim_sim::run::{judge, report, run_seed_isolated};
use kafkasim_sim::scenario::{parse, Verdict};

fn scenario(planted: &str) -> String {
    format!(
        r#"
[scenario]
name = "tripped-invariant"
why = "test"
seeds = 1
duration = "4s"

[cluster]
brokers = 3

[model]
planted_bugs = [{planted}]

[[topic]]
name = "t"
partitions = 1
replication_factor = 3

[[workload]]
kind = "producer"
topic = "t"
rate = "50/s"
config = {{ acks = "all" }}

[expect]
verdict = "valid"
"#
    )
}

#[test]
fn a_leader_high_watermark_moving_back_ends_the_run_as_unknown() {
    let planted = parse(
        "tripped.toml",
        &scenario(r#""leader-high-watermark-regress""#),
    )
    .expect("valid scenario");
    let data = run_seed_isolated(&planted, 1, None);
    assert_eq!(data.verdict, Verdict::Unknown);
    let message = data.liveness_failure.clone().unwrap_or_default();
    assert!(
        message.contains("leader high watermark moved back"),
        "unexpected failure: {message}"
    );
    // Where it broke: the node, the assertion's file:line and the line that reproduces it.
    let site = data.panic.clone().expect("a panicked run says where");
    let node = site.node.unwrap_or_default();
    assert!(node.starts_with("broker-"), "node: {node}");
    let location = site.location.unwrap_or_default();
    assert!(
        location.starts_with("src/server/partition/"),
        "location: {location}"
    );
    assert!(
        message.contains(&node) && message.contains(&location),
        "{message}"
    );
    let report = report::run_report(&planted, 1, &data, &judge(&planted, &data), 0);
    assert_eq!(report["verdict"], "unknown");
    assert_eq!(report["panic"]["node"], node.as_str());
    let repro = report["panic"]["repro"].as_str().unwrap_or_default();
    assert!(repro.ends_with("--seed 1"), "repro: {repro}");

    let clean = parse("clean.toml", &scenario("")).expect("valid scenario");
    let data = run_seed_isolated(&clean, 1, None);
    assert_eq!(data.verdict, Verdict::Valid, "{:?}", data.liveness_failure);
}
