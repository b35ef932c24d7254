//! Guest RAM: host memory mappings placed at guest physical addresses.
//!
//! Each region (main RAM, PSRAM, SRAM, video RAM, flash) is an anonymous host mapping made with
//! `memmap2`. The CPU's software TLB caches host pointers into these mappings, so ordinary loads
//! and stores to RAM never reach this code: only the TLB's misses and the slow path do.
//!
//! ## Predecoded code and writes
//!
//! The CPU predecodes instructions per 4 KiB guest page. To keep that cache coherent with
//! memory, this module tracks which RAM pages hold predecoded code (a bit per page):
//!
//! * when the CPU decodes a page it calls [`PhysicalMemory::mark_code`], which bumps the
//!   *code epoch*; CPUs that see a new epoch drop the write entries of their TLBs, so every later
//!   write to a code page comes through [`PhysicalMemory::write`] and friends;
//! * such a write clears the page's bit and queues the page on the *invalidated* list, which the
//!   code cache drains before it runs the next block.
//!
//! Every path that writes guest memory (CPU slow path, device DMA, loaders) goes through here,
//! so predecoded code can never be stale (beyond the block being executed).
//!
//! ## Undo logs for reverse execution
//!
//! Reverse execution keeps checkpoints of the machine and must be able to put RAM back as it was
//! at each of them. Copying all of RAM at every checkpoint would cost hundreds of megabytes a
//! time; instead, between [`PhysicalMemory::start_undo`] and [`PhysicalMemory::take_undo`], the
//! first write to each page saves the page's old contents ([`RamUndo`]). Applying the undo logs
//! of the intervals since a checkpoint, newest first, gives back RAM as it was at that checkpoint.
//! The CPUs' TLBs must not let a first write bypass this: the *write epoch* (which also moves when
//! a page becomes a code page) changes whenever a new log starts, and a CPU that sees a new epoch
//! drops its TLB write entries, so its next write to every page comes through here.
//!
//! ## Read-only memory
//!
//! A region can be made read-only ([`PhysicalMemory::set_read_only`]), like the boards' NOR
//! flash: the CPU reads and executes it from host memory, but its pages are never writable
//! through the TLB ([`RamPage::writable`]), [`PhysicalMemory::write`] and
//! [`PhysicalMemory::write_bytes`] (CPU stores, DMA) refuse it, and only the loaders put data
//! there ([`PhysicalMemory::load_bytes`]).
//!
//! ## ROM devices: memory whose reads depend on a mode (NOR flash)
//!
//! A NOR flash is read like ROM, but a write is a *command*: after "read status" or "CFI query"
//! every read of the chip returns the status or the query table until "read array" puts the
//! stored bytes back (QEMU calls such memory a ROM device). A read-only region can be given to
//! a device for that ([`PhysicalMemory::make_rom_device`]): the bus sends the writes the guest
//! makes to the region (and its alias) to that device, and the device says what reads show
//! ([`RomView`], through [`crate::DeviceContext::set_rom_view`]): the stored bytes, or a table
//! of words.
//!
//! Reads must stay fast (code runs from flash) and the CPU's TLB holds host pointers, which
//! nothing here can take back when the mode changes in the middle of a block. So the CPU never
//! gets pointers into the stored bytes of a ROM device: [`PhysicalMemory::page`] hands out
//! pages of a second mapping, the *view*, which holds what a read shows in the current mode.
//! A view page is filled when it is first handed out and is then *shown*: from then on it is
//! kept up to date eagerly, whenever the mode or the stored bytes change, because a TLB may
//! point at it. Reads are therefore a pure function of the mode and the stored bytes, however
//! they reach memory (TLB, slow path, another CPU), and predecoded code on a view page is
//! dropped whenever the page's contents change.
//!
//! A table of words cannot tell access sizes apart: a byte read at an address that is not a
//! multiple of 4 returns that byte of the word at the aligned address. (QEMU's pflash returns
//! the low byte of its answer at any address; drivers read whole words.)
//!
//! The stored bytes are ordinary RAM pages for everything else: snapshots, undo logs,
//! [`PhysicalMemory::read_bytes`] (the debugger, DMA) and [`PhysicalMemory::load_bytes`]
//! (loaders, and the device when it programs or erases) all see them.

use crate::error::BusError;
use crate::mmio::AccessSize;
use memmap2::{MmapMut, MmapOptions};

/// Size of a guest page as far as RAM bookkeeping is concerned (the small-page size of VMSAv7).
pub const PAGE_SIZE: u32 = 4096;

/// A guest physical address. The Cortex-A15's long-descriptor translation (LPAE) outputs
/// 40-bit physical addresses, so RAM may lie above 4 GiB (vexpress-a15's RAM starts at
/// 2 GiB and may be up to 30 GiB long); the Cortex-A9 and the short-descriptor format stay
/// below 4 GiB. Devices are all below 4 GiB.
pub type PhysAddr = u64;

/// The end of the 40-bit physical address space (1 TiB).
pub const PHYS_ADDR_LIMIT: PhysAddr = 1 << 40;

/// An anonymous mapping of `size` bytes for guest memory. MAP_NORESERVE: the host commits
/// pages only when they are first touched, so a guest given 30 GiB costs what it uses (and
/// Linux's overcommit heuristic does not refuse a map larger than the host's RAM and swap).
fn map_guest_memory(size: u64) -> std::io::Result<MmapMut> {
    let len = usize::try_from(size).map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    MmapOptions::new().len(len).no_reserve_swap().map_anon()
}

/// What a board asks for: a named RAM region at a physical address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RamRegionSpec {
    /// The region's name in the board file and in diagnostics ("ram", "psram", "flash0").
    pub name: String,
    /// Its first guest physical address.
    pub base: PhysAddr,
    /// Its size in bytes.
    pub size: u64,
}

/// A second window onto (the start of) an existing region, like the vexpress boards' view of
/// NOR flash 0 at address 0. Both addresses reach the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RamAliasSpec {
    /// Name of the region this window shows.
    pub of: String,
    /// Guest physical address of the window.
    pub base: PhysAddr,
    /// Size of the window in bytes (at most the region's).
    pub size: u64,
}

struct RamRegion {
    spec: RamRegionSpec,
    /// The host memory, or for an alias the index of the region it shows.
    backing: Backing,
    /// Index of this region's first page in the machine-wide page numbering.
    first_page: u32,
    /// Writes from the guest are refused (an alias follows the region it shows).
    read_only: bool,
    /// The device behind a ROM device region (see the module docs), and its view.
    rom: Option<Box<RomDevice>>,
}

/// What reads of a ROM device region show (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RomView {
    /// The stored bytes (a flash in read-array mode).
    Array,
    /// A table of little-endian words: the word at byte offset `4 * i` of the region reads
    /// `words[i % words.len()]` if `repeat`, else `words[i]`, or 0 past the table's end.
    Words {
        /// The table.
        words: Vec<u32>,
        /// The table repeats through the whole region.
        repeat: bool,
    },
}

impl RomView {
    /// The word at byte offset `offset` (a multiple of 4) of the region in this view, for the
    /// non-array views.
    fn word(&self, offset: usize) -> u32 {
        match self {
            RomView::Array => unreachable!("the array view reads the stored bytes"),
            RomView::Words { words, repeat } => {
                let i = offset / 4;
                if words.is_empty() {
                    0
                } else if *repeat {
                    words[i % words.len()]
                } else {
                    words.get(i).copied().unwrap_or(0)
                }
            }
        }
    }
}

/// The device side of a ROM device region.
struct RomDevice {
    /// The device the guest's writes go to (its [`crate::DeviceId`]).
    device: usize,
    mode: RomView,
    /// What the CPU reads: the region's size, filled page by page.
    view: MmapMut,
    /// One bit per page of the region: the view page is shown (up to date, and the CPU may
    /// hold pointers to it).
    shown: Vec<u64>,
    /// The shown pages, in the order they were first shown.
    shown_list: Vec<u32>,
}

impl RomDevice {
    fn is_shown(&self, page: u32) -> bool {
        self.shown[page as usize / 64] & (1 << (page % 64)) != 0
    }

    /// Fill view page `page` (of the region) from the mode and the stored bytes `array`.
    fn fill(&mut self, page: u32, array: &[u8]) {
        let start = (page * PAGE_SIZE) as usize;
        let end = start + PAGE_SIZE as usize;
        match &self.mode {
            RomView::Array => self.view[start..end].copy_from_slice(&array[start..end]),
            mode => {
                for offset in (start..end).step_by(4) {
                    self.view[offset..offset + 4].copy_from_slice(&mode.word(offset).to_le_bytes());
                }
            }
        }
    }
}

enum Backing {
    Own(MmapMut),
    Alias(usize),
}

impl RamRegion {
    #[inline]
    fn contains(&self, pa: PhysAddr, len: u64) -> bool {
        pa >= self.spec.base && pa - self.spec.base + len <= self.spec.size
    }

    /// Number of 4 KiB pages in the region.
    fn pages(&self) -> u32 {
        (self.spec.size / u64::from(PAGE_SIZE)) as u32
    }
}

/// A RAM page as the CPU's TLB sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamPage {
    /// Host address of the first byte of the page.
    pub host: *mut u8,
    /// Machine-wide page number (dense over all RAM regions), used to index per-page tables
    /// such as the predecoded-code cache.
    pub index: u32,
    /// The guest may write the page (false for read-only memory such as flash).
    pub writable: bool,
}

/// The source of [`PhysicalMemory::id`]s: every memory made takes the next one.
static MEMORY_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_memory_id() -> u64 {
    MEMORY_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// All RAM-like memory of a machine.
pub struct PhysicalMemory {
    /// See [`PhysicalMemory::id`].
    id: u64,
    regions: Vec<RamRegion>,
    total_pages: u32,
    /// One bit per page: the page holds predecoded code.
    code_pages: Vec<u64>,
    code_epoch: u64,
    /// Pages that held predecoded code and have been written since.
    invalidated: Vec<u32>,
    /// The undo log being filled, while reverse execution keeps checkpoints.
    undo: Option<UndoLog>,
}

/// The undo log being filled: which pages are already saved, and their old contents.
struct UndoLog {
    saved: Vec<u64>,
    pages: Vec<(u32, Box<[u8]>)>,
}

impl UndoLog {
    fn new(total_pages: u32) -> UndoLog {
        UndoLog {
            saved: vec![0; total_pages.div_ceil(64) as usize],
            pages: Vec::new(),
        }
    }
}

/// The old contents of the RAM pages written during one interval of execution (see the module
/// docs): applying it with [`PhysicalMemory::apply_undo`] puts those pages back as they were
/// when the interval began.
#[derive(Default)]
pub struct RamUndo {
    /// (page number, its 4 KiB of old contents), in the order the pages were first written.
    pages: Vec<(u32, Box<[u8]>)>,
}

impl RamUndo {
    /// Number of pages saved.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// True if no page was written.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Host memory used, in bytes.
    pub fn bytes(&self) -> usize {
        self.pages.len() * (PAGE_SIZE as usize + 16)
    }

    /// The page numbers saved.
    pub fn page_numbers(&self) -> impl Iterator<Item = u32> + '_ {
        self.pages.iter().map(|(p, _)| *p)
    }

    /// Merge the undo log of the interval just *before* this one into this one, so the result
    /// undoes both intervals: where both saved a page, the older contents win.
    pub fn absorb_older(&mut self, older: RamUndo) {
        let mut by_page: std::collections::HashMap<u32, usize> =
            self.pages.iter().enumerate().map(|(i, (p, _))| (*p, i)).collect();
        for (page, data) in older.pages {
            match by_page.get(&page) {
                Some(&i) => self.pages[i].1 = data,
                None => {
                    by_page.insert(page, self.pages.len());
                    self.pages.push((page, data));
                }
            }
        }
    }
}

impl PhysicalMemory {
    /// Map the given regions. Sizes must be multiples of 4 KiB and regions must not overlap.
    pub fn new(specs: &[RamRegionSpec]) -> Result<Self, BusError> {
        Self::with_aliases(specs, &[])
    }

    /// Map the given regions and alias windows (see [`RamAliasSpec`]).
    pub fn with_aliases(specs: &[RamRegionSpec], aliases: &[RamAliasSpec]) -> Result<Self, BusError> {
        let mut regions: Vec<RamRegion> = Vec::new();
        let mut next_page = 0u32;
        let check = |regions: &[RamRegion], name: &str, base: PhysAddr, size: u64| -> Result<(), BusError> {
            let name = name.to_string();
            let page = u64::from(PAGE_SIZE);
            if size == 0 || size % page != 0 || base % page != 0 {
                return Err(BusError::RegionNotPageAligned { name });
            }
            if base.checked_add(size).is_none_or(|end| end > PHYS_ADDR_LIMIT) {
                return Err(BusError::RegionBeyond40Bits { name });
            }
            if regions
                .iter()
                .any(|r| ranges_overlap(r.spec.base, r.spec.size, base, size))
            {
                return Err(BusError::RegionOverlap { name });
            }
            Ok(())
        };
        for spec in specs {
            check(&regions, &spec.name, spec.base, spec.size)?;
            let map = map_guest_memory(spec.size).map_err(|source| BusError::Allocate {
                what: format!("guest RAM for {}", spec.name),
                mib: spec.size >> 20,
                source,
            })?;
            regions.push(RamRegion {
                spec: spec.clone(),
                backing: Backing::Own(map),
                first_page: next_page,
                read_only: false,
                rom: None,
            });
            next_page = u32::try_from(u64::from(next_page) + spec.size / u64::from(PAGE_SIZE)).map_err(|_| {
                BusError::RegionBeyond40Bits {
                    name: spec.name.clone(),
                }
            })?;
        }
        for alias in aliases {
            let name = format!("{} alias", alias.of);
            check(&regions, &name, alias.base, alias.size)?;
            let (target, first_page) = regions
                .iter()
                .enumerate()
                .find(|(_, r)| r.spec.name == alias.of && matches!(r.backing, Backing::Own(_)))
                .map(|(i, r)| (i, r.first_page))
                .ok_or_else(|| BusError::UnknownAliasTarget { of: alias.of.clone() })?;
            let size = alias.size.min(regions[target].spec.size);
            regions.push(RamRegion {
                spec: RamRegionSpec {
                    name,
                    base: alias.base,
                    size,
                },
                backing: Backing::Alias(target),
                first_page,
                read_only: false,
                rom: None,
            });
        }
        Ok(PhysicalMemory {
            id: next_memory_id(),
            regions,
            total_pages: next_page,
            code_pages: vec![0; next_page.div_ceil(64) as usize],
            code_epoch: 0,
            invalidated: Vec::new(),
            undo: None,
        })
    }

    /// Make the region called `name` read-only for the guest (see the module docs).
    pub fn set_read_only(&mut self, name: &str) -> Result<(), BusError> {
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.spec.name == name && matches!(r.backing, Backing::Own(_)))
            .ok_or_else(|| BusError::NoSuchRegion { name: name.to_string() })?;
        region.read_only = true;
        Ok(())
    }

    /// Make the region called `name` a ROM device (see the module docs): read-only for the
    /// guest, its writes going to device `device` (a [`crate::DeviceId`]), its reads showing
    /// the stored bytes until the device sets another view.
    pub fn make_rom_device(&mut self, name: &str, device: usize) -> Result<(), BusError> {
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.spec.name == name && matches!(r.backing, Backing::Own(_)))
            .ok_or_else(|| BusError::NoSuchRegion { name: name.to_string() })?;
        let pages = region.pages();
        let view = map_guest_memory(region.spec.size).map_err(|source| BusError::Allocate {
            what: format!("the view of {name}"),
            mib: region.spec.size >> 20,
            source,
        })?;
        region.read_only = true;
        // A view made before is unmapped when this one replaces it: pointers into it must go.
        if region.rom.is_some() {
            self.id = next_memory_id();
        }
        region.rom = Some(Box::new(RomDevice {
            device,
            mode: RomView::Array,
            view,
            shown: vec![0; pages.div_ceil(64) as usize],
            shown_list: Vec::new(),
        }));
        Ok(())
    }

    /// The ROM device behind `pa` (through an alias too) and the offset of `pa` in its region.
    pub fn rom_device_at(&self, pa: PhysAddr) -> Option<(usize, u32)> {
        let (owner, off, _) = self.locate(pa, 1)?;
        let rom = self.regions[owner].rom.as_ref()?;
        Some((rom.device, off as u32))
    }

    /// What reads of the ROM device region of `device` show from now on. Every shown view
    /// page is brought up to date at once (predecoded code on it is dropped).
    pub fn set_rom_view(&mut self, device: usize, mode: RomView) {
        let Some(owner) = self
            .regions
            .iter()
            .position(|r| r.rom.as_ref().is_some_and(|rom| rom.device == device))
        else {
            return;
        };
        let first_page = self.regions[owner].first_page;
        let region = &mut self.regions[owner];
        let (Some(rom), Backing::Own(array)) = (region.rom.as_mut(), &region.backing) else {
            unreachable!("ROM devices are made on regions with their own memory")
        };
        if rom.mode == mode {
            return;
        }
        rom.mode = mode;
        let shown = std::mem::take(&mut rom.shown_list);
        for &page in &shown {
            rom.fill(page, array);
        }
        rom.shown_list = shown;
        // The pages' contents changed under any predecoded code.
        let indices: Vec<u32> = rom.shown_list.iter().map(|p| first_page + p).collect();
        for index in indices {
            self.drop_code_mark(index);
        }
    }

    /// The view of the ROM device region of `device`.
    pub fn rom_view(&self, device: usize) -> Option<&RomView> {
        self.regions
            .iter()
            .filter_map(|r| r.rom.as_ref())
            .find(|rom| rom.device == device)
            .map(|rom| &rom.mode)
    }

    /// After the stored bytes of region `owner` changed at `off..off+len`: shown view pages
    /// that show the array get the new bytes.
    fn sync_rom_view(&mut self, owner: usize, off: usize, len: usize) {
        let region = &mut self.regions[owner];
        let (Some(rom), Backing::Own(array)) = (region.rom.as_mut(), &region.backing) else {
            return;
        };
        if rom.mode != RomView::Array || len == 0 {
            return;
        }
        let first = (off / PAGE_SIZE as usize) as u32;
        let last = ((off + len - 1) / PAGE_SIZE as usize) as u32;
        for page in first..=last {
            if rom.is_shown(page) {
                rom.fill(page, array);
            }
        }
    }

    /// This memory's identity: unique in the process (never 0, never reused). A host pointer
    /// a [`RamPage`] gave out stays valid while a memory with the id it had then is alive (the
    /// id changes if a mapping is ever unmapped before the memory is dropped), so a cache of
    /// such pointers (the CPU's software TLB) records the id of the memory that filled it and
    /// is dropped before it is used with another.
    #[inline]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of RAM pages over all regions (the range of [`RamPage::index`]).
    pub fn total_pages(&self) -> u32 {
        self.total_pages
    }

    /// The regions, as given to [`PhysicalMemory::new`].
    pub fn regions(&self) -> impl Iterator<Item = &RamRegionSpec> {
        self.regions.iter().map(|r| &r.spec)
    }

    /// True if `base..base+size` overlaps any RAM region.
    pub fn overlaps(&self, base: PhysAddr, size: u64) -> bool {
        self.regions
            .iter()
            .any(|r| ranges_overlap(r.spec.base, r.spec.size, base, size))
    }

    /// The region holding `pa..pa+len`, as (index of the region owning the bytes, offset in
    /// it, first page number of the owner).
    #[inline]
    fn locate(&self, pa: PhysAddr, len: u64) -> Option<(usize, usize, u32)> {
        let (i, r) = self.regions.iter().enumerate().find(|(_, r)| r.contains(pa, len))?;
        let owner = match r.backing {
            Backing::Own(_) => i,
            Backing::Alias(t) => t,
        };
        Some((owner, (pa - r.spec.base) as usize, r.first_page))
    }

    fn bytes(&self, owner: usize) -> &[u8] {
        match &self.regions[owner].backing {
            Backing::Own(m) => m,
            Backing::Alias(_) => unreachable!("aliases are resolved by locate"),
        }
    }

    fn bytes_mut(&mut self, owner: usize) -> &mut [u8] {
        match &mut self.regions[owner].backing {
            Backing::Own(m) => m,
            Backing::Alias(_) => unreachable!("aliases are resolved by locate"),
        }
    }

    /// The RAM page containing `pa`, if `pa` is RAM.
    pub fn page(&mut self, pa: PhysAddr) -> Option<RamPage> {
        let (owner, off, first_page) = self.locate(pa, 1)?;
        let offset = off & !(PAGE_SIZE as usize - 1);
        if self.regions[owner].rom.is_some() {
            return Some(self.rom_page(owner, offset, first_page));
        }
        Some(RamPage {
            // The offset is inside the mapping (checked by `locate`).
            host: self.bytes_mut(owner).as_mut_ptr().wrapping_add(offset),
            index: first_page + (offset / PAGE_SIZE as usize) as u32,
            writable: !self.regions[owner].read_only,
        })
    }

    /// The view page at `offset` of ROM device region `owner`, shown from now on.
    #[cold]
    fn rom_page(&mut self, owner: usize, offset: usize, first_page: u32) -> RamPage {
        let region = &mut self.regions[owner];
        let (Some(rom), Backing::Own(array)) = (region.rom.as_mut(), &region.backing) else {
            unreachable!("called for ROM device regions")
        };
        let page = (offset / PAGE_SIZE as usize) as u32;
        if !rom.is_shown(page) {
            rom.fill(page, array);
            rom.shown[page as usize / 64] |= 1 << (page % 64);
            rom.shown_list.push(page);
        }
        RamPage {
            // The offset is inside the view, which has the region's size.
            host: rom.view.as_mut_ptr().wrapping_add(offset),
            index: first_page + page,
            writable: false,
        }
    }

    /// Read a little-endian value of `size` at `pa`, or `None` if it is not (wholly) RAM. A
    /// ROM device region reads as its view shows it.
    pub fn read(&self, pa: PhysAddr, size: AccessSize) -> Option<u32> {
        let n = size.bytes() as usize;
        let (owner, off, _) = self.locate(pa, n as u64)?;
        if let Some(rom) = &self.regions[owner].rom
            && rom.mode != RomView::Array
        {
            let mut b = [0u8; 8];
            let aligned = off & !3;
            b[..4].copy_from_slice(&rom.mode.word(aligned).to_le_bytes());
            b[4..].copy_from_slice(&rom.mode.word(aligned + 4).to_le_bytes());
            let at = off - aligned;
            let mut v = [0u8; 4];
            v[..n].copy_from_slice(&b[at..at + n]);
            return Some(u32::from_le_bytes(v));
        }
        let mut b = [0u8; 4];
        b[..n].copy_from_slice(&self.bytes(owner)[off..off + n]);
        Some(u32::from_le_bytes(b))
    }

    /// Write a little-endian value of `size` at `pa`. Returns false if it is not (wholly)
    /// writable RAM.
    pub fn write(&mut self, pa: PhysAddr, size: AccessSize, value: u32) -> bool {
        let n = size.bytes();
        let bytes = value.to_le_bytes();
        self.write_bytes(pa, &bytes[..n as usize]).is_ok()
    }

    /// Copy guest memory at `pa` into `buf`. Fails (touching nothing) unless the whole range
    /// is inside one RAM region.
    pub fn read_bytes(&self, pa: PhysAddr, buf: &mut [u8]) -> Result<(), OutsideRam> {
        let (owner, off, _) = self.locate(pa, buf.len() as u64).ok_or(OutsideRam { pa })?;
        buf.copy_from_slice(&self.bytes(owner)[off..off + buf.len()]);
        Ok(())
    }

    /// Copy `data` into guest memory at `pa`, invalidating predecoded code it overwrites.
    /// Fails (touching nothing) unless the whole range is inside one writable RAM region.
    pub fn write_bytes(&mut self, pa: PhysAddr, data: &[u8]) -> Result<(), OutsideRam> {
        self.store(pa, data, false)
    }

    /// [`PhysicalMemory::write_bytes`] for loaders, which may also fill read-only memory.
    pub fn load_bytes(&mut self, pa: PhysAddr, data: &[u8]) -> Result<(), OutsideRam> {
        self.store(pa, data, true)
    }

    fn store(&mut self, pa: PhysAddr, data: &[u8], loading: bool) -> Result<(), OutsideRam> {
        let len = data.len();
        let (owner, off, first_page) = self.locate(pa, len as u64).ok_or(OutsideRam { pa })?;
        if self.regions[owner].read_only && !loading {
            return Err(OutsideRam { pa });
        }
        if len > 0 {
            // Before the bytes change: an undo log must see the old contents.
            let first = first_page + (off / PAGE_SIZE as usize) as u32;
            let last = first_page + ((off + len - 1) / PAGE_SIZE as usize) as u32;
            for page in first..=last {
                self.note_write(page);
            }
        }
        self.bytes_mut(owner)[off..off + data.len()].copy_from_slice(data);
        self.sync_rom_view(owner, off, data.len());
        Ok(())
    }

    /// The 4 KiB of page `index` (see [`RamPage::index`]).
    pub fn page_contents(&self, index: u32) -> &[u8] {
        let (owner, offset) = self.page_location(index);
        &self.bytes(owner)[offset..offset + PAGE_SIZE as usize]
    }

    /// Overwrite page `index` with `data` (4 KiB) as a restore does: no undo log sees it,
    /// predecoded code on it is dropped, read-only pages too are written.
    pub fn restore_page(&mut self, index: u32, data: &[u8]) {
        let (owner, offset) = self.page_location(index);
        self.bytes_mut(owner)[offset..offset + PAGE_SIZE as usize].copy_from_slice(&data[..PAGE_SIZE as usize]);
        self.drop_code_mark(index);
        self.sync_rom_view(owner, offset, PAGE_SIZE as usize);
    }

    /// The region owning page `index` and the page's byte offset in it.
    fn page_location(&self, index: u32) -> (usize, usize) {
        let (owner, r) = self
            .regions
            .iter()
            .enumerate()
            .find(|(_, r)| {
                matches!(r.backing, Backing::Own(_)) && index >= r.first_page && index < r.first_page + r.pages()
            })
            .expect("page numbers come from this memory");
        (owner, (index - r.first_page) as usize * PAGE_SIZE as usize)
    }

    /// Start saving the old contents of pages before their first write (module docs).
    pub fn start_undo(&mut self) {
        self.undo = Some(UndoLog::new(self.total_pages));
        self.code_epoch += 1;
    }

    /// Stop saving old contents and drop the log being filled.
    pub fn stop_undo(&mut self) {
        self.undo = None;
    }

    /// True while an undo log is being filled.
    pub fn undo_enabled(&self) -> bool {
        self.undo.is_some()
    }

    /// The undo log of the interval since the last [`PhysicalMemory::start_undo`] or
    /// `take_undo`; a new, empty log starts at once. Empty if no log was being filled.
    pub fn take_undo(&mut self) -> RamUndo {
        match self.undo.as_mut() {
            Some(log) => {
                log.saved.iter_mut().for_each(|w| *w = 0);
                self.code_epoch += 1;
                RamUndo {
                    pages: std::mem::take(&mut log.pages),
                }
            }
            None => RamUndo::default(),
        }
    }

    /// Put back the old contents an undo log holds (newest log first when going back over
    /// several). The log being filled is not told: the caller takes it first.
    pub fn apply_undo(&mut self, undo: &RamUndo) {
        for (index, data) in &undo.pages {
            self.restore_page(*index, data);
        }
        self.code_epoch += 1;
    }

    /// Host memory held by the log being filled, in bytes.
    pub fn undo_bytes(&self) -> usize {
        self.undo
            .as_ref()
            .map_or(0, |l| l.pages.len() * (PAGE_SIZE as usize + 16))
    }

    /// Fill guest memory at `pa..pa+len` with zeros, as a loader (see
    /// [`PhysicalMemory::load_bytes`]).
    pub fn zero(&mut self, pa: PhysAddr, len: u64) -> Result<(), OutsideRam> {
        const ZEROS: [u8; 4096] = [0; 4096];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(4096);
            self.load_bytes(pa + done, &ZEROS[..n as usize])?;
            done += n;
        }
        Ok(())
    }

    /// Record that the CPU has predecoded page `index`. Bumps the code epoch so CPUs drop TLB
    /// write entries that would bypass the invalidation check.
    pub fn mark_code(&mut self, index: u32) {
        let (w, b) = (index as usize / 64, index % 64);
        if self.code_pages[w] & (1 << b) == 0 {
            self.code_pages[w] |= 1 << b;
            self.code_epoch += 1;
        }
    }

    /// True if page `index` holds predecoded code (writes to it must take the slow path).
    #[inline]
    pub fn is_code(&self, index: u32) -> bool {
        self.code_pages[index as usize / 64] & (1 << (index % 64)) != 0
    }

    /// Changes each time a page becomes a code page.
    #[inline]
    pub fn code_epoch(&self) -> u64 {
        self.code_epoch
    }

    /// A write is about to reach page `index`: if it holds predecoded code, queue it for
    /// invalidation; if an undo log is being filled and the page is not in it yet, save the
    /// page's contents first. Call it *before* changing the bytes.
    #[inline]
    pub fn note_write(&mut self, index: u32) {
        self.drop_code_mark(index);
        if self.undo.is_some() {
            self.save_for_undo(index);
        }
    }

    #[inline]
    fn drop_code_mark(&mut self, index: u32) {
        let (w, b) = (index as usize / 64, index % 64);
        if self.code_pages[w] & (1 << b) != 0 {
            self.code_pages[w] &= !(1 << b);
            self.invalidated.push(index);
        }
    }

    #[cold]
    fn save_for_undo(&mut self, index: u32) {
        let (w, b) = (index as usize / 64, index % 64);
        let saved = self.undo.as_ref().is_some_and(|l| l.saved[w] & (1 << b) != 0);
        if !saved {
            let old: Box<[u8]> = self.page_contents(index).into();
            let log = self.undo.as_mut().expect("checked by the caller");
            log.saved[w] |= 1 << b;
            log.pages.push((index, old));
        }
    }

    /// True if page `index` is in the undo log being filled (writes to it need no more care),
    /// or if no log is being filled. The CPU fills a TLB write entry only for such pages.
    #[inline]
    pub fn write_tracked(&self, index: u32) -> bool {
        self.undo
            .as_ref()
            .is_none_or(|l| l.saved[index as usize / 64] & (1 << (index % 64)) != 0)
    }

    /// True if some code pages have been written since the last [`PhysicalMemory::pop_invalidated`].
    #[inline]
    pub fn has_invalidated(&self) -> bool {
        !self.invalidated.is_empty()
    }

    /// Take one page whose predecoded code is stale.
    pub fn pop_invalidated(&mut self) -> Option<u32> {
        self.invalidated.pop()
    }

    /// Forget all predecoded-code bookkeeping (the CPU dropped its whole code cache).
    pub fn clear_code_marks(&mut self) {
        self.code_pages.iter_mut().for_each(|w| *w = 0);
        self.invalidated.clear();
    }
}

/// A guest physical range that is not wholly inside one RAM region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutsideRam {
    /// The first guest physical address of the range.
    pub pa: PhysAddr,
}

impl std::fmt::Display for OutsideRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest physical address {:#010x} is outside RAM", self.pa)
    }
}

impl std::error::Error for OutsideRam {}

fn ranges_overlap(a: PhysAddr, alen: u64, b: PhysAddr, blen: u64) -> bool {
    a < b + blen && b < a + alen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> PhysicalMemory {
        PhysicalMemory::new(&[
            RamRegionSpec {
                name: "ram".into(),
                base: 0x6000_0000,
                size: 0x4000,
            },
            RamRegionSpec {
                name: "psram".into(),
                base: 0x4800_0000,
                size: 0x2000,
            },
        ])
        .unwrap()
    }

    #[test]
    fn pages_are_numbered_densely_across_regions() {
        let mut m = mem();
        assert_eq!(m.total_pages(), 6);
        assert_eq!(m.page(0x6000_3fff).unwrap().index, 3);
        assert_eq!(m.page(0x4800_1000).unwrap().index, 5);
        assert!(m.page(0x6000_4000).is_none());
        assert!(m.page(0x6000_0000).unwrap().writable);
    }

    /// vexpress-a15 with LPAE: 8 GiB of RAM from 2 GiB, so most of it is above 4 GiB. The
    /// host commits only the touched pages (MAP_NORESERVE).
    fn big() -> PhysicalMemory {
        PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: 0x8000_0000,
            size: 8 << 30,
        }])
        .unwrap()
    }

    #[test]
    fn ram_above_4g_is_read_and_written_like_any_ram() {
        let mut m = big();
        assert_eq!(m.total_pages(), 2 << 20);
        assert!(m.write(0x1_0000_0000, AccessSize::Word, 0x1122_3344));
        assert_eq!(m.read(0x1_0000_0000, AccessSize::Word), Some(0x1122_3344));
        assert_eq!(m.read(0x1_0000_0002, AccessSize::Half), Some(0x1122));
        // The last word of RAM (2 GiB + 8 GiB = 0x2_8000_0000) and the first past it.
        m.write_bytes(0x2_7fff_fffc, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.read(0x2_7fff_fffc, AccessSize::Word), Some(0x0403_0201));
        assert_eq!(m.read(0x2_8000_0000, AccessSize::Byte), None);
        assert_eq!(
            m.write_bytes(0x2_7fff_fffe, &[0; 4]),
            Err(OutsideRam { pa: 0x2_7fff_fffe }),
            "crosses the end of RAM"
        );
        // A 32-bit address is not the same as one 4 GiB above it.
        assert_eq!(m.read(0x0000_0000, AccessSize::Word), None);
        // Pages are numbered from the region's start: 0x1_0000_0000 is 2 GiB in.
        let page = m.page(0x1_0000_0abc).unwrap();
        assert_eq!(page.index, 0x8_0000);
        // SAFETY: `page.host` is the start of a 4 KiB page of the mapping.
        assert_eq!(unsafe { page.host.read() }, 0x44);
        assert_eq!(m.page_contents(0x8_0000)[..4], [0x44, 0x33, 0x22, 0x11]);
        let mut buf = [0; 4];
        m.read_bytes(0x2_7fff_fffc, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
        assert_eq!(
            OutsideRam { pa: 0x2_8000_0000 }.to_string(),
            "guest physical address 0x280000000 is outside RAM"
        );
    }

    #[test]
    fn code_marks_and_undo_logs_work_on_pages_above_4g() {
        let mut m = big();
        let index = m.page(0x2_0000_0000).unwrap().index;
        assert_eq!(index, 0x18_0000);
        m.mark_code(index);
        m.start_undo();
        m.write_bytes(0x2_0000_0010, &[0xaa]).unwrap();
        assert_eq!(m.pop_invalidated(), Some(index));
        let undo = m.take_undo();
        assert_eq!(undo.page_numbers().collect::<Vec<_>>(), [index]);
        m.apply_undo(&undo);
        assert_eq!(m.read(0x2_0000_0010, AccessSize::Byte), Some(0));
    }

    #[test]
    fn regions_end_within_40_bits() {
        let region = |base: u64, size: u64| RamRegionSpec {
            name: "ram".into(),
            base,
            size,
        };
        assert!(PhysicalMemory::new(&[region(0xff_ffff_f000, 0x1000)]).is_ok());
        let err = PhysicalMemory::new(&[region(0xff_ffff_f000, 0x2000)]).err().unwrap();
        assert_eq!(
            err.to_string(),
            "RAM region ram ends beyond the 40-bit physical address space (1 TiB)"
        );
        assert!(PhysicalMemory::new(&[region(!0xfff, 0x1000)]).is_err());
    }

    #[test]
    fn little_endian_access_and_bounds() {
        let mut m = mem();
        assert!(m.write(0x6000_0000, AccessSize::Word, 0x1122_3344));
        assert_eq!(m.read(0x6000_0001, AccessSize::Half), Some(0x2233));
        assert_eq!(m.read(0x6000_3ffe, AccessSize::Word), None, "crosses region end");
        assert!(!m.write(0x5fff_fffe, AccessSize::Word, 0));
        assert!(m.read_bytes(0x6000_3000, &mut [0; 0x1001]).is_err());
    }

    #[test]
    fn writes_to_code_pages_are_queued_once() {
        let mut m = mem();
        let epoch = m.code_epoch();
        m.mark_code(1);
        assert!(m.code_epoch() > epoch);
        assert!(m.write(0x6000_0ffc, AccessSize::Word, 1));
        assert!(!m.has_invalidated());
        m.write_bytes(0x6000_0ffe, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.pop_invalidated(), Some(1));
        assert!(!m.is_code(1));
        m.write_bytes(0x6000_1000, &[1]).unwrap();
        assert_eq!(m.pop_invalidated(), None);
    }

    #[test]
    fn undo_logs_give_back_ram_as_it_was() {
        let mut m = mem();
        m.write_bytes(0x6000_0000, &[1; 8]).unwrap();
        m.start_undo();
        let epoch = m.code_epoch();
        m.write_bytes(0x6000_0000, &[2; 8]).unwrap();
        m.write_bytes(0x6000_0004, &[3; 8]).unwrap();
        m.write_bytes(0x4800_1ffe, &[4; 2]).unwrap();
        let first = m.take_undo();
        assert!(m.code_epoch() > epoch, "a new log drops TLB write entries");
        assert_eq!(first.page_numbers().collect::<Vec<_>>(), vec![0, 5], "each page once");
        m.write_bytes(0x6000_0000, &[5; 4]).unwrap();
        m.write_bytes(0x6000_1000, &[6; 4]).unwrap();
        let second = m.take_undo();
        assert_eq!(second.len(), 2);
        m.apply_undo(&second);
        assert_eq!(m.read(0x6000_0000, AccessSize::Word), Some(0x0202_0202));
        assert_eq!(m.read(0x6000_1000, AccessSize::Word), Some(0));
        m.apply_undo(&first);
        assert_eq!(m.read(0x6000_0004, AccessSize::Word), Some(0x0101_0101));
        assert_eq!(m.read(0x4800_1ffe, AccessSize::Half), Some(0));
        // Merging: the older contents win.
        let mut m = mem();
        m.start_undo();
        m.write_bytes(0x6000_0000, &[7]).unwrap();
        let older = m.take_undo();
        m.write_bytes(0x6000_0000, &[8]).unwrap();
        m.write_bytes(0x6000_2000, &[8]).unwrap();
        let mut newer = m.take_undo();
        newer.absorb_older(older);
        assert_eq!(newer.len(), 2);
        m.apply_undo(&newer);
        assert_eq!(m.read(0x6000_0000, AccessSize::Byte), Some(0));
        assert_eq!(m.read(0x6000_2000, AccessSize::Byte), Some(0));
    }

    #[test]
    fn a_tracked_page_needs_no_more_saving() {
        let mut m = mem();
        assert!(m.write_tracked(1), "nothing to track without a log");
        m.start_undo();
        assert!(!m.write_tracked(1));
        m.note_write(1);
        assert!(m.write_tracked(1));
        assert_eq!(m.undo_bytes(), 4096 + 16);
        m.take_undo();
        assert!(!m.write_tracked(1));
    }

    #[test]
    fn an_alias_shows_the_same_bytes_and_pages() {
        let mut m = PhysicalMemory::with_aliases(
            &[RamRegionSpec {
                name: "ram".into(),
                base: 0x6000_0000,
                size: 0x4000,
            }],
            &[RamAliasSpec {
                of: "ram".into(),
                base: 0,
                size: 0x2000,
            }],
        )
        .unwrap();
        assert!(m.write(0x1004, AccessSize::Word, 0xabcd));
        assert_eq!(m.read(0x6000_1004, AccessSize::Word), Some(0xabcd));
        assert_eq!(m.page(0x1000).unwrap().index, m.page(0x6000_1000).unwrap().index);
        assert_eq!(m.page(0x1000).unwrap().host, m.page(0x6000_1000).unwrap().host);
        assert!(m.page(0x2000).is_none());
        assert_eq!(m.total_pages(), 4);
    }

    #[test]
    fn read_only_memory_is_loaded_and_read_but_not_written() {
        let mut m = PhysicalMemory::with_aliases(
            &[RamRegionSpec {
                name: "flash".into(),
                base: 0x4000_0000,
                size: 0x2000,
            }],
            &[RamAliasSpec {
                of: "flash".into(),
                base: 0,
                size: 0x2000,
            }],
        )
        .unwrap();
        m.set_read_only("flash").unwrap();
        assert!(m.set_read_only("nothing").is_err());
        m.load_bytes(0x4000_0010, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.read(0x10, AccessSize::Word), Some(0x0403_0201), "through the alias");
        assert!(!m.write(0x4000_0010, AccessSize::Word, 0xdead_beef));
        assert!(!m.write(0x10, AccessSize::Byte, 0xff), "the alias is read-only too");
        assert!(m.write_bytes(0x4000_1000, &[9]).is_err(), "DMA cannot write it");
        assert_eq!(m.read(0x4000_0010, AccessSize::Word), Some(0x0403_0201));
        assert!(!m.page(0x4000_0000).unwrap().writable);
        assert!(!m.page(0x1000).unwrap().writable);
    }

    /// A 3-page flash at 0x4000_0000 with its alias at 0, a ROM device of device 7.
    fn rom() -> PhysicalMemory {
        let mut m = PhysicalMemory::with_aliases(
            &[RamRegionSpec {
                name: "flash".into(),
                base: 0x4000_0000,
                size: 0x3000,
            }],
            &[RamAliasSpec {
                of: "flash".into(),
                base: 0,
                size: 0x3000,
            }],
        )
        .unwrap();
        m.make_rom_device("flash", 7).unwrap();
        m.load_bytes(0x4000_0000, &[0x11; 0x3000]).unwrap();
        m
    }

    /// The word the CPU would read through a page pointer.
    fn via(page: RamPage, offset: usize) -> u32 {
        // SAFETY: `page.host` is the start of a 4 KiB view page of the memory under test,
        // which outlives the call; `offset + 4 <= 4096`.
        let bytes = unsafe { std::slice::from_raw_parts(page.host.add(offset), 4) };
        u32::from_le_bytes(bytes.try_into().unwrap())
    }

    #[test]
    fn a_rom_device_takes_writes_and_shows_its_view() {
        let mut m = rom();
        assert_eq!(m.rom_device_at(0x4000_1004), Some((7, 0x1004)));
        assert_eq!(m.rom_device_at(0x1004), Some((7, 0x1004)), "through the alias");
        assert_eq!(m.rom_device_at(0x4000_3000), None);
        assert!(!m.write(0x4000_0000, AccessSize::Word, 5), "the guest cannot write it");
        let page = m.page(0x4000_1000).unwrap();
        assert!(!page.writable);
        assert_eq!(via(page, 8), 0x1111_1111);
        assert_eq!(m.page(0x1000).unwrap().host, page.host, "the alias shows the same view");
        // A pointer handed out before the mode changes shows the new mode at once.
        m.set_rom_view(
            7,
            RomView::Words {
                words: vec![0x0080_0080],
                repeat: true,
            },
        );
        assert_eq!(via(page, 8), 0x0080_0080);
        assert_eq!(m.read(0x4000_2ffc, AccessSize::Word), Some(0x0080_0080));
        assert_eq!(m.read(0x4000_0002, AccessSize::Half), Some(0x0080));
        assert_eq!(
            m.read(0x4000_0001, AccessSize::Byte),
            Some(0),
            "a byte of the aligned word"
        );
        assert_eq!(
            via(m.page(0x4000_2000).unwrap(), 0xffc),
            0x0080_0080,
            "filled when first shown"
        );
        let mut stored = [0u8; 4];
        m.read_bytes(0x4000_1000, &mut stored).unwrap();
        assert_eq!(stored, [0x11; 4], "the debugger and DMA see the stored bytes");
        // A table that does not repeat reads 0 past its end.
        m.set_rom_view(
            7,
            RomView::Words {
                words: vec![1, 2, 3],
                repeat: false,
            },
        );
        assert_eq!((via(page, 0), via(m.page(0).unwrap(), 8)), (0, 3));
        assert_eq!(m.read(0x4000_000c, AccessSize::Word), Some(0));
        // Programming while a table shows, then the array again.
        m.load_bytes(0x4000_1008, &[0x22; 4]).unwrap();
        assert_eq!(via(page, 8), 0);
        m.set_rom_view(7, RomView::Array);
        assert_eq!(via(page, 8), 0x2222_2222);
        assert_eq!(m.rom_view(7), Some(&RomView::Array));
        // In array mode the view follows the stored bytes: loads, restores.
        m.load_bytes(0x4000_1010, &[0x33; 4]).unwrap();
        assert_eq!(via(page, 0x10), 0x3333_3333);
        m.restore_page(page.index, &[0x44; 4096]);
        assert_eq!(via(page, 0x10), 0x4444_4444);
        assert_eq!(m.read(0x1010, AccessSize::Word), Some(0x4444_4444));
    }

    #[test]
    fn predecoded_code_of_a_rom_view_is_dropped_when_the_view_changes() {
        let mut m = rom();
        let page = m.page(0x4000_0000).unwrap();
        m.mark_code(page.index);
        m.set_rom_view(7, RomView::Array);
        assert!(!m.has_invalidated(), "the same view changes nothing");
        m.set_rom_view(
            7,
            RomView::Words {
                words: vec![9],
                repeat: true,
            },
        );
        assert_eq!(m.pop_invalidated(), Some(page.index));
        m.mark_code(page.index);
        m.set_rom_view(7, RomView::Array);
        assert_eq!(m.pop_invalidated(), Some(page.index));
        m.mark_code(page.index);
        m.load_bytes(0x4000_0000, &[1]).unwrap();
        assert_eq!(m.pop_invalidated(), Some(page.index), "programming drops it too");
        // Undo logs save the stored bytes, whatever the view.
        m.start_undo();
        m.set_rom_view(
            7,
            RomView::Words {
                words: vec![9],
                repeat: true,
            },
        );
        m.load_bytes(0x4000_0000, &[0x55; 8]).unwrap();
        let undo = m.take_undo();
        m.apply_undo(&undo);
        m.set_rom_view(7, RomView::Array);
        assert_eq!(via(page, 0), 0x1111_1101);
    }

    #[test]
    fn overlapping_or_misaligned_regions_are_refused() {
        let spec = |base, size| RamRegionSpec {
            name: "r".into(),
            base,
            size,
        };
        assert!(PhysicalMemory::new(&[spec(0x1000, 0x2000), spec(0x2000, 0x1000)]).is_err());
        assert!(PhysicalMemory::new(&[spec(0x1000, 0x1001)]).is_err());
        // Regions may cross 4 GiB (LPAE) but not the end of the 40-bit space.
        assert!(PhysicalMemory::new(&[spec(0xffff_f000, 0x2000)]).is_ok());
        assert!(PhysicalMemory::new(&[spec(0xff_ffff_f000, 0x2000)]).is_err());
    }
}
