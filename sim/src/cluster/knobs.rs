//! Randomised timing knobs, FoundationDB-style: with `[model] buggify = true`, each broker
//! timing config the scenario leaves unset is drawn per seed from a short list of values
//! (Kafka's default among them), so a sweep explores fetch waits, backoffs, heartbeat and
//! checkpoint intervals that one hand-picked setting would never reach. The draw comes from
//! the seed's own stream (apart from every other stream of the run), is the same on every
//! broker, and is listed in the report's `knobs`.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::configs::{int_or_default, Scope};
use crate::scenario::Scenario;

/// Salt for the knob stream.
const KNOB_STREAM: u64 = 0x6b6e_0b5f_0000_0000;

/// A knob: a broker config (Kafka's name) and the values a seed may draw for it, in ms.
struct Knob {
    name: &'static str,
    choices: &'static [i64],
}

/// The timing knobs, in draw order (append only: reordering changes every seed's draw).
const KNOBS: &[Knob] = &[
    Knob {
        name: "replica.fetch.wait.max.ms",
        choices: &[0, 10, 100, 500, 2000],
    },
    Knob {
        name: "replica.fetch.backoff.ms",
        choices: &[1, 50, 250, 1000],
    },
    Knob {
        name: "broker.heartbeat.interval.ms",
        choices: &[50, 250, 500, 2000],
    },
    Knob {
        name: "replica.high.watermark.checkpoint.interval.ms",
        choices: &[100, 1000, 5000, 30_000],
    },
];

/// The knob values this seed draws for `scenario`: empty unless BUGGIFY is on. A knob the
/// scenario's `[broker]` sets keeps the scenario's value (it is not drawn). A heartbeat
/// interval is only drawn below a third of `broker.session.timeout.ms`, so a healthy broker
/// still keeps its session.
pub fn draw(scenario: &Scenario, seed: u64) -> BTreeMap<String, String> {
    let mut knobs = BTreeMap::new();
    if !scenario.model.buggify {
        return knobs;
    }
    let session_ms = int_or_default(&scenario.broker, Scope::Broker, "broker.session.timeout.ms");
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ KNOB_STREAM);
    for knob in KNOBS {
        let allowed: Vec<i64> = knob
            .choices
            .iter()
            .copied()
            .filter(|&v| knob.name != "broker.heartbeat.interval.ms" || v * 3 <= session_ms)
            .collect();
        // Drawn whether or not it is used, so one knob's setting never shifts another's draw.
        let value = allowed.choose(&mut rng).copied();
        if scenario.broker.contains_key(knob.name) {
            continue;
        }
        if let Some(value) = value {
            knobs.insert(knob.name.to_string(), value.to_string());
        }
    }
    knobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "[scenario]\nname = \"k\"\nwhy = \"k\"\nseeds = 1\nduration = \"1s\"\n\
             [cluster]\nbrokers = 3\n[broker]\n{extra}\n[model]\ncontroller = true\nbuggify = true\n\
             [[topic]]\nname = \"t\"\npartitions = 1\nreplication_factor = 3\n\
             [[workload]]\nkind = \"producer\"\ntopic = \"t\"\nrate = \"1/s\"\n\
             [expect]\nverdict = \"valid\"\n"
        );
        crate::scenario::parse("k.toml", &text).expect("a valid scenario")
    }

    #[test]
    fn knobs_are_a_function_of_the_seed_and_cover_their_choices() {
        let s = scenario("");
        assert_eq!(draw(&s, 5), draw(&s, 5));
        for knob in KNOBS {
            let seen: std::collections::BTreeSet<String> = (0..200)
                .map(|seed| draw(&s, seed)[knob.name].clone())
                .collect();
            let all: std::collections::BTreeSet<String> =
                knob.choices.iter().map(|v| v.to_string()).collect();
            assert_eq!(seen, all, "{}", knob.name);
        }
    }

    #[test]
    fn a_set_knob_is_kept_and_the_others_draw_as_before() {
        let free = scenario("");
        let pinned = scenario("\"replica.fetch.wait.max.ms\" = 500");
        for seed in 0..50 {
            let mut expected = draw(&free, seed);
            expected.remove("replica.fetch.wait.max.ms");
            assert_eq!(draw(&pinned, seed), expected);
        }
    }

    #[test]
    fn heartbeats_stay_well_inside_the_session_and_nothing_is_drawn_without_buggify() {
        let tight = scenario("\"broker.session.timeout.ms\" = 1500");
        for seed in 0..200 {
            let interval: i64 = draw(&tight, seed)["broker.heartbeat.interval.ms"]
                .parse()
                .unwrap();
            assert!(interval * 3 <= 1500, "seed {seed}: {interval}");
        }
        let mut off = scenario("");
        off.model.buggify = false;
        assert!(draw(&off, 3).is_empty());
    }
}
