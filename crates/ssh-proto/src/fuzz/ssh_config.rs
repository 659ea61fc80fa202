//! Fuzz bodies for ssh_config (placeholder until the parser lands).

use super::Seeds;

/// Fuzz body (to be filled in).
pub fn ssh_config(_data: &[u8]) {}

pub(super) fn seeds(_out: &mut Seeds) {}
