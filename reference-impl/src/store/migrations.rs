//! Versioned schema migrations, applied in order; `PRAGMA user_version` records how many ran.
//! Never edit a released migration: append a new one.

/// Secondary indexes of the enrolment tables, which a bulk load into an empty store drops and
/// rebuilds (by sorting, far faster than inserting keys in random order). Each statement also
/// stands verbatim in the migrations; a test checks it.
pub const BULK_LOAD_INDEXES: [(&str, &str); 3] = [
    (
        "persons_card",
        "CREATE UNIQUE INDEX persons_card ON persons(card_serial) WHERE card_serial IS NOT NULL;",
    ),
    (
        "qualifications_person",
        "CREATE INDEX qualifications_person ON qualifications(person_id);",
    ),
    (
        "public_expenses_person",
        "CREATE INDEX public_expenses_person ON public_expenses(person_id);",
    ),
];

pub const MIGRATIONS: &[&str] = &[
    // 1: reference data, persons, consent, prescriptions, dispensings, audit.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

    CREATE TABLE insurers (
        number TEXT PRIMARY KEY, scheme INTEGER, name TEXT NOT NULL, prefecture INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE facilities (
        code TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, prefecture INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE persons (
        id TEXT PRIMARY KEY, sex TEXT NOT NULL, birth_date TEXT NOT NULL,
        prefecture INTEGER NOT NULL, municipality TEXT NOT NULL, card_serial TEXT
    ) STRICT, WITHOUT ROWID;
    CREATE UNIQUE INDEX persons_card ON persons(card_serial);

    CREATE TABLE qualifications (
        person_id TEXT NOT NULL REFERENCES persons(id),
        insurer_number TEXT NOT NULL, symbol TEXT NOT NULL, number TEXT NOT NULL, branch TEXT NOT NULL,
        valid_from TEXT NOT NULL, valid_to TEXT,
        -- Looked up by all four; number before symbol keeps bulk inserts close to key order.
        PRIMARY KEY (insurer_number, number, symbol, branch)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX qualifications_person ON qualifications(person_id);

    CREATE TABLE public_expenses (
        person_id TEXT NOT NULL REFERENCES persons(id),
        law_code TEXT NOT NULL, payer_number TEXT NOT NULL, recipient_number TEXT NOT NULL,
        valid_from TEXT NOT NULL, valid_to TEXT
    ) STRICT;
    CREATE INDEX public_expenses_person ON public_expenses(person_id);

    CREATE TABLE consents (
        id INTEGER PRIMARY KEY, person_id TEXT NOT NULL, facility_code TEXT NOT NULL,
        kind TEXT NOT NULL, method TEXT NOT NULL, given_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX consents_lookup ON consents(person_id, facility_code, kind, expires_at_ms);

    CREATE TABLE practitioner_keys (
        practitioner_id TEXT NOT NULL, facility_code TEXT NOT NULL, public_key TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        PRIMARY KEY (practitioner_id, facility_code)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE prescription_sequences (
        facility_code TEXT NOT NULL, year INTEGER NOT NULL, next INTEGER NOT NULL,
        PRIMARY KEY (facility_code, year)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE prescriptions (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, facility_code TEXT NOT NULL, person_id TEXT NOT NULL,
        practitioner_id TEXT NOT NULL, document_id TEXT NOT NULL, issued_on TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL, access_code TEXT, status TEXT NOT NULL,
        uses_allowed INTEGER NOT NULL, uses_done INTEGER NOT NULL, last_dispensed_on TEXT,
        next_planned_on TEXT, bundle TEXT NOT NULL, signature TEXT,
        UNIQUE (facility_code, document_id)
    ) STRICT;
    -- An access code identifies one prescription among those still active.
    CREATE UNIQUE INDEX prescriptions_active_code ON prescriptions(access_code)
        WHERE status = 'active' AND access_code IS NOT NULL;
    CREATE INDEX prescriptions_person ON prescriptions(person_id, issued_on);

    CREATE TABLE prescription_items (
        prescription_id TEXT NOT NULL REFERENCES prescriptions(id), seq INTEGER NOT NULL,
        code TEXT NOT NULL, days INTEGER NOT NULL, quantity INTEGER NOT NULL,
        PRIMARY KEY (prescription_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE dispensations (
        id INTEGER PRIMARY KEY, prescription_id TEXT REFERENCES prescriptions(id),
        pharmacy_code TEXT NOT NULL, prescriber_facility TEXT NOT NULL, person_id TEXT NOT NULL,
        dispensed_on TEXT NOT NULL, recorded_at_ms INTEGER NOT NULL, use_number INTEGER NOT NULL,
        pharmacist_id TEXT, signature TEXT
    ) STRICT;
    CREATE INDEX dispensations_person ON dispensations(person_id, dispensed_on);

    CREATE TABLE dispensation_items (
        dispensation_id INTEGER NOT NULL REFERENCES dispensations(id), seq INTEGER NOT NULL,
        code TEXT NOT NULL, days INTEGER NOT NULL, quantity INTEGER NOT NULL,
        PRIMARY KEY (dispensation_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, actor_role TEXT NOT NULL,
        action TEXT NOT NULL, person_id TEXT, target TEXT, outcome TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_person ON audit(person_id, id);
    "#,
    // 2: only persons holding a registered card enter the card index (a third hold none); an
    // equality lookup on card_serial still uses it.
    r#"
    DROP INDEX persons_card;
    CREATE UNIQUE INDEX persons_card ON persons(card_serial) WHERE card_serial IS NOT NULL;
    "#,
    // 3: EHR sharing — submissions of the 6 items, the items, and the 3 documents.
    r#"
    CREATE TABLE ehr_submissions (
        facility_code TEXT NOT NULL, submission_id TEXT NOT NULL, person_id TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        PRIMARY KEY (facility_code, submission_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE ehr_items (
        seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, facility_code TEXT NOT NULL,
        submission_id TEXT NOT NULL, kind TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
        recorded_on TEXT NOT NULL, registered_at_ms INTEGER NOT NULL, retain_until TEXT,
        undisclosed INTEGER NOT NULL, drug_yj TEXT, resource TEXT NOT NULL
    ) STRICT;
    CREATE INDEX ehr_items_person ON ehr_items(person_id, recorded_on, seq);
    CREATE INDEX ehr_items_drug_flags ON ehr_items(person_id) WHERE drug_yj IS NOT NULL;
    CREATE INDEX ehr_items_retention ON ehr_items(retain_until) WHERE retain_until IS NOT NULL;

    CREATE TABLE ehr_documents (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, person_id TEXT NOT NULL,
        author_facility TEXT NOT NULL, source_id TEXT NOT NULL, addressee TEXT,
        attachments TEXT NOT NULL, submitted_at_ms INTEGER NOT NULL, received_at_ms INTEGER,
        retain_until TEXT, bundle TEXT NOT NULL,
        UNIQUE (author_facility, source_id)
    ) STRICT;
    CREATE INDEX ehr_documents_inbox ON ehr_documents(addressee, seq) WHERE addressee IS NOT NULL;
    CREATE INDEX ehr_documents_retention ON ehr_documents(retain_until) WHERE retain_until IS NOT NULL;
    "#,
    // 4: municipalities, vaccinations, maternal-child health, care certifications, applications;
    // who registered an entitlement.
    r#"
    CREATE TABLE municipalities (
        code TEXT PRIMARY KEY, name TEXT NOT NULL, prefecture INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    ALTER TABLE public_expenses ADD COLUMN registered_by TEXT;

    CREATE TABLE vaccinations (
        seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, vaccine TEXT NOT NULL,
        dose_number INTEGER NOT NULL, administered_on TEXT NOT NULL, lot TEXT,
        recorded_by TEXT NOT NULL, recorded_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX vaccinations_person ON vaccinations(person_id, vaccine, administered_on);

    CREATE TABLE maternal_records (
        seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, kind TEXT NOT NULL, on_date TEXT NOT NULL,
        end_date TEXT, pregnancy_seq INTEGER, recorded_by TEXT NOT NULL,
        recorded_at_ms INTEGER NOT NULL, details TEXT NOT NULL
    ) STRICT;
    CREATE INDEX maternal_records_person ON maternal_records(person_id, on_date);

    CREATE TABLE care_certifications (
        seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, municipality TEXT NOT NULL,
        level TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX care_certifications_person ON care_certifications(person_id, valid_from);

    CREATE TABLE applications (
        seq INTEGER PRIMARY KEY, person_id TEXT NOT NULL, municipality TEXT NOT NULL,
        kind TEXT NOT NULL, note TEXT, status TEXT NOT NULL, submitted_at_ms INTEGER NOT NULL,
        decided_at_ms INTEGER, reason TEXT
    ) STRICT;
    CREATE INDEX applications_person ON applications(person_id, seq);
    CREATE INDEX applications_municipality ON applications(municipality, status, seq);

    -- The portal lists a person's checkup reports.
    CREATE INDEX ehr_documents_person ON ehr_documents(person_id, kind, seq);
    "#,
    // 5: what the audit trail proves, each read through its own partial index: a facility
    // verified a person's eligibility (a visit, which verbal consent needs); a pharmacy
    // retrieved a prescription (which its dispensing needs); a person's latest access-code
    // attempts (retrievals and unlocks), which lock retrieval by code after wrong ones.
    r#"
    CREATE INDEX audit_visits ON audit(person_id, actor, at_ms)
        WHERE action = 'eligibility.verify' AND outcome = 'ok';
    CREATE INDEX audit_retrievals ON audit(target, actor, at_ms)
        WHERE action = 'prescription.retrieve' AND outcome = 'ok';
    CREATE INDEX audit_code_attempts ON audit(person_id, id)
        WHERE action IN ('prescription.retrieve', 'prescription.unlock');
    "#,
    // 6: revoked credentials: a principal's secrets and tokens carry its generation, and a
    // revocation moves it on (the exchange keeps them in memory, loaded at start).
    r#"
    CREATE TABLE credential_generations (
        principal TEXT PRIMARY KEY, generation INTEGER NOT NULL, revoked_at_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 7: the card-issuing authorities the exchange trusts and their revocation list (kept in
    // memory too, loaded at start); nothing per person beyond the card serial.
    r#"
    CREATE TABLE card_authorities (
        id TEXT PRIMARY KEY, public_key TEXT NOT NULL, trusted_at_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE card_revocations (
        issuer TEXT NOT NULL, number TEXT NOT NULL, revoked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (issuer, number)
    ) STRICT, WITHOUT ROWID;
    "#,
];

#[cfg(test)]
mod tests {
    #[test]
    fn bulk_load_indexes_are_the_migrations_own() {
        let all: String = super::MIGRATIONS.concat();
        for (name, sql) in super::BULK_LOAD_INDEXES {
            assert!(all.contains(sql), "{name}: {sql}");
        }
    }
}
