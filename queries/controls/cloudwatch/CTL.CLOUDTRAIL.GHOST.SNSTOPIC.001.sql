-- A trail notifying an SNS topic that no longer exists tells nobody about new log files, and
-- whoever re-creates the topic name receives the notifications. Two ways (column check):
-- state: per trail with an SnsTopicARN, GetTopicAttributes NotFound, or a complete ListTopics
--   answer for the topic's region (no NextToken) that does not list it: fail; the topic
--   answered or is listed: pass; neither captured, or the topic is in another account:
--   inconclusive. Trails without a topic pass (nothing configured, nothing gone).
-- events: per archive account, every successful DeleteTopic of a trail's topic (named by a
--   snapshot trail, or by CreateTrail/UpdateTrail snsTopicName in the archive), with its log file.
-- An account with no DescribeTrails answer (no snapshot, or trails not captured) gets an
-- inconclusive state row: its events alone cannot clear it.
WITH t AS (
  SELECT account_id, trail_arn, home_region,
         sns_topic_arn AS topic_arn,
         split_part(sns_topic_arn, ':', 4) AS topic_region,
         split_part(sns_topic_arn, ':', 5) AS topic_account
  FROM trails
),
topics AS (
  SELECT account_id, topic_arn, bool_or("exists") AS topic_exists,
         max(subscriptions_confirmed) AS subscriptions_confirmed
  FROM sns_topics
  GROUP BY 1, 2
),
list_calls AS (
  SELECT account_id, region, response
  FROM snapshot_calls
  WHERE service = 'sns' AND operation = 'ListTopics' AND error_code IS NULL
    AND json_get_str(response, 'NextToken') IS NULL
),
listed_regions AS (
  SELECT DISTINCT account_id, region FROM list_calls
),
listed_topics AS (
  SELECT DISTINCT account_id, region, json_get_str(tp, 'TopicArn') AS topic_arn
  FROM (SELECT account_id, region, unnest(json_get_array(response, 'Topics')) AS tp FROM list_calls)
),
state AS (
  SELECT CASE
           WHEN t.topic_arn IS NULL THEN 'pass'
           WHEN tp.topic_exists THEN 'pass'
           WHEN NOT tp.topic_exists THEN 'fail'
           WHEN lt.topic_arn IS NOT NULL THEN 'pass'
           WHEN t.topic_account = t.account_id AND lr.region IS NOT NULL THEN 'fail'
           ELSE 'inconclusive'
         END AS status,
         t.trail_arn AS resource,
         t.account_id,
         t.home_region AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         t.topic_arn AS sns_topic_arn,
         CASE
           WHEN t.topic_arn IS NULL THEN 'none'
           WHEN tp.topic_exists THEN 'exists'
           WHEN NOT tp.topic_exists THEN 'missing (GetTopicAttributes: NotFound)'
           WHEN lt.topic_arn IS NOT NULL THEN 'exists (listed by ListTopics)'
           WHEN t.topic_account = t.account_id AND lr.region IS NOT NULL THEN 'missing (not in ListTopics)'
           WHEN t.topic_account <> t.account_id THEN 'in another account: not checked'
           ELSE 'not captured'
         END AS topic_state,
         tp.subscriptions_confirmed,
         CAST(NULL AS VARCHAR) AS events
  FROM t
  LEFT JOIN topics tp ON tp.account_id = t.account_id AND tp.topic_arn = t.topic_arn
  LEFT JOIN listed_topics lt ON lt.account_id = t.account_id AND lt.topic_arn = t.topic_arn
  LEFT JOIN listed_regions lr ON lr.account_id = t.account_id AND lr.region = t.topic_region
),
-- Trail topics the evidence names, as ARNs (CreateTrail/UpdateTrail may give a bare name).
named AS (
  SELECT DISTINCT topic_arn FROM (
    SELECT sns_topic_arn AS topic_arn FROM trails WHERE sns_topic_arn IS NOT NULL
    UNION ALL
    SELECT CASE WHEN json_extract_scalar(requestparameters, '$.snsTopicName') LIKE 'arn:%'
                THEN json_extract_scalar(requestparameters, '$.snsTopicName')
                ELSE 'arn:aws:sns:' || awsregion || ':' || coalesce(recipientaccountid, account_id) || ':'
                     || json_extract_scalar(requestparameters, '$.snsTopicName') END
    FROM cloudtrail
    WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname IN ('CreateTrail', 'UpdateTrail')
      AND errorcode IS NULL AND json_extract_scalar(requestparameters, '$.snsTopicName') IS NOT NULL
  )
),
deleted AS (
  SELECT coalesce(c.recipientaccountid, c.account_id) AS account_id,
         min(c.eventtime) AS window_start,
         max(c.eventtime) AS window_end,
         array_sort(array_agg(named_struct('eventtime', c.eventtime,
                                           'topic', json_extract_scalar(c.requestparameters, '$.topicArn'),
                                           'principal', c.useridentity.arn, 'source_ip', c.sourceipaddress,
                                           'region', c.awsregion, 'log_file', c.log_file))) AS events
  FROM cloudtrail c
  JOIN named n ON n.topic_arn = json_extract_scalar(c.requestparameters, '$.topicArn')
  WHERE c.eventsource = 'sns.amazonaws.com' AND c.eventname = 'DeleteTopic' AND c.errorcode IS NULL
  GROUP BY 1
),
events AS (
  SELECT CASE WHEN d.account_id IS NULL THEN 'pass' ELSE 'fail' END AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         coalesce(d.window_start, a.first_delivery) AS window_start,
         coalesce(d.window_end, a.last_delivery) AS window_end,
         'events' AS check,
         CAST(NULL AS VARCHAR) AS sns_topic_arn,
         CAST(NULL AS VARCHAR) AS topic_state,
         CAST(NULL AS BIGINT) AS subscriptions_confirmed,
         to_json(d.events) AS events
  FROM archive_accounts a
  LEFT JOIN deleted d ON d.account_id = a.account_id
),
uncaptured AS (
  -- Accounts of the snapshots or the archive with no DescribeTrails answer: the state part
  -- could not be evaluated there, whatever the events say.
  SELECT 'inconclusive' AS status,
         'account/' || a.account_id AS resource,
         a.account_id,
         CAST(NULL AS VARCHAR) AS region,
         CAST(NULL AS TIMESTAMP) AS window_start,
         CAST(NULL AS TIMESTAMP) AS window_end,
         'state' AS check,
         CAST(NULL AS VARCHAR) AS sns_topic_arn,
         'trails not captured (no DescribeTrails answer)' AS topic_state,
         CAST(NULL AS BIGINT) AS subscriptions_confirmed,
         CAST(NULL AS VARCHAR) AS events
  FROM (SELECT account_id FROM snapshots UNION SELECT account_id FROM archive_accounts) a
  LEFT JOIN (SELECT DISTINCT account_id FROM snapshot_calls
             WHERE service = 'cloudtrail' AND operation = 'DescribeTrails' AND error_code IS NULL) d
    ON d.account_id = a.account_id
  WHERE d.account_id IS NULL
)
SELECT * FROM state
UNION ALL
SELECT * FROM events
UNION ALL
SELECT * FROM uncaptured
