//! Group chaining (`audit::chain`): one chainer at a time across processes, a chainer
//! killed mid-batch, events committed while no chainer runs, and the rule that a write
//! is never answered before its event is chained.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use stockpile::audit::{self, Change, Origin};
use stockpile::auth::Actor;
use stockpile::config::Settings;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, read};

// ---------------------------------------------------------------- helpers

const KEY: i64 = audit::chain::LOCK_KEY;

fn incident_body(name: &str) -> Value {
    json!({"name": name, "kind": "flood",
           "point": {"lat": 22.46, "lon": 113.03}, "population": 1200})
}

/// Evaluates `$found` (an `Option`, with `.await`s) every 20 ms until it is `Some`, and
/// yields its value; panics after 10 s saying what it waited for.
macro_rules! wait_for {
    ($what:expr, $found:expr) => {{
        let mut found = None;
        for _ in 0..500 {
            found = $found;
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        found.unwrap_or_else(|| panic!("timed out waiting until {}", $what))
    }};
}

/// Waits until `$cond` (a `bool`, with `.await`s) holds.
macro_rules! wait_until {
    ($what:expr, $cond:expr) => {
        wait_for!($what, ($cond).then_some(()))
    };
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn pending(app: &TestApp) -> i64 {
    scalar(app, "select count(*) from audit_pending").await
}

async fn head_seq(app: &TestApp) -> i64 {
    scalar(app, "select seq from audit_chain_head").await
}

/// The backend that holds the chainer's advisory lock in the test database, if any.
async fn chainer_pid(app: &TestApp) -> Option<i32> {
    sqlx::query_scalar(
        "select l.pid from pg_locks l join pg_database d on d.oid = l.database
          where l.locktype = 'advisory' and l.granted and d.datname = current_database()
            and (l.classid::int8 << 32 | l.objid::int8) = $1",
    )
    .bind(KEY)
    .fetch_optional(&app.pool)
    .await
    .expect("lock holder")
}

/// How many chainers' connections the test database has.
async fn chainers_connected(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
          where application_name = $1 and datname = current_database()",
    )
    .bind(audit::chain::APPLICATION_NAME)
    .fetch_one(&app.pool)
    .await
    .expect("activity")
}

/// How many backends hold the chainer's lock (at most one, ever).
async fn lock_holders(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_locks l join pg_database d on d.oid = l.database
          where l.locktype = 'advisory' and l.granted and d.datname = current_database()
            and (l.classid::int8 << 32 | l.objid::int8) = $1",
    )
    .bind(KEY)
    .fetch_one(&app.pool)
    .await
    .expect("lock holders")
}

/// Takes the chainer's lock on a connection of the test's own, so that no service
/// process chains: as if the chainer's process were hung. Kills the backends of the
/// chainer that holds it, if any, while a
/// blocking request for the lock waits, which is then granted before the service's next
/// attempt. Dropping the connection gives the lock back.
async fn stop_the_chainer(app: &TestApp) -> PgConnection {
    let mut conn = PgConnection::connect_with(&app.options)
        .await
        .expect("connect");
    sqlx::query("set lock_timeout = '2s'")
        .execute(&mut conn)
        .await
        .expect("lock timeout");
    for _ in 0..20 {
        let taken: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(KEY)
            .fetch_one(&mut conn)
            .await
            .expect("try the chainer's lock");
        if taken {
            return conn;
        }
        if chainer_pid(app).await.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let lock = sqlx::query("select pg_advisory_lock($1)")
            .bind(KEY)
            .execute(&mut conn);
        let kill = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            kill_chainers(app).await;
        };
        if tokio::join!(lock, kill).0.is_ok() {
            return conn;
        }
    }
    panic!("could not take the chainer's lock");
}

/// Terminates every chainer connection of the test database: the leader's, and the
/// idle ones of processes that wait for the lock.
async fn kill_chainers(app: &TestApp) {
    sqlx::query(
        "select pg_terminate_backend(pid) from pg_stat_activity
          where application_name = $1 and datname = current_database()",
    )
    .bind(audit::chain::APPLICATION_NAME)
    .execute(&app.pool)
    .await
    .expect("terminate the chainers");
}

/// Commits `n` plain events in one transaction, named `{prefix}{i}`, without chaining.
async fn commit_events(app: &TestApp, prefix: &str, n: usize) {
    let mut tx = app.pool.begin().await.expect("begin");
    for i in 0..n {
        audit::db::record(
            &mut tx,
            &Actor::system(),
            &Origin::cli(),
            Change {
                action: "test.event",
                entity_kind: "test",
                entity_id: format!("{prefix}{i}"),
                before: None,
                after: Some(json!({ "i": i })),
            },
        )
        .await
        .expect("record");
    }
    tx.commit().await.expect("commit");
}

/// Gives the chainer's lock back, waits until the chain has taken every event, retries
/// the incident `body` with `key`, and asserts the stored answer: a 201, one
/// `incident.create` event for the one incident, and a chain that verifies.
async fn resume_and_retry_once(
    app: &TestApp,
    lock: PgConnection,
    dispatcher: &str,
    body: &Value,
    key: &str,
) {
    lock.close().await.expect("release the lock");
    wait_until!("the chain takes the event", pending(app).await == 0);
    let (status, answer) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/incidents",
            dispatcher,
            body,
            Some(key),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        scalar(
            app,
            "select count(*) from audit_events where action = 'incident.create'"
        )
        .await,
        1
    );
    assert_eq!(verify(app).await["ok"], true);
}

async fn verify(app: &TestApp) -> Value {
    let auditor = app.token("auditor", &[]).await;
    let (status, body) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The seqs of chained events about `entity_kind` whose id starts with `prefix`.
async fn seqs_of(app: &TestApp, entity_kind: &str, prefix: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "select seq from audit_events where entity_kind = $1 and starts_with(entity_id, $2)
          order by seq",
    )
    .bind(entity_kind)
    .bind(prefix)
    .fetch_all(&app.pool)
    .await
    .expect("seqs")
}

/// Asserts the chain is gapless from 1 to its head, with every seq once.
async fn assert_gapless(app: &TestApp) {
    let (events, distinct, max): (i64, i64, Option<i64>) =
        sqlx::query_as("select count(*), count(distinct seq), max(seq) from audit_events")
            .fetch_one(&app.pool)
            .await
            .expect("chain shape");
    let head = head_seq(app).await;
    assert_eq!((events, distinct, max), (head, head, Some(head)));
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn a_write_committed_while_the_chainer_is_down_is_answered_only_once_it_is_chained() {
    // Arrange: a request id to find the write's event by, and no chainer running.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let request_id = Uuid::new_v4().to_string();
    let lock = stop_the_chainer(&app).await;
    let send = app
        .client
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(&dispatcher)
        .header("x-request-id", &request_id)
        .json(&incident_body("Flood, Jiangmen (chainer down)"))
        .send();
    let answer = tokio::spawn(async move { read(send.await.expect("send")).await });
    let events_of = |table: &'static str| {
        let (pool, request_id) = (app.pool.clone(), request_id.clone());
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "select count(*) from {table} where request_id = $1"
            )))
            .bind(request_id)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };

    // Act 1: the change commits, and its event waits, pending.
    wait_until!("the write commits", events_of("audit_pending").await == 1);
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Assert 1: no answer yet, and nothing chained.
    assert!(
        !answer.is_finished(),
        "answered before its event was chained"
    );
    assert_eq!(events_of("audit_events").await, 0);

    // Act 2: the chainer is back (the service's own takes the lock).
    lock.close().await.expect("release the lock");
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("answered once the chain resumes")
        .expect("the request task");

    // Assert 2: answered, and by then chained.
    assert_eq!(status, 201, "{body}");
    assert_eq!(events_of("audit_events").await, 1);
    assert_eq!(events_of("audit_pending").await, 0);
    assert_eq!(verify(&app).await["ok"], true);
}

#[tokio::test]
async fn a_write_whose_server_lifetime_ends_before_it_is_chained_is_a_503_and_its_retry_replays() {
    // Arrange: no chainer runs, so the write waits on the database, as in a process
    // whose chainer does not lead; the lifetime the service knows.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let body = incident_body("Flood, Jiangmen (server restarted)");
    let lifetime = || async {
        sqlx::query_scalar::<_, Uuid>("select server_lifetime()")
            .fetch_one(&app.pool)
            .await
            .expect("lifetime")
    };
    let before = lifetime().await;
    let lock = stop_the_chainer(&app).await;
    let send = app
        .client
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(&dispatcher)
        .header("idempotency-key", "lifetime-503")
        .json(&body)
        .send();
    let answer = tokio::spawn(async move { read(send.await.expect("send")).await });

    // Act 1: the change commits, without a flush of its own, and waits; then the
    // server's lifetime ends, as crash recovery ends it by emptying the unlogged table
    // (a real crash: `cluster.rs` and the fault matrix).
    wait_until!("the write commits", pending(&app).await == 1);
    sqlx::query("truncate server_lifetime")
        .execute(&app.pool)
        .await
        .expect("end the lifetime");
    let (status, problem) = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("answered at once")
        .expect("the request task");

    // Assert 1: not acknowledged: the write may have been lost with its lifetime.
    assert_problem(status, &problem, 503, "");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("restarted")),
        "{problem}"
    );
    assert_ne!(lifetime().await, before, "a new lifetime");

    // Act 2 and assert 2: here the write survived (no real crash), so the retry replays
    // it once the chain resumes.
    resume_and_retry_once(&app, lock, &dispatcher, &body, "lifetime-503").await;
}

#[tokio::test]
async fn a_batch_names_the_ticket_of_every_event_it_chained_so_their_requests_are_answered() {
    // Arrange: no chainer runs; two requests' handlers record events under their
    // tickets (one two, the other one), and the CLI records one, with none.
    let app = TestApp::demo().await;
    let lock = stop_the_chainer(&app).await;
    let chain = audit::chain::Chain::new(Duration::from_secs(1));
    let (first, second) = (chain.ticket(&app.pool).await, chain.ticket(&app.pool).await);
    let ((), first_events) =
        audit::chain::watch_recording(commit_events(&app, "ticket-a-", 2), &first).await;
    let ((), second_events) =
        audit::chain::watch_recording(commit_events(&app, "ticket-b-", 1), &second).await;
    commit_events(&app, "ticket-cli-", 1).await;
    let carried: Vec<i64> = sqlx::query_scalar(
        "select ticket from audit_pending where entity_id like 'ticket-%' and ticket is not null
          order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tickets");

    // Act: one batch, as the chainer runs it.
    let mut conn = app.pool.acquire().await.expect("connection");
    let (chained, tickets) = audit::chain::batch(&mut conn, audit::chain::BATCH, false)
        .await
        .expect("batch");

    // Assert: the handlers counted their events; the batch chained all four and names
    // each ticket once per event, as the pending rows carried them; the CLI's event has
    // none.
    assert_eq!((first_events, second_events), (2, 1));
    assert_eq!(chained, 4);
    assert_eq!(carried.len(), 3);
    assert_eq!(tickets, carried);
    assert_eq!(tickets[0], tickets[1]);
    assert_ne!(tickets[1], tickets[2]);
    assert_eq!(pending(&app).await, 0);
    drop(lock);
}

#[tokio::test]
async fn service_writes_that_record_an_event_leave_their_flush_to_the_chain_and_cli_writes_do_not()
{
    // Arrange: a connection as the service opens them, and one as the CLI does.
    let app = TestApp::demo().await;
    let mut service = PgConnection::connect_with(&app.pool.connect_options())
        .await
        .expect("a service connection");
    let cli_pool = stockpile::db::pool(app.options.clone(), 1)
        .await
        .expect("a CLI pool");
    let mut cli = cli_pool.acquire().await.expect("a CLI connection");
    async fn commit_mode(conn: &mut PgConnection, with_event: bool) -> String {
        // A durable server's default (the test cluster's is off, for speed).
        sqlx::query("set synchronous_commit = on")
            .execute(&mut *conn)
            .await
            .expect("set");
        let mut tx = conn.begin().await.expect("begin");
        if with_event {
            audit::db::record(
                &mut tx,
                &Actor::system(),
                &Origin::cli(),
                Change {
                    action: "test.event",
                    entity_kind: "test",
                    entity_id: "commit-mode".to_owned(),
                    before: None,
                    after: None,
                },
            )
            .await
            .expect("record");
        }
        let mode = sqlx::query_scalar("select current_setting('synchronous_commit')")
            .fetch_one(&mut *tx)
            .await
            .expect("setting");
        tx.rollback().await.expect("rollback");
        mode
    }

    // Act
    let service_event = commit_mode(&mut service, true).await;
    let service_plain = commit_mode(&mut service, false).await;
    let cli_event = commit_mode(&mut cli, true).await;

    // Assert: only the service's transaction that records an event commits without its
    // own flush, and only that transaction (the setting is local to it).
    assert_eq!(service_event, "off");
    assert_eq!(service_plain, "on");
    assert_eq!(cli_event, "on");
}

#[tokio::test]
async fn a_write_the_chain_does_not_take_in_time_is_a_503_and_its_retry_replays_once_chained() {
    // Arrange: writes wait for the chain at most 300 ms, and no chainer runs.
    let app = TestApp::demo_with(Settings {
        chain_wait: Duration::from_millis(300),
        ..Settings::default()
    })
    .await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let body = incident_body("Flood, Jiangmen (retried)");
    let lock = stop_the_chainer(&app).await;

    // Act 1
    let (status, problem) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/incidents",
            &dispatcher,
            &body,
            Some("chain-503"),
        )
        .await;

    // Assert 1: not acknowledged, though committed.
    assert_problem(status, &problem, 503, "");
    assert_eq!(pending(&app).await, 1);

    // Act 2 and assert 2: the chain resumes, and the retry gets the stored answer.
    resume_and_retry_once(&app, lock, &dispatcher, &body, "chain-503").await;
}

#[tokio::test]
async fn a_chainer_killed_mid_batch_rolls_back_and_the_next_one_chains_every_event_once() {
    // Arrange: two service processes (the test's server and a second state), one of
    // whose chainers leads, and a transaction that holds the seq the batch will give
    // its second event, so the batch stops there, having written its first.
    let app = TestApp::demo().await;
    let second_pool = stockpile::db::pool(app.options.clone(), 2)
        .await
        .expect("pool");
    let _second = stockpile::AppState::new(second_pool, Settings::default());
    wait_until!("a chainer leads", chainer_pid(&app).await.is_some());
    let head = head_seq(&app).await;
    let mut blocker = app.pool.begin().await.expect("begin");
    sqlx::query(
        "insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind,
                                   entity_id, prev_hash, hash)
         values ($1, now(), '00000000-0000-0000-0000-000000000001', 'system', 'test.block',
                 'test', 'block', '', '')",
    )
    .bind(head + 2)
    .execute(&mut *blocker)
    .await
    .expect("hold a seq");
    let blocker_pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *blocker)
        .await
        .expect("pid");
    commit_events(&app, "mid-batch-", 3).await;
    let stuck: i32 = wait_for!(
        "the batch stops at the held seq",
        sqlx::query_scalar(
            "select a.pid from pg_stat_activity a
              where a.application_name = $1 and a.datname = current_database()
                and a.query like '%audit_chain_batch%' and $2 = any (pg_blocking_pids(a.pid))",
        )
        .bind(audit::chain::APPLICATION_NAME)
        .bind(blocker_pid)
        .fetch_optional(&app.pool)
        .await
        .expect("activity")
    );
    assert_eq!(lock_holders(&app).await, 1);

    // Act: the chainer's process dies mid-batch (with every chainer connection), then
    // the seq is free again.
    kill_chainers(&app).await;
    blocker.rollback().await.expect("rollback");
    wait_until!(
        "another chainer chains the events",
        pending(&app).await == 0
    );

    // Assert: each event once, right after the old head, no gap; a chainer leads again.
    assert_eq!(
        seqs_of(&app, "test", "mid-batch-").await,
        vec![head + 1, head + 2, head + 3]
    );
    assert_gapless(&app).await;
    assert_eq!(verify(&app).await["ok"], true);
    wait_until!(
        "a chainer leads again",
        chainer_pid(&app).await.is_some_and(|pid| pid != stuck)
    );
}

#[tokio::test]
async fn chainers_started_at_once_elect_one_and_every_event_is_chained_once_without_gaps() {
    // Arrange: three service processes start their chainers at once (the test's server
    // and two more states), beside writers that also chain directly, as the CLI does.
    let app = TestApp::demo().await;
    let mut others = Vec::new();
    for _ in 0..2 {
        let pool = stockpile::db::pool(app.options.clone(), 2)
            .await
            .expect("pool");
        others.push(stockpile::AppState::new(pool, Settings::default()));
    }
    wait_until!(
        "three chainers are connected and one leads",
        chainers_connected(&app).await == 3 && chainer_pid(&app).await.is_some()
    );
    let head = head_seq(&app).await;
    let dispatcher = app.token("dispatcher", &[]).await;

    // Act: 4 writers × 25 events, each chained directly at once, and 20 writes through
    // the service, all concurrently.
    let direct = (0..4).map(|w| {
        let app = &app;
        async move {
            for i in 0..25 {
                commit_events(app, &format!("w{w}-{i}-"), 1).await;
                audit::chain::drain(&app.pool).await.expect("chain");
            }
        }
    });
    let through_http = (0..20).map(|i| {
        let (app, dispatcher) = (&app, &dispatcher);
        async move {
            let (status, body) = app
                .post(
                    "/api/v1/incidents",
                    dispatcher,
                    &incident_body(&format!("Flood {i}")),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    });
    tokio::join!(
        futures_util::future::join_all(direct),
        futures_util::future::join_all(through_http)
    );

    // Assert: one chainer ever holds the lock; 120 new events, each once, no gap.
    assert_eq!(lock_holders(&app).await, 1);
    assert_eq!(pending(&app).await, 0);
    assert_eq!(head_seq(&app).await, head + 120);
    let direct_events: (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct entity_id) from audit_events where action = 'test.event'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("events");
    assert_eq!(direct_events, (100, 100));
    assert_eq!(
        scalar(
            &app,
            "select count(*) from audit_events where action = 'incident.create'"
        )
        .await,
        20
    );
    assert_gapless(&app).await;
    assert_eq!(verify(&app).await["ok"], true);
}

#[tokio::test]
async fn events_left_pending_by_a_crash_count_as_audited_and_are_chained_by_the_next_chainer() {
    // Arrange: no chainer runs; a process commits a ledger movement with its event,
    // then dies before any chainer takes it.
    let app = TestApp::demo().await;
    let lock = stop_the_chainer(&app).await;
    let mut tx = app.pool.begin().await.expect("begin");
    let movement: i64 = sqlx::query_scalar(
        "insert into stock_movements (lot_id, kind, qty, reason, actor_id)
         select id, 'adjustment', 1, 'found on the shelf', '00000000-0000-0000-0000-000000000001'
           from stock_lots order by id limit 1
         returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("movement");
    audit::db::record(
        &mut tx,
        &Actor::system(),
        &Origin::cli(),
        Change {
            action: "stock.adjustment",
            entity_kind: "movement",
            entity_id: movement.to_string(),
            before: None,
            after: Some(json!({ "qty": 1 })),
        },
    )
    .await
    .expect("record");
    tx.commit().await.expect("commit");

    // Act 1
    let meanwhile = verify(&app).await;

    // Assert 1: the movement is audited by its pending event, which is counted.
    assert_eq!(meanwhile["ok"], true, "{meanwhile}");
    assert_eq!(meanwhile["pending_events"], 1, "{meanwhile}");
    assert_eq!(meanwhile["first_broken_movement_id"], Value::Null);

    // Act 2: a chainer starts.
    lock.close().await.expect("release the lock");
    wait_until!("the chainer takes the event", pending(&app).await == 0);

    // Assert 2: chained, in the movement's transaction, and the chain verifies.
    let linked: bool = sqlx::query_scalar(
        "select e.xact_id = m.xact_id from audit_events e, stock_movements m
          where e.action = 'stock.adjustment' and e.entity_id = $1 and m.id = $2",
    )
    .bind(movement.to_string())
    .bind(movement)
    .fetch_one(&app.pool)
    .await
    .expect("link");
    assert!(linked, "the event keeps its writer's transaction id");
    let after = verify(&app).await;
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(after["pending_events"], 0, "{after}");
    assert_gapless(&app).await;
}
