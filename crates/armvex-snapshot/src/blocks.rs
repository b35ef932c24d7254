//! A *block store*: how RAM and disks are kept in a snapshot.
//!
//! RAM and disks are both arrays of 4 KiB blocks (pages), and most of them are usually zero
//! (RAM the guest never touched, free space on a disk), or need not be saved at all (the
//! blocks of a disk that an overlay does not hold: the base image has them). A block store
//! keeps only some of the blocks: a bitmap says which, and their contents follow, in
//! increasing block order, compressed with LZ4 in chunks of up to 256 blocks (1 MiB).
//!
//! ```text
//!   total length (u64)         bytes the store covers; the last block may be shorter than 4 KiB
//!   bitmap                     one bit per block (bit i of byte i/8): 1 = the block is here
//!   chunk count (u32)          = ceil(blocks here / 256)
//!   chunk: length (u32), LZ4   the next (up to) 256 blocks here, uncompressed back to back
//!   chunk: …
//! ```
//!
//! LZ4 (the `lz4_flex` crate, pure Rust) rather than a stronger compressor: it compresses
//! guest memory at hundreds of MB/s and uncompresses faster still, so saving and loading stay
//! a small fraction of a second per 100 MB; page tables, code and text shrink several times.

use lz4_flex::block::{compress, decompress_into};

/// The block size: a RAM page, a disk overlay block.
pub const BLOCK: u64 = 4096;

/// Blocks per compressed chunk.
const CHUNK_BLOCKS: usize = 256;

/// True if every byte of `b` is zero (ORs 64 bytes at a time, which compilers vectorise).
pub fn is_zero(b: &[u8]) -> bool {
    b.chunks(64).all(|c| c.iter().fold(0u8, |acc, &x| acc | x) == 0)
}

/// Builds a block store; blocks must be added in increasing order.
pub struct BlockWriter {
    total_len: u64,
    bitmap: Vec<u8>,
    /// Blocks not yet compressed.
    pending: Vec<u8>,
    pending_blocks: usize,
    chunks: Vec<Vec<u8>>,
    count: u64,
    next: u64,
}

impl BlockWriter {
    /// A store covering `total_len` bytes.
    pub fn new(total_len: u64) -> BlockWriter {
        BlockWriter {
            total_len,
            bitmap: vec![0; total_len.div_ceil(BLOCK).div_ceil(8) as usize],
            pending: Vec::with_capacity(CHUNK_BLOCKS * BLOCK as usize),
            pending_blocks: 0,
            chunks: Vec::new(),
            count: 0,
            next: 0,
        }
    }

    /// Add block `index` with its contents (`BLOCK` bytes; the last block's length).
    pub fn add(&mut self, index: u64, data: &[u8]) {
        debug_assert!(index >= self.next, "blocks are added in increasing order");
        debug_assert_eq!(data.len() as u64, block_len(self.total_len, index));
        self.bitmap[(index / 8) as usize] |= 1 << (index % 8);
        self.pending.extend_from_slice(data);
        self.pending_blocks += 1;
        self.count += 1;
        self.next = index + 1;
        if self.pending_blocks == CHUNK_BLOCKS {
            self.seal_chunk();
        }
    }

    fn seal_chunk(&mut self) {
        if self.pending_blocks > 0 {
            self.chunks.push(compress(&self.pending));
            self.pending.clear();
            self.pending_blocks = 0;
        }
    }

    /// Number of blocks added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The store's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.seal_chunk();
        let size = 12 + self.bitmap.len() + self.chunks.iter().map(|c| 4 + c.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&self.total_len.to_le_bytes());
        out.extend_from_slice(&self.bitmap);
        out.extend_from_slice(&(self.chunks.len() as u32).to_le_bytes());
        for c in &self.chunks {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    }
}

/// Length of block `index` of a store of `total_len` bytes.
fn block_len(total_len: u64, index: u64) -> u64 {
    (total_len - index * BLOCK).min(BLOCK)
}

/// A block store read back (its chunks are uncompressed as [`BlockReader::for_each`] goes).
pub struct BlockReader<'a> {
    pub total_len: u64,
    bitmap: &'a [u8],
    chunks: Vec<&'a [u8]>,
    count: u64,
}

/// What is wrong with a block store. `Display` says it of the store ("its bitmap is cut
/// short"); the caller names the file and the section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// A part of the store (its length, bitmap, chunk count, a chunk length, a chunk) ends
    /// before it should.
    CutShort(&'static str),
    /// The bitmap's last byte has bits set beyond the last block.
    BitmapPastEnd,
    /// The chunk count does not fit the number of blocks present.
    ChunkCount {
        /// Chunks in the store.
        chunks: u32,
        /// Blocks present.
        blocks: u64,
    },
    /// A chunk uncompresses to the wrong length.
    ChunkLength {
        /// The chunk.
        chunk: usize,
        /// Bytes it uncompressed to.
        got: usize,
        /// Bytes its blocks hold.
        want: u64,
    },
    /// A chunk does not uncompress.
    Uncompress {
        /// The chunk.
        chunk: usize,
        /// LZ4's answer.
        reason: String,
    },
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockError::CutShort(what) => write!(f, "its {what} is cut short"),
            BlockError::BitmapPastEnd => write!(f, "its bitmap names blocks past its end"),
            BlockError::ChunkCount { chunks, blocks } => write!(f, "it has {chunks} chunks for {blocks} blocks"),
            BlockError::ChunkLength { chunk, got, want } => {
                write!(f, "its chunk {chunk} holds {got} bytes, not {want}")
            }
            BlockError::Uncompress { chunk, reason } => write!(f, "its chunk {chunk} does not uncompress ({reason})"),
        }
    }
}

impl std::error::Error for BlockError {}

/// Callers that report errors as strings keep working with `?`.
impl From<BlockError> for String {
    fn from(e: BlockError) -> String {
        e.to_string()
    }
}

/// Cut `n` bytes off the front of `b`.
fn take<'a>(b: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], BlockError> {
    if b.len() < n {
        return Err(BlockError::CutShort(what));
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

impl<'a> BlockReader<'a> {
    /// Read the store at the start of `bytes`; returns it and what follows it. The message
    /// of an error says what is wrong with the store.
    pub fn parse(mut bytes: &'a [u8]) -> Result<(BlockReader<'a>, &'a [u8]), BlockError> {
        let b = &mut bytes;
        let total_len = u64::from_le_bytes(take(b, 8, "length")?.try_into().expect("8 bytes"));
        let blocks = total_len.div_ceil(BLOCK);
        let bitmap_len = blocks.div_ceil(8);
        if bitmap_len > b.len() as u64 {
            return Err(BlockError::CutShort("bitmap"));
        }
        let bitmap = take(b, bitmap_len as usize, "bitmap")?;
        if blocks % 8 != 0 && bitmap.last().is_some_and(|&last| last >> (blocks % 8) != 0) {
            return Err(BlockError::BitmapPastEnd);
        }
        let count: u64 = bitmap.iter().map(|x| u64::from(x.count_ones())).sum();
        let chunk_count = u32::from_le_bytes(take(b, 4, "chunk count")?.try_into().expect("4 bytes"));
        if u64::from(chunk_count) != count.div_ceil(CHUNK_BLOCKS as u64) {
            return Err(BlockError::ChunkCount {
                chunks: chunk_count,
                blocks: count,
            });
        }
        let mut chunks = Vec::with_capacity(chunk_count.min(1 << 16) as usize);
        for _ in 0..chunk_count {
            let n = u32::from_le_bytes(take(b, 4, "chunk length")?.try_into().expect("4 bytes"));
            chunks.push(take(b, n as usize, "chunk")?);
        }
        Ok((
            BlockReader {
                total_len,
                bitmap,
                chunks,
                count,
            },
            bytes,
        ))
    }

    /// Number of blocks in the store.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Number of blocks the store covers (present or not).
    pub fn block_count(&self) -> u64 {
        self.total_len.div_ceil(BLOCK)
    }

    /// The blocks present, in increasing order.
    fn present(&self) -> impl Iterator<Item = u64> + '_ {
        self.bitmap.iter().enumerate().flat_map(|(i, &byte)| {
            (0..8)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| i as u64 * 8 + bit)
        })
    }

    /// Call `f` with every block present (number, contents), in increasing order; stops at
    /// the first error, the store's own or `f`'s.
    pub fn for_each<E: From<BlockError>>(&self, mut f: impl FnMut(u64, &[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut present = self.present();
        let mut buf = vec![0u8; CHUNK_BLOCKS * BLOCK as usize];
        for (n, chunk) in self.chunks.iter().enumerate() {
            let blocks: Vec<u64> = present.by_ref().take(CHUNK_BLOCKS).collect();
            let raw: u64 = blocks.iter().map(|&i| block_len(self.total_len, i)).sum();
            let out = &mut buf[..raw as usize];
            match decompress_into(chunk, out) {
                Ok(got) if got as u64 == raw => {}
                Ok(got) => {
                    return Err(BlockError::ChunkLength {
                        chunk: n,
                        got,
                        want: raw,
                    }
                    .into());
                }
                Err(e) => {
                    return Err(BlockError::Uncompress {
                        chunk: n,
                        reason: e.to_string(),
                    }
                    .into());
                }
            }
            let mut at = 0usize;
            for i in blocks {
                let len = block_len(self.total_len, i) as usize;
                f(i, &out[at..at + len])?;
                at += len;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(i: u64, len: usize) -> Vec<u8> {
        (0..len).map(|j| ((i * 31 + j as u64 / 100) % 251) as u8).collect()
    }

    #[test]
    fn blocks_come_back_as_written() {
        // 700 blocks and a short last one; every third block kept, and the last.
        let total = 700 * BLOCK + 100;
        let mut w = BlockWriter::new(total);
        let kept: Vec<u64> = (0..=700).filter(|i| i % 3 == 0 || *i == 700).collect();
        for &i in &kept {
            w.add(i, &block(i, block_len(total, i) as usize));
        }
        assert_eq!(w.count(), kept.len() as u64);
        let mut bytes = w.finish();
        bytes.extend_from_slice(b"rest");
        let (r, rest) = BlockReader::parse(&bytes).unwrap();
        assert_eq!(rest, b"rest");
        assert_eq!(
            (r.total_len, r.count(), r.block_count()),
            (total, kept.len() as u64, 701)
        );
        let mut seen = Vec::new();
        r.for_each::<BlockError>(|i, data| {
            assert_eq!(data, &block(i, block_len(total, i) as usize)[..]);
            seen.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, kept);
    }

    #[test]
    fn empty_stores_work() {
        for total in [0, 5 * BLOCK] {
            let bytes = BlockWriter::new(total).finish();
            let (r, rest) = BlockReader::parse(&bytes).unwrap();
            assert!(rest.is_empty() && r.count() == 0);
            r.for_each::<BlockError>(|_, _| panic!("no blocks")).unwrap();
        }
    }

    #[test]
    fn zero_test() {
        let mut b = vec![0u8; 4096];
        assert!(is_zero(&b));
        b[4095] = 1;
        assert!(!is_zero(&b));
        assert!(is_zero(&[]));
    }

    #[test]
    fn damaged_stores_are_errors_not_panics() {
        let total = 600 * BLOCK;
        let mut w = BlockWriter::new(total);
        for i in (0..600).step_by(2) {
            w.add(i, &block(i, BLOCK as usize));
        }
        let bytes = w.finish();
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for n in 0..bytes.len() {
            assert!(BlockReader::parse(&bytes[..n]).is_err(), "cut at {n}");
        }
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % b.len() as u64) as usize;
                b[i] ^= 1 << (next() % 8);
            }
            if let Ok((r, _)) = BlockReader::parse(&b) {
                let _ = r.for_each::<BlockError>(|_, _| Ok(()));
            }
        }
    }
}
