//! Stateless, seeded randomness for the generated practice.
//!
//! Every value of every generated record is a pure function of `(seed, practice, resource,
//! index, field)`: a record can be produced on its own, in any order, without generating the
//! records before it. That is what lets a scale-1000 sandbox serve page 5,000 of patients without
//! materialising anything, and what makes two sandboxes with one seed byte-identical.
//!
//! The mixer is splitmix64; names are folded in with FNV-1a so each field draws from its own
//! stream (adding a field never changes the values of the others).

/// The splitmix64 finaliser: a fast, well-mixed 64-bit hash step.
pub(crate) const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a name, so string keys become stream selectors.
pub(crate) const fn tag(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// A position in the random space: one record (or one sub-record), from which fields draw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of record `index` of `resource` in `practice`.
    pub(crate) fn record(seed: u64, practice: u32, resource: &str, index: u64) -> Rng {
        let base = splitmix64(seed ^ splitmix64(u64::from(practice).wrapping_add(0x5A5A)));
        Rng {
            state: splitmix64(base ^ tag(resource)).wrapping_add(splitmix64(index)),
        }
    }

    /// A derived stream (a sub-record such as an invoice item slot, or a simulated day).
    pub(crate) fn child(&self, name: &str, k: u64) -> Rng {
        Rng {
            state: splitmix64(self.state ^ tag(name)).wrapping_add(splitmix64(k ^ 0x00C0_FFEE)),
        }
    }

    /// 64 random bits for `field`.
    pub(crate) fn bits(&self, field: &str) -> u64 {
        splitmix64(self.state ^ tag(field))
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&self, field: &str, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.bits(field)) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&self, field: &str, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(field, (hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&self, field: &str) -> f64 {
        (self.bits(field) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&self, field: &str, p: f64) -> bool {
        self.unit(field) < p
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&self, field: &str, items: &'a [T]) -> &'a T {
        &items[self.below(field, items.len() as u64) as usize]
    }

    /// One element of a weighted list `(item, weight)`.
    pub(crate) fn weighted<'a, T>(&self, field: &str, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(field, total);
        for (item, weight) in items {
            if roll < u64::from(*weight) {
                return item;
            }
            roll -= u64::from(*weight);
        }
        &items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_independent() {
        let a = Rng::record(1, 1, "patients", 7);
        let b = Rng::record(1, 1, "patients", 7);
        assert_eq!(a.bits("x"), b.bits("x"));
        assert_ne!(a.bits("x"), a.bits("y"));
        assert_ne!(a.bits("x"), Rng::record(1, 2, "patients", 7).bits("x"));
        assert_ne!(a.bits("x"), Rng::record(2, 1, "patients", 7).bits("x"));
        assert_ne!(a.bits("x"), Rng::record(1, 1, "patients", 8).bits("x"));
    }

    #[test]
    fn ranges_stay_in_bounds() {
        for i in 0..1000 {
            let r = Rng::record(3, 1, "t", i);
            assert!(r.below("b", 7) < 7);
            let v = r.range("r", -3, 3);
            assert!((-3..=3).contains(&v));
            let u = r.unit("u");
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(Rng::record(1, 1, "t", 0).below("z", 0), 0);
    }

    #[test]
    fn weighted_respects_zero_weights() {
        for i in 0..200 {
            let r = Rng::record(1, 1, "w", i);
            assert_eq!(*r.weighted("k", &[("a", 0), ("b", 5)]), "b");
        }
    }
}
