//! The `when = "..."` predicate of a `[[fault]]` step: comparisons over replica state joined by
//! `&&` (the grammar is in scenarios/README.md, "`when` predicates").
//!
//! Parsing is pure and checks everything a file can get wrong: function names (with a "did you
//! mean"), argument counts, topics and partitions, replica targets, and that brokers are only
//! compared with brokers, by `==` or `!=`. Evaluation lives in `crate::nemesis::when`.

use super::model::{CompareOp, Comparison, Operand, Predicate, Target, Topic};
use super::parse::check_target_partition;
use super::values::{did_you_mean, parse_target, parse_tp};

/// Most comparisons one predicate may join, so a predicate stays readable and cheap to
/// evaluate after every observation.
pub const COMPARISONS_MAX: usize = 16;

/// The functions a predicate may call.
const FUNCTIONS: &[&str] = &["leo", "hw", "isr_size", "leader_epoch", "leader", "broker"];

/// Operators, longest first so that `<=` is not read as `<`.
const OPERATORS: &[(&str, CompareOp)] = &[
    ("<=", CompareOp::Le),
    (">=", CompareOp::Ge),
    ("==", CompareOp::Eq),
    ("!=", CompareOp::Ne),
    ("<", CompareOp::Lt),
    (">", CompareOp::Gt),
];

/// A rejected predicate: what was expected, and a corrected name if one is close.
#[derive(Debug, PartialEq)]
pub struct PredicateError {
    pub message: String,
    pub suggestion: Option<String>,
}

fn fail<T>(message: String) -> Result<T, PredicateError> {
    Err(PredicateError {
        message,
        suggestion: None,
    })
}

/// Parses `text` against the scenario's brokers and topics.
pub fn parse_predicate(
    text: &str,
    brokers: u32,
    topics: &[Topic],
) -> Result<Predicate, PredicateError> {
    let parts: Vec<&str> = text.split("&&").collect();
    if parts.len() > COMPARISONS_MAX {
        return fail(format!(
            "a predicate joins at most {COMPARISONS_MAX} comparisons, found {}",
            parts.len()
        ));
    }
    let comparisons = parts
        .iter()
        .map(|part| parse_comparison(part.trim(), brokers, topics))
        .collect::<Result<_, _>>()?;
    Ok(Predicate {
        text: text.trim().to_string(),
        comparisons,
    })
}

fn parse_comparison(
    text: &str,
    brokers: u32,
    topics: &[Topic],
) -> Result<Comparison, PredicateError> {
    if text.is_empty() {
        return fail("empty comparison: expected e.g. \"isr_size(t/0) < 3\"".to_string());
    }
    let Some((at, symbol, op)) = find_operator(text) else {
        return fail(format!(
            "\"{text}\" has no comparison operator (one of <, <=, >, >=, ==, !=)"
        ));
    };
    let left = parse_operand(text[..at].trim(), brokers, topics)?;
    let right_text = text[at + symbol.len()..].trim();
    if find_operator(right_text).is_some() {
        return fail(format!(
            "\"{text}\" chains comparisons: join them with && instead"
        ));
    }
    let right = parse_operand(right_text, brokers, topics)?;
    if left.is_broker() != right.is_broker() {
        return fail(format!(
            "\"{text}\" compares a broker with a number: leader(t/p) and broker(n) compare only with each other"
        ));
    }
    if left.is_broker() && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return fail(format!(
            "\"{text}\": brokers compare only with == or !=, not {symbol}"
        ));
    }
    Ok(Comparison { left, op, right })
}

/// The first operator outside parentheses: its byte offset, spelling and meaning.
fn find_operator(text: &str) -> Option<(usize, &'static str, CompareOp)> {
    let mut depth = 0i32;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => {
                let rest = &text[at..];
                if let Some((symbol, op)) = OPERATORS.iter().find(|(s, _)| rest.starts_with(s)) {
                    return Some((at, symbol, *op));
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_operand(text: &str, brokers: u32, topics: &[Topic]) -> Result<Operand, PredicateError> {
    if text.is_empty() {
        return fail(
            "missing operand: expected a number or a call such as leo(t/0, leader(t/0))".into(),
        );
    }
    if let Ok(value) = text.parse::<i64>() {
        return Ok(Operand::Int(value));
    }
    let Some((name, args)) = call(text) else {
        return fail(format!(
            "expected an integer or a call such as isr_size(t/0), found \"{text}\""
        ));
    };
    let args = split_args(args);
    let arity = match name {
        "leo" | "hw" => 2,
        "isr_size" | "leader_epoch" | "leader" | "broker" => 1,
        _ => {
            return Err(PredicateError {
                message: format!(
                    "unknown function \"{name}\" (expected one of: {})",
                    FUNCTIONS.join(", ")
                ),
                suggestion: did_you_mean(name, FUNCTIONS).map(str::to_string),
            })
        }
    };
    if args.len() != arity {
        return fail(format!(
            "{name} takes {arity} argument(s), found {} in \"{text}\"",
            args.len()
        ));
    }
    if name == "broker" {
        return match parse_target(text, brokers) {
            Ok(Target::Broker(id)) => Ok(Operand::Broker(id)),
            Ok(_) => unreachable!("broker(...) parses to a broker"),
            Err(error) => fail(error.message),
        };
    }
    let (topic, partition) = partition_arg(args[0], topics)?;
    Ok(match name {
        "leo" | "hw" => {
            let replica = replica_arg(args[1], brokers, topics)?;
            if name == "leo" {
                Operand::LogEndOffset {
                    topic,
                    partition,
                    replica,
                }
            } else {
                Operand::HighWatermark {
                    topic,
                    partition,
                    replica,
                }
            }
        }
        "isr_size" => Operand::IsrSize { topic, partition },
        "leader_epoch" => Operand::LeaderEpoch { topic, partition },
        _ => Operand::Leader { topic, partition },
    })
}

/// `name(args)` → (name, args), when `text` is one well-formed call.
fn call(text: &str) -> Option<(&str, &str)> {
    let open = text.find('(')?;
    let inner = text.strip_suffix(')')?.get(open + 1..)?;
    let name = text[..open].trim();
    let identifier = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    identifier.then_some((name, inner))
}

/// Splits arguments at commas outside parentheses.
fn split_args(args: &str) -> Vec<&str> {
    if args.trim().is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (at, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(args[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    out.push(args[start..].trim());
    out
}

fn partition_arg(text: &str, topics: &[Topic]) -> Result<(String, i32), PredicateError> {
    let Some((topic, partition)) = parse_tp(text) else {
        return fail(format!(
            "expected topic/partition, e.g. t/0, found \"{text}\""
        ));
    };
    let target = Target::Leader {
        topic: topic.clone(),
        partition,
    };
    check_target_partition(&target, topics).map_err(|message| PredicateError {
        message,
        suggestion: None,
    })?;
    Ok((topic, partition))
}

/// The replica of `leo` and `hw`: `broker(n)`, `leader(t/p)` or `follower(t/p, i)`.
fn replica_arg(text: &str, brokers: u32, topics: &[Topic]) -> Result<Target, PredicateError> {
    let target = parse_target(text, brokers).map_err(|error| PredicateError {
        message: error.message,
        suggestion: error.suggestion,
    })?;
    match target {
        Target::Broker(_) | Target::Leader { .. } | Target::Follower { .. } => {
            check_target_partition(&target, topics).map_err(|message| PredicateError {
                message,
                suggestion: None,
            })?;
            Ok(target)
        }
        _ => fail(format!(
            "\"{text}\" names no single replica: expected broker(n), leader(t/p) or follower(t/p, i)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Configs;

    fn topics() -> Vec<Topic> {
        vec![Topic {
            name: "t".into(),
            partitions: 2,
            replication_factor: 3,
            placement: None,
            config: Configs::new(),
        }]
    }

    fn parse(text: &str) -> Result<Predicate, PredicateError> {
        parse_predicate(text, 3, &topics())
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().message
    }

    #[test]
    fn predicates_parse_every_function_and_operator() {
        let predicate =
            parse("leo(t/0, follower(t/0, 1)) > hw(t/0, leader(t/0)) && isr_size(t/1) <= 2")
                .unwrap();
        assert_eq!(predicate.comparisons.len(), 2);
        assert_eq!(
            predicate.comparisons[0].left,
            Operand::LogEndOffset {
                topic: "t".into(),
                partition: 0,
                replica: Target::Follower {
                    topic: "t".into(),
                    partition: 0,
                    index: 1
                }
            }
        );
        assert_eq!(predicate.comparisons[0].op, CompareOp::Gt);
        assert_eq!(predicate.comparisons[1].right, Operand::Int(2));
        let leader = parse("leader(t/0) != broker(2)").unwrap();
        assert_eq!(leader.comparisons[0].right, Operand::Broker(2));
        for (text, op) in [
            ("leader_epoch(t/0) < 1", CompareOp::Lt),
            ("leader_epoch(t/0) >= 1", CompareOp::Ge),
            ("hw(t/1, broker(3)) == 10", CompareOp::Eq),
            ("-1 != leo(t/0, broker(1))", CompareOp::Ne),
        ] {
            assert_eq!(parse(text).unwrap().comparisons[0].op, op, "{text}");
        }
    }

    #[test]
    fn predicate_errors_say_what_was_expected() {
        let unknown = parse("lso(t/0, broker(1)) > 0").unwrap_err();
        assert!(unknown.message.starts_with("unknown function \"lso\""));
        assert_eq!(unknown.suggestion.as_deref(), Some("leo"));
        assert!(message("isr_size(u/0) < 3").contains("unknown topic \"u\""));
        assert!(message("isr_size(t/5) < 3").contains("has partitions 0..2"));
        assert!(message("leo(t/0, broker(7)) > 0").contains("broker(7) does not exist"));
        assert!(message("leo(t/0, follower(t/0, 3)) > 0").contains("follower 3 does not exist"));
        assert!(message("leo(t/0, all) > 0").contains("names no single replica"));
        assert!(message("leo(t/0) > 0").contains("takes 2 argument(s), found 1"));
        assert!(message("isr_size(t/0)").contains("no comparison operator"));
        assert!(message("leader(t/0) == 1").contains("compares a broker with a number"));
        assert!(message("leader(t/0) < broker(1)").contains("only with == or !="));
        assert!(message("1 < isr_size(t/0) < 3").contains("chains comparisons"));
        assert!(message("isr_size(t/0) < 3 && ").contains("empty comparison"));
        assert!(message("isr_size(t/0) < three").contains("expected an integer or a call"));
    }
}
