//! Measurement harness shared by `bench/` and `weft-lab`: interleaved rounds, medians
//! and ratios of medians.
