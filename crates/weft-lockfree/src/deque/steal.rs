//! `Steal<T>`: the outcome of one attempt to take work from another thread's queue.

use core::iter::FromIterator;

/// The outcome of a steal: the queue was empty, an item was taken, or the attempt lost
/// a race with another thread and may be retried.
///
/// `Retry` never means the queue is blocked: some other thread made progress (took an
/// item, or moved the queue's head) in the meantime, which is what makes stealing
/// lock-free.
///
/// # Examples
///
/// ```
/// use weft_lockfree::deque::Steal;
///
/// let nothing: Steal<i32> = Steal::Empty;
/// assert_eq!(nothing.or_else(|| Steal::Success(7)), Steal::Success(7));
/// assert!(Steal::<i32>::Retry.is_retry());
/// ```
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Steal<T> {
    /// The queue was empty when it was looked at.
    Empty,
    /// An item was taken.
    Success(T),
    /// Lost a race with another thread; trying again may succeed.
    Retry,
}

impl<T> Steal<T> {
    /// `true` if the queue was empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Steal;
    /// assert!(Steal::<()>::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, Steal::Empty)
    }

    /// `true` if an item was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Steal;
    /// assert!(Steal::Success(1).is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, Steal::Success(_))
    }

    /// `true` if the attempt lost a race and should be retried.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Steal;
    /// assert!(Steal::<()>::Retry.is_retry());
    /// ```
    pub fn is_retry(&self) -> bool {
        matches!(self, Steal::Retry)
    }

    /// The taken item, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Steal;
    /// assert_eq!(Steal::Success(3).success(), Some(3));
    /// assert_eq!(Steal::<i32>::Retry.success(), None);
    /// ```
    pub fn success(self) -> Option<T> {
        match self {
            Steal::Success(value) => Some(value),
            _ => None,
        }
    }

    /// `self` if it is a success, else the result of `f`; a `Retry` from either side is
    /// kept (not turned into `Empty`), so a caller that walks several queues learns that
    /// one of them deserves another look.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Steal;
    ///
    /// assert_eq!(Steal::Success(1).or_else(|| Steal::Success(2)), Steal::Success(1));
    /// assert_eq!(Steal::<i32>::Retry.or_else(|| Steal::Empty), Steal::Retry);
    /// assert_eq!(Steal::<i32>::Empty.or_else(|| Steal::Retry), Steal::Retry);
    /// ```
    pub fn or_else<F: FnOnce() -> Steal<T>>(self, f: F) -> Steal<T> {
        match self {
            Steal::Success(_) => self,
            Steal::Empty => f(),
            Steal::Retry => match f() {
                Steal::Success(value) => Steal::Success(value),
                _ => Steal::Retry,
            },
        }
    }
}

/// The first `Success` of the iterator (which is not consumed further); failing that,
/// `Retry` if any attempt asked for one, else `Empty`.
///
/// # Examples
///
/// ```
/// use weft_lockfree::deque::Steal;
///
/// let all: Steal<i32> = vec![Steal::Empty, Steal::Retry, Steal::Empty].into_iter().collect();
/// assert_eq!(all, Steal::Retry);
/// let first: Steal<i32> = vec![Steal::Retry, Steal::Success(4)].into_iter().collect();
/// assert_eq!(first, Steal::Success(4));
/// ```
impl<T> FromIterator<Steal<T>> for Steal<T> {
    fn from_iter<I: IntoIterator<Item = Steal<T>>>(iter: I) -> Steal<T> {
        let mut saw_retry = false;
        for attempt in iter {
            match attempt {
                Steal::Success(value) => return Steal::Success(value),
                Steal::Retry => saw_retry = true,
                Steal::Empty => {}
            }
        }
        if saw_retry {
            Steal::Retry
        } else {
            Steal::Empty
        }
    }
}
