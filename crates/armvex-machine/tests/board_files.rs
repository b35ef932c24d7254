//! Damaged board files: thousands of mutations of the built-in ones (bytes flipped, fields
//! removed, values of the wrong type, unknown kinds) must each parse or fail with a one-line
//! error that says which board file, where, and (when a field is at fault) which field;
//! never a panic.

use armvex_machine::board::{Board, board_file, board_names};

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The lines of `text` that set a field (`key = value`).
fn field_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#') && l.contains('=') && !l.trim_start().starts_with('['))
        .map(|(i, _)| i)
        .collect()
}

fn check(name: &str, text: &str, what: &str, must_name_field: bool) -> bool {
    match Board::parse(name, text) {
        Ok(_) => true,
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "{what}: not one line: {e:?}");
            assert!(
                e.starts_with(&format!("board file for {name} is invalid: ")),
                "{what}: {e}"
            );
            if must_name_field {
                assert!(e.contains("field `"), "{what}: names no field: {e}");
            }
            false
        }
    }
}

#[test]
fn damaged_board_files_are_one_line_errors_naming_the_field() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut refused = 0;
    for name in board_names() {
        let text = board_file(name).expect("built in");
        assert!(check(name, text, "the board file itself", false));
        let lines: Vec<&str> = text.lines().collect();
        let fields = field_lines(text);
        // Every field removed, one at a time: a required one is "missing field `x`".
        for &i in &fields {
            let damaged: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| *l)
                .collect();
            let key = lines[i].split('=').next().unwrap_or_default().trim();
            if !check(
                name,
                &damaged.join("\n"),
                &format!("{name} without line {} ({key})", i + 1),
                true,
            ) {
                refused += 1;
            }
        }
        // Every field's value of the wrong type: a string where a number is, a number
        // where a string is, a table, an unknown name.
        for &i in &fields {
            for wrong in ["\"x\"", "7", "{ a = 1 }", "\"pl999\"", "-1", "true"] {
                let key = lines[i].split('=').next().unwrap_or_default();
                let mut damaged = lines.clone();
                let line = format!("{key}= {wrong}");
                damaged[i] = &line;
                if !check(
                    name,
                    &damaged.join("\n"),
                    &format!("{name} line {}: {}", i + 1, line),
                    true,
                ) {
                    refused += 1;
                }
            }
        }
        // Random bytes flipped: syntax errors as well as wrong values.
        for n in 0..3000 {
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = match rng.below(3) {
                    0 => bytes[at] ^ (1 << rng.below(8)),
                    1 => b"=\"[]{},.#\n0x9azZ- "[rng.below(18)],
                    _ => rng.next() as u8,
                };
            }
            let damaged = String::from_utf8_lossy(&bytes);
            if !check(name, &damaged, &format!("{name} mutation {n}"), false) {
                refused += 1;
            }
        }
    }
    assert!(refused > 3000, "only {refused} damaged files were refused");
}
