//! The producer perf test's statistics, as Kafka's `ProducerPerformance.Stats` keeps them:
//! every acknowledged record adds its latency (send to acknowledgement) and size to a
//! reporting window and to the totals; a window older than the reporting interval is printed
//! and a new one started; at the end the totals are printed with latency percentiles.
//!
//! Pure: time comes in as the duration since the test started. Latencies are kept in
//! microseconds and printed in milliseconds, the percentiles as whole milliseconds like
//! Kafka's. At most [`LATENCY_SAMPLES_MAX`] latencies are kept for the percentiles (every
//! `sampling`-th record, as Kafka does), so memory stays bounded for long runs.

use std::time::Duration;

/// Kafka keeps at most this many latencies for the percentiles.
pub const LATENCY_SAMPLES_MAX: u64 = 500_000;

const MB: f64 = 1024.0 * 1024.0;

/// Counts over one span of time.
#[derive(Debug, Clone, Default)]
struct Window {
    /// When the span started, since the test's start.
    start: Duration,
    count: u64,
    bytes: u64,
    latency_total_us: u64,
    latency_max_us: u64,
}

impl Window {
    fn add(&mut self, latency_us: u64, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
        self.latency_total_us += latency_us;
        self.latency_max_us = self.latency_max_us.max(latency_us);
    }

    fn records_per_sec(&self, elapsed: Duration) -> f64 {
        self.count as f64 / elapsed.as_secs_f64().max(1e-9)
    }

    fn mb_per_sec(&self, elapsed: Duration) -> f64 {
        self.bytes as f64 / MB / elapsed.as_secs_f64().max(1e-9)
    }

    fn latency_avg_ms(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.latency_total_us as f64 / self.count as f64 / 1000.0
    }

    fn latency_max_ms(&self) -> f64 {
        self.latency_max_us as f64 / 1000.0
    }
}

/// What the producer perf test prints.
#[derive(Debug, Clone)]
pub struct Stats {
    total: Window,
    window: Window,
    reporting_interval: Duration,
    /// Keep the latency of every `sampling`-th record.
    sampling: u64,
    /// Sampled latencies in microseconds.
    latencies_us: Vec<u64>,
}

impl Stats {
    /// Statistics for a test of `records` records printing a window every `reporting_interval`.
    pub fn new(records: u64, reporting_interval: Duration) -> Self {
        let sampling = (records / records.clamp(1, LATENCY_SAMPLES_MAX)).max(1);
        Stats {
            total: Window::default(),
            window: Window::default(),
            reporting_interval,
            sampling,
            latencies_us: Vec::with_capacity((records / sampling + 1) as usize),
        }
    }

    /// One acknowledged record: the `iteration`-th sent, `bytes` long, acknowledged after
    /// `latency`, at `now` since the start. Returns a window line when one is due.
    pub fn record(
        &mut self,
        iteration: u64,
        latency: Duration,
        bytes: u64,
        now: Duration,
    ) -> Option<String> {
        let latency_us = latency.as_micros() as u64;
        self.total.add(latency_us, bytes);
        self.window.add(latency_us, bytes);
        if iteration.is_multiple_of(self.sampling) {
            self.latencies_us.push(latency_us);
        }
        let elapsed = now.saturating_sub(self.window.start);
        if elapsed < self.reporting_interval {
            return None;
        }
        let line = window_line(&self.window, elapsed);
        self.window = Window {
            start: now,
            ..Window::default()
        };
        Some(line)
    }

    /// Kafka's final line, for a test that took `elapsed`.
    pub fn total_line(&mut self, elapsed: Duration) -> String {
        let [p50, p95, p99, p999] =
            percentiles_ms(&mut self.latencies_us, [0.5, 0.95, 0.99, 0.999]);
        format!(
            "{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {p50} ms 50th, {p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th.",
            self.total.count,
            self.total.records_per_sec(elapsed),
            self.total.mb_per_sec(elapsed),
            self.total.latency_avg_ms(),
            self.total.latency_max_ms(),
        )
    }
}

fn window_line(window: &Window, elapsed: Duration) -> String {
    format!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
        window.count,
        window.records_per_sec(elapsed),
        window.mb_per_sec(elapsed),
        window.latency_avg_ms(),
        window.latency_max_ms(),
    )
}

/// Kafka's percentiles: sort, then take the element at `floor(p × n)`, in whole milliseconds
/// (truncated, as Kafka's millisecond latencies are). Zero for an empty set.
pub fn percentiles_ms<const N: usize>(latencies_us: &mut [u64], ps: [f64; N]) -> [u64; N] {
    latencies_us.sort_unstable();
    ps.map(|p| {
        assert!((0.0..1.0).contains(&p), "percentile {p} out of [0, 1)");
        let index = (p * latencies_us.len() as f64) as usize;
        latencies_us.get(index).map_or(0, |us| us / 1000)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand_ms() {
        // 1..=1000 ms, shuffled: floor(0.5 × 1000) = index 500 holds 501 ms.
        let mut latencies: Vec<u64> = (1..=1000u64).rev().map(|ms| ms * 1000).collect();
        latencies.swap(3, 700);
        let got = percentiles_ms(&mut latencies, [0.5, 0.95, 0.99, 0.999]);
        assert_eq!(got, [501, 951, 991, 1000]);
    }

    #[test]
    fn percentiles_truncate_to_whole_ms() {
        let mut latencies = vec![1_999, 250, 3_001];
        assert_eq!(percentiles_ms(&mut latencies, [0.0, 0.5, 0.9]), [0, 1, 3]);
    }

    #[test]
    fn percentiles_of_nothing_are_zero() {
        assert_eq!(percentiles_ms(&mut [], [0.5, 0.99]), [0, 0]);
    }

    #[test]
    fn windows_print_once_per_interval_and_restart() {
        let mut stats = Stats::new(10, Duration::from_secs(5));
        let ms = Duration::from_millis;
        assert_eq!(stats.record(0, ms(2), 100, ms(1000)), None);
        assert_eq!(stats.record(1, ms(4), 100, ms(4000)), None);
        let line = stats
            .record(2, ms(6), 100, ms(5000))
            .expect("a window is due");
        assert_eq!(
            line,
            "3 records sent, 0.6 records/sec (0.00 MB/sec), 4.0 ms avg latency, 6.0 ms max latency."
        );
        // The next window starts at 5 s.
        assert_eq!(stats.record(3, ms(1), 100, ms(9999)), None);
        assert!(stats.record(4, ms(1), 100, ms(10_000)).is_some());
        assert_eq!(stats.total.count, 5);
    }

    #[test]
    fn the_total_line_has_kafkas_shape() {
        let mut stats = Stats::new(4, Duration::from_secs(5));
        for (i, latency_ms) in [10u64, 20, 30, 40].into_iter().enumerate() {
            stats.record(
                i as u64,
                Duration::from_millis(latency_ms),
                1024 * 1024,
                Duration::from_millis(100),
            );
        }
        assert_eq!(
            stats.total_line(Duration::from_secs(2)),
            "4 records sent, 2.000000 records/sec (2.00 MB/sec), 25.00 ms avg latency, 40.00 ms max latency, 30 ms 50th, 40 ms 95th, 40 ms 99th, 40 ms 99.9th."
        );
    }

    #[test]
    fn long_runs_sample_latencies() {
        let records = 3 * LATENCY_SAMPLES_MAX;
        let mut stats = Stats::new(records, Duration::from_secs(3600));
        for i in 0..records {
            stats.record(i, Duration::from_millis(1), 1, Duration::ZERO);
        }
        assert_eq!(stats.latencies_us.len() as u64, LATENCY_SAMPLES_MAX);
        assert_eq!(stats.total.count, records);
    }
}
