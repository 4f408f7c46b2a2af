"""Kafka's admin surface against a real-mode kafkasim broker, through confluent-kafka's
AdminClient (librdkafka), which picks its versions from the broker's ApiVersions.

    python3 tests/real/admin.py 127.0.0.1:9092

Creates topic `admin-check` (2 partitions), then: describe_cluster; describe_configs of the
topic and of the broker; incremental_alter_configs and alter_configs of the topic, checked
through describe_configs and through a produce the new max.message.bytes refuses;
create_partitions to 3; produce with timestamps, list_offsets with OffsetSpec.max_timestamp,
earliest and latest; delete_records; and the codes for an unknown topic and a bad value.
Exits non-zero (with the failing check) on the first surprise.
"""

import sys
import time

from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, OffsetSpec)

TOPIC = "admin-check"


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def result(future):
    return future.result(timeout=15)


def kafka_error(future):
    try:
        future.result(timeout=15)
    except KafkaException as error:
        return error.args[0]
    return None


def topic_configs(admin):
    resource = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    return result(admin.describe_configs([resource])[resource])


def first_describe(admin):
    """The first DescribeConfigs, retried once if librdkafka reports it unsupported: seen once
    in 15 runs when its request went out on a connection whose ApiVersions exchange had not
    finished (the same broker answers it on every other run). Printed when it happens."""
    try:
        return topic_configs(admin)
    except KafkaException as error:
        if "not supported by broker" not in str(error):
            raise
        print(f"note: first DescribeConfigs retried after: {error}")
        time.sleep(1)
        return topic_configs(admin)


def main(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])
    result(futures[TOPIC])

    cluster = result(admin.describe_cluster(include_authorized_operations=True))
    check(cluster.cluster_id == "kafkasim", f"describe_cluster id {cluster.cluster_id}")
    check(len(cluster.nodes) >= 1, f"describe_cluster nodes {cluster.nodes}")

    configs = first_describe(admin)
    retention = configs["retention.ms"]
    check(retention.value == "604800000", f"retention.ms default {retention.value}")
    check(retention.source == 5, f"retention.ms source {retention.source} (DEFAULT_CONFIG)")
    broker = ConfigResource(ConfigResource.Type.BROKER, str(cluster.nodes[0].id))
    broker_configs = result(admin.describe_configs([broker])[broker])
    check(broker_configs["node.id"].value == str(cluster.nodes[0].id), "broker node.id")

    resource = ConfigResource(
        ConfigResource.Type.TOPIC, TOPIC,
        incremental_configs=[ConfigEntry("max.message.bytes", "100",
                                         incremental_operation=AlterConfigOpType.SET)])
    result(admin.incremental_alter_configs([resource])[resource])
    configs = topic_configs(admin)
    check(configs["max.message.bytes"].value == "100", "incremental_alter_configs applied")
    check(configs["max.message.bytes"].source == 1, "source DYNAMIC_TOPIC_CONFIG")
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 100000,
                         "linger.ms": 0})
    errors = []
    producer.produce(TOPIC, value=b"x" * 1000, partition=0,
                     on_delivery=lambda error, _: errors.append(error))
    producer.flush(15)
    check(errors and errors[0] is not None and errors[0].name() == "MSG_SIZE_TOO_LARGE",
          f"a 1000-byte record refused: {errors}")

    bad = ConfigResource(
        ConfigResource.Type.TOPIC, TOPIC,
        incremental_configs=[ConfigEntry("min.insync.replicas", "0",
                                         incremental_operation=AlterConfigOpType.SET)])
    error = kafka_error(admin.incremental_alter_configs([bad])[bad])
    check(error is not None and error.name() == "INVALID_CONFIG", f"bad value: {error}")
    missing = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")
    error = kafka_error(admin.describe_configs([missing])[missing])
    check(error is not None and error.name() == "UNKNOWN_TOPIC_OR_PART",
          f"unknown topic: {error}")

    # AlterConfigs replaces the set: max.message.bytes goes back to its default.
    legacy = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, set_config={"flush.messages": "1"})
    result(admin.alter_configs([legacy])[legacy])
    configs = topic_configs(admin)
    check(configs["max.message.bytes"].source == 5, "alter_configs replaced the set")

    result(admin.create_partitions([NewPartitions(TOPIC, 3)])[TOPIC])
    metadata = admin.list_topics(TOPIC, timeout=10)
    check(len(metadata.topics[TOPIC].partitions) == 3, "create_partitions to 3")

    # A producer of its own: the first one's metadata predates the new partition.
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    now = int(time.time() * 1000)
    for offset, stamp in enumerate([now - 3000, now - 1000, now - 2000]):
        producer.produce(TOPIC, value=b"v%d" % offset, partition=2, timestamp=stamp)
    check(producer.flush(15) == 0, "three records on the new partition")
    tp = TopicPartition(TOPIC, 2)
    offsets = admin.list_offsets({tp: OffsetSpec.max_timestamp()})
    answer = result(offsets[tp])
    check(answer.offset == 1 and answer.timestamp == now - 1000,
          f"max_timestamp: offset {answer.offset} timestamp {answer.timestamp}")
    check(result(admin.list_offsets({tp: OffsetSpec.latest()})[tp]).offset == 3, "latest")

    deleted = next(iter(admin.delete_records([TopicPartition(TOPIC, 2, 2)]).values()))
    low_watermark = result(deleted).low_watermark
    check(low_watermark == 2, f"delete_records low watermark {low_watermark}")
    earliest = result(admin.list_offsets({tp: OffsetSpec.earliest()})[tp])
    check(earliest.offset == 2, f"earliest after delete_records {earliest.offset}")
    beyond = next(iter(admin.delete_records([TopicPartition(TOPIC, 2, 10)]).values()))
    error = kafka_error(beyond)
    check(error is not None and error.name() == "OFFSET_OUT_OF_RANGE",
          f"delete_records past the high watermark: {error}")
    print("admin surface: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092")
