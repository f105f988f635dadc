//! Team mode's organizations: `org.*`. Members are `admin` or `member`; a
//! person's current organization is where their new workspaces go. Org
//! admins manage members, invitations and the sharing policy, and see,
//! stop and remove the org's workspaces (no shell). Leaving, or being
//! removed, ends the person's shares of the org's workspaces at once.
//! An organization the caller does not belong to is answered as a missing
//! one.

use super::team::{Caller, Session};
use super::{Manager, now};
use crate::credentials;
use crate::error::{Result, WorkspaceError};
use crate::store::WorkspaceRecord;
use crate::store::team::OrgRecord;
use nexus_sdk::team::{Org, OrgInvite, OrgInviteParams, OrgMember, OrgMemberParams, OrgRole, Sharing};

fn role_of(text: &str) -> OrgRole {
    if text == "admin" {
        OrgRole::Admin
    } else {
        OrgRole::Member
    }
}

fn role_text(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Admin => "admin",
        OrgRole::Member => "member",
    }
}

fn sharing_of(text: &str) -> Sharing {
    match text {
        "none" => Sharing::None,
        "org" => Sharing::Org,
        _ => Sharing::Any,
    }
}

impl Manager {
    fn session_of(&self, caller: &Caller) -> Result<Session> {
        match caller {
            Caller::Person(s) => Ok(s.clone()),
            _ => Err(WorkspaceError::Unauthorized("sign in first: `nexus auth login`".into())),
        }
    }

    /// Organization `name` as `s` may see it (a member, or a site admin),
    /// with `s`'s role; `admin`: only for its admins (and site admins).
    fn org_for(&self, s: &Session, name: &str, admin: bool) -> Result<(OrgRecord, Option<OrgRole>)> {
        let hidden = || WorkspaceError::InvalidParams(format!("org: no organization named {name:?} you belong to"));
        let org = self.store.org(name)?.ok_or_else(hidden)?;
        let role = self.store.org_role(org.id, s.user_id)?.map(|r| role_of(&r));
        if role.is_none() && !s.admin {
            return Err(hidden());
        }
        if admin && role != Some(OrgRole::Admin) && !s.admin {
            return Err(WorkspaceError::Forbidden(format!("only {name}'s admins may do that")));
        }
        Ok((org, role))
    }

    fn org_wire(&self, s: &Session, org: &OrgRecord, members: bool) -> Result<Org> {
        let role = self.store.org_role(org.id, s.user_id)?.map(|r| role_of(&r));
        Ok(Org {
            name: org.name.clone(),
            sharing: sharing_of(&org.sharing),
            role,
            current: self.store.current_org(s.user_id)? == Some(org.id),
            workspaces: self.store.org_workspaces(org.id)? as u32,
            members: if members {
                self.store
                    .org_members(org.id)?
                    .into_iter()
                    .map(|(user, role)| OrgMember {
                        user,
                        role: role_of(&role),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            created_at: org.created_at as u64,
        })
    }

    /// `org.create`. Errors: `InvalidParams` for a bad or taken name.
    pub fn org_create(&self, caller: &Caller, name: &str) -> Result<Org> {
        let s = self.session_of(caller)?;
        super::team::check_name("org", name)?;
        let org = self.store.add_org(name, s.user_id, now())?;
        self.org_wire(&s, &org, true)
    }

    /// `org.list`: the caller's organizations (a site admin's: all).
    pub fn org_list(&self, caller: &Caller) -> Result<Vec<Org>> {
        let s = self.session_of(caller)?;
        let orgs = self.store.orgs((!s.admin).then_some(s.user_id))?;
        orgs.iter().map(|o| self.org_wire(&s, o, false)).collect()
    }

    /// `org.show`.
    pub fn org_show(&self, caller: &Caller, name: &str) -> Result<Org> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, name, false)?;
        self.org_wire(&s, &org, true)
    }

    /// `org.delete` (org admins). Errors: `InvalidParams` while it has workspaces.
    pub fn org_delete(&self, caller: &Caller, name: &str) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, name, true)?;
        Ok(self.store.delete_org(org.id)?)
    }

    /// `org.switch` (members).
    pub fn org_switch(&self, caller: &Caller, name: Option<&str>) -> Result<()> {
        let s = self.session_of(caller)?;
        let id = match name {
            Some(n) => {
                let (org, role) = self.org_for(&s, n, false)?;
                if role.is_none() {
                    return Err(WorkspaceError::InvalidParams(format!(
                        "org: you are no member of {n}; join it first"
                    )));
                }
                Some(org.id)
            }
            None => None,
        };
        Ok(self.store.set_current_org(s.user_id, id)?)
    }

    /// `org.invite` (org admins): a single-use code (`nxc_…`).
    pub fn org_invite(&self, caller: &Caller, p: &OrgInviteParams) -> Result<OrgInvite> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, &p.org, true)?;
        let lasts = nexus_sdk::team::parse_duration(p.expires.as_deref().unwrap_or("7d"))
            .map_err(|m| WorkspaceError::InvalidParams(format!("expires: {m}")))? as i64;
        let code = credentials::new_share_code();
        let now = now();
        self.store.put_org_invite(
            &credentials::digest(&code),
            org.id,
            role_text(p.role),
            now + lasts,
            s.user_id,
            now,
        )?;
        Ok(OrgInvite {
            code,
            org: org.name,
            role: p.role,
            expires_at: (now + lasts) as u64,
        })
    }

    /// `org.join`. Errors: `InvalidParams` for a code malformed, unknown,
    /// used or expired (one answer for all).
    pub fn org_join(&self, caller: &Caller, code: &str) -> Result<Org> {
        let s = self.session_of(caller)?;
        let refused = || {
            WorkspaceError::InvalidParams(
                "code: unknown, expired or used: ask an org admin for a new invitation".into(),
            )
        };
        if !credentials::is_share_code(code) {
            return Err(refused());
        }
        let org = self
            .store
            .redeem_org_invite(&credentials::digest(code), s.user_id, now())?
            .ok_or_else(refused)?;
        self.org_wire(&s, &org, false)
    }

    /// `org.members.update` (org admins). Errors: `InvalidParams` for no
    /// role, a non-member, or demoting the last admin.
    pub fn org_member_update(&self, caller: &Caller, p: &OrgMemberParams) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, &p.org, true)?;
        let role = p
            .role
            .ok_or_else(|| WorkspaceError::InvalidParams("role: give admin or member".into()))?;
        let u = self
            .store
            .user(&p.user)?
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("user: no person named {:?}", p.user)))?;
        let members = self.store.org_members(org.id)?;
        let Some((_, now_role)) = members.iter().find(|(n, _)| n.eq_ignore_ascii_case(&u.name)) else {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} is no member of {}",
                u.name, org.name
            )));
        };
        let admins = members.iter().filter(|(_, r)| r == "admin").count();
        if now_role == "admin" && role == OrgRole::Member && admins == 1 {
            return Err(WorkspaceError::InvalidParams(
                "role: the organization's last admin stays admin; make another member admin first".into(),
            ));
        }
        Ok(self.store.put_org_member(org.id, u.id, role_text(role))?)
    }

    /// `org.members.remove` (org admins) and `org.leave` (yourself): the
    /// person's shares of the org's workspaces end, and their SSH sessions
    /// there close.
    pub fn org_member_remove(&self, caller: &Caller, org: &str, user: Option<&str>) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, role) = self.org_for(&s, org, user.is_some())?;
        let u = match user {
            Some(name) => self
                .store
                .user(name)?
                .ok_or_else(|| WorkspaceError::InvalidParams(format!("user: no person named {name:?}")))?,
            None => {
                if role.is_none() {
                    return Err(WorkspaceError::InvalidParams(format!(
                        "org: you are no member of {}",
                        org.name
                    )));
                }
                self.store
                    .user_by_id(s.user_id)?
                    .ok_or_else(|| WorkspaceError::Internal("the caller's account is gone".into()))?
            }
        };
        self.store.remove_org_member(org.id, u.id)?;
        self.write_org_access(org.id)
    }

    /// `org.policy` (org admins).
    pub fn org_policy(&self, caller: &Caller, org: &str, sharing: Sharing) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, org, true)?;
        Ok(self.store.set_org_sharing(org.id, sharing.as_str())?)
    }

    /// The organization a new workspace of `owner_id` belongs to: their
    /// current one, while they are a member of it.
    pub(super) fn org_of_new(&self, owner_id: Option<i64>) -> Result<Option<i64>> {
        let (Some(_), Some(owner)) = (&self.team, owner_id) else {
            return Ok(None);
        };
        let Some(org) = self.store.current_org(owner)? else {
            return Ok(None);
        };
        Ok(self.store.org_role(org, owner)?.map(|_| org))
    }

    /// Whether person `user_id` administers workspace `r`'s organization.
    pub(super) fn org_admin_of(&self, r: &WorkspaceRecord, user_id: i64) -> Result<bool> {
        Ok(match r.org_id {
            Some(org) => self.store.org_role(org, user_id)?.as_deref() == Some("admin"),
            None => false,
        })
    }

    /// Refuses a share of workspace `r` with person `grantee` (`None`: a
    /// share code, whose redeemer is checked at `workspace.accept`) that
    /// its organization's policy forbids.
    pub(super) fn check_sharing(&self, r: &WorkspaceRecord, grantee: Option<i64>) -> Result<()> {
        let Some(org) = r.org_id.map(|id| self.store.org_by_id(id)).transpose()?.flatten() else {
            return Ok(());
        };
        match sharing_of(&org.sharing) {
            Sharing::Any => Ok(()),
            Sharing::None => Err(WorkspaceError::Forbidden(format!(
                "{}'s workspaces may not be shared (org policy: none)",
                org.name
            ))),
            Sharing::Org => match grantee {
                Some(id) if self.store.org_role(org.id, id)?.is_none() => Err(WorkspaceError::Forbidden(format!(
                    "user: {}'s workspaces may be shared with its members only (org policy: org)",
                    org.name
                ))),
                _ => Ok(()),
            },
        }
    }

    /// Rewrites the access list of every workspace of organization `org_id`
    /// (a membership of it or of one of its teams changed).
    fn write_org_access(&self, org_id: i64) -> Result<()> {
        for r in self.store.list()?.iter().filter(|r| r.org_id == Some(org_id)) {
            self.write_access(r)?;
        }
        Ok(())
    }

    /// `team.create` (org admins).
    pub fn team_create(&self, caller: &Caller, org: &str, team: &str) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, org, true)?;
        super::team::check_name("team", team)?;
        Ok(self.store.add_team(org.id, team)?)
    }

    /// `team.list` (members): the org's teams and their members.
    pub fn team_list(&self, caller: &Caller, org: &str) -> Result<Vec<nexus_sdk::team::Team>> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, org, false)?;
        Ok(self
            .store
            .teams(org.id)?
            .into_iter()
            .map(|(name, members)| nexus_sdk::team::Team { name, members })
            .collect())
    }

    /// `team.addMember` / `team.removeMember` (org admins): the person must
    /// be a member of the org; their access follows at once.
    pub fn team_member(&self, caller: &Caller, p: &nexus_sdk::team::TeamMemberParams, add: bool) -> Result<()> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, &p.org, true)?;
        let team = self
            .store
            .team_id(org.id, &p.team)?
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("team: {} has no team {:?}", org.name, p.team)))?;
        let u = self
            .store
            .user(&p.user)?
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("user: no person named {:?}", p.user)))?;
        if add && self.store.org_role(org.id, u.id)?.is_none() {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} is no member of {}; invite them first",
                u.name, org.name
            )));
        }
        if !self.store.set_team_member(team, u.id, add)? && !add {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} is not in team {}",
                u.name, p.team
            )));
        }
        self.write_org_access(org.id)
    }

    /// `org.quota` (site admins): sets what is given (0: no limit); answers
    /// the quota and usage. Errors: `InvalidParams` naming a bad value.
    pub fn org_quota(&self, caller: &Caller, p: &nexus_sdk::team::OrgQuotaParams) -> Result<nexus_sdk::team::OrgUsage> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, &p.org, true)?;
        let scope = crate::store::team::QuotaScope::Org(org.id);
        let mut q = self.store.quota(scope)?;
        super::team::set_limits(&mut q, p.workspaces, p.cpus, p.memory.as_deref(), p.storage.as_deref())?;
        self.store.set_quota(scope, q)?;
        self.org_usage(caller, &p.org)
    }

    /// `org.usage` (members): the org's quota and what its workspaces use.
    pub fn org_usage(&self, caller: &Caller, org: &str) -> Result<nexus_sdk::team::OrgUsage> {
        let s = self.session_of(caller)?;
        let (org, _) = self.org_for(&s, org, false)?;
        let scope = crate::store::team::QuotaScope::Org(org.id);
        let (q, used) = (self.store.quota(scope)?, self.store.usage(scope)?);
        Ok(nexus_sdk::team::OrgUsage {
            org: org.name,
            quota: super::team::quota_wire(q),
            usage: super::team::usage_wire(used),
        })
    }
}
