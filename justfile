# Developer recipes. `just` is optional: every recipe is a plain cargo command.

# Install the interop peers (OpenSSH server, Paramiko) and cargo-fuzz.
setup:
    bash ../shared/scripts/install-peers.sh
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

# The main job: the in-memory demo.
demo:
    cargo run --release --example demo

# All tests (interop tests skip loudly without peers unless SSH_INTEROP=require).
test:
    cargo test --workspace

# Interop tests against real OpenSSH and Paramiko, required, in release mode.
interop:
    cargo build --release -p ssh-proto --example keyscan --example keygen
    SSH_INTEROP=require cargo test --release -p ssh-proto --test interop_openssh --test interop_paramiko --test interop_sessions --test transcripts --test key_files --test keygen_cli --test known_hosts --test ssh_config --test agent

# Run every fuzz target for N seconds each.
fuzz seconds="60":
    cd fuzz && for t in $(cargo +nightly fuzz list); do cargo +nightly fuzz run $t corpus/$t seeds/$t -- -max_total_time={{seconds}} -dict=ssh.dict; done

# Criterion benchmarks (packet seal/open per cipher vs the raw primitive, handshake).
bench:
    cargo bench -p ssh-proto

# API docs.
doc:
    cargo doc --workspace --no-deps --open

# Keyscan a server: just keyscan 127.0.0.1 -p 22
keyscan +args:
    cargo run --release -p ssh-proto --example keyscan -- {{args}}
