//! The wire format between the pool and its workers: length-prefixed frames over a
//! Unix socket, payloads in postcard.
//!
//! Every frame is a little-endian `u32` body length followed by the body. Bodies:
//!
//! ```text
//! parent -> worker   RUN | INIT   kind u8, name_len u16, name, count u32, count × (len u32, postcard args)
//! worker -> parent   HELLO        kind u8, protocol u32, pid u32
//!                    RESULTS      kind u8, start u32, count u32, count × (status u8, len u32, bytes)
//! ```
//!
//! A job is one RUN frame of `count` items (1 for `submit`, a chunk for `map`); the
//! worker answers with RESULTS frames covering items `start..start + count`, one frame
//! unless the results would pass the frame limit. The item's bytes are the postcard
//! output for `OK`, the postcard error value for `TASK_ERROR`, and UTF-8 text (a
//! message or a name) for the other statuses. Items carry their own length so one
//! item that fails to deserialize does not lose its neighbours.

use std::io::{self, Read};

use serde::Serialize;

/// The first argument that tells `init()` it runs as a worker.
pub(crate) const WORKER_MARKER: &str = "__weft_process_worker__";
/// Bumped whenever this format changes; a worker of another version is refused.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

pub(crate) const KIND_RUN: u8 = 1;
pub(crate) const KIND_INIT: u8 = 2;
pub(crate) const KIND_HELLO: u8 = 0x10;
pub(crate) const KIND_RESULTS: u8 = 0x11;

pub(crate) const STATUS_OK: u8 = 0;
pub(crate) const STATUS_TASK_ERROR: u8 = 1;
pub(crate) const STATUS_PANICKED: u8 = 2;
pub(crate) const STATUS_NOT_REGISTERED: u8 = 3;
pub(crate) const STATUS_BAD_ARGS: u8 = 4;
pub(crate) const STATUS_TOO_LARGE: u8 = 5;
pub(crate) const STATUS_BAD_OUTPUT: u8 = 6;

/// Bytes of a RESULTS body before its items.
pub(crate) const RESULTS_HEADER: usize = 9;
/// Bytes of one result item before its payload.
pub(crate) const RESULT_ITEM_HEADER: usize = 5;

/// A postcard flavour that appends to a `Vec` it borrows, so one buffer collects a
/// whole chunk without a temporary per item.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    // Inline: without it these are calls into this crate from every task's
    // monomorphized encoder, one or more per item.
    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        // Varints and small strings are a few bytes: a call to `memcpy` for each
        // costs more than the copy (it was a tenth of a `map`'s time).
        if data.len() <= 16 {
            // Byte by byte: a copy loop (or `extend`) of a variable length becomes a
            // `memcpy` call, which for a varint's few bytes costs more than the copy.
            for &byte in data {
                self.0.push(byte);
            }
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline]
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends `value` in postcard to `out`. On error `out` may hold a partial value: the
/// callers truncate back to where they started.
// What `postcard::serialize_with_flavor` does (`Append` needs no `finalize`), spelled
// out so it inlines into the loops over a chunk's items: that function stayed a call
// per item on both sides of a `map`.
#[inline(always)]
pub(crate) fn append<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> postcard::Result<()> {
    value.serialize(&mut postcard::Serializer {
        output: Append(out),
    })
}

/// Deserializes a whole item: bytes left over mean the sender's type was not this
/// one (postcard would otherwise read a prefix of, say, a `u64` as a `u8`).
#[inline]
pub(crate) fn from_bytes_exact<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(left_over(rest.len())),
        Err(error) => Err(malformed(error)),
    }
}

// The messages of `from_bytes_exact`'s errors, out of line: it is inlined into every
// loop over a chunk's items.
#[cold]
#[inline(never)]
fn left_over(bytes: usize) -> String {
    format!("{bytes} bytes left over: the value's type differs from the one expected")
}

#[cold]
#[inline(never)]
fn malformed(error: postcard::Error) -> String {
    error.to_string()
}

/// Builds one RUN or INIT frame item by item.
#[derive(Debug)]
pub(crate) struct JobEncoder {
    frame: Vec<u8>,
    count_at: usize,
    count: u32,
}

impl JobEncoder {
    pub(crate) fn new(kind: u8, name: &str, capacity: usize) -> JobEncoder {
        let mut frame = Vec::with_capacity(capacity.max(64));
        frame.extend_from_slice(&[0; 4]);
        frame.push(kind);
        // Names are Rust paths; a longer one than u16 cannot come from `module_path!`
        // in practice, and is cut rather than corrupting the frame.
        let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
        frame.extend_from_slice(&(name.len() as u16).to_le_bytes());
        frame.extend_from_slice(name);
        let count_at = frame.len();
        frame.extend_from_slice(&[0; 4]);
        JobEncoder {
            frame,
            count_at,
            count: 0,
        }
    }

    /// Bytes so far, header included.
    pub(crate) fn len(&self) -> usize {
        self.frame.len()
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// Appends one item; returns the item's bytes (with its length prefix).
    #[inline]
    pub(crate) fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> postcard::Result<usize> {
        let start = self.frame.len();
        self.frame.extend_from_slice(&[0; 4]);
        if let Err(error) = append(value, &mut self.frame) {
            self.frame.truncate(start);
            return Err(error);
        }
        let len = (self.frame.len() - start - 4) as u32;
        self.frame[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
        Ok(self.frame.len() - start)
    }

    /// Removes the last `bytes` pushed (one item, as `push` measured it) and returns
    /// them, length prefix included, for the next frame.
    pub(crate) fn pop_last(&mut self, bytes: usize) -> Vec<u8> {
        let at = self.frame.len() - bytes;
        self.count -= 1;
        self.frame.split_off(at)
    }

    /// Appends an item already encoded by `push` and taken out by `pop_last`.
    pub(crate) fn push_encoded(&mut self, item: &[u8]) {
        self.frame.extend_from_slice(item);
        self.count += 1;
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let body = (self.frame.len() - 4) as u32;
        self.frame[..4].copy_from_slice(&body.to_le_bytes());
        self.frame[self.count_at..self.count_at + 4].copy_from_slice(&self.count.to_le_bytes());
        self.frame
    }
}

/// A little-endian cursor over a frame body; every read checks bounds.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { rest: bytes }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// One `(len u32, bytes)` item.
    #[inline]
    pub(crate) fn item(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.bytes(len)
    }
}

/// Appends a RESULTS item header (status, length placeholder); returns where the
/// length goes, for [`close_result_item`].
#[inline]
pub(crate) fn open_result_item(out: &mut Vec<u8>, status: u8) -> usize {
    out.push(status);
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

#[inline]
pub(crate) fn close_result_item(out: &mut [u8], len_at: usize) {
    let len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// The item count in a RESULTS frame's header (kind, first index, count), if the
/// header is whole.
#[inline]
pub(crate) fn results_count(body: &[u8]) -> Option<u32> {
    let mut header = Cursor::new(body);
    let (_kind, _start, count) = (header.u8()?, header.u32()?, header.u32()?);
    Some(count)
}

/// The `(status, bytes)` of the RESULTS item at `offset` of `body`, if it is whole;
/// the next item starts [`RESULT_ITEM_HEADER`]` + bytes.len()` further on.
#[inline(always)]
pub(crate) fn result_item(body: &[u8], offset: usize) -> Option<(u8, &[u8])> {
    let (&status, rest) = body.get(offset..)?.split_first()?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let bytes = rest.get(..u32::from_le_bytes(*len) as usize)?;
    Some((status, bytes))
}

/// What [`read_frame`] found.
#[derive(Debug)]
pub(crate) enum FrameRead {
    /// A whole frame body is in the buffer.
    Frame,
    /// The peer closed the connection between frames.
    Eof,
    /// The header announces a body over the limit (nothing more was read).
    TooLarge(usize),
}

/// Reads one frame body into `body` (replacing its contents). An EOF inside a frame
/// is an `UnexpectedEof` error; an EOF before its first byte is [`FrameRead::Eof`].
pub(crate) fn read_frame(
    mut reader: impl Read,
    limit: usize,
    body: &mut Vec<u8>,
) -> io::Result<FrameRead> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(FrameRead::Eof),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > limit {
        return Ok(FrameRead::TooLarge(len));
    }
    body.clear();
    body.reserve_exact(len);
    // Into the spare capacity, without zeroing it first; `take` stops at the frame's
    // end (and answers the end-of-file probe without a system call).
    reader.take(len as u64).read_to_end(body)?;
    if body.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(FrameRead::Frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::future::ItemPosition;

    fn items(frame: &[u8]) -> (u8, String, Vec<Vec<u8>>) {
        let mut cursor = Cursor::new(&frame[4..]);
        let kind = cursor.u8().unwrap();
        let name_len = cursor.u16().unwrap() as usize;
        let name = String::from_utf8(cursor.bytes(name_len).unwrap().to_vec()).unwrap();
        let count = cursor.u32().unwrap();
        let items = (0..count)
            .map(|_| cursor.item().unwrap().to_vec())
            .collect();
        (kind, name, items)
    }

    #[test]
    fn a_job_frame_holds_its_items_back_to_back() {
        let mut encoder = JobEncoder::new(KIND_RUN, "a::task", 0);
        encoder.push(&300u64).unwrap();
        encoder.push(&("x", 1u8)).unwrap();
        let frame = encoder.finish();
        assert_eq!(
            u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        let (kind, name, items) = items(&frame);
        assert_eq!((kind, name.as_str()), (KIND_RUN, "a::task"));
        assert_eq!(from_bytes_exact::<u64>(&items[0]), Ok(300));
        assert_eq!(
            from_bytes_exact::<(String, u8)>(&items[1]),
            Ok(("x".into(), 1))
        );
    }

    #[test]
    fn an_item_moves_to_the_next_frame_whole() {
        let mut first = JobEncoder::new(KIND_RUN, "t", 0);
        first.push(&1u32).unwrap();
        let bytes = first.push(&"carried").unwrap();
        let carried = first.pop_last(bytes);
        let mut second = JobEncoder::new(KIND_RUN, "t", 0);
        second.push_encoded(&carried);
        let (_, _, one) = items(&first.finish());
        let (_, _, two) = items(&second.finish());
        assert_eq!(one.len(), 1);
        assert_eq!(from_bytes_exact::<String>(&two[0]), Ok("carried".into()));
    }

    #[test]
    fn leftover_bytes_are_a_type_mismatch() {
        let mut bytes = Vec::new();
        append(&300u64, &mut bytes).unwrap();
        assert!(
            from_bytes_exact::<u8>(&bytes)
                .unwrap_err()
                .contains("left over")
        );
        assert_eq!(from_bytes_exact::<u64>(&bytes), Ok(300));
    }

    #[test]
    fn frames_are_read_whole_and_checked_against_the_limit() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&3u32.to_le_bytes());
        stream.extend_from_slice(b"abc");
        stream.extend_from_slice(&100u32.to_le_bytes());
        let mut reader = &stream[..];
        let mut body = Vec::new();
        assert!(matches!(
            read_frame(&mut reader, 10, &mut body),
            Ok(FrameRead::Frame)
        ));
        assert_eq!(body, b"abc");
        assert!(matches!(
            read_frame(&mut reader, 10, &mut body),
            Ok(FrameRead::TooLarge(100))
        ));
        let mut empty: &[u8] = &[];
        assert!(matches!(
            read_frame(&mut empty, 10, &mut body),
            Ok(FrameRead::Eof)
        ));
        let mut cut: &[u8] = &[5, 0, 0, 0, 1];
        assert!(read_frame(&mut cut, 10, &mut body).is_err());
    }

    fn results_frame(start: u32, values: &[u64]) -> Vec<u8> {
        let mut body = vec![KIND_RESULTS];
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for value in values {
            let at = open_result_item(&mut body, STATUS_OK);
            append(value, &mut body).unwrap();
            close_result_item(&mut body, at);
        }
        body
    }

    #[test]
    fn results_are_walked_across_frames() {
        let frames = vec![results_frame(0, &[1, 2]), results_frame(2, &[3])];
        let mut position = ItemPosition::default();
        let mut seen = Vec::new();
        while let Some((status, bytes)) = position.next(&frames) {
            assert_eq!(status, STATUS_OK);
            seen.push(from_bytes_exact::<u64>(bytes).unwrap());
        }
        assert_eq!(seen, [1, 2, 3]);
    }
}
