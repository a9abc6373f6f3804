"""Facts about the services, read from their Rust source.

The manifests and the Dockerfile must agree with what the binaries do. Rather than
copying ports by hand, the checks read them from where the code states them: each
service's `ServiceSpec` (`services/<name>/src/lib.rs`), its `[[bin]]` name
(`Cargo.toml`) and the environment variables it cannot start without
(`env.required("…"`, here and in the kit). The NATS permissions are not read here: the
kit derives them from the spec in Rust, and `sportello-nats-auth` renders them
(generate.py).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

# Services that keep a domain's truth; they may call routing and registry (DESIGN.md).
DOMAIN_SERVICES = ("registry", "education", "suap", "mobility", "urp")


@dataclasses.dataclass(frozen=True)
class Stream:
    """A JetStream stream a service owns: `<PREFIX>_<PART>` over `<prefix>.<subject>`."""

    part: str
    subjects: tuple[str, ...]

    def name(self, prefix: str) -> str:
        return f"{prefix}_{self.part}".upper()


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    binary: str
    grpc: int
    metrics: int
    http: int
    serves_http: bool
    streams: tuple[Stream, ...]
    # Variables the service reads with `env.required("NAME", …)`, its own and the kit's:
    # NAME → where each read is (`path:line`). See `required_env`.
    required_env: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # `env.required(<not a literal>, …)` reads whose names this reader cannot know.
    unresolved_env: tuple[str, ...] = ()

    @property
    def ports(self) -> dict[str, int]:
        """The ports the service listens on, by the name the manifests give them."""
        ports = {"grpc": self.grpc, "metrics": self.metrics}
        if self.serves_http:
            ports["http"] = self.http
        return ports


class SourceError(Exception):
    """The source no longer looks the way this reader expects: fix the reader."""


_SPEC = re.compile(r"pub static SPEC: ServiceSpec = ServiceSpec \{(?P<body>.*?)\n\};", re.S)
_PORTS = re.compile(
    r"ports:\s*DefaultPorts\s*\{\s*grpc:\s*(?P<grpc>\d+),\s*metrics:\s*(?P<metrics>\d+),"
    r"\s*http:\s*(?P<http>\d+),?\s*\}",
    re.S,
)
_NAME = re.compile(r'^\s*name:\s*"(?P<name>[a-z_]+)"', re.M)
_STREAM = re.compile(
    r'StreamSpec\s*\{\s*part:\s*"(?P<part>[a-z_]+)",\s*subjects:\s*&\[(?P<subjects>[^\]]*)\]', re.S
)
_SERVES_HTTP = re.compile(r"serves_http:\s*(?P<value>true|false)")
_STRING = re.compile(r'"([^"]*)"')
_BIN = re.compile(r'\[\[bin\]\]\s*name\s*=\s*"(?P<name>[^"]+)"')

def _strings(text: str) -> tuple[str, ...]:
    return tuple(_STRING.findall(text))


def parse_spec(lib_rs: str, cargo_toml: str, crate_sources: list[str], where: str) -> Service:
    """One service from its `lib.rs` and `Cargo.toml` (`crate_sources`: all its `.rs`
    files, kept for readers that need them)."""
    spec = _SPEC.search(lib_rs)
    if not spec:
        raise SourceError(f"{where}: no `pub static SPEC: ServiceSpec = ServiceSpec {{ … }};`")
    body = spec["body"]
    name, ports, serves = _NAME.search(body), _PORTS.search(body), _SERVES_HTTP.search(body)
    if not (name and ports and serves):
        raise SourceError(f"{where}: SPEC lacks name, DefaultPorts {{ grpc, metrics, http }} or serves_http")
    streams = tuple(Stream(m["part"], _strings(m["subjects"])) for m in _STREAM.finditer(body))
    binary = _BIN.search(cargo_toml)
    if not binary:
        raise SourceError(f"{where}: Cargo.toml has no [[bin]] name")
    return Service(
        name=name["name"],
        binary=binary["name"],
        grpc=int(ports["grpc"]),
        metrics=int(ports["metrics"]),
        http=int(ports["http"]),
        serves_http=serves["value"] == "true",
        streams=streams,
    )


# --- required environment variables ---------------------------------------------------
#
# What a service cannot start without is what it reads with the kit's
# `Env::required(name, hint)` (services/kit/src/config.rs): a missing or empty variable
# ends the process with exit 2 before it serves anything. So the reader collects, from the
# service crate's source plus the kit's (every service runs `ServiceConfig::from_env`),
# every `env.required("NAME"` and the check demands that the Deployment sets NAME.
# Deliberately simple, and its limits:
# - only a string literal as the first argument is understood (`env.required("X", …)`,
#   with or without a turbofish, across lines). A name computed at run time, such as the
#   gateway's `env.required(var, …)` over its `PEERS` table, cannot be read: such reads
#   are listed in `unresolved_env` (`deploy-check` prints them) and must be covered by
#   another check (the gateway's peers are: `checks.check_config`);
# - the receiver must be called `env` (`env.required`, `self.env.required`), as
#   everywhere in the workspace;
# - every such read counts as unconditional: a `required` inside an `if` is demanded
#   anyway (the safe side). `optional`, `or`, `port_or`, `duration_or` and `raw` reads
#   have a default and are not demanded;
# - test code is skipped by cutting each file at its `#[cfg(test)] mod …` (the
#   workspace's convention: test modules last), and so are whole-line `//` comments and
#   other binaries of the crate (`src/bin/`, e.g. the registry's synth tool): the
#   Deployment runs the `src/main.rs` binary;
# - the whole kit is read, not only config.rs: a kit module that requires a variable
#   only for some services would be demanded of all (again the safe side).

_ENV_REQUIRED = re.compile(
    r'\benv\s*\.\s*required\s*(?:::\s*<[^()]*?>\s*)?\(\s*(?:"(?P<name>[^"\\]*)"|(?P<other>[^\s,)]+))'
)
_TEST_MODULE = re.compile(r"^\s*#\[cfg\(test\)\]\s*\n\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", re.M)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _without_tests_and_comments(rust: str) -> str:
    """`rust` cut at its test module, whole-line comments blanked (line numbers kept)."""
    test = _TEST_MODULE.search(rust)
    if test:
        rust = rust[: test.start()]
    return "\n".join("" if line.lstrip().startswith("//") else line for line in rust.split("\n"))


def required_env(sources: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """From `{where: rust source}`: the variables read with `env.required("NAME"`, each
    with the `where:line`s that read it, and the `where:line`s whose name is not a literal."""
    names: dict[str, list[str]] = {}
    unresolved: list[str] = []
    for where, rust in sources.items():
        text = _without_tests_and_comments(rust)
        for m in _ENV_REQUIRED.finditer(text):
            at = f"{where}:{text.count(chr(10), 0, m.start()) + 1}"
            name = m["name"]
            if name is not None and _ENV_NAME.fullmatch(name):
                names.setdefault(name, []).append(at)
            else:
                unresolved.append(f"{at} env.required({m['other'] or repr(name)}, …)")
    return names, unresolved


def _rust_files(crate: pathlib.Path, root: pathlib.Path) -> dict[str, str]:
    """The crate's library and main binary source (not `src/bin/`), by path from `root`."""
    src = crate / "src"
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(src.rglob("*.rs"))
        if (src / "bin") not in p.parents
    }


def read_services(root: pathlib.Path) -> dict[str, Service]:
    """Every crate under services/ whose lib.rs declares a `ServiceSpec`, by name."""
    services = {}
    kit = root / "services/kit"
    kit_files = _rust_files(kit, root) if kit.is_dir() else {}
    kit_required, kit_unresolved = required_env(kit_files)
    if not kit_required:
        # Every service needs at least DATABASE_URL and NATS_URL from the kit.
        raise SourceError(f"{kit}: no env.required(\"…\") found; the reader no longer understands the kit")
    for lib in sorted(root.glob("services/*/src/lib.rs")):
        text = lib.read_text()
        if "ServiceSpec = ServiceSpec" not in text:
            continue  # the kit, the PA rules library
        crate = lib.parent.parent
        sources = [p.read_text() for p in sorted((crate / "src").rglob("*.rs"))]
        service = parse_spec(text, (crate / "Cargo.toml").read_text(), sources, str(crate))
        own, unresolved = required_env(_rust_files(crate, root))
        merged = {name: list(at) for name, at in kit_required.items()}
        for name, at in own.items():
            merged.setdefault(name, []).extend(at)
        service = dataclasses.replace(
            service,
            required_env=tuple((name, tuple(merged[name])) for name in sorted(merged)),
            unresolved_env=tuple(kit_unresolved + unresolved),
        )
        services[service.name] = service
    if not services:
        raise SourceError(f"no ServiceSpec found under {root}/services")
    return services
