"""Real mode, consumer groups: three brokers and a controller on 127.0.0.1, checked with
confluent-kafka consumers in processes of their own.

For each assignor (range, roundrobin, cooperative-sticky) a topic of 6 partitions, RF 3: three
consumers of one group, each its own process, subscribe; a producer (acks=all) writes RECORDS
records and keeps every acknowledged (partition, offset); a third of the way through one
consumer process is killed with SIGKILL, and the two left must take its partitions over once
its session times out and consume to the end. The three groups run side by side. Checked:

- every acknowledged record was processed by some consumer (re-deliveries are allowed, and
  counted: what the killed consumer processed but had not committed is delivered again);
- the group's committed offsets end equal to every partition's log end offset;
- the AdminClient lists the group, and describes it Stable with the two survivors as members
  and the 6 partitions split between them.

Then the range group's coordinator is killed with SIGKILL: another broker must serve its
committed offsets and the Stable group (replayed from `__consumer_offsets`), and the killed
broker is restarted. Then, when given the tools binary, `kafkasim-tools consumer-groups` on the range group:
`--list`; `--describe` with its members (offsets, lag 0, consumer id, host, client id); the
reset refused while the group has members; the survivors closed, records added (lag shows);
`--reset-offsets` to the earliest, to an offset and to the latest, each seen by `--describe`
and by the AdminClient.

Prints `groups: N passed, M failed` and exits non-zero on any failure. Every process it
starts is killed on exit.

    python tests/real/groups.py BROKER_BINARY WORK_DIR [TOOLS_BINARY]

A consumer process is this script again: `groups.py --consume BOOTSTRAP GROUP TOPIC STRATEGY
CLIENT_ID OUT_FILE` appends `partition offset` per record it processed to OUT_FILE, then
commits, until SIGTERM (it closes, leaving the group) or SIGKILL.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import traceback

from confluent_kafka import (Consumer, ConsumerGroupState, ConsumerGroupTopicPartitions,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient

from cluster import Cluster

ASSIGNORS = ("range", "roundrobin", "cooperative-sticky")
PARTITIONS = 6
PLACEMENT = "1,2,3/2,3,1/3,1,2/1,2,3/2,3,1/3,1,2"
RECORDS = 3000
SESSION_TIMEOUT_MS = 6000
COMMIT_INTERVAL_S = 1.0
CONFIGS = [
    "--config", "min.insync.replicas=2",
    "--config", "broker.session.timeout.ms=3000",
    "--config", "broker.heartbeat.interval.ms=500",
    "--config", "offsets.topic.num.partitions=5",
    "--config", "offsets.topic.replication.factor=3",
    "--config", "group.initial.rebalance.delay.ms=200",
    "--config", "group.min.session.timeout.ms=1000",
]

results = []
print_lock = threading.Lock()


def check(name, ok, detail=""):
    with print_lock:
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def topic_of(assignor):
    return f"grp-{assignor}"


def group_of(assignor):
    return f"group-{assignor}"


# --- the consumer process -------------------------------------------------------------------

def consume(bootstrap, group, topic, strategy, client_id, out_path):
    """Process (append to OUT_FILE, flushed to the OS) and then commit what was processed; an
    offset whose commit failed (a rebalance) is committed again while its partition stays."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
        "partition.assignment.strategy": strategy, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": 500})
    consumer.subscribe([topic])
    pending = {}  # partition -> next offset processed but not yet committed
    committed_at = time.monotonic()
    with open(out_path, "a", buffering=1) as out:
        while not stop.is_set():
            batch = consumer.consume(num_messages=100, timeout=0.2)
            for message in batch:
                if message.error():
                    continue
                out.write(f"{message.partition()} {message.offset()}\n")
                pending[message.partition()] = message.offset() + 1
            out.flush()
            # Commit once a second while records flow (as auto-commit would, so a kill leaves
            # some processed records uncommitted), and at once when idle.
            if batch and time.monotonic() - committed_at < COMMIT_INTERVAL_S:
                continue
            committed_at = time.monotonic()
            owned = {tp.partition for tp in consumer.assignment()}
            offsets = [TopicPartition(topic, p, o) for p, o in pending.items() if p in owned]
            if offsets:
                try:
                    consumer.commit(offsets=offsets, asynchronous=False)
                    for tp in offsets:
                        if pending.get(tp.partition) == tp.offset:
                            del pending[tp.partition]
                except KafkaException:
                    pass  # a rebalance: tried again next round if the partition stays here
            for p in [p for p in pending if p not in owned]:
                del pending[p]
    consumer.close()


# --- one assignor's round -------------------------------------------------------------------

class Round:
    def __init__(self, cluster, work, assignor):
        self.cluster = cluster
        self.assignor = assignor
        self.topic = topic_of(assignor)
        self.group = group_of(assignor)
        self.work = work
        self.consumers = {}  # client id -> process
        self.outputs = {}  # client id -> path

    def start_consumers(self):
        for i in range(3):
            client_id = f"{self.assignor}-{i}"
            path = os.path.join(self.work, f"{client_id}.txt")
            self.outputs[client_id] = path
            log = open(os.path.join(self.work, f"{client_id}.log"), "ab")
            self.consumers[client_id] = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--consume", self.cluster.bootstrap(),
                 self.group, self.topic, self.assignor, client_id, path],
                stdout=log, stderr=log)

    def kill(self, client_id):
        proc = self.consumers.pop(client_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_consumers(self):
        """SIGTERM: each closes its consumer (LeaveGroup) and exits 0; returns the codes."""
        codes = {}
        for client_id, proc in self.consumers.items():
            proc.send_signal(signal.SIGTERM)
        for client_id, proc in self.consumers.items():
            try:
                codes[client_id] = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[client_id] = proc.wait()
        self.consumers.clear()
        return codes

    def processed(self, client_id):
        try:
            with open(self.outputs[client_id]) as f:
                return [tuple(map(int, line.split())) for line in f if line.count(" ") == 1]
        except FileNotFoundError:
            return []

    def name(self, text):
        return f"{self.assignor}: {text}"

    def run(self):
        admin = AdminClient({"bootstrap.servers": self.cluster.bootstrap()})
        self.start_consumers()
        description = wait_for_group(admin, self.group, lambda d: stable_with(d, 3), 30)
        check(self.name("three members join, Stable"), stable_with(description, 3),
              describe_text(description))
        # The victim is a member with partitions: it must have something to hand over.
        victim = sorted(self.consumers)[0]
        acked, failed, remaining = self.produce(lambda: self.kill(victim), victim)
        check(self.name("every send acknowledged"), not failed and remaining == 0,
              f"{len(acked)} acknowledged, {len(failed)} failed, {remaining} in flight")
        log_end = log_end_offsets(self.cluster.bootstrap(), self.topic)
        committed = wait_for_committed(admin, self.group, self.topic, log_end, 60)
        check(self.name("committed offsets reach every partition's log end offset"),
              committed == log_end, f"committed {committed}, log end {log_end}")
        survivors = set(self.consumers)
        description = wait_for_group(admin, self.group, lambda d: stable_with(d, 2), 20)
        members = {m.client_id: {tp.partition for tp in m.assignment.topic_partitions}
                   for m in (description.members if description else [])}
        hosts = {m.host for m in (description.members if description else [])}
        assigned = sorted(p for ps in members.values() for p in ps)
        check(self.name("described Stable, the two survivors sharing the 6 partitions"),
              stable_with(description, 2) and set(members) == survivors
              and assigned == list(range(PARTITIONS)) and hosts == {"/127.0.0.1"},
              f"{describe_text(description)} hosts {hosts}")
        listed = admin.list_consumer_groups().result(timeout=15)
        ids = {g.group_id for g in listed.valid}
        check(self.name("listed by ListGroups"), self.group in ids, str(sorted(ids)))
        seen = {}
        for client_id in self.outputs:
            for record in self.processed(client_id):
                seen[record] = seen.get(record, 0) + 1
        missing = [r for r in acked if r not in seen]
        redelivered = sum(n - 1 for n in seen.values())
        check(self.name("every acknowledged record processed by some consumer"),
              not missing and len(acked) == RECORDS,
              f"{len(acked)} acknowledged, {len(missing)} missing (e.g. {missing[:3]}), "
              f"{redelivered} re-delivered, victim {victim} processed "
              f"{len(self.processed(victim))}")

    def produce(self, kill, victim):
        """RECORDS acks=all sends over a few seconds; a third of the way through (once the
        victim has processed something) `kill` runs. Returns (acknowledged (partition,
        offset)s, failures, records in flight)."""
        acked, failed = [], []
        lock = threading.Lock()

        def on_delivery(error, message):
            with lock:
                if error:
                    failed.append(error)
                else:
                    acked.append((message.partition(), message.offset()))

        producer = Producer({"bootstrap.servers": self.cluster.bootstrap(), "acks": "all",
                             "linger.ms": 5, "enable.idempotence": False})
        for i in range(RECORDS):
            if i == RECORDS // 3:
                producer.flush(30)
                deadline = time.monotonic() + 20
                while not self.processed(victim) and time.monotonic() < deadline:
                    time.sleep(0.1)
                kill()
            producer.produce(self.topic, value=f"{self.assignor}-{i}".encode(),
                             partition=i % PARTITIONS, on_delivery=on_delivery)
            producer.poll(0)
            if i % 100 == 0:
                time.sleep(0.1)
        remaining = producer.flush(60)
        return acked, failed, remaining


# --- helpers over the AdminClient -----------------------------------------------------------

def describe(admin, group):
    try:
        return admin.describe_consumer_groups([group])[group].result(timeout=15)
    except (KafkaException, TimeoutError):
        return None


def stable_with(description, members):
    return (description is not None and description.state == ConsumerGroupState.STABLE
            and len(description.members) == members)


def describe_text(description):
    if description is None:
        return "not described"
    members = {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
               for m in description.members}
    return f"{description.state} {members}"


def wait_for_group(admin, group, predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    description = None
    while time.monotonic() < deadline:
        description = describe(admin, group)
        if predicate(description):
            break
        time.sleep(0.3)
    return description


def committed_offsets(admin, group, topic):
    """{partition: committed offset} of `group` on `topic` (OffsetFetch through the admin)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p)
                                                   for p in range(PARTITIONS)])
    try:
        result = admin.list_consumer_group_offsets([request])[group].result(timeout=15)
    except (KafkaException, TimeoutError):
        return None
    return {tp.partition: tp.offset for tp in result.topic_partitions}


def wait_for_committed(admin, group, topic, expected, timeout_s):
    deadline = time.monotonic() + timeout_s
    committed = None
    while time.monotonic() < deadline:
        committed = committed_offsets(admin, group, topic)
        if committed == expected:
            break
        time.sleep(0.3)
    return committed


def log_end_offsets(bootstrap, topic, timeout_s=20):
    """{partition: log end offset}, asked again while leadership moves (NOT_LEADER after a
    broker's restart, until the client's metadata catches up)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "groups-watermarks"})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return {p: consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                          timeout=10)[1]
                        for p in range(PARTITIONS)}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        consumer.close()


# --- the coordinator's kill -9 ------------------------------------------------------------

def check_coordinator_failover(cluster, round_):
    """The range group's coordinator is killed with SIGKILL: the broker that leads its
    `__consumer_offsets` partition next loads it, serves the committed offsets, and the two
    members carry on in a Stable group there. Then the killed broker is restarted."""
    bootstrap = cluster.bootstrap()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    group, topic = round_.group, round_.topic
    before = describe(admin, group)
    coordinator = before.coordinator.id if before is not None else None
    check("the range group has a coordinator", coordinator in (1, 2, 3), str(coordinator))
    if coordinator not in (1, 2, 3):
        return
    log_end = log_end_offsets(bootstrap, topic)
    cluster.kill(f"broker-{coordinator}")
    live = ",".join(f"127.0.0.1:{port}" for i, port in cluster.ports.items() if i != coordinator)
    admin = AdminClient({"bootstrap.servers": live})
    moved = wait_for_group(admin, group, lambda d: stable_with(d, 2)
                           and d.coordinator.id != coordinator, 30)
    check("after the coordinator's kill -9 another broker coordinates the group, Stable with "
          "both members", stable_with(moved, 2) and moved.coordinator.id != coordinator,
          f"{describe_text(moved)} at {moved.coordinator.id if moved else None}")
    committed = wait_for_committed(admin, group, topic, log_end, 20)
    check("its committed offsets are served by the new coordinator", committed == log_end,
          f"committed {committed}, log end {log_end}")
    cluster.start_broker(coordinator)
    check("every partition has a leader after the restart", wait_for_leaders(bootstrap), "")


# --- kafkasim-tools consumer-groups ---------------------------------------------------------

def tool(tools, bootstrap, *args):
    """Runs `kafkasim-tools consumer-groups`; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([tools, "--bootstrap", bootstrap.split(",")[0], "consumer-groups",
                           *args], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def described_rows(stdout, group):
    """The --describe table's rows of `group`: {partition: (current, log end, lag, consumer id,
    host, client id)} ("-" where there is none)."""
    rows = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) == 9 and fields[0] == group:
            rows[int(fields[2])] = tuple(fields[3:])
    return rows


def check_tools(tools, cluster, round_):
    bootstrap = cluster.bootstrap()
    group, topic = round_.group, round_.topic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    code, out, err = tool(tools, bootstrap, "--list")
    listed = set(out.split())
    check("tools: --list names every group", code == 0
          and {group_of(a) for a in ASSIGNORS} <= listed, f"exit {code}: {out!r} {err!r}")

    log_end = log_end_offsets(bootstrap, topic)
    code, out, err = tool(tools, bootstrap, "--describe", "--group", group)
    rows = described_rows(out, group)
    survivors = set(round_.consumers)
    ok = code == 0 and sorted(rows) == list(range(PARTITIONS)) and all(
        rows[p][0] == str(log_end[p]) and rows[p][1] == str(log_end[p]) and rows[p][2] == "0"
        and rows[p][3] != "-" and rows[p][4] != "-" and rows[p][5] in survivors
        for p in rows)
    check("tools: --describe with members: offsets, lag 0, consumer id, host, client id", ok,
          f"exit {code}: {out!r} {err!r}")

    code, out, err = tool(tools, bootstrap, "--reset-offsets", "--group", group, "--topic",
                          topic, "--to-earliest", "--execute")
    check("tools: --reset-offsets refused while the group has members",
          code != 0 and "Stable" in err, f"exit {code}: {out!r} {err!r}")

    codes = round_.stop_consumers()
    check("the survivors close and exit 0", set(codes.values()) == {0}, str(codes))
    description = wait_for_group(admin, group,
                                 lambda d: d is not None and d.state == ConsumerGroupState.EMPTY,
                                 15)
    check("the group is Empty once they left", description is not None
          and description.state == ConsumerGroupState.EMPTY, describe_text(description))

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for p in range(PARTITIONS):
        for i in range(10):
            producer.produce(topic, value=b"late", partition=p)
    producer.flush(30)
    code, out, err = tool(tools, bootstrap, "--describe", "--group", group)
    rows = described_rows(out, group)
    ok = code == 0 and sorted(rows) == list(range(PARTITIONS)) and all(
        rows[p][:3] == (str(log_end[p]), str(log_end[p] + 10), "10")
        and rows[p][3:] == ("-", "-", "-") for p in rows) and "no active members" in out
    check("tools: --describe of the emptied group: lag 10 per partition, no members", ok,
          f"exit {code}: {out!r} {err!r}")

    for args, expected in ((["--to-earliest"], {p: 0 for p in range(PARTITIONS)}),
                           (["--to-offset", "5"], {p: 5 for p in range(PARTITIONS)}),
                           (["--to-latest"], {p: log_end[p] + 10 for p in range(PARTITIONS)})):
        code, out, err = tool(tools, bootstrap, "--reset-offsets", "--group", group, "--topic",
                              topic, *args, "--execute")
        printed = {int(f[2]): int(f[3]) for f in (line.split() for line in out.splitlines())
                   if len(f) == 4 and f[0] == group}
        _, described, _ = tool(tools, bootstrap, "--describe", "--group", group)
        rows = described_rows(described, group)
        current = {p: int(row[0]) for p, row in rows.items()}
        fetched = committed_offsets(admin, group, topic)
        check(f"tools: --reset-offsets {' '.join(args)}: printed, described, fetched",
              code == 0 and printed == expected and current == expected and fetched == expected,
              f"exit {code}: printed {printed}, described {current}, fetched {fetched}, "
              f"{err!r}")


def main():
    # SIGTERM (a timeout's) unwinds through the finally below, which kills what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binary, work = sys.argv[1], sys.argv[2]
    tools = sys.argv[3] if len(sys.argv) > 3 else None
    topics = [f"{topic_of(a)}={PLACEMENT}" for a in ASSIGNORS]
    cluster = Cluster(binary, work, topics=topics, configs=CONFIGS)
    rounds = [Round(cluster, work, a) for a in ASSIGNORS]
    try:
        cluster.start_controller()
        for i in (1, 2, 3):
            cluster.start_broker(i)
        leaders = wait_for_leaders(cluster.bootstrap())
        check("every partition has a leader", leaders, "")
        # The first FindCoordinator creates __consumer_offsets with a replication factor capped
        # at the unfenced brokers its receiver knows: all three first, or it may get RF 1.
        seen = wait_for_brokers(cluster)
        check("every broker sees the three brokers", seen, "")
        if not leaders or not seen:
            return
        threads = [threading.Thread(target=r.run) for r in rounds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        replicas = offsets_topic_replicas(cluster.bootstrap())
        if replicas == [3] * 5:
            check_coordinator_failover(cluster, rounds[0])
        else:
            # The broker caps the offsets topic's replication factor at the brokers unfenced
            # when the first FindCoordinator arrives; a broker fenced then (a slow start on a
            # loaded machine) leaves fewer replicas, and a coordinator's loss would lose its
            # groups. Nothing to fail over to: said, not counted.
            print(f"skip the coordinator's kill -9: __consumer_offsets has replicas {replicas}",
                  flush=True)
        if tools:
            check_tools(tools, cluster, rounds[0])
    except Exception:  # noqa: BLE001 - a check that could not run is a failed one
        check("the checks ran to the end", False, traceback.format_exc())
    finally:
        for r in rounds:
            for proc in r.consumers.values():
                proc.kill()
                proc.wait()
        cluster.stop_all()
        passed = sum(results)
        print(f"groups: {passed} passed, {len(results) - passed} failed", flush=True)
    sys.exit(0 if all(results) and results else 1)


def wait_for_leaders(bootstrap, timeout_s=30):
    """Until metadata names a leader for every partition of every group topic."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=5)
        if all(len(getattr(metadata.topics.get(topic_of(a)), "partitions", {})) == PARTITIONS
               and all(p.leader > 0 for p in metadata.topics[topic_of(a)].partitions.values())
               for a in ASSIGNORS):
            return True
        time.sleep(0.3)
    return False


def wait_for_brokers(cluster, timeout_s=30):
    """Until each broker, asked alone, describes three unfenced brokers (DescribeCluster
    leaves the fenced out, as the offsets topic's creation counts them)."""
    deadline = time.monotonic() + timeout_s
    for port in cluster.ports.values():
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        while len(admin.describe_cluster().result(timeout=10).nodes) < 3:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.3)
    return True


def offsets_topic_replicas(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = admin.list_topics("__consumer_offsets", timeout=5).topics.get("__consumer_offsets")
    partitions = topic.partitions.values() if topic is not None else []
    return sorted(len(p.replicas) for p in partitions)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--consume"]:
        consume(*sys.argv[2:8])
    else:
        main()
