//! IAM (global): the account's authorization details and each trail's CloudWatch Logs role.
//!
//! IAM sends policy documents URL-encoded; the CLI prints them decoded and parsed, and so do we.

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::types::{
    AttachedPermissionsBoundary, AttachedPolicy, GroupDetail, InstanceProfile, ManagedPolicyDetail,
    PolicyDetail, PolicyVersion, Role, RoleDetail, RoleLastUsed, Tag, UserDetail,
};
use serde_json::{Value, json};

use super::json::{Obj, policy_document};
use super::{Ctx, Outcome, Recorder, arn_parts, call_error};

const SERVICE: &str = "iam";

/// `GetAccountAuthorizationDetails` (all pages merged) and `GetRole` per role ARN. A role that
/// is gone answers `NoSuchEntity`: a trail delivering to CloudWatch Logs through a ghost role.
pub(super) async fn capture(ctx: &Ctx, rec: &mut Recorder<'_>, role_arns: &[String]) {
    let client = Client::new(&ctx.global());
    let details = account_authorization_details(&client).await;
    rec.record(
        SERVICE,
        "GetAccountAuthorizationDetails",
        None,
        json!({}),
        details,
    );
    for arn in role_arns {
        let Some(name) = role_name(arn) else { continue };
        let role = client.get_role().role_name(name).send().await;
        let role = role
            .map(|o| {
                Obj::new()
                    .val("Role", o.role.as_ref().map(role_json))
                    .build()
            })
            .map_err(|e| call_error(&e));
        rec.record(SERVICE, "GetRole", None, json!({"RoleName": name}), role);
    }
    rec.report(SERVICE, &format!("{} trail roles", role_arns.len()));
}

/// `arn:aws:iam::ACCOUNT:role/path/NAME` → `NAME` (GetRole takes the name without its path).
fn role_name(arn: &str) -> Option<&str> {
    let (_, _, resource) = arn_parts(arn)?;
    let path = resource.strip_prefix("role/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

async fn account_authorization_details(client: &Client) -> Outcome {
    let keys = [
        "UserDetailList",
        "GroupDetailList",
        "RoleDetailList",
        "Policies",
    ];
    let mut merged: Vec<Vec<Value>> = vec![Vec::new(); keys.len()];
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .get_account_authorization_details()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        let json = authorization_details_json(&page);
        for (key, items) in keys.iter().zip(merged.iter_mut()) {
            items.extend(json[key].as_array().cloned().unwrap_or_default());
        }
        match page.marker {
            Some(m) if page.is_truncated && !m.is_empty() => marker = Some(m),
            _ => break,
        }
    }
    let mut out = serde_json::Map::new();
    for (key, items) in keys.iter().zip(merged) {
        out.insert(key.to_string(), Value::Array(items));
    }
    Ok(Value::Object(out))
}

pub(crate) fn authorization_details_json(o: &GetAccountAuthorizationDetailsOutput) -> Value {
    Obj::new()
        .list("UserDetailList", o.user_detail_list.as_deref(), user_json)
        .list(
            "GroupDetailList",
            o.group_detail_list.as_deref(),
            group_json,
        )
        .list(
            "RoleDetailList",
            o.role_detail_list.as_deref(),
            role_detail_json,
        )
        .list("Policies", o.policies.as_deref(), managed_policy_json)
        .build()
}

fn user_json(u: &UserDetail) -> Value {
    Obj::new()
        .str("Path", u.path.as_deref())
        .str("UserName", u.user_name.as_deref())
        .str("UserId", u.user_id.as_deref())
        .str("Arn", u.arn.as_deref())
        .time("CreateDate", u.create_date.as_ref())
        .list("UserPolicyList", u.user_policy_list.as_deref(), inline_json)
        .strs("GroupList", u.group_list.as_deref())
        .list(
            "AttachedManagedPolicies",
            u.attached_managed_policies.as_deref(),
            attached_json,
        )
        .val(
            "PermissionsBoundary",
            u.permissions_boundary.as_ref().map(boundary_json),
        )
        .list("Tags", u.tags.as_deref(), tag_json)
        .build()
}

fn group_json(g: &GroupDetail) -> Value {
    Obj::new()
        .str("Path", g.path.as_deref())
        .str("GroupName", g.group_name.as_deref())
        .str("GroupId", g.group_id.as_deref())
        .str("Arn", g.arn.as_deref())
        .time("CreateDate", g.create_date.as_ref())
        .list(
            "GroupPolicyList",
            g.group_policy_list.as_deref(),
            inline_json,
        )
        .list(
            "AttachedManagedPolicies",
            g.attached_managed_policies.as_deref(),
            attached_json,
        )
        .build()
}

fn role_detail_json(r: &RoleDetail) -> Value {
    Obj::new()
        .str("Path", r.path.as_deref())
        .str("RoleName", r.role_name.as_deref())
        .str("RoleId", r.role_id.as_deref())
        .str("Arn", r.arn.as_deref())
        .time("CreateDate", r.create_date.as_ref())
        .val(
            "AssumeRolePolicyDocument",
            r.assume_role_policy_document
                .as_deref()
                .map(policy_document),
        )
        .list(
            "InstanceProfileList",
            r.instance_profile_list.as_deref(),
            instance_profile_json,
        )
        .list("RolePolicyList", r.role_policy_list.as_deref(), inline_json)
        .list(
            "AttachedManagedPolicies",
            r.attached_managed_policies.as_deref(),
            attached_json,
        )
        .val(
            "PermissionsBoundary",
            r.permissions_boundary.as_ref().map(boundary_json),
        )
        .list("Tags", r.tags.as_deref(), tag_json)
        .val(
            "RoleLastUsed",
            r.role_last_used.as_ref().map(last_used_json),
        )
        .build()
}

fn managed_policy_json(p: &ManagedPolicyDetail) -> Value {
    Obj::new()
        .str("PolicyName", p.policy_name.as_deref())
        .str("PolicyId", p.policy_id.as_deref())
        .str("Arn", p.arn.as_deref())
        .str("Path", p.path.as_deref())
        .str("DefaultVersionId", p.default_version_id.as_deref())
        .int("AttachmentCount", p.attachment_count)
        .int(
            "PermissionsBoundaryUsageCount",
            p.permissions_boundary_usage_count,
        )
        .bool("IsAttachable", Some(p.is_attachable))
        .str("Description", p.description.as_deref())
        .time("CreateDate", p.create_date.as_ref())
        .time("UpdateDate", p.update_date.as_ref())
        .list(
            "PolicyVersionList",
            p.policy_version_list.as_deref(),
            version_json,
        )
        .build()
}

fn version_json(v: &PolicyVersion) -> Value {
    Obj::new()
        .val("Document", v.document.as_deref().map(policy_document))
        .str("VersionId", v.version_id.as_deref())
        .bool("IsDefaultVersion", Some(v.is_default_version))
        .time("CreateDate", v.create_date.as_ref())
        .build()
}

fn inline_json(p: &PolicyDetail) -> Value {
    Obj::new()
        .str("PolicyName", p.policy_name.as_deref())
        .val(
            "PolicyDocument",
            p.policy_document.as_deref().map(policy_document),
        )
        .build()
}

fn attached_json(p: &AttachedPolicy) -> Value {
    Obj::new()
        .str("PolicyName", p.policy_name.as_deref())
        .str("PolicyArn", p.policy_arn.as_deref())
        .build()
}

fn boundary_json(b: &AttachedPermissionsBoundary) -> Value {
    Obj::new()
        .enm(
            "PermissionsBoundaryType",
            b.permissions_boundary_type.as_ref(),
        )
        .str(
            "PermissionsBoundaryArn",
            b.permissions_boundary_arn.as_deref(),
        )
        .build()
}

fn tag_json(t: &Tag) -> Value {
    json!({"Key": t.key, "Value": t.value})
}

fn last_used_json(l: &RoleLastUsed) -> Value {
    Obj::new()
        .time("LastUsedDate", l.last_used_date.as_ref())
        .str("Region", l.region.as_deref())
        .build()
}

fn instance_profile_json(p: &InstanceProfile) -> Value {
    Obj::new()
        .str("Path", Some(&p.path))
        .str("InstanceProfileName", Some(&p.instance_profile_name))
        .str("InstanceProfileId", Some(&p.instance_profile_id))
        .str("Arn", Some(&p.arn))
        .time("CreateDate", Some(&p.create_date))
        .list("Roles", Some(&p.roles), role_json)
        .list("Tags", p.tags.as_deref(), tag_json)
        .build()
}

pub(crate) fn role_json(r: &Role) -> Value {
    Obj::new()
        .str("Path", Some(&r.path))
        .str("RoleName", Some(&r.role_name))
        .str("RoleId", Some(&r.role_id))
        .str("Arn", Some(&r.arn))
        .time("CreateDate", Some(&r.create_date))
        .val(
            "AssumeRolePolicyDocument",
            r.assume_role_policy_document
                .as_deref()
                .map(policy_document),
        )
        .str("Description", r.description.as_deref())
        .int("MaxSessionDuration", r.max_session_duration)
        .val(
            "PermissionsBoundary",
            r.permissions_boundary.as_ref().map(boundary_json),
        )
        .list("Tags", r.tags.as_deref(), tag_json)
        .val(
            "RoleLastUsed",
            r.role_last_used.as_ref().map(last_used_json),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_lose_their_path() {
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/service/CloudTrail_CW"),
            Some("CloudTrail_CW")
        );
        assert_eq!(role_name("arn:aws:iam::111122223333:user/alice"), None);
    }

    #[test]
    fn inline_and_managed_documents_are_decoded() {
        let out = GetAccountAuthorizationDetailsOutput::builder()
            .role_detail_list(
                RoleDetail::builder()
                    .role_name("ct")
                    .assume_role_policy_document("%7B%22Version%22%3A%222012-10-17%22%7D")
                    .role_policy_list(
                        PolicyDetail::builder()
                            .policy_name("inline")
                            .policy_document("%7B%22Statement%22%3A%5B%5D%7D")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            authorization_details_json(&out),
            json!({"RoleDetailList": [{"RoleName": "ct",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17"},
                "RolePolicyList": [{"PolicyName": "inline",
                    "PolicyDocument": {"Statement": []}}]}]})
        );
    }
}
