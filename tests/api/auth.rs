//! Users, roles and warehouse scope: sign-in, tokens, lock-out, user management, the
//! authorisation matrix, and that secrets never leak into responses or logs.

#[path = "authz_table.rs"]
mod authz_table;

use std::collections::BTreeSet;
use std::time::Instant;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use stockpile::audit::Origin;
use stockpile::auth::{Actor, NewUser, Role};

use crate::helpers::{TestApp, assert_problem, read, wait_for_listeners};
use authz_table::{Access, TABLE};

const PASSWORD: &str = "correct horse battery";

/// Creates a user with a password through the same code the CLI uses.
async fn add_user(app: &TestApp, username: &str, role: &str, codes: &[&str]) {
    let new = NewUser::parse(
        username.into(),
        None,
        role,
        codes.iter().map(|c| (*c).to_owned()).collect(),
        true,
        PASSWORD.into(),
    )
    .expect("valid user");
    let mut tx = app.pool.begin().await.expect("tx");
    stockpile::auth::cases::create_user(&mut tx, &Actor::system(), &Origin::cli(), new)
        .await
        .expect("create user");
    tx.commit().await.expect("commit");
}

/// POST /auth/login without a token: status, body and headers.
async fn login_at(
    addr: &str,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> (u16, Value, HeaderMap) {
    let res = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request");
    let headers = res.headers().clone();
    let (status, body) = read(res).await;
    (status, body, headers)
}

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value, HeaderMap) {
    login_at(&app.addr.to_string(), &app.client, username, password).await
}

async fn sign_in(app: &TestApp, username: &str) -> String {
    let (status, body, _) = login(app, username, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// A second service process over the same database (a separate pool and server).
async fn second_server(app: &TestApp) -> String {
    let pool = stockpile::db::pool(app.options.clone(), 2)
        .await
        .expect("pool");
    let state = stockpile::AppState::new(pool, stockpile::config::Settings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, stockpile::app(state)).await.ok();
    });
    addr.to_string()
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<(String, Value)> {
    sqlx::query_as::<_, (String, Value)>(
        "select actor_username, coalesce(after, 'null'::jsonb) from audit_events where action = $1 order by seq",
    )
    .bind(action)
    .fetch_all(&app.pool)
    .await
    .expect("audit")
}

#[tokio::test]
async fn signing_in_returns_a_token_that_me_accepts_until_logout() {
    // Arrange
    let app = TestApp::demo().await;
    add_user(&app, "dora", "dispatcher", &[]).await;

    // Act
    let (status, body, _) = login(&app, "dora", PASSWORD).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token");
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert_eq!(body["user"]["username"], "dora");
    assert_eq!(body["user"]["role"], "dispatcher");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["expires_at"].clone()).expect("expires_at");
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!(
        (11.9..=12.0).contains(&hours),
        "default lifetime is 12 h: {hours}"
    );
    let stored: String = sqlx::query_scalar("select token_hash from sessions")
        .fetch_one(&app.pool)
        .await
        .expect("session");
    assert_eq!(
        stored,
        stockpile::auth::hash_token(token),
        "only the hash is stored"
    );
    assert_eq!(audit_actions(&app, "auth.login").await[0].0, "dora");

    let (status, me) = app.get("/api/v1/auth/me", token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "dora");

    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204);
    let (status, _) = app.get("/api/v1/auth/me", token).await;
    assert_eq!(status, 401, "a revoked token no longer works");
    assert_eq!(audit_actions(&app, "auth.logout").await.len(), 1);
}

#[tokio::test]
async fn an_expired_token_gets_401_with_www_authenticate_bearer() {
    // Arrange
    let app = TestApp::demo().await;
    add_user(&app, "ed", "auditor", &[]).await;
    let token = sign_in(&app, "ed").await;
    sqlx::query("update sessions set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .expect("expire");

    // Act
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let (_, body) = read(res).await;
    assert_problem(401, &body, 401, "");
}

#[tokio::test]
async fn disabling_a_user_revokes_their_token_at_once() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    add_user(&app, "carl", "clerk", &["JM-JH-RC"]).await;
    let carl = sign_in(&app, "carl").await;
    assert_eq!(app.get("/api/v1/auth/me", &carl).await.0, 200);

    // Act
    let (status, body) = app
        .send(
            Method::PATCH,
            "/api/v1/users/carl",
            &admin,
            &json!({ "active": false }),
            None,
        )
        .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(app.get("/api/v1/auth/me", &carl).await.0, 401);
    let live: i64 = sqlx::query_scalar(
        "select count(*) from sessions s join users u on u.id = s.user_id where u.username = 'carl' and s.revoked_at is null",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(live, 0, "the session row is revoked, not merely hidden");
    let (status, _, _) = login(&app, "carl", PASSWORD).await;
    assert_eq!(status, 401, "a disabled user cannot sign in");
}

/// GET /auth/me at the service at `base` (host:port).
async fn me_at(app: &TestApp, base: &str, token: &str) -> u16 {
    app.client
        .get(format!("http://{base}/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Polls `me` at `base` until it answers 401, for at most five seconds; the statuses seen.
async fn until_refused(app: &TestApp, base: &str, token: &str) -> Vec<u16> {
    let mut seen = Vec::new();
    for _ in 0..500 {
        let status = me_at(app, base, token).await;
        seen.push(status);
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    seen
}

#[tokio::test]
async fn a_user_disabled_through_one_process_is_refused_by_another_that_cached_the_token() {
    // Arrange: two service processes have each served carl, so both cache his session.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    add_user(&app, "carl", "clerk", &["JM-JH-RC"]).await;
    let carl = sign_in(&app, "carl").await;
    let other = second_server(&app).await;
    wait_for_listeners(&app, 2).await;
    let here = app.addr.to_string();
    assert_eq!(me_at(&app, &here, &carl).await, 200);
    assert_eq!(me_at(&app, &other, &carl).await, 200);

    // Act
    let (status, body) = app
        .send(
            Method::PATCH,
            "/api/v1/users/carl",
            &admin,
            &json!({ "active": false }),
            None,
        )
        .await;

    // Assert: the process that disabled him refuses at once; the other is told by the
    // database and refuses within the poll.
    assert_eq!(status, 200, "{body}");
    assert_eq!(me_at(&app, &here, &carl).await, 401);
    let seen = until_refused(&app, &other, &carl).await;
    assert_eq!(
        seen.last(),
        Some(&401),
        "the other process still accepts: {seen:?}"
    );
    assert_eq!(
        me_at(&app, &other, &admin).await,
        200,
        "other sessions still work"
    );
}

/// Signs in a new auditor `username` and has this process cache the session; (here, token).
async fn cached_auditor_session(app: &TestApp, username: &str) -> (String, String) {
    add_user(app, username, "auditor", &[]).await;
    let token = sign_in(app, username).await;
    wait_for_listeners(app, 1).await;
    let here = app.addr.to_string();
    assert_eq!(
        me_at(app, &here, &token).await,
        200,
        "{username} not served"
    );
    (here, token)
}

#[tokio::test]
async fn a_session_revoked_by_plain_sql_is_refused_although_it_was_cached() {
    // Arrange
    let app = TestApp::demo().await;
    let (here, ruth) = cached_auditor_session(&app, "ruth").await;

    // Act: what `stockpile user disable` or an operator's psql session would do.
    sqlx::query("update sessions set revoked_at = now() where user_id = (select id from users where username = 'ruth')")
        .execute(&app.pool)
        .await
        .expect("revoke");

    // Assert
    let seen = until_refused(&app, &here, &ruth).await;
    assert_eq!(seen.last(), Some(&401), "still accepted: {seen:?}");
}

#[tokio::test]
async fn a_cached_session_is_served_without_reading_the_database_which_is_why_changes_notify() {
    // Arrange: ruth's session is cached; then the notification trigger is switched off.
    let app = TestApp::demo().await;
    let (here, ruth) = cached_auditor_session(&app, "ruth").await;
    sqlx::query("alter table sessions disable trigger sessions_notify")
        .execute(&app.pool)
        .await
        .expect("disable trigger");

    // Act: a revocation the service is not told about.
    sqlx::query("update sessions set revoked_at = now()")
        .execute(&app.pool)
        .await
        .expect("revoke");

    // Assert: the cache answers (the database would refuse); a fresh process reads the
    // database and refuses.
    assert_eq!(me_at(&app, &here, &ruth).await, 200);
    let other = second_server(&app).await;
    assert_eq!(me_at(&app, &other, &ruth).await, 401);
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_username_even_for_the_right_password() {
    // Arrange: failures spread over two service processes sharing the database.
    let app = TestApp::demo().await;
    add_user(&app, "lena", "auditor", &[]).await;
    let other = second_server(&app).await;
    for _ in 0..3 {
        assert_eq!(login(&app, "lena", "wrong password").await.0, 401);
    }
    for _ in 0..2 {
        assert_eq!(
            login_at(&other, &app.client, "lena", "wrong password")
                .await
                .0,
            401
        );
    }

    // Act
    let (status, body, headers) = login(&app, "lena", PASSWORD).await;

    // Assert
    assert_problem(status, &body, 429, "");
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        (1..=900).contains(&retry),
        "within the 15-minute window: {retry}"
    );
    assert_eq!(
        login_at(&other, &app.client, "Lena ", PASSWORD).await.0,
        429,
        "case and spaces do not escape it"
    );
    let failures: i64 = sqlx::query_scalar(
        "select count(*) from login_attempts where username = 'lena' and not succeeded",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(
        failures, 5,
        "refused attempts are not counted, so Retry-After holds"
    );
    let audited = audit_actions(&app, "auth.login_failed").await;
    assert_eq!(audited.len(), 7);
    assert_eq!(audited[6].1["reason"], "locked_out");

    // Once the failures age out, the right password works again.
    sqlx::query("update login_attempts set at = at - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .expect("age");
    assert_eq!(login(&app, "lena", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    // Arrange
    let app = TestApp::demo().await;
    add_user(&app, "wanda", "auditor", &[]).await;
    add_user(&app, "gone", "auditor", &[]).await;
    sqlx::query("update users set active = false where username = 'gone'")
        .execute(&app.pool)
        .await
        .expect("disable");

    // Act
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    let mut answers = Vec::new();
    for i in 0..3 {
        let t = Instant::now();
        let (s, b, h) = login(&app, "wanda", "not the password").await;
        wrong.push(t.elapsed());
        answers.push((s, b, h.get("www-authenticate").cloned()));
        let t = Instant::now();
        let (s, b, h) = login(&app, &format!("nobody-{i}"), "not the password").await;
        unknown.push(t.elapsed());
        answers.push((s, b, h.get("www-authenticate").cloned()));
    }
    let (s, b, h) = login(&app, "gone", PASSWORD).await;
    answers.push((s, b, h.get("www-authenticate").cloned()));
    let (s, b, h) = login(&app, "system", PASSWORD).await;
    answers.push((s, b, h.get("www-authenticate").cloned()));

    // Assert
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every failed sign-in looks the same");
    }
    assert_eq!(answers[0].0, 401);
    // The unknown user pays for an argon2 verification too (a generous bound: a missing
    // dummy verification would be an order of magnitude faster).
    let fastest_wrong = wrong.iter().min().copied().unwrap_or_default();
    let fastest_unknown = unknown.iter().min().copied().unwrap_or_default();
    assert!(
        fastest_unknown * 3 >= fastest_wrong,
        "unknown {fastest_unknown:?} vs wrong password {fastest_wrong:?}"
    );
    let system_audit = audit_actions(&app, "auth.login_failed").await;
    assert_eq!(system_audit.len(), 8);
    assert!(system_audit.iter().any(|(actor, _)| actor == "system"));
    assert!(system_audit.iter().any(|(actor, _)| actor == "wanda"));
}

#[tokio::test]
async fn only_admins_manage_users_and_others_are_told_the_missing_role() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let others = [
        ("clerk", app.token("clerk", &["JM-JH-RC"]).await),
        ("dispatcher", app.token("dispatcher", &[]).await),
        ("auditor", app.token("auditor", &[]).await),
    ];
    let new = json!({
        "username": "mei", "display_name": "Mei Chan", "role": "clerk",
        "warehouses": ["SZ-FT-01"], "password": "a long password"
    });

    // Act
    let (status, created) = app.post("/api/v1/users", &admin, &new).await;

    // Assert
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["warehouses"], json!(["SZ-FT-01"]));
    assert_eq!(created["display_name"], "Mei Chan");
    assert_eq!(created["active"], true);
    let (status, list) = app.get("/api/v1/users", &admin).await;
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|u| u["username"] == "mei")
    );
    assert!(
        !list
            .as_array()
            .expect("array")
            .iter()
            .any(|u| u["username"] == "system")
    );
    let (status, one) = app.get("/api/v1/users/mei", &admin).await;
    assert_eq!((status, &one["role"]), (200, &json!("clerk")));
    assert_eq!(sign_in_with(&app, "mei", "a long password").await, 200);

    for (role, token) in &others {
        for (method, path, body) in [
            (Method::GET, "/api/v1/users", Value::Null),
            (Method::GET, "/api/v1/users/mei", Value::Null),
            (
                Method::POST,
                "/api/v1/users",
                json!({ "username": "x1", "role": "admin", "password": "a long password" }),
            ),
            (
                Method::PATCH,
                "/api/v1/users/mei",
                json!({ "active": false }),
            ),
        ] {
            let (status, body) = app.send(method.clone(), path, token, &body, None).await;
            assert_problem(status, &body, 403, "");
            let detail = body["detail"].as_str().expect("detail");
            assert!(
                detail.contains("admin") && detail.contains(role),
                "{method} {path}: {detail}"
            );
        }
    }
    let (active, n): (bool, i64) = sqlx::query_as(
        "select bool_and(active), count(*) from users where username in ('mei', 'x1')",
    )
    .fetch_one(&app.pool)
    .await
    .expect("rows");
    assert_eq!(
        (active, n),
        (true, 1),
        "no forbidden request changed anything"
    );
}

async fn sign_in_with(app: &TestApp, username: &str, password: &str) -> u16 {
    login(app, username, password).await.0
}

#[tokio::test]
async fn user_changes_are_checked_audited_and_idempotent() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let body = json!({ "username": "kit", "role": "clerk", "warehouses": ["JM-JH-RC"], "password": "a long password" });

    // Act
    let first = app
        .send(Method::POST, "/api/v1/users", &admin, &body, Some("k-1"))
        .await;
    let replay = app
        .send(Method::POST, "/api/v1/users", &admin, &body, Some("k-1"))
        .await;
    let again = app.post("/api/v1/users", &admin, &body).await;
    let unknown_wh = app
        .post("/api/v1/users", &admin, &json!({ "username": "kit2", "role": "clerk", "warehouses": ["NOPE"], "password": "a long password" }))
        .await;
    let scoped_admin = app
        .post("/api/v1/users", &admin, &json!({ "username": "kit3", "role": "admin", "warehouses": ["JM-JH-RC"], "password": "a long password" }))
        .await;
    let system_role = app
        .post(
            "/api/v1/users",
            &admin,
            &json!({ "username": "kit4", "role": "system", "password": "a long password" }),
        )
        .await;
    let patched = app
        .send(
            Method::PATCH,
            "/api/v1/users/kit",
            &admin,
            &json!({ "warehouses": ["SZ-FT-01", "JM-JH-RC"], "password": "another long one" }),
            Some("k-2"),
        )
        .await;
    let demoted_with_scope = app
        .send(
            Method::PATCH,
            "/api/v1/users/kit",
            &admin,
            &json!({ "role": "auditor" }),
            None,
        )
        .await;

    // Assert
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(replay, first, "the retry replays the first answer");
    assert_problem(again.0, &again.1, 409, "/username");
    assert_problem(unknown_wh.0, &unknown_wh.1, 422, "/warehouses/0");
    assert_problem(scoped_admin.0, &scoped_admin.1, 422, "/warehouses");
    assert_problem(system_role.0, &system_role.1, 422, "/role");
    assert_eq!(patched.0, 200, "{}", patched.1);
    assert_eq!(patched.1["warehouses"], json!(["JM-JH-RC", "SZ-FT-01"]));
    assert_problem(
        demoted_with_scope.0,
        &demoted_with_scope.1,
        422,
        "/warehouses",
    );
    let n: i64 = sqlx::query_scalar("select count(*) from users where username like 'kit%'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
    let created = audit_actions(&app, "user.create").await;
    assert_eq!(created.len(), 1, "one audit event, despite the retry");
    let updated = audit_actions(&app, "user.update").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].1["password_changed"], true);
    assert_eq!(sign_in_with(&app, "kit", "a long password").await, 401);
    assert_eq!(sign_in_with(&app, "kit", "another long one").await, 200);
}

#[tokio::test]
async fn a_clerk_acts_only_in_assigned_warehouses() {
    // No clerk stock operation exists on this branch yet, so this checks the scope rule
    // every stock handler calls (`Actor::require_warehouse`) on the actor that a real
    // sign-in of an API-created clerk yields. The stock branches test their endpoints.
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let (status, body) = app
        .post("/api/v1/users", &admin, &json!({ "username": "jo", "role": "clerk", "warehouses": ["JM-JH-RC"], "password": "a long password" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let token = sign_in_with_token(&app, "jo", "a long password").await;
    let mut conn = app.pool.acquire().await.expect("conn");
    let (actor, _expires_at) =
        stockpile::auth::db::actor_for_token(&mut conn, &stockpile::auth::hash_token(&token))
            .await
            .expect("query")
            .expect("actor");
    let mine = stockpile::warehouses::db::by_code(&mut conn, "JM-JH-RC")
        .await
        .expect("q")
        .expect("A");
    let theirs = stockpile::warehouses::db::by_code(&mut conn, "SZ-FT-01")
        .await
        .expect("q")
        .expect("B");

    // Act
    let in_mine = actor.require_warehouse(mine.id, &mine.code);
    let in_theirs = actor.require_warehouse(theirs.id, &theirs.code);

    // Assert
    assert!(in_mine.is_ok());
    let err = in_theirs.expect_err("another warehouse");
    assert_eq!(err.status(), 403);
    assert!(err.to_string().contains("SZ-FT-01"), "{err}");
    assert_eq!(actor.role, Role::Clerk);
    let (_, me) = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(me["warehouses"], json!(["JM-JH-RC"]));
}

async fn sign_in_with_token(app: &TestApp, username: &str, password: &str) -> String {
    let (status, body, _) = login(app, username, password).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn password_hashes_never_appear_in_responses_or_the_audit_trail() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let mut bodies = Vec::new();

    // Act
    bodies.push(
        app.post(
            "/api/v1/users",
            &admin,
            &json!({ "username": "hugo", "role": "auditor", "password": "a long password" }),
        )
        .await
        .1,
    );
    bodies.push(
        app.send(
            Method::PATCH,
            "/api/v1/users/hugo",
            &admin,
            &json!({ "password": "another long one", "display_name": "Hugo" }),
            None,
        )
        .await
        .1,
    );
    bodies.push(app.get("/api/v1/users", &admin).await.1);
    bodies.push(app.get("/api/v1/users/hugo", &admin).await.1);
    let (_, signed_in, _) = login(&app, "hugo", "another long one").await;
    let token = signed_in["token"].as_str().expect("token").to_owned();
    bodies.push(signed_in);
    bodies.push(app.get("/api/v1/auth/me", &token).await.1);
    let audit: Vec<Value> = sqlx::query_scalar(
        "select jsonb_build_object('before', before, 'after', after) from audit_events",
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit");

    // Assert
    let hash: String =
        sqlx::query_scalar("select password_hash from users where username = 'hugo'")
            .fetch_one(&app.pool)
            .await
            .expect("hash");
    assert!(hash.starts_with("$argon2id$"));
    for text in bodies.iter().chain(audit.iter()).map(Value::to_string) {
        assert!(
            !text.contains("argon2") && !text.contains("password_hash"),
            "{text}"
        );
        assert!(
            !text.contains("a long password") && !text.contains("another long one"),
            "{text}"
        );
    }
    for row in &audit {
        assert!(!row.to_string().contains(&token), "tokens are not audited");
    }
    assert!(audit.len() >= 3);
}

/// A libpq URL for the test database, for a child process.
fn database_url(app: &TestApp) -> String {
    let o = &app.options;
    let db = o.get_database().unwrap_or("postgres");
    match o.get_socket() {
        Some(dir) => format!(
            "postgres://{}@{}:{}/{db}",
            o.get_username(),
            dir.display()
                .to_string()
                .replace('%', "%25")
                .replace('/', "%2F"),
            o.get_port()
        ),
        None => format!(
            "postgres://{}@{}:{}/{db}",
            o.get_username(),
            o.get_host(),
            o.get_port()
        ),
    }
}

/// Runs the real `stockpile serve` binary on the test database with every log level on,
/// its standard error going to `log_path`; returns the child and its address.
async fn spawn_service(
    app: &TestApp,
    log_path: &std::path::Path,
    extra_args: &[&str],
) -> (tokio::process::Child, String, Vec<String>) {
    use tokio::io::AsyncBufReadExt;
    let log = std::fs::File::create(log_path).expect("log file");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockpile"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra_args)
        .env("DATABASE_URL", database_url(app))
        .env("RUST_LOG", "trace")
        .env_remove("STOCKPILE_LOG_JSON")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stockpile serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut before = Vec::new();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            if let Some(url) = line.strip_prefix("stockpile listening on http://") {
                return url.trim().to_owned();
            }
            before.push(line);
        }
        panic!(
            "stockpile serve exited before listening; see {}",
            log_path.display()
        );
    })
    .await
    .expect("stockpile serve started in time");
    (child, addr, before)
}

#[tokio::test]
async fn tokens_and_passwords_never_appear_in_the_logs() {
    // Arrange: the real binary, logging at every level (RUST_LOG=trace) to a file.
    let app = TestApp::demo().await;
    add_user(&app, "lola", "auditor", &[]).await;
    let log_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("auth-log-{}.txt", app.db_name));
    let (mut child, addr, _) = spawn_service(&app, &log_path, &[]).await;
    let base = format!("http://{addr}");

    // Act
    let (status, _, _) = login_at(&addr, &app.client, "lola", "a wrong password here").await;
    assert_eq!(status, 401);
    let (status, body, _) = login_at(&addr, &app.client, "lola", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    for path in ["/api/v1/auth/me", "/api/v1/lots?limit=1", "/api/v1/users"] {
        let res = app
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_ne!(res.status(), 401, "{path}");
    }
    let res = app
        .client
        .post(format!("{base}/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    child.kill().await.expect("stop the service");

    // Assert
    let text = std::fs::read_to_string(&log_path).expect("read the log");
    std::fs::remove_file(&log_path).ok();
    assert!(
        text.contains("signed in") && text.contains("sign-in failed") && text.contains("response"),
        "the service's logs were captured: {text}"
    );
    assert!(!text.contains(&token), "a token leaked into the logs");
    assert!(
        !text.contains(&stockpile::auth::hash_token(&token)),
        "a token hash leaked into the logs"
    );
    assert!(
        !text.contains(PASSWORD) && !text.contains("a wrong password here"),
        "a password leaked into the logs"
    );
}

#[tokio::test]
async fn serve_demo_prints_each_demo_user_once_and_a_plain_start_makes_none() {
    // Arrange
    let app = TestApp::demo().await;
    let log_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("auth-demo-log-{}.txt", app.db_name));

    // Act: a plain start, then a demo start.
    let (mut plain, _, _) = spawn_service(&app, &log_path, &[]).await;
    plain.kill().await.expect("stop");
    let users_after_plain: i64 =
        sqlx::query_scalar("select count(*) from users where role <> 'system'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    let (mut demo, addr, printed) = spawn_service(&app, &log_path, &["--demo"]).await;

    // Assert
    assert_eq!(users_after_plain, 0, "demo users exist only in demo mode");
    let table: Vec<Vec<&str>> = printed
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| {
            cols.len() == 4 && ["admin", "clerk", "dispatcher", "auditor"].contains(&cols[1])
        })
        .collect();
    let names: Vec<&str> = table.iter().map(|c| c[0]).collect();
    assert_eq!(
        names,
        [
            "admin",
            "dispatcher",
            "auditor",
            "clerk-jianghai",
            "clerk-shenzhen"
        ],
        "{printed:#?}"
    );
    for cols in &table {
        let (status, body, _) = login_at(&addr, &app.client, cols[0], cols[3]).await;
        assert_eq!(
            status, 200,
            "{} signs in with the printed password: {body}",
            cols[0]
        );
        let expected: Vec<&str> = if cols[2] == "-" {
            vec![]
        } else {
            vec![cols[2]]
        };
        assert_eq!(body["user"]["warehouses"], json!(expected));
    }
    demo.kill().await.expect("stop");
    let logs = std::fs::read_to_string(&log_path).expect("log");
    std::fs::remove_file(&log_path).ok();
    for cols in &table {
        assert!(
            !logs.contains(cols[3]),
            "a demo password leaked into the logs"
        );
    }
}

#[tokio::test]
async fn demo_users_are_made_only_in_demo_mode_and_can_sign_in() {
    // Arrange
    let app = TestApp::demo().await;
    let before: i64 = sqlx::query_scalar("select count(*) from users where role <> 'system'")
        .fetch_one(&app.pool)
        .await
        .expect("count");

    // Act
    let first = stockpile::auth::cases::ensure_demo_users(&app.pool)
        .await
        .expect("demo users");
    let second = stockpile::auth::cases::ensure_demo_users(&app.pool)
        .await
        .expect("again");

    // Assert
    assert_eq!(before, 0, "the demo data alone makes no users");
    let names: Vec<&str> = first.iter().map(|(u, _)| u.username).collect();
    assert_eq!(
        names,
        [
            "admin",
            "dispatcher",
            "auditor",
            "clerk-jianghai",
            "clerk-shenzhen"
        ]
    );
    for ((user, old), (_, new)) in first.iter().zip(&second) {
        assert_ne!(old, new, "a fresh password on every start");
        assert_eq!(sign_in_with(&app, user.username, old).await, 401);
        let token = sign_in_with_token(&app, user.username, new).await;
        let (_, me) = app.get("/api/v1/auth/me", &token).await;
        assert_eq!(me["role"], user.role.as_str());
        let expected: Vec<&str> = user.warehouse.into_iter().collect();
        assert_eq!(me["warehouses"], json!(expected));
    }
    let n: i64 = sqlx::query_scalar("select count(*) from users where role <> 'system'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(n, 5);
}

/// One operation of the OpenAPI document.
struct Operation {
    method: String,
    path: String,
    /// The bearer scopes, or `None` when the operation declares no security.
    scopes: Option<BTreeSet<String>>,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let scopes = op["security"].as_array().map(|reqs| {
                reqs.iter()
                    .filter_map(|r| r["bearer"].as_array())
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect::<BTreeSet<String>>()
            });
            ops.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                scopes,
            });
        }
    }
    ops
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .expect("closing brace");
        out.push_str(&rest[..open]);
        out.push_str(&authz_table::placeholder(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.client.request(method.clone(), app.url(path));
    if method != Method::GET {
        req = req.json(&json!({}));
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    read(req.send().await.expect("request")).await
}

#[tokio::test]
async fn every_operation_answers_401_403_or_allowed_as_the_table_says() {
    // Arrange
    let app = TestApp::demo().await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("spec");
    let (_, spec) = read(res).await;
    let ops = operations(&spec);
    let table: std::collections::BTreeMap<&str, Access> = TABLE.iter().copied().collect();
    assert_eq!(
        table.len(),
        TABLE.len(),
        "a row appears twice in authz_table.rs"
    );

    // The table covers every operation and nothing else.
    let missing: Vec<String> = ops
        .iter()
        .map(|o| format!("{} {}", o.method, o.path))
        .filter(|k| !table.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "operations missing from tests/api/authz_table.rs (add a row each): {missing:#?}"
    );
    let stale: Vec<&&str> = table
        .keys()
        .filter(|k| {
            !ops.iter()
                .any(|o| format!("{} {}", o.method, o.path) == **k)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "rows in authz_table.rs without an operation: {stale:?}"
    );

    for op in &ops {
        let key = format!("{} {}", op.method, op.path);
        let access = table[key.as_str()];
        // The declared security says the same as the table.
        let declared = op.scopes.clone();
        let expected: Option<BTreeSet<String>> = match access {
            Access::Open => None,
            Access::Any => Some(BTreeSet::new()),
            Access::Roles(roles) => Some(roles.iter().map(|r| (*r).to_owned()).collect()),
        };
        assert_eq!(
            declared, expected,
            "{key}: the utoipa security(...) disagrees with authz_table.rs"
        );

        // Act + Assert: no token.
        let path = concrete(&op.path);
        let (status, body) = call(&app, &op.method, &path, None).await;
        match access {
            Access::Open => assert_ne!(status, 401, "{key} is open: {body}"),
            _ => assert_problem(status, &body, 401, ""),
        }
        // Each role, with a fresh token (logout revokes the one it is given).
        for role in authz_table::ROLES {
            let codes: &[&str] = if *role == "clerk" {
                &[authz_table::CLERK_WAREHOUSE]
            } else {
                &[]
            };
            let token = app.token(role, codes).await;
            let (status, body) = call(&app, &op.method, &path, Some(&token)).await;
            let allowed = match access {
                Access::Open | Access::Any => true,
                Access::Roles(roles) => roles.contains(role),
            };
            assert_ne!(
                status, 401,
                "{key} as {role}: a valid token was refused: {body}"
            );
            assert_eq!(
                status == 403,
                !allowed,
                "{key} as {role}: got {status}: {body}"
            );
        }
    }

    for path in authz_table::OPEN_OUTSIDE_SPEC {
        let (status, body) = call(&app, "GET", path, None).await;
        assert_eq!(status, 200, "{path} is open: {body}");
    }
}

#[tokio::test]
async fn the_lockout_window_measures_from_the_fifth_newest_failure() {
    // Arrange: five failures, the oldest of them 10 minutes ago.
    let app = TestApp::demo().await;
    add_user(&app, "tess", "auditor", &[]).await;
    sqlx::query(
        "insert into login_attempts (username, succeeded, at)
         select 'tess', false, now() - make_interval(mins => m) from unnest(array[1, 2, 3, 4, 10]) m",
    )
    .execute(&app.pool)
    .await
    .expect("arrange");

    // Act
    let (status, _, headers) = login(&app, "tess", PASSWORD).await;

    // Assert
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((295..=301).contains(&retry), "about 5 minutes: {retry}");
}
