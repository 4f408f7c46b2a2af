//! The session cache's rules on small hand-made requests.

use super::*;

fn key(topic: &str, partition: i32) -> SessionKey {
    (0, topic.to_string(), partition)
}

fn wants(topic: &str, partition: i32, fetch_offset: i64) -> RequestedPartition {
    RequestedPartition {
        key: key(topic, partition),
        fetch_offset,
        partition_max_bytes: 1 << 20,
        current_leader_epoch: -1,
        log_start_offset: -1,
    }
}

fn read(topic: &str, partition: i32, high_watermark: i64, record_bytes: usize) -> ReadPartition {
    ReadPartition {
        key: key(topic, partition),
        error_code: ErrorCode::NONE,
        high_watermark,
        last_stable_offset: high_watermark,
        log_start_offset: 0,
        record_bytes,
    }
}

fn client(session_id: i32, epoch: i32) -> SessionRequest {
    SessionRequest {
        session_id,
        epoch,
        uses_topic_ids: false,
        privileged: false,
    }
}

/// Ids handed out in order: 7, 8, 9, …
fn ids() -> impl FnMut() -> i32 {
    let mut next = 6;
    move || {
        next += 1;
        next
    }
}

/// A session with t-0 and t-1 (both at high watermark 5), created at `now_ms`.
fn open(cache: &mut FetchSessionCache, now_ms: u64, new_id: impl FnMut() -> i32) -> i32 {
    let partitions = vec![wants("t", 0, 0), wants("t", 1, 0)];
    let context = cache.begin(client(0, 0), partitions.clone(), &[], now_ms);
    assert_eq!(context, FetchContext::Full(partitions.clone()));
    let done = [read("t", 0, 5, 100), read("t", 1, 5, 100)];
    cache.create(client(0, 0), &partitions, &done, now_ms, new_id)
}

#[test]
fn full_fetch_creates_a_session_and_incremental_sends_only_news() {
    let mut cache = FetchSessionCache::new(10);
    let id = open(&mut cache, 0, ids());
    assert_eq!(id, 7);
    // Epoch 1, naming t-0 at its new offset; t-1 is implied by the session.
    let context = cache.begin(client(id, 1), vec![wants("t", 0, 5)], &[], 10);
    let FetchContext::Incremental { partitions, .. } = &context else {
        panic!("{context:?}");
    };
    assert_eq!(partitions, &vec![wants("t", 0, 5), wants("t", 1, 0)]);
    // t-0 has nothing new; t-1's high watermark moved.
    let sent = cache.finish(id, &[read("t", 0, 5, 0), read("t", 1, 6, 0)]);
    assert_eq!(sent, vec![key("t", 1)]);
    // Nothing new at all: an empty response.
    cache.begin(client(id, 2), vec![], &[], 20);
    assert!(cache
        .finish(id, &[read("t", 0, 5, 0), read("t", 1, 6, 0)])
        .is_empty());
}

#[test]
fn partitions_with_records_go_to_the_end_and_errors_are_resent() {
    let mut cache = FetchSessionCache::new(10);
    let id = open(&mut cache, 0, ids());
    cache.begin(client(id, 1), vec![], &[], 1);
    let sent = cache.finish(id, &[read("t", 0, 6, 10), read("t", 1, 5, 0)]);
    assert_eq!(sent, vec![key("t", 0)]);
    let context = cache.begin(client(id, 2), vec![], &[], 2);
    let order: Vec<SessionKey> = context.partitions().iter().map(|p| p.key.clone()).collect();
    assert_eq!(order, vec![key("t", 1), key("t", 0)], "t-0 returned data");
    let mut failed = read("t", 1, 5, 0);
    failed.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    assert_eq!(
        cache.finish(id, &[failed, read("t", 0, 6, 0)]),
        vec![key("t", 1)]
    );
    // The error cleared with the same offsets: sent again, since its HW was forgotten.
    cache.begin(client(id, 3), vec![], &[], 3);
    assert_eq!(
        cache.finish(id, &[read("t", 1, 5, 0), read("t", 0, 6, 0)]),
        vec![key("t", 1)]
    );
}

#[test]
fn incremental_adds_and_forgets_partitions() {
    let mut cache = FetchSessionCache::new(10);
    let id = open(&mut cache, 0, ids());
    let context = cache.begin(client(id, 1), vec![wants("u", 0, 3)], &[key("t", 0)], 1);
    let keys: Vec<SessionKey> = context.partitions().iter().map(|p| p.key.clone()).collect();
    assert_eq!(keys, vec![key("t", 1), key("u", 0)]);
    // A new partition is always sent the first time (nothing was sent for it yet).
    let sent = cache.finish(id, &[read("t", 1, 5, 0), read("u", 0, 3, 0)]);
    assert_eq!(sent, vec![key("u", 0)]);
    // Forgetting everything closes the session.
    let context = cache.begin(client(id, 2), vec![], &[key("t", 1), key("u", 0)], 2);
    assert_eq!(context, FetchContext::Sessionless(vec![]));
    assert!(cache.is_empty());
}

#[test]
fn wrong_epoch_unknown_id_and_topic_id_mismatch_are_errors() {
    let mut cache = FetchSessionCache::new(10);
    let id = open(&mut cache, 0, ids());
    assert_eq!(
        cache.begin(client(id, 5), vec![], &[], 1),
        FetchContext::Error(ErrorCode::INVALID_FETCH_SESSION_EPOCH)
    );
    assert_eq!(
        cache.begin(client(id + 1, 1), vec![], &[], 1),
        FetchContext::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
    let mut with_ids = client(id, 1);
    with_ids.uses_topic_ids = true;
    assert_eq!(
        cache.begin(with_ids, vec![], &[], 1),
        FetchContext::Error(ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR)
    );
    // The errors did not advance the epoch: 1 is still the next.
    assert!(matches!(
        cache.begin(client(id, 1), vec![], &[], 1),
        FetchContext::Incremental { .. }
    ));
    // And a replay of epoch 1 is now refused.
    assert_eq!(
        cache.begin(client(id, 1), vec![], &[], 1),
        FetchContext::Error(ErrorCode::INVALID_FETCH_SESSION_EPOCH)
    );
}

#[test]
fn final_epoch_closes_and_initial_epoch_replaces() {
    let mut cache = FetchSessionCache::new(10);
    let id = open(&mut cache, 0, ids());
    let context = cache.begin(client(id, FINAL_EPOCH), vec![wants("t", 0, 0)], &[], 1);
    assert_eq!(context, FetchContext::Sessionless(vec![wants("t", 0, 0)]));
    assert!(cache.is_empty());
    assert_eq!(
        cache.begin(client(id, 1), vec![], &[], 1),
        FetchContext::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
    // A full request naming an old session closes it before a new one is made.
    let first = open(&mut cache, 2, ids());
    cache.begin(client(first, 0), vec![wants("t", 0, 0)], &[], 3);
    assert!(cache.is_empty());
}

#[test]
fn a_full_cache_evicts_only_by_kafkas_rule() {
    let mut cache = FetchSessionCache::new(2);
    let a = open(&mut cache, 0, || 1);
    let b = open(&mut cache, 1_000, || 2);
    // Both young and recently used: a third client gets no session.
    assert_eq!(open(&mut cache, 2_000, || 3), INVALID_SESSION_ID);
    assert_eq!(cache.len(), 2);
    // a used at 130 s, b idle since 1 s: at 125 s b is stale (idle > 120 s) and goes.
    cache.begin(client(a, 1), vec![], &[], 123_000);
    let c = open(&mut cache, 125_000, || 3);
    assert_eq!(c, 3);
    assert_eq!(
        cache.begin(client(b, 1), vec![], &[], 125_000),
        FetchContext::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
    // A follower's session may displace a young client session worth less.
    let follower = SessionRequest {
        privileged: true,
        ..client(0, 0)
    };
    let id = cache.create(follower, &[wants("t", 0, 0)], &[], 125_001, || 4);
    assert_eq!(id, 4);
    assert_eq!(cache.len(), 2);
}

#[test]
fn session_ids_are_never_zero_nor_reused() {
    let mut cache = FetchSessionCache::new(10);
    let mut draws = vec![0, -5, 9, 9, 11].into_iter();
    let first = open(&mut cache, 0, || draws.next().unwrap());
    let second = open(&mut cache, 0, || draws.next().unwrap());
    assert_eq!((first, second), (9, 11));
}

#[test]
fn epochs_wrap_to_one() {
    assert_eq!(next_epoch(0), 1);
    assert_eq!(next_epoch(41), 42);
    assert_eq!(next_epoch(i32::MAX), 1);
}

#[test]
fn a_partition_named_by_id_is_one_partition_whatever_its_name_resolved_to() {
    let mut cache = FetchSessionCache::new(10);
    let with_ids = SessionRequest {
        uses_topic_ids: true,
        ..client(0, 0)
    };
    // The id was unknown when the session began: no name.
    let unknown = RequestedPartition {
        key: (42, String::new(), 0),
        ..wants("", 0, 0)
    };
    cache.begin(with_ids, vec![unknown.clone()], &[], 0);
    let id = cache.create(with_ids, &[unknown], &[], 0, || 9);
    let next = SessionRequest {
        session_id: id,
        epoch: 1,
        ..with_ids
    };
    // Now it resolves to "t": still the same partition, not a second one.
    let resolved = RequestedPartition {
        key: (42, "t".to_string(), 0),
        ..wants("t", 0, 3)
    };
    let context = cache.begin(next, vec![resolved.clone()], &[], 1);
    assert_eq!(context.partitions(), &[resolved]);
    // Forgotten under either name, it leaves (and the empty session closes).
    let last = SessionRequest { epoch: 2, ..next };
    let context = cache.begin(last, vec![], &[(42, String::new(), 0)], 2);
    assert_eq!(context, FetchContext::Sessionless(vec![]));
}
