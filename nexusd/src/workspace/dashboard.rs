//! The web dashboard's sign-in. `auth.dashboardLink` gives a signed-in
//! caller a one-time code (60 s, in memory only); `GET /login?code=…`
//! (`api/dashboard.rs`) trades it for a session cookie's secret. In
//! single-user mode that secret is a session of its own (stored by
//! SHA-256, 12 hours, renewed by use); in team mode it is a person's
//! session token, so every check a token gets applies to the cookie too.

use super::team::Caller;
use super::{Manager, Result, now};
use crate::credentials;
use crate::error::WorkspaceError;
use nexus_sdk::team::{DashboardLink, TokenKind};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a sign-in code works.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a dashboard session lasts unused, in seconds.
pub const SESSION_IDLE: i64 = 12 * 3600;

/// An open sign-in code: whose it is (a person's id in team mode) and
/// when it was made.
type OpenCode = (Option<i64>, Instant);

/// Open sign-in codes by SHA-256.
#[derive(Debug, Default)]
pub struct SignInCodes(Mutex<HashMap<Vec<u8>, OpenCode>>);

impl Manager {
    /// `auth.dashboardLink`: a one-time sign-in link for `caller`.
    ///
    /// Errors: `Unauthorized` in team mode without a person's token.
    pub fn dashboard_link(&self, caller: &Caller) -> Result<DashboardLink> {
        let user = match caller {
            Caller::Local => None,
            Caller::Person(s) => Some(s.user_id),
            Caller::Anonymous => {
                return Err(WorkspaceError::Unauthorized(
                    "sign in first (`nexus auth login`), then ask for a dashboard link".into(),
                ));
            }
        };
        let code = crate::keys::random_hex(32);
        let mut open = self.sign_in_codes.0.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, (_, made)| made.elapsed() < CODE_TTL);
        open.insert(credentials::digest(&code), (user, Instant::now()));
        Ok(DashboardLink {
            path: format!("/login?code={code}"),
            expires_in: CODE_TTL.as_secs(),
        })
    }

    /// Trades sign-in code `code` (usable once) for a session cookie's secret.
    ///
    /// Errors: `Unauthorized` for an unknown, used or expired code, or a
    /// person suspended or removed since.
    pub fn dashboard_sign_in(&self, code: &str) -> Result<String> {
        let refused = || {
            WorkspaceError::Unauthorized(
                "this sign-in link is used, expired or wrong: run `nexus dashboard` for a new one".into(),
            )
        };
        let (user, made) = self
            .sign_in_codes
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&credentials::digest(code))
            .ok_or_else(refused)?;
        if made.elapsed() >= CODE_TTL {
            return Err(refused());
        }
        let now = now();
        match user {
            None => {
                let secret = credentials::new_token(TokenKind::Session);
                self.store
                    .insert_dashboard_session(&credentials::digest(&secret), now + SESSION_IDLE, now)?;
                Ok(secret)
            }
            Some(id) => {
                let person = self.store.user_by_id(id)?.ok_or_else(refused)?;
                if person.suspended {
                    return Err(refused());
                }
                let made = self.issue_session(&person, "dashboard")?;
                Ok(made.token)
            }
        }
    }

    /// Whether `secret` is a live dashboard session of single-user mode
    /// (its lapse moves on by use, at most once a minute).
    pub fn dashboard_session(&self, secret: &str) -> bool {
        let digest = credentials::digest(secret);
        let now = now();
        match self.store.dashboard_session_expiry(&digest) {
            Ok(Some(expires)) if expires > now => {
                if expires - now < SESSION_IDLE - 60 {
                    let _ = self.store.touch_dashboard_session(&digest, now + SESSION_IDLE);
                }
                true
            }
            _ => false,
        }
    }

    /// Ends the dashboard session of cookie secret `secret`, in either mode.
    pub fn dashboard_sign_out(&self, secret: &str) -> Result<()> {
        let digest = credentials::digest(secret);
        self.store.remove_dashboard_session(&digest)?;
        if let Some(t) = self.store.token_by_digest(&digest)?
            && t.kind == "session"
        {
            self.store.revoke_token(t.id)?;
        }
        Ok(())
    }
}
