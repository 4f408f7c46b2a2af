#!/usr/bin/env bash
# Real-mode test: build the real broker, start it on 127.0.0.1 with a fresh log dir, and run
# tests/real/check_real.py (confluent-kafka / librdkafka) and tests/real/check_clients.py
# (kcat, kafka-python) against it; the broker is killed on exit whatever happens. Then
# kafkasim's own tools against it (topics, produce, consume, and a short producer-perf-test
# read back by consumer-perf-test). Then tests/real/cluster.py: three brokers and a
# controller, a leader killed with SIGKILL during acks=all production, then another stopped
# with SIGTERM (controlled shutdown). Then tests/real/groups.py: three consumer processes per
# assignor in one group, one killed with SIGKILL, the others consuming to the end; and
# kafkasim-tools consumer-groups on that cluster. Exits non-zero if the build or any check fails.
#
#   bash tests/real/run.sh
#
# The venv lives in .venv-real/ (gitignored) and is created on first use.
set -euo pipefail

CONFLUENT_KAFKA_VERSION=2.16.1
KAFKA_PYTHON_VERSION=3.0.12

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

echo "== building the real-mode broker"
# .cargo/config.toml makes --cfg madsim the default: override it, in a target dir of its own.
RUSTFLAGS= cargo build --release --target-dir target/real --bin kafkasim-broker --bin kafkasim-tools
broker_bin="$root/target/real/release/kafkasim-broker"
tools_bin="$root/target/real/release/kafkasim-tools"

if [[ ! -x .venv-real/bin/python ]]; then
    echo "== creating .venv-real"
    python3 -m venv .venv-real
fi
if ! .venv-real/bin/python -c "import confluent_kafka, sys; sys.exit(confluent_kafka.__version__ != '$CONFLUENT_KAFKA_VERSION')" 2>/dev/null; then
    .venv-real/bin/pip install --quiet "confluent-kafka==$CONFLUENT_KAFKA_VERSION"
fi
if ! .venv-real/bin/python -c "import kafka, sys; sys.exit(kafka.__version__ != '$KAFKA_PYTHON_VERSION')" 2>/dev/null; then
    .venv-real/bin/pip install --quiet "kafka-python==$KAFKA_PYTHON_VERSION"
fi

work_dir="$(mktemp -d -t kafkasim-real.XXXXXX)"
pid_file="$work_dir/broker.pid"
broker_log="$work_dir/broker.log"
cleanup() {
    local status=$?
    # The crash check restarts the broker and rewrites the pid file, so kill what it names.
    if [[ -f "$pid_file" ]]; then
        kill -9 "$(cat "$pid_file")" 2>/dev/null || true
    fi
    if [[ $status -ne 0 ]]; then
        echo "== broker log (last 40 lines of $broker_log)"
        tail -n 40 "$broker_log" 2>/dev/null || true
        echo "== kept $work_dir for inspection"
    else
        rm -rf "$work_dir"
    fi
    exit $status
}
trap cleanup EXIT
trap "exit 130" INT TERM

# A free port on 127.0.0.1, chosen by the kernel.
port="$(.venv-real/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

"$broker_bin" --node-id 1 --listen "127.0.0.1:$port" --log-dir "$work_dir/log" \
    >>"$broker_log" 2>&1 &
echo $! >"$pid_file"
disown  # the crash check kills it; no job-control notice for that

listening=false
for _ in $(seq 100); do
    if .venv-real/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        listening=true
        break
    fi
    sleep 0.1
done
if [[ $listening != true ]]; then
    echo "the broker is not listening on 127.0.0.1:$port after 10 s" >&2
    exit 1
fi

echo "== running checks against 127.0.0.1:$port"
KAFKASIM_BROKER_BIN="$broker_bin" \
KAFKASIM_BOOTSTRAP="127.0.0.1:$port" \
KAFKASIM_LOG_DIR="$work_dir/log" \
KAFKASIM_PID_FILE="$pid_file" \
KAFKASIM_BROKER_LOG="$broker_log" \
    .venv-real/bin/python tests/real/check_real.py

# kcat (Debian's package; .ci/run installs it) and kafka-python 3.x against the same broker.
echo "== kcat and kafka-python against 127.0.0.1:$port"
KAFKASIM_BOOTSTRAP="127.0.0.1:$port" .venv-real/bin/python tests/real/check_clients.py

# Kafka's admin surface through confluent-kafka's AdminClient.
echo "== admin APIs (confluent-kafka AdminClient) against 127.0.0.1:$port"
.venv-real/bin/python tests/real/admin.py "127.0.0.1:$port"

# kafkasim's own clients over real TCP, through the command-line tools: create, describe,
# produce keyed lines, consume them back, delete.
echo "== kafkasim-tools against 127.0.0.1:$port"
tools() { "$tools_bin" --bootstrap "127.0.0.1:$port" "$@"; }
tools topics --create tools-check --partitions 3
tools topics --describe tools-check | grep -c "leader 1" | grep -qx 3
seq 1 300 | sed 's/^/key-/; s/$/:value/' | awk -F: '{print $1 ":" $1 "-" $2}' | tools produce tools-check --key-separator : >"$work_dir/acks.txt"
[[ $(wc -l <"$work_dir/acks.txt") -eq 300 ]]
tools consume tools-check --from-beginning --max-messages 300 --timeout-ms 3000 | sort >"$work_dir/consumed.txt"
seq 1 300 | sed 's/^/key-/' | awk '{print $1 ":" $1 "-value"}' | sort | diff - "$work_dir/consumed.txt"
# Kafka's admin tools: configs at creation, alter configs, grow the topic, delete records.
tools topics --create tools-admin --partitions 2 --replication-factor 1 --config retention.ms=600000
tools configs --describe --topic tools-admin | grep -x "  retention.ms=600000 (DYNAMIC_TOPIC_CONFIG)" >/dev/null
tools configs --alter --entity-type topics --entity-name tools-admin --add-config flush.messages=1 --delete-config retention.ms
tools configs --describe --topic tools-admin | grep -x "  flush.messages=1 (DYNAMIC_TOPIC_CONFIG)" >/dev/null
tools configs --describe --topic tools-admin | grep -x "  retention.ms=604800000 (DEFAULT_CONFIG)" >/dev/null
# Dynamic broker configs: the cluster-wide default, then this broker's own on top of it.
tools configs --alter --entity-type brokers --entity-default --add-config log.retention.ms=7200000
tools configs --describe --broker-defaults | grep -x "  log.retention.ms=7200000 (DYNAMIC_DEFAULT_BROKER_CONFIG)" >/dev/null
tools configs --describe --topic tools-admin | grep -x "  retention.ms=7200000 (DYNAMIC_DEFAULT_BROKER_CONFIG)" >/dev/null
tools configs --alter --broker 1 --add-config log.retention.ms=3600000
tools configs --describe --entity-type brokers --entity-name 1 | grep -x "  log.retention.ms=3600000 (DYNAMIC_BROKER_CONFIG)" >/dev/null
tools configs --describe --topic tools-admin | grep -x "  retention.ms=3600000 (DYNAMIC_BROKER_CONFIG)" >/dev/null
tools configs --alter --broker 1 --delete-config log.retention.ms
tools configs --alter --broker-defaults --delete-config log.retention.ms
tools configs --describe --topic tools-admin | grep -x "  retention.ms=604800000 (DEFAULT_CONFIG)" >/dev/null
tools topics --alter tools-admin --partitions 4
tools topics --describe tools-admin | grep -c "leader 1" | grep -qx 4
seq 1 50 | tools produce tools-admin --key-separator : >/dev/null
tools delete-records --topic tools-admin --partition 0 --offset -1 | grep "low_watermark" >/dev/null
# kafka-consumer-groups on one broker: offsets reset for a group that has no members (a new
# one), then described with their lag (the views of a group with members are in groups.py).
tools topics --create tools-groups --partitions 2
seq 1 10 | tools produce tools-groups >/dev/null
group_lag() {
    tools consumer-groups --describe --group tools-group | awk '$1 == "tools-group" {lag += $6} END {print lag}'
}
tools consumer-groups --reset-offsets --group tools-group --topic tools-groups --to-earliest --execute >/dev/null
tools consumer-groups --list | grep -x tools-group >/dev/null
[[ $(group_lag) == 10 ]]
tools consumer-groups --reset-offsets --group tools-group --topic tools-groups --to-latest --execute >/dev/null
[[ $(group_lag) == 0 ]]
tools topics --delete tools-check
if tools topics --list | grep -x tools-check >/dev/null; then
    echo "tools-check is still listed after its deletion" >&2
    exit 1
fi
echo "tools: 1 passed, 0 failed"

# The perf tools, briefly: 20,000 records of 100 B acknowledged (acks=1), then read back,
# exactly those, by the consumer perf test. The counts come from their output lines.
echo "== kafkasim-tools producer-perf-test / consumer-perf-test against 127.0.0.1:$port"
tools topics --create perf-check --partitions 3
"$tools_bin" producer-perf-test --topic perf-check --num-records 20000 --record-size 100 \
    --throughput -1 --producer-props bootstrap.servers="127.0.0.1:$port" acks=1 linger.ms=5 \
    | tee "$work_dir/producer-perf.txt"
sent="$(tail -n 1 "$work_dir/producer-perf.txt" | sed -n 's/^\([0-9]*\) records sent, .* ms 99\.9th\.$/\1/p')"
if [[ $sent != 20000 ]]; then
    echo "producer-perf-test: expected a final line with 20000 records sent, got '$sent'" >&2
    exit 1
fi
"$tools_bin" consumer-perf-test --bootstrap-server "127.0.0.1:$port" --topic perf-check \
    --messages 20000 --timeout 5000 | tee "$work_dir/consumer-perf.txt"
head -n 1 "$work_dir/consumer-perf.txt" | grep -q '^start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,'
consumed="$(tail -n 1 "$work_dir/consumer-perf.txt" | awk -F', ' '{print $3 "/" $5}')"
# 20,000 values of 100 B, no keys: 2,000,000 B = 1.9073 MB.
if [[ $consumed != 1.9073/20000 ]]; then
    echo "consumer-perf-test: expected 1.9073 MB and 20000 records, got '$consumed'" >&2
    exit 1
fi
tools topics --delete perf-check
echo "perf tools: 1 passed, 0 failed"

# Three brokers and a controller: acks=all, RF 3, min.insync.replicas 2, the leader of
# partition 0 killed with SIGKILL mid-production and restarted, then the leader of partition
# 1 stopped with SIGTERM and restarted; every acknowledged record must be read back
# (tests/real/cluster.py kills everything it started on exit).
echo "== three brokers + controller, leader kill -9, then a leader's SIGTERM"
mkdir -p "$work_dir/cluster"
.venv-real/bin/python tests/real/cluster.py "$broker_bin" "$work_dir/cluster" 2>"$work_dir/cluster/librdkafka.log"

# Consumer groups on three brokers and a controller: for each assignor (range, roundrobin,
# cooperative-sticky) three consumer processes in one group, one killed with SIGKILL
# mid-run, the other two taking its partitions over; every acknowledged record consumed and
# the committed offsets at the log end. Then kafkasim-tools consumer-groups on that cluster:
# list, describe with members and lag, reset the offsets of the emptied group.
echo "== consumer groups: a consumer's kill -9 per assignor, then kafkasim-tools consumer-groups"
mkdir -p "$work_dir/groups"
.venv-real/bin/python tests/real/groups.py "$broker_bin" "$work_dir/groups" "$tools_bin" 2>"$work_dir/groups/librdkafka.log"
