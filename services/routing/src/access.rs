//! Who may call which of routing's RPCs (enforced by the kit before any handler runs),
//! and who may act for a person here. Handlers then authorise the person by role,
//! department and municipality.

use sportello_kit::{
    CallContext, MunicipalityCode, Role, ServiceError,
    trust::{Caller, Policy, Rule},
};

const GATEWAY: Caller = Caller::Service("gateway");
/// The demo seeder: sites, operators and catalogue of the demo municipality.
const DEMO: Caller = Caller::Tool("demo");
/// A person at the command line (`make cert NAME=tool/cli`).
const CLI: Caller = Caller::Tool("cli");

/// Routing's table.
pub static POLICY: Policy = Policy {
    rules: &[
        // The counter, the board, the kiosk and the back office go through the gateway.
        Rule {
            rpc: "sportello.routing.v1.CaseService/*",
            callers: &[GATEWAY],
        },
        // Department systems open counter cases and follow cases. They never close or
        // cancel one: their work is handed over and withdrawn as events (WorkRequested,
        // WorkUpdated), so CloseCase and CancelCase are the gateway's only.
        Rule {
            rpc: "sportello.routing.v1.CaseService/OpenCase",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.routing.v1.CaseService/GetCase",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.routing.v1.CaseService/ListQueues",
            callers: &[CLI],
        },
        // Every incoming document is registered once; departments need the number at
        // once.
        Rule {
            rpc: "sportello.routing.v1.ProtocolService/*",
            callers: &[GATEWAY],
        },
        Rule {
            rpc: "sportello.routing.v1.ProtocolService/RegisterIncoming",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        // Outgoing documents too (DPR 445/2000 art. 53 c. 5), registered when sent.
        Rule {
            rpc: "sportello.routing.v1.ProtocolService/RegisterOutgoing",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        // A department reads its entries back; the correspondents' names only if the
        // person it acts for holds the protocol role (`protocol::grpc`, audited).
        Rule {
            rpc: "sportello.routing.v1.ProtocolService/GetRegistration",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        // The back office: its inbox, offers and escalations from the counter.
        Rule {
            rpc: "sportello.routing.v1.BackOfficeService/*",
            callers: &[GATEWAY],
        },
        // Department systems follow their department's work.
        Rule {
            rpc: "sportello.routing.v1.BackOfficeService/GetWork",
            callers: &[Caller::Department, Caller::AnySystem],
        },
        // Appointments: the public booking page, the kiosk, the operators' calendar and
        // the administration of calendars all go through the gateway; the demo seeder
        // sets up hours and schedules. The handlers tell staff from citizens by role.
        Rule {
            rpc: "sportello.routing.v1.AppointmentService/*",
            callers: &[GATEWAY, DEMO],
        },
        // Administration: the gateway's admin pages and the demo seeder; the handlers
        // ask for an administrator or manager of the same municipality.
        Rule {
            rpc: "sportello.routing.v1.CatalogueService/*",
            callers: &[GATEWAY, DEMO],
        },
        Rule {
            rpc: "sportello.routing.v1.SiteService/*",
            callers: &[GATEWAY, DEMO],
        },
        Rule {
            rpc: "sportello.routing.v1.OperatorService/*",
            callers: &[GATEWAY, DEMO],
        },
        // The surge rosters and the manager's view of the peaks.
        Rule {
            rpc: "sportello.routing.v1.SurgeService/*",
            callers: &[GATEWAY, DEMO],
        },
        // Reading the catalogue and the sites is harmless and departments need it.
        Rule {
            rpc: "sportello.routing.v1.CatalogueService/GetServiceType",
            callers: &[Caller::Department, Caller::AnySystem, CLI],
        },
        Rule {
            rpc: "sportello.routing.v1.CatalogueService/ListServiceTypes",
            callers: &[Caller::Department, Caller::AnySystem, CLI],
        },
        Rule {
            rpc: "sportello.routing.v1.SiteService/ListSites",
            callers: &[Caller::Department, Caller::AnySystem, CLI],
        },
        Rule {
            rpc: "sportello.routing.v1.SiteService/GetSite",
            callers: &[Caller::Department, Caller::AnySystem, CLI],
        },
    ],
    // The gateway and department systems authenticate people; the demo seeder acts as
    // its administrator; departments pass on the person the gateway asserted to them
    // (until the work hand-off moves those calls to events).
    persons: &[GATEWAY, Caller::AnySystem, DEMO, Caller::Department],
};

/// Changing the catalogue, a site or an operator's profile: an administrator or manager
/// of the municipality concerned.
pub fn ensure_administers(
    context: &CallContext,
    municipality: MunicipalityCode,
) -> Result<(), ServiceError> {
    context.require_role(&[Role::Admin, Role::Manager])?;
    context.ensure_municipality(municipality)
}

/// Acting on a case of `department`: counter generalists (info-desk, polivalenti) on
/// any department's case (their skills decide what they may serve), departmental roles
/// (tecnico, back office) only on their own department's.
pub fn ensure_serves_department(
    context: &CallContext,
    department: &str,
) -> Result<(), ServiceError> {
    if context.has_any_role(&[Role::InfoDesk, Role::Polivalente])
        || context.department() == Some(department)
    {
        Ok(())
    } else {
        Err(ServiceError::new(
            sportello_kit::ErrorKind::PermissionDenied,
            format!(
                "questa pratica è dell'ufficio {department} (this case belongs to the {department} department)"
            ),
        ))
    }
}

/// Issuing a ticket: a kiosk, or an operator issuing it at the counter.
pub fn ensure_issues_tickets(context: &CallContext) -> Result<(), ServiceError> {
    context.require_role(&[
        Role::Kiosk,
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
    ])
}

/// Opening a case: a department or department system acting as itself, or a person who
/// serves at the counter or in the back office.
pub fn ensure_opens_cases(context: &CallContext) -> Result<(), ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role]) -> CallContext {
        CallContext::new("gateway", "operator:x", "011015", "t")
            .unwrap()
            .with_roles(roles)
    }

    #[test]
    fn departments_open_cases_but_never_close_or_cancel_them() {
        use sportello_kit::trust::{PeerId, PeerKind};
        let registry = PeerId::new(PeerKind::Service, "registry").unwrap();
        let gateway = PeerId::new(PeerKind::Service, "gateway").unwrap();
        let case = |rpc: &str| format!("/sportello.routing.v1.CaseService/{rpc}");
        assert!(POLICY.allows(&registry, &case("OpenCase")));
        assert!(POLICY.allows(&registry, &case("GetCase")));
        assert!(!POLICY.allows(&registry, &case("CloseCase")));
        assert!(!POLICY.allows(&registry, &case("CancelCase")));
        assert!(POLICY.allows(&gateway, &case("CloseCase")));
        assert!(POLICY.allows(&gateway, &case("CancelCase")));
    }

    #[test]
    fn only_administrators_and_managers_of_the_municipality_administer() {
        let la_spezia: MunicipalityCode = "011015".parse().unwrap();
        let sarzana: MunicipalityCode = "011027".parse().unwrap();
        assert!(ensure_administers(&person(&[Role::Admin]), la_spezia).is_ok());
        assert!(ensure_administers(&person(&[Role::Manager]), la_spezia).is_ok());
        assert!(ensure_administers(&person(&[Role::Admin]), sarzana).is_err());
        assert!(ensure_administers(&person(&[Role::Polivalente]), la_spezia).is_err());
        let service = CallContext::new("suap", "system:job", "011015", "t").unwrap();
        assert!(ensure_administers(&service, la_spezia).is_err());
    }
}
