//! Leaf parsers for the small languages inside scenario strings: durations (`"500ms"`), rates
//! (`"200/s"`), fault targets (`"broker(2)"`), plus the "did you mean" suggestion.
//!
//! Each returns the parsed value or a sentence saying what was expected; the caller adds the
//! file, line and field.

use super::model::Target;

/// Longest duration a scenario may state: a week of simulated time (bounds every timer).
pub const DURATION_MS_MAX: i64 = 7 * 24 * 3_600_000;

const DURATION_EXPECTED: &str = r#"expected a duration like "500ms", "10s", "2m" or "1h""#;

/// A duration string with an optional sign: `"500ms"`, `"10s"`, `"-30s"`, `"2m"`, `"1h"`.
pub fn parse_signed_duration_ms(text: &str) -> Result<i64, String> {
    let found = || format!("{DURATION_EXPECTED}, found \"{text}\"");
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(digits_end);
    if digits.is_empty() {
        return Err(found());
    }
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("{DURATION_EXPECTED}: \"{text}\" has no unit")),
        _ => return Err(found()),
    };
    let value = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms));
    match value {
        Some(ms) if ms <= DURATION_MS_MAX => Ok(sign * ms),
        _ => Err(format!(
            "duration \"{text}\" is longer than the maximum of 168h"
        )),
    }
}

/// A duration that may not be negative.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    if text.starts_with('-') {
        return Err(format!(
            "{DURATION_EXPECTED} (not negative), found \"{text}\""
        ));
    }
    parse_signed_duration_ms(text).map(|ms| ms as u64)
}

/// A range of durations, `"2s..6s"`, both ends inclusive, the low end not above the high one;
/// a single duration `"3s"` is the range of that one value.
pub fn parse_duration_range_ms(text: &str) -> Result<(u64, u64), String> {
    let Some((low, high)) = text.split_once("..") else {
        let only = parse_duration_ms(text.trim())
            .map_err(|message| format!("{message} (or a range like \"2s..6s\")"))?;
        return Ok((only, only));
    };
    let low_ms = parse_duration_ms(low.trim())?;
    let high_ms = parse_duration_ms(high.trim().trim_start_matches('='))?;
    if low_ms > high_ms {
        return Err(format!(
            "the range \"{text}\" is empty: its low end ({low_ms} ms) is above its high end ({high_ms} ms)"
        ));
    }
    Ok((low_ms, high_ms))
}

/// A rate: `"500/s"`, `"30/m"`, `"0.5/s"`. Returns events per second, always positive.
pub fn parse_rate_per_sec(text: &str) -> Result<f64, String> {
    let expected = || format!(r#"expected a rate like "500/s" or "30/m", found "{text}""#);
    let (count, unit) = text.split_once('/').ok_or_else(expected)?;
    let count: f64 = count.trim().parse().map_err(|_| expected())?;
    let per_sec = match unit.trim() {
        "s" => count,
        "m" => count / 60.0,
        _ => return Err(expected()),
    };
    if !per_sec.is_finite() || per_sec <= 0.0 {
        return Err(format!("rate must be positive, found \"{text}\""));
    }
    Ok(per_sec)
}

/// Target forms SIMULATION.md defines that need replication, which this build lacks.
const REPLICATION_TARGETS: &[&str] = &[
    "leader",
    "follower",
    "controller",
    "isr",
    "minority",
    "majority",
];

/// A rejected target: what was expected, and a corrected spelling if one is close.
#[derive(Debug, PartialEq)]
pub struct TargetError {
    pub message: String,
    pub suggestion: Option<String>,
}

/// `"broker(n)"` with `1 <= n <= brokers`, `"all"`, `leader(t/p)`, `follower(t/p, i)`,
/// `isr(t/p)`, `minority` or `majority`.
pub fn parse_target(text: &str, brokers: u32) -> Result<Target, TargetError> {
    let text = text.trim();
    let (name, args) = split_call(text);
    let fail = |message: String| {
        Err(TargetError {
            message,
            suggestion: None,
        })
    };
    match (name, args) {
        ("all", None) => Ok(Target::All),
        ("all", Some(_)) => fail(format!("`all` takes no arguments, found \"{text}\"")),
        ("broker", Some(args)) => parse_broker_id(args.trim(), brokers).map(Target::Broker),
        ("broker", None) => fail(format!("expected broker(n) with n in 1..={brokers}")),
        ("leader", Some(args)) => {
            let (topic, partition) = parse_tp(args).ok_or_else(|| TargetError {
                message: format!("expected leader(topic/partition), found \"{text}\""),
                suggestion: None,
            })?;
            Ok(Target::Leader { topic, partition })
        }
        ("follower", Some(args)) => {
            let parsed = args.split_once(',').and_then(|(tp, index)| {
                let (topic, partition) = parse_tp(tp)?;
                let index = index.trim().parse::<usize>().ok().filter(|i| *i >= 1)?;
                Some(Target::Follower {
                    topic,
                    partition,
                    index,
                })
            });
            parsed.ok_or_else(|| TargetError {
                message: format!(
                    "expected follower(topic/partition, i) with i ≥ 1, found \"{text}\""
                ),
                suggestion: None,
            })
        }
        ("isr", Some(args)) => {
            let (topic, partition) = parse_tp(args).ok_or_else(|| TargetError {
                message: format!("expected isr(topic/partition), found \"{text}\""),
                suggestion: None,
            })?;
            Ok(Target::Isr { topic, partition })
        }
        ("isr", None) => fail(format!("expected isr(topic/partition), found \"{text}\"")),
        ("controller", None) => Ok(Target::Controller),
        ("client", Some(args)) => match args.trim().parse::<u32>() {
            Ok(index) => Ok(Target::Client(index)),
            Err(_) => fail(format!("expected client(i) with i ≥ 0, found \"{text}\"")),
        },
        ("minority", None) => Ok(Target::Minority),
        ("majority", None) => Ok(Target::Majority),
        (name, _) if REPLICATION_TARGETS.contains(&name) => fail(format!(
            "target \"{text}\" is not available until the controller lands; \
             use broker(n), all, leader(t/p), follower(t/p, i), isr(t/p), minority or majority"
        )),
        (name, args) => Err(unknown_target(text, name, args)),
    }
}

/// `topic/partition`, e.g. `t/0`.
pub fn parse_tp(text: &str) -> Option<(String, i32)> {
    let (topic, partition) = text.trim().rsplit_once('/')?;
    let partition = partition.trim().parse::<i32>().ok().filter(|p| *p >= 0)?;
    (!topic.trim().is_empty()).then(|| (topic.trim().to_string(), partition))
}

/// Splits `name(args)` into its parts; a string without a well-formed call is all name.
fn split_call(text: &str) -> (&str, Option<&str>) {
    match (text.find('('), text.strip_suffix(')')) {
        (Some(open), Some(inner)) => (text[..open].trim(), Some(&inner[open + 1..])),
        _ => (text, None),
    }
}

fn parse_broker_id(args: &str, brokers: u32) -> Result<i32, TargetError> {
    let message = match args.parse::<i64>() {
        Ok(id) if (1..=i64::from(brokers)).contains(&id) => return Ok(id as i32),
        Ok(id) => format!("broker({id}) does not exist: the cluster has brokers 1..={brokers}"),
        Err(_) => format!("expected broker(n) with n in 1..={brokers}, found \"broker({args})\""),
    };
    Err(TargetError {
        message,
        suggestion: None,
    })
}

fn unknown_target(text: &str, name: &str, args: Option<&str>) -> TargetError {
    let mut names = vec!["broker", "all"];
    names.extend_from_slice(REPLICATION_TARGETS);
    let suggestion = did_you_mean(name, &names).map(|near| match args {
        Some(args) => format!("{near}({args})"),
        None => near.to_string(),
    });
    TargetError {
        message: format!("unknown target \"{text}\": expected broker(n), all, leader(t/p), follower(t/p, i), isr(t/p), minority or majority"),
        suggestion,
    }
}

/// The closest of `candidates` to `word` within an edit distance of 2, if any.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_ranges() {
        assert_eq!(parse_duration_range_ms("2s..6s"), Ok((2_000, 6_000)));
        assert_eq!(parse_duration_range_ms("500ms..=1s"), Ok((500, 1_000)));
        assert_eq!(parse_duration_range_ms("3s"), Ok((3_000, 3_000)));
        assert!(parse_duration_range_ms("6s..2s")
            .unwrap_err()
            .contains("is empty"));
        assert!(parse_duration_range_ms("2s..").is_err());
        assert!(parse_duration_range_ms("x").unwrap_err().contains("2s..6s"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("60s"), Ok(60_000));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
        assert_eq!(parse_signed_duration_ms("-30s"), Ok(-30_000));
        assert_eq!(parse_signed_duration_ms("+2m"), Ok(120_000));
        assert!(parse_duration_ms("-30s")
            .unwrap_err()
            .contains("not negative"));
        assert!(parse_duration_ms("10").unwrap_err().contains("has no unit"));
        for bad in ["", "s", "10 s", "1.5s", "10sec", "ten seconds", "200h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate_per_sec("500/s"), Ok(500.0));
        assert_eq!(parse_rate_per_sec("0.5/s"), Ok(0.5));
        assert_eq!(parse_rate_per_sec("30/m"), Ok(0.5));
        assert!(parse_rate_per_sec("0/s").unwrap_err().contains("positive"));
        assert!(parse_rate_per_sec("-5/s").unwrap_err().contains("positive"));
        for bad in ["500", "500/h", "fast/s", "/s", "inf/s"] {
            assert!(parse_rate_per_sec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets() {
        assert_eq!(parse_target("broker(2)", 3), Ok(Target::Broker(2)));
        assert_eq!(parse_target(" broker( 3 ) ", 3), Ok(Target::Broker(3)));
        assert_eq!(parse_target("all", 3), Ok(Target::All));
        let out_of_range = parse_target("broker(9)", 3).unwrap_err();
        assert_eq!(
            out_of_range.message,
            "broker(9) does not exist: the cluster has brokers 1..=3"
        );
        assert!(parse_target("broker(0)", 3).is_err());
        assert!(parse_target("broker(x)", 3).is_err());
        assert!(parse_target("broker", 3).is_err());
        let typo = parse_target("brokr(1)", 3).unwrap_err();
        assert_eq!(typo.suggestion.as_deref(), Some("broker(1)"));
        assert_eq!(parse_target("controller", 3), Ok(Target::Controller));
        let bare = parse_target("isr", 3).unwrap_err();
        assert!(bare.message.contains("expected isr(topic/partition)"));
    }

    #[test]
    fn suggestions() {
        let keys = ["flush.messages", "flush.ms", "segment.bytes"];
        assert_eq!(did_you_mean("flush.message", &keys), Some("flush.messages"));
        assert_eq!(did_you_mean("flush.mss", &keys), Some("flush.ms"));
        assert_eq!(did_you_mean("retention.ms", &keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn partition_and_group_targets_parse() {
        assert_eq!(
            parse_target("leader(t/0)", 3),
            Ok(Target::Leader {
                topic: "t".into(),
                partition: 0
            })
        );
        assert_eq!(
            parse_target("follower(orders/2, 1)", 3),
            Ok(Target::Follower {
                topic: "orders".into(),
                partition: 2,
                index: 1
            })
        );
        assert_eq!(
            parse_target("isr(t/1)", 3),
            Ok(Target::Isr {
                topic: "t".into(),
                partition: 1
            })
        );
        assert_eq!(parse_target("minority", 5), Ok(Target::Minority));
        assert_eq!(parse_target("majority", 5), Ok(Target::Majority));
        assert_eq!(Target::Minority.size(5), 2);
        assert_eq!(Target::Majority.size(5), 3);
        assert!(parse_target("follower(t/0, 0)", 3).is_err());
        assert!(parse_target("leader(t)", 3).is_err());
        assert!(parse_target("controller(1)", 3).is_err());
    }
}
