"""DuckDB side of benches/lake.rs: the same questions over the lake's Parquet files.

Usage: duckdb_lake.py LAKE QUERY [ARG]
  QUERY: by_eventname | by_arn ARN | one_day YYYY-MM-DD | errors_by_source ACCOUNT | hourly
Prints one JSON line: seconds (after connecting), peak_rss_mb, rows, checksum.
"""
import datetime
import json
import resource
import sys
import time

import duckdb

lake, query = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else None
# Partition values typed as the lake means them (inferred, account ids would become integers).
TABLE = (f"read_parquet('{lake}/*/*/*/*.parquet', hive_partitioning = true, "
         "hive_types = {'account_id': VARCHAR, 'region': VARCHAR, 'date': VARCHAR})")

if query == "by_eventname":
    sql = f"SELECT eventname, count(*) AS n FROM {TABLE} GROUP BY 1"
elif query == "by_arn":
    # eventtime as text: fetching TIMESTAMPTZ into Python needs pytz, which is beside the point.
    sql = (f"SELECT CAST(eventtime AS VARCHAR), eventname, sourceipaddress FROM {TABLE} "
           f"WHERE useridentity.arn = '{arg}'")
elif query == "one_day":
    # DuckDB's best case: the date partition filter as well as the exact time range.
    day = datetime.date.fromisoformat(arg)
    nxt = day + datetime.timedelta(days=1)
    sql = (f"SELECT eventname, count(*) AS n FROM {TABLE} WHERE date = '{day}' "
           f"AND eventtime >= TIMESTAMPTZ '{day} 00:00:00+00' AND eventtime < TIMESTAMPTZ '{nxt} 00:00:00+00' GROUP BY 1")
elif query == "errors_by_source":
    sql = (f"SELECT eventsource, errorcode, count(*) AS n FROM {TABLE} "
           f"WHERE account_id = '{arg}' AND errorcode IS NOT NULL GROUP BY 1, 2")
elif query == "hourly":
    # The hour as text, for the reason above.
    sql = (f"SELECT CAST(date_trunc('hour', eventtime) AS VARCHAR), count(*) AS n "
           f"FROM {TABLE} GROUP BY 1")
else:
    sys.exit(f"unknown query {query}")

con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
start = time.perf_counter()
rows = con.sql(sql).fetchall()
seconds = time.perf_counter() - start
checksum = sum(r[-1] for r in rows) if query != "by_arn" else len(rows)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "rows": len(rows), "checksum": checksum}))
