//! The async JSON-RPC client over WebSocket: typed methods, subscriptions as
//! streams. The `nexus` CLI uses nothing else to reach the daemon.

use crate::error::{ErrorKind, RpcErrorData};
use crate::methods as m;
use crate::types::*;
/// A subscription's notifications as a stream (`next().await`); dropping it unsubscribes.
pub use jsonrpsee::core::client::Subscription;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::time::Duration;

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with a JSON-RPC error.
    #[error("{message}")]
    Rpc {
        /// The stable error code.
        code: i32,
        /// The kind from `data.kind` (`Internal` when the daemon sent none).
        kind: ErrorKind,
        /// The daemon's message.
        message: String,
    },
    /// The daemon refused the bearer token (HTTP 401).
    #[error(
        "the daemon at {address} refused the token: if it is another user's nexusd, run your own (it picks a free port when {default} is taken) or choose one with --host, NEXUS_HOST or `nexus context use`; else check NEXUS_TOKEN or the token file {token_file}",
        default = crate::local::DEFAULT_ADDRESS
    )]
    Unauthorized {
        /// The address that refused.
        address: String,
        /// The local token file that was read.
        token_file: String,
    },
    /// No daemon answered, or the connection broke.
    #[error("cannot reach the daemon at {address}: {reason}")]
    Connect {
        /// The address tried.
        address: String,
        /// What the transport said.
        reason: String,
    },
}

impl ClientError {
    /// The error kind, for exit codes: `Unauthorized` and `Internal` for
    /// transport failures.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Rpc { kind, .. } => *kind,
            ClientError::Unauthorized { .. } => ErrorKind::Unauthorized,
            ClientError::Connect { .. } => ErrorKind::Internal,
        }
    }
}

/// By-name parameters: the `params` object, serialized up front.
struct Named(Box<RawValue>);

impl ToRpcParams for Named {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

fn named<P: Serialize>(params: P) -> Result<Named, ClientError> {
    serde_json::value::to_raw_value(&params)
        .map(Named)
        .map_err(|e| ClientError::Rpc {
            code: ErrorKind::InvalidParams.code(),
            kind: ErrorKind::InvalidParams,
            message: format!("parameters do not serialize: {e}"),
        })
}

fn exec_id_params(exec_id: &str) -> ExecIdParams {
    ExecIdParams {
        exec_id: exec_id.to_string(),
    }
}

/// A connected client of one daemon.
pub struct Client {
    inner: WsClient,
    address: String,
    /// `http://host:port` or `https://host:port`: where plain HTTP routes
    /// ([`crate::methods::HTTP_FS_READ`]) are.
    http_base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("address", &self.address).finish()
    }
}

impl Client {
    /// Connects to `address` (`host:port`, or a `ws://`/`wss://` URL) with a
    /// bearer token.
    ///
    /// Errors: [`ClientError::Unauthorized`] when the daemon refuses the
    /// token, [`ClientError::Connect`] when nothing answers.
    pub async fn connect(address: &str, token: &str) -> Result<Client, ClientError> {
        let url = if address.starts_with("ws://") || address.starts_with("wss://") {
            address.to_string()
        } else {
            format!("ws://{address}")
        };
        let http_base = match url.strip_prefix("wss://") {
            Some(rest) => format!("https://{rest}"),
            None => format!("http://{}", url.trim_start_matches("ws://")),
        }
        .trim_end_matches('/')
        .to_string();
        let mut headers = jsonrpsee::http_client::HeaderMap::new();
        // no token: an anonymous caller of a team-mode daemon (auth.login)
        if !token.is_empty() {
            let value = format!("Bearer {token}").parse().map_err(|_| ClientError::Connect {
                address: address.to_string(),
                reason: "the token holds characters an HTTP header cannot carry".into(),
            })?;
            headers.insert("authorization", value);
        }
        let inner = WsClientBuilder::default()
            .set_headers(headers)
            .request_timeout(Duration::from_secs(3600))
            .max_request_size(64 * 1024 * 1024)
            .max_response_size(64 * 1024 * 1024)
            .build(&url)
            .await
            .map_err(|e| {
                let reason = e.to_string();
                if reason.contains("401") {
                    ClientError::Unauthorized {
                        address: address.to_string(),
                        token_file: crate::local::token_path().display().to_string(),
                    }
                } else {
                    ClientError::Connect {
                        address: address.to_string(),
                        reason,
                    }
                }
            })?;
        Ok(Client {
            inner,
            address: address.to_string(),
            http_base,
            token: token.to_string(),
            http: reqwest::Client::new(),
        })
    }

    fn map_err(&self, e: jsonrpsee::core::ClientError) -> ClientError {
        match e {
            jsonrpsee::core::ClientError::Call(obj) => {
                let kind = obj
                    .data()
                    .and_then(|d| serde_json::from_str::<RpcErrorData>(d.get()).ok())
                    .map(|d| d.kind)
                    .or_else(|| ErrorKind::from_code(obj.code()))
                    .unwrap_or(ErrorKind::Internal);
                ClientError::Rpc {
                    code: obj.code(),
                    kind,
                    message: obj.message().to_string(),
                }
            }
            other => ClientError::Connect {
                address: self.address.clone(),
                reason: other.to_string(),
            },
        }
    }

    async fn call<P: Serialize, R: DeserializeOwned>(&self, method: &str, params: P) -> Result<R, ClientError> {
        self.inner
            .request(method, named(params)?)
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn call_unit<P: Serialize>(&self, method: &str, params: P) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(method, params).await?;
        Ok(())
    }

    async fn subscribe<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: P,
        unsubscribe: &str,
    ) -> Result<Subscription<R>, ClientError> {
        self.inner
            .subscribe(method, named(params)?, unsubscribe)
            .await
            .map_err(|e| self.map_err(e))
    }

    /// `auth.challenge`.
    pub async fn auth_challenge(&self) -> Result<crate::team::Challenge, ClientError> {
        self.call(m::AUTH_CHALLENGE, serde_json::json!({})).await
    }

    /// `auth.login`.
    pub async fn auth_login(&self, params: &crate::team::LoginParams) -> Result<crate::team::NewToken, ClientError> {
        self.call(m::AUTH_LOGIN, params).await
    }

    /// `auth.logout`.
    pub async fn auth_logout(&self) -> Result<(), ClientError> {
        self.call_unit(m::AUTH_LOGOUT, serde_json::json!({})).await
    }

    /// `auth.whoami`.
    pub async fn auth_whoami(&self) -> Result<crate::team::WhoAmI, ClientError> {
        self.call(m::AUTH_WHOAMI, serde_json::json!({})).await
    }

    /// `auth.dashboardLink`: a one-time sign-in link of the web dashboard.
    pub async fn auth_dashboard_link(&self) -> Result<crate::team::DashboardLink, ClientError> {
        self.call(m::AUTH_DASHBOARD_LINK, serde_json::json!({})).await
    }

    /// `user.add`.
    pub async fn user_add(&self, params: &crate::team::UserAddParams) -> Result<crate::team::User, ClientError> {
        self.call(m::USER_ADD, params).await
    }

    /// `user.list`.
    pub async fn user_list(&self) -> Result<Vec<crate::team::User>, ClientError> {
        self.call(m::USER_LIST, serde_json::json!({})).await
    }

    /// `user.suspend` (`suspend`) or `user.resume`.
    pub async fn user_suspend(&self, user: &str, suspend: bool) -> Result<crate::team::User, ClientError> {
        let method = if suspend { m::USER_SUSPEND } else { m::USER_RESUME };
        self.call(method, crate::team::UserParams { user: user.into() }).await
    }

    /// `user.remove`.
    pub async fn user_remove(&self, user: &str) -> Result<(), ClientError> {
        self.call_unit(m::USER_REMOVE, crate::team::UserParams { user: user.into() })
            .await
    }

    /// `user.quota`.
    pub async fn user_quota(&self, params: &crate::team::UserQuotaParams) -> Result<crate::team::User, ClientError> {
        self.call(m::USER_QUOTA, params).await
    }

    /// `user.policy`.
    pub async fn user_policy(&self, params: &crate::team::UserPolicyParams) -> Result<crate::team::User, ClientError> {
        self.call(m::USER_POLICY, params).await
    }

    /// `user.key.add` (`add`) or `user.key.remove`.
    pub async fn user_key(
        &self,
        params: &crate::team::UserKeyParams,
        add: bool,
    ) -> Result<crate::team::User, ClientError> {
        self.call(if add { m::USER_KEY_ADD } else { m::USER_KEY_REMOVE }, params)
            .await
    }

    /// `token.create`.
    pub async fn token_create(
        &self,
        params: &crate::team::TokenCreateParams,
    ) -> Result<crate::team::NewToken, ClientError> {
        self.call(m::TOKEN_CREATE, params).await
    }

    /// `token.list`.
    pub async fn token_list(&self) -> Result<Vec<crate::team::TokenInfo>, ClientError> {
        self.call(m::TOKEN_LIST, serde_json::json!({})).await
    }

    /// `token.revoke`.
    pub async fn token_revoke(&self, id: u64) -> Result<(), ClientError> {
        self.call_unit(m::TOKEN_REVOKE, crate::team::TokenIdParams { id }).await
    }

    /// `workspace.share`.
    pub async fn share(&self, params: &crate::team::ShareParams) -> Result<crate::team::Share, ClientError> {
        self.call(m::WORKSPACE_SHARE, params).await
    }

    /// `workspace.unshare`.
    pub async fn unshare(&self, params: &crate::team::UnshareParams) -> Result<(), ClientError> {
        self.call_unit(m::WORKSPACE_UNSHARE, params).await
    }

    /// `workspace.shares`.
    pub async fn shares(&self, name: &str) -> Result<Vec<crate::team::Share>, ClientError> {
        self.call(m::WORKSPACE_SHARES, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.shareCode`.
    pub async fn share_code(
        &self,
        params: &crate::team::ShareCodeParams,
    ) -> Result<crate::team::ShareCode, ClientError> {
        self.call(m::WORKSPACE_SHARE_CODE, params).await
    }

    /// `workspace.accept`.
    pub async fn accept(&self, code: &str) -> Result<crate::team::Accepted, ClientError> {
        self.call(m::WORKSPACE_ACCEPT, crate::team::AcceptParams { code: code.into() })
            .await
    }

    /// `workspace.transfer`.
    pub async fn transfer(&self, params: &crate::team::UnshareParams) -> Result<(), ClientError> {
        self.call_unit(m::WORKSPACE_TRANSFER, params).await
    }

    /// `org.create`.
    pub async fn org_create(&self, org: &str) -> Result<crate::team::Org, ClientError> {
        self.call(m::ORG_CREATE, crate::team::OrgParams { org: org.into() })
            .await
    }

    /// `org.list`.
    pub async fn org_list(&self) -> Result<Vec<crate::team::Org>, ClientError> {
        self.call(m::ORG_LIST, serde_json::json!({})).await
    }

    /// `org.show`.
    pub async fn org_show(&self, org: &str) -> Result<crate::team::Org, ClientError> {
        self.call(m::ORG_SHOW, crate::team::OrgParams { org: org.into() }).await
    }

    /// `org.delete`.
    pub async fn org_delete(&self, org: &str) -> Result<(), ClientError> {
        self.call_unit(m::ORG_DELETE, crate::team::OrgParams { org: org.into() })
            .await
    }

    /// `org.switch` (`None`: no organization).
    pub async fn org_switch(&self, org: Option<&str>) -> Result<(), ClientError> {
        self.call_unit(
            m::ORG_SWITCH,
            crate::team::OrgSwitchParams {
                org: org.map(str::to_string),
            },
        )
        .await
    }

    /// `org.invite`.
    pub async fn org_invite(
        &self,
        params: &crate::team::OrgInviteParams,
    ) -> Result<crate::team::OrgInvite, ClientError> {
        self.call(m::ORG_INVITE, params).await
    }

    /// `org.join`.
    pub async fn org_join(&self, code: &str) -> Result<crate::team::Org, ClientError> {
        self.call(m::ORG_JOIN, crate::team::AcceptParams { code: code.into() })
            .await
    }

    /// `org.members.update` (with a role) or `org.members.remove`.
    pub async fn org_member(&self, params: &crate::team::OrgMemberParams) -> Result<(), ClientError> {
        let method = if params.role.is_some() {
            m::ORG_MEMBERS_UPDATE
        } else {
            m::ORG_MEMBERS_REMOVE
        };
        self.call_unit(method, params).await
    }

    /// `org.leave`.
    pub async fn org_leave(&self, org: &str) -> Result<(), ClientError> {
        self.call_unit(m::ORG_LEAVE, crate::team::OrgParams { org: org.into() })
            .await
    }

    /// `org.policy`.
    pub async fn org_policy(&self, params: &crate::team::OrgPolicyParams) -> Result<(), ClientError> {
        self.call_unit(m::ORG_POLICY, params).await
    }

    /// `org.quota`.
    pub async fn org_quota(&self, params: &crate::team::OrgQuotaParams) -> Result<crate::team::OrgUsage, ClientError> {
        self.call(m::ORG_QUOTA, params).await
    }

    /// `org.usage`.
    pub async fn org_usage(&self, org: &str) -> Result<crate::team::OrgUsage, ClientError> {
        self.call(m::ORG_USAGE, crate::team::OrgParams { org: org.into() })
            .await
    }

    /// `team.create`.
    pub async fn team_create(&self, params: &crate::team::TeamParams) -> Result<(), ClientError> {
        self.call_unit(m::TEAM_CREATE, params).await
    }

    /// `team.list`.
    pub async fn team_list(&self, org: &str) -> Result<Vec<crate::team::Team>, ClientError> {
        self.call(m::TEAM_LIST, crate::team::OrgParams { org: org.into() })
            .await
    }

    /// `team.addMember` (`add`) or `team.removeMember`.
    pub async fn team_member(&self, params: &crate::team::TeamMemberParams, add: bool) -> Result<(), ClientError> {
        self.call_unit(if add { m::TEAM_ADD_MEMBER } else { m::TEAM_REMOVE_MEMBER }, params)
            .await
    }

    /// `workspace.breakGlass`.
    pub async fn break_glass(&self, params: &crate::team::BreakGlassParams) -> Result<crate::team::Share, ClientError> {
        self.call(m::WORKSPACE_BREAK_GLASS, params).await
    }

    /// `workspace.sessions`.
    pub async fn ssh_sessions(&self, name: &str) -> Result<Vec<crate::team::SshSession>, ClientError> {
        self.call(m::WORKSPACE_SESSIONS, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.leave`.
    pub async fn leave(&self, name: &str) -> Result<(), ClientError> {
        self.call_unit(m::WORKSPACE_LEAVE, NameParams { workspace: name.into() })
            .await
    }

    /// `audit.list`.
    pub async fn audit_list(
        &self,
        params: &crate::team::AuditListParams,
    ) -> Result<Vec<crate::team::AuditEntry>, ClientError> {
        self.call(m::AUDIT_LIST, params).await
    }

    /// `audit.verify`.
    pub async fn audit_verify(&self) -> Result<crate::team::AuditVerify, ClientError> {
        self.call(m::AUDIT_VERIFY, serde_json::json!({})).await
    }

    /// `template.list`.
    pub async fn template_list(&self) -> Result<Vec<TemplateInfo>, ClientError> {
        self.call(m::TEMPLATE_LIST, serde_json::json!({})).await
    }

    /// `image.prune`.
    pub async fn image_prune(&self, params: &ImagePruneParams) -> Result<ImagePruneResult, ClientError> {
        self.call(m::IMAGE_PRUNE, params).await
    }

    /// `daemon.info`.
    pub async fn daemon_info(&self) -> Result<DaemonInfo, ClientError> {
        self.call(m::DAEMON_INFO, serde_json::json!({})).await
    }

    /// `workspace.create`.
    pub async fn create(&self, params: &CreateParams) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_CREATE, params).await
    }

    /// `workspace.list`.
    pub async fn list(&self) -> Result<Vec<Workspace>, ClientError> {
        self.call(m::WORKSPACE_LIST, serde_json::json!({})).await
    }

    /// `workspace.get`.
    pub async fn get(&self, name: &str) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_GET, NameParams { workspace: name.into() }).await
    }

    /// `workspace.start`.
    pub async fn start(&self, name: &str) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_START, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.rebuild`: progress comes as `events.*` progress events.
    pub async fn rebuild(&self, name: &str) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_REBUILD, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.checkpoint.create`.
    pub async fn checkpoint_create(&self, params: &CheckpointCreateParams) -> Result<Checkpoint, ClientError> {
        self.call(m::WORKSPACE_CHECKPOINT_CREATE, params).await
    }

    /// `workspace.idle`: when the workspace pauses and stops once idle.
    pub async fn set_idle(&self, params: &IdleParams) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_IDLE, params).await
    }

    /// `trace.session`: who this connection is, for Agent Trace records.
    pub async fn trace_session(&self, params: &TraceSessionParams) -> Result<(), ClientError> {
        self.call(m::TRACE_SESSION, params).await
    }

    /// `workspace.checkpoint.list`.
    pub async fn checkpoints(&self, name: &str) -> Result<Vec<Checkpoint>, ClientError> {
        self.call(m::WORKSPACE_CHECKPOINT_LIST, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.checkpoint.remove`.
    pub async fn checkpoint_remove(&self, params: &CheckpointParams) -> Result<(), ClientError> {
        self.call(m::WORKSPACE_CHECKPOINT_REMOVE, params).await
    }

    /// `workspace.restore`: returns the checkpoint taken before, which undoes it.
    pub async fn restore(&self, params: &CheckpointParams) -> Result<Checkpoint, ClientError> {
        self.call(m::WORKSPACE_RESTORE, params).await
    }

    /// `workspace.fork`: progress comes as `events.*` progress events of the new name.
    pub async fn fork(&self, params: &ForkParams) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_FORK, params).await
    }

    /// `workspace.stop`.
    pub async fn stop(&self, name: &str) -> Result<Workspace, ClientError> {
        self.call(m::WORKSPACE_STOP, NameParams { workspace: name.into() })
            .await
    }

    /// `workspace.remove`.
    pub async fn remove(&self, params: &RemoveParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::WORKSPACE_REMOVE, params).await?;
        Ok(())
    }

    /// `workspace.logs`: a stream of log chunks.
    pub async fn logs(&self, params: &LogsParams) -> Result<Subscription<LogChunk>, ClientError> {
        self.subscribe(m::WORKSPACE_LOGS, params, m::WORKSPACE_LOGS_UNSUBSCRIBE)
            .await
    }

    /// `exec.run`.
    pub async fn exec_run(&self, params: &ExecParams) -> Result<ExecResult, ClientError> {
        self.call(m::EXEC_RUN, params).await
    }

    /// `exec.stream`: output chunks in order, then one [`ExecEvent::Exit`].
    pub async fn exec_stream(&self, params: &ExecParams) -> Result<Subscription<ExecEvent>, ClientError> {
        self.subscribe(m::EXEC_STREAM, params, m::EXEC_STREAM_UNSUBSCRIBE).await
    }

    /// `exec.write`: returns once the bytes are sent to the process.
    pub async fn exec_write(&self, exec_id: &str, data: &[u8]) -> Result<(), ClientError> {
        let params = ExecWriteParams {
            exec_id: exec_id.to_string(),
            data: Encoding::Base64.encode(data),
            encoding: Encoding::Base64,
        };
        self.call_unit(m::EXEC_WRITE, params).await
    }

    /// `exec.closeStdin`.
    pub async fn exec_close_stdin(&self, exec_id: &str) -> Result<(), ClientError> {
        self.call_unit(m::EXEC_CLOSE_STDIN, exec_id_params(exec_id)).await
    }

    /// `exec.resize`.
    pub async fn exec_resize(&self, exec_id: &str, size: PtySize) -> Result<(), ClientError> {
        let params = ExecResizeParams {
            exec_id: exec_id.to_string(),
            cols: size.cols,
            rows: size.rows,
        };
        self.call_unit(m::EXEC_RESIZE, params).await
    }

    /// `exec.signal` (`signal`: `TERM`, `INT`, …).
    pub async fn exec_signal(&self, exec_id: &str, signal: &str) -> Result<(), ClientError> {
        let params = ExecSignalParams {
            exec_id: exec_id.to_string(),
            signal: signal.to_string(),
        };
        self.call_unit(m::EXEC_SIGNAL, params).await
    }

    /// `exec.kill`.
    pub async fn exec_kill(&self, exec_id: &str) -> Result<(), ClientError> {
        self.call_unit(m::EXEC_KILL, exec_id_params(exec_id)).await
    }

    /// `fs.watch`: `ready`, then create/modify/delete events.
    pub async fn fs_watch(&self, params: &WatchParams) -> Result<Subscription<FsEvent>, ClientError> {
        self.subscribe(m::FS_WATCH, params, m::FS_WATCH_UNSUBSCRIBE).await
    }

    /// `tunnel.open`: `opened`, then `data`, then `closed`.
    pub async fn tunnel_open(&self, params: &TunnelParams) -> Result<Subscription<TunnelEvent>, ClientError> {
        self.subscribe(m::TUNNEL_OPEN, params, m::TUNNEL_UNSUBSCRIBE).await
    }

    /// `tunnel.write`: returns once the bytes are sent.
    pub async fn tunnel_write(&self, tunnel_id: &str, data: &[u8]) -> Result<(), ClientError> {
        let params = TunnelWriteParams {
            tunnel_id: tunnel_id.to_string(),
            data: Encoding::Base64.encode(data),
        };
        self.call_unit(m::TUNNEL_WRITE, params).await
    }

    /// `tunnel.close`: end of input for the remote end.
    pub async fn tunnel_close(&self, tunnel_id: &str) -> Result<(), ClientError> {
        let params = TunnelIdParams {
            tunnel_id: tunnel_id.to_string(),
        };
        self.call_unit(m::TUNNEL_CLOSE, params).await
    }

    /// `rpc.discover`: the OpenRPC document.
    pub async fn discover(&self) -> Result<serde_json::Value, ClientError> {
        self.call(m::RPC_DISCOVER, serde_json::json!({})).await
    }

    /// `fs.readFile`.
    pub async fn fs_read_file(&self, params: &ReadFileParams) -> Result<ReadFileResult, ClientError> {
        self.call(m::FS_READ_FILE, params).await
    }

    /// `GET /fs/read` ([`crate::methods::HTTP_FS_READ`]): a file's raw bytes,
    /// `length` from `offset` (the rest of the file when absent), with no
    /// size limit and no base64: the fast way to read large files.
    /// Returns the bytes and the file's whole size.
    ///
    /// Errors: as [`Client::fs_read_file`] (the daemon answers with the same
    /// JSON-RPC error object); [`ClientError::Connect`] when the answer ends
    /// short.
    pub async fn fs_read_bytes(&self, params: &ReadBytesParams) -> Result<(Vec<u8>, u64), ClientError> {
        let url = format!("{}{}?{}", self.http_base, m::HTTP_FS_READ, params.to_query());
        let broken = |e: reqwest::Error| ClientError::Connect {
            address: self.address.clone(),
            reason: e.to_string(),
        };
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(broken)?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized {
                address: self.address.clone(),
                token_file: crate::local::token_path().display().to_string(),
            });
        }
        if !status.is_success() {
            let body = resp.bytes().await.map_err(broken)?;
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").cloned())
                .and_then(|e| serde_json::from_value::<jsonrpsee::types::ErrorObjectOwned>(e).ok());
            return Err(match error {
                Some(obj) => self.map_err(jsonrpsee::core::ClientError::Call(obj)),
                None => ClientError::Connect {
                    address: self.address.clone(),
                    reason: format!("GET {} answered {status}", m::HTTP_FS_READ),
                },
            });
        }
        let size = resp
            .headers()
            .get(m::HTTP_FILE_SIZE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let data = resp.bytes().await.map_err(broken)?;
        Ok((data.into(), size))
    }

    /// `fs.writeFile`.
    pub async fn fs_write_file(&self, params: &WriteFileParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::FS_WRITE_FILE, params).await?;
        Ok(())
    }

    /// `fs.exists`.
    pub async fn fs_exists(&self, params: &PathParams) -> Result<bool, ClientError> {
        self.call(m::FS_EXISTS, params).await
    }

    /// `fs.stat`.
    pub async fn fs_stat(&self, params: &PathParams) -> Result<FileStat, ClientError> {
        self.call(m::FS_STAT, params).await
    }

    /// `fs.readdir`.
    pub async fn fs_readdir(&self, params: &PathParams) -> Result<Vec<FileStat>, ClientError> {
        self.call(m::FS_READDIR, params).await
    }

    /// `fs.mkdir`.
    pub async fn fs_mkdir(&self, params: &MkdirParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::FS_MKDIR, params).await?;
        Ok(())
    }

    /// `fs.rm`.
    pub async fn fs_rm(&self, params: &RmParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::FS_RM, params).await?;
        Ok(())
    }

    /// `fs.rename`.
    pub async fn fs_rename(&self, params: &RenameParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::FS_RENAME, params).await?;
        Ok(())
    }

    /// `ports.list`.
    pub async fn ports_list(&self, workspace: &str) -> Result<Vec<PortInfo>, ClientError> {
        self.call(
            m::PORTS_LIST,
            PortsParams {
                workspace: workspace.into(),
            },
        )
        .await
    }

    /// `ports.forward`.
    pub async fn ports_forward(&self, params: &ForwardParams) -> Result<PortInfo, ClientError> {
        self.call(m::PORTS_FORWARD, params).await
    }

    /// `ports.unforward`.
    pub async fn ports_unforward(&self, params: &UnforwardParams) -> Result<(), ClientError> {
        let _: serde_json::Value = self.call(m::PORTS_UNFORWARD, params).await?;
        Ok(())
    }

    /// `events.subscribe`.
    pub async fn events(&self, params: &EventsParams) -> Result<Subscription<Event>, ClientError> {
        self.subscribe(m::EVENTS_SUBSCRIBE, params, m::EVENTS_UNSUBSCRIBE).await
    }
}
