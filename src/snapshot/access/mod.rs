//! Who may do what: IAM principals, bucket-policy readers, SCP denials, the organisation, and
//! the resources a trail points at (roles, SNS topics) that may have vanished.
//!
//! Only the actions the controls ask about are evaluated ([`ACTIONS`]); the raw documents stay in
//! `snapshot_calls` for anything else. Known limits, stated so nobody mistakes them for proof:
//! permission boundaries and session policies are not applied, conditions are not evaluated
//! (an `Allow` with a condition is a "may", flagged `conditional`), and an attached policy whose
//! document the snapshot lacks is listed in `iam_principals.unresolved_policies`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Snapshot;
use super::facts::{ColType::*, FactTable, answers, list};
use super::policy::{Statement, statements, wildcard_match};

/// The actions controls ask "who may call this?" about.
pub const ACTIONS: &[&str] = &[
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:LookupEvents",
    "s3:GetObject",
    "s3:DeleteObject",
    "s3:PutBucketPolicy",
];

/// AWS managed policies whose documents a snapshot often lacks but whose effect is well known.
fn known_managed(arn: &str) -> Option<Value> {
    match arn.rsplit('/').next()? {
        "AdministratorAccess" => {
            Some(json!({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}))
        }
        "AWSCloudTrail_FullAccess" => {
            Some(json!({"Statement":[{"Effect":"Allow","Action":"cloudtrail:*","Resource":"*"}]}))
        }
        "AmazonS3FullAccess" => Some(
            json!({"Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}),
        ),
        "AmazonS3ReadOnlyAccess" => Some(
            json!({"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}),
        ),
        "ReadOnlyAccess" => Some(
            json!({"Statement":[{"Effect":"Allow","Action":["cloudtrail:Get*","cloudtrail:Describe*","cloudtrail:List*","cloudtrail:LookupEvents","s3:Get*","s3:List*"],"Resource":"*"}]}),
        ),
        _ => None,
    }
}

pub fn tables(snapshots: &[Snapshot]) -> Vec<FactTable> {
    let (principals, permissions) = iam(snapshots);
    let readers = log_readers(snapshots, &permissions);
    vec![
        principals,
        permissions,
        readers,
        iam_roles(snapshots),
        organization(snapshots),
        scps(snapshots),
        sns_topics(snapshots),
    ]
}

/// (policy name, document) pairs.
type Documents = Vec<(String, Value)>;

/// A principal and the policy documents that apply to it.
struct Principal {
    arn: String,
    kind: &'static str,
    name: String,
    path: String,
    /// (policy name, document)
    documents: Vec<(String, Value)>,
    unresolved: Vec<String>,
}

fn inline(list_of: &[Value]) -> Vec<(String, Value)> {
    list_of
        .iter()
        .filter_map(|p| {
            Some((
                p.get("PolicyName")?.as_str()?.to_string(),
                p.get("PolicyDocument")?.clone(),
            ))
        })
        .collect()
}

fn principals_of(details: &Value) -> Vec<Principal> {
    // Managed policies by ARN: the default version's document.
    let mut managed: BTreeMap<String, Value> = BTreeMap::new();
    for p in list(details, "Policies") {
        let Some(arn) = p.get("Arn").and_then(Value::as_str) else {
            continue;
        };
        let default = list(p, "PolicyVersionList")
            .iter()
            .find(|v| v.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true))
            .and_then(|v| v.get("Document"));
        if let Some(doc) = default {
            managed.insert(arn.to_string(), doc.clone());
        }
    }
    let attach = |entity: &Value, docs: &mut Vec<(String, Value)>, unresolved: &mut Vec<String>| {
        for a in list(entity, "AttachedManagedPolicies") {
            let Some(arn) = a.get("PolicyArn").and_then(Value::as_str) else {
                continue;
            };
            let name = a
                .get("PolicyName")
                .and_then(Value::as_str)
                .unwrap_or(arn)
                .to_string();
            match managed.get(arn).cloned().or_else(|| known_managed(arn)) {
                Some(doc) => docs.push((name, doc)),
                None => unresolved.push(arn.to_string()),
            }
        }
    };
    let mut groups: BTreeMap<String, (Documents, Vec<String>)> = BTreeMap::new();
    for g in list(details, "GroupDetailList") {
        let name = g.get("GroupName").and_then(Value::as_str).unwrap_or("");
        let mut docs = inline(list(g, "GroupPolicyList"));
        let mut unresolved = Vec::new();
        attach(g, &mut docs, &mut unresolved);
        groups.insert(name.to_string(), (docs, unresolved));
    }
    let mut out = Vec::new();
    for (kind, key, inline_key) in [
        ("user", "UserDetailList", "UserPolicyList"),
        ("role", "RoleDetailList", "RolePolicyList"),
    ] {
        for e in list(details, key) {
            let mut documents = inline(list(e, inline_key));
            let mut unresolved = Vec::new();
            attach(e, &mut documents, &mut unresolved);
            for group in list(e, "GroupList").iter().filter_map(Value::as_str) {
                if let Some((docs, missing)) = groups.get(group) {
                    documents.extend(
                        docs.iter()
                            .map(|(n, d)| (format!("{group}/{n}"), d.clone())),
                    );
                    unresolved.extend(missing.iter().cloned());
                }
            }
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.push(Principal {
                arn: s("Arn"),
                kind,
                name: s(if kind == "user" {
                    "UserName"
                } else {
                    "RoleName"
                }),
                path: s("Path"),
                documents,
                unresolved,
            });
        }
    }
    out
}

fn iam(snapshots: &[Snapshot]) -> (FactTable, FactTable) {
    let mut principals = FactTable::new(
        "iam_principals",
        &[
            ("account_id", Text),
            ("principal_arn", Text),
            ("principal_type", Text),
            ("name", Text),
            ("path", Text),
            ("policies", Json),
            ("unresolved_policies", Json),
        ],
    );
    let mut permissions = FactTable::new(
        "iam_permissions",
        &[
            ("account_id", Text),
            ("principal_arn", Text),
            ("principal_type", Text),
            ("path", Text),
            ("action", Text),
            ("resources", Json),
            ("conditional", Bool),
            ("policies", Json),
        ],
    );
    for (s, _, r) in answers(snapshots, "iam", "GetAccountAuthorizationDetails") {
        for p in principals_of(r) {
            let names: Vec<&str> = p.documents.iter().map(|(n, _)| n.as_str()).collect();
            principals.push(json!({"account_id": s.account_id, "principal_arn": p.arn,
                "principal_type": p.kind, "name": p.name, "path": p.path,
                "policies": names, "unresolved_policies": p.unresolved}));
            let stmts: Vec<(&str, Statement)> = p
                .documents
                .iter()
                .flat_map(|(n, d)| statements(d).into_iter().map(move |st| (n.as_str(), st)))
                .collect();
            for action in ACTIONS {
                let denied = stmts.iter().any(|(_, st)| {
                    !st.allow
                        && !st.conditional()
                        && st.covers_action(action)
                        && st.covers_resource("*")
                        && (st.resources.iter().any(|r| r == "*") || st.resources.is_empty())
                });
                let allows: Vec<&(&str, Statement)> = stmts
                    .iter()
                    .filter(|(_, st)| st.allow && st.covers_action(action))
                    .collect();
                if denied || allows.is_empty() {
                    continue;
                }
                let resources: BTreeSet<&str> = allows
                    .iter()
                    .flat_map(|(_, st)| st.resources.iter().map(String::as_str))
                    .collect();
                let policies: BTreeSet<&str> = allows.iter().map(|(n, _)| *n).collect();
                permissions.push(json!({"account_id": s.account_id, "principal_arn": p.arn,
                    "principal_type": p.kind, "path": p.path, "action": action,
                    "resources": resources,
                    "conditional": allows.iter().all(|(_, st)| st.conditional()),
                    "policies": policies}));
            }
        }
    }
    (principals, permissions)
}

/// The ARN of a log object of the snapshot's account in `bucket`, as each trail writing there
/// lays it out: under the trail's key prefix, and for an organization trail also under the
/// organization id (`AWSLogs/o-.../ACCOUNT/`). A grant covering any of them reads the logs.
fn log_objects(s: &Snapshot, bucket: &str) -> Vec<String> {
    let org_id = answers(
        std::slice::from_ref(s),
        "organizations",
        "DescribeOrganization",
    )
    .find_map(|(_, _, r)| r.pointer("/Organization/Id").and_then(Value::as_str));
    let mut layouts = BTreeSet::new();
    for (_, _, r) in answers(std::slice::from_ref(s), "cloudtrail", "DescribeTrails") {
        for trail in list(r, "trailList") {
            if trail.get("S3BucketName").and_then(Value::as_str) != Some(bucket) {
                continue;
            }
            let prefix = match trail.get("S3KeyPrefix").and_then(Value::as_str) {
                Some(p) if !p.is_empty() => format!("{}/", p.trim_end_matches('/')),
                _ => String::new(),
            };
            layouts.insert(format!("{prefix}AWSLogs/{}", s.account_id));
            let org_trail = trail.get("IsOrganizationTrail").and_then(Value::as_bool) == Some(true);
            if let (true, Some(org)) = (org_trail, org_id) {
                layouts.insert(format!("{prefix}AWSLogs/{org}/{}", s.account_id));
            }
        }
    }
    if layouts.is_empty() {
        layouts.insert(format!("AWSLogs/{}", s.account_id));
    }
    layouts
        .into_iter()
        .map(|l| format!("arn:aws:s3:::{bucket}/{l}/CloudTrail/x"))
        .collect()
}

/// Principals that may read a trail bucket's log objects: its bucket policy's grants plus the
/// bucket account's IAM principals allowed `s3:GetObject` on it.
fn log_readers(snapshots: &[Snapshot], permissions: &FactTable) -> FactTable {
    let mut t = FactTable::new(
        "log_readers",
        &[
            ("account_id", Text),
            ("bucket", Text),
            ("principal", Text),
            ("source", Text),
            ("restricted_to_org_or_account", Bool),
            ("conditional", Bool),
        ],
    );
    for s in snapshots {
        // IAM grants alone open only the account's own buckets; another account's bucket also
        // needs its bucket policy, which the first half covers (and which, when it grants this
        // account as a whole, opens the bucket to the IAM half too).
        let listed: Option<Vec<&str>> = s
            .calls
            .iter()
            .filter(|c| c.is("s3", "ListBuckets"))
            .find_map(|c| c.response.as_ref())
            .map(|r| {
                list(r, "Buckets")
                    .iter()
                    .filter_map(|b| b.get("Name").and_then(Value::as_str))
                    .collect()
            });
        let mut buckets = BTreeSet::new();
        for c in s.calls.iter().filter(|c| c.is("s3", "GetBucketPolicy")) {
            let Some(bucket) = c.param("Bucket") else {
                continue;
            };
            if listed.as_ref().is_none_or(|l| l.contains(&bucket)) {
                buckets.insert(bucket.to_string());
            }
            let Some(text) = c.response.as_ref().and_then(|r| r.get("Policy")) else {
                continue;
            };
            let objects = log_objects(s, bucket);
            for st in statements(text) {
                if !st.allow
                    || !st.covers_action("s3:GetObject")
                    || !objects.iter().any(|o| st.covers_resource(o))
                {
                    continue;
                }
                for principal in st.principals() {
                    // A grant to this very account hands the decision to its IAM policies:
                    // its principals allowed s3:GetObject read the logs even in a bucket
                    // another account owns.
                    if principal == s.account_id
                        || principal == format!("arn:aws:iam::{}:root", s.account_id)
                    {
                        buckets.insert(bucket.to_string());
                    }
                    t.push(json!({"account_id": s.account_id, "bucket": bucket,
                        "principal": principal, "source": "bucket_policy",
                        "restricted_to_org_or_account": st.restricts_to_org_or_account(),
                        "conditional": st.conditional()}));
                }
            }
        }
        for row in permissions.rows.iter().filter(|r| {
            r.get("account_id") == Some(&json!(s.account_id))
                && r.get("action") == Some(&json!("s3:GetObject"))
        }) {
            let patterns: Vec<&str> = row
                .get("resources")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for bucket in &buckets {
                let objects = log_objects(s, bucket);
                if patterns
                    .iter()
                    .any(|p| objects.iter().any(|o| wildcard_match(p, o)))
                {
                    t.push(json!({"account_id": s.account_id, "bucket": bucket,
                        "principal": row.get("principal_arn"), "source": "iam",
                        "restricted_to_org_or_account": true,
                        "conditional": row.get("conditional")}));
                }
            }
        }
    }
    t
}

fn iam_roles(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "iam_roles",
        &[
            ("account_id", Text),
            ("role_name", Text),
            ("arn", Text),
            ("exists", Bool),
        ],
    );
    for s in snapshots {
        let mut seen = BTreeSet::new();
        for c in s.calls.iter().filter(|c| c.is("iam", "GetRole")) {
            let Some(name) = c.param("RoleName") else {
                continue;
            };
            let exists = match (&c.response, c.error_code()) {
                (Some(_), _) => true,
                (None, Some("NoSuchEntity")) => false,
                _ => continue,
            };
            let arn = c
                .response
                .as_ref()
                .and_then(|r| r.pointer("/Role/Arn"))
                .cloned();
            seen.insert(name.to_string());
            t.push(
                json!({"account_id": s.account_id, "role_name": name, "arn": arn,
                "exists": exists}),
            );
        }
        for (_, _, r) in answers(
            std::slice::from_ref(s),
            "iam",
            "GetAccountAuthorizationDetails",
        ) {
            for role in list(r, "RoleDetailList") {
                let name = role.get("RoleName").and_then(Value::as_str).unwrap_or("");
                if seen.insert(name.to_string()) {
                    t.push(json!({"account_id": s.account_id, "role_name": name,
                        "arn": role.get("Arn"), "exists": true}));
                }
            }
        }
    }
    t
}

fn organization(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "organization",
        &[
            ("account_id", Text),
            ("is_member", Bool),
            ("organization_id", Text),
            ("management_account_id", Text),
            ("feature_set", Text),
        ],
    );
    for s in snapshots {
        for c in s
            .calls
            .iter()
            .filter(|c| c.is("organizations", "DescribeOrganization"))
        {
            match (&c.response, c.error_code()) {
                (Some(r), _) => {
                    let o = r.get("Organization").cloned().unwrap_or(Value::Null);
                    t.push(json!({"account_id": s.account_id, "is_member": true,
                        "organization_id": o.get("Id"),
                        "management_account_id": o.get("MasterAccountId"),
                        "feature_set": o.get("FeatureSet")}));
                }
                (None, Some("AWSOrganizationsNotInUseException")) => {
                    t.push(json!({"account_id": s.account_id, "is_member": false}))
                }
                _ => {}
            }
        }
    }
    t
}

/// A resource no real policy names, of the type `action` acts on: a `Deny` whose `Resource`
/// matches it is written for every resource of that type (`*`, `arn:aws:cloudtrail:*:*:trail/*`),
/// not for some named trail or bucket.
fn any_resource_of(action: &str) -> &'static str {
    match action {
        "cloudtrail:LookupEvents" => "*",
        "s3:GetObject" | "s3:DeleteObject" => "arn:aws:s3:::zz-any-bucket-0/zz-any-key",
        "s3:PutBucketPolicy" => "arn:aws:s3:::zz-any-bucket-0",
        _ if action.starts_with("cloudtrail:") => {
            "arn:aws:cloudtrail:zz-any-region-0:000000000000:trail/zz-any-trail"
        }
        _ => "*",
    }
}

/// Does this `Deny` hold for every resource of the action, whatever the request (no condition)?
fn blanket_deny(st: &Statement, action: &str) -> bool {
    !st.allow
        && !st.conditional()
        && st.not_resources.is_empty()
        && st.covers_action(action)
        && st.covers_resource(any_resource_of(action))
}

/// Service control policies on the account's path, one row per (policy, action it denies);
/// a policy that denies none of [`ACTIONS`] still gets one row with `action` NULL.
/// `conditional`: every denying statement has a condition; `blanket`: some denying statement has
/// no condition and covers every resource of the action (a guarantee, unlike a deny scoped to
/// named resources); `resources`: the denying statements' `Resource` patterns.
fn scps(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "scps",
        &[
            ("account_id", Text),
            ("target_id", Text),
            ("policy_id", Text),
            ("policy_name", Text),
            ("denied_action", Text),
            ("conditional", Bool),
            ("blanket", Bool),
            ("resources", Json),
            ("content", Json),
        ],
    );
    for s in snapshots {
        let mut contents: BTreeMap<&str, Value> = BTreeMap::new();
        for (_, c, r) in answers(std::slice::from_ref(s), "organizations", "DescribePolicy") {
            if let (Some(id), Some(content)) = (c.param("PolicyId"), r.pointer("/Policy/Content")) {
                contents.insert(
                    id,
                    super::policy::document(content).unwrap_or(content.clone()),
                );
            }
        }
        for (_, c, r) in answers(
            std::slice::from_ref(s),
            "organizations",
            "ListPoliciesForTarget",
        ) {
            let target = c.param("TargetId");
            for p in list(r, "Policies") {
                let id = p.get("Id").and_then(Value::as_str).unwrap_or("");
                let content = contents.get(id).cloned();
                let row = |action: Option<&str>, deny: &[&Statement]| {
                    let (conditional, blanket, resources) = match action {
                        Some(a) => (
                            json!(deny.iter().all(|st| st.conditional())),
                            json!(deny.iter().any(|st| blanket_deny(st, a))),
                            json!(
                                deny.iter()
                                    .flat_map(|st| st.resources.iter().cloned())
                                    .collect::<BTreeSet<_>>()
                            ),
                        ),
                        None => (Value::Null, Value::Null, Value::Null),
                    };
                    json!({"account_id": s.account_id, "target_id": target, "policy_id": id,
                        "policy_name": p.get("Name"), "denied_action": action,
                        "conditional": conditional, "blanket": blanket,
                        "resources": resources, "content": content})
                };
                let stmts = content.as_ref().map(statements).unwrap_or_default();
                let denies: Vec<(&str, Vec<&Statement>)> = ACTIONS
                    .iter()
                    .map(|a| {
                        let deny: Vec<&Statement> = stmts
                            .iter()
                            .filter(|st| !st.allow && st.covers_action(a))
                            .collect();
                        (*a, deny)
                    })
                    .filter(|(_, deny)| !deny.is_empty())
                    .collect();
                if denies.is_empty() {
                    t.push(row(None, &[]));
                }
                for (action, deny) in &denies {
                    t.push(row(Some(action), deny));
                }
            }
        }
    }
    t
}

fn sns_topics(snapshots: &[Snapshot]) -> FactTable {
    let mut t = FactTable::new(
        "sns_topics",
        &[
            ("account_id", Text),
            ("region", Text),
            ("topic_arn", Text),
            ("exists", Bool),
            ("subscriptions_confirmed", Int),
            ("policy", Json),
        ],
    );
    for s in snapshots {
        for c in s.calls.iter().filter(|c| c.is("sns", "GetTopicAttributes")) {
            let Some(arn) = c.param("TopicArn") else {
                continue;
            };
            let region = arn.split(':').nth(3);
            match (&c.response, c.error_code()) {
                (Some(r), _) => {
                    let attr = |k: &str| r.pointer(&format!("/Attributes/{k}")).cloned();
                    let confirmed = attr("SubscriptionsConfirmed")
                        .and_then(|v| v.as_str().and_then(|s| s.parse::<i64>().ok()));
                    let policy = attr("Policy").and_then(|p| super::policy::document(&p));
                    t.push(json!({"account_id": s.account_id, "region": region,
                        "topic_arn": arn, "exists": true,
                        "subscriptions_confirmed": confirmed, "policy": policy}));
                }
                (None, Some("NotFound" | "NotFoundException")) => t
                    .push(json!({"account_id": s.account_id, "region": region,
                        "topic_arn": arn, "exists": false})),
                _ => {}
            }
        }
    }
    t
}

#[cfg(test)]
mod tests;
