//! The `#[weft::main]` and `#[weft::test]` attributes.

#![warn(missing_docs)]
