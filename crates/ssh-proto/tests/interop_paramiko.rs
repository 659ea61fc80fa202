//! Interop with Paramiko (5.x on the reference machine), both directions, on loopback:
//!
//! - our client against a Paramiko server;
//! - a Paramiko client against our server.
//!
//! Each direction covers every kex × host key algorithm both support (host certificates too
//! where Paramiko handles them) and every cipher × MAC both support, each with and without
//! compression. The full cross product of all four kinds runs against OpenSSH
//! (`interop_openssh.rs`); against Paramiko, host keys are crossed with every kex, and ciphers
//! and MACs with one kex of each key-derivation class (hash × shared-secret encoding: the
//! derived key lengths depend on both), but not host keys with ciphers, whose code paths share
//! nothing. Paramiko's pure-Python finite-field DH makes the full product take minutes.
//!
//! Peers come from test-support; without them each test prints `SKIPPED:` and passes, unless
//! `SSH_INTEROP=require`.

use std::sync::Arc;
use std::time::Duration;

use ssh_proto::algorithm::{Algorithm, AlgorithmList, Cipher, Compression, HostKeyAlgorithm, KexAlgorithm, Mac};
use ssh_proto::{client, server};
use test_support::algos::{all_algorithms, common};
use test_support::fixtures::{self, Fixture};
use test_support::{
    Combo, ParamikoCase, ParamikoClient, ParamikoServer, ParamikoServerOptions, Peer, TestServer, client_handshake,
    default_workers, paramiko_algorithms, require_peers, run_matrix, run_matrix_with,
};

const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Fixtures Paramiko can serve or verify (it dropped DSS in 4.0).
fn paramiko_fixtures() -> Vec<Fixture> {
    fixtures::fixtures().into_iter().filter(|f| f.name != "dsa").collect()
}

fn strip(line: &str) -> String {
    line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The cover: kex × host key with the first common cipher (without and with delayed
/// compression), then cipher × MAC × every compression with the first host key and one kex per
/// key-derivation class (elliptic-curve methods preferred: they are cheap for Paramiko).
fn cover(kex: &[KexAlgorithm], host_keys: &[HostKeyAlgorithm], ciphers: &[Cipher], macs: &[Mac]) -> Vec<Combo> {
    let compression = [Compression::None, Compression::ZlibOpenSsh, Compression::Zlib];
    let (Some(&c0), Some(&h0)) = (ciphers.first(), host_keys.first()) else {
        return Vec::new();
    };
    let mac0: Vec<Mac> = macs.first().copied().into_iter().collect();
    let mut cases = Combo::product(kex, host_keys, &[c0], &mac0, &compression[..2]);
    let mut by_class: Vec<KexAlgorithm> = Vec::new();
    let mut ordered: Vec<KexAlgorithm> = kex.to_vec();
    ordered.sort_by_key(|k| k.public_is_mpint());
    for k in ordered {
        if !by_class.iter().any(|b| b.hash() == k.hash() && b.secret_is_string() == k.secret_is_string()) {
            by_class.push(k);
        }
    }
    cases.extend(Combo::product(&by_class, &[h0], ciphers, macs, &compression));
    cases
}

#[test]
fn our_client_vs_paramiko_server() {
    require_peers!(Peer::Paramiko);
    let fx = paramiko_fixtures();
    let server = ParamikoServer::start(&ParamikoServerOptions {
        host_keys: fx.iter().map(|f| f.private_path.clone()).collect(),
        compression: true,
        ..Default::default()
    })
    .expect("start paramiko server");
    let offered = server.offered().clone();
    eprintln!("paramiko {} server offers {offered:?}", offered.version);
    let kex: Vec<KexAlgorithm> = common(&offered.kex);
    let host_keys: Vec<HostKeyAlgorithm> = common(&offered.keys);
    let ciphers: Vec<Cipher> = common(&offered.ciphers);
    let macs: Vec<Mac> = common(&offered.macs);
    assert!(
        kex.iter().any(|k| k.name() == "mlkem768x25519-sha256")
            && kex.iter().any(|k| k.name().starts_with("diffie-hellman-group-exchange")),
        "paramiko server lacks ML-KEM or group exchange: {kex:?}"
    );
    assert!(host_keys.len() >= 6, "paramiko server offers too few host key algorithms: {host_keys:?}");
    let cases = cover(&kex, &host_keys, &ciphers, &macs);
    let report = run_matrix("our client -> paramiko server", &cases, default_workers(), |c| {
        let cfg = client::Config {
            transport: ssh_proto::TransportConfig { algorithms: c.algorithms(), ..Default::default() },
            ..Default::default()
        };
        let out = client_handshake(server.addr(), cfg, CASE_TIMEOUT)?;
        c.check(&out.negotiated)?;
        if !out.negotiated.strict_kex {
            return Err("strict kex not agreed with paramiko (it has supported it since 3.4)".into());
        }
        let key = strip(&out.host_key.to_openssh());
        if !fx.iter().any(|f| f.public_openssh() == key && f.plain_host_key().algorithms().contains(&c.host_key)) {
            return Err(format!("host key {key} is not the fixture for {}", c.host_key.name()));
        }
        if !out.peer_version.starts_with("SSH-2.0-paramiko") {
            return Err(format!("peer version {}", out.peer_version));
        }
        Ok(())
    });
    if !report.failures.is_empty() {
        eprintln!("paramiko server log: {}", test_support::process::tail(&server.log(), 3000));
    }
    report.assert_ok();
}

fn our_server_config() -> Arc<server::Config> {
    let mut cfg = server::Config::new(paramiko_fixtures().iter().map(Fixture::host_key).collect());
    cfg.transport.algorithms = all_algorithms();
    Arc::new(cfg)
}

fn paramiko_case(port: u16, c: &Combo) -> ParamikoCase {
    ParamikoCase {
        port,
        kex: Some(c.kex.name().to_owned()),
        key_type: Some(c.host_key.name().to_owned()),
        cipher: Some(c.cipher.name().to_owned()),
        // Paramiko negotiates a MAC even for AEAD ciphers; let it pick from its defaults then.
        mac: c.mac.map(|m| m.name().to_owned()),
        compression: Some(c.compression.name().to_owned()),
        timeout: CASE_TIMEOUT,
    }
}

#[test]
fn paramiko_client_vs_our_server() {
    require_peers!(Peer::Paramiko);
    let supported = paramiko_algorithms().expect("paramiko client algorithm list");
    eprintln!("paramiko {} client supports {supported:?}", supported.version);
    let kex: Vec<KexAlgorithm> = common(&supported.kex);
    let host_keys: Vec<HostKeyAlgorithm> = common(&supported.keys);
    let ciphers: Vec<Cipher> = common(&supported.ciphers);
    let macs: Vec<Mac> = common(&supported.macs);
    assert!(host_keys.iter().any(|h| h.is_certificate()), "paramiko client verifies no host certificates");
    let cases = cover(&kex, &host_keys, &ciphers, &macs);
    let server = TestServer::start(our_server_config()).expect("start our server");
    let fx = paramiko_fixtures();
    let report = run_matrix_with(
        "paramiko client -> our server",
        &cases,
        default_workers(),
        ParamikoClient::new,
        |client, c| {
            let got = client.run(&paramiko_case(server.port(), c))?;
            // Paramiko's own view.
            let want = (c.kex.name(), c.host_key.name(), c.cipher.name(), c.compression.name());
            let seen = (
                got.kex.as_str(),
                got.host_key_type.as_str(),
                got.local_cipher.as_str(),
                got.local_compression.as_str(),
            );
            if seen != want || got.remote_cipher != got.local_cipher || got.remote_compression != got.local_compression
            {
                return Err(format!("paramiko negotiated {got:?}"));
            }
            if let Some(m) = c.mac
                && (got.local_mac != m.name() || got.remote_mac != m.name())
            {
                return Err(format!("paramiko MACs {}/{}", got.local_mac, got.remote_mac));
            }
            if !got.strict_kex || !got.service_accepted {
                return Err(format!("strict kex {} / service accepted {}", got.strict_kex, got.service_accepted));
            }
            let f = fx
                .iter()
                .find(|f| f.public_openssh() == got.server_key)
                .ok_or_else(|| format!("paramiko saw server key {}, not a fixture", got.server_key))?;
            match (&got.server_cert, c.host_key.is_certificate()) {
                (Some(cert), true) if *cert == f.certificate_openssh() => {}
                (None, false) => {}
                (cert, _) => return Err(format!("paramiko saw certificate {cert:?} for {}", c.host_key.name())),
            }
            // Our server's view of the same connection.
            // (By session id: a matrix this long reuses client ports.)
            let rec = server
                .wait_record_where(
                    |r| r.session_id.as_deref() == Some(got.session_id.as_slice()),
                    Duration::from_secs(10),
                )
                .ok_or("our server recorded no connection with this session id")?;
            let n = rec.negotiated.as_ref().ok_or("our server recorded no key exchange")?;
            c.check(n).or_else(|e| if c.mac.is_none() && e.contains("MACs") { Ok(()) } else { Err(e) })?;
            if rec.service.as_deref() != Some("ssh-userauth") {
                return Err(format!("our server granted {:?}", rec.service));
            }
            // Paramiko's auth_none, refused.
            if rec.auth_attempts != [("interop".to_owned(), "none".to_owned())] {
                return Err(format!("our server saw authentication attempts {:?}", rec.auth_attempts));
            }
            // Paramiko then closes the transport.
            match &rec.disconnect {
                Some(d) if d.initiator == ssh_proto::Initiator::Peer => Ok(()),
                other => Err(format!("expected paramiko to end the connection, got {other:?} ({:?})", rec.error)),
            }
        },
    );
    report.assert_ok();
}

/// Paramiko servers can also be asked to offer only some algorithms (`disabled_algorithms`):
/// when nothing is left in common our client must name the kind and both lists.
#[test]
fn paramiko_server_with_disjoint_ciphers_is_a_typed_error() {
    require_peers!(Peer::Paramiko);
    let fx = paramiko_fixtures();
    let server = ParamikoServer::start(&ParamikoServerOptions {
        host_keys: vec![fx[0].private_path.clone()],
        disabled: vec![("ciphers".into(), vec!["aes128-ctr".into(), "aes192-ctr".into(), "aes256-ctr".into()])],
        ..Default::default()
    })
    .expect("start paramiko server");
    let mut algorithms = all_algorithms();
    algorithms.cipher = AlgorithmList::new([Cipher::Aes128Ctr]);
    let cfg = client::Config {
        transport: ssh_proto::TransportConfig { algorithms, ..Default::default() },
        ..Default::default()
    };
    let err = client_handshake(server.addr(), cfg, CASE_TIMEOUT).expect_err("no common cipher");
    assert!(
        err.contains("no common cipher") && err.contains("aes128-ctr") && err.contains("aes256-gcm@openssh.com"),
        "{err}"
    );
}
