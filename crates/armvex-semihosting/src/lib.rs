//! # ARM semihosting
//!
//! Semihosting lets a bare-metal program use the host's console and files through a debugger
//! (or an emulator) instead of device drivers: it puts an operation number in R0 and a pointer
//! to an argument block in R1 and executes `SVC 0x123456` (ARM), `SVC 0xAB` (Thumb), or
//! `HLT 0xF000` / `HLT 0x3C`. The CPU stops with [`armvex_cpu::Exit::Semihosting`], and
//! [`Semihosting::handle`] performs the call and writes the result to R0.
//!
//! Specification: ARM "Semihosting for AArch32 and AArch64", release 2.0. Where the
//! specification leaves a choice, armvex does what QEMU's `-semihosting` does (semihosting/
//! arm-compat-semi.c): console writes return `0xdeadbeef` in R0, `:tt` opened for reading,
//! writing or appending is stdin, stdout or stderr, handles start at 1, and SYS_EXIT with
//! `ADP_Stopped_ApplicationExit` exits with status 0 (anything else with 1).
//!
//! Determinism: SYS_CLOCK, SYS_ELAPSED and SYS_TIME are computed from *virtual* time (and, for
//! SYS_TIME, the machine's recorded start time), never read from the host clock. SYS_SYSTEM,
//! which would run a host command, is refused.

use armvex_bus::{Bus, StateError};
use armvex_cpu::Cpu;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

/// Operation numbers.
pub mod op {
    pub const OPEN: u32 = 0x01;
    pub const CLOSE: u32 = 0x02;
    pub const WRITEC: u32 = 0x03;
    pub const WRITE0: u32 = 0x04;
    pub const WRITE: u32 = 0x05;
    pub const READ: u32 = 0x06;
    pub const READC: u32 = 0x07;
    pub const ISERROR: u32 = 0x08;
    pub const ISTTY: u32 = 0x09;
    pub const SEEK: u32 = 0x0a;
    pub const FLEN: u32 = 0x0c;
    pub const TMPNAM: u32 = 0x0d;
    pub const REMOVE: u32 = 0x0e;
    pub const RENAME: u32 = 0x0f;
    pub const CLOCK: u32 = 0x10;
    pub const TIME: u32 = 0x11;
    pub const SYSTEM: u32 = 0x12;
    pub const ERRNO: u32 = 0x13;
    pub const GET_CMDLINE: u32 = 0x15;
    pub const HEAPINFO: u32 = 0x16;
    pub const EXIT: u32 = 0x18;
    pub const EXIT_EXTENDED: u32 = 0x20;
    pub const ELAPSED: u32 = 0x30;
    pub const TICKFREQ: u32 = 0x31;
}

/// The exit reason meaning "the program ended normally".
pub const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x20026;

/// What SYS_OPEN(":semihosting-features") reads: magic "SHFB" and feature byte 0 with
/// SH_EXT_EXIT_EXTENDED and SH_EXT_STDOUT_STDERR.
const FEATURES: [u8; 5] = [b'S', b'H', b'F', b'B', 0b11];

const EBADF: u32 = 9;
const EFAULT: u32 = 14;
const EINVAL: u32 = 22;
const E2BIG: u32 = 7;
const ENOSYS: u32 = 38;

/// The four words SYS_HEAPINFO returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapInfo {
    pub heap_base: u32,
    pub heap_limit: u32,
    pub stack_base: u32,
    pub stack_limit: u32,
}

impl HeapInfo {
    /// QEMU's choice: the largest gap in RAM not covered by loaded images is the heap, and
    /// the stack grows down from its top.
    pub fn from_gap(start: u32, end: u32) -> HeapInfo {
        HeapInfo {
            heap_base: start,
            heap_limit: end,
            stack_base: end,
            stack_limit: start,
        }
    }
}

/// What a semihosting call asks of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Carry on.
    Continue,
    /// The program exited with this status.
    Exit(i32),
}

enum Handle {
    Stdin,
    Stdout,
    Stderr,
    Features { pos: usize },
    File(File),
}

/// A handle as saved: files by their offset.
#[derive(serde::Serialize, serde::Deserialize)]
enum SavedHandle {
    Stdin,
    Stdout,
    Stderr,
    Features { pos: usize },
    File { offset: u64 },
}

/// Where the console goes.
pub struct Console {
    /// Console output (SYS_WRITEC, SYS_WRITE0, writes to ":tt").
    pub output: Box<dyn Write>,
    /// Console input (SYS_READC, reads from ":tt"); `None` reads as end of file.
    pub input: Option<Box<dyn Read>>,
    /// Whether the console is a terminal (SYS_ISTTY).
    pub is_tty: bool,
}

/// Semihosting state of a machine.
pub struct Semihosting {
    handles: Vec<Option<Handle>>,
    errno: u32,
    cmdline: String,
    heap: HeapInfo,
    console: Console,
    /// Host time (seconds since the epoch) at virtual time 0, for SYS_TIME.
    start_time: u64,
}

impl Semihosting {
    /// `cmdline` is what SYS_GET_CMDLINE returns; `start_time` (seconds since 1970) is the
    /// wall-clock time at virtual time 0.
    pub fn new(console: Console, cmdline: String, heap: HeapInfo, start_time: u64) -> Semihosting {
        Semihosting {
            handles: Vec::new(),
            errno: 0,
            cmdline,
            heap,
            console,
            start_time,
        }
    }

    /// Flush console output (before the machine exits or waits for input).
    pub fn flush(&mut self) {
        let _ = self.console.output.flush();
    }

    /// Perform the call the CPU stopped for. `now` is the virtual time in nanoseconds.
    pub fn handle(&mut self, cpu: &mut Cpu, bus: &mut Bus, now: u64) -> Outcome {
        let nr = cpu.regs[0];
        let args = cpu.regs[1];
        let mut call = Call { cpu, bus, args };
        let result = match nr {
            op::EXIT => {
                self.flush();
                return Outcome::Exit(if args == ADP_STOPPED_APPLICATION_EXIT { 0 } else { 1 });
            }
            op::EXIT_EXTENDED => match (call.arg(0), call.arg(1)) {
                (Ok(reason), Ok(code)) => {
                    self.flush();
                    return Outcome::Exit(if reason == ADP_STOPPED_APPLICATION_EXIT {
                        code as i32
                    } else {
                        1
                    });
                }
                _ => Err(EFAULT),
            },
            _ => self.dispatch(nr, &mut call, now),
        };
        let r0 = match result {
            Ok(v) => v,
            Err(e) => {
                self.errno = e;
                u32::MAX
            }
        };
        call.cpu.regs[0] = r0;
        Outcome::Continue
    }

    fn dispatch(&mut self, nr: u32, c: &mut Call, now: u64) -> Result<u32, u32> {
        match nr {
            op::OPEN => {
                let (name_ptr, mode, len) = (c.arg(0)?, c.arg(1)?, c.arg(2)?);
                let name = c.read_bytes(name_ptr, len)?;
                let name = String::from_utf8_lossy(&name).into_owned();
                if mode >= 12 {
                    return Err(EINVAL);
                }
                let handle = match name.as_str() {
                    ":tt" => match mode {
                        0..=3 => Handle::Stdin,
                        4..=7 => Handle::Stdout,
                        _ => Handle::Stderr,
                    },
                    ":semihosting-features" if mode <= 1 => Handle::Features { pos: 0 },
                    ":semihosting-features" => return Err(13),
                    _ => Handle::File(open_host_file(&name, mode)?),
                };
                Ok(self.add_handle(handle))
            }
            op::CLOSE => {
                let h = c.arg(0)? as usize;
                match self.handles.get_mut(h) {
                    Some(slot @ Some(_)) => {
                        *slot = None;
                        Ok(0)
                    }
                    _ => Err(EBADF),
                }
            }
            op::WRITEC => {
                let b = c.read_bytes(c.args, 1)?;
                self.console_write(&b);
                Ok(0xdead_beef)
            }
            op::WRITE0 => {
                let s = c.read_cstring(c.args)?;
                self.console_write(&s);
                Ok(0xdead_beef)
            }
            op::WRITE => {
                let (h, buf, len) = (c.arg(0)? as usize, c.arg(1)?, c.arg(2)?);
                let data = c.read_bytes(buf, len)?;
                let written = match self.handles.get_mut(h) {
                    Some(Some(Handle::Stdout)) => {
                        let _ = self.console.output.write_all(&data);
                        data.len()
                    }
                    Some(Some(Handle::Stderr)) => {
                        self.flush();
                        let _ = std::io::stderr().write_all(&data);
                        data.len()
                    }
                    Some(Some(Handle::File(f))) => f.write(&data).unwrap_or(0),
                    // As QEMU: a failed write reports "nothing written" (the whole length)
                    // and leaves errno alone.
                    _ => 0,
                };
                Ok(len - written as u32)
            }
            op::READ => {
                let (h, buf, len) = (c.arg(0)? as usize, c.arg(1)?, c.arg(2)?);
                let mut data = vec![0u8; len.min(1 << 24) as usize];
                let n = match self.handles.get_mut(h) {
                    Some(Some(Handle::Stdin)) => {
                        self.flush();
                        match self.console.input.as_mut() {
                            Some(input) => input.read(&mut data).unwrap_or(0),
                            None => 0,
                        }
                    }
                    Some(Some(Handle::File(f))) => f.read(&mut data).unwrap_or(0),
                    Some(Some(Handle::Features { pos })) => {
                        let n = (FEATURES.len() - *pos).min(data.len());
                        data[..n].copy_from_slice(&FEATURES[*pos..*pos + n]);
                        *pos += n;
                        n
                    }
                    // As for SYS_WRITE: "nothing read", errno unchanged.
                    _ => 0,
                };
                c.write_bytes(buf, &data[..n])?;
                Ok(len - n as u32)
            }
            op::READC => {
                self.flush();
                let mut b = [0u8];
                match self.console.input.as_mut().map(|i| i.read(&mut b)) {
                    Some(Ok(1)) => Ok(u32::from(b[0])),
                    _ => Err(0),
                }
            }
            op::ISERROR => Ok(u32::from((c.arg(0)? as i32) < 0)),
            op::ISTTY => match self.handles.get(c.arg(0)? as usize) {
                Some(Some(Handle::Stdin | Handle::Stdout | Handle::Stderr)) => Ok(u32::from(self.console.is_tty)),
                Some(Some(_)) => Ok(0),
                _ => Err(EBADF),
            },
            op::SEEK => {
                let (h, pos) = (c.arg(0)? as usize, c.arg(1)?);
                match self.handles.get_mut(h) {
                    Some(Some(Handle::File(f))) => f.seek(SeekFrom::Start(u64::from(pos))).map(|_| 0).map_err(io_errno),
                    Some(Some(Handle::Features { pos: p })) => {
                        *p = (pos as usize).min(FEATURES.len());
                        Ok(0)
                    }
                    _ => Err(EBADF),
                }
            }
            op::FLEN => match self.handles.get(c.arg(0)? as usize) {
                Some(Some(Handle::File(f))) => f.metadata().map(|m| m.len() as u32).map_err(io_errno),
                Some(Some(Handle::Features { .. })) => Ok(FEATURES.len() as u32),
                _ => Err(EBADF),
            },
            op::REMOVE => {
                let (ptr, len) = (c.arg(0)?, c.arg(1)?);
                let name = String::from_utf8_lossy(&c.read_bytes(ptr, len)?).into_owned();
                std::fs::remove_file(name).map(|_| 0).map_err(io_errno)
            }
            op::RENAME => {
                let (p1, l1, p2, l2) = (c.arg(0)?, c.arg(1)?, c.arg(2)?, c.arg(3)?);
                let from = String::from_utf8_lossy(&c.read_bytes(p1, l1)?).into_owned();
                let to = String::from_utf8_lossy(&c.read_bytes(p2, l2)?).into_owned();
                std::fs::rename(from, to).map(|_| 0).map_err(io_errno)
            }
            op::CLOCK => Ok((now / 10_000_000) as u32),
            op::TIME => Ok((self.start_time + now / 1_000_000_000) as u32),
            op::ELAPSED => {
                c.write_bytes(c.args, &now.to_le_bytes())?;
                Ok(0)
            }
            op::TICKFREQ => Ok(1_000_000_000),
            op::ERRNO => Ok(self.errno),
            op::GET_CMDLINE => {
                let (buf, size) = (c.arg(0)?, c.arg(1)?);
                let mut bytes = self.cmdline.as_bytes().to_vec();
                bytes.push(0);
                if bytes.len() as u64 > u64::from(size) {
                    return Err(E2BIG);
                }
                c.write_bytes(c.args.wrapping_add(4), &((bytes.len() - 1) as u32).to_le_bytes())?;
                c.write_bytes(buf, &bytes)?;
                Ok(0)
            }
            op::HEAPINFO => {
                let block = c.arg(0)?;
                let h = self.heap;
                let words = [h.heap_base, h.heap_limit, h.stack_base, h.stack_limit];
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                c.write_bytes(block, &bytes)?;
                Ok(0)
            }
            op::SYSTEM | op::TMPNAM => {
                tracing::warn!("semihosting call {nr:#x} is not supported by armvex");
                Err(ENOSYS)
            }
            _ => {
                tracing::warn!("unknown semihosting call {nr:#x}");
                Err(ENOSYS)
            }
        }
    }

    /// The program-visible state (errno, open handles and their positions) for snapshots and
    /// reverse execution. Host files stay open in this process; their offsets are saved.
    pub fn save_state(&self) -> Vec<u8> {
        let handles: Vec<Option<SavedHandle>> = self
            .handles
            .iter()
            .map(|h| {
                h.as_ref().map(|h| match h {
                    Handle::Stdin => SavedHandle::Stdin,
                    Handle::Stdout => SavedHandle::Stdout,
                    Handle::Stderr => SavedHandle::Stderr,
                    Handle::Features { pos } => SavedHandle::Features { pos: *pos },
                    Handle::File(f) => {
                        let mut f: &File = f;
                        SavedHandle::File {
                            offset: f.stream_position().unwrap_or(0),
                        }
                    }
                })
            })
            .collect();
        armvex_bus::state::encode(&(self.errno, handles))
    }

    /// Put back a state from [`Semihosting::save_state`]. A host file the state names must be
    /// open in this process under the same handle (going back in time in the same run): it is
    /// moved back to its saved offset. A snapshot resumed in another run cannot carry open
    /// files, and is refused.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let (errno, saved): (u32, Vec<Option<SavedHandle>>) = armvex_bus::state::decode(bytes, "semihosting")?;
        let mut handles: Vec<Option<Handle>> = Vec::with_capacity(saved.len());
        for (i, s) in saved.into_iter().enumerate() {
            let current = self.handles.get_mut(i).and_then(Option::take);
            handles.push(match (s, current) {
                (None, _) => None,
                (Some(SavedHandle::Stdin), _) => Some(Handle::Stdin),
                (Some(SavedHandle::Stdout), _) => Some(Handle::Stdout),
                (Some(SavedHandle::Stderr), _) => Some(Handle::Stderr),
                (Some(SavedHandle::Features { pos }), _) => Some(Handle::Features {
                    pos: pos.min(FEATURES.len()),
                }),
                (Some(SavedHandle::File { offset }), Some(Handle::File(mut f))) => {
                    f.seek(SeekFrom::Start(offset))
                        .map_err(|e| StateError(format!("semihosting: cannot move host file {i} back: {e}")))?;
                    Some(Handle::File(f))
                }
                (Some(SavedHandle::File { .. }), _) => {
                    return Err(StateError(format!(
                        "semihosting: the program had host file handle {i} open, and a snapshot cannot carry open host files"
                    )));
                }
            });
        }
        self.handles = handles;
        self.errno = errno;
        Ok(())
    }

    fn add_handle(&mut self, h: Handle) -> u32 {
        if self.handles.is_empty() {
            self.handles.push(None); // handle 0 is never used
        }
        match self.handles.iter().skip(1).position(Option::is_none) {
            Some(i) => {
                self.handles[i + 1] = Some(h);
                (i + 1) as u32
            }
            None => {
                self.handles.push(Some(h));
                (self.handles.len() - 1) as u32
            }
        }
    }

    fn console_write(&mut self, data: &[u8]) {
        let _ = self.console.output.write_all(data);
    }
}

/// The arguments of one call, read from guest memory through the CPU's current translation.
struct Call<'a> {
    cpu: &'a mut Cpu,
    bus: &'a mut Bus,
    args: u32,
}

impl Call<'_> {
    fn arg(&mut self, i: u32) -> Result<u32, u32> {
        let b = self.read_bytes(self.args.wrapping_add(4 * i), 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn read_bytes(&mut self, addr: u32, len: u32) -> Result<Vec<u8>, u32> {
        if len > 1 << 26 {
            return Err(EFAULT);
        }
        let mut buf = vec![0u8; len as usize];
        self.cpu.read_virtual(self.bus, addr, &mut buf).map_err(|_| EFAULT)?;
        Ok(buf)
    }

    fn read_cstring(&mut self, addr: u32) -> Result<Vec<u8>, u32> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let mut chunk = [0u8; 1];
            self.cpu.read_virtual(self.bus, a, &mut chunk).map_err(|_| EFAULT)?;
            if chunk[0] == 0 || out.len() > 1 << 24 {
                return Ok(out);
            }
            out.push(chunk[0]);
            a = a.wrapping_add(1);
        }
    }

    fn write_bytes(&mut self, addr: u32, data: &[u8]) -> Result<(), u32> {
        self.cpu.write_virtual(self.bus, addr, data).map_err(|_| EFAULT)
    }
}

fn open_host_file(name: &str, mode: u32) -> Result<File, u32> {
    // Modes (ARM semihosting SYS_OPEN): r, rb, r+, r+b, w, wb, w+, w+b, a, ab, a+, a+b.
    let mut o = OpenOptions::new();
    match mode / 4 {
        0 => o.read(true).write(mode & 2 != 0),
        1 => o.write(true).create(true).truncate(true).read(mode & 2 != 0),
        _ => o.append(true).create(true).read(mode & 2 != 0),
    };
    o.open(name).map_err(io_errno)
}

fn io_errno(e: std::io::Error) -> u32 {
    e.raw_os_error().map_or(5, |c| c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use armvex_bus::{PhysicalMemory, RamRegionSpec};
    use armvex_cpu::{CpuConfig, CpuModel};
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const RAM: u32 = 0x6000_0000;

    fn setup(input: &[u8]) -> (Semihosting, Shared, Cpu, Bus) {
        let out = Shared::default();
        let console = Console {
            output: Box::new(out.clone()),
            input: Some(Box::new(std::io::Cursor::new(input.to_vec()))),
            is_tty: false,
        };
        let sh = Semihosting::new(
            console,
            "prog arg".into(),
            HeapInfo::from_gap(RAM + 0x1000, RAM + 0x10_0000),
            1_000_000,
        );
        let mem = PhysicalMemory::new(&[RamRegionSpec {
            name: "ram".into(),
            base: u64::from(RAM),
            size: 0x10_0000,
        }])
        .unwrap();
        let cpu = Cpu::new(CpuConfig {
            model: CpuModel::CortexA9,
            index: 0,
            cluster_size: 1,
            semihosting: true,
        });
        (sh, out, cpu, Bus::new(mem))
    }

    fn put(bus: &mut Bus, addr: u32, data: &[u8]) {
        bus.memory.write_bytes(u64::from(addr), data).unwrap();
    }

    fn words(bus: &mut Bus, addr: u32, w: &[u32]) {
        let b: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        put(bus, addr, &b);
    }

    fn call(sh: &mut Semihosting, cpu: &mut Cpu, bus: &mut Bus, nr: u32, arg: u32) -> (Outcome, u32) {
        cpu.regs[0] = nr;
        cpu.regs[1] = arg;
        let o = sh.handle(cpu, bus, 2_500_000_000);
        (o, cpu.regs[0])
    }

    #[test]
    fn console_output_and_tt_handles() {
        let (mut sh, out, mut cpu, mut bus) = setup(b"");
        put(&mut bus, RAM + 0x100, b"hi\0:tt\0");
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::WRITE0, RAM + 0x100),
            (Outcome::Continue, 0xdead_beef)
        );
        words(&mut bus, RAM + 0x200, &[RAM + 0x103, 4, 3]);
        let (_, h) = call(&mut sh, &mut cpu, &mut bus, op::OPEN, RAM + 0x200);
        assert_eq!(h, 1);
        words(&mut bus, RAM + 0x210, &[h, RAM + 0x100, 2]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::WRITE, RAM + 0x210).1, 0);
        assert_eq!(out.0.borrow().as_slice(), b"hihi");
        words(&mut bus, RAM + 0x220, &[h]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ISTTY, RAM + 0x220).1, 0);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::CLOSE, RAM + 0x220).1, 0);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::CLOSE, RAM + 0x220).1, u32::MAX);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ERRNO, 0).1, EBADF);
        words(&mut bus, RAM + 0x210, &[7, RAM + 0x100, 2]);
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::WRITE, RAM + 0x210).1,
            2,
            "bad handle: nothing written"
        );
    }

    #[test]
    fn reading_the_console() {
        let (mut sh, _, mut cpu, mut bus) = setup(b"xyz");
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::READC, 0).1, u32::from(b'x'));
        put(&mut bus, RAM + 0x100, b":tt\0");
        words(&mut bus, RAM + 0x200, &[RAM + 0x100, 0, 3]);
        let (_, h) = call(&mut sh, &mut cpu, &mut bus, op::OPEN, RAM + 0x200);
        words(&mut bus, RAM + 0x210, &[h, RAM + 0x300, 8]);
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::READ, RAM + 0x210).1,
            6,
            "8 asked, 2 read"
        );
        let mut got = [0u8; 2];
        bus.memory.read_bytes(u64::from(RAM + 0x300), &mut got).unwrap();
        assert_eq!(&got, b"yz");
    }

    #[test]
    fn cmdline_heapinfo_time_and_exit() {
        let (mut sh, _, mut cpu, mut bus) = setup(b"");
        words(&mut bus, RAM + 0x200, &[RAM + 0x300, 4]);
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::GET_CMDLINE, RAM + 0x200).1,
            u32::MAX,
            "too small"
        );
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ERRNO, 0).1, E2BIG);
        words(&mut bus, RAM + 0x200, &[RAM + 0x300, 64]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::GET_CMDLINE, RAM + 0x200).1, 0);
        let mut got = [0u8; 13];
        bus.memory.read_bytes(u64::from(RAM + 0x300), &mut got[..9]).unwrap();
        assert_eq!(&got[..9], b"prog arg\0");
        assert_eq!(
            bus.memory.read(u64::from(RAM + 0x204), armvex_bus::AccessSize::Word),
            Some(8)
        );
        words(&mut bus, RAM + 0x200, &[RAM + 0x400]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::HEAPINFO, RAM + 0x200).1, 0);
        assert_eq!(
            bus.memory.read(u64::from(RAM + 0x404), armvex_bus::AccessSize::Word),
            Some(RAM + 0x10_0000)
        );
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::CLOCK, 0).1, 250);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::TIME, 0).1, 1_000_002);
        words(&mut bus, RAM + 0x200, &[0]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ISERROR, RAM + 0x200).1, 0);
        words(&mut bus, RAM + 0x200, &[u32::MAX]);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ISERROR, RAM + 0x200).1, 1);
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::EXIT, ADP_STOPPED_APPLICATION_EXIT).0,
            Outcome::Exit(0)
        );
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::EXIT, 0x20023).0, Outcome::Exit(1));
        words(&mut bus, RAM + 0x200, &[ADP_STOPPED_APPLICATION_EXIT, 42]);
        assert_eq!(
            call(&mut sh, &mut cpu, &mut bus, op::EXIT_EXTENDED, RAM + 0x200).0,
            Outcome::Exit(42)
        );
    }

    #[test]
    fn bad_pointers_fail_with_efault() {
        let (mut sh, _, mut cpu, mut bus) = setup(b"");
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::WRITE0, 0x1000).1, u32::MAX);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, op::ERRNO, 0).1, EFAULT);
        assert_eq!(call(&mut sh, &mut cpu, &mut bus, 0x99, 0).1, u32::MAX);
    }
}
