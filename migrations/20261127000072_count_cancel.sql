-- A clerk can cancel an open count that will not be finished (a count abandoned half
-- way would otherwise hold its lots: a lot is in at most one open count). Cancelling
-- books nothing and frees the lots for a new count.
alter table counts drop constraint counts_status;
alter table counts add constraint counts_status check (status in ('open', 'posted', 'cancelled'));
alter table counts add column cancelled_by uuid references users (id);
alter table counts add column cancelled_at timestamptz;
alter table counts add column cancel_reason text;
alter table counts add constraint counts_cancelled_consistent
    check ((status = 'cancelled') = (cancelled_at is not null and cancel_reason is not null));
