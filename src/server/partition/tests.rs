//! The partition actor's tests, run on a madsim runtime.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::env::{Clock, Disk, Env, MemDisk, NoNetFaults, NoTrace};
use crate::replication::LeaderEpochCache;
use crate::storage::testing::{encode_batch, TestRecord};
use crate::storage::LogConfig;

struct ZeroClock;
impl Clock for ZeroClock {
    fn wall_ms(&self) -> i64 {
        0
    }
}

fn env(disk: &Arc<dyn Disk>) -> Env {
    Env {
        node_id: 1,
        disk: disk.clone(),
        clock: Arc::new(ZeroClock),
        net: Arc::new(NoNetFaults),
        trace: Arc::new(NoTrace),
    }
}

fn controlled_replica() -> ReplicaConfig {
    let (proposals, _) = mpsc::unbounded_channel();
    ReplicaConfig {
        broker_id: 1,
        replicas: vec![1],
        min_insync_replicas: 1,
        replica_lag_time_max_ms: 30_000,
        checkpointed_high_watermark: None,
        isr_proposals: Some(proposals),
        truncation: TruncationRule::LeaderEpoch,
        epoch_lookup: crate::replication::EpochLookup::Kip279,
        ineligible_replicas: None,
        planted: Default::default(),
    }
}

fn checkpoint(disk: &Arc<dyn Disk>) -> String {
    let bytes = disk.read_all("t-0/leader-epoch-checkpoint").unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn leader_epoch_checkpoint_is_written_on_change_and_read_at_open() {
    let runtime = madsim::runtime::Runtime::new();
    runtime.block_on(async {
        let disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
        let env = env(&disk);
        let open = || {
            let config = LogConfig::default();
            PartitionHandle::open(&env, "t", 0, config, controlled_replica()).unwrap()
        };
        let records = [TestRecord::value(b"a"), TestRecord::value(b"b")];
        let two = || Bytes::from(encode_batch(0, 0, 0, &records));
        let handle = open();
        handle.become_leader(3, vec![1], 0, true).await;
        handle.append(two(), 1).await.unwrap();
        handle.become_leader(5, vec![1], 1, true).await;
        handle.append(two(), 1).await.unwrap();
        // Commands run in order: once this answers, every checkpoint before it is out.
        assert_eq!(handle.latest_epoch().await, 5);
        let text = checkpoint(&disk);
        assert!(text.contains("3 0") && text.contains("5 2"), "{text}");
        // Where epoch 3 ends, asked of a reopened leader at epoch 6: the answer comes from
        // the checkpoint, not from the batches — a hand-written checkpoint that names
        // epoch 2 for offsets 0..2 shows it (the batches say 3).
        let path = "t-0/leader-epoch-checkpoint";
        let ask = |handle: PartitionHandle| async move {
            handle.become_leader(6, vec![1], 2, true).await;
            handle.epoch_end_offset(6, 3).await.unwrap()
        };
        assert_eq!(ask(open()).await, (3, 2));
        LeaderEpochCache::from_entries([(2, 0), (5, 2)])
            .write(&*disk, path)
            .unwrap();
        assert_eq!(ask(open()).await, (2, 2));
        // An unreadable checkpoint is rebuilt from the log's batches.
        disk.write_file(path, b"garbage").unwrap();
        assert_eq!(ask(open()).await, (3, 2));
    });
}

/// DeleteRecords on a leader: Kafka's codes, -1 as the high watermark, no way back; a
/// follower takes the leader's log start up to its own high watermark, and refuses
/// DeleteRecords itself.
#[test]
fn delete_records_moves_the_log_start_on_leaders_and_followers() {
    let runtime = madsim::runtime::Runtime::new();
    runtime.block_on(async {
        let records = [TestRecord::value(b"a"), TestRecord::value(b"b")];
        let leader_disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
        let leader = PartitionHandle::open(
            &env(&leader_disk),
            "t",
            0,
            LogConfig::default(),
            controlled_replica(),
        )
        .unwrap();
        leader.become_leader(1, vec![1], 0, true).await;
        for _ in 0..3 {
            let batch = Bytes::from(encode_batch(0, 0, 0, &records));
            leader.append(batch, 1).await.unwrap();
        }
        assert_eq!(leader.offsets().high_watermark, 6);
        assert_eq!(leader.delete_records(3).await, Ok(3));
        assert_eq!(leader.offsets().log_start_offset, 3);
        assert_eq!(leader.delete_records(1).await, Ok(3), "never back");
        assert_eq!(
            leader.delete_records(7).await,
            Err(ErrorCode::OFFSET_OUT_OF_RANGE)
        );
        assert_eq!(
            leader.delete_records(-2).await,
            Err(ErrorCode::OFFSET_OUT_OF_RANGE)
        );
        assert_eq!(
            leader.delete_records(-1).await,
            Ok(6),
            "-1 is the high watermark"
        );
        assert_eq!(
            leader
                .read(4, ReadLimit::at_least_one(1 << 20))
                .await
                .error_code,
            ErrorCode::OFFSET_OUT_OF_RANGE
        );

        let follower_disk: Arc<dyn Disk> = Arc::new(MemDisk::new());
        let mut replica = controlled_replica();
        replica.replicas = vec![2, 1];
        let follower =
            PartitionHandle::open(&env(&follower_disk), "t", 0, LogConfig::default(), replica)
                .unwrap();
        follower.become_follower(2, 1).await;
        let fetched = Bytes::from(encode_batch(0, 1, 0, &records));
        follower.append_as_follower(fetched, 1).await.unwrap();
        assert_eq!(
            follower.delete_records(1).await,
            Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        );
        // The leader's start is 2, but this follower's high watermark is 1.
        follower.follow_log_start(2).await;
        assert_eq!(follower.offsets().log_start_offset, 1);
        assert_eq!(follower.offsets().log_end_offset, 2);
    });
}
