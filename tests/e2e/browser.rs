//! A headless Chromium driven through chromedriver (WebDriver), one per test, with a
//! download folder and screenshot helper. Absent binaries make `Browser::start` return
//! `None`, and the caller skips.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The Chromium launch flags: headless, no sandbox (CI runs as root), nothing fetched.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
    "--lang=en-GB",
];

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The Chromium and chromedriver binaries, or why they are missing.
pub fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let chromium = find(
        "STOCKPILE_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .ok_or("chromium not found (apt-get install chromium, or set STOCKPILE_CHROMIUM)")?;
    let driver = find("STOCKPILE_CHROMEDRIVER", &["chromedriver"]).ok_or(
        "chromedriver not found (apt-get install chromium-driver, or set STOCKPILE_CHROMEDRIVER)",
    )?;
    Ok((chromium, driver))
}

/// A browser session; the chromedriver process dies with it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where downloads land.
    pub downloads: PathBuf,
}

impl Drop for Browser {
    /// Kills chromedriver's whole process group: the Chromium it started too, even when
    /// the test panicked before `close`.
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` (with a message) when the
    /// binaries are not installed.
    pub async fn start(test: &str) -> Option<Browser> {
        let (chromium, driver_bin) = match binaries() {
            Ok(b) => b,
            Err(why) => {
                crate::say(&format!("SKIPPED e2e test `{test}`: {why}"));
                return None;
            }
        };
        let port = free_port();
        // Its own process group, so that Drop can end it with every browser process.
        let driver = Command::new(&driver_bin)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let downloads = std::env::temp_dir().join(format!(
            "stockpile-e2e-dl-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&downloads).expect("download folder");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": FLAGS,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "safebrowsing.enabled": false,
                }
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start a browser session: {e}"),
            }
        };
        let mut browser = Browser {
            client,
            driver,
            downloads,
        };
        browser.allow_downloads().await;
        Some(browser)
    }

    /// Headless Chromium saves downloads only when told where, through the DevTools call
    /// that chromedriver relays.
    async fn allow_downloads(&mut self) {
        let cmd = json!({"cmd": "Browser.setDownloadBehavior", "params": {"behavior": "allow", "downloadPath": self.downloads}});
        let _ = self.client.issue_cmd(CdpCommand(cmd)).await;
    }

    /// Empties the browser's HTTP cache, for a cold-load measurement.
    pub async fn clear_cache(&self) {
        let cmd = json!({"cmd": "Network.clearBrowserCache", "params": {}});
        self.client
            .issue_cmd(CdpCommand(cmd))
            .await
            .expect("clear the browser cache");
    }

    /// Finds one element, waiting up to 15 s for it.
    pub async fn el(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element `{css}` did not appear: {e}"))
    }

    /// Runs `script` (a JS expression) until it is truthy, up to `secs` seconds.
    pub async fn until(&self, what: &str, script: &str, secs: u64) -> Value {
        let started = Instant::now();
        let body = format!("return ({script});");
        loop {
            let v = self
                .client
                .execute(&body, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if started.elapsed() > Duration::from_secs(secs) {
                let page = self
                    .client
                    .execute("return document.getElementById('view')?.innerText || document.body.innerText", vec![])
                    .await
                    .unwrap_or(Value::Null);
                panic!("timed out waiting for {what} ({script}); page text: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Evaluates a JS expression.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(&format!("return ({script});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("js `{script}`: {e}"))
    }

    /// Clears a field and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        e.clear().await.ok();
        e.send_keys(text)
            .await
            .unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    pub async fn click(&self, css: &str) {
        self.el(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Saves a PNG of the page as `target/e2e-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Waits for a finished download whose name ends with `suffix`, and returns its path.
    pub async fn download(&self, suffix: &str, secs: u64) -> PathBuf {
        let started = Instant::now();
        loop {
            if let Some(p) = finished(&self.downloads, suffix) {
                return p;
            }
            if started.elapsed() > Duration::from_secs(secs) {
                panic!("no `*{suffix}` download in {}", self.downloads.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn finished(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(suffix))
}

/// `<target>/e2e-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("e2e-screenshots"))
        .unwrap_or_else(|| PathBuf::from("target/e2e-screenshots"))
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct CdpCommand(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}
