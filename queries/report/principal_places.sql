-- Where the busiest principals called from (reports given --geoip or --asn): their places,
-- busiest first. A place is a country and a network (autonomous system); NULL where the data
-- files do not locate the address, as for AWS services, which call from a name.
SELECT principal, country, asn, as_org, sum(events) AS events
FROM activity
WHERE principal IN (SELECT principal FROM top_principals)
GROUP BY principal, country, asn, as_org
ORDER BY principal, events DESC, country NULLS LAST, asn NULLS LAST, as_org NULLS LAST
