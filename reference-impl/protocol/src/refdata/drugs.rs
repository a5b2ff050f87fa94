//! The drug master: common outpatient drugs with YJ-style and HOT9-style codes, ingredient,
//! route, unit, days-supply limits and refill eligibility, plus the 併用禁忌 ingredient pairs.
//!
//! Ingredients, therapeutic classes (薬効分類), strengths and the contraindicated pairs are real
//! (from package inserts); the codes are synthetic but keep the published layouts: YJ codes are
//! 12 characters (class 4 + ingredient 3 + form 1 + strength 1 + brand 2 + check 1), HOT9 codes
//! 9 digits, claims codes 9 digits starting with 6. The table is compiled in, so every server and
//! every driver built from the same source agrees on it.

use crate::codes::mod10_weight21;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// How a drug is taken; duplicates need the same ingredient *and* route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    Oral,
    Sublingual,
    Topical,
    Transdermal,
    Inhalation,
    Ophthalmic,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Sublingual => "sublingual",
            Route::Topical => "topical",
            Route::Transdermal => "transdermal",
            Route::Inhalation => "inhalation",
            Route::Ophthalmic => "ophthalmic",
        }
    }

    /// External use (外用): counts 14 days in the duplicate check, whatever the days supplied.
    pub fn is_external(self) -> bool {
        matches!(
            self,
            Route::Topical | Route::Transdermal | Route::Ophthalmic | Route::Inhalation
        )
    }
}

/// Why a drug may not be prescribed as a refill (リフィル不可).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillBar {
    Narcotic,
    Psychotropic,
    NewDrug,
    Poultice,
}

impl RefillBar {
    pub fn as_str(self) -> &'static str {
        match self {
            RefillBar::Narcotic => "narcotic",
            RefillBar::Psychotropic => "psychotropic",
            RefillBar::NewDrug => "new drug",
            RefillBar::Poultice => "poultice",
        }
    }
}

/// One product of the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub yj: String,
    pub hot9: String,
    pub claims_code: String,
    pub name: String,
    /// Ingredient key, e.g. `amlodipine`; duplicates and interactions compare these.
    pub ingredient: &'static str,
    pub route: Route,
    pub unit: &'static str,
    /// 薬効分類 (4 digits).
    pub class: u16,
    /// Usually prescribed as needed (頓服).
    pub as_needed: bool,
    pub refill_bar: Option<RefillBar>,
    /// Days-supply limit per prescription (投与期間制限), if any.
    pub max_days: Option<u16>,
}

impl Drug {
    /// Days this drug occupies in the duplicate check: as-needed and external drugs count 14.
    pub fn check_days(&self, days_supplied: u16) -> u16 {
        if self.as_needed || self.route.is_external() {
            14
        } else {
            days_supplied
        }
    }
}

const AS_NEEDED: u8 = 1;
const NARCOTIC: u8 = 2;
const PSYCHO: u8 = 4;
const NEW: u8 = 8;
const POULTICE: u8 = 16;

use Route::*;

/// (class, ingredient key, display name, route, form letter, form word, unit, strengths, flags)
type Row = (
    u16,
    &'static str,
    &'static str,
    Route,
    char,
    &'static str,
    &'static str,
    &'static [&'static str],
    u8,
);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // Cardiovascular
    (2171, "amlodipine", "Amlodipine", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg", "10mg"], 0),
    (2171, "nifedipine", "Nifedipine CR", Oral, 'G', "tablet", "錠", &["10mg", "20mg", "40mg"], 0),
    (2149, "azelnidipine", "Azelnidipine", Oral, 'F', "tablet", "錠", &["8mg", "16mg"], 0),
    (2149, "candesartan", "Candesartan", Oral, 'F', "tablet", "錠", &["2mg", "4mg", "8mg", "12mg"], 0),
    (2149, "olmesartan", "Olmesartan", Oral, 'F', "tablet", "錠", &["5mg", "10mg", "20mg", "40mg"], 0),
    (2149, "telmisartan", "Telmisartan", Oral, 'F', "tablet", "錠", &["20mg", "40mg", "80mg"], 0),
    (2149, "valsartan", "Valsartan", Oral, 'F', "tablet", "錠", &["40mg", "80mg", "160mg"], 0),
    (2149, "losartan", "Losartan", Oral, 'F', "tablet", "錠", &["25mg", "50mg", "100mg"], 0),
    (2149, "azilsartan", "Azilsartan", Oral, 'F', "tablet", "錠", &["10mg", "20mg", "40mg"], 0),
    (2144, "enalapril", "Enalapril", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg", "10mg"], 0),
    (2144, "imidapril", "Imidapril", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg", "10mg"], 0),
    (2190, "sacubitril_valsartan", "Sacubitril/Valsartan", Oral, 'F', "tablet", "錠", &["50mg", "100mg", "200mg"], 0),
    (2123, "bisoprolol", "Bisoprolol", Oral, 'F', "tablet", "錠", &["0.625mg", "2.5mg", "5mg"], 0),
    (2149, "carvedilol", "Carvedilol", Oral, 'F', "tablet", "錠", &["2.5mg", "10mg", "20mg"], 0),
    (2139, "furosemide", "Furosemide", Oral, 'F', "tablet", "錠", &["20mg", "40mg"], 0),
    (2133, "spironolactone", "Spironolactone", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], 0),
    (2149, "eplerenone", "Eplerenone", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], 0),
    (2132, "trichlormethiazide", "Trichlormethiazide", Oral, 'F', "tablet", "錠", &["1mg", "2mg"], 0),
    (2171, "nitroglycerin", "Nitroglycerin", Sublingual, 'K', "sublingual tablet", "錠", &["0.3mg"], AS_NEEDED),
    (2171, "isosorbide_mononitrate", "Isosorbide mononitrate", Oral, 'F', "tablet", "錠", &["20mg"], 0),
    (2171, "isosorbide_dinitrate", "Isosorbide dinitrate", Transdermal, 'S', "tape", "枚", &["40mg"], 0),
    (2171, "nicorandil", "Nicorandil", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (3332, "warfarin", "Warfarin", Oral, 'F', "tablet", "錠", &["0.5mg", "1mg"], 0),
    (3339, "apixaban", "Apixaban", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (3339, "rivaroxaban", "Rivaroxaban", Oral, 'F', "tablet", "錠", &["10mg", "15mg"], 0),
    (3339, "edoxaban", "Edoxaban", Oral, 'F', "tablet", "錠", &["15mg", "30mg", "60mg"], 0),
    (3339, "dabigatran", "Dabigatran", Oral, 'M', "capsule", "カプセル", &["75mg", "110mg"], 0),
    (3399, "clopidogrel", "Clopidogrel", Oral, 'F', "tablet", "錠", &["25mg", "75mg"], 0),
    (3399, "aspirin", "Aspirin (low dose)", Oral, 'F', "tablet", "錠", &["100mg"], 0),
    (2190, "riociguat", "Riociguat", Oral, 'F', "tablet", "錠", &["0.5mg", "1mg", "2.5mg"], 0),
    (2190, "sildenafil", "Sildenafil", Oral, 'F', "tablet", "錠", &["20mg"], 0),
    // Lipids
    (2189, "atorvastatin", "Atorvastatin", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], 0),
    (2189, "rosuvastatin", "Rosuvastatin", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (2189, "pitavastatin", "Pitavastatin", Oral, 'F', "tablet", "錠", &["1mg", "2mg", "4mg"], 0),
    (2189, "simvastatin", "Simvastatin", Oral, 'F', "tablet", "錠", &["5mg", "10mg", "20mg"], 0),
    (2189, "pravastatin", "Pravastatin", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], 0),
    (2189, "ezetimibe", "Ezetimibe", Oral, 'F', "tablet", "錠", &["10mg"], 0),
    (2183, "fenofibrate", "Fenofibrate", Oral, 'F', "tablet", "錠", &["53.3mg", "80mg"], 0),
    (2183, "pemafibrate", "Pemafibrate", Oral, 'F', "tablet", "錠", &["0.1mg"], 0),
    // Diabetes
    (3962, "metformin", "Metformin", Oral, 'F', "tablet", "錠", &["250mg", "500mg"], 0),
    (3961, "glimepiride", "Glimepiride", Oral, 'F', "tablet", "錠", &["0.5mg", "1mg", "3mg"], 0),
    (3969, "sitagliptin", "Sitagliptin", Oral, 'F', "tablet", "錠", &["25mg", "50mg", "100mg"], 0),
    (3969, "linagliptin", "Linagliptin", Oral, 'F', "tablet", "錠", &["5mg"], 0),
    (3969, "vildagliptin", "Vildagliptin", Oral, 'F', "tablet", "錠", &["50mg"], 0),
    (3969, "empagliflozin", "Empagliflozin", Oral, 'F', "tablet", "錠", &["10mg", "25mg"], 0),
    (3969, "dapagliflozin", "Dapagliflozin", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], 0),
    (3969, "canagliflozin", "Canagliflozin", Oral, 'F', "tablet", "錠", &["100mg"], 0),
    (3969, "pioglitazone", "Pioglitazone", Oral, 'F', "tablet", "錠", &["15mg", "30mg"], 0),
    (3969, "voglibose", "Voglibose", Oral, 'F', "tablet", "錠", &["0.2mg", "0.3mg"], 0),
    (2499, "semaglutide", "Semaglutide", Oral, 'F', "tablet", "錠", &["3mg", "7mg", "14mg"], 0),
    // Gastrointestinal
    (2329, "lansoprazole", "Lansoprazole OD", Oral, 'F', "tablet", "錠", &["15mg", "30mg"], 0),
    (2329, "esomeprazole", "Esomeprazole", Oral, 'M', "capsule", "カプセル", &["10mg", "20mg"], 0),
    (2329, "vonoprazan", "Vonoprazan", Oral, 'F', "tablet", "錠", &["10mg", "20mg"], 0),
    (2325, "famotidine", "Famotidine", Oral, 'F', "tablet", "錠", &["10mg", "20mg"], 0),
    (2329, "rebamipide", "Rebamipide", Oral, 'F', "tablet", "錠", &["100mg"], 0),
    (2399, "mosapride", "Mosapride", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (2344, "magnesium_oxide", "Magnesium oxide", Oral, 'F', "tablet", "錠", &["250mg", "330mg", "500mg"], 0),
    (2354, "sennoside", "Sennoside", Oral, 'F', "tablet", "錠", &["12mg"], AS_NEEDED),
    (2359, "lubiprostone", "Lubiprostone", Oral, 'M', "capsule", "カプセル", &["12μg", "24μg"], 0),
    (2399, "domperidone", "Domperidone", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], 0),
    // Pain and inflammation
    (1149, "loxoprofen", "Loxoprofen", Oral, 'F', "tablet", "錠", &["60mg"], 0),
    (2649, "loxoprofen_tape", "Loxoprofen tape", Topical, 'S', "tape", "枚", &["50mg", "100mg"], POULTICE),
    (2649, "ketoprofen_tape", "Ketoprofen tape", Topical, 'S', "tape", "枚", &["20mg", "40mg"], POULTICE),
    (1149, "celecoxib", "Celecoxib", Oral, 'F', "tablet", "錠", &["100mg", "200mg"], 0),
    (1141, "acetaminophen", "Acetaminophen", Oral, 'F', "tablet", "錠", &["200mg", "300mg", "500mg"], 0),
    (1147, "diclofenac", "Diclofenac", Oral, 'F', "tablet", "錠", &["25mg"], 0),
    (1149, "tramadol", "Tramadol/Acetaminophen", Oral, 'F', "tablet", "錠", &["37.5mg"], 0),
    (1190, "pregabalin", "Pregabalin OD", Oral, 'F', "tablet", "錠", &["25mg", "75mg", "150mg"], 0),
    (1190, "mirogabalin", "Mirogabalin", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg", "10mg", "15mg"], 0),
    (8119, "oxycodone", "Oxycodone ER", Oral, 'G', "tablet", "錠", &["5mg", "10mg", "20mg"], NARCOTIC),
    (8114, "morphine", "Morphine", Oral, 'F', "tablet", "錠", &["10mg"], NARCOTIC),
    (8219, "fentanyl", "Fentanyl", Transdermal, 'S', "patch", "枚", &["1mg", "2mg", "4mg"], NARCOTIC),
    // Respiratory and allergy
    (4490, "montelukast", "Montelukast", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], 0),
    (4490, "fexofenadine", "Fexofenadine", Oral, 'F', "tablet", "錠", &["30mg", "60mg"], 0),
    (4490, "bilastine", "Bilastine", Oral, 'F', "tablet", "錠", &["20mg"], 0),
    (4490, "levocetirizine", "Levocetirizine", Oral, 'F', "tablet", "錠", &["5mg"], 0),
    (4490, "olopatadine", "Olopatadine", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (2233, "carbocisteine", "Carbocisteine", Oral, 'F', "tablet", "錠", &["250mg", "500mg"], 0),
    (2239, "ambroxol", "Ambroxol", Oral, 'F', "tablet", "錠", &["15mg"], 0),
    (2223, "dextromethorphan", "Dextromethorphan", Oral, 'F', "tablet", "錠", &["15mg"], 0),
    (2290, "fluticasone_salmeterol", "Fluticasone/Salmeterol", Inhalation, 'G', "inhaler", "個", &["250μg"], 0),
    (2290, "budesonide_formoterol", "Budesonide/Formoterol", Inhalation, 'G', "inhaler", "個", &["160μg"], 0),
    (2259, "tiotropium", "Tiotropium", Inhalation, 'G', "inhaler", "個", &["2.5μg"], 0),
    (2254, "salbutamol", "Salbutamol", Inhalation, 'G', "inhaler", "個", &["100μg"], AS_NEEDED),
    // Anti-infectives
    (6131, "amoxicillin", "Amoxicillin", Oral, 'M', "capsule", "カプセル", &["250mg"], 0),
    (6132, "cefcapene", "Cefcapene", Oral, 'F', "tablet", "錠", &["75mg", "100mg"], 0),
    (6132, "cefdinir", "Cefdinir", Oral, 'M', "capsule", "カプセル", &["100mg"], 0),
    (6149, "clarithromycin", "Clarithromycin", Oral, 'F', "tablet", "錠", &["200mg"], 0),
    (6149, "azithromycin", "Azithromycin", Oral, 'F', "tablet", "錠", &["250mg"], 0),
    (6241, "levofloxacin", "Levofloxacin", Oral, 'F', "tablet", "錠", &["250mg", "500mg"], 0),
    (6241, "ciprofloxacin", "Ciprofloxacin", Oral, 'F', "tablet", "錠", &["200mg"], 0),
    (6152, "minocycline", "Minocycline", Oral, 'F', "tablet", "錠", &["50mg", "100mg"], 0),
    (6290, "itraconazole", "Itraconazole", Oral, 'M', "capsule", "カプセル", &["50mg"], 0),
    (6290, "miconazole", "Miconazole oral gel", Oral, 'Q', "oral gel", "g", &["2%"], 0),
    (6290, "terbinafine", "Terbinafine", Oral, 'F', "tablet", "錠", &["125mg"], 0),
    (6250, "oseltamivir", "Oseltamivir", Oral, 'M', "capsule", "カプセル", &["75mg"], 0),
    (6250, "baloxavir", "Baloxavir", Oral, 'F', "tablet", "錠", &["20mg"], 0),
    (6250, "valacyclovir", "Valacyclovir", Oral, 'F', "tablet", "錠", &["500mg"], 0),
    (6164, "rifampicin", "Rifampicin", Oral, 'M', "capsule", "カプセル", &["150mg"], 0),
    // Central nervous system
    (1129, "zolpidem", "Zolpidem", Oral, 'F', "tablet", "錠", &["5mg", "10mg"], PSYCHO),
    (1124, "triazolam", "Triazolam", Oral, 'F', "tablet", "錠", &["0.125mg", "0.25mg"], PSYCHO),
    (1124, "brotizolam", "Brotizolam", Oral, 'F', "tablet", "錠", &["0.25mg"], PSYCHO),
    (1179, "etizolam", "Etizolam", Oral, 'F', "tablet", "錠", &["0.5mg", "1mg"], PSYCHO),
    (1124, "alprazolam", "Alprazolam", Oral, 'F', "tablet", "錠", &["0.4mg", "0.8mg"], PSYCHO),
    (1179, "methylphenidate", "Methylphenidate ER", Oral, 'G', "tablet", "錠", &["18mg", "27mg"], PSYCHO),
    (1190, "suvorexant", "Suvorexant", Oral, 'F', "tablet", "錠", &["15mg", "20mg"], 0),
    (1190, "lemborexant", "Lemborexant", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg", "10mg"], 0),
    (1190, "daridorexant", "Daridorexant", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], NEW),
    (1190, "ramelteon", "Ramelteon", Oral, 'F', "tablet", "錠", &["8mg"], 0),
    (1179, "escitalopram", "Escitalopram", Oral, 'F', "tablet", "錠", &["10mg"], 0),
    (1179, "sertraline", "Sertraline", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], 0),
    (1179, "fluvoxamine", "Fluvoxamine", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], 0),
    (1179, "duloxetine", "Duloxetine", Oral, 'M', "capsule", "カプセル", &["20mg", "30mg"], 0),
    (1179, "mirtazapine", "Mirtazapine", Oral, 'F', "tablet", "錠", &["15mg", "30mg"], 0),
    (1179, "aripiprazole", "Aripiprazole", Oral, 'F', "tablet", "錠", &["3mg", "6mg", "12mg"], 0),
    (1179, "quetiapine", "Quetiapine", Oral, 'F', "tablet", "錠", &["25mg", "100mg"], 0),
    (1179, "lurasidone", "Lurasidone", Oral, 'F', "tablet", "錠", &["20mg", "40mg"], 0),
    (1179, "pimozide", "Pimozide", Oral, 'F', "tablet", "錠", &["1mg", "3mg"], 0),
    (1190, "donepezil", "Donepezil", Oral, 'F', "tablet", "錠", &["3mg", "5mg", "10mg"], 0),
    (1190, "memantine", "Memantine", Oral, 'F', "tablet", "錠", &["5mg", "10mg", "20mg"], 0),
    (1169, "levodopa_carbidopa", "Levodopa/Carbidopa", Oral, 'F', "tablet", "錠", &["100mg"], 0),
    (1169, "selegiline", "Selegiline", Oral, 'F', "tablet", "錠", &["2.5mg"], 0),
    (1249, "tizanidine", "Tizanidine", Oral, 'F', "tablet", "錠", &["1mg"], 0),
    (2160, "sumatriptan", "Sumatriptan", Oral, 'F', "tablet", "錠", &["50mg"], AS_NEEDED),
    (2160, "ergotamine", "Ergotamine/Caffeine", Oral, 'F', "tablet", "錠", &["1mg"], AS_NEEDED),
    (1139, "lamotrigine", "Lamotrigine", Oral, 'F', "tablet", "錠", &["25mg", "100mg"], 0),
    (1139, "levetiracetam", "Levetiracetam", Oral, 'F', "tablet", "錠", &["250mg", "500mg"], 0),
    // Urology
    (2590, "tamsulosin", "Tamsulosin OD", Oral, 'F', "tablet", "錠", &["0.1mg", "0.2mg"], 0),
    (2590, "silodosin", "Silodosin", Oral, 'F', "tablet", "錠", &["2mg", "4mg"], 0),
    (2590, "mirabegron", "Mirabegron", Oral, 'F', "tablet", "錠", &["25mg", "50mg"], 0),
    (2590, "solifenacin", "Solifenacin", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (2590, "tadalafil", "Tadalafil", Oral, 'F', "tablet", "錠", &["2.5mg", "5mg"], 0),
    (2499, "dutasteride", "Dutasteride", Oral, 'M', "capsule", "カプセル", &["0.5mg"], 0),
    // Gout, bone, endocrine, immunology
    (3949, "febuxostat", "Febuxostat", Oral, 'F', "tablet", "錠", &["10mg", "20mg", "40mg"], 0),
    (3943, "allopurinol", "Allopurinol", Oral, 'F', "tablet", "錠", &["50mg", "100mg"], 0),
    (3941, "colchicine", "Colchicine", Oral, 'F', "tablet", "錠", &["0.5mg"], 0),
    (3999, "alendronate", "Alendronate (weekly)", Oral, 'F', "tablet", "錠", &["35mg"], 0),
    (3112, "eldecalcitol", "Eldecalcitol", Oral, 'M', "capsule", "カプセル", &["0.5μg", "0.75μg"], 0),
    (2431, "levothyroxine", "Levothyroxine", Oral, 'F', "tablet", "錠", &["25μg", "50μg"], 0),
    (2456, "prednisolone", "Prednisolone", Oral, 'F', "tablet", "錠", &["1mg", "5mg"], 0),
    (3999, "methotrexate", "Methotrexate", Oral, 'M', "capsule", "カプセル", &["2mg"], 0),
    (3999, "azathioprine", "Azathioprine", Oral, 'F', "tablet", "錠", &["50mg"], 0),
    (4221, "mercaptopurine", "Mercaptopurine", Oral, 'C', "powder", "g", &["10%"], 0),
    (3999, "iguratimod", "Iguratimod", Oral, 'F', "tablet", "錠", &["25mg"], 0),
    (3999, "tacrolimus", "Tacrolimus", Oral, 'M', "capsule", "カプセル", &["0.5mg", "1mg"], 0),
    (3160, "menatetrenone", "Menatetrenone", Oral, 'M', "capsule", "カプセル", &["15mg"], 0),
    (3229, "potassium_chloride", "Potassium chloride ER", Oral, 'G', "tablet", "錠", &["600mg"], 0),
    (3136, "mecobalamin", "Mecobalamin", Oral, 'F', "tablet", "錠", &["500μg"], 0),
    (3222, "ferrous_citrate", "Sodium ferrous citrate", Oral, 'F', "tablet", "錠", &["50mg"], 0),
    (5200, "kakkonto", "Kakkonto extract", Oral, 'C', "granules", "g", &["2.5g"], 0),
    (5200, "yokukansan", "Yokukansan extract", Oral, 'C', "granules", "g", &["2.5g"], 0),
    // External preparations
    (3339, "heparinoid", "Heparinoid", Topical, 'N', "cream", "g", &["0.3%"], 0),
    (2646, "betamethasone_valerate", "Betamethasone valerate", Topical, 'N', "ointment", "g", &["0.12%"], 0),
    (1319, "latanoprost", "Latanoprost", Ophthalmic, 'P', "eye drops", "mL", &["0.005%"], 0),
    (1319, "hyaluronate", "Sodium hyaluronate", Ophthalmic, 'P', "eye drops", "mL", &["0.1%", "0.3%"], 0),
];

/// Contraindicated in combination (併用禁忌), by ingredient key, as listed in package inserts.
#[rustfmt::skip]
pub const CONTRAINDICATED: &[(&str, &str)] = &[
    ("sildenafil", "nitroglycerin"), ("sildenafil", "isosorbide_mononitrate"),
    ("sildenafil", "isosorbide_dinitrate"), ("sildenafil", "nicorandil"), ("sildenafil", "riociguat"),
    ("tadalafil", "nitroglycerin"), ("tadalafil", "isosorbide_mononitrate"),
    ("tadalafil", "isosorbide_dinitrate"), ("tadalafil", "nicorandil"), ("tadalafil", "riociguat"),
    ("riociguat", "nitroglycerin"), ("riociguat", "isosorbide_mononitrate"), ("riociguat", "nicorandil"),
    ("clarithromycin", "pimozide"), ("clarithromycin", "suvorexant"), ("clarithromycin", "lurasidone"),
    ("clarithromycin", "ergotamine"), ("clarithromycin", "eplerenone"),
    ("itraconazole", "simvastatin"), ("itraconazole", "triazolam"), ("itraconazole", "suvorexant"),
    ("itraconazole", "lurasidone"), ("itraconazole", "rivaroxaban"), ("itraconazole", "dabigatran"),
    ("itraconazole", "pimozide"), ("itraconazole", "ergotamine"), ("itraconazole", "alprazolam"),
    ("itraconazole", "eplerenone"), ("miconazole", "warfarin"), ("miconazole", "simvastatin"),
    ("miconazole", "triazolam"), ("miconazole", "pimozide"),
    ("ciprofloxacin", "tizanidine"), ("fluvoxamine", "tizanidine"), ("fluvoxamine", "ramelteon"),
    ("fluvoxamine", "pimozide"), ("fluvoxamine", "selegiline"),
    ("selegiline", "sertraline"), ("selegiline", "escitalopram"), ("selegiline", "duloxetine"),
    ("selegiline", "tramadol"), ("selegiline", "mirtazapine"),
    ("febuxostat", "azathioprine"), ("febuxostat", "mercaptopurine"),
    ("sacubitril_valsartan", "enalapril"), ("sacubitril_valsartan", "imidapril"),
    ("warfarin", "iguratimod"), ("warfarin", "menatetrenone"),
    ("sumatriptan", "ergotamine"),
    ("eplerenone", "potassium_chloride"), ("eplerenone", "spironolactone"),
    ("spironolactone", "tacrolimus"), ("rifampicin", "lurasidone"), ("rifampicin", "tadalafil"),
];

/// The master, indexed by YJ and HOT9 code.
#[derive(Debug)]
pub struct DrugMaster {
    drugs: Vec<Drug>,
    by_code: BTreeMap<String, usize>,
    contraindicated: BTreeMap<&'static str, Vec<&'static str>>,
}

fn code_digit(c: char) -> u8 {
    // Letters of the form position map to a digit so the check digit covers them too.
    match c {
        '0'..='9' => c as u8 - b'0',
        _ => (c as u8 - b'A') % 10,
    }
}

fn days_limit(flags: u8) -> Option<u16> {
    if flags & NEW != 0 {
        Some(14)
    } else if flags & (NARCOTIC | PSYCHO) != 0 {
        Some(30)
    } else {
        None
    }
}

fn refill_bar(flags: u8) -> Option<RefillBar> {
    [
        (NARCOTIC, RefillBar::Narcotic),
        (PSYCHO, RefillBar::Psychotropic),
        (NEW, RefillBar::NewDrug),
        (POULTICE, RefillBar::Poultice),
    ]
    .into_iter()
    .find(|(bit, _)| flags & bit != 0)
    .map(|(_, bar)| bar)
}

impl DrugMaster {
    fn build() -> Self {
        let mut drugs = Vec::new();
        for (k, &(class, ingredient, display, route, form, word, unit, strengths, flags)) in
            ROWS.iter().enumerate()
        {
            for (s, strength) in strengths.iter().enumerate() {
                let body = format!("{class:04}{k:03}{form}{}01", s + 1);
                let digits: Vec<u8> = body.chars().map(code_digit).collect();
                let yj = format!("{body}{}", mod10_weight21(&digits));
                drugs.push(Drug {
                    yj,
                    hot9: format!("{:07}01", 1_000_000 + k * 16 + s),
                    claims_code: format!("6{class:04}{k:03}{s}"),
                    name: format!("{display} {strength} {word}"),
                    ingredient,
                    route,
                    unit,
                    class,
                    as_needed: flags & AS_NEEDED != 0,
                    refill_bar: refill_bar(flags),
                    max_days: days_limit(flags),
                });
            }
        }
        let mut by_code = BTreeMap::new();
        for (i, d) in drugs.iter().enumerate() {
            by_code.insert(d.yj.clone(), i);
            by_code.insert(d.hot9.clone(), i);
        }
        let mut contraindicated: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for &(a, b) in CONTRAINDICATED {
            contraindicated.entry(a).or_default().push(b);
            contraindicated.entry(b).or_default().push(a);
        }
        Self {
            drugs,
            by_code,
            contraindicated,
        }
    }

    /// The master compiled into this build.
    pub fn get() -> &'static DrugMaster {
        static MASTER: OnceLock<DrugMaster> = OnceLock::new();
        MASTER.get_or_init(DrugMaster::build)
    }

    pub fn all(&self) -> &[Drug] {
        &self.drugs
    }

    /// Looks a drug up by YJ or HOT9 code.
    pub fn by_code(&self, code: &str) -> Option<&Drug> {
        self.by_code.get(code).map(|&i| &self.drugs[i])
    }

    /// Whether two ingredients are contraindicated in combination.
    pub fn contraindicated(&self, a: &str, b: &str) -> bool {
        self.contraindicated.get(a).is_some_and(|v| v.contains(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_has_200_products_with_unique_well_formed_codes() {
        let m = DrugMaster::get();
        assert!(m.all().len() >= 200, "only {} products", m.all().len());
        assert_eq!(
            m.by_code.len(),
            m.all().len() * 2,
            "a YJ or HOT9 code repeats"
        );
        for d in m.all() {
            assert_eq!(d.yj.len(), 12, "{}", d.yj);
            assert_eq!(d.hot9.len(), 9, "{}", d.hot9);
            assert!(
                d.claims_code.len() == 9 && d.claims_code.starts_with('6'),
                "{}",
                d.claims_code
            );
        }
    }

    #[test]
    fn every_contraindicated_ingredient_is_in_the_master() {
        let m = DrugMaster::get();
        for &(a, b) in CONTRAINDICATED {
            for i in [a, b] {
                assert!(m.all().iter().any(|d| d.ingredient == i), "{i} missing");
            }
            assert!(m.contraindicated(a, b) && m.contraindicated(b, a));
        }
        assert!(!m.contraindicated("amlodipine", "atorvastatin"));
    }

    #[test]
    fn refill_bars_and_day_limits_follow_the_flags() {
        let m = DrugMaster::get();
        let find = |ing: &str| m.all().iter().find(|d| d.ingredient == ing).unwrap();
        assert_eq!(find("oxycodone").refill_bar, Some(RefillBar::Narcotic));
        assert_eq!(find("zolpidem").refill_bar, Some(RefillBar::Psychotropic));
        assert_eq!(find("daridorexant").max_days, Some(14));
        assert_eq!(
            find("loxoprofen_tape").refill_bar,
            Some(RefillBar::Poultice)
        );
        assert_eq!(find("amlodipine").refill_bar, None);
        assert_eq!(find("heparinoid").check_days(60), 14);
        assert_eq!(find("amlodipine").check_days(60), 60);
    }
}
