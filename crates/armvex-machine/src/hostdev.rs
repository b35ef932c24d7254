//! Host sides of devices other than disks and networks: `--chardev` (where a virtio-console's
//! bytes go and come from) and host entropy for a virtio-rng.
//!
//! Like a network backend (`armvex_net`), each hands what it receives to the machine's
//! host-input journal ([`HostEvent::Device`] through [`HostInput::backend_sender`]), never to
//! the device: the machine delivers it between rounds at a recorded virtual time. What the
//! guest sends goes out at once. When input is replayed from a recording there is no live
//! channel, and these sides only write (a socket then does not listen at all).
//!
//! [`HostInput::backend_sender`]: crate::console::HostInput::backend_sender

use crate::console::HostEvent;
use crate::error::MachineError;
use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A `--chardev` option: an id (what `--device virtio-console,chardev=ID` names) and a kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChardevSpec {
    pub id: String,
    pub kind: ChardevKind,
}

/// What a character device is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChardevKind {
    /// A TCP server on the host (one client at a time): what the client sends is input, what
    /// the guest writes goes to the client (and is lost while none is connected).
    Socket { host: Ipv4Addr, port: u16 },
    /// Output appended to a file; no input.
    File { path: PathBuf },
    /// Output dropped; no input.
    Null,
}

impl ChardevSpec {
    /// Parse `socket,id=ID,host=ADDR,port=N,server=on[,wait=off]`, `file,id=ID,path=FILE` or
    /// `null,id=ID` (QEMU's spelling; a socket must be a server, and never waits for its
    /// client).
    pub fn parse(s: &str) -> Result<ChardevSpec, MachineError> {
        let mut parts = s.split(',');
        let kind = parts.next().unwrap_or_default();
        let option = format!("--chardev {kind}");
        let (mut id, mut host, mut port, mut server, mut path) = (None, Ipv4Addr::LOCALHOST, None, false, None);
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{option}: bad option '{part}' (expected key=value)"))?;
            match (kind, key) {
                (_, "id") => id = Some(value.to_string()),
                ("socket", "host") => {
                    host = value
                        .parse()
                        .map_err(|_| format!("{option} host={value}: not an IPv4 address"))?;
                }
                ("socket", "port") => {
                    port = Some(
                        value
                            .parse::<u16>()
                            .map_err(|_| format!("{option} port={value}: not a port"))?,
                    );
                }
                ("socket", "server") => server = matches!(value, "on" | "yes" | "true"),
                ("socket", "wait") if matches!(value, "off" | "no" | "false") => {}
                ("socket", "wait") => {
                    return Err(
                        format!("{option}: wait={value} is not supported (armvex never waits for the client)").into(),
                    );
                }
                ("file", "path") => path = Some(PathBuf::from(value)),
                ("socket" | "file" | "null", _) => return Err(format!("{option}: unknown option '{key}'").into()),
                _ => break,
            }
        }
        let kind = match kind {
            "socket" => {
                if !server {
                    return Err("--chardev socket: only server=on is supported (armvex listens)".into());
                }
                ChardevKind::Socket {
                    host,
                    port: port.ok_or("--chardev socket needs port=N")?,
                }
            }
            "file" => ChardevKind::File {
                path: path.ok_or("--chardev file needs path=FILE")?,
            },
            "null" => ChardevKind::Null,
            "" => return Err("--chardev needs a type: socket, file or null".into()),
            other => return Err(format!("--chardev {other}: unknown type (socket, file or null)").into()),
        };
        let id = id.ok_or_else(|| format!("{option} needs id=ID"))?;
        armvex_net::spec::check_id(&option, &id)?;
        Ok(ChardevSpec { id, kind })
    }

    /// Open the host side: the writer the device's output goes to. Input (from a socket's
    /// client) goes to `input` as [`HostEvent::Device`] events named by the chardev's id; with
    /// no `input` (a replay) a socket does not listen.
    pub fn open(&self, input: Option<Sender<HostEvent>>) -> Result<Box<dyn Write>, MachineError> {
        match &self.kind {
            ChardevKind::Null => Ok(Box::new(std::io::sink())),
            ChardevKind::File { path } => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("--chardev {}: cannot open {}: {e}", self.id, path.display()))?;
                Ok(Box::new(f))
            }
            ChardevKind::Socket { host, port } => match input {
                Some(tx) => Ok(Box::new(SocketServer::start(&self.id, *host, *port, tx)?)),
                None => Ok(Box::new(std::io::sink())),
            },
        }
    }
}

/// A one-client TCP server: a thread accepts a client and reads from it; the guest's bytes
/// are written to the current client.
pub struct SocketServer {
    client: Arc<Mutex<Option<TcpStream>>>,
    stop: Arc<AtomicBool>,
    address: std::net::SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SocketServer {
    fn start(id: &str, host: Ipv4Addr, port: u16, tx: Sender<HostEvent>) -> Result<SocketServer, String> {
        let listener = TcpListener::bind((host, port))
            .map_err(|e| format!("--chardev {id}: cannot listen on {host}:{port}: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let client: Arc<Mutex<Option<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_client, thread_stop, name) = (client.clone(), stop.clone(), id.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("chardev {id}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if thread_stop.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    *thread_client.lock().unwrap_or_else(|e| e.into_inner()) = stream.try_clone().ok();
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let event = HostEvent::Device {
                                    id: name.clone(),
                                    data: buf[..n].to_vec(),
                                };
                                if tx.send(event).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    *thread_client.lock().unwrap_or_else(|e| e.into_inner()) = None;
                }
            })
            .map_err(|e| format!("--chardev {id}: cannot start its thread: {e}"))?;
        Ok(SocketServer {
            client,
            stop,
            address,
            thread: Some(thread),
        })
    }
}

impl Write for SocketServer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = client.as_mut() {
            if c.write_all(buf).is_err() {
                *client = None;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SocketServer {
    /// Stop listening: wake the accepting thread with a connection of our own, close the
    /// client, and wait for the thread (the port is free when this returns).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(c) = self.client.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = TcpStream::connect(self.address);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Host entropy for a virtio-rng: `getrandom(2)`, sent as host input named `id`.
pub struct HostEntropy {
    pub id: String,
    pub input: Option<Sender<HostEvent>>,
}

impl armvex_virtio::EntropySource for HostEntropy {
    fn request(&mut self, bytes: usize) {
        let Some(tx) = &self.input else { return };
        let mut data = vec![0u8; bytes];
        let mut filled = 0;
        while filled < bytes {
            // SAFETY: getrandom writes at most the given length into the valid buffer.
            let n = unsafe { libc::getrandom(data[filled..].as_mut_ptr().cast(), bytes - filled, 0) };
            if n <= 0 {
                break;
            }
            filled += n as usize;
        }
        data.truncate(filled);
        if !data.is_empty() {
            let _ = tx.send(HostEvent::Device {
                id: self.id.clone(),
                data,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chardev_options() {
        assert_eq!(
            ChardevSpec::parse("socket,id=c0,port=4555,server=on,wait=off").unwrap(),
            ChardevSpec {
                id: "c0".into(),
                kind: ChardevKind::Socket {
                    host: Ipv4Addr::LOCALHOST,
                    port: 4555
                }
            }
        );
        assert_eq!(
            ChardevSpec::parse("file,id=log,path=/tmp/x").unwrap().kind,
            ChardevKind::File { path: "/tmp/x".into() }
        );
        assert_eq!(ChardevSpec::parse("null,id=n").unwrap().kind, ChardevKind::Null);
        for (bad, says) in [
            ("socket,id=c0,port=1", "only server=on"),
            ("socket,id=c0,server=on", "needs port=N"),
            ("socket,id=c0,port=x,server=on", "not a port"),
            ("socket,id=c0,port=1,server=on,wait=on", "not supported"),
            ("file,id=f", "needs path=FILE"),
            ("null", "needs id=ID"),
            ("pty,id=p", "unknown type"),
            ("null,id=n,x=1", "unknown option 'x'"),
        ] {
            let e = ChardevSpec::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains(says) && e.to_string().starts_with("--chardev"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_socket_chardev_carries_bytes_both_ways_and_frees_its_port() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let spec = ChardevSpec {
            id: "c0".into(),
            kind: ChardevKind::Socket {
                host: Ipv4Addr::LOCALHOST,
                port: 0,
            },
        };
        let Ok(mut server) = SocketServer::start(&spec.id, Ipv4Addr::LOCALHOST, 0, tx) else {
            panic!("listen");
        };
        let address = server.address;
        let mut client = TcpStream::connect(address).unwrap();
        client.write_all(b"typed").unwrap();
        let event = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(
            event,
            HostEvent::Device {
                id: "c0".into(),
                data: b"typed".to_vec()
            }
        );
        // The client is registered before its first byte is read.
        server.write_all(b"shown").unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"shown");
        drop(server);
        assert!(TcpListener::bind(address).is_ok(), "the port is free again");
    }
}
