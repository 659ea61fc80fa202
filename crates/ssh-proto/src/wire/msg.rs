//! Message numbers (RFC 4250 §4.1 and OpenSSH's PROTOCOL).

/// `SSH_MSG_DISCONNECT`
pub const DISCONNECT: u8 = 1;
/// `SSH_MSG_IGNORE`
pub const IGNORE: u8 = 2;
/// `SSH_MSG_UNIMPLEMENTED`
pub const UNIMPLEMENTED: u8 = 3;
/// `SSH_MSG_DEBUG`
pub const DEBUG: u8 = 4;
/// `SSH_MSG_SERVICE_REQUEST`
pub const SERVICE_REQUEST: u8 = 5;
/// `SSH_MSG_SERVICE_ACCEPT`
pub const SERVICE_ACCEPT: u8 = 6;
/// `SSH_MSG_EXT_INFO` (RFC 8308)
pub const EXT_INFO: u8 = 7;
/// `SSH_MSG_NEWCOMPRESS` (RFC 8308)
pub const NEWCOMPRESS: u8 = 8;
/// `SSH_MSG_KEXINIT`
pub const KEXINIT: u8 = 20;
/// `SSH_MSG_NEWKEYS`
pub const NEWKEYS: u8 = 21;
/// `SSH_MSG_KEXDH_INIT`, `SSH_MSG_KEX_ECDH_INIT`, `SSH_MSG_KEX_HYBRID_INIT`, `SSH_MSG_KEX_DH_GEX_REQUEST_OLD`
pub const KEX_INIT: u8 = 30;
/// `SSH_MSG_KEXDH_REPLY`, `SSH_MSG_KEX_ECDH_REPLY`, `SSH_MSG_KEX_HYBRID_REPLY`, `SSH_MSG_KEX_DH_GEX_GROUP`
pub const KEX_REPLY: u8 = 31;
/// `SSH_MSG_KEX_DH_GEX_INIT`
pub const KEX_DH_GEX_INIT: u8 = 32;
/// `SSH_MSG_KEX_DH_GEX_REPLY`
pub const KEX_DH_GEX_REPLY: u8 = 33;
/// `SSH_MSG_KEX_DH_GEX_REQUEST`
pub const KEX_DH_GEX_REQUEST: u8 = 34;
/// First user-authentication message number.
pub const USERAUTH_FIRST: u8 = 50;
/// `SSH2_MSG_PING` (OpenSSH `ping@openssh.com`)
pub const PING: u8 = 192;
/// `SSH2_MSG_PONG` (OpenSSH `ping@openssh.com`)
pub const PONG: u8 = 193;

/// Whether `msg` belongs to the key exchange (RFC 4250 §4.1.2: 20–29 generic, 30–49 method-specific).
pub fn is_kex(msg: u8) -> bool {
    (KEXINIT..USERAUTH_FIRST).contains(&msg)
}
