//! `nexus trace show [COMMIT] | blame FILE | export --jsonl`: the Agent
//! Trace records (docs/trace.md) the daemon writes as notes on
//! `refs/notes/agent-trace`, read with the host's `git` in any checkout
//! that has them (a clone fetches them with `git fetch origin
//! refs/notes/agent-trace:refs/notes/agent-trace`). No daemon is needed.

use crate::hostgit::git;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use nexus_sdk::trace::{NOTES_REF, Record};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `nexus trace …`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// The record of COMMIT [default: HEAD]: each file's new lines and who
    /// wrote them (a person, or which model).
    Show(ShowArgs),
    /// Each line of FILE as committed, with who wrote it (`git blame`,
    /// then the record of the commit that last touched the line).
    Blame(BlameArgs),
    /// Every record of the repository, one JSON object per line.
    Export(ExportArgs),
}

/// Where the checkout is.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// The checkout [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Flags of `nexus trace show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The commit [default: HEAD].
    pub commit: Option<String>,
    /// Print the record itself (Agent Trace JSON).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// Flags of `nexus trace blame`.
#[derive(Debug, Args)]
pub struct BlameArgs {
    /// The file, relative to the current directory.
    pub file: PathBuf,
    /// Print `[{"line", "commit", "contributor", "conversationUrl"}]`.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// Flags of `nexus trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// One record per line (JSON Lines), the only format.
    #[arg(long, required = true)]
    pub jsonl: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

/// Runs `nexus trace …`; returns the exit code.
pub fn command(c: TraceCommand) -> anyhow::Result<i32> {
    match c {
        TraceCommand::Show(a) => show(&a),
        TraceCommand::Blame(a) => blame(&a),
        TraceCommand::Export(a) => export(&a),
    }
}

fn dir_of(d: &DirArgs) -> PathBuf {
    d.dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

/// The record of `commit` (a full id): `None` without a note.
///
/// Errors: a note that is not a valid Agent Trace record, named.
fn record_of(dir: &Path, commit: &str) -> anyhow::Result<Option<Record>> {
    let Ok(text) = git(dir, &["notes", "--ref", NOTES_REF, "show", commit]) else {
        return Ok(None);
    };
    nexus_sdk::trace::parse_note(&text, commit)
        .map(Some)
        .with_context(|| format!("the Agent Trace record of commit {commit} is invalid"))
}

fn show(a: &ShowArgs) -> anyhow::Result<i32> {
    let dir = dir_of(&a.dir);
    let rev = a.commit.as_deref().unwrap_or("HEAD");
    let commit = git(
        &dir,
        &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
    )
    .map(|s| s.trim().to_string())
    .with_context(|| format!("{rev} is not a commit of the repository at {}", dir.display()))?;
    let Some(record) = record_of(&dir, &commit)? else {
        bail!(
            "commit {commit} has no Agent Trace record on {NOTES_REF}: records are written for commits made in a \
             Nexus workspace; a clone gets them with `git fetch origin {NOTES_REF}:{NOTES_REF}`"
        );
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
        return Ok(0);
    }
    println!("commit {commit}");
    println!(
        "record {} ({}, Agent Trace {})",
        record.id, record.timestamp, record.version
    );
    if record.files.is_empty() {
        println!("no new lines");
    }
    for f in &record.files {
        println!("{}", f.path);
        for c in &f.conversations {
            let who = c.contributor.as_ref().map_or("unknown", |c| c.label());
            let ranges: Vec<String> = c
                .ranges
                .iter()
                .map(|r| match r.start_line == r.end_line {
                    true => r.start_line.to_string(),
                    false => format!("{}-{}", r.start_line, r.end_line),
                })
                .collect();
            let url = c.url.as_deref().map(|u| format!("  {u}")).unwrap_or_default();
            println!("  {who}: lines {}{url}", ranges.join(", "));
        }
    }
    Ok(0)
}

/// One line of `git blame --line-porcelain`.
struct Blamed {
    commit: String,
    original_line: u32,
    final_line: u32,
    path: String,
    text: String,
}

fn parse_blame(out: &str) -> Vec<Blamed> {
    let mut lines = Vec::new();
    let mut current: Option<Blamed> = None;
    for l in out.lines() {
        if let Some(text) = l.strip_prefix('\t') {
            if let Some(mut b) = current.take() {
                b.text = text.to_string();
                lines.push(b);
            }
            continue;
        }
        if let Some(path) = l.strip_prefix("filename ") {
            if let Some(b) = current.as_mut() {
                b.path = path.to_string();
            }
            continue;
        }
        let parts: Vec<&str> = l.split(' ').collect();
        if current.is_none()
            && parts.len() >= 3
            && parts[0].len() >= 40
            && parts[0].bytes().all(|b| b.is_ascii_hexdigit())
        {
            current = Some(Blamed {
                commit: parts[0].to_string(),
                original_line: parts[1].parse().unwrap_or(0),
                final_line: parts[2].parse().unwrap_or(0),
                path: String::new(),
                text: String::new(),
            });
        }
    }
    lines
}

fn blame(a: &BlameArgs) -> anyhow::Result<i32> {
    let dir = dir_of(&a.dir);
    let file = a.file.to_string_lossy();
    let out = git(&dir, &["blame", "--line-porcelain", "--", &file])?;
    let mut records: HashMap<String, Option<Record>> = HashMap::new();
    let mut rows = Vec::new();
    for b in parse_blame(&out) {
        let uncommitted = b.commit.bytes().all(|c| c == b'0');
        if !uncommitted && !records.contains_key(&b.commit) {
            let r = record_of(&dir, &b.commit)?;
            records.insert(b.commit.clone(), r);
        }
        let found = records
            .get(&b.commit)
            .and_then(|r| r.as_ref())
            .and_then(|r| r.contributor_at(&b.path, b.original_line));
        let (who, contributor, url) = match (&found, uncommitted) {
            (_, true) => ("not committed".to_string(), serde_json::Value::Null, None),
            (Some((c, url)), _) => (c.label().to_string(), serde_json::json!(c), url.map(str::to_string)),
            (None, _) => ("-".to_string(), serde_json::Value::Null, None),
        };
        rows.push((b, who, contributor, url));
    }
    if a.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(b, _, c, url)| {
                serde_json::json!({"line": b.final_line, "commit": b.commit, "contributor": c, "conversationUrl": url})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let width = rows.iter().map(|r| r.1.len()).max().unwrap_or(1);
    for (b, who, _, _) in &rows {
        let short: String = b.commit.chars().take(8).collect();
        println!("{short} {who:<width$} {:>4}) {}", b.final_line, b.text);
    }
    Ok(0)
}

fn export(a: &ExportArgs) -> anyhow::Result<i32> {
    let dir = dir_of(&a.dir);
    // "<note blob> <commit>" per line; none when the ref is missing
    let listed = git(&dir, &["notes", "--ref", NOTES_REF, "list"]).unwrap_or_default();
    let mut bad = 0;
    for line in listed.lines() {
        let Some((blob, commit)) = line.split_once(' ') else {
            continue;
        };
        let text = git(&dir, &["cat-file", "blob", blob])?;
        match nexus_sdk::trace::parse_note(&text, commit) {
            Ok(r) => println!("{}", serde_json::to_string(&r)?),
            Err(e) => {
                eprintln!("skipping the record of commit {commit}: {e}");
                bad += 1;
            }
        }
    }
    Ok(if bad > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_porcelain_blame_reads_commit_lines_path_and_text() {
        let sha = "a".repeat(40);
        let out = format!(
            "{sha} 3 1 2\nauthor x\nfilename src/a.rs\n\tfirst\n{sha} 4 2\nauthor x\nfilename src/a.rs\n\t\tindented\n"
        );
        let b = parse_blame(&out);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].original_line, b[0].final_line, b[0].path.as_str()),
            (3, 1, "src/a.rs")
        );
        assert_eq!(b[1].text, "\tindented");
    }
}
