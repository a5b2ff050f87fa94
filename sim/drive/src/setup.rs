//! Before a replay: one pass over the stream for who acts in it and what depends on what, then
//! the run's card authority trusted by the target, every acting principal's credentials and
//! first token, and the driver's signing keys at the facilities that sign, a few principals at a
//! time.

use super::requests;
use super::shard::Shard;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use dx_client::ExchangeClient;
use dx_model::route::Route;
use dx_workload as workload;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// A principal's token, refreshed before it expires.
pub struct TokenSlot {
    pub principal: String,
    pub secret: String,
    pub token: tokio::sync::Mutex<(String, DateTime<Utc>)>,
}

/// What a pass over the stream before the replay finds: the principals that act in it
/// (facilities, municipalities, persons on the portal), which facilities sign, and how many
/// events need each event's result.
#[derive(Default)]
pub struct Actors {
    pub principals: BTreeSet<String>,
    pub prescribers: BTreeSet<String>,
    pub pharmacies: BTreeSet<String>,
    pub events: u64,
    /// Events that later ones need → how many need it; an entry leaves as its event is
    /// released (see `deps`).
    pub dependents: HashMap<u64, u32>,
}

/// The actors of `shard`'s events: a shard sets up only the principals its events need.
pub fn actors(dir: &Path, shard: Shard) -> anyhow::Result<Actors> {
    let mut a = Actors::default();
    for batch in workload::stream(dir)? {
        for e in batch?.into_iter().filter(|e| shard.holds(e)) {
            a.events += 1;
            if let Some(n) = e.needs {
                *a.dependents.entry(n).or_default() += 1;
            }
            match e.route() {
                Route::Register => {
                    a.prescribers.insert(e.facility.clone());
                }
                Route::Dispense => {
                    a.pharmacies.insert(e.facility.clone());
                }
                Route::Healthz => continue,
                _ => {}
            }
            a.principals.insert(e.principal());
        }
    }
    Ok(a)
}

/// Principals set up at once: a run with many persons on the portal has thousands.
const SETUP_WORKERS: usize = 16;

/// Has the target trust the run's card authority and HPKI root, and issues every acting
/// principal's credentials (and a prescriber's or pharmacy's certificate), a few principals at a
/// time, with a progress bar when there are many.
pub async fn setup(
    client: &ExchangeClient,
    admin_secret: &str,
    a: &Actors,
    seed: u64,
    progress: bool,
) -> anyhow::Result<HashMap<String, TokenSlot>> {
    let admin = client
        .token("admin", admin_secret)
        .await
        .context("the target refused the admin secret")?
        .token;
    let authority = requests::card_authority(seed);
    client
        .trust_card_authority(&admin, &authority)
        .await
        .with_context(|| {
            format!(
                "having the target trust the run's card authority {}",
                authority.id
            )
        })?;
    let hpki = requests::hpki(seed);
    client
        .trust_hpki_root(&admin, &hpki.root)
        .await
        .context("having the target trust the run's HPKI root")?;
    let bar = if progress && a.principals.len() > 1_000 {
        indicatif::ProgressBar::new(a.principals.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "credentials {human_pos}/{human_len} principals [{bar:40}] eta {eta}",
        )
        .expect("template"),
    );
    let shared = std::sync::Arc::new((
        client.clone(),
        admin,
        a.prescribers.clone(),
        a.pharmacies.clone(),
        bar.clone(),
    ));
    let principals: Vec<String> = a.principals.iter().cloned().collect();
    let mut workers = tokio::task::JoinSet::new();
    for k in 0..SETUP_WORKERS {
        let shared = shared.clone();
        let mine: Vec<String> = principals
            .iter()
            .skip(k)
            .step_by(SETUP_WORKERS)
            .cloned()
            .collect();
        workers.spawn(async move {
            let (client, admin, prescribers, pharmacies, bar) = &*shared;
            let mut slots = Vec::with_capacity(mine.len());
            for principal in mine {
                let slot =
                    setup_one(client, admin, &principal, (prescribers, pharmacies), seed).await?;
                slots.push((principal, slot));
                bar.inc(1);
            }
            anyhow::Ok(slots)
        });
    }
    let mut tokens = HashMap::new();
    while let Some(done) = workers.join_next().await {
        tokens.extend(done.context("a setup task panicked")??);
    }
    bar.finish_and_clear();
    Ok(tokens)
}

/// One principal's credentials and first token; a prescriber's or pharmacy's certificate.
async fn setup_one(
    client: &ExchangeClient,
    admin: &str,
    principal: &str,
    (prescribers, pharmacies): (&BTreeSet<String>, &BTreeSet<String>),
    seed: u64,
) -> anyhow::Result<TokenSlot> {
    let cred = client
        .credentials(admin, principal)
        .await
        .with_context(|| format!("issuing credentials for {principal}"))?;
    let t = client.token(&cred.principal, &cred.secret).await?;
    // The certificates the driver signs with are issued now, not during the replay.
    let f = principal.strip_prefix("facility:").unwrap_or("");
    for (set, pharmacist) in [(prescribers, false), (pharmacies, true)] {
        if set.contains(f) {
            requests::practitioner(seed, f, pharmacist);
        }
    }
    Ok(TokenSlot {
        principal: cred.principal,
        secret: cred.secret,
        token: tokio::sync::Mutex::new((t.token, t.expires_at)),
    })
}
