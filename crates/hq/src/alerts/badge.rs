//! The dashboard's alert badge: how many alerts are open (not yet acknowledged) per
//! store, kept in memory so the header of every page can show it without a query.
//! The engine refreshes it from the database after each evaluation pass, and the alerts
//! pages after an acknowledgement or a close; with several HQ processes each one's badge
//! is at most one evaluation interval behind. Keyed by store id, so one process serving
//! one database (or tests serving several) never mixes stores.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use uuid::Uuid;

use crate::alerts::lifecycle::AlertState;
use crate::storage::alerts::AlertQuery;
use crate::storage::{Storage, StorageError};

static OPEN: LazyLock<RwLock<HashMap<Uuid, usize>>> = LazyLock::new(Default::default);

/// Open alerts in these stores (every store when `None`).
pub fn count(stores: Option<&[Uuid]>) -> usize {
    let Ok(open) = OPEN.read() else { return 0 };
    match stores {
        None => open.values().sum(),
        Some(ids) => ids.iter().filter_map(|id| open.get(id)).sum(),
    }
}

/// Re-read the open alerts of every store.
pub async fn refresh(storage: &dyn Storage) -> Result<(), StorageError> {
    let stores: Vec<Uuid> = storage.stores().await?.into_iter().map(|s| s.id).collect();
    let open = storage
        .alerts(&AlertQuery {
            stores: Some(stores.clone()),
            open_only: true,
            limit: 1000,
        })
        .await?;
    if let Ok(mut map) = OPEN.write() {
        for id in &stores {
            map.remove(id);
        }
        for a in open.iter().filter(|a| a.state == AlertState::Open) {
            *map.entry(a.store_id).or_default() += 1;
        }
    }
    Ok(())
}
