//! Kafka's checkpoint text files, written atomically through the [`Disk`] seam.
//!
//! Format (Kafka's `CheckpointFile`): line 1 is the version (`0`), line 2 the number of
//! entries, then one entry per line with fields separated by a space. Used by
//! `leader-epoch-checkpoint` (`epoch start_offset`) and `replication-offset-checkpoint`
//! (`topic partition high_watermark`).
//!
//! A write is atomic and durable once it returns: the text goes to `<path>.tmp`, which is
//! fsynced, renamed over `<path>`, and the directory is fsynced so the rename survives a crash.
//! A crash before the rename leaves the previous checkpoint in place. A missing file reads as
//! no entries (Kafka creates an empty checkpoint on first use); a malformed one is an error
//! naming the file, the line and what was expected.

use std::collections::BTreeMap;
use std::io;

use crate::env::Disk;

/// The only checkpoint format version Kafka has written for these files.
pub const CHECKPOINT_VERSION: i32 = 0;

/// Bound on the entries a checkpoint may declare, so a corrupt count cannot make a reader
/// reserve unbounded memory. Far above any real partition count or epoch history.
pub const CHECKPOINT_ENTRIES_MAX: usize = 1 << 20;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The disk failed; for a write this means the log directory must go offline.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file exists but is not a checkpoint this broker can read.
    #[error("checkpoint {path} line {line}: expected {expected}, found {found:?}")]
    Malformed {
        /// The checkpoint file.
        path: String,
        /// 1-based line number of the offending line (the line after the last one when the
        /// file ends early).
        line: usize,
        /// What the reader expected at that line.
        expected: String,
        /// What it found instead.
        found: String,
    },
}

/// One entry line of a checkpoint: its 1-based line number (for errors) and its fields.
#[derive(Debug)]
pub(crate) struct EntryLine<'a> {
    /// Where the line is, so a parse error can point at it.
    pub(crate) line: usize,
    /// The space-separated fields, exactly as many as the caller asked for.
    pub(crate) fields: Vec<&'a str>,
}

/// Render `entries` (one string per entry line, without newline) as a checkpoint and replace
/// `path` with it atomically and durably.
pub(crate) fn write_checkpoint(
    disk: &dyn Disk,
    path: &str,
    entries: &[String],
) -> Result<(), CheckpointError> {
    assert!(
        entries.len() <= CHECKPOINT_ENTRIES_MAX,
        "checkpoint {path}: {} entries exceed the bound {CHECKPOINT_ENTRIES_MAX}",
        entries.len()
    );
    let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", entries.len());
    for entry in entries {
        assert!(
            !entry.contains('\n'),
            "checkpoint entry spans lines: {entry:?}"
        );
        text.push_str(entry);
        text.push('\n');
    }
    let tmp = format!("{path}.tmp");
    let io_error = |source| CheckpointError::Io {
        path: path.to_string(),
        source,
    };
    disk.write_file(&tmp, text.as_bytes()).map_err(io_error)?;
    disk.fsync(&tmp).map_err(io_error)?;
    disk.rename(&tmp, path).map_err(io_error)?;
    disk.fsync_dir(parent_of(path)).map_err(io_error)
}

/// Read the checkpoint at `path` as its text; `None` if the file does not exist.
pub(crate) fn read_checkpoint_text(
    disk: &dyn Disk,
    path: &str,
) -> Result<Option<String>, CheckpointError> {
    if !disk.exists(path) {
        return Ok(None);
    }
    let bytes = disk.read_all(path).map_err(|source| CheckpointError::Io {
        path: path.to_string(),
        source,
    })?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| CheckpointError::Malformed {
            path: path.to_string(),
            line: 1,
            expected: "UTF-8 text".to_string(),
            found: "invalid UTF-8".to_string(),
        })
}

/// Split a checkpoint's text into its entry lines, checking the version, the declared count
/// and that each entry has exactly `fields_per_entry` fields (`entry_shape` names them for
/// errors). An empty file has no entries, as in Kafka.
pub(crate) fn parse_checkpoint<'a>(
    path: &str,
    text: &'a str,
    fields_per_entry: usize,
    entry_shape: &str,
) -> Result<Vec<EntryLine<'a>>, CheckpointError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    let Some((_, version_line)) = lines.next() else {
        return Ok(Vec::new());
    };
    let version: i32 = parse_field(path, 1, version_line, "version 0")?;
    if version != CHECKPOINT_VERSION {
        return Err(malformed(path, 1, "version 0", version_line));
    }
    let count_line = lines.next().map(|(_, line)| line).unwrap_or("end of file");
    let count: usize = parse_field(path, 2, count_line, "the number of entries")?;
    if count > CHECKPOINT_ENTRIES_MAX {
        return Err(malformed(
            path,
            2,
            "a plausible number of entries",
            count_line,
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for (line, text) in lines {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != fields_per_entry || entries.len() == count {
            let expected = if entries.len() == count {
                format!("end of file after {count} entries")
            } else {
                format!("an entry `{entry_shape}`")
            };
            return Err(malformed(path, line, &expected, text));
        }
        entries.push(EntryLine { line, fields });
    }
    if entries.len() != count {
        let line = entries.last().map_or(3, |entry| entry.line + 1);
        let expected = format!("{count} entries");
        return Err(malformed(path, line, &expected, "end of file"));
    }
    Ok(entries)
}

/// Parse one field, or say which line held what instead of `expected`.
pub(crate) fn parse_field<T: std::str::FromStr>(
    path: &str,
    line: usize,
    field: &str,
    expected: &str,
) -> Result<T, CheckpointError> {
    field
        .trim()
        .parse()
        .map_err(|_| malformed(path, line, expected, field))
}

/// A [`CheckpointError::Malformed`] for `path` at `line`.
pub(crate) fn malformed(path: &str, line: usize, expected: &str, found: &str) -> CheckpointError {
    CheckpointError::Malformed {
        path: path.to_string(),
        line,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/')
        .map(|(parent, _)| parent)
        .unwrap_or("")
}

/// The high-watermark checkpoint (`replication-offset-checkpoint`, one per log directory):
/// the last high watermark this broker persisted for each partition it hosts.
///
/// Under the high-watermark truncation rule (Kafka 0.10) a restarting follower truncates to
/// the offset read from here, which is what loses acknowledged writes in KIP-101 scenario 1.
pub struct HighWatermarkCheckpoint;

impl HighWatermarkCheckpoint {
    /// The file name Kafka uses in each log directory.
    pub const FILE_NAME: &'static str = "replication-offset-checkpoint";

    /// Read the checkpoint: high watermark by (topic, partition). A missing file is empty.
    pub fn read(
        disk: &dyn Disk,
        path: &str,
    ) -> Result<BTreeMap<(String, i32), i64>, CheckpointError> {
        let Some(text) = read_checkpoint_text(disk, path)? else {
            return Ok(BTreeMap::new());
        };
        let shape = "topic partition offset";
        let mut high_watermarks = BTreeMap::new();
        for entry in parse_checkpoint(path, &text, 3, shape)? {
            let line = entry.line;
            let topic = entry.fields[0].to_string();
            let partition: i32 = parse_field(path, line, entry.fields[1], "a partition number")?;
            let offset: i64 = parse_field(path, line, entry.fields[2], "a high watermark")?;
            if partition < 0 || offset < 0 {
                return Err(malformed(
                    path,
                    line,
                    "non-negative partition and offset",
                    entry.fields.join(" ").as_str(),
                ));
            }
            if high_watermarks.insert((topic, partition), offset).is_some() {
                return Err(malformed(
                    path,
                    line,
                    "each partition once",
                    entry.fields.join(" ").as_str(),
                ));
            }
        }
        Ok(high_watermarks)
    }

    /// Replace the checkpoint with `high_watermarks`, atomically and durably.
    pub fn write(
        disk: &dyn Disk,
        path: &str,
        high_watermarks: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), CheckpointError> {
        let entries: Vec<String> = high_watermarks
            .iter()
            .map(|((topic, partition), offset)| {
                // Kafka topic names are [a-zA-Z0-9._-]+, so a space can only come from a bug.
                assert!(
                    !topic.is_empty() && !topic.contains(char::is_whitespace),
                    "topic name {topic:?} cannot be checkpointed"
                );
                assert!(
                    *partition >= 0 && *offset >= 0,
                    "{topic}-{partition}: high watermark {offset}"
                );
                format!("{topic} {partition} {offset}")
            })
            .collect();
        write_checkpoint(disk, path, &entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    fn sample() -> BTreeMap<(String, i32), i64> {
        BTreeMap::from([
            (("orders".to_string(), 0), 42),
            (("orders".to_string(), 1), 0),
            (("__consumer_offsets".to_string(), 7), 9),
        ])
    }

    #[test]
    fn high_watermark_checkpoint_round_trips_in_kafka_format() {
        let disk = MemDisk::new();
        let path = "data/replication-offset-checkpoint";
        HighWatermarkCheckpoint::write(&disk, path, &sample()).unwrap();
        let text = String::from_utf8(disk.read_all(path).unwrap()).unwrap();
        assert_eq!(
            text,
            "0\n3\n__consumer_offsets 7 9\norders 0 42\norders 1 0\n"
        );
        assert!(!disk.exists("data/replication-offset-checkpoint.tmp"));
        assert_eq!(
            HighWatermarkCheckpoint::read(&disk, path).unwrap(),
            sample()
        );
    }

    #[test]
    fn missing_or_empty_high_watermark_checkpoint_reads_as_empty() {
        let disk = MemDisk::new();
        assert!(HighWatermarkCheckpoint::read(&disk, "absent")
            .unwrap()
            .is_empty());
        disk.write_file("empty", b"").unwrap();
        assert!(HighWatermarkCheckpoint::read(&disk, "empty")
            .unwrap()
            .is_empty());
    }

    fn malformed_line(text: &str) -> (usize, String) {
        let disk = MemDisk::new();
        disk.write_file("hw", text.as_bytes()).unwrap();
        match HighWatermarkCheckpoint::read(&disk, "hw") {
            Err(CheckpointError::Malformed { line, expected, .. }) => (line, expected),
            other => panic!("{text:?} should be malformed, got {other:?}"),
        }
    }

    #[test]
    fn malformed_high_watermark_checkpoints_name_the_line() {
        assert_eq!(malformed_line("1\n0\n").0, 1, "unknown version");
        assert_eq!(malformed_line("0\n").0, 2, "missing count");
        assert_eq!(
            malformed_line("0\n2\nt 0 5\n"),
            (4, "2 entries".to_string())
        );
        assert_eq!(
            malformed_line("0\n1\nt 0 5\nt 1 6\n").0,
            4,
            "more entries than declared"
        );
        assert_eq!(malformed_line("0\n1\nt 0\n").0, 3, "missing field");
        assert_eq!(
            malformed_line("0\n1\nt x 5\n").0,
            3,
            "partition not a number"
        );
        assert_eq!(malformed_line("0\n1\nt 0 -5\n").0, 3, "negative offset");
        assert_eq!(
            malformed_line("0\n2\nt 0 5\nt 0 6\n").0,
            4,
            "partition twice"
        );
    }
}
