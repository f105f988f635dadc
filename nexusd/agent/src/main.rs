//! `nexus-agent`: the static SSH server and init that Nexus injects into every
//! workspace container. Usage: `nexus-agent [--config PATH]` (default
//! `/.nexus/agent.json`); the helpers the daemon runs through it are
//! `--sftp`, `--watch PATH [--recursive]` and `--ports [--once]`.

mod access;
mod activity;
mod authkeys;
mod config;
mod connection;
mod forward;
mod limits;
mod ports;
mod process;
mod reaper;
mod relay;
mod server;
mod session;
mod sftp;
mod stdin;
mod terminals;
mod users;
mod watch;

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .init();
    let mut args = std::env::args().skip(1);
    let mut config_path = PathBuf::from(config::DEFAULT_CONFIG_PATH);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => match args.next() {
                Some(p) => config_path = PathBuf::from(p),
                None => return usage("--config needs a path"),
            },
            "--sftp" => return sftp_main(),
            "--watch" => {
                let Some(path) = args.next() else {
                    return usage("--watch needs a path");
                };
                let recursive = args.next().as_deref() == Some("--recursive");
                return watch::main(&path, recursive);
            }
            "--ports" => return ports::main(args.next().as_deref() == Some("--once")),
            "--version" => {
                println!("nexus-agent {}", env!("CARGO_PKG_VERSION"));
                return std::process::ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nexus-agent: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(&config_path)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nexus-agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> std::process::ExitCode {
    eprintln!(
        "nexus-agent: {problem}\nusage: nexus-agent [--config PATH] | --sftp | --watch PATH [--recursive] | --ports [--once]"
    );
    std::process::ExitCode::from(2)
}

/// `nexus-agent --sftp`: the SFTP subsystem on stdin/stdout, already running
/// as the session user (the agent starts it so).
fn sftp_main() -> std::process::ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => {
            rt.block_on(sftp::serve_stdio());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nexus-agent: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
