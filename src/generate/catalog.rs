//! Who does what in a synthetic account: the principals, the resources they touch, and the API
//! operations with weights that look like a real account's trail.
//!
//! Real trails are dominated by read-only polling (EC2 `Describe*`, KMS `Decrypt`, S3 object reads
//! by applications), with rare writes and rarer deletions, a few console sign-ins, and AWS
//! services acting on the account's behalf. Queries and detections written against real data
//! (e.g. "who deleted a bucket", "console logins without MFA") should find a handful of hits here,
//! not thousands and not none.

use rand::Rng;

use super::ids::{self, GenRng};

/// Which organisational job a principal does; operations say which jobs call them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// People: console and CLI, business hours, occasional mistakes (AccessDenied).
    Human,
    /// CI/CD, backup and audit automation with long-lived keys or deploy roles.
    Automation,
    /// Workloads: EC2 instance roles and Lambda execution roles.
    App,
    /// AWS services acting for the account (`type: AWSService`, `invokedBy`).
    Service,
    /// The account root user: rare, console only.
    Root,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    IamUser,
    AssumedRole,
    AwsService,
    Root,
}

/// How sessions of an assumed role are named (it shows in the ARN and `principalId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Not a role.
    None,
    /// A fixed session name (a person's name, a CI job prefix).
    Named(String),
    /// EC2 instance role: the session is the instance id, credentials carry `ec2RoleDelivery`.
    Instance(String),
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub class: Class,
    pub kind: Kind,
    /// User name, role name, service principal (`lambda.amazonaws.com`) or `root`.
    pub name: String,
    /// `AIDA...` for users, `AROA...` for roles, the account id for root.
    pub unique_id: String,
    /// The user, role or root ARN (for roles: the role, not the session).
    pub arn: String,
    /// Long-lived `AKIA...` key (users doing CLI/SDK work).
    pub access_key: Option<String>,
    pub ips: Vec<String>,
    pub agents: &'static [&'static str],
    /// Signs in to the console (humans and root), and then works with console sessions.
    pub console: bool,
    pub mfa: bool,
    pub session: Session,
    /// Relative activity within its class.
    pub weight: u32,
    /// Service principals: the operations they perform (`eventName`s).
    pub service_ops: &'static [&'static str],
}

/// Everything that identifies one synthetic account and what lives in it.
#[derive(Debug, Clone)]
pub struct AccountProfile {
    pub id: String,
    /// Set for the organization member whose logs come through an organization trail.
    pub org_id: Option<String>,
    pub trail_name: String,
    /// The account that owns the trail (the organization's management account for org trails).
    pub trail_owner: String,
    pub home_region: String,
    pub principals: Vec<Principal>,
    /// Index into `principals` of the administrator who stops and restarts logging.
    pub admin: usize,
    pub buckets: Vec<String>,
    pub functions: Vec<&'static str>,
    pub secrets: Vec<&'static str>,
    pub parameters: Vec<&'static str>,
}

impl AccountProfile {
    pub fn trail_arn(&self) -> String {
        format!(
            "arn:aws:cloudtrail:{}:{}:trail/{}",
            self.home_region, self.trail_owner, self.trail_name
        )
    }
}

/// Per (account, region) resources: instances and keys are regional in AWS.
#[derive(Debug, Clone)]
pub struct RegionalResources {
    pub instances: Vec<String>,
    pub security_groups: Vec<String>,
    pub volumes: Vec<String>,
    pub vpc: String,
    pub kms_keys: Vec<String>,
}

impl RegionalResources {
    pub fn new(rng: &mut GenRng) -> Self {
        RegionalResources {
            instances: (0..6).map(|_| ids::hex_id(rng, "i-0", 16)).collect(),
            security_groups: (0..5).map(|_| ids::hex_id(rng, "sg-0", 16)).collect(),
            volumes: (0..6).map(|_| ids::hex_id(rng, "vol-0", 16)).collect(),
            vpc: ids::hex_id(rng, "vpc-0", 16),
            kms_keys: (0..3).map(|_| ids::uuid_v4(rng)).collect(),
        }
    }
}

const CLI_AGENTS: &[&str] = &[
    "aws-cli/2.17.43 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#ec2.describe-instances",
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/s3.ls",
    "Boto3/1.35.24 md/Botocore#1.35.24 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.5 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.24",
];
const CONSOLE_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "AWS Internal",
];
const AUTOMATION_AGENTS: &[&str] = &[
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.67.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.5 ua/2.1 os/linux lang/go#1.22.6 md/GOOS#linux md/GOARCH#amd64",
    "aws-sdk-go-v2/1.30.5 ua/2.1 os/linux lang/go#1.22.6 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.7",
    "Boto3/1.35.24 md/Botocore#1.35.24 ua/2.0 os/linux#5.10.224-212.876.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.24",
];
const APP_AGENTS: &[&str] = &[
    "aws-sdk-java/2.27.21 Linux/5.10.225-213.878.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.224-234.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.5 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145",
];
const NO_AGENT: &[&str] = &[];

/// Builds the account's principals and resources from an account-level generator, so every
/// region of the account (generated in parallel) sees the same users, keys and IPs.
pub fn account_profile(
    id: String,
    org_id: Option<String>,
    org_management: Option<&str>,
    home_region: &str,
    rng: &mut GenRng,
) -> AccountProfile {
    let (trail_name, trail_owner) = match org_management {
        Some(mgmt) => ("org-trail".to_string(), mgmt.to_string()),
        None => ("management-events".to_string(), id.clone()),
    };
    let mut principals = Vec::new();
    let user = |rng: &mut GenRng,
                class: Class,
                name: &str,
                agents: &'static [&'static str],
                console: bool,
                mfa: bool,
                weight: u32| {
        Principal {
            class,
            kind: Kind::IamUser,
            name: name.to_string(),
            unique_id: ids::iam_id(rng, "AIDA"),
            arn: format!("arn:aws:iam::{id}:user/{name}"),
            access_key: Some(ids::iam_id(rng, "AKIA")),
            ips: (0..2).map(|_| ids::public_ip(rng)).collect(),
            agents,
            console,
            mfa,
            session: Session::None,
            weight,
            service_ops: &[],
        }
    };
    principals.push(user(rng, Class::Human, "alice", CLI_AGENTS, true, true, 5));
    principals.push(user(rng, Class::Human, "bob", CLI_AGENTS, true, false, 3));
    principals.push(user(
        rng,
        Class::Automation,
        "ci-deploy",
        AUTOMATION_AGENTS,
        false,
        false,
        4,
    ));
    principals.push(user(
        rng,
        Class::Automation,
        "backup-agent",
        AUTOMATION_AGENTS,
        false,
        false,
        2,
    ));
    // The administrator of stop/start episodes: one fixed address, so an analyst can pivot on it.
    let mut admin_user = user(rng, Class::Human, "ops-admin", CLI_AGENTS, true, true, 1);
    admin_user.ips.truncate(1);
    let admin = principals.len();
    principals.push(admin_user);

    let role = |rng: &mut GenRng,
                class: Class,
                name: &str,
                session: Session,
                agents: &'static [&'static str],
                mfa: bool,
                weight: u32| {
        Principal {
            class,
            kind: Kind::AssumedRole,
            name: name.to_string(),
            unique_id: ids::iam_id(rng, "AROA"),
            arn: format!("arn:aws:iam::{id}:role/{name}"),
            access_key: None,
            ips: (0..2).map(|_| ids::public_ip(rng)).collect(),
            agents,
            console: false,
            mfa,
            session,
            weight,
            service_ops: &[],
        }
    };
    principals.push(role(
        rng,
        Class::Human,
        "Admin",
        Session::Named("alice".into()),
        CONSOLE_AGENTS,
        true,
        4,
    ));
    principals.push(role(
        rng,
        Class::Automation,
        "DeployRole",
        Session::Named("gitlab-ci".into()),
        AUTOMATION_AGENTS,
        false,
        3,
    ));
    principals.push(role(
        rng,
        Class::Automation,
        "SecurityAudit",
        Session::Named("prowler".into()),
        AUTOMATION_AGENTS,
        false,
        2,
    ));
    let instance = ids::hex_id(rng, "i-0", 16);
    principals.push(role(
        rng,
        Class::App,
        "app-server-role",
        Session::Instance(instance),
        APP_AGENTS,
        false,
        6,
    ));
    principals.push(role(
        rng,
        Class::App,
        "lambda-etl-role",
        Session::Named("etl-nightly".into()),
        APP_AGENTS,
        false,
        4,
    ));

    let service = |name: &str, ops: &'static [&'static str], weight: u32| Principal {
        class: Class::Service,
        kind: Kind::AwsService,
        name: name.to_string(),
        unique_id: String::new(),
        arn: String::new(),
        access_key: None,
        ips: vec![name.to_string()],
        agents: NO_AGENT,
        console: false,
        mfa: false,
        session: Session::None,
        weight,
        service_ops: ops,
    };
    principals.push(service("lambda.amazonaws.com", &["AssumeRole"], 3));
    principals.push(service("ec2.amazonaws.com", &["AssumeRole"], 1));
    principals.push(service(
        "cloudtrail.amazonaws.com",
        &["GetBucketAcl", "GenerateDataKey"],
        3,
    ));
    principals.push(service(
        "config.amazonaws.com",
        &["GetBucketAcl", "AssumeRole"],
        1,
    ));
    principals.push(service("kms.amazonaws.com", &["RotateKey"], 1));
    principals.push(service(
        "secretsmanager.amazonaws.com",
        &["RotationSucceeded"],
        1,
    ));
    principals.push(Principal {
        class: Class::Root,
        kind: Kind::Root,
        name: "root".into(),
        unique_id: id.clone(),
        arn: format!("arn:aws:iam::{id}:root"),
        access_key: None,
        ips: vec![ids::public_ip(rng)],
        agents: CONSOLE_AGENTS,
        console: true,
        mfa: true,
        session: Session::None,
        weight: 1,
        service_ops: &[],
    });

    let tag = ids::hex_id(rng, "", 6);
    AccountProfile {
        buckets: vec![
            format!("app-data-{id}"),
            format!("backups-{tag}-{id}"),
            format!("static-assets-{tag}"),
            format!("terraform-state-{id}"),
        ],
        functions: vec![
            "etl-nightly",
            "thumbnailer",
            "api-handler",
            "slack-notifier",
        ],
        secrets: vec![
            "prod/db/password",
            "prod/api/payments-key",
            "staging/db/password",
        ],
        parameters: vec![
            "/app/prod/db-host",
            "/app/prod/feature-flags",
            "/app/staging/db-host",
        ],
        id,
        org_id,
        trail_name,
        trail_owner,
        home_region: home_region.to_string(),
        principals,
        admin,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Logged in the region the call was made in.
    Regional,
    /// Global service (IAM, console sign-in): always logged in us-east-1.
    Global,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The variants are CloudTrail's own `eventType` values, prefix included.
#[allow(clippy::enum_variant_names)]
pub enum EventType {
    AwsApiCall,
    AwsConsoleSignIn,
    AwsServiceEvent,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AwsApiCall => "AwsApiCall",
            EventType::AwsConsoleSignIn => "AwsConsoleSignIn",
            EventType::AwsServiceEvent => "AwsServiceEvent",
        }
    }
}

/// One API operation as CloudTrail records it.
#[derive(Debug)]
pub struct Op {
    /// Service prefix: `ec2` → `ec2.amazonaws.com`, IAM actions `ec2:...`.
    pub service: &'static str,
    pub name: &'static str,
    /// Relative frequency.
    pub weight: u32,
    pub read_only: bool,
    /// Data event (`eventCategory: Data`, `managementEvent: false`).
    pub data: bool,
    pub scope: Scope,
    pub event_type: EventType,
    /// Weights of the principal classes that call it: human, automation, app, service, root.
    pub who: [u32; 5],
}

const fn op(
    service: &'static str,
    name: &'static str,
    weight: u32,
    read_only: bool,
    who: [u32; 5],
) -> Op {
    Op {
        service,
        name,
        weight,
        read_only,
        data: false,
        scope: Scope::Regional,
        event_type: EventType::AwsApiCall,
        who,
    }
}

const fn global(o: Op) -> Op {
    Op {
        scope: Scope::Global,
        ..o
    }
}

const fn data(o: Op) -> Op {
    Op { data: true, ..o }
}

const fn service_event(o: Op) -> Op {
    Op {
        event_type: EventType::AwsServiceEvent,
        ..o
    }
}

// Who-weights: [human, automation, app, service, root].
const ANY: [u32; 5] = [30, 35, 35, 0, 0];
const PEOPLE: [u32; 5] = [70, 30, 0, 0, 0];
const ADMINS: [u32; 5] = [60, 40, 0, 0, 0];
const APPS: [u32; 5] = [5, 10, 85, 0, 0];

/// The operation mix (relative weights; they sum to about 6,300).
pub static OPS: &[Op] = &[
    op("ec2", "DescribeInstances", 700, true, ANY),
    op("ec2", "DescribeSecurityGroups", 250, true, ANY),
    op("ec2", "DescribeVolumes", 180, true, ANY),
    op("ec2", "DescribeSubnets", 120, true, ANY),
    op("ec2", "DescribeVpcs", 120, true, ANY),
    op("ec2", "DescribeNetworkInterfaces", 100, true, ANY),
    op("ec2", "DescribeRegions", 60, true, ANY),
    op("ec2", "DescribeAvailabilityZones", 60, true, ANY),
    op("ec2", "CreateTags", 30, false, ADMINS),
    op("ec2", "RunInstances", 10, false, ADMINS),
    op("ec2", "TerminateInstances", 5, false, ADMINS),
    op("ec2", "AuthorizeSecurityGroupIngress", 5, false, ADMINS),
    op("ec2", "DeleteSecurityGroup", 3, false, ADMINS),
    op("s3", "ListBuckets", 150, true, [40, 40, 20, 0, 1]),
    op("s3", "GetBucketAcl", 180, true, [10, 20, 0, 70, 0]),
    op("s3", "GetBucketLocation", 100, true, ANY),
    op("s3", "CreateBucket", 3, false, ADMINS),
    op("s3", "DeleteBucket", 2, false, ADMINS),
    data(op("s3", "GetObject", 700, true, APPS)),
    data(op("s3", "PutObject", 500, false, APPS)),
    op("sts", "AssumeRole", 400, true, [15, 25, 0, 60, 0]),
    op("sts", "GetCallerIdentity", 200, true, ANY),
    op("kms", "Decrypt", 550, true, [5, 10, 85, 0, 0]),
    op("kms", "GenerateDataKey", 350, true, [5, 10, 55, 30, 0]),
    op("kms", "Encrypt", 60, true, APPS),
    op("kms", "DescribeKey", 60, true, ANY),
    service_event(op("kms", "RotateKey", 1, false, [0, 0, 0, 1, 0])),
    data(op("lambda", "Invoke", 300, false, [5, 15, 80, 0, 0])),
    op("lambda", "ListFunctions20150331", 60, true, ANY),
    op("lambda", "GetFunction20150331v2", 30, true, ANY),
    op("lambda", "UpdateFunctionCode20150331v2", 3, false, ADMINS),
    op("logs", "CreateLogStream", 200, false, APPS),
    op("logs", "DescribeLogGroups", 80, true, ANY),
    op("logs", "DescribeLogStreams", 60, true, ANY),
    op("logs", "PutRetentionPolicy", 2, false, ADMINS),
    op("cloudtrail", "DescribeTrails", 30, true, PEOPLE),
    op("cloudtrail", "LookupEvents", 40, true, PEOPLE),
    op("cloudtrail", "GetTrailStatus", 25, true, PEOPLE),
    op("cloudtrail", "GetEventSelectors", 15, true, PEOPLE),
    op("secretsmanager", "GetSecretValue", 80, true, APPS),
    service_event(op(
        "secretsmanager",
        "RotationSucceeded",
        1,
        false,
        [0, 0, 0, 1, 0],
    )),
    op("ssm", "GetParameter", 120, true, APPS),
    op("ssm", "GetParameters", 40, true, APPS),
    global(op("iam", "ListUsers", 40, true, PEOPLE)),
    global(op("iam", "ListRoles", 60, true, ANY)),
    global(op("iam", "GetRole", 60, true, ANY)),
    global(op("iam", "GetPolicy", 30, true, ANY)),
    global(op("iam", "GetPolicyVersion", 25, true, ANY)),
    global(op("iam", "ListAttachedRolePolicies", 40, true, ANY)),
    global(op("iam", "GetUser", 25, true, PEOPLE)),
    global(op("iam", "ListAccessKeys", 20, true, PEOPLE)),
    global(op("iam", "GetAccountSummary", 5, true, [50, 0, 0, 0, 5])),
    global(op("iam", "CreateUser", 1, false, ADMINS)),
    global(op("iam", "AttachRolePolicy", 2, false, ADMINS)),
    global(op("iam", "CreateAccessKey", 1, false, ADMINS)),
    Op {
        event_type: EventType::AwsConsoleSignIn,
        ..global(op("signin", "ConsoleLogin", 40, false, [95, 0, 0, 0, 3]))
    },
];

/// Picks an operation that can be logged in `region` (global services only in us-east-1).
pub fn pick_op(rng: &mut GenRng, global_here: bool, total_weight: u32) -> &'static Op {
    loop {
        let mut x = rng.gen_range(0..total_weight);
        for o in OPS {
            if x < o.weight {
                if global_here || o.scope == Scope::Regional {
                    return o;
                }
                break;
            }
            x -= o.weight;
        }
    }
}

pub fn total_op_weight() -> u32 {
    OPS.iter().map(|o| o.weight).sum()
}

/// Picks who calls `op`: a class by the operation's weights, then a principal of that class
/// (service principals only for the operations they perform).
pub fn pick_principal<'a>(rng: &mut GenRng, account: &'a AccountProfile, op: &Op) -> &'a Principal {
    const CLASSES: [Class; 5] = [
        Class::Human,
        Class::Automation,
        Class::App,
        Class::Service,
        Class::Root,
    ];
    let eligible = |p: &Principal, class: Class| {
        p.class == class
            && (class != Class::Service || p.service_ops.contains(&op.name))
            && (op.name != "ConsoleLogin" || p.console)
    };
    let weights: Vec<u32> = CLASSES
        .iter()
        .zip(op.who)
        .map(|(&c, w)| {
            if account.principals.iter().any(|p| eligible(p, c)) {
                w
            } else {
                0
            }
        })
        .collect();
    let total: u32 = weights.iter().sum();
    let class = if total == 0 {
        Class::Human
    } else {
        let mut x = rng.gen_range(0..total);
        let mut chosen = Class::Human;
        for (c, w) in CLASSES.iter().zip(&weights) {
            if x < *w {
                chosen = *c;
                break;
            }
            x -= w;
        }
        chosen
    };
    let candidates: Vec<&Principal> = account
        .principals
        .iter()
        .filter(|p| eligible(p, class) || (total == 0 && p.class == Class::Human))
        .collect();
    let total: u32 = candidates.iter().map(|p| p.weight).sum();
    let mut x = rng.gen_range(0..total.max(1));
    for p in &candidates {
        if x < p.weight {
            return p;
        }
        x -= p.weight;
    }
    &account.principals[0]
}

/// A browser (or the console's own `AWS Internal`) user agent, for console sessions.
pub fn console_agent(rng: &mut GenRng) -> &'static str {
    CONSOLE_AGENTS[rng.gen_range(0..CONSOLE_AGENTS.len())]
}
