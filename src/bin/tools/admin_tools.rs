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
//! Kafka's `--entity-type topics --entity-name T` is accepted for `--topic T`; broker configs
//! are `--entity-type brokers --entity-name N` (or `--broker N`) for one broker's own dynamic
//! configs and `--entity-type brokers --entity-default` (or `--broker-defaults`) for the
//! cluster-wide default.

pub const USAGE: &str = "usage: kafkasim-tools --bootstrap HOST:PORT (configs (--describe | --alter [--add-config K=V[,K=V…]] [--delete-config K[,K…]]) (--topic T | --entity-type topics --entity-name T | --broker N | --entity-type brokers (--entity-name N | --entity-default) | --broker-defaults) | delete-records --topic T --partition P --offset O)";

/// What a `configs` command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigEntity {
    Topic(String),
    /// One broker's own dynamic configs.
    Broker(i32),
    /// The cluster-wide dynamic default of every broker.
    BrokerDefault,
}

/// One admin command.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminCommand {
    DescribeConfigs {
        entity: ConfigEntity,
    },
    /// (key, Some(value)) sets, (key, None) deletes (back to the default).
    AlterConfigs {
        entity: ConfigEntity,
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

fn broker_id(text: &str) -> Result<i32, String> {
    text.parse()
        .map_err(|_| format!("a broker is named by its id, not {text:?}"))
}

fn entity_of(args: &[&str]) -> Result<ConfigEntity, String> {
    if let Some(topic) = value(args, "--topic")? {
        return Ok(ConfigEntity::Topic(topic.to_string()));
    }
    if let Some(broker) = value(args, "--broker")? {
        return Ok(ConfigEntity::Broker(broker_id(broker)?));
    }
    if args.contains(&"--broker-defaults") {
        return Ok(ConfigEntity::BrokerDefault);
    }
    let default = args.contains(&"--entity-default");
    match (value(args, "--entity-type")?, value(args, "--entity-name")?) {
        (Some("topics"), Some(name)) => Ok(ConfigEntity::Topic(name.to_string())),
        (Some("brokers"), Some(name)) if !default => Ok(ConfigEntity::Broker(broker_id(name)?)),
        (Some("brokers"), None) if default => Ok(ConfigEntity::BrokerDefault),
        (Some(other), _) if other != "topics" && other != "brokers" => Err(format!(
            "--entity-type {other}: only topics and brokers are supported"
        )),
        _ => Err("a topic or broker is needed: --topic T, --broker N or --broker-defaults".into()),
    }
}

/// Parse the words after `--bootstrap HOST:PORT` was taken out.
pub fn parse(args: &[&str]) -> Result<AdminCommand, String> {
    match args.first().copied() {
        Some("configs") => {
            let tail = &args[1..];
            let entity = entity_of(tail)?;
            if tail.contains(&"--describe") {
                return Ok(AdminCommand::DescribeConfigs { entity });
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
            Ok(AdminCommand::AlterConfigs { entity, changes })
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
        AdminCommand::DescribeConfigs { entity } => {
            let entries = match &entity {
                ConfigEntity::Topic(topic) => {
                    println!("Dynamic configs for topic {topic} are:");
                    admin.describe_topic_configs(topic).await?
                }
                ConfigEntity::Broker(id) => {
                    println!("Dynamic configs for broker {id} are:");
                    admin.describe_broker_configs(Some(*id)).await?
                }
                ConfigEntity::BrokerDefault => {
                    println!("Default configs for brokers in the cluster are:");
                    admin.describe_broker_configs(None).await?
                }
            };
            for entry in entries {
                let source = match entry.source {
                    1 => "DYNAMIC_TOPIC_CONFIG",
                    2 => "DYNAMIC_BROKER_CONFIG",
                    3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
                    4 => "STATIC_BROKER_CONFIG",
                    5 => "DEFAULT_CONFIG",
                    _ => "OTHER",
                };
                let value = entry.value.as_deref().unwrap_or("null");
                println!("  {}={value} ({source})", entry.name);
            }
        }
        AdminCommand::AlterConfigs { entity, changes } => match entity {
            ConfigEntity::Topic(topic) => {
                admin.alter_topic_configs(&topic, &changes).await?;
                println!("Completed updating config for topic {topic}.");
            }
            ConfigEntity::Broker(id) => {
                admin.alter_broker_configs(Some(id), &changes).await?;
                println!("Completed updating config for broker {id}.");
            }
            ConfigEntity::BrokerDefault => {
                admin.alter_broker_configs(None, &changes).await?;
                println!("Completed updating default config for brokers in the cluster.");
            }
        },
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
            Ok(AdminCommand::DescribeConfigs {
                entity: ConfigEntity::Topic("t".into())
            })
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
                entity: ConfigEntity::Topic("t".into()),
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
    fn broker_entities_parse_as_kafka_configs_names_them() {
        let entity = |args: &[&str]| match parse(args) {
            Ok(AdminCommand::DescribeConfigs { entity }) => entity,
            other => panic!("{other:?}"),
        };
        let one = ["configs", "--describe", "--entity-type", "brokers"];
        assert_eq!(
            entity(&[&one[..], &["--entity-name", "2"]].concat()),
            ConfigEntity::Broker(2)
        );
        assert_eq!(
            entity(&[&one[..], &["--entity-default"]].concat()),
            ConfigEntity::BrokerDefault
        );
        assert_eq!(
            entity(&["configs", "--describe", "--broker", "3"]),
            ConfigEntity::Broker(3)
        );
        assert_eq!(
            entity(&["configs", "--describe", "--broker-defaults"]),
            ConfigEntity::BrokerDefault
        );
        assert_eq!(
            parse(&[
                "configs",
                "--alter",
                "--broker-defaults",
                "--add-config",
                "log.retention.ms=60000"
            ]),
            Ok(AdminCommand::AlterConfigs {
                entity: ConfigEntity::BrokerDefault,
                changes: vec![("log.retention.ms".into(), Some("60000".into()))],
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(
            error(&["configs", "--describe"]),
            "a topic or broker is needed: --topic T, --broker N or --broker-defaults"
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
            "users",
            "--entity-name",
            "1"
        ])
        .contains("only topics and brokers"));
        assert!(error(&["configs", "--describe", "--broker", "one"]).contains("by its id"));
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
