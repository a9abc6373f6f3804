-- The counter flow writes three versions of every case (opened, called, completed), none
-- of them a HOT update (status is in index predicates), so each version is a new entry in
-- every index whose predicate it meets: at the counter's pace an index entry nobody reads
-- is paid three times per case (issue 20: CPU per case is what bounds the counter flow).

-- Only a ticket's cases are looked up by their ticket (`ticket_id = $1` implies it is not
-- null, so the planner uses the partial index): cases opened without a ticket — every
-- OpenCase — stay out of it.
create index cases_ticket_only on cases (ticket_id, ticket_position) where ticket_id is not null;
drop index cases_ticket;
alter index cases_ticket_only rename to cases_ticket;

-- No query reads an operator's completed cases by time: the figures of handling and
-- waiting are read by site and queue (`cases_recent_calls`, `cases_waiting`).
drop index cases_operator_completed;
