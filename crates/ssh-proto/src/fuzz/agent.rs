//! The agent protocol codec and both sans-IO ends, fed arbitrary streams.

use super::{Chunks, Input, Seeds};
use crate::agent::{
    AddIdentity, AgentClient, AgentEvent, AgentKey, AgentServer, Constraint, Decision, ExtensionRequest, FrameDecoder,
    MemoryAgent, Request, Response, Secret, SessionBind, SignFlags, SignRequest,
};
use crate::{KeyPair, SeededRng};

/// The key the store holds before the stream starts, so sign requests can reach a signer.
fn held_key() -> KeyPair {
    KeyPair::generate_ed25519(&mut SeededRng::new(0x5eed))
}

/// One agent store and connection, fed `stream` in `chunks`, answering confirmations by
/// `allow`. Returns every byte the agent sent.
fn run_server(stream: &[u8], chunks: &mut Chunks, allow: bool) -> (Vec<u8>, bool) {
    let mut store = MemoryAgent::new();
    let mut server = AgentServer::new();
    let mut rng = SeededRng::new(1);
    let key = AgentKey::new(held_key().private_key()).expect("generated key");
    let add = Request::AddIdentity(Box::new(AddIdentity { key, comment: "held".into(), constraints: vec![] }));
    server.handle_input(&add.to_frame().expect("encodes"), &mut store, 0, &mut rng).expect("add");
    while server.poll_transmit().is_some() {}

    let mut out = Vec::new();
    let mut failed = false;
    // One clock reading for the whole stream, so fragmentation cannot change what expires.
    let now = 0;
    for piece in chunks.split(stream) {
        if server.handle_input(piece, &mut store, now, &mut rng).is_err() {
            failed = true;
            break;
        }
        // As a driver does: answer confirmations, drain, and let requests that waited for
        // the output queue go on before reading more.
        loop {
            while let Some(AgentEvent::Confirm { token, .. }) = server.poll_event() {
                let d = if allow { Decision::Allow } else { Decision::Deny };
                if server.confirm(token, d, &mut store, now, &mut rng).is_err() {
                    failed = true;
                }
            }
            while let Some(b) = server.poll_transmit() {
                out.extend_from_slice(&b);
            }
            if !server.has_unanswered() || server.handle_input(&[], &mut store, now, &mut rng).is_err() {
                break;
            }
        }
    }
    (out, failed)
}

/// Decodes every frame of `stream` as a request and as a response, and drives an in-memory
/// agent and an agent client with the stream.
///
/// Input: `mode` (bit 0: allow confirmations), [`Chunks`], then the stream of frames.
///
/// Properties: a decoded message re-encodes to a frame that decodes to the same message and
/// re-encodes to the same bytes; the agent answers with well-formed responses, at most one
/// per request frame; fragmentation does not change what the agent sends (up to where a
/// fatal error stops it); the client pairs responses with requests and never panics.
pub fn agent_messages(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let mut chunks = Chunks::parse(&mut input);
    let stream = input.rest();

    let mut frames = FrameDecoder::default();
    frames.push(stream);
    let mut count = 0usize;
    while let Ok(Some(payload)) = frames.next_frame() {
        count += 1;
        if let Ok(req) = Request::decode(payload) {
            let enc = req.to_frame().expect("a decoded request encodes");
            let again = Request::decode(enc.get(4..).unwrap_or_default()).expect("re-encoded request decodes");
            assert_eq!(again, req);
            assert_eq!(again.to_frame().expect("encodes"), enc, "request encoding is not stable");
        }
        if let Ok(resp) = Response::decode(payload) {
            let enc = resp.to_frame();
            let again = Response::decode(enc.get(4..).unwrap_or_default()).expect("re-encoded response decodes");
            assert_eq!(again, resp);
            assert_eq!(again.to_frame(), enc, "response encoding is not stable");
        }
    }

    let allow = mode & 1 != 0;
    let (whole, whole_failed) = run_server(stream, &mut Chunks { sizes: Vec::new(), pos: 0 }, allow);
    let (pieces, pieces_failed) = run_server(stream, &mut chunks, allow);
    assert_eq!(whole_failed, pieces_failed);
    if !whole_failed {
        assert_eq!(whole, pieces, "fragmentation changed the agent's answers");
    }
    let mut answers = FrameDecoder::default();
    answers.push(&whole);
    let mut n = 0usize;
    while let Some(p) = answers.next_frame().expect("the agent's own frames are within the limit") {
        Response::decode(p).expect("the agent sends well-formed responses");
        n += 1;
    }
    assert_eq!(answers.buffered(), 0);
    assert!(n <= count, "{n} answers to {count} frames");

    let mut client = AgentClient::new();
    for _ in 0..usize::from(mode >> 4) {
        client.request_identities();
    }
    for piece in chunks.split(stream) {
        if client.handle_input(piece).is_err() {
            break;
        }
    }
    while let Some((_, r)) = client.poll_response() {
        if let Ok(r) = r {
            let _ = r.into_identities();
        }
    }
}

pub(super) fn seeds(out: &mut Seeds) {
    let key = held_key();
    let blob = key.public_key().to_bytes().expect("encodes");
    let other = KeyPair::generate_ed25519(&mut SeededRng::new(2));
    let agent_key = |k: &KeyPair| AgentKey::new(k.private_key()).expect("plain key");
    let sign = |flags| Request::Sign(SignRequest { key_blob: blob.clone(), data: b"session data".to_vec(), flags });
    let host = KeyPair::generate_ed25519(&mut SeededRng::new(3));
    let bind = SessionBind {
        host_key: host.public_key().to_bytes().expect("encodes"),
        session_id: vec![7; 32],
        signature: host
            .sign(crate::algorithm::HostKeyAlgorithm::Ed25519, &[7; 32], &mut SeededRng::new(4))
            .expect("signs"),
        is_forwarding: true,
    };
    let add = |k: &KeyPair, constraints| {
        Request::AddIdentity(Box::new(AddIdentity { key: agent_key(k), comment: "seed".into(), constraints }))
    };
    let sessions: Vec<(&str, u8, &[u8], Vec<Request>)> = vec![
        ("list", 0, &[], vec![Request::RequestIdentities]),
        ("sign", 0, &[3, 1], vec![sign(SignFlags::NONE), sign(SignFlags::RSA_SHA2_512)]),
        (
            "add-list-remove",
            0,
            &[],
            vec![
                add(&other, vec![]),
                Request::RequestIdentities,
                Request::RemoveIdentity(other.public_key().to_bytes().expect("encodes")),
                Request::RemoveAllIdentities,
            ],
        ),
        (
            "constrained",
            1,
            &[5],
            vec![
                add(&other, vec![Constraint::Lifetime(2), Constraint::Confirm, Constraint::MaxSignatures(1)]),
                Request::Sign(SignRequest {
                    key_blob: other.public_key().to_bytes().expect("encodes"),
                    data: b"x".to_vec(),
                    flags: SignFlags::NONE,
                }),
                Request::RequestIdentities,
            ],
        ),
        (
            "lock",
            0,
            &[],
            vec![
                Request::Lock(Secret::new(*b"pw")),
                Request::RequestIdentities,
                Request::Unlock(Secret::new(*b"no")),
                Request::Unlock(Secret::new(*b"pw")),
            ],
        ),
        (
            "extensions",
            0,
            &[9],
            vec![
                Request::Extension(ExtensionRequest::Query),
                Request::Extension(ExtensionRequest::SessionBind(bind.clone())),
                add(&other, vec![Constraint::RestrictDestination(vec![0, 0, 0, 0])]),
                Request::RequestIdentities,
            ],
        ),
        (
            "restricted-after-failed-bind",
            0,
            &[],
            vec![
                add(&other, vec![Constraint::RestrictDestination(vec![0, 0, 0, 0])]),
                Request::Extension(ExtensionRequest::SessionBind(SessionBind { session_id: vec![8; 32], ..bind })),
                Request::RequestIdentities,
                add(&other, vec![Constraint::Confirm, Constraint::Confirm]),
            ],
        ),
    ];
    for (name, mode, sizes, requests) in sessions {
        let mut seed = vec![mode];
        seed.extend(Chunks::encode(sizes));
        for r in requests {
            seed.extend_from_slice(&r.to_frame().expect("encodes"));
        }
        out.push(("agent_messages", name.to_owned(), seed));
    }
    // Responses, for the client side (mode's high bits: requests outstanding).
    let mut seed = vec![0x30];
    seed.extend(Chunks::encode(&[2]));
    seed.extend(Response::Identities(vec![crate::agent::Identity { key_blob: blob, comment: "c".into() }]).to_frame());
    seed.extend(Response::Signature(b"\0\0\0\x0bssh-ed25519\0\0\0\x01s".to_vec()).to_frame());
    seed.extend(Response::Success.to_frame());
    out.push(("agent_messages", "responses".to_owned(), seed));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds, and every seed with each byte in turn flipped or cut short there.
    #[test]
    fn seeds_and_their_mutations_hold_the_properties() {
        let mut seeds = Vec::new();
        super::seeds(&mut seeds);
        assert!(seeds.len() >= 7);
        for (_, name, seed) in &seeds {
            agent_messages(seed);
            for i in (0..seed.len()).step_by(3) {
                let mut m = seed.clone();
                m[i] ^= 0x41;
                agent_messages(&m);
                agent_messages(&seed[..i]);
            }
            assert!(!name.is_empty());
        }
    }
}
