//! A timing wheel: the deadlines of every probe a sweep has out, in one structure, with
//! no timer per probe. Deadlines fall into 1 ms slots of a ring of 8,192 (8 s ahead); a
//! deadline further out is kept in its slot until its lap comes round. Inserting is O(1);
//! expiring walks the slots passed since the last call.
//!
//! Entries live in one slab, each slot a list through it, and a due entry's place is
//! reused by the next insert: the wheel holds room for the most entries ever waiting at
//! once and allocates nothing after that. (With a vector per slot, every slot kept the
//! room of the largest burst it met, and the allocator's churn of growing and shrinking
//! them left an engine's heap mostly holes: a `-p-` of a /24 held 40 MiB an engine for
//! 8 MiB in use.)

use std::time::{Duration, Instant};

const SLOTS: usize = 8192;
const TICK: Duration = Duration::from_millis(1);
/// The end of a list.
const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<T> {
    at: Instant,
    item: T,
    /// The next entry of the same slot, or of the free list.
    next: u32,
}

#[derive(Debug)]
pub(crate) struct Wheel<T> {
    /// The first entry of each slot's list.
    heads: Vec<u32>,
    nodes: Vec<Node<T>>,
    /// The first unused node.
    free: u32,
    origin: Instant,
    /// Every slot before this tick has been expired (this one only up to the last call).
    cursor: u64,
    len: usize,
}

impl<T: Copy> Wheel<T> {
    pub fn new(now: Instant) -> Self {
        Wheel {
            heads: vec![NIL; SLOTS],
            nodes: Vec::new(),
            free: NIL,
            origin: now,
            cursor: 0,
            len: 0,
        }
    }

    fn tick_of(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_micros() / TICK.as_micros()) as u64
    }

    /// Entries waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room for entries.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.nodes.len()
    }

    /// Adds `item`, due at `at` (a deadline already past is due at the next expiry).
    pub fn insert(&mut self, at: Instant, item: T) {
        let tick = self.tick_of(at).max(self.cursor);
        let slot = (tick % SLOTS as u64) as usize;
        let next = self.heads[slot];
        let index = match self.nodes.get_mut(self.free as usize) {
            Some(node) => {
                let index = self.free;
                self.free = node.next;
                *node = Node { at, item, next };
                index
            }
            None => {
                // u32::MAX entries would be 100 GiB of them: the slab never gets there.
                let index = u32::try_from(self.nodes.len()).unwrap_or(NIL - 1);
                self.nodes.push(Node { at, item, next });
                index
            }
        };
        self.heads[slot] = index;
        self.len += 1;
    }

    /// Moves every entry due by `now` into `out` (in no particular order within a tick).
    pub fn expire(&mut self, now: Instant, out: &mut Vec<T>) {
        let target = self.tick_of(now);
        // A gap longer than a lap visits every slot once. The current tick's slot is
        // visited again next time: it may hold entries due later within the tick.
        let end = target.min(self.cursor + SLOTS as u64 - 1);
        loop {
            let slot = (self.cursor % SLOTS as u64) as usize;
            let mut prev = NIL;
            let mut at = self.heads[slot];
            while let Some(node) = self.nodes.get(at as usize) {
                let next = node.next;
                if node.at <= now {
                    out.push(node.item);
                    match self.nodes.get_mut(prev as usize) {
                        Some(p) => p.next = next,
                        None => self.heads[slot] = next,
                    }
                    if let Some(n) = self.nodes.get_mut(at as usize) {
                        n.next = self.free;
                    }
                    self.free = at;
                    self.len -= 1;
                } else {
                    prev = at;
                }
                at = next;
            }
            if self.cursor >= end {
                break;
            }
            self.cursor += 1;
        }
        self.cursor = self.cursor.max(target);
    }

    /// The deadlines in one slot.
    fn slot(&self, slot: usize) -> impl Iterator<Item = Instant> + '_ {
        let mut at = self.heads[slot];
        std::iter::from_fn(move || {
            let node = self.nodes.get(at as usize)?;
            at = node.next;
            Some(node.at)
        })
    }

    /// The earliest tick that holds an entry, as an instant (at most a lap ahead): how long
    /// a sweep with nothing else to do may sleep.
    pub fn next_due(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        // The first slot holding an entry of its current lap (a slot also holds entries of
        // later laps); failing that, the earliest entry of all.
        (0..SLOTS as u64)
            .find_map(|i| {
                let tick = self.cursor + i;
                let lap_end = self.origin + TICK * u32::try_from(tick + 1).unwrap_or(u32::MAX);
                self.slot((tick % SLOTS as u64) as usize)
                    .filter(|&at| at < lap_end)
                    .min()
            })
            .or_else(|| (0..SLOTS).flat_map(|s| self.slot(s)).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A due entry's room is reused: the wheel holds room for the most entries waiting at
    /// once, not for every entry ever inserted nor for each slot's largest burst.
    #[test]
    fn due_entries_make_room_for_new_ones() {
        let t0 = Instant::now();
        let mut w = Wheel::new(t0);
        let mut out = Vec::new();
        for burst in 0..1000u64 {
            for i in 0..100u64 {
                w.insert(t0 + ms(burst), i);
            }
            w.insert(t0 + ms(burst + 20_000), burst);
            out.clear();
            w.expire(t0 + ms(burst), &mut out);
            assert_eq!(out.len(), 100, "burst {burst}");
        }
        assert_eq!(w.len(), 1000, "the far entries wait");
        assert!(
            w.capacity() <= 1000 + 100,
            "{} entries of room",
            w.capacity()
        );
        out.clear();
        w.expire(t0 + ms(30_000), &mut out);
        out.sort_unstable();
        assert_eq!(out, (0..1000).collect::<Vec<u64>>());
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn entries_come_out_when_due_and_not_before() {
        let t0 = Instant::now();
        let mut w = Wheel::new(t0);
        w.insert(t0 + ms(5), "a");
        w.insert(t0 + ms(2), "b");
        w.insert(t0 + ms(2) + Duration::from_micros(500), "c");
        w.insert(t0 + ms(9000), "far");
        w.insert(t0 + ms(8193), "next lap, slot 1");
        w.insert(t0, "now");
        assert_eq!(w.len(), 6);
        assert_eq!(w.next_due(), Some(t0));
        let mut out = Vec::new();
        w.expire(t0 + ms(1), &mut out);
        assert_eq!(out, vec!["now"]);
        out.clear();
        w.expire(t0 + ms(2), &mut out);
        assert_eq!(out, vec!["b"], "c is due half a tick later");
        assert_eq!(
            w.next_due(),
            Some(t0 + ms(2) + Duration::from_micros(500)),
            "not the next lap's entry in an earlier slot"
        );
        out.clear();
        w.expire(t0 + ms(3), &mut out);
        assert_eq!(out, vec!["c"]);
        assert_eq!(w.next_due(), Some(t0 + ms(5)));
        out.clear();
        // a long sleep: everything due comes out, the next lap's entry stays
        w.expire(t0 + ms(8500), &mut out);
        assert_eq!(out, vec!["a", "next lap, slot 1"]);
        assert_eq!(w.len(), 1);
        out.clear();
        w.expire(t0 + ms(9000), &mut out);
        assert_eq!(out, vec!["far"]);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_due(), None);
        // a deadline in the past is due at once
        w.insert(t0, "late");
        out.clear();
        w.expire(t0 + ms(9000), &mut out);
        assert_eq!(out, vec!["late"]);
    }
}
