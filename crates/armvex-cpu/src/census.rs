//! The pair census (cargo feature `pair-census`): how often each pair of instruction
//! handlers ran one after the other along the straight line, to choose the pairs that get a
//! superinstruction (`PAIRS` in `src/fuse.rs`; `tools/pair-census` ranks them).
//!
//! With the feature on, nothing is fused (every pair is dispatched, so every pair is seen),
//! and the handlers tell the CPU's [`Census`] what runs:
//!
//! * the plain handler of a family (`fast` in `src/thread.rs`), run as its slot's `exec`
//!   (an unconditional instruction, not a `full` variant, not a condition check's `then`),
//!   *arrives* at its slot, then *expects* the slot after it: it is a possible first
//!   instruction of a pair;
//! * a B or BL's handler and an IT's handler, run as their slot's `exec`, only arrive: they
//!   may be the second instruction of a pair, never the first;
//! * a handler that arrives at the slot the previous one expected counts the pair;
//! * everything else forgets what was expected: an instruction that did not go on in
//!   sequence (a branch, a load of the PC, an exception: any flow but `Flow::Next`), and the
//!   block loop starting a chain of handlers. A handler that does not arrive (a condition
//!   check, a `full` variant, a hand-written one) cannot count a pair either: the slot after
//!   it is not the one expected, and the slot expected holds it, not one that arrives.
//!
//! So a pair is counted only when its second instruction is the very slot the first one's
//! `Flow::Next` went on to, and both run through the handlers a superinstruction replaces.
//!
//! Families are named as in `PAIRS`: a family type of `crate::exec` by its name and
//! generic arguments (`Dp<4, true, 1>`), a B or BL as `branch COND, LINK, LOCAL`, an IT as
//! `it`; other families (the `op!` ones, which `PAIRS` cannot name) keep their whole type
//! name. Each CPU counts on its own; a CPU's counts go to a process-wide total when it is
//! dropped, which [`write()`] saves.
//!
//! The census costs a hash-map update per pair: the census build runs several times slower
//! than the default build, which has none of this compiled in.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Mutex;

/// An instruction's family (its type name, as [`std::any::type_name`] gives it) and length
/// in slots. Compared and hashed by the name's address: each handler has its one
/// constant string (two handlers of a family may have two copies, which [`write()`] merges).
#[derive(Clone, Copy, Debug)]
pub struct Name {
    pub family: &'static str,
    pub slots: u8,
}

impl Name {
    /// The name of family `T`, `slots` slots long.
    #[inline(always)]
    pub fn of<T: ?Sized>(slots: usize) -> Name {
        Name {
            family: std::any::type_name::<T>(),
            slots: slots as u8,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.family, other.family) && self.slots == other.slots
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.family.as_ptr() as usize ^ usize::from(self.slots));
    }
}

/// A cheap hasher for [`Name`] pairs (multiply and rotate, as rustc's FxHasher): SipHash
/// would double the census build's time.
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

type Counts = HashMap<(Name, Name), u64, BuildHasherDefault<FastHasher>>;

/// One CPU's census: the pair counts so far, and the slot where the straight line goes on
/// after the last instruction that may start a pair (see the module documentation).
#[derive(Default)]
pub struct Census {
    /// The address of the slot expected next, 0 if none.
    next: usize,
    /// The family of the instruction before that slot.
    first: Option<Name>,
    /// How often each pair (first, second) ran.
    counts: Counts,
    /// How many times any handler went on to the next slot (`Flow::Next`), pair or not.
    pub(crate) dispatches: u64,
}

impl Census {
    /// A handler of family `name` runs the instruction at slot address `slot`; `exec` says
    /// it runs as the slot's `exec` (not as a condition check's or an IT block's `then`).
    /// Counts the pair if the slot is the one expected; forgets the expected slot.
    #[inline(always)]
    pub fn arrive(&mut self, slot: usize, exec: bool, name: Name) {
        if exec && slot == self.next {
            if let Some(first) = self.first {
                *self.counts.entry((first, name)).or_insert(0) += 1;
            }
        }
        self.next = 0;
    }

    /// The instruction of family `first` may start a pair: the straight line goes on at the
    /// slot address `next` if it goes on in sequence.
    #[inline(always)]
    pub fn expect(&mut self, next: usize, first: Name) {
        self.next = next;
        self.first = Some(first);
    }

    /// Forget the slot expected: the straight line does not go on.
    #[inline(always)]
    pub fn forget(&mut self) {
        self.next = 0;
    }

    /// The pairs counted so far, as [`write()`] names them, and how often each ran.
    pub fn pairs(&self) -> HashMap<String, u64> {
        let mut pairs = HashMap::new();
        for (&(first, second), &n) in &self.counts {
            *pairs.entry(entry(first, second)).or_insert(0) += n;
        }
        pairs
    }
}

/// What the dropped CPUs counted: pairs and dispatches.
static TOTAL: Mutex<Option<(HashMap<String, u64>, u64)>> = Mutex::new(None);

impl Drop for Census {
    fn drop(&mut self) {
        if self.counts.is_empty() && self.dispatches == 0 {
            return;
        }
        let mut total = TOTAL.lock().unwrap_or_else(|e| e.into_inner());
        let (pairs, dispatches) = total.get_or_insert_with(Default::default);
        for (entry, n) in self.pairs() {
            *pairs.entry(entry).or_insert(0) += n;
        }
        *dispatches += self.dispatches;
    }
}

/// Write what the CPUs dropped so far counted to `path`: a comment line with the totals,
/// then one line per pair, most frequent first: its count and the pair as an entry of
/// `PAIRS` (`123 Dp<4, true, 1>, 1, branch 1, false, true`).
pub fn write(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let (pairs, dispatches) = TOTAL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    let mut lines: Vec<(String, u64)> = pairs.into_iter().collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let counted: u64 = lines.iter().map(|(_, n)| n).sum();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "# armvex pair census: {counted} pairs counted of {dispatches} dispatches"
    )?;
    for (entry, n) in lines {
        writeln!(out, "{n} {entry}")?;
    }
    out.flush()
}

/// A pair as an entry of `PAIRS`: the first family and its slots, then the second family
/// and its slots, `branch COND, LINK, LOCAL` or `it`.
fn entry(first: Name, second: Name) -> String {
    let second = match short(second.family) {
        s if s.starts_with("branch ") || s == "it" => s,
        s => format!("{s}, {}", second.slots),
    };
    format!("{}, {}, {second}", short(first.family), first.slots)
}

/// The name `PAIRS` gives a family: `armvex_cpu::exec::dataproc::Dp<4, true, 1>` ->
/// `Dp<4, true, 1>`, `...::BranchTo<1, false, true>` -> `branch 1, false, true`,
/// `...::ItStart` -> `it`; a type that is not a named type of a module of `exec` keeps
/// its whole name.
fn short(family: &str) -> String {
    let Some(rest) = family.strip_prefix("armvex_cpu::exec::") else {
        return family.to_string();
    };
    let (path, generics) = match rest.find('<') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let parts: Vec<&str> = path.split("::").collect();
    let named = parts.len() == 2 && parts.iter().all(|p| p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !named || generics.contains("::") {
        return family.to_string();
    }
    match (parts[1], generics) {
        ("BranchTo", g) => format!("branch {}", g.trim_start_matches('<').trim_end_matches('>')),
        ("ItStart", "") => "it".to_string(),
        (ty, g) => format!("{ty}{g}"),
    }
}

#[cfg(test)]
mod tests {
    use super::short;
    use crate::testutil::{RAM, machine};
    use crate::{CodeCache, CpuModel, Features};

    /// A loop and a few straight lines of ARM code: exactly the pairs of plain handlers
    /// that follow each other in sequence are counted, how often they ran; not a pair
    /// whose first is conditional or reads the PC (the `full` variant), nor a comparison
    /// run with its branch, nor an instruction and the next one reached by a jump.
    #[test]
    fn census_counts_straight_line_pairs_exactly() {
        let prog: [u32; 14] = [
            0xe3a00000, // 00 mov r0, #0
            0xe2800001, // 04 loop: add r0, r0, #1
            0xe1a01000, // 08 mov r1, r0
            0xe2812002, // 0c add r2, r1, #2
            0xe3500003, // 10 cmp r0, #3
            0x1afffffa, // 14 bne loop
            0x03a03005, // 18 moveq r3, #5
            0xe1a04000, // 1c mov r4, r0
            0xeaffffff, // 20 b 24
            0xe28f6000, // 24 add r6, pc, #0   (r6 = 0x2c)
            0xe1a0f006, // 28 mov pc, r6       (a jump to the next instruction)
            0xe3a07007, // 2c mov r7, #7
            0xe3a07008, // 30 mov r7, #8
            0xeaffffff, // 34 b 38
        ];
        let bytes: Vec<u8> = prog.iter().flat_map(|w| w.to_le_bytes()).collect();
        let (mut cpu, mut bus) = machine(CpuModel::CortexA9);
        bus.memory.write_bytes(u64::from(RAM), &bytes).unwrap();
        cpu.set_pc_interworking(RAM);
        let mut code = CodeCache::new(bus.memory.total_pages(), Features::for_model(CpuModel::CortexA9, true));
        // 1 + 3 rounds of 5, then moveq, mov, b, add, mov pc, mov, mov, b.
        cpu.run(&mut bus, &mut code, 24, 0);
        assert_eq!(cpu.instructions(), 24);
        assert_eq!((cpu.pc(), cpu.regs[7]), (RAM + 0x38, 8));
        let mut pairs: Vec<(String, u64)> = cpu.census.pairs().into_iter().collect();
        pairs.sort();
        // Dp<OP, S, form>: OP 4 = ADD, 13 = MOV; form 0 = immediate, 1 = register.
        let expect = [
            ("Dp<13, false, 0>, 1, Dp<13, false, 0>, 1", 1), // mov r7, #7; mov r7, #8
            ("Dp<13, false, 0>, 1, Dp<4, false, 0>, 1", 1),  // mov r0, #0; add r0, r0, #1
            ("Dp<13, false, 0>, 1, branch 14, false, true", 1), // mov r7, #8; b 38
            ("Dp<13, false, 1>, 1, Dp<4, false, 0>, 1", 3),  // mov r1, r0; add r2, r1, #2
            ("Dp<13, false, 1>, 1, branch 14, false, true", 1), // mov r4, r0; b 24
            ("Dp<4, false, 0>, 1, Dp<13, false, 1>, 1", 3),  // add r0, r0, #1; mov r1, r0
        ];
        let expect: Vec<(String, u64)> = expect.iter().map(|&(p, n)| (p.to_string(), n)).collect();
        assert_eq!(pairs, expect);
    }

    #[test]
    fn census_names_families_as_pairs_does() {
        assert_eq!(short("armvex_cpu::exec::dataproc::Dp<4, true, 1>"), "Dp<4, true, 1>");
        assert_eq!(
            short("armvex_cpu::exec::branch::BranchTo<1, false, true>"),
            "branch 1, false, true"
        );
        assert_eq!(short("armvex_cpu::exec::thumb::ItStart"), "it");
        let local = "armvex_cpu::exec::misc::X::{{constant}}::O";
        assert_eq!(short(local), local);
    }
}
