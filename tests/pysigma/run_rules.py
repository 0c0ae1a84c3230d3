"""Runs Sigma rules with an independent implementation, pySigma and its SQLite backend, over
CloudTrail records, for tests/sigma_agreement.rs.

usage: run_rules.py RECORDS.jsonl RULE.yml...

Records are loaded into one SQLite table `logs`, one column per field, nested objects flattened
to dotted names (`userIdentity.arn`, `requestParameters.bucketName`) the way pySigma users load
CloudTrail, arrays kept as their JSON text, booleans as 'true'/'false', plus `timestamp` (the
eventTime) for correlations. Prints one JSON object: rule id -> {"ids": [eventID, ...]} with
the events each rule matched (for a correlation, every event of every alert), or
{"error": "..."} when pySigma cannot convert or SQLite cannot run the rule.
"""

import json
import re
import sqlite3
import sys

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule


def flatten(value, prefix, out):
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(inner, f"{prefix}{key}.", out)
        return
    name = prefix[:-1]
    if isinstance(value, list):
        out[name] = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, bool):
        out[name] = "true" if value else "false"
    else:
        out[name] = value


def load(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        if line.strip():
            record = json.loads(line)
            flat = {}
            flatten(record, "", flat)
            flat["timestamp"] = record.get("eventTime", "").replace("T", " ").rstrip("Z")
            rows.append(flat)
    columns = sorted({c for row in rows for c in row})
    db = sqlite3.connect(":memory:")
    # The backend emits `field REGEXP 'pattern'`; SQLite leaves REGEXP to the application.
    db.create_function(
        "REGEXP", 2, lambda pattern, value: value is not None and re.search(pattern, str(value)) is not None
    )
    db.execute("CREATE TABLE logs (" + ", ".join(f'"{c}"' for c in columns) + ")")
    for row in rows:
        db.execute(
            "INSERT INTO logs VALUES (" + ", ".join("?" for _ in columns) + ")",
            [row.get(c) for c in columns],
        )
    return db


def execute(db, query):
    """Runs `query`; a field no record has is a column of NULLs (absent, as Sigma reads it),
    not an error."""
    while True:
        try:
            return db.execute(query)
        except sqlite3.OperationalError as e:
            missing = str(e).removeprefix("no such column: ")
            if missing == str(e):
                raise
            db.execute(f'ALTER TABLE logs ADD COLUMN "{missing}"')


def main():
    db = load(sys.argv[1])
    ids = {rowid: eid for rowid, eid in db.execute('SELECT rowid, "eventID" FROM logs')}
    collection = SigmaCollection.merge(
        [SigmaCollection.from_yaml(open(p, encoding="utf-8").read(), collect_errors=True) for p in sys.argv[2:]]
    )
    collection.resolve_rule_references()
    backend = sqliteBackend()
    out = {}
    for rule in collection.rules:
        key = str(rule.id) if rule.id else rule.title
        if getattr(rule, "errors", None):
            out[key] = {"error": "; ".join(str(e) for e in rule.errors)}
            continue
        try:
            if isinstance(rule, SigmaCorrelationRule):
                queries = backend.convert_correlation_rule(rule)
            else:
                queries = backend.convert_rule(rule)
            matched = set()
            for query in queries:
                cursor = execute(db, query)
                names = [d[0] for d in cursor.description]
                for row in cursor:
                    row = dict(zip(names, row))
                    if isinstance(rule, SigmaCorrelationRule):
                        for eid in json.loads(row["event_ids"]):
                            rowid = int(str(eid).split(":")[-1])
                            matched.add(ids[rowid])
                    else:
                        matched.add(row["eventID"])
            out[key] = {"ids": sorted(matched)}
        except Exception as e:  # noqa: BLE001 - any failure is the result for this rule
            out[key] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


main()
