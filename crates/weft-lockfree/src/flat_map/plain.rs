//! `Plain`: the bound that lets a [`FlatMap`](super::FlatMap) copy keys and values
//! word by word while a writer may be changing them.

/// Plain data: a type whose values are nothing but their bytes.
///
/// [`FlatMap`](super::FlatMap) stores keys and values inline in its buckets and reads
/// them by copy, word by word, with relaxed atomic loads that may race with a writer
/// updating the same bucket. A read that raced is thrown away, but only after it was
/// made, and for keys after the key was compared. So the map needs every type it
/// copies to satisfy both halves of this contract (bytemuck's `NoUninit` and
/// `AnyBitPattern`, together its `Pod`):
///
/// 1. **No uninitialized bytes.** Every byte of every value is initialized: no
///    padding, no `MaybeUninit`, no unions with uninit parts. A writer turns the value
///    into machine words, and reading an uninitialized byte as an integer is undefined
///    behaviour.
/// 2. **Every bit pattern is a value.** Any `size_of::<Self>()` bytes form a valid
///    `Self`: no `bool`, `char`, enums, references, `NonZero*`. A reader that raced
///    with a writer may assemble a key from the words of two different keys (a *torn*
///    copy); it compares that copy with `Eq` before it finds out, so the copy must be a
///    valid value, whose comparison just answers wrong.
///
/// `Copy + 'static` also rules out destructors and borrowed data, so copies are free
/// to be made and dropped anywhere.
///
/// # Safety
///
/// Implement it only for types that satisfy both rules above. A `#[repr(C)]` (or
/// `#[repr(transparent)]`) struct whose fields all implement `Plain` and that has no
/// padding between or after them qualifies; a `#[repr(Rust)]` struct does not, since
/// its layout (and so its padding) is not promised. Tuples are not implemented for the
/// same reason: `(u32, u64)` has padding.
///
/// # Examples
///
/// ```
/// use weft_lockfree::{FlatMap, Plain};
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// // SAFETY: `repr(C)`, two `i32`s, no padding; any 8 bytes are two `i32`s.
/// unsafe impl Plain for Point {}
///
/// let map = FlatMap::new();
/// map.insert(1u64, Point { x: 3, y: 4 });
/// assert_eq!(map.get(&1), Some(Point { x: 3, y: 4 }));
/// ```
pub unsafe trait Plain: Copy + 'static {}

macro_rules! plain {
    ($($ty:ty),* $(,)?) => {
        $(
            // SAFETY: a primitive number: no padding, and every bit pattern is a value.
            unsafe impl Plain for $ty {}
        )*
    };
}

plain!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

// SAFETY: zero bytes: nothing uninitialized, and the one bit pattern is the value.
unsafe impl Plain for () {}

// SAFETY: an array has no padding between its elements (its size is `N` times the
// element's, whose own size already includes any alignment), so it is plain exactly
// when its element is.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

// SAFETY: `repr(transparent)` over a plain `T`.
unsafe impl<T: Plain> Plain for core::num::Wrapping<T> {}
