//! The published guides the exchange speaks, by release, and the code and identifier systems they
//! name: what the exchange writes, and the other spellings it accepts.
//!
//! JP Core v1.x is moving its code systems from OIDs to http URLs and accepts both meanwhile
//! (its "OID形式とURL形式に関するマップ表"); a guide built on it may still write the OID. For each
//! system here, [`CodeSystem::written`] is the form the governing guide writes and
//! [`CodeSystem::accepted`] every form JP Core's map gives for the same system.

pub mod required;
pub mod rules;

/// The guides' profiles as `guides/profiles.py` derives them from the FSH (see [`rules`]).
pub(crate) const PROFILES_JSON: &str = include_str!("profiles.json");

/// One published implementation guide, as its repository releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guide {
    pub name: &'static str,
    pub version: &'static str,
    /// The guide's canonical base URL.
    pub canonical: &'static str,
}

/// JAMI's e-prescription data guide (処方情報 HL7 FHIR 記述仕様).
pub const E_PRESCRIPTION: Guide = Guide {
    name: "JAMI ePrescriptionData",
    version: "1.0.0",
    canonical: "http://jpfhir.jp/fhir/ePrescriptionData",
};

/// JAMI's guide for the EHR sharing service (電子カルテ情報共有サービス, 2 documents and 6 items).
pub const JP_CLINS: Guide = Guide {
    name: "JP-CLINS",
    version: "1.3.0-rc1",
    canonical: "http://jpfhir.jp/fhir/clins",
};

/// JP Core, the base profiles every Japanese guide derives from.
pub const JP_CORE: Guide = Guide {
    name: "JP Core",
    version: "1.2.0",
    canonical: "http://jpfhir.jp/fhir/core",
};

impl Guide {
    /// "JP-CLINS 1.3.0-rc1 JP_Condition_eCS.meta.tag": where a rule comes from, for refusals.
    pub fn cite(&self, profile: &str, element: &str) -> String {
        format!("{} {} {profile}.{element}", self.name, self.version)
    }
}

/// A code system as the guides name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSystem {
    pub name: &'static str,
    /// The URI the governing guide writes.
    pub written: &'static str,
    /// Every URI accepted for it (the written one first).
    pub accepted: &'static [&'static str],
    /// The guide whose form is written.
    pub guide: Guide,
}

impl CodeSystem {
    pub fn accepts(&self, system: &str) -> bool {
        self.accepted.contains(&system)
    }
}

/// MEDIS HOT9 drug codes: ePrescriptionData writes the OID; JP Core also maps MEDIS's URL and the
/// MHLW OID to it.
pub const HOT9: CodeSystem = CodeSystem {
    name: "HOT9",
    written: "urn:oid:1.2.392.200119.4.403.1",
    accepted: &[
        "urn:oid:1.2.392.200119.4.403.1",
        "urn:oid:1.2.392.100495.20.2.74",
        "http://medis.or.jp/CodeSystem/master-HOT9",
    ],
    guide: E_PRESCRIPTION,
};

/// YJ codes (個別医薬品コード): ePrescriptionData writes `…20.1.73`; JP Core names the URL and the
/// MHLW table's `…20.2.73`.
pub const YJ: CodeSystem = CodeSystem {
    name: "YJ",
    written: "urn:oid:1.2.392.100495.20.1.73",
    accepted: &[
        "urn:oid:1.2.392.100495.20.1.73",
        "urn:oid:1.2.392.100495.20.2.73",
        "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code",
    ],
    guide: E_PRESCRIPTION,
};

/// JLAC10 laboratory codes (17 digits): JP-CLINS fixes MEDIS's URL for its `jlac10LaboCode`
/// slice (its alias file keeps the OID only in a comment); JP Core maps the OID to it.
pub const JLAC10: CodeSystem = CodeSystem {
    name: "JLAC10",
    written: "http://medis.or.jp/CodeSystem/master-JLAC10-17digits",
    accepted: &[
        "http://medis.or.jp/CodeSystem/master-JLAC10-17digits",
        "urn:oid:1.2.392.200119.4.504",
    ],
    guide: JP_CLINS,
};

/// ICD-10 (2013, all digits) as MHLW publishes it; JP Core gives no OID for it.
pub const ICD10: CodeSystem = CodeSystem {
    name: "ICD-10 (MHLW 2013)",
    written: "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full",
    accepted: &["http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"],
    guide: JP_CORE,
};

/// MEDIS disease numbers (病名管理番号), which JP-CLINS requires on every diagnosis; a name the
/// facility cannot code carries [`MEDIS_UNCODED`] (JP_Condition_eCS.code).
pub const MEDIS_DISEASE: CodeSystem = CodeSystem {
    name: "MEDIS disease number",
    written: "http://medis.or.jp/CodeSystem/master-disease-keyNumber",
    accepted: &[
        "http://medis.or.jp/CodeSystem/master-disease-keyNumber",
        "urn:oid:1.2.392.200119.4.101.2",
    ],
    guide: JP_CLINS,
};

/// The MEDIS disease number of a name that is not coded: as many 9s as a number has digits.
pub const MEDIS_UNCODED: &str = "99999999";

/// JFAGY food allergen codes (JP Core's `JP_JfagyFoodAllergen_CS`).
pub const JFAGY_FOOD: CodeSystem = CodeSystem {
    name: "JFAGY food allergens",
    written: "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS",
    accepted: &["http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS"],
    guide: JP_CORE,
};

/// Document type codes (文書区分コード) shared by ePrescriptionData and JP-CLINS.
pub const DOC_TYPE: CodeSystem = CodeSystem {
    name: "document type codes",
    written: "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes",
    accepted: &["http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes"],
    guide: JP_CLINS,
};

/// Insurer numbers (保険者番号), an identifier system: ePrescriptionData writes the MHLW OID.
pub const INSURER_NUMBER: CodeSystem = CodeSystem {
    name: "insurer number",
    written: "urn:oid:1.2.392.100495.20.3.61",
    accepted: &[
        "urn:oid:1.2.392.100495.20.3.61",
        "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber",
    ],
    guide: E_PRESCRIPTION,
};

/// Insurance category (保険種別) of Coverage.type.
pub const INSURANCE_CATEGORY: CodeSystem = CodeSystem {
    name: "insurance category",
    written: "urn:oid:1.2.392.100495.20.2.61",
    accepted: &[
        "urn:oid:1.2.392.100495.20.2.61",
        "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/InsuranceMajorCategory",
    ],
    guide: E_PRESCRIPTION,
};

/// Insured or dependant (被保険者区分) of Coverage.relationship.
pub const INSURED_RELATIONSHIP: CodeSystem = CodeSystem {
    name: "insured person category",
    written: "urn:oid:1.2.392.100495.20.2.62",
    accepted: &[
        "urn:oid:1.2.392.100495.20.2.62",
        "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/InsuredPersonCategory",
    ],
    guide: E_PRESCRIPTION,
};

/// The Rp number of a MedicationRequest (剤グループ番号), an identifier system.
pub const RP_NUMBER: CodeSystem = CodeSystem {
    name: "Rp number",
    written: "urn:oid:1.2.392.100495.20.3.81",
    accepted: &[
        "urn:oid:1.2.392.100495.20.3.81",
        "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber",
    ],
    guide: E_PRESCRIPTION,
};

/// A drug's order within its Rp (剤内連番), an identifier system.
pub const ORDER_IN_RP: CodeSystem = CodeSystem {
    name: "order in Rp",
    written: "urn:oid:1.2.392.100495.20.3.82",
    accepted: &[
        "urn:oid:1.2.392.100495.20.3.82",
        "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicationAdministrationIndex",
    ],
    guide: E_PRESCRIPTION,
};

/// JAMI standard usage codes (JAMI標準用法コード, 16 characters) of `dosageInstruction.timing.code`:
/// the guide's value set `jami-ePreOrderUsageCode` and its examples name this OID (the profile's
/// FSH fixes `urn:oid:1.2.392.200250.2.2.20`, which no example or value set uses).
pub const JAMI_USAGE: CodeSystem = CodeSystem {
    name: "JAMI usage codes",
    written: "urn:oid:1.2.392.200250.2.2.20.20",
    accepted: &[
        "urn:oid:1.2.392.200250.2.2.20.20",
        "http://jami.jp/CodeSystem/MedicationUsage",
    ],
    guide: E_PRESCRIPTION,
};

/// JP Core's resource instance identifiers (`identifier[resourceIdentifier]` of eCS items).
pub const RESOURCE_ID: CodeSystem = CodeSystem {
    name: "resource instance identifier",
    written: "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier",
    accepted: &["http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier"],
    guide: JP_CLINS,
};

/// The resource category a JP-CLINS items Bundle holds (`Bundle.meta.tag`, invariants R02141–3).
pub const BUNDLE_RESOURCE_TYPE: CodeSystem = CodeSystem {
    name: "JP-CLINS Bundle resource type",
    written: "http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS",
    accepted: &["http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS"],
    guide: JP_CLINS,
};

/// Every code and identifier system above.
pub const CODE_SYSTEMS: [CodeSystem; 15] = [
    HOT9,
    YJ,
    JLAC10,
    ICD10,
    JFAGY_FOOD,
    DOC_TYPE,
    INSURER_NUMBER,
    INSURANCE_CATEGORY,
    INSURED_RELATIONSHIP,
    MEDIS_DISEASE,
    RP_NUMBER,
    ORDER_IN_RP,
    JAMI_USAGE,
    RESOURCE_ID,
    BUNDLE_RESOURCE_TYPE,
];

/// A drug code system: YJ or HOT9, in any accepted spelling.
pub fn drug_system(system: &str) -> Option<CodeSystem> {
    [YJ, HOT9].into_iter().find(|c| c.accepts(system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_accepts_what_it_writes_and_no_uri_names_two_systems() {
        for c in CODE_SYSTEMS {
            assert_eq!(c.accepted[0], c.written, "{}", c.name);
            for other in CODE_SYSTEMS.iter().filter(|o| o.name != c.name) {
                for uri in c.accepted {
                    assert!(
                        !other.accepts(uri),
                        "{uri} names {} and {}",
                        c.name,
                        other.name
                    );
                }
            }
        }
        assert_eq!(
            drug_system("http://medis.or.jp/CodeSystem/master-HOT9"),
            Some(HOT9)
        );
        assert_eq!(drug_system("http://hl7.org/fhir/sid/icd-10"), None);
    }
}
