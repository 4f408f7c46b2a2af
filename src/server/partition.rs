//! One partition's owner: an actor task holding the partition's `Log`.
//!
//! All reads and writes of a partition go through its command channel, so the log has exactly
//! one owner and no locks. After every change the actor publishes the partition's offsets on
//! a watch channel, which is what delayed fetches (the purgatory) wait on.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use crate::env::Env;
use crate::protocol::codes;
use crate::storage::{AppendInfo, Log, LogConfig, StorageError};

/// Bound on queued commands per partition: producers beyond it wait (backpressure).
const COMMANDS_QUEUED_MAX: usize = 1024;

/// The offsets of a partition, as published after each change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    /// False once the log directory went offline (fsync failure, disk full).
    pub online: bool,
}

/// What a fetch read from one partition.
#[derive(Debug, Clone)]
pub struct ReadResult {
    pub error_code: i16,
    pub records: Bytes,
    pub offsets: Offsets,
}

enum Command {
    Append {
        batches: Bytes,
        reply: oneshot::Sender<Result<AppendInfo, i16>>,
    },
    Read {
        offset: i64,
        max_bytes: usize,
        reply: oneshot::Sender<ReadResult>,
    },
    OffsetForTimestamp {
        timestamp: i64,
        reply: oneshot::Sender<Result<(i64, i64), i16>>,
    },
    Flush {
        reply: oneshot::Sender<Result<(), i16>>,
    },
    Tick,
}

/// A handle to a partition actor; cheap to clone.
#[derive(Clone)]
pub struct PartitionHandle {
    commands: mpsc::Sender<Command>,
    offsets: watch::Receiver<Offsets>,
}

/// The error code a storage failure maps to.
pub fn storage_error_code(error: &StorageError) -> i16 {
    match error {
        StorageError::Corrupt(_) => codes::CORRUPT_MESSAGE,
        StorageError::InvalidRecord(_) => codes::INVALID_RECORD,
        StorageError::TooLarge => codes::MESSAGE_TOO_LARGE,
        StorageError::OffsetOutOfRange { .. } => codes::OFFSET_OUT_OF_RANGE,
        StorageError::Io(_) | StorageError::Offline => codes::KAFKA_STORAGE_ERROR,
    }
}

impl PartitionHandle {
    /// Open (recovering) the log in `dir` and start the actor on the current node.
    pub fn open(env: &Env, dir: &str, config: LogConfig) -> Result<PartitionHandle, StorageError> {
        let (log, report) = Log::open(env.disk.clone(), dir, config, env.clock.wall_ms())?;
        tracing::info!(partition = dir, ?report, "log recovered");
        env.trace
            .record("recovery", format!("{dir} {report:?}").as_bytes());
        env.trace
            .effect("recovery.truncated_bytes", report.truncated_bytes);
        env.trace
            .effect("recovery.corrupt_batches", report.corrupt_batches);
        let offsets = offsets_of(&log, true);
        let (commands, receiver) = mpsc::channel(COMMANDS_QUEUED_MAX);
        let (publisher, offsets_rx) = watch::channel(offsets);
        let actor = Actor {
            env: env.clone(),
            dir: dir.to_string(),
            log,
            online: true,
            publisher,
        };
        tokio::spawn(actor.run(receiver));
        Ok(PartitionHandle {
            commands,
            offsets: offsets_rx,
        })
    }

    /// The latest published offsets.
    pub fn offsets(&self) -> Offsets {
        *self.offsets.borrow()
    }

    /// A receiver that wakes when the offsets change (for delayed fetches).
    pub fn subscribe(&self) -> watch::Receiver<Offsets> {
        self.offsets.clone()
    }

    /// Append batches as the leader; returns offsets or a Kafka error code.
    pub async fn append(&self, batches: Bytes) -> Result<AppendInfo, i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append { batches, reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Read whole batches from `offset` below the high watermark.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> ReadResult {
        let (reply, rx) = oneshot::channel();
        let failed = ReadResult {
            error_code: codes::NOT_LEADER_OR_FOLLOWER,
            records: Bytes::new(),
            offsets: self.offsets(),
        };
        if self
            .send(Command::Read {
                offset,
                max_bytes,
                reply,
            })
            .await
            .is_err()
        {
            return failed;
        }
        rx.await.unwrap_or(failed)
    }

    /// The first offset whose batch has a timestamp ≥ `timestamp`, and that timestamp.
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> Result<(i64, i64), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::OffsetForTimestamp { timestamp, reply })
            .await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// fsync everything now.
    pub async fn flush(&self) -> Result<(), i16> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Flush { reply }).await?;
        rx.await.map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)?
    }

    /// Run time-based housekeeping (flush.ms, segment.ms, retention) now.
    pub async fn tick(&self) {
        let _ = self.commands.send(Command::Tick).await;
    }

    async fn send(&self, command: Command) -> Result<(), i16> {
        self.commands
            .send(command)
            .await
            .map_err(|_| codes::NOT_LEADER_OR_FOLLOWER)
    }
}

fn offsets_of(log: &Log, online: bool) -> Offsets {
    let log_end_offset = log.log_end_offset();
    // A single replica is its own ISR: the high watermark is the log end offset.
    Offsets {
        log_start_offset: log.log_start_offset(),
        high_watermark: log_end_offset,
        log_end_offset,
        online,
    }
}

struct Actor {
    env: Env,
    dir: String,
    log: Log,
    /// Set false when a storage error takes the log directory offline (Kafka's
    /// KafkaStorageException): every later request fails until the broker restarts.
    online: bool,
    publisher: watch::Sender<Offsets>,
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(command) = commands.recv().await {
            self.handle(command).await;
            let offsets = offsets_of(&self.log, self.online);
            assert!(
                offsets.log_start_offset <= offsets.high_watermark
                    && offsets.high_watermark <= offsets.log_end_offset,
                "{}: log start {} <= HW {} <= LEO {} violated",
                self.dir,
                offsets.log_start_offset,
                offsets.high_watermark,
                offsets.log_end_offset
            );
            self.publisher.send_if_modified(|current| {
                let changed = *current != offsets;
                *current = offsets;
                changed
            });
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Append { batches, reply } => {
                let delay = self.env.net.disk_delay();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let result = self.append(&batches);
                let _ = reply.send(result);
            }
            Command::Read {
                offset,
                max_bytes,
                reply,
            } => {
                let _ = reply.send(self.read(offset, max_bytes));
            }
            Command::OffsetForTimestamp { timestamp, reply } => {
                let result = if self.online {
                    Ok(self.log.offset_for_timestamp(timestamp).unwrap_or((-1, -1)))
                } else {
                    Err(codes::KAFKA_STORAGE_ERROR)
                };
                let _ = reply.send(result);
            }
            Command::Flush { reply } => {
                let result = self.checked(|log| log.flush());
                let _ = reply.send(result);
            }
            Command::Tick => {
                let now = self.env.clock.wall_ms();
                let trace = self.env.trace.clone();
                let _ = self.checked(|log| {
                    let report = log.tick(now)?;
                    trace.effect(
                        "retention.deleted_segments",
                        report.deleted_segments.len() as u64,
                    );
                    trace.effect("retention.deleted_bytes", report.deleted_bytes);
                    trace.effect("log.time_rolls", report.rolled as u64);
                    trace.effect("log.time_flushes", report.flushed as u64);
                    Ok(())
                });
            }
        }
    }

    fn append(&mut self, batches: &[u8]) -> Result<AppendInfo, i16> {
        if !self.online {
            return Err(codes::KAFKA_STORAGE_ERROR);
        }
        let now = self.env.clock.wall_ms();
        // Leader epoch 0: there are no elections in a static cluster map.
        match self.log.append(batches, 0, now) {
            Ok(info) => Ok(info),
            Err(error) => Err(self.fail(error)),
        }
    }

    fn read(&mut self, offset: i64, max_bytes: usize) -> ReadResult {
        let offsets = offsets_of(&self.log, self.online);
        if !self.online {
            return ReadResult {
                error_code: codes::KAFKA_STORAGE_ERROR,
                records: Bytes::new(),
                offsets,
            };
        }
        if offset == offsets.high_watermark {
            return ReadResult {
                error_code: codes::NONE,
                records: Bytes::new(),
                offsets,
            };
        }
        match self.log.read(offset, max_bytes, offsets.high_watermark) {
            Ok(bytes) => ReadResult {
                error_code: codes::NONE,
                records: Bytes::from(bytes),
                offsets,
            },
            Err(error) => {
                let code = match error {
                    StorageError::OffsetOutOfRange { .. } => codes::OFFSET_OUT_OF_RANGE,
                    other => self.fail(other),
                };
                ReadResult {
                    error_code: code,
                    records: Bytes::new(),
                    offsets,
                }
            }
        }
    }

    fn checked(&mut self, f: impl FnOnce(&mut Log) -> Result<(), StorageError>) -> Result<(), i16> {
        if !self.online {
            return Err(codes::KAFKA_STORAGE_ERROR);
        }
        f(&mut self.log).map_err(|error| self.fail(error))
    }

    /// Map a storage error to its code; I/O errors take the log directory offline.
    fn fail(&mut self, error: StorageError) -> i16 {
        let code = storage_error_code(&error);
        if let StorageError::Io(e) = &error {
            if e.kind() == std::io::ErrorKind::StorageFull {
                self.env.trace.effect("storage.enospc", 1);
            }
        }
        // A full disk fails the write without taking the directory offline (nothing was
        // written); any other I/O failure does, like Kafka's KafkaStorageException.
        let disk_full =
            matches!(&error, StorageError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull);
        if !disk_full && matches!(error, StorageError::Io(_) | StorageError::Offline) {
            tracing::warn!(partition = %self.dir, %error, "log directory offline");
            self.env.trace.record("offline", self.dir.as_bytes());
            self.env.trace.effect("storage.offline", 1);
            self.online = false;
        }
        code
    }
}

/// How often the broker runs time-based log housekeeping.
pub const TICK_INTERVAL: Duration = Duration::from_millis(100);
