"""Reading the Rust source, the Dockerfile, the NATS permissions and the schema checks."""

from __future__ import annotations

import copy
import os
import pathlib
import shutil
import tempfile
import unittest

import yaml

from sportello_deploy import dockerfile, generate, natsconf, schemas, source

ROOT = pathlib.Path(__file__).resolve().parents[3]
# The NATS users are rendered by the built binaries, this checkout's also for copies of the source.
os.environ.setdefault("SPORTELLO_BIN_DIR", str(generate.bin_dir(ROOT)))
SERVICES = source.read_services(ROOT)
DOCKERFILE = (ROOT / "deploy/Dockerfile").read_text()

LIB_RS = """
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "canteen",
    ports: DefaultPorts {
        grpc: 50099,
        metrics: 9199,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "canteen",
        subjects: &["canteen.>", "meal.>"],
    }],
    serves_http: false,
};
"""
CARGO = '[package]\nname = "sportello-canteen"\n\n[[bin]]\nname = "sportello-canteen"\npath = "src/main.rs"\n'


class ReadingTheSource(unittest.TestCase):
    def test_the_seven_services(self):
        self.assertEqual(
            sorted(SERVICES), ["education", "gateway", "mobility", "registry", "routing", "suap", "urp"]
        )
        self.assertEqual(SERVICES["routing"].ports, {"grpc": 50051, "metrics": 9101})
        self.assertEqual(SERVICES["gateway"].ports, {"grpc": 50057, "metrics": 9107, "http": 8080})
        self.assertEqual(SERVICES["urp"].binary, "sportello-urp")
        self.assertIn("case.>", SERVICES["routing"].streams[0].subjects)

    def test_a_spec(self):
        svc = source.parse_spec(LIB_RS, CARGO, [LIB_RS], "canteen")
        self.assertEqual((svc.grpc, svc.metrics, svc.serves_http), (50099, 9199, False))
        self.assertEqual(svc.streams[0].name("sportello"), "SPORTELLO_CANTEEN")

    def test_spec_without_ports_is_an_error(self):
        with self.assertRaises(source.SourceError):
            source.parse_spec(LIB_RS.replace("ports: DefaultPorts", "ports: PORTS, _x: X"), CARGO, [], "x")


class RequiredVariables(unittest.TestCase):
    def test_read_from_the_service_and_the_kit(self):
        registry = dict(SERVICES["registry"].required_env)
        self.assertTrue({"DATABASE_URL", "NATS_URL", "PSEUDONYM_KEY"} <= set(registry), registry)
        self.assertTrue(registry["PSEUDONYM_KEY"][0].startswith("services/registry/src/config.rs:"))
        self.assertTrue(registry["DATABASE_URL"][0].startswith("services/kit/src/config.rs:"))
        # Optional reads (or, optional, duration_or, raw) are not required.
        routing = dict(SERVICES["routing"].required_env)
        self.assertNotIn("CATALOGUE_SEED", routing)
        self.assertNotIn("HEARTBEAT_TIMEOUT", routing)
        self.assertNotIn("ROUTING_URL", registry)

    def test_what_counts(self):
        rust = """
/// Example: `env.required("NOT_IN_DOCS", "…")`.
fn from_env(env: &Env) -> Result<Config, ConfigError> {
    let key: String = env.required("SESSION_KEY", "hint")?;
    let n = self.env
        .required::<u32>(
            "WORKERS",
            "how many",
        )?;
    // env.required("NOR_COMMENTED", "x")
    let url: String = env.required(var, "a peer's URL")?;
    let maybe: Option<String> = env.optional("OPTIONAL_ONE")?;
    let d = env.duration_or("WITH_DEFAULT", Duration::from_secs(1))?;
}

#[cfg(test)]
mod tests {
    fn t() { let _ = env.required("ONLY_IN_TESTS", "x"); }
}
"""
        names, unresolved = source.required_env({"lib.rs": rust})
        self.assertEqual(names, {"SESSION_KEY": ["lib.rs:4"], "WORKERS": ["lib.rs:5"]})
        self.assertEqual(unresolved, ["lib.rs:11 env.required(var, …)"])

    def test_other_binaries_are_not_the_service(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            (root / "c/src/bin").mkdir(parents=True)
            (root / "c/src/main.rs").write_text('let a: String = env.required("MAIN", "")?;')
            (root / "c/src/bin/tool.rs").write_text('let b: String = env.required("TOOL", "")?;')
            self.assertEqual(list(source.required_env(source._rust_files(root / "c", root))[0]), ["MAIN"])


class TheDockerfile(unittest.TestCase):
    def test_agrees_with_the_source(self):
        self.assertEqual(dockerfile.check(DOCKERFILE, SERVICES), [])
        self.assertEqual(dockerfile.build_command(DOCKERFILE), "cargo build --release --locked --bins")
        self.assertEqual(dockerfile.check_command(dockerfile.build_command(DOCKERFILE)),
                         "cargo check --release --locked --bins")

    def test_exposed_port_drift(self):
        text = DOCKERFILE.replace("EXPOSE 50053 9103", "EXPOSE 50053 9100")
        self.assertIn(
            "Dockerfile stage education: EXPOSE [9100, 50053], the source listens on [9103, 50053]",
            dockerfile.check(text, SERVICES),
        )

    def test_wrong_entrypoint(self):
        text = DOCKERFILE.replace('ENTRYPOINT ["/usr/local/bin/sportello-suap"]', 'ENTRYPOINT ["/usr/local/bin/sportello-urp"]')
        self.assertTrue(any(p.startswith("Dockerfile stage suap: ENTRYPOINT") for p in dockerfile.check(text, SERVICES)))

    def test_root_user(self):
        text = DOCKERFILE.replace("USER 65532:65532", "USER 0")
        self.assertIn("Dockerfile stage routing: runs as root (no USER, or USER 0)", dockerfile.check(text, SERVICES))

    def test_the_demo_seeder_stays_out_of_the_images(self):
        text = DOCKERFILE.replace(
            "COPY --from=build /out/sportello-gateway /usr/local/bin/sportello-gateway",
            "COPY --from=build /out/sportello-gateway /usr/local/bin/sportello-gateway\n"
            "COPY --from=build /out/sportello-demo /usr/local/bin/sportello-demo",
        )
        self.assertIn(
            "Dockerfile stage gateway: copies another program into the image: "
            "COPY --from=build /out/sportello-demo /usr/local/bin/sportello-demo",
            dockerfile.check(text, SERVICES),
        )

    def test_missing_stage_and_other_build(self):
        text = DOCKERFILE.replace("AS mobility", "AS mobilita").replace("--locked --bins", "--bins")
        found = dockerfile.check(text, SERVICES)
        self.assertIn("Dockerfile: no stage `AS mobility`", found)
        self.assertTrue(any("CI expects" in p for p in found), found)


class NatsPermissions(unittest.TestCase):
    """What the kit's sportello-nats-auth renders from the built services (the Rust
    derivation itself is tested in services/kit/tests/nats_auth.rs)."""

    @classmethod
    def setUpClass(cls):
        text = generate.nats_auth(SERVICES, generate.bin_dir(ROOT))
        # Each user's block, by name: from `user: X` to the next user.
        cls.users = {}
        for block in text.split("        user: ")[1:]:
            name, _, rest = block.partition("\n")
            cls.users[name] = rest

    def test_a_service_may_touch_only_its_own_subjects(self):
        registry = self.users["registry"]
        self.assertIn('"sportello.registry.>"', registry)
        self.assertIn('"sportello.deadletter.registry.>"', registry)
        self.assertIn('"$JS.API.STREAM.UPDATE.SPORTELLO_REGISTRY"', registry)
        self.assertIn('"_INBOX.registry.>"', registry)
        self.assertNotIn("sportello.case.>", registry)
        self.assertNotIn('"_INBOX.>"', registry)
        # On routing's stream: its own durable consumer of its work events, nothing more.
        self.assertIn('"$JS.ACK.SPORTELLO_ROUTING.registry-registry-work.>"', registry)
        for line in registry.splitlines():
            if "SPORTELLO_ROUTING" in line:
                self.assertTrue(
                    "registry-registry-work" in line or "STREAM.INFO" in line,
                    f"the registry may read only its own consumer on routing's stream: {line.strip()}",
                )
        self.assertNotIn("STREAM.UPDATE.SPORTELLO_ROUTING", registry)
        self.assertNotIn('"sportello.routing.>"', registry)

    def test_routing_reads_its_own_view_and_the_departments_work(self):
        routing = self.users["routing"]
        # Its ordered consumer on its own stream.
        self.assertIn('"$JS.API.CONSUMER.CREATE.SPORTELLO_ROUTING"', routing)
        self.assertIn('"$JS.API.CONSUMER.MSG.NEXT.SPORTELLO_ROUTING.*"', routing)
        # A durable consumer of a department's work, with its acks.
        self.assertIn('"$JS.API.CONSUMER.CREATE.SPORTELLO_REGISTRY.routing-work-registry.>"', routing)
        self.assertIn('"$JS.ACK.SPORTELLO_URP.routing-work-urp.>"', routing)
        self.assertNotIn('"sportello.registry.>"', routing)
        self.assertNotIn("$JS.API.STREAM.UPDATE.SPORTELLO_REGISTRY", routing)

    def test_the_gateway_hears_the_case_events_for_its_boards(self):
        gateway = self.users["gateway"]
        subscribe = gateway.split("subscribe:")[1]
        self.assertIn('"sportello.case.>"', subscribe)
        self.assertNotIn('"sportello.case.>"', gateway.split("subscribe:")[0])

    def test_variables_of_the_config(self):
        text = 'password: $NATS_PASSWORD_X # $NOT_THIS\nroutes: [\n  $NATS_ROUTE_0\n]\nname: "$NOR_THIS"\n'
        self.assertEqual(natsconf.referenced_variables(text), {"NATS_PASSWORD_X", "NATS_ROUTE_0"})


class Generation(unittest.TestCase):
    def test_a_new_service_makes_the_manifests_stale(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            for lib in ROOT.glob("services/*/src/lib.rs"):
                crate = lib.parent.parent
                shutil.copytree(crate / "src", root / crate.relative_to(ROOT) / "src")
                shutil.copy(crate / "Cargo.toml", root / crate.relative_to(ROOT) / "Cargo.toml")
            generate.write(root)
            self.assertEqual(generate.stale(root), [])
            (root / "services/canteen/src").mkdir(parents=True)
            (root / "services/canteen/src/lib.rs").write_text(LIB_RS)
            (root / "services/canteen/Cargo.toml").write_text(CARGO)
            stale = generate.stale(root)
            # Its NATS user needs its binary: the check says so rather than guess.
            self.assertTrue(any("sportello-canteen" in p for p in stale), stale)
            (root / "services/canteen/src/lib.rs").unlink()
            (root / "services/canteen/Cargo.toml").unlink()
            (root / "deploy/base/nats/auth.conf").write_text("# edited by hand\n")
            stale = generate.stale(root)
            self.assertIn("deploy/base/nats/auth.conf is stale: run `make deploy-gen`", stale)


class Schemas(unittest.TestCase):
    def deployment(self) -> dict:
        docs = yaml.safe_load_all(generate.service_manifests(SERVICES["urp"], SERVICES))
        return next(d for d in docs if d and d["kind"] == "Deployment")

    def test_a_generated_deployment_is_valid(self):
        self.assertEqual(schemas.validate_builtin([self.deployment()]), [])

    def test_an_unknown_field_is_rejected(self):
        d = self.deployment()
        d["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
        found = schemas.validate_builtin([d])
        self.assertTrue(found and all("readinesProbe" in p for p in found), found)

    def test_a_wrong_type_is_rejected(self):
        d = self.deployment()
        d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "45s"
        self.assertTrue(schemas.validate_builtin([d]))

    @unittest.skipUnless(shutil.which("node"), "node is not installed")
    def test_custom_resources(self):
        cluster = yaml.safe_load((ROOT / "deploy/base/postgres/cluster.yaml").read_text())
        self.assertEqual(schemas.validate_custom([cluster]), ([], []))
        typo = copy.deepcopy(cluster)
        typo["spec"]["instancez"] = 3
        problems, _ = schemas.validate_custom([typo])
        self.assertTrue(any("instancez" in p for p in problems), problems)
        wrong = copy.deepcopy(cluster)
        wrong["spec"]["primaryUpdateStrategy"] = "whenever"
        problems, _ = schemas.validate_custom([wrong])
        self.assertTrue(problems, "an enum violation must be reported")
        store = {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": "s"}}
        problems, skipped = schemas.validate_custom([store])
        self.assertEqual(problems, [])
        self.assertTrue(skipped and "skipped" in skipped[0], skipped)


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(shutil.which("nats-server"), "nats-server is not on PATH (make deploy-check puts it there)")
class NatsConfiguration(unittest.TestCase):
    def objects(self) -> list[dict]:
        nats = ROOT / "deploy/base/nats"
        sts = yaml.safe_load((nats / "statefulset.yaml").read_text())
        patch = yaml.safe_load((nats / "user-passwords.yaml").read_text())
        sts["spec"]["template"]["spec"]["containers"][0]["env"] += patch["spec"]["template"]["spec"]["containers"][0]["env"]
        config = {
            "kind": "ConfigMap",
            "metadata": {"name": "nats-config-abcde12345"},
            "data": {n: (nats / n).read_text() for n in ("nats.conf", "auth.conf")},
        }
        return [sts, config]

    def test_the_configuration_is_accepted(self):
        self.assertEqual(natsconf.check(self.objects(), shutil.which("nats-server")), [])

    def test_a_password_the_servers_do_not_get(self):
        objects = self.objects()
        env = objects[0]["spec"]["template"]["spec"]["containers"][0]["env"]
        env[:] = [e for e in env if e["name"] != "NATS_PASSWORD_URP"]
        self.assertIn(
            "StatefulSet/nats: the configuration uses $NATS_PASSWORD_URP, the container does not set it",
            natsconf.check(objects, shutil.which("nats-server")),
        )

    def test_no_encryption_at_rest_or_a_key_in_the_file(self):
        objects = self.objects()
        data = objects[1]["data"]
        encrypted = data["nats.conf"]
        data["nats.conf"] = encrypted.replace("cipher: chachapoly", "")
        self.assertIn(
            "nats.conf: JetStream must be encrypted at rest (cipher and key)",
            natsconf.check(objects, shutil.which("nats-server")),
        )
        data["nats.conf"] = encrypted.replace("$JS_KEY", '"0123456789abcdef0123456789abcdef"')
        found = natsconf.check(objects, shutil.which("nats-server"))
        self.assertIn("nats.conf: the encryption key must come from the environment ($JS_KEY), not the file", found)

    def test_no_fsync_and_a_broken_file(self):
        objects = self.objects()
        data = objects[1]["data"]
        data["nats.conf"] = data["nats.conf"].replace("sync_interval: always", "sync_interval: 2m")
        data["auth.conf"] = data["auth.conf"].replace("accounts {", "accounts {{", 1)
        found = natsconf.check(objects, shutil.which("nats-server"))
        self.assertIn("nats.conf: JetStream must fsync every write (sync_interval: always)", found)
        self.assertTrue(any(p.startswith("nats-server -t rejects") for p in found), found)
