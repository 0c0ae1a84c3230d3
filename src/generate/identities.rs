//! Identity chains (with `identity_chains`): scripted scenarios of who assumed what, across
//! accounts, planted among the background events, with the generator's own record of where
//! every scripted event really comes from (`_trailscope/identity-chains.json`), which lineage
//! tests check trailscope's answers against.
//!
//! The scenarios, on the first day: a user's long-term key used from a foreign address to chain
//! roles through up to three accounts and back (depth 1-4); SAML federation; web identity (a CI
//! pipeline's OIDC token); an IAM Identity Center user; an EC2 instance role; and a role session
//! whose issuing call happened before the archive begins (a broken chain). A cross-account
//! AssumeRole is recorded in both accounts, as CloudTrail does: the caller's copy names the
//! caller and its key, the role account's copy only the caller's account and principal id.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use serde::Serialize;
use serde_json::{Value, json};

use super::catalog::AccountProfile;
use super::ids::{self, GenRng};

/// One scripted record, for the stream of (account, region).
#[derive(Debug, Clone)]
pub struct Scripted {
    pub account_index: usize,
    pub region: String,
    pub t: i64,
    pub json: Vec<u8>,
}

/// Where a scripted event comes from, as the generator made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrueOrigin {
    /// `long-term-key`, `federation`, `aws-service`, or `unknown` for a chain the archive
    /// cannot complete.
    pub kind: &'static str,
    pub principal: Option<String>,
    pub access_key: Option<String>,
    pub depth: usize,
    pub scenario: &'static str,
}

/// The side file: every scripted event's true origin, by event id, and every credential issued.
#[derive(Debug, Default, Serialize)]
pub struct Truth {
    pub events: BTreeMap<String, TrueOrigin>,
    /// Issued credential -> (issuer key, depth below its origin).
    pub credentials: BTreeMap<String, (Option<String>, usize)>,
}

pub const TRUTH_FILE: &str = "_trailscope/identity-chains.json";

/// A principal acting with a credential: the `userIdentity` its events carry.
#[derive(Debug, Clone)]
struct Actor {
    identity: Value,
    key: String,
    account: usize,
    origin: TrueOrigin,
    ip: String,
    agent: &'static str,
}

struct Script<'a> {
    accounts: &'a [AccountProfile],
    region: String,
    rng: GenRng,
    clock: DateTime<Utc>,
    out: Vec<Scripted>,
    truth: Truth,
}

impl Script<'_> {
    fn account(&self, i: usize) -> &AccountProfile {
        &self.accounts[i % self.accounts.len()]
    }

    fn tick(&mut self, seconds: i64) -> DateTime<Utc> {
        self.clock += Duration::seconds(seconds);
        self.clock
    }

    fn push(&mut self, account: usize, record: Value) {
        let t = self.clock.timestamp();
        self.out.push(Scripted {
            account_index: account % self.accounts.len(),
            region: self.region.clone(),
            t,
            json: record.to_string().into_bytes(),
        });
    }

    /// A record made by `actor`, in its account.
    fn record(
        &mut self,
        actor: &Actor,
        source: &str,
        name: &str,
        read_only: bool,
        request: Value,
        response: Value,
    ) -> (Value, String) {
        let event_id = ids::uuid_v4(&mut self.rng);
        let request_id = ids::uuid_v4(&mut self.rng);
        let recipient = self.account(actor.account).id.clone();
        let record = json!({
            "eventVersion": "1.09",
            "userIdentity": actor.identity,
            "eventTime": ids::iso_seconds(self.clock),
            "eventSource": source,
            "eventName": name,
            "awsRegion": self.region,
            "sourceIPAddress": actor.ip,
            "userAgent": actor.agent,
            "requestParameters": request,
            "responseElements": response,
            "requestID": request_id,
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": recipient,
            "eventCategory": "Management",
        });
        (record, event_id)
    }

    /// A few calls with `actor`'s credential.
    fn act(&mut self, actor: &Actor, calls: &[(&str, &str, bool)]) {
        for (source, name, read_only) in calls {
            self.tick(20);
            let (record, id) =
                self.record(actor, source, name, *read_only, Value::Null, Value::Null);
            self.push(actor.account, record);
            self.truth.events.insert(id, actor.origin.clone());
        }
    }

    /// `caller` assumes `role` in `account`: the call in the caller's account (and a copy in the
    /// role's, when they differ); returns the new session's actor.
    fn assume_role(&mut self, caller: &Actor, account: usize, role: &str, session: &str) -> Actor {
        self.tick(30);
        let role_account = self.account(account).id.clone();
        let key = ids::iam_id(&mut self.rng, "ASIA");
        let role_id = ids::iam_id(&mut self.rng, "AROA");
        let session_arn = format!("arn:aws:sts::{role_account}:assumed-role/{role}/{session}");
        let role_arn = format!("arn:aws:iam::{role_account}:role/{role}");
        let request =
            json!({"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600});
        let response = json!({
            "credentials": {
                "accessKeyId": key,
                "expiration": (self.clock + Duration::hours(1)).format("%b %-d, %Y, %-I:%M:%S %p").to_string(),
            },
            "assumedRoleUser": {"assumedRoleId": format!("{role_id}:{session}"), "arn": session_arn},
        });
        let (mut record, id) = self.record(
            caller,
            "sts.amazonaws.com",
            "AssumeRole",
            true,
            request,
            response,
        );
        self.truth.events.insert(id, caller.origin.clone());
        let shared = ids::uuid_v4(&mut self.rng);
        let cross = caller.account % self.accounts.len() != account % self.accounts.len();
        if cross {
            record["sharedEventID"] = json!(shared);
            record["resources"] =
                json!([{"accountId": role_account, "type": "AWS::IAM::Role", "ARN": role_arn}]);
        }
        self.push(caller.account, record.clone());
        if cross {
            // The role account's copy: only the caller's account and principal id.
            let mut copy = record;
            copy["userIdentity"] = json!({
                "type": "AWSAccount",
                "principalId": caller.identity["principalId"],
                "accountId": self.account(caller.account).id,
            });
            copy["recipientAccountId"] = json!(role_account);
            let copy_id = ids::uuid_v4(&mut self.rng);
            copy["eventID"] = json!(copy_id);
            self.push(account, copy);
            self.truth.events.insert(copy_id, caller.origin.clone());
        }
        let depth = caller.origin.depth + 1;
        let issuer_key = (!caller.key.is_empty()).then(|| caller.key.clone());
        self.truth
            .credentials
            .insert(key.clone(), (issuer_key, depth));
        Actor {
            identity: assumed_identity(
                &session_arn,
                &role_arn,
                &role_id,
                session,
                &role_account,
                &key,
                &self.clock,
            ),
            key,
            account,
            origin: TrueOrigin {
                depth,
                ..caller.origin.clone()
            },
            ip: caller.ip.clone(),
            agent: caller.agent,
        }
    }

    /// A federated sign-in (SAML or web identity) to `role` in `account`.
    fn federate(
        &mut self,
        account: usize,
        role_path: &str,
        subject: &str,
        kind: FederationKind,
        scenario: &'static str,
    ) -> Actor {
        self.tick(60);
        let account_id = self.account(account).id.clone();
        let role = role_path
            .rsplit('/')
            .next()
            .unwrap_or(role_path)
            .to_string();
        let role_arn = format!("arn:aws:iam::{account_id}:role/{role_path}");
        let key = ids::iam_id(&mut self.rng, "ASIA");
        let role_id = ids::iam_id(&mut self.rng, "AROA");
        // A session name allows no `/` or `:`: a pipeline names its own, SAML gives the user's.
        let session = match kind {
            FederationKind::Saml => subject.to_string(),
            FederationKind::WebIdentity => format!("gha-{}", ids::hex_id(&mut self.rng, "", 8)),
        };
        let session_arn = format!("arn:aws:sts::{account_id}:assumed-role/{role}/{session}");
        let (name, identity, provider, request) = match kind {
            FederationKind::Saml => {
                let provider = format!("arn:aws:iam::{account_id}:saml-provider/Okta");
                (
                    "AssumeRoleWithSAML",
                    json!({"type": "SAMLUser", "principalId": format!("Tz8x1Sample:{subject}"), "userName": subject, "identityProvider": provider}),
                    provider.clone(),
                    json!({"roleArn": role_arn, "principalArn": provider, "durationSeconds": 3600}),
                )
            }
            FederationKind::WebIdentity => {
                let provider = "token.actions.githubusercontent.com".to_string();
                (
                    "AssumeRoleWithWebIdentity",
                    json!({"type": "WebIdentityUser", "principalId": format!("{provider}:sts.amazonaws.com:{subject}"), "userName": subject, "identityProvider": provider}),
                    provider,
                    json!({"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}),
                )
            }
        };
        // The federated subject is the origin: its own call is depth 0, its session's depth 1.
        let origin = TrueOrigin {
            kind: "federation",
            principal: Some(format!("{provider}:{subject}")),
            access_key: None,
            depth: 0,
            scenario,
        };
        let caller = Actor {
            identity,
            key: String::new(),
            account,
            origin: origin.clone(),
            ip: ids::public_ip(&mut self.rng),
            agent: "aws-cli/2.22.4 Python/3.12.6 Linux/6.8.0",
        };
        let response = json!({
            "credentials": {"accessKeyId": key, "expiration": (self.clock + Duration::hours(1)).format("%b %-d, %Y, %-I:%M:%S %p").to_string()},
            "assumedRoleUser": {"assumedRoleId": format!("{role_id}:{session}"), "arn": session_arn},
        });
        let (record, id) = self.record(&caller, "sts.amazonaws.com", name, true, request, response);
        self.push(account, record);
        self.truth.events.insert(id, origin.clone());
        self.truth.credentials.insert(key.clone(), (None, 1));
        Actor {
            identity: assumed_identity(
                &session_arn,
                &role_arn,
                &role_id,
                &session,
                &account_id,
                &key,
                &self.clock,
            ),
            key,
            account,
            origin: TrueOrigin { depth: 1, ..origin },
            ip: caller.ip,
            agent: caller.agent,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum FederationKind {
    Saml,
    WebIdentity,
}

/// The `userIdentity` of a role session.
fn assumed_identity(
    session_arn: &str,
    role_arn: &str,
    role_id: &str,
    session: &str,
    account: &str,
    key: &str,
    at: &DateTime<Utc>,
) -> Value {
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    json!({
        "type": "AssumedRole",
        "principalId": format!("{role_id}:{session}"),
        "arn": session_arn,
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account, "userName": role},
            "attributes": {"creationDate": ids::iso_seconds(*at), "mfaAuthenticated": "false"},
        },
    })
}

const CALLS: &[(&str, &str, bool)] = &[
    ("sts.amazonaws.com", "GetCallerIdentity", true),
    ("s3.amazonaws.com", "ListBuckets", true),
    ("ec2.amazonaws.com", "DescribeInstances", true),
];

/// The scripted records (all in `region`) and the truth, for `accounts` on the day starting
/// `day`.
pub fn scenarios(
    accounts: &[AccountProfile],
    region: &str,
    day: DateTime<Utc>,
    seed: u64,
) -> (Vec<Scripted>, Truth) {
    let mut s = Script {
        accounts,
        region: region.to_string(),
        rng: GenRng::seed_from_u64(ids::mix_seed(seed, 0x1D_C4A1)),
        clock: day + Duration::hours(10),
        out: Vec::new(),
        truth: Truth::default(),
    };
    // 1. A user's long-term key, used from abroad, chaining roles A -> B -> C -> A -> B.
    let user_account = s.account(0).id.clone();
    let user_key = ids::iam_id(&mut s.rng, "AKIA");
    let user_arn = format!("arn:aws:iam::{user_account}:user/ci-deployer");
    let user_id = ids::iam_id(&mut s.rng, "AIDA");
    let user = Actor {
        identity: json!({"type": "IAMUser", "principalId": user_id, "arn": user_arn, "accountId": user_account, "accessKeyId": user_key, "userName": "ci-deployer"}),
        key: user_key.clone(),
        account: 0,
        origin: TrueOrigin {
            kind: "long-term-key",
            principal: Some(user_arn.clone()),
            access_key: Some(user_key.clone()),
            depth: 0,
            scenario: "leaked-key-chain",
        },
        ip: "185.220.101.47".into(),
        agent: "aws-cli/2.22.4 Python/3.12.6 Linux/6.8.0 exe/x86_64.kali.2024",
    };
    s.act(&user, CALLS);
    let mut hop = user;
    for (i, (account, role)) in [
        (1, "OrgAccess"),
        (2, "DataReader"),
        (0, "BreakGlass"),
        (1, "OrgAdmin"),
    ]
    .iter()
    .enumerate()
    {
        hop = s.assume_role(&hop, *account, role, &format!("chain-{}", i + 1));
        s.act(&hop, CALLS);
    }
    // 2. SAML federation into the second account.
    let saml = s.federate(
        1,
        "SAML-PowerUser",
        "alice@example.com",
        FederationKind::Saml,
        "saml",
    );
    s.act(&saml, CALLS);
    // 3. A CI pipeline's OIDC token into the first account, which then assumes a deploy role.
    let web = s.federate(
        0,
        "GitHubActions",
        "repo:example/app:ref:refs/heads/main",
        FederationKind::WebIdentity,
        "web-identity",
    );
    s.act(&web, &CALLS[..1]);
    let deploy = s.assume_role(&web, 0, "Deployer", "gha-deploy");
    s.act(&deploy, CALLS);
    // 4. An IAM Identity Center user in the third account.
    let sso = s.federate(
        2,
        "aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "bob@example.com",
        FederationKind::Saml,
        "identity-center",
    );
    s.act(&sso, CALLS);
    // 5. An EC2 instance role: the credentials come from the EC2 service.
    let service = Actor {
        identity: json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}),
        key: String::new(),
        account: 0,
        origin: TrueOrigin {
            kind: "aws-service",
            principal: Some("ec2.amazonaws.com".into()),
            access_key: None,
            depth: 0,
            scenario: "ec2-instance-role",
        },
        ip: "ec2.amazonaws.com".into(),
        agent: "ec2.amazonaws.com",
    };
    let instance = ids::hex_id(&mut s.rng, "i-0", 16);
    let mut ec2 = s.assume_role(&service, 0, "web-instance-role", &instance);
    ec2.ip = ids::public_ip(&mut s.rng);
    ec2.agent = "aws-sdk-go-v2/1.30.3 os/linux";
    ec2.identity["sessionContext"]["ec2RoleDelivery"] = json!("2.0");
    s.act(&ec2, CALLS);
    // 6. A role session issued before the archive begins: its chain cannot be completed.
    let old_account = s.account(1).id.clone();
    let old_key = ids::iam_id(&mut s.rng, "ASIA");
    let old_role_id = ids::iam_id(&mut s.rng, "AROA");
    let old = Actor {
        identity: assumed_identity(
            &format!("arn:aws:sts::{old_account}:assumed-role/LegacyAutomation/nightly"),
            &format!("arn:aws:iam::{old_account}:role/LegacyAutomation"),
            &old_role_id,
            "nightly",
            &old_account,
            &old_key,
            &(day - Duration::days(2)),
        ),
        key: old_key,
        account: 1,
        origin: TrueOrigin {
            kind: "unknown",
            principal: None,
            access_key: None,
            depth: 0,
            scenario: "issued-before-the-archive",
        },
        ip: ids::public_ip(&mut s.rng),
        agent: "Boto3/1.35.0 Python/3.11.9",
    };
    s.act(&old, CALLS);
    (s.out, s.truth)
}
