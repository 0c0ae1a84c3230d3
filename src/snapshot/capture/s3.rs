//! S3: the bucket list once, then each trail bucket's configuration, asked in its own region.

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::GetBucketLifecycleConfigurationOutput;
use aws_sdk_s3::operation::get_bucket_replication::GetBucketReplicationOutput;
use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
use aws_sdk_s3::types::{LifecycleRule, LifecycleRuleFilter, ReplicationRule, Tag};
use serde_json::{Value, json};

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, call_error, status_error};

const SERVICE: &str = "s3";

/// Where bucket-less calls (ListBuckets, GetBucketLocation) go.
const S3_HOME: &str = "us-east-1";

fn client(ctx: &Ctx, region: &str) -> Client {
    let config = aws_sdk_s3::config::Builder::from(&ctx.in_region(region))
        .force_path_style(ctx.path_style)
        .build();
    Client::from_conf(config)
}

/// `ListBuckets`, then per bucket its location, `HeadBucket`, and the configuration calls. A
/// bucket that does not exist (HeadBucket 404) is not asked further: that is the fact.
pub(super) async fn capture(ctx: &Ctx, rec: &mut Recorder<'_>, buckets: &[String]) {
    let home = client(ctx, S3_HOME);
    let listed = list_buckets(&home).await;
    rec.record(SERVICE, "ListBuckets", Some(S3_HOME), json!({}), listed);
    for bucket in buckets {
        let params = || json!({"Bucket": bucket});
        let location = home.get_bucket_location().bucket(bucket).send().await;
        let region = match &location {
            Ok(o) => Some(match o.location_constraint.as_ref().map(|c| c.as_str()) {
                None | Some("") => S3_HOME.to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(r) => r.to_string(),
            }),
            Err(e) => redirect_region(e),
        };
        let answer = location.map_err(|e| call_error(&e)).map(|o| {
            let constraint = o
                .location_constraint
                .as_ref()
                .map(|c| c.as_str())
                .filter(|c| !c.is_empty());
            json!({"LocationConstraint": constraint})
        });
        rec.record(
            SERVICE,
            "GetBucketLocation",
            Some(S3_HOME),
            params(),
            answer,
        );

        // Without GetBucketLocation (often denied across accounts), HEAD names the region.
        let mut at = region.unwrap_or_else(|| S3_HOME.to_string());
        let (mut head, hint) = head_bucket(&client(ctx, &at), bucket).await;
        if let Some(other) = hint.filter(|r| *r != at) {
            at = other;
            (head, _) = head_bucket(&client(ctx, &at), bucket).await;
        }
        let missing = matches!(&head, Err(e) if e.code == "404");
        rec.record(SERVICE, "HeadBucket", Some(&at), params(), head);
        if !missing {
            configuration(&client(ctx, &at), rec, bucket, &at).await;
        }
    }
    rec.report(SERVICE, &format!("{} trail buckets", buckets.len()));
}

/// The bucket's policy, lifecycle, versioning, object lock, logging, replication and tags.
async fn configuration(c: &Client, rec: &mut Recorder<'_>, bucket: &str, region: &str) {
    let params = || json!({"Bucket": bucket});
    let r = Some(region);
    let policy = c.get_bucket_policy().bucket(bucket).send().await;
    let policy = policy
        .map(|o| Obj::new().str("Policy", o.policy.as_deref()).build())
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetBucketPolicy", r, params(), policy);
    let lifecycle = c
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await;
    let lifecycle = lifecycle
        .map(|o| lifecycle_json(&o))
        .map_err(|e| call_error(&e));
    rec.record(
        SERVICE,
        "GetBucketLifecycleConfiguration",
        r,
        params(),
        lifecycle,
    );
    let versioning = c.get_bucket_versioning().bucket(bucket).send().await;
    let versioning = versioning
        .map(|o| {
            Obj::new()
                .enm("Status", o.status.as_ref())
                .enm("MFADelete", o.mfa_delete.as_ref())
                .build()
        })
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetBucketVersioning", r, params(), versioning);
    let lock = c
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await;
    let lock = lock
        .map(|o| {
            let conf = o.object_lock_configuration.as_ref().map(|l| {
                let retention = l.rule.as_ref().map(|rule| {
                    let d = rule.default_retention.as_ref().map(|d| {
                        Obj::new()
                            .enm("Mode", d.mode.as_ref())
                            .int("Days", d.days)
                            .int("Years", d.years)
                            .build()
                    });
                    Obj::new().val("DefaultRetention", d).build()
                });
                Obj::new()
                    .enm("ObjectLockEnabled", l.object_lock_enabled.as_ref())
                    .val("Rule", retention)
                    .build()
            });
            Obj::new().val("ObjectLockConfiguration", conf).build()
        })
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetObjectLockConfiguration", r, params(), lock);
    let logging = c.get_bucket_logging().bucket(bucket).send().await;
    let logging = logging
        .map(|o| {
            let enabled = o.logging_enabled.as_ref().map(|l| {
                Obj::new()
                    .str("TargetBucket", Some(&l.target_bucket))
                    .str("TargetPrefix", Some(&l.target_prefix))
                    .build()
            });
            Obj::new().val("LoggingEnabled", enabled).build()
        })
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetBucketLogging", r, params(), logging);
    let replication = c.get_bucket_replication().bucket(bucket).send().await;
    let replication = replication
        .map(|o| replication_json(&o))
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetBucketReplication", r, params(), replication);
    let tagging = c.get_bucket_tagging().bucket(bucket).send().await;
    let tagging = tagging
        .map(|o| {
            Obj::new()
                .list("TagSet", Some(&o.tag_set), tag_json)
                .build()
        })
        .map_err(|e| call_error(&e));
    rec.record(SERVICE, "GetBucketTagging", r, params(), tagging);
}

/// The region S3 names in `x-amz-bucket-region` (sent with redirects and most HEAD answers).
fn redirect_region<E>(e: &aws_sdk_s3::error::SdkError<E>) -> Option<String> {
    let raw = e.raw_response()?;
    raw.headers().get("x-amz-bucket-region").map(str::to_string)
}

/// HeadBucket, with the bucket's region when S3 tells it. Errors are HTTP statuses (`404`,
/// `403`, `301`) as the CLI shows them: a HEAD answer has no body to carry a code.
async fn head_bucket(client: &Client, bucket: &str) -> (Outcome, Option<String>) {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(o) => {
            let answer = Obj::new()
                .str("BucketArn", o.bucket_arn.as_deref())
                .enm("BucketLocationType", o.bucket_location_type.as_ref())
                .str("BucketLocationName", o.bucket_location_name.as_deref())
                .str("BucketRegion", o.bucket_region.as_deref())
                .bool("AccessPointAlias", o.access_point_alias)
                .build();
            (Ok(answer), o.bucket_region.clone())
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let error = match status {
                Some(_) => status_error(&e, status),
                None => call_error(&e),
            };
            (Err(error), redirect_region(&e))
        }
    }
}

async fn list_buckets(client: &Client) -> Outcome {
    let mut buckets = Vec::new();
    let mut owner = None;
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_buckets()
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        let json = list_buckets_json(&page);
        buckets.extend(json["Buckets"].as_array().cloned().unwrap_or_default());
        owner = owner.or_else(|| json.get("Owner").cloned());
        match page.continuation_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(Obj::new()
        .val("Buckets", Some(Value::Array(buckets)))
        .val("Owner", owner)
        .build())
}

fn list_buckets_json(o: &ListBucketsOutput) -> Value {
    let owner = o.owner.as_ref().map(|w| {
        Obj::new()
            .str("DisplayName", w.display_name.as_deref())
            .str("ID", w.id.as_deref())
            .build()
    });
    Obj::new()
        .list("Buckets", o.buckets.as_deref(), |b| {
            Obj::new()
                .str("Name", b.name.as_deref())
                .time("CreationDate", b.creation_date.as_ref())
                .str("BucketRegion", b.bucket_region.as_deref())
                .str("BucketArn", b.bucket_arn.as_deref())
                .build()
        })
        .val("Owner", owner)
        .build()
}

fn tag_json(t: &Tag) -> Value {
    json!({"Key": t.key, "Value": t.value})
}

fn tags_json(tags: Option<&[Tag]>) -> Option<Value> {
    tags.map(|t| Value::Array(t.iter().map(tag_json).collect()))
}

pub(crate) fn lifecycle_json(o: &GetBucketLifecycleConfigurationOutput) -> Value {
    Obj::new()
        .list("Rules", o.rules.as_deref(), lifecycle_rule_json)
        .enm(
            "TransitionDefaultMinimumObjectSize",
            o.transition_default_minimum_object_size.as_ref(),
        )
        .build()
}

// The rule-level Prefix is deprecated in the model but old rules still carry it, and the CLI
// prints it.
#[allow(deprecated)]
fn lifecycle_rule_json(r: &LifecycleRule) -> Value {
    let expiration = r.expiration.as_ref().map(|e| {
        Obj::new()
            .time("Date", e.date.as_ref())
            .int("Days", e.days)
            .bool("ExpiredObjectDeleteMarker", e.expired_object_delete_marker)
            .build()
    });
    let noncurrent_expiration = r.noncurrent_version_expiration.as_ref().map(|e| {
        Obj::new()
            .int("NoncurrentDays", e.noncurrent_days)
            .int("NewerNoncurrentVersions", e.newer_noncurrent_versions)
            .build()
    });
    let abort = r.abort_incomplete_multipart_upload.as_ref().map(|a| {
        Obj::new()
            .int("DaysAfterInitiation", a.days_after_initiation)
            .build()
    });
    Obj::new()
        .val("Expiration", expiration)
        .str("ID", r.id.as_deref())
        .str("Prefix", r.prefix.as_deref())
        .val("Filter", r.filter.as_ref().map(lifecycle_filter_json))
        .str("Status", Some(r.status.as_str()))
        .list("Transitions", r.transitions.as_deref(), |t| {
            Obj::new()
                .time("Date", t.date.as_ref())
                .int("Days", t.days)
                .enm("StorageClass", t.storage_class.as_ref())
                .build()
        })
        .list(
            "NoncurrentVersionTransitions",
            r.noncurrent_version_transitions.as_deref(),
            |t| {
                Obj::new()
                    .int("NoncurrentDays", t.noncurrent_days)
                    .enm("StorageClass", t.storage_class.as_ref())
                    .int("NewerNoncurrentVersions", t.newer_noncurrent_versions)
                    .build()
            },
        )
        .val("NoncurrentVersionExpiration", noncurrent_expiration)
        .val("AbortIncompleteMultipartUpload", abort)
        .build()
}

fn lifecycle_filter_json(f: &LifecycleRuleFilter) -> Value {
    let and = f.and.as_ref().map(|a| {
        Obj::new()
            .str("Prefix", a.prefix.as_deref())
            .val("Tags", tags_json(a.tags.as_deref()))
            .int("ObjectSizeGreaterThan", a.object_size_greater_than)
            .int("ObjectSizeLessThan", a.object_size_less_than)
            .build()
    });
    Obj::new()
        .str("Prefix", f.prefix.as_deref())
        .val("Tag", f.tag.as_ref().map(tag_json))
        .int("ObjectSizeGreaterThan", f.object_size_greater_than)
        .int("ObjectSizeLessThan", f.object_size_less_than)
        .val("And", and)
        .build()
}

pub(crate) fn replication_json(o: &GetBucketReplicationOutput) -> Value {
    let conf = o.replication_configuration.as_ref().map(|c| {
        Obj::new()
            .str("Role", Some(&c.role))
            .list("Rules", Some(&c.rules), replication_rule_json)
            .build()
    });
    Obj::new().val("ReplicationConfiguration", conf).build()
}

#[allow(deprecated)]
fn replication_rule_json(r: &ReplicationRule) -> Value {
    let filter = r.filter.as_ref().map(|f| {
        let and = f.and.as_ref().map(|a| {
            Obj::new()
                .str("Prefix", a.prefix.as_deref())
                .val("Tags", tags_json(a.tags.as_deref()))
                .build()
        });
        Obj::new()
            .str("Prefix", f.prefix.as_deref())
            .val("Tag", f.tag.as_ref().map(tag_json))
            .val("And", and)
            .build()
    });
    let destination = r.destination.as_ref().map(|d| {
        Obj::new()
            .str("Bucket", Some(&d.bucket))
            .str("Account", d.account.as_deref())
            .enm("StorageClass", d.storage_class.as_ref())
            .build()
    });
    let delete_markers = r
        .delete_marker_replication
        .as_ref()
        .map(|d| Obj::new().enm("Status", d.status.as_ref()).build());
    let existing = r
        .existing_object_replication
        .as_ref()
        .map(|e| json!({"Status": e.status.as_str()}));
    Obj::new()
        .str("ID", r.id.as_deref())
        .int("Priority", r.priority)
        .str("Prefix", r.prefix.as_deref())
        .val("Filter", filter)
        .str("Status", Some(r.status.as_str()))
        .val("ExistingObjectReplication", existing)
        .val("Destination", destination)
        .val("DeleteMarkerReplication", delete_markers)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::{
        Destination, ExpirationStatus, LifecycleExpiration, LifecycleRuleAndOperator,
        NoncurrentVersionExpiration, ReplicationConfiguration, ReplicationRuleStatus,
    };

    #[test]
    fn lifecycle_rules_keep_their_filter_shape() {
        let rule = LifecycleRule::builder()
            .id("expire")
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("AWSLogs/")
                            .tags(Tag::builder().key("k").value("v").build().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(365).build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(30)
                    .build(),
            )
            .build()
            .unwrap();
        let out = GetBucketLifecycleConfigurationOutput::builder()
            .rules(rule)
            .build();
        assert_eq!(
            lifecycle_json(&out),
            json!({"Rules": [{"ID": "expire", "Status": "Enabled",
                "Filter": {"And": {"Prefix": "AWSLogs/", "Tags": [{"Key": "k", "Value": "v"}]}},
                "Expiration": {"Days": 365},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]})
        );
    }

    #[test]
    fn replication_rules_with_destination() {
        let rule = ReplicationRule::builder()
            .id("dr")
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .destination(
                Destination::builder()
                    .bucket("arn:aws:s3:::dr-logs")
                    .account("444455556666")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let conf = ReplicationConfiguration::builder()
            .role("arn:aws:iam::111122223333:role/replication")
            .rules(rule)
            .build()
            .unwrap();
        let out = GetBucketReplicationOutput::builder()
            .replication_configuration(conf)
            .build();
        assert_eq!(
            replication_json(&out),
            json!({"ReplicationConfiguration": {
                "Role": "arn:aws:iam::111122223333:role/replication",
                "Rules": [{"ID": "dr", "Priority": 1, "Status": "Enabled",
                    "Destination": {"Bucket": "arn:aws:s3:::dr-logs", "Account": "444455556666"}}]}})
        );
    }
}
