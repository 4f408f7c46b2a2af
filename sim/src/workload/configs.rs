//! Kafka client configs of a `[[workload]]`, Kafka's defaults where the scenario is silent.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::records::Compression;
use kafkasim::client::{ConsumerConfig, OffsetReset, ProducerConfig};

use crate::scenario::configs::{int_or_default, value_or_default, Scope};
use crate::scenario::{ConfigValue, Workload};

fn compression(name: &str) -> Compression {
    match name {
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    }
}

pub(super) fn string_config(workload: &Workload, place: Scope, name: &str) -> String {
    match value_or_default(&workload.config, place, name) {
        ConfigValue::Str(s) => s,
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Bool(b) => b.to_string(),
    }
}

pub(super) fn ms(workload: &Workload, place: Scope, name: &str) -> Duration {
    Duration::from_millis(int_or_default(&workload.config, place, name).max(0) as u64)
}

/// The producer configs of a workload, Kafka defaults where the scenario is silent.
pub fn producer_config(
    workload: &Workload,
    bootstrap: Vec<SocketAddr>,
    process: u32,
) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.client_id = format!("producer-{process}");
    config.acks = match string_config(workload, Scope::Producer, "acks").as_str() {
        "0" => 0,
        "1" => 1,
        _ => -1,
    };
    config.batch_size =
        int_or_default(&workload.config, Scope::Producer, "batch.size").max(0) as usize;
    config.linger = ms(workload, Scope::Producer, "linger.ms");
    config.retries = int_or_default(&workload.config, Scope::Producer, "retries")
        .clamp(0, u32::MAX as i64) as u32;
    config.retry_backoff = ms(workload, Scope::Producer, "retry.backoff.ms");
    config.max_in_flight = int_or_default(
        &workload.config,
        Scope::Producer,
        "max.in.flight.requests.per.connection",
    ) as usize;
    config.delivery_timeout = ms(workload, Scope::Producer, "delivery.timeout.ms");
    config.request_timeout = ms(workload, Scope::Producer, "request.timeout.ms");
    config.metadata_max_age = ms(workload, Scope::Producer, "metadata.max.age.ms");
    config.compression = compression(&string_config(
        workload,
        Scope::Producer,
        "compression.type",
    ));
    config.enable_idempotence =
        string_config(workload, Scope::Producer, "enable.idempotence") == "true";
    config
}

/// The consumer configs of a workload.
pub fn consumer_config(
    workload: &Workload,
    bootstrap: Vec<SocketAddr>,
    process: u32,
) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap);
    config.client_id = format!("consumer-{process}");
    config.auto_offset_reset =
        match string_config(workload, Scope::Consumer, "auto.offset.reset").as_str() {
            "earliest" => OffsetReset::Earliest,
            "none" => OffsetReset::None,
            _ => OffsetReset::Latest,
        };
    config.fetch_min_bytes =
        int_or_default(&workload.config, Scope::Consumer, "fetch.min.bytes") as i32;
    config.fetch_max_wait = ms(workload, Scope::Consumer, "fetch.max.wait.ms");
    config.max_partition_fetch_bytes = int_or_default(
        &workload.config,
        Scope::Consumer,
        "max.partition.fetch.bytes",
    ) as i32;
    config.fetch_max_bytes =
        int_or_default(&workload.config, Scope::Consumer, "fetch.max.bytes") as i32;
    config
}
