//! Record shapes and the event mix.

use super::*;

#[test]
fn records_look_like_cloudtrail() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        accounts: 1,
        days: 1,
        events_per_day: 3000,
        ..small()
    };
    generate(dir.path(), &opts).unwrap();
    let archive = load(dir.path());
    let all: Vec<&Value> = archive.logs.iter().flat_map(records).collect();
    let count = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|r| f(r)).count();
    let n = all.len();
    for r in &all {
        for field in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "eventID",
            "readOnly",
            "eventType",
            "managementEvent",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        assert!(r.get("requestParameters").is_some() && r.get("responseElements").is_some());
        let id = r["eventID"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
        let t = r["eventTime"].as_str().unwrap();
        assert!(t.len() == 20 && t.ends_with('Z'));
    }
    let denied = count(&|r| {
        r.get("errorCode").is_some_and(|c| {
            c.as_str().unwrap().contains("Unauthorized")
                || c.as_str().unwrap().starts_with("AccessDenied")
        })
    });
    assert!(denied * 100 > n && denied * 100 < 6 * n, "{denied} of {n}");
    assert!(count(&|r| r["eventCategory"] == "Data" && r["managementEvent"] == false) > n / 20);
    assert!(
        count(&|r| r["userIdentity"]["type"] == "AssumedRole"
            && r["userIdentity"]["sessionContext"]["sessionIssuer"]["type"] == "Role")
            > n / 5
    );
    assert!(
        count(&|r| r["userIdentity"]["type"] == "AWSService"
            && r["userIdentity"]["invokedBy"].is_string())
            > 0
    );
    assert!(
        count(&|r| r["userIdentity"]["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("AKIA")))
            > 0
    );
    assert!(
        count(&|r| r["eventType"] == "AwsConsoleSignIn"
            && r["additionalEventData"]["MFAUsed"].is_string()
            && r["responseElements"]["ConsoleLogin"].is_string())
            > 0
    );
    assert!(count(&|r| r["tlsDetails"]["clientProvidedHostHeader"].is_string()) > n / 2);
    assert!(count(&|r| r["requestParameters"]["bucketName"].is_string()) > 0);
}
