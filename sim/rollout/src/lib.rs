//! A rollout over years, simulated month by month (`dxsim report SCENARIO.toml`).
//!
//! One population at the scenario's scale; the flows run over the whole rollout with adoption
//! following its waypoints ([`crate::adoption`]); each person's requests are walked in time
//! order ([`history`] follows their medication record and the warnings the exchange's checks
//! raise) and counted by month and by hour. Every count is scaled to scale 1.0. The workers each
//! central service needs in each month's busiest hour come from [`sizing`].
//!
//! Output directory:
//!
//! | file | content |
//! |---|---|
//! | `population/` | the population (as `dxsim population` writes it) |
//! | `rollout-months.parquet` | one row per month: adoption at mid-month, prescriptions and the electronic share, paper avoided, warnings, consented record views |
//! | `rollout-services.parquet` | one row per month and central service: requests, the busiest hour, offered load, workers needed |
//! | `rollout.json` | the scenario, the waypoints, totals and how the numbers are made; written last |

pub mod ageing;
pub mod history;
pub mod sizing;

use anyhow::Context as _;
use chrono::NaiveDate;
use dx_model::event::Event;
use dx_model::route::Route;
use dx_model::route::Service;
use dx_scenario::Scenario;
use dx_scenario::adoption::{AdoptionState, FIELD_NAMES};
use dx_workload::flows::{self, Emitter, GenContext, Note, PersonRow, jst_ms};
use dx_workload::tables::{Column, write_parquet};
use rayon::prelude::*;

use std::collections::BTreeMap;
use std::path::Path;

const ROUTES: usize = Route::ALL.len();
const SERVICES: usize = Service::ALL.len();
const HOUR_MS: i64 = 3_600_000;

pub use dx_model::rundir::rollout::RolloutSummary;

/// Counts of a set of persons over the rollout.
#[derive(Debug, Clone)]
struct Tally {
    routes: Vec<[u64; ROUTES]>,
    /// All prescriptions, those dispensed outside, the electronic ones.
    prescriptions: Vec<[u64; 3]>,
    warnings: Vec<history::Raised>,
    /// Requests per hour (from the rollout's start) and service.
    hours: Vec<[u32; SERVICES]>,
    /// Requests a suspension refused, and of them registrations issued on paper instead.
    suspended: Vec<[u64; 2]>,
    /// In the middle of each month: persons alive, aged 75+, late-elderly members.
    stock: Vec<[u64; 3]>,
    /// Births and deaths in each month.
    vital: Vec<[u64; 2]>,
    persons: u64,
    events: u64,
}

impl Tally {
    fn new(months: usize, hours: usize) -> Self {
        Self {
            routes: vec![[0; ROUTES]; months],
            prescriptions: vec![[0; 3]; months],
            warnings: vec![[0; 4]; months],
            hours: vec![[0; SERVICES]; hours],
            suspended: vec![[0; 2]; months],
            stock: vec![[0; 3]; months],
            vital: vec![[0; 2]; months],
            persons: 0,
            events: 0,
        }
    }

    fn add(mut self, o: &Tally) -> Self {
        fn sum<const N: usize, T: Copy + std::ops::AddAssign>(a: &mut [[T; N]], b: &[[T; N]]) {
            for (x, y) in a.iter_mut().zip(b) {
                for (p, q) in x.iter_mut().zip(y) {
                    *p += *q;
                }
            }
        }
        sum(&mut self.routes, &o.routes);
        sum(&mut self.prescriptions, &o.prescriptions);
        sum(&mut self.warnings, &o.warnings);
        sum(&mut self.hours, &o.hours);
        sum(&mut self.suspended, &o.suspended);
        sum(&mut self.stock, &o.stock);
        sum(&mut self.vital, &o.vital);
        self.persons += o.persons;
        self.events += o.events;
        self
    }
}

/// Where months begin, in epoch milliseconds, and the month of an instant.
struct Months {
    starts: Vec<NaiveDate>,
    starts_ms: Vec<i64>,
}

impl Months {
    fn of(ms: &[i64], at: i64) -> Option<usize> {
        let i = ms.partition_point(|m| *m <= at);
        (i >= 1 && i < ms.len()).then(|| i - 1)
    }

    fn month(&self, at: i64) -> Option<usize> {
        Self::of(&self.starts_ms, at)
    }

    fn count(&self) -> usize {
        self.starts.len() - 1
    }

    fn middle(&self, m: usize) -> NaiveDate {
        self.starts[m] + (self.starts[m + 1] - self.starts[m]) / 2
    }
}

/// What every person's walk through the rollout shares.
struct Walk<'a> {
    /// The rollout's years, in which the flows run.
    years: &'a [ageing::Year],
    /// The years from the population's date to the rollout's end, in which persons die and are
    /// born (before the population's date, its persons are those who lived).
    lived: &'a [ageing::Year],
    /// The flows' context of each year.
    contexts: &'a [GenContext],
    registry: &'a [Box<dyn flows::Flow>],
    lives: &'a ageing::Lives,
    months: &'a Months,
    start_ms: i64,
    suspensions: &'a Suspensions,
}

impl Walk<'_> {
    /// Runs the flows for `p` year by year at their age in each, from birth to death, tallies
    /// the requests and the months' stock, and returns their life.
    fn person(&self, p: &PersonRow, t: &mut Tally) -> ageing::Life {
        let life = self.lives.life(p, self.lived);
        let mut events = Vec::new();
        let mut notes = Vec::new();
        for (k, (y, ctx)) in self.years.iter().zip(self.contexts).enumerate() {
            if life.born_ms >= y.end_ms || life.dies_ms.is_some_and(|d| d <= y.start_ms) {
                continue;
            }
            let aged = ageing::in_year(p, y);
            let mut em = Emitter::new(&aged, ctx)
                .numbered_from((k as u64) << ageing::YEAR_SEQ_BITS)
                .within(life.born_ms, life.dies_ms.unwrap_or(i64::MAX));
            em.notes = Some(Vec::new());
            for f in self.registry {
                f.emit(&aged, ctx, &mut em);
            }
            events.append(&mut em.events);
            notes.extend(em.notes.take().unwrap_or_default());
        }
        person(
            &mut events,
            &notes,
            self.months,
            self.start_ms,
            self.suspensions,
            t,
        );
        for (m, stock) in t.stock.iter_mut().enumerate() {
            let s = ageing::stock(p, &life, self.months.middle(m));
            for (a, b) in stock.iter_mut().zip(s) {
                *a += b;
            }
        }
        if life.born_ms >= self.start_ms {
            if let Some(m) = self.months.month(life.born_ms) {
                t.vital[m][0] += 1;
            }
        }
        if let Some(m) = life.dies_ms.and_then(|d| self.months.month(d)) {
            t.vital[m][1] += 1;
        }
        life
    }
}

/// The scenario's suspensions: window (epoch ms) and target.
type Suspensions = Vec<(i64, i64, dx_exchange::wire::SuspensionTarget)>;

/// Walks one person's events and notes into the tally. A request a suspension refuses is not
/// served; a registration refused is issued on paper, its pharmacy registering a paper
/// dispensing instead of retrieving and dispensing it.
fn person(
    events: &mut [Event],
    notes: &[(i64, Note)],
    months: &Months,
    start_ms: i64,
    suspensions: &Suspensions,
    t: &mut Tally,
) {
    events.sort_unstable_by_key(|e| (e.at_ms, e.id));
    let mut med = history::Medication::default();
    let suspended = |at: i64, route: Route| {
        suspensions.iter().any(|(from, to, target)| {
            (*from..*to).contains(&at) && dx_scenario::faults::suspends(*target, route)
        })
    };
    let mut paper: Vec<u64> = Vec::new();
    for e in events.iter() {
        let Some(m) = months.month(e.at_ms) else {
            continue;
        };
        let mut route = e.route();
        if e.needs.is_some_and(|n| paper.contains(&n)) {
            match route {
                Route::Dispense => route = Route::PaperDispense,
                _ => {
                    paper.push(e.id);
                    continue;
                }
            }
        } else if suspended(e.at_ms, route) {
            t.suspended[m][0] += 1;
            if route == Route::Register {
                t.suspended[m][1] += 1;
                paper.push(e.id);
            }
            continue;
        }
        t.routes[m][route.index()] += 1;
        if let Some(s) = Service::of(route) {
            t.hours[((e.at_ms - start_ms) / HOUR_MS) as usize][s.index()] += 1;
        }
        let raised = med.on(e);
        for (a, b) in t.warnings[m].iter_mut().zip(raised) {
            *a += b;
        }
    }
    for (at, note) in notes {
        let Some(m) = months.month(*at) else { continue };
        match note {
            Note::Prescription {
                outside,
                electronic,
            } => {
                let p = &mut t.prescriptions[m];
                p[0] += 1;
                p[1] += u64::from(*outside);
                p[2] += u64::from(*electronic && !suspended(*at, Route::Register));
            }
        }
    }
    t.events += events.len() as u64;
    t.persons += 1;
}

/// How a rollout runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub threads: usize,
    pub progress: bool,
}

/// Simulates the rollout of `s` over the population in `population` and writes the tables and
/// `rollout.json` into `out`.
pub fn run(
    s: &Scenario,
    population: &Path,
    out: &Path,
    opts: RunOptions,
) -> anyhow::Result<RolloutSummary> {
    let r = s.rollout.as_ref().with_context(|| {
        format!(
            "scenario {} has no [rollout]: give its start, months and waypoints (see scenarios/rollout-2025-2030.toml)",
            s.name
        )
    })?;
    let pop = dx_workload::population_for(s, population)?;
    let starts = r.month_starts();
    let months = Months {
        starts_ms: starts
            .iter()
            .map(|d| jst_ms(d.and_hms_opt(0, 0, 0).expect("midnight")))
            .collect(),
        starts: starts.clone(),
    };
    // The flows run over the whole rollout as one period.
    let (start_ms, end_ms) = (
        months.starts_ms[0],
        *months.starts_ms.last().expect("months"),
    );
    let end = r.start_time() + chrono::TimeDelta::milliseconds(end_ms - start_ms);
    let facilities = dx_workload::read_facilities(population)?;
    // The population ages year by year: the flows run each year with everyone's age in it.
    let end_date = months.starts[months.count()];
    let years = ageing::Year::split(months.starts[0], end_date);
    let lived = ageing::Year::split(s.population.as_of, end_date);
    anyhow::ensure!(
        years.len() <= ageing::MAX_YEARS && lived.len() <= ageing::MAX_YEARS,
        "a rollout ending {end_date} is more than the {} years a person's requests and children are numbered for after its start or the population's date ({})",
        ageing::MAX_YEARS,
        s.population.as_of
    );
    let contexts: Vec<GenContext> = years
        .iter()
        .enumerate()
        .map(|(k, y)| {
            let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight");
            GenContext::over(s, at(y.start), at(y.end), facilities.clone()).drawing_for(k as u64)
        })
        .collect();
    let ctx = GenContext::over(s, r.start_time(), end, facilities);
    let registry = flows::registry();
    let lives = ageing::Lives::new(s.seed);
    let suspensions: Suspensions = s
        .faults
        .iter()
        .filter_map(|f| match &f.what {
            dx_scenario::FaultKind::ServiceSuspended { target, .. } => {
                Some((jst_ms(f.start), jst_ms(f.end), *target))
            }
            _ => None,
        })
        .collect();
    let hours = ((end_ms - start_ms) / HOUR_MS) as usize;
    let bar = dx_workload::persons_bar("rollout", pop.persons, opts.progress);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()?;
    let walk = Walk {
        years: &years,
        lived: &lived,
        contexts: &contexts,
        registry: &registry,
        lives: &lives,
        months: &months,
        start_ms,
        suspensions: &suspensions,
    };
    let parts: Vec<Tally> = pool.install(|| {
        pop.person_files
            .par_iter()
            .map(|rel| {
                let mut t = Tally::new(months.count(), hours);
                for b in dx_workload::reader(&population.join(rel))? {
                    let rows = dx_workload::person_rows(&b?)?;
                    for p in &rows {
                        let life = walk.person(p, &mut t);
                        for child in lives.newborns(p, &life, &lived) {
                            walk.person(&child, &mut t);
                        }
                    }
                    bar.inc(rows.len() as u64);
                }
                Ok(t)
            })
            .collect::<anyhow::Result<_>>()
    })?;
    bar.finish_and_clear();
    let tally = parts
        .iter()
        .fold(Tally::new(months.count(), hours), |a, b| a.add(b));
    write(s, &ctx, &months, &tally, out)
}

/// The routes whose requests replace a paper document, with what each replaces.
pub const PAPER: [(Route, &str); 2] = [
    (
        Route::EhrDocument,
        "referral letters, discharge summaries and checkup reports sent through EHR sharing instead of on paper or by fax",
    ),
    (
        Route::PortalApply,
        "applications filed on the portal instead of on a paper form",
    ),
];

fn write(
    s: &Scenario,
    ctx: &GenContext,
    months: &Months,
    t: &Tally,
    out: &Path,
) -> anyhow::Result<RolloutSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let scale = s.population.scale.get();
    let national = |n: u64| n as f64 / scale;
    let slot = Route::index;
    let n = months.count();
    let label = |m: usize| months.starts[m].format("%Y-%m").to_string();
    let mid = |m: usize| (months.starts_ms[m] + months.starts_ms[m + 1]) / 2;
    // Per month.
    let mut cols: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut put = |name: &'static str, v: f64| cols.entry(name).or_default().push(v);
    for m in 0..n {
        let [all, outside, electronic] = t.prescriptions[m].map(national);
        let routes = t.routes[m].map(national);
        put("prescriptions", all);
        put("outside_prescriptions", outside);
        put("electronic_prescriptions", electronic);
        put(
            "electronic_share",
            if outside > 0.0 {
                electronic / outside
            } else {
                0.0
            },
        );
        let documents = routes[slot(Route::EhrDocument)];
        let applications = routes[slot(Route::PortalApply)];
        put("ehr_documents", documents);
        put("portal_applications", applications);
        put("paper_avoided", electronic + documents + applications);
        let w = t.warnings[m].map(national);
        put("duplicate_warnings", w[0]);
        put("contraindication_warnings", w[1]);
        put("registered_contraindication_warnings", w[2]);
        put("allergy_warnings", w[3]);
        put("consented_views", routes[slot(Route::EhrSummary)]);
        put(
            "eligibility_checks",
            routes[slot(Route::Verify)] + routes[slot(Route::Batch)],
        );
        put("requests", routes.iter().sum());
        let [born, died] = t.vital[m].map(national);
        put("births", born);
        put("deaths", died);
        if !s.faults.is_empty() {
            let [refused, to_paper] = t.suspended[m].map(national);
            put("suspended_requests", refused);
            put("suspended_to_paper", to_paper);
        }
    }
    let mut table: Vec<(&str, Column)> = vec![
        ("month", Column::Text((0..n).map(label).collect())),
        (
            "days",
            Column::U32(
                (0..n)
                    .map(|m| (months.starts[m + 1] - months.starts[m]).num_days() as u32)
                    .collect(),
            ),
        ),
    ];
    let adoption: Vec<AdoptionState> = (0..n).map(|m| ctx.adoption_at(mid(m))).collect();
    let adoption_names: Vec<String> = FIELD_NAMES
        .iter()
        .map(|f| format!("adoption_{}", f.replace('.', "_")))
        .collect();
    for (f, name) in adoption_names.iter().enumerate() {
        table.push((
            name.as_str(),
            Column::F64(adoption.iter().map(|a| a.to_array()[f]).collect()),
        ));
    }
    let totals: BTreeMap<String, f64> = cols
        .iter()
        .filter(|(k, _)| !k.ends_with("share"))
        .map(|(k, v)| ((*k).to_owned(), v.iter().sum()))
        .collect();
    for (name, v) in &cols {
        table.push((name, Column::F64(v.clone())));
    }
    // The month's stock, in its middle (not summed into the totals).
    let stock = |k: usize| -> Vec<f64> { t.stock.iter().map(|s| national(s[k])).collect() };
    let (alive, aged) = (stock(0), stock(1));
    table.push(("persons", Column::F64(alive.clone())));
    table.push(("aged_75_plus", Column::F64(aged.clone())));
    table.push((
        "aged_75_plus_share",
        Column::F64(
            aged.iter()
                .zip(&alive)
                .map(|(a, n)| if *n > 0.0 { a / n } else { 0.0 })
                .collect(),
        ),
    ));
    table.push(("late_elderly_members", Column::F64(stock(2))));
    write_parquet(&out.join("rollout-months.parquet"), table)?;
    let service_times = write_services(s, months, t, out)?;
    let r = s.rollout.as_ref().expect("checked");
    let mut waypoints = vec![(r.start.to_string(), ctx.adoption_at(months.starts_ms[0]))];
    for w in &r.waypoints {
        waypoints.push((
            w.at.to_string(),
            ctx.adoption_at(jst_ms(w.at.and_hms_opt(0, 0, 0).expect("midnight"))),
        ));
    }
    let summary = RolloutSummary {
        scenario: s.name.to_string(),
        seed: s.seed,
        scale,
        persons: t.persons,
        sample_events: t.events,
        start: months.starts[0].to_string(),
        end: months.starts[n].to_string(),
        months: n as u32,
        waypoints,
        totals,
        service_times,
        method: method(),
        faults: s.faults.iter().map(dx_scenario::Fault::label).collect(),
    };
    dx_model::rundir::write(out, &summary)?;
    Ok(summary)
}

fn method() -> Vec<String> {
    vec![
        "One synthetic population at the scenario's scale; the visit, prescription, EHR and municipal flows run over the whole rollout with adoption moving through the waypoints (a facility or municipality that joined stays); every count is divided by the scale.".to_owned(),
        "The population ages through the rollout: the flows run one rollout year at a time with each person at their age in its middle; from the population's date on, persons die at the yearly rate of their age and women bear children at the rates of theirs (the population's tables: 1.61 M deaths and 0.72 M births a year on the 2024 ages), a newborn covered as a dependant of the mother; before that date the population's own persons are those who lived (each counted from their birth). Persons, persons aged 75+ and late-elderly members (75+ and insured) are counted in the middle of each month. A request that needs one from the year before (a dispensing after a registration at the turn of a rollout year) is not made.".to_owned(),
        "Electronic share: electronic prescriptions over prescriptions dispensed outside the hospital (the slips a pharmacy receives).".to_owned(),
        format!(
            "Paper avoided: electronic prescriptions (no slip printed), {}.",
            PAPER.map(|(_, what)| what).join(", and ")
        ),
        "Warnings: what the exchange's own duplicate and interaction checks (and the allergies and contraindicated drugs registered through EHR sharing) return at each duplicate pre-check and registration, against the medication the exchange knows of for the last 100 days: registered prescriptions not yet dispensed and dispensing results, electronic or paper.".to_owned(),
        "Consented record views: reads of the clinical summary through EHR sharing after consent at the card reader (ehr_summary), at facilities taking part; they grow with EHR sharing and with card use.".to_owned(),
        "Workers: the least number meeting the service's p99 bound in the month's busiest hour, from Erlang C with the service-time mix of the month (see rollout::sizing); dxsim capacity sizes a chosen period by simulation.".to_owned(),
    ]
}

/// One row of `rollout-services.parquet`.
struct ServiceMonth {
    month: String,
    service: &'static str,
    /// Requests in the month, national.
    requests: f64,
    /// JST start of the busiest hour, its mean arrivals per second (national).
    busiest_hour: String,
    busiest_per_s: f64,
    /// Mean service time of the month's route mix, and the busiest hour's offered load.
    mean_ms: f64,
    load: f64,
    slo_ms: f64,
    workers: u32,
    /// How the workers were found.
    sizing: &'static str,
}

/// Writes `rollout-services.parquet`; returns each route's service-time source.
fn write_services(
    s: &Scenario,
    months: &Months,
    t: &Tally,
    out: &Path,
) -> anyhow::Result<BTreeMap<String, String>> {
    let calibration: dx_model::rundir::calibration::Calibration =
        serde_json::from_str(dx_capacity::run::BUILT_IN_CALIBRATION)?;
    let times = dx_capacity::run::times_for(s, &calibration);
    let scale = s.population.scale.get();
    let mut sources = BTreeMap::new();
    let mut rows: Vec<ServiceMonth> = Vec::new();
    for service in Service::ALL {
        let si = service.index();
        let routes: Vec<(usize, Route)> = service
            .routes()
            .into_iter()
            .map(|r| (r.index(), r))
            .collect();
        let used: Vec<(usize, Route)> = routes
            .iter()
            .copied()
            .filter(|(i, _)| t.routes.iter().any(|m| m[*i] > 0))
            .collect();
        let mut route_times = Vec::new();
        for (i, r) in &used {
            let rt = times(*r)?;
            sources.insert(r.as_str().to_owned(), rt.source.clone());
            route_times.push((*i, rt.time));
        }
        let slo = used
            .iter()
            .filter_map(|(_, r)| s.slo.for_route(*r).p99_ms)
            .fold(f64::INFINITY, f64::min);
        let latency_s = s
            .capacity
            .services
            .get(&service)
            .map_or(0.0, |c| c.latency_ms.get() / 1e3);
        for m in 0..months.count() {
            let requests: u64 = routes.iter().map(|(i, _)| t.routes[m][*i]).sum();
            let h0 = ((months.starts_ms[m] - months.starts_ms[0]) / HOUR_MS) as usize;
            let h1 = ((months.starts_ms[m + 1] - months.starts_ms[0]) / HOUR_MS) as usize;
            let (busiest, count) = (h0..h1)
                .map(|h| (h, t.hours[h][si]))
                .fold((h0, 0), |best, x| if x.1 > best.1 { x } else { best });
            let mix = sizing::Mix {
                parts: route_times
                    .iter()
                    .filter(|(i, _)| t.routes[m][*i] > 0)
                    .map(|(i, time)| (t.routes[m][*i] as f64, *time))
                    .collect(),
            };
            let per_s = count as f64 / scale / 3600.0;
            let (mean_ms, load, workers, how) = if mix.parts.is_empty() || count == 0 {
                (0.0, 0.0, 0, "no requests")
            } else {
                let (w, how) = match sizing::workers(per_s, &mix, slo / 1e3 - latency_s) {
                    Some(w) => (w, "erlang-c"),
                    None => (0, "none: the service time alone breaks the p99 bound"),
                };
                (mix.mean() * 1e3, per_s * mix.mean(), w, how)
            };
            let hour_label = chrono::DateTime::from_timestamp_millis(
                months.starts_ms[0] + busiest as i64 * HOUR_MS + 9 * HOUR_MS,
            )
            .map(|d| d.naive_utc().format("%Y-%m-%d %H:00").to_string())
            .unwrap_or_default();
            rows.push(ServiceMonth {
                month: months.starts[m].format("%Y-%m").to_string(),
                service: service.as_str(),
                requests: requests as f64 / scale,
                busiest_hour: hour_label,
                busiest_per_s: per_s,
                mean_ms,
                load,
                slo_ms: if slo.is_finite() { slo } else { 0.0 },
                workers,
                sizing: how,
            });
        }
    }
    let text =
        |f: fn(&ServiceMonth) -> &str| Column::Text(rows.iter().map(|r| f(r).to_owned()).collect());
    let float = |f: fn(&ServiceMonth) -> f64| Column::F64(rows.iter().map(f).collect());
    write_parquet(
        &out.join("rollout-services.parquet"),
        vec![
            ("month", text(|r| &r.month)),
            ("service", text(|r| r.service)),
            ("requests", float(|r| r.requests)),
            ("busiest_hour", text(|r| &r.busiest_hour)),
            ("busiest_hour_per_s", float(|r| r.busiest_per_s)),
            ("mean_service_ms", float(|r| r.mean_ms)),
            ("offered_load", float(|r| r.load)),
            ("slo_p99_ms", float(|r| r.slo_ms)),
            (
                "workers",
                Column::U32(rows.iter().map(|r| r.workers).collect()),
            ),
            ("sizing", text(|r| r.sizing)),
        ],
    )?;
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_fall_in_their_month() {
        let ms = [10, 20, 30];
        assert_eq!(Months::of(&ms, 9), None);
        assert_eq!(Months::of(&ms, 10), Some(0));
        assert_eq!(Months::of(&ms, 29), Some(1));
        assert_eq!(Months::of(&ms, 30), None);
    }
}
