//! A gzip writer that compresses fixed 1 MiB blocks on several threads (as pigz does) and
//! still produces one deterministic gzip stream: each block is raw deflate ending in a sync
//! flush, the last one ends the stream. Block boundaries do not depend on the thread count,
//! so the bytes (and the layer digest) are the same on every machine.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::Digest as _;

/// Uncompressed bytes per independently compressed block.
pub const BLOCK: usize = 1 << 20;

/// Parallel gzip into a `Vec`, hashing the compressed output as it grows.
pub struct ParallelGzip {
    level: Compression,
    threads: usize,
    pending: Vec<u8>,
    crc: Crc,
    total_in: u64,
    out: Vec<u8>,
    out_hash: sha2::Sha256,
}

/// A finished gzip stream and the SHA-256 of its bytes.
pub struct Finished {
    pub data: Vec<u8>,
    pub sha256: [u8; 32],
}

fn deflate_block(level: Compression, input: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == input.len();
        let done = if last {
            status == Status::StreamEnd
        } else {
            // A sync flush is complete once deflate stops filling the whole buffer.
            all_in && out.len() < out.capacity()
        };
        if done {
            return Ok(out);
        }
        out.reserve(64 * 1024);
    }
}

impl ParallelGzip {
    pub fn new(level: u32, threads: usize) -> Self {
        let threads = threads.max(1);
        let mut out = Vec::with_capacity(1 << 20);
        // Fixed header: no name, mtime 0, no extra flags, OS unknown.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        let mut out_hash = sha2::Sha256::new();
        out_hash.update(&out);
        Self {
            level: Compression::new(level.min(9)),
            threads,
            pending: Vec::with_capacity(BLOCK * threads),
            crc: Crc::new(),
            total_in: 0,
            out,
            out_hash,
        }
    }

    fn batch_size(&self) -> usize {
        BLOCK * self.threads
    }

    /// Compresses `pending` (whole blocks; the final call may be partial) on the threads.
    fn compress_pending(&mut self, last: bool) -> io::Result<()> {
        let level = self.level;
        let results: Vec<io::Result<Vec<u8>>> = {
            let blocks: Vec<&[u8]> = if self.pending.is_empty() {
                vec![&[][..]]
            } else {
                self.pending.chunks(BLOCK).collect()
            };
            let n = blocks.len();
            if n == 1 {
                vec![deflate_block(level, blocks[0], last)]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = blocks
                        .iter()
                        .enumerate()
                        .map(|(i, b)| s.spawn(move || deflate_block(level, b, last && i == n - 1)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(io::Error::other("compression thread panicked"))
                            })
                        })
                        .collect()
                })
            }
        };
        for r in results {
            let chunk = r?;
            self.out_hash.update(&chunk);
            self.out.extend_from_slice(&chunk);
        }
        self.pending.clear();
        Ok(())
    }

    /// Ends the stream (final block and trailer).
    pub fn finish(mut self) -> io::Result<Finished> {
        self.compress_pending(true)?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        trailer[4..].copy_from_slice(&((self.total_in & 0xffff_ffff) as u32).to_le_bytes());
        self.out_hash.update(trailer);
        self.out.extend_from_slice(&trailer);
        Ok(Finished {
            data: self.out,
            sha256: self.out_hash.finalize().into(),
        })
    }
}

impl Write for ParallelGzip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A full batch is compressed only when more data arrives, so that the final block
        // (which ends the deflate stream) is always compressed by `finish`.
        if self.pending.len() == self.batch_size() {
            self.compress_pending(false)?;
        }
        let n = buf.len().min(self.batch_size() - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        self.total_in += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn gz(data: &[u8], threads: usize) -> Vec<u8> {
        let mut w = ParallelGzip::new(1, threads);
        for chunk in data.chunks(10_000) {
            w.write_all(chunk).unwrap();
        }
        let f = w.finish().unwrap();
        assert_eq!(f.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&f.data)));
        f.data
    }

    #[test]
    fn round_trips_and_ignores_thread_count() {
        let data: Vec<u8> = (0..(3 * BLOCK + 12345))
            .map(|i| {
                if i % 3 == 0 {
                    (i * 7919 % 251) as u8
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for len in [0, 1, BLOCK, 2 * BLOCK, data.len()] {
            let one = gz(&data[..len], 1);
            let three = gz(&data[..len], 3);
            assert_eq!(one, three, "length {len}: bytes depend on threads");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, &data[..len]);
        }
    }
}
