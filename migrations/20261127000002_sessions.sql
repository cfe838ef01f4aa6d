-- Sign-in sessions: bearer tokens are stored only as their SHA-256.
create table sessions (
    token_hash text primary key,
    user_id uuid not null references users (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index sessions_user_idx on sessions (user_id);

-- Failed and successful sign-ins, kept in the database so that the lock-out holds
-- across every service process.
create table login_attempts (
    id bigint generated always as identity primary key,
    username text not null,
    succeeded boolean not null,
    at timestamptz not null default now()
);
create index login_attempts_username_at_idx on login_attempts (username, at);
