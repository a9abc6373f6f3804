-- pagoPA debt positions that SUAP created (the kit's payments ledger writes them; see
-- sportello_kit::payments). No debtor data: who owes is sent to pagoPA and kept there.

-- The 13-digit IUV bases; with SUAP's segregation code and the check digits they make
-- 17-digit IUVs that no other department of the creditor can build.
create sequence payment_iuv_base_seq minvalue 1 maxvalue 9999999999999 no cycle;

create table payment_positions (
    id                   uuid        primary key,
    municipality         text        not null check (municipality ~ '^[0-9]{6}$'),
    creditor_fiscal_code text        not null check (creditor_fiscal_code ~ '^[0-9]{11}$'),
    -- What the payment is for: e.g. 'occupation' and the occupation's id.
    purpose_kind         text        not null check (purpose_kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    purpose_id           text        not null check (length(purpose_id) between 1 and 64),
    iupd                 text        not null check (length(iupd) between 1 and 50),
    iuv                  text        not null check (iuv ~ '^[0-9]{17}$'),
    notice_number        text        not null check (notice_number ~ '^3[0-9]{17}$'),
    amount_cents         bigint      not null check (amount_cents > 0),
    due_date             date        not null,
    description          text        not null check (length(description) between 1 and 140),
    status               text        not null default 'open'
                                     check (status in ('open', 'paid', 'invalidated')),
    -- When GPD confirmed the position (null while the first attempt is unconfirmed).
    published_at         timestamptz,
    paid_at              timestamptz,
    receipt_id           text        check (length(receipt_id) between 1 and 64),
    version              bigint      not null default 1 check (version > 0),
    created_at           timestamptz not null,
    constraint payment_positions_iupd_unique unique (iupd),
    -- IUVs are unique per creditor (pagoPA's rule).
    constraint payment_positions_iuv_unique unique (creditor_fiscal_code, iuv),
    constraint payment_positions_receipt_unique unique (creditor_fiscal_code, receipt_id),
    -- Aux digit 3: the notice number is '3' and the IUV.
    constraint payment_positions_notice_is_iuv check (notice_number = '3' || iuv),
    -- Paid exactly when a receipt says so.
    constraint payment_positions_paid_has_receipt
        check ((status = 'paid') = (paid_at is not null and receipt_id is not null))
);

-- At most one live position per purpose: a repeated request finds it.
create unique index payment_positions_one_per_purpose
    on payment_positions (purpose_kind, purpose_id) where status <> 'invalidated';
