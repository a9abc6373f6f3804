//! What the intake of a declaration needs beside the kit's protocol register
//! (`sportello_kit::protocol`, which registers the declaration and the registry's
//! outgoing documents in routing's register): the catalogue code of the address check,
//! handed to routing as work over NATS (`super::work`), and the declarant's name as the
//! register records it.

/// The catalogue code of the address check.
pub const CHECK_SERVICE: &str = "registry.residence_address_check";

/// The declarant's name and surname as the register holds them. Its `Debug` shows
/// nothing, so it may sit in a logged or traced value.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderName(String);

impl SenderName {
    /// "Given names Surname", at most the 200 characters the protocol register takes.
    pub fn of(data: &crate::records::PersonData) -> Self {
        let name = format!("{} {}", data.given_names.trim(), data.surname.trim());
        Self(name.trim().chars().take(200).collect())
    }

    /// The name, for the protocol register's sealed sender field (DPR 445/2000 art. 53
    /// c. 1 lett. c): routing keeps it for its protocol role only.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for SenderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SenderName(<redacted>)")
    }
}
