//! The layering rule of ARCHITECTURE.md, checked on the source tree in the
//! style of rust-analyzer's tidy tests: every `crate::…` and `super::…` path
//! of every file of `nexusd/src` is read, and a lower layer naming a higher
//! one (or a peer), or a cycle between top-level modules, fails the test.
//! The agent crate (`nexusd/agent/src`) is checked for cycles between its
//! modules. `checker_finds_upward_imports_and_cycles` shows the checker
//! failing on a tree made for it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The daemon's layers, highest first: a module may name modules of a
/// lower rank, and of its own top-level module, and nothing else.
const NEXUSD_LAYERS: &[(&str, u8)] = &[
    ("server", 6),
    ("api", 5),
    ("workspace", 4),
    ("agent", 3),
    ("runtime", 3),
    ("store", 2),
    ("relay", 2),
    ("git", 2),
    ("config", 1),
    ("credentials", 1),
    ("events", 1),
    ("keys", 1),
    ("metrics", 1),
    ("error", 0),
];

/// Modules that may name only these others (beside their own): the API
/// calls the manager, never the layers under it.
const NEXUSD_ONLY: &[(&str, &[&str])] = &[("api", &["workspace", "config", "events", "keys", "metrics", "error"])];

/// A module's path in its crate (`workspace::create`), from its file's
/// path under `src/`; `None` for the crate roots.
fn module_of(relative: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    if parts.is_empty() || parts == ["lib"] || parts == ["main"] {
        return None;
    }
    Some(parts)
}

/// The modules `source` (of module `module`) names: the first segment of
/// each `crate::` path (every name of a `crate::{a, b::c}` group), and
/// `super::` resolved against `module`. Comments are skipped.
fn names(module: &[String], source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `nexus_crate::`, not ours
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let first = item.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() {
                        out.insert(first.to_string());
                    }
                }
            } else {
                let first: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !first.is_empty() {
                    out.insert(first);
                }
            }
        }
        if code.contains("super::") && module.len() >= 2 {
            out.insert(module[0].clone());
        }
    }
    out
}

/// What is wrong with a crate whose files are `files` (module path, source)
/// under the layers `layers` and the limits `only`: names of higher (or
/// peer) layers, names outside a module's `only` list, modules missing from
/// the table, and cycles between top-level modules. Empty when the crate
/// keeps the rule. With no layers, only cycles are checked.
fn violations(files: &[(Vec<String>, String)], layers: &[(&str, u8)], only: &[(&str, &[&str])]) -> Vec<String> {
    let only: BTreeMap<&str, &[&str]> = only.iter().copied().collect();
    let rank: BTreeMap<&str, u8> = layers.iter().copied().collect();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let tops: BTreeSet<&str> = files.iter().map(|(m, _)| m[0].as_str()).collect();
    for (module, source) in files {
        let from = module[0].as_str();
        if !layers.is_empty() && !rank.contains_key(from) {
            problems.push(format!(
                "{}: module {from} is in no layer: add it to the table",
                module.join("::")
            ));
            continue;
        }
        for to in names(module, source) {
            if to == from || !tops.contains(to.as_str()) {
                continue;
            }
            graph.entry(from.to_string()).or_default().insert(to.clone());
            if let Some(allowed) = only.get(from)
                && !allowed.contains(&to.as_str())
            {
                problems.push(format!(
                    "{}: names crate::{to}, but {from} may name only {}",
                    module.join("::"),
                    allowed.join(", ")
                ));
            }
            if let (Some(a), Some(b)) = (rank.get(from), rank.get(to.as_str()))
                && b >= a
            {
                problems.push(format!(
                    "{}: names crate::{to}, a layer {} (rank {b} over rank {a})",
                    module.join("::"),
                    if a == b { "beside its own" } else { "above its own" }
                ));
            }
        }
    }
    problems.extend(cycles(&graph));
    problems
}

/// Each cycle of `graph`, once, as `a -> b -> a`.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn walk(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut BTreeSet<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle: Vec<String> = path[i..].to_vec();
            // one spelling per cycle: start at its least module
            let least = cycle.iter().enumerate().min_by_key(|(_, m)| *m).map_or(0, |(i, _)| i);
            cycle.rotate_left(least);
            cycle.push(cycle[0].clone());
            found.insert(format!("cycle: {}", cycle.join(" -> ")));
            return;
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            walk(next, graph, path, done, found);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        walk(start, graph, &mut Vec::new(), &mut BTreeSet::new(), &mut found);
    }
    found.into_iter().collect()
}

/// Every `.rs` file under `src`, as (module path, source).
fn read_tree(src: &Path) -> Vec<(Vec<String>, String)> {
    fn visit(dir: &Path, src: &Path, out: &mut Vec<(Vec<String>, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                visit(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Some(module) = path.strip_prefix(src).ok().and_then(module_of)
            {
                let source =
                    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.push((module, source));
            }
        }
    }
    let mut out = Vec::new();
    visit(src, src, &mut out);
    out
}

#[test]
fn nexusd_keeps_its_layers() {
    let files = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(files.len() > 20, "read only {} files", files.len());
    let problems = violations(&files, NEXUSD_LAYERS, NEXUSD_ONLY);
    assert!(
        problems.is_empty(),
        "the layering rule is broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_agent_has_no_module_cycle() {
    let files = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/src"));
    assert!(files.len() > 8, "read only {} files", files.len());
    let problems = violations(&files, &[], &[]);
    assert!(
        problems.is_empty(),
        "the agent's modules import each other:\n{}",
        problems.join("\n")
    );
}

#[test]
fn checker_finds_upward_imports_and_cycles() {
    let file = |module: &str, source: &str| {
        (
            module.split("::").map(str::to_string).collect::<Vec<_>>(),
            source.to_string(),
        )
    };
    let layers = &[("api", 2), ("workspace", 1), ("store", 0), ("git", 0)];
    let only: &[(&str, &[&str])] = &[("api", &["workspace"])];
    // a kept rule: down, within a layer's own folder, and through super::
    let good = [
        file("api", "use crate::workspace::Manager;"),
        file("workspace::create", "use super::*;\nuse crate::{store::Store, git};"),
        file("workspace", "// crate::api in a comment is no import\n"),
        file("store", "use crate::store::ports;"),
        file("git", ""),
    ];
    assert_eq!(violations(&good, layers, only), Vec::<String>::new());
    // an upward import, an import of a peer, a module in no layer, a cycle
    let bad = [
        file("api", "use crate::workspace::Manager;\nuse crate::store::Store;"),
        file("workspace::create", "fn f() { crate::api::to_rpc_error(e) }"),
        file("store", "use crate::{git::RepoInfo, error};"),
        file("git", ""),
        file("extra", ""),
    ];
    let found = violations(&bad, layers, only);
    for says in [
        "workspace::create: names crate::api, a layer above its own (rank 2 over rank 1)",
        "store: names crate::git, a layer beside its own (rank 0 over rank 0)",
        "extra: module extra is in no layer",
        "api: names crate::store, but api may name only workspace",
        "cycle: api -> workspace -> api",
    ] {
        assert!(found.iter().any(|f| f.contains(says)), "missing {says:?} in {found:#?}");
    }
    // cycles alone, for a crate without layers
    let flat = [
        file("server", "use crate::session::Session;"),
        file("session", "use crate::server::Shared;"),
        file("state", ""),
    ];
    assert_eq!(
        violations(&flat, &[], &[]),
        vec!["cycle: server -> session -> server".to_string()]
    );
}
