//! Identifier formats and their check digits: insurer numbers (保険者番号), facility codes
//! (医療機関コード) and municipality codes (全国地方公共団体コード).
//!
//! These are pure functions shared by the server (validation), the population generator and the
//! load driver (generation), so all three agree on what a valid number is.

/// Modulus-10 check digit with weights 2,1,2,1,… from the right, digits of each product summed.
/// This is the rule FACTS.md gives for insurer numbers; we use it for facility codes too.
pub fn mod10_weight21(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let p = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn ascii_digits(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

/// Why an identifier was refused; the message names what is wrong for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("must be {expected} ASCII digits")]
    Length { expected: &'static str },
    #[error("check digit is {found}, expected {expected}")]
    CheckDigit { found: u8, expected: u8 },
    #[error("prefecture {0:02} is not 01–47")]
    Prefecture(u8),
    #[error("{0}")]
    Other(&'static str),
}

/// Validates an insurer number: 8 digits (scheme 2 + prefecture 2 + insurer 3 + check 1) or, for
/// municipal NHI, 6 digits (prefecture 2 + insurer 3 + check 1).
pub fn validate_insurer_number(s: &str) -> Result<(), CodeError> {
    let d = ascii_digits(s).ok_or(CodeError::Length { expected: "6 or 8" })?;
    if d.len() != 8 && d.len() != 6 {
        return Err(CodeError::Length { expected: "6 or 8" });
    }
    let pref_at = if d.len() == 8 { 2 } else { 0 };
    check_prefecture(d[pref_at] * 10 + d[pref_at + 1])?;
    let (body, check) = d.split_at(d.len() - 1);
    let expected = mod10_weight21(body);
    if check[0] != expected {
        return Err(CodeError::CheckDigit {
            found: check[0],
            expected,
        });
    }
    Ok(())
}

/// Builds a valid insurer number from its parts; `scheme` is `None` for municipal NHI.
pub fn insurer_number(scheme: Option<u8>, prefecture: u8, insurer: u16) -> String {
    let body = match scheme {
        Some(s) => format!("{s:02}{prefecture:02}{insurer:03}"),
        None => format!("{prefecture:02}{insurer:03}"),
    };
    with_check(body, mod10_weight21)
}

/// The kind of facility, from the table digit (点数表番号) of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FacilityTable {
    Medical,
    Dental,
    Pharmacy,
    /// Long-term-care providers (介護保険事業所番号 carry 7 in this place).
    Care,
}

impl FacilityTable {
    pub fn digit(self) -> u8 {
        match self {
            FacilityTable::Medical => 1,
            FacilityTable::Dental => 3,
            FacilityTable::Pharmacy => 4,
            FacilityTable::Care => 7,
        }
    }
}

/// Validates a 10-digit facility code: prefecture 2 + table 1 (1 medical, 3 dental, 4 pharmacy,
/// 7 long-term care — our layout for care providers' numbers) +
/// district 2 + facility number 4 + check 1. As in the 7-digit code printed on claims, the check
/// digit covers the district and facility number.
pub fn validate_facility_code(s: &str) -> Result<FacilityTable, CodeError> {
    let d = ascii_digits(s).ok_or(CodeError::Length { expected: "10" })?;
    if d.len() != 10 {
        return Err(CodeError::Length { expected: "10" });
    }
    check_prefecture(d[0] * 10 + d[1])?;
    let table = match d[2] {
        1 => FacilityTable::Medical,
        3 => FacilityTable::Dental,
        4 => FacilityTable::Pharmacy,
        7 => FacilityTable::Care,
        _ => return Err(CodeError::Other("table digit must be 1, 3, 4 or 7")),
    };
    let expected = mod10_weight21(&d[3..9]);
    if d[9] != expected {
        return Err(CodeError::CheckDigit {
            found: d[9],
            expected,
        });
    }
    Ok(table)
}

/// The 47 prefectures by their JIS number (1–47), as addresses write them.
pub const PREFECTURE_NAMES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// The name of prefecture `number` (1–47).
pub fn prefecture_name(number: u8) -> Option<&'static str> {
    PREFECTURE_NAMES
        .get(usize::from(number).checked_sub(1)?)
        .copied()
}

/// The 47 prefectures' names in Latin letters, for English text (the reports' embedded font
/// holds the Japanese terms they use, not every kanji of every prefecture).
pub const PREFECTURE_NAMES_EN: [&str; 47] = [
    "Hokkaido",
    "Aomori",
    "Iwate",
    "Miyagi",
    "Akita",
    "Yamagata",
    "Fukushima",
    "Ibaraki",
    "Tochigi",
    "Gunma",
    "Saitama",
    "Chiba",
    "Tokyo",
    "Kanagawa",
    "Niigata",
    "Toyama",
    "Ishikawa",
    "Fukui",
    "Yamanashi",
    "Nagano",
    "Gifu",
    "Shizuoka",
    "Aichi",
    "Mie",
    "Shiga",
    "Kyoto",
    "Osaka",
    "Hyogo",
    "Nara",
    "Wakayama",
    "Tottori",
    "Shimane",
    "Okayama",
    "Hiroshima",
    "Yamaguchi",
    "Tokushima",
    "Kagawa",
    "Ehime",
    "Kochi",
    "Fukuoka",
    "Saga",
    "Nagasaki",
    "Kumamoto",
    "Oita",
    "Miyazaki",
    "Kagoshima",
    "Okinawa",
];

/// The name of prefecture `number` (1–47) in Latin letters.
pub fn prefecture_name_en(number: u8) -> Option<&'static str> {
    PREFECTURE_NAMES_EN
        .get(usize::from(number).checked_sub(1)?)
        .copied()
}

/// Builds a valid facility code.
pub fn facility_code(prefecture: u8, table: FacilityTable, district: u8, number: u16) -> String {
    let body = format!("{district:02}{number:04}");
    let d = ascii_digits(&body).expect("formatted digits");
    format!(
        "{prefecture:02}{}{body}{}",
        table.digit(),
        mod10_weight21(&d)
    )
}

/// Check digit of a municipality code (JIS X 0402): weights 6,5,4,3,2, then (11 − sum mod 11) mod 10.
pub fn municipality_check_digit(first5: &[u8]) -> u8 {
    let sum: u32 = first5
        .iter()
        .zip([6u32, 5, 4, 3, 2])
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ((11 - sum % 11) % 10) as u8
}

/// Validates a 6-digit municipality code (e.g. 131016 for Chiyoda, Tokyo).
pub fn validate_municipality_code(s: &str) -> Result<(), CodeError> {
    let d = ascii_digits(s).ok_or(CodeError::Length { expected: "6" })?;
    if d.len() != 6 {
        return Err(CodeError::Length { expected: "6" });
    }
    check_prefecture(d[0] * 10 + d[1])?;
    let expected = municipality_check_digit(&d[..5]);
    if d[5] != expected {
        return Err(CodeError::CheckDigit {
            found: d[5],
            expected,
        });
    }
    Ok(())
}

/// Builds a valid municipality code from prefecture and a 3-digit local number.
pub fn municipality_code(prefecture: u8, local: u16) -> String {
    let body = format!("{prefecture:02}{local:03}");
    with_check(body, municipality_check_digit)
}

fn with_check(body: String, rule: fn(&[u8]) -> u8) -> String {
    let d = ascii_digits(&body).expect("formatted digits");
    format!("{body}{}", rule(&d))
}

fn check_prefecture(p: u8) -> Result<(), CodeError> {
    if (1..=47).contains(&p) {
        Ok(())
    } else {
        Err(CodeError::Prefecture(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn facts_example_insurer_number_is_valid() {
        assert_eq!(validate_insurer_number("33120015"), Ok(()));
        assert_eq!(insurer_number(Some(33), 12, 1), "33120015");
        assert!(matches!(
            validate_insurer_number("33120016"),
            Err(CodeError::CheckDigit { expected: 5, .. })
        ));
    }

    #[test]
    fn known_municipality_codes_are_valid() {
        for code in ["131016", "011002", "271004", "472018"] {
            assert_eq!(validate_municipality_code(code), Ok(()), "{code}");
        }
        assert!(validate_municipality_code("131017").is_err());
    }

    #[test]
    fn facility_code_rejects_bad_table_and_prefecture() {
        let ok = facility_code(13, FacilityTable::Pharmacy, 1, 2345);
        assert_eq!(validate_facility_code(&ok), Ok(FacilityTable::Pharmacy));
        assert!(validate_facility_code("1321234567").is_err());
        assert_eq!(
            validate_facility_code("4811234567"),
            Err(CodeError::Prefecture(48))
        );
    }

    proptest! {
        #[test]
        fn generated_insurer_numbers_validate(scheme in prop::option::of(1u8..=99), pref in 1u8..=47, n in 0u16..1000) {
            let s = insurer_number(scheme, pref, n);
            prop_assert_eq!(validate_insurer_number(&s), Ok(()));
        }

        #[test]
        fn any_single_digit_change_is_caught(pref in 1u8..=47, n in 0u16..1000, pos in 2usize..7, delta in 1u8..10) {
            let s = insurer_number(Some(6), pref, n);
            let mut b = s.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap();
            prop_assert!(validate_insurer_number(&changed).is_err());
        }

        #[test]
        fn generated_facility_codes_validate(pref in 1u8..=47, district in 0u8..100, n in 0u16..10000) {
            for table in [FacilityTable::Medical, FacilityTable::Dental, FacilityTable::Pharmacy] {
                let s = facility_code(pref, table, district, n);
                prop_assert_eq!(validate_facility_code(&s), Ok(table));
            }
        }
    }
}
