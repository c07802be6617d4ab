//! `par_chars`: the characters of a `str`, split at character boundaries.

use super::ParallelIterator;
use super::plumbing::{Folder, UnindexedConsumer, UnindexedProducer, bridge_unindexed};

/// Parallel iterators over the contents of a string.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let text = "héllo wörld";
/// assert_eq!(text.par_chars().filter(|c| !c.is_ascii()).count(), 2);
/// let upper: String = text.par_chars().map(|c| c.to_ascii_uppercase()).collect();
/// assert_eq!(upper, "HéLLO WöRLD");
/// ```
pub trait ParallelString {
    /// The string itself.
    fn as_parallel_string(&self) -> &str;

    /// A parallel iterator over the `char`s, in order.
    fn par_chars(&self) -> Chars<'_> {
        Chars {
            chars: self.as_parallel_string(),
        }
    }
}

impl ParallelString for str {
    fn as_parallel_string(&self) -> &str {
        self
    }
}

/// The iterator of [`ParallelString::par_chars`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    chars: &'a str,
}

/// Strings shorter than this are not split: a piece would be cheaper to scan than to
/// schedule.
const MIN_SPLIT: usize = 64;

impl<'a> ParallelIterator for Chars<'a> {
    type Item = char;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<char>,
    {
        bridge_unindexed(CharsProducer { chars: self.chars }, consumer)
    }
}

struct CharsProducer<'a> {
    chars: &'a str,
}

impl UnindexedProducer for CharsProducer<'_> {
    type Item = char;

    fn split(self) -> (Self, Option<Self>) {
        let len = self.chars.len();
        if len < MIN_SPLIT {
            return (self, None);
        }
        // The first character boundary at or after the middle byte (a boundary is
        // never more than 3 bytes away).
        let mut mid = len / 2;
        while !self.chars.is_char_boundary(mid) {
            mid += 1;
        }
        let (left, right) = self.chars.split_at(mid);
        (
            CharsProducer { chars: left },
            Some(CharsProducer { chars: right }),
        )
    }

    fn fold_with<F>(self, folder: F) -> F
    where
        F: Folder<char>,
    {
        folder.consume_iter(self.chars.chars())
    }
}
