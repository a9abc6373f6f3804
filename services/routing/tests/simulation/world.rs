//! One run's world: the catalogue, operators and specialists (fixed), the arrivals (drawn
//! from the seed), and what the simulated hosts share — the database and the stream,
//! which outlive any host's crash, and each live replica's views, for the final checks.

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use sportello_proto::routing::v1::{Tier, WorkState};
use sportello_routing::{
    catalogue::{
        cache::Catalogue,
        domain::{Requirement, ServiceGroup, ServiceType},
    },
    dispatch::Dispatcher,
    operators::domain::{Profile, Skill},
    sites::domain::SiteSettings,
    work::index::WorkIndex,
};
use uuid::Uuid;

use super::{
    clock::at_ms,
    model_db::{self, Item, MUNICIPALITY, ModelDb, OperatorRow, SharedDb},
    model_stream::{SharedStream, StreamState},
};

/// How many routing replicas run.
pub(crate) const REPLICAS: usize = 3;

/// How long faults are injected (simulated milliseconds); arrivals come within it.
pub(crate) const FAULT_MS: u64 = 400;

/// How long an offer waits for its answer (simulated milliseconds).
pub(crate) const OFFER_TIMEOUT_MS: u64 = 40;

/// A service of the catalogue: code, queue, tier, the skill it needs.
pub(crate) struct ServiceDef {
    pub(crate) code: &'static str,
    pub(crate) group: &'static str,
    pub(crate) tier: Tier,
    pub(crate) skill: Option<(&'static str, i16)>,
}

/// The catalogue. The tax assessment needs a tier-3 operator with the "tributi" skill at
/// 3 or more: only op-a, on replica 0, may serve it — so a case that replica 0 loses
/// track of (a reservation never released) is served by nobody, and the run says so.
pub(crate) const SERVICES: &[ServiceDef] = &[
    ServiceDef {
        code: "registry.certificate",
        group: "anagrafe",
        tier: Tier::InfoDesk,
        skill: None,
    },
    ServiceDef {
        code: "registry.residence",
        group: "anagrafe",
        tier: Tier::Polivalente,
        skill: None,
    },
    ServiceDef {
        code: "tax.assessment",
        group: "tributi",
        tier: Tier::Tecnico,
        skill: Some(("tributi", 3)),
    },
];

/// A counter operator: id, home replica, tier, skills.
pub(crate) struct OperatorDef {
    pub(crate) id: &'static str,
    pub(crate) replica: usize,
    pub(crate) tier: Tier,
    pub(crate) skills: &'static [(&'static str, i16)],
}

/// The counter operators.
pub(crate) const OPERATORS: &[OperatorDef] = &[
    OperatorDef {
        id: "op-a",
        replica: 0,
        tier: Tier::Tecnico,
        skills: &[("tributi", 4)],
    },
    OperatorDef {
        id: "op-b",
        replica: 0,
        tier: Tier::InfoDesk,
        skills: &[],
    },
    OperatorDef {
        id: "op-c",
        replica: 1,
        tier: Tier::Polivalente,
        skills: &[],
    },
    OperatorDef {
        id: "op-d",
        replica: 1,
        tier: Tier::InfoDesk,
        skills: &[],
    },
    OperatorDef {
        id: "op-e",
        replica: 2,
        tier: Tier::Polivalente,
        skills: &[],
    },
    OperatorDef {
        id: "op-f",
        replica: 2,
        tier: Tier::Tecnico,
        skills: &[("tributi", 2)],
    },
];

/// A back-office specialist: id, home replica, department, capacity.
pub(crate) struct SpecialistDef {
    pub(crate) id: &'static str,
    pub(crate) replica: usize,
    pub(crate) department: &'static str,
    pub(crate) capacity: usize,
}

/// The specialists.
pub(crate) const SPECIALISTS: &[SpecialistDef] = &[
    SpecialistDef {
        id: "sp-1",
        replica: 0,
        department: "suap",
        capacity: 1,
    },
    SpecialistDef {
        id: "sp-2",
        replica: 1,
        department: "suap",
        capacity: 2,
    },
    SpecialistDef {
        id: "sp-3",
        replica: 2,
        department: "edilizia",
        capacity: 1,
    },
    SpecialistDef {
        id: "sp-4",
        replica: 0,
        department: "edilizia",
        capacity: 1,
    },
];

/// A citizen's arrival at the kiosk, taken by one replica.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub(crate) at: u64,
    pub(crate) replica: usize,
    pub(crate) case: sportello_routing::cases::domain::Case,
}

/// A department's request, taken by one replica's consumer.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) at: u64,
    pub(crate) replica: usize,
    pub(crate) item: Item,
}

/// What one seed draws.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) arrivals: Vec<Arrival>,
    pub(crate) requests: Vec<Request>,
    /// Probability that a claim finds PostgreSQL unreachable during the faults.
    pub(crate) unavailable: f64,
    /// Probability that a fetch redelivers an acknowledged message.
    pub(crate) duplicate_rate: f64,
}

/// The site every counter case is at.
pub(crate) fn site() -> Uuid {
    Uuid::from_u128(0x5173)
}

impl Plan {
    /// Draws the arrivals and requests of `seed`.
    pub(crate) fn draw(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
        let mut arrivals = Vec::new();
        for n in 0..rng.random_range(10..24u128) {
            let service = &SERVICES[rng.random_range(0..SERVICES.len())];
            let at = rng.random_range(0..FAULT_MS * 3 / 4);
            arrivals.push(Arrival {
                at,
                replica: rng.random_range(0..REPLICAS),
                case: model_db::counter_case(
                    Uuid::from_u128(0xCA5E_0000 + n),
                    site(),
                    service.code,
                    service.group,
                    service.tier,
                    rng.random_bool(0.25),
                    at_ms(at),
                ),
            });
        }
        let mut requests = Vec::new();
        for n in 0..rng.random_range(3..9u128) {
            let at = rng.random_range(0..FAULT_MS * 3 / 4);
            let due = rng
                .random_bool(0.7)
                .then(|| jiff::civil::date(2027, 1, 1 + rng.random_range(0..20i8)));
            requests.push(Request {
                at,
                replica: rng.random_range(0..REPLICAS),
                item: Item {
                    id: Uuid::from_u128(0x17E3_0000 + n),
                    department: if rng.random_bool(0.5) {
                        "suap"
                    } else {
                        "edilizia"
                    }
                    .to_owned(),
                    arrived_at: at_ms(at),
                    due,
                    state: WorkState::Waiting,
                    offered_to: None,
                    offer_expires: None,
                    holder: None,
                    version: 1,
                },
            });
        }
        Self {
            arrivals,
            requests,
            unavailable: rng.random_range(0.0..0.15),
            duplicate_rate: rng.random_range(0.0..0.3),
        }
    }
}

/// The catalogue as routing's cache holds it.
pub(crate) fn catalogue() -> Arc<Catalogue> {
    let municipality = MUNICIPALITY.parse().unwrap_or_else(|_| unreachable!());
    let services = SERVICES
        .iter()
        .map(|s| {
            let service = ServiceType {
                municipality,
                code: s.code.to_owned(),
                name: s.code.to_owned(),
                department: "anagrafe".to_owned(),
                tier: s.tier,
                expected_minutes: 10,
                appointment_required: false,
                required_skills: s
                    .skill
                    .iter()
                    .map(|(skill, min)| Requirement {
                        skill: (*skill).to_owned(),
                        min_proficiency: *min,
                    })
                    .collect(),
                group: s.group.to_owned(),
                channels: vec![],
                documents: vec![],
                statutory_rule: String::new(),
                active: true,
                outcomes: vec![],
            };
            (s.code.to_owned(), Arc::new(service))
        })
        .collect::<HashMap<_, _>>();
    let groups = ["anagrafe", "tributi"]
        .into_iter()
        .map(|g| {
            (
                g.to_owned(),
                ServiceGroup {
                    municipality,
                    code: g.to_owned(),
                    letter: g[..1].to_ascii_uppercase(),
                    name: g.to_owned(),
                },
            )
        })
        .collect();
    Arc::new(Catalogue { services, groups })
}

/// An operator's profile.
pub(crate) fn profile(def: &OperatorDef) -> Profile {
    Profile {
        id: def.id.to_owned(),
        municipality: MUNICIPALITY.parse().unwrap_or_else(|_| unreachable!()),
        display_name: def.id.to_owned(),
        tier: def.tier,
        department: "anagrafe".to_owned(),
        skills: def
            .skills
            .iter()
            .map(|(skill, proficiency)| Skill {
                skill: (*skill).to_owned(),
                proficiency: *proficiency,
            })
            .collect(),
    }
}

/// The site's settings (the 20-minute priority bound).
pub(crate) fn settings() -> SiteSettings {
    SiteSettings::default()
}

/// What the hosts share.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) plan: Plan,
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) db: SharedDb,
    pub(crate) stream: SharedStream,
    /// Each live replica's dispatcher and back-office view.
    pub(crate) views: RefCell<BTreeMap<usize, (Dispatcher, WorkIndex)>>,
    /// How many times each host has started, so a restarted host draws anew.
    pub(crate) starts: RefCell<BTreeMap<String, u64>>,
    /// What a host found wrong on its way (a task's panic would not stop the run).
    pub(crate) errors: RefCell<Vec<String>>,
    /// Claims cut short by their replica's crash (chosen, reserved, never settled).
    pub(crate) crashed_claims: std::cell::Cell<u32>,
    /// Events the consumer's inbox recognised as already applied.
    pub(crate) redeliveries: std::cell::Cell<u32>,
}

impl World {
    /// A world for `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let plan = Plan::draw(seed);
        let mut db = ModelDb::default();
        for op in OPERATORS {
            db.operators.insert(
                op.id.to_owned(),
                OperatorRow {
                    available: true,
                    department: None,
                    capacity: 0,
                },
            );
        }
        for sp in SPECIALISTS {
            db.operators.insert(
                sp.id.to_owned(),
                OperatorRow {
                    available: false,
                    department: Some(sp.department.to_owned()),
                    capacity: sp.capacity,
                },
            );
        }
        db.unavailable = plan.unavailable;
        let stream = StreamState {
            duplicate_rate: plan.duplicate_rate,
            ..StreamState::default()
        };
        Self {
            seed,
            plan,
            catalogue: catalogue(),
            db: std::rc::Rc::new(RefCell::new(db)),
            stream: std::rc::Rc::new(RefCell::new(stream)),
            views: RefCell::default(),
            starts: RefCell::default(),
            errors: RefCell::default(),
            crashed_claims: std::cell::Cell::default(),
            redeliveries: std::cell::Cell::default(),
        }
    }

    /// Records a host's start; returns its incarnation.
    pub(crate) fn started(&self, host: &str) -> u64 {
        let mut starts = self.starts.borrow_mut();
        let n = starts.entry(host.to_owned()).or_default();
        *n += 1;
        *n
    }

    /// A generator for one task of one incarnation of a host.
    pub(crate) fn rng(&self, host: &str, incarnation: u64, task: u64) -> StdRng {
        let name = host
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        StdRng::seed_from_u64(
            self.seed
                ^ name.wrapping_mul(0x100_0000_01B3)
                ^ incarnation.wrapping_mul(0x9E37_79B9)
                ^ task.wrapping_mul(0xC2B2_AE35),
        )
    }
}
