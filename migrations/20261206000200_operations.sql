-- Operations and response levels (issue 17).
--
-- An operation groups the incidents of one emergency ("Typhoon Saola 2023, Jiangmen"),
-- so that a rationing round can share scarce stock across them. An incident's response
-- level (county, city, province) gives its default delivery target: the hours within
-- which the first batch must arrive after the dispatch order (6, 8 and 10 h in China's
-- 2024 national guidance; reserve-policy.md). The service fills `delivery_target_hours`
-- from the level's configured default (`--delivery-targets`) when the dispatcher names
-- none, and stores it: the target an incident was opened with does not move when the
-- configuration does. Incidents from before this migration get the county target.
create table operations (
    id uuid primary key,
    name text not null constraint operations_name_len check (length(name) between 1 and 200),
    status text not null default 'open' constraint operations_status check (status in ('open', 'closed')),
    note text constraint operations_note_len check (length(note) <= 2000),
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

alter table incidents
    add column operation_id uuid references operations (id),
    add column response_level text not null default 'county'
        constraint incidents_response_level check (response_level in ('county', 'city', 'province')),
    add column delivery_target_hours integer not null default 6
        constraint incidents_delivery_target_range check (delivery_target_hours between 1 and 72);

create index incidents_operation_idx on incidents (operation_id) where operation_id is not null;
