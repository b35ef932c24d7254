//! Reading a flattened device tree blob (the `.dtb` Linux takes), checking everything.
//!
//! A DTB is a header, a memory-reservation block, a *structure block* — a stream of big-endian
//! tokens: `BEGIN_NODE name`, `PROP len nameoff value`, `END_NODE`, `NOP`, `END` — and a
//! *strings block* holding the property names (Devicetree Specification v0.4, chapter 5). The
//! user gives armvex the file, so it is untrusted input: every offset, length, name and the
//! nesting of nodes is checked, and anything wrong is an error naming what and where, never a
//! panic. The result is an owned tree ([`Node`]) that [`crate::boot`] patches and writes back
//! with `vm_fdt`.

use crate::error::MachineError;
/// A device tree node: its name (`name@unit`), properties in order, and children in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub properties: Vec<(String, Vec<u8>)>,
    pub children: Vec<Node>,
}

/// A whole device tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceTree {
    /// The memory-reservation block: (address, size) pairs.
    pub reservations: Vec<(u64, u64)>,
    pub root: Node,
}

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// Deeper nesting than any real tree; it bounds the work a hostile blob can ask for.
const MAX_DEPTH: usize = 64;

fn be32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at.checked_add(4)?)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    data.get(at..at.checked_add(8)?)
        .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
}

/// A NUL-terminated printable name starting at `at` in `data`, and the offset past its NUL.
fn name_at(data: &[u8], at: usize, what: &str) -> Result<(String, usize), String> {
    let rest = data
        .get(at..)
        .ok_or_else(|| format!("{what} at byte {at} is outside the blob"))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| format!("{what} at byte {at} has no terminating NUL"))?;
    let bytes = &rest[..len];
    if !bytes.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(format!("{what} at byte {at} is not a printable name"));
    }
    Ok((String::from_utf8_lossy(bytes).into_owned(), at + len + 1))
}

impl DeviceTree {
    /// Parse and check a DTB.
    pub fn parse(data: &[u8]) -> Result<DeviceTree, MachineError> {
        let header = |i: usize| be32(data, i * 4).ok_or("shorter than a device tree header");
        if header(0)? != MAGIC {
            return Err("no device tree magic number (d00dfeed)".into());
        }
        let total = header(1)? as usize;
        let (off_struct, off_strings, off_rsv) = (header(2)? as usize, header(3)? as usize, header(4)? as usize);
        let version = header(5)?;
        let last_compatible = header(6)?;
        let size_strings = header(8)? as usize;
        let size_struct = if version >= 17 {
            header(9)? as usize
        } else {
            total.saturating_sub(off_struct)
        };
        if total > data.len() {
            return Err(format!("says it is {total} bytes long but the file has {}", data.len()).into());
        }
        if last_compatible > 17 || version < 16 {
            return Err(format!("format version {version} (compatible with {last_compatible}) is not 16 or 17").into());
        }
        let within = |off: usize, size: usize| off.checked_add(size).is_some_and(|end| end <= total);
        if !within(off_struct, size_struct) || !within(off_strings, size_strings) || off_rsv >= total {
            return Err("a block lies outside the blob".into());
        }
        let data = &data[..total];
        let strings = &data[off_strings..off_strings + size_strings];
        let structure = &data[off_struct..off_struct + size_struct];

        let mut reservations = Vec::new();
        let mut at = off_rsv;
        loop {
            let (addr, size) = match (be64(data, at), be64(data, at + 8)) {
                (Some(a), Some(s)) => (a, s),
                _ => return Err("the memory-reservation block runs off the end".into()),
            };
            at += 16;
            if addr == 0 && size == 0 {
                break;
            }
            if reservations.len() > 4096 {
                return Err("too many memory reservations".into());
            }
            reservations.push((addr, size));
        }

        // The structure block: a stack of open nodes.
        let mut stack: Vec<Node> = Vec::new();
        let mut root: Option<Node> = None;
        let mut at = 0usize;
        loop {
            let token = be32(structure, at).ok_or("the structure block ends without an END token")?;
            at += 4;
            match token {
                BEGIN_NODE => {
                    if root.is_some() {
                        return Err("a second root node".into());
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(format!("nodes nested more than {MAX_DEPTH} deep").into());
                    }
                    let (name, next) = if stack.is_empty() {
                        // The root's name is empty.
                        match structure.get(at) {
                            Some(0) => (String::new(), at + 1),
                            _ => name_at(structure, at, "the root node's name")?,
                        }
                    } else {
                        name_at(structure, at, "a node name")?
                    };
                    if !stack.is_empty() && name.is_empty() {
                        return Err(format!("a node with no name at byte {}", off_struct + at).into());
                    }
                    at = (next + 3) & !3;
                    stack.push(Node {
                        name,
                        properties: Vec::new(),
                        children: Vec::new(),
                    });
                }
                END_NODE => {
                    let node = stack.pop().ok_or("END_NODE outside any node")?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
                PROP => {
                    let len = be32(structure, at).ok_or("a property header runs off the end")? as usize;
                    let nameoff = be32(structure, at + 4).ok_or("a property header runs off the end")? as usize;
                    at += 8;
                    let value = structure
                        .get(at..at.checked_add(len).ok_or("a property is too long")?)
                        .ok_or_else(|| format!("a property of {len} bytes runs off the structure block"))?;
                    let (name, _) = name_at(strings, nameoff, "a property name")?;
                    let node = stack
                        .last_mut()
                        .ok_or_else(|| format!("property {name} outside any node"))?;
                    node.properties.push((name, value.to_vec()));
                    at = (at + len + 3) & !3;
                }
                NOP => {}
                END => break,
                other => return Err(format!("unknown token {other:#x} at byte {}", off_struct + at - 4).into()),
            }
        }
        if !stack.is_empty() {
            return Err("the structure block ends inside a node".into());
        }
        let root = root.ok_or("no root node")?;
        Ok(DeviceTree { reservations, root })
    }
}

impl Node {
    /// The value of property `name`.
    pub fn property(&self, name: &str) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Property `name` as one big-endian u32 cell.
    pub fn u32(&self, name: &str) -> Option<u32> {
        self.property(name)
            .filter(|v| v.len() == 4)
            .map(|v| u32::from_be_bytes(v.try_into().expect("4 bytes")))
    }

    /// Property `name` as a string (without its NUL).
    pub fn string(&self, name: &str) -> Option<&str> {
        let v = self.property(name)?;
        std::str::from_utf8(v.strip_suffix(&[0]).unwrap_or(v)).ok()
    }

    /// The strings of a `compatible` property.
    pub fn compatible(&self) -> Vec<&str> {
        self.property("compatible")
            .map(|v| {
                v.split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| std::str::from_utf8(s).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// This node and every node below it, depth first.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small tree written with vm_fdt.
    fn sample() -> Vec<u8> {
        let mut w =
            vm_fdt::FdtWriter::new_with_mem_reserv(&[vm_fdt::FdtReserveEntry::new(0x6000_0000, 0x1000).unwrap()])
                .unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_string("model", "V2P-CA9").unwrap();
        let intc = w.begin_node("interrupt-controller@1e001000").unwrap();
        w.property_string_list("compatible", vec!["arm,cortex-a9-gic".into(), "arm,gic".into()])
            .unwrap();
        w.property_u32("phandle", 1).unwrap();
        w.end_node(intc).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_good_tree_reads_back() {
        let t = DeviceTree::parse(&sample()).unwrap();
        assert_eq!(t.reservations, vec![(0x6000_0000, 0x1000)]);
        assert_eq!(t.root.name, "");
        assert_eq!(t.root.u32("#address-cells"), Some(1));
        assert_eq!(t.root.string("model"), Some("V2P-CA9"));
        let intc = &t.root.children[0];
        assert_eq!(intc.name, "interrupt-controller@1e001000");
        assert_eq!(intc.compatible(), vec!["arm,cortex-a9-gic", "arm,gic"]);
        assert_eq!(t.root.walk().len(), 2);
    }

    #[test]
    fn bad_blobs_are_errors() {
        let good = sample();
        assert!(
            DeviceTree::parse(&good[..20])
                .unwrap_err()
                .to_string()
                .contains("header")
        );
        assert!(
            DeviceTree::parse(&good[..good.len() - 8])
                .unwrap_err()
                .to_string()
                .contains("the file has")
        );
        let mut bad = good.clone();
        bad[0] = 0;
        assert!(DeviceTree::parse(&bad).unwrap_err().to_string().contains("magic"));
    }

    /// Every truncation, every byte flipped three ways, and many random multi-byte changes:
    /// an error or a tree, never a panic (the real Debian DTBs get the same treatment in
    /// crates/armvex-machine/tests/dtb_fuzz.rs when the guest is built).
    #[test]
    fn damaged_blobs_never_panic() {
        let good = sample();
        for n in 0..good.len() {
            let _ = DeviceTree::parse(&good[..n]);
        }
        for i in 0..good.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= x;
                let _ = DeviceTree::parse(&b);
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut b = good.clone();
            for _ in 0..1 + seed % 4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed >> 8) as usize % b.len();
                b[i] = seed as u8;
            }
            let _ = DeviceTree::parse(&b);
        }
    }
}
