//! `nexus update …`: its flags and what each command prints. The work is
//! in [`crate::update`].

use crate::update::{self, Options};
use clap::{Args, Subcommand};

/// `nexus update …`
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Fetch the signed manifest (3 s at most) and say whether a newer
    /// version is on the channel. Exit 0: one is; 3: up to date.
    Check(CheckArgs),
    /// Download, verify and install a release of nexus, nexusd and the
    /// agent together, then restart a running daemon from it. Exit 0
    /// installed, 1 network failure, 2 refused, 3 up to date, 4 the new
    /// binaries failed their test launch, 5 the new daemon did not start
    /// (switched back). Nothing changes on any failure.
    Install(InstallArgs),
    /// Switch back to the version before the last install (and the daemon with it).
    Rollback(JsonFlag),
    /// Current and latest version, channel, last check, manifest serial and
    /// expiry, how nexus was installed, the running daemon's version.
    Status(JsonFlag),
    /// The release notes of the channel's version.
    Notes(CheckArgs),
}

/// `--json`.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `check` and `notes`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The channel: stable, beta or nightly [default: the one last installed from, else stable].
    #[arg(long)]
    pub channel: Option<String>,
    /// Where the manifest is: an https:// URL, a directory with
    /// manifest.json [default: NEXUS_UPDATE_URL, else the release server].
    #[arg(long, value_name = "DIR|URL")]
    pub from: Option<String>,
    /// Accept an expired manifest from a directory (offline installs).
    #[arg(long)]
    pub allow_expired: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The daily check other commands start: silent, its result saved for their notice.
    #[arg(long, hide = true)]
    pub background: bool,
}

/// Flags of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The channel: stable, beta or nightly (remembered).
    #[arg(long)]
    pub channel: Option<String>,
    /// Install this version (one the manifest offers; the same version again reinstalls it).
    #[arg(long)]
    pub version: Option<String>,
    /// Where the release is: an https:// manifest URL, a directory with
    /// manifest.json and archives, or one .tar.gz with its .minisig beside it.
    #[arg(long, value_name = "DIR|FILE|URL")]
    pub from: Option<String>,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Accept an expired manifest from --from DIR (offline installs).
    #[arg(long)]
    pub allow_expired: bool,
    /// Install a version older than the installed one (it must still be signed).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs an update command; its exit code.
pub async fn run(c: UpdateCommand) -> i32 {
    use std::io::IsTerminal;
    match c {
        UpdateCommand::Check(a) => {
            let o = Options {
                channel: a.channel,
                from: a.from,
                allow_expired: a.allow_expired,
                ..Options::default()
            };
            let r = update::check(&o).await;
            if a.background {
                return 0;
            }
            let up_to_date = r.as_ref().is_ok_and(|r| !r.update_available);
            let code = update::finish(r, a.json, |r| {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                if r.update_available {
                    println!(
                        "nexus {} is available on {} (installed: {}): run `nexus update install`",
                        r.latest, r.channel, r.installed
                    );
                } else {
                    println!("nexus {} is up to date ({}: {})", r.installed, r.channel, r.latest);
                }
            });
            if code == 0 && up_to_date { 3 } else { code }
        }
        UpdateCommand::Install(a) => {
            let o = Options {
                channel: a.channel,
                version: a.version,
                from: a.from,
                yes: a.yes,
                allow_expired: a.allow_expired,
                allow_downgrade: a.allow_downgrade,
            };
            let progress = !a.json && std::io::stderr().is_terminal();
            let r = update::install(&o, progress).await;
            update::finish(r, a.json, |i| {
                match &i.previous {
                    Some(p) => println!(
                        "nexus {} installed (was {p}; `nexus update rollback` goes back)",
                        i.version
                    ),
                    None => println!("nexus {} installed", i.version),
                }
                if i.daemon_restarted {
                    println!(
                        "nexusd restarted from {}; running workspaces were left as they were",
                        i.version
                    );
                }
                on_path_hint();
            })
        }
        UpdateCommand::Rollback(a) => {
            let r = update::rollback().await;
            update::finish(r, a.json, |i| {
                println!("nexus {} is current again", i.version);
                if i.daemon_restarted {
                    println!("nexusd restarted from {}", i.version);
                }
            })
        }
        UpdateCommand::Status(a) => {
            let s = update::status().await;
            update::finish(Ok(s), a.json, |s| {
                let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!("current:          {}", s.current);
                println!("latest:           {}", or(&s.latest));
                println!("channel:          {}", s.channel);
                println!("pin:              {}", or(&s.pin));
                println!("last check:       {}", or(&s.last_check.map(|t| t.to_string())));
                println!("manifest serial:  {}", s.manifest_serial);
                println!(
                    "manifest expires: {}",
                    or(&s.manifest_expires_at.map(|t| t.to_string()))
                );
                println!("installed by:     {} ({})", s.installed_by, s.install_dir);
                println!("previous:         {}", or(&s.previous));
                println!("daemon:           {}", or(&s.daemon));
                for (name, version) in &s.agents {
                    println!("  agent of {name}: {}", or(version));
                }
                if !s.bad_versions.is_empty() {
                    println!("failed here:      {}", s.bad_versions.join(", "));
                }
            })
        }
        UpdateCommand::Notes(a) => {
            let o = Options {
                channel: a.channel,
                from: a.from,
                allow_expired: a.allow_expired,
                ..Options::default()
            };
            let r = update::notes(&o)
                .await
                .map(|(version, notes)| serde_json::json!({"version": version, "notes": notes}));
            update::finish(r, a.json, |v| {
                println!("nexus {}\n", v["version"].as_str().unwrap_or(""));
                println!("{}", v["notes"].as_str().unwrap_or(""));
            })
        }
    }
}

/// Tells a user whose `nexus` is not the managed one where the managed one is.
fn on_path_hint() {
    if update::install_kind(&update::install_root()) != "nexus update" {
        println!(
            "add {} to PATH to run it (the nexus you ran is elsewhere)",
            update::install_root().join("current").display()
        );
    }
}
