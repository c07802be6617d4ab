//! The simulation's pseudo-random numbers: SplitMix64 (Steele, Lea and Flood, "Fast
//! splittable pseudorandom number generators", OOPSLA 2014; the finaliser constants
//! are Vigna's). Small, seedable with any `u64` (zero included), and the same on
//! every platform, which is all a replayable scheduler needs.

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-and-shift: the bias is
    /// below `n / 2^64`, far under anything a scheduler could notice.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0, "below(0)");
        let wide = u128::from(self.next_u64()) * n as u128;
        // The high half of a 64 x 64-bit product of a value below 2^64 and `n` is
        // below `n`, so it fits a usize.
        (wide >> 64) as usize
    }
}

/// SplitMix64's finaliser: a bijective mix of all 64 bits, also used to fold the
/// trace into its hash.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_sequence_and_seeds_differ() {
        let first: Vec<u64> = {
            let mut rng = SplitMix64::new(7);
            (0..8).map(|_| rng.next_u64()).collect()
        };
        let again: Vec<u64> = {
            let mut rng = SplitMix64::new(7);
            (0..8).map(|_| rng.next_u64()).collect()
        };
        let other: Vec<u64> = {
            let mut rng = SplitMix64::new(8);
            (0..8).map(|_| rng.next_u64()).collect()
        };
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn below_stays_in_range_and_reaches_every_value() {
        let mut rng = SplitMix64::new(0);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            let pick = rng.below(5);
            seen[pick] += 1;
        }
        assert!(seen.iter().all(|&count| count > 100), "{seen:?}");
        assert_eq!(rng.below(1), 0);
    }
}
