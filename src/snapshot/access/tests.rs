use super::*;

fn snap(calls: Value) -> Snapshot {
    let doc = json!({"format": super::super::FORMAT, "account_id": "111122223333",
        "calls": calls});
    Snapshot::parse(&doc.to_string(), "t.json").unwrap()
}

fn rows<'a>(tables: &'a [FactTable], name: &str) -> &'a [serde_json::Map<String, Value>] {
    &tables.iter().find(|t| t.name == name).unwrap().rows
}

#[test]
fn who_may_stop_logging_and_read_logs() {
    let details = json!({
        "UserDetailList": [
            {"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice", "Path": "/",
             "GroupList": ["admins"], "UserPolicyList": [], "AttachedManagedPolicies": []},
            {"UserName": "bob", "Arn": "arn:aws:iam::111122223333:user/bob", "Path": "/",
             "UserPolicyList": [{"PolicyName": "ct", "PolicyDocument":
                {"Statement": [{"Effect": "Allow", "Action": "cloudtrail:Stop*", "Resource": "*"},
                               {"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*"}]}}],
             "GroupList": [], "AttachedManagedPolicies": []}],
        "GroupDetailList": [{"GroupName": "admins", "GroupPolicyList": [],
            "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess",
                "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}],
        "RoleDetailList": [{"RoleName": "auditor", "Arn": "arn:aws:iam::111122223333:role/auditor",
            "Path": "/", "RolePolicyList": [{"PolicyName": "read", "PolicyDocument":
                {"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::logs/*"}}}],
            "AttachedManagedPolicies": [{"PolicyName": "Custom",
                "PolicyArn": "arn:aws:iam::111122223333:policy/Custom"}]}],
        "Policies": []});
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]});
    let s = snap(json!([
        {"service": "iam", "operation": "GetAccountAuthorizationDetails", "response": details},
        {"service": "s3", "operation": "GetBucketPolicy", "params": {"Bucket": "logs"},
         "response": {"Policy": policy.to_string()}},
        {"service": "iam", "operation": "GetRole", "params": {"RoleName": "gone"},
         "error": {"code": "NoSuchEntity"}},
        {"service": "organizations", "operation": "DescribeOrganization",
         "error": {"code": "AWSOrganizationsNotInUseException"}},
    ]));
    let tables = fact_tables_of(&s);
    let perms = rows(&tables, "iam_permissions");
    let stoppers: Vec<&str> = perms
        .iter()
        .filter(|r| r["action"] == json!("cloudtrail:StopLogging"))
        .map(|r| r["principal_arn"].as_str().unwrap())
        .collect();
    assert_eq!(stoppers, vec!["arn:aws:iam::111122223333:user/alice"]);
    let principals = rows(&tables, "iam_principals");
    assert_eq!(
        principals[2]["unresolved_policies"],
        json!(["arn:aws:iam::111122223333:policy/Custom"])
    );
    let readers: Vec<(&str, &str)> = rows(&tables, "log_readers")
        .iter()
        .map(|r| {
            (
                r["principal"].as_str().unwrap(),
                r["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(readers.contains(&("*", "bucket_policy")));
    assert!(readers.contains(&("arn:aws:iam::111122223333:role/auditor", "iam")));
    assert!(readers.contains(&("arn:aws:iam::111122223333:user/alice", "iam")));
    assert_eq!(rows(&tables, "iam_roles")[0]["exists"], json!(false));
    assert_eq!(rows(&tables, "organization")[0]["is_member"], json!(false));
}

#[test]
fn scp_denials_blanket_or_scoped_and_account_grants_open_the_iam_half() {
    let scp = |id: &str, statement: Value| {
        json!({"service": "organizations", "operation": "DescribePolicy",
               "params": {"PolicyId": id},
               "response": {"Policy": {"Content": json!({"Statement": [statement]}).to_string()}}})
    };
    let details = json!({"UserDetailList": [{"UserName": "reader",
        "Arn": "arn:aws:iam::111122223333:user/reader", "Path": "/", "GroupList": [],
        "UserPolicyList": [{"PolicyName": "r", "PolicyDocument": {"Statement": [{"Effect": "Allow",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::central-logs/*"}]}}],
        "AttachedManagedPolicies": []}], "GroupDetailList": [], "RoleDetailList": [], "Policies": []});
    let policy = json!({"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::central-logs/*"}]});
    let s = snap(json!([
        {"service": "organizations", "operation": "ListPoliciesForTarget",
         "params": {"TargetId": "111122223333"},
         "response": {"Policies": [{"Id": "p-all", "Name": "all"}, {"Id": "p-one", "Name": "one"},
                                   {"Id": "p-cond", "Name": "cond"}]}},
        scp("p-all", json!({"Effect": "Deny", "Action": "cloudtrail:StopLogging",
                            "Resource": "arn:aws:cloudtrail:*:*:trail/*"})),
        scp("p-one", json!({"Effect": "Deny", "Action": "cloudtrail:Stop*",
                            "Resource": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org"})),
        scp("p-cond", json!({"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*",
                             "Condition": {"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}}})),
        {"service": "iam", "operation": "GetAccountAuthorizationDetails", "response": details},
        {"service": "s3", "operation": "ListBuckets", "response": {"Buckets": []}},
        {"service": "s3", "operation": "GetBucketPolicy", "params": {"Bucket": "central-logs"},
         "response": {"Policy": policy.to_string()}},
    ]));
    let tables = fact_tables_of(&s);
    let stop: Vec<(&str, bool, bool)> = rows(&tables, "scps")
        .iter()
        .filter(|r| r["denied_action"] == json!("cloudtrail:StopLogging"))
        .map(|r| {
            (
                r["policy_id"].as_str().unwrap(),
                r["blanket"].as_bool().unwrap(),
                r["conditional"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stop,
        vec![
            ("p-all", true, false),
            ("p-one", false, false),
            ("p-cond", false, true)
        ]
    );
    let readers: Vec<&str> = rows(&tables, "log_readers")
        .iter()
        .map(|r| r["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        readers,
        vec![
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/reader"
        ]
    );
}

#[test]
fn log_objects_follow_the_trail_prefix_and_organization_layout() {
    let trail = json!({"Name": "org", "S3BucketName": "central-logs", "S3KeyPrefix": "ct",
        "IsOrganizationTrail": true,
        "TrailARN": "arn:aws:cloudtrail:us-east-1:444455556666:trail/org"});
    // Grants only the organization layout under the prefix: still a log reader.
    let policy = json!({"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999988887777:role/siem"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::central-logs/ct/AWSLogs/o-abc/*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:role/other"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::central-logs/AWSLogs/*"}]});
    let s = snap(json!([
        {"service": "cloudtrail", "operation": "DescribeTrails", "response": {"trailList": [trail]}},
        {"service": "organizations", "operation": "DescribeOrganization",
         "response": {"Organization": {"Id": "o-abc", "MasterAccountId": "444455556666"}}},
        {"service": "s3", "operation": "GetBucketPolicy", "params": {"Bucket": "central-logs"},
         "response": {"Policy": policy.to_string()}},
    ]));
    assert_eq!(
        log_objects(&s, "central-logs"),
        vec![
            "arn:aws:s3:::central-logs/ct/AWSLogs/111122223333/CloudTrail/x",
            "arn:aws:s3:::central-logs/ct/AWSLogs/o-abc/111122223333/CloudTrail/x"
        ]
    );
    let tables = fact_tables_of(&s);
    let readers: Vec<&str> = rows(&tables, "log_readers")
        .iter()
        .map(|r| r["principal"].as_str().unwrap())
        .collect();
    assert_eq!(readers, vec!["arn:aws:iam::999988887777:role/siem"]);
}

fn fact_tables_of(s: &Snapshot) -> Vec<FactTable> {
    tables(std::slice::from_ref(s))
}
