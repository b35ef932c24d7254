//! The next instructions at a CPU's PC, disassembled with capstone (as `--trace` does).

use capstone::prelude::*;
use serde_json::{Value, json};

thread_local! {
    /// One ARM and one Thumb disassembler per thread (capstone handles are not `Send`).
    static ENGINES: Option<(Capstone, Capstone)> = {
        let make = |mode| Capstone::new().arm().mode(mode).build().ok();
        make(arch::arm::ArchMode::Arm).zip(make(arch::arm::ArchMode::Thumb))
    };
}

/// Up to `count` instructions of `code` (read at `addr`): address, raw encoding and text.
pub fn disassemble(thumb: bool, addr: u32, code: &[u8], count: usize) -> Vec<Value> {
    ENGINES.with(|engines| {
        let Some((arm, t)) = engines else {
            return Vec::new();
        };
        let cs = if thumb { t } else { arm };
        let mut out = Vec::new();
        let mut offset = 0usize;
        while out.len() < count && offset < code.len() {
            let at = addr.wrapping_add(offset as u32);
            let insn = cs.disasm_count(&code[offset..], u64::from(at), 1).ok();
            let first = insn.as_ref().and_then(|i| {
                i.iter().next().map(|i| {
                    (
                        i.bytes().to_vec(),
                        i.mnemonic().map(str::to_string),
                        i.op_str().map(str::to_string),
                    )
                })
            });
            let (bytes, text) = match first {
                Some((bytes, m, o)) => (
                    bytes,
                    format!("{} {}", m.unwrap_or_default(), o.unwrap_or_default())
                        .trim()
                        .to_string(),
                ),
                None => {
                    let n = if thumb { 2 } else { 4 }.min(code.len() - offset);
                    (code[offset..offset + n].to_vec(), "(undefined)".to_string())
                }
            };
            if bytes.is_empty() {
                break;
            }
            let raw = if thumb && bytes.len() == 4 {
                format!("{:02x}{:02x}{:02x}{:02x}", bytes[1], bytes[0], bytes[3], bytes[2])
            } else {
                bytes.iter().rev().map(|b| format!("{b:02x}")).collect()
            };
            out.push(json!({ "addr": at, "raw": raw, "text": text }));
            offset += bytes.len();
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn arm_and_thumb() {
        // mov r0, #1 ; bx lr
        let v = super::disassemble(false, 0x8000, &[0x01, 0x00, 0xa0, 0xe3, 0x1e, 0xff, 0x2f, 0xe1], 4);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["text"], "mov r0, #1");
        assert_eq!(v[0]["raw"], "e3a00001");
        assert_eq!(v[1]["addr"], 0x8004);
        // Thumb: movs r0, #1
        let t = super::disassemble(true, 0x100, &[0x01, 0x20], 4);
        assert_eq!(t[0]["text"], "movs r0, #1");
    }
}
