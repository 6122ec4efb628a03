//! PARTIAL (RFC 9394): paged SEARCH results (`RETURN (PARTIAL 1:500)`, `-1:-100` from the
//! newest) in ESEARCH, and the PARTIAL modifier of UID FETCH.
//!
//! Implementation notes:
//! - Results are counted in mailbox order (ascending UID = ascending sequence number), the
//!   first being 1; `-1` is the last. A range is the same either way round (500:400 is
//!   400:500); the response gives it lowest first (`4:2` → `2:4`, `-3:-1` → `-1:-3`), as
//!   Dovecot does and imaptest expects. Positions beyond the results are left out; a range
//!   with none of them answers `NIL` (§3.1).
//! - SORT (RFC 5267 §4.4, CONTEXT=SORT): the same ranges count in sort order, and the
//!   numbers keep that order; only ascending runs of consecutive numbers become `a:b`.
//! - SAVE with PARTIAL (§3.2, table 1): `$` holds what PARTIAL returned, plus MIN and MAX
//!   when asked; with COUNT, every match.
//! - The parser refuses PARTIAL together with ALL or twice (§3.1), and in FETCH without UID
//!   (§3.3).
//! - UID FETCH: the range picks from the messages the UID set names, before CHANGEDSINCE
//!   filters them (§3.4).

use super::response;
use super::types::{PartialRange, SearchReturn};

impl PartialRange {
    /// The positions (0-based) this range picks out of `len` results.
    pub fn positions(&self, len: usize) -> std::ops::Range<usize> {
        let lo = self.first.min(self.last) as usize;
        let hi = self.first.max(self.last) as usize;
        if self.from_end {
            len.saturating_sub(hi)..len.saturating_sub(lo - 1)
        } else {
            (lo - 1).min(len)..hi.min(len)
        }
    }

    /// The items of `all` (in mailbox order) that the range picks.
    pub fn pick<T: Copy>(&self, all: &[T]) -> Vec<T> {
        all[self.positions(all.len())].to_vec()
    }

    /// Lowest first: `1:500`, `-1:-100` (for `500:1`, `-100:-1` too).
    pub fn wire(&self) -> String {
        let (lo, hi) = (self.first.min(self.last), self.first.max(self.last));
        if self.from_end {
            format!("-{lo}:-{hi}")
        } else {
            format!("{lo}:{hi}")
        }
    }
}

/// The PARTIAL option of a RETURN list, if any.
pub(super) fn partial_of(ret: &[SearchReturn]) -> Option<PartialRange> {
    ret.iter().find_map(|r| match r {
        SearchReturn::Partial(p) => Some(*p),
        _ => None,
    })
}

/// ` PARTIAL (range set)` or ` PARTIAL (range NIL)` for an ESEARCH response; `numbers` in
/// ascending order.
pub(super) fn esearch_item(range: &PartialRange, numbers: &[u32]) -> String {
    let picked = range.pick(numbers);
    let set = if picked.is_empty() {
        "NIL".to_string()
    } else {
        let mut s = Vec::new();
        response::sequence_set(&mut s, &picked);
        String::from_utf8_lossy(&s).into_owned()
    };
    format!(" PARTIAL ({} {set})", range.wire())
}

/// ` PARTIAL (range numbers)` for an ESORT response (RFC 5267 §4.4): `sorted` in sort
/// order, which the numbers keep.
pub(super) fn esort_item(range: &PartialRange, sorted: &[u32]) -> String {
    let picked = range.pick(sorted);
    let set = if picked.is_empty() {
        "NIL".to_string()
    } else {
        in_order(&picked)
    };
    format!(" PARTIAL ({} {set})", range.wire())
}

/// Numbers in the order given, ascending runs of consecutive numbers as `a:b`:
/// `5,3,4,2,1` → `5,3:4,2,1`.
pub(super) fn in_order(ns: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j].checked_add(1) == Some(ns[j + 1]) {
            j += 1;
        }
        parts.push(if j == i {
            ns[i].to_string()
        } else {
            format!("{}:{}", ns[i], ns[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// What `$` holds after `SEARCH RETURN (SAVE PARTIAL …)` (RFC 9394 §3.2, table 1), or
/// `None` when PARTIAL does not decide it (no PARTIAL, or COUNT). `uids` ascending.
pub(super) fn saved_with_partial(ret: &[SearchReturn], uids: &[u32]) -> Option<Vec<u32>> {
    let range = partial_of(ret)?;
    if ret.contains(&SearchReturn::Count) {
        return None;
    }
    let mut saved = range.pick(uids);
    if let (true, Some(first)) = (ret.contains(&SearchReturn::Min), uids.first()) {
        saved.push(*first);
    }
    if let (true, Some(last)) = (ret.contains(&SearchReturn::Max), uids.last()) {
        saved.push(*last);
    }
    saved.sort_unstable();
    saved.dedup();
    Some(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(from_end: bool, first: u32, last: u32) -> PartialRange {
        PartialRange {
            from_end,
            first,
            last,
        }
    }

    #[test]
    fn ranges_pick_from_either_end_and_clip() {
        let all: Vec<u32> = (10..20).collect();
        assert_eq!(r(false, 1, 3).pick(&all), vec![10, 11, 12]);
        assert_eq!(r(false, 3, 1).pick(&all), vec![10, 11, 12]);
        assert_eq!(r(false, 9, 15).pick(&all), vec![18, 19]);
        assert_eq!(r(false, 11, 15).pick(&all), Vec::<u32>::new());
        assert_eq!(r(true, 1, 3).pick(&all), vec![17, 18, 19]);
        assert_eq!(r(true, 3, 1).pick(&all), vec![17, 18, 19]);
        assert_eq!(r(true, 9, 15).pick(&all), vec![10, 11]);
        assert_eq!(r(true, 11, 15).pick(&all), Vec::<u32>::new());
        assert_eq!(r(true, 1, 1).pick::<u32>(&[]), Vec::<u32>::new());
        assert_eq!(r(false, 1, u32::MAX).pick(&all), all);
        assert_eq!(r(true, 1, u32::MAX).pick(&all), all);
    }

    #[test]
    fn esearch_items_and_saved_results() {
        let all = [2, 3, 4, 9, 10];
        assert_eq!(esearch_item(&r(false, 2, 4), &all), " PARTIAL (2:4 3:4,9)");
        assert_eq!(esearch_item(&r(true, 1, 2), &all), " PARTIAL (-1:-2 9:10)");
        assert_eq!(esearch_item(&r(true, 2, 1), &all), " PARTIAL (-1:-2 9:10)");
        assert_eq!(esearch_item(&r(false, 4, 2), &all), " PARTIAL (2:4 3:4,9)");
        assert_eq!(esearch_item(&r(false, 6, 9), &all), " PARTIAL (6:9 NIL)");
        use SearchReturn::*;
        let p = Partial(r(false, 2, 3));
        assert_eq!(saved_with_partial(&[Save, p], &all), Some(vec![3, 4]));
        assert_eq!(
            saved_with_partial(&[Save, p, Min], &all),
            Some(vec![2, 3, 4])
        );
        assert_eq!(
            saved_with_partial(&[Save, p, Max, Min], &all),
            Some(vec![2, 3, 4, 10])
        );
        assert_eq!(saved_with_partial(&[Save, p, Count, Min], &all), None);
        assert_eq!(saved_with_partial(&[Save, Min], &all), None);
    }

    #[test]
    fn esort_items_keep_the_sort_order() {
        assert_eq!(in_order(&[5, 3, 4, 2, 1]), "5,3:4,2,1");
        assert_eq!(in_order(&[1, 2, 3]), "1:3");
        assert_eq!(in_order(&[3, 2, 1]), "3,2,1");
        assert_eq!(in_order(&[u32::MAX, 1]), "4294967295,1");
        let sorted = [5, 3, 4, 2, 1];
        assert_eq!(esort_item(&r(false, 2, 4), &sorted), " PARTIAL (2:4 3:4,2)");
        assert_eq!(esort_item(&r(false, 4, 2), &sorted), " PARTIAL (2:4 3:4,2)");
        assert_eq!(esort_item(&r(true, 1, 2), &sorted), " PARTIAL (-1:-2 2,1)");
        assert_eq!(esort_item(&r(false, 6, 9), &sorted), " PARTIAL (6:9 NIL)");
    }
}
