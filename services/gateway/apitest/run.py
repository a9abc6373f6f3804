"""The REST API's contract, checked against the running stack (deploy/local/stack.sh runs
it after the browser tests of `make test-ui`, against the same stack):

1. a client generated from the document completes the counter journey (journey.py);
2. schemathesis fuzzes the gateway as each role that has operations — kiosk,
   polivalente, back office, manager, admin — each run holding that role's operations
   (the document's `x-sportello-roles`), one run of the public operations and sign-in,
   one of sign-out with a session of its own.

Every session is opened before any fuzzing: the fuzzer's failed sign-ins trip the
sign-in limiter, as they should. Exits non-zero on any failure and ends with
"N passed, N failed".

Environment: SPORTELLO_URL, SPORTELLO_DEMO_PASSWORD, SPORTELLO_DEMO_FISCAL_CODE (from
stack.sh); SPORTELLO_FUZZ_EXCLUDE, operation ids to leave out (the Makefile lists each
with its reason); APITEST_REPORTS, where the JUnit reports go.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookies import SimpleCookie

import journey

HERE = pathlib.Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"

# The demo account each fuzzed role signs in as (services/gateway/src/demo.rs). The
# journey uses poli.bianchi and totem.civico; the browser tests, info.rossi and both
# polivalenti: the fuzzer's changes (presence, seats, parked cases) stay its own.
ROLES = {
    "kiosk": "totem.civico",
    "polivalente": "poli.verdi",
    "back_office": "bo.gialli",
    "manager": "resp.blu",
    "admin": "admin",
}
SIGN_OUT_ACCOUNT = "tec.neri"
# Public reads a role's pages start from: their links hand the fuzzer real site codes
# and service codes instead of names it could only guess.
STARTING_POINTS = {
    "kiosk": ["listSites", "listKioskServices"],
    "polivalente": ["listSites"],
    "back_office": ["listSites"],
}


def sign_in(url: str, username: str, password: str) -> tuple[str, str]:
    """(session cookie, CSRF token) of a fresh session."""
    request = urllib.request.Request(
        f"{url}/api/v1/session",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        body = json.load(reply)
        cookie = SimpleCookie(reply.headers["Set-Cookie"])["sportello_session"].value
    return cookie, body["csrf_token"]


def call(url: str, session: tuple[str, str], method: str, path: str, body: dict) -> dict:
    """One JSON request with a session (the fuzzer's starting state, not a test)."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"sportello_session={session[0]}",
            "X-CSRF-Token": session[1],
        },
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def prepare(url: str, sessions: dict[str, tuple[str, str]]) -> None:
    """Tickets waiting and the polivalente seated and available, so the fuzzer's
    stateful phase follows the links from "call next" into real cases."""
    site = "palazzo-civico"
    for service in ["urp.information", "mobility.ztl_permit", "social.information"] * 2:
        body = {"service_codes": [service]}
        call(url, sessions["kiosk"], "POST", f"/api/v1/sites/{site}/tickets", body)
    polivalente = sessions["polivalente"]
    call(url, polivalente, "POST", "/api/v1/console/seat", {"site_code": site, "counter_number": 6})
    call(url, polivalente, "POST", "/api/v1/console/presence", {"presence": "available"})


def operations(document: dict) -> tuple[list[str], dict[str, list[str]]]:
    """The public operations, and each role's, by operation id."""
    public, by_role = [], {role: [] for role in ROLES}
    for item in document["paths"].values():
        for op in item.values():
            if op.get("security") == []:
                public.append(op["operationId"])
            for role in op.get("x-sportello-roles", []):
                if role in by_role:
                    by_role[role].append(op["operationId"])
    return public, by_role


def linked(document: dict, ops: list[str]) -> bool:
    """Whether a link leads from one of `ops` to another (else no stateful phase)."""
    for item in document["paths"].values():
        for op in item.values():
            if op["operationId"] not in ops:
                continue
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    if link.get("operationId") in ops:
                        return True
    return False


def fuzz(
    url: str,
    source: str,
    name: str,
    ops: list[str],
    stateful: bool,
    session: tuple[str, str],
    reports: pathlib.Path,
) -> bool:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", source, "--url", url,
        "--report", "junit", "--report-junit-path", str(reports / f"{name}.xml"),
    ]
    if not stateful:
        command += ["--phases", "examples,coverage,fuzzing"]
    for op in ops:
        command += ["--include-operation-id", op]
    env = dict(os.environ, SPORTELLO_SESSION=session[0], SPORTELLO_CSRF=session[1])
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    (reports / f"{name}.txt").write_text(result.stdout + result.stderr)
    last = [line for line in result.stdout.splitlines() if line.strip()][-1:] or ["?"]
    line = f"fuzz {name:<12} {len(ops):>2} operations {seconds:5.1f} s  {last[0].strip('= ')}"
    if result.returncode != 0:
        line += "\n" + result.stdout[-20000:] + result.stderr[-5000:]
    return result.returncode == 0, line


def main() -> int:
    url = os.environ["SPORTELLO_URL"]
    password = os.environ["SPORTELLO_DEMO_PASSWORD"]
    excluded = set(os.environ.get("SPORTELLO_FUZZ_EXCLUDE", "").split())
    reports = pathlib.Path(os.environ.get("APITEST_REPORTS", "target/apitest"))
    reports.mkdir(parents=True, exist_ok=True)
    # Hypothesis's caches (Unicode tables) go with the reports, not into the checkout.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(reports / "hypothesis"))
    # The document the gateway serves; SPORTELLO_OPENAPI names a file instead (to try a
    # change of the document without rebuilding the gateway).
    source = os.environ.get("SPORTELLO_OPENAPI") or f"{url}/api/v1/openapi.json"
    if source.startswith("http"):
        with urllib.request.urlopen(source, timeout=30) as reply:
            document = json.load(reply)
    else:
        document = json.loads(pathlib.Path(source).read_text())
    public, by_role = operations(document)
    keep = lambda ops: [op for op in ops if op not in excluded and op != "signOut"]  # noqa: E731

    sessions = {role: sign_in(url, account, password) for role, account in ROLES.items()}
    sessions["sign-out"] = sign_in(url, SIGN_OUT_ACCOUNT, password)

    passed = failed = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sportello-client.") as into:
        try:
            journey.generate(source, pathlib.Path(into))
            summary = journey.journey(
                pathlib.Path(into), url, password, os.environ["SPORTELLO_DEMO_FISCAL_CODE"]
            )
            print(f"generated client: {summary} ({time.monotonic() - started:.1f} s)")
            passed += 1
        except Exception as error:  # the journey's failure is reported, the fuzzing still runs
            print(f"generated client: FAILED: {error!r}")
            failed += 1

    prepare(url, sessions)
    runs = [("public", keep(public), ("", ""))]
    runs += [
        (role, keep(STARTING_POINTS.get(role, []) + by_role[role]), sessions[role])
        for role in ROLES
        if role != "admin"
    ]
    if "signOut" not in excluded:
        runs.append(("sign-out", ["signOut"], sessions["sign-out"]))
    # Last: the administrator's run changes accounts, its own included (the fuzzer
    # reuses the ids it reads), so nothing may depend on them afterwards.
    runs.append(("admin", keep(by_role["admin"]), sessions["admin"]))
    def one(run):
        name, ops, session = run
        return fuzz(url, source, name, ops, linked(document, ops), session, reports)

    # Two runs at a time (each a single worker: CPython 3.11's ast is not safe across
    # the threads of one schemathesis process); the administrator's alone, last.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, runs[:-1]))
    results.append(one(runs[-1]))
    for ok, line in results:
        print(line)
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"API checks: {time.monotonic() - started:.1f} s; reports in {reports}")
    print(f"api: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
