-- sessions: the issued temporary credentials (`issued_credentials`) with when and how much each
-- was used: the first and last event made with it, and how many.
WITH used AS (
  SELECT useridentity.accesskeyid AS access_key_id,
         min(eventtime) AS first_used,
         max(eventtime) AS last_used,
         count(*) AS events
  FROM cloudtrail
  WHERE useridentity.accesskeyid LIKE 'ASIA%'
  GROUP BY useridentity.accesskeyid
)
SELECT i.*, u.first_used, u.last_used, coalesce(u.events, 0) AS events
FROM issued_credentials i
LEFT JOIN used u ON u.access_key_id = i.access_key_id
