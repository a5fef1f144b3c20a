//! Cross-file checks and start order: dependency and forward targets,
//! cycles, instance expansion, and the stable topological sort.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use super::convert::{instantiate, Draft};
use super::error::{Loc, Sink};
use super::values::suggest;
use crate::model::ProgramSpec;

/// Program names and their instance counts, for resolving references.
struct Catalog {
    /// Program name -> number of instances.
    instances: BTreeMap<String, u32>,
}

impl Catalog {
    /// The program a reference belongs to and the instance names it stands
    /// for: `stream` -> every instance, `stream:1` -> that one.
    fn resolve(&self, reference: &str) -> Option<(&str, Vec<String>)> {
        if let Some((program, count)) = self.instances.get_key_value(reference) {
            return Some((program, instance_names(program, *count)));
        }
        let (program, number) = reference.rsplit_once(':')?;
        let (program, count) = self.instances.get_key_value(program)?;
        let number: u32 = number.parse().ok()?;
        (*count > 1 && number < *count).then(|| (program.as_str(), vec![reference.to_owned()]))
    }

    /// The message for a reference that names no program.
    fn unknown(&self, reference: &str, role: &str) -> String {
        let names: Vec<&str> = self.instances.keys().map(String::as_str).collect();
        let hint = match suggest(reference, &names) {
            Some(close) => format!(", did you mean `{close}`?"),
            None if names.is_empty() => " (no program is defined)".to_owned(),
            None => format!(" (known programs: {})", names.join(", ")),
        };
        format!("unknown program `{reference}` in {role}{hint}")
    }
}

/// The full names of a program's instances.
fn instance_names(program: &str, count: u32) -> Vec<String> {
    if count > 1 {
        (0..count).map(|n| format!("{program}:{n}")).collect()
    } else {
        vec![program.to_owned()]
    }
}

/// Checks references, expands instances and sorts into start order; errors
/// go to `sink` (the result is then meaningless).
pub(crate) fn resolve(
    drafts: Vec<Draft>,
    forward_targets: &[(String, Loc)],
    sink: &mut Sink,
) -> Vec<ProgramSpec> {
    let catalog = Catalog {
        instances: drafts
            .iter()
            .map(|draft| (draft.template.program.clone(), draft.instances))
            .collect(),
    };
    for (reference, loc) in forward_targets {
        if catalog.resolve(reference).is_none() {
            sink.push(loc.error(catalog.unknown(reference, "forward")));
        }
    }
    // Program-level edges (for cycles) and instance-level dependencies.
    let mut edges: BTreeMap<String, Vec<(String, Loc)>> = BTreeMap::new();
    let mut programs = Vec::new();
    for draft in drafts {
        let mut depends_on = Vec::new();
        let out = edges.entry(draft.template.program.clone()).or_default();
        for (reference, loc) in &draft.depends_on {
            match catalog.resolve(reference) {
                Some((program, names)) => {
                    out.push((program.to_owned(), loc.clone()));
                    for name in names {
                        if !depends_on.contains(&name) {
                            depends_on.push(name);
                        }
                    }
                }
                None => sink.push(loc.error(catalog.unknown(reference, "depends_on"))),
            }
        }
        let instances = match draft.instances {
            1 => vec![None],
            count => (0..count).map(Some).collect(),
        };
        for instance in instances {
            let mut spec = instantiate(&draft.template, instance);
            spec.depends_on = depends_on.clone();
            programs.push(spec);
        }
    }
    report_cycles(&edges, sink);
    if !sink.is_empty() {
        return programs;
    }
    start_order(programs)
}

/// Finds dependency cycles between programs and reports each once, as
/// "dependency cycle: a -> b -> a", at the first edge of the cycle.
fn report_cycles(edges: &BTreeMap<String, Vec<(String, Loc)>>, sink: &mut Sink) {
    /// DFS colours.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for root in edges.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // Iterative DFS: (node, index of the next edge to follow).
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        marks.insert(root, Mark::Active);
        while let Some((node, next)) = stack.last_mut() {
            let node: &str = node;
            let out = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            let Some((target, _)) = out.get(*next) else {
                marks.insert(node, Mark::Done);
                stack.pop();
                continue;
            };
            *next += 1;
            match marks.get(target.as_str()) {
                None => {
                    marks.insert(target, Mark::Active);
                    stack.push((target, 0));
                }
                Some(Mark::Active) => {
                    let start = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                    let cycle: Vec<&str> = stack[start..].iter().map(|(n, _)| *n).collect();
                    report_cycle(&cycle, edges, &mut reported, sink);
                }
                Some(Mark::Done) => {}
            }
        }
    }
}

/// Reports one cycle (the programs in order, the first not repeated), rotated
/// to start at its smallest name, unless an equal cycle was reported.
fn report_cycle<'a>(
    cycle: &[&'a str],
    edges: &BTreeMap<String, Vec<(String, Loc)>>,
    reported: &mut BTreeSet<Vec<&'a str>>,
    sink: &mut Sink,
) {
    let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    let mut rotated: Vec<&str> = cycle[smallest..].to_vec();
    rotated.extend_from_slice(&cycle[..smallest]);
    if !reported.insert(rotated.clone()) {
        return;
    }
    let first = rotated[0];
    let second = rotated.get(1).copied().unwrap_or(first);
    let loc = edges
        .get(first)
        .and_then(|out| out.iter().find(|(target, _)| target == second))
        .map(|(_, loc)| loc);
    let mut path = rotated.join(" -> ");
    path.push_str(" -> ");
    path.push_str(first);
    if let Some(loc) = loc {
        sink.push(loc.error(format!("dependency cycle: {path}")));
    }
}

/// Sorts instances into a valid start order: lower priority first, every
/// dependency before its dependents, ties by program name then instance.
fn start_order(programs: Vec<ProgramSpec>) -> Vec<ProgramSpec> {
    let index: HashMap<&str, usize> = programs
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.name.as_str(), i))
        .collect();
    let mut waiting: Vec<usize> = programs.iter().map(|spec| spec.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); programs.len()];
    for (i, spec) in programs.iter().enumerate() {
        for dependency in &spec.depends_on {
            if let Some(&d) = index.get(dependency.as_str()) {
                dependents[d].push(i);
            }
        }
    }
    let key = |i: usize| {
        let spec = &programs[i];
        Reverse((spec.priority, spec.program.clone(), spec.instance, i))
    };
    let mut ready: BinaryHeap<_> = (0..programs.len())
        .filter(|&i| waiting[i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(programs.len());
    while let Some(Reverse((_, _, _, i))) = ready.pop() {
        order.push(i);
        for &dependent in &dependents[i] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(key(dependent));
            }
        }
    }
    let mut slots: Vec<Option<ProgramSpec>> = programs.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{load_with_etc, ConfigErrors};
    use crate::model::Config;

    /// Loads one TOML text from a temp file (users from an empty etc dir).
    fn load(text: &str) -> Result<Config, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svinit.toml");
        std::fs::write(&path, text).unwrap();
        load_with_etc(&path, dir.path())
    }

    fn order(text: &str) -> Vec<String> {
        match load(text) {
            Ok(config) => config.programs.into_iter().map(|p| p.name).collect(),
            Err(errors) => panic!("{errors}"),
        }
    }

    fn errors(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn priority_then_name() {
        let text = r#"
            [program.b]
            command = "b"
            [program.a]
            command = "a"
            [program.z]
            command = "z"
            priority = 1
        "#;
        assert_eq!(order(text), ["z", "a", "b"]);
    }

    #[test]
    fn dependencies_come_first_even_with_a_higher_priority() {
        let text = r#"
            [program.web]
            command = "web"
            priority = 1
            depends_on = ["db"]
            [program.db]
            command = "db"
            priority = 500
            [program.cache]
            command = "cache"
            priority = 50
        "#;
        assert_eq!(order(text), ["cache", "db", "web"]);
    }

    #[test]
    fn instances_expand_in_names_and_dependencies() {
        let text = r#"
            [program.worker]
            command = "w {instance}"
            instances = 3
            [program.api]
            command = "api"
            depends_on = ["worker"]
            [program.one]
            command = "one"
            depends_on = ["worker:1"]
        "#;
        let config = load(text).unwrap();
        let names: Vec<&str> = config.programs.iter().map(|p| p.name.as_str()).collect();
        // `one` may start as soon as worker:1 has, and sorts before `worker`.
        assert_eq!(names, ["worker:0", "worker:1", "one", "worker:2", "api"]);
        let api = config.programs.iter().find(|p| p.name == "api").unwrap();
        assert_eq!(api.depends_on, ["worker:0", "worker:1", "worker:2"]);
        let one = config.programs.iter().find(|p| p.name == "one").unwrap();
        assert_eq!(one.depends_on, ["worker:1"]);
        assert_eq!(config.programs[3].command, ["w", "2"]);
    }

    #[test]
    fn a_missing_instance_is_unknown() {
        let text = r#"
            [program.worker]
            command = "w"
            instances = 2
            [program.api]
            command = "api"
            depends_on = ["worker:2"]
        "#;
        assert!(errors(text).contains("unknown program `worker:2` in depends_on"));
    }

    #[test]
    fn cycles_are_named_once() {
        let text = r#"
            [program.c]
            command = "c"
            depends_on = ["a"]
            [program.a]
            command = "a"
            depends_on = ["b"]
            [program.b]
            command = "b"
            depends_on = ["c"]
            [program.d]
            command = "d"
            depends_on = ["a"]
        "#;
        let text = errors(text);
        assert_eq!(text.matches("dependency cycle").count(), 1, "{text}");
        assert!(
            text.contains("dependency cycle: a -> b -> c -> a"),
            "{text}"
        );
    }

    #[test]
    fn two_separate_cycles_are_both_reported() {
        let text = r#"
            [program.a]
            command = "a"
            depends_on = ["b"]
            [program.b]
            command = "b"
            depends_on = ["a"]
            [program.x]
            command = "x"
            depends_on = ["x"]
        "#;
        let text = errors(text);
        assert!(text.contains("dependency cycle: a -> b -> a"), "{text}");
        assert!(text.contains("dependency cycle: x -> x"), "{text}");
    }
}
