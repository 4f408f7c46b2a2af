//! Tests of the scenario parser on whole files: the catalogue's smoke example parses to the
//! model it describes, and the less common spellings the README allows are accepted.
//! Rejections live in sim/tests/scenario_errors.rs, one file each.

use std::path::Path;

use super::*;

const SMOKE: &str = "scenarios/smoke/produce-consume.toml";

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A minimal valid file with `extra` appended, for spelling tests.
fn minimal(extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "x"
why = "y"
duration = "10s"
[cluster]
brokers = 3
[[topic]]
name = "t"
partitions = 2
replication_factor = 1
[[workload]]
kind = "producer"
topic = "t"
rate = "10/s"
{extra}
"#
    )
}

fn parse_minimal(extra: &str, expect: &str) -> std::result::Result<Scenario, ScenarioError> {
    let mut text = minimal(extra);
    text.push_str(expect);
    parse("test.toml", &text)
}

const VALID: &str = "[expect]\nverdict = \"valid\"\n";

#[test]
fn smoke_example_parses_to_the_expected_model() {
    let text = repo_file(SMOKE);
    let scenario = parse(SMOKE, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.path, SMOKE);
    assert_eq!(scenario.source_hash, hex(&Sha256::digest(text.as_bytes())));
    assert_eq!(scenario.source_hash.len(), 64);
    assert_eq!(scenario.name, "produce-consume");
    assert_eq!(scenario.seeds, 16);
    assert_eq!(scenario.duration_ms, 10_000);
    assert_eq!(scenario.cluster.brokers, 1);
    assert_eq!(
        scenario.broker,
        Configs::from([("segment.bytes".into(), ConfigValue::Int(65_536))])
    );
    assert_eq!(scenario.model.power_loss_keep_probability, 0.5);
    assert_eq!(scenario.model.dirty_expire_ms, 30_000);
    assert!(!scenario.model.nondeterminism_for_test);

    let [topic] = scenario.topics.as_slice() else {
        panic!("one topic")
    };
    assert_eq!(
        (
            topic.name.as_str(),
            topic.partitions,
            topic.replication_factor
        ),
        ("t", 3, 1)
    );
    assert_eq!(topic.placement, None);
    assert!(topic.config.is_empty());

    let [producer, consumer] = scenario.workloads.as_slice() else {
        panic!("two workloads")
    };
    assert_eq!(producer.kind, WorkloadKind::Producer);
    assert_eq!((producer.clients, producer.topic.as_str()), (1, "t"));
    assert_eq!(producer.rate_per_sec, 200.0);
    assert!(producer.keyed);
    let producer_config = Configs::from([
        ("acks".into(), ConfigValue::Str("1".into())),
        ("linger.ms".into(), ConfigValue::Int(5)),
    ]);
    assert_eq!(producer.config, producer_config);
    assert_eq!(consumer.kind, WorkloadKind::Consumer);
    assert_eq!((consumer.clients, consumer.topic.as_str()), (1, "t"));
    let consumer_config = Configs::from([(
        "auto.offset.reset".into(),
        ConfigValue::Str("earliest".into()),
    )]);
    assert_eq!(consumer.config, consumer_config);

    assert!(scenario.faults.is_empty());
    assert!(scenario.expect.must.is_empty() && scenario.expect.allow.is_empty());
    assert_eq!(scenario.expect.min_acknowledged, 500);
    assert_eq!(scenario.expect.min_faults, 0);
}

#[test]
fn readme_example_is_the_smoke_scenario() {
    let readme = repo_file("scenarios/README.md");
    let marker = format!("<!-- example: {SMOKE} -->\n```toml\n");
    let start = readme.find(&marker).expect("README marks its full example") + marker.len();
    let end = start + readme[start..].find("```\n").expect("example block ends");
    assert_eq!(
        &readme[start..end],
        repo_file(SMOKE),
        "README example and {SMOKE} differ"
    );
}

#[test]
fn scenario_readme_lists_every_honoured_config() {
    let readme = repo_file("scenarios/README.md");
    let rows = super::super::configs::markdown_rows();
    assert!(
        readme.contains(&rows),
        "README's config table differs; expected rows:\n{rows}"
    );
}

#[test]
fn scenario_faults_parse_with_parameters_in_both_array_spellings() {
    let faults = r#"
[[fault]]
at = "1s"
actions = [
  { do = "slow-link", target = "broker(2)", delay = "20ms" },
  { do = "skew", target = "all", delta = "-30s", after = "500ms" },
  { do = "bit-flip", target = "broker(3)" },
]
[[fault]]
at = "2s"
[[fault.actions]]
do = "hold-connection"
target = "broker(1)"
duration = "2s"
"#;
    let scenario = parse_minimal(faults, VALID).unwrap_or_else(|e| panic!("{e}"));
    let [first, second] = scenario.faults.as_slice() else {
        panic!("two steps")
    };
    assert_eq!(first.trigger, Trigger::At(1_000));
    let expected = vec![
        Action {
            kind: FaultKind::SlowLink { delay_ms: 20 },
            target: Target::Broker(2),
            after_ms: 0,
        },
        Action {
            kind: FaultKind::Skew { delta_ms: -30_000 },
            target: Target::All,
            after_ms: 500,
        },
        Action {
            kind: FaultKind::BitFlip { count: 1 },
            target: Target::Broker(3),
            after_ms: 0,
        },
    ];
    assert_eq!(first.actions, expected);
    let hold = FaultKind::HoldConnection { duration_ms: 2_000 };
    assert_eq!(
        second.actions,
        vec![Action {
            kind: hold,
            target: Target::Broker(1),
            after_ms: 0
        }]
    );
}

#[test]
fn scenario_configs_accept_unquoted_dotted_keys_and_integer_acks() {
    let extra = "config = { acks = -1, linger.ms = 7 }\n[broker]\nflush.messages = 10\n";
    let scenario = parse_minimal(extra, VALID).unwrap_or_else(|e| panic!("{e}"));
    let config = &scenario.workloads[0].config;
    assert_eq!(config["acks"], ConfigValue::Str("all".into()));
    assert_eq!(config["linger.ms"], ConfigValue::Int(7));
    assert_eq!(scenario.broker["flush.messages"], ConfigValue::Int(10));

    let typo = parse_minimal("config = { linger.mss = 7 }", VALID).unwrap_err();
    assert_eq!(typo.field, "workload[0].config.\"linger.mss\"");
    assert_eq!(typo.suggestion.as_deref(), Some("linger.ms"));
}

#[test]
fn scenario_twice_set_config_is_rejected() {
    let error = parse_minimal("config = { \"linger.ms\" = 1, linger.ms = 2 }", VALID).unwrap_err();
    assert!(error.message.contains("set twice"), "{error}");
}

#[test]
fn scenario_topic_config_rejects_broker_only_keys() {
    let extra = "[[topic]]\nname = \"u\"\npartitions = 1\nreplication_factor = 1\n\
                 config = { \"replica.lag.time.max.ms\" = 100 }\n";
    let error = parse_minimal(extra, VALID).unwrap_err();
    assert_eq!(error.field, "topic[1].config.\"replica.lag.time.max.ms\"");
    assert!(error.message.contains("set it in [broker]"), "{error}");
}

#[test]
fn scenario_placement_is_checked_against_partitions_and_brokers() {
    let ok = minimal("").replace(
        "replication_factor = 1\n",
        "replication_factor = 1\nplacement = [[3], [1]]\n",
    ) + VALID;
    let scenario = parse("test.toml", &ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.topics[0].placement, Some(vec![vec![3], vec![1]]));
    for (placement, complaint) in [
        ("[[1]]", "one replica list per partition"),
        ("[[1], [4]]", "1..=3"),
        ("[[1], [1, 2]]", "expected 1 broker id"),
    ] {
        let text = minimal("").replace(
            "replication_factor = 1\n",
            &format!("replication_factor = 1\nplacement = {placement}\n"),
        ) + VALID;
        let error = parse("test.toml", &text).unwrap_err();
        assert!(error.message.contains(complaint), "{placement}: {error}");
    }
}

#[test]
fn scenario_expect_must_allow_and_minimums() {
    let expect = r#"
[expect]
must = ["acked-write-absent"]
allow = ["unseen", "lost-write"]
min = { acknowledged = 10, effects = { "disk.bytes_discarded" = 1 } }
"#;
    let scenario = parse_minimal("", expect).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.expect.must, vec!["acked-write-absent"]);
    assert_eq!(scenario.expect.allow, vec!["unseen", "lost-write"]);
    assert_eq!(scenario.expect.min_effects["disk.bytes_discarded"], 1);

    let both = "[expect]\nmust = [\"unseen\"]\nallow = [\"unseen\"]\n";
    assert!(parse_minimal("", both)
        .unwrap_err()
        .message
        .contains("both must and allow"));
    let nothing = parse_minimal("", "[expect]\n").unwrap_err();
    assert_eq!(nothing.field, "expect");
    assert_eq!(
        nothing.line,
        minimal("").lines().count() + 1,
        "points at the [expect] header"
    );
}

#[test]
fn scenario_error_display_has_file_line_column_field() {
    let error = parse_minimal("clients = 0", VALID).unwrap_err();
    assert_eq!(
        error.to_string(),
        "test.toml:16:11: workload[0].clients: expected an integer in 1..=64, found 0"
    );
}

const NEMESIS: &str = r#"
[nemesis]
interval = "3s"
kinds = ["kill", "power-loss", "partition", "pause", "slow-link", "drop-response"]
recover_after = "2s..6s"
failure_model = "within"
"#;

#[test]
fn nemesis_parses_kinds_range_and_model() {
    let scenario = parse_minimal(NEMESIS, VALID).unwrap_or_else(|e| panic!("{e}"));
    let nemesis = scenario.nemesis.expect("a nemesis");
    assert_eq!(nemesis.interval_ms, 3_000);
    assert_eq!(nemesis.recover_after_ms, (2_000, 6_000));
    assert_eq!(nemesis.failure_model, FailureModel::Within);
    let names: Vec<(&str, u32)> = nemesis.kinds.iter().map(|(k, w)| (k.name(), *w)).collect();
    assert_eq!(
        names,
        [
            ("kill", 1),
            ("power-loss", 1),
            ("partition", 1),
            ("pause", 1),
            ("slow-link", 1),
            ("drop-response", 1)
        ]
    );
    assert!(nemesis
        .kinds
        .contains(&(FaultKind::SlowLink { delay_ms: 100 }, 1)));
    assert!(nemesis
        .kinds
        .contains(&(FaultKind::DropResponse { count: 1 }, 1)));
    assert!(parse_minimal("", VALID).unwrap().nemesis.is_none());
}

#[test]
fn nemesis_weights_and_parameters() {
    let extra = r#"
[nemesis]
interval = "500ms"
kinds = { pause = 3, slow-link = 1 }
recover_after = "1s"
failure_model = "outside"
slow_link_delay = "250ms"
"#;
    let nemesis = parse_minimal(extra, VALID).unwrap().nemesis.unwrap();
    assert_eq!(
        nemesis.kinds,
        [
            (FaultKind::Pause, 3),
            (FaultKind::SlowLink { delay_ms: 250 }, 1)
        ]
    );
    assert_eq!(nemesis.recover_after_ms, (1_000, 1_000));
    assert_eq!(nemesis.failure_model, FailureModel::Outside);
}

#[test]
fn nemesis_mistakes_name_their_field() {
    let cases = [
        (
            r#"kinds = ["kil"]"#,
            "nemesis.kinds[0]",
            "unknown nemesis kind \"kil\"",
        ),
        (
            r#"kinds = ["restart"]"#,
            "nemesis.kinds[0]",
            "cannot be drawn at random",
        ),
        (
            r#"kinds = { kill = 0 }"#,
            "nemesis.kinds.kill",
            "expected an integer in 1..=1000",
        ),
        (r#"kinds = []"#, "nemesis.kinds", "at least one fault kind"),
        (
            r#"kinds = ["kill", "kill"]"#,
            "nemesis.kinds[1]",
            "listed twice",
        ),
        (
            r#"recover_after = "6s..2s""#,
            "nemesis.recover_after",
            "is empty",
        ),
        (
            r#"recover_after = "0s..2s""#,
            "nemesis.recover_after",
            "start above 0",
        ),
        (
            r#"recover_after = "2s..x""#,
            "nemesis.recover_after",
            "expected a duration",
        ),
        (
            r#"failure_model = "withn""#,
            "nemesis.failure_model",
            "expected \"within\"",
        ),
        (
            r#"slow_link_delay = "1s""#,
            "nemesis.slow_link_delay",
            "applies only when",
        ),
        (r#"rate = "1/s""#, "nemesis.rate", "unknown key `rate`"),
    ];
    for (line, field, message) in cases {
        let key = line.split(' ').next().unwrap();
        let mut text: String = NEMESIS
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(line);
        text.push('\n');
        if key == "slow_link_delay" {
            text = text.replace(", \"slow-link\"", "");
        }
        let error = parse_minimal(&text, VALID).unwrap_err();
        assert_eq!(error.field, field, "{line}: {error}");
        assert!(error.message.contains(message), "{line}: {error}");
        assert!(error.line > minimal("").lines().count(), "{line}: {error}");
    }
    let typo = parse_minimal(&NEMESIS.replace("\"pause\"", "\"pase\""), VALID).unwrap_err();
    assert_eq!(typo.suggestion.as_deref(), Some("pause"));
}

#[test]
fn nemesis_lifts_the_scripted_bound_on_fault_minimums() {
    let expect =
        "[expect]\nverdict = \"valid\"\nmin = { faults = 5, faults_by_kind = { restart = 1 } }\n";
    assert!(parse_minimal(NEMESIS, expect).is_ok());
    let error = parse_minimal("", expect).unwrap_err();
    assert!(error.message.contains("fire only 0"), "{error}");
    // A kind the nemesis neither draws nor recovers with stays bounded by the script.
    let other = "[expect]\nverdict = \"valid\"\nmin = { faults_by_kind = { bit-flip = 1 } }\n";
    assert!(parse_minimal(NEMESIS, other).is_err());
}

#[test]
fn catalogue_nemesis_scenarios_parse() {
    for acks in ["all", "1"] {
        let path = format!("scenarios/replication/random-faults-acks-{acks}.toml");
        let scenario = parse(&path, &repo_file(&path)).unwrap_or_else(|e| panic!("{e}"));
        let nemesis = scenario.nemesis.expect("a nemesis");
        assert_eq!(nemesis.failure_model, FailureModel::Within);
        assert_eq!(nemesis.kinds.len(), 7);
    }
}

/// A `[[fault]]` step with `trigger` (its `at` or `when` lines) that kills broker 1.
fn when_step(trigger: &str) -> std::result::Result<Scenario, ScenarioError> {
    let step =
        format!("[[fault]]\n{trigger}\nactions = [{{ do = \"kill\", target = \"broker(1)\" }}]\n");
    parse_minimal(&step, VALID)
}

#[test]
fn scenario_when_step_parses_to_a_predicate() {
    let scenario = when_step(r#"when = "isr_size(t/1) < 3 && leader(t/0) == broker(1)""#)
        .unwrap_or_else(|e| panic!("{e}"));
    let Trigger::When(predicate) = &scenario.faults[0].trigger else {
        panic!("a when step")
    };
    assert_eq!(
        predicate.text,
        "isr_size(t/1) < 3 && leader(t/0) == broker(1)"
    );
    assert_eq!(predicate.comparisons.len(), 2);
    let isr = parse_minimal(
        "[[fault]]\nat = \"1s\"\nactions = [{ do = \"kill\", target = \"isr(t/1)\" }]\n",
        VALID,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        isr.faults[0].actions[0].target,
        Target::Isr {
            topic: "t".into(),
            partition: 1
        }
    );
}

#[test]
fn scenario_when_errors_name_file_line_and_field() {
    let cases = [
        (
            r#"when = "lso(t/0, broker(1)) > 0""#,
            "unknown function \"lso\"",
        ),
        (r#"when = "isr_size(u/0) < 3""#, "unknown topic \"u\""),
        (r#"when = "leader_epoch(t/2) > 0""#, "has partitions 0..2"),
        (
            r#"when = "leo(t/0, broker(4)) > 0""#,
            "broker(4) does not exist",
        ),
        (r#"when = "leader(t/0) > broker(1)""#, "only with == or !="),
        (r#"when = """#, "must not be empty"),
    ];
    for (trigger, message) in cases {
        let error = when_step(trigger).unwrap_err();
        assert_eq!(
            (error.file.as_str(), error.line, error.column),
            ("test.toml", 17, 8),
            "{error}"
        );
        assert_eq!(error.field, "fault[0].when", "{error}");
        assert!(error.message.contains(message), "{error}");
    }
    let both = when_step("at = \"1s\"\nwhen = \"isr_size(t/0) < 3\"").unwrap_err();
    assert!(both.message.contains("not both"), "{both}");
    assert_eq!((both.line, both.field.as_str()), (18, "fault[0].when"));
    let neither = when_step("").unwrap_err();
    assert!(neither.message.contains("or write `when`"), "{neither}");
    assert_eq!(neither.field, "fault[0].at");
    let isr = parse_minimal(
        "[[fault]]\nat = \"1s\"\nactions = [{ do = \"kill\", target = \"isr(t/9)\" }]\n",
        VALID,
    )
    .unwrap_err();
    assert!(isr.message.contains("has partitions 0..2"), "{isr}");
}

#[test]
fn controller_target_needs_the_controller_model() {
    let step = "[[fault]]\nat = \"1s\"\nactions = [{ do = \"kill\", target = \"controller\" }]\n";
    let error = parse_minimal(step, VALID).unwrap_err();
    assert!(
        error.message.contains("needs `[model] controller = true`"),
        "{error}"
    );
    let with_model = format!("[model]\ncontroller = true\n\n{step}");
    let scenario = parse_minimal(&with_model, VALID).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.faults[0].actions[0].target, Target::Controller);
}
