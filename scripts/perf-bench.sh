#!/usr/bin/env bash
# Throughput bench on loopback, 100-byte records (not run in CI). Measures, in one run:
#   (a) one real kafkasim broker, producer-perf-test with acks=1, then consumer-perf-test
#       reading those records back;
#   (b) the same broker, acks=all;
#   (c) three brokers and a controller, replication factor 3, min.insync.replicas 2, acks=all;
#   (d) redis-benchmark XADD of a 100-byte field, 4 clients, pipeline 100 (-c 4 -P 100),
#       against redis-server without persistence, then with appendonly yes, appendfsync
#       everysec.
# For each case it prints records/s and the CPU each process used (utime + stime from
# /proc/PID/stat for the servers, /usr/bin/time for the clients), as seconds and as cores
# (CPU seconds / wall seconds), so the busiest process is named. A process near 1.00 core is
# saturated if it is single-threaded (kafkasim-tools and redis-server are; the broker is not).
#
#   bash scripts/perf-bench.sh
#   RECORDS=2000000 PARTITIONS=3 PRODUCER_PROPS="linger.ms=5 batch.size=65536" CASES="a c" bash scripts/perf-bench.sh
#
# Every topic has PARTITIONS partitions; the producer's props are Kafka's names. The script
# installs redis-server and redis-tools with apt-get if they are missing, and kills every
# process it started on exit.
set -euo pipefail

RECORDS="${RECORDS:-5000000}"
RECORD_SIZE=100
PARTITIONS="${PARTITIONS:-3}"
PRODUCER_PROPS="${PRODUCER_PROPS:-linger.ms=5 batch.size=16384}"
REDIS_REQUESTS="${REDIS_REQUESTS:-$RECORDS}"
# Which cases to run, among a b c d.
CASES="${CASES:-a b c d}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

echo "== building the real-mode broker and tools"
RUSTFLAGS= cargo build --release --target-dir target/real --bin kafkasim-broker --bin kafkasim-tools
broker_bin="$root/target/real/release/kafkasim-broker"
tools_bin="$root/target/real/release/kafkasim-tools"

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "== installing redis-server and redis-tools"
    apt-get install -y redis-server redis-tools >/dev/null || {
        apt-get update >/dev/null && apt-get install -y redis-server redis-tools >/dev/null
    }
fi

work="$(mktemp -d -t kafkasim-perf.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listening() {
    for _ in $(seq 100); do
        if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1 after 10 s" >&2
    exit 1
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, counted
# after the command name, which may hold spaces).
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

ticks_sum() {
    local sum=0 pid
    for pid in "$@"; do
        sum=$((sum + $(cpu_ticks "$pid")))
    done
    echo "$sum"
}

hz="$(getconf CLK_TCK)"
results=()

# record LABEL RECORDS_PER_SEC WALL_S SERVER_TICKS CLIENT_CPU_S
record() {
    local label=$1 rate=$2 wall=$3 server_ticks=$4 client_cpu=$5
    local line
    line="$(awk -v l="$label" -v r="$rate" -v w="$wall" -v t="$server_ticks" -v hz="$hz" -v c="$client_cpu" 'BEGIN {
        s = t / hz;
        busiest = (s / w > c / w) ? "server" : "client";
        printf "%-44s %12.0f records/s  wall %6.2f s  server CPU %6.2f s (%4.2f cores)  client CPU %6.2f s (%4.2f cores)  busiest: %s",
            l, r, w, s, s / w, c, c / w, busiest }')"
    echo "$line"
    results+=("$line")
}

# timed OUT_PREFIX COMMAND...: runs COMMAND under /usr/bin/time; writes OUT_PREFIX.out and
# OUT_PREFIX.time ("wall user sys").
timed() {
    local prefix=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$prefix.time" "$@" | tee "$prefix.out"
}

# producer LABEL BOOTSTRAP TOPIC ACKS SERVER_PIDS...
producer() {
    local label=$1 bootstrap=$2 topic=$3 acks=$4
    shift 4
    echo "== $label"
    local before after
    before="$(ticks_sum "$@")"
    # shellcheck disable=SC2086 # PRODUCER_PROPS is a list of k=v words
    timed "$work/$topic-producer" "$tools_bin" producer-perf-test --topic "$topic" \
        --num-records "$RECORDS" --record-size "$RECORD_SIZE" --throughput -1 \
        --producer-props bootstrap.servers="$bootstrap" acks="$acks" $PRODUCER_PROPS
    after="$(ticks_sum "$@")"
    local rate wall client
    rate="$(tail -n 1 "$work/$topic-producer.out" | sed -n 's/^[0-9]* records sent, \([0-9.]*\) records\/sec.*/\1/p')"
    read -r wall user sys <"$work/$topic-producer.time"
    client="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    record "$label" "$rate" "$wall" $((after - before)) "$client"
}

# consumer LABEL BOOTSTRAP TOPIC SERVER_PIDS...
consumer() {
    local label=$1 bootstrap=$2 topic=$3
    shift 3
    echo "== $label"
    local before after
    before="$(ticks_sum "$@")"
    timed "$work/$topic-consumer" "$tools_bin" consumer-perf-test --bootstrap-server "$bootstrap" \
        --topic "$topic" --messages "$RECORDS" --timeout 10000
    after="$(ticks_sum "$@")"
    local rate wall client
    rate="$(tail -n 1 "$work/$topic-consumer.out" | awk -F', ' '{print $6}')"
    read -r wall user sys <"$work/$topic-consumer.time"
    client="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    record "$label" "$rate" "$wall" $((after - before)) "$client"
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $RECORDS records of $RECORD_SIZE B, $PARTITIONS partitions, producer props: $PRODUCER_PROPS"

case_wanted() {
    [[ " $CASES " == *" $1 "* ]]
}

# (a) and (b): one broker.
if case_wanted a || case_wanted b; then
port="$(free_port)"
"$broker_bin" --node-id 1 --listen "127.0.0.1:$port" --log-dir "$work/single" >"$work/single.log" 2>&1 &
single=$!
pids+=("$single")
wait_listening "$port"
tools() { "$tools_bin" --bootstrap "127.0.0.1:$port" "$@"; }
tools topics --create perf-acks1 --partitions "$PARTITIONS" >/dev/null
tools topics --create perf-acksall --partitions "$PARTITIONS" >/dev/null
if case_wanted a; then
    producer "(a) 1 broker, acks=1" "127.0.0.1:$port" perf-acks1 1 "$single"
    consumer "(a') 1 broker, consumer-perf-test" "127.0.0.1:$port" perf-acks1 "$single"
fi
if case_wanted b; then
    producer "(b) 1 broker, acks=all" "127.0.0.1:$port" perf-acksall all "$single"
fi
kill -9 "$single"
wait "$single" 2>/dev/null || true
fi

# (c): three brokers and a controller, as tests/real/cluster.py starts them.
if case_wanted c; then
# Partition p's replicas start at broker p % 3 + 1, so leaderships are spread: 1,2,3/2,3,1/...
replicas=()
for ((p = 0; p < PARTITIONS; p++)); do
    replicas+=("$((p % 3 + 1)),$(((p + 1) % 3 + 1)),$(((p + 2) % 3 + 1))")
done
placement="$(IFS=/; echo "${replicas[*]}")"
common=(--config min.insync.replicas=2 --config broker.session.timeout.ms=3000
    --config broker.heartbeat.interval.ms=500 --config replica.lag.time.max.ms=5000)
controller_port="$(free_port)"
declare -A ports
peers=()
for i in 1 2 3; do
    ports[$i]="$(free_port)"
    peers+=(--peer "$i@127.0.0.1:${ports[$i]}")
done
"$broker_bin" --role controller --listen "127.0.0.1:$controller_port" --log-dir "$work/controller" \
    --topic "perf-rf3=$placement" "${common[@]}" >"$work/controller.log" 2>&1 &
controller=$!
pids+=("$controller")
cluster=()
for i in 1 2 3; do
    "$broker_bin" --node-id "$i" --listen "127.0.0.1:${ports[$i]}" --log-dir "$work/broker-$i" \
        --controller "127.0.0.1:$controller_port" --topic "perf-rf3=$placement" "${peers[@]}" \
        "${common[@]}" >"$work/broker-$i.log" 2>&1 &
    cluster+=($!)
    pids+=($!)
done
bootstrap="127.0.0.1:${ports[1]},127.0.0.1:${ports[2]},127.0.0.1:${ports[3]}"
for i in 1 2 3; do wait_listening "${ports[$i]}"; done
led=0
for _ in $(seq 60); do
    led="$("$tools_bin" --bootstrap "127.0.0.1:${ports[1]}" topics --describe perf-rf3 2>/dev/null | grep -c $'\tleader [1-9]' || true)"
    [[ $led -eq $PARTITIONS ]] && break
    sleep 0.5
done
if [[ $led -ne $PARTITIONS ]]; then
    echo "perf-rf3 has a leader for $led of $PARTITIONS partitions after 30 s" >&2
    exit 1
fi
producer "(c) 3 brokers, RF 3, acks=all" "$bootstrap" perf-rf3 all "${cluster[@]}" "$controller"
for pid in "${cluster[@]}" "$controller"; do
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
done
fi

# (d): redis-benchmark XADD, 4 clients, pipeline 100.
value="$(head -c "$RECORD_SIZE" /dev/zero | tr '\0' 'A')"
redis_case() {
    local label=$1
    shift
    echo "== $label"
    local redis_port
    redis_port="$(free_port)"
    mkdir -p "$work/redis-$redis_port"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis-$redis_port" "$@" \
        >"$work/redis-$redis_port.log" 2>&1 &
    local redis=$!
    pids+=("$redis")
    wait_listening "$redis_port"
    local before after
    before="$(cpu_ticks "$redis")"
    /usr/bin/time -f "%e %U %S" -o "$work/redis.time" redis-benchmark -p "$redis_port" -c 4 -P 100 \
        -n "$REDIS_REQUESTS" -q XADD mystream '*' f "$value" | tr '\r' '\n' | tail -n 1 | tee "$work/redis.out"
    after="$(cpu_ticks "$redis")"
    local rate wall user sys client
    rate="$(sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' "$work/redis.out")"
    read -r wall user sys <"$work/redis.time"
    client="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    record "$label" "$rate" "$wall" $((after - before)) "$client"
    kill -9 "$redis"
    wait "$redis" 2>/dev/null || true
}
if case_wanted d; then
    redis_case "(d) redis XADD -c 4 -P 100, no persistence" --save '' --appendonly no
    redis_case "(d) redis XADD -c 4 -P 100, AOF everysec" --save '' --appendonly yes --appendfsync everysec
fi

echo
echo "== summary ($RECORDS records of $RECORD_SIZE B, $PARTITIONS partitions, $PRODUCER_PROPS; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${results[@]}"
