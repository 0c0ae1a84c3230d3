//! Layout, determinism, late and duplicate deliveries, option checks.

use super::*;

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let opts = GenerateOptions {
        days: 1,
        events_per_day: 300,
        ..small()
    };
    let sa = generate(a.path(), &opts).unwrap();
    let sb = generate(b.path(), &opts).unwrap();
    assert_eq!(sa, sb);
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert!(fa.len() > 20);
    assert!(fa == fb, "same options must give byte-identical archives");
    let sc = generate(c.path(), &GenerateOptions { seed: 43, ..opts }).unwrap();
    assert_ne!(sa.accounts, sc.accounts);
    assert_ne!(fa, files(c.path()));
    // Generating into a directory that already holds an archive is refused.
    assert!(matches!(generate(a.path(), &small()), Err(Error::Usage(_))));
}

#[test]
fn keys_parse_with_right_kind_account_region_and_org() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small();
    let summary = generate(dir.path(), &opts).unwrap();
    let archive = load(dir.path());
    assert_eq!(summary.accounts.len(), 2);
    let org = summary.org_id.clone().unwrap();
    assert!(org.starts_with("o-") && org.len() == 12);
    assert!(
        org[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(summary.log_files as usize, archive.logs.len());
    assert_eq!(summary.digest_files as usize, archive.digests.len());
    for o in archive.logs.iter().chain(&archive.digests) {
        let k = &o.parsed;
        assert!(summary.accounts.contains(&k.account_id), "{}", o.key);
        assert!(opts.regions.contains(&k.region), "{}", o.key);
        let member = k.account_id == summary.accounts[1];
        assert_eq!(
            k.org_id.as_deref(),
            member.then_some(org.as_str()),
            "{}",
            o.key
        );
        assert_eq!(k.prefix, "");
        // Date folder = delivery stamp's date.
        assert_eq!(Some(k.date), k.stamp.map(|s| s.date_naive()), "{}", o.key);
        if k.kind == ObjectKind::Digest {
            let trail = if member {
                "org-trail"
            } else {
                "management-events"
            };
            assert_eq!(k.trail.as_deref(), Some(trail));
            assert_eq!(k.home_region.as_deref(), Some("us-east-1"));
        } else {
            assert!(
                k.file_name
                    .starts_with(&format!("{}_CloudTrail_{}_", k.account_id, k.region))
            );
        }
    }
    // Every record belongs where its file says, and global services are logged in us-east-1.
    let mut total = 0u64;
    let mut sources = HashSet::new();
    for o in &archive.logs {
        for r in records(o) {
            total += 1;
            assert_eq!(r["recipientAccountId"], o.parsed.account_id.as_str());
            assert_eq!(r["awsRegion"], o.parsed.region.as_str());
            let source = r["eventSource"].as_str().unwrap();
            if ["iam.amazonaws.com", "signin.amazonaws.com"].contains(&source) {
                assert_eq!(o.parsed.region, "us-east-1");
            }
            sources.insert(source.to_string());
            assert!(time(&r["eventTime"]) < o.parsed.stamp.unwrap());
        }
    }
    assert_eq!(total, summary.events);
    assert!(total.abs_diff(2 * 2 * 600) < 60, "{total}");
    assert!(sources.len() >= 8, "{sources:?}");
}

#[test]
fn late_and_duplicate_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let rates = Rates {
        late: 0.05,
        duplicate: 0.01,
        split: 0.08,
    };
    let opts = GenerateOptions {
        accounts: 1,
        ..small()
    };
    let summary = generate_with(dir.path(), &opts, rates).unwrap();
    let archive = load(dir.path());
    let (mut late, mut crossed, mut on_time) = (0, 0, 0);
    let mut ids: HashMap<String, Vec<&str>> = HashMap::new();
    for o in &archive.logs {
        let stamp = o.parsed.stamp.unwrap();
        for r in records(o) {
            ids.entry(r["eventID"].as_str().unwrap().to_string())
                .or_default()
                .push(&o.key);
            let t = time(&r["eventTime"]);
            if r.get("addendum").is_some() {
                assert_eq!(r["addendum"]["reason"], "DELIVERY_DELAY");
                assert_eq!(records(o).len(), 1, "late events come in their own file");
                let delay = stamp - t;
                assert!(
                    delay >= chrono::Duration::minutes(119) && delay <= chrono::Duration::hours(8),
                    "{delay}"
                );
                late += 1;
                if o.parsed.date > t.date_naive() {
                    crossed += 1;
                }
            } else {
                assert!(stamp - t <= chrono::Duration::minutes(15));
                on_time += 1;
            }
        }
    }
    assert!(
        late >= 20 && on_time > 10 * late,
        "{late} late, {on_time} on time"
    );
    assert!(
        crossed >= 1,
        "some late file lands in the next day's folder"
    );
    // Duplicates: same eventID in exactly two files, counted twice in the summary.
    let dups: Vec<&Vec<&str>> = ids.values().filter(|f| f.len() > 1).collect();
    assert!(!dups.is_empty());
    assert!(dups.iter().all(|f| f.len() == 2 && f[0] != f[1]));
    assert_eq!(
        summary.events as usize,
        ids.values().map(Vec::len).sum::<usize>()
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let stop = utc(2026, 10, 1, 10, 0, 0);
    let bad = [
        GenerateOptions { days: 0, ..small() },
        GenerateOptions {
            accounts: 0,
            ..small()
        },
        GenerateOptions {
            regions: vec![],
            ..small()
        },
        GenerateOptions {
            regions: vec!["us_east_1".into()],
            ..small()
        },
        GenerateOptions {
            regions: vec!["eu-west-1".into(), "eu-west-1".into()],
            ..small()
        },
        GenerateOptions {
            bucket: "Bad_Bucket".into(),
            ..small()
        },
        GenerateOptions {
            stops: vec![StopEpisode {
                account_index: 5,
                stop,
                restart: None,
            }],
            ..small()
        },
        GenerateOptions {
            stops: vec![StopEpisode {
                account_index: 0,
                stop: utc(2027, 1, 1, 0, 0, 0),
                restart: None,
            }],
            ..small()
        },
        GenerateOptions {
            stops: vec![StopEpisode {
                account_index: 0,
                stop,
                restart: Some(stop),
            }],
            ..small()
        },
        GenerateOptions {
            stops: vec![
                StopEpisode {
                    account_index: 0,
                    stop,
                    restart: None,
                },
                StopEpisode {
                    account_index: 0,
                    stop: utc(2026, 10, 1, 12, 0, 0),
                    restart: None,
                },
            ],
            ..small()
        },
    ];
    for opts in bad {
        assert!(
            matches!(generate(dir.path(), &opts), Err(Error::Usage(_))),
            "{opts:?}"
        );
    }
    assert!(
        files(dir.path()).is_empty(),
        "nothing written for bad options"
    );
}
