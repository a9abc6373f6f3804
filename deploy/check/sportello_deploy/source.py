"""Facts about the services, read from their Rust source.

The manifests, the Dockerfile and the NATS permissions must agree with what the binaries
do. Rather than copying ports and subjects by hand, the checks read them from where the
code states them: each service's `ServiceSpec` (`services/<name>/src/lib.rs`), its
`[[bin]]` name (`Cargo.toml`) and the `ConsumerSpec`s it registers.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

# The kit's dead-letter stream, which every service creates or updates at start
# (services/kit/src/nats.rs, DEAD_LETTER_STREAM).
DEAD_LETTER_PART = "deadletter"

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
class Consumer:
    """A durable pull consumer: `<service>-<name>` on the stream of `stream_part`."""

    service: str
    name: str
    stream_part: str
    subjects: tuple[str, ...]

    @property
    def durable(self) -> str:
        return f"{self.service}-{self.name}"


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    binary: str
    grpc: int
    metrics: int
    http: int
    serves_http: bool
    streams: tuple[Stream, ...]
    consumers: tuple[Consumer, ...]

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
_CONSUMER_NEW = re.compile(
    r'ConsumerSpec::new\(\s*"(?P<name>[^"]+)",\s*"(?P<part>[^"]+)",\s*&\[(?P<subjects>[^\]]*)\]', re.S
)
_CONSUMER_LITERAL = re.compile(
    r'ConsumerSpec\s*\{\s*name:\s*"(?P<name>[^"]+)",\s*stream_part:\s*"(?P<part>[^"]+)",'
    r"\s*subjects:\s*&\[(?P<subjects>[^\]]*)\]",
    re.S,
)


def _strings(text: str) -> tuple[str, ...]:
    return tuple(_STRING.findall(text))


def consumers_in(service: str, rust: str) -> list[Consumer]:
    """The `ConsumerSpec`s written in `rust` (both the `new` and the literal form)."""
    found = []
    for pattern in (_CONSUMER_NEW, _CONSUMER_LITERAL):
        for m in pattern.finditer(rust):
            found.append(Consumer(service, m["name"], m["part"], _strings(m["subjects"])))
    return found


def parse_spec(lib_rs: str, cargo_toml: str, crate_sources: list[str], where: str) -> Service:
    """One service from its `lib.rs`, `Cargo.toml` and all its `.rs` files."""
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
    consumers = []
    for rust in crate_sources:
        found = consumers_in(name["name"], rust)
        written = len(re.findall(r"ConsumerSpec::new\(|ConsumerSpec\s*\{", rust))
        if written != len(found):
            # A consumer the reader cannot see would get no NATS permission: fail loudly.
            raise SourceError(
                f"{where}: {written} ConsumerSpec(s) written, {len(found)} understood; "
                "write them with literal name, stream_part and subjects"
            )
        consumers.extend(found)
    return Service(
        name=name["name"],
        binary=binary["name"],
        grpc=int(ports["grpc"]),
        metrics=int(ports["metrics"]),
        http=int(ports["http"]),
        serves_http=serves["value"] == "true",
        streams=streams,
        consumers=tuple(sorted(set(consumers), key=lambda c: c.durable)),
    )


def read_services(root: pathlib.Path) -> dict[str, Service]:
    """Every crate under services/ whose lib.rs declares a `ServiceSpec`, by name."""
    services = {}
    for lib in sorted(root.glob("services/*/src/lib.rs")):
        text = lib.read_text()
        if "ServiceSpec = ServiceSpec" not in text:
            continue  # the kit, the PA rules library
        crate = lib.parent.parent
        sources = [p.read_text() for p in sorted((crate / "src").rglob("*.rs"))]
        service = parse_spec(text, (crate / "Cargo.toml").read_text(), sources, str(crate))
        services[service.name] = service
    if not services:
        raise SourceError(f"no ServiceSpec found under {root}/services")
    return services
