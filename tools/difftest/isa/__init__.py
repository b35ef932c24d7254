"""One module per instruction set the tester can generate.

An ISA module provides:

    NAME, DESCRIPTION
    IMPLEMENTED          False for placeholders
    STATE_NAMES          the words of one log record, in order
    initial_state(rng)   initial registers/flags (a dict the module reads back)
    body_enter_asm()     first lines of the body: switch into its state
                         (.arm, or into Thumb); may clobber registers
    init_asm()           then load the initial state (in the body's state)
    init_data_asm(state) the data those lines read
    log_asm()            lines appending one record at SP, changing nothing
    body_leave_asm()     last lines: back to ARM state (`b finish` follows)
    generate(rng, count, ctx, select) -> [pattern.Insn]
    all_classes()        the instruction classes (for --list / --pattern)
    insn_asm(insn)       setup + the instruction, as assembly lines
    setup_regs_after(insn) {reg: value} guaranteed by the setup (reg: a core
                         register number or a STATE_NAMES entry)
    format_psr(value)    human-readable flags

Optional:

    insn_asm_parts(insn) (setup lines, instruction lines): the harness puts
                         the insn_<k> label between them (for units of
                         several instructions, e.g. a Thumb IT block)
    LOG_END_ASM          the line that puts the end of the log in r4 (the
                         default reads SP, the arm ISA's log pointer)
    CI_SEEDS, CI_COUNT   what --ci runs (default: arm's)
    instruction_count(insns)  random instructions in a program (default:
                         one per unit)
    FORMATTERS           {state name: function} decoding words in reports
                         (default: cpsr with format_psr)
    check_run(insns, before, after)  --qemu-only self-check of the oracle run
    value_notes(names, record, indices)  extra decoded values for a report
    before_indices(insn) the record words to show before an instruction
    adjust_before(insn, regs)  state before an instruction, for setups that
                         are not plain register loads
"""

import importlib

ISAS = ("arm", "thumb", "vfp", "neon", "neon_thumb")


def load(name: str):
    if name not in ISAS:
        raise ValueError(f"unknown ISA {name!r} (known: {', '.join(ISAS)})")
    module = importlib.import_module(f"isa.{name}")
    if not getattr(module, "IMPLEMENTED", True):
        raise NotImplementedError(f"--isa {name} is not implemented yet: "
                                  f"{module.DESCRIPTION}")
    return module
