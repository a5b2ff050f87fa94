//! A small deterministic sample: insurers and facilities in two prefectures (Tokyo 13 and
//! Tottori 31) and as many persons as asked, each derived from (seed, person index) alone, so the
//! sample is the same on every machine and for every order of generation.

use chrono::{Datelike, NaiveDate};
use dx_model::rng::{Stream, splitmix64};
use dx_protocol::codes::{FacilityTable, facility_code, insurer_number, municipality_code};
use dx_protocol::wire::{
    CareCertificationRecord, CareLevel, FacilityKind, FacilityRecord, InsurerRecord,
    MunicipalityRecord, PersonRecord, PregnancyRecord, PublicExpenseRecord, QualificationRecord,
    Sex,
};

/// Prefectures of the sample: Tokyo (largest) and Tottori (smallest).
pub const SAMPLE_PREFECTURES: [u8; 2] = [13, 31];

/// Facilities per sample prefecture, by kind.
const FACILITIES_PER_PREFECTURE: [(FacilityKind, u16); 5] = [
    (FacilityKind::Hospital, 4),
    (FacilityKind::Clinic, 20),
    (FacilityKind::Dental, 8),
    (FacilityKind::Pharmacy, 16),
    (FacilityKind::CareProvider, 4),
];

/// Municipalities per sample prefecture; persons live in them in turn.
const MUNICIPALITIES_PER_PREFECTURE: u16 = 7;

/// Code of the sample prefecture's `k`-th municipality.
pub fn municipality(pref: u8, k: u16) -> String {
    municipality_code(pref, 100 + k * 10)
}

/// The sample municipalities: 7 per prefecture.
pub fn municipalities() -> Vec<MunicipalityRecord> {
    SAMPLE_PREFECTURES
        .iter()
        .flat_map(|&pref| {
            (0..MUNICIPALITIES_PER_PREFECTURE).map(move |k| MunicipalityRecord {
                code: municipality(pref, k),
                name: format!("Sample municipality {pref:02}-{k}"),
                prefecture: pref,
            })
        })
        .collect()
}

fn kyokai(pref: u8) -> String {
    insurer_number(Some(1), pref, 1)
}
fn society(pref: u8, i: u16) -> String {
    insurer_number(Some(6), pref, 100 + i)
}
fn mutual_aid(pref: u8) -> String {
    insurer_number(Some(31), pref, 1)
}
fn late_elderly(pref: u8) -> String {
    insurer_number(Some(39), pref, 1)
}
fn municipal_nhi(pref: u8, i: u16) -> String {
    insurer_number(None, pref, 10 + i)
}

/// The sample insurers: per prefecture, Kyokai Kenpo's branch, three company societies, a mutual
/// aid association, the late-elderly union and two municipal NHI insurers.
pub fn insurers() -> Vec<InsurerRecord> {
    let mut out = Vec::new();
    for pref in SAMPLE_PREFECTURES {
        let mut add = |number: String, scheme: Option<u8>, name: String| {
            out.push(InsurerRecord {
                number,
                scheme,
                name,
                prefecture: pref,
            })
        };
        add(
            kyokai(pref),
            Some(1),
            format!("Kyokai Kenpo branch {pref:02}"),
        );
        for i in 0..3 {
            add(
                society(pref, i),
                Some(6),
                format!("Company health insurance society {pref:02}-{i}"),
            );
        }
        add(
            mutual_aid(pref),
            Some(31),
            format!("Public servants' mutual aid {pref:02}"),
        );
        add(
            late_elderly(pref),
            Some(39),
            format!("Late-elderly medical care union {pref:02}"),
        );
        for i in 0..2 {
            add(
                municipal_nhi(pref, i),
                None,
                format!("Municipal NHI {pref:02}-{i}"),
            );
        }
    }
    out
}

/// The sample facilities: 4 hospitals, 20 clinics, 8 dental clinics, 16 pharmacies and 4 care
/// providers per prefecture.
pub fn facilities() -> Vec<FacilityRecord> {
    let mut out = Vec::new();
    for pref in SAMPLE_PREFECTURES {
        for (kind, count) in FACILITIES_PER_PREFECTURE {
            let table = match kind {
                FacilityKind::Dental => FacilityTable::Dental,
                FacilityKind::Pharmacy => FacilityTable::Pharmacy,
                FacilityKind::CareProvider => FacilityTable::Care,
                _ => FacilityTable::Medical,
            };
            for n in 0..count {
                // Hospitals take numbers from 1, clinics from 1001, so both share table 1.
                let number = if kind == FacilityKind::Clinic {
                    1001 + n
                } else {
                    1 + n
                };
                out.push(FacilityRecord {
                    code: facility_code(pref, table, 1, number),
                    kind,
                    name: format!("Sample {} {pref:02}-{n:02}", kind.as_str()),
                    prefecture: pref,
                });
            }
        }
    }
    out
}

/// The card-issuing authority of the sample's cards: each sample card's key and certificate are
/// derived from the sample's seed and the card serial
/// (`dx_protocol::wire::card::simulated(seed, serial, today)`).
pub fn card_authority(seed: u64) -> dx_protocol::wire::card::CardAuthority {
    dx_protocol::wire::card::CardAuthority::of_seed(seed)
}

/// The test HPKI hierarchy of the sample: its practitioners' certificates are issued from the
/// sample's seed (`sample_hpki(seed).practitioner(…)`), and `dxsim serve` with sample persons
/// trusts its root.
pub fn hpki(seed: u64) -> dx_protocol::wire::hpki::TestHierarchy {
    dx_protocol::wire::hpki::TestHierarchy::from_seed(&seed.to_le_bytes(), "dxsim sample")
}

/// Person id of the sample person with index `i`.
pub fn person_id(i: u64) -> String {
    format!("P{i:010}")
}

/// Card serial of the sample person with index `i`, if they hold a registered card.
pub fn card_serial(i: u64) -> String {
    format!("C{:011}", splitmix64(i) % 100_000_000_000)
}

/// The sample person with index `i`, as of `today` (ages and qualification history are relative
/// to it). Every tenth person changed insurer last April and keeps the lapsed number in history.
pub fn person(seed: u64, i: u64, today: NaiveDate) -> PersonRecord {
    let mut d = Stream::new(seed, "sample-person", i);
    let pref = SAMPLE_PREFECTURES[(d.below(10) >= 7) as usize];
    let sex = if d.chance(0.487) {
        Sex::Male
    } else {
        Sex::Female
    };
    // Ages 0–99, weighted towards the 29% aged 65 and over.
    let age = if d.chance(0.293) {
        65 + d.below(35)
    } else {
        d.below(65)
    } as i32;
    let birth_date = NaiveDate::from_yo_opt(today.year() - age - 1, 1 + d.below(365) as u32)
        .expect("day of year within range");
    let card = d.chance(0.8).then(|| card_serial(i));
    let current = if age >= 75 {
        late_elderly(pref)
    } else if age < 70 && d.chance(0.65) {
        match d.below(3) {
            0 => kyokai(pref),
            1 => society(pref, d.below(3) as u16),
            _ => mutual_aid(pref),
        }
    } else {
        municipal_nhi(pref, d.below(2) as u16)
    };
    let change_on = NaiveDate::from_ymd_opt(today.year() - i32::from(today.month() < 4), 4, 1)
        .expect("1 April");
    let changed = i % 10 == 3 && birth_date < change_on;
    let qual = |insurer: String, from: NaiveDate, to: Option<NaiveDate>, serial: u64| {
        QualificationRecord {
            insurer_number: insurer,
            symbol: format!("{:04}", serial % 10_000),
            number: format!("{}", 100_000 + serial % 900_000),
            branch: "00".into(),
            valid_from: from,
            valid_to: to,
        }
    };
    let since = birth_date.max(NaiveDate::from_ymd_opt(2015, 4, 1).expect("date"));
    let mut qualifications = Vec::new();
    if changed {
        let old = if current == kyokai(pref) {
            society(pref, 0)
        } else {
            kyokai(pref)
        };
        qualifications.push(qual(old, since, change_on.pred_opt(), d.next_u64()));
        qualifications.push(qual(current, change_on, None, d.next_u64()));
    } else {
        qualifications.push(qual(current, since, None, d.next_u64()));
    }
    let mut public_expenses = Vec::new();
    if age < 15 {
        public_expenses.push(PublicExpenseRecord {
            law_code: "88".into(),
            payer_number: format!("88{pref:02}0011"),
            recipient_number: format!("{:07}", d.below(10_000_000)),
            valid_from: birth_date,
            valid_to: None,
        });
    } else if d.chance(0.008) {
        public_expenses.push(PublicExpenseRecord {
            law_code: "54".into(),
            payer_number: format!("54{pref:02}0012"),
            recipient_number: format!("{:07}", d.below(10_000_000)),
            valid_from: since,
            valid_to: None,
        });
    }
    // A fifth of those 65 and over are certified for long-term care, for a year from a day in
    // the last six months; a tenth of women aged 20–44 are pregnant, due within 40 weeks.
    let care_certification = (age >= 65 && d.chance(0.2)).then(|| {
        let from = today - chrono::TimeDelta::days(d.below(183) as i64);
        CareCertificationRecord {
            level: CareLevel::from_number(1 + d.below(7) as u8).expect("1–7"),
            valid_from: from,
            valid_to: from + chrono::Months::new(12) - chrono::TimeDelta::days(1),
            care_provider: None,
        }
    });
    let pregnancy = (sex == Sex::Female && (20..45).contains(&age) && d.chance(0.1)).then(|| {
        let due = today + chrono::TimeDelta::days(1 + d.below(280) as i64);
        PregnancyRecord {
            confirmed_on: due - chrono::TimeDelta::days(245),
            expected_delivery: due,
        }
    });
    PersonRecord {
        id: person_id(i),
        sex,
        birth_date,
        prefecture: pref,
        municipality: municipality(pref, (i % u64::from(MUNICIPALITIES_PER_PREFECTURE)) as u16),
        card_serial: card,
        qualifications,
        public_expenses,
        care_certification,
        pregnancy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dx_protocol::codes::{
        validate_facility_code, validate_insurer_number, validate_municipality_code,
    };

    #[test]
    fn sample_codes_are_valid() {
        for ins in insurers() {
            assert_eq!(
                validate_insurer_number(&ins.number),
                Ok(()),
                "{}",
                ins.number
            );
        }
        let facs = facilities();
        assert_eq!(facs.len(), 104);
        for f in &facs {
            assert!(validate_facility_code(&f.code).is_ok(), "{}", f.code);
        }
        let mut codes: Vec<_> = facs.iter().map(|f| &f.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), 104);
    }

    #[test]
    fn persons_are_deterministic_and_consistent() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let known: Vec<String> = insurers().into_iter().map(|i| i.number).collect();
        for i in 0..500 {
            let p = person(42, i, today);
            assert_eq!(p, person(42, i, today));
            assert!(validate_municipality_code(&p.municipality).is_ok());
            for q in &p.qualifications {
                assert!(known.contains(&q.insurer_number), "{}", q.insurer_number);
            }
            assert_eq!(
                p.qualifications
                    .iter()
                    .filter(|q| q.valid_to.is_none())
                    .count(),
                1
            );
        }
        assert!((0..100).any(|i| person(42, i, today).qualifications.len() == 2));
    }
}
