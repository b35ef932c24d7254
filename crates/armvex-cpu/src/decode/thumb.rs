//! The T32 (Thumb-2) decoder. Not implemented yet: every halfword decodes to UNDEFINED.

use super::Features;
use crate::code_cache::{THUMB_SLOTS, ThumbPage};
use crate::exec::misc;
use crate::insn::Insn;

/// Decode a whole 4 KiB page of Thumb code, one entry per halfword.
pub fn decode_thumb_page(bytes: &[u8], _f: &Features) -> Box<ThumbPage> {
    let mut page: Box<ThumbPage> = vec![Insn::new(misc::undefined, 0).len(2); THUMB_SLOTS]
        .into_boxed_slice()
        .try_into()
        .expect("slot count");
    for (i, insn) in page.iter_mut().enumerate() {
        insn.raw = u32::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]));
    }
    page
}
