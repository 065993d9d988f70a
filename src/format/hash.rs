//! sha256 while bytes stream past, so nothing is read or written twice to hash it.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 of a byte slice, as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hashes everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Read what is left (so the hash covers the whole input) and return (sha256, size).
    pub(crate) fn finish(mut self) -> std::io::Result<(String, u64)> {
        let mut buf = vec![0u8; 1 << 20];
        while self.read(&mut buf)? > 0 {}
        Ok((hex(&self.hasher.finalize()), self.bytes))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Bytes per block of a file's block hashes (the last block may be shorter).
pub(crate) const BLOCK_SIZE: u64 = 1 << 20;

/// Hashes everything written through it: the whole, and each [`BLOCK_SIZE`] block on its own.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
    block: Sha256,
    blocks: Vec<String>,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            block: Sha256::new(),
            blocks: Vec::new(),
        }
    }

    /// The inner writer, the sha256 (hex) and the byte count of all that was written.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub(crate) fn finish(self) -> Written<W> {
        let mut blocks = self.blocks;
        if !self.bytes.is_multiple_of(BLOCK_SIZE) {
            blocks.push(hex(&self.block.finalize()));
        }
        Written {
            sink: self.inner,
            sha256: hex(&self.hasher.finalize()),
            size: self.bytes,
            blocks,
        }
    }
}

/// What a [`HashingWriter`] saw.
pub(crate) struct Written<W> {
    pub sink: W,
    pub sha256: String,
    pub size: u64,
    /// sha256 of each [`BLOCK_SIZE`] block, in order.
    pub blocks: Vec<String>,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let room = (BLOCK_SIZE - self.bytes % BLOCK_SIZE) as usize;
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.block.update(now);
            self.bytes += now.len() as u64;
            if self.bytes.is_multiple_of(BLOCK_SIZE) {
                let done = std::mem::take(&mut self.block);
                self.blocks.push(hex(&done.finalize()));
            }
            rest = later;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_a_one_shot_digest() {
        let data = b"hello lake".repeat(1000);
        let (hash, n) = HashingReader::new(&data[..]).finish().unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(hash, sha256_hex(&data));
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let written = w.finish();
        assert_eq!(written.sink, data);
        assert_eq!(written.sha256, hash);
    }

    #[test]
    fn blocks_hash_each_block_however_the_writes_fall() {
        let data: Vec<u8> = (0..(2 * BLOCK_SIZE + 1234))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let expected: Vec<String> = data.chunks(BLOCK_SIZE as usize).map(sha256_hex).collect();
        assert_eq!(expected.len(), 3);
        for step in [1usize, 4096, 1 << 20, 3 << 20, 777_777] {
            let mut w = HashingWriter::new(Vec::new());
            for chunk in data.chunks(step) {
                w.write_all(chunk).unwrap();
            }
            let written = w.finish();
            assert_eq!(written.blocks, expected, "writes of {step} bytes");
            assert_eq!(written.sha256, sha256_hex(&data));
        }
        let mut exact = HashingWriter::new(Vec::new());
        exact.write_all(&data[..BLOCK_SIZE as usize]).unwrap();
        assert_eq!(
            exact.finish().blocks.len(),
            1,
            "no empty block at a boundary"
        );
    }
}
