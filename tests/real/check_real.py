#!/usr/bin/env python3
"""Real-mode checks: a real Kafka client (confluent-kafka, i.e. librdkafka) against the
real-mode kafkasim broker.

Started by tests/real/run.sh, which builds the broker, starts it and passes its coordinates
in the environment:
  KAFKASIM_BROKER_BIN   the broker binary (used to restart it in the crash check)
  KAFKASIM_BOOTSTRAP    127.0.0.1:PORT
  KAFKASIM_LOG_DIR      the broker's log dir
  KAFKASIM_PID_FILE     file holding the running broker's pid (run.sh's trap kills it)
  KAFKASIM_BROKER_LOG   file the broker's stderr goes to

Checks:
  codec-*  for each compression codec, 10,000 keyed records produced with acks=all are all
           consumed back exactly once, at the offsets their delivery reports named, in the
           partition Kafka's murmur2 partitioner picks.
  timestamps  offsets_for_times finds the first record at or after a timestamp, also in the
           middle of a compressed batch.
  metadata-v0  a raw Metadata v0 request with an empty topic list gets every topic (v0 cannot
           say null).
  list-offsets-v1  a raw ListOffsets v1 request (the oldest version advertised) is answered.
  fetch-budget  3 partitions of 900 KiB records read by a consumer with fetch.max.bytes
           1,000,000: every record consumed and no client error (the broker once answered
           2.7 MB, which librdkafka rejects and retries forever; KIP-74).
  invalid-topic  a producer to an illegal topic name fails at once with Broker: Invalid topic
           instead of waiting out message.timeout.ms.
  auto-create  a producer to a topic that does not exist creates it (auto.create.topics.enable,
           num.partitions 1) and its records are acknowledged.
  fetch-sessions  4,000 keyed records over 4 partitions, read back exactly (every acknowledged
           record once, at its offset) in many small fetches by librdkafka, which must fetch
           with Fetch v13 or later (topic ids, KIP-516; seen in its protocol debug log), and by
           kafka-python, which must open an incremental fetch session (KIP-227) and use it
           with no session error logged.
  crash-*  a broker killed with SIGKILL while acks=all produce requests are in flight and
           restarted on the same log dir loses no acknowledged record (duplicates allowed:
           retries without idempotence may write a record twice).
  idempotent-*  the same codec checks with enable.idempotence=True (InitProducerId, producer
           ids and sequences), and the crash check again with it: no acknowledged record lost
           and none written twice (the restarted broker rebuilt its producer state from the
           log and answers a retried batch with its original offset).

Exits non-zero on any failed check; the last line is `real-mode: N passed, M failed`.
"""

import collections
import logging
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = os.environ["KAFKASIM_BOOTSTRAP"]
PARTITIONS = 4
RECORDS_PER_CODEC = 10_000
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CRASH_RECORDS = 60_000
# The crash happens once this many records of the crash run have been acknowledged.
CRASH_AFTER_ACKS = 15_000
CONSUME_TIMEOUT_S = 120

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL  {name}: {detail}", flush=True)


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    mask = 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    words = length // 4
    for i in range(words):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = data[words * 4 :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


# Kafka's UtilsTest vectors: if the checker's own murmur2 is wrong, the placement checks mean
# nothing, so it is checked first.
MURMUR2_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


def kafka_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def create_topics(names):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names],
        operation_timeout=10,
    )
    errors = {}
    for name, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as error:  # noqa: BLE001 - reported, not swallowed
            errors[name] = error
    metadata = admin.list_topics(timeout=10)
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None or len(topic.partitions) != PARTITIONS:
            errors.setdefault(name, f"metadata shows {topic and len(topic.partitions)} partitions")
    return errors


def producer(extra):
    config = {
        "bootstrap.servers": BOOTSTRAP,
        "acks": "all",
        "enable.idempotence": False,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    }
    config.update(extra)
    return Producer(config)


class Acks:
    """Delivery reports: acknowledged records with their partition and offset, and failures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = []  # (key, value, partition, offset)
        self.failed = collections.Counter()  # error name -> count

    def callback(self, error, message):
        with self.lock:
            if error is None:
                self.acked.append(
                    (message.key(), message.value(), message.partition(), message.offset())
                )
            else:
                self.failed[error.name()] += 1

    def count(self):
        with self.lock:
            return len(self.acked)


def produce(prod, topic, prefix, count, acks):
    for i in range(count):
        key = f"key-{i}".encode()
        value = f"{prefix}-{i}".encode()
        while True:
            try:
                prod.produce(topic, key=key, value=value, on_delivery=acks.callback)
                break
            except BufferError:
                prod.poll(0.05)
        prod.poll(0)


def consume_all(topic):
    """Read every partition of `topic` from the beginning up to its high watermark.

    Returns ({partition: [(offset, key, value)]}, error or None). Uses manual assignment:
    kafkasim has no group coordinator."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": "kafkasim-real-check",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        high = {}
        for p in range(PARTITIONS):
            low, hw = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            high[p] = hw
        consumer.assign(
            [TopicPartition(topic, p, -2) for p in range(PARTITIONS)]  # OFFSET_BEGINNING
        )
        records = {p: [] for p in range(PARTITIONS)}
        next_offset = {p: 0 for p in range(PARTITIONS)}
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while any(next_offset[p] < high[p] for p in range(PARTITIONS)):
            if time.monotonic() > deadline:
                return records, f"timed out at {next_offset} of high watermarks {high}"
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    return records, f"consumer error: {message.error()}"
                p = message.partition()
                records[p].append((message.offset(), message.key(), message.value()))
                next_offset[p] = message.offset() + 1
        return records, None
    finally:
        consumer.close()


def check_codec(codec, idempotent=False):
    topic = f"real-idempotent-{codec}" if idempotent else f"real-{codec}"
    label = f"idempotent-{codec}" if idempotent else f"codec-{codec}"
    acks = Acks()
    prod = producer({"compression.type": codec, "enable.idempotence": idempotent})
    produce(prod, topic, f"{codec}-value", RECORDS_PER_CODEC, acks)
    remaining = prod.flush(60)
    check(
        f"{label}: all {RECORDS_PER_CODEC} records acknowledged",
        remaining == 0 and acks.count() == RECORDS_PER_CODEC and not acks.failed,
        f"{acks.count()} acked, {remaining} still queued, failures {dict(acks.failed)}",
    )
    records, error = consume_all(topic)
    consumed = collections.Counter(
        (key, value) for rs in records.values() for _, key, value in rs
    )
    expected = collections.Counter((key, value) for key, value, _, _ in acks.acked)
    check(
        f"{label}: consumed multiset equals acknowledged multiset",
        error is None and consumed == expected,
        error or f"missing {sum((expected - consumed).values())}, "
        f"extra {sum((consumed - expected).values())}",
    )
    at_offset = {(p, o): (k, v) for p, rs in records.items() for o, k, v in rs}
    wrong_offset = [a for a in acks.acked if at_offset.get((a[2], a[3])) != (a[0], a[1])]
    check(
        f"{label}: each record is at the offset its delivery report named",
        not wrong_offset,
        f"{len(wrong_offset)} mismatches, first {wrong_offset[:3]}",
    )
    misplaced = [
        (p, k) for p, rs in records.items() for _, k, _ in rs if kafka_partition(k, PARTITIONS) != p
    ]
    check(
        f"{label}: keyed records are in murmur2's partition",
        not misplaced and consumed,
        f"{len(misplaced)} misplaced, first {misplaced[:3]}",
    )


def check_timestamps():
    """100 records with timestamps 10 ms apart, lingering so they share gzip batches; a lookup
    halfway between two records must land on the later one, not on its batch's first record."""
    topic = "real-timestamps"
    acks = Acks()
    prod = producer({"compression.type": "gzip", "linger.ms": 200})
    base = int(time.time() * 1000) - 60_000
    for i in range(100):
        prod.produce(
            topic, key=b"k", value=f"ts-{i}".encode(), partition=0,
            timestamp=base + 10 * i, on_delivery=acks.callback,
        )
    prod.flush(30)
    offset_of = {value: offset for _, value, _, offset in acks.acked}
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "kafkasim-real-check"})
    try:
        wrong = []
        for i in (0, 1, 37, 51, 99):
            target = base + 10 * i - 5
            [found] = consumer.offsets_for_times([TopicPartition(topic, 0, target)], timeout=10)
            if found.error or found.offset != offset_of.get(f"ts-{i}".encode()):
                wrong.append((i, found.offset, found.error, offset_of.get(f"ts-{i}".encode())))
        [after] = consumer.offsets_for_times(
            [TopicPartition(topic, 0, base + 10_000)], timeout=10
        )
    finally:
        consumer.close()
    check(
        "timestamps: offsets_for_times lands on the first record at or after the timestamp",
        len(acks.acked) == 100 and not wrong and after.offset == -1,
        f"{len(acks.acked)} acked; (record, got, error, expected): {wrong}; "
        f"after the last record: {after.offset}",
    )


def raw_request(api_key, api_version, body):
    """One request with a v1 header (non-flexible versions only) on a fresh connection; the
    response frame, or None if the broker closed the connection or did not answer."""
    host, port = BOOTSTRAP.rsplit(":", 1)
    client_id = b"kafkasim-real"
    frame = struct.pack(">hhih", api_key, api_version, 42, len(client_id)) + client_id + body
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        try:
            size = struct.unpack(">i", recv_exact(sock, 4))[0]
            return recv_exact(sock, size)
        except (ConnectionError, socket.timeout):
            return None


def check_metadata_v0():
    """Metadata v0 by hand: librdkafka never sends it, other clients do."""
    response = raw_request(3, 0, struct.pack(">i", 0))  # topics = [] (v0 cannot say null)
    if response is None:
        check("metadata-v0: an empty topic list means all topics", False, "no response")
        return
    correlation_id, brokers = struct.unpack_from(">ii", response, 0)
    at = 8
    for _ in range(brokers):
        host_len = struct.unpack_from(">h", response, at + 4)[0]
        at += 4 + 2 + host_len + 4
    topics = struct.unpack_from(">i", response, at)[0]
    check(
        "metadata-v0: an empty topic list means all topics",
        correlation_id == 42 and topics >= len(CODECS),
        f"correlation id {correlation_id}, {topics} topics",
    )


def check_list_offsets_v1():
    """ListOffsets v1 by hand (the oldest version advertised): latest offset of a partition."""
    topic = b"real-none"
    body = struct.pack(">ii", -1, 1) + struct.pack(">h", len(topic)) + topic
    body += struct.pack(">iiq", 1, 0, -1)  # one partition: index 0, timestamp -1 (latest)
    response = raw_request(2, 1, body)
    if response is None:
        check("list-offsets-v1: answered", False, "no response (connection closed or timed out)")
        return
    # correlation id, topics [name, partitions [index, error, timestamp, offset]]
    at = 4 + 4
    name_len = struct.unpack_from(">h", response, at)[0]
    at += 2 + name_len + 4
    index, error, _, offset = struct.unpack_from(">ihqq", response, at)
    check(
        "list-offsets-v1: answered with the latest offset",
        index == 0 and error == 0 and offset > 0,
        f"partition {index}, error {error}, offset {offset}",
    )


BIG_RECORD = 900 * 1024
BIG_PER_PARTITION = 10


def check_fetch_budget():
    topic = "real-fetch-budget"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    acks = Acks()
    prod = producer({"acks": "1", "linger.ms": 0})
    value = b"v" * BIG_RECORD
    for p in range(3):
        for i in range(BIG_PER_PARTITION):
            prod.produce(topic, value=value, key=f"{p}-{i}".encode(), partition=p,
                         on_delivery=acks.callback)
            prod.poll(0)
    prod.flush(60)
    errors = []
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": "kafkasim-real-fetch-budget",
            "enable.auto.commit": False,
            "fetch.max.bytes": 1_000_000,
            "error_cb": lambda error: errors.append(str(error)),
        }
    )
    consumer.assign([TopicPartition(topic, p, -2) for p in range(3)])
    consumed = 0
    deadline = time.monotonic() + 60
    try:
        while consumed < 3 * BIG_PER_PARTITION and time.monotonic() < deadline and not errors:
            for message in consumer.consume(num_messages=100, timeout=1.0):
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        errors.append(str(message.error()))
                    continue
                consumed += len(message.value()) == BIG_RECORD
    finally:
        consumer.close()
    check(
        "fetch-budget: 30 records of 900 KiB over 3 partitions read with fetch.max.bytes 1,000,000",
        acks.count() == 3 * BIG_PER_PARTITION and consumed == 3 * BIG_PER_PARTITION and not errors,
        f"acknowledged {acks.count()}, consumed {consumed}, errors {errors[:3]}",
    )


SESSION_TOPIC = "real-sessions"
SESSION_RECORDS = 4_000


class Captured(logging.Handler):
    """Every log line a client library writes, for checks on what it did."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def read_exactly(acked, consumed):
    """What is wrong with `consumed` [(partition, offset, key, value)] against the
    acknowledged records: missing, duplicated or unexpected ones (empty if none)."""
    want = collections.Counter((p, o, k, v) for k, v, p, o in acked)
    got = collections.Counter(consumed)
    problems = []
    missing = want - got
    if missing:
        problems.append(f"{sum(missing.values())} missing, e.g. {list(missing)[:2]}")
    duplicated = [r for r, n in got.items() if n > 1]
    if duplicated:
        problems.append(f"{len(duplicated)} read twice, e.g. {duplicated[:2]}")
    extra = got - want
    if extra:
        problems.append(f"{sum(extra.values())} unexpected, e.g. {list(extra)[:2]}")
    return problems


def check_fetch_sessions():
    acks = Acks()
    # One record per batch, so a 1 KiB partition limit lets a fetch take only a few.
    prod = producer({"linger.ms": 0, "batch.num.messages": 1})
    produce(prod, SESSION_TOPIC, "session", SESSION_RECORDS, acks)
    prod.flush(60)

    # librdkafka: small per-partition limits, so the 4 partitions take many fetches.
    captured = Captured()
    logger = logging.getLogger("kafkasim.librdkafka")
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": "kafkasim-real-sessions",
            "enable.auto.commit": False,
            "max.partition.fetch.bytes": 1024,
            "debug": "protocol",
            "logger": logger,
        }
    )
    consumer.assign([TopicPartition(SESSION_TOPIC, p, -2) for p in range(PARTITIONS)])
    consumed, errors = [], []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(consumed) < acks.count() and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        errors.append(str(message.error()))
                    continue
                consumed.append(
                    (message.partition(), message.offset(), message.key(), message.value())
                )
    finally:
        consumer.close()
    versions = collections.Counter(
        int(v) for line in captured.lines for v in re.findall(r"Sent FetchRequest \(v(\d+)", line)
    )
    problems = read_exactly(acks.acked, consumed) + errors[:3]
    if len(acks.acked) != SESSION_RECORDS:
        problems.append(f"only {len(acks.acked)} acknowledged, failures {dict(acks.failed)}")
    if not versions or min(versions) < 13:
        problems.append(f"Fetch versions sent {dict(versions)}, expected all >= 13")
    if sum(versions.values()) < 20:
        problems.append(f"only {sum(versions.values())} fetches: not many small ones")
    check(
        f"fetch-sessions: librdkafka reads {SESSION_RECORDS} records over {PARTITIONS} "
        f"partitions exactly, with Fetch v{min(versions, default=None)}+ "
        f"({sum(versions.values())} fetches)",
        not problems,
        problems,
    )

    # kafka-python: incremental fetch sessions are on by default.
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition

    captured = Captured()
    fetch_log = logging.getLogger("kafka.consumer.fetcher")
    fetch_log.addHandler(captured)
    fetch_log.setLevel(logging.DEBUG)
    consumer = KafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        enable_auto_commit=False,
        max_partition_fetch_bytes=1024,
        fetch_max_bytes=4096,
    )
    parts = [KafkaTopicPartition(SESSION_TOPIC, p) for p in range(PARTITIONS)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    consumed = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(consumed) < len(acks.acked) and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                consumed.extend((tp.partition, m.offset, m.key, m.value) for m in messages)
    finally:
        consumer.close()
        fetch_log.removeHandler(captured)
    created = [l for l in captured.lines if "created a new incremental fetch session" in l]
    incremental = [l for l in captured.lines if "Built incremental fetch" in l]
    session_errors = [
        l for l in captured.lines if "unable to process the fetch request" in l or "invalid" in l
    ]
    problems = read_exactly(acks.acked, consumed)
    if not created or len(incremental) < 20:
        problems.append(f"{len(created)} sessions created, {len(incremental)} incremental fetches")
    problems += session_errors[:3]
    check(
        f"fetch-sessions: kafka-python reads them exactly through an incremental fetch session "
        f"({len(incremental)} incremental fetches)",
        not problems,
        problems,
    )


def check_invalid_topic():
    acks = Acks()
    prod = producer({"message.timeout.ms": 30_000})
    start = time.monotonic()
    prod.produce("bad$#!name", value=b"x", on_delivery=acks.callback)
    prod.flush(40)
    elapsed = time.monotonic() - start
    check(
        "invalid-topic: a producer to an illegal name fails at once, not after message.timeout.ms",
        acks.count() == 0 and sum(acks.failed.values()) == 1 and elapsed < 10,
        f"failures {dict(acks.failed)} after {elapsed:.1f} s",
    )


def check_auto_create():
    topic = "real-auto-created"
    acks = Acks()
    prod = producer({})
    for i in range(100):
        prod.produce(topic, value=f"auto-{i}".encode(), on_delivery=acks.callback)
    prod.flush(30)
    metadata = AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=10)
    partitions = len(metadata.topics[topic].partitions) if topic in metadata.topics else 0
    check(
        "auto-create: producing to a missing topic creates it with num.partitions (1)",
        acks.count() == 100 and partitions == 1,
        f"acknowledged {acks.count()}, failures {dict(acks.failed)}, partitions {partitions}",
    )


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def broker_pid():
    with open(os.environ["KAFKASIM_PID_FILE"]) as f:
        return int(f.read().strip())


def restart_broker():
    port = BOOTSTRAP.rsplit(":", 1)[1]
    log = open(os.environ["KAFKASIM_BROKER_LOG"], "ab")
    process = subprocess.Popen(
        [
            os.environ["KAFKASIM_BROKER_BIN"],
            "--node-id", "1",
            "--listen", f"127.0.0.1:{port}",
            "--log-dir", os.environ["KAFKASIM_LOG_DIR"],
        ],
        stdout=log,
        stderr=log,
    )
    with open(os.environ["KAFKASIM_PID_FILE"], "w") as f:
        f.write(f"{process.pid}\n")
    return process


def check_crash(idempotent=False):
    topic = "real-crash-idempotent" if idempotent else "real-crash"
    label = "idempotent-crash" if idempotent else "crash"
    acks = Acks()
    prod = producer(
        {
            "enable.idempotence": idempotent,
            "compression.type": "lz4",
            "message.timeout.ms": 60_000,
            "retry.backoff.ms": 100,
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 500,
        }
    )
    producing = threading.Thread(
        target=produce, args=(prod, topic, "crash-value", CRASH_RECORDS, acks)
    )
    producing.start()
    # The idempotent producer queues every record before its producer id arrives, so the
    # producing thread may be done before any ack: then serve delivery reports here.
    deadline = time.monotonic() + 60
    while acks.count() < CRASH_AFTER_ACKS and time.monotonic() < deadline:
        if producing.is_alive():
            time.sleep(0.01)
        else:
            prod.poll(0.01)
    in_flight = len(prod)
    os.kill(broker_pid(), signal.SIGKILL)
    acked_at_kill = acks.count()
    print(
        f"      {label}: SIGKILL after {acked_at_kill} acks, {in_flight} records queued or in flight",
        flush=True,
    )
    time.sleep(1.0)
    restart_broker()
    producing.join()
    remaining = prod.flush(90)
    print(
        f"      {label}: {acks.count()} acked, {sum(acks.failed.values())} failed "
        f"{dict(acks.failed)}, {remaining} undelivered",
        flush=True,
    )
    check(
        f"{label}: the kill happened with records in flight, after some were acknowledged",
        in_flight > 0 and 0 < acked_at_kill < CRASH_RECORDS,
        f"{in_flight} in flight, {acked_at_kill} acked at kill",
    )
    check(
        f"{label}: the producer finished against the restarted broker",
        remaining == 0 and acks.count() > acked_at_kill,
        f"{remaining} undelivered, {acks.count()} acked in total",
    )
    records, error = consume_all(topic)
    consumed = collections.Counter(
        (key, value) for rs in records.values() for _, key, value in rs
    )
    expected = collections.Counter((key, value) for key, value, _, _ in acks.acked)
    lost = expected - consumed
    duplicates = sum(n - 1 for n in consumed.values() if n > 1)
    unacked = sum(1 for kv in consumed if kv not in expected)
    print(
        f"      {label}: consumed {sum(consumed.values())}, duplicates {duplicates}, "
        f"present but unacknowledged {unacked}",
        flush=True,
    )
    check(
        f"{label}: every acknowledged record is present after the restart",
        error is None and not lost,
        error or f"{sum(lost.values())} lost, first {list(lost)[:3]}",
    )
    if idempotent:
        check(
            f"{label}: no record written twice",
            error is None and duplicates == 0,
            error or f"{duplicates} duplicates",
        )


def main():
    wrong = [(data, murmur2(data), want) for data, want in MURMUR2_VECTORS if murmur2(data) != want]
    check("checker: murmur2 matches Kafka's test vectors", not wrong, wrong)
    topics = [f"real-{codec}" for codec in CODECS] + ["real-timestamps", "real-crash", SESSION_TOPIC]
    topics += ["real-idempotent-none", "real-idempotent-zstd", "real-crash-idempotent"]
    errors = create_topics(topics)
    check(
        f"admin: created {len(topics)} topics with {PARTITIONS} partitions", not errors, errors
    )
    if not errors:
        for codec in CODECS:
            check_codec(codec)
        check_timestamps()
        check_metadata_v0()
        check_list_offsets_v1()
        check_fetch_budget()
        check_fetch_sessions()
        check_invalid_topic()
        check_auto_create()
        check_crash()
        for codec in ["none", "zstd"]:
            check_codec(codec, idempotent=True)
        check_crash(idempotent=True)
    print(f"real-mode: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
