-- Occupations of public land (suolo pubblico) and the canone unico's tariff tables.
--
-- The conflict rule lives here: two occupations that hold the place (granted, valid) may
-- not overlap in shape and period. `shape` is the place in a planar frame in metres (a
-- sinusoidal projection about 12°E, see occupations/geometry.rs), shrunk inward by 1 mm so
-- that neighbours sharing an edge do not "overlap" (PostgreSQL's polygon && is fuzzy by an
-- absolute 1e-6 and counts touching as overlapping). `&&` on polygons is poly_overlap: it
-- compares the true shapes, not their bounding boxes (the GiST index only prefilters by
-- box). Coordinates are global, so no municipality column is needed in the constraint.

create table occupation_tariff_tables (
    municipality          text        not null check (municipality ~ '^[0-9]{6}$'),
    year                  integer     not null check (year between 2021 and 2200),
    version               integer     not null check (version > 0),
    population            bigint      not null check (population > 0),
    standard_annual_cents bigint      not null check (standard_annual_cents > 0),
    standard_daily_cents  bigint      not null check (standard_daily_cents > 0),
    created_at            timestamptz not null,
    primary key (municipality, year, version)
);

create table occupation_tariff_rates (
    municipality      text    not null,
    year              integer not null,
    version           integer not null,
    zone_category     integer not null check (zone_category between 1 and 20),
    kind              text    not null check (kind in ('dehors', 'scaffolding', 'event', 'market_stall')),
    permanent         boolean not null,
    coefficient_milli integer not null check (coefficient_milli > 0),
    reduction_percent integer not null check (reduction_percent between 0 and 100),
    primary key (municipality, year, version, zone_category, kind, permanent),
    foreign key (municipality, year, version) references occupation_tariff_tables
);

create table occupations (
    id                 uuid        primary key,
    municipality       text        not null check (municipality ~ '^[0-9]{6}$'),
    kind               text        not null check (kind in ('dehors', 'scaffolding', 'event', 'market_stall')),
    -- The place as given: lon0, lat0, lon1, lat1, ... (WGS84 degrees), ring not closed.
    vertices           double precision[] not null
                       check (cardinality(vertices) >= 6 and cardinality(vertices) % 2 = 0),
    -- The place for the conflict rule: projected metres, shrunk inward by 1 mm.
    shape              polygon     not null,
    -- The lon/lat bounding box, for the map of a street.
    bounds             box         not null,
    street             text        not null check (length(street) between 1 and 200),
    zone_category      integer     not null check (zone_category between 1 and 20),
    area_m2            double precision not null check (area_m2 > 0),
    -- Inclusive start, exclusive end; an open upper bound is a permanent open-ended one.
    period             daterange   not null check (not isempty(period) and not lower_inf(period)),
    permanent          boolean     not null,
    business_id        uuid        references businesses,
    requester_ref      text,
    status             text        not null check (status in ('requested', 'granted', 'valid', 'revoked', 'expired')),
    renews             uuid        references occupations,
    -- The canone as computed at the grant: never recomputed when tariffs change.
    canone_cents       bigint,
    billed_area_m2     bigint,
    billed_days        bigint,
    tariff_year        integer,
    tariff_version     integer,
    standard_cents     bigint,
    coefficient_milli  integer,
    reduction_percent  integer,
    receipt_ref        text,
    paid_at            timestamptz,
    revocation_reason  text,
    version            bigint      not null default 1 check (version > 0),
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    -- A business or a pseudonymous person, never both, never a name.
    constraint occupations_one_requester check ((business_id is null) <> (requester_ref is null)),
    constraint occupations_granted_has_canone check (status not in ('granted', 'valid') or canone_cents is not null),
    constraint occupations_no_overlap exclude using gist (shape with &&, period with &&)
        where (status in ('granted', 'valid'))
);

create index occupations_street on occupations (municipality, lower(street));
create index occupations_bounds on occupations using gist (bounds);
