"""Schema validation of rendered objects, offline.

Built-in kinds: `kubernetes-validate --strict` (its bundled OpenAPI schemas; unknown
fields are errors) for the oldest Kubernetes these manifests support and the newest the
tool knows. Custom resources: `crd/validate.mjs`, against the API types their projects
publish to npm; a kind with no published schema is reported as skipped, with the reason.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import tempfile
from typing import Any

import kubernetes_validate
from kubernetes_validate import utils as kv_utils

# 1.30: the native `preStop: sleep` action (PodLifecycleSleepAction, beta and on by
# default from 1.30) that the distroless images need.
MIN_VERSION = "1.30.0"

CHECK_DIR = pathlib.Path(__file__).resolve().parent.parent


def versions() -> list[str]:
    latest = kv_utils.latest_version()
    return [MIN_VERSION] if latest == MIN_VERSION else [MIN_VERSION, latest]


def is_builtin(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    return group == "" or group.endswith(".k8s.io") or "." not in group


def validate_builtin(objects: list[dict[str, Any]]) -> list[str]:
    problems = []
    for version in versions():
        for obj in objects:
            if not is_builtin(obj):
                continue
            ref = f"{obj['kind']}/{obj['metadata']['name']}"
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                problems.append(f"{ref} (Kubernetes {version}): {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problems.append(f"{ref} (Kubernetes {version}): {e.message}")
    return problems


def validate_custom(objects: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(problems, skipped) for the custom resources among `objects`."""
    custom = [o for o in objects if not is_builtin(o)]
    if not custom:
        return [], []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(custom, f)
    try:
        out = subprocess.run(
            ["node", str(CHECK_DIR / "crd" / "validate.mjs"), f.name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as e:
        return [f"crd/validate.mjs failed: {e.stderr.strip()}"], []
    finally:
        pathlib.Path(f.name).unlink()
    problems, skipped = [], []
    for line in out.splitlines():
        r = json.loads(line)
        if r["status"] == "invalid":
            problems += [f"{r['ref']}: {m}" for m in r["messages"]]
        elif r["status"] == "skipped":
            skipped.append(f"{r['ref']}: skipped: {'; '.join(r['messages'])}")
    return problems, skipped
