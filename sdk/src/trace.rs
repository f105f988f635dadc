//! Agent Trace records (specification v0.1.0, <https://agent-trace.dev>,
//! `cursor/agent-trace`): who wrote which lines of a commit — a person, a
//! model through an agent, or someone unknown.
//!
//! Nexus writes one record per commit made in a workspace, as a git note
//! on [`NOTES_REF`] whose text is the record's JSON (docs/trace.md). This
//! module holds the record's types (field names as the specification
//! spells them, snake_case), and, with feature `trace`, the check of a
//! record against the specification's JSON Schema
//! (`sdk/schemas/agent-trace-record.schema.json`, copied from §6.1).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The notes ref the records live on. Nexus sets `notes.rewriteRef` to it
/// in each repository it makes a workspace of, so `git commit --amend` and
/// `git rebase` carry a record to the rewritten commit.
pub const NOTES_REF: &str = "refs/notes/agent-trace";

/// The specification version Nexus writes.
pub const VERSION: &str = "0.1.0";

/// The specification's JSON Schema of a record (draft 2020-12).
pub const SCHEMA: &str = include_str!("../schemas/agent-trace-record.schema.json");

/// Who produced a contribution (the specification's contributor types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContributorType {
    /// A person typed it (over SSH, in an editor, through the CLI).
    Human,
    /// A model wrote it, through an agent.
    Ai,
    /// A person edited a model's output, or the other way round.
    Mixed,
    /// Nobody can tell.
    Unknown,
}

impl ContributorType {
    /// The specification's code: `human`, `ai`, `mixed` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContributorType::Human => "human",
            ContributorType::Ai => "ai",
            ContributorType::Mixed => "mixed",
            ContributorType::Unknown => "unknown",
        }
    }
}

/// A contributor: its type and, for a model, its id in the models.dev
/// convention (`anthropic/claude-opus-4-5-20251101`, at most 250 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contributor {
    /// The contributor's type.
    #[serde(rename = "type")]
    pub kind: ContributorType,
    /// The model's id, when a model wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

impl Contributor {
    /// How a person reads it: the model id, else the type.
    pub fn label(&self) -> &str {
        self.model_id.as_deref().unwrap_or(self.kind.as_str())
    }
}

/// The tool that wrote a record, or that a session works through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Its name (`nexus`, `claude-code`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The revision a record describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vcs {
    /// `git` (Nexus writes only git records).
    #[serde(rename = "type")]
    pub kind: String,
    /// The commit's 40-hex-digit id.
    pub revision: String,
}

/// Lines `start_line..=end_line` (1-based, in the file as the recorded
/// revision has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The first line, from 1.
    pub start_line: u32,
    /// The last line, inclusive.
    pub end_line: u32,
    /// A hash of the lines' text, for following moved code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// This range's contributor when it differs from its conversation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<Contributor>,
}

/// A related resource of a conversation (`{type, url}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// What it is (`session`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it is.
    pub url: String,
}

/// The ranges one conversation (one contributor, for Nexus) produced in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Where to read the conversation, when its agent reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who produced the ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<Contributor>,
    /// The lines produced.
    pub ranges: Vec<Range>,
    /// Other resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Vec<Related>>,
}

/// One file's attributed lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// The path from the repository's root, `/`-separated.
    pub path: String,
    /// Who produced which lines.
    pub conversations: Vec<Conversation>,
}

/// An Agent Trace record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The specification version (`0.1.0`).
    pub version: String,
    /// A UUID of this record.
    pub id: String,
    /// When it was recorded (RFC 3339).
    pub timestamp: String,
    /// The commit it describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcs: Option<Vcs>,
    /// The tool that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<Tool>,
    /// The files with attributed lines.
    pub files: Vec<File>,
    /// Vendor data; Nexus writes `{"dev.nexus": {"workspace": NAME}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Record {
    /// Who produced line `line` (1-based) of `path`, and the conversation's
    /// URL: the range's own contributor, else its conversation's; `None`
    /// when the record does not attribute that line.
    pub fn contributor_at(&self, path: &str, line: u32) -> Option<(Contributor, Option<&str>)> {
        let file = self.files.iter().find(|f| f.path == path)?;
        file.conversations.iter().find_map(|c| {
            let range = c.ranges.iter().find(|r| r.start_line <= line && line <= r.end_line)?;
            let who = range
                .contributor
                .clone()
                .or_else(|| c.contributor.clone())
                .unwrap_or(Contributor {
                    kind: ContributorType::Unknown,
                    model_id: None,
                });
            Some((who, c.url.as_deref()))
        })
    }
}

/// Why a text is not a record Nexus can read.
#[cfg(feature = "trace")]
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON that fails the specification's schema; each entry names the
    /// failing place (a JSON pointer) and what is wrong there.
    #[error("not an Agent Trace record: {}", .0.join("; "))]
    Schema(Vec<String>),
    /// A valid record of a specification version this Nexus does not read.
    #[error("Agent Trace version {0} is not one this nexus reads (0.1.x)")]
    Version(String),
}

/// Checks `value` against the specification's schema, formats included
/// (`id` a UUID, `timestamp` RFC 3339, URLs URIs), and its version (0.1.x).
///
/// Errors: [`TraceError::Schema`] with every failure, [`TraceError::Version`].
#[cfg(feature = "trace")]
pub fn validate(value: &serde_json::Value) -> Result<(), TraceError> {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap_or_default();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the Agent Trace schema shipped with nexus-sdk is invalid: {e}"))
    });
    let failures: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if !failures.is_empty() {
        return Err(TraceError::Schema(failures));
    }
    let version = value.get("version").and_then(|v| v.as_str()).unwrap_or_default();
    if !version.starts_with("0.1.") {
        return Err(TraceError::Version(version.to_string()));
    }
    Ok(())
}

/// Reads a record from its JSON text (a note's), checked as [`validate`] does.
#[cfg(feature = "trace")]
pub fn parse(text: &str) -> Result<Record, TraceError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    validate(&value)?;
    Ok(serde_json::from_value(value)?)
}

/// Reads the record of `commit` (its full id) from the text of its note.
/// A note can hold more than one record: when git copies a record to an
/// amended or rebased commit that already has its own (`notes.rewriteRef`,
/// whose default `notes.rewriteMode` concatenates), the two are separated
/// by a blank line. The record naming `commit` in `vcs.revision` wins, else
/// the last valid one.
///
/// Errors: as [`parse`], of the last record that fails, when none is valid.
#[cfg(feature = "trace")]
pub fn parse_note(text: &str, commit: &str) -> Result<Record, TraceError> {
    let mut valid = Vec::new();
    let mut failed = None;
    for chunk in text.split("\n\n").map(str::trim).filter(|c| !c.is_empty()) {
        match parse(chunk) {
            Ok(r) => valid.push(r),
            Err(e) => failed = Some(e),
        }
    }
    let own = valid
        .iter()
        .position(|r| r.vcs.as_ref().is_some_and(|v| v.revision == commit));
    match own {
        Some(i) => Ok(valid.swap_remove(i)),
        None => valid
            .pop()
            .ok_or_else(|| failed.unwrap_or_else(|| TraceError::Schema(vec!["/: the note is empty".into()]))),
    }
}

#[cfg(all(test, feature = "trace"))]
mod tests {
    use super::*;

    fn example() -> serde_json::Value {
        serde_json::json!({
            "version": "0.1.0",
            "id": "550e8400-e29b-41d4-a716-446655440000",
            "timestamp": "2026-01-23T14:30:00Z",
            "vcs": {"type": "git", "revision": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"},
            "tool": {"name": "nexus", "version": "0.1.0"},
            "files": [{"path": "src/a.rs", "conversations": [
                {"url": "https://example.com/c/1",
                 "contributor": {"type": "ai", "model_id": "anthropic/claude-opus-4-5"},
                 "ranges": [{"start_line": 3, "end_line": 5}]},
                {"contributor": {"type": "human"}, "ranges": [{"start_line": 7, "end_line": 7}]}
            ]}]
        })
    }

    #[test]
    fn the_specification_example_reads_and_attributes_lines() {
        let r = parse(&example().to_string()).expect("valid");
        let (who, url) = r.contributor_at("src/a.rs", 4).expect("line 4");
        assert_eq!(who.label(), "anthropic/claude-opus-4-5");
        assert_eq!(url, Some("https://example.com/c/1"));
        assert_eq!(
            r.contributor_at("src/a.rs", 7).map(|w| w.0.kind),
            Some(ContributorType::Human)
        );
        assert!(r.contributor_at("src/a.rs", 6).is_none());
        assert!(r.contributor_at("other", 4).is_none());
    }

    #[test]
    fn a_bad_version_a_missing_id_and_bad_formats_are_named() {
        let mut bad = example();
        bad["version"] = "1.0".into();
        let e = parse(&bad.to_string()).expect_err("bad version").to_string();
        assert!(e.contains("/version"), "{e}");
        bad["version"] = "2.0.0".into();
        let e = parse(&bad.to_string()).expect_err("other version").to_string();
        assert!(e.contains("2.0.0") && e.contains("0.1.x"), "{e}");
        let mut bad = example();
        bad.as_object_mut().map(|o| o.remove("id"));
        let e = parse(&bad.to_string()).expect_err("no id").to_string();
        assert!(e.contains("\"id\" is a required property"), "{e}");
        let mut bad = example();
        bad["id"] = "not-a-uuid".into();
        bad["timestamp"] = "yesterday".into();
        let e = parse(&bad.to_string()).expect_err("formats").to_string();
        assert!(e.contains("/id") && e.contains("/timestamp"), "{e}");
        assert!(matches!(parse("{"), Err(TraceError::Json(_))));
    }

    #[test]
    fn a_note_git_concatenated_at_an_amend_gives_the_commits_own_record() {
        let old = example();
        let mut own = example();
        own["vcs"]["revision"] = "b".repeat(40).into();
        for text in [format!("{own}\n\n{old}\n"), format!("{old}\n\n{own}\n")] {
            let r = parse_note(&text, &"b".repeat(40)).expect("a record");
            assert_eq!(r.vcs.map(|v| v.revision), Some("b".repeat(40)));
        }
        // no record of its own: the last valid one; none valid: the failure
        let r = parse_note(&format!("{old}\n\nnot json\n"), &"c".repeat(40)).expect("the valid one");
        assert_eq!(r.id, old["id"]);
        assert!(matches!(parse_note("not json", "c"), Err(TraceError::Json(_))));
        assert!(parse_note("", "c").is_err());
    }
}
