//! The check of self-declarations by sample (DPR 445/2000 art. 71: the office checks
//! the substitute declarations it receives, "anche a campione"). When the provisional
//! ranking is published, the window's `check_percent` of its applications — rounded to
//! the nearest — is drawn by lot: each application's place in the draw is a keyed hash
//! of the window and the application under the deployment's secret, so nobody can tell
//! in advance, or steer by how an application is written, whether it will be drawn;
//! the same draw comes out of the same data every time, so it can be shown afterwards.

use sportello_kit::PseudonymKey;

use super::store::{Application, Window};

/// The applications drawn for the check, in draw order.
pub fn draw<'a>(
    key: &PseudonymKey,
    window: &Window,
    applications: &'a [Application],
) -> Vec<&'a Application> {
    let percent = usize::try_from(window.window.check_percent).unwrap_or(0);
    let count = (applications.len() * percent + 50) / 100;
    let mut lots: Vec<([u8; 32], &Application)> = applications
        .iter()
        .map(|a| {
            let lot = key.keyed_hash(
                "enrolment.declaration_check",
                &format!("{}/{}", window.id.0, a.id.0),
            );
            (lot, a)
        })
        .collect();
    lots.sort_by_key(|(lot, _)| *lot);
    lots.into_iter().take(count).map(|(_, a)| a).collect()
}
