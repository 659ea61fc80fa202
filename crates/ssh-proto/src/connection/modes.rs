//! Encoded terminal modes of a `pty-req` (RFC 4254 §8).

use bytes::BufMut;

use crate::wire::{Reader, WireError};

/// Opcodes of RFC 4254 §8 (and RFC 8160's IUTF8).
#[allow(missing_docs)]
pub mod opcode {
    pub const TTY_OP_END: u8 = 0;
    pub const VINTR: u8 = 1;
    pub const VQUIT: u8 = 2;
    pub const VERASE: u8 = 3;
    pub const VKILL: u8 = 4;
    pub const VEOF: u8 = 5;
    pub const VEOL: u8 = 6;
    pub const VEOL2: u8 = 7;
    pub const VSTART: u8 = 8;
    pub const VSTOP: u8 = 9;
    pub const VSUSP: u8 = 10;
    pub const VDSUSP: u8 = 11;
    pub const VREPRINT: u8 = 12;
    pub const VWERASE: u8 = 13;
    pub const VLNEXT: u8 = 14;
    pub const VFLUSH: u8 = 15;
    pub const VSWTCH: u8 = 16;
    pub const VSTATUS: u8 = 17;
    pub const VDISCARD: u8 = 18;
    pub const IGNPAR: u8 = 30;
    pub const PARMRK: u8 = 31;
    pub const INPCK: u8 = 32;
    pub const ISTRIP: u8 = 33;
    pub const INLCR: u8 = 34;
    pub const IGNCR: u8 = 35;
    pub const ICRNL: u8 = 36;
    pub const IUCLC: u8 = 37;
    pub const IXON: u8 = 38;
    pub const IXANY: u8 = 39;
    pub const IXOFF: u8 = 40;
    pub const IMAXBEL: u8 = 41;
    pub const IUTF8: u8 = 42;
    pub const ISIG: u8 = 50;
    pub const ICANON: u8 = 51;
    pub const XCASE: u8 = 52;
    pub const ECHO: u8 = 53;
    pub const ECHOE: u8 = 54;
    pub const ECHOK: u8 = 55;
    pub const ECHONL: u8 = 56;
    pub const NOFLSH: u8 = 57;
    pub const TOSTOP: u8 = 58;
    pub const IEXTEN: u8 = 59;
    pub const ECHOCTL: u8 = 60;
    pub const ECHOKE: u8 = 61;
    pub const PENDIN: u8 = 62;
    pub const OPOST: u8 = 70;
    pub const OLCUC: u8 = 71;
    pub const ONLCR: u8 = 72;
    pub const OCRNL: u8 = 73;
    pub const ONOCR: u8 = 74;
    pub const ONLRET: u8 = 75;
    pub const CS7: u8 = 90;
    pub const CS8: u8 = 91;
    pub const PARENB: u8 = 92;
    pub const PARODD: u8 = 93;
    pub const TTY_OP_ISPEED: u8 = 128;
    pub const TTY_OP_OSPEED: u8 = 129;
}

/// Most modes accepted in one request (RFC 4254 defines fewer than 100).
pub const MAX_MODES: usize = 256;

/// Terminal modes: `(opcode, value)` pairs in the order given.
///
/// ```
/// use ssh_proto::connection::{TerminalModes, modes::opcode};
/// let modes = TerminalModes(vec![(opcode::ECHO, 1), (opcode::TTY_OP_ISPEED, 38400)]);
/// let encoded = modes.encode();
/// assert_eq!(TerminalModes::decode(&encoded).unwrap(), modes);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TerminalModes(pub Vec<(u8, u32)>);

impl TerminalModes {
    /// The value of `opcode`, if present.
    pub fn get(&self, opcode: u8) -> Option<u32> {
        self.0.iter().find(|(o, _)| *o == opcode).map(|(_, v)| *v)
    }

    /// The encoded string (without its length prefix), `TTY_OP_END` included.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.0.len() * 5 + 1);
        for &(op, value) in &self.0 {
            if op == opcode::TTY_OP_END || op >= 160 {
                continue;
            }
            v.put_u8(op);
            v.put_u32(value);
        }
        v.put_u8(opcode::TTY_OP_END);
        v
    }

    /// Decodes the mode string. Parsing stops at `TTY_OP_END` or at the first opcode of
    /// 160 and up (whose argument format is undefined), as RFC 4254 §8 says; a missing
    /// `TTY_OP_END` is tolerated (some clients omit it), a truncated argument is not.
    pub fn decode(data: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(data);
        let mut modes = Vec::new();
        while !r.is_empty() {
            let op = r.u8()?;
            if op == opcode::TTY_OP_END || op >= 160 {
                break;
            }
            if modes.len() >= MAX_MODES {
                return Err(WireError::TooLong);
            }
            modes.push((op, r.u32()?));
        }
        Ok(Self(modes))
    }
}
