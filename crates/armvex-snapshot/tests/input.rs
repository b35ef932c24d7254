//! A snapshot's host-input journal is delivered to the resumed machine.
//!
//! (The machine cannot hand its journal to `save` yet, so this test writes the section into
//! a snapshot itself, with the container functions.)

mod common;

use armvex_machine::RunEnd;
use armvex_machine::console::{HostEvent, HostInput, JournalEntry};
use armvex_snapshot::format::{Section, Tag, parse, write};
use armvex_snapshot::{LoadHost, input, load, save};
use common::*;

#[test]
fn the_journal_in_a_snapshot_is_delivered() {
    let elf = firmware("vexpress-a9", "wfi");
    let (mut m, _) = bare_metal("vexpress-a9", &elf, 1, 32 << 20);
    run_to(&mut m, 20_000);
    let quit_at = m.virtual_time() + 5_000;
    let dir = scratch_dir("input");
    let plain = dir.join("plain.snap");
    save(&mut m, &plain).unwrap();
    let straight = run_to_end(&mut m);
    assert_eq!(straight.end, RunEnd::Exit(0));

    // The same snapshot with a journal holding a quit (Ctrl-A X) 5 µs later.
    let bytes = std::fs::read(&plain).unwrap();
    let mut sections: Vec<Section> = parse("plain.snap", &bytes)
        .unwrap()
        .into_iter()
        .map(|(tag, payload)| Section {
            tag,
            payload: payload.to_vec(),
        })
        .collect();
    let journal = [JournalEntry {
        time: quit_at,
        position: Some(25_000),
        event: HostEvent::Quit,
    }];
    sections.insert(
        2,
        Section {
            tag: Tag::Input,
            payload: input::encode(&journal),
        },
    );
    let with_input = dir.join("input.snap");
    write(&with_input, &sections).unwrap();

    let resume = |file: &std::path::Path| {
        let out = Outputs::default();
        load(
            file,
            LoadHost {
                console: Box::new(out.uart.clone()),
                semihosting: Some(out.semihosting_console()),
                input: HostInput::none(0),
            },
        )
        .unwrap()
    };
    let mut r = resume(&with_input);
    assert_eq!(r.run().unwrap(), RunEnd::Quit);
    assert!(r.virtual_time() >= quit_at && r.position() < straight.instructions);
    // Without the journal it runs to the end.
    assert_eq!(run_to_end(&mut resume(&plain)), straight);
    std::fs::remove_dir_all(&dir).unwrap();
}
