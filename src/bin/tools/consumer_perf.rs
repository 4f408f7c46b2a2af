//! `consumer-perf-test`: Kafka's `kafka-consumer-perf-test` on kafkasim's own consumer.
//!
//! Assigns every partition of `--topic`, reads from the beginning until `--messages` records
//! were read or no record came for `--timeout`, and prints Kafka's columns. There is no group
//! (the partitions are assigned, not subscribed), so `rebalance.time.ms` is 0 and the fetch
//! time is the whole time, as Kafka computes it (total minus the group join).

use std::time::Duration;

/// Kafka's header line.
pub const HEADER: &str = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";

const MB: f64 = 1024.0 * 1024.0;

/// What one run read.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed {
    /// Wall-clock start and end, milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Sum of the keys' and values' lengths, as Kafka counts.
    pub bytes: u64,
    pub messages: u64,
    /// Time spent joining a group; 0 with assigned partitions.
    pub rebalance: Duration,
}

/// Kafka's data line for `consumed`.
pub fn line(consumed: &Consumed) -> String {
    let elapsed_s = ((consumed.end_ms - consumed.start_ms).max(1) as f64) / 1000.0;
    let mb = consumed.bytes as f64 / MB;
    let rebalance_ms = consumed.rebalance.as_millis() as i64;
    let fetch_ms = (consumed.end_ms - consumed.start_ms - rebalance_ms).max(1);
    let fetch_s = fetch_ms as f64 / 1000.0;
    format!(
        "{}, {}, {mb:.4}, {:.4}, {}, {:.4}, {rebalance_ms}, {fetch_ms}, {:.4}, {:.4}",
        format_time(consumed.start_ms),
        format_time(consumed.end_ms),
        mb / elapsed_s,
        consumed.messages,
        consumed.messages as f64 / elapsed_s,
        mb / fetch_s,
        consumed.messages as f64 / fetch_s,
    )
}

/// `yyyy-MM-dd HH:mm:ss:SSS` in UTC, Kafka's date format for these columns.
pub fn format_time(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(86_400_000);
    let ms_of_day = epoch_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{:03}",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// Howard Hinnant's days-since-1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(not(madsim))]
pub async fn run(args: crate::perf_args::ConsumerPerfArgs) -> anyhow::Result<()> {
    use kafkasim::client::{Consumer, ConsumerConfig, OffsetReset};
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    /// Kafka's tool polls with this timeout.
    const POLL: Duration = Duration::from_millis(100);
    let wall_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
    };

    let mut config = ConsumerConfig::new(crate::producer_perf::resolve(&args.bootstrap)?);
    config.client_id = "perf-consumer-client".into();
    config.auto_offset_reset = OffsetReset::Earliest;
    let mut consumer = Consumer::new(config);
    let start_ms = wall_ms();
    let partitions = consumer.partitions_for(&args.topic).await?;
    anyhow::ensure!(partitions > 0, "unknown topic {}", args.topic);
    consumer.assign(
        &(0..partitions as i32)
            .map(|p| (args.topic.clone(), p))
            .collect::<Vec<_>>(),
    );
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    while messages < args.messages && last_record.elapsed() <= args.timeout {
        let records = consumer.poll(POLL).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for record in records {
            messages += 1;
            bytes += record.key.map_or(0, |k| k.len()) as u64;
            bytes += record.value.map_or(0, |v| v.len()) as u64;
        }
    }
    let end_ms = wall_ms();
    if messages < args.messages {
        eprintln!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.",
            args.timeout.as_millis()
        );
    }
    if !args.hide_header {
        println!("{HEADER}");
    }
    println!(
        "{}",
        line(&Consumed {
            start_ms,
            end_ms,
            bytes,
            messages,
            rebalance: Duration::ZERO,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_kafkas_format_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00:000");
        // 2024-02-29 (a leap day) 13:05:09.007 UTC.
        assert_eq!(format_time(1_709_211_909_007), "2024-02-29 13:05:09:007");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00:000");
    }

    #[test]
    fn the_line_has_kafkas_columns() {
        let consumed = Consumed {
            start_ms: 0,
            end_ms: 2000,
            bytes: 20 * 1024 * 1024,
            messages: 200_000,
            rebalance: Duration::ZERO,
        };
        assert_eq!(
            line(&consumed),
            "1970-01-01 00:00:00:000, 1970-01-01 00:00:02:000, 20.0000, 10.0000, 200000, 100000.0000, 0, 2000, 10.0000, 100000.0000"
        );
        assert_eq!(
            HEADER.split(", ").count(),
            line(&consumed).split(", ").count()
        );
    }
}
