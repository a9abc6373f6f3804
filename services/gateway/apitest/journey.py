"""The counter journey through a client generated from the gateway's OpenAPI document —
the way a department system integrates — with no request written by hand: a kiosk
takes a ticket, a polivalente calls it, issues a family-status certificate, the public
verification finds it authentic, the case is completed.

`generate(url, into)` runs openapi-python-client on the document the gateway serves;
`journey(package, url, password)` is the test. run.py calls both.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import subprocess
import sys
import uuid

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = "sportello_client"


def generate(source: str, into: pathlib.Path) -> None:
    """Generates the client package into `into` from the document at `source` (the URL
    the gateway serves it at, or a file)."""
    subprocess.run(
        [
            "openapi-python-client",
            "generate",
            "--url" if source.startswith("http") else "--path",
            source,
            "--meta",
            "none",
            "--output-path",
            str(into / PACKAGE),
            "--config",
            str(HERE / "openapi-python-client.yaml"),
            "--overwrite",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


class JourneyError(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise JourneyError(what)


def journey(into: pathlib.Path, url: str, password: str, fiscal_code: str) -> str:
    """Runs the journey with the generated package found under `into`; returns a summary."""
    sys.path.insert(0, str(into))
    client_mod = importlib.import_module(f"{PACKAGE}.client")
    api = lambda name: importlib.import_module(f"{PACKAGE}.api.{name}")  # noqa: E731
    models = importlib.import_module(f"{PACKAGE}.models")
    Client = client_mod.Client

    def sign_in(username: str):
        """A client carrying the account's session cookie and CSRF token."""
        anonymous = Client(base_url=url, raise_on_unexpected_status=True)
        session = api("session.sign_in").sync(
            client=anonymous,
            body=models.Credentials(username=username, password=password),
        )
        check(isinstance(session, models.Session), f"{username} signs in: {session}")
        cookie = anonymous.get_httpx_client().cookies.get("sportello_session")
        check(bool(cookie), f"{username}: the session cookie is set")
        return Client(
            base_url=url,
            cookies={"sportello_session": cookie},
            headers={"X-CSRF-Token": session.csrf_token},
            raise_on_unexpected_status=True,
        )

    def ok(reply, model, what: str):
        check(isinstance(reply, model), f"{what}: {reply}")
        return reply

    site = "palazzo-civico"
    service = "registry.family_status_certificate"
    kiosk = sign_in("totem.civico")
    operator = sign_in("poli.bianchi")
    public = Client(base_url=url, raise_on_unexpected_status=True)

    # The kiosk offers the service, and issues a ticket for it.
    offered = ok(
        api("kiosk.list_kiosk_services").sync(site=site, client=public),
        models.KioskServiceList,
        "kiosk services",
    )
    check(any(s.code == service for s in offered.services), f"the kiosk offers {service}")
    issued = ok(
        api("kiosk.issue_ticket").sync(
            site=site,
            client=kiosk,
            body=models.TicketRequest(
                service_codes=[service], idempotency_key=str(uuid.uuid4())
            ),
        ),
        models.IssuedTicket,
        "ticket",
    )
    label = issued.ticket.label

    # The operator sits at a free counter, is available, and finishes what they hold.
    ok(
        api("console.sit_at_counter").sync(
            client=operator, body=models.SeatRequest(site_code=site, counter_number=5)
        ),
        models.OperatorReply,
        "seat",
    )
    ok(
        api("console.set_presence").sync(
            client=operator,
            body=models.PresenceRequest(presence=models.PresenceRequestPresence.AVAILABLE),
        ),
        models.OperatorReply,
        "available",
    )
    console = ok(api("console.get_console").sync(client=operator), models.ConsoleOverview, "console")
    held = console.current_case
    if isinstance(held, models.Case):
        complete(api, models, operator, held.id, ok)

    # Call next until our ticket comes (tickets left by earlier tests go first).
    case = None
    for _ in range(20):
        reply = ok(api("console.call_next").sync(client=operator), models.CallReply, "call next")
        check(isinstance(reply.call, models.Call), f"a call while {label} waits: {reply}")
        if reply.call.ticket_label == label:
            case = reply.call.case
            break
        complete(api, models, operator, reply.call.case.id, ok)
    check(case is not None, f"{label} was called")
    check(case.status == models.CaseStatus.CALLED, f"{label} is called: {case.status}")

    # The family-status certificate, its PDF, and the public check.
    issued_cert = ok(
        api("cases.issue_certificate").sync(
            id=case.id,
            client=operator,
            body=models.CertificateRequest(
                fiscal_code=fiscal_code,
                type_=models.CertificateRequestType.FAMILY_STATUS,
                use="uso amministrativo",
                idempotency_key=str(uuid.uuid4()),
            ),
        ),
        models.IssuedCertificate,
        "certificate",
    )
    certificate = issued_cert.certificate
    # Printed again in its case: no counter role reads a certificate of another case.
    pdf = api("certificates.get_certificate_pdf").sync_detailed(id=certificate.id, case=case.id, client=operator)
    check(pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), "the PDF")
    verified = ok(
        api("certificates.verify_certificate").sync(
            code=certificate.verification_code,
            client=public,
            sha256=certificate.content_sha256,
        ),
        models.Verification,
        "verification",
    )
    check(verified.authentic and not verified.expired, f"authentic: {verified}")

    done = complete(api, models, operator, case.id, ok)
    check(done.case.status == models.CaseStatus.COMPLETED, f"completed: {done.case.status}")

    for client in (kiosk, operator):
        api("session.sign_out").sync_detailed(client=client)
    return f"ticket {label} called, certificate {certificate.verification_code} authentic, case completed"


def complete(api, models, operator, case_id, ok):
    return ok(
        api("cases.complete_case").sync(
            id=case_id, client=operator, body=models.CompleteRequest(outcome_code="served")
        ),
        models.CompleteResult,
        "complete",
    )


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1])
    generate(f"{os.environ['SPORTELLO_URL']}/api/v1/openapi.json", target)
    print(
        journey(
            target,
            os.environ["SPORTELLO_URL"],
            os.environ["SPORTELLO_DEMO_PASSWORD"],
            os.environ["SPORTELLO_DEMO_FISCAL_CODE"],
        )
    )
