//! Thumb programs (assembled with GNU as, listing in the comments) run through the decoder and
//! the run loop, with exact expected register values.

use crate::testutil::{RAM, run_thumb};

#[test]
fn it_blocks_flags_cbz_tbb_and_wide_instructions() {
    let prog: [u16; 29] = [
        0x2000, //  0: movs r0, #0          (outside IT: sets Z)
        0xbf08, //  2: it eq
        0x1d41, //  4: addeq r1, r0, #5     (inside IT: no flags)
        0x2905, //  6: cmp r1, #5
        0xbf14, //  8: ite ne
        0x2201, //  a: movne r2, #1         (skipped)
        0x2202, //  c: moveq r2, #2
        0x184b, //  e: adds r3, r1, r1      (outside IT: flags from 10)
        0xbf18, // 10: it ne
        0x184c, // 12: addne r4, r1, r1     (inside IT: flags unchanged)
        0xf3ef, 0x8500, // 14: mrs r5, CPSR
        0xb100, // 18: cbz r0, 1c
        0x2663, // 1a: movs r6, #99
        0xb901, // 1c: cbnz r1, 20
        0x2662, // 1e: movs r6, #98
        0xa701, // 20: adr r7, 28
        0xe8d7, 0xf000, // 22: tbb [r7, r0]
        0x2601, // 26: movs r6, #1
        0x0002, // 28: .byte 2, 0
        0x2607, // 2a: movs r6, #7
        0xf04f, 0x3855, // 2c: mov.w r8, #0x55555555
        0xf060, 0x09ff, // 30: orn r9, r0, #255
        0xf8d7, 0xa000, // 34: ldr.w sl, [r7]
        0xde01, // 38: udf #1
    ];
    let (cpu, _, _) = run_thumb(&prog, &[], 19);
    let r = &cpu.regs;
    assert_eq!((r[0], r[1], r[2], r[3], r[4]), (0, 5, 2, 10, 10));
    assert_eq!(
        r[5], 0x0000_01d3,
        "flags from ADDS 10, untouched by ADDNE; T reads as 0"
    );
    assert_eq!(r[6], 7);
    assert_eq!(r[7], RAM + 0x28);
    assert_eq!((r[8], r[9], r[10]), (0x5555_5555, 0xffff_ff00, 0x2607_0002));
    assert_eq!(cpu.pc(), RAM + 0x38);
    assert!(cpu.is_thumb());
}

#[test]
fn undefined_in_thumb_returns_two_past_the_instruction() {
    let prog: [u16; 2] = [
        0xbf00, // nop
        0xde01, // udf #1
    ];
    let (cpu, _, _) = run_thumb(&prog, &[], 2);
    assert_eq!(cpu.mode(), crate::Mode::Undefined);
    assert_eq!(cpu.regs[14], RAM + 4);
    assert_eq!(cpu.spsr(), Some(0x4000_01f3));
    assert!(!cpu.is_thumb(), "SCTLR.TE is clear: exceptions are taken in ARM state");
}

#[test]
fn an_exception_inside_an_it_block_saves_that_instructions_itstate() {
    let prog: [u16; 3] = [
        0xbf04, // itt eq  (Z=1 after reset, as QEMU: both execute)
        0xde01, // udfeq #1
        0xbf00, // nopeq
    ];
    let (cpu, _, _) = run_thumb(&prog, &[], 2);
    assert_eq!(cpu.mode(), crate::Mode::Undefined);
    // ITSTATE for the UDF: firstcond EQ (0000), mask 0100 (one more instruction to go).
    let spsr = cpu.spsr().unwrap();
    let it = ((spsr >> 25) & 3) | (((spsr >> 10) & 0x3f) << 2);
    assert_eq!(it, 0x04);
}

#[test]
fn a_wide_instruction_across_a_page_boundary_runs_as_decoded() {
    // movs r0, #7; movs r1, #9; str r1, [sp]; ldr r2, [sp] (so the TLB maps the stack);
    // then nops up to the page's last halfword, where `stmia.w sp!, {r0, r1}` starts (its
    // second halfword on the next page), then `uxtb.w r2, r0, ror #8` (also wide), and
    // `ldmdb.w sp, {r3, r4}`.
    let mut prog = vec![0x2007u16, 0x2109, 0x9100, 0x9a00];
    while prog.len() < 2047 {
        prog.push(0xbf00);
    }
    prog.extend_from_slice(&[0xe8ad, 0x0003, 0xfa5f, 0xf298, 0xe91d, 0x0018]);
    let (cpu, bus, _) = crate::testutil::run_thumb(&prog, &[(13, RAM + 0x10_100)], 2050);
    assert_eq!(cpu.regs[13], RAM + 0x10_108, "writeback");
    assert_eq!(
        bus.memory.read(u64::from(RAM + 0x10_100), armvex_bus::AccessSize::Word),
        Some(7)
    );
    assert_eq!(
        bus.memory.read(u64::from(RAM + 0x10_104), armvex_bus::AccessSize::Word),
        Some(9)
    );
    assert_eq!(cpu.regs[2], 0);
    assert_eq!((cpu.regs[3], cpu.regs[4]), (7, 9));
    assert_eq!(cpu.pc(), RAM + 0x100a);
}

#[test]
fn a_conditional_branch_across_a_page_boundary_checks_its_condition() {
    // movs r0, #0 (Z set), nops up to the page's last halfword, where `bne.w` (T3, +8) starts;
    // its second halfword is on the next page, then movs r1, #1; movs r2, #2; nop; nop;
    // movs r3, #3 (the branch target). Z is set, so the branch must fall through. Then the
    // same with `beq.w`, which must branch over the two moves.
    for (first, taken) in [(0xf040u16, false), (0xf000, true)] {
        let mut prog = vec![0x2000u16];
        while prog.len() < 2047 {
            prog.push(0xbf00);
        }
        prog.extend_from_slice(&[first, 0x8004, 0x2101, 0x2202, 0xbf00, 0xbf00, 0x2303]);
        let steps = if taken { 2047 + 2 } else { 2047 + 6 };
        let (cpu, _, _) = crate::testutil::run_thumb(&prog, &[], steps);
        let moved = if taken { (0, 0) } else { (1, 2) };
        assert_eq!((cpu.regs[1], cpu.regs[2]), moved, "{first:#x}: r1, r2");
        assert_eq!(cpu.regs[3], 3, "{first:#x}: r3");
        assert_eq!(cpu.pc(), RAM + 0x100c, "{first:#x}: pc");
    }
}

#[test]
fn an_interrupt_inside_an_it_block_leaves_no_itstate_behind() {
    // movs r0, #0 (Z set); itt eq; moveq r1, #1 (no flags inside IT); then an IRQ between
    // the block's two instructions: the SPSR keeps the rest of the block, and the handler
    // (and whatever runs after it, e.g. another thread) is outside any IT block, so a 16-bit
    // data-processing instruction there sets the flags again.
    let prog: [u16; 4] = [0x2000, 0xbf04, 0x2101, 0x2201];
    let (mut cpu, _, _) = run_thumb(&prog, &[], 3);
    assert_eq!(cpu.regs[1], 1);
    cpu.take_interrupt(false);
    assert_eq!(cpu.mode(), crate::Mode::Irq);
    let spsr = cpu.spsr().unwrap();
    let it = ((spsr >> 25) & 3) | (((spsr >> 10) & 0x3f) << 2);
    assert_eq!(it, 0x08, "ITSTATE of the block's last instruction in the SPSR");
    assert_eq!(cpu.current_it, 0, "no ITSTATE left over for the handler");
}

#[test]
fn a_conditional_branch_inside_an_it_block_follows_itstate() {
    // movs r0, #0 (Z set); it eq; beq.n +2 (T1, its own condition EQ: UNPREDICTABLE inside
    // an IT block, run under ITSTATE's condition from a copy of its slot); movs r1, #1;
    // movs r2, #2; movs r3, #3 (the target). The branch is taken past the first two moves.
    let prog: [u16; 6] = [0x2000, 0xbf08, 0xd001, 0x2101, 0x2202, 0x2303];
    let (cpu, _, _) = run_thumb(&prog, &[], 4);
    assert_eq!((cpu.regs[1], cpu.regs[2], cpu.regs[3]), (0, 0, 3));
    assert_eq!(cpu.pc(), RAM + 12);
    assert_eq!(cpu.it, 0);
}

/// A loop with IT blocks (16- and 32-bit instructions, conditions that hold and fail) that
/// calls a function in the next page, which returns from inside an IT block (`bxne lr`) or
/// after it:
///
/// ```text
///      0: movs r0, #0            1000: far: adds r3, r0, r1
///      2: movs r1, #0            1002:      cmp r0, #4
///      4: movs r4, #0            1004:      itt ne
///      6: loop: adds r0, #1      1006:      addne r3, #1
///      8: cmp r0, #3             1008:      bxne lr
///      a: ite cc                 100a:      movs r3, #9
///      c: addcc r1, #2           100c:      bx lr
///      e: addcs.w r1, r1, #100
///     12: itt ne
///     14: movne r2, r0
///     16: addne r4, r4, r0
///     18: bl far
///     1c: movs r5, #0            (outside IT after the return: sets Z)
///     1e: mrs r6, CPSR
///     22: cmp r0, #6
///     24: bne.n loop
///     26: b.n .
/// ```
fn it_blocks_and_calls_between_pages() -> Vec<u16> {
    let mut prog = vec![
        0x2000, 0x2100, 0x2400, 0x3001, 0x2803, 0xbf34, 0x3102, 0xf101, 0x0164, 0xbf1c, 0x4602, 0x1824, 0xf000, 0xfff2,
        0x2500, 0xf3ef, 0x8600, 0x2806, 0xd1ef, 0xe7fe,
    ];
    prog.resize(0x800, 0xbf00);
    prog.extend_from_slice(&[0x1843, 0x2804, 0xbf1c, 0x3301, 0x4770, 0x2309, 0x4770]);
    prog
}

#[test]
fn it_blocks_and_calls_between_pages_give_exact_registers() {
    // 3 + 6 iterations of 17 instructions (19 when r0 is 4, where `far` returns after its
    // IT block), then the `b .` loop.
    let (cpu, _, _) = run_thumb(&it_blocks_and_calls_between_pages(), &[], 200);
    let r = &cpu.regs;
    assert_eq!((r[0], r[1], r[2], r[3], r[4], r[5]), (6, 404, 6, 411, 18, 0));
    assert_eq!(
        r[6], 0x6000_01d3,
        "Z from the 16-bit MOVS after a return from an IT block; C from cmp r0, #4"
    );
    assert_eq!((cpu.pc(), cpu.it), (RAM + 0x26, 0));
}

#[test]
fn it_blocks_run_in_chains_stop_exactly_where_the_budget_ends() {
    // The same program stopped after every number of instructions, run with that budget at
    // once (IT blocks run from their copies, calls chain into the other page) and one
    // instruction per run (every IT block in the block loop, every block from the loop):
    // the same registers, flags and ITSTATE.
    use crate::code_cache::CodeCache;
    use crate::decode::Features;
    use crate::model::CpuModel;
    let prog = it_blocks_and_calls_between_pages();
    for budget in 1..=130u64 {
        let (whole, _, _) = run_thumb(&prog, &[], budget);
        let (mut cpu, mut bus) = crate::testutil::machine(CpuModel::CortexA9);
        let bytes: Vec<u8> = prog.iter().flat_map(|h| h.to_le_bytes()).collect();
        bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
        cpu.set_pc_interworking(RAM | 1);
        let mut code = CodeCache::new(bus.memory.total_pages(), Features::for_model(CpuModel::CortexA9, true));
        for i in 0..budget {
            cpu.run(&mut bus, &mut code, 1, i);
        }
        assert_eq!(whole.regs, cpu.regs, "registers after {budget} instructions");
        assert_eq!(whole.cpsr(), cpu.cpsr(), "CPSR after {budget} instructions");
        assert_eq!(
            (whole.it, whole.current_it),
            (cpu.it, cpu.current_it),
            "ITSTATE after {budget}"
        );
    }
}
