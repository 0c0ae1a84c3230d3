//! The free-form parts of a record: `requestParameters`, `responseElements`,
//! `additionalEventData`, `resources` and the TLS host header, per operation.
//!
//! Users query these with `json_extract_scalar(requestparameters, '$.bucketName')` and the like,
//! so each operation gets the keys the real service logs (bucketName, roleArn, instancesSet,
//! keyId, ...), even though most values are only plausible, not consistent across events.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::catalog::{Class, Kind, Op, Principal, Session};
use super::ids::{self, GenRng};
use super::records::Ctx;
use crate::archive::layout::{ObjectKind, region_folder};

#[derive(Serialize)]
pub struct Resource {
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "ARN")]
    arn: String,
}

/// Everything operation-specific in one record.
pub struct Call {
    pub request: Value,
    pub response: Value,
    pub additional: Option<Value>,
    pub resources: Vec<Resource>,
    pub service_details: Option<Value>,
    /// `clientProvidedHostHeader`.
    pub host: String,
    /// What an AccessDenied message names as the resource.
    pub resource_for_errors: String,
    /// Overrides the caller's address (requests through a VPC endpoint come from private IPs).
    pub source_ip: Option<String>,
    pub vpc_endpoint: Option<String>,
    /// ConsoleLogin only: the sign-in failed.
    pub login_failed: bool,
}

fn choose<'s, T: AsRef<str>>(rng: &mut GenRng, items: &'s [T]) -> &'s str {
    items
        .get(rng.gen_range(0..items.len().max(1)))
        .map_or("", |s| s.as_ref())
}

fn resource(account: Option<&str>, kind: &'static str, arn: String) -> Resource {
    Resource {
        account_id: account.map(str::to_string),
        kind,
        arn,
    }
}

/// `Oct 1, 2026, 11:15:00 AM`: how STS and IAM print dates inside responseElements.
fn aws_date(t: DateTime<Utc>) -> String {
    t.format("%b %-d, %Y, %-I:%M:%S %p").to_string()
}

fn s3_extra(rng: &mut GenRng, bytes_in: u64, bytes_out: u64) -> Value {
    json!({
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": bytes_in,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": ids::opaque_token(rng, 76),
        "bytesTransferredOut": bytes_out,
    })
}

pub fn build(ctx: &Ctx<'_>, op: &Op, p: &Principal, t: DateTime<Utc>, rng: &mut GenRng) -> Call {
    let acct = ctx.account.id.as_str();
    let region = ctx.region;
    let mut call = Call {
        request: Value::Null,
        response: Value::Null,
        additional: None,
        resources: Vec::new(),
        service_details: None,
        host: format!("{}.{region}.amazonaws.com", op.service),
        resource_for_errors: "*".to_string(),
        source_ip: None,
        vpc_endpoint: None,
        login_failed: false,
    };
    match op.service {
        "ec2" => ec2(&mut call, ctx, op, rng),
        "s3" => s3(&mut call, ctx, op, p, t, rng),
        "sts" => sts(&mut call, ctx, op, p, t, rng),
        "iam" => iam(&mut call, ctx, op, t, rng),
        "kms" => {
            let key_id = choose(rng, &ctx.regional.kms_keys).to_string();
            let key_arn = format!("arn:aws:kms:{region}:{acct}:key/{key_id}");
            call.request = match op.name {
                "RotateKey" => Value::Null,
                "GenerateDataKey" if p.kind == Kind::AwsService => json!({
                    "keyId": key_arn,
                    "encryptionContext": {
                        "aws:cloudtrail:arn": ctx.account.trail_arn(),
                        "aws:s3:arn": format!(
                            "arn:aws:s3:::{}/{}",
                            ctx.bucket,
                            region_folder("", ctx.account.org_id.as_deref(), acct, ObjectKind::Log, region)
                        ),
                    },
                    "keySpec": "AES_256",
                }),
                "GenerateDataKey" => json!({"keyId": "alias/app-data", "keySpec": "AES_256"}),
                "DescribeKey" => json!({"keyId": key_arn}),
                _ => json!({"keyId": key_arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            };
            if op.name == "RotateKey" {
                call.service_details = Some(json!({"keyId": key_id}));
            }
            call.resources
                .push(resource(Some(acct), "AWS::KMS::Key", key_arn.clone()));
            call.resource_for_errors = key_arn;
        }
        "lambda" => {
            let name = choose(rng, &ctx.account.functions).to_string();
            let arn = format!("arn:aws:lambda:{region}:{acct}:function:{name}");
            match op.name {
                "Invoke" => {
                    call.request = json!({"functionName": arn});
                    call.additional = Some(json!({"functionVersion": format!("{arn}:$LATEST")}));
                    call.resources
                        .push(resource(Some(acct), "AWS::Lambda::Function", arn.clone()));
                }
                "ListFunctions20150331" => {}
                "UpdateFunctionCode20150331v2" => {
                    call.request = json!({"functionName": name, "publish": false, "dryRun": false});
                    call.response = json!({
                        "functionName": name, "functionArn": arn, "runtime": "python3.12",
                        "codeSize": rng.gen_range(2_000..9_000_000u32),
                        "lastModified": t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
                    });
                }
                _ => call.request = json!({"functionName": name}),
            }
            call.resource_for_errors = arn;
        }
        "logs" => {
            let group = format!("/aws/lambda/{}", choose(rng, &ctx.account.functions));
            call.request = match op.name {
                "CreateLogStream" => json!({
                    "logGroupName": group,
                    "logStreamName": format!("{}/[$LATEST]{}", t.format("%Y/%m/%d"), ids::hex_id(rng, "", 32)),
                }),
                "DescribeLogGroups" => json!({"logGroupNamePrefix": "/aws/lambda/"}),
                "DescribeLogStreams" => {
                    json!({"logGroupName": group, "orderBy": "LastEventTime", "descending": true, "limit": 50})
                }
                _ => json!({"logGroupName": group, "retentionInDays": 30}),
            };
        }
        "cloudtrail" => {
            let trail = ctx.account.trail_arn();
            call.request = match op.name {
                "DescribeTrails" => json!({"trailNameList": [], "includeShadowTrails": true}),
                "LookupEvents" => {
                    json!({"maxResults": 50, "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}]})
                }
                "GetTrailStatus" => json!({"name": trail}),
                _ => json!({"trailName": trail}),
            };
        }
        "secretsmanager" => {
            let arn = format!(
                "arn:aws:secretsmanager:{region}:{acct}:secret:{}-{}",
                choose(rng, &ctx.account.secrets),
                ids::opaque_token(rng, 6)
            );
            if op.name == "RotationSucceeded" {
                call.additional = Some(json!({"SecretId": arn}));
            } else {
                call.request = json!({"secretId": arn});
            }
            call.resource_for_errors = arn;
        }
        "ssm" => {
            call.request = if op.name == "GetParameters" {
                json!({"names": ctx.account.parameters[..2.min(ctx.account.parameters.len())], "withDecryption": true})
            } else {
                json!({"name": choose(rng, &ctx.account.parameters), "withDecryption": true})
            };
        }
        "signin" => {
            call.host = "signin.aws.amazon.com".to_string();
            call.login_failed = rng.gen_bool(0.05);
            let mfa = p.mfa && !call.login_failed;
            call.response =
                json!({"ConsoleLogin": if call.login_failed { "Failure" } else { "Success" }});
            call.additional = Some(json!({
                "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1",
                "MobileVersion": "No",
                "MFAUsed": if mfa { "Yes" } else { "No" },
            }));
        }
        _ => {}
    }
    call
}

fn ec2(call: &mut Call, ctx: &Ctx<'_>, op: &Op, rng: &mut GenRng) {
    let r = ctx.regional;
    let instance = choose(rng, &r.instances).to_string();
    let group = choose(rng, &r.security_groups).to_string();
    let request_id = ids::uuid_v4(rng);
    call.request = match op.name {
        "DescribeInstances" if rng.gen_bool(0.3) => {
            json!({"instancesSet": {"items": [{"instanceId": instance}]}, "filterSet": {}})
        }
        "DescribeInstances" => json!({"instancesSet": {}, "filterSet": {}}),
        "DescribeSecurityGroups" => {
            json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}})
        }
        "DescribeVolumes" if rng.gen_bool(0.3) => {
            json!({"volumeSet": {"items": [{"volumeId": choose(rng, &r.volumes)}]}, "filterSet": {}})
        }
        "DescribeVolumes" => json!({"volumeSet": {}, "filterSet": {}}),
        "DescribeSubnets" => {
            json!({"subnetSet": {}, "filterSet": {"items": [{"name": "vpc-id", "valueSet": {"items": [{"value": r.vpc}]}}]}})
        }
        "DescribeVpcs" => json!({"vpcSet": {}, "filterSet": {}}),
        "DescribeNetworkInterfaces" => json!({"networkInterfaceIdSet": {}, "filterSet": {}}),
        "DescribeRegions" => json!({"regionSet": {}}),
        "DescribeAvailabilityZones" => {
            json!({"availabilityZoneSet": {}, "availabilityZoneIdSet": {}})
        }
        "CreateTags" => json!({
            "resourcesSet": {"items": [{"resourceId": instance}]},
            "tagSet": {"items": [{"key": "Owner", "value": "platform-team"}]},
        }),
        "RunInstances" => json!({
            "instancesSet": {"items": [{"imageId": ids::hex_id(rng, "ami-0", 16), "minCount": 1, "maxCount": 1}]},
            "instanceType": "t3.micro",
            "blockDeviceMapping": {},
            "monitoring": {"enabled": false},
            "disableApiTermination": false,
            "disableApiStop": false,
            "clientToken": ids::uuid_v4(rng),
        }),
        "TerminateInstances" => json!({"instancesSet": {"items": [{"instanceId": instance}]}}),
        "AuthorizeSecurityGroupIngress" => json!({
            "groupId": group,
            "ipPermissions": {"items": [{
                "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {},
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {},
            }]},
        }),
        "DeleteSecurityGroup" => json!({"groupId": group}),
        _ => Value::Null,
    };
    call.response = match op.name {
        "CreateTags" | "DeleteSecurityGroup" | "AuthorizeSecurityGroupIngress" => {
            json!({"requestId": request_id, "_return": true})
        }
        "TerminateInstances" => json!({
            "requestId": request_id,
            "instancesSet": {"items": [{
                "instanceId": instance,
                "currentState": {"code": 32, "name": "shutting-down"},
                "previousState": {"code": 16, "name": "running"},
            }]},
        }),
        "RunInstances" => json!({
            "requestId": request_id,
            "reservationId": ids::hex_id(rng, "r-0", 16),
            "ownerId": ctx.account.id,
            "groupSet": {},
            "instancesSet": {"items": [{
                "instanceId": ids::hex_id(rng, "i-0", 16),
                "instanceType": "t3.micro",
                "instanceState": {"code": 0, "name": "pending"},
            }]},
        }),
        _ => Value::Null,
    };
}

fn s3(call: &mut Call, ctx: &Ctx<'_>, op: &Op, p: &Principal, t: DateTime<Utc>, rng: &mut GenRng) {
    let acct = ctx.account.id.as_str();
    let region = ctx.region;
    let bucket = if p.kind == Kind::AwsService {
        ctx.bucket.to_string()
    } else {
        choose(rng, &ctx.account.buckets).to_string()
    };
    let host = format!("{bucket}.s3.{region}.amazonaws.com");
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    call.host = host.clone();
    call.resource_for_errors = bucket_arn.clone();
    match op.name {
        "ListBuckets" => {
            call.host = "s3.amazonaws.com".to_string();
            call.request = json!({"Host": "s3.amazonaws.com"});
            let out = rng.gen_range(400..4000);
            call.additional = Some(s3_extra(rng, 0, out));
            call.resource_for_errors = "*".to_string();
            return;
        }
        "GetBucketAcl" => call.request = json!({"bucketName": bucket, "Host": host, "acl": ""}),
        "GetBucketLocation" => {
            call.request = json!({"bucketName": bucket, "Host": host, "location": ""})
        }
        "CreateBucket" => {
            let name = format!("scratch-{}-{acct}", ids::hex_id(rng, "", 6));
            call.request = json!({
                "bucketName": name, "Host": format!("{name}.s3.{region}.amazonaws.com"),
                "CreateBucketConfiguration": {"LocationConstraint": region, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
            });
            call.resources.push(resource(
                Some(acct),
                "AWS::S3::Bucket",
                format!("arn:aws:s3:::{name}"),
            ));
            call.additional = Some(s3_extra(rng, 0, 0));
            return;
        }
        "DeleteBucket" => call.request = json!({"bucketName": bucket, "Host": host}),
        _ => {
            let key = match rng.gen_range(0..3) {
                0 => format!(
                    "uploads/{}/{}.json",
                    t.format("%Y/%m/%d"),
                    ids::hex_id(rng, "", 12)
                ),
                1 => format!("reports/daily-{}.csv", t.format("%Y-%m-%d")),
                _ => format!("images/{}.jpg", ids::hex_id(rng, "", 16)),
            };
            call.request = json!({"bucketName": bucket, "Host": host, "key": key});
            let size = rng.gen_range(200..5_000_000u64);
            let (bytes_in, bytes_out) = if op.name == "PutObject" {
                (size, 0)
            } else {
                (0, size)
            };
            if op.name == "PutObject" {
                call.response = json!({"x-amz-server-side-encryption": "AES256"});
            }
            call.additional = Some(s3_extra(rng, bytes_in, bytes_out));
            call.resources.push(resource(
                None,
                "AWS::S3::Object",
                format!("{bucket_arn}/{key}"),
            ));
            call.resource_for_errors = format!("{bucket_arn}/{key}");
            if p.class == Class::App && rng.gen_bool(0.5) {
                call.vpc_endpoint = Some(format!(
                    "vpce-0{}",
                    ctx.regional.vpc.trim_start_matches("vpc-0")
                ));
                call.source_ip = Some(format!(
                    "10.0.{}.{}",
                    rng.gen_range(0..=255u8),
                    rng.gen_range(1..=254u8)
                ));
            }
        }
    }
    if op.name != "GetObject" && op.name != "PutObject" {
        let out = rng.gen_range(0..2000);
        call.additional = Some(s3_extra(rng, 0, out));
    }
    call.resources
        .push(resource(Some(acct), "AWS::S3::Bucket", bucket_arn));
}

fn sts(call: &mut Call, ctx: &Ctx<'_>, op: &Op, p: &Principal, t: DateTime<Utc>, rng: &mut GenRng) {
    let acct = ctx.account.id.as_str();
    if ctx.region == "us-east-1" && rng.gen_bool(0.5) {
        call.host = "sts.amazonaws.com".to_string();
    }
    if op.name != "AssumeRole" {
        return;
    }
    let roles: Vec<&Principal> = ctx
        .account
        .principals
        .iter()
        .filter(|r| r.kind == Kind::AssumedRole)
        .collect();
    // Services assume their own workload roles; people and automation their usual roles.
    let wanted = match (p.name.as_str(), p.class) {
        ("lambda.amazonaws.com", _) => Some("lambda-etl-role"),
        ("ec2.amazonaws.com", _) => Some("app-server-role"),
        ("config.amazonaws.com", _) => Some("SecurityAudit"),
        (_, Class::Human) => Some("Admin"),
        (_, Class::Automation) => Some("DeployRole"),
        _ => None,
    };
    let Some(role) = roles
        .iter()
        .find(|r| Some(r.name.as_str()) == wanted)
        .or_else(|| roles.first())
    else {
        return;
    };
    let session = match &role.session {
        Session::Instance(i) => i.clone(),
        Session::Named(n) if role.class == Class::Automation => {
            format!("{n}-{}", rng.gen_range(1000..99999))
        }
        Session::Named(n) => n.clone(),
        Session::None => p.name.clone(),
    };
    call.request =
        json!({"roleArn": role.arn, "roleSessionName": session, "durationSeconds": 3600});
    call.response = json!({
        "credentials": {
            "accessKeyId": ids::iam_id(rng, "ASIA"),
            "sessionToken": ids::opaque_token(rng, 96),
            "expiration": aws_date(t + chrono::Duration::hours(1)),
        },
        "assumedRoleUser": {
            "assumedRoleId": format!("{}:{session}", role.unique_id),
            "arn": format!("arn:aws:sts::{acct}:assumed-role/{}/{session}", role.name),
        },
    });
    call.resources
        .push(resource(Some(acct), "AWS::IAM::Role", role.arn.clone()));
    call.resource_for_errors = role.arn.clone();
}

fn iam(call: &mut Call, ctx: &Ctx<'_>, op: &Op, t: DateTime<Utc>, rng: &mut GenRng) {
    let acct = ctx.account.id.as_str();
    call.host = "iam.amazonaws.com".to_string();
    let names = |kind: Kind| -> Vec<&str> {
        ctx.account
            .principals
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.name.as_str())
            .collect()
    };
    let role = choose(rng, &names(Kind::AssumedRole)).to_string();
    let user = choose(rng, &names(Kind::IamUser)).to_string();
    let policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    call.request = match op.name {
        "GetRole" | "ListAttachedRolePolicies" => json!({"roleName": role}),
        "GetPolicy" => json!({"policyArn": policy}),
        "GetPolicyVersion" => json!({"policyArn": policy, "versionId": "v1"}),
        "GetUser" | "ListAccessKeys" | "CreateAccessKey" => json!({"userName": user}),
        "AttachRolePolicy" => {
            json!({"roleName": role, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
        }
        "CreateUser" => {
            let name = format!("temp-{}", ids::hex_id(rng, "", 6));
            call.response = json!({"user": {
                "path": "/", "userName": name, "userId": ids::iam_id(rng, "AIDA"),
                "arn": format!("arn:aws:iam::{acct}:user/{name}"), "createDate": aws_date(t),
            }});
            json!({"userName": name})
        }
        _ => Value::Null,
    };
    if op.name == "CreateAccessKey" {
        call.response = json!({"accessKey": {
            "userName": user, "accessKeyId": ids::iam_id(rng, "AKIA"),
            "status": "Active", "createDate": aws_date(t),
        }});
    }
    call.resource_for_errors = match op.name {
        "GetRole" | "ListAttachedRolePolicies" | "AttachRolePolicy" => {
            format!("arn:aws:iam::{acct}:role/{role}")
        }
        "GetUser" | "ListAccessKeys" | "CreateAccessKey" => {
            format!("arn:aws:iam::{acct}:user/{user}")
        }
        _ => "*".to_string(),
    };
}
