//! Reports opened in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs) driven over WebDriver loads `report.html` of a
//! capacity result and of a rollout from disk, waits for its fonts, and finds every chart drawn
//! at full size with its text laid out in the embedded font.
//!
//! Where Chromium is not installed the test says so and passes, unless `DXSIM_REQUIRE_BROWSER`
//! is set (CI sets it): then a missing browser fails it.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn program(var: &str, default: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
    p.is_file().then_some(p)
}

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(path: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = client
            .get(format!("{}/status", driver.url))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        if let Some(r) = ready {
            let v: Value = r.json().await.unwrap();
            if v["value"]["ready"] == true {
                return driver;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> Value {
    let r = client
        .request(method, &url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {v}");
    v["value"].clone()
}

/// What the page reports about its fonts and charts once its fonts are ready.
const PROBE: &str = r#"
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => {
  const faces = [...document.fonts].map(f => ({family: f.family.replace(/"/g, ''), status: f.status}));
  const charts = [...document.querySelectorAll('figure[data-chart]')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const texts = svg ? [...svg.querySelectorAll('text')] : [];
    return {
      id: f.dataset.chart,
      width: box.width,
      height: box.height,
      texts: texts.length,
      laid_out: texts.filter(t => t.getComputedTextLength() > 0).length,
      family: texts.length ? getComputedStyle(texts[0]).fontFamily.replace(/"/g, '') : '',
      title: texts.length ? texts[0].textContent.trim() : '',
      caption: (f.querySelector('figcaption strong') || {textContent: ''}).textContent,
      // Filled shapes drawn with an area (a heat map's cells, bars), the background aside.
      cells: svg ? [...svg.querySelectorAll('rect')].slice(1).filter(r => {
        const b = r.getBoundingClientRect();
        return b.width > 1 && b.height > 1;
      }).length : 0,
    };
  });
  const headings = [...document.querySelectorAll('h2')].map(h => h.textContent);
  done({faces, charts, headings, japanese: document.fonts.check('16px "dxsim-sans"', '資格確認 電子処方箋')});
});
"#;

/// Loads `html` in headless Chromium and returns what [`PROBE`] found.
async fn probe(chromium: &Path, chromedriver: &Path, html: &Path) -> Value {
    let driver = start_driver(chromedriver).await;
    let profile = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let session = call(
        &client,
        reqwest::Method::POST,
        format!("{}/session", driver.url),
        json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}}),
    )
    .await;
    let id = session["sessionId"].as_str().unwrap().to_owned();
    let base = format!("{}/session/{id}", driver.url);
    call(
        &client,
        reqwest::Method::POST,
        format!("{base}/url"),
        json!({"url": format!("file://{}", html.display())}),
    )
    .await;
    let found = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/execute/async"),
        json!({"script": PROBE, "args": []}),
    )
    .await;
    call(&client, reqwest::Method::DELETE, base, json!({})).await;
    found
}

#[test]
fn every_chart_of_a_report_renders_in_headless_chromium() {
    let (Some(chromium), Some(chromedriver)) = (
        program("CHROMIUM", CHROMIUM),
        program("CHROMEDRIVER", CHROMEDRIVER),
    ) else {
        assert!(
            std::env::var_os("DXSIM_REQUIRE_BROWSER").is_none(),
            "DXSIM_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver"
        );
        eprintln!("skipped: Chromium is not installed (apt-get install chromium chromium-driver)");
        return;
    };
    // A small capacity result and its report, as `dxsim capacity` writes them.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("cap.toml");
    std::fs::write(
        &scenario,
        "name = \"browser\"\nseed = 9\n[population]\nprefectures = [31]\n\
         [period]\nstart = 2025-10-06T08:00:00\nhours = 2.0\n\
         [capacity]\nsample_scale = 0.01\nreplications = 2\n",
    )
    .unwrap();
    let out = dir.path().join("cap");
    dx_sim::cli::run_capacity(&dx_sim::cli::CapacityArgs {
        scenario,
        out: Some(out.clone()),
        calibration: None,
        workload: None,
    })
    .unwrap();
    // And a small rollout, as `dxsim report SCENARIO.toml` simulates and reports it.
    let rollout = dir.path().join("rollout.toml");
    std::fs::write(
        &rollout,
        "name = \"browser-rollout\"\nseed = 9\n[population]\nscale = 0.00002\n\
         [rollout]\nstart = 2026-01-01\nmonths = 4\n\
         [[rollout.waypoints]]\nat = 2026-04-01\nelectronic_share = 0.8\n",
    )
    .unwrap();
    let rolled = dx_sim::cli::run_rollout(&rollout, Some(dir.path().join("rollout"))).unwrap();
    dx_reports::write(&rolled).unwrap();
    // The capacity report of one prefecture's Monday morning: its heat map has a row of cells
    // (one weekday once drew them without height), and it names the prefecture it is scaled
    // to, not all of Japan.
    let found = check_in_browser(&chromium, &chromedriver, &out);
    let heat = found["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "capacity-heatmap")
        .unwrap();
    assert!(heat["cells"].as_u64().unwrap() >= 24, "{heat}");
    assert!(
        heat["title"].as_str().unwrap().contains("Tottori"),
        "{heat}"
    );
    let headings = found["headings"].to_string();
    assert!(
        headings.contains("Tottori") && !headings.contains("all of Japan"),
        "{headings}"
    );
    check_in_browser(&chromium, &chromedriver, &rolled);
}

/// Opens the report in `out` in Chromium and checks its font and every chart written; returns
/// what the page showed.
fn check_in_browser(chromium: &Path, chromedriver: &Path, out: &Path) -> Value {
    let html = out.join("report.html");
    let written = dx_reports::figures(out).unwrap();
    assert!(!written.is_empty(), "{}: no charts", out.display());
    let found =
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(probe(chromium, chromedriver, &html));
    // The embedded font loaded, and it covers the Japanese terms.
    let faces = found["faces"].as_array().unwrap();
    assert!(
        faces
            .iter()
            .any(|f| f["family"] == "dxsim-sans" && f["status"] == "loaded"),
        "{faces:?}"
    );
    assert_eq!(found["japanese"], true, "{found}");
    // Every chart written is on the page, drawn at size with its text laid out in that font.
    let charts = found["charts"].as_array().unwrap();
    assert_eq!(charts.len(), written.len(), "{charts:?} vs {written:?}");
    for c in charts {
        let id = c["id"].as_str().unwrap();
        assert!(written.iter().any(|w| w == id), "{id}");
        assert!(
            c["width"].as_f64().unwrap() >= 400.0 && c["height"].as_f64().unwrap() >= 200.0,
            "{c}"
        );
        assert!(c["texts"].as_u64().unwrap() >= 4, "{c}");
        assert_eq!(c["laid_out"], c["texts"], "{c}: text not laid out");
        assert!(
            c["family"].as_str().unwrap().starts_with("dxsim-sans"),
            "{c}"
        );
        assert_eq!(
            c["title"].as_str(),
            c["caption"].as_str().map(|t| t.trim_end_matches('.')),
            "{c}: the drawn title is not the caption's"
        );
    }
    found
}
