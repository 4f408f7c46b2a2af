//! Topics created at run time are persisted in `__cluster/topics` so a restarted broker
//! still knows them: one line per topic, `name<TAB>replicas<TAB>configs`, replicas as
//! `1,2;2,3` (partitions separated by `;`), configs as `k=v` separated by `,`. Written with
//! write-temp, fsync, rename, fsync-dir, so a crash leaves the old file or the new one.

use std::collections::BTreeMap;

use super::config::TopicAssignment;
use crate::env::Disk;

const DIR: &str = "__cluster";
const FILE: &str = "__cluster/topics";
const TEMP: &str = "__cluster/topics.tmp";

/// Topics persisted by earlier CreateTopics calls.
pub fn load_persisted(disk: &dyn Disk) -> anyhow::Result<Vec<TopicAssignment>> {
    if !disk.exists(FILE) {
        return Ok(Vec::new());
    }
    let text = String::from_utf8(disk.read_all(FILE)?)?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

/// Replace the persisted topic list.
pub fn persist(disk: &dyn Disk, topics: &[TopicAssignment]) -> std::io::Result<()> {
    let text: String = topics.iter().map(format_line).collect();
    crate::env::create_dir_durable(disk, DIR)?;
    disk.write_file(TEMP, text.as_bytes())?;
    disk.fsync(TEMP)?;
    disk.rename(TEMP, FILE)?;
    disk.fsync_dir(DIR)
}

fn format_line(topic: &TopicAssignment) -> String {
    let replicas: Vec<String> = topic
        .replicas
        .iter()
        .map(|r| {
            r.iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let configs: Vec<String> = topic
        .configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}\t{}\t{}\n",
        topic.name,
        replicas.join(";"),
        configs.join(",")
    )
}

fn parse_line(line: &str) -> anyhow::Result<TopicAssignment> {
    let mut fields = line.split('\t');
    let (Some(name), Some(replicas), configs) =
        (fields.next(), fields.next(), fields.next().unwrap_or(""))
    else {
        anyhow::bail!("malformed topics line {line:?}");
    };
    let replicas = replicas
        .split(';')
        .map(|p| {
            p.split(',')
                .map(|id| id.parse::<i32>())
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config_map = BTreeMap::new();
    for pair in configs.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("malformed config {pair:?}"))?;
        config_map.insert(k.to_string(), v.to_string());
    }
    Ok(TopicAssignment {
        name: name.to_string(),
        replicas,
        configs: config_map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    #[test]
    fn topics_round_trip() {
        let disk = MemDisk::new();
        let topics = vec![
            TopicAssignment {
                name: "a".into(),
                replicas: vec![vec![1], vec![2, 1]],
                configs: BTreeMap::new(),
            },
            TopicAssignment {
                name: "b".into(),
                replicas: vec![vec![1]],
                configs: [("flush.messages".to_string(), "1".to_string())].into(),
            },
        ];
        persist(&disk, &topics).unwrap();
        assert_eq!(load_persisted(&disk).unwrap(), topics);
    }
}
