//! Predecoded code, one table per 4 KiB RAM page.
//!
//! The first time a CPU executes from a physical page, the whole page is decoded into an array
//! of [`Insn`]: 1024 slots in ARM state, 2048 (one per halfword) in Thumb state. Decoding a page
//! at once keeps the run loop free of "is this slot decoded yet?" checks; data that happens to
//! share the page decodes to harmless entries that are never executed.
//!
//! Pages are indexed by the dense RAM page number of [`armvex_bus::RamPage::index`], so a
//! lookup is a vector index, not a hash. The page is marked as a code page in guest memory;
//! when anything writes to it, guest memory queues it, and [`CodeCache::drop_invalidated`]
//! throws the stale decode away before the next block runs. The cache is shared by all CPUs of
//! a machine (they run on one host thread).

use crate::decode::{Features, decode_arm, decode_thumb_page};
use crate::insn::Insn;
use armvex_bus::PhysicalMemory;

/// Number of ARM instructions in a page.
pub const ARM_SLOTS: usize = 1024;
/// Number of halfword slots in a page (Thumb).
pub const THUMB_SLOTS: usize = 2048;

/// Decoded ARM instructions of one page.
pub type ArmPage = [Insn; ARM_SLOTS];
/// Decoded Thumb instructions of one page, one per halfword.
pub type ThumbPage = [Insn; THUMB_SLOTS];

/// The predecoded pages of a machine.
pub struct CodeCache {
    arm: Vec<Option<Box<ArmPage>>>,
    thumb: Vec<Option<Box<ThumbPage>>>,
    features: Features,
    /// Number of pages decoded so far (for `--stats`).
    pub pages_decoded: u64,
}

impl CodeCache {
    /// An empty cache for a machine with `pages` RAM pages and CPUs with `features`.
    pub fn new(pages: u32, features: Features) -> CodeCache {
        CodeCache {
            arm: (0..pages).map(|_| None).collect(),
            thumb: (0..pages).map(|_| None).collect(),
            features,
            pages_decoded: 0,
        }
    }

    /// The decoded ARM page for RAM page `index` at host address `host`, decoding it if needed.
    #[inline]
    pub(crate) fn arm_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) -> &ArmPage {
        let slot = &mut self.arm[index as usize];
        if slot.is_none() {
            let mut page: Box<ArmPage> = vec![Insn::new(crate::exec::misc::undefined, 0); ARM_SLOTS]
                .into_boxed_slice()
                .try_into()
                .expect("slot count");
            for (i, insn) in page.iter_mut().enumerate() {
                // SAFETY: `host` is the start of a 4 KiB RAM page (from the fetch TLB) and
                // i * 4 + 4 <= 4096.
                let word = u32::from_le(unsafe { (host.add(i * 4) as *const u32).read_unaligned() });
                *insn = decode_arm(word, &self.features);
            }
            memory.mark_code(index);
            self.pages_decoded += 1;
            *slot = Some(page);
        }
        slot.as_deref().expect("just filled")
    }

    /// The decoded Thumb page for RAM page `index` (see [`CodeCache::arm_page`]).
    #[inline]
    pub(crate) fn thumb_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) -> &ThumbPage {
        let slot = &mut self.thumb[index as usize];
        if slot.is_none() {
            // SAFETY: `host` is the start of a 4 KiB RAM page.
            let bytes = unsafe { std::slice::from_raw_parts(host, 4096) };
            let page = decode_thumb_page(bytes, &self.features);
            memory.mark_code(index);
            self.pages_decoded += 1;
            *slot = Some(page);
        }
        slot.as_deref().expect("just filled")
    }

    /// Drop the decode of every page that was written since it was decoded.
    pub fn drop_invalidated(&mut self, memory: &mut PhysicalMemory) {
        while let Some(index) = memory.pop_invalidated() {
            self.arm[index as usize] = None;
            self.thumb[index as usize] = None;
        }
    }

    /// Drop everything (instruction cache invalidation).
    pub fn clear(&mut self, memory: &mut PhysicalMemory) {
        self.arm.iter_mut().for_each(|p| *p = None);
        self.thumb.iter_mut().for_each(|p| *p = None);
        memory.clear_code_marks();
    }
}
