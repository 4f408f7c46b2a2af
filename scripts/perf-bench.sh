#!/usr/bin/env bash
# Throughput bench on loopback, 100-byte records (not run in CI). Measures, in one run:
#   (a) one real kafkasim broker, producer-perf-test with acks=1, then consumer-perf-test
#       reading those records back;
#   (b) the same broker, acks=all;
#   (c) three brokers and a controller, replication factor 3, min.insync.replicas 2, acks=all,
#       then consumer-perf-test reading those records back from the leaders;
#   (d) redis-benchmark XADD of a 100-byte field, 4 clients, pipeline 100 (-c 4 -P 100),
#       against redis-server without persistence, then with appendonly yes, appendfsync
#       everysec.
# For each case it prints records/s and the CPU each side used (utime + stime from
# /proc/PID/stat for the servers, /usr/bin/time for the client) as seconds and as cores (CPU
# seconds / wall seconds), plus the time they sat runnable waiting for a core
# (/proc/.../schedstat), and names what limited the run: the client (kafkasim-tools and
# redis-benchmark are single-threaded) when it was running or runnable nearly all the time,
# else the servers' CPU, else neither (the run waited on latency: round trips, replication).
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

# "CPU_TICKS WAIT_NS" of processes: utime + stime in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces), and the time their
# live threads spent runnable but waiting for a core (field 2 of /proc/PID/task/*/schedstat).
server_sample() {
    local ticks=0 wait_ns=0 pid task run waited rest
    for pid in "$@"; do
        ticks=$((ticks + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
        for task in /proc/"$pid"/task/*/schedstat; do
            read -r run waited rest <"$task" || continue
            wait_ns=$((wait_ns + waited))
        done
    done
    echo "$ticks $wait_ns"
}

hz="$(getconf CLK_TCK)"
results=()

# timed PREFIX COMMAND...: runs COMMAND (a single-threaded client) under /usr/bin/time and
# follows its run-queue wait while it runs (sampled every 50 ms, so the last 50 ms may be
# missed). Writes PREFIX.out (its output), PREFIX.time ("wall user sys") and PREFIX.wait (ns).
timed() {
    local prefix=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$prefix.time" "$@" >"$prefix.out" &
    local time_pid=$! child="" wait_ns=0 run waited rest
    while kill -0 "$time_pid" 2>/dev/null; do
        [[ -n $child ]] || child="$(pgrep -P "$time_pid" | head -n 1 || true)"
        if [[ -n $child ]] && read -r run waited rest <"/proc/$child/schedstat" 2>/dev/null; then
            wait_ns=$waited
        fi
        sleep 0.05
    done
    wait "$time_pid"
    echo "$wait_ns" >"$prefix.wait"
    tr '\r' '\n' <"$prefix.out" | grep -v '^ *$' || true
}

# record LABEL RECORDS_PER_SEC PREFIX SERVER_BEFORE SERVER_AFTER: one summary line. "busy"
# is CPU / wall, "+wait" adds the run-queue wait, both in cores: a single-threaded client
# whose busy+wait is near 1.00 is what limits the run (running, or ready to run with no free
# core); the servers' busy+wait is their demand for cores, summed over their threads. On a
# machine shared with other work, waiting for a core is the machine's load, not the code's.
record() {
    local label=$1 rate=$2 prefix=$3 before=$4 after=$5
    local wall user sys client_wait_ns line
    read -r wall user sys <"$prefix.time"
    client_wait_ns="$(cat "$prefix.wait")"
    line="$(awk -v l="$label" -v r="$rate" -v w="$wall" -v u="$user" -v sy="$sys" \
        -v cw="$client_wait_ns" -v b="$before" -v a="$after" -v hz="$hz" 'BEGIN {
        split(b, b0, " "); split(a, a1, " ");
        s = (a1[1] - b0[1]) / hz; sw = (a1[2] - b0[2]) / 1e9;
        c = u + sy; cw = cw / 1e9;
        if ((c + cw) / w >= 0.9) limit = "client (single thread busy or waiting for a core)";
        else if ((s + sw) / w >= 0.9) limit = "servers (busy or waiting for a core)";
        else limit = "neither saturated: latency-bound";
        printf "%-42s %10.0f records/s  wall %5.2f s  server CPU %5.2f s (busy %4.2f, +wait %4.2f cores)  client CPU %5.2f s (busy %4.2f, +wait %4.2f)  limit: %s",
            l, r, w, s, s / w, (s + sw) / w, c, c / w, (c + cw) / w, limit }')"
    echo "$line"
    results+=("$line")
}

# producer LABEL BOOTSTRAP TOPIC ACKS SERVER_PIDS...
producer() {
    local label=$1 bootstrap=$2 topic=$3 acks=$4
    shift 4
    echo "== $label"
    local before after prefix="$work/$topic-producer"
    before="$(server_sample "$@")"
    # shellcheck disable=SC2086 # PRODUCER_PROPS is a list of k=v words
    timed "$prefix" "$tools_bin" producer-perf-test --topic "$topic" \
        --num-records "$RECORDS" --record-size "$RECORD_SIZE" --throughput -1 \
        --producer-props bootstrap.servers="$bootstrap" acks="$acks" $PRODUCER_PROPS
    after="$(server_sample "$@")"
    local rate
    rate="$(tail -n 1 "$prefix.out" | sed -n 's/^[0-9]* records sent, \([0-9.]*\) records\/sec.*/\1/p')"
    record "$label" "$rate" "$prefix" "$before" "$after"
}

# consumer LABEL BOOTSTRAP TOPIC SERVER_PIDS...
consumer() {
    local label=$1 bootstrap=$2 topic=$3
    shift 3
    echo "== $label"
    local before after prefix="$work/$topic-consumer"
    before="$(server_sample "$@")"
    timed "$prefix" "$tools_bin" consumer-perf-test --bootstrap-server "$bootstrap" \
        --topic "$topic" --messages "$RECORDS" --timeout 10000
    after="$(server_sample "$@")"
    local rate
    rate="$(tail -n 1 "$prefix.out" | awk -F', ' '{print $6}')"
    record "$label" "$rate" "$prefix" "$before" "$after"
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
consumer "(c') 3 brokers, consumer-perf-test" "$bootstrap" perf-rf3 "${cluster[@]}" "$controller"
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
    local before after prefix="$work/redis-$redis_port"
    before="$(server_sample "$redis")"
    timed "$prefix" redis-benchmark -p "$redis_port" -c 4 -P 100 -n "$REDIS_REQUESTS" -q \
        XADD mystream '*' f "$value" | tail -n 1
    after="$(server_sample "$redis")"
    local rate
    rate="$(tr '\r' '\n' <"$prefix.out" | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)"
    record "$label" "$rate" "$prefix" "$before" "$after"
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
