//! Console output that is printed once, however often the guest's history is replayed.
//!
//! Reverse execution goes back to a checkpoint and runs the guest forward again: the UART then
//! sends the same bytes a second time. Those bytes already reached the user's terminal, so an
//! [`OutputSink`] counts the bytes the guest has sent (its *position* in the output stream, part
//! of the machine's saved state) and the bytes it has printed (the *high-water mark*); bytes
//! below the mark are swallowed. A guest that goes back and then forward prints nothing twice,
//! and a guest that diverges (a debugger changed a register in the past) prints only what comes
//! after what the user has already seen.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

struct Inner {
    out: Box<dyn Write>,
    /// Bytes the guest has sent so far on the current timeline.
    position: u64,
    /// Bytes printed so far (the furthest position ever reached).
    printed: u64,
}

/// A shared handle on one output stream: give [`OutputSink::writer`] to the device, keep the
/// sink to read and set the position.
#[derive(Clone)]
pub struct OutputSink {
    inner: Rc<RefCell<Inner>>,
}

impl OutputSink {
    /// A sink printing to `out`.
    pub fn new(out: Box<dyn Write>) -> OutputSink {
        OutputSink {
            inner: Rc::new(RefCell::new(Inner {
                out,
                position: 0,
                printed: 0,
            })),
        }
    }

    /// The writer a device prints through.
    pub fn writer(&self) -> Box<dyn Write> {
        Box::new(self.clone())
    }

    /// Bytes the guest has sent so far.
    pub fn position(&self) -> u64 {
        self.inner.borrow().position
    }

    /// Go back (or forward) to `position` in the stream, as a restored machine does; bytes up
    /// to what was already printed will not be printed again.
    pub fn set_position(&self, position: u64) {
        self.inner.borrow_mut().position = position;
    }

    /// Consider everything up to `position` printed (a machine resumed from a snapshot file:
    /// its earlier output belongs to the run that saved it).
    pub fn start_at(&self, position: u64) {
        let mut i = self.inner.borrow_mut();
        i.position = position;
        i.printed = position;
    }
}

impl Write for OutputSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut i = self.inner.borrow_mut();
        let end = i.position + buf.len() as u64;
        if end > i.printed {
            let skip = i.printed.saturating_sub(i.position) as usize;
            i.out.write_all(&buf[skip..])?;
            i.printed = end;
        }
        i.position = end;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.borrow_mut().out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn replayed_output_is_printed_once() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = OutputSink::new(Box::new(Shared(seen.clone())));
        let mut w = sink.writer();
        w.write_all(b"hello ").unwrap();
        let mark = sink.position();
        w.write_all(b"world").unwrap();
        sink.set_position(mark);
        w.write_all(b"wor").unwrap();
        w.write_all(b"ld!\n").unwrap();
        assert_eq!(&*seen.borrow(), b"hello world!\n");
        assert_eq!(sink.position(), 13);
        sink.start_at(100);
        w.write_all(b"x").unwrap();
        assert_eq!(&*seen.borrow(), b"hello world!\nx");
    }
}
