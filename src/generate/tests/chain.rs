//! Digest signatures and chains, and what a logging stop does to them.

use super::*;

#[test]
fn digests_verify_chain_and_list_every_file_once() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &small()).unwrap();
    let archive = load(dir.path());
    let entry = &archive.public_keys["PublicKeyList"][0];
    let der = base64::engine::general_purpose::STANDARD
        .decode(entry["Value"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        entry["Fingerprint"],
        hex::encode(Md5::digest(&der)).as_str()
    );
    assert!(
        entry["ValidityStartTime"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    let public = RsaPublicKey::from_pkcs1_der(&der).unwrap();
    let by_key: HashMap<&str, &Object> = archive
        .digests
        .iter()
        .map(|d| (d.key.as_str(), d))
        .collect();
    let logs: HashMap<&str, &Object> = archive.logs.iter().map(|l| (l.key.as_str(), l)).collect();
    let mut listed: HashMap<&str, usize> = HashMap::new();
    let mut chain_starts = 0;
    for d in &archive.digests {
        let j = &d.json;
        assert_eq!(j["digestS3Object"], d.key.as_str());
        assert_eq!(j["digestSignatureAlgorithm"], "SHA256withRSA");
        assert_eq!(j["awsAccountId"], d.parsed.account_id.as_str());
        let end = time(&j["digestEndTime"]);
        assert_eq!(d.parsed.stamp, Some(end));
        assert!(time(&j["digestStartTime"]) < end);
        // Signature from the "S3 metadata" side file, over the rebuilt string to sign.
        let meta = &archive.signatures[d.key.as_str()];
        assert_eq!(meta["algorithm"], "SHA256withRSA");
        let signature = hex::decode(meta["signature"].as_str().unwrap()).unwrap();
        let to_sign = digest_string_to_sign(
            j["digestEndTime"].as_str().unwrap(),
            j["digestS3Bucket"].as_str().unwrap(),
            j["digestS3Object"].as_str().unwrap(),
            &d.body,
            j["previousDigestSignature"].as_str(),
        );
        public
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(to_sign.as_bytes()),
                &signature,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", d.key));
        // The chain: predecessor's bytes, signature and end time.
        match j["previousDigestS3Object"].as_str() {
            None => {
                chain_starts += 1;
                for f in [
                    "previousDigestS3Bucket",
                    "previousDigestHashValue",
                    "previousDigestHashAlgorithm",
                    "previousDigestSignature",
                ] {
                    assert!(j[f].is_null(), "{f} in {}", d.key);
                }
            }
            Some(prev_key) => {
                let prev = by_key[prev_key];
                assert_eq!(
                    j["previousDigestHashValue"],
                    hex::encode(Sha256::digest(&prev.body)).as_str()
                );
                assert_eq!(j["previousDigestHashAlgorithm"], "SHA-256");
                assert_eq!(
                    j["previousDigestSignature"],
                    archive.signatures[prev_key]["signature"]
                );
                assert_eq!(j["digestStartTime"], prev.json["digestEndTime"]);
                assert_eq!(prev.parsed.region, d.parsed.region);
            }
        }
        // Exactly the files of this account and region delivered in [start, end).
        let start = time(&j["digestStartTime"]);
        let expected: HashSet<&str> = archive
            .logs
            .iter()
            .filter(|l| {
                l.parsed.account_id == d.parsed.account_id && l.parsed.region == d.parsed.region
            })
            .filter(|l| (start..end).contains(&l.parsed.stamp.unwrap()))
            .map(|l| l.key.as_str())
            .collect();
        let files = j["logFiles"].as_array().unwrap();
        let got: HashSet<&str> = files
            .iter()
            .map(|f| f["s3Object"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "{}", d.key);
        if files.is_empty() {
            assert!(j["oldestEventTime"].is_null() && j["newestEventTime"].is_null());
        }
        for f in files {
            let key = f["s3Object"].as_str().unwrap();
            *listed.entry(key).or_default() += 1;
            let log = logs[key];
            assert_eq!(
                f["hashValue"],
                hex::encode(Sha256::digest(&log.body)).as_str()
            );
            assert_eq!(f["s3Bucket"], "trailscope-demo-logs");
            let times: Vec<DateTime<Utc>> =
                records(log).iter().map(|r| time(&r["eventTime"])).collect();
            assert_eq!(time(&f["oldestEventTime"]), *times.iter().min().unwrap());
            assert_eq!(time(&f["newestEventTime"]), *times.iter().max().unwrap());
        }
    }
    // One chain per account and region, no restarts; every log file attested exactly once.
    assert_eq!(chain_starts, 4);
    assert_eq!(listed.len(), archive.logs.len());
    assert!(listed.values().all(|n| *n == 1));
    // Quiet hours exist and are attested by empty digests.
    assert!(
        archive
            .digests
            .iter()
            .any(|d| d.json["logFiles"].as_array().unwrap().is_empty())
    );
    // The real digest writer's escaped slashes.
    assert!(archive.digests[0].body.windows(2).any(|w| w == b"\\/"));
}

#[test]
fn stop_episode_stops_files_and_digests_and_restarts_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (stop, restart) = (utc(2026, 10, 1, 10, 17, 23), utc(2026, 10, 1, 13, 2, 0));
    let opts = GenerateOptions {
        stops: vec![StopEpisode {
            account_index: 0,
            stop,
            restart: Some(restart),
        }],
        ..small()
    };
    let summary = generate(dir.path(), &opts).unwrap();
    let archive = load(dir.path());
    let acct = summary.accounts[0].as_str();
    let mine = |o: &&Object| o.parsed.account_id == acct;
    let mut seen = Vec::new();
    for o in archive.logs.iter().filter(mine) {
        let stamp = o.parsed.stamp.unwrap();
        assert!(
            !(stamp > stop + chrono::Duration::minutes(1) && stamp < restart),
            "file in the gap: {}",
            o.key
        );
        for r in records(o) {
            let t = time(&r["eventTime"]);
            assert!(!(t > stop && t < restart), "event in the gap");
            if let Some(name @ ("StopLogging" | "StartLogging")) = r["eventName"].as_str() {
                assert_eq!(o.parsed.region, "us-east-1");
                assert!(
                    r["requestParameters"]["name"]
                        .as_str()
                        .unwrap()
                        .ends_with(":trail/management-events")
                );
                assert_eq!(r["userIdentity"]["userName"], "ops-admin");
                assert!(r.get("errorCode").is_none());
                seen.push((name.to_string(), t, r["sourceIPAddress"].clone()));
            }
        }
    }
    seen.sort_by_key(|s| s.1);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].0.as_str(), seen[0].1), ("StopLogging", stop));
    assert_eq!((seen[1].0.as_str(), seen[1].1), ("StartLogging", restart));
    assert_eq!(seen[0].2, seen[1].2, "same fixed address");
    // Digests: none in the gap, and each region's chain restarts at the restart with null links.
    for region in &opts.regions {
        let mut chain: Vec<&Object> = archive
            .digests
            .iter()
            .filter(mine)
            .filter(|d| &d.parsed.region == region)
            .collect();
        chain.sort_by_key(|d| time(&d.json["digestEndTime"]));
        let restarted: Vec<&&Object> = chain
            .iter()
            .filter(|d| d.json["previousDigestS3Object"].is_null())
            .collect();
        assert_eq!(
            restarted.len(),
            2,
            "{region}: initial chain and one restart"
        );
        assert_eq!(time(&restarted[1].json["digestStartTime"]), restart);
        let last_before = chain
            .iter()
            .rfind(|d| time(&d.json["digestEndTime"]) < restart)
            .unwrap();
        let end = time(&last_before.json["digestEndTime"]);
        assert!(
            end > stop && end < stop + chrono::Duration::minutes(2),
            "{end}"
        );
        for d in &chain {
            let (s, e) = (
                time(&d.json["digestStartTime"]),
                time(&d.json["digestEndTime"]),
            );
            assert!(e <= end || s >= restart, "digest in the gap: {}", d.key);
        }
    }
    // The other account logs straight through.
    let other: Vec<&Object> = archive
        .digests
        .iter()
        .filter(|d| d.parsed.account_id != acct)
        .collect();
    assert_eq!(
        other
            .iter()
            .filter(|d| d.json["previousDigestS3Object"].is_null())
            .count(),
        2
    );
}
