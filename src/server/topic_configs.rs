//! Topic configs altered at run time (AlterConfigs, IncrementalAlterConfigs) are persisted
//! in `__cluster/topic-configs`, so a restarted broker runs every topic with the configs it
//! last had, whether the topic came from the static cluster map or from CreateTopics. One
//! line per altered topic, `name<TAB>configs`, the configs as `k=v` separated by `,`, each
//! key and value percent-encoded (`%`, `,`, `=`, tab and newline), since a value such as
//! `cleanup.policy=compact,delete` may hold a comma. A line holds the topic's complete set of
//! overrides, which replaces the one it started with. Written with write-temp, fsync, rename,
//! fsync-dir, so a crash leaves the old file or the new one.

use std::collections::BTreeMap;

use crate::env::Disk;

const DIR: &str = "__cluster";
const FILE: &str = "__cluster/topic-configs";
const TEMP: &str = "__cluster/topic-configs.tmp";

/// Per altered topic, its complete set of overrides.
pub type Overrides = BTreeMap<String, BTreeMap<String, String>>;

/// Without a controller, the dynamic broker configs (AlterConfigs on a BROKER resource), in
/// the same format: one line for the cluster-wide default (name "") and one for this broker
/// (its id).
const BROKER_FILE: &str = "__cluster/broker-configs";
const BROKER_TEMP: &str = "__cluster/broker-configs.tmp";

/// The overrides persisted so far (none if the file does not exist).
pub fn load(disk: &dyn Disk) -> anyhow::Result<Overrides> {
    load_file(disk, FILE)
}

/// Replace the persisted overrides.
pub fn persist(disk: &dyn Disk, overrides: &Overrides) -> std::io::Result<()> {
    persist_file(disk, overrides, FILE, TEMP)
}

/// The dynamic broker configs persisted so far, by resource name.
pub fn load_broker(disk: &dyn Disk) -> anyhow::Result<Overrides> {
    load_file(disk, BROKER_FILE)
}

/// Replace the persisted dynamic broker configs.
pub fn persist_broker(disk: &dyn Disk, configs: &Overrides) -> std::io::Result<()> {
    persist_file(disk, configs, BROKER_FILE, BROKER_TEMP)
}

fn load_file(disk: &dyn Disk, file: &str) -> anyhow::Result<Overrides> {
    if !disk.exists(file) {
        return Ok(Overrides::new());
    }
    let text = String::from_utf8(disk.read_all(file)?)?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

fn persist_file(
    disk: &dyn Disk,
    overrides: &Overrides,
    file: &str,
    temp: &str,
) -> std::io::Result<()> {
    let text: String = overrides
        .iter()
        .map(|(name, configs)| format_line(name, configs))
        .collect();
    crate::env::create_dir_durable(disk, DIR)?;
    disk.write_file(temp, text.as_bytes())?;
    disk.fsync(temp)?;
    disk.rename(temp, file)?;
    disk.fsync_dir(DIR)
}

fn format_line(name: &str, configs: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = configs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{}\t{}\n", encode(name), pairs.join(","))
}

fn parse_line(line: &str) -> anyhow::Result<(String, BTreeMap<String, String>)> {
    let (name, configs) = line
        .split_once('\t')
        .ok_or_else(|| anyhow::anyhow!("malformed topic-configs line {line:?}"))?;
    let mut map = BTreeMap::new();
    for pair in configs.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("malformed config {pair:?}"))?;
        map.insert(decode(k)?, decode(v)?);
    }
    Ok((decode(name)?, map))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | ',' | '=' | '\t' | '\n' | '\r' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .ok_or_else(|| anyhow::anyhow!("truncated escape in {text:?}"))?;
            out.push(u8::from_str_radix(hex, 16)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    #[test]
    fn overrides_round_trip_with_awkward_values() {
        let disk = MemDisk::new();
        assert!(load(&disk).unwrap().is_empty());
        let mut overrides = Overrides::new();
        overrides.insert(
            "t".into(),
            [
                ("cleanup.policy".to_string(), "compact,delete".to_string()),
                ("retention.ms".to_string(), "100%=\t".to_string()),
            ]
            .into(),
        );
        overrides.insert("empty".into(), BTreeMap::new());
        persist(&disk, &overrides).unwrap();
        assert_eq!(load(&disk).unwrap(), overrides);
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_panic() {
        for text in ["no-tab", "t\tk", "t\tk=%4", "t\tk=%zz", "t\tk=%FF"] {
            assert!(parse_line(text).is_err(), "{text:?}");
        }
    }
}
