//! Advanced SIMD through the CPU: decode hooks, enables, memory and faults.

use crate::testutil::{RAM, run_arm, run_arm_on, run_thumb};
use crate::{CpuModel, Mode};

/// CPACR full access to cp10/cp11, FPEXC.EN (ARM).
const ENABLE_ARM: [u32; 5] = [
    0xee110f50, // mrc p15, 0, r0, c1, c0, 2
    0xe380060f, // orr r0, r0, #0xf00000
    0xee010f50, // mcr p15, 0, r0, c1, c0, 2
    0xe3a00101, // mov r0, #0x40000000
    0xeee80a10, // vmsr fpexc, r0
];

/// The same ARM program's Advanced SIMD part: data processing, a saturating add (QC), a
/// store with writeback, transfers to core registers.
const NEON_ARM: [u32; 14] = [
    0xe3016000, // movw r6, #0x1000
    0xe3466000, // movt r6, #0x6000
    0xe3a0107f, // mov r1, #0x7f
    0xf2800051, // vmov.i32 q0, #1
    0xeec21b10, // vdup.8 d2, r1
    0xf2023012, // vqadd.s8 d3, d2, d2          saturates: QC
    0xf4062a0d, // vst1.8 {d2-d3}, [r6]!
    0xf2204840, // vadd.i32 q2, q0, q0
    0xeed32b30, // vmov.u8 r2, d3[1]
    0xeef13a10, // vmrs r3, fpscr
    0xec554b14, // vmov r4, r5, d4
    0xe5168010, // ldr r8, [r6, #-16]
    0xe3a07004, // mov r7, #4
    0xf427579f, // vld1.32 {d5}, [r7:64]       misaligned: Alignment fault
];

fn check_results(cpu: &crate::Cpu, bus: &armvex_bus::Bus, fault_pc: u32) {
    let r = &cpu.regs;
    assert_eq!(cpu.vfp.d[2], 0x7f7f_7f7f_7f7f_7f7f);
    assert_eq!(cpu.vfp.d[3], 0x7f7f_7f7f_7f7f_7f7f, "saturated at 0x7f");
    assert_eq!((cpu.vfp.d[0], cpu.vfp.d[1]), (0x1_0000_0001, 0x1_0000_0001));
    assert_eq!((r[4], r[5]), (2, 2), "VADD.I32 of Q0 with itself");
    assert_eq!(r[2], 0x7f, "VMOV.U8 r2, d3[1]");
    assert_eq!(r[3], 0x0800_0000, "FPSCR.QC set by the saturation");
    assert_eq!(r[6], RAM + 0x1010, "VST1 wrote back the base");
    assert_eq!(r[8], 0x7f7f_7f7f, "VST1 stored D2");
    let mut stored = [0u8; 16];
    bus.memory.read_bytes(u64::from(RAM + 0x1000), &mut stored).unwrap();
    assert_eq!(stored, [0x7f; 16]);
    // The last instruction: an :64 alignment the address 4 does not meet.
    assert_eq!(cpu.mode(), Mode::Abort);
    assert_eq!(cpu.cp15.dfsr & 0x40f, 0x001, "Alignment fault, a read");
    assert_eq!(cpu.cp15.dfar, 4);
    assert_eq!(r[14], fault_pc + 8, "LR_abt = the faulting instruction + 8");
}

#[test]
fn neon_arm_data_processing_memory_transfers_and_alignment_fault() {
    let prog: Vec<u32> = ENABLE_ARM.iter().chain(&NEON_ARM).copied().collect();
    for model in [CpuModel::CortexA9, CpuModel::CortexA15] {
        let (cpu, bus, _) = run_arm_on(model, &prog, &[], prog.len() as u64);
        check_results(&cpu, &bus, RAM + 4 * (prog.len() as u32 - 1));
    }
}

#[test]
fn neon_thumb_data_processing_memory_transfers_and_alignment_fault() {
    let prog: [u16; 37] = [
        0xee11, 0x0f50, // mrc p15, 0, r0, c1, c0, 2
        0xf440, 0x0070, // orr.w r0, r0, #0xf00000
        0xee01, 0x0f50, // mcr p15, 0, r0, c1, c0, 2
        0xf04f, 0x4080, // mov.w r0, #0x40000000
        0xeee8, 0x0a10, // vmsr fpexc, r0
        0xf241, 0x0600, // movw r6, #0x1000
        0xf2c6, 0x0600, // movt r6, #0x6000
        0xf04f, 0x017f, // mov.w r1, #0x7f
        0xef80, 0x0051, // vmov.i32 q0, #1
        0xeec2, 0x1b10, // vdup.8 d2, r1
        0xef02, 0x3012, // vqadd.s8 d3, d2, d2
        0xf906, 0x2a0d, // vst1.8 {d2-d3}, [r6]!
        0xef20, 0x4840, // vadd.i32 q2, q0, q0
        0xeed3, 0x2b30, // vmov.u8 r2, d3[1]
        0xeef1, 0x3a10, // vmrs r3, fpscr
        0xec55, 0x4b14, // vmov r4, r5, d4
        0xf856, 0x8c10, // ldr.w r8, [r6, #-16]
        0x2704, // movs r7, #4
        0xf927, 0x579f, // vld1.32 {d5}, [r7:64]
    ];
    let (cpu, bus, _) = run_thumb(&prog, &[], 19);
    // The Data Abort's LR is the faulting instruction + 8 in Thumb state too.
    check_results(&cpu, &bus, RAM + 0x46);
}

#[test]
fn neon_is_undefined_until_enabled_and_with_asedis() {
    // CPACR and FPEXC.EN clear after reset.
    let (cpu, _, _) = run_arm(&[0xf2204840], &[], 1); // vadd.i32 q2, q0, q0
    assert_eq!(cpu.mode(), Mode::Undefined);
    // Enabled, then CPACR.ASEDIS: Advanced SIMD is UNDEFINED, the VFP still runs.
    let mut prog = ENABLE_ARM.to_vec();
    prog.extend([
        0xee110f50, // mrc p15, 0, r0, c1, c0, 2
        0xe3800102, // orr r0, r0, #0x80000000        ASEDIS
        0xee010f50, // mcr p15, 0, r0, c1, c0, 2
        0xeeb70a08, // vmov.f32 s0, #1.5              VFP: runs
        0xf2204840, // vadd.i32 q2, q0, q0            UNDEFINED
    ]);
    let (cpu, _, _) = run_arm(&prog, &[], prog.len() as u64);
    assert_eq!(cpu.vfp.d[0] as u32, 0x3fc0_0000);
    assert_eq!(cpu.mode(), Mode::Undefined);
    assert_eq!(cpu.regs[14], RAM + 4 * (prog.len() as u32 - 1) + 4);
}
