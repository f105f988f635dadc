//! What the commands print: JSON with `--json`, else tables and text for
//! people; progress as a spinner on a terminal, plain lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use nexus_sdk::{Event, Workspace};
use std::io::IsTerminal;
use std::time::Duration;

/// Prints `value` as pretty JSON when `json`, else as `human` prints it.
/// Errors: only when `value` cannot be serialized.
pub fn emit<T: serde::Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        human(value);
    }
    Ok(())
}

/// `workspace ports` as a table: PORT (`3000`, or `db:5432` for another
/// host's), LISTENING, HOST (127.0.0.1:N), LABEL, PROTOCOL.
pub fn print_ports(ports: &[nexus_sdk::PortInfo]) {
    println!(
        "{:<14} {:<9} {:<16} {:<20} PROTOCOL",
        "PORT", "LISTENING", "HOST", "LABEL"
    );
    for p in ports {
        let port = match &p.host {
            Some(h) => format!("{h}:{}", p.container_port),
            None => p.container_port.to_string(),
        };
        let host = p
            .host_port
            .map(|h| format!("127.0.0.1:{h}"))
            .unwrap_or_else(|| "-".into());
        let label = match (&p.label, p.declared) {
            (Some(l), _) => l.clone(),
            (None, true) => "(declared)".into(),
            (None, false) => "-".into(),
        };
        println!(
            "{:<14} {:<9} {:<16} {:<20} {}",
            port,
            // whether another host listens is not known
            match (&p.host, p.listening) {
                (Some(_), _) => "-",
                (None, true) => "yes",
                (None, false) => "no",
            },
            host,
            label,
            p.protocol.as_deref().unwrap_or("-")
        );
    }
}

/// Shows progress events: a spinner on a terminal, plain lines otherwise.
pub fn progress_printer() -> impl FnMut(Option<&Event>) {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(80));
        Some(b)
    } else {
        None
    };
    move |ev| match (ev, &bar) {
        (Some(Event::Progress { step, message, .. }), Some(b)) => b.set_message(format!("{step}: {message}")),
        (Some(Event::Progress { step, message, .. }), None) => eprintln!("==> {step}: {message}"),
        (None, Some(b)) => b.finish_and_clear(),
        _ => {}
    }
}

/// The state as a person reads it: `paused (idle for 10m)`.
pub fn state_text(w: &Workspace) -> String {
    match &w.state_reason {
        Some(why) => format!("{} ({why})", w.state),
        None => w.state.to_string(),
    }
}

pub fn print_workspace(w: &Workspace) {
    println!("workspace {} is {}", w.name, state_text(w));
    println!("  branch     {}", w.branch);
    println!("  worktree   {}", w.worktree);
    println!("  folder     {}", w.workspace_folder);
    println!("  image      {}", w.image);
    println!("  ssh        {}:{} (user {})", w.ssh_host, w.ssh_port, w.remote_user);
}

pub fn print_checkpoints(workspace: &str, list: &[nexus_sdk::Checkpoint]) {
    if list.is_empty() {
        println!(
            "workspace {workspace} has no checkpoints: record one with `nexus workspace checkpoint create {workspace}`"
        );
        return;
    }
    let width = list.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:>6}  {:12}  CREATED", "NAME", "NUMBER", "COMMIT");
    for c in list {
        println!(
            "{:width$}  {:>6}  {:12}  {}",
            c.name,
            c.number,
            c.commit.get(..12).unwrap_or(&c.commit),
            c.created_at
        );
    }
}

pub fn print_table(list: &[Workspace]) {
    if list.is_empty() {
        println!("no workspaces: create one with `nexus workspace create NAME` in a git repository");
        return;
    }
    let width = list.iter().map(|w| w.name.len()).max().unwrap_or(4).max(4);
    let states: Vec<String> = list.iter().map(state_text).collect();
    let state_width = states.iter().map(String::len).max().unwrap_or(5).max(5);
    println!(
        "{:width$}  {:state_width$}  {:6}  {:30}  IMAGE",
        "NAME", "STATE", "SSH", "BRANCH"
    );
    for (w, state) in list.iter().zip(&states) {
        println!(
            "{:width$}  {:state_width$}  {:6}  {:30}  {}",
            w.name, state, w.ssh_port, w.branch, w.image
        );
    }
}
