//! THREAD (RFC 5256 §3, §4): ORDEREDSUBJECT and REFERENCES, and the `thread-list`
//! response syntax.
//!
//! Implementation notes:
//! - "Sent date" is the `Date:` header, else the internal date; equal dates are ordered
//!   by sequence number (or UID), as RFC 5256 asks.
//! - Message ids compare as octets after trimming; a missing or duplicate Message-ID gets
//!   a fresh, unique container (RFC 5256 §4 step 1A).
//! - REFERENCES follows the RFC's steps: link (1), root set (2), prune dummies (4), sort
//!   roots (5), merge by base subject (6), sort all siblings (7). Containers live in an
//!   arena indexed by `usize`, so there are no reference cycles to manage.

use std::collections::HashMap;

use super::sort::{extract_base_subject, msg_ids, SortInput};

/// Deepest thread level returned as a tree (see `Arena::to_thread`).
pub const MAX_THREAD_DEPTH: usize = 200;

/// One node of a thread: a message, or (REFERENCES only) a dummy standing for a message
/// that is referenced but absent, with its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// `None` for a dummy.
    pub id: Option<u32>,
    pub children: Vec<Thread>,
}

impl Thread {
    pub fn leaf(id: u32) -> Self {
        Thread {
            id: Some(id),
            children: Vec::new(),
        }
    }
}

/// `thread-data` for a list of threads: `(3 6 (4 23)(44 7 96))` — a single child follows
/// its parent after a space, several children each go in parentheses.
pub fn write_threads(out: &mut Vec<u8>, threads: &[Thread]) {
    for t in threads {
        out.push(b'(');
        write_node(out, t);
        out.push(b')');
    }
}

fn write_node(out: &mut Vec<u8>, node: &Thread) {
    if let Some(id) = node.id {
        out.extend_from_slice(id.to_string().as_bytes());
    }
    match node.children.as_slice() {
        [] => {}
        [only] => {
            if node.id.is_some() {
                out.push(b' ');
            }
            write_node(out, only);
        }
        many => {
            if node.id.is_some() {
                out.push(b' ');
            }
            write_threads(out, many);
        }
    }
}

fn sent(item: &SortInput) -> (i64, u32) {
    (item.date.unwrap_or(item.arrival), item.seq_or_uid)
}

/// ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject; in each thread the
/// first message (by sent date) is the parent of all the others; threads ordered by
/// their first message's sent date.
pub fn thread_orderedsubject(items: &[SortInput]) -> Vec<Thread> {
    let mut keyed: Vec<(String, (i64, u32))> = items
        .iter()
        .map(|i| (extract_base_subject(&i.subject).0, sent(i)))
        .collect();
    keyed.sort();
    let mut threads: Vec<((i64, u32), Thread)> = Vec::new();
    let mut current: Option<(&str, (i64, u32), Thread)> = None;
    for (subject, key) in &keyed {
        match &mut current {
            Some((s, _, t)) if *s == subject.as_str() => t.children.push(Thread::leaf(key.1)),
            _ => {
                if let Some((_, k, t)) = current.take() {
                    threads.push((k, t));
                }
                current = Some((subject, *key, Thread::leaf(key.1)));
            }
        }
    }
    if let Some((_, k, t)) = current {
        threads.push((k, t));
    }
    threads.sort_by_key(|(k, _)| *k);
    threads.into_iter().map(|(_, t)| t).collect()
}

#[derive(Debug, Default)]
struct Container {
    /// Index into the input.
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Arena<'i> {
    items: &'i [SortInput],
    c: Vec<Container>,
}

impl Arena<'_> {
    fn new_container(&mut self) -> usize {
        self.c.push(Container::default());
        self.c.len() - 1
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        let mut steps = 0;
        while let Some(x) = cur {
            if x == a {
                return true;
            }
            steps += 1;
            if steps > self.c.len() {
                return true;
            }
            cur = self.c.get(x).and_then(|c| c.parent);
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.c.get(child).and_then(|c| c.parent) {
            if let Some(pc) = self.c.get_mut(p) {
                pc.children.retain(|&x| x != child);
            }
        }
        if let Some(c) = self.c.get_mut(child) {
            c.parent = None;
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        if let Some(c) = self.c.get_mut(child) {
            c.parent = Some(parent);
        }
        if let Some(p) = self.c.get_mut(parent) {
            p.children.push(child);
        }
    }

    fn item(&self, x: usize) -> Option<&SortInput> {
        self.c
            .get(x)
            .and_then(|c| c.msg)
            .and_then(|m| self.items.get(m))
    }

    fn is_dummy(&self, x: usize) -> bool {
        self.item(x).is_none()
    }

    fn children(&self, x: usize) -> Vec<usize> {
        self.c
            .get(x)
            .map(|c| c.children.clone())
            .unwrap_or_default()
    }

    /// The sort key of a container: its message's, or for a dummy its first child's.
    fn key(&self, x: usize) -> (i64, u32) {
        let mut cur = x;
        for _ in 0..=self.c.len() {
            if let Some(i) = self.item(cur) {
                return sent(i);
            }
            match self.c.get(cur).and_then(|c| c.children.first()) {
                Some(&first) => cur = first,
                None => break,
            }
        }
        (i64::MAX, u32::MAX)
    }

    fn sort_siblings(&mut self, list: &mut [usize]) {
        list.sort_by_key(|&x| self.key(x));
    }

    /// RFC 5256 step 7: sorts every set of siblings. Dummies only remain at the root, with
    /// message children, so each set can be sorted on its own, without recursion.
    fn sort_all(&mut self) {
        for x in 0..self.c.len() {
            let mut kids = self.children(x);
            self.sort_siblings(&mut kids);
            if let Some(c) = self.c.get_mut(x) {
                c.children = kids;
            }
        }
    }

    /// The children of `x` with every dummy below it replaced by its own (so replaced)
    /// children; childless dummies vanish.
    fn effective_children(&self, x: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.children(x).into_iter().rev().collect();
        while let Some(c) = stack.pop() {
            if self.is_dummy(c) {
                stack.extend(self.children(c).into_iter().rev());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// RFC 5256 step 4, without recursion (reference chains can be thousands deep):
    /// dummies below the root are spliced out; a dummy root with no children is dropped,
    /// with one child is replaced by it.
    fn prune(&mut self, roots: Vec<usize>) -> Vec<usize> {
        let new: Vec<Vec<usize>> = (0..self.c.len())
            .map(|x| {
                let is_root = self.c.get(x).is_some_and(|c| c.parent.is_none());
                if self.is_dummy(x) && !is_root {
                    Vec::new()
                } else {
                    self.effective_children(x)
                }
            })
            .collect();
        for (x, kids) in new.into_iter().enumerate() {
            for &k in &kids {
                if let Some(c) = self.c.get_mut(k) {
                    c.parent = Some(x);
                }
            }
            if let Some(c) = self.c.get_mut(x) {
                c.children = kids;
            }
        }
        let mut out = Vec::new();
        for r in roots {
            let kids = self.children(r);
            if !self.is_dummy(r) || kids.len() > 1 {
                out.push(r);
            } else if let [only] = kids.as_slice() {
                if let Some(c) = self.c.get_mut(*only) {
                    c.parent = None;
                }
                out.push(*only);
            }
        }
        out
    }

    /// The subject of a root: its message's or its first child's (for a dummy).
    fn subject(&self, x: usize) -> (String, bool) {
        let m = match self.item(x) {
            Some(i) => Some(i),
            None => self.children(x).first().and_then(|&c| self.item(c)),
        };
        m.map(|i| extract_base_subject(&i.subject))
            .unwrap_or_default()
    }

    /// The thread below `x`. Below `MAX_THREAD_DEPTH` levels the descendants are listed
    /// flat, in order, as children of the deepest node: the result is walked and dropped
    /// recursively, and the stack must stay bounded whatever the References say.
    fn to_thread(&self, x: usize, depth: usize) -> Thread {
        let children = if depth + 2 >= MAX_THREAD_DEPTH {
            let mut flat = Vec::new();
            let mut stack: Vec<usize> = self.children(x).into_iter().rev().collect();
            while let Some(c) = stack.pop() {
                flat.push(c);
                stack.extend(self.children(c).into_iter().rev());
            }
            flat.sort_by_key(|&c| self.key(c));
            flat.into_iter()
                .map(|c| Thread {
                    id: self.item(c).map(|i| i.seq_or_uid),
                    children: Vec::new(),
                })
                .collect()
        } else {
            self.children(x)
                .iter()
                .map(|&k| self.to_thread(k, depth + 1))
                .collect()
        };
        Thread {
            id: self.item(x).map(|i| i.seq_or_uid),
            children,
        }
    }
}

fn norm_id(id: &str) -> String {
    id.split_whitespace().collect()
}

/// REFERENCES (RFC 5256 §4).
pub fn thread_references(items: &[SortInput]) -> Vec<Thread> {
    let mut a = Arena {
        items,
        c: Vec::new(),
    };
    let mut table: HashMap<String, usize> = HashMap::new();
    let mut get = |a: &mut Arena<'_>, id: &str| -> usize {
        match table.get(id) {
            Some(&x) => x,
            None => {
                let x = a.new_container();
                table.insert(id.to_string(), x);
                x
            }
        }
    };
    // (1) link.
    for (index, item) in items.iter().enumerate() {
        // (1A) the message's own container.
        let own_id = item
            .message_id
            .as_deref()
            .map(norm_id)
            .filter(|s| !s.is_empty());
        let me = match own_id {
            Some(id) => {
                let x = get(&mut a, &id);
                if a.c.get(x).is_some_and(|c| c.msg.is_some()) {
                    a.new_container()
                } else {
                    x
                }
            }
            None => a.new_container(),
        };
        if let Some(c) = a.c.get_mut(me) {
            c.msg = Some(index);
        }
        // (1B) references, or the first id of In-Reply-To.
        let mut refs: Vec<String> = item
            .references
            .iter()
            .map(|r| norm_id(r))
            .filter(|r| !r.is_empty())
            .collect();
        if refs.is_empty() {
            refs = item
                .in_reply_to
                .as_deref()
                .and_then(|v| msg_ids(v).into_iter().next())
                .map(|r| norm_id(&r))
                .into_iter()
                .collect();
        }
        let chain: Vec<usize> = refs.iter().map(|r| get(&mut a, r)).collect();
        for pair in chain.windows(2) {
            if let [p, c] = *pair {
                let has_parent = a.c.get(c).is_some_and(|x| x.parent.is_some());
                if !has_parent && !a.is_ancestor(c, p) {
                    a.link(p, c);
                }
            }
        }
        // (1C) the last reference is the parent, replacing any earlier guess: the guess is
        // dropped even when the new link would make a loop and is not made either.
        a.unlink(me);
        if let Some(&p) = chain.last() {
            if !a.is_ancestor(me, p) {
                a.link(p, me);
            }
        }
    }
    // (2) root set; (3) the id table is no longer needed.
    let roots: Vec<usize> = (0..a.c.len())
        .filter(|&x| a.c.get(x).is_some_and(|c| c.parent.is_none()))
        .collect();
    // (4) prune dummies.
    let mut roots = a.prune(roots);
    // (5) sort the root set (a dummy by its earliest child).
    for &r in &roots {
        if a.is_dummy(r) {
            let mut kids = a.children(r);
            a.sort_siblings(&mut kids);
            if let Some(c) = a.c.get_mut(r) {
                c.children = kids;
            }
        }
    }
    a.sort_siblings(&mut roots);
    // (6) gather roots with the same base subject.
    let roots = merge_by_subject(&mut a, roots);
    // (7) sort every set of siblings, then the roots again.
    let mut roots = roots;
    a.sort_all();
    a.sort_siblings(&mut roots);
    roots.iter().map(|&r| a.to_thread(r, 0)).collect()
}

/// RFC 5256 §4 step 6.
fn merge_by_subject(a: &mut Arena<'_>, roots: Vec<usize>) -> Vec<usize> {
    // (6A, 6B) one root per subject, preferring a dummy, then a non-reply.
    let mut subjects: HashMap<String, usize> = HashMap::new();
    for &r in &roots {
        let (subject, reply) = a.subject(r);
        if subject.is_empty() {
            continue;
        }
        match subjects.get(&subject).copied() {
            None => {
                subjects.insert(subject, r);
            }
            Some(old) => {
                let replace = (a.is_dummy(r) && !a.is_dummy(old))
                    || (!a.is_dummy(r) && !a.is_dummy(old) && a.subject(old).1 && !reply);
                if replace {
                    subjects.insert(subject, r);
                }
            }
        }
    }
    // (6C) merge the others into it.
    let mut out: Vec<usize> = Vec::new();
    let mut replaced: HashMap<usize, usize> = HashMap::new();
    for &r in &roots {
        let (subject, reply) = a.subject(r);
        let Some(&entry) = subjects.get(&subject).filter(|_| !subject.is_empty()) else {
            out.push(r);
            continue;
        };
        if entry == r {
            out.push(r);
            continue;
        }
        if a.is_dummy(entry) && a.is_dummy(r) {
            for k in a.children(r) {
                a.link(entry, k);
            }
        } else if a.is_dummy(entry) || (!a.is_dummy(r) && reply && !a.subject(entry).1) {
            // Under a dummy, or a reply under the original: a sibling of its children.
            a.link(entry, r);
        } else {
            // A new dummy takes the entry's place, with both below it.
            let d = a.new_container();
            a.link(d, entry);
            a.link(d, r);
            subjects.insert(subject, d);
            replaced.insert(entry, d);
        }
    }
    // Entries that were replaced by a dummy are represented by it in the root set.
    let mut result = Vec::new();
    for r in out {
        let mut x = r;
        while let Some(&d) = replaced.get(&x) {
            x = d;
        }
        if !result.contains(&x) {
            result.push(x);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(threads: &[Thread]) -> String {
        let mut out = Vec::new();
        write_threads(&mut out, threads);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn chain(ids: &[u32], tail: Vec<Thread>) -> Thread {
        match ids {
            [] => Thread {
                id: None,
                children: tail,
            },
            [last] => Thread {
                id: Some(*last),
                children: tail,
            },
            [first, rest @ ..] => Thread {
                id: Some(*first),
                children: vec![chain(rest, tail)],
            },
        }
    }

    #[test]
    fn thread_syntax_rfc_examples() {
        // RFC 5256 §4: "(3 6 (4 23)(44 7 96))".
        let t = chain(
            &[3, 6],
            vec![chain(&[4, 23], vec![]), chain(&[44, 7, 96], vec![])],
        );
        assert_eq!(w(&[t]), "(3 6 (4 23)(44 7 96))");
        // A dummy root: "((3)(5))".
        let d = Thread {
            id: None,
            children: vec![Thread::leaf(3), Thread::leaf(5)],
        };
        assert_eq!(w(&[d, Thread::leaf(7)]), "((3)(5))(7)");
        assert_eq!(w(&[]), "");
    }

    fn msg(seq: u32, subject: &str, date: i64, id: &str, refs: &[&str]) -> SortInput {
        SortInput {
            seq_or_uid: seq,
            arrival: date,
            subject: subject.into(),
            date: Some(date),
            message_id: (!id.is_empty()).then(|| id.to_string()),
            references: refs.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn orderedsubject_like_the_rfc_example() {
        // Shapes from RFC 5256 §5: "(166)(167)(174 (175)(176))(194 195)".
        let items = vec![
            msg(166, "one", 1, "", &[]),
            msg(167, "two", 2, "", &[]),
            msg(174, "three", 3, "", &[]),
            msg(175, "Re: three", 4, "", &[]),
            msg(176, "RE: [list] Three", 5, "", &[]),
            msg(194, "four", 6, "", &[]),
            msg(195, "fwd: four", 7, "", &[]),
        ];
        assert_eq!(
            w(&thread_orderedsubject(&items)),
            "(166)(167)(174 (175)(176))(194 195)"
        );
        // A later-dated message's thread sorts by its first message.
        let items = vec![
            msg(1, "b", 50, "", &[]),
            msg(2, "a", 60, "", &[]),
            msg(3, "Re: a", 10, "", &[]),
        ];
        assert_eq!(w(&thread_orderedsubject(&items)), "(3 2)(1)");
    }

    #[test]
    fn references_threads_by_ancestry() {
        let items = vec![
            msg(3, "topic", 1, "<3>", &[]),
            msg(6, "Re: topic", 2, "<6>", &["<3>"]),
            msg(4, "Re: topic", 3, "<4>", &["<3>", "<6>"]),
            msg(23, "Re: topic", 4, "<23>", &["<3>", "<6>", "<4>"]),
            msg(44, "Re: topic", 5, "<44>", &["<3>", "<6>"]),
            msg(7, "Re: topic", 6, "<7>", &["<44>"]),
            msg(96, "Re: topic", 7, "<96>", &["<6>", "<44>", "<7>"]),
            msg(8, "other", 8, "<8>", &[]),
        ];
        assert_eq!(w(&thread_references(&items)), "(3 6 (4 23)(44 7 96))(8)");
    }

    #[test]
    fn references_dummies_and_subjects() {
        // Two replies to a missing message: a dummy root holds them.
        let items = vec![
            msg(1, "Re: lost", 1, "<a>", &["<missing>"]),
            msg(2, "Re: lost", 2, "<b>", &["<missing>"]),
            msg(3, "alone", 3, "<c>", &[]),
        ];
        assert_eq!(w(&thread_references(&items)), "((1)(2))(3)");
        // A single reply to a missing message is promoted to the root.
        let items = vec![msg(5, "x", 1, "<e>", &["<gone>"])];
        assert_eq!(w(&thread_references(&items)), "(5)");
        // Same base subject without references: the reply goes under the original.
        let items = vec![
            msg(1, "Re: hello", 2, "<r>", &[]),
            msg(2, "hello", 1, "<o>", &[]),
            msg(3, "[list] Hello", 3, "<p>", &[]),
        ];
        assert_eq!(w(&thread_references(&items)), "((2 1)(3))");
    }

    /// RFC 5256 step 1C (imaptest's thread group): message 3's own References name its
    /// child as parent; the link guessed from message 2 (1 -> 3) is broken all the same.
    #[test]
    fn references_own_parent_breaks_a_guessed_link_even_if_it_would_loop() {
        let items = vec![
            msg(1, "", 3, "<a@b>", &[]),
            msg(2, "", 1, "<b@b>", &["<a@b>", "<c@b>"]),
            msg(3, "", 2, "<c@b>", &["<b@b>"]),
        ];
        assert_eq!(w(&thread_references(&items)), "(3 2)(1)");
        // After message 1 goes (imaptest expunges it), the same shape remains.
        assert_eq!(w(&thread_references(&items[1..])), "(3 2)");
    }

    #[test]
    fn references_survive_loops_duplicates_and_missing_ids() {
        let items = vec![
            msg(1, "a", 1, "<x>", &["<y>"]),
            msg(2, "b", 2, "<y>", &["<x>"]),
            msg(3, "c", 3, "<x>", &[]),
            msg(4, "d", 4, "", &["<x>"]),
            msg(5, "e", 5, "<z>", &["<z>"]),
        ];
        let threads = thread_references(&items);
        let mut seen = Vec::new();
        fn collect(t: &Thread, out: &mut Vec<u32>) {
            out.extend(t.id);
            t.children.iter().for_each(|c| collect(c, out));
        }
        threads.iter().for_each(|t| collect(t, &mut seen));
        seen.sort();
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    }

    fn ids(threads: &[Thread]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack: Vec<&Thread> = threads.iter().collect();
        while let Some(t) = stack.pop() {
            out.extend(t.id);
            stack.extend(t.children.iter());
        }
        out.sort_unstable();
        out
    }

    fn depth(t: &Thread) -> usize {
        1 + t.children.iter().map(depth).max().unwrap_or(0)
    }

    #[test]
    fn deep_reference_chains_are_capped() {
        let n = 5000u32;
        let items: Vec<SortInput> = (1..=n)
            .map(|i| {
                let refs: Vec<String> = if i > 1 {
                    vec![format!("<{}>", i - 1)]
                } else {
                    vec![]
                };
                let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                msg(i, "Re: chain", i64::from(i), &format!("<{i}>"), &refs)
            })
            .collect();
        let threads = thread_references(&items);
        assert_eq!(threads.len(), 1);
        assert_eq!(depth(&threads[0]), MAX_THREAD_DEPTH);
        assert_eq!(ids(&threads), (1..=n).collect::<Vec<_>>());
        let mut out = Vec::new();
        write_threads(&mut out, &threads);
        assert!(out.starts_with(b"(1 2 3 4 "));
        assert!(out.ends_with(b"(4999)(5000))"));
    }

    proptest::proptest! {
        #[test]
        fn references_keep_every_message_once(
            graph in proptest::collection::vec(
                (0u8..12, proptest::collection::vec(0u8..12, 0..4), 0u8..4, 0i64..5), 0..30)
        ) {
            let subjects = ["a", "Re: a", "b", ""];
            let items: Vec<SortInput> = graph
                .iter()
                .enumerate()
                .map(|(i, (id, refs, subj, date))| {
                    let refs: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
                    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                    let id = if *id == 11 { String::new() } else { format!("<{id}>") };
                    msg(i as u32 + 1, subjects[*subj as usize], *date, &id, &refs)
                })
                .collect();
            let expect: Vec<u32> = (1..=items.len() as u32).collect();
            proptest::prop_assert_eq!(ids(&thread_references(&items)), expect.clone());
            proptest::prop_assert_eq!(ids(&thread_orderedsubject(&items)), expect);
        }
    }
}
