#!/usr/bin/env python3
"""Conformance of two more real clients against the real-mode broker: kcat (Debian's package,
librdkafka's command-line client) and kafka-python 3.x with its default settings. Each check
fails on any error the client reports or logs, not only on a wrong result.

Started by tests/real/run.sh with KAFKASIM_BOOTSTRAP=127.0.0.1:PORT in the environment.

Checks:
  kcat-metadata   `kcat -L` lists the broker and the topics, nothing on stderr.
  kcat-<codec>    300 keyed lines produced with `kcat -P -z <codec>` to a topic that does not
                  exist yet (auto-created) are read back by `kcat -C -e`, in order, exactly.
  kafka-python-produce  KafkaProducer() with its defaults (idempotence on)
                  (the broker has no InitProducerId yet) sends 1,000 records to a new topic
                  (auto-created); all acknowledged.
  kafka-python-consume  KafkaConsumer (no group: assign) reads them back exactly, in order.
  kafka-python-admin  KafkaAdminClient creates and lists a topic.

Exits non-zero on any failed check; the last line is `clients: N passed, M failed`.
"""

import logging
import os
import shutil
import subprocess
import sys

BOOTSTRAP = os.environ["KAFKASIM_BOOTSTRAP"]
KCAT_CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
KCAT_LINES = 300
PYTHON_RECORDS = 1_000

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


def kcat(args, stdin=None, timeout=60):
    return subprocess.run(
        ["kcat", "-b", BOOTSTRAP, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def client_errors(stderr):
    """The lines of kcat's stderr that report a problem: its own `% ERROR:` / `% FATAL:`
    lines and librdkafka's log lines at level 4 (warning) or worse (`%0|` … `%4|`). Its
    `% Reached end of topic` notices are not problems."""
    return [
        line
        for line in stderr.decode(errors="replace").splitlines()
        if line.startswith(("% ERROR", "% FATAL", "%0|", "%1|", "%2|", "%3|", "%4|"))
    ]


def check_kcat():
    if shutil.which("kcat") is None:
        check("kcat: installed", False, "kcat is not on PATH (apt-get install kcat)")
        return
    listed = kcat(["-L"])
    check(
        "kcat-metadata: kcat -L lists the broker",
        listed.returncode == 0 and b"1 brokers:" in listed.stdout and not client_errors(listed.stderr),
        f"rc {listed.returncode}, stderr {listed.stderr[-500:]!r}",
    )
    for codec in KCAT_CODECS:
        topic = f"kcat-{codec}"
        lines = "".join(f"key-{i}:{codec}-value-{i}\n" for i in range(KCAT_LINES)).encode()
        produced = kcat(["-P", "-t", topic, "-p", "0", "-K:", "-z", codec], stdin=lines)
        consumed = kcat(
            ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%k:%s\n"]
        )
        errors = client_errors(produced.stderr + consumed.stderr)
        check(
            f"kcat-{codec}: {KCAT_LINES} keyed lines produced (topic auto-created) and read back",
            produced.returncode == 0
            and consumed.returncode == 0
            and consumed.stdout == lines
            and not errors,
            f"rc {produced.returncode}/{consumed.returncode}, "
            f"read {len(consumed.stdout.splitlines())} lines, stderr {errors[-500:]!r}",
        )


class ErrorLog(logging.Handler):
    """Every log record at ERROR or above from the client library."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")


def check_kafka_python():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    errors = ErrorLog()
    logging.getLogger("kafka").addHandler(errors)
    logging.getLogger("kafka").setLevel(logging.WARNING)

    topic = "kafka-python-defaults"
    # Every default: kafka-python 3.x turns idempotence on (InitProducerId, then producer ids
    # and sequences in every batch).
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP)
    futures = [producer.send(topic, f"py-{i}".encode()) for i in range(PYTHON_RECORDS)]
    producer.flush(timeout=60)
    acked, failures = [], []
    for future in futures:
        try:
            acked.append(future.get(timeout=30))
        except Exception as error:  # noqa: BLE001 - reported, not swallowed
            failures.append(repr(error))
    producer.close()
    check(
        f"kafka-python-produce: {PYTHON_RECORDS} records with KafkaProducer's defaults",
        len(acked) == PYTHON_RECORDS and not failures and not errors.records,
        f"acked {len(acked)}, failures {failures[:3]}, logged {errors.records[:3]}",
    )

    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, consumer_timeout_ms=5_000)
    partitions = sorted(consumer.partitions_for_topic(topic) or [])
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    values = [message.value for message in consumer]
    consumer.close()
    want = sorted(f"py-{i}".encode() for i in range(PYTHON_RECORDS))
    check(
        "kafka-python-consume: KafkaConsumer reads every record back",
        sorted(values) == want and not errors.records,
        f"read {len(values)} of {PYTHON_RECORDS}, logged {errors.records[:3]}",
    )

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    admin.create_topics([NewTopic("kafka-python-admin", num_partitions=2, replication_factor=1)])
    listed = admin.list_topics()
    admin.close()
    check(
        "kafka-python-admin: KafkaAdminClient creates and lists a topic",
        "kafka-python-admin" in listed and not errors.records,
        f"listed {listed}, logged {errors.records[:3]}",
    )


def main():
    check_kcat()
    try:
        check_kafka_python()
    except Exception as error:  # noqa: BLE001 - a client that throws fails the check
        check("kafka-python: no exception", False, repr(error))
    print(f"clients: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
