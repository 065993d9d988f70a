//! A stream of JSON objects (NDJSON, or objects one after another) decoded on several threads.
//!
//! One thread reads the source in large chunks, hashing every byte as it goes, and cuts each
//! chunk after a line break that lies between two records: a `}` before it and a `{` after it,
//! white space aside. Valid JSON has no raw line break inside a string and no `}` `{` pair without
//! a comma between inside an array, so such a break is always between top-level objects. Chunks
//! decode on threads of their own and their batches are handed on in the source's order. A chunk
//! that does not decode is decoded again by the exact, one-record-at-a-time splitter from the
//! line it starts on, which names the line and the problem as it would for the whole file.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::hash::HashingReader;
use super::json::JsonRecords;
use crate::error::{Error, Result};

/// Bytes handed to one decoding thread at a time (a record longer than this makes its chunk
/// longer).
const CHUNK: usize = 8 << 20;
/// Decoding threads; as many chunks as this are decoding or decoded and waiting at once.
const THREADS: usize = 2;

/// What a chunk decoded to and the line breaks it holds, or `Err` when it did not decode.
type Decoded = std::result::Result<(Vec<RecordBatch>, u64), ()>;

/// Decode the object stream at `path` into `send`, returning the source's (sha256, size).
pub(super) fn decode(
    path: &Path,
    schema: &SchemaRef,
    batch_size: usize,
    send: &mut dyn FnMut(RecordBatch) -> Result<()>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(String, u64)> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut reader = HashingReader::new(file);
    std::thread::scope(|scope| {
        // A fixed pool, so the allocator keeps reusing the same threads' memory.
        let (jobs, queue) = std::sync::mpsc::channel::<(Arc<Vec<u8>>, SyncSender<Decoded>)>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for _ in 0..THREADS {
            let queue = queue.clone();
            scope.spawn(move || {
                loop {
                    let job = queue.lock().expect("job queue").recv();
                    let Ok((bytes, done)) = job else { return };
                    let _ = done.send(decode_chunk(&bytes, schema, batch_size));
                }
            });
        }
        let mut chunks = Chunks {
            path,
            schema,
            batch_size,
            pending: VecDeque::new(),
            line: 1,
            spare: Vec::new(),
        };
        let result = (|| {
            let mut carry = Vec::new();
            let mut first = true;
            loop {
                // Chunks reuse the buffers of chunks already handed on: fresh ones would cost a
                // page fault per 4 KiB of the source.
                let mut chunk = chunks.spare.pop().unwrap_or_default();
                chunk.clear();
                chunk.append(&mut carry);
                let eof = fill(&mut reader, &mut chunk).map_err(io_err)?;
                if first {
                    first = false;
                    if chunk.starts_with(b"\xEF\xBB\xBF") {
                        chunk.drain(..3);
                    }
                }
                if !eof {
                    match cut(&chunk) {
                        Some(at) => {
                            carry.extend_from_slice(&chunk[at..]);
                            chunk.truncate(at);
                        }
                        None => {
                            // One record longer than a chunk: read on until it ends.
                            carry = chunk;
                            continue;
                        }
                    }
                }
                if !chunk.is_empty() {
                    while chunks.pending.len() >= THREADS {
                        chunks.settle(send, progress)?;
                    }
                    let chunk = Arc::new(chunk);
                    let (done, result) = std::sync::mpsc::sync_channel(1);
                    jobs.send((chunk.clone(), done))
                        .map_err(|_| Error::Internal("the JSON decoding threads stopped".into()))?;
                    chunks.pending.push_back((chunk, result));
                }
                if eof {
                    break;
                }
            }
            while !chunks.pending.is_empty() {
                chunks.settle(send, progress)?;
            }
            Ok::<_, Error>(())
        })();
        // Without jobs the threads end, and the scope with them.
        drop(jobs);
        result
    })?;
    reader.finish().map_err(io_err)
}

/// Chunks handed to the decoding threads, oldest first, and the line the oldest starts on.
struct Chunks<'a> {
    path: &'a Path,
    schema: &'a SchemaRef,
    batch_size: usize,
    pending: VecDeque<(Arc<Vec<u8>>, Receiver<Decoded>)>,
    line: u64,
    /// Buffers of settled chunks, to read the next ones into.
    spare: Vec<Vec<u8>>,
}

impl Chunks<'_> {
    /// Hand on the oldest chunk's batches; a chunk that did not decode is read again exactly.
    fn settle(
        &mut self,
        send: &mut dyn FnMut(RecordBatch) -> Result<()>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let Some((chunk, result)) = self.pending.pop_front() else {
            return Ok(());
        };
        let decoded = result
            .recv()
            .map_err(|_| Error::Internal("a JSON decoding thread stopped".into()))?;
        match decoded {
            Ok((batches, lines)) => {
                for b in batches {
                    send(b)?;
                }
                self.line += lines;
            }
            Err(()) => {
                let mut records =
                    JsonRecords::starting_at(std::io::Cursor::new(&chunk[..]), self.line);
                super::source::decode_records(
                    &mut records,
                    self.path,
                    self.schema,
                    self.batch_size,
                    send,
                    &|_| {},
                )?;
                self.line += memchr::memchr_iter(b'\n', &chunk).count() as u64;
            }
        }
        progress(chunk.len() as u64);
        if let Ok(buffer) = Arc::try_unwrap(chunk) {
            self.spare.push(buffer);
        }
        Ok(())
    }
}

/// Read until `buf` holds [`CHUNK`] more bytes than it did or the source ends; `true` at the end.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let want = CHUNK as u64;
    let before = buf.len();
    buf.reserve(CHUNK);
    reader.by_ref().take(want).read_to_end(buf)?;
    Ok(((buf.len() - before) as u64) < want)
}

/// Where to cut `chunk` so that both parts hold whole records: just after a line break with a
/// `}` before it and a `{` after it (white space aside), the last such one. `None` if there is
/// none.
fn cut(chunk: &[u8]) -> Option<usize> {
    for nl in memchr::memrchr_iter(b'\n', chunk) {
        let next = chunk[nl + 1..].iter().find(|b| !b.is_ascii_whitespace());
        let prev = chunk[..nl].iter().rev().find(|b| !b.is_ascii_whitespace());
        if next == Some(&b'{') && prev == Some(&b'}') {
            return Some(nl + 1);
        }
    }
    None
}

/// Decode a chunk of whole records with one decoder; `Err` if anything in it does not decode.
fn decode_chunk(chunk: &[u8], schema: &SchemaRef, batch_size: usize) -> Decoded {
    let mut decoder = super::source::JsonChunk::decoder(schema, batch_size).map_err(|_| ())?;
    let mut out = Vec::new();
    let mut rest = chunk;
    loop {
        let used = decoder.decode(rest).map_err(|_| ())?;
        rest = &rest[used..];
        if let Some(batch) = decoder.flush().map_err(|_| ())? {
            out.push(batch);
        }
        if rest.is_empty() {
            return Ok((out, memchr::memchr_iter(b'\n', chunk).count() as u64));
        }
        if used == 0 {
            return Err(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_only_between_records() {
        assert_eq!(cut(b"{\"a\":1}\n{\"a\":2}\n{\"a\""), Some(16));
        assert_eq!(
            cut(b"{\"a\":1}\n{\"a\":2}\n"),
            Some(8),
            "a break needs a record after it"
        );
        assert_eq!(cut(b"{\"a\":\n{\"b\":1}}\n"), None, "inside an object");
        assert_eq!(
            cut(b"{\"a\":[{\"b\":1},\n{\"b\":2}]}"),
            None,
            "between array elements"
        );
        assert_eq!(cut(b"{\"a\":1}  \r\n  {\"a\":2}"), Some(11));
    }
}
