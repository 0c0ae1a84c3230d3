#!/usr/bin/env python3
"""Derives the test fixture tests/fixtures/ocsf/compliance_finding-<version>-required.json.

Reads the OCSF schema sources (github.com/ocsf/ocsf-schema) at one release and resolves an event
class the way the OCSF schema server does: `extends` chains (base_event -> finding -> class, and
object -> _entity -> ...), `$include`d profile attributes (kept only for the profiles applied),
attribute types and enums from dictionary.json deep-merged with the class's or object's own
overrides, and the class's computed ids (class_uid = category uid * 1000 + class uid, type_uid =
class_uid * 100 + activity_id).

The fixture holds:
  - `required`: every REQUIRED attribute of the class, recursively through required objects, as
    dotted paths with their types (and enum values for *_id attributes);
  - `event` / `objects`: the attribute catalog (type, requirement, enum, sibling, deprecation) of
    the class and of the objects trailscope emits, with each object's constraints
    (`at_least_one`, `just_one`), so a test can check every attribute we write, not only the
    required ones.

Usage, on a bare mirror or a checkout of ocsf/ocsf-schema:
  scripts/ocsf_required.py --git-dir /path/to/ocsf-schema.git --ref 1.8.0 > out.json
  scripts/ocsf_required.py --schema /path/to/ocsf-schema-checkout > out.json
"""

import argparse
import copy
import json
import os
import subprocess
import sys

# Objects trailscope writes beyond those the required attributes reach (attribute paths from the
# event); their catalogs go into the fixture too.
EMITTED = [
    "resources.owner.account",
    "cloud.account",
    "remediation",
    "evidences",
    "finding_info",
    "compliance",
    "metadata.product",
    "finding_info.analytic",
]


class Source:
    def __init__(self, schema_dir, git_dir, ref):
        self.schema_dir, self.git_dir, self.ref = schema_dir, git_dir, ref
        self._files = None

    def files(self):
        if self._files is None:
            if self.git_dir:
                out = subprocess.run(
                    ["git", "--git-dir", self.git_dir, "ls-tree", "-r", "--name-only", self.ref],
                    check=True, capture_output=True, text=True).stdout
                self._files = out.split()
            else:
                self._files = [os.path.relpath(os.path.join(d, f), self.schema_dir)
                               for d, _, fs in os.walk(self.schema_dir) for f in fs]
        return self._files

    def read(self, path):
        if self.git_dir:
            out = subprocess.run(["git", "--git-dir", self.git_dir, "show", f"{self.ref}:{path}"],
                                 check=True, capture_output=True, text=True).stdout
            return json.loads(out)
        with open(os.path.join(self.schema_dir, path)) as f:
            return json.load(f)

    def commit(self):
        args = ["git", "--git-dir", self.git_dir] if self.git_dir else ["git", "-C", self.schema_dir]
        return subprocess.run(args + ["rev-parse", f"{self.ref or 'HEAD'}^{{commit}}"],
                              check=True, capture_output=True, text=True).stdout.strip()


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class Schema:
    def __init__(self, src, profiles):
        self.src = src
        self.profiles = set(profiles)
        self.dictionary = src.read("dictionary.json")
        self.types = self.dictionary["types"]["attributes"]
        self.categories = src.read("categories.json")["attributes"]
        self.by_name = {}
        for path in src.files():
            if path.endswith(".json") and path.split("/")[0] in ("events", "objects"):
                self.by_name[(path.split("/")[0], src.read(path)["name"])] = path

    def own_attributes(self, doc):
        """A file's attributes with its `$include`s merged in (the file's own entries win)."""
        attrs = {}
        for inc in doc.get("attributes", {}).get("$include", []):
            included = self.src.read(inc)
            profile = included.get("name") if included.get("meta") == "profile" else None
            for k, v in included.get("attributes", {}).items():
                entry = dict(v)
                if profile:
                    entry.setdefault("profile", profile)
                attrs[k] = entry
        for k, v in doc.get("attributes", {}).items():
            if k != "$include":
                attrs[k] = deep_merge(attrs.get(k, {}), v)
        return attrs

    def resolve(self, kind, name):
        """(document, attributes, chain) with the `extends` chain merged, root first."""
        doc = self.src.read(self.by_name[(kind, name)])
        attrs, chain, constraints = {}, [], {}
        if doc.get("extends"):
            parent, attrs, chain, constraints = self.resolve(kind, doc["extends"])
            constraints = dict(constraints)
        for k, v in self.own_attributes(doc).items():
            attrs[k] = deep_merge(attrs.get(k, {}), v)
        constraints.update(doc.get("constraints", {}))
        return doc, attrs, chain + [name], constraints

    def base_type(self, type_name):
        seen = type_name
        while seen in self.types and "type" in self.types[seen]:
            seen = self.types[seen]["type"]
        return {"string_t": "string", "integer_t": "integer", "long_t": "long",
                "float_t": "float", "boolean_t": "boolean", "json_t": "json"}.get(seen, seen)

    def spec(self, name, attr):
        """The catalog entry for one attribute, or None when it belongs to an unapplied profile."""
        profile = attr.get("profile")
        if profile and profile not in self.profiles:
            return None
        full = deep_merge(self.dictionary["attributes"].get(name, {}), attr)
        type_name = full.get("type", "string_t")
        out = {"requirement": full.get("requirement", "optional")}
        if type_name.endswith("_t"):
            out["type"] = self.base_type(type_name)
            if type_name != "timestamp_t" and out["type"] != type_name[:-2]:
                out["type_name"] = type_name
            if type_name == "timestamp_t":
                out["type"] = "timestamp"  # long_t, milliseconds since the epoch
        else:
            out["type"] = "object"
            out["object"] = type_name
        if full.get("is_array"):
            out["is_array"] = True
        if "enum" in full:
            out["enum"] = {k: v.get("caption", "") for k, v in
                           sorted(full["enum"].items(), key=lambda kv: int(kv[0]))}
        if full.get("sibling"):
            out["sibling"] = full["sibling"]
        if "@deprecated" in full:
            out["deprecated"] = full["@deprecated"].get("since", True)
        if profile:
            out["profile"] = profile
        return out

    def catalog(self, kind, name):
        doc, attrs, chain, constraints = self.resolve(kind, name)
        specs = {}
        for k in sorted(attrs):
            s = self.spec(k, attrs[k])
            if s is not None:
                specs[k] = s
        return doc, specs, chain, constraints


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schema", help="a checkout of ocsf/ocsf-schema")
    ap.add_argument("--git-dir", help="a (bare) clone of ocsf/ocsf-schema")
    ap.add_argument("--ref", default=None, help="the release tag, e.g. 1.8.0")
    ap.add_argument("--class", dest="cls", default="compliance_finding")
    ap.add_argument("--profiles", default="cloud",
                    help="profiles the events apply (metadata.profiles), comma separated")
    args = ap.parse_args()
    if not (args.schema or args.git_dir):
        ap.error("give --schema or --git-dir")
    git_dir = args.git_dir
    if args.schema and args.ref and not git_dir:
        git_dir = os.path.join(args.schema, ".git")  # read the tag, whatever is checked out
    src = Source(args.schema, git_dir, args.ref)
    profiles = [p for p in args.profiles.split(",") if p]
    schema = Schema(src, profiles)
    version = src.read("version.json")["version"]

    doc, event, chain, constraints = schema.catalog("events", args.cls)
    category = doc.get("category") or next(
        schema.src.read(schema.by_name[("events", n)]).get("category")
        for n in reversed(chain) if schema.src.read(schema.by_name[("events", n)]).get("category"))
    category_uid = schema.categories[category]["uid"]
    class_uid = category_uid * 1000 + doc["uid"]
    # The ids the schema server computes for the class (its pages show these enums).
    event["category_uid"]["enum"] = {str(category_uid): schema.categories[category]["caption"]}
    event["class_uid"]["enum"] = {str(class_uid): doc["caption"]}
    event["type_uid"]["enum"] = {
        str(class_uid * 100 + int(k)): f"{doc['caption']}: {v}"
        for k, v in event["activity_id"]["enum"].items()}

    objects = {}

    def add_object(name):
        if name in objects or name == "object":
            return objects.get(name)
        odoc, specs, _, ocons = schema.catalog("objects", name)
        objects[name] = {"attributes": specs}
        if ocons:
            objects[name]["constraints"] = ocons
        for k, s in specs.items():  # required objects, recursively
            if s["requirement"] == "required" and s["type"] == "object":
                add_object(s["object"])
        return objects[name]

    required = []

    def walk(specs, prefix):
        for k, s in specs.items():
            if s["requirement"] != "required":
                continue
            entry = {"path": prefix + k}
            entry.update({f: s[f] for f in ("type", "type_name", "object", "is_array", "enum")
                          if f in s})
            required.append(entry)
            if s["type"] == "object" and s["object"] != "object":
                walk(add_object(s["object"])["attributes"], prefix + k + ".")

    walk(event, "")
    for path in EMITTED:
        specs = event
        for part in path.split("."):
            s = specs[part]
            specs = add_object(s["object"])["attributes"]

    out = {
        "comment": "Generated by scripts/ocsf_required.py; see tests/fixtures/ocsf/README.md.",
        "schema": {"repo": "ocsf/ocsf-schema", "ref": args.ref, "commit": src.commit(),
                   "version": version},
        "class": {"name": args.cls, "caption": doc["caption"], "uid": class_uid,
                  "category": category, "category_uid": category_uid,
                  "category_name": schema.categories[category]["caption"], "extends": chain},
        "profiles": profiles,
        "required": required,
        "event": {"attributes": event, **({"constraints": constraints} if constraints else {})},
        "objects": dict(sorted(objects.items())),
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
