-- Rationing rounds (issue 17) and the delivery target on picks.
--
-- A round shares the stock of some items between the incidents of one operation by the
-- published rule (`stockpile_core::rationing`). Committing it writes ordinary allocation
-- requests, one per (incident, priority) of the round, each linked here by `round_id`,
-- so dispatch, delivery, cancel and replan work on them unchanged. The round keeps what
-- was asked (`demands`, as merged lines) and what the rule gave per item and tier, the
-- totals, and the nearest-first baseline's totals (the price of fairness), as the answer
-- showed them.
create table rationing_rounds (
    id uuid primary key,
    operation_id uuid not null references operations (id),
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    -- The committed plan differs from the preview the dispatcher committed (the stock
    -- changed in between): the round planned again and reserved what it answered.
    replanned boolean not null default false,
    demands jsonb not null,
    summary jsonb not null
);
create index rationing_rounds_operation_idx on rationing_rounds (operation_id, created_at);

alter table allocation_requests add column round_id uuid references rationing_rounds (id);
create index allocation_requests_round_idx on allocation_requests (round_id) where round_id is not null;

-- A pick arriving after the incident's delivery target (`rules::lateness`). `late` now
-- means after the target or after `needed_by`; picks stored before keep their flags.
alter table allocation_picks add column misses_target boolean not null default false;
