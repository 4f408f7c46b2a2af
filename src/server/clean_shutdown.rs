//! The clean-shutdown marker, Kafka's `.kafka_cleanshutdown`: written last by a clean shutdown
//! (after every log is flushed and closed), read and removed first at the next start.
//!
//! Its content, `{"version":0,"broker_epoch":N}` as Kafka writes it, names the broker epoch the
//! process shut down in. The next registration reports it as `previous_broker_epoch`
//! (BrokerRegistration v3, KIP-966): a controller that finds it equal to the epoch it last
//! registered knows the logs lost nothing, and keeps the broker in the eligible leader
//! replicas. Without the marker (a kill, a power loss, a shutdown that did not finish) the
//! previous epoch is -1 and the restart is unclean.

use std::io;

use crate::env::Disk;

/// The marker's path in the log directory.
pub const FILE_NAME: &str = ".kafka_cleanshutdown";

/// Write the marker durably: the file, then its directory entry.
pub fn write(disk: &dyn Disk, broker_epoch: i64) -> io::Result<()> {
    let text = format!("{{\"version\":0,\"broker_epoch\":{broker_epoch}}}");
    disk.write_file(FILE_NAME, text.as_bytes())?;
    disk.fsync(FILE_NAME)?;
    disk.fsync_dir("")
}

/// The broker epoch of the previous clean shutdown, if the marker is there, and remove it
/// durably before anything else is written: a crash from here on is an unclean shutdown
/// again. An unreadable marker counts as none (the safe answer).
pub fn take(disk: &dyn Disk) -> io::Result<Option<i64>> {
    if !disk.exists(FILE_NAME) {
        return Ok(None);
    }
    let epoch = disk
        .read_all(FILE_NAME)
        .ok()
        .and_then(|bytes| parse(&String::from_utf8_lossy(&bytes)));
    disk.remove(FILE_NAME)?;
    disk.fsync_dir("")?;
    Ok(epoch)
}

/// The `broker_epoch` of a marker's JSON object, if it has a non-negative one.
fn parse(text: &str) -> Option<i64> {
    let (_, rest) = text.split_once("\"broker_epoch\"")?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MemDisk;

    #[test]
    fn a_written_marker_is_read_once_then_gone() {
        let disk = MemDisk::new();
        assert_eq!(take(&disk).unwrap(), None);
        write(&disk, 7).unwrap();
        assert_eq!(
            String::from_utf8(disk.read_all(FILE_NAME).unwrap()).unwrap(),
            r#"{"version":0,"broker_epoch":7}"#
        );
        assert_eq!(take(&disk).unwrap(), Some(7));
        assert!(!disk.exists(FILE_NAME));
        assert_eq!(take(&disk).unwrap(), None);
    }

    #[test]
    fn a_garbled_marker_counts_as_none_and_is_removed() {
        for text in [
            "",
            "{",
            r#"{"version":0}"#,
            r#"{"broker_epoch":-3}"#,
            "\u{0}\u{0}",
        ] {
            let disk = MemDisk::new();
            disk.write_file(FILE_NAME, text.as_bytes()).unwrap();
            assert_eq!(take(&disk).unwrap(), None, "{text:?}");
            assert!(!disk.exists(FILE_NAME));
        }
        assert_eq!(parse(r#"{ "version" : 0, "broker_epoch" : 12 }"#), Some(12));
    }
}
