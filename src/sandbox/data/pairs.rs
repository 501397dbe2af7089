//! Parent/child layouts that need no index: pairs of parents share a fixed number of
//! children, so child `k` finds its parent (and a parent its children) in O(1) while each parent
//! still gets a varying number of them (invoices → items, plans → plan items).

use super::World;

/// Splits `n` parents into pairs sharing `per_pair` children (each parent gets between 1 and
/// `per_pair - 1`), so child `k` finds its parent in O(1) and the average is `per_pair / 2`.
/// An odd last parent gets `per_pair / 2` children of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pairs {
    /// Number of parents.
    pub parents: u64,
    /// Children per pair of parents.
    pub per_pair: u64,
}

impl Pairs {
    /// Children of the first parent of pair `m`, drawn from `rng`.
    pub(crate) fn first_share(&self, world: &World, resource: &str, m: u64) -> u64 {
        1 + world
            .rng(resource, m)
            .below("pair.split", self.per_pair - 1)
    }

    /// Total number of children.
    pub(crate) fn children(&self) -> u64 {
        (self.parents / 2) * self.per_pair + (self.parents % 2) * (self.per_pair / 2)
    }

    /// `(parent, slot)` of child `k`.
    pub(crate) fn parent_of(&self, world: &World, resource: &str, k: u64) -> (u64, u64) {
        let m = k / self.per_pair;
        let r = k % self.per_pair;
        if m == self.parents / 2 {
            return (2 * m, r);
        }
        let first = self.first_share(world, resource, m);
        if r < first {
            (2 * m, r)
        } else {
            (2 * m + 1, r - first)
        }
    }

    /// `(first child index, number of children)` of parent `p`.
    pub(crate) fn children_of(&self, world: &World, resource: &str, p: u64) -> (u64, u64) {
        let m = p / 2;
        if m == self.parents / 2 {
            return (m * self.per_pair, self.per_pair / 2);
        }
        let first = self.first_share(world, resource, m);
        if p.is_multiple_of(2) {
            (m * self.per_pair, first)
        } else {
            (m * self.per_pair + first, self.per_pair - first)
        }
    }
}
