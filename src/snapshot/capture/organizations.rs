//! AWS Organizations (global): membership, the path to the root, and the service control
//! policies on it. `AWSOrganizationsNotInUseException` (no organization) and `AccessDenied`
//! (a member account may not read the organization) are recorded like any answer.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{Organization, PolicySummary};
use serde_json::{Value, json};

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, call_error};

const SERVICE: &str = "organizations";

/// Organization units nest at most five deep; the walk stops well after that.
const MAX_DEPTH: usize = 10;

pub(super) async fn capture(ctx: &Ctx, rec: &mut Recorder<'_>) {
    let client = Client::new(&ctx.global());
    let org = describe_organization(&client).await;
    let member = rec
        .record(SERVICE, "DescribeOrganization", None, json!({}), org)
        .is_some();
    if !member {
        rec.report(SERVICE, "not in an organization or not readable");
        return;
    }
    // ListParents from the account up to the root, one call per step.
    let mut targets = vec![ctx.account_id.clone()];
    let mut child = ctx.account_id.clone();
    for _ in 0..MAX_DEPTH {
        let parents = list_parents(&client, &child).await;
        let params = json!({"ChildId": child});
        let Some(answer) = rec.record(SERVICE, "ListParents", None, params, parents) else {
            break;
        };
        let Some(parent) = answer["Parents"].get(0) else {
            break;
        };
        let Some(id) = parent["Id"].as_str() else {
            break;
        };
        targets.push(id.to_string());
        if parent["Type"].as_str() == Some("ROOT") {
            break;
        }
        child = id.to_string();
    }
    let mut policy_ids: Vec<String> = Vec::new();
    for target in &targets {
        let policies = list_policies_for_target(&client, target).await;
        let params = json!({"TargetId": target, "Filter": "SERVICE_CONTROL_POLICY"});
        let Some(answer) = rec.record(SERVICE, "ListPoliciesForTarget", None, params, policies)
        else {
            continue;
        };
        for p in answer["Policies"].as_array().into_iter().flatten() {
            if let Some(id) = p["Id"].as_str()
                && !policy_ids.iter().any(|known| known == id)
            {
                policy_ids.push(id.to_string());
            }
        }
    }
    for id in &policy_ids {
        let policy = client.describe_policy().policy_id(id).send().await;
        let policy = policy
            .map(|o| {
                let p = o.policy.as_ref().map(|p| {
                    Obj::new()
                        .val("PolicySummary", p.policy_summary.as_ref().map(summary_json))
                        // The CLI prints the policy text as a JSON string.
                        .str("Content", p.content.as_deref())
                        .build()
                });
                Obj::new().val("Policy", p).build()
            })
            .map_err(|e| call_error(&e));
        rec.record(
            SERVICE,
            "DescribePolicy",
            None,
            json!({"PolicyId": id}),
            policy,
        );
    }
    rec.report(
        SERVICE,
        &format!("{} levels, {} policies", targets.len(), policy_ids.len()),
    );
}

async fn describe_organization(client: &Client) -> Outcome {
    let answer = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| call_error(&e))?;
    Ok(Obj::new()
        .val(
            "Organization",
            answer.organization.as_ref().map(organization_json),
        )
        .build())
}

pub(crate) fn organization_json(o: &Organization) -> Value {
    Obj::new()
        .str("Id", o.id.as_deref())
        .str("Arn", o.arn.as_deref())
        .enm("FeatureSet", o.feature_set.as_ref())
        .str("MasterAccountArn", o.master_account_arn.as_deref())
        .str("MasterAccountId", o.master_account_id.as_deref())
        .str("MasterAccountEmail", o.master_account_email.as_deref())
        .list(
            "AvailablePolicyTypes",
            o.available_policy_types.as_deref(),
            |t| {
                Obj::new()
                    .enm("Type", t.r#type.as_ref())
                    .enm("Status", t.status.as_ref())
                    .build()
            },
        )
        .build()
}

async fn list_parents(client: &Client, child: &str) -> Outcome {
    let mut parents = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_parents()
            .child_id(child)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        parents.extend(page.parents().iter().map(|p| {
            Obj::new()
                .str("Id", p.id.as_deref())
                .enm("Type", p.r#type.as_ref())
                .build()
        }));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"Parents": parents}))
}

async fn list_policies_for_target(client: &Client, target: &str) -> Outcome {
    use aws_sdk_organizations::types::PolicyType;
    let mut policies = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_policies_for_target()
            .target_id(target)
            .filter(PolicyType::ServiceControlPolicy)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        policies.extend(page.policies().iter().map(summary_json));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"Policies": policies}))
}

fn summary_json(p: &PolicySummary) -> Value {
    Obj::new()
        .str("Id", p.id.as_deref())
        .str("Arn", p.arn.as_deref())
        .str("Name", p.name.as_deref())
        .str("Description", p.description.as_deref())
        .enm("Type", p.r#type.as_ref())
        .bool("AwsManaged", Some(p.aws_managed))
        .build()
}
