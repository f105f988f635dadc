//! Team mode's methods: `auth.*`, `user.*`, `token.*`, `workspace.share`
//! and its kin, `audit.*`. Who may call each is decided before it runs
//! (`authorize.rs`); these get the [`Caller`].

use super::Ctx;
use super::error::{RpcResult, parse};
use crate::workspace::Caller;
use jsonrpsee::types::Params;
use nexus_sdk::NameParams;
use nexus_sdk::team::{
    AuditEntry, AuditListParams, AuditVerify, Challenge, DashboardLink, LoginParams, NewToken, Share, ShareParams,
    TokenCreateParams, TokenIdParams, TokenInfo, UnshareParams, User, UserAddParams, UserKeyParams, UserParams,
    UserPolicyParams, WhoAmI,
};
use nexus_sdk::team::{Org, OrgInvite, OrgInviteParams, OrgMemberParams, OrgParams, OrgPolicyParams, OrgSwitchParams};

/// `auth.challenge`.
pub async fn challenge(ctx: Ctx) -> RpcResult<Challenge> {
    Ok(ctx.challenge()?)
}

/// `auth.login`: audited here, with the person it names (never the secret).
pub async fn login(p: Params<'static>, ctx: Ctx) -> RpcResult<NewToken> {
    let params: LoginParams = parse(&p)?;
    let worker = ctx.clone();
    // argon2 takes tens of milliseconds of CPU: off the async threads
    let (who, made) = tokio::task::spawn_blocking(move || worker.login(params))
        .await
        .map_err(|e| crate::error::WorkspaceError::Internal(format!("the login task failed: {e}")))?;
    let outcome = match &made {
        Ok(_) => "ok".to_string(),
        Err(e) => serde_json::to_value(e.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    ctx.audit(&who, nexus_sdk::methods::AUTH_LOGIN, &who, &outcome, "");
    Ok(made?)
}

/// `auth.logout`.
pub async fn logout(ctx: Ctx, caller: Caller) -> RpcResult<()> {
    Ok(ctx.logout(&caller)?)
}

/// `auth.whoami`.
pub async fn whoami(ctx: Ctx, caller: Caller) -> RpcResult<WhoAmI> {
    Ok(ctx.whoami(&caller)?)
}

/// `auth.dashboardLink`.
pub async fn dashboard_link(ctx: Ctx, caller: Caller) -> RpcResult<DashboardLink> {
    Ok(ctx.dashboard_link(&caller)?)
}

/// `user.add`.
pub async fn user_add(p: Params<'static>, ctx: Ctx) -> RpcResult<User> {
    let params: UserAddParams = parse(&p)?;
    let worker = ctx.clone();
    Ok(tokio::task::spawn_blocking(move || worker.user_add(params))
        .await
        .map_err(|e| crate::error::WorkspaceError::Internal(format!("the task failed: {e}")))??)
}

/// `user.list`.
pub async fn user_list(ctx: Ctx) -> RpcResult<Vec<User>> {
    Ok(ctx.user_list()?)
}

/// `user.suspend`.
pub async fn user_suspend(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<User> {
    let UserParams { user } = parse(&p)?;
    Ok(ctx.user_suspend(&caller, &user, true)?)
}

/// `user.resume`.
pub async fn user_resume(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<User> {
    let UserParams { user } = parse(&p)?;
    Ok(ctx.user_suspend(&caller, &user, false)?)
}

/// `user.remove`.
pub async fn user_remove(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let UserParams { user } = parse(&p)?;
    Ok(ctx.user_remove(&caller, &user)?)
}

/// `user.quota`.
pub async fn user_quota(p: Params<'static>, ctx: Ctx) -> RpcResult<User> {
    let params: nexus_sdk::team::UserQuotaParams = parse(&p)?;
    Ok(ctx.user_quota(&params)?)
}

/// `user.policy`.
pub async fn user_policy(p: Params<'static>, ctx: Ctx) -> RpcResult<User> {
    let UserPolicyParams { user, allow } = parse(&p)?;
    Ok(ctx.user_policy(&user, &allow)?)
}

/// `user.key.add`.
pub async fn key_add(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<User> {
    let k: UserKeyParams = parse(&p)?;
    Ok(ctx.user_key_add(&caller, k.user.as_deref(), &k.key)?)
}

/// `user.key.remove`.
pub async fn key_remove(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<User> {
    let k: UserKeyParams = parse(&p)?;
    Ok(ctx.user_key_remove(&caller, k.user.as_deref(), &k.key)?)
}

/// `token.create`.
pub async fn token_create(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<NewToken> {
    let params: TokenCreateParams = parse(&p)?;
    Ok(ctx.token_create(&caller, params)?)
}

/// `token.list`.
pub async fn token_list(ctx: Ctx, caller: Caller) -> RpcResult<Vec<TokenInfo>> {
    Ok(ctx.token_list(&caller)?)
}

/// `token.revoke`.
pub async fn token_revoke(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let TokenIdParams { id } = parse(&p)?;
    Ok(ctx.token_revoke(&caller, id)?)
}

/// `workspace.share`.
pub async fn share(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Share> {
    let params: ShareParams = parse(&p)?;
    Ok(ctx.share(&caller, &params)?)
}

/// `workspace.unshare`.
pub async fn unshare(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let UnshareParams { workspace, user } = parse(&p)?;
    Ok(ctx.unshare(&workspace, &user)?)
}

/// `workspace.shares`.
pub async fn shares(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<Share>> {
    let NameParams { workspace } = parse(&p)?;
    Ok(ctx.shares(&workspace)?)
}

/// `workspace.shareCode`.
pub async fn share_code(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<nexus_sdk::team::ShareCode> {
    let params: nexus_sdk::team::ShareCodeParams = parse(&p)?;
    Ok(ctx.share_code(&caller, &params)?)
}

/// `workspace.accept`.
pub async fn accept(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<nexus_sdk::team::Accepted> {
    let nexus_sdk::team::AcceptParams { code } = parse(&p)?;
    Ok(ctx.accept(&caller, &code)?)
}

/// `workspace.transfer`.
pub async fn transfer(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let UnshareParams { workspace, user } = parse(&p)?;
    Ok(ctx.transfer(&workspace, &user)?)
}

/// `workspace.sessions`.
pub async fn sessions(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<nexus_sdk::team::SshSession>> {
    let NameParams { workspace } = parse(&p)?;
    Ok(ctx.ssh_sessions(&workspace)?)
}

/// `workspace.leave`.
pub async fn leave(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let NameParams { workspace } = parse(&p)?;
    Ok(ctx.leave(&caller, &workspace)?)
}

/// `audit.list`.
pub async fn audit_list(p: Params<'static>, ctx: Ctx) -> RpcResult<Vec<AuditEntry>> {
    let params: AuditListParams = parse(&p)?;
    Ok(ctx.audit_list(&params)?)
}

/// `audit.verify`.
pub async fn audit_verify(ctx: Ctx) -> RpcResult<AuditVerify> {
    Ok(ctx.audit_verify()?)
}

/// `org.create`.
pub async fn org_create(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Org> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.org_create(&caller, &org)?)
}

/// `org.list`.
pub async fn org_list(ctx: Ctx, caller: Caller) -> RpcResult<Vec<Org>> {
    Ok(ctx.org_list(&caller)?)
}

/// `org.show`.
pub async fn org_show(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Org> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.org_show(&caller, &org)?)
}

/// `org.delete`.
pub async fn org_delete(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.org_delete(&caller, &org)?)
}

/// `org.switch`.
pub async fn org_switch(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let OrgSwitchParams { org } = parse(&p)?;
    Ok(ctx.org_switch(&caller, org.as_deref())?)
}

/// `org.invite`.
pub async fn org_invite(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<OrgInvite> {
    let params: OrgInviteParams = parse(&p)?;
    Ok(ctx.org_invite(&caller, &params)?)
}

/// `org.join`.
pub async fn org_join(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Org> {
    let nexus_sdk::team::AcceptParams { code } = parse(&p)?;
    Ok(ctx.org_join(&caller, &code)?)
}

/// `org.members.update`.
pub async fn org_member_update(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let params: OrgMemberParams = parse(&p)?;
    Ok(ctx.org_member_update(&caller, &params)?)
}

/// `org.members.remove`.
pub async fn org_member_remove(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let params: OrgMemberParams = parse(&p)?;
    Ok(ctx.org_member_remove(&caller, &params.org, Some(&params.user))?)
}

/// `org.leave`.
pub async fn org_leave(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.org_member_remove(&caller, &org, None)?)
}

/// `org.policy`.
pub async fn org_policy(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let OrgPolicyParams { org, sharing } = parse(&p)?;
    Ok(ctx.org_policy(&caller, &org, sharing)?)
}

/// `team.create`.
pub async fn team_create(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let nexus_sdk::team::TeamParams { org, team } = parse(&p)?;
    Ok(ctx.team_create(&caller, &org, &team)?)
}

/// `team.list`.
pub async fn team_list(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Vec<nexus_sdk::team::Team>> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.team_list(&caller, &org)?)
}

/// `team.addMember`.
pub async fn team_add(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let params: nexus_sdk::team::TeamMemberParams = parse(&p)?;
    Ok(ctx.team_member(&caller, &params, true)?)
}

/// `team.removeMember`.
pub async fn team_remove(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<()> {
    let params: nexus_sdk::team::TeamMemberParams = parse(&p)?;
    Ok(ctx.team_member(&caller, &params, false)?)
}

/// `org.quota`.
pub async fn org_quota(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<nexus_sdk::team::OrgUsage> {
    let params: nexus_sdk::team::OrgQuotaParams = parse(&p)?;
    Ok(ctx.org_quota(&caller, &params)?)
}

/// `org.usage`.
pub async fn org_usage(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<nexus_sdk::team::OrgUsage> {
    let OrgParams { org } = parse(&p)?;
    Ok(ctx.org_usage(&caller, &org)?)
}

/// `workspace.breakGlass`.
pub async fn break_glass(p: Params<'static>, ctx: Ctx, caller: Caller) -> RpcResult<Share> {
    let params: nexus_sdk::team::BreakGlassParams = parse(&p)?;
    Ok(ctx.break_glass(&caller, &params)?)
}
