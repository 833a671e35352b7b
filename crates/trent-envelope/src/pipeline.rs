//! An ordered, bounded pipeline for framed bodies: the calling thread reads batches of whole
//! frames, a writer thread writes finished batches in message order (reads and writes, which
//! copy through the page cache, run on different cores); worker threads seal or open the frames of
//! a batch (frames are independent under AES-GCM); for signed suites one more thread hashes the
//! bytes in message order (before the workers when decrypting, after them when encrypting), so the
//! sequential SHA-384 overlaps the parallel AES work.
//!
//! Memory is bounded by `in_flight` batch buffers. A batch is written only after every frame in it
//! was processed; when a frame fails, only the frames before it are written (then the error).
//! Messages that fit in their first batch, and machines with one core, run inline on the calling
//! thread: no thread is started.

use crate::error::{Error, Result};
use aws_lc_rs::digest;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// How the body is cut and spread over threads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    /// Worker threads (1: everything inline on the calling thread).
    pub threads: usize,
    /// Target bytes per batch (one read or write call per batch).
    pub batch_bytes: usize,
    /// Frames in the first batch (small messages allocate and touch little).
    pub first_frames: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        let threads = std::env::var("TRENT_ENVELOPE_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n >= 1)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
            .min(16);
        Tuning { threads, batch_bytes: 1 << 20, first_frames: 16 }
    }
}

impl Tuning {
    /// Frames per full batch for frames of `stride` bytes (at least one).
    pub fn frames_per_batch(&self, stride: usize) -> usize {
        (self.batch_bytes / stride).max(1)
    }

    /// Batch buffers in flight: enough to keep every worker busy while one batch is read and one
    /// written, and never more than ~48 MiB whatever the frame length.
    pub fn in_flight(&self, batch_len: usize) -> usize {
        let want = 2 * self.threads + 2;
        let cap = ((48usize << 20) / batch_len.max(1)).max(2);
        want.min(cap)
    }
}

/// One batch of frames.
pub(crate) struct Job {
    pub idx: u64,
    pub buf: Zeroizing<Vec<u8>>,
    /// Sequence number of the first frame in the batch.
    pub first_seq: u32,
    /// Regular (full-length) frames in the batch.
    pub frames: usize,
    /// Encryption: the content length of the final frame, when this batch ends the body.
    pub final_len: Option<usize>,
    /// Bytes at the start of `buf` the signature hash covers (set by `produce` or `work`).
    pub hash_len: usize,
    /// `Err((k, e))`: frames before the k-th are done, the k-th failed with `e`.
    pub result: std::result::Result<(), (usize, Error)>,
}

/// Where the signature hash reads the batch: before the workers (decryption hashes ciphertext
/// before opening it in place) or after them (encryption hashes the ciphertext it produced).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAt {
    Before,
    After,
}

fn hash(d: &mut Option<digest::Context>, job: &Job) {
    if let Some(d) = d {
        d.update(&job.buf[..job.hash_len]);
    }
}

fn run_work<F: Fn(&mut Job)>(work: &F, job: &mut Job) {
    if catch_unwind(AssertUnwindSafe(|| work(job))).is_err() {
        job.result = Err((0, Error::Crypto("frame worker panicked")));
    }
}

/// Runs the pipeline. `produce` fills a job (its buffer is `batch_len` bytes, or `first_len`
/// for the first job) and returns whether it is the last; `work` processes a job on a worker;
/// `consume` writes a finished job (in order). Returns the hash context after the last batch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<P, W, C>(
    tuning: &Tuning,
    first_len: usize,
    batch_len: usize,
    mut digest: Option<digest::Context>,
    hash_at: HashAt,
    mut produce: P,
    work: W,
    mut consume: C,
) -> Result<Option<digest::Context>>
where
    P: FnMut(&mut Job) -> Result<bool>,
    W: Fn(&mut Job) + Sync,
    C: FnMut(&mut Job) -> Result<()> + Send,
{
    let new_job = |idx: u64, buf: Zeroizing<Vec<u8>>| Job {
        idx,
        buf,
        first_seq: 0,
        frames: 0,
        final_len: None,
        hash_len: 0,
        result: Ok(()),
    };
    let mut first = new_job(0, Zeroizing::new(vec![0u8; first_len]));
    let mut last = produce(&mut first)?;
    if last || tuning.threads < 2 {
        // Inline: a message that fits its first batch, or a single core.
        let mut job = first;
        let mut idx = 0u64;
        loop {
            if hash_at == HashAt::Before {
                hash(&mut digest, &job);
            }
            run_work(&work, &mut job);
            if hash_at == HashAt::After && job.result.is_ok() {
                hash(&mut digest, &job);
            }
            consume(&mut job)?;
            if last {
                return Ok(digest);
            }
            idx += 1;
            let buf = if job.buf.len() == batch_len {
                std::mem::take(&mut job.buf)
            } else {
                Zeroizing::new(vec![0u8; batch_len])
            };
            job = new_job(idx, buf);
            last = produce(&mut job)?;
        }
    }
    let in_flight = tuning.in_flight(batch_len);
    std::thread::scope(|s| -> Result<Option<digest::Context>> {
        let (work_tx, work_rx) = mpsc::channel::<Job>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = mpsc::channel::<Job>();
        // Jobs enter through `entry`: the hasher (Before) or the work queue.
        let (entry, hasher) = if digest.is_some() && hash_at == HashAt::Before {
            let (tx, rx) = mpsc::channel::<Job>();
            let to_work = work_tx.clone();
            let mut d = digest.take();
            let h = s.spawn(move || {
                for job in rx {
                    hash(&mut d, &job);
                    if to_work.send(job).is_err() {
                        break;
                    }
                }
                d
            });
            (tx, Some(h))
        } else {
            (work_tx.clone(), None)
        };
        drop(work_tx);
        // Workers report to the sequencer (After: reorders and hashes) or straight to the caller.
        let (report_tx, sequencer) = if digest.is_some() && hash_at == HashAt::After {
            let (tx, rx) = mpsc::channel::<Job>();
            let out = done_tx.clone();
            let mut d = digest.take();
            let h = s.spawn(move || {
                let mut pending = BTreeMap::new();
                let mut next = 0u64;
                for job in rx {
                    pending.insert(job.idx, job);
                    while let Some(job) = pending.remove(&next) {
                        next += 1;
                        if job.result.is_ok() {
                            hash(&mut d, &job);
                        }
                        if out.send(job).is_err() {
                            return d;
                        }
                    }
                }
                d
            });
            (tx, Some(h))
        } else {
            (done_tx.clone(), None)
        };
        drop(done_tx);
        for _ in 0..tuning.threads {
            let rx = Arc::clone(&work_rx);
            let tx = report_tx.clone();
            let work = &work;
            s.spawn(move || loop {
                let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(mut job) = next else { break };
                run_work(work, &mut job);
                if tx.send(job).is_err() {
                    break;
                }
            });
        }
        drop(report_tx);

        // The writer: finished batches in message order, buffers back to the reader.
        let (free_tx, free_rx) = mpsc::channel::<Zeroizing<Vec<u8>>>();
        let consume = &mut consume;
        let writer = s.spawn(move || -> (Result<()>, u64) {
            let mut pending: BTreeMap<u64, Job> = BTreeMap::new();
            let mut next_out = 0u64;
            for job in done_rx {
                pending.insert(job.idx, job);
                while let Some(mut job) = pending.remove(&next_out) {
                    next_out += 1;
                    if let Err(e) = consume(&mut job) {
                        return (Err(e), next_out);
                    }
                    let _ = free_tx.send(std::mem::take(&mut job.buf));
                }
            }
            (Ok(()), next_out)
        });

        // The reader (this thread): batches into the pipeline, up to `in_flight` buffers.
        let mut entry = Some(entry);
        let mut allocated = 1usize;
        let mut next_in = 1u64;
        let mut read_error: Option<Error> = None;
        let send = |entry: &Option<mpsc::Sender<Job>>, job: Job| -> bool {
            entry.as_ref().is_some_and(|tx| tx.send(job).is_ok())
        };
        if !send(&entry, first) || last {
            entry = None;
        }
        while entry.is_some() {
            let recycled = match free_rx.try_recv() {
                Ok(b) => Some(b),
                // The writer stopped (it failed): read no further.
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(_) if allocated < in_flight => None,
                // Every buffer is in flight: wait for the writer (gone only if it failed).
                Err(_) => match free_rx.recv() {
                    Ok(b) => Some(b),
                    Err(_) => break,
                },
            };
            let buf = match recycled {
                Some(b) if b.len() == batch_len => b,
                Some(_) => Zeroizing::new(vec![0u8; batch_len]),
                None => {
                    allocated += 1;
                    Zeroizing::new(vec![0u8; batch_len])
                }
            };
            let mut job = new_job(next_in, buf);
            match produce(&mut job) {
                Ok(is_last) => {
                    if !send(&entry, job) {
                        break;
                    }
                    next_in += 1;
                    if is_last {
                        break;
                    }
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        drop(entry);
        // Earlier batches report first: their errors come first in the message.
        let (written, consumed) = writer.join().unwrap_or((Err(Error::Crypto("frame writer panicked")), 0));
        written?;
        if let Some(e) = read_error {
            return Err(e);
        }
        if consumed != next_in {
            return Err(Error::Crypto("frame pipeline stopped"));
        }
        let mut d = digest;
        for h in [hasher, sequencer].into_iter().flatten() {
            if let Ok(got) = h.join() {
                if got.is_some() {
                    d = got;
                }
            }
        }
        Ok(d)
    })
}
