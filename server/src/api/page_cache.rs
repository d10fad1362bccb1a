//! The last rendering of the hottest pages — one store, a page of the store list — kept
//! with the *stamp* of what it shows, so an unchanged page is answered without reading and
//! rendering it again.
//!
//! # Guarantees
//! - Never stale: every request first checks in the database (token version, row-level
//!   security as the tenant) and reads the page's current stamp there (the `xmin` of the rows
//!   the page is built from; for lists, plus the count of run-event notifications this
//!   process received — see `storeflow_api_stores_check`). A rendering is used only while
//!   its stamp is the current one, and only until a time-dependent field would change
//!   (`nextAttemptAt` is shown until that moment).
//! - A rendering is read after the stamp it is stored with, so it is never older than the
//!   stamp says (at worst newer: then it is read again next time).
//! - Renderings are per viewer kind (the owner, an operator) — a list per caller — and never
//!   hold credentials: those are kept sealed and opened per answer.
//! - Bounded: at most `capacity` renderings; when full, half of them are dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Bytes;
use uuid::Uuid;

/// Which rendering: one store as a kind of viewer sees it, or one list query of one caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageKey {
    Store {
        id: String,
        owner: bool,
        admin: bool,
    },
    List {
        caller: Uuid,
        admin: bool,
        query: String,
    },
}

/// A rendering: a JSON object (for a store, without its credentials).
#[derive(Debug, Clone)]
pub struct Page {
    pub body: Bytes,
    /// The sealed credentials of a store page, opened per answer.
    pub sealed_credentials: Option<Vec<u8>>,
    pub login_url: Option<String>,
    /// The store's provisioning run while it is queued: its place in line is read per answer
    /// (it moves when runs ahead of it start, which changes nothing of this store's).
    pub queued_run: Option<uuid::Uuid>,
    /// Until when the rendering is right (a time-dependent field changes then).
    pub valid_until: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    stamp: String,
    page: Page,
}

/// The cache of renderings (one per process).
#[derive(Debug)]
pub struct PageCache {
    entries: Mutex<HashMap<PageKey, Entry>>,
    capacity: usize,
}

impl PageCache {
    /// A cache of at most `capacity` renderings; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        PageCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<PageKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rendering of `key` if it was made at `stamp` and is still right now.
    pub fn get(&self, key: &PageKey, stamp: &str) -> Option<Page> {
        let entries = self.entries();
        let entry = entries.get(key)?;
        let fresh = entry.stamp == stamp
            && entry
                .page
                .valid_until
                .is_none_or(|until| Instant::now() < until);
        fresh.then(|| entry.page.clone())
    }

    /// Keeps `page` as the rendering of `key` at `stamp`.
    pub fn put(&self, key: PageKey, stamp: String, page: Page) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let mut keep = false;
            entries.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
        entries.insert(key, Entry { stamp, page });
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `{"requestId":<id>, <fields>, …the rendering's fields}` — the answer around a rendering
/// (`object`, a JSON object) without parsing it again. `fields` are per-answer values
/// (credentials, a queue position) given as (name, JSON text).
pub fn splice(
    request_id: &str,
    wrapper_key: Option<&str>,
    fields: &[(&str, &str)],
    object: &[u8],
) -> Bytes {
    let id = serde_json::to_string(request_id).unwrap_or_else(|_| "\"\"".into());
    let inner: Vec<u8> = if fields.is_empty() || object.len() <= 2 {
        object.to_vec()
    } else {
        // `object` is `{…}`: the fields go right after its brace.
        let extra: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        let mut inner = Vec::with_capacity(object.len() + extra + 1);
        inner.push(b'{');
        for (name, value) in fields {
            inner.push(b'"');
            inner.extend_from_slice(name.as_bytes());
            inner.extend_from_slice(b"\":");
            inner.extend_from_slice(value.as_bytes());
            inner.push(b',');
        }
        inner.extend_from_slice(&object[1..]);
        inner
    };
    let mut out = Vec::with_capacity(inner.len() + id.len() + 32);
    out.extend_from_slice(b"{\"requestId\":");
    out.extend_from_slice(id.as_bytes());
    match wrapper_key {
        Some(key) => {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(&inner);
            out.push(b'}');
        }
        None if inner.len() > 2 => {
            out.push(b',');
            out.extend_from_slice(&inner[1..]);
        }
        None => out.push(b'}'),
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn page(body: &str) -> Page {
        Page {
            body: Bytes::from(body.to_owned()),
            sealed_credentials: None,
            login_url: None,
            queued_run: None,
            valid_until: None,
        }
    }

    #[test]
    fn a_rendering_is_used_only_at_its_stamp_and_before_it_expires() {
        let cache = PageCache::new(8);
        let key = PageKey::Store {
            id: "store-1".into(),
            owner: true,
            admin: false,
        };
        cache.put(key.clone(), "1/2".into(), page("{\"a\":1}"));
        assert!(cache.get(&key, "1/2").is_some());
        assert!(
            cache.get(&key, "1/3").is_none(),
            "another stamp: read again"
        );
        let other = PageKey::Store {
            id: "store-1".into(),
            owner: false,
            admin: true,
        };
        assert!(cache.get(&other, "1/2").is_none(), "another kind of viewer");
        let mut expired = page("{}");
        expired.valid_until = Some(Instant::now());
        cache.put(key.clone(), "1/2".into(), expired);
        assert!(cache.get(&key, "1/2").is_none(), "past its time");
    }

    #[test]
    fn a_full_cache_drops_half_and_none_keeps_nothing() {
        let cache = PageCache::new(4);
        for n in 0..5 {
            cache.put(
                PageKey::List {
                    caller: Uuid::nil(),
                    admin: false,
                    query: n.to_string(),
                },
                "s".into(),
                page("{}"),
            );
        }
        assert!(cache.len() <= 4 && cache.len() >= 2, "{}", cache.len());
        let none = PageCache::new(0);
        none.put(
            PageKey::List {
                caller: Uuid::nil(),
                admin: false,
                query: String::new(),
            },
            "s".into(),
            page("{}"),
        );
        assert!(none.is_empty());
    }

    #[test]
    fn answers_are_spliced_as_valid_json() {
        let store = splice(
            "req_1",
            Some("store"),
            &[
                ("adminCredentials", "{\"password\":\"p\"}"),
                ("queuePosition", "3"),
            ],
            b"{\"id\":\"store-1\",\"name\":\"x\"}",
        );
        let store: Value = serde_json::from_slice(&store).unwrap();
        assert_eq!(
            store,
            json!({ "requestId": "req_1", "store": { "adminCredentials": { "password": "p" }, "queuePosition": 3, "id": "store-1", "name": "x" } })
        );
        let bare = splice("req_2", Some("store"), &[], b"{\"id\":\"s\"}");
        assert_eq!(
            serde_json::from_slice::<Value>(&bare).unwrap(),
            json!({ "requestId": "req_2", "store": { "id": "s" } })
        );
        let list = splice("req_3", None, &[], b"{\"stores\":[],\"total\":0}");
        assert_eq!(
            serde_json::from_slice::<Value>(&list).unwrap(),
            json!({ "requestId": "req_3", "stores": [], "total": 0 })
        );
        let quoted = splice("a\"b", None, &[], b"{}");
        assert_eq!(
            serde_json::from_slice::<Value>(&quoted).unwrap(),
            json!({ "requestId": "a\"b" })
        );
    }
}
