//! Programs of real ARM encodings (assembled with GNU as, source in the comments) run through
//! the decoder and the run loop, with exact expected register values.

use crate::testutil::{RAM, run_arm};

#[test]
fn flags_from_arithmetic_and_shifts() {
    let prog = [
        0xe3b00000, // movs r0, #0
        0xe3e01000, // mvn r1, #0
        0xe2912001, // adds r2, r1, #1           -> 0, C=1 Z=1
        0xe2a03000, // adc r3, r0, #0            -> 1
        0xe2504001, // subs r4, r0, #1           -> -1, N=1 C=0
        0xe2c05000, // sbc r5, r0, #0            -> 0 - 0 - 1
        0xe2716102, // rsbs r6, r1, #0x80000000  -> 0x80000001, C=0
        0xe1a070a1, // lsr r7, r1, #1
        0xe1b08041, // asrs r8, r1, #32          -> -1, C=1
        0xe10f9000, // mrs r9, CPSR
        0xe297a001, // adds sl, r7, #1           -> overflow
        0xe10fb000, // mrs fp, CPSR
    ];
    let (cpu, _, _) = run_arm(&prog, &[], prog.len() as u64);
    let expect = [
        0,
        0xffff_ffff,
        0,
        1,
        0xffff_ffff,
        0xffff_ffff,
        0x8000_0001,
        0x7fff_ffff,
        0xffff_ffff,
        0xa000_01d3,
        0x8000_0000,
        0x9000_01d3,
    ];
    assert_eq!(&cpu.regs[..12], &expect);
    assert_eq!(cpu.pc(), RAM + 4 * prog.len() as u32);
}

#[test]
fn loads_and_stores_in_every_addressing_form() {
    let prog = [
        0xe3010000, // movw r0, #4096
        0xe3460000, // movt r0, #24576
        0xe59f102c, // ldr r1, [pc, #44]         (=0x11223344)
        0xe5a01004, // str r1, [r0, #4]!
        0xe4d02001, // ldrb r2, [r0], #1
        0xe1d030f1, // ldrsh r3, [r0, #1]
        0xe14010b1, // strh r1, [r0, #-1]
        0xe5104001, // ldr r4, [r0, #-1]
        0xe3a05002, // mov r5, #2
        0xe7106085, // ldr r6, [r0, -r5, lsl #1] (unaligned, allowed with SCTLR.A=0)
        0xe14080d5, // ldrd r8, r9, [r0, #-5]
        0xe92d000e, // push {r1, r2, r3}
        0xe8bd1c00, // pop {sl, fp, ip}
        0xeaffffff, // b next
        0xe51f7004, // ldr r7, [pc, #-4]
        0x11223344, // .word 0x11223344
    ];
    let (cpu, bus, _) = run_arm(&prog, &[(13, RAM + 0x2000)], 15);
    let r = &cpu.regs;
    assert_eq!(r[0], RAM + 0x1005);
    assert_eq!((r[1], r[2], r[3], r[4]), (0x1122_3344, 0x44, 0x1122, 0x1122_3344));
    assert_eq!(r[6], 0x4400_0000);
    assert_eq!((r[8], r[9]), (0, 0x1122_3344));
    assert_eq!((r[10], r[11], r[12], r[13]), (0x1122_3344, 0x44, 0x1122, RAM + 0x2000));
    assert_eq!(r[7], 0x1122_3344);
    assert_eq!(
        bus.memory.read(u64::from(RAM + 0x1ff8), armvex_bus::AccessSize::Word),
        Some(0x44)
    );
}

#[test]
fn branches_links_and_interworking() {
    let prog = [
        0xe3a00000, // 00: mov r0, #0
        0xeb000001, // 04: bl 10
        0xe2800001, // 08: add r0, r0, #1
        0xea000001, // 0c: b 18
        0xe280000a, // 10: add r0, r0, #10
        0xe12fff1e, // 14: bx lr
        0xe3a01009, // 18: mov r1, #9
        0xe12fff31, // 1c: blx r1
    ];
    let (cpu, _, _) = run_arm(&prog, &[], 8);
    assert_eq!(cpu.regs[0], 11);
    assert_eq!(cpu.regs[14], RAM + 0x20);
    assert_eq!(cpu.pc(), 8);
    assert!(cpu.is_thumb(), "bit 0 of the BLX target selects Thumb");
}

#[test]
fn media_multiply_and_saturation() {
    let prog = [
        0xe3a00102, // mov r0, #0x80000000
        0xe16f1f10, // clz r1, r0
        0xe6ff2f30, // rbit r2, r0
        0xe3a030ff, // mov r3, #255
        0xe6af4073, // sxtb r4, r3
        0xe7e25253, // ubfx r5, r3, #4, #3
        0xe7cb6413, // bfi r6, r3, #8, #4
        0xe0c87390, // smull r7, r8, r0, r3
        0xe04a9390, // umaal r9, sl, r0, r3
        0xe59fc014, // ldr ip, [pc, #20]  (=0x00010002)
        0xe65cbf1c, // uadd16 fp, ip, ip
        0xe683cfb0, // sel ip, r3, r0
        0xe10f6000, // mrs r6, CPSR
        0xe6a30013, // ssat r0, #4, r3
        0xe10f1000, // mrs r1, CPSR
        0xe1002050, // qadd r2, r0, r0
        0x00010002, // .word 0x00010002
    ];
    let (cpu, _, _) = run_arm(&prog, &[], 16);
    let r = &cpu.regs;
    assert_eq!((r[3], r[4], r[5]), (0xff, 0xffff_ffff, 7));
    assert_eq!((r[7], r[8]), (0x8000_0000, 0xffff_ff80));
    assert_eq!((r[9], r[10]), (0x8000_0000, 0x7f));
    assert_eq!((r[11], r[12]), (0x0002_0004, 0x8000_0000));
    assert_eq!(r[6], 0x4000_01d3, "Z from reset, as QEMU");
    assert_eq!((r[0], r[1], r[2]), (7, 0x4800_01d3, 14));
}

#[test]
fn conditional_execution_skips_but_counts() {
    let prog = [
        0xe3b00000, // movs r0, #0     (Z=1)
        0x13a01001, // movne r1, #1    (skipped)
        0x03a02002, // moveq r2, #2
    ];
    let (cpu, _, _) = run_arm(&prog, &[(1, 7)], 3);
    assert_eq!((cpu.regs[1], cpu.regs[2]), (7, 2));
    assert_eq!(cpu.instructions(), 3);
}

/// Runs of instructions with one condition (skipped together when it fails, entering the
/// instruction with the opposite condition without checking it) and comparisons fused with
/// the branch after them: exact counts and PCs at every budget, and the same end state when
/// a run is cut anywhere.
#[test]
fn condition_runs_and_compare_branch_stop_exactly() {
    let prog = [
        0xe3a00000, // mov r0, #0
        0xe3a03000, // mov r3, #0
        0xe2800001, // loop: add r0, r0, #1
        0xe3500003, // cmp r0, #3
        0x83a01001, // movhi r1, #1
        0x83a02002, // movhi r2, #2
        0x92833001, // addls r3, r3, #1
        0x82844001, // addhi r4, r4, #1
        0xe3500005, // cmp r0, #5
        0x1afffff7, // bne loop
        0x03a05005, // moveq r5, #5
        0x13a06006, // movne r6, #6
    ];
    let mut slots = vec![0, 1];
    for _ in 0..5 {
        slots.extend(2..=9);
    }
    slots.extend([10, 11, 12]);
    let total = slots.len() as u64 - 1;
    let expect = |cpu: &crate::Cpu| {
        assert_eq!(&cpu.regs[..7], &[5, 1, 2, 3, 2, 5, 0], "r0..r6 after the whole program");
    };
    let (cpu, _, _) = run_arm(&prog, &[], total);
    expect(&cpu);
    assert_eq!(cpu.instructions(), total);
    for n in 1..total {
        let (mut cpu, mut bus, _) = run_arm(&prog, &[], n);
        assert_eq!(cpu.instructions(), n, "budget {n}");
        assert_eq!(cpu.pc(), RAM + 4 * slots[n as usize], "PC after {n} instructions");
        let mut code = crate::CodeCache::new(
            bus.memory.total_pages(),
            crate::Features::for_model(crate::CpuModel::CortexA9, true),
        );
        cpu.run(&mut bus, &mut code, total - n, 0);
        assert_eq!(cpu.instructions(), total, "budget {n}, then the rest");
        expect(&cpu);
    }
}

/// A program in two pages: `page0` at RAM, `page1` at RAM + 0x1000 (page 0 padded with
/// NOPs). A chain goes on into a page only if its budget covers the run it enters there
/// (up to a B or the end of the page), so the functions in page 1 end with a B.
fn two_pages(page0: &[u32], page1: &[u32]) -> Vec<u32> {
    let mut prog = page0.to_vec();
    prog.resize(0x400, 0xe1a00000); // mov r0, r0
    prog.extend_from_slice(page1);
    prog
}

/// Chains go on across pages (a call and its return, see `crate::thread::jump_out`): exact
/// counts and PCs at every budget, and the same end state when the run is cut anywhere and
/// resumed, with the same code cache or a new one.
#[test]
fn chains_across_pages_stop_exactly() {
    let prog = two_pages(
        &[
            0xe3a00000, // mov r0, #0
            0xe3a01000, // mov r1, #0
            0xeb0003fc, // loop: bl func (RAM + 0x1000)
            0xe2800001, // add r0, r0, #1
            0xe3500005, // cmp r0, #5
            0x1afffffb, // bne loop
            0xe3a02007, // mov r2, #7
        ],
        &[
            0xe2811002, // func: add r1, r1, #2
            0xe12fff1e, // bx lr
            0xeafffffe, // b .  (ends the run: a budget can cover it)
        ],
    );
    let mut slots = vec![0, 1];
    for _ in 0..5 {
        slots.extend([2, 0x400, 0x401, 3, 4, 5]);
    }
    slots.extend([6, 7]);
    let total = slots.len() as u64 - 1;
    let expect = |cpu: &crate::Cpu| {
        assert_eq!(&cpu.regs[..3], &[5, 10, 7], "r0..r2 after the whole program");
    };
    let (cpu, _, _) = run_arm(&prog, &[], total);
    expect(&cpu);
    assert_eq!(cpu.instructions(), total);
    assert_eq!(cpu.pc(), RAM + 4 * 7);
    for n in 1..total {
        for same_cache in [false, true] {
            let (mut cpu, mut bus) = crate::testutil::machine(crate::CpuModel::CortexA9);
            let bytes: Vec<u8> = prog.iter().flat_map(|w| w.to_le_bytes()).collect();
            bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
            cpu.regs[15] = RAM;
            let features = || crate::Features::for_model(crate::CpuModel::CortexA9, true);
            let mut code = crate::CodeCache::new(bus.memory.total_pages(), features());
            cpu.run(&mut bus, &mut code, n, 0);
            assert_eq!(cpu.instructions(), n, "budget {n}");
            assert_eq!(cpu.pc(), RAM + 4 * slots[n as usize], "PC after {n} instructions");
            if !same_cache {
                code = crate::CodeCache::new(bus.memory.total_pages(), features());
            }
            cpu.run(&mut bus, &mut code, total - n, 0);
            assert_eq!(cpu.instructions(), total, "budget {n}, then the rest");
            expect(&cpu);
        }
    }
}

/// A store into the code of another page is seen by the next call into that page, which
/// a chain makes without coming back to the block loop otherwise.
#[test]
fn chains_across_pages_see_code_written_there() {
    let prog = two_pages(
        &[
            0xe59f3014, // ldr r3, [pc, #0x14]  (the new instruction)
            0xe59f4014, // ldr r4, [pc, #0x14]  (RAM + 0x1000)
            0xeb0003fc, // bl func
            0xe5843000, // str r3, [r4]
            0xe1a05001, // mov r5, r1
            0xeb0003f9, // bl func
            0xe1a06001, // mov r6, r1
            0xe3a01009, // .word: mov r1, #9
            RAM + 0x1000,
        ],
        &[
            0xe3a01001, // func: mov r1, #1
            0xe12fff1e, // bx lr
            0xeafffffe, // b .
        ],
    );
    let (cpu, _, _) = run_arm(&prog, &[], 11);
    assert_eq!(cpu.instructions(), 11);
    assert_eq!((cpu.regs[5], cpu.regs[6]), (1, 9));
    assert_eq!(cpu.pc(), RAM + 4 * 7);
}

#[test]
fn undefined_instruction_takes_the_exception() {
    let prog = [
        0xe7f000f0, // udf #0
    ];
    let (cpu, _, _) = run_arm(&prog, &[], 1);
    assert_eq!(cpu.mode(), crate::Mode::Undefined);
    assert_eq!(cpu.regs[14], RAM + 4);
    assert_eq!(cpu.spsr(), Some(0x4000_01d3));
    assert_eq!(cpu.pc(), 0x4, "VBAR is 0 after reset");
}

#[test]
fn semihosting_svc_stops_the_cpu_with_pc_past_the_call() {
    let prog = [
        0xe3a00018, // mov r0, #0x18
        0xef123456, // svc 0x123456
    ];
    let (cpu, _, exit) = run_arm(&prog, &[], 100);
    assert_eq!(exit, crate::Exit::Semihosting);
    assert_eq!(cpu.pc(), RAM + 8);
    assert_eq!(cpu.instructions(), 2);
}

#[test]
fn divide_exists_only_on_the_a15() {
    use crate::CpuModel;
    use crate::testutil::run_arm_on;
    let prog = [
        0xe713f110, // sdiv r3, r0, r1
    ];
    let (cpu, _, _) = run_arm_on(CpuModel::CortexA15, &prog, &[(0, 0xffff_fff6), (1, 3)], 1);
    assert_eq!(cpu.regs[3], 0xffff_fffd);
    let (cpu, _, _) = run_arm_on(CpuModel::CortexA9, &prog, &[(0, 0xffff_fff6), (1, 3)], 1);
    assert_eq!(cpu.mode(), crate::Mode::Undefined);
}

#[test]
fn vfp_arithmetic_transfers_and_fpscr() {
    let prog = [
        0xee110f50, // mrc p15, 0, r0, c1, c0, 2     (CPACR)
        0xe380060f, // orr r0, r0, #0xf00000          (cp10/cp11 full access)
        0xee010f50, // mcr p15, 0, r0, c1, c0, 2
        0xe3a00101, // mov r0, #0x40000000
        0xeee80a10, // vmsr fpexc, r0                 (EN)
        0xeeb70a08, // vmov.f32 s0, #1.5
        0xeef00a00, // vmov.f32 s1, #2.0
        0xee301a20, // vadd.f32 s2, s0, s1            3.5
        0xee611a20, // vmul.f32 s3, s2, s1            7.0
        0xeeb72ae1, // vcvt.f64.f32 d2, s3
        0xeeb13bc2, // vsqrt.f64 d3, d2               inexact
        0xeeb41ae1, // vcmpe.f32 s2, s3               less than
        0xeef1fa10, // vmrs APSR_nzcv, fpscr
        0xb3a01001, // movlt r1, #1
        0xee112a90, // vmov r2, s3
        0xeebd2ac1, // vcvt.s32.f32 s4, s2            3 (towards zero)
        0xee123a10, // vmov r3, s4
        0xec554b12, // vmov r4, r5, d2
        0xe3016000, // movw r6, #0x1000
        0xe3466000, // movt r6, #0x6000
        0xed863b00, // vstr d3, [r6]
        0xed965a01, // vldr s10, [r6, #4]
        0xee157a10, // vmov r7, s10
        0xeef18a10, // vmrs r8, fpscr
        0xeef69a10, // vmrs r9, mvfr1
    ];
    let (cpu, _, _) = run_arm(&prog, &[], prog.len() as u64);
    let r = &cpu.regs;
    assert_eq!(r[1], 1, "VCMPE set N, copied to the APSR");
    assert_eq!((r[2], r[3]), (0x40e0_0000, 3));
    // D2 is S4:S5, and S4 was overwritten by the conversion.
    assert_eq!((r[4], r[5]), (3, 0x401c_0000));
    assert_eq!(r[7], 0x4005_2a7f, "high word of sqrt(7.0)");
    assert_eq!(
        r[8], 0x8000_0010,
        "N from the compare, IXC from sqrt and the conversion"
    );
    assert_eq!(r[9], 0x0111_1111, "MVFR1 of the Cortex-A9, with Advanced SIMD");
    assert_eq!(cpu.mode(), crate::Mode::Supervisor);
}

#[test]
fn vfp_is_undefined_until_enabled() {
    let prog = [
        0xee301a20, // vadd.f32 s2, s0, s1  (CPACR and FPEXC.EN are clear after reset)
    ];
    let (cpu, _, _) = run_arm(&prog, &[], 1);
    assert_eq!(cpu.mode(), crate::Mode::Undefined);
    assert_eq!(cpu.regs[14], RAM + 4);
}
