use super::*;

fn snap(calls: Value) -> Snapshot {
    let doc = json!({"format": super::super::FORMAT, "account_id": "111122223333", "calls": calls});
    Snapshot::parse(&doc.to_string(), "t.json").unwrap()
}

fn table<'a>(tables: &'a [FactTable], name: &str) -> &'a FactTable {
    tables.iter().find(|t| t.name == name).unwrap()
}

#[test]
fn absent_is_a_fact_and_not_captured_is_null() {
    let s = snap(json!([
        {"service":"s3","operation":"GetBucketPolicy","params":{"Bucket":"a"},
         "error":{"code":"NoSuchBucketPolicy","message":"none"}},
        {"service":"s3","operation":"GetBucketVersioning","params":{"Bucket":"a"},"response":{}},
        {"service":"s3","operation":"HeadBucket","params":{"Bucket":"b"},"error":{"code":"404"}},
        {"service":"s3","operation":"GetBucketLogging","params":{"Bucket":"c"},
         "error":{"code":"AccessDenied","message":"no"}},
    ]));
    let tables = fact_tables(&[s]);
    let b = &table(&tables, "buckets").rows;
    assert_eq!(b[0]["has_policy"], json!(false));
    assert_eq!(b[0]["versioning_status"], json!("Disabled"));
    assert!(b[0].get("object_lock_enabled").is_none());
    assert_eq!(b[1]["head_status"], json!("missing"));
    assert!(b[2].get("logging_enabled").is_none());
    assert_eq!(b[2]["errors"][0]["code"], json!("AccessDenied"));
}

#[test]
fn selector_scope_is_derived() {
    let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main";
    let s = snap(json!([
        {"service":"cloudtrail","operation":"GetEventSelectors","region":"us-east-1",
         "params":{"TrailName":"main"},
         "response":{"TrailARN":arn,"EventSelectors":[
            {"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[
                {"Type":"AWS::S3::Object","Values":["arn:aws:s3","arn:aws:s3:::b/"]},
                {"Type":"AWS::Lambda::Function","Values":["arn:aws:lambda"]}],
             "ExcludeManagementEventSources":["kms.amazonaws.com"]}]}},
        {"service":"cloudtrail","operation":"GetEventSelectors","region":"us-east-1",
         "params":{"TrailName":"other"},
         "response":{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/other",
          "AdvancedEventSelectors":[
            {"Name":"all","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                {"Field":"resources.type","Equals":["AWS::S3::Object"]}]},
            {"Name":"one","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                {"Field":"resources.type","Equals":["AWS::S3::Object"]},
                {"Field":"readOnly","Equals":["true"]},
                {"Field":"resources.ARN","StartsWith":["arn:aws:s3:::secret/"]}]},
            {"Name":"some","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                {"Field":"resources.type","Equals":["AWS::S3::Object"]},
                {"Field":"eventName","Equals":["GetObject"]}]}]}},
    ]));
    let tables = fact_tables(&[s]);
    let rows = &table(&tables, "event_selectors").rows;
    assert_eq!(
        rows[0]["data_resource_types"],
        json!(["AWS::S3::Object", "AWS::Lambda::Function"])
    );
    assert_eq!(
        rows[0]["s3_object_prefixes"],
        json!(["arn:aws:s3:::", "arn:aws:s3:::b/"])
    );
    assert_eq!(
        rows[0]["narrowed_by"],
        json!(["ExcludeManagementEventSources"])
    );
    assert_eq!(rows[1]["s3_object_prefixes"], json!(["arn:aws:s3:::"]));
    assert_eq!(rows[1]["data_resource_types"], json!(["AWS::S3::Object"]));
    assert_eq!(
        rows[2]["s3_object_prefixes"],
        json!(["arn:aws:s3:::secret/"])
    );
    assert_eq!(rows[2]["read_write_type"], json!("ReadOnly"));
    assert_eq!(rows[3]["s3_object_prefixes"], json!([]));
    assert_eq!(rows[3]["narrowed_by"], json!(["eventName Equals"]));
}

#[test]
fn shadow_trails_once_and_status_by_name() {
    let trail = json!({"Name":"main","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
        "IsMultiRegionTrail":true,"HomeRegion":"us-east-1",
        "CloudWatchLogsLogGroupArn":"arn:aws:logs:us-east-1:111122223333:log-group:ct:*"});
    let s = snap(json!([
        {"service":"cloudtrail","operation":"DescribeTrails","region":"us-east-1","response":{"trailList":[trail]}},
        {"service":"cloudtrail","operation":"DescribeTrails","region":"eu-west-1","response":{"trailList":[trail]}},
        {"service":"cloudtrail","operation":"GetTrailStatus","region":"us-east-1","params":{"Name":"main"},
         "response":{"IsLogging":false}},
    ]));
    let tables = fact_tables(&[s]);
    let trails = &table(&tables, "trails").rows;
    assert_eq!(trails.len(), 1);
    assert_eq!(trails[0]["cloud_watch_logs_log_group_name"], json!("ct"));
    let status = &table(&tables, "trail_status").rows;
    assert_eq!(status[0]["trail_arn"], trail["TrailARN"]);
}
