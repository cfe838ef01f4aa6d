-- Incidents, the road network and closures, allocation requests and shipments.
-- Reservations themselves live in the stock ledger (kinds reserve, release, dispatch);
-- request_picks only say which request holds which reserved quantity.

create table incidents (
    id uuid primary key,
    name text not null constraint incidents_name_len check (length(name) between 1 and 200),
    kind text not null constraint incidents_kind check (kind in (
        'typhoon', 'flood', 'rainstorm', 'landslide', 'fire', 'earthquake', 'epidemic', 'other')),
    lat double precision not null constraint incidents_lat_range check (lat between -90 and 90),
    lon double precision not null constraint incidents_lon_range check (lon between -180 and 180),
    -- a validated GeoJSON Polygon (closed rings, not self-intersecting), or null
    affected_area jsonb,
    population bigint not null default 0 constraint incidents_population_nonneg check (population >= 0),
    started_at timestamptz not null,
    status text not null default 'open' constraint incidents_status check (status in ('open', 'closed')),
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index incidents_started_idx on incidents (started_at);

-- The road network as uploaded; the newest row is current. Kept whole so that the
-- service can rebuild its in-memory graph and notice (by id) that another process
-- replaced it.
create table road_networks (
    id bigint generated always as identity primary key,
    document text not null,
    edge_count integer not null,
    uploaded_by uuid not null references users (id),
    created_at timestamptz not null default now()
);

create table road_closures (
    id uuid primary key,
    name text not null constraint road_closures_name_len check (length(name) between 1 and 200),
    reason text not null,
    edge_ids text[] not null default '{}',
    -- a validated GeoJSON Polygon or MultiPolygon, or null
    area jsonb,
    starts_at timestamptz not null,
    ends_at timestamptz,
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    ended_by uuid references users (id),
    constraint road_closures_something check (area is not null or cardinality(edge_ids) > 0)
);
create index road_closures_active_idx on road_closures (starts_at, ends_at);

create table allocation_requests (
    id uuid primary key,
    incident_id uuid not null references incidents (id),
    priority text not null constraint allocation_requests_priority check (priority in ('critical', 'high', 'normal')),
    needed_by timestamptz,
    include_affected_warehouses boolean not null default false,
    status text not null constraint allocation_requests_status check (status in (
        'reserved', 'partially_reserved', 'unfilled', 'dispatched', 'cancelled')),
    created_by uuid not null references users (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    dispatched_at timestamptz,
    cancelled_at timestamptz
);
create index allocation_requests_incident_idx on allocation_requests (incident_id, id);
create index allocation_requests_status_idx on allocation_requests (status, id);

create table allocation_request_lines (
    request_id uuid not null references allocation_requests (id),
    line_no integer not null,
    item_id uuid not null references items (id),
    sku text not null,
    requested bigint not null constraint allocation_request_lines_requested_pos check (requested > 0),
    reserved bigint not null default 0,
    -- the planner's explanation of skipped warehouses, from the latest (re)plan
    explanation jsonb not null default '[]',
    primary key (request_id, line_no),
    constraint allocation_request_lines_reserved_range check (reserved between 0 and requested)
);

create table allocation_picks (
    id bigint generated always as identity primary key,
    request_id uuid not null references allocation_requests (id),
    line_no integer not null,
    lot_id uuid not null references stock_lots (id),
    warehouse_id uuid not null references warehouses (id),
    qty bigint not null constraint allocation_picks_qty_pos check (qty > 0),
    eta_minutes double precision not null,
    distance_km double precision,
    late boolean not null default false,
    created_at timestamptz not null default now(),
    foreign key (request_id, line_no) references allocation_request_lines (request_id, line_no)
);
create index allocation_picks_request_idx on allocation_picks (request_id, id);
create index allocation_picks_lot_idx on allocation_picks (lot_id);

create table shipments (
    id uuid primary key,
    request_id uuid not null references allocation_requests (id),
    warehouse_id uuid not null references warehouses (id),
    status text not null default 'in_transit' constraint shipments_status check (status in ('in_transit', 'delivered')),
    dispatched_at timestamptz not null default now(),
    delivered_at timestamptz,
    delivery_note text,
    constraint shipments_request_warehouse_key unique (request_id, warehouse_id)
);

create table shipment_lines (
    shipment_id uuid not null references shipments (id),
    lot_id uuid not null references stock_lots (id),
    qty bigint not null constraint shipment_lines_qty_pos check (qty > 0),
    received_qty bigint constraint shipment_lines_received_nonneg check (received_qty >= 0),
    primary key (shipment_id, lot_id)
);
