//! Key constraints of `SSH_AGENTC_ADD_ID_CONSTRAINED` and
//! `SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED`.

use super::AgentError;
use bytes::BufMut;

use crate::wire::{Reader, WireError, WireWrite};

/// `SSH_AGENT_CONSTRAIN_LIFETIME`.
pub const CONSTRAIN_LIFETIME: u8 = 1;
/// `SSH_AGENT_CONSTRAIN_CONFIRM`.
pub const CONSTRAIN_CONFIRM: u8 = 2;
/// `SSH_AGENT_CONSTRAIN_MAXSIGN` (OpenSSH, for XMSS keys).
pub const CONSTRAIN_MAXSIGN: u8 = 3;
/// `SSH_AGENT_CONSTRAIN_EXTENSION`.
pub const CONSTRAIN_EXTENSION: u8 = 255;
/// The OpenSSH destination-restriction constraint extension (`ssh-add -h`).
pub const RESTRICT_DESTINATION: &str = "restrict-destination-v00@openssh.com";

/// Most constraints read from one message (OpenSSH sends at most a handful).
pub const MAX_CONSTRAINTS: usize = 64;

/// One key constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// The key is forgotten this many seconds after it was added.
    Lifetime(u32),
    /// Every use of the key must be confirmed by the agent's user.
    Confirm,
    /// The key may make at most this many signatures.
    MaxSignatures(u32),
    /// `restrict-destination-v00@openssh.com`: the hops the key may be used on, carried as
    /// the opaque contents of its `string`.
    RestrictDestination(Vec<u8>),
    /// Any other extension constraint. Its format has no length of its own, so `data` is
    /// every byte after the name to the end of the message: it must be the last constraint.
    Extension {
        /// The extension name.
        name: String,
        /// The raw bytes after the name.
        data: Vec<u8>,
    },
}

impl Constraint {
    /// An upper bound of the encoded size.
    pub(crate) fn encoded_len(&self) -> usize {
        1 + match self {
            Self::Lifetime(_) | Self::MaxSignatures(_) => 4,
            Self::Confirm => 0,
            Self::RestrictDestination(d) => 4 + RESTRICT_DESTINATION.len() + 4 + d.len(),
            Self::Extension { name, data } => 4 + name.len() + data.len(),
        }
    }

    pub(crate) fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Self::Lifetime(s) => {
                w.push(CONSTRAIN_LIFETIME);
                w.put_u32(*s);
            }
            Self::Confirm => w.push(CONSTRAIN_CONFIRM),
            Self::MaxSignatures(n) => {
                w.push(CONSTRAIN_MAXSIGN);
                w.put_u32(*n);
            }
            Self::RestrictDestination(d) => {
                w.push(CONSTRAIN_EXTENSION);
                w.put_string(RESTRICT_DESTINATION.as_bytes());
                w.put_string(d);
            }
            Self::Extension { name, data } => {
                w.push(CONSTRAIN_EXTENSION);
                w.put_string(name.as_bytes());
                w.extend_from_slice(data);
            }
        }
    }
}

/// Reads constraints to the end of the message.
pub(crate) fn decode_all(r: &mut Reader<'_>) -> Result<Vec<Constraint>, AgentError> {
    let mut out = Vec::new();
    while !r.is_empty() {
        if out.len() == MAX_CONSTRAINTS {
            return Err(WireError::TooLong.into());
        }
        let c = match r.u8()? {
            CONSTRAIN_LIFETIME => Constraint::Lifetime(r.u32()?),
            CONSTRAIN_CONFIRM => Constraint::Confirm,
            CONSTRAIN_MAXSIGN => Constraint::MaxSignatures(r.u32()?),
            CONSTRAIN_EXTENSION => {
                let name = r.utf8()?;
                if name == RESTRICT_DESTINATION {
                    Constraint::RestrictDestination(r.string()?.to_vec())
                } else {
                    let data = r.remaining().to_vec();
                    *r = Reader::new(&[]);
                    Constraint::Extension { name: name.to_owned(), data }
                }
            }
            _ => return Err(WireError::InvalidValue.into()),
        };
        out.push(c);
    }
    Ok(out)
}
