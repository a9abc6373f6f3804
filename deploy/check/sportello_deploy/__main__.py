"""`python -m sportello_deploy check|generate|build-command|check-command` (run by `make deploy-check`,
`make deploy-gen` and the image-build step)."""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import time

import yaml

from . import checks, dockerfile, generate, natsconf, schemas, source

ROOT = pathlib.Path(__file__).resolve().parents[3]
OVERLAYS = ("dev", "prod")


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        sys.exit(f"deploy-check: {name} not found on PATH (make deploy-check installs it)")
    return path


def render(overlay: str) -> list[dict]:
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(ROOT / "deploy/overlays" / overlay)],
        check=True, capture_output=True, text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def section(title: str, problems: list[str], failures: list[str], detail: str = "") -> None:
    status = "ok" if not problems else f"{len(problems)} problem(s)"
    print(f"  {title:<64} {status}{'  ' + detail if detail and not problems else ''}")
    for p in problems:
        print(f"      ✗ {p}")
    failures += problems


def check() -> int:
    started = time.monotonic()
    failures: list[str] = []
    skipped: list[str] = []
    services = source.read_services(ROOT)
    print(f"deploy-check: {len(services)} services in the source: {', '.join(sorted(services))}")

    section("generated manifests match the source (make deploy-gen)", generate.stale(ROOT), failures)
    docker = (ROOT / "deploy/Dockerfile").read_text()
    section("Dockerfile stages: binary, EXPOSE, ENTRYPOINT, USER", dockerfile.check(docker, services), failures)
    lint = subprocess.run([tool("hadolint"), str(ROOT / "deploy/Dockerfile")], capture_output=True, text=True)
    section("hadolint deploy/Dockerfile", lint.stdout.splitlines() if lint.returncode else [], failures)
    collector = yaml.safe_load((ROOT / "deploy/base/otel-collector/config.yaml").read_text())
    section("collector pipelines name defined components", checks.check_collector_config(collector), failures)

    for overlay in OVERLAYS:
        print(f"overlay {overlay}:")
        try:
            objects = render(overlay)
        except subprocess.CalledProcessError as e:
            section("kubectl kustomize", [e.stderr.strip()], failures)
            continue
        builtin = [o for o in objects if schemas.is_builtin(o)]
        section(
            f"built-in kinds, kubernetes-validate --strict {' and '.join(schemas.versions())}",
            schemas.validate_builtin(objects), failures, f"({len(builtin)} objects)",
        )
        crd_problems, crd_skipped = schemas.validate_custom(objects)
        custom = len(objects) - len(builtin)
        section("custom resources against their published types", crd_problems, failures,
                f"({custom - len(crd_skipped)} checked, {len(crd_skipped)} skipped)")
        skipped += [f"{overlay}: {s}" for s in crd_skipped]
        section("workloads: probes, resources, non-root, PDB, NetworkPolicy",
                checks.check_workloads(objects), failures)
        section("services: ports, entrypoints, HTTP probes, shutdown, HPA",
                checks.check_services(services, objects), failures)
        unresolved = sorted({u for s in services.values() for u in s.unresolved_env})
        section("environment: env.required variables, peer URLs, verify URL",
                checks.check_env(services, objects), failures,
                f"(not understood: {'; '.join(unresolved)})" if unresolved else "")
        section("mutual TLS: cert-manager certificates, mounted, named as the kit reads",
                checks.check_trust(services, objects), failures)
        section("PostgreSQL: owner migrates, service role apart, TLS (verify-full in prod)",
                checks.check_database(services, objects, require_tls=overlay == "prod"), failures)
        section("network: default deny, exactly the architecture's calls",
                checks.check_network(services, objects), failures)
        section("configuration: NATS prefix and replicas, peers, connections",
                checks.check_config(services, objects, generate.PREFIX), failures)
        section("NATS configuration (nats-server -t, variables, R3, fsync)",
                natsconf.check(objects, tool("nats-server")), failures)

    for s in skipped:
        print(f"  skipped: {s}")
    took = time.monotonic() - started
    print(f"deploy-check: {'FAILED' if failures else 'passed'}: {len(failures)} problem(s), "
          f"{len(skipped)} skipped, {took:.1f} s")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="sportello_deploy")
    parser.add_argument("command", choices=["check", "generate", "build-command", "check-command"])
    args = parser.parse_args()
    if args.command == "check":
        return check()
    if args.command == "generate":
        for path in generate.write(ROOT):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    command = dockerfile.build_command((ROOT / "deploy/Dockerfile").read_text())
    if args.command == "check-command":
        command = dockerfile.check_command(command)
    print(command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
