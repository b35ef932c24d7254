//! The software TLB's tables: per 4 KiB virtual page, the host address of the RAM behind it,
//! for reads, writes and instruction fetch, each privileged and User. How loads and stores use
//! them, and when they are flushed, is [`crate::memory`]'s story.
//!
//! The fetch entries also remember the decoded page of their RAM page (`Code` is the
//! decoded instruction, [`crate::cpu::Insn`]); the tables only keep the pointer, so they do
//! not depend on what an instruction is.

/// Entries per TLB table (direct-mapped by virtual page number).
pub const TLB_ENTRIES: usize = 512;
/// Bytes of one TLB table.
pub const TLB_TABLE_BYTES: usize = TLB_ENTRIES * std::mem::size_of::<TlbEntry>();
pub(crate) const PAGE_MASK: u32 = !0xfff;
/// A tag that matches no address: masked addresses never have bits 11:3 set.
pub(crate) const INVALID_TAG: u32 = 0xffff_ffff;

/// One direct-mapped TLB entry: host address of the byte at `va` is `va + addend`.
#[derive(Clone, Copy, Debug)]
pub struct TlbEntry {
    pub tag: u32,
    pub addend: usize,
}

impl Default for TlbEntry {
    fn default() -> Self {
        TlbEntry {
            tag: INVALID_TAG,
            addend: 0,
        }
    }
}

/// An instruction-fetch TLB entry: the virtual page maps the RAM page `page` (see
/// [`armvex_bus::RamPage::index`]) at host address `host`.
#[derive(Debug)]
pub struct FetchEntry<Code> {
    pub tag: u32,
    pub page: u32,
    pub host: *const u8,
    /// The decoded page of `page` in the instruction set `code_generation` says, valid if
    /// `code_generation` is the code cache's generation (see
    /// [`crate::code_cache::CodeCache`]), with [`THUMB_CODE`] set for a Thumb page, for a
    /// chain of handlers to go on into the page without coming back to the block loop
    /// ([`crate::thread`]).
    pub code: *const Code,
    pub code_generation: u64,
}

// Copied whatever `Code` is: it only holds a pointer to it (a derive would ask `Code: Copy`).
impl<Code> Clone for FetchEntry<Code> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Code> Copy for FetchEntry<Code> {}

impl<Code> Default for FetchEntry<Code> {
    fn default() -> Self {
        FetchEntry {
            tag: INVALID_TAG,
            page: 0,
            host: std::ptr::null(),
            code: std::ptr::null(),
            code_generation: 0,
        }
    }
}

/// Set in [`FetchEntry::code_generation`] when the page's code is Thumb code (code cache
/// generations are far below it).
pub const THUMB_CODE: u64 = 1 << 63;

/// How many filled indices the TLB remembers for a cheap [`Tlb::flush_all`].
pub const FILLED_MAX: usize = 64;

/// The software TLB of one CPU. Index 0 of each pair is for privileged accesses, 1 for User.
pub struct Tlb<Code> {
    pub read: [[TlbEntry; TLB_ENTRIES]; 2],
    pub write: [[TlbEntry; TLB_ENTRIES]; 2],
    pub fetch: [[FetchEntry<Code>; TLB_ENTRIES]; 2],
    /// The indices filled since the last [`Tlb::flush_all`] (any table, repeats possible),
    /// the first `filled_len` of them; `filled_len > FILLED_MAX` when more were filled than
    /// fit (the next flush clears every entry).
    filled: [u16; FILLED_MAX],
    filled_len: usize,
    /// The smallest range covering every entry filled from a mapping larger than 4 KiB, so a
    /// flush by address inside it can flush everything (as QEMU does).
    large_lo: u32,
    large_hi: u32,
}

impl<Code> Default for Tlb<Code> {
    fn default() -> Self {
        Tlb {
            read: [[TlbEntry::default(); TLB_ENTRIES]; 2],
            write: [[TlbEntry::default(); TLB_ENTRIES]; 2],
            fetch: [[FetchEntry::default(); TLB_ENTRIES]; 2],
            filled: [0; FILLED_MAX],
            filled_len: 0,
            large_lo: u32::MAX,
            large_hi: 0,
        }
    }
}

/// The host address of `va` through the TLB table pair at `tables` (`tlb.read` or
/// `tlb.write`) for privilege offset `user_bytes` (see `Cpu::tlb_read_host` in [`crate::memory`]). One address
/// computation serves the tag compare and the addend load: this is the hottest code of
/// every load and store.
#[inline(always)]
pub(crate) fn tlb_host(tables: *const u8, user_bytes: usize, va: u32, size: u32) -> Option<*mut u8> {
    debug_assert!(user_bytes == 0 || user_bytes == TLB_TABLE_BYTES);
    // `|` rather than `+`: the two never share a bit (an entry's offset in its table is
    // below the table's size, a power of two), and with `|` the compiler computes the
    // offset once for both loads below.
    const _: () = assert!(TLB_TABLE_BYTES.is_power_of_two());
    // SAFETY: `user_bytes` is the offset of table 0 or 1 of a pair of tables, and
    // `tlb_index` is below `TLB_ENTRIES`, so the entry is inside the pair.
    let entry = unsafe { tables.add(user_bytes | (tlb_index(va) * std::mem::size_of::<TlbEntry>())) };
    // SAFETY: `entry` is a `TlbEntry` (above).
    let tag = unsafe { entry.add(std::mem::offset_of!(TlbEntry, tag)).cast::<u32>().read() };
    if tag != va & (PAGE_MASK | (size - 1)) {
        return None;
    }
    // SAFETY: as above.
    let addend = unsafe { entry.add(std::mem::offset_of!(TlbEntry, addend)).cast::<usize>().read() };
    Some((va as usize).wrapping_add(addend) as *mut u8)
}

#[inline(always)]
pub(crate) fn tlb_index(va: u32) -> usize {
    (va >> 12) as usize & (TLB_ENTRIES - 1)
}

impl<Code> Tlb<Code> {
    /// Drop every entry: the ones filled since the last flush, or all of them if that is
    /// not known (more were filled than [`FILLED_MAX`]).
    pub fn flush_all(&mut self) {
        if self.filled_len <= FILLED_MAX {
            for k in 0..self.filled_len {
                let i = usize::from(self.filled[k]);
                for p in 0..2 {
                    self.read[p][i] = TlbEntry::default();
                    self.write[p][i] = TlbEntry::default();
                    self.fetch[p][i] = FetchEntry::default();
                }
            }
        } else {
            for p in 0..2 {
                self.read[p].fill(TlbEntry::default());
                self.write[p].fill(TlbEntry::default());
                self.fetch[p].fill(FetchEntry::default());
            }
        }
        self.filled_len = 0;
        self.large_lo = u32::MAX;
        self.large_hi = 0;
    }

    /// Note that entries at index `i` of some table are about to be filled.
    #[inline]
    pub(crate) fn note_fill(&mut self, i: usize) {
        if self.filled_len < FILLED_MAX {
            self.filled[self.filled_len] = i as u16;
            self.filled_len += 1;
        } else {
            self.filled_len = FILLED_MAX + 1;
        }
    }

    /// Drop the write entries (a page became a code page somewhere).
    pub fn flush_writes(&mut self) {
        for p in 0..2 {
            self.write[p].fill(TlbEntry::default());
        }
    }

    /// Drop the entries that translate `va` (TLB maintenance by MVA).
    pub fn flush_page(&mut self, va: u32) {
        if self.large_lo <= va && va <= self.large_hi {
            self.flush_all();
            return;
        }
        let i = tlb_index(va);
        let tag = va & PAGE_MASK;
        for p in 0..2 {
            if self.read[p][i].tag == tag {
                self.read[p][i] = TlbEntry::default();
            }
            if self.write[p][i].tag == tag {
                self.write[p][i] = TlbEntry::default();
            }
            if self.fetch[p][i].tag == tag {
                self.fetch[p][i] = FetchEntry::default();
            }
        }
    }

    pub(crate) fn note_mapping_size(&mut self, va: u32, size: u64) {
        if size > 0x1000 {
            let lo = va & !((size.min(1 << 31) as u32) - 1);
            let hi = lo.wrapping_add((size.min(1 << 31) as u32) - 1);
            self.large_lo = self.large_lo.min(lo);
            self.large_hi = self.large_hi.max(if hi < lo { u32::MAX } else { hi });
        }
    }
}
