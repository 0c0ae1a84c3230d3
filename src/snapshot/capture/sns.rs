//! SNS: each trail's notification topic, in the topic's region.

use std::collections::BTreeMap;

use aws_sdk_sns::Client;
use serde_json::json;

use super::json::Obj;
use super::{Ctx, Outcome, Recorder, arn_parts, call_error};

const SERVICE: &str = "sns";

/// `GetTopicAttributes` and `ListSubscriptionsByTopic` (all pages) per topic ARN.
pub(super) async fn capture(ctx: &Ctx, rec: &mut Recorder<'_>, topics: &[String]) {
    for topic in topics {
        let region = arn_parts(topic)
            .map(|(r, _, _)| r)
            .filter(|r| !r.is_empty())
            .unwrap_or(super::GLOBAL_REGION);
        let client = Client::new(&ctx.in_region(region));
        let params = || json!({"TopicArn": topic});
        let attributes = get_topic_attributes(&client, topic).await;
        rec.record(
            SERVICE,
            "GetTopicAttributes",
            Some(region),
            params(),
            attributes,
        );
        let subscriptions = list_subscriptions(&client, topic).await;
        rec.record(
            SERVICE,
            "ListSubscriptionsByTopic",
            Some(region),
            params(),
            subscriptions,
        );
    }
    rec.report(SERVICE, &format!("{} trail topics", topics.len()));
}

async fn get_topic_attributes(client: &Client, topic: &str) -> Outcome {
    let answer = client
        .get_topic_attributes()
        .topic_arn(topic)
        .send()
        .await
        .map_err(|e| call_error(&e))?;
    let attributes = answer
        .attributes
        .map(|a| json!(a.into_iter().collect::<BTreeMap<_, _>>()));
    Ok(Obj::new().val("Attributes", attributes).build())
}

async fn list_subscriptions(client: &Client, topic: &str) -> Outcome {
    let mut subscriptions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| call_error(&e))?;
        subscriptions.extend(page.subscriptions().iter().map(|s| {
            Obj::new()
                .str("SubscriptionArn", s.subscription_arn.as_deref())
                .str("Owner", s.owner.as_deref())
                .str("Protocol", s.protocol.as_deref())
                .str("Endpoint", s.endpoint.as_deref())
                .str("TopicArn", s.topic_arn.as_deref())
                .build()
        }));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(json!({"Subscriptions": subscriptions}))
}
