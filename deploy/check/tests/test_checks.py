"""The checks catch what they claim to: each test breaks one thing on purpose in the
generated manifests and expects the check to name it."""

from __future__ import annotations

import copy
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
    for part in ("network/default-deny.yaml", "postgres/networkpolicy.yaml"):
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

    def test_readiness_on_the_liveness_name(self):
        container(self.objects, "urp")["readinessProbe"]["grpc"]["service"] = "liveness"
        self.assertProblem("Deployment/urp: readinessProbe asks 'liveness' on 50056, not 'readiness'")

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


class Configuration(unittest.TestCase):
    def config(self, **data) -> list[dict]:
        base = {
            "NATS_SUBJECT_PREFIX": "sportello", "NATS_STREAM_REPLICAS": "3", "DATABASE_MAX_CONNECTIONS": "10",
        }
        base.update(data)
        peers = {f"{n.upper()}_URL": f"http://{n}:{s.grpc}" for n, s in SERVICES.items() if n != "gateway"}
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
