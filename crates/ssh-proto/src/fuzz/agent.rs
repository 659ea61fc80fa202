//! Fuzz bodies for agent (placeholder until the parser lands).

use super::Seeds;

/// Fuzz body (to be filled in).
pub fn agent_messages(_data: &[u8]) {}

pub(super) fn seeds(_out: &mut Seeds) {}
