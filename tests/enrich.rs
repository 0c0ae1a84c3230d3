//! Offline IP enrichment through the command line: known answers from MaxMind DB files the test
//! builds, AWS's ip-ranges.json shape and a list file; the files named in what used them; NULL
//! and a note without them; the impossible-travel hunt.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::controls::plant_events;
use crate::util::{json_lines, stderr, stdout, trailscope};

#[derive(Serialize)]
struct Country {
    country: IsoCode,
}

#[derive(Serialize)]
struct IsoCode {
    iso_code: &'static str,
}

#[derive(Serialize)]
struct Asn {
    autonomous_system_number: u32,
    autonomous_system_organization: &'static str,
}

fn write_mmdb<T: Serialize>(path: &Path, kind: &str, entries: &[(&str, T)]) {
    let mut writer = mmdb_writer::Writer::builder(kind)
        .build_epoch(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000))
        .build();
    for (network, value) in entries {
        writer
            .insert(network.parse::<ipnet::IpNet>().unwrap(), value)
            .unwrap();
    }
    std::fs::write(path, writer.to_bytes().unwrap()).unwrap();
}

/// The data files: DE and US networks, two ASNs, AWS ranges, a list of exits.
pub(crate) fn data_files(dir: &Path) -> Vec<String> {
    let (geo, asn, ranges, list) = (
        dir.join("GeoLite2-Country.mmdb"),
        dir.join("GeoLite2-ASN.mmdb"),
        dir.join("ip-ranges.json"),
        dir.join("tor-exits.txt"),
    );
    write_mmdb(
        &geo,
        "GeoLite2-Country",
        &[
            (
                "185.220.101.0/24",
                Country {
                    country: IsoCode { iso_code: "DE" },
                },
            ),
            (
                "198.51.100.0/24",
                Country {
                    country: IsoCode { iso_code: "US" },
                },
            ),
        ],
    );
    write_mmdb(
        &asn,
        "GeoLite2-ASN",
        &[
            (
                "185.220.101.0/24",
                Asn {
                    autonomous_system_number: 208294,
                    autonomous_system_organization: "Example Relays",
                },
            ),
            (
                "198.51.100.0/24",
                Asn {
                    autonomous_system_number: 64500,
                    autonomous_system_organization: "Example Home ISP",
                },
            ),
        ],
    );
    std::fs::write(
        &ranges,
        json!({"syncToken": "1790000000", "createDate": "2026-09-21-10-13-20",
               "prefixes": [{"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                            {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}],
               "ipv6_prefixes": []})
        .to_string(),
    )
    .unwrap();
    std::fs::write(&list, "# exits\n185.220.101.47\n").unwrap();
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    vec![
        "--geoip".into(),
        s(geo),
        "--asn".into(),
        s(asn),
        "--ip-ranges".into(),
        s(ranges),
        "--ip-list".into(),
        s(list),
    ]
}

/// `args` followed by the data file options.
fn with_files<'a>(args: &[&'a str], files: &'a [String]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(files.iter().map(String::as_str));
    all
}

/// `trailscope trace ... --format json`, read.
fn trace_json(args: &[&str]) -> Value {
    let out = trailscope(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// One principal from Germany, then from the US twenty minutes later; another from an AWS address.
pub(crate) fn archive(dir: &Path) {
    let who = |arn: &str| {
        let key = format!(
            "AKIA{:0>16}",
            arn.rsplit('/').next().unwrap().to_uppercase()
        );
        json!({"type": "IAMUser", "arn": arn, "accountId": "111111111111", "userName": "u", "accessKeyId": key})
    };
    let events = vec![
        json!({"eventTime": "2026-10-01T10:00:00Z", "eventName": "ListBuckets", "eventSource": "s3.amazonaws.com", "sourceIPAddress": "185.220.101.47", "userIdentity": who("arn:aws:iam::111111111111:user/jane")}),
        json!({"eventTime": "2026-10-01T10:20:00Z", "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "sourceIPAddress": "198.51.100.9", "userIdentity": who("arn:aws:iam::111111111111:user/jane")}),
        json!({"eventTime": "2026-10-01T13:00:00Z", "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "sourceIPAddress": "198.51.100.9", "userIdentity": who("arn:aws:iam::111111111111:user/bob")}),
        json!({"eventTime": "2026-10-01T15:00:00Z", "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "sourceIPAddress": "185.220.101.47", "userIdentity": who("arn:aws:iam::111111111111:user/bob")}),
        json!({"eventTime": "2026-10-01T11:00:00Z", "eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "sourceIPAddress": "52.94.1.7", "userIdentity": who("arn:aws:iam::111111111111:user/ci")}),
    ];
    plant_events(dir, &events);
}

#[test]
fn ip_functions_answer_from_the_files_and_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let files = data_files(dir.path());
    let arch = dir.path().join("archive");
    archive(&arch);
    let a = arch.to_str().unwrap();
    let sql = "SELECT sourceipaddress AS ip, ip_country(sourceipaddress) AS country, \
               ip_asn(sourceipaddress) AS asn, ip_as_org(sourceipaddress) AS org, \
               ip_aws_service(sourceipaddress) AS aws, ip_in(sourceipaddress, 'tor-exits') AS tor, \
               known_bad(sourceipaddress) AS bad FROM cloudtrail GROUP BY 1 ORDER BY 1";
    let out = trailscope(&with_files(
        &["query", "-a", a, "--format", "jsonl", sql],
        &files,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = json_lines(&out);
    assert_eq!(
        rows,
        [
            json!({"ip": "185.220.101.47", "country": "DE", "asn": 208294, "org": "Example Relays", "tor": true, "bad": true}),
            json!({"ip": "198.51.100.9", "country": "US", "asn": 64500, "org": "Example Home ISP", "tor": false, "bad": false}),
            json!({"ip": "52.94.1.7", "aws": "EC2", "tor": false, "bad": false}),
        ]
    );
    // The answer names every file with its digest and build date.
    let err = stderr(&out);
    let geo = std::fs::read(dir.path().join("GeoLite2-Country.mmdb")).unwrap();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&geo))
    };
    assert!(
        err.contains(&format!(
            "enrichment: geoip {}",
            dir.path().join("GeoLite2-Country.mmdb").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&digest) && err.contains("built 2026-09-21T14:13:20Z"),
        "{err}"
    );
    assert!(
        err.contains("enrichment: ip-ranges") && err.contains("built 2026-09-21T10:13:20Z"),
        "{err}"
    );
    assert!(err.contains("enrichment: ip-list:tor-exits"), "{err}");

    // Without the files: NULL, and a note per function, once.
    let out = trailscope(&["query", "-a", a, "--format", "jsonl", sql]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // (JSON lines leave NULL columns out.)
    assert!(stdout(&out).lines().all(|l| !l.contains("country")));
    let err = stderr(&out);
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("trailscope: note:"))
        .collect();
    assert_eq!(notes.len(), 6, "{notes:?}");
    assert!(
        notes.contains(&"trailscope: note: ip_country() returned NULL: no --geoip file was given")
    );

    // A file that is not what it claims: one line, exit 2.
    let out = trailscope(&[
        "query",
        "-a",
        a,
        "--geoip",
        dir.path().join("tor-exits.txt").to_str().unwrap(),
        "SELECT 1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn the_impossible_travel_hunt_finds_the_move() {
    let dir = tempfile::tempdir().unwrap();
    let files = data_files(dir.path());
    let arch = dir.path().join("archive");
    archive(&arch);
    let hunt = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/hunts/impossible_travel.sql");
    let out = trailscope(&with_files(
        &[
            "query",
            "-q",
            "-a",
            arch.to_str().unwrap(),
            "--format",
            "jsonl",
            "-f",
            hunt.to_str().unwrap(),
        ],
        &files,
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = json_lines(&out);
    // Jane moved from DE to US in twenty minutes; Bob's move took two hours.
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["principal"], "arn:aws:iam::111111111111:user/jane");
    assert_eq!(
        (
            rows[0]["previous_country"].as_str(),
            rows[0]["country"].as_str()
        ),
        (Some("DE"), Some("US"))
    );
    assert!(rows[0]["log_file"].as_str().unwrap().ends_with(".json.gz"));
}

#[test]
fn a_trace_says_where_its_addresses_are() {
    let dir = tempfile::tempdir().unwrap();
    let files = data_files(dir.path());
    let arch = dir.path().join("archive");
    archive(&arch);
    let key = format!("AKIA{:0>16}", "JANE");
    let archive_path = arch.to_str().unwrap();
    let traced = trace_json(&with_files(
        &[
            "trace",
            "-a",
            archive_path,
            "--access-key",
            &key,
            "--format",
            "json",
        ],
        &files,
    ));
    let details = &traced["source_ip_details"];
    assert_eq!(details["185.220.101.47"]["country"], "DE");
    assert_eq!(details["185.220.101.47"]["known_bad"], true);
    assert_eq!(details["198.51.100.9"]["as_org"], "Example Home ISP");
    let roles: Vec<&str> = traced["enrichment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["geoip", "asn", "ip-ranges", "ip-list:tor-exits"]);
    // Without files the trace carries neither.
    let traced = trace_json(&[
        "trace",
        "-a",
        archive_path,
        "--access-key",
        &key,
        "--format",
        "json",
    ]);
    assert!(traced.get("source_ip_details").is_none() && traced.get("enrichment").is_none());
}

/// `trailscope report --format FORMAT` over `archive` for October 2026, with `extra` options.
fn report(archive: &str, format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "report", "-q", "-a", archive, "--period", "2026-10", "--format", format,
    ];
    args.extend_from_slice(extra);
    let out = trailscope(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_report_says_where_principals_and_console_logins_came_from() {
    let dir = tempfile::tempdir().unwrap();
    data_files(dir.path());
    // The files pinned in a config file, by paths relative to it.
    let config = dir.path().join("enrichment.yml");
    std::fs::write(
        &config,
        "geoip: GeoLite2-Country.mmdb\nasn: GeoLite2-ASN.mmdb\nip_lists: [tor-exits.txt]\n",
    )
    .unwrap();
    let arch = dir.path().join("archive");
    let jane = json!({"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/jane", "accountId": "111111111111", "userName": "jane"});
    let bob = json!({"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/bob", "accountId": "111111111111", "userName": "bob"});
    let login = |time: &str, ip: &str, who: &Value, result: &str| {
        json!({"eventTime": time, "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com",
               "sourceIPAddress": ip, "userIdentity": who,
               "responseElements": {"ConsoleLogin": result}, "additionalEventData": {"MFAUsed": "Yes"}})
    };
    let call = |time: &str, ip: &str, who: &Value| {
        json!({"eventTime": time, "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
               "sourceIPAddress": ip, "userIdentity": who})
    };
    plant_events(
        &arch,
        &[
            login("2026-10-01T09:00:00Z", "185.220.101.47", &jane, "Success"),
            call("2026-10-01T09:05:00Z", "185.220.101.47", &jane),
            call("2026-10-01T09:06:00Z", "198.51.100.9", &jane),
            login("2026-10-02T09:00:00Z", "198.51.100.9", &bob, "Failure"),
            call("2026-10-02T09:10:00Z", "s3.amazonaws.com", &bob),
        ],
    );
    let a = arch.to_str().unwrap();
    let cfg = config.to_str().unwrap();
    let placed: Value =
        serde_json::from_str(&report(a, "json", &["--enrich-config", cfg])).unwrap();
    let activity = &placed["activity"];
    let principal = |arn: &str| {
        activity["top_principals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["principal"] == arn)
            .unwrap()["places"]
            .clone()
    };
    assert_eq!(
        principal("arn:aws:iam::111111111111:user/jane"),
        json!([
            {"country": "DE", "asn": 208294, "as_org": "Example Relays", "events": 2},
            {"country": "US", "asn": 64500, "as_org": "Example Home ISP", "events": 1},
        ])
    );
    // A service calling for bob has no address: an unknown place, counted, not dropped.
    assert_eq!(
        principal("arn:aws:iam::111111111111:user/bob"),
        json!([
            {"country": "US", "asn": 64500, "as_org": "Example Home ISP", "events": 1},
            {"country": null, "asn": null, "as_org": null, "events": 1},
        ])
    );
    assert_eq!(
        activity["console_login_places"],
        json!([
            {"account_id": "111122223333", "country": "DE", "asn": 208294, "as_org": "Example Relays",
             "succeeded": 1, "failed": 0, "principals": 1},
            {"account_id": "111122223333", "country": "US", "asn": 64500, "as_org": "Example Home ISP",
             "succeeded": 0, "failed": 1, "principals": 1},
        ])
    );
    let roles: Vec<&str> = placed["manifest"]["enrichment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["geoip", "asn", "ip-list:tor-exits"]);
    // By file name: directories differ between machines, the SHA-256 says which file.
    assert_eq!(
        placed["manifest"]["enrichment"][0]["path"],
        "GeoLite2-Country.mmdb"
    );

    // The readable formats say it too.
    let md = report(a, "md", &["--enrich-config", cfg]);
    assert!(
        md.contains("DE, AS208294 Example Relays / US, AS64500 Example Home ISP"),
        "{md}"
    );
    assert!(md.contains("- enrichment geoip"), "{md}");
    let html = report(a, "html", &["--enrich-config", cfg]);
    assert!(html.contains("Console sign-ins by place"));

    // Without enrichment the report is as before: no places anywhere.
    let plain: Value = serde_json::from_str(&report(a, "json", &[])).unwrap();
    assert!(plain["activity"].get("console_login_places").is_none());
    assert!(
        plain["activity"]["top_principals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("places").is_none())
    );
    assert!(plain["manifest"].get("enrichment").is_none());
    assert_eq!(
        plain["activity"]["top_principals"],
        placed["activity"]["top_principals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.as_object_mut().unwrap().remove("places");
                p
            })
            .collect::<Value>()
    );
}
