# kafkasim recipes. None of these is needed for the README's two commands (cargo alone).
# Install just with `pip install rust-just` or `cargo install just --locked`.

# Unit, property, snapshot and CLI tests (the README's test command).
test:
    cargo test --workspace

# Run one scenario at one seed: just sim scenarios/smoke/produce-consume.toml 7
sim scenario seed="0":
    cargo run --release -p kafkasim-sim --bin kafkasim -- run {{scenario}} --seed {{seed}}

# The catalogue, each scenario over its own seeds (the README's main job).
sweep jobs="2":
    cargo run --release -p kafkasim-sim --bin kafkasim -- sweep --jobs {{jobs}}

# The long tier: every scenario over many seeds (not run in CI).
sweep-long seeds="1000" jobs="2":
    cargo run --release -p kafkasim-sim --bin kafkasim -- sweep --seeds {{seeds}} --jobs {{jobs}} --report-dir reports/runs/long

# Regenerate the committed, deterministic catalogue summary under reports/.
report:
    cargo run --release -p kafkasim-sim --bin kafkasim -- sweep --jobs 2 --quiet --deterministic-summary reports/catalogue-summary.md

# Everything CI runs.
ci:
    bash .ci/run

# The real-mode broker on 127.0.0.1:9092 with its log in /tmp/kafkasim-1.
broker port="9092" dir="/tmp/kafkasim-1":
    RUSTFLAGS= cargo run --release --target-dir target/real --bin kafkasim-broker -- --node-id 1 --listen 127.0.0.1:{{port}} --log-dir {{dir}}

# Real mode checked with a real Kafka client (confluent-kafka / librdkafka).
real:
    bash tests/real/run.sh

# Simulated seconds per wall second for the smoke and power-loss scenarios.
bench:
    cargo build --release -p kafkasim-sim --bin kafkasim
    target/release/kafkasim sweep scenarios/smoke/produce-consume.toml scenarios/crash/power-loss.toml --seeds 64 --jobs 1 --report-dir reports/runs/bench
