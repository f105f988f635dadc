//! Team mode's authorization as a table: every JSON-RPC method of the
//! OpenRPC document × every kind of caller → allowed, not found, forbidden
//! or unauthorized. The expected classes are written out here by hand, not
//! read from `nexus_sdk::team::permission`, and a method this table does not
//! place fails the test.

use super::*;
use crate::runtime::fake::FakeRuntime;
use nexus_sdk::ErrorKind;
use nexus_sdk::methods as m;
use nexus_sdk::team::{Role, TokenKind};

/// Methods anyone may call, signed in or not.
const ANONYMOUS: &[&str] = &[m::RPC_DISCOVER, m::DAEMON_INFO, m::AUTH_CHALLENGE, m::AUTH_LOGIN];
/// Methods any signed-in person may call, about no workspace.
const SIGNED_IN: &[&str] = &[
    m::TEMPLATE_LIST,
    m::WORKSPACE_LIST,
    m::EVENTS_SUBSCRIBE,
    m::EVENTS_UNSUBSCRIBE,
    m::AUTH_LOGOUT,
    m::AUTH_WHOAMI,
    m::AUTH_DASHBOARD_LINK,
    m::TRACE_SESSION,
    m::TOKEN_CREATE,
    m::TOKEN_LIST,
    m::TOKEN_REVOKE,
    m::USER_KEY_ADD,
    m::USER_KEY_REMOVE,
    m::WORKSPACE_ACCEPT,
    m::ORG_CREATE,
    m::ORG_LIST,
    m::ORG_SHOW,
    m::ORG_DELETE,
    m::ORG_SWITCH,
    m::ORG_INVITE,
    m::ORG_JOIN,
    m::ORG_MEMBERS_UPDATE,
    m::ORG_MEMBERS_REMOVE,
    m::ORG_LEAVE,
    m::ORG_POLICY,
    m::ORG_USAGE,
    m::TEAM_CREATE,
    m::TEAM_LIST,
    m::TEAM_ADD_MEMBER,
    m::TEAM_REMOVE_MEMBER,
    m::WORKSPACE_LOGS_UNSUBSCRIBE,
    m::WORKSPACE_STATS_UNSUBSCRIBE,
    m::EXEC_STREAM_UNSUBSCRIBE,
    m::FS_WATCH_UNSUBSCRIBE,
    m::TUNNEL_UNSUBSCRIBE,
    m::WORKSPACE_CREATE,
];
/// Viewers and more.
const SEE: &[&str] = &[
    m::WORKSPACE_GET,
    m::WORKSPACE_LOGS,
    m::WORKSPACE_STATS,
    m::WORKSPACE_CHECKPOINT_LIST,
    m::PORTS_LIST,
    m::WORKSPACE_SESSIONS,
    m::WORKSPACE_LEAVE,
];
/// Editors and more (no site admin without a share).
const USE: &[&str] = &[
    m::WORKSPACE_START,
    m::WORKSPACE_REBUILD,
    m::WORKSPACE_CHECKPOINT_CREATE,
    m::WORKSPACE_CHECKPOINT_REMOVE,
    m::WORKSPACE_RESTORE,
    m::WORKSPACE_FORK,
    m::EXEC_RUN,
    m::EXEC,
    m::EXEC_STREAM,
    m::EXEC_WRITE,
    m::EXEC_CLOSE_STDIN,
    m::EXEC_RESIZE,
    m::EXEC_SIGNAL,
    m::EXEC_KILL,
    m::FS_READ_FILE,
    m::FS_WRITE_FILE,
    m::FS_EXISTS,
    m::FS_STAT,
    m::FS_READDIR,
    m::FS_MKDIR,
    m::FS_RM,
    m::FS_RENAME,
    m::FS_WATCH,
    m::PORTS_FORWARD,
    m::PORTS_UNFORWARD,
    m::TUNNEL_OPEN,
    m::TUNNEL_WRITE,
    m::TUNNEL_CLOSE,
];
/// Editors and more, and site admins.
const STOP: &[&str] = &[m::WORKSPACE_STOP, m::WORKSPACE_IDLE, m::WORKSPACE_BREAK_GLASS];
/// Shared owners and the creator.
const SHARE: &[&str] = &[
    m::WORKSPACE_SHARE,
    m::WORKSPACE_UNSHARE,
    m::WORKSPACE_SHARES,
    m::WORKSPACE_SHARE_CODE,
];
/// The creator and site admins.
const REMOVE: &[&str] = &[m::WORKSPACE_REMOVE, m::WORKSPACE_TRANSFER];
/// Site admins.
const ADMIN: &[&str] = &[
    m::IMAGE_PRUNE,
    m::USER_ADD,
    m::USER_LIST,
    m::USER_SUSPEND,
    m::USER_RESUME,
    m::USER_REMOVE,
    m::USER_POLICY,
    m::USER_QUOTA,
    m::ORG_QUOTA,
    m::AUDIT_LIST,
    m::AUDIT_VERIFY,
];

/// What a call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    NotFound,
    Forbidden,
    Unauthorized,
}

fn answer_of(r: Result<()>) -> Answer {
    match r {
        Ok(()) => Answer::Allowed,
        Err(e) => match e.kind() {
            ErrorKind::NotFound => Answer::NotFound,
            ErrorKind::Forbidden => Answer::Forbidden,
            ErrorKind::Unauthorized => Answer::Unauthorized,
            other => panic!("unexpected {other:?}: {e}"),
        },
    }
}

/// Callers of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Stranger,
    Viewer,
    Editor,
    SharedOwner,
    Creator,
    OrgAdmin,
    SiteAdmin,
    Suspended,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Stranger,
    Who::Viewer,
    Who::Editor,
    Who::SharedOwner,
    Who::Creator,
    Who::OrgAdmin,
    Who::SiteAdmin,
    Who::Suspended,
];

fn expected(method: &str, who: Who) -> Answer {
    use Answer::*;
    let rank = match who {
        Who::Anonymous => {
            return if ANONYMOUS.contains(&method) {
                Allowed
            } else {
                Unauthorized
            };
        }
        // the token itself is refused, whatever the method
        Who::Suspended => return Unauthorized,
        Who::Stranger => 0,
        Who::Viewer => 1,
        Who::Editor => 2,
        Who::SharedOwner => 3,
        Who::Creator => 4,
        Who::OrgAdmin | Who::SiteAdmin => 10,
    };
    if ANONYMOUS.contains(&method) || SIGNED_IN.contains(&method) {
        return Allowed;
    }
    if ADMIN.contains(&method) {
        return if who == Who::SiteAdmin { Allowed } else { Forbidden };
    }
    // the workspace's org admin and a site admin stand alike towards it
    let admin = matches!(who, Who::SiteAdmin | Who::OrgAdmin);
    if rank == 0 {
        return NotFound;
    }
    let ok = if SEE.contains(&method) {
        true
    } else if USE.contains(&method) {
        !admin && rank >= 2
    } else if STOP.contains(&method) {
        rank >= 2
    } else if SHARE.contains(&method) {
        !admin && rank >= 3
    } else if REMOVE.contains(&method) {
        admin || rank == 4
    } else {
        panic!("the table places no {method}: add it to one of its lists");
    };
    if ok { Allowed } else { Forbidden }
}

/// Every method name the API serves: the OpenRPC document's, with the
/// unsubscribe methods of its subscriptions.
fn every_method() -> Vec<String> {
    let doc = nexus_sdk::openrpc::document();
    let mut names = Vec::new();
    for method in doc["methods"].as_array().expect("methods") {
        names.push(method["name"].as_str().expect("name").to_string());
        if let Some(u) = method["x-subscription"]["unsubscribe"].as_str() {
            names.push(u.to_string());
        }
    }
    names
}

struct Team {
    _dir: tempfile::TempDir,
    manager: Manager,
    tokens: std::collections::HashMap<&'static str, String>,
}

fn record(id: &str, name: &str, owner: i64) -> WorkspaceRecord {
    WorkspaceRecord {
        id: id.into(),
        name: name.into(),
        state: WorkspaceState::Running,
        repository: "/nonexistent".into(),
        git_common_dir: "/nonexistent/.git".into(),
        worktree: "/nonexistent/.worktree/x".into(),
        branch: format!("nexus/{name}"),
        branch_created: true,
        image: "img".into(),
        remote_user: "root".into(),
        remote_user_uid: None,
        workspace_folder: "/workspaces/x".into(),
        ssh_port: 0,
        ssh_relay: false,
        host_key: String::new(),
        host_public_key: String::new(),
        authorized_keys: String::new(),
        delete_branch: false,
        container_id: None,
        devcontainer: None,
        created_at: 0,
        owner_id: Some(owner),
        limit_cpus: None,
        limit_memory: None,
        org_id: None,
        agent_version: None,
        idle_pause_secs: None,
        idle_stop_secs: None,
        state_reason: None,
        docker: None,
    }
}

/// A team: `ana` (site admin, no share of `api`), `cy` creator of `api`,
/// `vi` viewer, `ed` editor, `ow` shared owner, `oa` admin of org `acme`
/// that `api` belongs to, `st` a stranger, `su` suspended (an editor); a
/// session token each.
fn team() -> Team {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let store = Store::open(&data.join("state.db")).expect("store");
    let key = keys::generate().expect("key");
    let line = keys::public_line(&key).expect("line");
    super::team::init(&store, &data, "ana", &[line], "0".repeat(64).as_str()).expect("init");
    let mut ids = std::collections::HashMap::new();
    for name in ["cy", "vi", "ed", "ow", "oa", "st", "su"] {
        let u = store.add_user(name, false, None, &[], 0).expect("user");
        ids.insert(name, u.id);
    }
    let acme = store.add_org("acme", ids["oa"], 0).expect("org");
    store.put_org_member(acme.id, ids["cy"], "member").expect("member");
    let api = WorkspaceRecord {
        org_id: Some(acme.id),
        ..record("00000000000000a1", "api", ids["cy"])
    };
    store.insert_creating(&api, (48200, 48210), |_| true).expect("record");
    for (name, role) in [
        ("vi", Role::Viewer),
        ("ed", Role::Editor),
        ("ow", Role::Owner),
        ("su", Role::Editor),
    ] {
        store
            .put_share("00000000000000a1", ids[name], role.as_str(), None, ids["cy"], 0)
            .expect("share");
    }
    let config = DaemonConfig {
        data_dir: data.clone(),
        port_range: (48200, 48210),
        agent_binary: dir.path().join("agent"),
        default_image: "img".into(),
        ssh_ready_timeout_secs: 5,
        keep_images: 3,
        client_alive_interval: 30,
        relay_program: None,
        audit_retention_days: 90,
        idle_pause_secs: None,
        idle_stop_secs: None,
    };
    let manager = Manager::new(
        config,
        "d0".into(),
        store,
        Arc::new(FakeRuntime::default()),
        keys::generate().expect("key"),
    )
    .expect("manager");
    assert_eq!(manager.mode(), nexus_sdk::team::Mode::Team);
    let mut tokens = std::collections::HashMap::new();
    for name in ["ana", "cy", "vi", "ed", "ow", "oa", "st", "su"] {
        let user = manager.store.user(name).expect("user").expect("exists");
        let scopes = [
            Scope::WorkspaceRead,
            Scope::WorkspaceWrite,
            Scope::WorkspaceCreate,
            Scope::WorkspaceShare,
            Scope::Admin,
        ];
        let t = manager
            .issue(&user, TokenKind::Session, "login", &scopes, None, Some(3600))
            .expect("token");
        tokens.insert(name, t.token);
    }
    let su = manager.store.user("su").expect("user").expect("exists").id;
    manager.store.set_suspended(su, true).expect("suspend");
    Team {
        _dir: dir,
        manager,
        tokens,
    }
}

use nexus_sdk::team::Scope;

impl Team {
    fn call(&self, who: Who, method: &str) -> Answer {
        let token = match who {
            Who::Anonymous => None,
            Who::Stranger => Some(&self.tokens["st"]),
            Who::Viewer => Some(&self.tokens["vi"]),
            Who::Editor => Some(&self.tokens["ed"]),
            Who::SharedOwner => Some(&self.tokens["ow"]),
            Who::Creator => Some(&self.tokens["cy"]),
            Who::OrgAdmin => Some(&self.tokens["oa"]),
            Who::SiteAdmin => Some(&self.tokens["ana"]),
            Who::Suspended => Some(&self.tokens["su"]),
        };
        let caller = match self.manager.authenticate(token.map(String::as_str)) {
            Ok(c) => c,
            Err(e) => return answer_of(Err(e)),
        };
        answer_of(self.manager.authorize(&caller, method, Some("api")))
    }
}

#[test]
fn every_method_for_every_caller() {
    let t = team();
    let mut wrong = Vec::new();
    let methods = every_method();
    assert!(methods.len() > 60, "the document lists {} methods", methods.len());
    for method in &methods {
        for who in EVERYONE {
            let (want, got) = (expected(method, who), t.call(who, method));
            if want != got {
                wrong.push(format!("{method} as {who:?}: expected {want:?}, got {got:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_missing_workspace_and_a_hidden_one_are_answered_alike() {
    let t = team();
    let caller = t.manager.authenticate(Some(&t.tokens["st"])).expect("caller");
    let hidden = t
        .manager
        .authorize(&caller, m::WORKSPACE_GET, Some("api"))
        .expect_err("refused");
    let missing = t
        .manager
        .authorize(&caller, m::WORKSPACE_GET, Some("apx"))
        .expect_err("refused");
    assert_eq!(hidden.kind(), missing.kind());
    assert_eq!(
        hidden.to_string().replace("api", "X"),
        missing.to_string().replace("apx", "X")
    );
}

#[test]
fn an_api_token_keeps_to_its_scopes_and_workspaces_and_cannot_make_tokens() {
    let t = team();
    let ed = t.manager.authenticate(Some(&t.tokens["ed"])).expect("editor");
    let made = t
        .manager
        .token_create(
            &ed,
            nexus_sdk::team::TokenCreateParams {
                name: "ci".into(),
                scopes: vec![Scope::WorkspaceRead],
                workspaces: Some(vec!["api".into()]),
                expires: Some("1h".into()),
            },
        )
        .expect("token");
    assert!(made.token.starts_with("nxp_"));
    let ci = t.manager.authenticate(Some(&made.token)).expect("api token");
    assert!(t.manager.authorize(&ci, m::WORKSPACE_GET, Some("api")).is_ok());
    let e = t.manager.authorize(&ci, m::EXEC_RUN, Some("api")).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    let e = t
        .manager
        .token_create(
            &ci,
            nexus_sdk::team::TokenCreateParams {
                name: "more".into(),
                scopes: vec![Scope::WorkspaceRead],
                ..Default::default()
            },
        )
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    // above the owner's role: an editor holds no admin scope
    let e = t
        .manager
        .token_create(
            &ed,
            nexus_sdk::team::TokenCreateParams {
                name: "admin".into(),
                scopes: vec![Scope::Admin],
                ..Default::default()
            },
        )
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    // revoked: refused at the next call
    t.manager.token_revoke(&ed, made.info.id).expect("revoke");
    let e = t.manager.authenticate(Some(&made.token)).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
}

#[test]
fn malformed_tokens_are_refused_before_the_store() {
    let t = team();
    let good = &t.tokens["ed"];
    let mut typo = good.clone().into_bytes();
    typo[12] = if typo[12] == b'x' { b'y' } else { b'x' };
    for bad in [
        String::new(),
        "x".repeat(10_000),
        format!("ghp_{}", &good[4..]),
        String::from_utf8(typo).expect("ascii"),
        good[..39].to_string(),
    ] {
        let e = t.manager.authenticate(Some(&bad)).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{bad:.20}");
        assert!(
            !e.to_string().contains(&bad[..bad.len().min(40)]) || bad.is_empty(),
            "{e}"
        );
    }
}

#[test]
fn shares_refuse_bad_input_and_write_nothing() {
    let t = team();
    let cy = t.manager.authenticate(Some(&t.tokens["cy"])).expect("creator");
    let ow = t.manager.authenticate(Some(&t.tokens["ow"])).expect("owner");
    let share = |user: &str, permission: Role, expires: Option<&str>| nexus_sdk::team::ShareParams {
        workspace: "api".into(),
        user: user.into(),
        permission,
        expires: expires.map(str::to_string),
    };
    let before = t.manager.shares("api").expect("shares");
    for (caller, p, field) in [
        (&cy, share("nobody", Role::Viewer, None), "user"),
        (&cy, share("cy", Role::Viewer, None), "user"),
        (&ow, share("cy", Role::Viewer, None), "user"),
        (&cy, share("st", Role::Viewer, Some("0h")), "expires"),
        (&cy, share("st", Role::Viewer, Some("soon")), "expires"),
        (&cy, share("st", Role::Viewer, Some("400d")), "expires"),
        (&ow, share("st", Role::Owner, None), "permission"),
    ] {
        let e = t.manager.share(caller, &p).expect_err("refused");
        assert!(e.to_string().starts_with(field), "{field}: {e}");
    }
    assert_eq!(
        t.manager.shares("api").expect("shares"),
        before,
        "a refused share wrote nothing"
    );
}
