//! One CloudTrail record, serialised the way CloudTrail writes it.
//!
//! Field names, nesting and order follow real records (eventVersion 1.08-1.11): optional fields
//! are absent rather than null, except `requestParameters`/`responseElements`, which CloudTrail
//! writes as `null`. Decoders and Athena-style queries are tested against this output, so the
//! shapes matter more than the values.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use super::catalog::{
    AccountProfile, Class, EventType, Kind, Op, Principal, RegionalResources, Session,
};
use super::ids::{self, GenRng};
use super::params;

/// What a record needs to know about where it is logged.
pub struct Ctx<'a> {
    pub account: &'a AccountProfile,
    pub regional: &'a RegionalResources,
    pub region: &'a str,
    /// The bucket the trail delivers to.
    pub bucket: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: String,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Value,
    response_elements: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<Value>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<params::Resource>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_event_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_endpoint_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_endpoint_account_id: Option<&'a str>,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    addendum: Option<Addendum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<TlsDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_credential_from_console: Option<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    session_issuer: Option<SessionIssuer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_id_federation_data: Option<serde_json::Map<String, Value>>,
    attributes: Attributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    ec2_role_delivery: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    user_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    creation_date: String,
    mfa_authenticated: &'static str,
}

#[derive(Serialize)]
struct Addendum {
    reason: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlsDetails {
    tls_version: &'static str,
    cipher_suite: &'static str,
    client_provided_host_header: String,
}

/// The identity as it appears in one event, plus what the identity implies about the request.
struct Caller<'a> {
    identity: UserIdentity<'a>,
    /// The ARN named in AccessDenied messages (the session ARN for roles).
    arn: String,
    ip: &'a str,
    agent: &'a str,
    from_console: bool,
}

fn event_version(op: &Op) -> &'static str {
    match op.service {
        "sts" | "lambda" => "1.08",
        "signin" | "iam" | "kms" | "logs" | "secretsmanager" | "ssm" => "1.09",
        "cloudtrail" => "1.11",
        _ => "1.10",
    }
}

fn pick<'s>(rng: &mut GenRng, items: &'s [String]) -> &'s str {
    items
        .get(rng.gen_range(0..items.len().max(1)))
        .map_or("", String::as_str)
}

fn caller<'a>(
    ctx: &Ctx<'a>,
    p: &'a Principal,
    op: &Op,
    t: DateTime<Utc>,
    rng: &mut GenRng,
) -> Caller<'a> {
    let acct = ctx.account.id.as_str();
    let ip = pick(rng, &p.ips);
    let agent = if p.agents.is_empty() {
        p.name.as_str()
    } else {
        p.agents[rng.gen_range(0..p.agents.len())]
    };
    let session_age = Duration::seconds(rng.gen_range(30..3 * 3600));
    let attributes = |mfa: bool| Attributes {
        creation_date: ids::iso_seconds(t - session_age),
        mfa_authenticated: if mfa { "true" } else { "false" },
    };
    let sign_in = op.event_type == EventType::AwsConsoleSignIn;
    match p.kind {
        Kind::IamUser | Kind::Root => {
            // Console users work through temporary console credentials most of the time.
            let console_session = !sign_in && p.console && rng.gen_bool(0.5);
            let mut identity = UserIdentity {
                kind: Some(if p.kind == Kind::Root {
                    "Root"
                } else {
                    "IAMUser"
                }),
                principal_id: Some(p.unique_id.clone()),
                arn: Some(p.arn.clone()),
                account_id: Some(acct),
                user_name: (p.kind == Kind::IamUser).then_some(p.name.as_str()),
                ..Default::default()
            };
            let mut agent = agent;
            if console_session {
                identity.access_key_id = Some(ids::iam_id(rng, "ASIA"));
                identity.session_context = Some(SessionContext {
                    session_issuer: None,
                    web_id_federation_data: None,
                    attributes: attributes(p.mfa),
                    ec2_role_delivery: None,
                });
                agent = super::catalog::console_agent(rng);
            } else if !sign_in {
                identity.access_key_id = p.access_key.clone();
            }
            if sign_in {
                agent = super::catalog::console_agent(rng);
            }
            Caller {
                identity,
                arn: p.arn.clone(),
                ip,
                agent,
                from_console: console_session,
            }
        }
        Kind::AssumedRole => {
            let session_name = match &p.session {
                Session::Named(n) if p.class == Class::Automation => {
                    format!("{n}-{}", rng.gen_range(1000..99999))
                }
                Session::Named(n) => n.clone(),
                Session::Instance(i) => i.clone(),
                Session::None => "session".to_string(),
            };
            let arn = format!("arn:aws:sts::{acct}:assumed-role/{}/{session_name}", p.name);
            let from_console =
                p.agents.first().is_some_and(|a| a.starts_with("Mozilla")) && rng.gen_bool(0.6);
            let identity = UserIdentity {
                kind: Some("AssumedRole"),
                principal_id: Some(format!("{}:{session_name}", p.unique_id)),
                arn: Some(arn.clone()),
                account_id: Some(acct),
                access_key_id: Some(ids::iam_id(rng, "ASIA")),
                session_context: Some(SessionContext {
                    session_issuer: Some(SessionIssuer {
                        kind: "Role",
                        principal_id: &p.unique_id,
                        arn: &p.arn,
                        account_id: acct,
                        user_name: &p.name,
                    }),
                    web_id_federation_data: Some(serde_json::Map::new()),
                    attributes: attributes(p.mfa),
                    ec2_role_delivery: matches!(p.session, Session::Instance(_)).then_some("2.0"),
                }),
                ..Default::default()
            };
            Caller {
                identity,
                arn,
                ip,
                agent: if from_console { "AWS Internal" } else { agent },
                from_console,
            }
        }
        Kind::AwsService => {
            let identity = if op.event_type == EventType::AwsServiceEvent {
                UserIdentity {
                    account_id: Some(acct),
                    invoked_by: Some(p.name.as_str()),
                    ..Default::default()
                }
            } else {
                UserIdentity {
                    kind: Some("AWSService"),
                    invoked_by: Some(p.name.as_str()),
                    ..Default::default()
                }
            };
            Caller {
                identity,
                arn: p.name.clone(),
                ip: p.name.as_str(),
                agent: p.name.as_str(),
                from_console: false,
            }
        }
    }
}

fn tls(host: String, rng: &mut GenRng) -> TlsDetails {
    let (tls_version, cipher_suite) = if rng.gen_bool(0.75) {
        ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    } else {
        ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    };
    TlsDetails {
        tls_version,
        cipher_suite,
        client_provided_host_header: host,
    }
}

fn error_for(op: &Op, caller_arn: &str, resource: &str) -> (&'static str, String) {
    let action = op
        .name
        .trim_end_matches("20150331v2")
        .trim_end_matches("20150331");
    let action = if op.service == "lambda" && action == "Invoke" {
        "InvokeFunction"
    } else {
        action
    };
    let denied = format!(
        "User: {caller_arn} is not authorized to perform: {}:{action} on resource: {resource} because no identity-based policy allows the {}:{action} action",
        op.service, op.service
    );
    match op.service {
        "ec2" => (
            "Client.UnauthorizedOperation",
            format!("You are not authorized to perform this operation. {denied}"),
        ),
        "kms" | "secretsmanager" | "ssm" | "logs" => ("AccessDeniedException", denied),
        "s3" => ("AccessDenied", "Access Denied".to_string()),
        _ => ("AccessDenied", denied),
    }
}

/// Serialises a random record for `op` called by `principal` at `t` (epoch seconds).
/// `late` marks an event delivered hours late (it carries `addendum.reason = DELIVERY_DELAY`).
pub fn api_record(
    ctx: &Ctx<'_>,
    op: &Op,
    principal: &Principal,
    t: DateTime<Utc>,
    late: bool,
    rng: &mut GenRng,
) -> Vec<u8> {
    let caller = caller(ctx, principal, op, t, rng);
    let region = match op.scope {
        super::catalog::Scope::Global => "us-east-1",
        super::catalog::Scope::Regional => ctx.region,
    };
    let call = params::build(ctx, op, principal, t, rng);
    let sign_in = op.event_type == EventType::AwsConsoleSignIn;
    let can_fail = !sign_in && principal.kind != Kind::AwsService;
    let failed = can_fail && rng.gen_bool(0.03);
    let (error_code, error_message, response) = if failed {
        let (code, msg) = error_for(op, &caller.arn, &call.resource_for_errors);
        (Some(code), Some(msg), Value::Null)
    } else if sign_in && call.login_failed {
        (
            None,
            Some("Failed authentication".to_string()),
            call.response,
        )
    } else {
        (None, None, call.response)
    };
    let request_id = match (op.service, op.event_type) {
        ("signin", _) | (_, EventType::AwsServiceEvent) => None,
        ("s3", _) => Some(ids::s3_request_id(rng)),
        _ => Some(ids::uuid_v4(rng)),
    };
    let tls_details = (principal.kind != Kind::AwsService).then(|| tls(call.host, rng));
    let record = Record {
        event_version: event_version(op),
        user_identity: caller.identity,
        event_time: ids::iso_seconds(t),
        event_source: format!("{}.amazonaws.com", op.service),
        event_name: op.name,
        aws_region: region,
        source_ip_address: call.source_ip.as_deref().unwrap_or(caller.ip),
        user_agent: caller.agent,
        error_code,
        error_message,
        request_parameters: call.request,
        response_elements: response,
        additional_event_data: call.additional,
        request_id,
        event_id: ids::uuid_v4(rng),
        read_only: op.read_only,
        resources: call.resources,
        event_type: op.event_type.as_str(),
        management_event: !op.data,
        recipient_account_id: &ctx.account.id,
        service_event_details: call.service_details,
        vpc_endpoint_account_id: call.vpc_endpoint.as_ref().map(|_| ctx.account.id.as_str()),
        vpc_endpoint_id: call.vpc_endpoint,
        event_category: if op.data { "Data" } else { "Management" },
        addendum: late.then_some(Addendum {
            reason: "DELIVERY_DELAY",
        }),
        tls_details,
        session_credential_from_console: caller.from_console.then_some("true"),
    };
    serialize(&record)
}

/// The StopLogging (or StartLogging) call of a stop episode: by the account's administrator,
/// from their single fixed address, in the trail's home region, always successful.
pub fn logging_record(ctx: &Ctx<'_>, t: DateTime<Utc>, start: bool, rng: &mut GenRng) -> Vec<u8> {
    let admin = &ctx.account.principals[ctx.account.admin];
    let name = if start { "StartLogging" } else { "StopLogging" };
    let region = ctx.account.home_region.as_str();
    let record = Record {
        event_version: "1.11",
        user_identity: UserIdentity {
            kind: Some("IAMUser"),
            principal_id: Some(admin.unique_id.clone()),
            arn: Some(admin.arn.clone()),
            account_id: Some(&ctx.account.id),
            access_key_id: admin.access_key.clone(),
            user_name: Some(&admin.name),
            ..Default::default()
        },
        event_time: ids::iso_seconds(t),
        event_source: "cloudtrail.amazonaws.com".to_string(),
        event_name: name,
        aws_region: region,
        source_ip_address: admin.ips.first().map_or("", String::as_str),
        user_agent: admin.agents.first().copied().unwrap_or(""),
        error_code: None,
        error_message: None,
        request_parameters: serde_json::json!({ "name": ctx.account.trail_arn() }),
        response_elements: Value::Null,
        additional_event_data: None,
        request_id: Some(ids::uuid_v4(rng)),
        event_id: ids::uuid_v4(rng),
        read_only: false,
        resources: Vec::new(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &ctx.account.id,
        service_event_details: None,
        vpc_endpoint_id: None,
        vpc_endpoint_account_id: None,
        event_category: "Management",
        addendum: None,
        tls_details: Some(tls(format!("cloudtrail.{region}.amazonaws.com"), rng)),
        session_credential_from_console: None,
    };
    serialize(&record)
}

fn serialize(record: &Record<'_>) -> Vec<u8> {
    // Serialising plain structs, strings and `Value`s into memory cannot fail.
    serde_json::to_vec(record).unwrap_or_default()
}
