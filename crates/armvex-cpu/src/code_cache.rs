//! Predecoded code, one table per 4 KiB RAM page.
//!
//! The first time a CPU executes from a physical page, the whole page is decoded into an array
//! of [`Insn`]: 1024 slots in ARM state, 2048 (one per halfword) in Thumb state. Decoding a page
//! at once keeps the run loop free of "is this slot decoded yet?" checks; data that happens to
//! share the page decodes to harmless entries that are never executed. Two *sentinel* slots
//! follow the last one: running off the end of the page reaches a sentinel, whose handler
//! ends the straight line (see [`crate::thread`]), so no handler compares its position with
//! the end of the page.
//!
//! Pages are indexed by the dense RAM page number of [`armvex_bus::RamPage::index`], so a
//! lookup is a vector index, not a hash. The page is marked as a code page in guest memory;
//! when anything writes to it, guest memory queues it, and [`CodeCache::drop_invalidated`]
//! throws the stale decode away before the next block runs. The cache is shared by all CPUs of
//! a machine (they run on one host thread).

pub use crate::decode::{ARM_SLOTS, THUMB_SLOTS};
use crate::decode::{Features, decode_arm, decode_thumb_page};
use crate::exec::branch::fused_compare_branch;
use crate::exec::thumb::it_block_copies;
use crate::insn::{COND_ALWAYS, Decoded, Insn};
use crate::thread::{Check, END_OF_PAGE, link_condition_runs};
use armvex_bus::PhysicalMemory;

/// Sentinel slots after the last instruction slot of a page: a 32-bit Thumb instruction in
/// the last slot continues two slots on.
pub const SENTINELS: usize = 2;

/// The decoded instructions of one page in one instruction set.
pub struct CodePage {
    /// One instruction per slot, then [`SENTINELS`] sentinels, then (Thumb pages) the
    /// copies of IT blocks (see [`crate::exec::thumb::it_block_copies`]).
    insns: Box<[Insn]>,
    /// The encoding of each slot's instruction (for traces).
    raw: Box<[u32]>,
    /// How many slots run two instructions (see [`crate::fuse`]).
    fused_pairs: usize,
}

impl CodePage {
    fn new(decoded: impl ExactSizeIterator<Item = Decoded>, thumb: bool) -> CodePage {
        let slots = decoded.len();
        let slot_bytes = if thumb { 2 } else { 4 };
        let mut insns = Vec::with_capacity(slots + SENTINELS);
        let mut raw = Vec::with_capacity(slots);
        let mut checked = Vec::with_capacity(slots);
        let mut families = Vec::with_capacity(slots);
        for (i, d) in decoded.enumerate() {
            let (insn, ops) = d.finish_with_family((i * slot_bytes) as u32, thumb);
            checked.push(if insn.cond() >= COND_ALWAYS || ops.own_condition {
                Check::None
            } else if ops.checks_inline(&insn) {
                Check::Inline(ops)
            } else {
                Check::Shared
            });
            families.push(ops);
            insns.push(insn);
            raw.push(d.raw);
        }
        for i in slots..slots + SENTINELS {
            insns.push(Decoded::new(&END_OF_PAGE, 0).finish((i * slot_bytes) as u32, thumb));
        }
        // The runs (see `crate::thread`): from each slot along the straight line to the end
        // of the page or to an instruction that ends its run, whichever comes first.
        let ends: Vec<bool> = families.iter().map(|f| f.ends_run).collect();
        for i in (0..slots).rev() {
            let next = i + insns[i].slots();
            let run = if ends[i] || next >= slots {
                1
            } else {
                1 + insns[next].run() as usize
            };
            insns[i].set_run(run);
        }
        if thumb {
            // IT blocks run in the chain, from copies after the sentinels (see
            // `crate::exec::thumb::it_block_copies`).
            it_block_copies(&mut insns, &families, slots);
        } else {
            link_condition_runs(&mut insns, &checked, &ends);
            // Comparisons followed by a branch in the page run as one (see
            // `crate::exec::branch::compare_branch`).
            for i in 0..slots.saturating_sub(1) {
                let cond = insns[i + 1].cond();
                if let Some(fused) = fused_compare_branch(&insns[i], families[i], families[i + 1], cond) {
                    insns[i].exec = fused;
                    insns[i].then = fused;
                }
            }
        }
        // Superinstructions (see `crate::fuse`), once every slot has its own handler.
        let fused_pairs = crate::fuse::fuse_page(&mut insns, &families, slots);
        CodePage {
            insns: insns.into_boxed_slice(),
            raw: raw.into_boxed_slice(),
            fused_pairs,
        }
    }

    /// The first slot; the array holds the instruction slots and the sentinels. Writable:
    /// a chain whose budget ends inside a run stops at a slot patched for the time of the
    /// chain (see [`crate::cpu::Cpu::run_chain`]).
    #[inline]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut Insn {
        self.insns.as_mut_ptr()
    }

    /// The encodings of the slots.
    #[inline]
    pub(crate) fn raw_ptr(&self) -> *const u32 {
        self.raw.as_ptr()
    }
}

/// The source of [`CodeCache::generation`]s: each cache and each drop of its pages takes a
/// new one, so a generation names one set of live pages of one cache.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn new_generation() -> u64 {
    GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The predecoded pages of a machine.
pub struct CodeCache {
    arm: Vec<Option<CodePage>>,
    thumb: Vec<Option<CodePage>>,
    /// Changes whenever pages are dropped (never 0): a pointer to a decoded page taken while
    /// the generation was `g` is valid while it still is `g` (see
    /// [`crate::tlb::FetchEntry::code`]). Decoding a page leaves it as it is: that moves
    /// no other page.
    generation: u64,
    features: Features,
    /// Number of pages decoded so far (for `--stats`).
    pub pages_decoded: u64,
    /// Number of slots given a fused handler so far (see [`crate::fuse`]).
    pub pairs_fused: u64,
}

impl CodeCache {
    /// An empty cache for a machine with `pages` RAM pages and CPUs with `features`.
    pub fn new(pages: u32, features: Features) -> CodeCache {
        CodeCache {
            arm: (0..pages).map(|_| None).collect(),
            thumb: (0..pages).map(|_| None).collect(),
            generation: new_generation(),
            features,
            pages_decoded: 0,
            pairs_fused: 0,
        }
    }

    /// See [`CodeCache::generation`](CodeCache).
    #[inline(always)]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The decoded ARM page for RAM page `index` at host address `host`, decoding it if needed.
    #[inline(always)]
    pub(crate) fn arm_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) -> &mut CodePage {
        if self.arm[index as usize].is_none() {
            self.decode_arm_page(memory, index, host);
        }
        self.arm[index as usize].as_mut().expect("just filled")
    }

    #[cold]
    #[inline(never)]
    fn decode_arm_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) {
        let features = &self.features;
        let words = (0..ARM_SLOTS).map(|i| {
            // SAFETY: `host` is the start of a 4 KiB RAM page (from the fetch TLB) and
            // i * 4 + 4 <= 4096.
            let word = u32::from_le(unsafe { (host.add(i * 4) as *const u32).read_unaligned() });
            decode_arm(word, features)
        });
        let page = CodePage::new(words, false);
        self.pairs_fused += page.fused_pairs as u64;
        self.arm[index as usize] = Some(page);
        memory.mark_code(index);
        self.pages_decoded += 1;
    }

    /// The decoded Thumb page for RAM page `index` (see [`CodeCache::arm_page`]).
    #[inline(always)]
    pub(crate) fn thumb_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) -> &mut CodePage {
        if self.thumb[index as usize].is_none() {
            self.decode_thumb_page(memory, index, host);
        }
        self.thumb[index as usize].as_mut().expect("just filled")
    }

    #[cold]
    #[inline(never)]
    fn decode_thumb_page(&mut self, memory: &mut PhysicalMemory, index: u32, host: *const u8) {
        // SAFETY: `host` is the start of a 4 KiB RAM page.
        let bytes = unsafe { std::slice::from_raw_parts(host, 4096) };
        let decoded = decode_thumb_page(bytes, &self.features);
        let page = CodePage::new(decoded.into_iter(), true);
        self.pairs_fused += page.fused_pairs as u64;
        self.thumb[index as usize] = Some(page);
        memory.mark_code(index);
        self.pages_decoded += 1;
    }

    /// Drop the decode of every page that was written since it was decoded.
    pub fn drop_invalidated(&mut self, memory: &mut PhysicalMemory) {
        while let Some(index) = memory.pop_invalidated() {
            self.arm[index as usize] = None;
            self.thumb[index as usize] = None;
            self.generation = new_generation();
        }
    }

    /// Drop everything (instruction cache invalidation).
    pub fn clear(&mut self, memory: &mut PhysicalMemory) {
        self.arm.iter_mut().for_each(|p| *p = None);
        self.thumb.iter_mut().for_each(|p| *p = None);
        self.generation = new_generation();
        memory.clear_code_marks();
    }
}
