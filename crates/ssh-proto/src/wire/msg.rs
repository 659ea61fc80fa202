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
/// `SSH_MSG_USERAUTH_REQUEST`
pub const USERAUTH_REQUEST: u8 = 50;
/// `SSH_MSG_USERAUTH_FAILURE`
pub const USERAUTH_FAILURE: u8 = 51;
/// `SSH_MSG_USERAUTH_SUCCESS`
pub const USERAUTH_SUCCESS: u8 = 52;
/// `SSH_MSG_USERAUTH_BANNER`
pub const USERAUTH_BANNER: u8 = 53;
/// `SSH_MSG_USERAUTH_PK_OK`, `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`, `SSH_MSG_USERAUTH_INFO_REQUEST`,
/// `SSH_MSG_USERAUTH_GSSAPI_RESPONSE` (the meaning depends on the method in progress).
pub const USERAUTH_60: u8 = 60;
/// `SSH_MSG_USERAUTH_INFO_RESPONSE`, `SSH_MSG_USERAUTH_GSSAPI_TOKEN`.
pub const USERAUTH_61: u8 = 61;
/// `SSH_MSG_USERAUTH_GSSAPI_EXCHANGE_COMPLETE`
pub const USERAUTH_GSSAPI_EXCHANGE_COMPLETE: u8 = 63;
/// `SSH_MSG_USERAUTH_GSSAPI_ERROR`
pub const USERAUTH_GSSAPI_ERROR: u8 = 64;
/// `SSH_MSG_USERAUTH_GSSAPI_ERRTOK`
pub const USERAUTH_GSSAPI_ERRTOK: u8 = 65;
/// `SSH_MSG_USERAUTH_GSSAPI_MIC`
pub const USERAUTH_GSSAPI_MIC: u8 = 66;
/// First connection-protocol message number.
pub const CONNECTION_FIRST: u8 = 80;
/// `SSH_MSG_GLOBAL_REQUEST`
pub const GLOBAL_REQUEST: u8 = 80;
/// `SSH_MSG_REQUEST_SUCCESS`
pub const REQUEST_SUCCESS: u8 = 81;
/// `SSH_MSG_REQUEST_FAILURE`
pub const REQUEST_FAILURE: u8 = 82;
/// `SSH_MSG_CHANNEL_OPEN`
pub const CHANNEL_OPEN: u8 = 90;
/// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION`
pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
/// `SSH_MSG_CHANNEL_OPEN_FAILURE`
pub const CHANNEL_OPEN_FAILURE: u8 = 92;
/// `SSH_MSG_CHANNEL_WINDOW_ADJUST`
pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
/// `SSH_MSG_CHANNEL_DATA`
pub const CHANNEL_DATA: u8 = 94;
/// `SSH_MSG_CHANNEL_EXTENDED_DATA`
pub const CHANNEL_EXTENDED_DATA: u8 = 95;
/// `SSH_MSG_CHANNEL_EOF`
pub const CHANNEL_EOF: u8 = 96;
/// `SSH_MSG_CHANNEL_CLOSE`
pub const CHANNEL_CLOSE: u8 = 97;
/// `SSH_MSG_CHANNEL_REQUEST`
pub const CHANNEL_REQUEST: u8 = 98;
/// `SSH_MSG_CHANNEL_SUCCESS`
pub const CHANNEL_SUCCESS: u8 = 99;
/// `SSH_MSG_CHANNEL_FAILURE`
pub const CHANNEL_FAILURE: u8 = 100;
/// One past the last connection-protocol message number (RFC 4250 §4.1.2: 80–127).
pub const CONNECTION_END: u8 = 128;
/// `SSH2_MSG_PING` (OpenSSH `ping@openssh.com`)
pub const PING: u8 = 192;
/// `SSH2_MSG_PONG` (OpenSSH `ping@openssh.com`)
pub const PONG: u8 = 193;

/// Whether `msg` belongs to the key exchange (RFC 4250 §4.1.2: 20–29 generic, 30–49 method-specific).
pub fn is_kex(msg: u8) -> bool {
    (KEXINIT..USERAUTH_FIRST).contains(&msg)
}

/// Whether `msg` belongs to user authentication (RFC 4250 §4.1.2: 50–79).
pub fn is_userauth(msg: u8) -> bool {
    (USERAUTH_FIRST..CONNECTION_FIRST).contains(&msg)
}

/// Whether `msg` belongs to the connection protocol (RFC 4250 §4.1.2: 80–127).
pub fn is_connection(msg: u8) -> bool {
    (CONNECTION_FIRST..CONNECTION_END).contains(&msg)
}
