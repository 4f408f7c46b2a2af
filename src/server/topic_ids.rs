//! Topic ids (KIP-516): every topic has a non-zero UUID from its creation, which tells it apart
//! from a deleted topic of the same name. With a controller it is the `TopicRecord`'s id; without
//! one the broker picks it when it creates the topic, and the id of a topic of the static cluster
//! map is derived from the cluster id and the topic's name, so every broker of that map agrees
//! on it without talking to the others.
//!
//! Each partition directory keeps its topic's id in `partition.metadata`, as Kafka does:
//! `version: 0\ntopic_id: <id>\n`, the id in Kafka's text form (URL-safe base64 of the 16 bytes,
//! no padding). It is written with write-temp, fsync, rename and an fsync of the directory and
//! its parent, before the creation is answered, so a power loss cannot lose it afterwards.

use std::io;

use crate::env::Disk;

/// The file in each partition directory that holds its topic's id.
pub const FILE_NAME: &str = "partition.metadata";

/// Kafka's reserved ids: the zero id means "no id", and 1 is the metadata topic's
/// (`Uuid.METADATA_TOPIC_ID`); neither may name a user topic.
const RESERVED: [u128; 2] = [0, 1];

/// A fresh topic id from the environment's randomness (madsim's seeded RNG in simulation,
/// the OS's in real mode). Like Kafka's `Uuid.randomUuid`, it is never a reserved id and its
/// text form never starts with `-` (so it cannot be mistaken for a command-line flag).
pub fn generate() -> u128 {
    loop {
        let id = madsim::rand::random::<u128>();
        if !RESERVED.contains(&id) && !to_text(id).starts_with('-') {
            return id;
        }
    }
}

/// The id of a topic of the static cluster map: a 128-bit FNV-1a hash of the cluster id and
/// the name, the same on every broker and in every run. Never reserved.
pub fn derived(cluster_id: &str, name: &str) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET;
    for byte in cluster_id.bytes().chain([0u8]).chain(name.bytes()) {
        hash ^= byte as u128;
        hash = hash.wrapping_mul(PRIME);
    }
    if RESERVED.contains(&hash) {
        hash | 1 << 127
    } else {
        hash
    }
}

/// Kafka's text form of an id: URL-safe base64 of its 16 big-endian bytes, without padding
/// (22 characters).
pub fn to_text(id: u128) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.to_be_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let mut word = [0u8; 3];
        word[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, word[0], word[1], word[2]]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The id in Kafka's text form, or `None` if `text` is not one.
pub fn from_text(text: &str) -> Option<u128> {
    if text.len() != 22 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, c) in text.bytes().enumerate() {
        let digit = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u128;
        if i == 21 {
            // The last symbol carries 2 bits of the id and 4 bits of padding, which must be 0.
            if digit & 0xf != 0 {
                return None;
            }
            value = value << 2 | digit >> 4;
        } else {
            value = value << 6 | digit;
        }
    }
    Some(value)
}

/// The contents of `partition.metadata` for this id.
fn format(id: u128) -> String {
    format!("version: 0\ntopic_id: {}\n", to_text(id))
}

/// The id in the contents of a `partition.metadata` file, or an error saying what is wrong.
fn parse(text: &str) -> Result<u128, String> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("version: 0") => {}
        other => return Err(format!("unsupported version line {other:?}")),
    }
    let id = lines
        .next()
        .and_then(|line| line.trim().strip_prefix("topic_id: "))
        .and_then(from_text)
        .ok_or_else(|| "no valid topic_id line".to_string())?;
    if RESERVED.contains(&id) {
        return Err(format!("reserved topic id {}", to_text(id)));
    }
    Ok(id)
}

/// The topic id persisted in partition directory `dir`, if it holds a readable one. A missing
/// or unreadable file is `None` (with a warning for the latter): the caller then decides the
/// id as for a new partition.
pub fn read(disk: &dyn Disk, dir: &str) -> Option<u128> {
    let path = format!("{dir}/{FILE_NAME}");
    if !disk.exists(&path) {
        return None;
    }
    let parsed = disk
        .read_all(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
        .and_then(|text| parse(&text));
    match parsed {
        Ok(id) => Some(id),
        Err(error) => {
            tracing::warn!(dir, %error, "unreadable {FILE_NAME}");
            None
        }
    }
}

/// Persist `id` as the topic id of partition directory `dir` (which exists), durably.
pub fn write(disk: &dyn Disk, dir: &str, id: u128) -> io::Result<()> {
    assert!(!RESERVED.contains(&id), "writing reserved topic id {id:#x}");
    let path = format!("{dir}/{FILE_NAME}");
    let temp = format!("{path}.tmp");
    disk.write_file(&temp, format(id).as_bytes())?;
    disk.fsync(&temp)?;
    disk.rename(&temp, &path)?;
    disk.fsync_dir(dir)?;
    // The partition directory itself may be new: its entry is durable once the parent is.
    disk.fsync_dir("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    #[test]
    fn text_form_matches_kafka() {
        // Kafka's UuidTest: Uuid(0, 1) is "AAAAAAAAAAAAAAAAAAAAAQ" and the zero id is all 'A's.
        assert_eq!(to_text(1), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(to_text(0), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        assert_eq!(from_text(&to_text(id)), Some(id));
        assert_eq!(from_text(&to_text(u128::MAX)), Some(u128::MAX));
        assert_eq!(from_text("short"), None);
        assert_eq!(from_text("AAAAAAAAAAAAAAAAAAAAA!"), None);
        // Padding bits set in the last symbol.
        assert_eq!(from_text("AAAAAAAAAAAAAAAAAAAAAB"), None);
    }

    #[test]
    fn file_round_trips_and_rejects_garbage() {
        let disk = MemDisk::new();
        disk.create_dir_all("t-0").unwrap();
        assert_eq!(read(&disk, "t-0"), None);
        let id = derived("kafkasim", "t");
        write(&disk, "t-0", id).unwrap();
        assert_eq!(read(&disk, "t-0"), Some(id));
        let text = String::from_utf8(disk.read_all("t-0/partition.metadata").unwrap()).unwrap();
        assert_eq!(text, format!("version: 0\ntopic_id: {}\n", to_text(id)));
        disk.write_file("t-0/partition.metadata", b"version: 1\ntopic_id: x\n")
            .unwrap();
        assert_eq!(read(&disk, "t-0"), None);
        disk.write_file(
            "t-0/partition.metadata",
            b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n",
        )
        .unwrap();
        assert_eq!(read(&disk, "t-0"), None, "the zero id is not an id");
    }

    #[test]
    fn derived_ids_differ_by_name_and_cluster() {
        let a = derived("kafkasim", "a");
        assert_eq!(a, derived("kafkasim", "a"));
        assert_ne!(a, derived("kafkasim", "b"));
        assert_ne!(a, derived("other", "a"));
        assert!(!RESERVED.contains(&a));
    }

    #[test]
    fn generated_ids_are_never_reserved_nor_dash_led() {
        // madsim's RNG lives in its runtime.
        madsim::runtime::Runtime::new().block_on(async {
            let ids: std::collections::BTreeSet<u128> = (0..1000).map(|_| generate()).collect();
            assert_eq!(ids.len(), 1000);
            for id in ids {
                assert!(!RESERVED.contains(&id));
                assert!(!to_text(id).starts_with('-'));
            }
        });
    }
}
