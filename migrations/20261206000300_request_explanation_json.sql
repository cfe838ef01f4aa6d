-- A request line's explanation is stored as `json` text, compressed with lz4, instead of
-- `jsonb` compressed with pglz.
--
-- The explanation names every warehouse holding the item that the plan did not use in
-- full, with the quantities behind the reason: at 500 warehouses about 160 kB per line.
-- Nothing queries inside it; it is written once per (re)plan and answered as it was
-- written. As jsonb, storing it took 4.5 of a request's 9 ms reservation statement: 2.8
-- ms to build the binary tree, 1.7 ms for pglz. As json the input is only validated, and
-- lz4 compresses the same text several times faster (in psql, 160 kB: 4.6 ms as jsonb
-- with pglz, 1.1 ms as json with lz4). The service now writes the explanation once, as
-- JSON text straight from the planner's entries, and answers a stored request with the
-- same text.
alter table allocation_request_lines
    alter column explanation drop default,
    alter column explanation type json using explanation::json,
    alter column explanation set default '[]';

-- lz4 needs a server built with it (PostgreSQL's packages are); without it the column
-- keeps the default method and only the speed differs.
do $$
begin
    alter table allocation_request_lines alter column explanation set compression lz4;
exception when feature_not_supported then
    raise notice 'lz4 is not available; explanations keep the default compression';
end $$;
