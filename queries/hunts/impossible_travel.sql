-- The same principal acting from two countries within an hour ("impossible travel"): each row is
-- a move, with both addresses and the log file of the second event. Needs --geoip (ip_country
-- is NULL without it, and then nothing is returned); add --asn and select ip_as_org(...) to see
-- whose networks they are. Service addresses (AWS Internal, *.amazonaws.com) have no country.
WITH located AS (
  SELECT useridentity.arn AS principal,
         eventtime,
         eventname,
         sourceipaddress,
         ip_country(sourceipaddress) AS country,
         log_file
  FROM cloudtrail
  WHERE useridentity.arn IS NOT NULL AND sourceipaddress IS NOT NULL
),
moves AS (
  SELECT *,
         lag(country) OVER (PARTITION BY principal ORDER BY eventtime) AS previous_country,
         lag(sourceipaddress) OVER (PARTITION BY principal ORDER BY eventtime) AS previous_ip,
         lag(eventtime) OVER (PARTITION BY principal ORDER BY eventtime) AS previous_time
  FROM located
  WHERE country IS NOT NULL
)
SELECT principal,
       previous_time,
       previous_country,
       previous_ip,
       eventtime,
       country,
       sourceipaddress,
       eventname,
       log_file
FROM moves
WHERE previous_country IS NOT NULL
  AND country <> previous_country
  AND eventtime - previous_time <= INTERVAL '1 hour'
ORDER BY eventtime, principal;
