use super::*;

fn issued(
    key: &str,
    via: &str,
    issuer_type: &str,
    issuer: &str,
    issuer_key: Option<&str>,
) -> Credential {
    Credential {
        access_key_id: key.into(),
        session_arn: Some(format!("arn:aws:sts::111111111111:assumed-role/R/{key}")),
        issued_via: via.into(),
        issuer_type: Some(issuer_type.into()),
        issuer: Some(issuer.into()),
        issuer_access_key: issuer_key.map(String::from),
        ..Credential::default()
    }
}

fn chain_keys(origin: &Origin) -> Vec<&str> {
    origin
        .chain
        .iter()
        .map(|l| l.access_key_id.as_str())
        .collect()
}

#[test]
fn a_role_chain_ends_at_the_users_long_term_key() {
    let lineage = Lineage::new([
        issued(
            "ASIA1",
            "AssumeRole",
            "IAMUser",
            "arn:aws:iam::1:user/jane",
            Some("AKIAJANE"),
        ),
        issued(
            "ASIA2",
            "AssumeRole",
            "AssumedRole",
            "arn:aws:sts::2:assumed-role/A/s",
            Some("ASIA1"),
        ),
        issued(
            "ASIA3",
            "AssumeRole",
            "AssumedRole",
            "arn:aws:sts::3:assumed-role/B/s",
            Some("ASIA2"),
        ),
    ]);
    let origin = lineage.origin("ASIA3");
    assert_eq!(origin.kind, OriginKind::LongTermKey);
    assert_eq!(origin.access_key.as_deref(), Some("AKIAJANE"));
    assert_eq!(
        origin.principal.as_deref(),
        Some("arn:aws:iam::1:user/jane")
    );
    assert_eq!(origin.depth, 3);
    assert_eq!(chain_keys(&origin), ["ASIA3", "ASIA2", "ASIA1"]);
    assert!(origin.broken.is_none());
    // The blast radius of the user's key: everything below it, with depths.
    let derived: Vec<(usize, &str)> = lineage
        .derived_from("AKIAJANE")
        .into_iter()
        .map(|(d, c)| (d, c.access_key_id.as_str()))
        .collect();
    assert_eq!(derived, [(1, "ASIA1"), (2, "ASIA2"), (3, "ASIA3")]);
}

#[test]
fn federation_services_and_console_sign_ins_are_origins() {
    let lineage = Lineage::new([
        issued(
            "ASIAS",
            "AssumeRoleWithSAML",
            "SAMLUser",
            "saml:alice@example.com",
            None,
        ),
        issued(
            "ASIAE",
            "EC2InstanceRole",
            "AWSService",
            "ec2.amazonaws.com",
            None,
        ),
        issued(
            "ASIAR",
            "ConsoleSignIn",
            "Root",
            "arn:aws:iam::1:root",
            None,
        ),
    ]);
    assert_eq!(lineage.origin("ASIAS").kind, OriginKind::Federation);
    assert_eq!(
        lineage.origin("ASIAS").principal.as_deref(),
        Some("saml:alice@example.com")
    );
    assert_eq!(lineage.origin("ASIAE").kind, OriginKind::AwsService);
    assert_eq!(lineage.origin("ASIAR").kind, OriginKind::ConsoleSignIn);
    assert_eq!(lineage.origin("ASIAS").depth, 1);
}

#[test]
fn a_missing_link_breaks_the_chain_with_the_reason_and_no_guess() {
    let lineage = Lineage::new([issued(
        "ASIA2",
        "AssumeRole",
        "AssumedRole",
        "arn:aws:sts::2:assumed-role/A/s",
        Some("ASIA1"),
    )]);
    let origin = lineage.origin("ASIA2");
    assert_eq!(origin.kind, OriginKind::Unknown);
    assert_eq!(origin.access_key, None);
    // The last caller known is named, as such.
    assert_eq!(
        origin.principal.as_deref(),
        Some("arn:aws:sts::2:assumed-role/A/s")
    );
    assert!(
        origin
            .broken
            .as_deref()
            .unwrap()
            .starts_with("ASIA1, the credential ASIA2 was issued with, has no issuing event")
    );
    // A credential never issued in the archive at all.
    let origin = lineage.origin("ASIA9");
    assert_eq!((origin.kind, origin.depth), (OriginKind::Unknown, 0));
    assert!(
        origin
            .broken
            .unwrap()
            .starts_with("ASIA9 has no issuing event")
    );
    // The role account's copy of a cross-account call: the caller's account, not its key.
    let mut copy = issued("ASIA5", "AssumeRole", "AWSAccount", "account:3:AIDAX", None);
    copy.issuer_account = Some("333333333333".into());
    let origin = Lineage::new([copy]).origin("ASIA5");
    assert!(
        origin
            .broken
            .unwrap()
            .contains("caller's account 333333333333")
    );
}

#[test]
fn cycles_and_endless_chains_end() {
    let lineage = Lineage::new([
        issued("ASIAA", "AssumeRole", "AssumedRole", "a", Some("ASIAB")),
        issued("ASIAB", "AssumeRole", "AssumedRole", "b", Some("ASIAA")),
    ]);
    let origin = lineage.origin("ASIAA");
    assert!(origin.broken.unwrap().contains("returns to ASIAA"));
    assert_eq!(lineage.derived_from("ASIAA").len(), 1);
}

#[test]
fn events_without_issued_credentials_have_their_own_origin() {
    let lineage = Lineage::default();
    let user = |key: &str, console: bool| EventIdentity {
        identity_type: Some("IAMUser".into()),
        arn: Some("arn:aws:iam::1:user/bob".into()),
        access_key_id: Some(key.into()),
        from_console: console,
        ..EventIdentity::default()
    };
    let long = lineage.event_origin(&user("AKIABOB", false));
    assert_eq!(
        (long.kind, long.access_key.as_deref()),
        (OriginKind::LongTermKey, Some("AKIABOB"))
    );
    let console = lineage.event_origin(&user("ASIABOB", true));
    assert_eq!(console.kind, OriginKind::ConsoleSignIn);
    assert_eq!(
        console.principal.as_deref(),
        Some("arn:aws:iam::1:user/bob")
    );
    let session = lineage.event_origin(&user("ASIABOB", false));
    assert!(session.broken.is_some());
    assert_eq!(
        session.principal.as_deref(),
        Some("arn:aws:iam::1:user/bob")
    );
    let service = lineage.event_origin(&EventIdentity {
        identity_type: Some("AWSService".into()),
        invoked_by: Some("cloudtrail.amazonaws.com".into()),
        ..EventIdentity::default()
    });
    assert_eq!(service.kind, OriginKind::AwsService);
}
