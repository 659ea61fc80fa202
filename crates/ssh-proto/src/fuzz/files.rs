//! Fuzz bodies for files (placeholder until the parser lands).

use super::Seeds;

/// Fuzz body (to be filled in).
pub fn key_files(_data: &[u8]) {}

/// Fuzz body (to be filled in).
pub fn certificates(_data: &[u8]) {}

pub(super) fn seeds(_out: &mut Seeds) {}
