//! Synthetic names and addresses for the Patient resources dxsim writes.
//!
//! The synthetic population carries no names (nothing it models depends on them), but the
//! guides' Patient profiles require one (JP_Patient_eCS: `name.text`, `family`, `given`, and an
//! address). A person's name is drawn from common Japanese family and given names by a stable hash
//! of the insured-person key and sex, so every writer — the driver, the conformance suite, the
//! tests — names the same insured person alike without sharing state. It is written the way
//! ePrescriptionData's example Patient is: in kanji (`IDE`) and in katakana (`SYL`), family name
//! and given name separated by an ideographic space.

use crate::codes::prefecture_name;
use serde_json::{Value, json};

/// Common family names, with their readings.
const FAMILY: [(&str, &str); 40] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
];

/// Given names of women, with their readings.
const FEMALE: [(&str, &str); 24] = [
    ("花子", "ハナコ"),
    ("陽子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("幸子", "サチコ"),
    ("和子", "カズコ"),
    ("美穂", "ミホ"),
    ("直美", "ナオミ"),
    ("裕子", "ユウコ"),
    ("由美子", "ユミコ"),
    ("真由美", "マユミ"),
    ("智子", "トモコ"),
    ("愛", "アイ"),
    ("結衣", "ユイ"),
    ("陽菜", "ヒナ"),
    ("美咲", "ミサキ"),
    ("さくら", "サクラ"),
    ("葵", "アオイ"),
    ("芽依", "メイ"),
    ("凛", "リン"),
    ("明美", "アケミ"),
    ("久美子", "クミコ"),
    ("典子", "ノリコ"),
    ("京子", "キョウコ"),
    ("節子", "セツコ"),
];

/// Given names of men, with their readings.
const MALE: [(&str, &str); 24] = [
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("健一", "ケンイチ"),
    ("誠", "マコト"),
    ("浩", "ヒロシ"),
    ("茂", "シゲル"),
    ("清", "キヨシ"),
    ("隆", "タカシ"),
    ("大輔", "ダイスケ"),
    ("拓也", "タクヤ"),
    ("翔太", "ショウタ"),
    ("健太", "ケンタ"),
    ("蓮", "レン"),
    ("悠真", "ユウマ"),
    ("陽翔", "ハルト"),
    ("湊", "ミナト"),
    ("大翔", "ヒロト"),
    ("和夫", "カズオ"),
    ("正", "タダシ"),
    ("勇", "イサム"),
    ("修", "オサム"),
    ("剛", "ツヨシ"),
    ("直樹", "ナオキ"),
    ("進", "ススム"),
];

/// FNV-1a, 64 bits: stable across builds and platforms.
fn hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A person's name, in kanji and in katakana.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    pub family: &'static str,
    pub given: &'static str,
    pub family_kana: &'static str,
    pub given_kana: &'static str,
}

impl Name {
    /// The synthetic name of the insured person `key` (any stable key: the insured-person
    /// identifier) of that sex.
    pub fn of(key: &str, female: bool) -> Self {
        let h = hash(key);
        let (family, family_kana) = FAMILY[(h % FAMILY.len() as u64) as usize];
        let given = if female { &FEMALE } else { &MALE };
        let (given, given_kana) = given[((h >> 32) % given.len() as u64) as usize];
        Self {
            family,
            given,
            family_kana,
            given_kana,
        }
    }

    /// FHIR `HumanName`s as ePrescriptionData's example writes them: kanji, then katakana.
    pub fn to_fhir(&self) -> Value {
        let name = |repr: &str, family: &str, given: &str| {
            json!({
                "extension": [{"url": REPRESENTATION, "valueCode": repr}],
                "use": "official",
                "text": format!("{family}\u{3000}{given}"),
                "family": family,
                "given": [given],
            })
        };
        json!([
            name("IDE", self.family, self.given),
            name("SYL", self.family_kana, self.given_kana)
        ])
    }
}

/// The extension that says which script a name is written in.
pub const REPRESENTATION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// The prefecture an insurer number belongs to: its first two digits (municipal NHI, 6 digits)
/// or its third and fourth (the 8-digit numbers, after the law number).
pub fn insurer_prefecture(insurer_number: &str) -> Option<u8> {
    let digits = match insurer_number.len() {
        6 => insurer_number.get(0..2)?,
        8 => insurer_number.get(2..4)?,
        _ => return None,
    };
    digits.parse().ok().filter(|p| (1..=47).contains(p))
}

/// A synthetic address: the prefecture of the person's insurer (the population holds no
/// addresses; a person's insurer is almost always in their prefecture), or Japan.
pub fn address(insurer_number: &str) -> Value {
    let text = insurer_prefecture(insurer_number)
        .and_then(prefecture_name)
        .unwrap_or("日本");
    json!([{"text": text, "country": "JP"}])
}

/// A facility's own patient number for an insured person (8 digits, stable per facility).
pub fn patient_number(facility_code: &str, key: &str) -> String {
    format!(
        "{:08}",
        hash(&format!("{facility_code}\u{0}{key}")) % 100_000_000
    )
}

/// The identifier system of a facility's patient numbers (JP Core: the MHLW OID for patient
/// numbers, followed by `1` and the 10-digit facility code).
pub fn patient_number_system(facility_code: &str) -> String {
    format!("urn:oid:1.2.392.100495.20.3.51.1{facility_code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_by_key_and_follow_sex() {
        let a = Name::of("06139996:C:1:00", true);
        assert_eq!(a, Name::of("06139996:C:1:00", true));
        assert!(FEMALE.iter().any(|(g, _)| *g == a.given));
        assert!(
            MALE.iter()
                .any(|(g, _)| *g == Name::of("06139996:C:1:00", false).given)
        );
        let many: std::collections::BTreeSet<_> = (0..500)
            .map(|i| Name::of(&format!("06139996:C:{i}:00"), i % 2 == 0))
            .map(|n| (n.family, n.given))
            .collect();
        assert!(many.len() > 300, "{}", many.len());
        let v = a.to_fhir();
        assert_eq!(v[0]["text"], format!("{}\u{3000}{}", a.family, a.given));
        assert_eq!(v[1]["extension"][0]["valueCode"], "SYL");
    }

    #[test]
    fn the_address_is_the_insurers_prefecture() {
        assert_eq!(insurer_prefecture("06139996"), Some(13));
        assert_eq!(insurer_prefecture("310011"), Some(31));
        assert_eq!(insurer_prefecture("06999996"), None);
        assert_eq!(address("39310016")[0]["text"], "鳥取県");
        assert_eq!(address("x")[0]["text"], "日本");
        assert_eq!(patient_number("1310110015", "k").len(), 8);
    }
}
