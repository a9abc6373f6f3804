//! The roles a person may hold. The gateway stores them on accounts; the signed
//! assertion of the end user carries them to every service, which authorises on them.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A role. Counter roles (info-desk, polivalente, tecnico) and back-office act as
/// operators in routing; manager and admin administer; kiosk is a device; protocollo
/// keeps the protocol register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tier 1: three-minute cases at the information desk.
    InfoDesk,
    /// Tier 2: standard cases at the multi-purpose counters.
    Polivalente,
    /// Tier 3: technical cases by appointment, for one department.
    Tecnico,
    /// Tier 4: back-office work for one department.
    BackOffice,
    /// Watches the floor; reads everything of the municipality, serves nothing.
    Manager,
    /// Administers operators, sites and accounts.
    Admin,
    /// A ticket kiosk (totem): issues tickets, nothing else.
    Kiosk,
    /// Ufficio protocollo (the records office): keeps the protocol register, and is the
    /// only role that reads the correspondents' names in it (DPR 445/2000 art. 53 c. 1),
    /// every read audited. Serves no case.
    Protocollo,
    /// The privacy/security officer (responsabile della protezione dei dati, or the
    /// security officer the controller names): reads the alerts raised when an operator
    /// reads more residents' data in an hour than the threshold. Serves no case.
    Privacy,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 9] = [
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
        Role::Admin,
        Role::Kiosk,
        Role::Protocollo,
        Role::Privacy,
    ];

    /// Roles that serve citizens as routing operators.
    pub const OPERATORS: &'static [Role] = &[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
    ];

    /// The name stored and sent in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::InfoDesk => "info_desk",
            Role::Polivalente => "polivalente",
            Role::Tecnico => "tecnico",
            Role::BackOffice => "back_office",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::Kiosk => "kiosk",
            Role::Protocollo => "protocollo",
            Role::Privacy => "privacy",
        }
    }

    /// Whether the role works for one department only (cases of others are refused).
    pub const fn is_departmental(self) -> bool {
        matches!(self, Role::Tecnico | Role::BackOffice)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role {s:?}; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().unwrap_err().contains("info_desk"));
    }
}
