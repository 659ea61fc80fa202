//! Shared by the benchmarks: a connected client/server pair with forced algorithms, a
//! light criterion configuration, and reading criterion's own estimates back to print
//! ours-vs-primitive ratios measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ssh_proto::algorithm::{AlgorithmList, Algorithms, Cipher, HostKeyAlgorithm, KexAlgorithm, Mac};
use ssh_proto::testing::Pair;
use ssh_proto::{HostKey, RekeyPolicy, SeededRng, client, server};

/// Client and server configurations that can only agree on these algorithms, and that never
/// rekey on their own (a benchmark pushes many GiB through one connection).
pub(crate) fn configs(kex: KexAlgorithm, cipher: Cipher, mac: Option<Mac>) -> (client::Config, server::Config) {
    let algorithms = Algorithms {
        kex: AlgorithmList::new([kex]),
        host_key: AlgorithmList::new([HostKeyAlgorithm::Ed25519]),
        cipher: AlgorithmList::new([cipher]),
        mac: mac.map_or_else(AlgorithmList::default, |m| AlgorithmList::new([m])),
        ..Algorithms::default()
    };
    let no_rekey = RekeyPolicy { bytes: u64::MAX, time: None };
    let mut c = client::Config::default();
    c.transport.algorithms = algorithms.clone();
    c.transport.rekey = no_rekey;
    let host_key = HostKey::generate_ed25519(&mut SeededRng::new(0x5eed));
    let mut s = server::Config::new(vec![host_key]);
    s.transport.algorithms = algorithms;
    s.transport.rekey = no_rekey;
    (c, s)
}

/// Both ends after a completed curve25519-sha256 / ssh-ed25519 handshake in the pair
/// harness, taken out of it to be driven by hand.
#[allow(dead_code)] // not every bench uses every helper
pub(crate) fn connected(cipher: Cipher, mac: Option<Mac>) -> (client::Connection, server::Connection, Instant) {
    let (c, s) = configs(KexAlgorithm::Curve25519Sha256, cipher, mac);
    let mut pair = Pair::new(c, s, Instant::now(), 7).expect("pair");
    pair.drive().expect("handshake");
    assert!(pair.client.is_established() && pair.server.is_established());
    let n = pair.client.negotiated().expect("negotiated");
    assert_eq!((n.cipher_c2s, n.cipher_s2c), (cipher, cipher));
    let Pair { client, server, now, .. } = pair;
    (client, server, now)
}

/// Short warm-up and measurement: the whole bench runs in a couple of minutes on 2 cores.
pub(crate) fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(1000))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
        .nresamples(20_000)
        .output_directory(&output_dir())
        .configure_from_args()
}

/// Where criterion writes its estimates: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`,
/// or `target/criterion` next to this executable (`target/release/deps/<bench>`).
fn output_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Whether this process measured (`cargo bench`), as opposed to a `cargo test` smoke run
/// or a listing.
pub(crate) fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// The median time per iteration, in nanoseconds, that criterion just estimated for
/// `group/function`.
pub(crate) fn median_ns(group: &str, function: &str) -> Option<f64> {
    let path = output_dir().join(group).join(function).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let median = text.get(text.find("\"median\"")?..)?;
    let value = median.get(median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..)?;
    let end = value.find([',', '}'])?;
    value.get(..end)?.trim().parse().ok()
}
