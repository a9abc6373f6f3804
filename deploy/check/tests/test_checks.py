"""The checks catch what they claim to: each test breaks one thing on purpose in the
generated manifests and expects the check to name it."""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import unittest

import yaml

from sportello_deploy import checks, generate, source

ROOT = pathlib.Path(__file__).resolve().parents[3]
SERVICES = source.read_services(ROOT)


def rendered() -> list[dict]:
    """The seven services' generated objects, the namespace's default deny, PostgreSQL's policy."""
    objects = []
    for name, svc in SERVICES.items():
        objects += [d for d in yaml.safe_load_all(generate.service_manifests(svc, SERVICES)) if d]
    for part in ("network/default-deny.yaml", "postgres/networkpolicy.yaml", "pki/issuers.yaml"):
        objects += [d for d in yaml.safe_load_all((ROOT / "deploy/base" / part).read_text()) if d]
    return objects


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def container(objects: list[dict], name: str) -> dict:
    return find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def problems(objects: list[dict]) -> list[str]:
    return (
        checks.check_workloads(objects)
        + checks.check_services(SERVICES, objects)
        + checks.check_network(SERVICES, objects)
        + checks.check_trust(SERVICES, objects)
        + checks.check_database(SERVICES, objects, require_tls=False)
    )


class GeneratedManifestsPass(unittest.TestCase):
    def test_no_problem(self):
        self.assertEqual(problems(rendered()), [])


class AServiceLackingSomethingFails(unittest.TestCase):
    def setUp(self):
        self.objects = rendered()

    def assertProblem(self, fragment: str):
        found = problems(self.objects)
        self.assertTrue(any(fragment in p for p in found), f"no problem mentions {fragment!r}: {found}")

    def test_without_readiness_probe(self):
        del container(self.objects, "education")["readinessProbe"]
        self.assertProblem("Deployment/education container education: no readinessProbe")

    def test_without_liveness_probe(self):
        del container(self.objects, "suap")["livenessProbe"]
        self.assertProblem("Deployment/suap container suap: no livenessProbe")

    def test_readiness_on_the_liveness_path(self):
        container(self.objects, "urp")["readinessProbe"]["httpGet"]["path"] = "/livez"
        self.assertProblem("Deployment/urp: readinessProbe asks '/livez' on 'metrics', not '/readyz'")

    def test_a_grpc_probe_cannot_pass_mutual_tls(self):
        container(self.objects, "urp")["livenessProbe"] = {"grpc": {"port": 50056, "service": "liveness"}}
        self.assertProblem("Deployment/urp: livenessProbe is not an HTTP probe of /livez on the metrics port")

    def test_a_certificate_naming_another_service(self):
        find(self.objects, "Certificate", "suap")["spec"]["uris"] = ["spiffe://sportello/svc/routing"]
        self.assertProblem("Certificate/suap: uris ['spiffe://sportello/svc/routing'] are not [spiffe://sportello/svc/suap]")

    def test_a_key_the_kit_cannot_sign_with(self):
        find(self.objects, "Certificate", "urp")["spec"]["privateKey"] = {"algorithm": "ECDSA", "size": 256}
        self.assertProblem("Certificate/urp: the kit needs an Ed25519 key in PKCS#8")

    def test_a_certificate_from_an_issuer_not_deployed(self):
        find(self.objects, "Certificate", "urp")["spec"]["issuerRef"]["name"] = "someone-else"
        self.assertProblem("Certificate/urp: issuer Issuer/someone-else is not deployed")

    def test_without_tls_files(self):
        env = container(self.objects, "education")["env"]
        env[:] = [e for e in env if e["name"] != "TLS_KEY"]
        self.assertProblem("Deployment/education: TLS_KEY is not set")

    def test_a_certificate_not_mounted(self):
        pod = find(self.objects, "Deployment", "mobility")["spec"]["template"]["spec"]
        pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "tls"]
        self.assertProblem("Deployment/mobility: TLS_CERT=/etc/sportello/tls/tls.crt is on no mounted Secret")

    def test_without_the_migrate_init_container(self):
        find(self.objects, "Deployment", "suap")["spec"]["template"]["spec"].pop("initContainers")
        self.assertProblem("Deployment/suap: no init container `migrate`")

    def test_the_migration_granting_another_role(self):
        init = find(self.objects, "Deployment", "suap")["spec"]["template"]["spec"]["initContainers"][0]
        next(e for e in init["env"] if e["name"] == "DATABASE_SERVICE_ROLE")["value"] = "registry"
        self.assertProblem("Deployment/suap: init container migrate grants")

    def test_the_service_reading_the_owners_password(self):
        container(self.objects, "registry")["env"].append(
            {"name": "PG_OWNER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sportello-pg-owner", "key": "password"}}}
        )
        self.assertProblem("Deployment/registry: the service's container reads the owner's credentials")

    def test_production_requires_verified_tls_to_postgresql(self):
        config = {"kind": "ConfigMap", "metadata": {"name": "sportello-config"}, "data": {"PG_SSL": "sslmode=prefer"}}
        found = checks.check_database(SERVICES, self.objects + [config], require_tls=True)
        self.assertIn("sportello-config: PG_SSL='sslmode=prefer': production requires sslmode=verify-full", found)
        config["data"]["PG_SSL"] = "sslmode=verify-full&sslrootcert=/etc/sportello/pg-ca/ca.crt"
        self.assertEqual(checks.check_database(SERVICES, self.objects + [config], require_tls=True), [])
        config["data"]["PG_SSL"] = "sslmode=verify-full&sslrootcert=/nowhere/ca.crt"
        found = checks.check_database(SERVICES, self.objects + [config], require_tls=True)
        self.assertIn("Deployment/urp: sslrootcert /nowhere/ca.crt is on no mounted Secret", found)

    def test_without_resources(self):
        del container(self.objects, "mobility")["resources"]
        self.assertProblem("Deployment/mobility container mobility: no resources.requests.cpu")
        self.assertProblem("no resources.limits.memory")

    def test_without_pdb(self):
        self.objects.remove(find(self.objects, "PodDisruptionBudget", "registry"))
        self.assertProblem("Deployment/registry: no PodDisruptionBudget selects its pods")

    def test_without_network_policy(self):
        self.objects.remove(find(self.objects, "NetworkPolicy", "routing"))
        self.assertProblem("Deployment/routing: no NetworkPolicy of its own selects its pods")

    def test_running_as_root(self):
        d = find(self.objects, "Deployment", "gateway")
        d["spec"]["template"]["spec"]["securityContext"] = {"runAsUser": 0}
        del container(self.objects, "gateway")["securityContext"]["runAsNonRoot"]
        self.assertProblem("Deployment/gateway container gateway: runAsNonRoot is not true")
        self.assertProblem("Deployment/gateway container gateway: runs as uid 0")

    def test_privilege_escalation_and_writable_root(self):
        sc = container(self.objects, "urp")["securityContext"]
        sc["allowPrivilegeEscalation"] = True
        sc["readOnlyRootFilesystem"] = False
        sc["capabilities"] = {"drop": ["NET_RAW"]}
        self.assertProblem("urp: allowPrivilegeEscalation is not false")
        self.assertProblem("urp: readOnlyRootFilesystem is not true")
        self.assertProblem("urp: capabilities are not all dropped")

    def test_port_drift_against_the_source(self):
        container(self.objects, "registry")["ports"][0]["containerPort"] = 50099
        self.assertProblem("Deployment/registry: container ports")

    def test_env_port_drift(self):
        env = {e["name"]: e for e in container(self.objects, "gateway")["env"]}
        env["HTTP_PORT"]["value"] = "8081"
        self.assertProblem("Deployment/gateway: HTTP_PORT is '8081', the port is 8080")

    def test_entrypoint_overridden(self):
        container(self.objects, "suap")["command"] = ["/bin/sh", "-c", "sportello-suap"]
        self.assertProblem("Deployment/suap: command")

    def test_wrong_image(self):
        container(self.objects, "suap")["image"] = "registry.example/sportello/urp:1.0"
        self.assertProblem("Deployment/suap: image 'registry.example/sportello/urp:1.0' is not sportello/suap")

    def test_grace_period_shorter_than_shutdown(self):
        find(self.objects, "Deployment", "urp")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 12
        self.assertProblem("Deployment/urp: terminationGracePeriodSeconds 12 < preStop 10 s")

    def test_routing_autoscaled(self):
        hpa = copy.deepcopy(find(self.objects, "HorizontalPodAutoscaler", "urp"))
        hpa["metadata"]["name"] = "routing"
        hpa["spec"]["scaleTargetRef"]["name"] = "routing"
        self.objects.append(hpa)
        self.assertProblem("routing runs at a fixed replica count")

    def test_domain_service_without_hpa(self):
        self.objects.remove(find(self.objects, "HorizontalPodAutoscaler", "education"))
        self.assertProblem("Deployment/education: no HorizontalPodAutoscaler")


class TheNetworkIsTheArchitecture(unittest.TestCase):
    def setUp(self):
        self.objects = rendered()

    def test_an_extra_call_fails(self):
        policy = find(self.objects, "NetworkPolicy", "suap")
        policy["spec"]["ingress"][0]["from"].append(
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "education"}}}
        )
        find(self.objects, "NetworkPolicy", "education")["spec"]["egress"].append(
            {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "suap"}}}]}
        )
        found = checks.check_network(SERVICES, self.objects)
        self.assertIn("NetworkPolicy lets education call suap's gRPC; the architecture has no such call", found)

    def test_a_missing_call_fails(self):
        policy = find(self.objects, "NetworkPolicy", "gateway")
        policy["spec"]["egress"] = [
            r for r in policy["spec"]["egress"]
            if r["to"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") != "urp"
        ]
        found = checks.check_network(SERVICES, self.objects)
        self.assertIn("NetworkPolicy blocks gateway → urp gRPC, a call the architecture has", found)

    def test_without_policies_everything_is_open(self):
        self.objects = [o for o in self.objects if o["kind"] != "NetworkPolicy"]
        found = checks.check_network(SERVICES, self.objects)
        self.assertTrue(any("default-deny" in p for p in found), found)
        self.assertTrue(any("lets urp call education" in p for p in found), found)

    def test_expected_calls(self):
        calls = checks.expected_calls(SERVICES)
        self.assertIn(("gateway", "routing"), calls)
        self.assertIn(("education", "registry"), calls)
        self.assertIn(("registry", "routing"), calls)
        self.assertNotIn(("routing", "education"), calls)
        self.assertNotIn(("urp", "suap"), calls)


def base_configmaps() -> list[dict]:
    """deploy/base/config's ConfigMaps, as kustomize makes them from the .env files."""
    config = ROOT / "deploy/base/config"
    kustomization = yaml.safe_load((config / "kustomization.yaml").read_text())
    maps = []
    for gen in kustomization["configMapGenerator"]:
        data = {}
        for env_file in gen.get("envs", []):
            for line in (config / env_file).read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    data[key.strip()] = value
        maps.append({"kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    return maps


class RequiredEnvironment(unittest.TestCase):
    """Every variable a service's source reads with `env.required("…"` is set."""

    def setUp(self):
        self.objects = rendered() + base_configmaps()

    def env(self, name: str) -> list[dict]:
        return container(self.objects, name)["env"]

    def drop(self, name: str, var: str) -> None:
        self.env(name)[:] = [e for e in self.env(name) if e["name"] != var]

    def test_the_generated_deployments_set_everything(self):
        self.assertEqual(checks.check_env(SERVICES, self.objects), [])

    def test_registry_without_pseudonym_key(self):
        self.drop("registry", "PSEUDONYM_KEY")
        found = checks.check_env(SERVICES, self.objects)
        self.assertEqual(len(found), 1, found)
        self.assertRegex(
            found[0],
            r"^service registry: Deployment/registry does not set PSEUDONYM_KEY, which "
            r"services/registry/src/config\.rs:\d+ requires \(env\.required\)$",
        )

    def test_routing_without_protocol_name_keys(self):
        self.drop("routing", "PROTOCOL_NAME_KEYS")
        found = checks.check_env(SERVICES, self.objects)
        self.assertEqual(len(found), 1, found)
        self.assertRegex(
            found[0],
            r"^service routing: Deployment/routing does not set PROTOCOL_NAME_KEYS, which "
            r"services/routing/src/config\.rs:\d+ requires \(env\.required\)$",
        )

    def test_the_kits_variables_are_required_of_every_service(self):
        self.drop("urp", "NATS_URL")
        self.assertIn("service urp: Deployment/urp does not set NATS_URL", " ".join(checks.check_env(SERVICES, self.objects)))

    def test_a_new_required_variable_in_the_source(self):
        # What the gateway's engineer will do: a new `env.required("…"` in its crate.
        required = dict(SERVICES["gateway"].required_env)
        required["SESSION_KEY"] = ("services/gateway/src/config.rs:99",)
        services = dict(SERVICES)
        services["gateway"] = dataclasses.replace(SERVICES["gateway"], required_env=tuple(sorted(required.items())))
        self.assertIn(
            "service gateway: Deployment/gateway does not set SESSION_KEY, which "
            "services/gateway/src/config.rs:99 requires (env.required)",
            checks.check_env(services, self.objects),
        )
        # Provided through a ConfigMap the Deployment reads, it passes.
        next(m for m in self.objects if m["metadata"]["name"] == "sportello-gateway-peers")["data"]["SESSION_KEY"] = "x"
        self.assertEqual(checks.check_env(services, self.objects), [])

    def test_empty_optional_and_unknown_sources_do_not_count(self):
        env = {e["name"]: e for e in self.env("registry")}
        env["PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"]["optional"] = True
        env["DATABASE_URL"]["value"] = " "
        found = " ".join(checks.check_env(SERVICES, self.objects))
        self.assertIn("does not set PSEUDONYM_KEY", found)
        self.assertIn("does not set DATABASE_URL", found)
        self.drop("routing", "NATS_URL")
        container(self.objects, "routing")["envFrom"].append({"secretRef": {"name": "routing-extra"}})
        self.assertIn("envFrom Secret routing-extra may hold it", " ".join(checks.check_env(SERVICES, self.objects)))

    def test_a_peer_url_on_the_wrong_port(self):
        env = {e["name"]: e for e in self.env("registry")}
        env["ROUTING_URL"]["value"] = "https://routing:50052"
        self.assertIn(
            "Deployment/registry: ROUTING_URL is 'https://routing:50052' (env), want https://routing:50051",
            checks.check_env(SERVICES, self.objects),
        )

    def verify_url(self, value: str | None) -> list[str]:
        data = next(m for m in self.objects if m["metadata"]["name"] == "sportello-registry")["data"]
        data.pop("CERTIFICATE_VERIFY_URL", None)
        if value is not None:
            data["CERTIFICATE_VERIFY_URL"] = value
        return [p for p in checks.check_env(SERVICES, self.objects) if "CERTIFICATE_VERIFY_URL" in p]

    def test_the_verification_url(self):
        self.assertEqual(self.verify_url("https://sportello.comune.example/verifica"), [])
        self.assertTrue(self.verify_url(None)[0].endswith("in the overlay (deploy/README.md)"))
        self.assertIn("is not an http(s) URL", self.verify_url("sportello.comune.example/verifica")[0])
        self.assertIn("serves the page at /verifica", self.verify_url("https://sportello.comune.example/")[0])

    def test_the_verification_url_follows_the_ingress(self):
        self.objects.append(yaml.safe_load((ROOT / "deploy/overlays/prod/ingress.yaml").read_text()))
        self.assertEqual(self.verify_url("https://sportello.comune.example.invalid/verifica"), [])
        self.assertIn(
            "host other.example is not the gateway's Ingress host (sportello.comune.example.invalid)",
            self.verify_url("https://other.example/verifica")[0],
        )
        self.assertIn("over TLS, use https", self.verify_url("http://sportello.comune.example.invalid/verifica")[0])


class Configuration(unittest.TestCase):
    def config(self, **data) -> list[dict]:
        base = {
            "NATS_SUBJECT_PREFIX": "sportello", "NATS_STREAM_REPLICAS": "3", "DATABASE_MAX_CONNECTIONS": "10",
        }
        base.update(data)
        peers = {f"{n.upper()}_URL": f"https://{n}:{s.grpc}" for n, s in SERVICES.items() if n != "gateway"}
        return rendered() + [
            {"kind": "ConfigMap", "metadata": {"name": "sportello-config-abcde12345"}, "data": base},
            {"kind": "ConfigMap", "metadata": {"name": "sportello-gateway-peers"}, "data": peers},
            {"kind": "StatefulSet", "metadata": {"name": "nats"}, "spec": {"replicas": 3}},
            {"kind": "Cluster", "metadata": {"name": "sportello-pg"},
             "spec": {"postgresql": {"parameters": {"max_connections": "500"}}}},
        ]

    def test_consistent(self):
        self.assertEqual(checks.check_config(SERVICES, self.config(), "sportello"), [])

    def test_streams_not_replicated(self):
        found = checks.check_config(SERVICES, self.config(NATS_STREAM_REPLICAS="1"), "sportello")
        self.assertIn("NATS_STREAM_REPLICAS=1: streams must be R3 on a 3-node cluster", found)

    def test_other_prefix_than_the_permissions(self):
        found = checks.check_config(SERVICES, self.config(NATS_SUBJECT_PREFIX="comune"), "sportello")
        self.assertTrue(any("NATS_SUBJECT_PREFIX=comune" in p for p in found), found)

    def test_pools_exceed_max_connections(self):
        found = checks.check_config(SERVICES, self.config(DATABASE_MAX_CONNECTIONS="20"), "sportello")
        self.assertTrue(any("> max_connections=500" in p for p in found), found)

    def test_collector_pipeline_names_undefined_exporter(self):
        config = {"receivers": {"otlp": {}}, "exporters": {"debug": {}},
                  "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp"]}}}}
        self.assertEqual(checks.check_collector_config(config),
                         ["collector pipeline traces: exporter otlp is not defined"])


if __name__ == "__main__":
    unittest.main()
