//! `--netdev` options, as QEMU's `-netdev` spells them.
//!
//! ```text
//! --netdev user,id=ID[,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT]...[,restrict=on|off][,ipv6=on|off][,mtu=N]
//! --netdev tap,id=ID,ifname=NAME
//! ```
//!
//! One difference from QEMU: a `hostfwd` without a host address listens on 127.0.0.1 only
//! (QEMU listens on every address of the host); write `hostfwd=tcp:0.0.0.0:2222-:22` to be
//! reachable from elsewhere. A host port of 0 asks for a free port, which the front end picks
//! and prints before the machine starts.

use crate::error::NetError;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// A `--netdev` option: an id (what `--device virtio-net,netdev=ID` names) and a backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetdevSpec {
    pub id: String,
    pub kind: NetdevKind,
}

/// Which backend, with its options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetdevKind {
    /// User-mode networking (libslirp).
    User(UserOptions),
    /// A host tap interface.
    Tap { ifname: String },
}

/// Options of `--netdev user`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserOptions {
    /// Host ports forwarded into the guest.
    pub hostfwd: Vec<HostFwd>,
    /// `restrict=on`: the guest reaches nothing outside the virtual network (hostfwd still
    /// works).
    pub restrict: bool,
    /// IPv6 on the virtual network (fec0::/64, as QEMU); on by default.
    pub ipv6: bool,
    /// The virtual network's MTU: 1500 (QEMU's) unless `mtu=` says otherwise, up to 65520.
    /// A NIC that can tell the guest (virtio-net's MTU feature) does; with a large MTU the
    /// guest and slirp exchange up to 64 KiB per frame, far fewer frames for the same bytes.
    pub mtu: u16,
}

/// The MTU of a network unless `mtu=` says otherwise (QEMU's).
pub const DEFAULT_MTU: u16 = 1500;
/// The largest MTU libslirp takes (its IF_MTU_MAX is 65521; an even number keeps TCP's
/// segments aligned).
pub const MAX_MTU: u16 = 65520;

/// One `hostfwd` rule: connections to `host_addr:host_port` on the host go to
/// `guest_addr:guest_port` in the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFwd {
    pub udp: bool,
    pub host_addr: Ipv4Addr,
    /// 0 until the front end has picked a free port.
    pub host_port: u16,
    /// `None`: the guest's DHCP address (10.0.2.15).
    pub guest_addr: Option<Ipv4Addr>,
    pub guest_port: u16,
}

impl std::fmt::Display for HostFwd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let guest = self.guest_addr.unwrap_or(Ipv4Addr::new(10, 0, 2, 15));
        write!(
            f,
            "{} {}:{} -> guest {guest}:{}",
            if self.udp { "udp" } else { "tcp" },
            self.host_addr,
            self.host_port,
            self.guest_port
        )
    }
}

/// Check an id as QEMU does: a letter, then letters, digits, `-`, `.` or `_` (at most 63).
pub fn check_id(option: &str, id: &str) -> Result<(), NetError> {
    let mut chars = id.chars();
    let good = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && id.len() <= 63;
    if good {
        Ok(())
    } else {
        Err(NetError::Spec(format!(
            "{option} id={id}: an id is a letter followed by letters, digits, '-', '.' or '_'"
        )))
    }
}

fn on_off(option: &str, key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{option} {key}={value}: expected on or off")),
    }
}

impl NetdevSpec {
    /// Parse the value of a `--netdev` option.
    pub fn parse(s: &str) -> Result<NetdevSpec, NetError> {
        Self::parse_message(s).map_err(NetError::Spec)
    }

    fn parse_message(s: &str) -> Result<NetdevSpec, String> {
        let mut parts = s.split(',');
        let kind = parts.next().unwrap_or_default();
        let option = format!("--netdev {kind}");
        let mut id = None;
        let mut user = UserOptions {
            ipv6: true,
            mtu: DEFAULT_MTU,
            ..UserOptions::default()
        };
        let mut ifname = None;
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{option}: bad option '{part}' (expected key=value)"))?;
            match (kind, key) {
                (_, "id") => id = Some(value.to_string()),
                ("user", "hostfwd") => user.hostfwd.push(HostFwd::parse_message(value)?),
                ("user", "restrict") => user.restrict = on_off(&option, key, value)?,
                ("user", "ipv6") => user.ipv6 = on_off(&option, key, value)?,
                ("user", "mtu") => {
                    user.mtu = value
                        .parse()
                        .ok()
                        .filter(|m| (576..=MAX_MTU).contains(m))
                        .ok_or_else(|| format!("{option} mtu={value}: expected 576 to {MAX_MTU}"))?;
                }
                ("tap", "ifname") => ifname = Some(value.to_string()),
                ("user" | "tap", _) => return Err(format!("{option}: unknown option '{key}'")),
                _ => break,
            }
        }
        let kind = match kind {
            "user" => NetdevKind::User(user),
            "tap" => {
                let ifname = ifname.ok_or("--netdev tap needs ifname=NAME (an existing tap interface)")?;
                if ifname.is_empty() || ifname.len() > 15 || ifname.contains('/') {
                    return Err(format!("--netdev tap ifname={ifname}: not an interface name"));
                }
                NetdevKind::Tap { ifname }
            }
            "" => return Err("--netdev needs a type: user or tap".into()),
            other => return Err(format!("--netdev {other}: unknown type (user or tap)")),
        };
        let id = id.ok_or_else(|| format!("{option} needs id=ID"))?;
        check_id(&option, &id).map_err(|e| e.to_string())?;
        Ok(NetdevSpec { id, kind })
    }
}

impl HostFwd {
    /// Parse `[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT`.
    pub fn parse(s: &str) -> Result<HostFwd, NetError> {
        Self::parse_message(s).map_err(NetError::Spec)
    }

    fn parse_message(s: &str) -> Result<HostFwd, String> {
        let bad =
            |why: &str| format!("--netdev user hostfwd={s}: {why} (expected [tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT)");
        let (host, guest) = s.split_once('-').ok_or_else(|| bad("no '-'"))?;
        let mut host_parts: Vec<&str> = host.split(':').collect();
        let udp = match host_parts.first().copied() {
            Some("udp") if host_parts.len() == 3 => true,
            Some("tcp") if host_parts.len() == 3 => false,
            _ if host_parts.len() == 2 => {
                host_parts.insert(0, "tcp");
                false
            }
            _ => return Err(bad("bad host part")),
        };
        let addr = |a: &str, default: Option<Ipv4Addr>| -> Result<Option<Ipv4Addr>, String> {
            if a.is_empty() {
                Ok(default)
            } else {
                a.parse()
                    .map(Some)
                    .map_err(|_| bad(&format!("{a} is not an IPv4 address")))
            }
        };
        let port = |p: &str, zero_ok: bool| -> Result<u16, String> {
            match p.parse::<u16>() {
                Ok(0) if !zero_ok => Err(bad("guest port 0")),
                Ok(n) => Ok(n),
                Err(_) => Err(bad(&format!("{p} is not a port"))),
            }
        };
        let host_addr = addr(host_parts[1], Some(Ipv4Addr::LOCALHOST))?.unwrap_or(Ipv4Addr::LOCALHOST);
        let host_port = port(host_parts[2], true)?;
        let (guest_addr, guest_port) = guest.split_once(':').ok_or_else(|| bad("no guest port"))?;
        Ok(HostFwd {
            udp,
            host_addr,
            host_port,
            guest_addr: addr(guest_addr, None)?,
            guest_port: port(guest_port, false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netdev_options_parse_as_qemu_spells_them() {
        let n = NetdevSpec::parse("user,id=n0,hostfwd=tcp::5555-:22,hostfwd=udp:0.0.0.0:53-10.0.2.20:5353").unwrap();
        assert_eq!(n.id, "n0");
        let NetdevKind::User(u) = n.kind else { panic!("user") };
        assert!(u.ipv6 && !u.restrict);
        assert_eq!(
            u.hostfwd,
            vec![
                HostFwd {
                    udp: false,
                    host_addr: Ipv4Addr::LOCALHOST,
                    host_port: 5555,
                    guest_addr: None,
                    guest_port: 22
                },
                HostFwd {
                    udp: true,
                    host_addr: Ipv4Addr::UNSPECIFIED,
                    host_port: 53,
                    guest_addr: Some(Ipv4Addr::new(10, 0, 2, 20)),
                    guest_port: 5353
                }
            ]
        );
        assert_eq!(u.hostfwd[0].to_string(), "tcp 127.0.0.1:5555 -> guest 10.0.2.15:22");
        assert_eq!(u.mtu, 1500);
        let NetdevKind::User(big) = NetdevSpec::parse("user,id=b,mtu=65520").unwrap().kind else {
            panic!("user")
        };
        assert_eq!(big.mtu, 65520);
        let short = HostFwd::parse(":0-:80").unwrap();
        assert_eq!((short.udp, short.host_port, short.guest_port), (false, 0, 80));
        assert_eq!(
            NetdevSpec::parse("tap,id=t.1,ifname=tap0").unwrap().kind,
            NetdevKind::Tap { ifname: "tap0".into() }
        );
        let restricted = NetdevSpec::parse("user,restrict=on,ipv6=off,id=x").unwrap();
        assert_eq!(
            restricted.kind,
            NetdevKind::User(UserOptions {
                hostfwd: vec![],
                restrict: true,
                ipv6: false,
                mtu: 1500
            })
        );
    }

    #[test]
    fn bad_netdev_options_are_one_line_errors_naming_the_option() {
        for (bad, says) in [
            ("", "needs a type"),
            ("socket,id=a", "unknown type"),
            ("user", "needs id=ID"),
            ("user,id=1a", "an id is a letter"),
            ("user,id=a b", "an id is a letter"),
            ("user,id=a,net=10.0.0.0/8", "unknown option 'net'"),
            ("user,id=a,hostfwd", "expected key=value"),
            ("user,id=a,hostfwd=tcp:1-2", "tcp is not an IPv4 address"),
            ("user,id=a,hostfwd=tcp::1-2", "no guest port"),
            ("user,id=a,hostfwd=tcp::22", "no '-'"),
            ("user,id=a,hostfwd=sctp::1-:2", "bad host part"),
            ("user,id=a,hostfwd=tcp:host:1-:2", "host is not an IPv4 address"),
            ("user,id=a,hostfwd=tcp::70000-:2", "70000 is not a port"),
            ("user,id=a,hostfwd=tcp::1-:0", "guest port 0"),
            ("user,id=a,restrict=maybe", "expected on or off"),
            ("user,id=a,mtu=65521", "expected 576 to 65520"),
            ("tap,id=a", "needs ifname"),
            ("tap,id=a,ifname=a/b", "not an interface name"),
            ("tap,id=a,ifname=averyveryverylongname", "not an interface name"),
        ] {
            let e = NetdevSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.starts_with("--netdev"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
