use std::io::Write;
use std::sync::Arc;

use super::*;

fn mmdb<T: serde::Serialize>(kind: &str, entries: &[(&str, T)]) -> tempfile::NamedTempFile {
    let mut writer = mmdb_writer::Writer::builder(kind)
        .build_epoch(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000))
        .build();
    for (network, value) in entries {
        writer
            .insert(network.parse::<ipnet::IpNet>().unwrap(), value)
            .unwrap();
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&writer.to_bytes().unwrap()).unwrap();
    file
}

#[test]
fn networks_answer_the_most_specific_match() {
    let mut n = Networks::default();
    for (net, v) in [
        ("10.0.0.0/8", "wide"),
        ("10.1.0.0/16", "narrow"),
        ("2001:db8::/32", "six"),
    ] {
        let (ip, len) = networks::parse_network(net).unwrap();
        n.insert(ip, len, v);
    }
    let at = |ip: &str| n.lookup(ip.parse().unwrap()).copied();
    assert_eq!(at("10.1.2.3"), Some("narrow"));
    assert_eq!(at("10.2.0.1"), Some("wide"));
    assert_eq!(
        at("::ffff:10.1.0.9"),
        Some("narrow"),
        "IPv4-mapped IPv6 is the IPv4 address"
    );
    assert_eq!(at("2001:db8:1::1"), Some("six"));
    assert_eq!(at("11.0.0.1"), None);
    assert_eq!(networks::parse_network("10.0.0.0/33"), None);
}

#[test]
fn ip_ranges_prefer_the_specific_service_and_keep_the_build_date() {
    let json = br#"{"syncToken": "1790000000", "createDate": "2026-09-21-10-13-20",
      "prefixes": [
        {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
        {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "S3", "network_border_group": "ap-northeast-2"},
        {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"}],
      "ipv6_prefixes": [{"ipv6_prefix": "2600:1f00::/24", "region": "GLOBAL", "service": "EC2", "network_border_group": "GLOBAL"}]}"#;
    let (n, created, token) = networks::aws_ranges(json).unwrap();
    assert_eq!(
        (created.as_deref(), token.as_str()),
        (Some("2026-09-21T10:13:20Z"), "1790000000")
    );
    assert_eq!(
        n.lookup("3.5.141.7".parse().unwrap()).map(String::as_str),
        Some("S3")
    );
    assert_eq!(
        n.lookup("52.94.1.1".parse().unwrap()).map(String::as_str),
        Some("AMAZON")
    );
    assert_eq!(
        n.lookup("2600:1f00::5".parse().unwrap())
            .map(String::as_str),
        Some("EC2")
    );
    assert!(networks::aws_ranges(b"{}").is_err());
}

#[test]
fn files_answer_and_are_recorded_and_missing_ones_say_why() {
    let geo = mmdb(
        "GeoLite2-Country",
        &[
            (
                "185.220.101.0/24",
                serde_json::json!({"country": {"iso_code": "DE"}}),
            ),
            (
                "3.0.0.0/8",
                serde_json::json!({"country": {"iso_code": "US"}}),
            ),
        ],
    );
    // As GeoLite2-ASN stores it: the number as uint32.
    #[derive(serde::Serialize)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: &'static str,
    }
    let asn = mmdb(
        "GeoLite2-ASN",
        &[(
            "185.220.101.0/24",
            Asn {
                autonomous_system_number: 208294,
                autonomous_system_organization: "Example Relays",
            },
        )],
    );
    let mut list = tempfile::Builder::new().suffix(".txt").tempfile().unwrap();
    writeln!(list, "# exits\n185.220.101.47\n203.0.113.0/24").unwrap();
    let list_name = list
        .path()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let e = Enrichment::load(&EnrichOptions {
        geoip: Some(geo.path().into()),
        asn: Some(asn.path().into()),
        ip_ranges: None,
        ip_lists: vec![list.path().into()],
    })
    .unwrap();
    assert!(!e.used());
    assert_eq!(e.country("185.220.101.47").as_deref(), Some("DE"));
    assert_eq!(e.country("3.1.2.3").as_deref(), Some("US"));
    assert_eq!(e.country("192.0.2.1"), None);
    assert_eq!(e.country("AWS Internal"), None);
    assert_eq!(e.asn("185.220.101.47"), Some(208294));
    assert_eq!(
        e.as_org("185.220.101.47").as_deref(),
        Some("Example Relays")
    );
    assert_eq!(e.in_list("203.0.113.9", &list_name), Some(true));
    assert_eq!(e.in_list("198.51.100.1", &list_name), Some(false));
    assert_eq!(e.known_bad("185.220.101.47"), Some(true));
    assert!(e.used());
    // Recorded: role, digest, build date and what the file says it is.
    let files = e.files();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0].role, "geoip");
    assert_eq!(files[0].about, "GeoLite2-Country");
    assert_eq!(files[0].built.as_deref(), Some("2026-09-21T14:13:20Z"));
    assert_eq!(
        files[0].sha256,
        hex::encode(Sha256::digest(std::fs::read(geo.path()).unwrap()))
    );
    assert_eq!(files[2].about, "2 entries");
    // No ip-ranges given: NULL, and said once.
    assert_eq!(e.aws_service("3.5.140.1"), None);
    assert_eq!(e.aws_service("3.5.140.2"), None);
    assert_eq!(
        e.notes(),
        ["ip_aws_service() returned NULL: no --ip-ranges file was given"]
    );
    assert_eq!(e.in_list("1.2.3.4", "no-such-list"), None);
}

#[test]
fn unreadable_files_are_named() {
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"not a database").unwrap();
    let err = Enrichment::load(&EnrichOptions {
        geoip: Some(bad.path().into()),
        ..EnrichOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--geoip") && err.contains("not a MaxMind DB file"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let mut list = tempfile::NamedTempFile::new().unwrap();
    writeln!(list, "10.0.0.1\nnot-an-ip").unwrap();
    let err = Enrichment::load(&EnrichOptions {
        ip_lists: vec![list.path().into()],
        ..EnrichOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[derive(serde::Serialize)]
struct Country {
    country: Code,
}

#[derive(serde::Serialize)]
struct Code {
    iso_code: &'static str,
}

fn country_db(code: &'static str) -> tempfile::NamedTempFile {
    mmdb(
        "GeoLite2-Country",
        &[(
            "185.220.101.0/24",
            Country {
                country: Code { iso_code: code },
            },
        )],
    )
}

/// What an executor does with the client's pin: the same file answers; a file changed since
/// the client read it, or missing, is an error naming it, never a quiet NULL.
#[test]
fn a_pinned_enrichment_loads_only_the_files_it_names() {
    let geo = country_db("DE");
    let client = Enrichment::load(&EnrichOptions {
        geoip: Some(geo.path().into()),
        ..EnrichOptions::default()
    })
    .unwrap();
    let pinned = client.pinned();
    assert_eq!(pinned.files.len(), 1);
    assert!(std::path::Path::new(&pinned.files[0].path).is_absolute());
    let executor = pinned.load().unwrap();
    assert_eq!(executor.country("185.220.101.47").as_deref(), Some("DE"));
    assert!(
        Arc::ptr_eq(&executor, &pinned.load().unwrap()),
        "loaded once"
    );

    // The same path with other content: a pin whose digest it does not match.
    let mut changed = pinned.clone();
    changed.files[0].sha256 = "0".repeat(64);
    let err = changed.load().unwrap_err().to_string();
    assert!(
        err.contains(&pinned.files[0].path)
            && err.contains("is not the client's")
            && err.contains("same paths"),
        "{err}"
    );
    assert!(!err.contains('\n'));

    let mut missing = pinned.clone();
    missing.files[0].path = "/nonexistent/GeoLite2-Country.mmdb".into();
    let err = missing.load().unwrap_err().to_string();
    assert!(
        err.contains("/nonexistent/GeoLite2-Country.mmdb") && err.contains("same paths"),
        "{err}"
    );

    // No files: every function answers NULL, as the client's would.
    assert_eq!(
        Pinned::default().load().unwrap().country("185.220.101.47"),
        None
    );
}

#[test]
fn a_function_asked_elsewhere_is_noted_as_a_lookup_here_would_be() {
    let e = Enrichment::default();
    e.asked_elsewhere("ip_country");
    e.asked_elsewhere("ip_in");
    assert!(e.used());
    assert_eq!(
        e.notes(),
        ["ip_country() returned NULL: no --geoip file was given"]
    );
}
