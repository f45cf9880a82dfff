//! A timing wheel: the deadlines of every probe a sweep has out, in one structure, with
//! no timer per probe. Deadlines fall into 1 ms slots of a ring of 8,192 (8 s ahead); a
//! deadline further out is kept in its slot until its lap comes round. Inserting is O(1);
//! expiring walks the slots passed since the last call.

use std::time::{Duration, Instant};

const SLOTS: usize = 8192;
const TICK: Duration = Duration::from_millis(1);

#[derive(Debug)]
pub(crate) struct Wheel<T> {
    slots: Vec<Vec<(Instant, T)>>,
    origin: Instant,
    /// Every slot before this tick has been expired (this one only up to the last call).
    cursor: u64,
    len: usize,
}

impl<T> Wheel<T> {
    pub fn new(now: Instant) -> Self {
        Wheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
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

    /// Adds `item`, due at `at` (a deadline already past is due at the next expiry).
    pub fn insert(&mut self, at: Instant, item: T) {
        let tick = self.tick_of(at).max(self.cursor);
        self.slots[(tick % SLOTS as u64) as usize].push((at, item));
        self.len += 1;
    }

    /// Moves every entry due by `now` into `out` (in no particular order within a tick).
    pub fn expire(&mut self, now: Instant, out: &mut Vec<T>) {
        let target = self.tick_of(now);
        // A gap longer than a lap visits every slot once. The current tick's slot is
        // visited again next time: it may hold entries due later within the tick.
        let end = target.min(self.cursor + SLOTS as u64 - 1);
        loop {
            let slot = &mut self.slots[(self.cursor % SLOTS as u64) as usize];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].0 <= now {
                    out.push(slot.swap_remove(i).1);
                    self.len -= 1;
                } else {
                    i += 1;
                }
            }
            if self.cursor >= end {
                break;
            }
            self.cursor += 1;
        }
        self.cursor = self.cursor.max(target);
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
                let slot = &self.slots[(tick % SLOTS as u64) as usize];
                slot.iter().map(|e| e.0).filter(|&at| at < lap_end).min()
            })
            .or_else(|| self.slots.iter().flatten().map(|e| e.0).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
