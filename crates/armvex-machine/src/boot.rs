//! Booting Linux directly, the way QEMU's `-kernel` does on ARM (hw/arm/boot.c), following
//! the kernel's boot protocol (Documentation/arch/arm/booting.rst):
//!
//! * the kernel (zImage, or a uImage at its own load address) at RAM base + 0x10000;
//! * the initrd at RAM base + min(RAM/2, 128 MiB), page-aligned and after the kernel;
//! * the device tree, patched (see [`patch_dtb`]), at the next 4 KiB boundary after the
//!   initrd (or ATAGs at RAM base + 0x100 when there is no device tree);
//! * a four-instruction boot stub at the RAM base that sets R0 = 0, R1 = the machine type,
//!   R2 = the device tree (or ATAG) address, and jumps to the kernel;
//! * the secondary CPUs in a stub in PSRAM: they enable their GIC CPU interface, wait for
//!   interrupts (WFI) and poll SYS_FLAGS until Linux writes their entry point there and sends
//!   an SGI (the real board's boot monitor protocol).
//!
//! All CPUs start in Secure Supervisor mode with the MMU off and interrupts masked, as under
//! QEMU (whose vexpress boards enable the Security Extensions and boot Linux in Secure state).

use crate::dtb::Node;
use crate::error::MachineError;
use crate::loader::LoadedImage;
use armvex_bus::PhysicalMemory;
// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`), which a uImage header carries for itself:
// the same as Ethernet's, so the LAN9118 model's.
use armvex_devices::lan9118::crc32;
use std::path::Path;

/// Where the kernel goes relative to the RAM base (QEMU's KERNEL_LOAD_ADDR).
pub const KERNEL_OFFSET: u32 = 0x1_0000;
/// Where ATAGs go when there is no device tree.
pub const ATAGS_OFFSET: u32 = 0x100;

/// What `--kernel`, `--initrd`, `--dtb` and `--append` ask for.
pub struct LinuxBootFiles<'a> {
    pub kernel: &'a Path,
    pub initrd: Option<&'a Path>,
    pub dtb: Option<&'a Path>,
    pub cmdline: &'a str,
    /// Bytes for the device tree's `/chosen/rng-seed` (see [`patch_dtb`]), or none.
    pub rng_seed: Option<&'a [u8]>,
}

/// Board facts the boot protocol needs.
pub struct BoardBootInfo {
    pub ram_base: u32,
    pub ram_size: u64,
    pub machine_id: u32,
    /// Where the secondary-CPU stub goes (PSRAM).
    pub smp_loader: u32,
    /// SYS_FLAGS, polled by the secondary CPUs.
    pub boot_register: u32,
    /// The GIC CPU interface, which the secondary stub enables.
    pub gic_cpu_interface: u32,
    /// The virtio-mmio transports to describe in the device tree: (address, size, SPI).
    pub virtio: Vec<(u32, u32, u32)>,
    /// How many CPUs the machine has (`--smp`); CPU n has MPIDR affinity n.
    pub cpus: u32,
}

/// What was placed where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxLayout {
    /// Where CPU 0 starts (the boot stub).
    pub boot_stub: u32,
    /// Where the secondary CPUs start.
    pub secondary_stub: u32,
    pub kernel: (u32, u32),
    pub initrd: Option<(u32, u32)>,
    /// The device tree or ATAG list address passed in R2.
    pub boot_data: u32,
    /// The ranges written (for the semihosting heap computation).
    pub image: LoadedImage,
}

const UIMAGE_MAGIC: u32 = 0x2705_1956;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    Ok(crate::files::read(path, what, crate::files::MAX_IMAGE)?)
}

/// The zImage header (arch/arm/boot/compressed/head.S): a magic number at byte 0x24, then the
/// image's start and end addresses, whose difference is its size.
const ZIMAGE_MAGIC: u32 = 0x016f_2818;

/// Check a zImage's header: a file cut short would otherwise decompress garbage forever.
/// Returns false when the file has no zImage header (a raw `Image`).
fn check_zimage(data: &[u8], name: &str) -> Result<bool, String> {
    let le32 = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    if le32(0x24) != Some(ZIMAGE_MAGIC) {
        return Ok(false);
    }
    let (start, end) = (le32(0x28).unwrap_or(0), le32(0x2c).unwrap_or(0));
    let size = end.wrapping_sub(start) as usize;
    if end < start || size > data.len() {
        return Err(format!(
            "kernel {name}: a truncated zImage (its header says {size} bytes, the file has {})",
            data.len()
        ));
    }
    Ok(true)
}

fn put(memory: &mut PhysicalMemory, addr: u32, data: &[u8], what: &str) -> Result<(), String> {
    memory
        .load_bytes(u64::from(addr), data)
        .map_err(|_| format!("{what} ({} bytes at {addr:#010x}) does not fit in RAM", data.len()))
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Place a Linux kernel, initrd and device tree in memory and write the boot stubs.
pub fn load_linux(
    memory: &mut PhysicalMemory,
    files: &LinuxBootFiles,
    board: &BoardBootInfo,
) -> Result<LinuxLayout, MachineError> {
    let kernel_data = read(files.kernel, "kernel")?;
    let kernel = kernel_placement(&kernel_data, files.kernel, board)?;
    let kernel_end = u64::from(kernel.addr) + kernel.payload.len() as u64;
    put(memory, kernel.addr, kernel.payload, "kernel")?;
    let mut ranges = vec![(kernel.addr, kernel_end as u32)];

    let initrd_start = (u64::from(board.ram_base) + (board.ram_size / 2).min(128 << 20))
        .max(kernel_end)
        .next_multiple_of(4096);
    let initrd = match files.initrd {
        Some(path) => Some(load_initrd(memory, path, initrd_start, board)?),
        None => None,
    };
    ranges.extend(initrd);

    let boot_data = match files.dtb {
        Some(path) => {
            let at = initrd
                .map_or(initrd_start, |(_, end)| u64::from(end))
                .next_multiple_of(4096);
            load_dtb(memory, path, at, files, initrd, board)?
        }
        None => {
            let at = board.ram_base + ATAGS_OFFSET;
            let atags = atags(board, files.cmdline, initrd);
            put(memory, at, &atags, "ATAGs")?;
            (at, at + atags.len() as u32)
        }
    };
    ranges.push(boot_data);

    ranges.push(write_boot_stub(memory, board, boot_data.0, kernel.entry)?);
    write_secondary_stub(memory, board)?;

    Ok(LinuxLayout {
        boot_stub: board.ram_base,
        secondary_stub: board.smp_loader,
        kernel: (kernel.addr, kernel_end as u32),
        initrd,
        boot_data: boot_data.0,
        image: LoadedImage {
            entry: board.ram_base,
            ranges,
            elf: false,
        },
    })
}

/// Where a kernel goes and what of its file is loaded there.
struct KernelPlacement<'a> {
    addr: u32,
    entry: u32,
    payload: &'a [u8],
}

/// The kernel: a uImage goes to its own load address, anything else (a zImage, or a raw
/// Image) to RAM base + [`KERNEL_OFFSET`]. Either way it must lie wholly in RAM.
fn kernel_placement<'a>(data: &'a [u8], path: &Path, board: &BoardBootInfo) -> Result<KernelPlacement<'a>, String> {
    let name = path.display();
    let kernel = if data.len() >= 4 && be32(data, 0) == UIMAGE_MAGIC {
        parse_uimage(data, &name.to_string())?
    } else {
        if !check_zimage(data, &name.to_string())? {
            tracing::warn!("kernel {name} has neither a zImage nor a uImage header: booting it as a raw Image");
        }
        let at = board.ram_base + KERNEL_OFFSET;
        KernelPlacement {
            addr: at,
            entry: at,
            payload: data,
        }
    };
    let kernel_end = u64::from(kernel.addr) + kernel.payload.len() as u64;
    let ram_end = u64::from(board.ram_base) + board.ram_size;
    if u64::from(kernel.addr) < u64::from(board.ram_base) || kernel_end > ram_end {
        return Err(format!(
            "kernel {name} ({} bytes) does not fit in {} MiB of RAM",
            kernel.payload.len(),
            board.ram_size >> 20
        ));
    }
    Ok(kernel)
}

/// A U-Boot legacy image (`mkimage`): a 64-byte big-endian header (magic, header CRC, ...,
/// data size at 12, load address at 16, entry point at 20, image type at 30, compression at
/// 31), then the data. Only uncompressed kernel images are booted.
fn parse_uimage<'a>(data: &'a [u8], name: &str) -> Result<KernelPlacement<'a>, String> {
    if data.len() < 64 {
        return Err(format!("kernel {name}: a uImage, but its 64-byte header is cut short"));
    }
    let mut header = data[..64].to_vec();
    header[4..8].fill(0);
    if crc32(&header) != be32(data, 4) {
        return Err(format!("kernel {name}: a uImage with a corrupt header (CRC mismatch)"));
    }
    let size = be32(data, 12) as usize;
    if size > data.len() - 64 {
        return Err(format!(
            "kernel {name}: a truncated uImage (its header says {size} bytes of data, the file has {})",
            data.len() - 64
        ));
    }
    let (image_type, compression) = (data[30], data[31]);
    if image_type != 2 {
        return Err(format!("kernel {name}: a uImage, but not of type kernel"));
    }
    if compression != 0 {
        return Err(format!(
            "kernel {name}: compressed uImages are not supported (use the zImage)"
        ));
    }
    Ok(KernelPlacement {
        addr: be32(data, 16),
        entry: be32(data, 20),
        payload: &data[64..64 + size],
    })
}

/// Load the initrd at `start`; returns the range it fills.
fn load_initrd(
    memory: &mut PhysicalMemory,
    path: &Path,
    start: u64,
    board: &BoardBootInfo,
) -> Result<(u32, u32), String> {
    let data = read(path, "initrd")?;
    place(memory, board, start, &data, "initrd", || {
        format!("initrd {} ({} bytes) does not fit in RAM", path.display(), data.len())
    })
}

/// Load the device tree at `at`, patched for this machine (see [`patch_dtb`]); returns the
/// range it fills.
fn load_dtb(
    memory: &mut PhysicalMemory,
    path: &Path,
    at: u64,
    files: &LinuxBootFiles,
    initrd: Option<(u32, u32)>,
    board: &BoardBootInfo,
) -> Result<(u32, u32), String> {
    let data = read(path, "device tree")?;
    let patched = patch_dtb(&data, board, files.cmdline, initrd, files.rng_seed)
        .map_err(|e| format!("device tree {}: {e}", path.display()))?;
    place(memory, board, at, &patched, "device tree", || {
        format!("device tree {} does not fit in RAM", path.display())
    })
}

/// Put `data` (the `what`) at `at` if it ends inside RAM, else fail with `too_big()`; returns
/// the range it fills.
fn place(
    memory: &mut PhysicalMemory,
    board: &BoardBootInfo,
    at: u64,
    data: &[u8],
    what: &str,
    too_big: impl FnOnce() -> String,
) -> Result<(u32, u32), String> {
    if at + data.len() as u64 > u64::from(board.ram_base) + board.ram_size {
        return Err(too_big());
    }
    put(memory, at as u32, data, what)?;
    Ok((at as u32, at as u32 + data.len() as u32))
}

/// The boot stub at the RAM base (QEMU's "world's second smallest bootloader"): R0 = 0,
/// R1 = the machine type, R2 = `boot_data`, then jump to `entry`. Returns the range it fills.
fn write_boot_stub(
    memory: &mut PhysicalMemory,
    board: &BoardBootInfo,
    boot_data: u32,
    entry: u32,
) -> Result<(u32, u32), String> {
    let stub = [
        0xe3a0_0000, // mov r0, #0
        0xe59f_1004, // ldr r1, [pc, #4]   (machine type)
        0xe59f_2004, // ldr r2, [pc, #4]   (device tree / ATAGs)
        0xe59f_f004, // ldr pc, [pc, #4]   (kernel entry)
        board.machine_id,
        boot_data,
        entry,
    ];
    put(memory, board.ram_base, &words(&stub), "boot stub")?;
    Ok((board.ram_base, board.ram_base + 4 * stub.len() as u32))
}

/// The secondary CPUs' stub in PSRAM: enable the GIC CPU interface, then wait for an
/// interrupt and poll SYS_FLAGS until Linux writes an entry point there.
fn write_secondary_stub(memory: &mut PhysicalMemory, board: &BoardBootInfo) -> Result<(), String> {
    let smp = [
        0xe59f_2028, // ldr r2, gic_cpu_if
        0xe59f_0028, // ldr r0, bootreg
        0xe3a0_1001, // mov r1, #1
        0xe582_1000, // str r1, [r2]        GICC_CTLR.Enable
        0xe3a0_10ff, // mov r1, #0xff
        0xe582_1004, // str r1, [r2, #4]    GICC_PMR = 0xff
        0xf57f_f04f, // dsb
        0xe320_f003, // wfi
        0xe590_1000, // ldr r1, [r0]
        0xe111_0001, // tst r1, r1
        0x0aff_fffb, // beq wfi
        0xe12f_ff11, // bx r1
        board.gic_cpu_interface,
        board.boot_register,
    ];
    put(memory, board.smp_loader, &words(&smp), "secondary boot stub")
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// The ATAG list QEMU writes when there is no device tree: CORE, MEM, INITRD2, CMDLINE, END.
fn atags(board: &BoardBootInfo, cmdline: &str, initrd: Option<(u32, u32)>) -> Vec<u8> {
    let mut w = vec![
        5,
        0x5441_0001,
        1,
        0x1000,
        0,
        4,
        0x5441_0002,
        board.ram_size as u32,
        board.ram_base,
    ];
    if let Some((start, end)) = initrd {
        w.extend([4, 0x5442_0005, start, end - start]);
    }
    let mut bytes = words(&w);
    if !cmdline.is_empty() {
        let mut text = cmdline.as_bytes().to_vec();
        text.push(0);
        while text.len() % 4 != 0 {
            text.push(0);
        }
        bytes.extend(words(&[2 + text.len() as u32 / 4, 0x5441_0009]));
        bytes.extend(text);
    }
    bytes.extend(words(&[0, 0]));
    bytes
}

/// Patch a device tree as QEMU does: /memory describes the RAM we have, /chosen carries the
/// command line and the initrd range, and a `virtio,mmio` node describes each transport.
///
/// One addition of our own: when /cpus describes fewer CPUs than the machine has (Debian's
/// CoreTile A15x2 tree lists two, `--smp 4` asks for four), the missing `cpu@N` nodes are added,
/// copies of the last one with `reg` = N, so Linux brings every CPU online. QEMU leaves the tree
/// alone and the extra CPUs wait in the boot stub forever. CPUs the tree describes but the
/// machine lacks are left in place, as QEMU does (Linux reports that they failed to boot):
/// other nodes may refer to them by phandle.
///
/// A second: with `rng_seed`, /chosen gets an `rng-seed` property holding those bytes (the
/// Devicetree Specification's /chosen node; QEMU's `virt` board writes one too, its
/// `dtb-randomness`). Linux credits them to its random pool at boot when built with
/// RANDOM_TRUST_BOOTLOADER, as Debian's kernels are, so its CRNG is ready from the start.
/// Without it a Linux guest on armvex can wait for entropy for ever: its last resort, the
/// jitter of a fast clock read in a loop (`try_to_generate_entropy`), finds no jitter in a
/// clock that advances exactly with retired instructions, and on vexpress-a9 (a 1 MHz SP804
/// clock source) gives up; `getrandom()` and `/dev/random` then block until a virtio-rng
/// delivers. Under QEMU the same loop reads the host's clock and succeeds in ~15 s.
pub fn patch_dtb(
    data: &[u8],
    board: &BoardBootInfo,
    cmdline: &str,
    initrd: Option<(u32, u32)>,
    rng_seed: Option<&[u8]>,
) -> Result<Vec<u8>, MachineError> {
    patched_tree(data, board, cmdline, initrd, rng_seed).map_err(MachineError::Invalid)
}

/// [`patch_dtb`]'s work, with its errors as messages.
fn patched_tree(
    data: &[u8],
    board: &BoardBootInfo,
    cmdline: &str,
    initrd: Option<(u32, u32)>,
    rng_seed: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let tree = crate::dtb::DeviceTree::parse(data).map_err(|e| format!("not a valid device tree ({e})"))?;
    let root = &tree.root;
    let cells = |name: &str| root.u32(name).unwrap_or(1);
    let (acells, scells) = (cells("#address-cells"), cells("#size-cells"));
    if acells == 0 || acells > 2 || scells == 0 || scells > 2 {
        return Err("unsupported #address-cells/#size-cells".into());
    }
    let sized = |v: u64, n: u32| -> Vec<u8> {
        if n == 2 {
            v.to_be_bytes().to_vec()
        } else {
            (v as u32).to_be_bytes().to_vec()
        }
    };
    let gic_phandle = root
        .walk()
        .into_iter()
        .find(|n| {
            n.compatible()
                .iter()
                .any(|s| *s == "arm,cortex-a9-gic" || *s == "arm,cortex-a15-gic")
        })
        .and_then(|n| n.u32("phandle").or_else(|| n.u32("linux,phandle")));

    let reservations: Vec<vm_fdt::FdtReserveEntry> = tree
        .reservations
        .iter()
        .filter_map(|&(a, s)| vm_fdt::FdtReserveEntry::new(a, s).ok())
        .collect();
    let mut out = vm_fdt::FdtWriter::new_with_mem_reserv(&reservations).map_err(|e| e.to_string())?;
    let err = |e: vm_fdt::Error| e.to_string();

    let top = out.begin_node("").map_err(err)?;
    for (name, value) in &root.properties {
        out.property(name, value).map_err(err)?;
    }
    // The virtio transports come first among the root's children, as QEMU inserts them.
    if let Some(intc) = gic_phandle {
        for &(addr, size, spi) in &board.virtio {
            let node = out.begin_node(&format!("virtio_mmio@{addr:x}")).map_err(err)?;
            out.property_string("compatible", "virtio,mmio").map_err(err)?;
            let mut reg = sized(u64::from(addr), acells);
            reg.extend(sized(u64::from(size), scells));
            out.property("reg", &reg).map_err(err)?;
            out.property_u32("interrupt-parent", intc).map_err(err)?;
            out.property_array_u32("interrupts", &[0, spi, 1]).map_err(err)?;
            out.property_null("dma-coherent").map_err(err)?;
            out.end_node(node).map_err(err)?;
        }
    } else {
        tracing::warn!("no GIC found in the device tree: the virtio-mmio transports are not described");
    }
    let mut saw_chosen = false;
    let mut saw_memory = false;
    for child in &root.children {
        let base = child.name.split('@').next().unwrap_or(&child.name);
        match base {
            "memory" if saw_memory => continue,
            "memory" => {
                saw_memory = true;
                let node = out.begin_node(&child.name).map_err(err)?;
                out.property_string("device_type", "memory").map_err(err)?;
                let mut reg = sized(u64::from(board.ram_base), acells);
                reg.extend(sized(board.ram_size, scells));
                out.property("reg", &reg).map_err(err)?;
                out.end_node(node).map_err(err)?;
            }
            "chosen" => {
                saw_chosen = true;
                let node = out.begin_node(&child.name).map_err(err)?;
                for (name, value) in &child.properties {
                    let ours = matches!(name.as_str(), "bootargs" | "linux,initrd-start" | "linux,initrd-end")
                        || (rng_seed.is_some() && name == "rng-seed");
                    if !ours {
                        out.property(name, value).map_err(err)?;
                    }
                }
                write_chosen(&mut out, cmdline, initrd, rng_seed, acells, &sized)?;
                for grandchild in &child.children {
                    copy_node(&mut out, grandchild)?;
                }
                out.end_node(node).map_err(err)?;
            }
            "cpus" => copy_cpus(&mut out, child, board.cpus)?,
            _ => copy_node(&mut out, child)?,
        }
    }
    if !saw_chosen {
        let node = out.begin_node("chosen").map_err(err)?;
        write_chosen(&mut out, cmdline, initrd, rng_seed, acells, &sized)?;
        out.end_node(node).map_err(err)?;
    }
    if !saw_memory {
        let node = out.begin_node(&format!("memory@{:x}", board.ram_base)).map_err(err)?;
        out.property_string("device_type", "memory").map_err(err)?;
        let mut reg = sized(u64::from(board.ram_base), acells);
        reg.extend(sized(board.ram_size, scells));
        out.property("reg", &reg).map_err(err)?;
        out.end_node(node).map_err(err)?;
    }
    out.end_node(top).map_err(err)?;
    out.finish().map_err(err)
}

fn write_chosen(
    out: &mut vm_fdt::FdtWriter,
    cmdline: &str,
    initrd: Option<(u32, u32)>,
    rng_seed: Option<&[u8]>,
    acells: u32,
    sized: &dyn Fn(u64, u32) -> Vec<u8>,
) -> Result<(), String> {
    let err = |e: vm_fdt::Error| e.to_string();
    if !cmdline.is_empty() {
        out.property_string("bootargs", cmdline).map_err(err)?;
    }
    if let Some((start, end)) = initrd {
        out.property("linux,initrd-start", &sized(u64::from(start), acells))
            .map_err(err)?;
        out.property("linux,initrd-end", &sized(u64::from(end), acells))
            .map_err(err)?;
    }
    if let Some(seed) = rng_seed {
        out.property("rng-seed", seed).map_err(err)?;
    }
    Ok(())
}

/// Copy /cpus, adding `cpu@N` nodes up to `cpus` CPUs (see [`patch_dtb`]).
fn copy_cpus(out: &mut vm_fdt::FdtWriter, node: &Node, cpus: u32) -> Result<(), String> {
    let err = |e: vm_fdt::Error| e.to_string();
    let is_cpu = |n: &Node| n.string("device_type") == Some("cpu");
    let address_cells = node.u32("#address-cells");
    let n = out.begin_node(&node.name).map_err(err)?;
    for (name, value) in &node.properties {
        out.property(name, value).map_err(err)?;
    }
    let mut described = Vec::new();
    let mut last_cpu = None;
    for child in &node.children {
        if is_cpu(child) {
            if let Some(reg) = child.u32("reg") {
                described.push(reg);
            }
            last_cpu = Some(child);
        }
        copy_node(out, child)?;
    }
    // Only a plain single-cell `reg` (MPIDR affinity 0) is extended; anything else is left as is.
    if let (Some(model), Some(1)) = (last_cpu, address_cells) {
        for index in (0..cpus).filter(|i| !described.contains(i)) {
            let cpu = out.begin_node(&format!("cpu@{index}")).map_err(err)?;
            for (name, value) in &model.properties {
                match name.as_str() {
                    "reg" => out.property_u32("reg", index).map_err(err)?,
                    "phandle" | "linux,phandle" => {}
                    _ => out.property(name, value).map_err(err)?,
                }
            }
            out.end_node(cpu).map_err(err)?;
        }
    }
    out.end_node(n).map_err(err)
}

fn copy_node(out: &mut vm_fdt::FdtWriter, node: &Node) -> Result<(), String> {
    let err = |e: vm_fdt::Error| e.to_string();
    let n = out.begin_node(&node.name).map_err(err)?;
    for (name, value) in &node.properties {
        out.property(name, value).map_err(err)?;
    }
    for child in &node.children {
        copy_node(out, child)?;
    }
    out.end_node(n).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> BoardBootInfo {
        BoardBootInfo {
            ram_base: 0x6000_0000,
            ram_size: 256 << 20,
            machine_id: 0x8e0,
            smp_loader: 0x4800_0000,
            boot_register: 0x1000_0030,
            gic_cpu_interface: 0x1e00_0100,
            virtio: vec![(0x1001_3000, 0x200, 40), (0x1001_3200, 0x200, 41)],
            cpus: 4,
        }
    }

    /// A small device tree like the vexpress ones: a GIC with a phandle, a memory node, no
    /// /chosen.
    fn sample_dtb() -> Vec<u8> {
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 1).unwrap();
        w.property_string("model", "V2P-CA9").unwrap();
        let mem = w.begin_node("memory@60000000").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u32("reg", &[0x6000_0000, 0x4000_0000]).unwrap();
        w.end_node(mem).unwrap();
        let gic = w.begin_node("interrupt-controller@1e001000").unwrap();
        w.property_string("compatible", "arm,cortex-a9-gic").unwrap();
        w.property_u32("phandle", 1).unwrap();
        w.end_node(gic).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn the_patched_tree_has_memory_chosen_and_virtio() {
        let out = patch_dtb(
            &sample_dtb(),
            &board(),
            "console=ttyAMA0",
            Some((0x6800_0000, 0x6810_0000)),
            Some(&[1, 2, 3, 4, 5]),
        )
        .unwrap();
        let t = crate::dtb::DeviceTree::parse(&out).unwrap();
        let child = |name: &str| t.root.children.iter().find(|c| c.name == name).unwrap();
        let mem = child("memory@60000000");
        assert_eq!(mem.property("reg").unwrap(), &[0x60, 0, 0, 0, 0x10, 0, 0, 0]);
        let chosen = child("chosen");
        assert_eq!(chosen.string("bootargs"), Some("console=ttyAMA0"));
        assert_eq!(chosen.u32("linux,initrd-start"), Some(0x6800_0000));
        assert_eq!(chosen.u32("linux,initrd-end"), Some(0x6810_0000));
        assert_eq!(chosen.property("rng-seed"), Some(&[1u8, 2, 3, 4, 5][..]));
        let v = child("virtio_mmio@10013200");
        assert_eq!(
            v.property("interrupts").unwrap(),
            &[0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0, 1]
        );
        assert_eq!(v.u32("interrupt-parent"), Some(1));
        assert_eq!(t.root.string("model"), Some("V2P-CA9"));
    }

    #[test]
    fn cpus_the_tree_lacks_are_added() {
        // /cpus as in Debian's vexpress-v2p-ca15-tc1.dtb: two Cortex-A15s, reg = MPIDR Aff0.
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 1).unwrap();
        let cpus = w.begin_node("cpus").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 0).unwrap();
        for i in 0..2 {
            let cpu = w.begin_node(&format!("cpu@{i}")).unwrap();
            w.property_string("device_type", "cpu").unwrap();
            w.property_string("compatible", "arm,cortex-a15").unwrap();
            w.property_u32("reg", i).unwrap();
            w.property_u32("phandle", 10 + i).unwrap();
            w.end_node(cpu).unwrap();
        }
        w.end_node(cpus).unwrap();
        w.end_node(root).unwrap();
        let dtb = w.finish().unwrap();

        let regs = |board: &BoardBootInfo| -> Vec<(String, usize, Option<String>, bool)> {
            let out = patch_dtb(&dtb, board, "", None, None).unwrap();
            let t = crate::dtb::DeviceTree::parse(&out).unwrap();
            let cpus = t.root.children.iter().find(|c| c.name == "cpus").unwrap();
            assert_eq!(cpus.u32("#size-cells"), Some(0));
            cpus.children
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.u32("reg").unwrap() as usize,
                        c.compatible().first().map(|s| s.to_string()),
                        c.property("phandle").is_some(),
                    )
                })
                .collect()
        };
        let a15 = || Some("arm,cortex-a15".to_string());
        let mut four = board();
        four.cpus = 4;
        assert_eq!(
            regs(&four),
            vec![
                ("cpu@0".to_string(), 0, a15(), true),
                ("cpu@1".to_string(), 1, a15(), true),
                ("cpu@2".to_string(), 2, a15(), false),
                ("cpu@3".to_string(), 3, a15(), false),
            ]
        );
        // Fewer CPUs than described: the tree is left as it is.
        let mut one = board();
        one.cpus = 1;
        assert_eq!(regs(&one).len(), 2);
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    /// A uImage: a 64-byte big-endian header (magic, header CRC, time, data size, load
    /// address, entry, data CRC, OS, architecture, type, compression, name), then the data.
    fn uimage(data: &[u8], load: u32, entry: u32) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(&UIMAGE_MAGIC.to_be_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_be_bytes());
        h[16..20].copy_from_slice(&load.to_be_bytes());
        h[20..24].copy_from_slice(&entry.to_be_bytes());
        h[28] = 5; // Linux
        h[29] = 2; // ARM
        h[30] = 2; // kernel
        h[31] = 0; // not compressed
        h[32..38].copy_from_slice(b"armvex");
        let crc = crc32(&h);
        h[4..8].copy_from_slice(&crc.to_be_bytes());
        h.extend_from_slice(data);
        h
    }

    fn boot_uimage(bytes: &[u8]) -> Result<(LinuxLayout, PhysicalMemory), String> {
        let dir = std::env::temp_dir().join(format!("armvex-uimage-{}-{:x}", std::process::id(), crc32(bytes)));
        std::fs::create_dir_all(&dir).unwrap();
        let kernel = dir.join("uImage");
        std::fs::write(&kernel, bytes).unwrap();
        let mut memory = PhysicalMemory::new(&[
            armvex_bus::RamRegionSpec {
                name: "ram".into(),
                base: 0x6000_0000,
                size: 16 << 20,
            },
            armvex_bus::RamRegionSpec {
                name: "psram".into(),
                base: 0x4800_0000,
                size: 1 << 20,
            },
        ])
        .unwrap();
        let mut info = board();
        info.ram_size = 16 << 20;
        let files = LinuxBootFiles {
            kernel: &kernel,
            initrd: None,
            dtb: None,
            cmdline: "",
            rng_seed: None,
        };
        let result = load_linux(&mut memory, &files, &info);
        std::fs::remove_dir_all(&dir).unwrap();
        result.map(|layout| (layout, memory)).map_err(|e| e.to_string())
    }

    #[test]
    fn a_uimage_goes_to_its_load_address() {
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let (layout, memory) = boot_uimage(&uimage(&data, 0x6080_0000, 0x6080_0040)).unwrap();
        assert_eq!(layout.kernel, (0x6080_0000, 0x6080_0000 + 5000));
        let mut back = vec![0u8; data.len()];
        memory.read_bytes(0x6080_0000, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_damaged_uimage_is_a_clear_error() {
        let good = uimage(&[0xaa; 4096], 0x6080_0000, 0x6080_0000);
        let mut bad_crc = good.clone();
        bad_crc[40] ^= 1; // a byte of the name
        let err = boot_uimage(&bad_crc).map(|_| ()).unwrap_err();
        assert!(err.contains("corrupt header (CRC mismatch)"), "{err}");
        let err = boot_uimage(&good[..good.len() - 1]).map(|_| ()).unwrap_err();
        assert!(
            err.contains("truncated uImage (its header says 4096 bytes of data, the file has 4095)"),
            "{err}"
        );
        let err = boot_uimage(&good[..40]).map(|_| ()).unwrap_err();
        assert!(err.contains("header is cut short"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_device_tree() {
        assert!(
            patch_dtb(b"this is not a dtb at all", &board(), "", None, None)
                .unwrap_err()
                .to_string()
                .contains("not a valid device tree")
        );
    }

    #[test]
    fn atags_describe_memory_initrd_and_cmdline() {
        let a = atags(&board(), "hi", Some((0x6800_0000, 0x6800_1000)));
        let w: Vec<u32> = a
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(
            &w[..9],
            &[5, 0x5441_0001, 1, 0x1000, 0, 4, 0x5441_0002, 256 << 20, 0x6000_0000]
        );
        assert_eq!(&w[9..13], &[4, 0x5442_0005, 0x6800_0000, 0x1000]);
        assert_eq!(&w[13..15], &[3, 0x5441_0009]);
        assert_eq!(&w[16..], &[0, 0]);
    }
}
