//! `configs` and `delete-records`, in the spirit of kafka-configs and kafka-delete-records,
//! on kafkasim's own admin client.
//!
//! ```text
//! kafkasim-tools --bootstrap 127.0.0.1:9092 configs --describe --topic t
//! kafkasim-tools --bootstrap 127.0.0.1:9092 configs --alter --topic t \
//!     --add-config retention.ms=60000,min.insync.replicas=2 --delete-config flush.messages
//! kafkasim-tools --bootstrap 127.0.0.1:9092 delete-records --topic t --partition 0 --offset 100
//! ```
//!
//! Kafka's `--entity-type topics --entity-name T` is accepted for `--topic T`.

pub const USAGE: &str = "usage: kafkasim-tools --bootstrap HOST:PORT (configs (--describe | --alter [--add-config K=V[,K=V…]] [--delete-config K[,K…]]) (--topic T | --entity-type topics --entity-name T) | delete-records --topic T --partition P --offset O)";

/// One admin command.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminCommand {
    DescribeConfigs {
        topic: String,
    },
    /// (key, Some(value)) sets, (key, None) deletes (back to the default).
    AlterConfigs {
        topic: String,
        changes: Vec<(String, Option<String>)>,
    },
    DeleteRecords {
        topic: String,
        partition: i32,
        offset: i64,
    },
}

fn value<'a>(args: &'a [&'a str], flag: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| *a == flag) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .copied()
            .map(Some)
            .ok_or(format!("{flag} needs a value")),
    }
}

fn topic_of(args: &[&str]) -> Result<String, String> {
    if let Some(topic) = value(args, "--topic")? {
        return Ok(topic.to_string());
    }
    match (value(args, "--entity-type")?, value(args, "--entity-name")?) {
        (Some("topics"), Some(name)) => Ok(name.to_string()),
        (Some(other), _) if other != "topics" => {
            Err(format!("--entity-type {other}: only topics are supported"))
        }
        _ => Err("a topic is needed: --topic T".into()),
    }
}

/// Parse the words after `--bootstrap HOST:PORT` was taken out.
pub fn parse(args: &[&str]) -> Result<AdminCommand, String> {
    match args.first().copied() {
        Some("configs") => {
            let tail = &args[1..];
            let topic = topic_of(tail)?;
            if tail.contains(&"--describe") {
                return Ok(AdminCommand::DescribeConfigs { topic });
            }
            if !tail.contains(&"--alter") {
                return Err("configs needs --describe or --alter".into());
            }
            let mut changes = Vec::new();
            for pair in value(tail, "--add-config")?
                .into_iter()
                .flat_map(|v| v.split(','))
            {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or(format!("--add-config {pair}: expected KEY=VALUE"))?;
                changes.push((key.to_string(), Some(value.to_string())));
            }
            for key in value(tail, "--delete-config")?
                .into_iter()
                .flat_map(|v| v.split(','))
            {
                changes.push((key.to_string(), None));
            }
            if changes.is_empty() {
                return Err("configs --alter needs --add-config or --delete-config".into());
            }
            Ok(AdminCommand::AlterConfigs { topic, changes })
        }
        Some("delete-records") => {
            let tail = &args[1..];
            let number = |flag: &str| -> Result<i64, String> {
                let v = value(tail, flag)?.ok_or(format!("delete-records needs {flag}"))?;
                v.parse()
                    .map_err(|_| format!("{flag}: expected a number, got {v}"))
            };
            Ok(AdminCommand::DeleteRecords {
                topic: value(tail, "--topic")?
                    .ok_or("delete-records needs --topic")?
                    .to_string(),
                partition: i32::try_from(number("--partition")?)
                    .map_err(|_| "--partition out of range".to_string())?,
                offset: number("--offset")?,
            })
        }
        _ => Err("expected configs or delete-records".into()),
    }
}

#[cfg(not(madsim))]
pub async fn run(bootstrap: std::net::SocketAddr, command: AdminCommand) -> anyhow::Result<()> {
    use kafkasim::client::Admin;
    let mut admin = Admin::new(vec![bootstrap], std::time::Duration::from_secs(30));
    match command {
        AdminCommand::DescribeConfigs { topic } => {
            println!("Dynamic configs for topic {topic} are:");
            for entry in admin.describe_topic_configs(&topic).await? {
                let source = match entry.source {
                    1 => "DYNAMIC_TOPIC_CONFIG",
                    4 => "STATIC_BROKER_CONFIG",
                    5 => "DEFAULT_CONFIG",
                    _ => "OTHER",
                };
                let value = entry.value.as_deref().unwrap_or("null");
                println!("  {}={value} ({source})", entry.name);
            }
        }
        AdminCommand::AlterConfigs { topic, changes } => {
            admin.alter_topic_configs(&topic, &changes).await?;
            println!("Completed updating config for topic {topic}.");
        }
        AdminCommand::DeleteRecords {
            topic,
            partition,
            offset,
        } => {
            let low = admin.delete_records(&topic, partition, offset).await?;
            println!("Records delete operation completed:");
            println!("partition: {topic}-{partition}\tlow_watermark: {low}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_and_delete_records_parse_as_kafkas_tools() {
        assert_eq!(
            parse(&["configs", "--describe", "--topic", "t"]),
            Ok(AdminCommand::DescribeConfigs { topic: "t".into() })
        );
        assert_eq!(
            parse(&[
                "configs",
                "--entity-type",
                "topics",
                "--entity-name",
                "t",
                "--alter",
                "--add-config",
                "retention.ms=5,flush.messages=1",
                "--delete-config",
                "min.insync.replicas"
            ]),
            Ok(AdminCommand::AlterConfigs {
                topic: "t".into(),
                changes: vec![
                    ("retention.ms".into(), Some("5".into())),
                    ("flush.messages".into(), Some("1".into())),
                    ("min.insync.replicas".into(), None),
                ],
            })
        );
        assert_eq!(
            parse(&[
                "delete-records",
                "--topic",
                "t",
                "--partition",
                "2",
                "--offset",
                "-1"
            ]),
            Ok(AdminCommand::DeleteRecords {
                topic: "t".into(),
                partition: 2,
                offset: -1
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(
            error(&["configs", "--describe"]),
            "a topic is needed: --topic T"
        );
        assert!(error(&["configs", "--alter", "--topic", "t"]).contains("--add-config"));
        assert!(
            error(&["configs", "--alter", "--topic", "t", "--add-config", "x"])
                .contains("KEY=VALUE")
        );
        assert!(error(&[
            "configs",
            "--describe",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1"
        ])
        .contains("only topics"));
        assert!(error(&[
            "delete-records",
            "--topic",
            "t",
            "--partition",
            "x",
            "--offset",
            "1"
        ])
        .contains("expected a number"));
        assert!(error(&["delete-records", "--topic", "t", "--offset", "1"]).contains("--partition"));
    }
}
