"""Checks of rendered manifests: what every workload must have, and what each Sportello
service's Deployment must agree on with its source.

Each check takes the rendered objects (dicts, as `kubectl kustomize` prints them) and
returns a list of problems, one line each, naming the object; an empty list means it
passed. `run_all` runs them all.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from . import source
from .source import Service

Obj = dict[str, Any]

# services/kit/src/metrics.rs: plain HTTP on the metrics port (the kubelet has no client
# certificate for the gRPC port, which speaks only mutual TLS).
READINESS, LIVENESS = "/readyz", "/livez"
# services/kit/src/trust/peer.rs: the URI SAN naming a service.
TRUST_DOMAIN = "sportello"
# services/kit/src/trust/tls.rs: the variables naming the certificate, key and CA files.
TLS_VARS = ("TLS_CERT", "TLS_KEY", "TLS_CA")
# The schema owner's Secret: the `migrate` init container's, never the service's.
PG_OWNER_SECRET = "sportello-pg-owner"
# The kit's shutdown after preStop: drain, outbox last pass (≤ 5 s), telemetry flush (≤ 5 s).
SHUTDOWN_AFTER_PRESTOP = 15
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def _kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o.get("kind") == kind]


def _named(objects: Iterable[Obj], kind: str, name: str) -> Obj | None:
    for o in objects:
        if o.get("kind") == kind and o["metadata"]["name"] == name:
            return o
    return None


def _ref(o: Obj) -> str:
    return f"{o['kind']}/{o['metadata']['name']}"


def _pod_labels(workload: Obj) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def _selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector selects `labels` (matchLabels and matchExpressions In/Exists)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --- every workload -------------------------------------------------------------------


def check_workload(w: Obj, objects: list[Obj]) -> list[str]:
    """Probes, resources, non-root securityContext, PDB and NetworkPolicy for one workload."""
    problems = []
    ref = _ref(w)
    pod = w["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext") or {}
    labels = _pod_labels(w)
    for c in pod.get("containers", []):
        where = f"{ref} container {c['name']}"
        for probe in ("readinessProbe", "livenessProbe"):
            if not c.get(probe):
                problems.append(f"{where}: no {probe}")
        res = c.get("resources") or {}
        for section, keys in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
            for key in keys:
                if key not in (res.get(section) or {}):
                    problems.append(f"{where}: no resources.{section}.{key}")
        sc = c.get("securityContext") or {}
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if non_root is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if user == 0:
            problems.append(f"{where}: runs as uid 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities are not all dropped")
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
    if not any(
        _selects(p["spec"].get("selector"), labels)
        for p in _kind(objects, "PodDisruptionBudget")
    ):
        problems.append(f"{ref}: no PodDisruptionBudget selects its pods")
    own_policies = [  # the namespace-wide default-deny and DNS policies do not count
        p
        for p in _kind(objects, "NetworkPolicy")
        if p["spec"].get("podSelector") and _selects(p["spec"]["podSelector"], labels)
    ]
    if not own_policies:
        problems.append(f"{ref}: no NetworkPolicy of its own selects its pods")
    return problems


def check_workloads(objects: list[Obj]) -> list[str]:
    problems = []
    for kind in WORKLOAD_KINDS:
        for w in _kind(objects, kind):
            problems += check_workload(w, objects)
    return problems


def check_default_deny(objects: list[Obj]) -> list[str]:
    for p in _kind(objects, "NetworkPolicy"):
        spec = p["spec"]
        if (
            spec.get("podSelector") == {}
            and set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return []
    return ["no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)"]


# --- each Sportello service against its source ------------------------------------------


def _env(container: Obj) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env", [])}


def _image_name(image: str) -> str:
    """`registry:5000/sportello/routing:1.0@sha256:…` → `sportello/routing`."""
    image = image.split("@")[0]
    last = image.rsplit("/", 1)
    if ":" in last[-1]:
        image = image.rsplit(":", 1)[0]
    parts = image.split("/")
    return "/".join(parts[-2:])


def check_service(svc: Service, objects: list[Obj]) -> list[str]:
    problems = []
    name = svc.name
    d = _named(objects, "Deployment", name)
    if d is None:
        return [f"service {name}: no Deployment/{name}"]
    ref = _ref(d)
    pod = d["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod.get("containers", [])}
    c = containers.get(name)
    if c is None:
        return [f"{ref}: no container named {name}"]

    if _image_name(c.get("image", "")) != f"sportello/{name}":
        problems.append(f"{ref}: image {c.get('image')!r} is not sportello/{name}")
    if c.get("command") not in (None, [f"/usr/local/bin/{svc.binary}"]):
        problems.append(f"{ref}: command {c.get('command')} overrides the image's entrypoint")

    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if ports != svc.ports:
        problems.append(f"{ref}: container ports {ports} differ from the source's {svc.ports}")
    env = _env(c)
    wanted = {"GRPC_PORT": svc.grpc, "METRICS_PORT": svc.metrics}
    if svc.serves_http:
        wanted["HTTP_PORT"] = svc.http
    for var, number in wanted.items():
        if env.get(var, {}).get("value") != str(number):
            problems.append(f"{ref}: {var} is {env.get(var, {}).get('value')!r}, the port is {number}")

    for probe, path in (
        ("readinessProbe", READINESS),
        ("livenessProbe", LIVENESS),
        ("startupProbe", LIVENESS),
    ):
        get = (c.get(probe) or {}).get("httpGet")
        if not get:
            # A gRPC probe cannot pass: the kubelet has no certificate for the mTLS port.
            problems.append(f"{ref}: {probe} is not an HTTP probe of {path} on the metrics port")
        elif get.get("port") not in ("metrics", svc.metrics) or get.get("path") != path:
            problems.append(
                f"{ref}: {probe} asks {get.get('path')!r} on {get.get('port')!r}, "
                f"not {path!r} on the metrics port ({svc.metrics})"
            )

    sleep = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if not sleep:
        problems.append(f"{ref}: no preStop sleep (endpoints need time to forget the pod)")
    elif grace < sleep + SHUTDOWN_AFTER_PRESTOP:
        problems.append(
            f"{ref}: terminationGracePeriodSeconds {grace} < preStop {sleep} s + "
            f"{SHUTDOWN_AFTER_PRESTOP} s of drain, outbox last pass and telemetry flush"
        )

    k8s_service = _named(objects, "Service", name)
    if k8s_service is None:
        problems.append(f"service {name}: no Service/{name}")
    else:
        got = {p["name"]: (p["port"], p.get("targetPort")) for p in k8s_service["spec"]["ports"]}
        want = {n: (p, n) for n, p in svc.ports.items()}
        if got != want:
            problems.append(f"Service/{name}: ports {got} differ from the source's {want}")
        if not _selects({"matchLabels": k8s_service["spec"].get("selector", {})}, _pod_labels(d)):
            problems.append(f"Service/{name}: selector does not select Deployment/{name}'s pods")

    hpas = [
        h for h in _kind(objects, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
        and h["spec"]["scaleTargetRef"].get("name") == name
    ]
    if name == "routing":
        if hpas:
            problems.append(f"{ref}: routing runs at a fixed replica count; remove its HPA")
        if not d["spec"].get("replicas"):
            problems.append(f"{ref}: routing needs an explicit replica count")
    else:
        if not hpas:
            problems.append(f"{ref}: no HorizontalPodAutoscaler")
        elif "replicas" in d["spec"]:
            problems.append(f"{ref}: sets replicas although an HPA owns the count")
    return problems


def check_services(services: dict[str, Service], objects: list[Obj]) -> list[str]:
    problems = []
    for svc in services.values():
        problems += check_service(svc, objects)
    return problems


# --- mutual TLS: cert-manager issues each service's certificate -------------------------


def _service_container(objects: list[Obj], name: str) -> tuple[Obj, Obj] | None:
    d = _named(objects, "Deployment", name)
    if d is None:
        return None
    c = next((c for c in d["spec"]["template"]["spec"].get("containers", []) if c["name"] == name), None)
    return (d, c) if c is not None else None


def _mounted_secret(pod: Obj, container: Obj, path: str) -> str | None:
    """The Secret whose volume `container` mounts at the directory holding `path`."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for m in container.get("volumeMounts") or []:
        mount = m["mountPath"].rstrip("/")
        if path.startswith(mount + "/"):
            return ((volumes.get(m["name"]) or {}).get("secret") or {}).get("secretName")
    return None


def check_trust(services: dict[str, Service], objects: list[Obj]) -> list[str]:
    """Each service's container names its certificate, key and CA (TLS_*), all in one
    mounted Secret that a cert-manager Certificate issues for exactly that service: the
    URI SAN spiffe://sportello/svc/<name> (services/kit/src/trust/peer.rs), the DNS name
    its clients verify, server and client use, an Ed25519 PKCS#8 key (the kit signs with
    it), from an Issuer of the deployment."""
    problems = []
    issuers = {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in ("Issuer", "ClusterIssuer")}
    certificates = {
        o["spec"].get("secretName"): o for o in _kind(objects, "Certificate")
    }
    for name in services:
        found = _service_container(objects, name)
        if found is None:
            continue  # check_services reports it
        d, c = found
        ref = _ref(d)
        pod = d["spec"]["template"]["spec"]
        env = _env(c)
        secrets = set()
        for var in TLS_VARS:
            path = env.get(var, {}).get("value")
            if not path:
                problems.append(f"{ref}: {var} is not set: every gRPC link is mutual TLS")
                continue
            secret = _mounted_secret(pod, c, path)
            if secret is None:
                problems.append(f"{ref}: {var}={path} is on no mounted Secret")
            secrets.add(secret)
        secrets.discard(None)
        if len(secrets) > 1:
            problems.append(f"{ref}: TLS_* come from different Secrets {sorted(secrets)}")
        for secret in secrets:
            cert = certificates.get(secret)
            if cert is None:
                problems.append(f"{ref}: no cert-manager Certificate issues Secret {secret}")
                continue
            cref, spec = _ref(cert), cert["spec"]
            uri = f"spiffe://{TRUST_DOMAIN}/svc/{name}"
            if spec.get("uris") != [uri]:
                problems.append(f"{cref}: uris {spec.get('uris')} are not [{uri}]")
            if name not in (spec.get("dnsNames") or []):
                problems.append(f"{cref}: dnsNames lack {name!r}, the name its clients verify")
            usages = set(spec.get("usages") or [])
            for usage in ("server auth", "client auth"):
                if usage not in usages:
                    problems.append(f"{cref}: usages lack {usage!r}")
            key = spec.get("privateKey") or {}
            if key.get("algorithm") != "Ed25519" or key.get("encoding") != "PKCS8":
                problems.append(f"{cref}: the kit needs an Ed25519 key in PKCS#8, not {key}")
            issuer = spec.get("issuerRef") or {}
            if (issuer.get("kind", "Issuer"), issuer.get("name")) not in issuers:
                problems.append(f"{cref}: issuer {issuer.get('kind', 'Issuer')}/{issuer.get('name')} is not deployed")
    return problems


# --- PostgreSQL: the owner migrates, the service's role owns nothing --------------------


def check_database(services: dict[str, Service], objects: list[Obj], require_tls: bool) -> list[str]:
    """Each Deployment migrates in an init container `migrate` (args [migrate]) as the
    owner, for its own role; the service's container never sees the owner's Secret; its
    DATABASE_URL carries the TLS settings, which `require_tls` (prod) wants verify-full
    against a mounted CA."""
    problems = []
    config = (_configmap(objects, "sportello-config") or {}).get("data", {})
    ssl = config.get("PG_SSL", "")
    for name in services:
        found = _service_container(objects, name)
        if found is None:
            continue
        d, c = found
        ref = _ref(d)
        pod = d["spec"]["template"]["spec"]
        inits = {i["name"]: i for i in pod.get("initContainers") or []}
        migrate = inits.get("migrate")
        if migrate is None:
            problems.append(f"{ref}: no init container `migrate` (the owner migrates the schema)")
        else:
            if migrate.get("args") != ["migrate"] or _image_name(migrate.get("image", "")) != f"sportello/{name}":
                problems.append(f"{ref}: init container migrate does not run `sportello/{name} migrate`")
            menv = _env(migrate)
            if menv.get("DATABASE_SERVICE_ROLE", {}).get("value") != name:
                problems.append(f"{ref}: init container migrate grants {menv.get('DATABASE_SERVICE_ROLE')}, not role {name}")
            if "DATABASE_MIGRATION_URL" not in menv:
                problems.append(f"{ref}: init container migrate has no DATABASE_MIGRATION_URL")
        owner_refs = [
            e["name"] for e in c.get("env") or []
            if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == PG_OWNER_SECRET
        ] + [
            f"envFrom {s['secretRef']['name']}" for s in c.get("envFrom") or []
            if (s.get("secretRef") or {}).get("name") == PG_OWNER_SECRET
        ]
        if owner_refs or "DATABASE_MIGRATION_URL" in _env(c):
            problems.append(f"{ref}: the service's container reads the owner's credentials ({owner_refs or 'DATABASE_MIGRATION_URL'})")
        url = _env(c).get("DATABASE_URL", {}).get("value", "")
        if "$(PG_SSL)" not in url:
            problems.append(f"{ref}: DATABASE_URL ignores PG_SSL (TLS to PostgreSQL)")
        if require_tls:
            if "sslmode=verify-full" not in ssl:
                problems.append(f"sportello-config: PG_SSL={ssl!r}: production requires sslmode=verify-full")
            root = re.search(r"sslrootcert=([^&]+)", ssl)
            if not root:
                problems.append(f"sportello-config: PG_SSL={ssl!r} names no sslrootcert")
            elif _mounted_secret(pod, c, root.group(1)) is None:
                problems.append(f"{ref}: sslrootcert {root.group(1)} is on no mounted Secret")
    return list(dict.fromkeys(problems))


# --- environment: what each service cannot start without -------------------------------

# The public page a certificate's QR code points to: the gateway serves it at this path
# under its public host; the registry appends `/<verification code>`
# (services/registry/src/config.rs, CERTIFICATE_VERIFY_URL; its default is the loopback
# address of `make run`, useless to anyone scanning a certificate).
VERIFY_URL_VAR = "CERTIFICATE_VERIFY_URL"
VERIFY_PATH = "/verifica"


def _find_configmap(objects: list[Obj], name: str) -> Obj | None:
    """A ConfigMap by the name a pod refers to (kustomize rewrites references to the
    hashed name; unrendered objects may still use the bare name)."""
    return _named(objects, "ConfigMap", name) or _configmap(objects, name)


def container_env(c: Obj, objects: list[Obj]) -> dict[str, tuple[str | None, str]]:
    """What the container's process will find in its environment, as far as the manifests
    say: NAME → (value, or None when it comes from a Secret or a field; where it comes
    from). Left out: empty values (the kit treats them as unset), `optional` references,
    keys a referenced ConfigMap lacks. `env` overrides `envFrom`, as in Kubernetes."""
    found: dict[str, tuple[str | None, str]] = {}
    for item in c.get("envFrom") or []:
        prefix = item.get("prefix", "")
        if "configMapRef" in item:
            name = item["configMapRef"]["name"]
            cm = _find_configmap(objects, name)
            for key, value in ((cm or {}).get("data") or {}).items():
                if str(value).strip():
                    found[prefix + key] = (str(value), f"ConfigMap {name}")
    for e in c.get("env") or []:
        var, ref = e["name"], e.get("valueFrom")
        found.pop(var, None)
        if ref is None:
            if str(e.get("value", "")).strip():
                found[var] = (str(e["value"]), "env")
        elif "secretKeyRef" in ref:
            if not ref["secretKeyRef"].get("optional"):
                found[var] = (None, f"Secret {ref['secretKeyRef']['name']}")
        elif "configMapKeyRef" in ref:
            key = ref["configMapKeyRef"]
            value = ((_find_configmap(objects, key["name"]) or {}).get("data") or {}).get(key["key"])
            if value is not None and str(value).strip():
                found[var] = (str(value), f"ConfigMap {key['name']}")
        else:  # fieldRef, resourceFieldRef: always set
            found[var] = (None, "a field")
    return found


def check_env(services: dict[str, Service], objects: list[Obj]) -> list[str]:
    """Each Deployment sets every variable its service's source reads with
    `env.required("…"` (source.required_env); `<SERVICE>_URL` points at that service's
    gRPC port; the registry's verification URL is set and public."""
    problems = []
    ingress_hosts: dict[str, bool] = {}  # host routed to the gateway → served with TLS
    for ing in _kind(objects, "Ingress"):
        tls_hosts = {h for t in ing["spec"].get("tls") or [] for h in t.get("hosts") or []}
        for rule in ing["spec"].get("rules") or []:
            backends = [p.get("backend", {}).get("service", {}).get("name")
                        for p in (rule.get("http") or {}).get("paths") or []]
            if "gateway" in backends and rule.get("host"):
                ingress_hosts[rule["host"]] = rule["host"] in tls_hosts
    for name, svc in services.items():
        d = _named(objects, "Deployment", name)
        if d is None:
            continue  # check_services reports it
        c = next((c for c in d["spec"]["template"]["spec"].get("containers", []) if c["name"] == name), None)
        if c is None:
            continue
        env = container_env(c, objects)
        secret_refs = [s["secretRef"]["name"] for s in c.get("envFrom") or [] if "secretRef" in s]
        for var, reads in svc.required_env:
            if var not in env:
                hint = (f" (envFrom Secret {', '.join(secret_refs)} may hold it, but the manifests "
                        "cannot say: use env with secretKeyRef)") if secret_refs else ""
                problems.append(
                    f"service {name}: Deployment/{name} does not set {var}, which {reads[0]} "
                    f"requires (env.required){hint}"
                )
        for var, (value, origin) in env.items():
            peer = var[: -len("_URL")].lower() if var.endswith("_URL") else None
            if peer in services and peer != name and value is not None:
                want = f"https://{peer}:{services[peer].grpc}"
                if value != want:
                    problems.append(f"Deployment/{name}: {var} is {value!r} ({origin}), want {want}")
        if name == "registry":
            problems += _check_verify_url(env.get(VERIFY_URL_VAR), ingress_hosts)
    return problems


def _check_verify_url(found: tuple[str | None, str] | None, ingress_hosts: dict[str, bool]) -> list[str]:
    where = f"Deployment/registry: {VERIFY_URL_VAR}"
    if found is None or found[0] is None:
        return [f"{where} is not set (the default is make run's loopback address): set it to "
                f"https://<the gateway's public host>{VERIFY_PATH} in the overlay (deploy/README.md)"]
    value, origin = found
    m = re.fullmatch(r"(?P<scheme>https?)://(?P<host>[^/:?#]+)(?::\d+)?(?P<path>/[^?#]*)?", value)
    if not m:
        return [f"{where}={value!r} ({origin}) is not an http(s) URL without query or fragment"]
    problems = []
    if (m["path"] or "").rstrip("/") != VERIFY_PATH:
        problems.append(f"{where}={value!r} ({origin}): the gateway serves the page at {VERIFY_PATH}")
    if ingress_hosts:
        if m["host"] not in ingress_hosts:
            problems.append(
                f"{where}={value!r} ({origin}): host {m['host']} is not the gateway's Ingress host "
                f"({', '.join(sorted(ingress_hosts))})"
            )
        elif ingress_hosts[m["host"]] and m["scheme"] != "https":
            problems.append(f"{where}={value!r} ({origin}): the Ingress serves {m['host']} over TLS, use https")
    return problems


# --- the network: exactly the calls the architecture has --------------------------------


def expected_calls(services: dict[str, Service]) -> set[tuple[str, str]]:
    calls = {("gateway", s) for s in services if s != "gateway"}
    for domain in source.DOMAIN_SERVICES:
        for target in ("routing", "registry"):
            if domain != target and domain in services:
                calls.add((domain, target))
    return calls


def _port_matches(rule_ports: list | None, number: int, port_name: str | None) -> bool:
    if not rule_ports:
        return True  # no ports: every port
    for p in rule_ports:
        if p.get("port") in (None, number) or (port_name and p.get("port") == port_name):
            return True
    return False


def _peer_matches(peers: list | None, labels: dict[str, str]) -> bool:
    """Whether a same-namespace pod with `labels` is among `peers` (absent: everyone)."""
    if peers is None:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            continue  # pods are not addressed by IP blocks here
        if "namespaceSelector" in peer and peer["namespaceSelector"] != {}:
            continue  # another namespace
        if _selects(peer.get("podSelector", {}), labels):
            return True
    return False


def allowed(objects: list[Obj], src: Obj, dst: Obj, port: int, port_name: str) -> bool:
    """Whether NetworkPolicies let pods of workload `src` reach `dst` on `port`."""
    src_labels, dst_labels = _pod_labels(src), _pod_labels(dst)
    policies = _kind(objects, "NetworkPolicy")

    def applies(p: Obj, labels: dict[str, str], direction: str) -> bool:
        spec = p["spec"]
        types = spec.get("policyTypes") or ["Ingress"] + (["Egress"] if spec.get("egress") else [])
        return direction in types and _selects(spec.get("podSelector", {}), labels)

    ingress = [p for p in policies if applies(p, dst_labels, "Ingress")]
    egress = [p for p in policies if applies(p, src_labels, "Egress")]

    def admits(rules: list[Obj], direction: str, peer_key: str, peer_labels: dict) -> bool:
        if not rules:
            return True  # not isolated in this direction
        for p in rules:
            for rule in p["spec"].get(direction) or []:
                if _peer_matches(rule.get(peer_key), peer_labels) and _port_matches(
                    rule.get("ports"), port, port_name
                ):
                    return True
        return False

    return admits(ingress, "ingress", "from", src_labels) and admits(
        egress, "egress", "to", dst_labels
    )


def check_network(services: dict[str, Service], objects: list[Obj]) -> list[str]:
    problems = check_default_deny(objects)
    deployments = {n: _named(objects, "Deployment", n) for n in services}
    if any(d is None for d in deployments.values()):
        return problems  # check_services reports it
    want = expected_calls(services)
    for src in services:
        for dst in services:
            if src == dst:
                continue
            ok = allowed(objects, deployments[src], deployments[dst], services[dst].grpc, "grpc")
            if ok and (src, dst) not in want:
                problems.append(f"NetworkPolicy lets {src} call {dst}'s gRPC; the architecture has no such call")
            if not ok and (src, dst) in want:
                problems.append(f"NetworkPolicy blocks {src} → {dst} gRPC, a call the architecture has")
    nats = _named(objects, "StatefulSet", "nats")
    collector = _named(objects, "Deployment", "otel-collector")
    pg_pod = {"metadata": {}, "spec": {"template": {"metadata": {"labels": {"cnpg.io/cluster": "sportello-pg"}}}}}
    for name, d in deployments.items():
        for target, port, port_name in ((nats, 4222, "client"), (collector, 4317, "otlp-grpc"), (pg_pod, 5432, None)):
            if target is not None and not allowed(objects, d, target, port, port_name or ""):
                what = _ref(target) if target is not pg_pod else "PostgreSQL"
                problems.append(f"NetworkPolicy blocks {name} → {what} port {port}")
    return problems


# --- configuration ----------------------------------------------------------------------


def _configmap(objects: list[Obj], prefix: str) -> Obj | None:
    """A generated ConfigMap by its name before kustomize's hash suffix."""
    for o in _kind(objects, "ConfigMap"):
        if re.fullmatch(rf"{re.escape(prefix)}(-[a-z0-9]{{10}})?", o["metadata"]["name"]):
            return o
    return None


def check_config(services: dict[str, Service], objects: list[Obj], subject_prefix: str) -> list[str]:
    problems = []
    config = _configmap(objects, "sportello-config")
    if config is None:
        return ["no ConfigMap sportello-config"]
    data = config.get("data", {})
    if data.get("NATS_SUBJECT_PREFIX", "sportello") != subject_prefix:
        problems.append(
            f"sportello-config: NATS_SUBJECT_PREFIX={data.get('NATS_SUBJECT_PREFIX')} but the NATS "
            f"permissions are generated for {subject_prefix!r}"
        )
    nats = _named(objects, "StatefulSet", "nats")
    stream_replicas = int(data.get("NATS_STREAM_REPLICAS", "1"))
    if nats is not None and stream_replicas > nats["spec"].get("replicas", 1):
        problems.append(f"NATS_STREAM_REPLICAS={stream_replicas} > {nats['spec']['replicas']} NATS servers")
    if nats is not None and nats["spec"].get("replicas", 1) >= 3 and stream_replicas < 3:
        problems.append(f"NATS_STREAM_REPLICAS={stream_replicas}: streams must be R3 on a 3-node cluster")

    peers = _configmap(objects, "sportello-gateway-peers")
    if "gateway" in services:
        peer_data = (peers or {}).get("data", {})
        for name, svc in services.items():
            if name == "gateway":
                continue
            want = f"https://{name}:{svc.grpc}"
            if peer_data.get(f"{name.upper()}_URL") != want:
                problems.append(
                    f"sportello-gateway-peers: {name.upper()}_URL is {peer_data.get(f'{name.upper()}_URL')!r}, want {want}"
                )

    # Every replica's pool must fit in PostgreSQL's max_connections.
    cluster = _named(objects, "Cluster", "sportello-pg")
    pool = int(data.get("DATABASE_MAX_CONNECTIONS", "10"))
    if cluster is not None:
        max_conn = int(cluster["spec"].get("postgresql", {}).get("parameters", {}).get("max_connections", "100"))
        total = 0
        for name in services:
            hpa = _named(objects, "HorizontalPodAutoscaler", name)
            d = _named(objects, "Deployment", name)
            most = hpa["spec"]["maxReplicas"] if hpa else (d or {}).get("spec", {}).get("replicas", 1)
            total += most * pool
        reserve = 20  # superuser_reserved_connections, the operator, replication, a psql or two
        if total + reserve > max_conn:
            problems.append(
                f"services may open {total} connections (max replicas × DATABASE_MAX_CONNECTIONS={pool}) "
                f"+ {reserve} reserved > max_connections={max_conn}"
            )
    return problems


def check_collector_config(config: dict) -> list[str]:
    """Every component a pipeline names is defined."""
    problems = []
    for pipeline, spec in (config.get("service", {}).get("pipelines") or {}).items():
        for section in ("receivers", "processors", "exporters"):
            for component in spec.get(section, []):
                if component not in (config.get(section) or {}):
                    problems.append(f"collector pipeline {pipeline}: {section[:-1]} {component} is not defined")
    for ext in config.get("service", {}).get("extensions", []):
        if ext not in (config.get("extensions") or {}):
            problems.append(f"collector: extension {ext} is not defined")
    return problems


def run_all(
    services: dict[str, Service], objects: list[Obj], subject_prefix: str, require_tls: bool = False
) -> list[str]:
    return (
        check_workloads(objects)
        + check_trust(services, objects)
        + check_database(services, objects, require_tls)
        + check_services(services, objects)
        + check_network(services, objects)
        + check_config(services, objects, subject_prefix)
        + check_env(services, objects)
    )
