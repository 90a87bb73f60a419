//! What `--db` means: a plain path or any `sqlite:` URL form is an SQLite file (created when
//! missing), `postgres://` a PostgreSQL database; and how messages name a store.

use std::path::PathBuf;

use super::Backend;

/// Where a `--db` points, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreUrl {
    /// The URL handed to sqlx (an SQLite URL always carries a `mode`; `rwc` unless given).
    pub url: String,
    pub backend: Backend,
    /// The SQLite file, or `None` for PostgreSQL and in-memory SQLite.
    pub sqlite_file: Option<PathBuf>,
}

/// Turns `--db` into a URL. A plain path means an SQLite file, created if missing, and so does
/// every `sqlite:` URL form that sqlx documents (`sqlite:data.db`, `sqlite://data.db`,
/// `sqlite:///abs/data.db`, `sqlite::memory:`, with or without `?mode=...`): a URL without a
/// `mode` is opened with `mode=rwc`, as a plain path is.
pub fn parse_db(db: &str) -> StoreUrl {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return StoreUrl {
            url: db.to_string(),
            backend: Backend::Postgres,
            sqlite_file: None,
        };
    }
    let (database, params) = if db.starts_with("sqlite:") {
        let rest = db
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        match rest.split_once('?') {
            Some((d, p)) => (d.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    } else {
        (db.to_string(), None)
    };
    let params = params.unwrap_or_default();
    let has_mode = params.split('&').any(|kv| kv.starts_with("mode="));
    let memory = database == ":memory:" || params.split('&').any(|kv| kv == "mode=memory");
    let mut query = params.clone();
    if !has_mode && !memory {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    let encoded = if db.starts_with("sqlite:") {
        database.clone()
    } else {
        // sqlx percent-decodes the path: keep a plain path's `%`, `?` and `#` literal.
        database
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23")
    };
    let sqlite_file = match (memory, db.starts_with("sqlite:")) {
        (true, _) => None,
        (false, true) => Some(PathBuf::from(
            percent_decode(&database).unwrap_or_else(|| database.clone()),
        )),
        (false, false) => Some(PathBuf::from(db)),
    };
    let url = if memory {
        // sqlx names every connection's `:memory:` database anew, so a pool would see as many
        // databases as it has connections: one named, shared in-memory database instead.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        format!(
            "sqlite:file:ofhnet-memory-{}-{}?mode=memory&cache=shared",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    } else if query.is_empty() {
        format!("sqlite://{encoded}")
    } else {
        format!("sqlite://{encoded}?{query}")
    };
    StoreUrl {
        url,
        backend: Backend::Sqlite,
        sqlite_file,
    }
}

/// `%XX` decoding of an SQLite URL's path (sqlx decodes it the same way).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A URL for messages: a PostgreSQL password is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// The `host:port` of a PostgreSQL URL, for messages.
pub(super) fn postgres_host(url: &str) -> String {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map(|x| x.1).unwrap_or(authority);
    if host.is_empty() {
        "localhost".into()
    } else {
        host.to_string()
    }
}
