//! Real-mode command-line tools in the spirit of kafka-topics, kafka-console-producer,
//! kafka-console-consumer, kafka-configs, kafka-delete-records, kafka-consumer-groups,
//! kafka-producer-perf-test and kafka-consumer-perf-test, built on
//! kafkasim's own clients.
//!
//! ```text
//! kafkasim-tools --bootstrap 127.0.0.1:9092 topics --list
//! kafkasim-tools --bootstrap 127.0.0.1:9092 topics --create t --partitions 3 \
//!     --replication-factor 3 --config retention.ms=60000
//! kafkasim-tools --bootstrap 127.0.0.1:9092 topics --alter t --partitions 6
//! kafkasim-tools --bootstrap 127.0.0.1:9092 topics --describe t
//! kafkasim-tools --bootstrap 127.0.0.1:9092 configs --alter --topic t --add-config flush.messages=1
//! kafkasim-tools --bootstrap 127.0.0.1:9092 delete-records --topic t --partition 0 --offset 10
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consumer-groups --describe --group g
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consumer-groups --reset-offsets --group g \
//!     --topic t --to-earliest --execute
//! kafkasim-tools --bootstrap 127.0.0.1:9092 topics --delete t
//! printf 'k1:v1\nk2:v2\n' | kafkasim-tools --bootstrap 127.0.0.1:9092 produce t --key-separator :
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consume t --from-beginning --max-messages 2
//! kafkasim-tools producer-perf-test --topic t --num-records 1000000 --record-size 100 \
//!     --throughput -1 --producer-props bootstrap.servers=127.0.0.1:9092 acks=1
//! kafkasim-tools consumer-perf-test --bootstrap-server 127.0.0.1:9092 --topic t --messages 1000000
//! ```

// The perf tools' pure parts are unit-tested in the default (simulation) build, where main is
// only a stub that does not use them.
#![cfg_attr(madsim, allow(dead_code))]

mod admin_tools;
mod consumer_groups;
mod consumer_perf;
mod perf_args;
#[cfg(not(madsim))]
mod producer_perf;
mod stats;
mod throttle;

#[cfg(madsim)]
fn main() {
    eprintln!("kafkasim-tools was built for simulation; build it with RUSTFLAGS= and --target-dir target/real");
    std::process::exit(2);
}

/// One invocation of the tools.
#[cfg(not(madsim))]
enum Tool {
    Classic(real::Invocation),
    ProducerPerf(perf_args::ProducerPerfArgs),
    ConsumerPerf(perf_args::ConsumerPerfArgs),
}

#[cfg(not(madsim))]
fn parse(args: &[String]) -> Result<Tool, String> {
    let usage = |usage: &'static str| move |message: String| format!("{message}\n{usage}");
    match args.first().map(String::as_str) {
        Some("producer-perf-test") => perf_args::parse_producer(&args[1..])
            .map(Tool::ProducerPerf)
            .map_err(usage(perf_args::PRODUCER_USAGE)),
        Some("consumer-perf-test") => perf_args::parse_consumer(&args[1..])
            .map(Tool::ConsumerPerf)
            .map_err(usage(perf_args::CONSUMER_USAGE)),
        _ => real::parse(args).map(Tool::Classic).map_err(|message| {
            format!(
                "{message}\n{}\n{}\n{}\n{}\n{}",
                real::USAGE,
                admin_tools::USAGE,
                consumer_groups::USAGE,
                perf_args::PRODUCER_USAGE,
                perf_args::CONSUMER_USAGE
            )
        }),
    }
}

#[cfg(not(madsim))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tool = match parse(&args) {
        Ok(tool) => tool,
        Err(message) => {
            eprintln!("kafkasim-tools: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match tool {
            Tool::Classic(invocation) => real::run(invocation).await,
            Tool::ProducerPerf(args) => producer_perf::run(args).await,
            Tool::ConsumerPerf(args) => consumer_perf::run(args).await,
        }
    });
    if let Err(error) = result {
        eprintln!("kafkasim-tools: {error:#}");
        std::process::exit(1);
    }
}

#[cfg(not(madsim))]
mod real {
    use std::io::{BufRead, Write};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use kafkasim::client::{
        Admin, Consumer, ConsumerConfig, OffsetReset, Producer, ProducerConfig, ProducerRecord,
    };
    use kafkasim::env::SystemClock;

    pub const USAGE: &str = "usage: kafkasim-tools --bootstrap HOST:PORT (topics (--list | --create T [--partitions N] [--replication-factor R] [--config K=V]… | --alter T --partitions N | --describe T | --delete T) | produce T [--key-separator S] [--acks 0|1|all] | consume T [--from-beginning] [--max-messages N] [--timeout-ms MS])";

    const TIMEOUT: Duration = Duration::from_secs(30);

    pub enum Command {
        List,
        Create {
            topic: String,
            partitions: i32,
            replication_factor: i16,
            configs: Vec<(String, String)>,
        },
        Alter {
            topic: String,
            partitions: i32,
        },
        Admin(crate::admin_tools::AdminCommand),
        Groups(crate::consumer_groups::GroupsCommand),
        Describe {
            topic: String,
        },
        Delete {
            topic: String,
        },
        Produce {
            topic: String,
            key_separator: Option<String>,
            acks: i16,
        },
        Consume {
            topic: String,
            from_beginning: bool,
            max_messages: Option<usize>,
            timeout: Duration,
        },
    }

    pub struct Invocation {
        bootstrap: SocketAddr,
        command: Command,
    }

    pub fn parse(args: &[String]) -> Result<Invocation, String> {
        let mut args = args.iter().map(String::as_str).peekable();
        let mut bootstrap: Option<SocketAddr> = None;
        let mut rest: Vec<&str> = Vec::new();
        while let Some(arg) = args.next() {
            if arg == "--bootstrap" {
                let value = args.next().ok_or("--bootstrap needs HOST:PORT")?;
                bootstrap = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--bootstrap {value}: expected HOST:PORT"))?,
                );
            } else {
                rest.push(arg);
            }
        }
        let bootstrap = bootstrap.ok_or("--bootstrap is required")?;
        let value = |rest: &[&str], flag: &str| -> Result<Option<String>, String> {
            match rest.iter().position(|a| *a == flag) {
                None => Ok(None),
                Some(i) => rest
                    .get(i + 1)
                    .map(|v| Some(v.to_string()))
                    .ok_or(format!("{flag} needs a value")),
            }
        };
        let number = |v: Option<String>, flag: &str| -> Result<Option<i64>, String> {
            v.map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{flag}: expected a number, got {v}"))
            })
            .transpose()
        };
        let command = match rest.first().copied() {
            Some("topics") => {
                let tail = &rest[1..];
                if tail.contains(&"--list") {
                    Command::List
                } else if let Some(topic) = value(tail, "--create")? {
                    let partitions =
                        number(value(tail, "--partitions")?, "--partitions")?.unwrap_or(-1) as i32;
                    let replication_factor =
                        number(value(tail, "--replication-factor")?, "--replication-factor")?
                            .unwrap_or(-1) as i16;
                    let mut configs = Vec::new();
                    for (i, arg) in tail.iter().enumerate() {
                        if *arg == "--config" {
                            let pair = tail.get(i + 1).ok_or("--config needs KEY=VALUE")?;
                            let (k, v) = pair
                                .split_once('=')
                                .ok_or(format!("--config {pair}: expected KEY=VALUE"))?;
                            configs.push((k.to_string(), v.to_string()));
                        }
                    }
                    Command::Create {
                        topic,
                        partitions,
                        replication_factor,
                        configs,
                    }
                } else if let Some(topic) = value(tail, "--alter")? {
                    let partitions = number(value(tail, "--partitions")?, "--partitions")?
                        .ok_or("topics --alter needs --partitions N")?
                        as i32;
                    Command::Alter { topic, partitions }
                } else if let Some(topic) = value(tail, "--describe")? {
                    Command::Describe { topic }
                } else if let Some(topic) = value(tail, "--delete")? {
                    Command::Delete { topic }
                } else {
                    return Err(
                        "topics needs --list, --create, --alter, --describe or --delete".into(),
                    );
                }
            }
            Some("produce") => {
                let topic = rest.get(1).ok_or("produce needs a topic")?.to_string();
                let acks = match value(&rest[2..], "--acks")?.as_deref() {
                    None | Some("all") | Some("-1") => -1,
                    Some("1") => 1,
                    Some("0") => 0,
                    Some(other) => return Err(format!("--acks {other}: expected 0, 1 or all")),
                };
                Command::Produce {
                    topic,
                    key_separator: value(&rest[2..], "--key-separator")?,
                    acks,
                }
            }
            Some("consume") => {
                let topic = rest.get(1).ok_or("consume needs a topic")?.to_string();
                let tail = &rest[2..];
                Command::Consume {
                    topic,
                    from_beginning: tail.contains(&"--from-beginning"),
                    max_messages: number(value(tail, "--max-messages")?, "--max-messages")?
                        .map(|n| n as usize),
                    timeout: Duration::from_millis(
                        number(value(tail, "--timeout-ms")?, "--timeout-ms")?.unwrap_or(5000)
                            as u64,
                    ),
                }
            }
            Some("configs") | Some("delete-records") => {
                Command::Admin(crate::admin_tools::parse(&rest)?)
            }
            Some("consumer-groups") => Command::Groups(crate::consumer_groups::parse(&rest)?),
            _ => {
                return Err(
                    "expected a command: topics, produce, consume, configs, delete-records or consumer-groups"
                        .into(),
                )
            }
        };
        Ok(Invocation { bootstrap, command })
    }

    pub async fn run(invocation: Invocation) -> anyhow::Result<()> {
        let bootstrap = vec![invocation.bootstrap];
        match invocation.command {
            Command::List => {
                for topic in Admin::new(bootstrap, TIMEOUT).list_topics().await? {
                    println!("{topic}");
                }
            }
            Command::Create {
                topic,
                partitions,
                replication_factor,
                configs,
            } => {
                Admin::new(bootstrap, TIMEOUT)
                    .create_topic(&topic, partitions, replication_factor, &configs)
                    .await?;
                println!("created {topic}");
            }
            Command::Alter { topic, partitions } => {
                Admin::new(bootstrap, TIMEOUT)
                    .create_partitions(&topic, partitions)
                    .await?;
                println!("{topic} now has {partitions} partitions");
            }
            Command::Admin(command) => {
                crate::admin_tools::run(invocation.bootstrap, command).await?
            }
            Command::Groups(command) => {
                crate::consumer_groups::run(invocation.bootstrap, command).await?
            }
            Command::Describe { topic } => {
                for (index, p) in Admin::new(bootstrap, TIMEOUT)
                    .describe_topic(&topic)
                    .await?
                    .iter()
                    .enumerate()
                {
                    println!(
                        "{topic}\tpartition {index}\tleader {}\treplicas {:?}\tisr {:?}",
                        p.leader, p.replicas, p.isr
                    );
                }
            }
            Command::Delete { topic } => {
                Admin::new(bootstrap, TIMEOUT).delete_topic(&topic).await?;
                println!("deleted {topic}");
            }
            Command::Produce {
                topic,
                key_separator,
                acks,
            } => produce(bootstrap, topic, key_separator, acks).await?,
            Command::Consume {
                topic,
                from_beginning,
                max_messages,
                timeout,
            } => consume(bootstrap, topic, from_beginning, max_messages, timeout).await?,
        }
        Ok(())
    }

    /// One record per stdin line; prints `partition@offset` per acknowledged record.
    async fn produce(
        bootstrap: Vec<SocketAddr>,
        topic: String,
        key_separator: Option<String>,
        acks: i16,
    ) -> anyhow::Result<()> {
        let mut config = ProducerConfig::new(bootstrap);
        config.client_id = "kafkasim-tools".into();
        config.acks = acks;
        let producer = Producer::new(config, Arc::new(SystemClock));
        let mut deliveries = Vec::new();
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let (key, value) = match key_separator.as_deref().and_then(|s| line.split_once(s)) {
                Some((k, v)) => (Some(Bytes::from(k.to_string())), v.to_string()),
                None => (None, line),
            };
            let record = ProducerRecord {
                topic: topic.clone(),
                partition: None,
                key,
                value: Some(Bytes::from(value)),
            };
            deliveries.push(producer.send(record).await?.1);
        }
        let mut failed = 0;
        for delivery in deliveries {
            match delivery.await? {
                Ok(meta) => println!("{}@{}", meta.partition, meta.offset),
                Err(error) => {
                    failed += 1;
                    eprintln!("not acknowledged: {error}");
                }
            }
        }
        anyhow::ensure!(failed == 0, "{failed} record(s) not acknowledged");
        Ok(())
    }

    /// Print `key:value` (or `value`) per record until `max_messages` or `timeout` without data.
    async fn consume(
        bootstrap: Vec<SocketAddr>,
        topic: String,
        from_beginning: bool,
        max_messages: Option<usize>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut config = ConsumerConfig::new(bootstrap);
        config.client_id = "kafkasim-tools".into();
        config.auto_offset_reset = if from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        };
        let mut consumer = Consumer::new(config);
        let partitions = consumer.partitions_for(&topic).await?;
        anyhow::ensure!(partitions > 0, "unknown topic {topic}");
        consumer.assign(
            &(0..partitions as i32)
                .map(|p| (topic.clone(), p))
                .collect::<Vec<_>>(),
        );
        let mut printed = 0;
        let stdout = std::io::stdout();
        loop {
            let records = consumer.poll(timeout).await?;
            if records.is_empty() {
                return Ok(());
            }
            let mut out = stdout.lock();
            for record in records {
                let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
                match record.key.as_deref() {
                    Some(key) => writeln!(out, "{}:{value}", String::from_utf8_lossy(key))?,
                    None => writeln!(out, "{value}")?,
                }
                printed += 1;
                if max_messages.is_some_and(|max| printed >= max) {
                    return Ok(());
                }
            }
        }
    }
}
