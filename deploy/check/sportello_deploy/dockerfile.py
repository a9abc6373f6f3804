"""deploy/Dockerfile against the services' source: one stage per service, named after
it, copying its binary, exposing its ports and starting it; and the build command that
CI runs in place of `docker build` (there is no Docker engine here)."""

from __future__ import annotations

import dataclasses
import json
import re

from .source import Service

BUILD_MARKER = "deploy-check: the next RUN's cargo command"
EXPECTED_BUILD = "cargo build --release --locked --bins"


@dataclasses.dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        out.append((keyword.upper(), args.strip()))
        current = ""
    return out


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            if not m:
                raise ValueError(f"cannot read FROM {args}")
            result.append(Stage(m[1], m[2]))
        elif result:
            result[-1].instructions.append((keyword, args))
    return result


def build_command(text: str) -> str:
    """The cargo command of the RUN after the marker comment (what CI runs)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if BUILD_MARKER in line:
            rest = "\n".join(lines[i + 1 :])
            for keyword, args in instructions(rest):
                if keyword == "RUN":
                    m = re.search(r"(cargo build[^&;|]*)", args)
                    if m:
                        return " ".join(m[1].split())
            break
    raise ValueError(f"no `# {BUILD_MARKER}` comment followed by a RUN with `cargo build`")


def check_command(build: str) -> str:
    """The build command as `cargo check`: the same flags, profile and lockfile, type-checked
    without code generation. `make test` runs it: the debug build already links every
    binary, and the release build's code generation takes a quarter of an hour on two cores
    (`make image-build` and `make bench` still run the whole of it)."""
    if not build.startswith("cargo build"):
        raise ValueError(f"not a cargo build command: {build}")
    return "cargo check" + build[len("cargo build"):]


def check(text: str, services: dict[str, Service]) -> list[str]:
    problems = []
    by_name = {s.name: s for s in stages(text)}
    try:
        command = build_command(text)
        if command != EXPECTED_BUILD:
            problems.append(f"Dockerfile builds with `{command}`, CI expects `{EXPECTED_BUILD}`")
    except ValueError as e:
        problems.append(f"Dockerfile: {e}")

    def inherited(stage: Stage, keyword: str) -> list[str]:
        """Values of `keyword` in the stage or the stages it is built FROM."""
        values, seen = [], set()
        while stage is not None and stage.name not in seen:
            seen.add(stage.name)
            values = stage.all(keyword) + values
            stage = by_name.get(stage.base)
        return values

    for name, svc in services.items():
        stage = by_name.get(name)
        if stage is None:
            problems.append(f"Dockerfile: no stage `AS {name}`")
            continue
        where = f"Dockerfile stage {name}"
        binary = f"/usr/local/bin/{svc.binary}"
        copies = [c for c in stage.all("COPY") if c.startswith("--from=") and c.endswith(f" {binary}")]
        if not copies or f"/{svc.binary} " not in copies[0]:
            problems.append(f"{where}: does not COPY {svc.binary} to {binary}")
        # A production image holds its service and nothing else: the demo seeder (known
        # passwords, a demo API key) and the developer tools stay out of it.
        for extra in inherited(stage, "COPY"):
            if extra.startswith("--from=build ") and not extra.endswith(f" {binary}"):
                problems.append(f"{where}: copies another program into the image: COPY {extra}")
        exposed = set()
        for args in inherited(stage, "EXPOSE"):
            exposed |= {int(p.split("/")[0]) for p in args.split()}
        if exposed != set(svc.ports.values()):
            problems.append(f"{where}: EXPOSE {sorted(exposed)}, the source listens on {sorted(svc.ports.values())}")
        entry = inherited(stage, "ENTRYPOINT")
        if not entry or json.loads(entry[-1]) != [binary]:
            problems.append(f"{where}: ENTRYPOINT {entry[-1] if entry else None}, want [\"{binary}\"]")
        users = inherited(stage, "USER")
        uid = users[-1].split(":")[0] if users else "0"
        if uid in ("0", "root"):
            problems.append(f"{where}: runs as root (no USER, or USER 0)")
    return problems
