//! Stored fee records on the wire.

use jiff::civil::Date;
use sportello_kit::events::to_proto_timestamp;
use sportello_proto::education::v1::{
    BillingPlan, Charge as ChargeMessage, ChargeStatus, FeeBand, FeeSchedule,
    Subscription as SubscriptionMessage,
};

use super::{domain::Plan, store};

/// A schedule version.
pub fn schedule(s: &store::Schedule) -> FeeSchedule {
    FeeSchedule {
        municipality_istat_code: s.municipality.to_string(),
        kind: s.kind.message() as i32,
        school_year: i32::from(s.year),
        version: u32::try_from(s.version).unwrap_or_default(),
        bands: s
            .bands
            .iter()
            .map(|b| FeeBand {
                up_to_cents: b.up_to_cents,
                monthly_cents: b.monthly_cents,
            })
            .collect(),
        sibling_reduction_percent: u32::from(s.sibling_reduction_percent),
        create_time: Some(to_proto_timestamp(s.created_at)),
    }
}

/// Whether a charge is open past its due date on `today`: only a charge whose notice was
/// issued — one the family could not pay is not in arrears.
fn overdue(charge: &store::Charge, today: Date) -> bool {
    charge.paid_at.is_none() && charge.notice_number.is_some() && charge.due_date < today
}

/// Open charges past their due date on `today`, in euro cents.
pub fn arrears(s: &store::Subscription, today: Date) -> i64 {
    s.charges
        .iter()
        .filter(|c| overdue(c, today))
        .map(|c| c.amount_cents)
        .sum()
}

/// A subscription with its charges, as they stand on `today` (Europe/Rome).
pub fn subscription(s: &store::Subscription, today: Date) -> SubscriptionMessage {
    SubscriptionMessage {
        id: s.id.to_string(),
        code: s.code.clone(),
        municipality_istat_code: s.municipality.to_string(),
        kind: s.kind.message() as i32,
        school_year: i32::from(s.year),
        child_ref: s.child_ref.clone(),
        payer_ref: s.payer_ref.clone(),
        resident: s.resident,
        band: u32::try_from(s.band).unwrap_or_default(),
        schedule_version: u32::try_from(s.schedule_version).unwrap_or_default(),
        monthly_cents: s.monthly_cents,
        reduction_percent: u32::try_from(s.reduction_percent).unwrap_or_default(),
        plan: match s.plan {
            Plan::Monthly => BillingPlan::Monthly,
            Plan::Yearly => BillingPlan::Yearly,
        } as i32,
        charges: s
            .charges
            .iter()
            .map(|c| ChargeMessage {
                id: c.id.to_string(),
                period: c.period.clone(),
                amount_cents: c.amount_cents,
                due_date: c.due_date.to_string(),
                status: if c.paid_at.is_some() {
                    ChargeStatus::Paid
                } else {
                    ChargeStatus::Open
                } as i32,
                notice_number: c.notice_number.clone().unwrap_or_default(),
                iuv: c.iuv.clone().unwrap_or_default(),
                paid_time: c.paid_at.map(to_proto_timestamp),
                overdue: overdue(c, today),
            })
            .collect(),
        protocol_number: s.protocol_number.clone(),
        arrears_cents: arrears(s, today),
        create_time: Some(to_proto_timestamp(s.created_at)),
        isee_value_cents: s.isee_cents,
        dsu_protocol: s.dsu_protocol.clone().unwrap_or_default(),
    }
}
