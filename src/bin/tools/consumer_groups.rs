//! `consumer-groups`, in the spirit of kafka-consumer-groups, on kafkasim's own admin client.
//!
//! ```text
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consumer-groups --list
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consumer-groups --describe --group g
//! kafkasim-tools --bootstrap 127.0.0.1:9092 consumer-groups --reset-offsets --group g \
//!     --topic t --to-earliest --execute
//! ```
//!
//! `--describe` prints, per partition the group committed for or has assigned, its current
//! (committed) offset, the log end offset, the lag between them and the member that owns it.
//! `--reset-offsets` commits new offsets for the group as an outsider, which Kafka allows only
//! while the group has no members: the tool refuses a group in any other state, as Kafka's
//! does, and the coordinator would refuse the commit anyway. Without `--execute` it only
//! prints the plan (Kafka's `--dry-run`). `--to-offset` is clamped to the partition's log
//! start and end offsets, as Kafka clamps it.

pub const USAGE: &str = "usage: kafkasim-tools --bootstrap HOST:PORT consumer-groups (--list | --describe --group G | --reset-offsets --group G (--topic T | --all-topics) (--to-earliest | --to-latest | --to-offset N) [--dry-run | --execute])";

/// Where `--reset-offsets` moves the offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(i64),
}

/// One consumer-groups command.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupsCommand {
    List,
    Describe {
        group: String,
    },
    Reset {
        group: String,
        /// `None`: every topic the group committed offsets for (`--all-topics`).
        topic: Option<String>,
        to: ResetTo,
        execute: bool,
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

/// `args` starts with `consumer-groups`.
pub fn parse(args: &[&str]) -> Result<GroupsCommand, String> {
    let tail = &args[1..];
    let group = || -> Result<String, String> {
        value(tail, "--group")?
            .map(str::to_string)
            .ok_or("--describe and --reset-offsets need --group G".into())
    };
    if tail.contains(&"--list") {
        return Ok(GroupsCommand::List);
    }
    if tail.contains(&"--describe") {
        return Ok(GroupsCommand::Describe { group: group()? });
    }
    if !tail.contains(&"--reset-offsets") {
        return Err("consumer-groups needs --list, --describe or --reset-offsets".into());
    }
    let topic = match (value(tail, "--topic")?, tail.contains(&"--all-topics")) {
        (Some(topic), false) => Some(topic.to_string()),
        (None, true) => None,
        _ => return Err("--reset-offsets needs one of --topic T and --all-topics".into()),
    };
    let to_offset = value(tail, "--to-offset")?
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("--to-offset: expected a number, got {v}"))
        })
        .transpose()?;
    let to = match (
        tail.contains(&"--to-earliest"),
        tail.contains(&"--to-latest"),
        to_offset,
    ) {
        (true, false, None) => ResetTo::Earliest,
        (false, true, None) => ResetTo::Latest,
        (false, false, Some(offset)) => ResetTo::Offset(offset),
        _ => {
            return Err(
                "--reset-offsets needs one of --to-earliest, --to-latest and --to-offset N".into(),
            )
        }
    };
    if tail.contains(&"--execute") && tail.contains(&"--dry-run") {
        return Err("--execute and --dry-run exclude each other".into());
    }
    Ok(GroupsCommand::Reset {
        group: group()?,
        topic,
        to,
        execute: tail.contains(&"--execute"),
    })
}

/// The new offset of one partition: `to`, clamped to `[log_start, log_end]`.
pub fn reset_offset(to: ResetTo, log_start: i64, log_end: i64) -> i64 {
    match to {
        ResetTo::Earliest => log_start,
        ResetTo::Latest => log_end,
        ResetTo::Offset(offset) => offset.clamp(log_start, log_end),
    }
}

/// Lines of a table whose columns are as wide as their widest cell plus a space, as
/// kafka-consumer-groups prints them.
fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            cells.join(" ").trim_end().to_string()
        })
        .collect()
}

#[cfg(not(madsim))]
pub async fn run(bootstrap: std::net::SocketAddr, command: GroupsCommand) -> anyhow::Result<()> {
    use kafkasim::client::Admin;
    let mut admin = Admin::new(vec![bootstrap], std::time::Duration::from_secs(30));
    match command {
        GroupsCommand::List => {
            for group in admin.list_groups().await? {
                println!("{}", group.group_id);
            }
        }
        GroupsCommand::Describe { group } => describe(&mut admin, &group).await?,
        GroupsCommand::Reset {
            group,
            topic,
            to,
            execute,
        } => reset(&mut admin, &group, topic, to, execute).await?,
    }
    Ok(())
}

/// Per partition the group committed for or has assigned: the committed offset, the log end
/// offset, the lag, and the member owning it ("-" where there is none).
#[cfg(not(madsim))]
async fn describe(admin: &mut kafkasim::client::Admin, group: &str) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    let description = admin.describe_group(group).await?;
    anyhow::ensure!(
        description.state != "Dead",
        "Consumer group '{group}' does not exist."
    );
    let committed = admin.fetch_committed_offsets(group, None).await?;
    let mut owners: BTreeMap<(String, i32), &kafkasim::client::MemberDescription> = BTreeMap::new();
    for member in &description.members {
        for partition in &member.assignment {
            owners.insert(partition.clone(), member);
        }
    }
    let mut partitions: Vec<(String, i32)> =
        committed.keys().chain(owners.keys()).cloned().collect();
    partitions.sort();
    partitions.dedup();
    let mut log_ends: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (topic, _) in &partitions {
        if !log_ends.contains_key(topic) {
            log_ends.insert(topic.clone(), admin.list_offsets(topic, -1).await?);
        }
    }
    if description.members.is_empty() {
        println!("\nConsumer group '{group}' has no active members.");
    }
    let mut rows = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    .map(String::from)
    .to_vec()];
    let dash = || "-".to_string();
    for key in &partitions {
        let current = committed.get(key).copied();
        let log_end = log_ends[&key.0].get(key.1 as usize).copied();
        let lag = current.zip(log_end).map(|(c, e)| (e - c).max(0));
        let owner = owners.get(key);
        rows.push(vec![
            group.to_string(),
            key.0.clone(),
            key.1.to_string(),
            current.map_or_else(dash, |c| c.to_string()),
            log_end.map_or_else(dash, |e| e.to_string()),
            lag.map_or_else(dash, |l| l.to_string()),
            owner.map_or_else(dash, |m| m.member_id.clone()),
            owner.map_or_else(dash, |m| m.client_host.clone()),
            owner.map_or_else(dash, |m| m.client_id.clone()),
        ]);
    }
    println!();
    for line in table(&rows) {
        println!("{line}");
    }
    Ok(())
}

/// Commit the new offsets of the group's partitions of `topic` (or of every topic it
/// committed for), after checking the group has no members.
#[cfg(not(madsim))]
async fn reset(
    admin: &mut kafkasim::client::Admin,
    group: &str,
    topic: Option<String>,
    to: ResetTo,
    execute: bool,
) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    let description = admin.describe_group(group).await?;
    anyhow::ensure!(
        description.state == "Empty" || description.state == "Dead",
        "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
        description.state
    );
    let topics: Vec<String> = match topic {
        Some(topic) => vec![topic],
        None => {
            let mut topics: Vec<String> = admin
                .fetch_committed_offsets(group, None)
                .await?
                .into_keys()
                .map(|(topic, _)| topic)
                .collect();
            topics.dedup();
            topics
        }
    };
    let mut offsets = BTreeMap::new();
    for topic in &topics {
        let starts = admin.list_offsets(topic, -2).await?;
        let ends = admin.list_offsets(topic, -1).await?;
        for (partition, (start, end)) in starts.iter().zip(&ends).enumerate() {
            offsets.insert(
                (topic.clone(), partition as i32),
                reset_offset(to, *start, *end),
            );
        }
    }
    if execute {
        admin.commit_offsets(group, &offsets).await?;
    } else {
        eprintln!("WARN: No action will be performed as the --execute option is missing.");
    }
    let mut rows = vec![["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
        .map(String::from)
        .to_vec()];
    for ((topic, partition), offset) in &offsets {
        rows.push(vec![
            group.to_string(),
            topic.clone(),
            partition.to_string(),
            offset.to_string(),
        ]);
    }
    println!();
    for line in table(&rows) {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_as_kafka_consumer_groups_names_them() {
        assert_eq!(
            parse(&["consumer-groups", "--list"]),
            Ok(GroupsCommand::List)
        );
        assert_eq!(
            parse(&["consumer-groups", "--describe", "--group", "g"]),
            Ok(GroupsCommand::Describe { group: "g".into() })
        );
        assert_eq!(
            parse(&[
                "consumer-groups",
                "--reset-offsets",
                "--group",
                "g",
                "--topic",
                "t",
                "--to-offset",
                "5",
                "--execute"
            ]),
            Ok(GroupsCommand::Reset {
                group: "g".into(),
                topic: Some("t".into()),
                to: ResetTo::Offset(5),
                execute: true
            })
        );
        assert_eq!(
            parse(&[
                "consumer-groups",
                "--reset-offsets",
                "--group",
                "g",
                "--all-topics",
                "--to-earliest"
            ]),
            Ok(GroupsCommand::Reset {
                group: "g".into(),
                topic: None,
                to: ResetTo::Earliest,
                execute: false
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = |args: &[&str]| parse(args).unwrap_err();
        assert!(error(&["consumer-groups"]).contains("--list"));
        assert!(error(&["consumer-groups", "--describe"]).contains("--group"));
        let reset = ["consumer-groups", "--reset-offsets", "--group", "g"];
        assert!(error(&[&reset[..], &["--to-latest"]].concat()).contains("--all-topics"));
        assert!(error(&[&reset[..], &["--topic", "t"]].concat()).contains("--to-earliest"));
        assert!(error(
            &[
                &reset[..],
                &["--topic", "t", "--to-earliest", "--to-latest"]
            ]
            .concat()
        )
        .contains("one of"));
        assert!(
            error(&[&reset[..], &["--topic", "t", "--to-offset", "x"]].concat())
                .contains("expected a number")
        );
    }

    #[test]
    fn a_reset_stays_within_the_log() {
        assert_eq!(reset_offset(ResetTo::Earliest, 3, 10), 3);
        assert_eq!(reset_offset(ResetTo::Latest, 3, 10), 10);
        assert_eq!(reset_offset(ResetTo::Offset(5), 3, 10), 5);
        assert_eq!(reset_offset(ResetTo::Offset(0), 3, 10), 3);
        assert_eq!(reset_offset(ResetTo::Offset(99), 3, 10), 10);
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["GROUP".to_string(), "LAG".to_string()],
            vec!["a-long-group".to_string(), "10".to_string()],
        ];
        assert_eq!(table(&rows), vec!["GROUP        LAG", "a-long-group 10"]);
    }
}
