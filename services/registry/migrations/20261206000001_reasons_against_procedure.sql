-- The notice of reasons against as the law runs it (issue 11, points 1 and 5): a failed
-- address check no longer rejects at once; the back office sends a 10-bis notice (an
-- outgoing protocol entry: its date is the day it is sent, within the 45 days, DPR
-- 223/1989 art. 18-bis c. 1), records the day it was received (PEC delivery receipt,
-- return card or counter; the 10-day window of L. 241/1990 art. 10-bis counts from it),
-- the citizen's observations and the answer to them. Only then may the previous state be
-- restored (art. 18-bis c. 2).
alter table residence_changes
    -- Rows decided or noticed before this rule keep what they were (a rejection without
    -- notice, a notice without its two dates); every other row follows the rules below.
    add column before_notice_rule     boolean not null default false,
    add column check_failed_at        timestamptz,
    add column check_failure          text check (length(check_failure) between 1 and 500),
    add column notice_sent_on         date,
    add column notice_protocol_number text check (length(notice_protocol_number) between 1 and 40),
    add column notice_delivery        text check (notice_delivery in ('pec_receipt', 'return_card', 'counter')),
    add column notice_received_on     date,
    add column observations_window_end date,
    add column observations_on        date,
    add column observations           text check (length(observations) between 1 and 2000),
    add column observations_outcome   text check (observations_outcome in ('accepted', 'rejected')),
    add column observations_answer    text check (length(observations_answer) between 1 and 500);

update residence_changes set before_notice_rule = true
    where status = 'rejected' or reasons_against_at is not null;

alter table residence_changes
    add constraint residence_changes_check_failure check (
        (check_failed_at is null) = (check_failure is null)),
    -- A notice sent has its date and its outgoing protocol number, after the declaration.
    add constraint residence_changes_notice_sent check (before_notice_rule or (
        (reasons_against_at is null) = (notice_sent_on is null)
        and (notice_sent_on is null) = (notice_protocol_number is null)
        and (notice_sent_on is null or notice_sent_on >= effective_date))),
    add constraint residence_changes_notice_received check (
        (notice_received_on is null) = (notice_delivery is null)
        and (notice_received_on is null) = (observations_window_end is null)
        and (notice_received_on is null or (notice_sent_on is not null
             and notice_received_on >= notice_sent_on
             and observations_window_end >= notice_received_on + 10))),
    -- Observations count only within the window, and are answered with reasons.
    add constraint residence_changes_observations check (
        (observations_on is null) = (observations is null)
        and (observations_on is null or (notice_received_on is not null
             and observations_on between notice_received_on and observations_window_end))
        and (observations_outcome is null or observations_on is not null)
        and (observations_outcome is null) = (observations_answer is null)),
    -- No rejection without a notice received, and then only once the observations were
    -- rejected with reasons or the window passed unused (DPR 223/1989 art. 18-bis c. 2,
    -- L. 241/1990 art. 10-bis). Rejections decided before this rule are kept
    -- as they were.
    add constraint residence_changes_rejected_after_notice check (
        status <> 'rejected' or before_notice_rule
        or (notice_received_on is not null
            and (observations_outcome = 'rejected'
                 or (observations_on is null
                     and (decided_at at time zone 'Europe/Rome')::date > observations_window_end))));
