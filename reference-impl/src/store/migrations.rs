//! Versioned schema migrations of both backends, applied in order; SQLite's `PRAGMA
//! user_version` and PostgreSQL's `schema_migrations` record how many ran. Never edit a released
//! migration: append a new one, to both lists (a test compares the two schemas' tables and
//! columns).

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
    // 8: what the nodes of a shared store count together (see `crate::nodes`): failed attempts
    // per key and minute, card nonces taken. One SQLite process keeps them in memory; the
    // tables keep the two backends' schemas alike.
    r#"
    CREATE TABLE attempt_counts (
        kind TEXT NOT NULL, key TEXT NOT NULL, window_start INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (kind, key, window_start)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX attempt_counts_window ON attempt_counts(window_start);
    CREATE TABLE card_nonces (digest TEXT PRIMARY KEY, until_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
    CREATE INDEX card_nonces_until ON card_nonces(until_ms);
    "#,
    // 9: signatures as HPKI makes them: the practitioners' bare keys go; the trusted HPKI roots
    // (named by the SHA-256 of their DER) and the revoked certificates of their CAs come (kept
    // in memory too, loaded at start).
    r#"
    DROP TABLE practitioner_keys;
    CREATE TABLE hpki_roots (
        digest TEXT PRIMARY KEY, certificate TEXT NOT NULL, subject TEXT NOT NULL,
        trusted_at_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE hpki_revocations (
        issuer TEXT NOT NULL, serial TEXT NOT NULL, revoked_at_ms INTEGER NOT NULL,
        PRIMARY KEY (issuer, serial)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 10: services suspended by the operator (`crate::suspension`; kept in memory too); the
    // client's name for a request on its audit lines (`x-request-id`), for `POST
    // /v1/admin/writes`.
    r#"
    CREATE TABLE suspensions (
        target TEXT PRIMARY KEY, reason TEXT NOT NULL, since_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    ALTER TABLE audit ADD COLUMN request_id TEXT;
    CREATE INDEX audit_request ON audit(request_id) WHERE request_id IS NOT NULL;
    "#,
];

/// PostgreSQL's schema: the tables of SQLite's, with `bigint` for integers, `date` for dates,
/// identity columns where SQLite has a rowid, and audit lines and EHR items in monthly
/// partitions (created as a month's first row arrives; see [`super::sql::Monthly`]).
pub const PG_MIGRATIONS: &[&str] = &[
    // 1: everything of SQLite's migrations 1 to 7.
    r#"
    CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);

    CREATE TABLE insurers (
        number text PRIMARY KEY, scheme bigint, name text NOT NULL, prefecture bigint NOT NULL
    );

    CREATE TABLE facilities (
        code text PRIMARY KEY, kind text NOT NULL, name text NOT NULL, prefecture bigint NOT NULL
    );

    CREATE TABLE persons (
        id text PRIMARY KEY, sex text NOT NULL, birth_date date NOT NULL,
        prefecture bigint NOT NULL, municipality text NOT NULL, card_serial text
    );
    CREATE UNIQUE INDEX persons_card ON persons(card_serial) WHERE card_serial IS NOT NULL;

    CREATE TABLE qualifications (
        person_id text NOT NULL REFERENCES persons(id),
        insurer_number text NOT NULL, symbol text NOT NULL, number text NOT NULL, branch text NOT NULL,
        valid_from date NOT NULL, valid_to date,
        PRIMARY KEY (insurer_number, number, symbol, branch)
    );
    CREATE INDEX qualifications_person ON qualifications(person_id);

    -- rowid: the order of registration, named as SQLite names its implicit one.
    CREATE TABLE public_expenses (
        rowid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        person_id text NOT NULL REFERENCES persons(id),
        law_code text NOT NULL, payer_number text NOT NULL, recipient_number text NOT NULL,
        valid_from date NOT NULL, valid_to date, registered_by text
    );
    CREATE INDEX public_expenses_person ON public_expenses(person_id);

    CREATE TABLE consents (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, person_id text NOT NULL,
        facility_code text NOT NULL, kind text NOT NULL, method text NOT NULL,
        given_at_ms bigint NOT NULL, expires_at_ms bigint NOT NULL
    );
    CREATE INDEX consents_lookup ON consents(person_id, facility_code, kind, expires_at_ms);

    CREATE TABLE practitioner_keys (
        practitioner_id text NOT NULL, facility_code text NOT NULL, public_key text NOT NULL,
        registered_at_ms bigint NOT NULL,
        PRIMARY KEY (practitioner_id, facility_code)
    );

    CREATE TABLE prescription_sequences (
        facility_code text NOT NULL, year bigint NOT NULL, next bigint NOT NULL,
        PRIMARY KEY (facility_code, year)
    );

    -- Not partitioned: an access code is unique among all active prescriptions, and an id and a
    -- (facility, document) pair among all, which PostgreSQL enforces only within a partition.
    CREATE TABLE prescriptions (
        id text COLLATE "C" PRIMARY KEY, kind text NOT NULL, facility_code text NOT NULL,
        person_id text NOT NULL, practitioner_id text NOT NULL, document_id text NOT NULL,
        issued_on date NOT NULL, registered_at_ms bigint NOT NULL, access_code text,
        status text NOT NULL, uses_allowed bigint NOT NULL, uses_done bigint NOT NULL,
        last_dispensed_on date, next_planned_on date, bundle text NOT NULL, signature text,
        UNIQUE (facility_code, document_id)
    );
    CREATE UNIQUE INDEX prescriptions_active_code ON prescriptions(access_code)
        WHERE status = 'active' AND access_code IS NOT NULL;
    CREATE INDEX prescriptions_person ON prescriptions(person_id, issued_on);

    CREATE TABLE prescription_items (
        prescription_id text NOT NULL REFERENCES prescriptions(id), seq bigint NOT NULL,
        code text NOT NULL, days bigint NOT NULL, quantity bigint NOT NULL,
        PRIMARY KEY (prescription_id, seq)
    );

    CREATE TABLE dispensations (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        prescription_id text REFERENCES prescriptions(id),
        pharmacy_code text NOT NULL, prescriber_facility text NOT NULL, person_id text NOT NULL,
        dispensed_on date NOT NULL, recorded_at_ms bigint NOT NULL, use_number bigint NOT NULL,
        pharmacist_id text, signature text
    );
    CREATE INDEX dispensations_person ON dispensations(person_id, dispensed_on);

    CREATE TABLE dispensation_items (
        dispensation_id bigint NOT NULL REFERENCES dispensations(id), seq bigint NOT NULL,
        code text NOT NULL, days bigint NOT NULL, quantity bigint NOT NULL,
        PRIMARY KEY (dispensation_id, seq)
    );

    -- By the JST month of at_ms: a month of lines past its retention is one DROP TABLE.
    CREATE TABLE audit (
        id bigint GENERATED BY DEFAULT AS IDENTITY, at_ms bigint NOT NULL, actor text NOT NULL,
        actor_role text NOT NULL, action text NOT NULL, person_id text, target text,
        outcome text NOT NULL,
        PRIMARY KEY (id, at_ms)
    ) PARTITION BY RANGE (at_ms);
    CREATE INDEX audit_person ON audit(person_id, id);
    CREATE INDEX audit_visits ON audit(person_id, actor, at_ms)
        WHERE action = 'eligibility.verify' AND outcome = 'ok';
    CREATE INDEX audit_retrievals ON audit(target, actor, at_ms)
        WHERE action = 'prescription.retrieve' AND outcome = 'ok';
    CREATE INDEX audit_code_attempts ON audit(person_id, id)
        WHERE action IN ('prescription.retrieve', 'prescription.unlock');

    CREATE TABLE ehr_submissions (
        facility_code text NOT NULL, submission_id text NOT NULL, person_id text NOT NULL,
        registered_at_ms bigint NOT NULL,
        PRIMARY KEY (facility_code, submission_id)
    );

    -- By the month of retain_until: the purge drops the months wholly past; items kept without
    -- end (long-term) have no retain_until and stay in ehr_items_long_term.
    CREATE TABLE ehr_items (
        seq bigint GENERATED BY DEFAULT AS IDENTITY, person_id text NOT NULL,
        facility_code text NOT NULL, submission_id text NOT NULL, kind text NOT NULL,
        system text NOT NULL, code text NOT NULL, recorded_on date NOT NULL,
        registered_at_ms bigint NOT NULL, retain_until date, undisclosed bigint NOT NULL,
        drug_yj text, resource text NOT NULL
    ) PARTITION BY RANGE (retain_until);
    CREATE TABLE ehr_items_long_term PARTITION OF ehr_items DEFAULT;
    CREATE INDEX ehr_items_person ON ehr_items(person_id, recorded_on, seq);
    CREATE INDEX ehr_items_drug_flags ON ehr_items(person_id) WHERE drug_yj IS NOT NULL;

    -- Not partitioned: a document's source id is unique per author across all documents.
    CREATE TABLE ehr_documents (
        seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, kind text NOT NULL,
        person_id text NOT NULL, author_facility text NOT NULL, source_id text NOT NULL,
        addressee text, attachments text NOT NULL, submitted_at_ms bigint NOT NULL,
        received_at_ms bigint, retain_until date, bundle text NOT NULL,
        UNIQUE (author_facility, source_id)
    );
    CREATE INDEX ehr_documents_inbox ON ehr_documents(addressee, seq) WHERE addressee IS NOT NULL;
    CREATE INDEX ehr_documents_retention ON ehr_documents(retain_until) WHERE retain_until IS NOT NULL;
    CREATE INDEX ehr_documents_person ON ehr_documents(person_id, kind, seq);

    CREATE TABLE municipalities (
        code text PRIMARY KEY, name text NOT NULL, prefecture bigint NOT NULL
    );

    CREATE TABLE vaccinations (
        seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, person_id text NOT NULL,
        vaccine text NOT NULL, dose_number bigint NOT NULL, administered_on date NOT NULL,
        lot text, recorded_by text NOT NULL, recorded_at_ms bigint NOT NULL
    );
    CREATE INDEX vaccinations_person ON vaccinations(person_id, vaccine, administered_on);

    CREATE TABLE maternal_records (
        seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, person_id text NOT NULL,
        kind text NOT NULL, on_date date NOT NULL, end_date date, pregnancy_seq bigint,
        recorded_by text NOT NULL, recorded_at_ms bigint NOT NULL, details text NOT NULL
    );
    CREATE INDEX maternal_records_person ON maternal_records(person_id, on_date);

    CREATE TABLE care_certifications (
        seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, person_id text NOT NULL,
        municipality text NOT NULL, level text NOT NULL, valid_from date NOT NULL,
        valid_to date NOT NULL, registered_at_ms bigint NOT NULL
    );
    CREATE INDEX care_certifications_person ON care_certifications(person_id, valid_from);

    CREATE TABLE applications (
        seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, person_id text NOT NULL,
        municipality text NOT NULL, kind text NOT NULL, note text, status text NOT NULL,
        submitted_at_ms bigint NOT NULL, decided_at_ms bigint, reason text
    );
    CREATE INDEX applications_person ON applications(person_id, seq);
    CREATE INDEX applications_municipality ON applications(municipality, status, seq);

    CREATE TABLE credential_generations (
        principal text PRIMARY KEY, generation bigint NOT NULL, revoked_at_ms bigint NOT NULL
    );

    CREATE TABLE card_authorities (
        id text PRIMARY KEY, public_key text NOT NULL, trusted_at_ms bigint NOT NULL
    );
    CREATE TABLE card_revocations (
        issuer text NOT NULL, number text NOT NULL, revoked_at_ms bigint NOT NULL,
        PRIMARY KEY (issuer, number)
    );
    "#,
    // 2: what the nodes count together (SQLite's 8): failed attempts per key and minute, card
    // nonces taken.
    r#"
    CREATE TABLE attempt_counts (
        kind text NOT NULL, key text NOT NULL, window_start bigint NOT NULL, count bigint NOT NULL,
        PRIMARY KEY (kind, key, window_start)
    );
    CREATE INDEX attempt_counts_window ON attempt_counts(window_start);
    CREATE TABLE card_nonces (digest text PRIMARY KEY, until_ms bigint NOT NULL);
    CREATE INDEX card_nonces_until ON card_nonces(until_ms);
    "#,
    // 3: a prescription's id compares bytewise (COLLATE "C", as SQLite compares text), and so
    // must the columns that refer to it: a join of the database's collation with "C" can use
    // neither side's index, and the history read of every registration scanned all items.
    r#"
    ALTER TABLE prescription_items ALTER COLUMN prescription_id TYPE text COLLATE "C";
    ALTER TABLE dispensations ALTER COLUMN prescription_id TYPE text COLLATE "C";
    "#,
    // 4: signatures as HPKI makes them (SQLite's 9).
    r#"
    DROP TABLE practitioner_keys;
    CREATE TABLE hpki_roots (
        digest text PRIMARY KEY, certificate text NOT NULL, subject text NOT NULL,
        trusted_at_ms bigint NOT NULL
    );
    CREATE TABLE hpki_revocations (
        issuer text NOT NULL, serial text NOT NULL, revoked_at_ms bigint NOT NULL,
        PRIMARY KEY (issuer, serial)
    );
    "#,
    // 5: services suspended by the operator, and the client's name for a request on its
    // audit lines (SQLite's 10).
    r#"
    CREATE TABLE suspensions (
        target text PRIMARY KEY, reason text NOT NULL, since_ms bigint NOT NULL
    );
    ALTER TABLE audit ADD COLUMN request_id text;
    CREATE INDEX audit_request ON audit(request_id) WHERE request_id IS NOT NULL;
    "#,
];

#[cfg(test)]
mod tests {
    #[test]
    fn bulk_load_indexes_are_the_migrations_own() {
        let all: String = super::MIGRATIONS.concat();
        let pg: String = super::PG_MIGRATIONS.concat();
        for (name, sql) in super::BULK_LOAD_INDEXES {
            assert!(all.contains(sql), "{name}: {sql}");
            assert!(pg.contains(sql), "{name} (PostgreSQL): {sql}");
        }
    }
}
