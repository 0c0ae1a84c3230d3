"""DuckDB side of benches/engine.rs: the same three questions over the same .json.gz files.

Usage: duckdb_engine.py ARCHIVE QUERY [ARG]   (QUERY: by_eventname | by_arn ARN | one_day YYYY-MM-DD)
Prints one JSON line: seconds, peak_rss_mb, rows, checksum.
"""
import datetime
import json
import resource
import sys
import time

import duckdb

archive, query = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
# Only the fields the questions use: DuckDB's best case (no inference, narrow projection).
COLUMNS = "{'Records': 'STRUCT(eventName VARCHAR, eventTime VARCHAR, userIdentity STRUCT(arn VARCHAR), sourceIPAddress VARCHAR)[]'}"


def globs(day_folders="*/*/*"):
    # Single-account and organization-trail layouts; DuckDB allows one ** per pattern, so spell them out.
    return [f"{archive}/AWSLogs/*/CloudTrail/*/{day_folders}/*.json.gz",
            f"{archive}/AWSLogs/*/*/CloudTrail/*/{day_folders}/*.json.gz"]


def records(patterns):
    return f"(SELECT unnest(Records) AS r FROM read_json({patterns!r}, columns={COLUMNS}))"


if query == "by_eventname":
    sql = f"SELECT r.eventName, count(*) AS n FROM {records(globs())} GROUP BY 1"
elif query == "by_arn":
    sql = f"SELECT r.eventTime, r.eventName, r.sourceIPAddress FROM {records(globs())} WHERE r.userIdentity.arn = '{arg}'"
elif query == "one_day":
    # A fair DuckDB user globs only the day's delivery folders plus the next (late deliveries).
    day = datetime.date.fromisoformat(arg)
    nxt = day + datetime.timedelta(days=1)
    patterns = globs(day.strftime("%Y/%m/%d")) + globs(nxt.strftime("%Y/%m/%d"))
    sql = (f"SELECT r.eventName, count(*) AS n FROM {records(patterns)} "
           f"WHERE r.eventTime >= '{day}T00:00:00Z' AND r.eventTime < '{nxt}T00:00:00Z' GROUP BY 1")
else:
    sys.exit(f"unknown query {query}")

con = duckdb.connect()
start = time.perf_counter()
rows = con.sql(sql).fetchall()
seconds = time.perf_counter() - start
checksum = sum(r[1] for r in rows) if query != "by_arn" else len(rows)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "rows": len(rows), "checksum": checksum}))
