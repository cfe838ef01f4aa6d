//! Test harness: one private PostgreSQL cluster per test binary (or `DATABASE_URL`),
//! template databases made once, and a fresh database plus a real server on port 0
//! for every test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::Utc;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use stockpile::config::Settings;
use stockpile::db::LocalCluster;
use stockpile::db::cluster::Profile;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Template with migrations only.
pub const EMPTY: &str = "stockpile_tpl_empty";
/// Template with migrations and the GBA demo data.
pub const DEMO: &str = "stockpile_tpl_demo";

struct Server {
    /// Options for the maintenance database; `database(..)` picks another.
    base: PgConnectOptions,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();

/// The folder of the test cluster.
/// Keyed by the checkout, so that checkouts sharing a target folder do not share (and
/// reset) each other's test cluster.
pub fn cluster_dir() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut h);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stockpile-test-cluster-{:08x}", h.finish() as u32))
}

async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            let base = match std::env::var("DATABASE_URL") {
                Ok(url) => url.parse::<PgConnectOptions>().expect("DATABASE_URL"),
                Err(_) => {
                    let cluster = LocalCluster::new(&cluster_dir(), Profile::Ephemeral)
                        .expect("prepare the test cluster");
                    cluster.wait_for_previous_watcher();
                    cluster.ensure_running().expect("start the test cluster");
                    cluster
                        .stop_when_process_exits(std::process::id())
                        .expect("watch the test process");
                    cluster.connect_options("postgres")
                }
            };
            let mut admin = PgConnection::connect_with(&base.clone().database("postgres"))
                .await
                .expect("connect to the test server");
            // Databases left by earlier runs.
            let stale: Vec<String> = sqlx::query_scalar(
                "select datname from pg_database where datname like 'stockpile_t_%' or datname like 'stockpile_tpl_%'",
            )
            .fetch_all(&mut admin)
            .await
            .expect("list databases");
            for db in stale {
                drop_db(&mut admin, &db).await;
            }
            for tpl in [EMPTY, DEMO] {
                exec(&mut admin, &format!("create database {tpl}")).await;
                let pool = stockpile::db::pool(base.clone().database(tpl), 2)
                    .await
                    .expect("template pool");
                stockpile::db::migrate(&pool).await.expect("migrate the template");
                if tpl == DEMO {
                    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
                    stockpile::seed::load(&pool, &stockpile::seed::default_dir(), today)
                        .await
                        .expect("load the demo data into the template");
                }
                pool.close().await;
            }
            Server { base }
        })
        .await
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn drop_db(conn: &mut PgConnection, db: &str) {
    exec(conn, &format!("drop database if exists {db} with (force)")).await;
}

/// A running service on its own fresh database.
pub struct TestApp {
    /// The service's address.
    pub addr: SocketAddr,
    /// A pool on the test database, for arranging and asserting directly.
    pub pool: PgPool,
    /// Options for the test database, for a second pool or process.
    pub options: PgConnectOptions,
    /// The test database's name.
    pub db_name: String,
    /// An HTTP client.
    pub client: reqwest::Client,
}

impl TestApp {
    /// A service over a copy of the demo-data template.
    pub async fn demo() -> TestApp {
        Self::from_template(DEMO, Settings::default()).await
    }

    /// A service with `settings` over a copy of the demo-data template.
    pub async fn demo_with(settings: Settings) -> TestApp {
        Self::from_template(DEMO, settings).await
    }

    /// A service over an empty, migrated database.
    pub async fn empty() -> TestApp {
        Self::from_template(EMPTY, Settings::default()).await
    }

    async fn from_template(template: &str, settings: Settings) -> TestApp {
        let server = server().await;
        let db_name = format!("stockpile_t_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server.base.clone().database("postgres"))
            .await
            .expect("connect");
        exec(
            &mut admin,
            &format!("create database {db_name} template {template}"),
        )
        .await;
        admin.close().await.ok();
        let options = server.base.clone().database(&db_name);
        let pool = stockpile::db::pool(options.clone(), 8).await.expect("pool");
        let state = stockpile::AppState::new(pool.clone(), settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, stockpile::app(state)).await.ok();
        });
        TestApp {
            addr,
            pool,
            options,
            db_name,
            client: reqwest::Client::new(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates an active user with `role`, assigned to the warehouses with `codes`, and
    /// returns a bearer token for it.
    pub async fn token(&self, role: &str, codes: &[&str]) -> String {
        let id = Uuid::now_v7();
        let username = format!("{role}-{}", &id.simple().to_string()[20..]);
        sqlx::query("insert into users (id, username, display_name, role) values ($1, $2, $3, $4)")
            .bind(id)
            .bind(&username)
            .bind(format!("Test {role}"))
            .bind(role)
            .execute(&self.pool)
            .await
            .expect("insert user");
        for code in codes {
            sqlx::query(
                "insert into user_warehouses (user_id, warehouse_id) select $1, id from warehouses where code = $2",
            )
            .bind(id)
            .bind(code)
            .execute(&self.pool)
            .await
            .expect("assign warehouse");
        }
        let (token, hash) = stockpile::auth::new_token();
        sqlx::query("insert into sessions (token_hash, user_id, expires_at) values ($1, $2, now() + interval '1 hour')")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await
            .expect("insert session");
        token
    }

    /// GET `path` with `token`, returning status and JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// POST JSON to `path` with `token`.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, body, None)
            .await
    }

    /// Sends JSON with `method`, optionally with an `Idempotency-Key`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        read(req.send().await.expect("request")).await
    }
}

/// Status and body of a response (JSON when it is JSON, else a string).
pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let is_json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.contains("json"))
        .unwrap_or(false);
    let text = res.text().await.expect("body");
    let body = if is_json {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    (status, body)
}

/// How many audit events with this action the database holds, once every committed one
/// is chained (as the CLI chains its own: the use-case tests call no chainer).
pub async fn audit_count(app: &TestApp, action: &str) -> i64 {
    stockpile::audit::chain::drain(&app.pool)
        .await
        .expect("chain the pending events");
    sqlx::query_scalar("select count(*) from audit_events where action = $1")
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .expect("count the audit events")
}

/// Asserts `body` is a problem document with `status` naming `pointer` among its errors.
pub fn assert_problem(status: u16, body: &Value, expected: u16, pointer: &str) {
    assert_eq!(status, expected, "unexpected status; body: {body}");
    assert_eq!(body["status"], expected, "problem status; body: {body}");
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    if !pointer.is_empty() {
        let named = body["errors"]
            .as_array()
            .map(|errs| errs.iter().any(|e| e["pointer"] == pointer))
            .unwrap_or(false);
        assert!(named, "expected an error naming `{pointer}`: {body}");
    }
}

/// Waits until `n` service processes listen for changes, so that their caches (sessions,
/// item policies) are in use: each stays off until its process's listener has subscribed.
pub async fn wait_for_listeners(app: &TestApp, n: i64) {
    for _ in 0..500 {
        let listening: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() and query like '%LISTEN \"stockpile_auth\";%' and query like '%LISTEN \"stockpile_catalog\";%'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("activity");
        if listening >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{n} change listeners never subscribed");
}

impl TestApp {
    /// POSTs raw bytes (a file) with `content_type`, optionally with an `Idempotency-Key`.
    pub async fn post_file(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        read(req.send().await.expect("request")).await
    }
}

/// A GTIN-14 with a correct check digit from its first 13 digits.
pub fn gtin(body13: &str) -> String {
    let check = stockpile::gs1::check_digit(body13).expect("digits");
    format!("{body13}{check}")
}

impl TestApp {
    /// Gives back this app's database connections (its pools and background tasks'),
    /// for tests that start many apps one after another.
    pub async fn release(&self) {
        self.pool.close().await;
        if let Ok(mut conn) = PgConnection::connect_with(&self.options).await {
            let _ = sqlx::query(
                "select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = current_database() and pid <> pg_backend_pid()",
            )
            .execute(&mut conn)
            .await;
            let _ = conn.close().await;
        }
    }
}
