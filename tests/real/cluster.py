"""Real mode, three brokers and a controller on 127.0.0.1, checked with confluent-kafka.

Starts the controller and three brokers (real TCP, real files) with a topic of three
partitions, replication factor 3 and min.insync.replicas 2. A producer with acks=all writes
while the leader of partition 0 is killed with SIGKILL and later restarted; then, in a second
round, while the leader of partition 1 is stopped with SIGTERM (a controlled shutdown: it must
hand its leaderships over before it exits, exit 0 and leave the clean-shutdown marker, which
its restart removes). Every record the producer saw acknowledged must then be read back.
Then topics made at run time go through the controller: CreateTopics with RF 3,
CreatePartitions, and a producer's auto-created topic, written with acks=all and read back.
Prints `cluster: N passed, M failed` and exits non-zero on any failure. Every process it
starts is killed on exit.

    python tests/real/cluster.py BROKER_BINARY WORK_DIR
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                  NewPartitions, NewTopic)

TOPIC = "rf3"
PARTITIONS = 3
RECORDS = 3000
PLACEMENT = "1,2,3/2,3,1/3,1,2"
COMMON = [
    "--config", "min.insync.replicas=2",
    # Auto-created topics get RF 3: with RF 1, min.insync.replicas 2 refuses every acks=all
    # write (NOT_ENOUGH_REPLICAS), as Kafka does.
    "--config", "default.replication.factor=3",
    "--config", "broker.session.timeout.ms=3000",
    "--config", "broker.heartbeat.interval.ms=500",
    "--config", "replica.lag.time.max.ms=5000",
]

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The controller and brokers 1 to 3 on free ports of 127.0.0.1, each with its own log dir
    under `work`; `topics` are `NAME=PLACEMENT` arguments given to every node at start and
    `configs` the `--config` arguments."""

    def __init__(self, binary, work, topics=(f"{TOPIC}={PLACEMENT}",), configs=COMMON):
        self.binary = binary
        self.work = work
        self.topics = [arg for topic in topics for arg in ("--topic", topic)]
        self.configs = list(configs)
        self.controller_port = free_port()
        self.ports = {i: free_port() for i in (1, 2, 3)}
        self.procs = {}

    def peers(self):
        out = []
        for i, port in self.ports.items():
            out += ["--peer", f"{i}@127.0.0.1:{port}"]
        return out

    def spawn(self, name, args):
        log = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen([self.binary] + args, stdout=log, stderr=log)

    def start_controller(self):
        args = ["--role", "controller", "--listen", f"127.0.0.1:{self.controller_port}",
                "--log-dir", os.path.join(self.work, "controller")]
        self.spawn("controller", args + self.topics + self.configs)

    def start_broker(self, i):
        args = ["--node-id", str(i), "--listen", f"127.0.0.1:{self.ports[i]}",
                "--log-dir", os.path.join(self.work, f"broker-{i}"),
                "--controller", f"127.0.0.1:{self.controller_port}"] + self.peers()
        self.spawn(f"broker-{i}", args + self.topics + self.configs)

    def kill(self, name):
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def terminate(self, name, timeout_s=30):
        """SIGTERM, then wait for the exit; returns (exit code, seconds it took)."""
        proc = self.procs.pop(name)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        return code, time.monotonic() - start

    def marker(self, i):
        """The clean-shutdown marker's content in broker i's log dir, or None."""
        path = os.path.join(self.work, f"broker-{i}", ".kafka_cleanshutdown")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def stop_all(self):
        for proc in self.procs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.procs.clear()

    def bootstrap(self):
        return ",".join(f"127.0.0.1:{p}" for p in self.ports.values())


def wait_for_leaders(bootstrap, timeout_s=30):
    """Until metadata names a leader for every partition; returns {partition: leader}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafkasim-cluster"})
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            metadata = consumer.list_topics(TOPIC, timeout=5)
            topic = metadata.topics.get(TOPIC)
            if topic and len(topic.partitions) == PARTITIONS:
                leaders = {p: topic.partitions[p].leader for p in range(PARTITIONS)}
                if all(leader > 0 for leader in leaders.values()):
                    return leaders
            time.sleep(0.5)
        return None
    finally:
        consumer.close()


def leaders_without(bootstrap, broker, timeout_s):
    """Until metadata names a leader other than `broker` for every partition, or None."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafkasim-cluster"})
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            topic = consumer.list_topics(TOPIC, timeout=1).topics.get(TOPIC)
            if topic and len(topic.partitions) == PARTITIONS:
                leaders = {p: topic.partitions[p].leader for p in range(PARTITIONS)}
                if all(leader > 0 and leader != broker for leader in leaders.values()):
                    return leaders
            time.sleep(0.05)
        return None
    finally:
        consumer.close()


def produce_round(cluster, prefix, on_disrupt, on_recover):
    """RECORDS acks=all sends; `on_disrupt` runs after a third, `on_recover` after two thirds.
    Returns (acknowledged values, failed values, records still in flight)."""
    acked, failed = [], []
    lock = threading.Lock()

    def on_delivery(error, message):
        with lock:
            (failed if error else acked).append(message.value())

    producer = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                         "enable.idempotence": False, "linger.ms": 5,
                         "message.timeout.ms": 60000, "retries": 1000000})
    for i in range(RECORDS):
        if i == RECORDS // 3:
            producer.flush(30)
            on_disrupt()
        if i == 2 * RECORDS // 3:
            on_recover()
        while True:
            try:
                producer.produce(TOPIC, key=str(i).encode(), value=f"{prefix}-{i}".encode(),
                                 partition=i % PARTITIONS, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        time.sleep(0.002)
    remaining = producer.flush(90)
    return acked, failed, remaining


def consume_all(bootstrap, timeout_s=60, topic=TOPIC, partitions=PARTITIONS):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafkasim-cluster",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        high = {}
        for p in range(partitions):
            _, hw = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            high[p] = hw
        consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])
        seen = set()
        next_offset = {p: 0 for p in range(partitions)}
        deadline = time.monotonic() + timeout_s
        while any(next_offset[p] < high[p] for p in range(partitions)):
            if time.monotonic() > deadline:
                return seen, f"timed out at {next_offset} of {high}"
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    return seen, f"consumer error: {message.error()}"
                seen.add(message.value())
                next_offset[message.partition()] = message.offset() + 1
        return seen, None
    finally:
        consumer.close()


def settled_partitions(admin, topic, count, timeout_s=20):
    """Replica counts of `topic`'s partitions once it has `count`, each led; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=5).topics.get(topic)
        if metadata and metadata.error is None and len(metadata.partitions) == count and all(
                p.leader >= 0 for p in metadata.partitions.values()):
            return sorted(len(p.replicas) for p in metadata.partitions.values())
        time.sleep(0.2)
    return None


def check_created_topics(bootstrap):
    """CreateTopics, CreatePartitions and auto-creation go through the controller: RF 3
    spread over the brokers, acks=all writes to every partition read back."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = "created-rf3"
    errors = {}
    for name, future in admin.create_topics([NewTopic(topic, num_partitions=4,
                                                      replication_factor=3)]).items():
        try:
            future.result(timeout=15)
        except Exception as error:  # noqa: BLE001 - reported
            errors[name] = error
    check("CreateTopics RF 3 through the controller", not errors, str(errors))
    replicas = settled_partitions(admin, topic, 4)
    check("the created topic: 4 partitions of 3 replicas, each led", replicas == [3] * 4,
          str(replicas))
    try:
        admin.create_topics([NewTopic("rf4", num_partitions=1,
                                      replication_factor=4)])["rf4"].result(timeout=15)
        refused = None
    except Exception as error:  # noqa: BLE001 - the expected refusal
        refused = error.args[0].name() if error.args else repr(error)
    check("RF 4 on 3 brokers is INVALID_REPLICATION_FACTOR",
          refused == "INVALID_REPLICATION_FACTOR", str(refused))
    try:
        admin.create_partitions([NewPartitions(topic, 6)])[topic].result(timeout=15)
        grown = None
    except Exception as error:  # noqa: BLE001 - reported
        grown = error
    replicas = settled_partitions(admin, topic, 6)
    check("CreatePartitions to 6 through the controller, RF 3 kept",
          grown is None and replicas == [3] * 6, f"{grown} {replicas}")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "enable.idempotence": False})
    acked, failed = [], []

    def report(error, message):
        (failed if error else acked).append(error or message.value())

    for i in range(600):
        producer.produce(topic, value=f"c-{i}".encode(), partition=i % 6, on_delivery=report)
        producer.produce("auto-created", value=f"a-{i}".encode(), on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(30)
    check("acks=all to the created topic and an auto-created one",
          remaining == 0 and not failed and len(acked) == 1200,
          f"{len(acked)} acknowledged, {len(failed)} failed ({failed[:2]}), {remaining} left")
    seen, error = consume_all(bootstrap, topic=topic, partitions=6)
    missing = [v for v in acked if v.startswith(b"c-") and v not in seen]
    check("the created topic's records read back", error is None and not missing,
          f"{error} {len(missing)} missing")


def topic_overrides(bootstrap, topic):
    """The topic's dynamic overrides as one broker describes them (each call may ask another)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=15)
    dynamic_topic_config = 1  # ConfigSource.DYNAMIC_TOPIC_CONFIG
    return {name: entry.value for name, entry in entries.items()
            if getattr(entry.source, "value", entry.source) == dynamic_topic_config}


def overrides_settle(ports, topic, expected, timeout_s=15):
    """Each broker alone (a client bootstrapped on it) describes `topic` with `expected`."""
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = [topic_overrides(f"127.0.0.1:{port}", topic) for port in ports]
        if all(s == expected for s in seen):
            return True, seen
        time.sleep(0.3)
    return False, seen


def check_topic_configs(cluster):
    """Topic configs go through the controller's metadata log: given at creation and changed
    with IncrementalAlterConfigs, every broker describes the topic with them."""
    bootstrap = cluster.bootstrap()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = "configured"
    new = NewTopic(topic, num_partitions=2, replication_factor=3,
                   config={"retention.ms": "3600000"})
    try:
        admin.create_topics([new])[topic].result(timeout=15)
        created = None
    except Exception as error:  # noqa: BLE001 - reported
        created = error
    check("CreateTopics with a config through the controller", created is None, str(created))
    settled_partitions(admin, topic, 2)
    ports = [cluster.ports[i] for i in (1, 2, 3)]
    ok, seen = overrides_settle(ports, topic, {"retention.ms": "3600000"})
    check("every broker describes the creation config", ok, str(seen))
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("min.insync.replicas", "2",
                    incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    try:
        admin.incremental_alter_configs([resource])[resource].result(timeout=15)
        altered = None
    except Exception as error:  # noqa: BLE001 - reported
        altered = error
    check("IncrementalAlterConfigs SET and DELETE", altered is None, str(altered))
    ok, seen = overrides_settle(ports, topic, {"min.insync.replicas": "2"})
    check("every broker describes the altered configs", ok, str(seen))
    # A dynamic broker config, broker 1's own (confluent-kafka refuses the empty name of the
    # cluster-wide default resource): broker 1 runs the topic with it, the others do not.
    own = ConfigResource(ConfigResource.Type.BROKER, "1", incremental_configs=[
        ConfigEntry("log.retention.ms", "7200000",
                    incremental_operation=AlterConfigOpType.SET)])
    try:
        admin.incremental_alter_configs([own])[own].result(timeout=15)
        altered = None
    except Exception as error:  # noqa: BLE001 - reported
        altered = error
    check("IncrementalAlterConfigs on broker 1's own configs", altered is None, str(altered))
    # librdkafka sends a topic's DescribeConfigs to a broker of its choosing, but a broker's
    # to that broker: each broker reports its own log.retention.ms.
    expected = [("7200000", 2), ("604800000", 5), ("604800000", 5)]
    deadline = time.monotonic() + 15
    seen = None
    while time.monotonic() < deadline:
        seen = [broker_config(bootstrap, i, "log.retention.ms") for i in (1, 2, 3)]
        if seen == expected:
            break
        time.sleep(0.3)
    check("broker 1 alone has the dynamic log.retention.ms (DYNAMIC_BROKER_CONFIG)",
          seen == expected, str(seen))


def broker_config(bootstrap, broker, key):
    """One config of a broker, as that broker describes itself: (value, source)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    entry = admin.describe_configs([resource])[resource].result(timeout=15)[key]
    return entry.value, getattr(entry.source, "value", entry.source)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    cluster = Cluster(binary, work)
    try:
        cluster.start_controller()
        for i in (1, 2, 3):
            cluster.start_broker(i)
        leaders = wait_for_leaders(cluster.bootstrap())
        check("every partition has a leader", leaders is not None, str(leaders))
        if leaders is None:
            return
        victim = leaders[0]
        acked, failed, remaining = produce_round(
            cluster, "v",
            lambda: cluster.kill(f"broker-{victim}"),
            lambda: cluster.start_broker(victim))
        check("every send completed", remaining == 0, f"{remaining} still in flight")
        check("writes acknowledged across the leader's kill -9", len(acked) >= RECORDS // 2,
              f"{len(acked)} acknowledged, {len(failed)} failed")
        leaders = wait_for_leaders(cluster.bootstrap())
        check("leaders after the restart", leaders is not None, str(leaders))
        if leaders is None:
            return

        # Round 2: a controlled shutdown of partition 1's leader.
        stopping = leaders[1]
        shutdown = {}

        def terminate():
            shutdown["exit"] = cluster.terminate(f"broker-{stopping}")
            shutdown["marker"] = cluster.marker(stopping)
            # Leadership moved before the exit: well within the 3 s session timeout a kill
            # -9 would have to wait out.
            shutdown["leaders"] = leaders_without(cluster.bootstrap(), stopping, 1.5)

        def restart():
            cluster.start_broker(stopping)

        more_acked, more_failed, remaining = produce_round(cluster, "w", terminate, restart)
        code, seconds = shutdown["exit"]
        check("SIGTERM: the broker exits 0", code == 0, f"exit {code} after {seconds:.2f} s")
        marker = shutdown["marker"]
        check("SIGTERM: the clean-shutdown marker names its broker epoch",
              marker is not None and '"broker_epoch":' in marker, repr(marker))
        check("SIGTERM: leadership moved off it within 1.5 s of its exit",
              shutdown["leaders"] is not None, str(shutdown["leaders"]))
        check("every send completed across the shutdown", remaining == 0,
              f"{remaining} still in flight")
        check("writes acknowledged across the controlled shutdown",
              len(more_acked) >= RECORDS // 2,
              f"{len(more_acked)} acknowledged, {len(more_failed)} failed")
        leaders = wait_for_leaders(cluster.bootstrap())
        check("leaders after the second restart", leaders is not None, str(leaders))
        check("the restart removed the clean-shutdown marker", cluster.marker(stopping) is None)
        seen, error = consume_all(cluster.bootstrap())
        check("drain", error is None, error or "")
        acked += more_acked
        missing = [v for v in acked if v not in seen]
        check("every acknowledged record is read back", not missing,
              f"{len(missing)} of {len(acked)} missing, e.g. {missing[:3]}")
        check_created_topics(cluster.bootstrap())
        check_topic_configs(cluster)
    finally:
        cluster.stop_all()
        passed = sum(results)
        print(f"cluster: {passed} passed, {len(results) - passed} failed", flush=True)
    sys.exit(0 if all(results) and results else 1)


if __name__ == "__main__":
    main()
