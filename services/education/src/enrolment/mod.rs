//! Enrolment in municipal nurseries and pre-schools: who may apply ([`age`]), the
//! published criteria and the points they give ([`criteria`]), and the ranking with its
//! documented order and its published form ([`ranking`]). Pure rules, tested with worked
//! examples; the windows, the applications and their storage build on them.

pub mod age;
pub mod criteria;
pub mod ranking;
