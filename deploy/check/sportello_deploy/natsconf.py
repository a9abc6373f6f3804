"""The NATS server configuration as rendered: the real nats-server parses it (`-t`), and
every `$VARIABLE` it refers to must be set in the StatefulSet's container."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tempfile
from typing import Any

_VAR = re.compile(r"\$([A-Z][A-Z0-9_]*)")


def referenced_variables(text: str) -> set[str]:
    """`$NAME` references outside comments and quoted strings."""
    found = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        line = re.sub(r'"[^"]*"', '""', line)
        found |= set(_VAR.findall(line))
    return found


def check(objects: list[dict[str, Any]], nats_server: str) -> list[str]:
    problems = []
    configs = [
        o for o in objects
        if o["kind"] == "ConfigMap" and re.fullmatch(r"nats-config(-[a-z0-9]{10})?", o["metadata"]["name"])
    ]
    sts = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "nats"]
    if not configs or not sts:
        return ["no ConfigMap nats-config or StatefulSet nats"]
    files: dict[str, str] = configs[0]["data"]
    main = files.get("nats.conf", "")
    if not re.search(r"^\s*sync_interval:\s*always\s*$", main, re.M):
        problems.append("nats.conf: JetStream must fsync every write (sync_interval: always)")
    # Events carry pseudonymous references and case facts: the store is encrypted at rest,
    # with a key the pod receives from a Secret (a key written in the file would sit in a
    # ConfigMap, readable by anyone who can read the namespace's configuration).
    key = re.search(r"^\s*(?:key|ek|encryption_key)\s*:\s*(\S+)\s*$", main, re.M)
    if not re.search(r"^\s*cipher:\s*(chachapoly|aes)\s*$", main, re.M) or not key:
        problems.append("nats.conf: JetStream must be encrypted at rest (cipher and key)")
    elif not key.group(1).startswith("$"):
        problems.append("nats.conf: the encryption key must come from the environment ($JS_KEY), not the file")
    if sts[0]["spec"].get("replicas") != 3:
        problems.append(f"StatefulSet/nats: {sts[0]['spec'].get('replicas')} replicas, JetStream R3 needs 3")

    container = sts[0]["spec"]["template"]["spec"]["containers"][0]
    defined = {e["name"] for e in container.get("env", [])}
    needed = set()
    for text in files.values():
        needed |= referenced_variables(text)
    for var in sorted(needed - defined):
        problems.append(f"StatefulSet/nats: the configuration uses ${var}, the container does not set it")

    # Let the server itself parse it, paths moved into a scratch directory.
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            text = text.replace("/data/jetstream", f"{tmp}/jetstream").replace("/var/run/nats/", f"{tmp}/")
            pathlib.Path(tmp, name).write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
        env.update({var: f"nats://route:x@nats-{i}:6222" if var.startswith("NATS_ROUTE_") and var[-1].isdigit()
                    else "placeholder" for i, var in enumerate(sorted(needed))})
        run = subprocess.run(
            [nats_server, "-c", str(pathlib.Path(tmp, "nats.conf")), "-t"],
            capture_output=True, text=True, env=env, cwd=tmp,
        )
        if run.returncode != 0:
            problems.append(f"nats-server -t rejects the configuration: {(run.stderr or run.stdout).strip()}")
    return problems
