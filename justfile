# Shorthands for the README's commands; plain cargo works just as well.

# Run the whole test suite (the README's test command).
test:
    cargo test --workspace

# The main job: population, exchange, workload and replay of the quickstart scenario.
run:
    cargo run --release -- run scenarios/quickstart.toml

# Serve the reference exchange on 127.0.0.1:8080 with its store in ./data.
serve:
    cargo run --release -- serve

# Benchmarks (release build): loopback throughput, connection floods (20,000 idle, 5,000 clients), population generation and import, the driver against a raw client, 1, 2 and 4 local driver shards, the capacity model; figures go to target/dxsim-bench/.
bench:
    cargo bench -p dx-e2e

# What CI runs: fmt, clippy, tests.
ci:
    bash .ci/run

# The HTML report of a run directory (run, drive and capacity write theirs themselves), or of a
# rollout scenario, simulated first (e.g. just report scenarios/rollout-2025-2030.toml).
report DIR:
    cargo run --release -- report {{DIR}}

# Check an exchange against the protocol (e.g. just conformance http://127.0.0.1:8080 ./data/admin.key).
conformance URL KEYFILE:
    cargo run --release -- conformance --target {{URL}} --credentials {{KEYFILE}}
