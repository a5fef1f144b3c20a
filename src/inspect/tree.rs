//! The parent/child forest of a process listing, flattened into drawing
//! order (like `pstree -p`, one process per line).
//!
//! Built once from (pid, ppid) pairs. Roots are processes whose parent is not
//! in the listing (the namespace's init, kthreadd, or parents filtered out).
//! The walk is iterative and marks visited rows, so deep chains cannot
//! overflow the stack and a corrupt ppid cycle still prints every row once.

use std::collections::HashMap;

use super::ProcRow;

/// One line of the tree: which row, and the box-drawing prefix before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLine {
    /// Index into the rows given to [`tree_order`].
    pub index: usize,
    /// Index of the parent row, `None` for a root.
    pub parent: Option<usize>,
    /// Indentation such as `│ ├─`; empty for roots.
    pub prefix: String,
}

/// Orders `rows` depth-first, children by pid, with drawing prefixes.
pub fn tree_order(rows: &[ProcRow]) -> Vec<TreeLine> {
    let by_pid: HashMap<i32, usize> = rows.iter().enumerate().map(|(i, r)| (r.pid, i)).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match by_pid.get(&r.ppid) {
            Some(&p) if r.ppid != r.pid => children.entry(p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| rows.get(i).map_or(0, |r| r.pid));
    }
    roots.sort_by_key(|&i| rows.get(i).map_or(0, |r| r.pid));

    let mut out = Vec::with_capacity(rows.len());
    let mut visited = vec![false; rows.len()];
    // Rows unreachable from a root (ppid cycles) are walked as extra roots.
    let extra: Vec<usize> = (0..rows.len()).collect();
    for start in roots.into_iter().chain(extra) {
        if visited.get(start).copied().unwrap_or(true) {
            continue;
        }
        // (row, parent, prefix of this line, prefix for its children)
        let mut stack = vec![(start, None, String::new(), String::new())];
        while let Some((i, parent, prefix, child_prefix)) = stack.pop() {
            match visited.get_mut(i) {
                Some(v) if !*v => *v = true,
                _ => continue,
            }
            out.push(TreeLine {
                index: i,
                parent,
                prefix,
            });
            let kids: Vec<usize> = children
                .get(&i)
                .map(|k| {
                    k.iter()
                        .copied()
                        .filter(|&c| !visited.get(c).copied().unwrap_or(true))
                        .collect()
                })
                .unwrap_or_default();
            let n = kids.len();
            // Pushed in reverse so the smallest pid pops first.
            for (pos, &c) in kids.iter().enumerate().rev() {
                let last = pos + 1 == n;
                let line = format!("{child_prefix}{}", if last { "└─" } else { "├─" });
                let below = format!("{child_prefix}{}", if last { "  " } else { "│ " });
                stack.push((c, Some(i), line, below));
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A row that leads its own session.
    fn row(pid: i32, ppid: i32) -> ProcRow {
        crate::inspect::process::tests::row(pid, ppid, pid)
    }

    fn draw(rows: &[ProcRow]) -> Vec<String> {
        tree_order(rows)
            .iter()
            .map(|l| format!("{}{}", l.prefix, rows[l.index].pid))
            .collect()
    }

    #[test]
    fn forest_with_boxes() {
        let rows = vec![
            row(1, 0),
            row(12, 1),
            row(13, 12),
            row(14, 12),
            row(20, 1),
            row(21, 20),
            row(99, 50),
        ];
        assert_eq!(
            draw(&rows),
            ["1", "├─12", "│ ├─13", "│ └─14", "└─20", "  └─21", "99"]
        );
    }

    #[test]
    fn cycles_still_print_every_row_once() {
        let rows = vec![row(1, 0), row(5, 6), row(6, 5), row(7, 7)];
        let mut pids: Vec<i32> = tree_order(&rows)
            .iter()
            .map(|l| rows[l.index].pid)
            .collect();
        pids.sort_unstable();
        assert_eq!(pids, [1, 5, 6, 7]);
    }
}
