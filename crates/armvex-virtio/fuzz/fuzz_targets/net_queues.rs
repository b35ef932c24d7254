//! Fuzz a virtio-net card's queue handling: arbitrary bytes become the driver's feature
//! choice, its two queues, the RAM holding their rings and buffers, and a sequence of
//! notifications, frames from the network, RAM writes and resets (see
//! `armvex_virtio::fuzzing::fuzz_virtio_net` for the layout). The card must never panic, and its
//! saved state must always load back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    armvex_virtio::fuzzing::fuzz_virtio_net(data);
});
