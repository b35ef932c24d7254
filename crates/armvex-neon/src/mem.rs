//! Element and structure loads and stores (ARM ARM A7.7, and VLD1-VLD4, VST1-VST4 in A8.8) and the transfers between core registers and scalars (A7.8: VMOV scalar,
//! VDUP core).
//!
//! * **Multiple structures** (`VLDn {list}, [Rn]`): n-element structures are de-interleaved
//!   from memory into n registers (or register pairs): element e of structure member k goes
//!   to element e of the k-th register.
//! * **Single structure to one lane**: one structure into lane `index` of n registers.
//! * **Single structure to all lanes**: one structure replicated into every lane.
//!
//! The `:align` qualifier makes the access fault when the base address is not a multiple of
//! the alignment (an Alignment fault whatever SCTLR.A says). Elements are accessed one at a
//! time, each `ebytes` wide, in the ARM ARM's order; a memory fault stops the instruction
//! with the registers written so far (the CPU restarts it after the abort, as the ARM ARM
//! allows for a load that faults).
//!
//! Writeback (`Rm` field): 15 none, 13 `Rn += bytes transferred`, otherwise `Rn += Rm`.

use crate::decode::{bit, field};
use crate::lanes::{elem, replicate, set_elem};
use crate::{NeonEnv, NeonFault};

fn dreg(w: u32) -> usize {
    (((w >> 18) & 0x10) | ((w >> 12) & 0xF)) as usize
}

/// QEMU 7.2 checks at most 16-byte alignment: its `pow2_align()` maps the 256-bit
/// `:align` of VLD1/VST1 and VLD4/VST4 to 128 bits (a FIXME there: the TLB flags leave no
/// room for 32-byte alignment). The ARM ARM asks for 32; QEMU is this project's reference,
/// so a 32-byte request checks 16.
const MAX_CHECKED_ALIGN: u32 = 16;

fn check_align<F>(addr: u32, align: u32) -> Result<(), NeonFault<F>> {
    let align = align.min(MAX_CHECKED_ALIGN);
    if align > 1 && addr & (align - 1) != 0 {
        return Err(NeonFault::Alignment { addr });
    }
    Ok(())
}

fn writeback<E: NeonEnv>(env: &mut E, w: u32, bytes: u32) {
    let (rn, rm) = (field(w, 16, 4) as usize, field(w, 0, 4) as usize);
    match rm {
        15 => {}
        13 => {
            let v = env.core_reg(rn).wrapping_add(bytes);
            env.set_core_reg(rn, v);
        }
        _ => {
            let v = env.core_reg(rn).wrapping_add(env.core_reg(rm));
            env.set_core_reg(rn, v);
        }
    }
}

/// One element access: load into lane `e` of D register `reg`, or store from it.
fn access<E: NeonEnv>(
    env: &mut E,
    d: &mut [u64; 32],
    load: bool,
    addr: u32,
    reg: usize,
    e: u32,
    esize: u32,
) -> Result<(), NeonFault<E::Fault>> {
    let reg = reg & 31;
    let bytes = esize / 8;
    if load {
        let v = env.read(addr, bytes).map_err(NeonFault::Memory)?;
        d[reg] = set_elem(d[reg], e, esize, v);
    } else {
        env.write(addr, bytes, elem(d[reg], e, esize))
            .map_err(NeonFault::Memory)?;
    }
    Ok(())
}

pub(crate) fn multiple<E: NeonEnv>(env: &mut E, d: &mut [u64; 32], w: u32) -> Result<(), NeonFault<E::Fault>> {
    let load = bit(w, 21);
    let (ty, size, align) = (field(w, 8, 4), field(w, 6, 2), field(w, 4, 2));
    let base = dreg(w);
    let esize = 8 << size;
    let elements = 64 / esize;
    // (structure members n, registers per member "regs", register spacing "inc")
    let (n, regs, inc) = match ty {
        0b0111 => (1, 1, 1),
        0b1010 => (1, 2, 1),
        0b0110 => (1, 3, 1),
        0b0010 => (1, 4, 1),
        0b1000 => (2, 1, 1),
        0b1001 => (2, 1, 2),
        0b0011 => (2, 2, 2),
        0b0100 => (3, 1, 1),
        0b0101 => (3, 1, 2),
        0b0000 => (4, 1, 1),
        _ => (4, 1, 2),
    };
    let alignment = match (n, align) {
        (_, 0) => 1,
        (4, a) => 4 << a,
        (3, _) => 8,
        (_, a) => 4 << a,
    };
    let rn = field(w, 16, 4) as usize;
    let mut addr = env.core_reg(rn);
    check_align(addr, alignment)?;
    let ebytes = esize / 8;
    let total = 8 * n * regs;
    // The elements in memory order, each as (D register, element index): structure member
    // k goes to register base + k*inc (+ r for the register pairs of VLD1/VLD2).
    let slots = move || {
        (0..regs).flat_map(move |r| {
            (0..elements)
                .flat_map(move |e| (0..n).map(move |k| ((if n == 1 { base + r } else { base + k * inc + r }) & 31, e)))
        })
    };
    let eb = ebytes as usize;
    // The environment's fast path: all the bytes in one access, then (de)interleaved here
    // in the same order as the element loop below. VLD1/VST1 (n = 1) need no interleaving:
    // each register is 8 consecutive bytes, whatever the element size.
    let mut buf = [0u8; 32];
    if load && env.read_contiguous(addr, &mut buf[..total], ebytes) {
        if n == 1 {
            for (r, bytes) in buf[..total].chunks_exact(8).enumerate() {
                d[(base + r) & 31] = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            }
        } else {
            for ((reg, e), bytes) in slots().zip(buf[..total].chunks_exact(eb)) {
                let mut v = [0u8; 8];
                v[..eb].copy_from_slice(bytes);
                d[reg] = set_elem(d[reg], e, esize, u64::from_le_bytes(v));
            }
        }
        writeback(env, w, total as u32);
        return Ok(());
    }
    if !load {
        if n == 1 {
            for (r, bytes) in buf[..total].chunks_exact_mut(8).enumerate() {
                bytes.copy_from_slice(&d[(base + r) & 31].to_le_bytes());
            }
        } else {
            for ((reg, e), bytes) in slots().zip(buf[..total].chunks_exact_mut(eb)) {
                bytes.copy_from_slice(&elem(d[reg], e, esize).to_le_bytes()[..eb]);
            }
        }
        if env.write_contiguous(addr, &buf[..total], ebytes) {
            writeback(env, w, total as u32);
            return Ok(());
        }
    }
    for (reg, e) in slots() {
        access(env, d, load, addr, reg, e, esize)?;
        addr = addr.wrapping_add(ebytes);
    }
    writeback(env, w, total as u32);
    Ok(())
}

pub(crate) fn single<E: NeonEnv>(env: &mut E, d: &mut [u64; 32], w: u32) -> Result<(), NeonFault<E::Fault>> {
    let load = bit(w, 21);
    let size = field(w, 10, 2);
    let n = field(w, 8, 2) + 1;
    let ia = field(w, 4, 4);
    let esize = 8 << size;
    let ebytes = esize / 8;
    let (index, inc, alignment) = match (n, size) {
        (1, 0) => (ia >> 1, 1, 1),
        (1, 1) => (ia >> 2, 1, if ia & 1 != 0 { 2 } else { 1 }),
        (1, _) => (ia >> 3, 1, if ia & 3 == 3 { 4 } else { 1 }),
        (2, 0) => (ia >> 1, 1, if ia & 1 != 0 { 2 } else { 1 }),
        (2, 1) => (
            ia >> 2,
            if ia & 2 != 0 { 2 } else { 1 },
            if ia & 1 != 0 { 4 } else { 1 },
        ),
        (2, _) => (
            ia >> 3,
            if ia & 4 != 0 { 2 } else { 1 },
            if ia & 1 != 0 { 8 } else { 1 },
        ),
        (3, 0) => (ia >> 1, 1, 1),
        (3, 1) => (ia >> 2, if ia & 2 != 0 { 2 } else { 1 }, 1),
        (3, _) => (ia >> 3, if ia & 4 != 0 { 2 } else { 1 }, 1),
        (4, 0) => (ia >> 1, 1, if ia & 1 != 0 { 4 } else { 1 }),
        (4, 1) => (
            ia >> 2,
            if ia & 2 != 0 { 2 } else { 1 },
            if ia & 1 != 0 { 8 } else { 1 },
        ),
        (_, _) => (
            ia >> 3,
            if ia & 4 != 0 { 2 } else { 1 },
            if ia & 3 == 0 { 1 } else { 4 << (ia & 3) },
        ),
    };
    let rn = field(w, 16, 4) as usize;
    let mut addr = env.core_reg(rn);
    check_align(addr, alignment)?;
    let base = dreg(w);
    for k in 0..n as usize {
        access(env, d, load, addr, base + k * inc, index, esize)?;
        addr = addr.wrapping_add(ebytes);
    }
    writeback(env, w, ebytes * n);
    Ok(())
}

pub(crate) fn all_lanes<E: NeonEnv>(env: &mut E, d: &mut [u64; 32], w: u32) -> Result<(), NeonFault<E::Fault>> {
    let n = field(w, 8, 2) + 1;
    let (size, t, a) = (field(w, 6, 2), bit(w, 5), bit(w, 4));
    let (ebytes, alignment) = match (n, size) {
        (4, 3) => (4, 16),
        (4, 2) => (4, if a { 8 } else { 1 }),
        (4, s) => (1 << s, if a { 4 << s } else { 1 }),
        (2, s) => (1 << s, if a { 2 << s } else { 1 }),
        (_, s) => (1 << s, if a { 1 << s } else { 1 }),
    };
    let esize = 8 * ebytes;
    let rn = field(w, 16, 4) as usize;
    let mut addr = env.core_reg(rn);
    check_align(addr, alignment)?;
    let base = dreg(w);
    if n == 1 {
        let v = env.read(addr, ebytes).map_err(NeonFault::Memory)?;
        let v = replicate(v, esize);
        d[base & 31] = v;
        if t {
            d[(base + 1) & 31] = v;
        }
    } else {
        let inc = if t { 2 } else { 1 };
        for k in 0..n as usize {
            let v = env.read(addr, ebytes).map_err(NeonFault::Memory)?;
            d[(base + k * inc) & 31] = replicate(v, esize);
            addr = addr.wrapping_add(ebytes);
        }
    }
    writeback(env, w, ebytes * n);
    Ok(())
}

/// (element size, index) of the VMOV scalar forms from opc1 (bits 22:21) and opc2 (6:5).
fn scalar_lane(w: u32) -> (u32, u32) {
    let (opc1, opc2) = (field(w, 21, 2), field(w, 5, 2));
    if opc1 & 2 != 0 {
        (8, ((opc1 & 1) << 2) | opc2)
    } else if opc2 & 1 != 0 {
        (16, ((opc1 & 1) << 1) | (opc2 >> 1))
    } else {
        (32, opc1 & 1)
    }
}

fn nreg(w: u32) -> usize {
    (((w >> 3) & 0x10) | ((w >> 16) & 0xF)) as usize
}

pub(crate) fn core_to_scalar<E: NeonEnv>(env: &mut E, d: &mut [u64; 32], w: u32) {
    let (esize, index) = scalar_lane(w);
    let r = nreg(w);
    let v = env.core_reg(field(w, 12, 4) as usize) as u64;
    d[r] = set_elem(d[r], index, esize, v);
}

pub(crate) fn scalar_to_core<E: NeonEnv>(env: &mut E, d: &[u64; 32], w: u32) {
    let (esize, index) = scalar_lane(w);
    let x = elem(d[nreg(w)], index, esize);
    let v = if bit(w, 23) || esize == 32 {
        x as u32
    } else {
        crate::lanes::sext(x, esize) as u32
    };
    env.set_core_reg(field(w, 12, 4) as usize, v);
}

pub(crate) fn dup_core<E: NeonEnv>(env: &mut E, d: &mut [u64; 32], w: u32) {
    let esize = match (bit(w, 22), bit(w, 5)) {
        (false, false) => 32,
        (false, true) => 16,
        _ => 8,
    };
    let v = replicate(env.core_reg(field(w, 12, 4) as usize) as u64, esize);
    let r = nreg(w);
    d[r] = v;
    if bit(w, 21) {
        d[(r + 1) & 31] = v;
    }
}
