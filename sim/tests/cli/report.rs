//! The HTML report of a run as a reader gets it: self-contained, every chart drawn with its
//! title and with the numbers of the run's own files (checked here without polars, from the
//! JSON and Parquet the run wrote); `dxsim report` on a directory with nothing to report.

use std::collections::BTreeMap;
use std::path::Path;

/// A CSV file as rows of cells (RFC 4180 quoting).
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let mut cells = vec![String::new()];
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        chars.next();
                        cells.last_mut().unwrap().push('"');
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => cells.push(String::new()),
                    (c, _) => cells.last_mut().unwrap().push(c),
                }
            }
            cells
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-9)
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

/// Checks the report in `dir`: self-contained, each chart on the page with its SVG (title
/// drawn) and CSV, and the charts' numbers equal to the run's tables. Returns the chart ids.
pub fn check_report(dir: &Path) -> Vec<String> {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_eq!(
        dx_reports::html::external_references(&html),
        Vec::<String>::new(),
        "the report loads something from outside"
    );
    assert!(html.contains("@font-face{font-family:\"dxsim-sans\";src:url(data:font/otf;base64,"));
    // Every character a reader sees is in the embedded font.
    let body = &html[html.find("</style>").unwrap()..];
    let mut visible = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => visible.push(c),
            _ => {}
        }
    }
    assert_eq!(
        dx_reports::font::missing(&visible),
        Vec::<char>::new(),
        "not in the font"
    );
    let ids = dx_reports::figures(dir).unwrap();
    assert!(!ids.is_empty());
    for id in &ids {
        assert!(
            html.contains(&format!("<figure id=\"chart-{id}\" data-chart=\"{id}\"")),
            "{id} is not on the page"
        );
        let svg = std::fs::read_to_string(dir.join(format!("report/figures/{id}.svg"))).unwrap();
        let texts = dx_reports::chart::svg_texts(&svg);
        assert!(texts.len() >= 4, "{id}: too little text: {texts:?}");
        assert!(svg.contains("@font-face"), "{id}: font not embedded");
        let csv = read_csv(&dir.join(format!("report/tables/{id}.csv")));
        assert!(csv.len() >= 2, "{id}: no numbers");
        // No character outside the embedded font.
        for t in &texts {
            assert_eq!(
                dx_reports::font::missing(t),
                Vec::<char>::new(),
                "{id}: {t}"
            );
        }
    }
    if dir.join("summary.json").exists() {
        check_load(dir, &ids);
    }
    let cap = [dir.to_path_buf(), dir.join("capacity")]
        .into_iter()
        .find(|d| d.join("capacity.json").exists());
    if let Some(cap) = cap {
        check_capacity(dir, &cap, &ids);
    }
    if dir.join("rollout.json").exists() {
        check_rollout(dir, &ids);
    }
    ids
}

/// Every line of the rollout charts against `rollout-months.parquet` and
/// `rollout-services.parquet`, read with arrow.
fn check_rollout(dir: &Path, ids: &[String]) {
    use super::rollout::{column, columns};
    let (mt, m) = columns(&dir.join("rollout-months.parquet"));
    let months = column(&mt, "month");
    // Per chart: each line's name, its column and the factor it is drawn with.
    type Lines<'a> = &'a [(&'a str, &'a str, f64)];
    let monthly: [(&str, Lines); 6] = [
        (
            "rollout-adoption",
            &[
                (
                    "e-prescription: hospitals",
                    "adoption_eprescription_hospital",
                    100.0,
                ),
                (
                    "e-prescription: clinics",
                    "adoption_eprescription_clinic",
                    100.0,
                ),
                (
                    "e-prescription: dental",
                    "adoption_eprescription_dental",
                    100.0,
                ),
                (
                    "e-prescription: pharmacies",
                    "adoption_eprescription_pharmacy",
                    100.0,
                ),
                (
                    "EHR sharing: hospitals",
                    "adoption_ehr_sharing_hospital",
                    100.0,
                ),
                ("EHR sharing: clinics", "adoption_ehr_sharing_clinic", 100.0),
                (
                    "municipalities taking part",
                    "adoption_municipal_participation",
                    100.0,
                ),
                ("card use at clinics", "adoption_card_use_clinic", 100.0),
            ],
        ),
        (
            "rollout-electronic-share",
            &[("electronic share", "electronic_share", 100.0)],
        ),
        (
            "rollout-paper",
            &[
                ("all paper avoided", "paper_avoided", 1.0),
                (
                    "prescription slips (electronic prescriptions)",
                    "electronic_prescriptions",
                    1.0,
                ),
                (
                    "EHR documents (letters, summaries, checkup reports)",
                    "ehr_documents",
                    1.0,
                ),
                ("portal applications", "portal_applications", 1.0),
            ],
        ),
        (
            "rollout-warnings",
            &[
                ("duplicate (重複投薬)", "duplicate_warnings", 1.0),
                (
                    "contraindicated pair (併用禁忌)",
                    "contraindication_warnings",
                    1.0,
                ),
                ("registered allergy", "allergy_warnings", 1.0),
                (
                    "registered contraindicated drug (薬剤禁忌)",
                    "registered_contraindication_warnings",
                    1.0,
                ),
            ],
        ),
        (
            "rollout-views",
            &[("consented views", "consented_views", 1.0)],
        ),
        (
            "rollout-population",
            &[("aged 75 and over", "aged_75_plus_share", 100.0)],
        ),
    ];
    let cell = |table: &[Vec<String>], row: usize, series: &str| -> Option<f64> {
        let c = table[0].iter().position(|h| h == series)?;
        let v = &table[row][c];
        (!v.is_empty()).then(|| num(v))
    };
    for (id, lines) in monthly {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        let drawn = read_csv(&dir.join(format!("report/tables/{id}.csv")));
        assert_eq!(drawn.len(), months.len() + 1, "{id}: one row per month");
        for (series, col, factor) in lines {
            let want = column(&m, col);
            for (i, month) in months.iter().enumerate() {
                assert_eq!(&drawn[i + 1][0], month);
                let got = cell(&drawn, i + 1, series)
                    .unwrap_or_else(|| panic!("{id}: no {series} in {month}"));
                assert!(
                    close(got, want[i] * factor),
                    "{id} {series} {month}: {got} drawn, {} in the table",
                    want[i] * factor
                );
            }
        }
    }
    // Per service: the busiest hour's rate and the workers.
    let (st, s) = columns(&dir.join("rollout-services.parquet"));
    let (names, at) = (column(&st, "service"), column(&st, "month"));
    for (id, col) in [
        ("rollout-load", "busiest_hour_per_s"),
        ("rollout-workers", "workers"),
    ] {
        let drawn = read_csv(&dir.join(format!("report/tables/{id}.csv")));
        let want = column(&s, col);
        let mut seen = 0;
        for i in 0..names.len() {
            let row = 1 + months.iter().position(|m| *m == at[i]).unwrap();
            let series = drawn[0]
                .iter()
                .find(|h| h.split(" (").next() == Some(names[i].as_str()))
                .cloned();
            match series.and_then(|h| cell(&drawn, row, &h)) {
                Some(got) => {
                    assert!(
                        close(got, want[i]),
                        "{id} {} {}: {got} drawn, {}",
                        names[i],
                        at[i],
                        want[i]
                    );
                    seen += 1;
                }
                // Only a service without workers that month is left out.
                None => assert_eq!(
                    (id, want[i]),
                    ("rollout-workers", 0.0),
                    "{} {}",
                    names[i],
                    at[i]
                ),
            }
        }
        assert!(seen > 0, "{id}");
    }
}

/// Sums and percentiles of the load-test charts against `summary.json`.
fn check_load(dir: &Path, ids: &[String]) {
    let summary = json(&dir.join("summary.json"));
    for id in [
        "load-throughput",
        "load-p99",
        "load-percentiles",
        "load-lateness",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let routes = summary["routes"].as_object().unwrap();
    let route_of = |label: &str| label.split(" (").next().unwrap().to_owned();
    // Requests per second × window = the route's requests.
    let windows = read_csv(&dir.join("report/tables/load-throughput.csv"));
    let window_s = {
        let xs: Vec<f64> = windows[1..].iter().map(|r| num(&r[0])).collect();
        let mut d: Vec<f64> = xs
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .collect();
        d.sort_by(f64::total_cmp);
        d.first().copied().unwrap_or(2.0 * xs[0])
    };
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for r in &windows[1..] {
        *sums.entry(route_of(&r[1])).or_default() += num(&r[2]) * window_s;
    }
    for (route, total) in &sums {
        let count = routes[route]["count"].as_f64().unwrap();
        assert!(
            (total - count).abs() < 0.5,
            "{route}: {total} drawn, {count} in the summary"
        );
    }
    // The median and 99th percentile drawn are the summary's, and each line ends at the maximum.
    let ladder = read_csv(&dir.join("report/tables/load-percentiles.csv"));
    let mut checked = 0;
    for (i, r) in ladder.iter().enumerate().skip(1) {
        let last = ladder.get(i + 1).is_none_or(|next| next[1] != r[1]);
        let field = match r[0].as_str() {
            "50" => "p50_ms",
            "99" => "p99_ms",
            _ if last => "max_ms",
            _ => continue,
        };
        let route = route_of(&r[1]);
        let want = routes[&route][field].as_f64().unwrap();
        assert!(
            close(num(&r[2]), want),
            "{route}: {} drawn, {field} {want} in the summary",
            r[2]
        );
        checked += 1;
    }
    assert!(checked >= 2, "too few percentiles checked: {ladder:?}");
    // Errors and refusals by code, when any.
    if ids.iter().any(|i| i == "load-errors") {
        for r in &read_csv(&dir.join("report/tables/load-errors.csv"))[1..] {
            let (route, code) = r[0].split_once(" · ").unwrap();
            let got = &routes[&route_of(route)];
            let n = if code == "5xx or no answer" {
                got["errors"].as_f64().unwrap()
            } else {
                got["refusal_codes"][code].as_f64().unwrap()
            };
            assert_eq!(num(&r[1]), n, "{r:?}");
        }
    }
}

/// The capacity charts against `capacity.json` and `capacity-minutes.parquet`.
fn check_capacity(dir: &Path, cap: &Path, ids: &[String]) {
    for id in [
        "capacity-heatmap",
        "capacity-servers",
        "capacity-p99-vs-size",
        "capacity-utilisation-vs-size",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let report = json(&cap.join("capacity.json"));
    let services = report["services"].as_array().unwrap();
    let by = |label: &str| {
        let name = label.split(" (").next().unwrap();
        services.iter().find(|s| s["service"] == name).unwrap()
    };
    for r in &read_csv(&dir.join("report/tables/capacity-servers.csv"))[1..] {
        assert_eq!(num(&r[1]), by(&r[0])["servers"].as_f64().unwrap(), "{r:?}");
    }
    for r in &read_csv(&dir.join("report/tables/capacity-p99-vs-size.csv"))[1..] {
        let s = by(&r[1]);
        let servers = (num(&r[0]) * s["servers"].as_f64().unwrap()).round();
        let point = s["size_curve"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["servers"].as_f64() == Some(servers))
            .unwrap_or_else(|| panic!("{r:?}: no point at {servers}"));
        let want = point["p99_ms"].as_f64().unwrap() / s["slo_p99_ms"].as_f64().unwrap();
        assert!(close(num(&r[2]), want), "{r:?}: want {want}");
    }
    // The heat map's cells: mean arrivals per second of each weekday and hour, from the rows.
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt32Type, UInt64Type};
    let file = std::fs::File::open(cap.join("capacity-minutes.parquet")).unwrap();
    let mut cells: BTreeMap<(u32, u32), (u64, std::collections::BTreeSet<u32>)> = BTreeMap::new();
    for b in parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = b.unwrap();
        let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
        let (wd, hr, mi, ar) = (col("weekday"), col("hour"), col("minute"), col("arrivals"));
        for i in 0..b.num_rows() {
            let cell = cells
                .entry((
                    wd.as_primitive::<UInt32Type>().value(i),
                    hr.as_primitive::<UInt32Type>().value(i),
                ))
                .or_default();
            cell.0 += ar.as_primitive::<UInt64Type>().value(i);
            cell.1.insert(mi.as_primitive::<UInt32Type>().value(i));
        }
    }
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let heat = read_csv(&dir.join("report/tables/capacity-heatmap.csv"));
    let mut seen = 0;
    for r in &heat[1..] {
        let wd = days.iter().position(|d| *d == r[0]).unwrap() as u32;
        for h in 0..24u32 {
            let drawn = num(&r[1 + h as usize]);
            let want = cells
                .get(&(wd, h))
                .map_or(0.0, |(a, m)| *a as f64 / (m.len() as f64 * 60.0));
            assert!(
                close(drawn, want),
                "{} {h}h: {drawn} drawn, {want} in the rows",
                r[0]
            );
            seen += usize::from(want > 0.0);
        }
    }
    assert_eq!(seen, cells.values().filter(|c| c.0 > 0).count());
}

#[test]
fn report_of_a_directory_without_results_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let o = super::dxsim()
        .arg("report")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds no results to report") && err.contains("summary.json"),
        "{err}"
    );
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn report_of_a_missing_directory_names_it() {
    let o = super::dxsim()
        .args(["report", "/nonexistent/dxsim-run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/dxsim-run: No such file"),
        "{err}"
    );
}
