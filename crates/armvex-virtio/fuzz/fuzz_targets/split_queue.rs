//! Fuzz the split-virtqueue parser: arbitrary bytes become a queue configuration and the RAM
//! holding its rings (see `armvex_virtio::fuzzing::fuzz_split_queue` for the layout). The
//! parser must never panic and must never hand a device a buffer outside RAM.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    armvex_virtio::fuzzing::fuzz_split_queue(data);
});
