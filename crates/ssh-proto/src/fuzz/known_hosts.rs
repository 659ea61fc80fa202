//! Fuzz bodies for known_hosts (placeholder until the parser lands).

use super::Seeds;

/// Fuzz body (to be filled in).
pub fn known_hosts(_data: &[u8]) {}

pub(super) fn seeds(_out: &mut Seeds) {}
