//! Who may call which of the registry's RPCs (enforced by the kit before any handler
//! runs), and who may act for a person here. Handlers then authorise the person by role
//! and purpose, and audit every read of personal data.

use sportello_kit::{
    CallContext, Role, ServiceError,
    trust::{Caller, Policy, Rule},
};

const GATEWAY: Caller = Caller::Service("gateway");

/// The registry's table.
pub static POLICY: Policy = Policy {
    rules: &[
        // The counter: certificates, residents, changes of residence, streets.
        Rule {
            rpc: "sportello.registry.v1.CertificateService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.registry.v1.ResidentService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.registry.v1.ResidenceChangeService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.registry.v1.StreetService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The privacy/security officer's alerts, through the gateway only (the handler
        // requires the privacy role).
        Rule {
            rpc: "sportello.registry.v1.PrivacyService/*",
            callers: &[GATEWAY],
        },
        // Other offices may not ask citizens for what the registry holds (DPR 445/2000
        // art. 43): they ask the registry, which audits each answer.
        Rule {
            rpc: "sportello.registry.v1.FactService/IsResident",
            callers: &[GATEWAY, Caller::Department, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.registry.v1.FactService/FamilyMembers",
            callers: &[GATEWAY, Caller::Department, Caller::AnySystem],
        },
        // Whether someone lives in a stretch of streets: asked many times over narrowing
        // stretches, the answers would trace an address. Mobility asks it for its zones'
        // permits; nobody else.
        Rule {
            rpc: "sportello.registry.v1.FactService/ResidesInArea",
            callers: &[Caller::Service("mobility")],
        },
    ],
    persons: &[GATEWAY, Caller::AnySystem, Caller::Department],
};

/// Reading a person's data: a person who serves citizens (at a counter or in the back
/// office) — never a kiosk, a manager watching the floor or an administrator of accounts
/// —, or another office's service asking for a fact as itself (the policy names which).
/// Either way the read is audited with its declared purpose.
pub fn ensure_reads_personal_data(context: &CallContext) -> Result<(), ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_people_who_serve_citizens_read_personal_data() {
        let person = |roles: &[Role]| {
            CallContext::new("gateway", "operator:x", "011015", "resident.lookup")
                .unwrap()
                .with_roles(roles)
        };
        assert!(ensure_reads_personal_data(&person(&[Role::Polivalente])).is_ok());
        assert!(ensure_reads_personal_data(&person(&[Role::BackOffice])).is_ok());
        for role in [Role::Kiosk, Role::Manager, Role::Admin] {
            assert!(
                ensure_reads_personal_data(&person(&[role])).is_err(),
                "{role}"
            );
        }
        let office = CallContext::new("education", "system:eligibility", "011015", "x").unwrap();
        assert!(ensure_reads_personal_data(&office).is_ok());
    }
}
