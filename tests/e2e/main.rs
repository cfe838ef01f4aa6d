//! End-to-end tests of the web console in a real headless Chromium (through chromedriver),
//! against a real server on a random port with its own database. They skip, with a message,
//! when chromium or chromedriver is not installed; `.ci/run` installs both.
//!
//! Screenshots of each main screen land in `target/e2e-screenshots/`.

#[path = "../api/helpers.rs"]
mod helpers;

mod admin;
mod auditor;
mod browser;
mod clerk;
mod dispatcher;
mod measure;
mod reserve;
mod serving;

use browser::Browser;
use helpers::TestApp;
use uuid::Uuid;

/// Browser tests run one at a time: two Chromiums on a two-core CI machine only add
/// flakiness.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A user who can sign in with a password, returned as (username, password).
pub async fn user_with_password(app: &TestApp, role: &str, codes: &[&str]) -> (String, String) {
    let id = Uuid::now_v7();
    let username = format!("{role}-{}", &id.simple().to_string()[24..]);
    let password = format!("pw-{}", Uuid::new_v4().simple());
    let hash = stockpile::auth::hash_password(&password).expect("hash");
    sqlx::query(
        "insert into users (id, username, display_name, role, password_hash) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&username)
    .bind(format!("E2E {role}"))
    .bind(role)
    .bind(hash)
    .execute(&app.pool)
    .await
    .expect("insert user");
    for code in codes {
        sqlx::query(
            "insert into user_warehouses (user_id, warehouse_id) select $1, id from warehouses where code = $2",
        )
        .bind(id)
        .bind(code)
        .execute(&app.pool)
        .await
        .expect("assign warehouse");
    }
    (username, password)
}

/// Opens the console and signs in through the sign-in form.
pub async fn sign_in(b: &Browser, app: &TestApp, username: &str, password: &str) {
    b.client
        .goto(&app.url("/"))
        .await
        .expect("open the console");
    b.type_into("#signin-form input[name=username]", username)
        .await;
    b.type_into("#signin-form input[name=password]", password)
        .await;
    b.click("#signin-submit").await;
    b.until(
        "the navigation after sign-in",
        "document.querySelectorAll('#nav a').length > 0",
        20,
    )
    .await;
}

/// Opens the console already signed in as a new user with `role` (a token made directly in
/// the database, put where the sign-in form would put it). For tests whose subject is not
/// the sign-in itself.
pub async fn open_as(b: &Browser, app: &TestApp, role: &str, codes: &[&str], hash: &str) {
    let token = app.token(role, codes).await;
    let session = serde_json::json!({
        "token": token,
        "user": {"username": format!("e2e-{role}"), "display_name": format!("E2E {role}"), "role": role, "warehouses": codes},
    });
    b.client
        .goto(&app.url("/"))
        .await
        .expect("open the console");
    b.client
        .execute(
            "sessionStorage.setItem('stockpile.session', arguments[0]); location.hash = arguments[1]; location.reload();",
            vec![serde_json::Value::String(session.to_string()), serde_json::Value::String(hash.to_owned())],
        )
        .await
        .expect("store the session");
    b.until(
        "the navigation",
        "document.querySelectorAll('#nav a').length > 0",
        20,
    )
    .await;
}

/// Whether the server documents every path in `paths`; when not, says which issue's API
/// is missing and the caller skips. (The console is merged before some of the APIs it
/// drives; these tests start running by themselves when those land.)
pub async fn api_has(app: &TestApp, paths: &[&str], issue: u32) -> bool {
    let (_, spec) = helpers::read(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi"),
    )
    .await;
    let missing: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| spec["paths"].get(*p).is_none())
        .collect();
    if !missing.is_empty() {
        say(&format!(
            "SKIPPED: needs {} from issue {issue}",
            missing.join(", ")
        ));
        return false;
    }
    true
}

/// Prints a line past the test harness's output capture, so that skips show in CI logs.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
