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

use crate::error::{Failure, Payload, ProcessError};
use crate::future::{ChunkTag, Inbox, Outcome, Sink, decode};
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

/// The chunk whose items are being yielded, read in place from its RESULTS frames.
///
/// One item is taken in two steps: [`ready`](Current::ready) (out of line, once per
/// frame) opens the next frame if the one being read is used up, then
/// [`take`](Current::take) (inlined into the consumer's loop) decodes the item. The
/// split leaves one place that builds a result, so the compiler writes it straight
/// into the consumer's variable: with a second one (a slow path returning the item
/// too) it built both in a stack slot and copied the ~48-byte `Result` out, in
/// overlapping pieces that stalled the loads reading them back (store-forwarding
/// failures, most of a `map`'s time on the caller's thread).
struct Current {
    outcome: Outcome,
    /// Frames opened so far; the one being read is `opened - 1`.
    opened: usize,
    /// Where the next item of the frame being read starts.
    offset: usize,
    /// Items the frame being read has left, never more than `left`: a worker that
    /// answers with too many cannot make a chunk yield more items than it has.
    in_frame: u32,
    left: u32,
    index: u64,
    limit: usize,
}

impl Current {
    fn new(tag: ChunkTag, outcome: Outcome, limit: usize) -> Current {
        Current {
            outcome,
            opened: 0,
            offset: 0,
            in_frame: 0,
            left: tag.count,
            index: tag.first,
            limit,
        }
    }

    /// Makes [`take`](Current::take) possible if the chunk has items left: opens
    /// frames until one has an item, or finds there is none (the items left fail).
    /// Returns whether an item is left.
    #[inline(never)]
    fn ready(&mut self) -> bool {
        while self.left > 0 && self.in_frame == 0 {
            let header = self
                .outcome
                .frames
                .get(self.opened)
                .and_then(|body| protocol::results_count(body));
            let Some(count) = header else {
                // No frame left (or a malformed one): the items left have the chunk's
                // failure.
                self.opened = self.outcome.frames.len() + 1;
                return true;
            };
            self.opened += 1;
            self.offset = protocol::RESULTS_HEADER;
            self.in_frame = count.min(self.left);
        }
        self.left > 0
    }

    /// The next item; only after [`ready`](Current::ready) said there is one (or a
    /// previous `take` left `in_frame` above zero).
    #[inline(always)]
    fn take<T: Task>(&mut self) -> TaskResult<T> {
        self.left -= 1;
        self.index += 1;
        if self.in_frame > 0 {
            let item = self
                .outcome
                .frames
                .get(self.opened.wrapping_sub(1))
                .and_then(|body| protocol::result_item(body, self.offset));
            if let Some((status, bytes)) = item {
                self.offset += protocol::RESULT_ITEM_HEADER + bytes.len();
                self.in_frame -= 1;
                return decode(status, bytes, self.limit);
            }
            // A malformed item: it and the items after it have no result.
            self.in_frame = 0;
            self.opened = self.outcome.frames.len() + 1;
        }
        self.failed()
    }

    /// An item no frame covers: the chunk's failure, or `Cancelled` if it has none.
    #[cold]
    #[inline(never)]
    fn failed<O, E>(&self) -> Result<O, ProcessError<E>> {
        Err(self
            .outcome
            .failure
            .clone()
            .unwrap_or(Failure::Cancelled)
            .typed())
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

    /// Makes `current` ready to [`take`](Current::take) an item: opens its next
    /// frame, or moves on to the next chunk, submitting more and waiting for the
    /// front one. Once per frame, so out of line. `Ready(false)`: no items left.
    #[inline(never)]
    fn advance(&mut self, mut recv: impl FnMut(&Inbox) -> Poll<(ChunkTag, Outcome)>) -> Poll<bool> {
        loop {
            if let Some(current) = &mut self.current {
                if current.ready() {
                    return Poll::Ready(true);
                }
                self.current = None;
            }
            self.fill();
            let Some((_, front)) = self.window.front() else {
                return Poll::Ready(false);
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
                self.current = Some(Current::new(tag, outcome, self.feeder.shared.limit()));
                self.fill();
            }
        }
    }

    /// Whether the frame being read has an item left (`take` it without `advance`).
    #[inline(always)]
    fn in_frame(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|current| current.in_frame > 0)
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> Iterator for Map<T, I> {
    type Item = TaskResult<T>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if !self.in_frame() && self.advance(|inbox| Poll::Ready(inbox.recv())) != Poll::Ready(true)
        {
            return None;
        }
        Some(self.current.as_mut()?.take::<T>())
    }
}

impl<T: Task, I: Iterator<Item = T::Args> + Unpin> futures_core::Stream for Map<T, I> {
    type Item = TaskResult<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let map = self.get_mut();
        if !map.in_frame() {
            match map.advance(|inbox| inbox.poll_recv(cx)) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(map.current.as_mut().map(Current::take::<T>))
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

    /// As [`Map`]'s: makes `current` ready to take an item, moving on to the next
    /// chunk to finish. `Ready(false)`: no items left.
    #[inline(never)]
    fn advance(&mut self, mut recv: impl FnMut(&Inbox) -> Poll<(ChunkTag, Outcome)>) -> Poll<bool> {
        loop {
            if let Some(current) = &mut self.current {
                if current.ready() {
                    return Poll::Ready(true);
                }
                self.current = None;
            }
            self.fill();
            if self.in_flight == 0 {
                return Poll::Ready(false);
            }
            let inbox = Arc::clone(&self.feeder.inbox);
            match recv(&inbox) {
                Poll::Ready((tag, outcome)) => {
                    self.in_flight -= 1;
                    self.current = Some(Current::new(tag, outcome, self.feeder.shared.limit()));
                    self.fill();
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    #[inline(always)]
    fn in_frame(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|current| current.in_frame > 0)
    }

    #[inline(always)]
    fn take(&mut self) -> Option<(usize, TaskResult<T>)> {
        let current = self.current.as_mut()?;
        let index = current.index as usize;
        Some((index, current.take::<T>()))
    }
}

impl<T: Task, I: Iterator<Item = T::Args>> Iterator for MapUnordered<T, I> {
    type Item = (usize, TaskResult<T>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if !self.in_frame() && self.advance(|inbox| Poll::Ready(inbox.recv())) != Poll::Ready(true)
        {
            return None;
        }
        self.take()
    }
}

impl<T: Task, I: Iterator<Item = T::Args> + Unpin> futures_core::Stream for MapUnordered<T, I> {
    type Item = (usize, TaskResult<T>);

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let map = self.get_mut();
        if !map.in_frame() {
            match map.advance(|inbox| inbox.poll_recv(cx)) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(map.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NoError;

    #[derive(Clone, Copy)]
    struct Echo;

    impl Task for Echo {
        type Args = u64;
        type Output = u64;
        type Error = NoError;
        const NAME: &'static str = "map::tests::Echo";
        fn call(x: u64) -> Result<u64, NoError> {
            Ok(x)
        }
    }

    fn results_frame(start: u32, values: &[u64]) -> Vec<u8> {
        let mut body = vec![protocol::KIND_RESULTS];
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for value in values {
            let at = protocol::open_result_item(&mut body, protocol::STATUS_OK);
            protocol::append(value, &mut body).unwrap();
            protocol::close_result_item(&mut body, at);
        }
        body
    }

    /// What `ready` and `take` yield for a chunk of `count` items: the values, and
    /// the errors by kind.
    fn drain(
        count: u32,
        frames: Vec<Vec<u8>>,
        failure: Option<Failure>,
    ) -> Vec<Result<u64, &'static str>> {
        let tag = ChunkTag {
            seq: 0,
            first: 0,
            count,
        };
        let mut current = Current::new(tag, Outcome { frames, failure }, 1 << 20);
        let mut seen = Vec::new();
        while current.in_frame > 0 || current.ready() {
            seen.push(current.take::<Echo>().map_err(|error| match error {
                ProcessError::Timeout { .. } => "timeout",
                ProcessError::Cancelled => "cancelled",
                _ => "other",
            }));
        }
        seen
    }

    #[test]
    fn items_are_read_across_frames() {
        let frames = vec![
            results_frame(0, &[1, 2]),
            results_frame(2, &[]),
            results_frame(2, &[3]),
        ];
        assert_eq!(drain(3, frames, None), [Ok(1), Ok(2), Ok(3)]);
    }

    #[test]
    fn items_no_frame_covers_have_the_chunks_failure() {
        let timeout = Failure::Timeout {
            task: "t",
            after: std::time::Duration::from_secs(1),
        };
        let frames = vec![results_frame(0, &[1])];
        assert_eq!(
            drain(3, frames, Some(timeout)),
            [Ok(1), Err("timeout"), Err("timeout")]
        );
        assert_eq!(
            drain(2, Vec::new(), None),
            [Err("cancelled"), Err("cancelled")]
        );
    }

    #[test]
    fn extra_results_are_ignored_and_a_cut_item_fails_the_rest() {
        let frames = vec![results_frame(0, &[1, 2, 3])];
        assert_eq!(drain(2, frames, None), [Ok(1), Ok(2)]);

        let mut cut = results_frame(0, &[1, 300, 3]);
        // The last item (6 bytes) and the last byte of the one before it.
        cut.truncate(cut.len() - 7);
        assert_eq!(
            drain(3, vec![cut], None),
            [Ok(1), Err("cancelled"), Err("cancelled")]
        );
    }
}
