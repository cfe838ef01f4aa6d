-- Every change that can invalidate a signed-in session announces itself, so that each
-- service process can cache validated tokens and still honour a revocation at once (see
-- src/auth/cache.rs). Statement triggers: one notification per statement, and
-- PostgreSQL folds identical notifications of one transaction into one, delivered at
-- commit. Inserting a session (signing in) invalidates nothing and stays silent.
create function notify_session_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('stockpile_auth', tg_table_name);
    return null;
end $$;

create trigger sessions_notify after update or delete or truncate on sessions
    for each statement execute function notify_session_change();
create trigger users_notify after update or delete or truncate on users
    for each statement execute function notify_session_change();
create trigger user_warehouses_notify after insert or update or delete or truncate on user_warehouses
    for each statement execute function notify_session_change();
