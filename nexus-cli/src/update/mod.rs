//! `nexus update`: signed self-update of `nexus`, `nexusd` and the agent
//! together (check, install, rollback, status, notes).
//!
//! Layout of a managed install, `NEXUS_INSTALL_DIR` or
//! `$XDG_DATA_HOME/nexus/install`:
//!
//! ```text
//! versions/<version>/{nexus,nexusd,nexus-agent,VERSION}
//! current -> versions/<version>   switched by one rename (all three at once)
//! state.json                      serial seen, revoked keys, previous, bad versions
//! .lock                           one install at a time
//! ```
//!
//! Trust: [`manifest`] verifies the manifest and archives against the
//! embedded keys. Exit codes: 0 done, 1 network or file failure (nothing
//! changed), 2 refused (nothing changed), 3 up to date, 4 the new binaries
//! failed their test launch, 5 the new daemon did not become healthy
//! (switched back).

pub mod daemon;
pub mod manifest;
pub mod notice;

use manifest::{Manifest, Refusal, Result, TARGET};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where releases are published unless `NEXUS_UPDATE_URL` says otherwise.
pub const DEFAULT_MANIFEST_URL: &str = "https://releases.nexus.dev/manifest.json";

/// The three binaries of a release, as the archive holds them.
pub const BINARIES: &[&str] = &["nexus", "nexusd", "nexus-agent"];

/// A file beside the binary saying a package manager installed it.
pub const PACKAGED_MARKER: &str = "nexus.packaged";

/// The root of managed installs.
pub fn install_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_INSTALL_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_local_dir()
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
        .join("nexus/install")
}

/// What `update` remembers between runs (`state.json`).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The channel `check` and `install` follow.
    #[serde(default)]
    pub channel: Option<String>,
    /// The highest manifest serial verified so far.
    #[serde(default)]
    pub highest_serial: u64,
    /// Keys revoked by a verified manifest: never trusted again.
    #[serde(default)]
    pub revoked_keys: Vec<String>,
    /// When a manifest was last fetched and verified.
    #[serde(default)]
    pub last_check: Option<i64>,
    /// When the background check last started (it may have failed).
    #[serde(default)]
    pub last_attempt: Option<i64>,
    /// The channel's version at the last check.
    #[serde(default)]
    pub latest: Option<String>,
    /// The last verified manifest's expiry.
    #[serde(default)]
    pub manifest_expires_at: Option<i64>,
    /// The version `rollback` goes back to.
    #[serde(default)]
    pub previous: Option<String>,
    /// Versions whose daemon did not become healthy here.
    #[serde(default)]
    pub bad_versions: Vec<String>,
}

impl State {
    fn path(root: &Path) -> PathBuf {
        root.join("state.json")
    }

    /// The saved state, or the default when there is none.
    pub fn load(root: &Path) -> State {
        std::fs::read(State::path(root))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes it atomically.
    pub fn save(&self, root: &Path) -> Result<()> {
        std::fs::create_dir_all(root).map_err(|e| local(format!("creating {}", root.display()), e))?;
        let tmp = root.join(format!(".state.json.{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Refusal::Unavailable(e.to_string()))?;
        std::fs::write(&tmp, bytes).map_err(|e| local(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, State::path(root)).map_err(|e| local("saving the update state".into(), e))
    }

    fn channel(&self) -> String {
        self.channel.clone().unwrap_or_else(|| "stable".into())
    }
}

/// An error with its causes, as "outer: inner: innermost" (reqwest's own
/// message leaves out why, e.g. the certificate check that failed).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        next = cause.source();
    }
    text
}

fn local(what: String, e: std::io::Error) -> Refusal {
    Refusal::Unavailable(format!("{what}: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Where the manifest (and from it the archives) come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A manifest at an `http(s)://` URL.
    Url(reqwest::Url),
    /// A directory holding `manifest.json`, its signature and the archives
    /// (an offline mirror).
    Dir(PathBuf),
    /// One archive (`.tar.gz`) with its `.minisig` beside it; no manifest.
    Archive(PathBuf),
}

impl Source {
    /// `--from` (or `NEXUS_UPDATE_URL`, or the default URL) as a source.
    pub fn parse(from: Option<&str>) -> Result<Source> {
        let text = match from {
            Some(f) => f.to_string(),
            None => std::env::var("NEXUS_UPDATE_URL").unwrap_or_else(|_| DEFAULT_MANIFEST_URL.into()),
        };
        if let Some(path) = text.strip_prefix("file://") {
            return Source::parse(Some(path));
        }
        if text.starts_with("https://") || text.starts_with("http://") {
            let url = reqwest::Url::parse(&text).map_err(|e| Refusal::Invalid(format!("--from {text:?}: {e}")))?;
            return Ok(Source::Url(url));
        }
        if text.contains("://") {
            return Err(Refusal::Invalid(format!(
                "--from {text:?}: only https://, http://, file://, a directory or an archive"
            )));
        }
        let path = PathBuf::from(&text);
        if path.is_dir() {
            Ok(Source::Dir(path))
        } else if text.ends_with(".tar.gz") && path.is_file() {
            Ok(Source::Archive(path))
        } else {
            Err(Refusal::Invalid(format!(
                "--from {text}: no such directory or .tar.gz archive"
            )))
        }
    }

    fn manifest_location(&self) -> Location {
        match self {
            Source::Url(u) => Location::Http(u.clone()),
            Source::Dir(d) => Location::File(d.join("manifest.json")),
            Source::Archive(p) => Location::File(p.clone()),
        }
    }

    /// Where the archive at `url` (from the manifest) is: next to the
    /// manifest when relative; in the directory, by file name, for a
    /// directory source.
    fn artifact_location(&self, url: &str) -> Result<Location> {
        match self {
            Source::Dir(d) => Ok(Location::File(d.join(file_name(url)))),
            Source::Archive(p) => Ok(Location::File(p.clone())),
            Source::Url(base) => {
                if let Some(path) = url.strip_prefix("file://") {
                    return Ok(Location::File(PathBuf::from(path)));
                }
                let joined = base
                    .join(url)
                    .map_err(|e| Refusal::Invalid(format!("archive URL {url:?}: {e}")))?;
                Ok(Location::Http(joined))
            }
        }
    }
}

/// The last path component of a URL.
fn file_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or(url).to_string()
}

/// A file to read, by HTTP or from disk.
#[derive(Debug, Clone)]
enum Location {
    Http(reqwest::Url),
    File(PathBuf),
}

impl Location {
    fn with_suffix(&self, suffix: &str) -> Location {
        match self {
            Location::Http(u) => {
                let mut u = u.clone();
                u.set_path(&format!("{}{suffix}", u.path()));
                Location::Http(u)
            }
            Location::File(p) => Location::File(PathBuf::from(format!("{}{suffix}", p.display()))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Location::Http(u) => u.to_string(),
            Location::File(p) => p.display().to_string(),
        }
    }
}

fn http() -> Result<reqwest::Client> {
    // HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply; roots are the system's (a private CA added there works)
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(20))
        .user_agent(concat!("nexus/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Refusal::Unavailable(format!("HTTP client: {e}")))
}

/// Reads a small file (a manifest, a signature): at most `limit` bytes,
/// within `timeout` in all.
async fn read_small(loc: &Location, limit: u64, timeout: Duration) -> Result<Vec<u8>> {
    match loc {
        Location::File(p) => {
            let bytes = std::fs::read(p).map_err(|e| local(format!("reading {}", p.display()), e))?;
            if bytes.len() as u64 > limit {
                return Err(Refusal::Invalid(format!(
                    "{} is larger than {limit} bytes",
                    p.display()
                )));
            }
            Ok(bytes)
        }
        Location::Http(u) => {
            let get = async {
                let mut resp = http()?
                    .get(u.clone())
                    .send()
                    .await
                    .map_err(|e| Refusal::Unavailable(format!("GET {u}: {}", causes(&e))))?;
                if !resp.status().is_success() {
                    return Err(Refusal::Unavailable(format!("GET {u}: {}", resp.status())));
                }
                let mut out = Vec::new();
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| Refusal::Unavailable(format!("GET {u}: {}", causes(&e))))?
                {
                    out.extend_from_slice(&chunk);
                    if out.len() as u64 > limit {
                        return Err(Refusal::Invalid(format!("{u} is larger than {limit} bytes")));
                    }
                }
                Ok(out)
            };
            tokio::time::timeout(timeout, get)
                .await
                .map_err(|_| Refusal::Unavailable(format!("GET {u}: no answer within {} s", timeout.as_secs())))?
        }
    }
}

/// A verified manifest and what was learnt from it.
struct Verified {
    manifest: Manifest,
}

/// Fetches and verifies the manifest of `source`, refusing stale, expired
/// or wrongly signed ones; records its serial and revoked keys.
async fn load_manifest(source: &Source, state: &mut State, allow_expired: bool, timeout: Duration) -> Result<Verified> {
    let loc = source.manifest_location();
    let bytes = read_small(&loc, 1 << 20, timeout).await?;
    let sig_text = read_small(&loc.with_suffix(".minisig"), 4096, timeout).await?;
    let what = format!("the manifest {}", loc.describe());
    let sig = manifest::signature(&String::from_utf8_lossy(&sig_text), &format!("{what}.minisig"))?;
    let keys = manifest::trusted_keys();
    let signer = manifest::verify(&bytes, &sig, &keys, &state.revoked_keys, &what)?;
    let m = manifest::parse(&bytes)?;
    if m.revoked_keys.contains(&signer) {
        return Err(Refusal::Untrusted(format!("{what} revokes the key it is signed with")));
    }
    if m.serial < state.highest_serial {
        return Err(Refusal::Untrusted(format!(
            "{what} has serial {}, older than serial {} seen before: a stale or replayed manifest is refused",
            m.serial, state.highest_serial
        )));
    }
    let offline = !matches!(source, Source::Url(_));
    if m.expires_at < now() && !(allow_expired && offline) {
        return Err(Refusal::Untrusted(format!(
            "{what} expired at {} (Unix time): the release server may be frozen; with --from DIR|FILE, --allow-expired accepts it",
            m.expires_at
        )));
    }
    state.highest_serial = m.serial;
    for k in &m.revoked_keys {
        if !state.revoked_keys.contains(k) {
            state.revoked_keys.push(k.clone());
        }
    }
    state.last_check = Some(now());
    state.manifest_expires_at = Some(m.expires_at);
    Ok(Verified { manifest: m })
}

/// The version `current` points at, else this binary's.
pub fn installed_version(root: &Path) -> String {
    std::fs::read_to_string(root.join("current/VERSION"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| env!("CARGO_PKG_VERSION").to_string())
}

/// How this `nexus` was installed: `nexus update` (under the install
/// root), a package manager (a marker file beside it), or otherwise.
pub fn install_kind(root: &Path) -> &'static str {
    let exe = std::env::current_exe().ok();
    let dir = exe.as_ref().and_then(|e| e.parent().map(Path::to_path_buf));
    if dir.as_ref().is_some_and(|d| d.join(PACKAGED_MARKER).exists()) {
        return "package manager";
    }
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if exe
        .and_then(|e| e.canonicalize().ok())
        .is_some_and(|e| e.starts_with(&root))
    {
        return "nexus update";
    }
    "by hand (not managed by nexus update)"
}

/// One install at a time: waits for another to finish.
fn lock(root: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(root).map_err(|e| local(format!("creating {}", root.display()), e))?;
    let path = root.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| local(format!("opening {}", path.display()), e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!("waiting for another `nexus update` to finish ({})", path.display());
            f.lock().map_err(|e| local(format!("locking {}", path.display()), e))?;
            Ok(f)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(local(format!("locking {}", path.display()), e)),
    }
}

/// What `update check` found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The channel looked at.
    pub channel: String,
    /// The installed version.
    pub installed: String,
    /// The channel's version.
    pub latest: String,
    /// Whether `latest` is newer than `installed`.
    pub update_available: bool,
    /// The manifest's serial.
    pub serial: u64,
    /// Warnings: the installed version revoked or below the minimum safe one.
    pub warnings: Vec<String>,
}

/// Options of `check` and `install`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--channel`.
    pub channel: Option<String>,
    /// `--version`.
    pub version: Option<String>,
    /// `--from`.
    pub from: Option<String>,
    /// `--yes`.
    pub yes: bool,
    /// `--allow-expired`.
    pub allow_expired: bool,
    /// `--allow-downgrade`.
    pub allow_downgrade: bool,
}

/// `nexus update check`: the manifest only (3 s at most), verified.
pub async fn check(o: &Options) -> Result<CheckReport> {
    let root = install_root();
    let source = Source::parse(o.from.as_deref())?;
    if matches!(source, Source::Archive(_)) {
        return Err(Refusal::Invalid(
            "--from: check reads a manifest, not an archive".into(),
        ));
    }
    let mut state = State::load(&root);
    let v = load_manifest(&source, &mut state, o.allow_expired, Duration::from_secs(3)).await?;
    let channel = o.channel.clone().unwrap_or_else(|| state.channel());
    let c = v.manifest.channel(&channel)?;
    let installed = installed_version(&root);
    let newer = version_lt(&installed, &c.version);
    let mut warnings = Vec::new();
    if c.revoked.contains(&installed) {
        warnings.push(format!("nexus {installed} was withdrawn (revoked): update now"));
    }
    if let Some(min) = &c.minimum_safe
        && version_lt(&installed, min)
    {
        warnings.push(format!(
            "nexus {installed} is below the minimum safe version {min}: update now"
        ));
    }
    state.latest = Some(c.version.clone());
    state.save(&root)?;
    Ok(CheckReport {
        channel,
        installed,
        latest: c.version.clone(),
        update_available: newer,
        serial: v.manifest.serial,
        warnings,
    })
}

/// `a < b` as semantic versions (unparsable ones compare as equal).
fn version_lt(a: &str, b: &str) -> bool {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

/// What `update install` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Installed {
    /// The version now current.
    pub version: String,
    /// The version before (what `rollback` returns to).
    pub previous: Option<String>,
    /// Where its binaries are.
    pub directory: String,
    /// Whether a running daemon was restarted from the new version.
    pub daemon_restarted: bool,
}

/// `nexus update install`.
pub async fn install(o: &Options, progress: bool) -> Result<Installed> {
    let root = install_root();
    if install_kind(&root) == "package manager" {
        return Err(Refusal::Invalid(
            "this nexus was installed by a package manager: update it with that (e.g. `apt upgrade nexus`)".into(),
        ));
    }
    let _lock = lock(&root)?;
    let mut state = State::load(&root);
    let source = Source::parse(o.from.as_deref())?;
    let installed = installed_version(&root);

    // what to install: the version, the archive's place, size and hash when a manifest says them
    let (version, channel, archive, expected) = match &source {
        Source::Archive(p) => {
            let version = o.version.clone().unwrap_or_default();
            (version, None, Location::File(p.clone()), None)
        }
        _ => {
            let v = load_manifest(&source, &mut state, o.allow_expired, Duration::from_secs(10)).await?;
            let wanted = o.channel.clone().unwrap_or_else(|| state.channel());
            let (channel, c) = match &o.version {
                None => {
                    let c = v.manifest.channel(&wanted)?;
                    (wanted.clone(), c.clone())
                }
                Some(ver) => {
                    let mut found = v.manifest.channels.iter().filter(|(_, c)| &c.version == ver);
                    let pick = found
                        .clone()
                        .find(|(n, _)| **n == wanted)
                        .or_else(|| found.next())
                        .ok_or_else(|| {
                            let offered: Vec<String> = v
                                .manifest
                                .channels
                                .iter()
                                .map(|(n, c)| format!("{n} {}", c.version))
                                .collect();
                            Refusal::Invalid(format!("--version {ver}: the manifest offers {}", offered.join(", ")))
                        })?;
                    (pick.0.clone(), pick.1.clone())
                }
            };
            if c.revoked.contains(&c.version) {
                return Err(Refusal::Untrusted(format!(
                    "nexus {} was withdrawn (revoked)",
                    c.version
                )));
            }
            let artifact = c
                .targets
                .get(TARGET)
                .ok_or_else(|| Refusal::Invalid(format!("channels.{channel}.targets: no build for {TARGET}")))?;
            let loc = source.artifact_location(&artifact.url)?;
            if o.channel.is_some() {
                state.channel = Some(channel.clone());
            }
            state.save(&root)?;
            (c.version.clone(), Some(channel), loc, Some(artifact.clone()))
        }
    };
    if !version.is_empty() {
        decide(&version, &installed, o, &state)?;
    }

    // the archive: streamed to disk, cut off past the signed size, hashed
    let downloads = root.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| local(format!("creating {}", downloads.display()), e))?;
    let file = match &archive {
        Location::File(p) => p.clone(),
        Location::Http(u) => {
            let name = file_name(u.path());
            let part = downloads.join(format!("{name}.part"));
            let size = expected.as_ref().map(|a| a.size).unwrap_or(u64::MAX);
            let got = download(u, &part, size, progress).await;
            if let Err(e) = got {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
            part
        }
    };
    let cleanup = |p: &Path| {
        if p.starts_with(&downloads) {
            let _ = std::fs::remove_file(p);
        }
    };
    let sig_loc = archive.with_suffix(".minisig");
    let checked = match read_small(&sig_loc, 4096, Duration::from_secs(10)).await {
        Ok(sig) => check_archive(
            &file,
            &archive,
            &String::from_utf8_lossy(&sig),
            expected.as_ref(),
            &state,
            channel.as_deref(),
            &version,
        ),
        Err(e) => Err(e),
    };
    let signed = match checked {
        Ok(s) => s,
        Err(e) => {
            cleanup(&file);
            return Err(e);
        }
    };
    let version = signed.version.clone();
    if o.version.as_ref().is_some_and(|v| *v != version) {
        cleanup(&file);
        return Err(Refusal::Untrusted(format!(
            "the archive is signed as version {version}, not {}",
            o.version.as_deref().unwrap_or("")
        )));
    }
    if matches!(source, Source::Archive(_)) {
        manifest::semver(&version, "the archive's signed version")?;
        decide(&version, &installed, o, &state)?;
    }
    if !o.yes && progress && !confirm(&format!("Install nexus {version} (now {installed})?")) {
        cleanup(&file);
        return Err(Refusal::UpToDate("nothing installed".into()));
    }

    // unpacked beside the others, test-launched, then switched to in one rename
    let staged = unpack(&root, &file, &version);
    cleanup(&file);
    let staged = staged?;
    if let Err(e) = test_launch(&staged, &version) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    let dir = place(&root, &staged, &version)?;
    let before = current_target(&root);
    let previous_before = state.previous.clone();
    switch(&root, &version)?;
    if before.as_deref() != Some(version.as_str()) {
        state.previous = before.clone();
    }
    state.save(&root)?;

    // the running daemon: drained and started again from the new version
    let restarted = match daemon::restart(&root.join("current/nexusd"), &version).await {
        Ok(r) => r,
        Err(e) => {
            match &before {
                Some(v) => switch(&root, v)?,
                None => {
                    let _ = std::fs::remove_file(root.join("current"));
                }
            }
            let again = match daemon::start_previous().await {
                Ok(()) => "restarted the daemon that ran before".to_string(),
                Err(e) => format!("the daemon that ran before did not start again either ({e})"),
            };
            state.bad_versions.push(version.clone());
            state.previous = previous_before;
            state.save(&root)?;
            return Err(Refusal::DaemonUnhealthy(format!(
                "the daemon of nexus {version} did not become healthy ({e}); switched back to {installed} and {again}"
            )));
        }
    };
    Ok(Installed {
        version,
        previous: state.previous.clone(),
        directory: dir.display().to_string(),
        daemon_restarted: restarted,
    })
}

/// Whether `version` may replace `installed`: newer; the same only when
/// asked by `--version`; older only with `--allow-downgrade`; never one
/// that failed here before unless asked by `--version`.
fn decide(version: &str, installed: &str, o: &Options, state: &State) -> Result<()> {
    let v = manifest::semver(version, "version")?;
    let explicit = o.version.as_deref() == Some(version);
    if state.bad_versions.iter().any(|b| b == version) && !explicit {
        return Err(Refusal::Invalid(format!(
            "nexus {version} did not start here before; install it anyway with --version {version}"
        )));
    }
    let Ok(i) = semver::Version::parse(installed) else {
        return Ok(());
    };
    if v < i && !o.allow_downgrade {
        return Err(Refusal::Untrusted(format!(
            "nexus {version} is older than the installed {installed}: refused (downgrade protection); --allow-downgrade installs it"
        )));
    }
    if v == i && !explicit {
        return Err(Refusal::UpToDate(format!("nexus {installed} is up to date")));
    }
    Ok(())
}

/// Streams `url` into `dest`; refuses more than `size` bytes, fails on fewer.
async fn download(url: &reqwest::Url, dest: &Path, size: u64, progress: bool) -> Result<()> {
    use std::io::Write;
    let mut resp = http()?
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Refusal::Unavailable(format!("GET {url}: {}", causes(&e))))?;
    if !resp.status().is_success() {
        return Err(Refusal::Unavailable(format!("GET {url}: {}", resp.status())));
    }
    let bar = if progress {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut out = std::fs::File::create(dest).map_err(|e| local(format!("creating {}", dest.display()), e))?;
    let mut got: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        Refusal::Unavailable(format!(
            "GET {url}: {} after {got} bytes; run the command again",
            causes(&e)
        ))
    })? {
        got += chunk.len() as u64;
        if got > size {
            return Err(Refusal::Untrusted(format!(
                "{url} sent more than the signed size of {size} bytes: refused"
            )));
        }
        out.write_all(&chunk)
            .map_err(|e| local(format!("writing {}", dest.display()), e))?;
        if let Some(b) = &bar {
            b.set_position(got);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if size != u64::MAX && got < size {
        return Err(Refusal::Unavailable(format!(
            "{url} ended after {got} of {size} bytes; run the command again"
        )));
    }
    Ok(())
}

/// SHA-256 and size against the manifest, the signature against the
/// keys, and every field of its trusted comment.
fn check_archive(
    file: &Path,
    loc: &Location,
    sig_text: &str,
    expected: Option<&manifest::Artifact>,
    state: &State,
    channel: Option<&str>,
    version: &str,
) -> Result<manifest::Signed> {
    use sha2::Digest;
    use std::io::Read;
    let what = format!("the archive {}", loc.describe());
    if let Some(a) = expected {
        let mut f = std::fs::File::open(file).map_err(|e| local(format!("reading {}", file.display()), e))?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| local(format!("reading {}", file.display()), e))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            h.update(&buf[..n]);
        }
        if total > a.size {
            return Err(Refusal::Untrusted(format!(
                "{what} is larger ({total} bytes) than signed ({})",
                a.size
            )));
        }
        if total < a.size {
            return Err(Refusal::Unavailable(format!(
                "{what} has {total} of {} bytes: incomplete",
                a.size
            )));
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if hex != a.sha256.to_ascii_lowercase() {
            return Err(Refusal::Untrusted(format!(
                "{what}: SHA-256 {hex} differs from the signed {}: it was changed",
                a.sha256
            )));
        }
    }
    let sig = manifest::signature(sig_text, &format!("{what}.minisig"))?;
    let checker = manifest::ArchiveSignature::new(sig, &manifest::trusted_keys(), &state.revoked_keys, &what)?;
    checker.check_file(file, &what)?;
    let signed = checker.signed(&what)?;
    let name = match loc {
        Location::Http(u) => file_name(u.path()),
        Location::File(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mismatch = |field: &str, signed: &str, want: &str| {
        Refusal::Untrusted(format!(
            "{what}: its signature says {field}:{signed}, but this is {want}: refused"
        ))
    };
    if !version.is_empty() && signed.version != version {
        return Err(mismatch("version", &signed.version, version));
    }
    if signed.target != TARGET {
        return Err(mismatch("target", &signed.target, TARGET));
    }
    if signed.file != name {
        return Err(mismatch("file", &signed.file, &name));
    }
    if let Some(c) = channel
        && signed.channel != c
    {
        return Err(mismatch("channel", &signed.channel, c));
    }
    Ok(signed)
}

/// Unpacks the three binaries (nothing else; no paths) into a staging
/// directory under `versions/`.
fn unpack(root: &Path, archive: &Path, version: &str) -> Result<PathBuf> {
    let staged = root
        .join("versions")
        .join(format!(".{version}.staged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staged);
    std::fs::create_dir_all(&staged).map_err(|e| local(format!("creating {}", staged.display()), e))?;
    let made = (|| {
        let f = std::fs::File::open(archive).map_err(|e| local(format!("reading {}", archive.display()), e))?;
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        let bad = |m: String| Refusal::Untrusted(format!("the archive: {m}"));
        let mut found = Vec::new();
        for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let name = path.to_string_lossy().trim_start_matches("./").to_string();
            if entry.header().entry_type().is_dir() && name.is_empty() {
                continue;
            }
            if !BINARIES.contains(&name.as_str()) || !entry.header().entry_type().is_file() {
                return Err(bad(format!("unexpected entry {name:?} (only {})", BINARIES.join(", "))));
            }
            let dest = staged.join(&name);
            let mut out = std::fs::File::create(&dest).map_err(|e| local(format!("writing {}", dest.display()), e))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| bad(e.to_string()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| local(format!("chmod {}", dest.display()), e))?;
            found.push(name);
        }
        for b in BINARIES {
            if !found.iter().any(|f| f == b) {
                return Err(bad(format!("{b} is missing")));
            }
        }
        std::fs::write(staged.join("VERSION"), format!("{version}\n"))
            .map_err(|e| local("writing VERSION".into(), e))?;
        Ok(())
    })();
    match made {
        Ok(()) => Ok(staged),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged);
            Err(e)
        }
    }
}

/// Runs `nexus --version` (must name `version`) and `nexusd --self-check`
/// from `dir`, 10 s each.
fn test_launch(dir: &Path, version: &str) -> Result<()> {
    let run = |bin: &str, arg: &str| -> Result<String> {
        let mut child = std::process::Command::new(dir.join(bin))
            .arg(arg)
            .env("NEXUS_AGENT_BINARY", dir.join("nexus-agent"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| Refusal::LaunchFailed(format!("the new {bin} does not start: {e}")))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    return Err(Refusal::LaunchFailed(format!(
                        "the new {bin} {arg} did not finish in 10 s"
                    )));
                }
            }
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Refusal::LaunchFailed(format!("the new {bin}: {e}")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(Refusal::LaunchFailed(format!(
                "the new {bin} {arg} failed ({}): {}; nothing was changed",
                out.status,
                text.trim()
            )));
        }
        Ok(text)
    };
    let said = run("nexus", "--version")?;
    if !said.split_whitespace().any(|w| w == version) {
        return Err(Refusal::LaunchFailed(format!(
            "the new nexus --version says {:?}, not {version}; nothing was changed",
            said.trim()
        )));
    }
    run("nexusd", "--self-check")?;
    Ok(())
}

/// Moves the staged directory to `versions/<version>` (replacing one there).
fn place(root: &Path, staged: &Path, version: &str) -> Result<PathBuf> {
    let dir = root.join("versions").join(version);
    if dir.exists() {
        let old = root
            .join("versions")
            .join(format!(".{version}.old-{}", std::process::id()));
        std::fs::rename(&dir, &old).map_err(|e| local(format!("moving {}", dir.display()), e))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    std::fs::rename(staged, &dir).map_err(|e| local(format!("moving into {}", dir.display()), e))?;
    Ok(dir)
}

/// The version `current` points at.
fn current_target(root: &Path) -> Option<String> {
    let target = std::fs::read_link(root.join("current")).ok()?;
    target.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Points `current` at `versions/<version>`: one atomic rename.
fn switch(root: &Path, version: &str) -> Result<()> {
    let tmp = root.join(format!(".current.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new("versions").join(version), &tmp)
        .map_err(|e| local(format!("linking {}", tmp.display()), e))?;
    std::fs::rename(&tmp, root.join("current")).map_err(|e| local("switching current".into(), e))
}

/// `nexus update rollback`: back to the previous version, and the daemon with it.
pub async fn rollback() -> Result<Installed> {
    let root = install_root();
    let _lock = lock(&root)?;
    let mut state = State::load(&root);
    let Some(previous) = state.previous.clone() else {
        return Err(Refusal::Invalid(
            "no previous version to roll back to: `nexus update install --version V --allow-downgrade` installs a given one".into(),
        ));
    };
    let dir = root.join("versions").join(&previous);
    if !dir.join("nexus").is_file() {
        return Err(Refusal::Invalid(format!(
            "{} is gone: nothing to roll back to",
            dir.display()
        )));
    }
    let now_current = current_target(&root);
    switch(&root, &previous)?;
    state.previous = now_current;
    state.save(&root)?;
    let restarted = daemon::restart(&root.join("current/nexusd"), &previous)
        .await
        .map_err(|e| Refusal::DaemonUnhealthy(format!("the daemon of {previous} did not become healthy: {e}")))?;
    Ok(Installed {
        version: previous,
        previous: state.previous.clone(),
        directory: dir.display().to_string(),
        daemon_restarted: restarted,
    })
}

/// What `update status` shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The installed version.
    pub current: String,
    /// The channel's version at the last check.
    pub latest: Option<String>,
    /// The channel followed.
    pub channel: String,
    /// Pinned version (none: follows the channel).
    pub pin: Option<String>,
    /// Last check, Unix seconds.
    pub last_check: Option<i64>,
    /// Highest manifest serial seen.
    pub manifest_serial: u64,
    /// The last manifest's expiry, Unix seconds.
    pub manifest_expires_at: Option<i64>,
    /// How this nexus was installed.
    pub installed_by: String,
    /// The install root.
    pub install_dir: String,
    /// The previous version (`rollback`).
    pub previous: Option<String>,
    /// The running daemon's version, if one answers.
    pub daemon: Option<String>,
    /// Each workspace's agent version (`null`: not recorded yet), by name.
    pub agents: std::collections::BTreeMap<String, Option<String>>,
    /// Versions that failed to start here.
    pub bad_versions: Vec<String>,
}

/// `nexus update status`.
pub async fn status() -> Status {
    let root = install_root();
    let state = State::load(&root);
    let (daemon, agents) = match daemon::running_versions().await {
        Some((v, agents)) => (Some(v), agents.into_iter().collect()),
        None => (None, Default::default()),
    };
    Status {
        current: installed_version(&root),
        latest: state.latest.clone(),
        channel: state.channel(),
        pin: None,
        last_check: state.last_check,
        manifest_serial: state.highest_serial,
        manifest_expires_at: state.manifest_expires_at,
        installed_by: install_kind(&root).to_string(),
        install_dir: root.display().to_string(),
        previous: state.previous.clone(),
        daemon,
        agents,
        bad_versions: state.bad_versions.clone(),
    }
}

/// `nexus update notes`: the channel's release notes.
pub async fn notes(o: &Options) -> Result<(String, String)> {
    let root = install_root();
    let source = Source::parse(o.from.as_deref())?;
    let mut state = State::load(&root);
    let v = load_manifest(&source, &mut state, o.allow_expired, Duration::from_secs(3)).await?;
    state.save(&root)?;
    let channel = o.channel.clone().unwrap_or_else(|| state.channel());
    let c = v.manifest.channel(&channel)?;
    Ok((c.version.clone(), c.notes.clone()))
}

fn confirm(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return true;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// Prints a result the way the commands do and gives the exit code.
pub fn finish<T: Serialize>(r: Result<T>, json: bool, human: impl FnOnce(&T)) -> i32 {
    match r {
        Ok(v) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                human(&v);
            }
            0
        }
        Err(e) => {
            let code = e.exit_code();
            if json {
                println!("{}", serde_json::json!({"error": e.to_string(), "exitCode": code}));
            } else if code == 3 {
                println!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            code
        }
    }
}
