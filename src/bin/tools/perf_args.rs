//! Flags of the perf tools, with the names of Kafka's `kafka-producer-perf-test` and
//! `kafka-consumer-perf-test`, and the producer properties (`--producer-props k=v ...`)
//! applied to kafkasim's [`ProducerConfig`] under Kafka's config names.
//!
//! Also the payload the producer perf test sends.
//!
//! Pure: nothing here resolves a host or touches the network; a user's mistake comes back as
//! a message naming the flag and what was expected.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkasim::client::ProducerConfig;

pub const PRODUCER_USAGE: &str = "usage: kafkasim-tools producer-perf-test --topic T --num-records N --record-size BYTES --throughput RECORDS_PER_SEC(-1: unthrottled) [--producer-props k=v ...] [--bootstrap-server HOST:PORT[,...]] [--reporting-interval MS]";
pub const CONSUMER_USAGE: &str = "usage: kafkasim-tools consumer-perf-test --topic T --messages N --bootstrap-server HOST:PORT[,...] [--timeout MS] [--hide-header]";

/// Kafka's default reporting interval for both tools.
const REPORTING_INTERVAL_DEFAULT: Duration = Duration::from_millis(5000);
/// Kafka's default `buffer.memory`.
const BUFFER_MEMORY_DEFAULT: u64 = 32 * 1024 * 1024;
/// kafka-consumer-perf-test's default `--timeout`: the longest wait between records.
const CONSUMER_TIMEOUT_DEFAULT: Duration = Duration::from_millis(10_000);

/// `producer-perf-test`'s flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerPerfArgs {
    pub topic: String,
    pub num_records: u64,
    pub record_size: usize,
    /// Records per second; negative for unthrottled.
    pub throughput: f64,
    /// `bootstrap.servers`, from `--bootstrap-server` or the producer props.
    pub bootstrap: Vec<String>,
    /// `--producer-props`, except `bootstrap.servers` and `buffer.memory`.
    pub props: BTreeMap<String, String>,
    /// `buffer.memory`: the bytes of records sent and not yet acknowledged; sending waits
    /// while the records in flight would exceed it, as Kafka's producer blocks.
    pub buffer_memory: u64,
    pub reporting_interval: Duration,
}

/// `consumer-perf-test`'s flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerPerfArgs {
    pub topic: String,
    pub messages: u64,
    pub bootstrap: Vec<String>,
    /// The longest wait for the next record before giving up.
    pub timeout: Duration,
    pub hide_header: bool,
}

/// Split `--flag=value` into two arguments, as Kafka's argument parser accepts both forms.
fn split_equals(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                out.push(flag.to_string());
                out.push(value.to_string());
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

/// Flags and their values; a flag that takes several values (`--producer-props`) gets all the
/// arguments up to the next flag.
fn flags(
    args: &[String],
    many: &[&str],
    bare: &[&str],
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let args = split_equals(args);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if !flag.starts_with("--") {
            return Err(format!("unexpected argument {flag}"));
        }
        i += 1;
        let values = out.entry(flag.to_string()).or_default();
        if bare.contains(&flag) {
            continue;
        }
        let start = i;
        while i < args.len() && !args[i].starts_with("--") {
            i += 1;
            if !many.contains(&flag) {
                break;
            }
        }
        if i == start {
            return Err(format!("{flag} needs a value"));
        }
        values.extend(args[start..i].iter().cloned());
    }
    Ok(out)
}

fn one<'a>(flags: &'a BTreeMap<String, Vec<String>>, flag: &str) -> Option<&'a str> {
    flags.get(flag).and_then(|v| v.last()).map(String::as_str)
}

fn required<'a>(flags: &'a BTreeMap<String, Vec<String>>, flag: &str) -> Result<&'a str, String> {
    one(flags, flag).ok_or_else(|| format!("{flag} is required"))
}

fn number<T: std::str::FromStr>(flag: &str, value: &str, expected: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value}: expected {expected}"))
}

fn millis(
    flags: &BTreeMap<String, Vec<String>>,
    flag: &str,
    default: Duration,
) -> Result<Duration, String> {
    match one(flags, flag) {
        None => Ok(default),
        Some(v) => Ok(Duration::from_millis(number(flag, v, "milliseconds")?)),
    }
}

fn servers(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn check_known(flags: &BTreeMap<String, Vec<String>>, known: &[&str]) -> Result<(), String> {
    match flags.keys().find(|f| !known.contains(&f.as_str())) {
        Some(flag) => Err(format!("unknown flag {flag}")),
        None => Ok(()),
    }
}

pub fn parse_producer(args: &[String]) -> Result<ProducerPerfArgs, String> {
    let flags = flags(args, &["--producer-props"], &[])?;
    check_known(
        &flags,
        &[
            "--topic",
            "--num-records",
            "--record-size",
            "--throughput",
            "--producer-props",
            "--bootstrap-server",
            "--reporting-interval",
        ],
    )?;
    let mut props = BTreeMap::new();
    for prop in flags.get("--producer-props").into_iter().flatten() {
        let (key, value) = prop
            .split_once('=')
            .ok_or_else(|| format!("--producer-props {prop}: expected KEY=VALUE"))?;
        props.insert(key.trim().to_string(), value.trim().to_string());
    }
    let from_props = props.remove("bootstrap.servers");
    let bootstrap = servers(
        one(&flags, "--bootstrap-server")
            .or(from_props.as_deref())
            .unwrap_or_default(),
    );
    let buffer_memory = match props.remove("buffer.memory") {
        None => BUFFER_MEMORY_DEFAULT,
        Some(v) => number("--producer-props buffer.memory", &v, "bytes")?,
    };
    if bootstrap.is_empty() {
        return Err(
            "--bootstrap-server or --producer-props bootstrap.servers=... is required".into(),
        );
    }
    let num_records = number(
        "--num-records",
        required(&flags, "--num-records")?,
        "a record count",
    )?;
    let record_size: usize = number(
        "--record-size",
        required(&flags, "--record-size")?,
        "a size in bytes",
    )?;
    let throughput: f64 = number(
        "--throughput",
        required(&flags, "--throughput")?,
        "records per second, or -1",
    )?;
    if throughput == 0.0 || throughput.is_nan() {
        return Err(
            "--throughput 0 would never send: give records per second, or -1 for no limit".into(),
        );
    }
    Ok(ProducerPerfArgs {
        topic: required(&flags, "--topic")?.to_string(),
        num_records,
        record_size,
        throughput,
        bootstrap,
        props,
        buffer_memory,
        reporting_interval: millis(&flags, "--reporting-interval", REPORTING_INTERVAL_DEFAULT)?,
    })
}

pub fn parse_consumer(args: &[String]) -> Result<ConsumerPerfArgs, String> {
    let flags = flags(args, &[], &["--hide-header", "--from-beginning"])?;
    check_known(
        &flags,
        &[
            "--topic",
            "--messages",
            "--bootstrap-server",
            "--timeout",
            "--hide-header",
            "--from-beginning",
        ],
    )?;
    let bootstrap = servers(required(&flags, "--bootstrap-server")?);
    if bootstrap.is_empty() {
        return Err("--bootstrap-server needs HOST:PORT".into());
    }
    Ok(ConsumerPerfArgs {
        topic: required(&flags, "--topic")?.to_string(),
        messages: number(
            "--messages",
            required(&flags, "--messages")?,
            "a record count",
        )?,
        bootstrap,
        timeout: millis(&flags, "--timeout", CONSUMER_TIMEOUT_DEFAULT)?,
        hide_header: flags.contains_key("--hide-header"),
    })
}

/// Apply Kafka producer properties to `config`; returns warnings for properties kafkasim's
/// producer does not use (Kafka warns about unknown configs too). An invalid value is an error.
pub fn apply_producer_props(
    config: &mut ProducerConfig,
    props: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for (key, value) in props {
        let bad = |expected: &str| format!("--producer-props {key}={value}: expected {expected}");
        let ms = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| bad("milliseconds"))
        };
        match key.as_str() {
            "acks" => {
                config.acks = match value.as_str() {
                    "all" | "-1" => -1,
                    "1" => 1,
                    "0" => 0,
                    _ => return Err(bad("0, 1, -1 or all")),
                }
            }
            "linger.ms" => config.linger = ms()?,
            "batch.size" => config.batch_size = value.parse().map_err(|_| bad("bytes"))?,
            "max.in.flight.requests.per.connection" => {
                config.max_in_flight = match value.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(bad("a count of at least 1")),
                }
            }
            "retries" => config.retries = value.parse().map_err(|_| bad("a count"))?,
            "retry.backoff.ms" => config.retry_backoff = ms()?,
            "request.timeout.ms" => config.request_timeout = ms()?,
            "delivery.timeout.ms" => config.delivery_timeout = ms()?,
            "client.id" => config.client_id = value.clone(),
            "compression.type" if value == "none" => {}
            "compression.type" => {
                return Err(bad(
                    "none (the only compression kafkasim's producer writes)",
                ))
            }
            "enable.idempotence" => {
                config.enable_idempotence = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("true or false")),
                }
            }
            _ => warnings.push(format!(
                "{key} was supplied but is not used by kafkasim's producer"
            )),
        }
    }
    Ok(warnings)
}

/// `size` random capital letters, as Kafka's tool fills its payload.
pub fn payload(size: usize) -> bytes::Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'A' + (state % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn kafkas_producer_command_line() {
        let parsed = parse_producer(&args(
            "--topic perf --num-records 1000000 --record-size 100 --throughput -1 \
             --producer-props bootstrap.servers=127.0.0.1:9092,127.0.0.1:9093 acks=1 linger.ms=5",
        ))
        .unwrap();
        assert_eq!(parsed.topic, "perf");
        assert_eq!(parsed.num_records, 1_000_000);
        assert_eq!(parsed.record_size, 100);
        assert_eq!(parsed.throughput, -1.0);
        assert_eq!(parsed.bootstrap, ["127.0.0.1:9092", "127.0.0.1:9093"]);
        assert_eq!(parsed.props.len(), 2);
        assert_eq!(parsed.buffer_memory, 32 * 1024 * 1024);
        assert_eq!(parsed.props["acks"], "1");
        assert_eq!(parsed.reporting_interval, Duration::from_secs(5));
    }

    #[test]
    fn producer_props_end_at_the_next_flag_and_equals_forms_work() {
        let parsed = parse_producer(&args(
            "--producer-props acks=all batch.size=65536 --bootstrap-server=localhost:9092 \
             --topic=t --num-records=5 --record-size=10 --throughput=2500.5",
        ))
        .unwrap();
        assert_eq!(parsed.bootstrap, ["localhost:9092"]);
        assert_eq!(parsed.props["batch.size"], "65536");
        let with_buffer = parse_producer(&args(
            "--bootstrap-server h:1 --topic t --num-records 5 --record-size 10 --throughput -1 \
             --producer-props buffer.memory=1000",
        ))
        .unwrap();
        assert_eq!(with_buffer.buffer_memory, 1000);
        assert!(with_buffer.props.is_empty());
        assert_eq!(parsed.throughput, 2500.5);
    }

    #[test]
    fn producer_mistakes_name_the_flag() {
        let cases = [
            ("--topic t --num-records 5 --record-size 10 --throughput -1", "--bootstrap-server"),
            ("--bootstrap-server h:1 --num-records 5 --record-size 10 --throughput -1", "--topic is required"),
            ("--bootstrap-server h:1 --topic t --num-records five --record-size 10 --throughput -1", "--num-records five"),
            ("--bootstrap-server h:1 --topic t --num-records 5 --record-size 10 --throughput 0", "--throughput 0"),
            ("--bootstrap-server h:1 --topic t --num-records 5 --record-size 10 --throughput -1 --producer-props acks", "--producer-props acks"),
            ("--bootstrap-server h:1 --topic t --num-records 5 --record-size 10 --throughput -1 --payload-file f", "unknown flag --payload-file"),
            ("--bootstrap-server h:1 --topic", "--topic needs a value"),
        ];
        for (line, expected) in cases {
            let error = parse_producer(&args(line)).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn kafkas_consumer_command_line() {
        let parsed = parse_consumer(&args(
            "--bootstrap-server 127.0.0.1:9092 --topic perf --messages 20000 --timeout 3000 --hide-header",
        ))
        .unwrap();
        assert_eq!(parsed.topic, "perf");
        assert_eq!(parsed.messages, 20_000);
        assert_eq!(parsed.timeout, Duration::from_secs(3));
        assert!(parsed.hide_header);
        let defaults =
            parse_consumer(&args("--bootstrap-server h:1 --topic t --messages 1")).unwrap();
        assert_eq!(defaults.timeout, Duration::from_secs(10));
        assert!(!defaults.hide_header);
        let error = parse_consumer(&args("--topic t --messages 1")).unwrap_err();
        assert!(error.contains("--bootstrap-server is required"), "{error}");
    }

    #[test]
    fn producer_props_set_kafkas_configs() {
        let mut config = ProducerConfig::new(Vec::new());
        let props: BTreeMap<String, String> = [
            ("acks", "1"),
            ("linger.ms", "20"),
            ("batch.size", "131072"),
            ("max.in.flight.requests.per.connection", "3"),
            ("send.buffer.bytes", "131072"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let warnings = apply_producer_props(&mut config, &props).unwrap();
        assert_eq!(config.acks, 1);
        assert_eq!(config.linger, Duration::from_millis(20));
        assert_eq!(config.batch_size, 131_072);
        assert_eq!(config.max_in_flight, 3);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("send.buffer.bytes"));
    }

    #[test]
    fn producer_props_reject_what_kafkasim_cannot_do() {
        for (key, value) in [
            ("acks", "2"),
            ("linger.ms", "soon"),
            ("enable.idempotence", "maybe"),
            ("compression.type", "zstd"),
        ] {
            let props = BTreeMap::from([(key.to_string(), value.to_string())]);
            let error =
                apply_producer_props(&mut ProducerConfig::new(Vec::new()), &props).unwrap_err();
            assert!(error.contains(&format!("{key}={value}")), "{error}");
        }
    }

    #[test]
    fn the_payload_is_capital_letters_of_the_asked_size() {
        let payload = payload(1000);
        assert_eq!(payload.len(), 1000);
        assert!(payload.iter().all(u8::is_ascii_uppercase));
        // Not one letter repeated: the letters are spread over the alphabet.
        let distinct: std::collections::BTreeSet<u8> = payload.iter().copied().collect();
        assert_eq!(distinct.len(), 26);
    }
}
