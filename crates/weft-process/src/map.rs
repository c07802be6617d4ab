//! `map` and `map_unordered`: inputs pulled lazily in chunks, at most `buffer` chunks
//! submitted ahead of the consumer, results decoded on the consumer's thread.
//!
//! A chunk is one job: its inputs are serialized back to back into one RUN frame (no
//! allocation per item), and its results come back as one RESULTS frame (more only if
//! they pass the frame limit), read item by item in place. A chunk that would pass the
//! limit is closed early and the item that did not fit starts the next one.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::{Failure, Payload};
use crate::future::{ChunkTag, Inbox, ItemPosition, Outcome, Sink, decode};
use crate::protocol::{self, JobEncoder};
use crate::registry::{Task, TaskResult};
use crate::slot::{Job, Shared};

/// An item carried from a chunk that it did not fit to the next.
enum Carry {
    Encoded(Vec<u8>),
    Failed(Failure),
}

/// The submitting half shared by [`Map`] and [`MapUnordered`].
struct Feeder<T, I> {
    shared: Arc<Shared>,
    inputs: I,
    exhausted: bool,
    chunksize: usize,
    buffer: usize,
    inbox: Arc<Inbox>,
    next_seq: u64,
    next_index: u64,
    carry: Option<Carry>,
    frame_hint: usize,
    task: PhantomData<fn() -> T>,
}

impl<T: Task, I: Iterator<Item = T::Args>> Feeder<T, I> {
    fn new(shared: Arc<Shared>, inputs: I, buffer: usize) -> Self {
        Feeder {
            shared,
            inputs,
            exhausted: false,
            chunksize: 1,
            buffer: buffer.max(1),
            inbox: Arc::new(Inbox::default()),
            next_seq: 0,
            next_index: 0,
            carry: None,
            frame_hint: 256,
            task: PhantomData,
        }
    }

    /// Builds and submits the next chunk; returns its tag, or `None` when the inputs
    /// are used up.
    fn submit_chunk(&mut self) -> Option<ChunkTag> {
        let limit = self.shared.limit();
        let mut encoder = JobEncoder::new(protocol::KIND_RUN, T::NAME, self.frame_hint);
        let mut local_failure = None;
        while (encoder.count() as usize) < self.chunksize {
            match self.carry.take() {
                Some(Carry::Encoded(item)) => {
                    if encoder.len() - 4 + item.len() > limit {
                        local_failure = Some(Failure::FrameTooLarge {
                            size: encoder.len() - 4 + item.len(),
                            limit,
                        });
                        break;
                    }
                    encoder.push_encoded(&item);
                }
                Some(Carry::Failed(failure)) => {
                    if encoder.count() == 0 {
                        local_failure = Some(failure);
                    } else {
                        self.carry = Some(Carry::Failed(failure));
                    }
                    break;
                }
                None => {
                    if self.exhausted {
                        break;
                    }
                    let Some(args) = self.inputs.next() else {
                        self.exhausted = true;
                        break;
                    };
                    match encoder.push(&args) {
                        Ok(bytes) if encoder.len() - 4 > limit => {
                            let item = encoder.pop_last(bytes);
                            if encoder.count() == 0 {
                                local_failure = Some(Failure::FrameTooLarge {
                                    size: encoder.len() - 4 + item.len(),
                                    limit,
                                });
                            } else {
                                self.carry = Some(Carry::Encoded(item));
                            }
                            break;
                        }
                        Ok(_) => {}
                        Err(error) => {
                            let failure = Failure::Serde(Payload::Args, error.to_string());
                            if encoder.count() == 0 {
                                local_failure = Some(failure);
                            } else {
                                self.carry = Some(Carry::Failed(failure));
                            }
                            break;
                        }
                    }
                }
            }
        }
        let count = if local_failure.is_some() {
            1
        } else {
            encoder.count()
        };
        if count == 0 {
            return None;
        }
        let tag = ChunkTag {
            seq: self.next_seq,
            first: self.next_index,
            count,
        };
        self.next_seq += 1;
        self.next_index += u64::from(count);
        if let Some(failure) = local_failure {
            self.inbox.deliver(tag, Outcome::failed(failure));
            return Some(tag);
        }
        let frame = encoder.finish();
        // The next chunk is likely the same size: start its buffer there.
        self.frame_hint = frame.len().next_power_of_two();
        let job = Job {
            frame: Arc::new(frame),
            task: T::NAME,
            count,
            timeout: None,
            retries_left: self.shared.retries(),
            sink: Sink::Inbox(Arc::clone(&self.inbox), tag),
        };
        self.shared.submit(job);
        Some(tag)
    }
}

impl<T, I> Drop for Feeder<T, I> {
    fn drop(&mut self) {
        self.shared.forget_inbox(&self.inbox);
    }
}

/// The chunk whose items are being yielded.
struct Current {
    outcome: Outcome,
    position: ItemPosition,
    left: u32,
    index: u64,
}

impl Current {
    fn new(tag: ChunkTag, outcome: Outcome) -> Current {
        Current {
            outcome,
            position: ItemPosition::default(),
            left: tag.count,
            index: tag.first,
        }
    }

    fn next_item<T: Task>(&mut self, limit: usize) -> Option<(u64, TaskResult<T>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let index = self.index;
        self.index += 1;
        let result = match self.position.next(&self.outcome.frames) {
            Some((status, bytes)) => decode(status, bytes, limit),
            None => Err(self
                .outcome
                .failure
                .clone()
                .unwrap_or(Failure::Cancelled)
                .typed()),
        };
        Some((index, result))
    }
}

/// The ordered results of [`ProcessPool::map`](crate::ProcessPool::map): an
/// `Iterator` (blocking) and a `futures_core::Stream` (for tasks) of
/// `Result<Output, ProcessError<Error>>`, one per input, in input order.
///
/// Nothing is submitted until the first `next`. Then inputs are pulled
/// [`chunksize`](Map::chunksize) at a time, each chunk one job, keeping at most
/// [`buffer`](Map::buffer) chunks submitted and not yet being yielded, so at most
/// `(buffer + 1) × chunksize` inputs are pulled ahead of the results consumed.
/// Dropping the `Map` drops the chunks no worker has started.
///
/// A chunk whose worker dies fails with [`ProcessError::WorkerDied`](crate::ProcessError::WorkerDied) for every item
/// whose result had not come back (with `chunksize(1)` that is exactly the item that
/// crashed).
#[must_use = "a map does nothing until iterated"]
pub struct Map<T, I> {
    feeder: Feeder<T, I>,
    window: VecDeque<(ChunkTag, Option<Outcome>)>,
    front_seq: u64,
    current: Option<Current>,
}

impl<T, I> fmt::Debug for Map<T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("chunksize", &self.feeder.chunksize)
            .field("buffer", &self.feeder.buffer)
            .field("in_flight", &self.window.len())
            .finish_non_exhaustive()
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> Map<T, I> {
    pub(crate) fn new(shared: Arc<Shared>, _task: T, inputs: I, buffer: usize) -> Self {
        Map {
            feeder: Feeder::new(shared, inputs, buffer),
            window: VecDeque::new(),
            front_seq: 0,
            current: None,
        }
    }

    /// Inputs per job (default 1, as in Python). Larger chunks amortize the round trip
    /// (one frame each way per chunk): for small, fast tasks use hundreds or more.
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.feeder.chunksize = chunksize.max(1);
        self
    }

    /// Chunks submitted ahead of the consumer (default: twice the workers). Bounds
    /// memory: inputs are pulled only as results are taken.
    pub fn buffer(mut self, chunks: usize) -> Self {
        self.feeder.buffer = chunks.max(1);
        self
    }

    fn fill(&mut self) {
        while self.window.len() < self.feeder.buffer {
            match self.feeder.submit_chunk() {
                Some(tag) => self.window.push_back((tag, None)),
                None => break,
            }
        }
    }

    fn store(&mut self, tag: ChunkTag, outcome: Outcome) {
        let at = (tag.seq - self.front_seq) as usize;
        if let Some(entry) = self.window.get_mut(at) {
            entry.1 = Some(outcome);
        }
    }

    fn step(
        &mut self,
        mut recv: impl FnMut(&Inbox) -> Poll<(ChunkTag, Outcome)>,
    ) -> Poll<Option<TaskResult<T>>> {
        let limit = self.feeder.shared.limit();
        loop {
            if let Some(current) = &mut self.current {
                if let Some((_, result)) = current.next_item::<T>(limit) {
                    return Poll::Ready(Some(result));
                }
                self.current = None;
            }
            self.fill();
            let Some((_, front)) = self.window.front() else {
                return Poll::Ready(None);
            };
            if front.is_none() {
                let inbox = Arc::clone(&self.feeder.inbox);
                match recv(&inbox) {
                    Poll::Ready((tag, outcome)) => {
                        self.store(tag, outcome);
                        continue;
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            if let Some((tag, Some(outcome))) = self.window.pop_front() {
                self.front_seq += 1;
                self.current = Some(Current::new(tag, outcome));
                self.fill();
            }
        }
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> Iterator for Map<T, I> {
    type Item = TaskResult<T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step(|inbox| Poll::Ready(inbox.recv())) {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }
}

impl<T: Task, I: Iterator<Item = T::Args> + Unpin> futures_core::Stream for Map<T, I> {
    type Item = TaskResult<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().step(|inbox| inbox.poll_recv(cx))
    }
}

/// The results of [`ProcessPool::map_unordered`](crate::ProcessPool::map_unordered):
/// `(input index, result)` pairs as chunks finish. Same chunking and bounds as
/// [`Map`]; an `Iterator` and a `Stream`.
#[must_use = "a map does nothing until iterated"]
pub struct MapUnordered<T, I> {
    feeder: Feeder<T, I>,
    in_flight: usize,
    current: Option<Current>,
}

impl<T, I> fmt::Debug for MapUnordered<T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("chunksize", &self.feeder.chunksize)
            .field("buffer", &self.feeder.buffer)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> MapUnordered<T, I> {
    pub(crate) fn new(shared: Arc<Shared>, _task: T, inputs: I, buffer: usize) -> Self {
        MapUnordered {
            feeder: Feeder::new(shared, inputs, buffer),
            in_flight: 0,
            current: None,
        }
    }

    /// Inputs per job (default 1); see [`Map::chunksize`].
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.feeder.chunksize = chunksize.max(1);
        self
    }

    /// Chunks submitted ahead of the consumer; see [`Map::buffer`].
    pub fn buffer(mut self, chunks: usize) -> Self {
        self.feeder.buffer = chunks.max(1);
        self
    }

    fn fill(&mut self) {
        while self.in_flight < self.feeder.buffer {
            match self.feeder.submit_chunk() {
                Some(_) => self.in_flight += 1,
                None => break,
            }
        }
    }

    fn step(
        &mut self,
        mut recv: impl FnMut(&Inbox) -> Poll<(ChunkTag, Outcome)>,
    ) -> Poll<Option<(usize, TaskResult<T>)>> {
        let limit = self.feeder.shared.limit();
        loop {
            if let Some(current) = &mut self.current {
                if let Some((index, result)) = current.next_item::<T>(limit) {
                    return Poll::Ready(Some((index as usize, result)));
                }
                self.current = None;
            }
            self.fill();
            if self.in_flight == 0 {
                return Poll::Ready(None);
            }
            let inbox = Arc::clone(&self.feeder.inbox);
            match recv(&inbox) {
                Poll::Ready((tag, outcome)) => {
                    self.in_flight -= 1;
                    self.current = Some(Current::new(tag, outcome));
                    self.fill();
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> Iterator for MapUnordered<T, I> {
    type Item = (usize, TaskResult<T>);

    fn next(&mut self) -> Option<Self::Item> {
        match self.step(|inbox| Poll::Ready(inbox.recv())) {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }
}

impl<T: Task, I: Iterator<Item = T::Args> + Unpin> futures_core::Stream for MapUnordered<T, I> {
    type Item = (usize, TaskResult<T>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().step(|inbox| inbox.poll_recv(cx))
    }
}
