//! Storage of what the nodes share: failure counts, card nonces, change notices.

use super::{CHANNEL, Change, NodeStore, Notice};
use crate::store::SqlStore;
use crate::store::error::StoreError;
use crate::store::postgres::Heard;
use crate::store::sql::args;

impl NodeStore for SqlStore {
    fn shared(&self) -> bool {
        matches!(self, SqlStore::Postgres(_))
    }

    fn failures(&self, kind: &str, key: &str, window: i64) -> Result<u32, StoreError> {
        self.read(|c| {
            c.query_opt(
                "SELECT count FROM attempt_counts WHERE kind = ?1 AND key = ?2 AND window_start = ?3",
                args![kind, key, window],
            )?
            .map_or(Ok(0), |r| r.num(0))
        })
    }

    fn count_failure(&self, kind: &str, key: &str, window: i64) -> Result<u32, StoreError> {
        self.write_statement(|c| {
            c.query_one(
                "INSERT INTO attempt_counts (kind, key, window_start, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (kind, key, window_start) DO UPDATE SET count = attempt_counts.count + 1
                 RETURNING count",
                args![kind, key, window],
            )?
            .num(0)
        })
    }

    fn take_nonce(&self, digest: &str, until_ms: i64) -> Result<bool, StoreError> {
        self.write_statement(|c| {
            Ok(c.execute(
                "INSERT INTO card_nonces (digest, until_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                args![digest, until_ms],
            )? == 1)
        })
    }

    fn forget_expired(&self, now_ms: i64, window: i64) -> Result<(), StoreError> {
        self.write_statement(|c| {
            c.execute(
                "DELETE FROM card_nonces WHERE until_ms <= ?1",
                args![now_ms],
            )?;
            c.execute(
                "DELETE FROM attempt_counts WHERE window_start < ?1",
                args![window],
            )?;
            Ok(())
        })
    }

    fn watch(&self, on: Box<dyn FnMut(Notice) -> bool + Send>) -> Result<(), StoreError> {
        match self {
            SqlStore::Sqlite(_) => Ok(()),
            SqlStore::Postgres(p) => {
                let mut on = on;
                p.listen(
                    CHANNEL,
                    Box::new(move |heard| {
                        on(match heard {
                            Heard::Payload(text) => match Change::parse(&text) {
                                Some(c) => Notice::Changed(c),
                                // A notice this build does not know: reload what it might touch.
                                None => Notice::Resync,
                            },
                            Heard::Reconnected => Notice::Resync,
                            Heard::Nothing => Notice::Idle,
                        })
                    }),
                )
            }
        }
    }
}
