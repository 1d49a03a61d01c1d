//! Index streams merged most recent first: a search reads the rows of several tokens (the
//! vocabulary words a name prefix starts, or the word pairs two prefixes name) as one
//! list in last-seen order, so it can stop after a page instead of reading and sorting
//! every row of every token.

use std::collections::BinaryHeap;

use rusqlite::{CachedStatement, Rows};

use crate::store::Result;

/// One candidate as the index rows name it: (seen, key). Ordered as a search shows
/// regulars: a greater one is more recent.
pub(super) type Seen = (i64, i64);

/// Several index streams, each yielding (seen, key) most recent first, read as one list
/// most recent first, each (seen, key) once.
pub(super) struct Merged<'s> {
    streams: Vec<Rows<'s>>,
    heads: BinaryHeap<(i64, i64, usize)>,
    last: Option<Seen>,
}

impl<'s> Merged<'s> {
    /// Starts each statement (one `?1` parameter, rows `(seen, key)` most recent first)
    /// with its token.
    pub(super) fn new<'t>(
        statements: &'s mut [CachedStatement<'_>],
        tokens: impl IntoIterator<Item = &'t str>,
    ) -> Result<Self> {
        let mut streams = Vec::with_capacity(statements.len());
        for (statement, token) in statements.iter_mut().zip(tokens) {
            streams.push(statement.query([token])?);
        }
        let mut heads = BinaryHeap::with_capacity(streams.len());
        for (i, rows) in streams.iter_mut().enumerate() {
            if let Some(row) = rows.next()? {
                heads.push((row.get(0)?, row.get(1)?, i));
            }
        }
        Ok(Merged {
            streams,
            heads,
            last: None,
        })
    }

    /// The next most recent candidate; a regular two tokens name (two words starting one
    /// prefix) comes once.
    pub(super) fn next(&mut self) -> Result<Option<Seen>> {
        while let Some((seen, key, i)) = self.heads.pop() {
            if let Some(row) = self.streams[i].next()? {
                self.heads.push((row.get(0)?, row.get(1)?, i));
            }
            if self.last != Some((seen, key)) {
                self.last = Some((seen, key));
                return Ok(Some((seen, key)));
            }
        }
        Ok(None)
    }
}
