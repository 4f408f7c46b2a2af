//! A broken invariant stops the run at the step it breaks. With the planted bug
//! `leader-high-watermark-regress` a leader moves its high watermark back by one on a follower
//! fetch that moves nothing; no checker is involved: the partition actor's assertion that a
//! leader's high watermark never moves back within its epoch panics, and the runner turns the
//! panic into an `unknown` verdict that carries the assertion's message. Without the plant the
//! same scenario is valid, so the test fails if the assertion goes away or states less.

use kafkasim_sim::runner::run_seed_isolated;
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
    let message = data.liveness_failure.unwrap_or_default();
    assert!(
        message.contains("leader high watermark moved back"),
        "unexpected failure: {message}"
    );

    let clean = parse("clean.toml", &scenario("")).expect("valid scenario");
    let data = run_seed_isolated(&clean, 1, None);
    assert_eq!(data.verdict, Verdict::Valid, "{:?}", data.liveness_failure);
}
